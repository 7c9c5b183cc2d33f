/* Template of the AVX-512F correlation row microkernel, 8 zmm accumulators,
 * so U * LANES outputs per pass (128 f32, 64 f64):
 *   y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t]   for j < n
 * (ukernel.h). Short rows, per tap: one broadcast of w, eight unaligned loads
 * of x, eight FMAs. Long rows (kw >= LONG_TAPS) load each distinct x vector
 * once and feed it to every accumulator that needs it (x[j + q] is tap
 * q - u*LANES of vector u), with w as broadcast memory operands: a sixth of
 * the x loads, which split cache lines and bound the short form at about half
 * the FMA peak. Both forms add each output's taps in the same order, so their
 * results are bitwise equal. The last partial pass masks loads and stores, so
 * nothing past a row's n + kw - 1 values is touched. The caller promises n,
 * kh, kw >= 1 and y aliasing neither x nor w; no alignment assumed.
 *
 * The including file defines NAME, T (float, double), V (__m512, __m512d),
 * MASK (__mmask16, __mmask8), LANES (16, 8) and SFX (ps, pd), and includes
 * this once. */
#include <assert.h>
#include <immintrin.h>
#include "fastconv/ukernel.h"

#define U 8 /* vectors per pass */
#define LONG_TAPS (2 * U * LANES) /* taps from which a row takes the shared-load form */
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
      if (kw >= LONG_TAPS) {
        /* q walks the distinct x vectors; vector u takes tap q - u*LANES. In
         * the steady part every u has a tap; at both ends some do not. */
        const size_t steady0 = (U - 1) * LANES, qend = kw + (U - 1) * LANES;
        for (size_t q = 0; q < qend; q++) {
          const V xv = FC_VOP(loadu)(xr + q);
          if (q >= steady0 && q < kw) {
#pragma GCC unroll 8
            for (int u = 0; u < U; u++)
              acc[u] = FC_VOP(fmadd)(xv, FC_VOP(set1)(wr[q - (size_t)u * LANES]), acc[u]);
          } else {
#pragma GCC unroll 8
            for (int u = 0; u < U; u++)
              if (q >= (size_t)u * LANES && q - (size_t)u * LANES < kw)
                acc[u] = FC_VOP(fmadd)(xv, FC_VOP(set1)(wr[q - (size_t)u * LANES]), acc[u]);
          }
        }
        continue;
      }
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
