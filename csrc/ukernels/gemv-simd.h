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
 * of LANES); loads under a mask never touch memory past it.
 *
 * The sparse row product SPARSE_NAME (fc_*_gemv_sparse_ukernel) is the same
 * sum for rows of x each given as its nonzero terms (index, value): each term
 * one fused multiply-add per output, in the list's order, from zero, and the
 * same store. Columns go as many vectors at a time as they need, up to
 * SPARSE_ACC accumulators for all the rows (the including file defines it: what
 * the registers hold beside a broadcast and a load). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
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

/* The sparse row products of NB rows over the W vectors of columns [0, n) (n <=
 * W LANES): the rows' terms interleaved while every row has one, so NB W
 * multiply-add chains run at once (one row's W chains would wait on the FMA's
 * latency), then each row's remaining terms. */
static inline __attribute__((always_inline)) void gemv_sparse_block(
    int NB, int W, const size_t *nnz, const uint32_t *const *idx, const T *const *val, size_t n,
    const T *w, size_t ldw, T *y, size_t ldy, unsigned flags) {
  const MASK_T last = MASK(n - (size_t)(W - 1) * LANES);
  V acc[FC_GEMV_MAX_ROWS][8];
  size_t common = nnz[0];
#pragma GCC unroll 4
  for (int r = 0; r < NB; r++) {
    common = nnz[r] < common ? nnz[r] : common;
#pragma GCC unroll 8
    for (int v = 0; v < W; v++) acc[r][v] = ZERO();
  }
#define FC_SPARSE_TERM(r, t)                                                      \
  do {                                                                            \
    const T *wp = w + (size_t)idx[r][t] * ldw;                                    \
    V xv = BCAST(val[r][t]);                                                      \
    __asm__("" : "+v"(xv)); /* one broadcast, not one folded into each FMA */     \
    _Pragma("GCC unroll 8") for (int v = 0; v < W - 1; v++)                       \
        acc[r][v] = FMA(LOADU(wp + v * LANES), xv, acc[r][v]);                    \
    acc[r][W - 1] = FMA(LOAD(wp + (W - 1) * LANES, last), xv, acc[r][W - 1]);     \
  } while (0)
  for (size_t t = 0; t < common; t++) {
#pragma GCC unroll 4
    for (int r = 0; r < NB; r++) FC_SPARSE_TERM(r, t);
  }
#pragma GCC unroll 4
  for (int r = 0; r < NB; r++)
    for (size_t t = common; t < nnz[r]; t++) FC_SPARSE_TERM(r, t);
#undef FC_SPARSE_TERM
#pragma GCC unroll 4
  for (int r = 0; r < NB; r++)
#pragma GCC unroll 8
    for (int v = 0; v < W; v++) {
      const MASK_T mv = v == W - 1 ? last : MASK(LANES);
      T *yp = y + r * ldy + v * LANES;
      if (flags & FC_GEMM_ACCUMULATE) acc[r][v] = ADD(acc[r][v], LOAD(yp, mv));
      STORE(yp, mv, acc[r][v]);
    }
}

/* Columns [0, mc) of NB rows (a constant) in chunks of as many vectors as the
 * columns need, at most FC_SPARSE_WMAX(NB): each case a constant count, so the
 * accumulators stay in registers. */
#define FC_SPARSE_WMAX(NB) (SPARSE_ACC / (NB) < 8 ? SPARSE_ACC / (NB) : 8)
#define FC_SPARSE_W(NB, W)                                                                     \
  case W:                                                                                      \
    if ((W) <= FC_SPARSE_WMAX(NB))                                                             \
      gemv_sparse_block(NB, W, nnz, idx, val, n, w + i0, ldw, y + i0, ldy, flags);             \
    break;
#define FC_SPARSE_ROWS(NB)                                                                     \
  do {                                                                                         \
    const size_t wmax = FC_SPARSE_WMAX(NB);                                                    \
    for (size_t i0 = 0; i0 < mc; i0 += wmax * LANES) {                                         \
      const size_t n = mc - i0 < wmax * LANES ? mc - i0 : wmax * LANES;                        \
      switch ((n + LANES - 1) / LANES) {                                                       \
        FC_SPARSE_W(NB, 1) FC_SPARSE_W(NB, 2) FC_SPARSE_W(NB, 3) FC_SPARSE_W(NB, 4)            \
        FC_SPARSE_W(NB, 5) FC_SPARSE_W(NB, 6) FC_SPARSE_W(NB, 7) FC_SPARSE_W(NB, 8)            \
        default: break;                                                                        \
      }                                                                                        \
    }                                                                                          \
  } while (0)

void SPARSE_NAME(size_t nb, const size_t *restrict nnz, const uint32_t *const *restrict idx,
                 const T *const *restrict val, size_t mc, const T *restrict w, size_t ldw,
                 T *restrict y, size_t ldy, unsigned flags) {
  assert(nb >= 1 && nb <= FC_GEMV_MAX_ROWS);
  /* rows a pass: as many as keep the columns' vectors (up to 8) in one chunk
   * (SPARSE_ACC >= 8, so at least one) */
  const size_t vectors = mc >= 8 * LANES ? 8 : (mc + LANES - 1) / LANES;
  const size_t fit = vectors ? SPARSE_ACC / vectors : nb, step = fit < nb ? fit : nb;
  for (size_t r0 = 0; r0 < nb; r0 += step, nnz += step, idx += step, val += step, y += step * ldy) {
    switch (nb - r0 < step ? nb - r0 : step) {
      case 1: FC_SPARSE_ROWS(1); break;
      case 2: FC_SPARSE_ROWS(2); break;
      case 3: FC_SPARSE_ROWS(3); break;
      default: FC_SPARSE_ROWS(4); break;
    }
  }
}
#undef FC_SPARSE_ROWS
#undef FC_SPARSE_W
#undef FC_SPARSE_WMAX
