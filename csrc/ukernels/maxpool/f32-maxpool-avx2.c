/* f32 max-pool microkernel for one output row of one NCHW plane, AVX2,
 * 8 outputs per pass: each window element is a masked gather (lanes whose
 * column falls in the padding or past the row read nothing), then
 * take = v > best or v is NaN, as PyTorch; best and its flat index h*w + w
 * follow take. Caller promises: plane holds h*w values, the window's rows
 * clipped to [0, h) are non-empty, every column position (padding included)
 * and h*w fit in int32, y/idx have ow slots. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

void fc_f32_maxpool_row_ukernel__avx2(const fc_pool2d_params *p, const float *plane, int64_t oy,
                                      float *y, int64_t *idx) {
  const int64_t h0 = oy * p->stride_h - p->pad_top;
  const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + p->kernel_h < p->h ? h0 + p->kernel_h : p->h;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  /* what masked-off lanes of a gather hold: a constant, so that each gather
   * waits for its addresses only, not for the previous element's max */
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  const __m256i w = _mm256_set1_epi32((int)p->w), minus1 = _mm256_set1_epi32(-1);
  for (int64_t ox0 = 0; ox0 < p->ow; ox0 += 8) {
    const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(p->ow - ox0)), lane);
    const __m256i wc0 = _mm256_sub_epi32(
        _mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32((int)ox0), lane),
                           _mm256_set1_epi32((int)p->stride_w)),
        _mm256_set1_epi32((int)p->pad_left));
    const __m256i ws = _mm256_max_epi32(wc0, _mm256_setzero_si256());
    __m256 best = _mm256_set1_ps(-__builtin_inff());
    __m256i at = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_set1_epi32((int)hs), w), ws);
    /* only window columns that some lane sees inside the row */
    const int64_t n = p->ow - ox0 < 8 ? p->ow - ox0 : 8;
    const int64_t first = ox0 * p->stride_w - p->pad_left, last = first + (n - 1) * p->stride_w;
    const int64_t kx0 = last < 0 ? -last : 0;
    const int64_t kx1 = p->w - first < p->kernel_w ? p->w - first : p->kernel_w;
    for (int64_t ih = hs; ih < he; ih++) {
      const float *row = plane + ih * p->w;
      const __m256i rowpos = _mm256_set1_epi32((int)(ih * p->w));
      for (int64_t kx = kx0; kx < kx1; kx++) {
        const __m256i col = _mm256_add_epi32(wc0, _mm256_set1_epi32((int)kx));
        const __m256i ok = _mm256_and_si256(
            live, _mm256_and_si256(_mm256_cmpgt_epi32(col, minus1), _mm256_cmpgt_epi32(w, col)));
        const __m256 v = _mm256_mask_i32gather_ps(ninf, row, col, _mm256_castsi256_ps(ok), 4);
        const __m256 take = _mm256_and_ps(
            _mm256_castsi256_ps(ok),
            _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
        best = _mm256_blendv_ps(best, v, take);
        at = _mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(at), _mm256_castsi256_ps(_mm256_add_epi32(rowpos, col)), take));
      }
    }
    float bv[8];
    int32_t av[8];
    _mm256_storeu_ps(bv, best);
    _mm256_storeu_si256((__m256i *)av, at);
    for (int64_t j = 0; j < n; j++) {
      y[ox0 + j] = bv[j];
      if (idx) idx[ox0 + j] = av[j];
    }
  }
}
