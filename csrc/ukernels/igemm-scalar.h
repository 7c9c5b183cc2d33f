/* Template of the portable-C indirect-GEMM microkernels (f32 4x8, f64 4x4; the
 * fallback on every CPU; see ukernel.h for the contract):
 *   C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*ldb + j]
 * for i < m <= MR, j < n <= NR, where A(t, i) = a[t*MR + i] + a_offset, or
 * `zero` itself where the pointer is `zero` (padding, rows i >= m): one
 * pointer table serves every image of a batch, in NHWC (a_stride 1) or NCHW
 * (h*w); b packed (ldb = NR) or read in place, NR values a row. The accumulators are a local array
 * the compiler keeps in registers. No alignment assumed.
 *
 * The including file defines FC_IGEMM_NAME, MR, NR, and T (float, double), and includes
 * this once. */
#include <assert.h>
#include "gemm-common.h"

void FC_IGEMM_NAME(size_t ks, size_t kc, const T *const *restrict a, size_t a_offset,
                   size_t a_stride, const T *zero, const T *restrict b, size_t ldb,
                   T *restrict c, size_t ldc, size_t m, size_t n, const T *restrict bias,
                   unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  T acc[MR][NR];
  for (size_t i = 0; i < MR; i++)
    for (size_t j = 0; j < NR; j++)
      acc[i][j] = (flags & FC_GEMM_BIAS_COL) && j < n ? bias[j] : (T)0;
  for (size_t t = 0; t < ks; t++, a += MR) {
    if (flags & FC_GEMM_SKIP_ZERO_TAPS) {
      size_t live = 0;
      for (size_t i = 0; i < MR; i++) live += a[i] != zero;
      if (!live) {
        b += kc * ldb;
        continue;
      }
    }
    for (size_t p = 0; p < kc; p++, b += ldb)
      for (size_t i = 0; i < MR; i++) {
        const T ai = a[i] == zero ? 0 : a[i][a_offset + p * a_stride];
        for (size_t j = 0; j < NR; j++) acc[i][j] += ai * b[j];
      }
  }
  fc_tile_finish(&acc[0][0], NR, c, ldc, m, n, flags);
}

