/* f64 ReLU microkernel, AVX-512F, 32 elements per loop pass (4 zmm):
 * y = max(0, x) with x as max's second operand, so NaN passes through. y may
 * equal x; no alignment assumed; masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f64_relu_ukernel__avx512(size_t n, const double *x, double *y) {
  const __m512d zero = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512d v0 = _mm512_loadu_pd(x + i), v1 = _mm512_loadu_pd(x + i + 8);
    const __m512d v2 = _mm512_loadu_pd(x + i + 16), v3 = _mm512_loadu_pd(x + i + 24);
    _mm512_storeu_pd(y + i, _mm512_max_pd(zero, v0));
    _mm512_storeu_pd(y + i + 8, _mm512_max_pd(zero, v1));
    _mm512_storeu_pd(y + i + 16, _mm512_max_pd(zero, v2));
    _mm512_storeu_pd(y + i + 24, _mm512_max_pd(zero, v3));
  }
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(y + i, _mm512_max_pd(zero, _mm512_loadu_pd(x + i)));
  if (i < n) {
    const __mmask8 k = (__mmask8)((1u << (n - i)) - 1u);
    _mm512_mask_storeu_pd(y + i, k, _mm512_max_pd(zero, _mm512_maskz_loadu_pd(k, x + i)));
  }
}
