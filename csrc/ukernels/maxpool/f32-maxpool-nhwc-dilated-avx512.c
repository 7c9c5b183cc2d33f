/* f32 max-pool microkernel for one output row of one NHWC image with dilated
 * windows, AVX-512F, 16 channels per pass: window (oy, ox) reads the pixels
 * at rows oy*stride_h - pad_top + i*dil_h and columns
 * ox*stride_w - pad_left + j*dil_w that lie in the image, in row-major window
 * order; take = v > best or v is NaN (PyTorch's rule), best and the int64
 * position h*w + w follow take under the same mask; masked channel tail.
 * Caller promises: image holds h*w*c values, every window holds a pixel of
 * the image, y/idx (idx may be NULL) have ow*c slots. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_maxpool_nhwc_dilated_ukernel__avx512(const fc_pool2d_params *p, const float *image,
                                                 int64_t oy, float *y, int64_t *idx) {
  const int64_t C = p->c, dh = p->dil_h, dw = p->dil_w;
  const int64_t h0 = oy * p->stride_h - p->pad_top, h1 = h0 + (p->kernel_h - 1) * dh + 1;
  const int64_t hs = h0 < 0 ? h0 + ((-h0 - 1) / dh + 1) * dh : h0, he = h1 < p->h ? h1 : p->h;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w - p->pad_left, w1 = w0 + (p->kernel_w - 1) * dw + 1;
    const int64_t ws = w0 < 0 ? w0 + ((-w0 - 1) / dw + 1) * dw : w0, we = w1 < p->w ? w1 : p->w;
    for (int64_t c0 = 0; c0 < C; c0 += 16) {
      const __mmask16 k = C - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1u);
      __m512 best = _mm512_set1_ps(-__builtin_inff());
      __m512i at0 = _mm512_set1_epi64(hs * p->w + ws), at1 = at0;
      for (int64_t ih = hs; ih < he; ih += dh)
        for (int64_t iw = ws; iw < we; iw += dw) {
          const __m512 v = _mm512_maskz_loadu_ps(k, image + (ih * p->w + iw) * C + c0);
          const __mmask16 take = k & (_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                      _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
          best = _mm512_mask_mov_ps(best, take, v);
          const __m512i pos = _mm512_set1_epi64(ih * p->w + iw);
          at0 = _mm512_mask_mov_epi64(at0, (__mmask8)take, pos);
          at1 = _mm512_mask_mov_epi64(at1, (__mmask8)(take >> 8), pos);
        }
      _mm512_mask_storeu_ps(y + ox * C + c0, k, best);
      if (idx) {
        _mm512_mask_storeu_epi64(idx + ox * C + c0, (__mmask8)k, at0);
        _mm512_mask_storeu_epi64(idx + ox * C + c0 + 8, (__mmask8)(k >> 8), at1);
      }
    }
  }
}
