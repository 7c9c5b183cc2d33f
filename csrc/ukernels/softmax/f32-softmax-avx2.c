/* f32 softmax row microkernel, AVX2 + FMA: the row's maximum, y = exp(x -
 * max) rounded to float, their sum in double and the division by it, 8 values
 * a pass (the last pass through a buffer padded with -inf, whose values
 * contribute 0). x - max is taken in float, as the portable kernel takes it;
 * its exp in double (softmax-exp.h), four lanes at a time. The sum is kept in
 * 8 double lanes and added at the end. A row holding a NaN goes to the
 * portable kernel (softmax-scalar.h), whose NaN rule it then follows, and so
 * does a row of fewer than FC_SOFTMAX_SHORT values, where the passes' fixed
 * cost (two reductions, a whole vector's exps) passes the libm calls'. */
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "fastconv/ukernel.h"
#include "softmax-avx2.h"

/* e^d for the row's d (softmax-exp.h: degree 12, results rounded to float) */
static inline __m256d fc_exp_f32(__m256d d) {
  return fc_exp_neg_pd(d, FC_SOFTMAX_EXP_LOW, 1, 0);
}

/* 8 values of x - t: their exps to y, their sum into s0, s1. */
static inline void fc_softmax_pass(const float *x, __m256 vt, float *y, __m256d *s0, __m256d *s1) {
  const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x), vt);
  const __m128 f0 = _mm256_cvtpd_ps(fc_exp_f32(_mm256_cvtps_pd(_mm256_castps256_ps128(d))));
  const __m128 f1 = _mm256_cvtpd_ps(fc_exp_f32(_mm256_cvtps_pd(_mm256_extractf128_ps(d, 1))));
  _mm256_storeu_ps(y, _mm256_set_m128(f1, f0));
  *s0 = _mm256_add_pd(*s0, _mm256_cvtps_pd(f0));
  *s1 = _mm256_add_pd(*s1, _mm256_cvtps_pd(f1));
}

double fc_f32_softmax_ukernel__avx2(size_t n, const float *x, float *y, float *top) {
  if (n < FC_SOFTMAX_SHORT) return fc_f32_softmax_ukernel__scalar(n, x, y, top);
  __m256 m = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    m = _mm256_max_ps(m, v);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  float t = -INFINITY;
  int has_nan = _mm256_movemask_ps(nan) != 0;
  for (size_t j = i; j < n; j++) has_nan |= x[j] != x[j];
  if (has_nan) return fc_f32_softmax_ukernel__scalar(n, x, y, top);
  float lanes[8];
  _mm256_storeu_ps(lanes, m);
  for (int j = 0; j < 8; j++) t = lanes[j] > t ? lanes[j] : t;
  for (size_t j = i; j < n; j++) t = x[j] > t ? x[j] : t;
  *top = t;
  const __m256 vt = _mm256_set1_ps(t);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  for (i = 0; i + 8 <= n; i += 8) fc_softmax_pass(x + i, vt, y + i, &s0, &s1);
  if (i < n) { /* the last values, padded with -inf: e^(-inf - t) is 0 (NaN only where t =
                * -inf, when the row's own values are NaN too) */
    float in[8], out[8];
    for (int j = 0; j < 8; j++) in[j] = -INFINITY;
    memcpy(in, x + i, (n - i) * sizeof(float));
    fc_softmax_pass(in, vt, out, &s0, &s1);
    memcpy(y + i, out, (n - i) * sizeof(float));
  }
  double sums[4];
  _mm256_storeu_pd(sums, _mm256_add_pd(s0, s1));
  const double sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
  const __m256d vs = _mm256_set1_pd(sum);
  for (i = 0; i + 8 <= n; i += 8) { /* y = e / sum, in double as the portable loop */
    const __m256 e = _mm256_loadu_ps(y + i);
    const __m128 q0 = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(e)), vs));
    const __m128 q1 = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)), vs));
    _mm256_storeu_ps(y + i, _mm256_set_m128(q1, q0));
  }
  for (; i < n; i++) y[i] = (float)((double)y[i] / sum);
  return sum;
}
