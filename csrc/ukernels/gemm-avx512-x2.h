/* Template of the AVX-512 GEMM microkernels whose tile is MR rows by two
 * vectors (f32 8x32, f64 8x16; see ukernel.h for the contract):
 *   C[i, j] (+)= sum_p a[p*MR + i] * b[p*NR + j] for i < m <= MR, j < n <= NR = 2 * LANES.
 * 2*MR zmm accumulators (MR rows x 2 vectors); per k step two loads of B, MR
 * broadcasts of A and 2*MR FMAs (a tile of at most a third or two thirds of
 * MR live rows runs that many). Edge columns use store masks, edge rows are
 * skipped, so every tile is stored straight to C (gemm-avx512.h). No
 * alignment assumed.
 *
 * The including file defines FC_GEMM_NAME, MR, T (float, double), V (__m512,
 * __m512d), K (__mmask16, __mmask8), LANES (16, 8) and SFX (ps, pd), and includes
 * this once. */
#include <assert.h>
#include <immintrin.h>
#include "gemm-avx512.h"

#define NR (2 * LANES)

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm512_##op##_, SFX)
#define FC_GEMM_BROADCAST(p) FC_VOP(set1)(*(p))
#define FC_FULL ((1u << LANES) - 1u)

void FC_GEMM_NAME(size_t kc, const T *restrict a, const T *restrict b, T *restrict c, size_t ldc,
                  size_t m, size_t n, const T *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  const K k0 = n >= LANES ? (K)FC_FULL : (K)((1u << n) - 1u);
  const K k1 = n >= NR ? (K)FC_FULL : n > LANES ? (K)((1u << (n - LANES)) - 1u) : 0;
  V acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    const V b0 = FC_VOP(maskz_loadu)(k0, bias), b1 = FC_VOP(maskz_loadu)(k1, bias + LANES);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      const T v = (flags & FC_GEMM_BIAS_ROW) && (size_t)i < m ? bias[i] : (T)0;
      acc[i][0] = acc[i][1] = FC_VOP(set1)(v);
    }
  }
  FC_LIVE_ROWS(m, FC_GEMM_X2_STEPS)
  fc_avx512_store_x2(acc, c, ldc, m, k0, k1, flags);
}

#undef NR
#undef FC_CAT2
#undef FC_CAT
#undef FC_VOP
#undef FC_GEMM_BROADCAST
#undef FC_FULL
