/* The AVX-512 softmax kernels' exp: e^d for d <= 0 in double lanes, as
 * softmax-exp.h describes it. `low` is the dtype's FC_SOFTMAX_EXP_LOW,
 * `first` the polynomial's first coefficient (1 for f32 rows, degree 12; 0
 * for f64 rows, degree 13), `two_step` applies 2^k as 2^(k + 64) and 2^-64
 * (f64 rows, whose results may be subnormal). The arguments are constants
 * at every call, so each kernel gets its own straight-line code. And the lane
 * masks of a pass. Include only from files compiled with AVX-512 flags. */
#ifndef FASTCONV_SOFTMAX_AVX512_H
#define FASTCONV_SOFTMAX_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include "softmax-exp.h"

static inline __attribute__((always_inline)) __m512d fc_exp_neg_pd(__m512d d, double low, int first,
                                                                   int two_step) {
  const __m512d shifter = _mm512_set1_pd(FC_SOFTMAX_SHIFTER);
  d = _mm512_max_pd(_mm512_set1_pd(low), d); /* a NaN d stays: max's 2nd operand */
  const __m512d kd = _mm512_fmadd_pd(d, _mm512_set1_pd(FC_SOFTMAX_LOG2E), shifter);
  const __m512d k = _mm512_sub_pd(kd, shifter);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(FC_SOFTMAX_LN2_HI), d);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(FC_SOFTMAX_LN2_LO), r);
  __m512d p = _mm512_set1_pd(fc_softmax_taylor[first]);
  for (int j = first + 1; j <= FC_SOFTMAX_DEGREE; j++)
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(fc_softmax_taylor[j]));
  const int64_t bias = two_step ? 1023 + 64 : 1023;
  const __m512i scale = _mm512_add_epi64(_mm512_slli_epi64(_mm512_castpd_si512(kd), 52),
                                         _mm512_set1_epi64(bias << 52));
  p = _mm512_mul_pd(p, _mm512_castsi512_pd(scale));
  return two_step ? _mm512_mul_pd(p, _mm512_set1_pd(0x1p-64)) : p;
}

/* The lanes of a pass with `left` values to go: all of them, or the first
 * `left` (the f32 kernel's 16, the f64 kernel's 8). */
static inline __mmask16 fc_lanes16(size_t left) {
  return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}
static inline __mmask8 fc_lanes8(size_t left) {
  return left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u);
}

#endif
