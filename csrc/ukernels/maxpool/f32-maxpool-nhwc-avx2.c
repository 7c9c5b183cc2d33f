/* f32 max-pool microkernel for one output row of one NHWC image, AVX2: take
 * = v > best or v is NaN (PyTorch's rule), best and the int64 position h*w +
 * w follow take by blends; a window's channel vectors go side by side (32
 * channels a pass, 16 when positions are kept: the registers), so their
 * chains of compare, or and blend overlap where one vector's ran at a time
 * ((128,26,26,28) by 2x2 with indices: 0.52x the time at 1 thread, 0.53x at
 * 2; without, 1.00x / 0.99x, AMD EPYC Zen 4); the channel tail is read by a
 * masked load and its live lanes stored without a masked store (avx2-store.h:
 * 0.877x / 0.750x the time of a masked store). Caller promises: image holds
 * h*w*c values, y/idx (idx may be NULL) have ow*c slots. */
#include <immintrin.h>
#include "../avx2-store.h"
#include "fastconv/ukernel.h"

/* The window of one output pixel for NV vectors of 8 channels (image: the
 * image's first value of the first of them; n live channels in all, the last
 * vector's live lanes in last): the NV maxima to y and, when `track`, the
 * positions taken to idx (both constants once inlined). The NV vectors'
 * chains of compare, or and blend run side by side: one vector at a time,
 * each window element waited on the one before. */
static inline __attribute__((always_inline)) void window(int NV, int track,
                                                         const fc_pool2d_params *p,
                                                         const float *image, int64_t hs,
                                                         int64_t he, int64_t ws, int64_t we,
                                                         int64_t n, __m256i last, float *y,
                                                         int64_t *idx) {
  const int64_t C = p->c;
  const __m256i all = _mm256_set1_epi32(-1);
  __m256 best[4];
  __m256i at0[4], at1[4];
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
    best[v] = _mm256_set1_ps(-__builtin_inff());
    at0[v] = at1[v] = _mm256_set1_epi64x(hs * p->w + ws);
  }
  for (int64_t ih = hs; ih < he; ih++)
    for (int64_t iw = ws; iw < we; iw++) {
      const float *src = image + (ih * p->w + iw) * C;
      const __m256i pos = _mm256_set1_epi64x(ih * p->w + iw);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        const __m256i live = v == NV - 1 ? last : all;
        const __m256 x =
            v == NV - 1 ? _mm256_maskload_ps(src + 8 * v, live) : _mm256_loadu_ps(src + 8 * v);
        const __m256 take = _mm256_and_ps(
            _mm256_castsi256_ps(live),
            _mm256_or_ps(_mm256_cmp_ps(x, best[v], _CMP_GT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
        best[v] = _mm256_blendv_ps(best[v], x, take);
        if (track) {
          const __m256i t = _mm256_castps_si256(take);
          const __m256d t0 = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(t)));
          const __m256d t1 =
              _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(t, 1)));
          const __m256d pd = _mm256_castsi256_pd(pos);
          at0[v] = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(at0[v]), pd, t0));
          at1[v] = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(at1[v]), pd, t1));
        }
      }
    }
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
    const int64_t m = v == NV - 1 ? n - 8 * v : 8;
    fc_avx2_store_n_ps(y + 8 * v, best[v], m);
    if (track) {
      int64_t buf[8];
      _mm256_storeu_si256((__m256i *)buf, at0[v]);
      _mm256_storeu_si256((__m256i *)(buf + 4), at1[v]);
      for (int64_t j = 0; j < m; j++) idx[8 * v + j] = buf[j];
    }
  }
}

void fc_f32_maxpool_nhwc_ukernel__avx2(const fc_pool2d_params *p, const float *image, int64_t oy,
                                       float *y, int64_t *idx) {
  const int64_t C = p->c, h0 = oy * p->stride_h - p->pad_top;
  const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + p->kernel_h < p->h ? h0 + p->kernel_h : p->h;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  /* up to 32 channels a pass without positions, 16 with (the registers) */
  const int64_t step = idx ? 16 : 32;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w - p->pad_left;
    const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + p->kernel_w < p->w ? w0 + p->kernel_w : p->w;
    for (int64_t c0 = 0; c0 < C; c0 += step) {
      const int64_t n = C - c0 < step ? C - c0 : step, nv = (n + 7) / 8;
      const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - 8 * (nv - 1))), lane);
      const float *img = image + c0;
      float *yo = y + ox * C + c0;
      int64_t *io = idx ? idx + ox * C + c0 : NULL;
      switch (nv * 2 + (idx != NULL)) {
        case 2: window(1, 0, p, img, hs, he, ws, we, n, last, yo, io); break;
        case 3: window(1, 1, p, img, hs, he, ws, we, n, last, yo, io); break;
        case 4: window(2, 0, p, img, hs, he, ws, we, n, last, yo, io); break;
        case 5: window(2, 1, p, img, hs, he, ws, we, n, last, yo, io); break;
        case 6: window(3, 0, p, img, hs, he, ws, we, n, last, yo, io); break;
        default: window(4, 0, p, img, hs, he, ws, we, n, last, yo, io); break;
      }
    }
  }
}
