/* f32 indirect-GEMM microkernel, 12x32 tile, AVX-512F (convolution without im2col).
 * C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*32 + j]
 * for i < m <= 12, j < n <= 32, where A(t, i) = a[t*12 + i] + a_offset, or `zero`
 * itself where the pointer is `zero` (padding, rows i >= m): one pointer
 * table serves every image of a batch, in NHWC (a_stride 1) or NCHW (h*w);
 * b is packed, zero past column n. 24 zmm accumulators; per step two
 * loads of B, twelve broadcasts and twenty-four FMAs: for short row counts
 * such as a 3x3 single-channel kernel gradient's nine (tap, channel) rows. No alignment assumed. */
#include <assert.h>
#include <immintrin.h>
#include "../gemm-avx512.h"

#define MR 12
#define NR 32

void fc_f32_igemm_ukernel_12x32__avx512(size_t ks, size_t kc, const float *const *restrict a,
    size_t a_offset, size_t a_stride, const float *zero,
                                       const float *restrict b, float *restrict c, size_t ldc,
                                       size_t m, size_t n, const float *restrict bias,
                                       unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  const __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
  const __mmask16 k1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1u) : 0;
  __m512 acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    const __m512 b0 = _mm512_maskz_loadu_ps(k0, bias), b1 = _mm512_maskz_loadu_ps(k1, bias + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  }
  for (size_t t = 0; t < ks; t++, a += MR) {
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    const float *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    const float *a8 = a[8], *a9 = a[9], *a10 = a[10], *a11 = a[11];
    a0 = a0 == zero ? zero : a0 + a_offset;
    a1 = a1 == zero ? zero : a1 + a_offset;
    a2 = a2 == zero ? zero : a2 + a_offset;
    a3 = a3 == zero ? zero : a3 + a_offset;
    a4 = a4 == zero ? zero : a4 + a_offset;
    a5 = a5 == zero ? zero : a5 + a_offset;
    a6 = a6 == zero ? zero : a6 + a_offset;
    a7 = a7 == zero ? zero : a7 + a_offset;
    a8 = a8 == zero ? zero : a8 + a_offset;
    a9 = a9 == zero ? zero : a9 + a_offset;
    a10 = a10 == zero ? zero : a10 + a_offset;
    a11 = a11 == zero ? zero : a11 + a_offset;
    for (size_t p = 0, off = 0; p < kc; p++, off += a_stride) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      b += NR;
      __m512 ai;
#define FC_ROW(i)                                           \
  ai = _mm512_set1_ps(a##i[off]);                             \
  acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);           \
  acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
      FC_ROW(0) FC_ROW(1) FC_ROW(2) FC_ROW(3) FC_ROW(4) FC_ROW(5) FC_ROW(6) FC_ROW(7)
      FC_ROW(8) FC_ROW(9) FC_ROW(10) FC_ROW(11)
#undef FC_ROW
    }
  }
  fc_f32_avx512_store_12x2(acc, c, ldc, m, k0, k1, flags);
}
