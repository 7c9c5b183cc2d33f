/* The store of a GEMM/IGEMM microkernel's 8 (or 12) x 2-vector AVX-512 register
 * tile, shared by the f32 8x32 and 12x32 and f64 8x16 kernels: rows past m are skipped,
 * columns past n masked by k0/k1, C added under FC_GEMM_ACCUMULATE. Include
 * only from files compiled with AVX-512 flags; always inlined, so the
 * accumulators stay in registers. */
#ifndef FASTCONV_GEMM_AVX512_H
#define FASTCONV_GEMM_AVX512_H

#include <immintrin.h>
#include "gemm-common.h"

#define FC_DEFINE_AVX512_TILE_STORE(dtype, ctype, vec, mask, sfx, lanes, rows)                   \
  static inline __attribute__((always_inline)) void fc_##dtype##_avx512_store_##rows##x2(        \
      vec acc[rows][2], ctype *c, size_t ldc, size_t m, mask k0, mask k1, unsigned flags) {      \
    _Pragma("GCC unroll 12") for (size_t i = 0; i < (rows); i++) {                               \
      if (i >= m) break;                                                                         \
      ctype *ci = c + i * ldc;                                                                   \
      if (flags & FC_GEMM_ACCUMULATE) {                                                          \
        acc[i][0] = _mm512_add_##sfx(acc[i][0], _mm512_maskz_loadu_##sfx(k0, ci));               \
        acc[i][1] = _mm512_add_##sfx(acc[i][1], _mm512_maskz_loadu_##sfx(k1, ci + (lanes)));     \
      }                                                                                          \
      _mm512_mask_storeu_##sfx(ci, k0, acc[i][0]);                                               \
      _mm512_mask_storeu_##sfx(ci + (lanes), k1, acc[i][1]);                                     \
    }                                                                                            \
  }

FC_DEFINE_AVX512_TILE_STORE(f32, float, __m512, __mmask16, ps, 16, 8)
FC_DEFINE_AVX512_TILE_STORE(f32, float, __m512, __mmask16, ps, 16, 12)
FC_DEFINE_AVX512_TILE_STORE(f64, double, __m512d, __mmask8, pd, 8, 8)

#endif
