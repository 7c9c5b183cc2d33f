/* f64 softmax row microkernel, AVX-512F: the row's maximum, y = exp(x - max),
 * their sum and the division by it, 8 values a pass (a masked last pass).
 * exp as softmax-exp.h gives it for f64 rows (within an ulp of libm's). The
 * sum is kept in 8 lanes and added at the end. A row holding a NaN goes to
 * the portable kernel (softmax-scalar.h), whose NaN rule it then follows, and
 * so does a row of fewer than FC_SOFTMAX_SHORT values. */
#include <immintrin.h>
#include <math.h>
#include "fastconv/ukernel.h"
#include "softmax-avx512.h"

double fc_f64_softmax_ukernel__avx512(size_t n, const double *x, double *y, double *top) {
  if (n < FC_SOFTMAX_SHORT) return fc_f64_softmax_ukernel__scalar(n, x, y, top);
  const __m512d ninf = _mm512_set1_pd(-INFINITY);
  __m512d m = ninf;
  __mmask8 nan = 0;
  for (size_t i = 0; i < n; i += 8) {
    const __m512d v = _mm512_mask_loadu_pd(ninf, fc_lanes8(n - i), x + i);
    m = _mm512_max_pd(m, v);
    nan |= _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
  }
  if (nan) return fc_f64_softmax_ukernel__scalar(n, x, y, top);
  const double t = _mm512_reduce_max_pd(m);
  *top = t;
  const __m512d vt = _mm512_set1_pd(t);
  __m512d s = _mm512_setzero_pd();
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 k = fc_lanes8(n - i);
    /* lanes past n read -inf: their e^(-inf - t) is 0 (NaN only where the row's
     * own values are NaN too: t = -inf) */
    const __m512d d = _mm512_sub_pd(_mm512_mask_loadu_pd(ninf, k, x + i), vt);
    const __m512d e = fc_exp_neg_pd(d, FC_SOFTMAX_EXP_LOW_F64, 0, 1);
    _mm512_mask_storeu_pd(y + i, k, e);
    s = _mm512_add_pd(s, e);
  }
  const double sum = _mm512_reduce_add_pd(s);
  const __m512d vs = _mm512_set1_pd(sum);
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 k = fc_lanes8(n - i);
    _mm512_mask_storeu_pd(y + i, k, _mm512_div_pd(_mm512_maskz_loadu_pd(k, y + i), vs));
  }
  return sum;
}
