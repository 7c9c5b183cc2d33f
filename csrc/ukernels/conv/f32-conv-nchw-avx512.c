/* f32 direct kernel for a 3x3 convolution of a few input channels (stride 1,
 * no padding or dilation), AVX-512F: one output row of conv2d in NCHW, what
 * f32-conv-nchw-avx2.c computes (its comment says what and why) with 16
 * lanes and 32 registers. The row goes in chunks of up to 32 pixels (NV = 1
 * or 2 vectors, the last under a mask) by groups of up to 12 channels (up to
 * 24 accumulators), each tap's input vectors loaded once and each weight
 * broadcast once a tap; the same sums in the same order as the packed GEMM,
 * so its bits. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

/* NV vectors of pixels from xp (input channel ci's row dy at xp + (3 ci +
 * dy) ldx, ci < c; the last vector's live lanes in tail) by KB output
 * channels whose tap t weights are at wb + 32 t, bias bb or NULL; y: the
 * first channel's first pixel, ldy apart per channel. */
static inline __attribute__((always_inline)) void conv_block(int KB, int NV, const float *xp,
                                                             size_t ldx, size_t c, const float *wb,
                                                             const float *bb, __mmask16 tail,
                                                             float *y, size_t ldy) {
  __m512 a[12][2];
#pragma GCC unroll 12
  for (int j = 0; j < KB; j++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) a[j][v] = bb ? _mm512_set1_ps(bb[j]) : _mm512_setzero_ps();
  for (size_t ci = 0; ci < c; ci++, xp += 3 * ldx, wb += 9 * 32)
#pragma GCC unroll 3
    for (int dy = 0; dy < 3; dy++)
#pragma GCC unroll 3
      for (int dx = 0; dx < 3; dx++) {
        const float *xr = xp + (size_t)dy * ldx + (size_t)dx;
        __m512 xv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
          xv[v] = v < NV - 1 ? _mm512_loadu_ps(xr + 16 * v)
                             : _mm512_maskz_loadu_ps(tail, xr + 16 * v);
#pragma GCC unroll 12
        for (int j = 0; j < KB; j++) {
          const __m512 s = _mm512_set1_ps(wb[(dy * 3 + dx) * 32 + j]);
#pragma GCC unroll 2
          for (int v = 0; v < NV; v++) a[j][v] = _mm512_fmadd_ps(s, xv[v], a[j][v]);
        }
      }
#pragma GCC unroll 12
  for (int j = 0; j < KB; j++) {
    float *yj = y + (size_t)j * ldy;
    if (NV == 2) _mm512_storeu_ps(yj, a[j][0]);
    _mm512_mask_storeu_ps(yj + 16 * (NV - 1), tail, a[j][NV - 1]);
  }
}

/* One chunk of NV pixel vectors by a block's n live channels in groups of at
 * most 12 as even as they go (28 = 10 + 9 + 9): a group of a few channels
 * would wait on the FMA's latency with its 2 to 6 chains. */
#define FC_CONV_NCHW_CASE(NV, KB)                                                              \
  case KB:                                                                                     \
    conv_block(KB, NV, x + px, ldx, c, wb + j0, bb ? bb + j0 : NULL, tail, yb + j0 * ldy + px, \
               ldy);                                                                           \
    break;
#define FC_CONV_NCHW_CHUNK(NV)                                                                 \
  do {                                                                                         \
    const int64_t groups = (n + 11) / 12;                                                      \
    for (int64_t g = 0, j0 = 0; g < groups; g++) {                                             \
      const int64_t kb = n / groups + (g < n % groups);                                        \
      switch (kb) {                                                                            \
        FC_CONV_NCHW_CASE(NV, 1) FC_CONV_NCHW_CASE(NV, 2) FC_CONV_NCHW_CASE(NV, 3)             \
        FC_CONV_NCHW_CASE(NV, 4) FC_CONV_NCHW_CASE(NV, 5) FC_CONV_NCHW_CASE(NV, 6)             \
        FC_CONV_NCHW_CASE(NV, 7) FC_CONV_NCHW_CASE(NV, 8) FC_CONV_NCHW_CASE(NV, 9)             \
        FC_CONV_NCHW_CASE(NV, 10) FC_CONV_NCHW_CASE(NV, 11) default: FC_CONV_NCHW_CASE(NV, 12) \
      }                                                                                        \
      j0 += kb;                                                                                \
    }                                                                                          \
  } while (0)

void fc_f32_conv_nchw_ukernel__avx512(const float *x, size_t ldx, size_t c, size_t ow,
                                      size_t K, const float *w, const float *bias, float *y,
                                      size_t ldy) {
  for (size_t k0 = 0; k0 < K; k0 += 32) {
    const int64_t n = (int64_t)(K - k0 < 32 ? K - k0 : 32);
    const float *wb = w + 9 * c * k0, *bb = bias ? bias + k0 : NULL;
    float *yb = y + k0 * ldy;
    for (size_t px = 0; px < ow; px += 32) {
      const size_t left = ow - px, live = left < 32 ? left : 32;
      const __mmask16 tail = (__mmask16)(live % 16 ? (1u << live % 16) - 1u : 0xFFFFu);
      if (live > 16)
        FC_CONV_NCHW_CHUNK(2);
      else
        FC_CONV_NCHW_CHUNK(1);
    }
  }
}
#undef FC_CONV_NCHW_CHUNK
#undef FC_CONV_NCHW_CASE
