/* f32 ReLU-gradient microkernel, AVX2, 16 elements per loop pass:
 * gx = gy & !(x <= 0), the unordered compare passing gy where x is NaN
 * (as PyTorch's threshold_backward). gx may
 * equal gy or x (each vector is loaded before it is stored); masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_relu_bwd_ukernel__avx2(size_t n, const float *gy, const float *x, float *gx) {
  const __m256 zero = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 m0 = _mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_NLE_UQ);
    const __m256 m1 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), zero, _CMP_NLE_UQ);
    const __m256 g0 = _mm256_loadu_ps(gy + i), g1 = _mm256_loadu_ps(gy + i + 8);
    _mm256_storeu_ps(gx + i, _mm256_and_ps(m0, g0));
    _mm256_storeu_ps(gx + i + 8, _mm256_and_ps(m1, g1));
  }
  if (i < n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (; i < n; i += 8) {
      const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i < 8 ? n - i : 8)), lane);
      const __m256 m = _mm256_cmp_ps(_mm256_maskload_ps(x + i, k), zero, _CMP_NLE_UQ);
      _mm256_maskstore_ps(gx + i, k, _mm256_and_ps(m, _mm256_maskload_ps(gy + i, k)));
    }
  }
}
