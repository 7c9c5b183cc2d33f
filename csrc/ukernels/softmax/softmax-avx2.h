/* The AVX2 softmax kernels' exp: e^d for d <= 0 in double lanes, as
 * softmax-exp.h describes it, with the arguments of softmax-avx512.h's. Include
 * only from files compiled with AVX2 and FMA flags. */
#ifndef FASTCONV_SOFTMAX_AVX2_H
#define FASTCONV_SOFTMAX_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include "softmax-exp.h"

static inline __attribute__((always_inline)) __m256d fc_exp_neg_pd(__m256d d, double low, int first,
                                                                   int two_step) {
  const __m256d shifter = _mm256_set1_pd(FC_SOFTMAX_SHIFTER);
  d = _mm256_max_pd(_mm256_set1_pd(low), d); /* a NaN d stays: max's 2nd operand */
  const __m256d kd = _mm256_fmadd_pd(d, _mm256_set1_pd(FC_SOFTMAX_LOG2E), shifter);
  const __m256d k = _mm256_sub_pd(kd, shifter);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(FC_SOFTMAX_LN2_HI), d);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(FC_SOFTMAX_LN2_LO), r);
  __m256d p = _mm256_set1_pd(fc_softmax_taylor[first]);
  for (int j = first + 1; j <= FC_SOFTMAX_DEGREE; j++)
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(fc_softmax_taylor[j]));
  const int64_t bias = two_step ? 1023 + 64 : 1023;
  const __m256i scale = _mm256_add_epi64(_mm256_slli_epi64(_mm256_castpd_si256(kd), 52),
                                         _mm256_set1_epi64x(bias << 52));
  p = _mm256_mul_pd(p, _mm256_castsi256_pd(scale));
  return two_step ? _mm256_mul_pd(p, _mm256_set1_pd(0x1p-64)) : p;
}

#endif
