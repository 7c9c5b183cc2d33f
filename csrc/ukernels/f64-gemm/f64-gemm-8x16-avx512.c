/* f64 GEMM microkernel, 8x16 tile, AVX-512F.
 * C[i, j] (+)= sum_p a[p*8 + i] * b[p*16 + j] for i < m <= 8, j < n <= 16.
 * 16 zmm accumulators (8 rows x 2 vectors); per k step two loads of B, eight
 * broadcasts of A and sixteen FMAs. Edge columns use store masks, edge rows
 * are skipped, so every tile is stored straight to C. No alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "../gemm-avx512.h"

#define MR 8
#define NR 16

void fc_f64_gemm_ukernel_8x16__avx512(size_t kc, const double *restrict a, const double *restrict b,
                                      double *restrict c, size_t ldc, size_t m, size_t n,
                                      const double *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  const __mmask8 k0 = n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1u);
  const __mmask8 k1 = n >= 16 ? (__mmask8)0xFF : n > 8 ? (__mmask8)((1u << (n - 8)) - 1u) : 0;
  __m512d acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    const __m512d b0 = _mm512_maskz_loadu_pd(k0, bias), b1 = _mm512_maskz_loadu_pd(k1, bias + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const double v = (flags & FC_GEMM_BIAS_ROW) && (size_t)i < m ? bias[i] : 0.0;
      acc[i][0] = acc[i][1] = _mm512_set1_pd(v);
    }
  }
  for (size_t p = 0; p < kc; p++) {
    const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512d ai = _mm512_set1_pd(a[i]);
      acc[i][0] = _mm512_fmadd_pd(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_pd(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  fc_f64_avx512_store_8x2(acc, c, ldc, m, k0, k1, flags);
}
