/* Template of the portable-C GEMM microkernels (f32 4x8, f64 4x4; the fallback
 * on every CPU; see ukernel.h for the contract):
 *   C[i, j] (+)= sum_p a[p*MR + i] * b[p*NR + j] for i < m <= MR, j < n <= NR
 * on packed panels as described in ukernel.h; the accumulators are a local
 * array the compiler keeps in registers. No alignment assumed.
 *
 * The including file defines FC_GEMM_NAME, MR, NR, and T (float, double), and includes
 * this once. */
#include <assert.h>
#include "gemm-common.h"

void FC_GEMM_NAME(size_t kc, const T *restrict a, const T *restrict b, T *restrict c, size_t ldc,
                  size_t m, size_t n, const T *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  T acc[MR][NR];
  for (size_t i = 0; i < MR; i++)
    for (size_t j = 0; j < NR; j++) {
      T v = (T)0;
      if ((flags & FC_GEMM_BIAS_ROW) && i < m) v = bias[i];
      if ((flags & FC_GEMM_BIAS_COL) && j < n) v = bias[j];
      acc[i][j] = v;
    }
  for (size_t p = 0; p < kc; p++) {
    for (size_t i = 0; i < MR; i++)
      for (size_t j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    a += MR;
    b += NR;
  }
  fc_tile_finish(&acc[0][0], NR, c, ldc, m, n, flags);
}

