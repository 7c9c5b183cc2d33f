/* f32 softmax row microkernel, AVX-512F: the row's maximum, y = exp(x - max)
 * rounded to float, their sum in double and the division by it, 16 values a
 * pass (a masked last pass). x - max is taken in float, as the portable
 * kernel takes it; its exp in double (softmax-exp.h), eight lanes at a time.
 * The sum is kept in 16 double lanes and added at the end. A row holding a
 * NaN goes to the portable kernel (softmax-scalar.h), whose NaN rule it then
 * follows, and so does a row of fewer than FC_SOFTMAX_SHORT values, where the
 * passes' fixed cost (two reductions, a whole vector's exps) passes the libm
 * calls'. */
#include <immintrin.h>
#include <math.h>
#include "fastconv/ukernel.h"
#include "softmax-avx512.h"

/* e^d for the row's d (softmax-exp.h: degree 12, results rounded to float) */
static inline __m512d fc_exp_f32(__m512d d) {
  return fc_exp_neg_pd(d, FC_SOFTMAX_EXP_LOW, 1, 0);
}

double fc_f32_softmax_ukernel__avx512(size_t n, const float *x, float *y, float *top) {
  if (n < FC_SOFTMAX_SHORT) return fc_f32_softmax_ukernel__scalar(n, x, y, top);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m = ninf;
  __mmask16 nan = 0;
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = fc_lanes16(n - i);
    const __m512 v = _mm512_mask_loadu_ps(ninf, k, x + i);
    m = _mm512_max_ps(m, v);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  if (nan) return fc_f32_softmax_ukernel__scalar(n, x, y, top);
  const float t = _mm512_reduce_max_ps(m);
  *top = t;
  const __m512 vt = _mm512_set1_ps(t);
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = fc_lanes16(n - i);
    /* lanes past n read -inf: their e^(-inf - t) is 0 (NaN only where the row's
     * own values are NaN too: t = -inf) */
    const __m512 d = _mm512_sub_ps(_mm512_mask_loadu_ps(ninf, k, x + i), vt);
    const __m256 lo = _mm512_castps512_ps256(d);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1));
    const __m256 f0 = _mm512_cvtpd_ps(fc_exp_f32(_mm512_cvtps_pd(lo)));
    const __m256 f1 = _mm512_cvtpd_ps(fc_exp_f32(_mm512_cvtps_pd(hi)));
    const __m512 f = _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_castps256_ps512(f0)), _mm256_castps_pd(f1), 1));
    _mm512_mask_storeu_ps(y + i, k, f);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(f0));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(f1));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  const __m512d vs = _mm512_set1_pd(sum);
  for (size_t i = 0; i < n; i += 16) { /* y = e / sum, in double as the portable loop */
    const __mmask16 k = fc_lanes16(n - i);
    const __m512 e = _mm512_maskz_loadu_ps(k, y + i);
    const __m256 lo = _mm512_castps512_ps256(e);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1));
    const __m256 q0 = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(lo), vs));
    const __m256 q1 = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(hi), vs));
    _mm512_mask_storeu_ps(y + i, k, _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_castps256_ps512(q0)), _mm256_castps_pd(q1), 1)));
  }
  return sum;
}
