/* f32 unpool microkernel for window codes, AVX-512F: for each window place
 * q < places and lane j < nr, dst[q][j] = g[j] where j < n and code[j] == q,
 * else 0; 16 lanes per pass, the codes widened to 32-bit once per pass and
 * each place's store a zero-masked move (masked to nr on the last pass).
 * Caller promises: n <= nr, dst[q] holds nr values. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_unpool_code_ukernel__avx512(size_t n, size_t nr, size_t places, const float *g,
                                        const uint8_t *code, float *const *dst) {
  for (size_t j = 0; j < nr; j += 16) {
    const size_t live = j >= n ? 0 : n - j >= 16 ? 16 : n - j;
    const __mmask16 k = (__mmask16)((1u << live) - 1u);
    const __mmask16 out = nr - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nr - j)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(k, g + j);
    const __m512i c = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, code + j));
    for (size_t q = 0; q < places; q++) {
      const __mmask16 take = k & _mm512_cmpeq_epi32_mask(c, _mm512_set1_epi32((int)q));
      _mm512_mask_storeu_ps(dst[q] + j, out, _mm512_maskz_mov_ps(take, v));
    }
  }
}
