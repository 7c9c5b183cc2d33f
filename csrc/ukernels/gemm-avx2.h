/* The store of a GEMM/IGEMM microkernel's 6 x 2-vector AVX2 register tile,
 * shared by the f32 6x16 and f64 6x8 kernels: a full tile goes straight to C
 * (added to it under FC_GEMM_ACCUMULATE); a tile of all six rows and fewer
 * columns, stored (not added), writes its last vector's live lanes by
 * halves, quarters and single lanes (avx2-store.h; conv2d of (128,28,28,1)
 * by 28 3x3 filters, panels of 16 and 12 channels: 0.878x the time at 1
 * thread, 0.853x at 2, where its copy through a spilled tile had been, and a
 * masked store 1.38x: AMD EPYC Zen 4); any other edge tile goes through a
 * spilled copy and fc_tile_finish. Include only from files compiled with AVX2
 * flags; always inlined, so the accumulators stay in registers.
 *
 * Part of a microkernel's template: the including kernel file has defined T
 * (float, double), V (__m256, __m256d), LANES (8, 4) and SFX (ps, pd). */
#ifndef FASTCONV_GEMM_AVX2_H
#define FASTCONV_GEMM_AVX2_H

#include <immintrin.h>
#include "avx2-store.h"
#include "gemm-common.h"

#define FC_AVX2_CAT2(a, b) a##b
#define FC_AVX2_CAT(a, b) FC_AVX2_CAT2(a, b)
#define FC_AVX2_OP(op) FC_AVX2_CAT(_mm256_##op##_, SFX)

static inline __attribute__((always_inline)) void fc_avx2_store_6x2(V acc[6][2], T *c, size_t ldc,
                                                                    size_t m, size_t n,
                                                                    unsigned flags) {
  if (m == 6 && n == 2 * LANES) {
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      T *ci = c + i * ldc;
      if (flags & FC_GEMM_ACCUMULATE) {
        acc[i][0] = FC_AVX2_OP(add)(acc[i][0], FC_AVX2_OP(loadu)(ci));
        acc[i][1] = FC_AVX2_OP(add)(acc[i][1], FC_AVX2_OP(loadu)(ci + LANES));
      }
      FC_AVX2_OP(storeu)(ci, acc[i][0]);
      FC_AVX2_OP(storeu)(ci + LANES, acc[i][1]);
    }
  } else if (m == 6 && !(flags & FC_GEMM_ACCUMULATE)) { /* all rows, some columns */
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      T *ci = c + i * ldc;
      if (n >= LANES) {
        FC_AVX2_OP(storeu)(ci, acc[i][0]);
        FC_AVX2_CAT(fc_avx2_store_first_, SFX)(ci + LANES, acc[i][1], (int64_t)(n - LANES));
      } else {
        FC_AVX2_CAT(fc_avx2_store_first_, SFX)(ci, acc[i][0], (int64_t)n);
      }
    }
  } else {
    T tile[6 * 2 * LANES];
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      FC_AVX2_OP(storeu)(tile + i * 2 * LANES, acc[i][0]);
      FC_AVX2_OP(storeu)(tile + i * 2 * LANES + LANES, acc[i][1]);
    }
    fc_tile_finish(tile, 2 * LANES, c, ldc, m, n, flags);
  }
}

#undef FC_AVX2_CAT2
#undef FC_AVX2_CAT
#undef FC_AVX2_OP

#endif
