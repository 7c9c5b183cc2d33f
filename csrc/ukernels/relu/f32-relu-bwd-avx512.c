/* f32 ReLU-gradient microkernel, AVX-512F, 32 elements per loop pass:
 * gx = x <= 0 ? 0 : gy by a compare mask (NaN in x passes gy, as
 * PyTorch's threshold_backward). gx may
 * equal gy or x (each vector is loaded before it is stored); masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_relu_bwd_ukernel__avx512(size_t n, const float *gy, const float *x, float *gx) {
  const __m512 zero = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), zero, _CMP_NLE_UQ);
    const __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), zero, _CMP_NLE_UQ);
    const __m512 g0 = _mm512_maskz_loadu_ps(m0, gy + i), g1 = _mm512_maskz_loadu_ps(m1, gy + i + 16);
    _mm512_storeu_ps(gx + i, g0);
    _mm512_storeu_ps(gx + i + 16, g1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    const __mmask16 m = k & _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(k, x + i), zero, _CMP_NLE_UQ);
    _mm512_mask_storeu_ps(gx + i, k, _mm512_maskz_loadu_ps(m, gy + i));
  }
}
