/* A helper shared by the indirect-GEMM microkernels (f32 6x64, the AVX-512
 * MR x 2-vector template, the AVX2 6 x 2-vector template): a tap's row
 * pointers. (The row count a tile with m live rows runs: gemm-common.h.)
 *
 * Part of a microkernel's template: the including kernel file has defined T
 * (float, double) and MR (its tile's rows). Always inlined, so the pointers
 * stay in registers (checked in the assembly of each kernel). */
#ifndef FASTCONV_IGEMM_COMMON_H
#define FASTCONV_IGEMM_COMMON_H

#include <stddef.h>
#include "gemm-common.h"

/* One tap's rows: ap[i] = a[i] + a_offset, or `zero` itself where a[i] is
 * `zero` (padding, rows past m). Returns whether any row is not `zero`. */
static inline __attribute__((always_inline)) int fc_igemm_tap_rows(const T *const *a,
                                                                   size_t a_offset,
                                                                   const T *zero, const T **ap) {
  int live = 0;
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    ap[i] = a[i] == zero ? zero : a[i] + a_offset;
    live |= ap[i] != zero;
  }
  return live;
}

#endif
