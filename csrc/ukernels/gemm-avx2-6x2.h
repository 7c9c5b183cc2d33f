/* Template of the AVX2 + FMA GEMM microkernels whose tile is 6 rows by two
 * vectors (f32 6x16, f64 6x8; see ukernel.h for the contract):
 *   C[i, j] (+)= sum_p a[p*6 + i] * b[p*NR + j] for i < m <= 6, j < n <= NR = 2 * LANES.
 * 12 ymm accumulators (6 rows x 2 vectors); per k step two loads of B, six
 * broadcasts of A and twelve FMAs (a tile of at most two or four live rows
 * runs two or four). Full tiles are stored straight to C, edge tiles through
 * a spilled register tile (gemm-avx2.h). No alignment assumed.
 *
 * The including file defines FC_GEMM_NAME, T (float, double), V (__m256,
 * __m256d), LANES (8, 4), SFX (ps, pd), and SSFX (ss, sd: the scalar
 * broadcast's), and includes this once. */
#include <assert.h>
#include <immintrin.h>
#include "gemm-avx2.h"

#define MR 6
#define NR (2 * LANES)

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm256_##op##_, SFX)
#define FC_GEMM_BROADCAST FC_CAT(_mm256_broadcast_, SSFX)

void FC_GEMM_NAME(size_t kc, const T *restrict a, const T *restrict b, T *restrict c, size_t ldc,
                  size_t m, size_t n, const T *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  V acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    T buf[NR];
    fc_bias_tail(bias, NR, n, buf);
    const V b0 = FC_VOP(loadu)(buf), b1 = FC_VOP(loadu)(buf + LANES);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const T v = (flags & FC_GEMM_BIAS_ROW) && (size_t)i < m ? bias[i] : (T)0;
      acc[i][0] = acc[i][1] = FC_VOP(set1)(v);
    }
  }
  FC_LIVE_ROWS(m, FC_GEMM_X2_STEPS)
  fc_avx2_store_6x2(acc, c, ldc, m, n, flags);
}

#undef MR
#undef NR
#undef FC_CAT2
#undef FC_CAT
#undef FC_VOP
#undef FC_GEMM_BROADCAST
