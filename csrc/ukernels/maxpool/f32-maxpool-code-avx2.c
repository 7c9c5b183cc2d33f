/* f32 max-pool microkernel with window codes, AVX2: one output row of one
 * NHWC image whose windows lie inside it, 8 channels per pass. take = v >
 * best or v is NaN (the index-tracking kernels' rule); best and the 32-bit
 * window code dy * kernel_w + dx follow take by blends; the channel tail is
 * read masked and its live lanes stored as avx2-store.h does. Caller promises: kernel_h * kernel_w <= 256, image holds h*w*c
 * values, y/code (code may be NULL) have ow*c slots. */
#include <immintrin.h>
#include "../avx2-store.h"
#include "fastconv/ukernel.h"

void fc_f32_maxpool_code_ukernel__avx2(const fc_pool2d_params *p, const float *image, int64_t oy,
                                       float *y, uint8_t *code) {
  const int64_t C = p->c, W = p->w, kh = p->kernel_h, kw = p->kernel_w;
  const float *row = image + oy * p->stride_h * W * C;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const float *win = row + ox * p->stride_w * C;
    for (int64_t c0 = 0; c0 < C; c0 += 8) {
      const int64_t n = C - c0 < 8 ? C - c0 : 8;
      const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
      __m256 best = _mm256_set1_ps(-__builtin_inff());
      __m256 at = _mm256_setzero_ps(); /* the codes, as 32-bit integers */
      for (int64_t dy = 0; dy < kh; dy++)
        for (int64_t dx = 0; dx < kw; dx++) {
          const __m256 v = _mm256_maskload_ps(win + (dy * W + dx) * C + c0, live);
          const __m256 take = _mm256_and_ps(
              _mm256_castsi256_ps(live),
              _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
          best = _mm256_blendv_ps(best, v, take);
          at = _mm256_blendv_ps(at, _mm256_castsi256_ps(_mm256_set1_epi32((int)(dy * kw + dx))), take);
        }
      fc_avx2_store_n_ps(y + ox * C + c0, best, n);
      if (code) {
        int32_t buf[8];
        _mm256_storeu_si256((__m256i *)buf, _mm256_castps_si256(at));
        for (int64_t j = 0; j < n; j++) code[ox * C + c0 + j] = (uint8_t)buf[j];
      }
    }
  }
}
