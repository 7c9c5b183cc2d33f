/* f64 indirect-GEMM microkernel, 8x16 tile, AVX-512F (convolution without im2col).
 * C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*16 + j]
 * for i < m <= 8, j < n <= 16, where A(t, i) = a[t*8 + i] + a_offset, or `zero`
 * itself where the pointer is `zero` (padding, rows i >= m): one pointer
 * table serves every image of a batch, in NHWC (a_stride 1) or NCHW (h*w);
 * b is packed, zero past column n. 16 zmm accumulators; per step two
 * loads of B, eight broadcasts and sixteen FMAs. No alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "../gemm-avx512.h"

#define MR 8
#define NR 16

void fc_f64_igemm_ukernel_8x16__avx512(size_t ks, size_t kc, const double *const *restrict a,
    size_t a_offset, size_t a_stride, const double *zero,
                                       const double *restrict b, double *restrict c, size_t ldc,
                                       size_t m, size_t n, const double *restrict bias,
                                       unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  const __mmask8 k0 = n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1u);
  const __mmask8 k1 = n >= 16 ? (__mmask8)0xFF : n > 8 ? (__mmask8)((1u << (n - 8)) - 1u) : 0;
  __m512d acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    const __m512d b0 = _mm512_maskz_loadu_pd(k0, bias), b1 = _mm512_maskz_loadu_pd(k1, bias + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_pd();
  }
  for (size_t t = 0; t < ks; t++, a += MR) {
    const double *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    const double *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    a0 = a0 == zero ? zero : a0 + a_offset;
    a1 = a1 == zero ? zero : a1 + a_offset;
    a2 = a2 == zero ? zero : a2 + a_offset;
    a3 = a3 == zero ? zero : a3 + a_offset;
    a4 = a4 == zero ? zero : a4 + a_offset;
    a5 = a5 == zero ? zero : a5 + a_offset;
    a6 = a6 == zero ? zero : a6 + a_offset;
    a7 = a7 == zero ? zero : a7 + a_offset;
    for (size_t p = 0, off = 0; p < kc; p++, off += a_stride) {
      const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
      b += NR;
      __m512d ai;
#define FC_ROW(i)                                           \
  ai = _mm512_set1_pd(a##i[off]);                             \
  acc[i][0] = _mm512_fmadd_pd(ai, b0, acc[i][0]);           \
  acc[i][1] = _mm512_fmadd_pd(ai, b1, acc[i][1]);
      FC_ROW(0) FC_ROW(1) FC_ROW(2) FC_ROW(3) FC_ROW(4) FC_ROW(5) FC_ROW(6) FC_ROW(7)
#undef FC_ROW
    }
  }
  fc_f64_avx512_store_8x2(acc, c, ldc, m, k0, k1, flags);
}
