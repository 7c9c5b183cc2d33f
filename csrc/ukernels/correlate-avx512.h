/* Template of the AVX-512F correlation row microkernel:
 *   y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t]   for j < n
 * (ukernel.h). Short rows, in passes of U * LANES outputs (8 zmm accumulators:
 * 128 f32, 64 f64), per tap: one broadcast of w, eight unaligned loads of x,
 * eight FMAs. Long rows (kw >= LONG_TAPS) take the shared-load form of
 * correlate-avx512-long.h, which loads each distinct x vector once for every
 * accumulator that needs it: a sixth of the x loads, which split cache lines
 * and bound the short form at about half the FMA peak. Very long f64 rows
 * (kw >= LONG16_TAPS) take it with 16 accumulators (128 outputs a pass), whose
 * slack over the FMA pipes' 8 in flight lifts them from about 90% of the peak
 * to about 96% (AMD Zen 5). Every form adds each output's taps in the same order, so their
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

#define U 8 /* accumulators of the short form and of the last partial pass */
/* x[q + s] for s < LANES from a = x[q..], b = x[q + LANES..]: one lane shift. */
#if LANES == 8
#define FC_ALIGNR(b, a, s) \
  _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(b), _mm512_castpd_si512(a), (s)))
#else
#define FC_ALIGNR(b, a, s) \
  _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), (s)))
#endif
/* Step s of a block of the long form: accumulators u0 <= u < u1 take tap
 * q + s - u*LANES (PART, with u0 and u1 in scope), or all UL of them (FULL).
 * Constant indices keep acc in registers; FULL's constant bounds fold the test
 * away. */
#define FC_PART(q, xv, s)                                                             \
  do {                                                                                \
    const V xs_ = (xv);                                                               \
    _Pragma("GCC unroll 16") for (int u = 0; u < UL; u++)                             \
      if (u >= u0 && u < u1)                                                          \
        acc[u] = FC_VOP(fmadd)(xs_, FC_VOP(set1)(wr[(q) + (s) - (size_t)u * LANES]), acc[u]); \
  } while (0)
#define FC_FULL(q, xv, s)                                                             \
  do {                                                                                \
    const int u0 = 0, u1 = UL;                                                        \
    FC_PART(q, xv, s);                                                                \
  } while (0)
/* Eight steps from s0: x[q + s] is a for s = 0, else alignr(b, a, s). */
#define FC_SHIFTED(b, a, s) ((s) == 0 ? (a) : FC_ALIGNR(b, a, (s)))
#define FC_EIGHT_STEPS(STEP, q, a, b, s0)                                             \
  do {                                                                                \
    STEP(q, FC_SHIFTED(b, a, (s0) + 0), (s0) + 0);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 1), (s0) + 1);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 2), (s0) + 2);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 3), (s0) + 3);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 4), (s0) + 4);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 5), (s0) + 5);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 6), (s0) + 6);                                    \
    STEP(q, FC_SHIFTED(b, a, (s0) + 7), (s0) + 7);                                    \
  } while (0)
/* All LANES steps of a block (8 float64 or 16 float32). */
#if LANES == 8
#define FC_LONG_STEPS(STEP, q, a, b) FC_EIGHT_STEPS(STEP, q, a, b, 0)
#else
#define FC_LONG_STEPS(STEP, q, a, b)                                                  \
  do {                                                                                \
    FC_EIGHT_STEPS(STEP, q, a, b, 0);                                                 \
    FC_EIGHT_STEPS(STEP, q, a, b, 8);                                                 \
  } while (0)
#endif
#define LONG_TAPS (2 * U * LANES)    /* taps from which a row takes the shared-load form */
#define LONG16_TAPS (2 * 16 * LANES) /* and from which f64 rows take it with 16 accumulators */
#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm512_##op##_, SFX)

#define UL 8
#include "correlate-avx512-long.h"
#undef UL
#if LANES == 8
#define UL 16
#include "correlate-avx512-long.h"
#undef UL
#endif

void NAME(size_t n, size_t kh, size_t kw, const T *restrict x, size_t ldx, const T *restrict w,
          T *restrict y) {
  assert(n >= 1 && kh >= 1 && kw >= 1);
  size_t j = 0;
#if LANES == 8
  if (kw >= LONG16_TAPS) j = FC_CAT(NAME, _long16)(n, kh, kw, x, ldx, w, y);
#endif
  if (kw >= LONG_TAPS) j += FC_CAT(NAME, _long8)(n - j, kh, kw, x + j, ldx, w, y + j);
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
