/* f32 indirect-GEMM microkernel, 6x16 tile, AVX2 + FMA (convolution without im2col).
 * C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*16 + j]
 * for i < m <= 6, j < n <= 16, where A(t, i) = a[t*6 + i] + a_offset, or `zero`
 * itself where the pointer is `zero` (padding, rows i >= m): one pointer
 * table serves every image of a batch, in NHWC (a_stride 1) or NCHW (h*w);
 * b is packed, zero past
 * column n. 12 ymm accumulators. Edge tiles go through a spilled register tile. */
#include <assert.h>
#include <immintrin.h>
#include "../gemm-avx2.h"

#define MR 6
#define NR 16

void fc_f32_igemm_ukernel_6x16__avx2(size_t ks, size_t kc, const float *const *restrict a,
    size_t a_offset, size_t a_stride, const float *zero,
                                     const float *restrict b, float *restrict c, size_t ldc,
                                     size_t m, size_t n, const float *restrict bias,
                                     unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  __m256 acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    float buf[NR];
    fc_f32_bias_tail(bias, NR, n, buf);
    const __m256 b0 = _mm256_loadu_ps(buf), b1 = _mm256_loadu_ps(buf + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  }
  for (size_t t = 0; t < ks; t++, a += MR) {
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
    a0 = a0 == zero ? zero : a0 + a_offset;
    a1 = a1 == zero ? zero : a1 + a_offset;
    a2 = a2 == zero ? zero : a2 + a_offset;
    a3 = a3 == zero ? zero : a3 + a_offset;
    a4 = a4 == zero ? zero : a4 + a_offset;
    a5 = a5 == zero ? zero : a5 + a_offset;
    for (size_t p = 0, off = 0; p < kc; p++, off += a_stride) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      b += NR;
      __m256 ai;
#define FC_ROW(i)                                   \
  ai = _mm256_broadcast_ss(a##i + off);               \
  acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);   \
  acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
      FC_ROW(0) FC_ROW(1) FC_ROW(2) FC_ROW(3) FC_ROW(4) FC_ROW(5)
#undef FC_ROW
    }
  }
  fc_f32_avx2_store_6x2(acc, c, ldc, m, n, flags);
}
