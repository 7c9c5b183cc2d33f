/* f32 direct kernel for a 3x3 convolution of a few input channels (stride 1,
 * no padding or dilation), AVX2 and FMA: one output row of conv2d in NCHW.
 * conv2d runs a shallow NCHW layer (PyTorch's layout: the first layer of
 * PyTorch's MNIST example and of the lecture's CNN, one channel; an RGB
 * image's, three) as a packed GEMM: output channels by output pixels, depth
 * 9c, whose packing of the taps' pixel rows for every tile costs about as
 * much as the tile's multiply-adds ((128,1,28,28) by 28 filters: 29.5 GFLOP/s
 * under AVX2 at 1 thread, AMD EPYC Zen 4, a quarter of the FMA peak). Here an
 * output row is read straight from the three input rows of each channel it
 * needs: chunks of up to 16 pixels (NV = 1 or 2 vectors, the last one's live
 * lanes loaded under a mask and stored by avx2-store.h) by groups of up to 6
 * output channels (up to 12 accumulators), each tap's pixel vectors loaded
 * once and each weight broadcast once a tap. Each output is bias + the taps
 * (ci, dy, dx) in that order, one fused multiply-add each, from the bias (or
 * zero): the packed GEMM's value, bit for bit. w is packed in blocks of 32
 * channels, each its 9c taps' 32 weights in turn (zero past channel K), and
 * bias padded to whole blocks with zeros (or NULL), as for the NHWC kernel. */
#include <immintrin.h>
#include "../avx2-store.h"
#include "fastconv/ukernel.h"

/* NV vectors of pixels from xp (input channel ci's row dy at xp + (3 ci +
 * dy) ldx, ci < c; the last vector's live lanes in tail, as a load mask, and
 * live of them) by KB output channels whose tap t weights are at wb + 32 t,
 * bias bb or NULL; y: the first channel's first pixel, ldy apart per
 * channel. */
static inline __attribute__((always_inline)) void conv_block(int KB, int NV, const float *xp,
                                                             size_t ldx, size_t c, const float *wb,
                                                             const float *bb, __m256i tail,
                                                             int64_t live, float *y,
                                                             size_t ldy) {
  __m256 a[6][2];
#pragma GCC unroll 6
  for (int j = 0; j < KB; j++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) a[j][v] = bb ? _mm256_broadcast_ss(bb + j) : _mm256_setzero_ps();
  for (size_t ci = 0; ci < c; ci++, xp += 3 * ldx, wb += 9 * 32)
#pragma GCC unroll 3
    for (int dy = 0; dy < 3; dy++)
#pragma GCC unroll 3
      for (int dx = 0; dx < 3; dx++) {
        const float *xr = xp + (size_t)dy * ldx + (size_t)dx;
        __m256 xv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
          xv[v] = v < NV - 1 ? _mm256_loadu_ps(xr + 8 * v) : _mm256_maskload_ps(xr + 8 * v, tail);
#pragma GCC unroll 6
        for (int j = 0; j < KB; j++) {
          const __m256 s = _mm256_broadcast_ss(wb + (dy * 3 + dx) * 32 + j);
#pragma GCC unroll 2
          for (int v = 0; v < NV; v++) a[j][v] = _mm256_fmadd_ps(s, xv[v], a[j][v]);
        }
      }
#pragma GCC unroll 6
  for (int j = 0; j < KB; j++) {
    float *yj = y + (size_t)j * ldy;
    if (NV == 2) _mm256_storeu_ps(yj, a[j][0]);
    fc_avx2_store_n_ps(yj + 8 * (NV - 1), a[j][NV - 1], live);
  }
}

/* One chunk of NV pixel vectors by a block's n live channels in groups of at
 * most 6 as even as they go (28 = 6 + 6 + 6 + 5 + 5): a group of one or two
 * channels would wait on the FMA's latency with its 2 to 4 chains. */
#define FC_CONV_NCHW_CASE(NV, KB)                                                \
  case KB:                                                                       \
    conv_block(KB, NV, x + px, ldx, c, wb + j0, bb ? bb + j0 : NULL, tail, live, \
               yb + j0 * ldy + px, ldy);                                         \
    break;
#define FC_CONV_NCHW_CHUNK(NV)                                                              \
  do {                                                                                      \
    const int64_t groups = (n + 5) / 6;                                                     \
    for (int64_t g = 0, j0 = 0; g < groups; g++) {                                          \
      const int64_t kb = n / groups + (g < n % groups);                                     \
      switch (kb) {                                                                         \
        FC_CONV_NCHW_CASE(NV, 1) FC_CONV_NCHW_CASE(NV, 2) FC_CONV_NCHW_CASE(NV, 3)          \
        FC_CONV_NCHW_CASE(NV, 4) FC_CONV_NCHW_CASE(NV, 5) default: FC_CONV_NCHW_CASE(NV, 6) \
      }                                                                                     \
      j0 += kb;                                                                             \
    }                                                                                       \
  } while (0)

void fc_f32_conv_nchw_ukernel__avx2(const float *x, size_t ldx, size_t c, size_t ow, size_t K,
                                    const float *w, const float *bias, float *y, size_t ldy) {
  for (size_t k0 = 0; k0 < K; k0 += 32) {
    const int64_t n = (int64_t)(K - k0 < 32 ? K - k0 : 32);
    const float *wb = w + 9 * c * k0, *bb = bias ? bias + k0 : NULL;
    float *yb = y + k0 * ldy;
    for (size_t px = 0; px < ow; px += 16) {
      const size_t left = ow - px, inchunk = left < 16 ? left : 16;
      /* the chunk's last vector: 1 to 8 live lanes */
      const int64_t live = (int64_t)(inchunk - (inchunk > 8 ? 8 : 0));
      const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)live),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      if (inchunk > 8)
        FC_CONV_NCHW_CHUNK(2);
      else
        FC_CONV_NCHW_CHUNK(1);
    }
  }
}
#undef FC_CONV_NCHW_CHUNK
#undef FC_CONV_NCHW_CASE
