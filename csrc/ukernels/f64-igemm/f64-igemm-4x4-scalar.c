/* f64 indirect-GEMM microkernel, 4x4 tile, portable C (the fallback on every CPU).
 * C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*4 + j]
 * for i < m <= 4, j < n <= 4, where A(t, i) = a[t*4 + i] + a_offset, or `zero`
 * itself where the pointer is `zero` (padding, rows i >= m): one pointer
 * table serves every image of a batch, in NHWC (a_stride 1) or NCHW (h*w);
 * b is packed, zero past
 * column n. No alignment assumed. */
#include <assert.h>
#include "../gemm-common.h"

#define MR 4
#define NR 4

void fc_f64_igemm_ukernel_4x4__scalar(size_t ks, size_t kc, const double *const *restrict a,
    size_t a_offset, size_t a_stride, const double *zero,
                                      const double *restrict b, double *restrict c, size_t ldc,
                                      size_t m, size_t n, const double *restrict bias,
                                      unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  double acc[MR][NR];
  for (size_t i = 0; i < MR; i++)
    for (size_t j = 0; j < NR; j++)
      acc[i][j] = (flags & FC_GEMM_BIAS_COL) && j < n ? bias[j] : 0.0;
  for (size_t t = 0; t < ks; t++, a += MR) {
    for (size_t p = 0; p < kc; p++, b += NR)
      for (size_t i = 0; i < MR; i++) {
        const double ai = a[i] == zero ? 0 : a[i][a_offset + p * a_stride];
        for (size_t j = 0; j < NR; j++) acc[i][j] += ai * b[j];
      }
  }
  fc_f64_tile_finish(&acc[0][0], NR, c, ldc, m, n, flags);
}
