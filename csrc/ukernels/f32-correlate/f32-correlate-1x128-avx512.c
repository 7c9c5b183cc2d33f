/* f32 correlation row microkernel, AVX-512F, 128 outputs per pass (8 zmm accumulators):
 * y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t] for j < n (ukernel.h). Per tap:
 * one broadcast of w, eight unaligned loads of x, eight FMAs; the last partial pass masks loads
 * and stores, so nothing past a row's n + kw - 1 values is touched. The caller promises
 * n, kh, kw >= 1 and y aliasing neither x nor w; no alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "fastconv/ukernel.h"

#define U 8 /* vectors per pass */
#define V 16 /* lanes per vector */

void fc_f32_correlate_ukernel_1x128__avx512(size_t n, size_t kh, size_t kw,
                                            const float *restrict x, size_t ldx,
                                            const float *restrict w, float *restrict y) {
  assert(n >= 1 && kh >= 1 && kw >= 1);
  size_t j = 0;
  for (; j + U * V <= n; j += U * V) {
    __m512 acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) acc[u] = _mm512_setzero_ps();
    for (size_t i = 0; i < kh; i++) {
      const float *xr = x + i * ldx + j;
      const float *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const __m512 wv = _mm512_set1_ps(wr[t]);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(xr + t + u * V), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) _mm512_storeu_ps(y + j + u * V, acc[u]);
  }
  if (j < n) {
    /* One masked pass over the last n - j < 128 outputs; whole vectors past n
     * get an empty mask, so they load nothing and store nothing. */
    __mmask16 mask[U];
    __m512 acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) {
      const size_t left = n - j > (size_t)u * V ? n - j - (size_t)u * V : 0;
      mask[u] = left >= V ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
      acc[u] = _mm512_setzero_ps();
    }
    for (size_t i = 0; i < kh; i++) {
      const float *xr = x + i * ldx + j;
      const float *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const __m512 wv = _mm512_set1_ps(wr[t]);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[u], xr + t + u * V), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) _mm512_mask_storeu_ps(y + j + u * V, mask[u], acc[u]);
  }
}
