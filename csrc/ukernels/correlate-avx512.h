/* Template of the AVX-512F correlation row microkernel, 8 zmm accumulators,
 * so U * LANES outputs per pass (128 f32, 64 f64):
 *   y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t]   for j < n
 * (ukernel.h). Per tap: one broadcast of w, eight unaligned loads of x, eight
 * FMAs; the last partial pass masks loads and stores, so nothing past a row's
 * n + kw - 1 values is touched. The caller promises n, kh, kw >= 1 and y
 * aliasing neither x nor w; no alignment assumed.
 *
 * The including file defines NAME, T (float, double), V (__m512, __m512d),
 * MASK (__mmask16, __mmask8), LANES (16, 8) and SFX (ps, pd), and includes
 * this once. */
#include <assert.h>
#include <immintrin.h>
#include "fastconv/ukernel.h"

#define U 8 /* vectors per pass */
#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm512_##op##_, SFX)

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
        const V wv = FC_VOP(set1)(wr[t]);
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
    MASK mask[U];
    V acc[U];
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) {
      const size_t left = n - j > (size_t)u * LANES ? n - j - (size_t)u * LANES : 0;
      mask[u] = left >= LANES ? (MASK)((1u << LANES) - 1u) : (MASK)((1u << left) - 1u);
      acc[u] = FC_VOP(setzero)();
    }
    for (size_t i = 0; i < kh; i++) {
      const T *xr = x + i * ldx + j;
      const T *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const V wv = FC_VOP(set1)(wr[t]);
#pragma GCC unroll 8
        for (int u = 0; u < U; u++)
          acc[u] = FC_VOP(fmadd)(FC_VOP(maskz_loadu)(mask[u], xr + t + u * LANES), wv, acc[u]);
      }
    }
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) FC_VOP(mask_storeu)(y + j + u * LANES, mask[u], acc[u]);
  }
}
