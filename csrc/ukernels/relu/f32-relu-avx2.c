/* f32 ReLU microkernel, AVX2, 32 elements per loop pass (4 ymm): y = max(0, x)
 * with x as max's second operand, so NaN passes through. y may equal x (each
 * vector is loaded before it is stored); no alignment assumed; masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_relu_ukernel__avx2(size_t n, const float *x, float *y) {
  const __m256 zero = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
    _mm256_storeu_ps(y + i, _mm256_max_ps(zero, v0));
    _mm256_storeu_ps(y + i + 8, _mm256_max_ps(zero, v1));
    _mm256_storeu_ps(y + i + 16, _mm256_max_ps(zero, v2));
    _mm256_storeu_ps(y + i + 24, _mm256_max_ps(zero, v3));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), idx);
    const __m256 v = _mm256_maskload_ps(x + i, mask);
    _mm256_maskstore_ps(y + i, mask, _mm256_max_ps(zero, v));
  }
}
