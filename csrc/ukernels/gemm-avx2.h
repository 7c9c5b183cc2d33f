/* The store of a GEMM/IGEMM microkernel's 6 x 2-vector AVX2 register tile,
 * shared by the f32 6x16 and f64 6x8 kernels: a full tile goes straight to C
 * (added to it under FC_GEMM_ACCUMULATE), an edge tile through a spilled copy
 * and fc_*_tile_finish. Include only from files compiled with AVX2 flags;
 * always inlined, so the accumulators stay in registers. */
#ifndef FASTCONV_GEMM_AVX2_H
#define FASTCONV_GEMM_AVX2_H

#include <immintrin.h>
#include "gemm-common.h"

#define FC_DEFINE_AVX2_TILE_STORE(dtype, ctype, vec, sfx, lanes)                                 \
  static inline __attribute__((always_inline)) void fc_##dtype##_avx2_store_6x2(                 \
      vec acc[6][2], ctype *c, size_t ldc, size_t m, size_t n, unsigned flags) {                 \
    if (m == 6 && n == 2 * (lanes)) {                                                            \
      _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) {                                      \
        ctype *ci = c + i * ldc;                                                                 \
        if (flags & FC_GEMM_ACCUMULATE) {                                                        \
          acc[i][0] = _mm256_add_##sfx(acc[i][0], _mm256_loadu_##sfx(ci));                      \
          acc[i][1] = _mm256_add_##sfx(acc[i][1], _mm256_loadu_##sfx(ci + (lanes)));             \
        }                                                                                        \
        _mm256_storeu_##sfx(ci, acc[i][0]);                                                      \
        _mm256_storeu_##sfx(ci + (lanes), acc[i][1]);                                            \
      }                                                                                          \
    } else {                                                                                     \
      ctype tile[6 * 2 * (lanes)];                                                               \
      _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) {                                      \
        _mm256_storeu_##sfx(tile + i * 2 * (lanes), acc[i][0]);                                  \
        _mm256_storeu_##sfx(tile + i * 2 * (lanes) + (lanes), acc[i][1]);                        \
      }                                                                                          \
      fc_##dtype##_tile_finish(tile, 2 * (lanes), c, ldc, m, n, flags);                          \
    }                                                                                            \
  }

FC_DEFINE_AVX2_TILE_STORE(f32, float, __m256, ps, 8)
FC_DEFINE_AVX2_TILE_STORE(f64, double, __m256d, pd, 4)

#endif
