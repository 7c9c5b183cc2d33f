/* f32 max-pool microkernel with window codes, AVX-512F: one output row of one
 * NHWC image whose windows lie inside it, 16 channels per pass. take = v >
 * best or v is NaN (the index-tracking kernels' rule); best and the 32-bit
 * window code dy * kernel_w + dx follow take under the same mask, and the
 * codes are narrowed to bytes on the (masked) store. Caller promises:
 * kernel_h * kernel_w <= 256, image holds h*w*c values, y/code (code may be
 * NULL) have ow*c slots. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_maxpool_code_ukernel__avx512(const fc_pool2d_params *p, const float *image, int64_t oy,
                                         float *y, uint8_t *code) {
  const int64_t C = p->c, W = p->w, kh = p->kernel_h, kw = p->kernel_w;
  const float *row = image + oy * p->stride_h * W * C;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const float *win = row + ox * p->stride_w * C;
    for (int64_t c0 = 0; c0 < C; c0 += 16) {
      const __mmask16 k = C - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1u);
      __m512 best = _mm512_set1_ps(-__builtin_inff());
      __m512i at = _mm512_setzero_si512();
      for (int64_t dy = 0; dy < kh; dy++)
        for (int64_t dx = 0; dx < kw; dx++) {
          const __m512 v = _mm512_maskz_loadu_ps(k, win + (dy * W + dx) * C + c0);
          const __mmask16 take = k & (_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                      _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
          best = _mm512_mask_mov_ps(best, take, v);
          at = _mm512_mask_mov_epi32(at, take, _mm512_set1_epi32((int)(dy * kw + dx)));
        }
      _mm512_mask_storeu_ps(y + ox * C + c0, k, best);
      if (code) _mm512_mask_cvtepi32_storeu_epi8(code + ox * C + c0, k, at);
    }
  }
}
