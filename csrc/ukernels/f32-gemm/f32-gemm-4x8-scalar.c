/* f32 GEMM microkernel, 4x8 tile, portable C (the fallback on every CPU).
 * C[i, j] (+)= sum_p a[p*4 + i] * b[p*8 + j] for i < m <= 4, j < n <= 8;
 * packed panels as described in ukernel.h; the accumulators are a local
 * array the compiler keeps in registers. No alignment assumed. */
#include <assert.h>
#include "../gemm-common.h"

#define MR 4
#define NR 8

void fc_f32_gemm_ukernel_4x8__scalar(size_t kc, const float *restrict a, const float *restrict b,
                                     float *restrict c, size_t ldc, size_t m, size_t n,
                                     const float *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  float acc[MR][NR];
  for (size_t i = 0; i < MR; i++)
    for (size_t j = 0; j < NR; j++) {
      float v = 0.0f;
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
  fc_f32_tile_finish(&acc[0][0], NR, c, ldc, m, n, flags);
}
