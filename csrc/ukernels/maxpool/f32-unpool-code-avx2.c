/* f32 unpool microkernel for window codes, AVX2: for each window place
 * q < places and lane j < nr, dst[q][j] = g[j] where j < n and code[j] == q,
 * else 0; 8 lanes per pass, the codes widened to 32-bit once per pass (the
 * tail through a zeroed copy, never read past n) and each place's store an
 * and with the equality mask (its first lanes on a last pass short of 8:
 * avx2-store.h).
 * Caller promises: n <= nr, dst[q] holds nr values. */
#include <immintrin.h>
#include <string.h>
#include "../avx2-store.h"
#include "fastconv/ukernel.h"

void fc_f32_unpool_code_ukernel__avx2(size_t n, size_t nr, size_t places, const float *g,
                                      const uint8_t *code, float *const *dst) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (size_t j = 0; j < nr; j += 8) {
    const size_t live = j >= n ? 0 : n - j >= 8 ? 8 : n - j;
    const __m256i on = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)live), lane);
    const __m256 v = _mm256_maskload_ps(g + j, on);
    uint8_t tail[8] = {0};
    const uint8_t *cj = code + j;
    if (live < 8) {
      memcpy(tail, cj, live);
      cj = tail;
    }
    int64_t c8;
    memcpy(&c8, cj, 8);
    const __m256i c = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(c8));
    for (size_t q = 0; q < places; q++) {
      const __m256i take = _mm256_and_si256(on, _mm256_cmpeq_epi32(c, _mm256_set1_epi32((int)q)));
      fc_avx2_store_n_ps(dst[q] + j, _mm256_and_ps(_mm256_castsi256_ps(take), v), (int64_t)(nr - j));
    }
  }
}
