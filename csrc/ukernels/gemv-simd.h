/* Template of the AVX2 and AVX-512 small-batch dense products (contract in
 * fastconv/ukernel.h, fc_*_gemv_ukernel): y rows j < nb over columns i < mc,
 * each the sum over p < kc of x[j][p] * w[p][i], one accumulator per output
 * from zero, one fused multiply-add per term in p order, stored or added to y
 * as the indirect-GEMM kernels' store does. Those kernels compute every output
 * the same way, whatever their tile, so a batch of one and the same image in
 * a batch of 32 give the same bits.
 *
 * Columns go WIDTH(nb) vectors at a time (masked at the end), rows of x all
 * at once (nb <= FC_GEMV_MAX_ROWS, instantiated per count so the accumulators
 * stay in registers): per step WIDTH(nb) loads of w, nb broadcasts, nb x
 * WIDTH(nb) FMAs. A batch of one takes the widest chunk, so w's rows stream
 * whole; w is read once per call, which is what a batch of one costs.
 *
 * The including file defines NAME, T, V, LANES, WIDTH(nb), WMAX (WIDTH(1),
 * the largest) and the vector operations
 * ZERO(), LOAD(p, mask), BCAST(s), FMA(a, b, acc), ADD(a, b), STORE(p, mask, v)
 * and the mask type and maker MASK_T / MASK(n) (the first n lanes of a vector
 * of LANES); loads under a mask never touch memory past it. */
#include <assert.h>
#include <stddef.h>
#include "fastconv/ukernel.h"

static inline __attribute__((always_inline)) void FC_GEMV_BLOCK(size_t nb, int W, size_t kc,
                                                                 size_t n, const T *x, size_t ldx,
                                                                 const T *w, size_t ldw, T *y,
                                                                 size_t ldy, unsigned flags) {
  MASK_T mask[WMAX];
#pragma GCC unroll 8
  for (int v = 0; v < W; v++) {
    const size_t lo = (size_t)v * LANES;
    mask[v] = MASK(n > lo ? (n - lo < LANES ? n - lo : LANES) : 0);
  }
  V acc[FC_GEMV_MAX_ROWS][WMAX];
#pragma GCC unroll 8
  for (size_t r = 0; r < nb; r++)
#pragma GCC unroll 8
    for (int v = 0; v < W; v++) acc[r][v] = ZERO();
  for (size_t p = 0; p < kc; p++) {
    const T *wp = w + p * ldw;
    V wv[WMAX];
#pragma GCC unroll 8
    for (int v = 0; v < W; v++) wv[v] = LOAD(wp + v * LANES, mask[v]);
#pragma GCC unroll 8
    for (size_t r = 0; r < nb; r++) {
      const V xr = BCAST(x[r * ldx + p]);
#pragma GCC unroll 8
      for (int v = 0; v < W; v++) acc[r][v] = FMA(wv[v], xr, acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < nb; r++)
#pragma GCC unroll 8
    for (int v = 0; v < W; v++) {
      T *yp = y + r * ldy + v * LANES;
      if (flags & FC_GEMM_ACCUMULATE) acc[r][v] = ADD(acc[r][v], LOAD(yp, mask[v]));
      STORE(yp, mask[v], acc[r][v]);
    }
}

/* Columns [0, mc) in chunks of WIDTH(NB) vectors, NB rows (a constant). */
#define FC_GEMV_ROWS(NB)                                                                       \
  for (size_t i0 = 0, step = (size_t)WIDTH(NB) * LANES; i0 < mc; i0 += step)                   \
    FC_GEMV_BLOCK(NB, WIDTH(NB), kc, mc - i0 < step ? mc - i0 : step, x, ldx, w + i0, ldw,     \
                  y + i0, ldy, flags)

void NAME(size_t nb, size_t kc, size_t mc, const T *restrict x, size_t ldx, const T *restrict w,
          size_t ldw, T *restrict y, size_t ldy, unsigned flags) {
  assert(nb >= 1 && nb <= FC_GEMV_MAX_ROWS && kc >= 1);
  switch (nb) { /* a constant count per case, so each unrolls fully */
    case 1: FC_GEMV_ROWS(1); break;
    case 2: FC_GEMV_ROWS(2); break;
    case 3: FC_GEMV_ROWS(3); break;
    default: FC_GEMV_ROWS(4); break;
  }
}
#undef FC_GEMV_ROWS
