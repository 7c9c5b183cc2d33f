/* f64 GEMM microkernel, 6x8 tile, AVX2 + FMA.
 * C[i, j] (+)= sum_p a[p*6 + i] * b[p*8 + j] for i < m <= 6, j < n <= 8.
 * 12 ymm accumulators (6 rows x 2 vectors); per k step two loads of B, six
 * broadcasts of A and twelve FMAs. Full tiles are stored straight to C,
 * edge tiles through a spilled register tile. No alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "../gemm-avx2.h"

#define MR 6
#define NR 8

void fc_f64_gemm_ukernel_6x8__avx2(size_t kc, const double *restrict a, const double *restrict b,
                                    double *restrict c, size_t ldc, size_t m, size_t n,
                                    const double *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  __m256d acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    double buf[NR];
    fc_f64_bias_tail(bias, NR, n, buf);
    const __m256d b0 = _mm256_loadu_pd(buf), b1 = _mm256_loadu_pd(buf + 4);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const double v = (flags & FC_GEMM_BIAS_ROW) && (size_t)i < m ? bias[i] : 0.0;
      acc[i][0] = acc[i][1] = _mm256_set1_pd(v);
    }
  }
  for (size_t p = 0; p < kc; p++) {
    const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const __m256d ai = _mm256_broadcast_sd(a + i);
      acc[i][0] = _mm256_fmadd_pd(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_pd(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  fc_f64_avx2_store_6x2(acc, c, ldc, m, n, flags);
}
