/* f32 ReLU microkernel, AVX-512F, 64 elements per loop pass (4 zmm):
 * y = max(0, x) with x as max's second operand, so NaN passes through. y may
 * equal x; no alignment assumed; masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_relu_ukernel__avx512(size_t n, const float *x, float *y) {
  const __m512 zero = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
    _mm512_storeu_ps(y + i, _mm512_max_ps(zero, v0));
    _mm512_storeu_ps(y + i + 16, _mm512_max_ps(zero, v1));
    _mm512_storeu_ps(y + i + 32, _mm512_max_ps(zero, v2));
    _mm512_storeu_ps(y + i + 48, _mm512_max_ps(zero, v3));
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_max_ps(zero, _mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, k, _mm512_max_ps(zero, _mm512_maskz_loadu_ps(k, x + i)));
  }
}
