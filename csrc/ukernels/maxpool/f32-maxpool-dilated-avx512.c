/* f32 max-pool microkernel for one output row of one NCHW plane with dilated
 * windows, AVX-512F, 16 outputs per pass: window tap (i, j) of each lane is a
 * masked gather of row oy*stride_h - pad_top + i*dil_h, column
 * ox*stride_w - pad_left + j*dil_w (lanes whose column falls in the padding or
 * past the row read nothing), then take = v > best or v is NaN, as PyTorch;
 * best and its flat index h*w + w follow take. Caller promises: plane holds
 * h*w values, every window holds an element of the plane, h*w and every
 * column position (padding and dilation included) fit in int32, y/idx have
 * ow slots. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_maxpool_row_dilated_ukernel__avx512(const fc_pool2d_params *p, const float *plane,
                                                int64_t oy, float *y, int64_t *idx) {
  const int64_t dh = p->dil_h, dw = p->dil_w;
  const int64_t h0 = oy * p->stride_h - p->pad_top, h1 = h0 + (p->kernel_h - 1) * dh + 1;
  const int64_t hs = h0 < 0 ? h0 + ((-h0 - 1) / dh + 1) * dh : h0, he = h1 < p->h ? h1 : p->h;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  /* what masked-off lanes of a gather hold: a constant, so that each gather
   * waits for its addresses only, not for the previous element's max */
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  const __m512i w = _mm512_set1_epi32((int)p->w);
  for (int64_t ox0 = 0; ox0 < p->ow; ox0 += 16) {
    const int64_t left = p->ow - ox0;
    const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    /* first column of each lane's window (maybe in the padding) */
    const __m512i wc0 = _mm512_sub_epi32(
        _mm512_mullo_epi32(_mm512_add_epi32(_mm512_set1_epi32((int)ox0), lane),
                           _mm512_set1_epi32((int)p->stride_w)),
        _mm512_set1_epi32((int)p->pad_left));
    const int64_t n = left < 16 ? left : 16;
    const int64_t first = ox0 * p->stride_w - p->pad_left, last = first + (n - 1) * p->stride_w;
    /* PyTorch's index before any element wins: the window's first element in
     * the plane, whose column is the first column stepped up by dw */
    __m512i ws = wc0;
    if (first < 0) {
      int32_t start[16] = {0};
      for (int64_t j = 0; j < n; j++) {
        const int64_t c0 = first + j * p->stride_w;
        start[j] = (int32_t)(c0 < 0 ? c0 + ((-c0 - 1) / dw + 1) * dw : c0);
      }
      ws = _mm512_loadu_si512(start);
    }
    __m512 best = _mm512_set1_ps(-__builtin_inff());
    __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_set1_epi32((int)hs), w), ws);
    /* only window taps whose column some lane sees inside the row */
    const int64_t kx0 = last < 0 ? (-last - 1) / dw + 1 : 0;
    const int64_t reach = (p->w - first - 1) / dw + 1;
    const int64_t kx1 = reach < p->kernel_w ? reach : p->kernel_w;
    for (int64_t ih = hs; ih < he; ih += dh) {
      const float *row = plane + ih * p->w;
      const __m512i rowpos = _mm512_set1_epi32((int)(ih * p->w));
      for (int64_t kx = kx0; kx < kx1; kx++) {
        const __m512i col = _mm512_add_epi32(wc0, _mm512_set1_epi32((int)(kx * dw)));
        const __mmask16 ok = live & _mm512_cmpge_epi32_mask(col, _mm512_setzero_si512()) &
                             _mm512_cmplt_epi32_mask(col, w);
        const __m512 v = _mm512_mask_i32gather_ps(ninf, ok, col, row, 4);
        const __mmask16 take =
            ok & (_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
        best = _mm512_mask_mov_ps(best, take, v);
        at = _mm512_mask_mov_epi32(at, take, _mm512_add_epi32(rowpos, col));
      }
    }
    _mm512_mask_storeu_ps(y + ox0, live, best);
    if (idx) {
      _mm512_mask_storeu_epi64(idx + ox0, (__mmask8)live, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
      _mm512_mask_storeu_epi64(idx + ox0 + 8, (__mmask8)(live >> 8),
                               _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
    }
  }
}
