/* Helpers shared by the GEMM and indirect-GEMM microkernels for partial
 * tiles: the kernel spills its full MR x NR register tile to `tile` (row
 * stride nr) and these copy the valid m x n corner to C, adding C's old values
 * under FC_GEMM_ACCUMULATE (plain C on purpose: it runs once per edge tile,
 * never in the k loop); and the row count a tile with m live rows runs.
 *
 * Part of a microkernel's template: the including kernel file has defined T
 * (float, double), so each kernel's translation unit gets its dtype's copy. */
#ifndef FASTCONV_GEMM_COMMON_H
#define FASTCONV_GEMM_COMMON_H

#include <stddef.h>
#include "fastconv/ukernel.h"

static inline void fc_tile_finish(const T *tile, size_t nr, T *c, size_t ldc, size_t m, size_t n,
                                  unsigned flags) {
  for (size_t i = 0; i < m; i++) {
    T *ci = c + i * ldc;
    const T *ti = tile + i * nr;
    if (flags & FC_GEMM_ACCUMULATE) {
      for (size_t j = 0; j < n; j++) ci[j] += ti[j];
    } else {
      for (size_t j = 0; j < n; j++) ci[j] = ti[j];
    }
  }
}

/* Copies the first n bias values into a zero-filled buffer of nr, so a full
 * vector load never reads past the caller's array. */
static inline void fc_bias_tail(const T *bias, size_t nr, size_t n, T *buf) {
  for (size_t j = 0; j < nr; j++) buf[j] = j < n ? bias[j] : (T)0;
}

/* Runs STEPS(rows), the kernel's depth loop over its first `rows` rows, for
 * the fewest rows of a third, two thirds or all of MR that cover the m live
 * ones: a tile at the end of the rows (the tail of a row of pixels, of the
 * output channels) often has only some rows live, and the rest are padding.
 * Each output gets the same sums either way. */
#define FC_LIVE_ROWS(m, STEPS)          \
  if ((m) <= (MR + 2) / 3) {            \
    STEPS((MR + 2) / 3)                 \
  } else if ((m) <= (2 * MR + 2) / 3) { \
    STEPS((2 * MR + 2) / 3)             \
  } else {                              \
    STEPS(MR)                           \
  }

/* The packed GEMM's depth loop over its first `rows` rows (STEPS of
 * FC_LIVE_ROWS) for the tiles of MR rows by two vectors, AVX2's and
 * AVX-512's (gemm-avx2-6x2.h, gemm-avx512-x2.h): per step two vectors of B
 * and, per row, one broadcast of A and two fused multiply-adds. The including
 * template defines V, LANES, MR, NR, FC_VOP (its vector operations) and
 * FC_GEMM_BROADCAST(p) (a vector of *p), and has a, b, kc and acc[MR][2] in
 * scope. */
#define FC_GEMM_X2_STEPS(rows)                                    \
  for (size_t p = 0; p < kc; p++) {                               \
    const V b0 = FC_VOP(loadu)(b), b1 = FC_VOP(loadu)(b + LANES); \
    _Pragma("GCC unroll 12") for (int i = 0; i < (rows); i++) {   \
      const V ai = FC_GEMM_BROADCAST(a + i);                      \
      acc[i][0] = FC_VOP(fmadd)(ai, b0, acc[i][0]);               \
      acc[i][1] = FC_VOP(fmadd)(ai, b1, acc[i][1]);               \
    }                                                             \
    a += MR;                                                      \
    b += NR;                                                      \
  }

#endif
