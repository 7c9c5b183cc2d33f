/* f32 direct kernel for a single-channel 3x3 convolution (stride 1, no
 * padding or dilation), AVX2 and FMA: one output row of conv2d in NHWC. The
 * indirect GEMM runs this layer (the lecture's first without its pool) as a
 * product of depth 9 on tiles of 6 pixels by 16 channels, whose per-tile
 * set-up (a row pointer per tap and pixel, the store) costs about as much as
 * its 108 multiply-adds: conv2d of (128,28,28,1) by 28 filters ran at 39% of
 * the FMA peak under AVX2; with this kernel 0.54x that time at 1 thread,
 * 0.63x at 2 (AMD EPYC Zen 4). An output row goes in blocks of up to 32
 * channels (CV vectors) by NP pixels at a time, 12 accumulators (a block of
 * four vectors takes its weights from memory in each FMA: the registers do
 * not hold them too), each input value broadcast once a tap. Each output is
 * bias + the taps (dy, dx) in that order, one fused multiply-add each, from
 * the bias (or zero): the indirect GEMM's value, bit for bit. w is packed in
 * blocks of 32 channels, each its 9 taps' 32 weights in turn (zero past
 * channel K), and bias padded to whole blocks with zeros (or NULL), so every
 * load in the loop is a whole vector at a constant offset; a pixel's last
 * vector of channels is stored by its live lanes (avx2-store.h). */
#include <immintrin.h>
#include "../avx2-store.h"
#include "fastconv/ukernel.h"

/* NP pixels from xp (input row dy at xp + dy ldx) by the CV vectors of one
 * channel block (n live channels) at wb (tap t at wb + 32 t), bias bb or
 * NULL; y: the first pixel's first channel, ldy apart per pixel. */
static inline __attribute__((always_inline)) void conv_block(int CV, int NP, const float *xp,
                                                             size_t ldx, const float *wb,
                                                             const float *bb, int64_t n, float *y,
                                                             size_t ldy) {
  __m256 a[12][4];
  /* without this the compiler keeps all 9 * CV weight vectors live across the
   * row's pixels and spills */
  __asm__("" : "+r"(wb));
#pragma GCC unroll 12
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
    for (int v = 0; v < CV; v++) a[p][v] = bb ? _mm256_loadu_ps(bb + 8 * v) : _mm256_setzero_ps();
#pragma GCC unroll 3
  for (int dy = 0; dy < 3; dy++)
#pragma GCC unroll 3
    for (int dx = 0; dx < 3; dx++) {
      __m256 w[4];
#pragma GCC unroll 4
      for (int v = 0; v < CV; v++) w[v] = _mm256_loadu_ps(wb + (dy * 3 + dx) * 32 + 8 * v);
#pragma GCC unroll 12
      for (int p = 0; p < NP; p++) {
        const __m256 s = _mm256_broadcast_ss(xp + (size_t)dy * ldx + (size_t)(p + dx));
#pragma GCC unroll 4
        for (int v = 0; v < CV; v++) a[p][v] = _mm256_fmadd_ps(s, w[v], a[p][v]);
      }
    }
#pragma GCC unroll 12
  for (int p = 0; p < NP; p++) {
    float *yp = y + (size_t)p * ldy;
#pragma GCC unroll 4
    for (int v = 0; v < CV - 1; v++) _mm256_storeu_ps(yp + 8 * v, a[p][v]);
    fc_avx2_store_n_ps(yp + 8 * (CV - 1), a[p][CV - 1], n - 8 * (CV - 1));
  }
}

/* The row's ow pixels for one block of CV vectors, NP at a time, then one at a time */
#define FC_CONV_C1_ROW(CV, NP)                                                               \
  do {                                                                                       \
    size_t px = 0;                                                                           \
    for (; px + (NP) <= ow; px += (NP))                                                      \
      conv_block(CV, NP, x + px, ldx, wb, bb, n, y + px * ldy + k0, ldy);                    \
    for (; px < ow; px++) conv_block(CV, 1, x + px, ldx, wb, bb, n, y + px * ldy + k0, ldy); \
  } while (0)

void fc_f32_conv_c1_ukernel__avx2(const float *x, size_t ldx, size_t c, size_t ow, size_t K,
                                  const float *w, const float *bias, float *y,
                                  size_t ldy) {
  (void)c; /* one input channel */
  for (size_t k0 = 0; k0 < K; k0 += 32) {
    const int64_t n = (int64_t)(K - k0 < 32 ? K - k0 : 32);
    const float *wb = w + 9 * k0, *bb = bias ? bias + k0 : NULL;
    switch ((n + 7) / 8) {
      case 1: FC_CONV_C1_ROW(1, 12); break;
      case 2: FC_CONV_C1_ROW(2, 6); break;
      case 3: FC_CONV_C1_ROW(3, 4); break;
      default: FC_CONV_C1_ROW(4, 3); break;
    }
  }
}
#undef FC_CONV_C1_ROW
