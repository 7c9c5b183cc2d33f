/* f64 ReLU microkernel, AVX2, 16 elements per loop pass (4 ymm): y = max(0, x)
 * with x as max's second operand, so NaN passes through. y may equal x; no
 * alignment assumed; masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f64_relu_ukernel__avx2(size_t n, const double *x, double *y) {
  const __m256d zero = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256d v0 = _mm256_loadu_pd(x + i), v1 = _mm256_loadu_pd(x + i + 4);
    const __m256d v2 = _mm256_loadu_pd(x + i + 8), v3 = _mm256_loadu_pd(x + i + 12);
    _mm256_storeu_pd(y + i, _mm256_max_pd(zero, v0));
    _mm256_storeu_pd(y + i + 4, _mm256_max_pd(zero, v1));
    _mm256_storeu_pd(y + i + 8, _mm256_max_pd(zero, v2));
    _mm256_storeu_pd(y + i + 12, _mm256_max_pd(zero, v3));
  }
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, _mm256_max_pd(zero, _mm256_loadu_pd(x + i)));
  if (i < n) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n - i)), idx);
    const __m256d v = _mm256_maskload_pd(x + i, mask);
    _mm256_maskstore_pd(y + i, mask, _mm256_max_pd(zero, v));
  }
}
