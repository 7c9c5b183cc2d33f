/* f64 ReLU-gradient microkernel, AVX-512F, 16 elements per loop pass:
 * gx = x <= 0 ? 0 : gy by a compare mask (NaN in x passes gy, as
 * PyTorch's threshold_backward). gx may
 * equal gy or x (each vector is loaded before it is stored); masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f64_relu_bwd_ukernel__avx512(size_t n, const double *gy, const double *x, double *gx) {
  const __m512d zero = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __mmask8 m0 = _mm512_cmp_pd_mask(_mm512_loadu_pd(x + i), zero, _CMP_NLE_UQ);
    const __mmask8 m1 = _mm512_cmp_pd_mask(_mm512_loadu_pd(x + i + 8), zero, _CMP_NLE_UQ);
    const __m512d g0 = _mm512_maskz_loadu_pd(m0, gy + i), g1 = _mm512_maskz_loadu_pd(m1, gy + i + 8);
    _mm512_storeu_pd(gx + i, g0);
    _mm512_storeu_pd(gx + i + 8, g1);
  }
  for (; i < n; i += 8) {
    const __mmask8 k = n - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (n - i)) - 1u);
    const __mmask8 m = k & _mm512_cmp_pd_mask(_mm512_maskz_loadu_pd(k, x + i), zero, _CMP_NLE_UQ);
    _mm512_mask_storeu_pd(gx + i, k, _mm512_maskz_loadu_pd(m, gy + i));
  }
}
