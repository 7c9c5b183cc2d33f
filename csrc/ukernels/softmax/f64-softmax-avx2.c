/* f64 softmax row microkernel, AVX2 + FMA: the row's maximum, y = exp(x -
 * max), their sum and the division by it, 4 values a pass (the last pass
 * masked, its lanes past the row -inf). exp as softmax-exp.h gives it for f64
 * rows (within an ulp of libm's). The sum is kept in 4 lanes and added at the
 * end. A row holding a NaN goes to the portable kernel (softmax-scalar.h),
 * whose NaN rule it then follows, and so does a row of fewer than
 * FC_SOFTMAX_SHORT values. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "fastconv/ukernel.h"
#include "../avx2-store.h"
#include "softmax-avx2.h"

/* The lanes of a pass with `left` values to go, as maskload's mask: all 4,
 * or the first `left`. */
static inline __m256i fc_lanes4(size_t left) {
  const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(left >= 4 ? 4 : (int64_t)left), lane);
}

/* x[0 .. 3], lanes past the row -inf */
static inline __m256d fc_load4(const double *x, __m256i k) {
  return _mm256_blendv_pd(_mm256_set1_pd(-INFINITY), _mm256_maskload_pd(x, k),
                          _mm256_castsi256_pd(k));
}

double fc_f64_softmax_ukernel__avx2(size_t n, const double *x, double *y, double *top) {
  if (n < FC_SOFTMAX_SHORT) return fc_f64_softmax_ukernel__scalar(n, x, y, top);
  __m256d m = _mm256_set1_pd(-INFINITY), nan = _mm256_setzero_pd();
  for (size_t i = 0; i < n; i += 4) {
    const __m256d v = fc_load4(x + i, fc_lanes4(n - i));
    m = _mm256_max_pd(m, v);
    nan = _mm256_or_pd(nan, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
  }
  if (_mm256_movemask_pd(nan)) return fc_f64_softmax_ukernel__scalar(n, x, y, top);
  double lanes[4];
  _mm256_storeu_pd(lanes, m);
  const double t = fmax(fmax(lanes[0], lanes[1]), fmax(lanes[2], lanes[3]));
  *top = t;
  const __m256d vt = _mm256_set1_pd(t);
  __m256d s = _mm256_setzero_pd();
  for (size_t i = 0; i < n; i += 4) {
    const __m256i k = fc_lanes4(n - i);
    /* lanes past n read -inf: their e^(-inf - t) is 0 (NaN only where the row's
     * own values are NaN too: t = -inf) */
    const __m256d d = _mm256_sub_pd(fc_load4(x + i, k), vt);
    const __m256d e = fc_exp_neg_pd(d, FC_SOFTMAX_EXP_LOW_F64, 0, 1);
    fc_avx2_maskstore_pd(y + i, k, e); /* avx2-store.h: plain where whole */
    s = _mm256_add_pd(s, e);
  }
  double sums[4];
  _mm256_storeu_pd(sums, s);
  const double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
  const __m256d vs = _mm256_set1_pd(sum);
  for (size_t i = 0; i < n; i += 4) {
    const __m256i k = fc_lanes4(n - i);
    fc_avx2_maskstore_pd(y + i, k, _mm256_div_pd(_mm256_maskload_pd(y + i, k), vs));
  }
  return sum;
}
