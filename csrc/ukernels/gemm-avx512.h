/* The store of a GEMM/IGEMM microkernel's MR x 2-vector AVX-512 register tile,
 * shared by the f32 8x32 and 12x32 and f64 8x16 kernels: rows past m are
 * skipped, columns past n masked by k0/k1, C added under FC_GEMM_ACCUMULATE.
 * Include only from files compiled with AVX-512 flags; always inlined, so the
 * accumulators stay in registers.
 *
 * Part of a microkernel's template: the including kernel file has defined MR
 * (8, 12), T (float, double), V (__m512, __m512d), K (__mmask16, __mmask8),
 * LANES (16, 8) and SFX (ps, pd). */
#ifndef FASTCONV_GEMM_AVX512_H
#define FASTCONV_GEMM_AVX512_H

#include <immintrin.h>
#include "gemm-common.h"

#define FC_AVX512_CAT2(a, b) a##b
#define FC_AVX512_CAT(a, b) FC_AVX512_CAT2(a, b)
#define FC_AVX512_OP(op) FC_AVX512_CAT(_mm512_##op##_, SFX)

static inline __attribute__((always_inline)) void fc_avx512_store_x2(V acc[MR][2], T *c,
                                                                     size_t ldc, size_t m, K k0,
                                                                     K k1, unsigned flags) {
#pragma GCC unroll 12
  for (size_t i = 0; i < MR; i++) {
    if (i >= m) break;
    T *ci = c + i * ldc;
    if (flags & FC_GEMM_ACCUMULATE) {
      acc[i][0] = FC_AVX512_OP(add)(acc[i][0], FC_AVX512_OP(maskz_loadu)(k0, ci));
      acc[i][1] = FC_AVX512_OP(add)(acc[i][1], FC_AVX512_OP(maskz_loadu)(k1, ci + LANES));
    }
    FC_AVX512_OP(mask_storeu)(ci, k0, acc[i][0]);
    FC_AVX512_OP(mask_storeu)(ci + LANES, k1, acc[i][1]);
  }
}

#undef FC_AVX512_CAT2
#undef FC_AVX512_CAT
#undef FC_AVX512_OP

#endif
