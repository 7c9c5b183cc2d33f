/* f32 GEMM microkernel, 8x32 tile, AVX-512F.
 * C[i, j] (+)= sum_p a[p*8 + i] * b[p*32 + j] for i < m <= 8, j < n <= 32.
 * 16 zmm accumulators (8 rows x 2 vectors); per k step two loads of B, eight
 * broadcasts of A and sixteen FMAs. Edge columns use store masks, edge rows
 * are skipped, so every tile is stored straight to C. No alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "../gemm-avx512.h"

#define MR 8
#define NR 32

void fc_f32_gemm_ukernel_8x32__avx512(size_t kc, const float *restrict a, const float *restrict b,
                                      float *restrict c, size_t ldc, size_t m, size_t n,
                                      const float *restrict bias, unsigned flags) {
  assert(kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  const __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
  const __mmask16 k1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1u) : 0;
  __m512 acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    const __m512 b0 = _mm512_maskz_loadu_ps(k0, bias), b1 = _mm512_maskz_loadu_ps(k1, bias + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const float v = (flags & FC_GEMM_BIAS_ROW) && (size_t)i < m ? bias[i] : 0.0f;
      acc[i][0] = acc[i][1] = _mm512_set1_ps(v);
    }
  }
  for (size_t p = 0; p < kc; p++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  fc_f32_avx512_store_8x2(acc, c, ldc, m, k0, k1, flags);
}
