/* f32 correlation row microkernel, AVX2 + FMA, 64 outputs per pass (8 ymm accumulators):
 * y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t] for j < n (ukernel.h). Per tap:
 * one broadcast of w, eight unaligned loads of x folded into eight FMAs; the last partial pass
 * uses maskload/maskstore, so nothing past a row's n + kw - 1 values is touched. The caller
 * promises n, kh, kw >= 1 and y aliasing neither x nor w; no alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "fastconv/ukernel.h"

#define U 8 /* vectors per pass */
#define V 8 /* lanes per vector */

void fc_f32_correlate_ukernel_1x64__avx2(size_t n, size_t kh, size_t kw,
                                         const float *restrict x, size_t ldx,
                                         const float *restrict w, float *restrict y) {
  assert(n >= 1 && kh >= 1 && kw >= 1);
  size_t j = 0;
  for (; j + U * V <= n; j += U * V) {
    __m256 acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) acc[u] = _mm256_setzero_ps();
    for (size_t i = 0; i < kh; i++) {
      const float *xr = x + i * ldx + j;
      const float *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const __m256 wv = _mm256_broadcast_ss(wr + t);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(xr + t + u * V), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) _mm256_storeu_ps(y + j + u * V, acc[u]);
  }
  if (j < n) {
    /* One masked pass over the last n - j < 64 outputs; whole vectors past n
     * get an empty mask, so they load nothing and store nothing. */
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask[U];
    __m256 acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) {
      const int left = (int)(n - j) - u * V;
      mask[u] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
      acc[u] = _mm256_setzero_ps();
    }
    for (size_t i = 0; i < kh; i++) {
      const float *xr = x + i * ldx + j;
      const float *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const __m256 wv = _mm256_broadcast_ss(wr + t);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = _mm256_fmadd_ps(_mm256_maskload_ps(xr + t + u * V, mask[u]), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) _mm256_maskstore_ps(y + j + u * V, mask[u], acc[u]);
  }
}
