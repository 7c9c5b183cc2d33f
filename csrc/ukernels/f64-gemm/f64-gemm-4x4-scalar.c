/* f64 GEMM microkernel, 4x4 tile, portable C (the fallback on every CPU).
 * C[i, j] (+)= sum_p a[p*4 + i] * b[p*4 + j] for i < m <= 4, j < n <= 4;
 * packed panels as described in ukernel.h; the accumulators are a local
 * array the compiler keeps in registers. No alignment assumed. */
#include <assert.h>
#include "../gemm-common.h"

#define MR 4
#define NR 4

void fc_f64_gemm_ukernel_4x4__scalar(size_t kc, const double *restrict a, const double *restrict b,
                                     double *restrict c, size_t ldc, size_t m, size_t n,
                                     const double *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  double acc[MR][NR];
  for (size_t i = 0; i < MR; i++)
    for (size_t j = 0; j < NR; j++) {
      double v = 0.0;
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
  fc_f64_tile_finish(&acc[0][0], NR, c, ldc, m, n, flags);
}
