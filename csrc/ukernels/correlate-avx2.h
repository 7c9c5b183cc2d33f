/* Template of the AVX2 + FMA correlation row microkernel, 8 ymm accumulators,
 * so U * LANES outputs per pass (64 f32, 32 f64):
 *   y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t]   for j < n
 * (ukernel.h). Per tap: one broadcast of w, eight unaligned loads of x folded
 * into eight FMAs; the last partial pass uses masked loads and stores, so
 * nothing past a row's n + kw - 1 values is touched, its whole vectors stored
 * plainly and those past n not at all (avx2-store.h: a row of 12 outputs by 3
 * taps 0.545x the time, 66 by 3x3 0.838x, f64, AMD EPYC Zen 4). The caller promises
 * n, kh, kw >= 1 and y aliasing neither x nor w; no alignment assumed.
 *
 * The including file defines NAME, T (float, double), V (__m256, __m256d),
 * LANES (8, 4) and SFX (ps, pd), and includes this once. */
#include <assert.h>
#include <immintrin.h>
#include "fastconv/ukernel.h"
#include "avx2-lanes.h"
#include "avx2-store.h"

#define U 8 /* vectors per pass */
#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm256_##op##_, SFX)

void NAME(size_t n, size_t kh, size_t kw, const T *restrict x, size_t ldx, const T *restrict w,
          T *restrict y) {
  assert(n >= 1 && kh >= 1 && kw >= 1);
  size_t j = 0;
  for (; j + U * LANES <= n; j += U * LANES) {
    V acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) acc[u] = FC_VOP(setzero)();
    for (size_t i = 0; i < kh; i++) {
      const T *xr = x + i * ldx + j;
      const T *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const V wv = FC_BROADCAST(wr + t);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = FC_VOP(fmadd)(FC_VOP(loadu)(xr + t + u * LANES), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) FC_VOP(storeu)(y + j + u * LANES, acc[u]);
  }
  if (j < n) {
    /* One masked pass over the last n - j < U * LANES outputs; whole vectors
     * past n get an empty mask, so they load nothing and store nothing. */
    const __m256i lane = FC_MI_LANES;
    __m256i mask[U];
    V acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) {
      const FC_MI left = (FC_MI)(n - j) - (FC_MI)u * LANES;
      mask[u] = FC_MI_CMPGT(FC_MI_SET1(left), lane);
      acc[u] = FC_VOP(setzero)();
    }
    for (size_t i = 0; i < kh; i++) {
      const T *xr = x + i * ldx + j;
      const T *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const V wv = FC_BROADCAST(wr + t);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = FC_VOP(fmadd)(FC_VOP(maskload)(xr + t + u * LANES, mask[u]), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) FC_CAT(fc_avx2_maskstore_, SFX)(y + j + u * LANES, mask[u], acc[u]);
  }
}
