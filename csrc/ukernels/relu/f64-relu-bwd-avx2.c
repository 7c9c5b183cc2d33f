/* f64 ReLU-gradient microkernel, AVX2, 8 elements per loop pass:
 * gx = gy & !(x <= 0), the unordered compare passing gy where x is NaN
 * (as PyTorch's threshold_backward). gx may
 * equal gy or x (each vector is loaded before it is stored); masked tail. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f64_relu_bwd_ukernel__avx2(size_t n, const double *gy, const double *x, double *gx) {
  const __m256d zero = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d m0 = _mm256_cmp_pd(_mm256_loadu_pd(x + i), zero, _CMP_NLE_UQ);
    const __m256d m1 = _mm256_cmp_pd(_mm256_loadu_pd(x + i + 4), zero, _CMP_NLE_UQ);
    const __m256d g0 = _mm256_loadu_pd(gy + i), g1 = _mm256_loadu_pd(gy + i + 4);
    _mm256_storeu_pd(gx + i, _mm256_and_pd(m0, g0));
    _mm256_storeu_pd(gx + i + 4, _mm256_and_pd(m1, g1));
  }
  if (i < n) {
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    for (; i < n; i += 4) {
      const __m256i k = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n - i < 4 ? n - i : 4)), lane);
      const __m256d m = _mm256_cmp_pd(_mm256_maskload_pd(x + i, k), zero, _CMP_NLE_UQ);
      _mm256_maskstore_pd(gx + i, k, _mm256_and_pd(m, _mm256_maskload_pd(gy + i, k)));
    }
  }
}
