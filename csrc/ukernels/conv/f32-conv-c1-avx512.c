/* f32 direct kernel for a single-channel 3x3 convolution (stride 1, no
 * padding or dilation), AVX-512F: what f32-conv-c1-avx2.c computes (its
 * comment says what and why), with 16 lanes and 32 registers. An output row
 * goes in blocks of 32 channels (CV = 1 or 2 vectors) by groups of up to 12
 * pixels (up to 12 or 24 accumulators), the block's tap weights loaded once a tap and each
 * input value broadcast once a tap; the same sums in the same order as the
 * indirect GEMM, so its bits; a pixel's last vector stored under a mask. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

/* NP pixels from xp (input row dy at xp + dy ldx) by the CV vectors of one
 * channel block (n live channels) at wb (tap t at wb + 32 t), bias bb or
 * NULL; y: the first pixel's first channel, ldy apart per pixel. */
static inline __attribute__((always_inline)) void conv_block(int CV, int NP, const float *xp,
                                                             size_t ldx, const float *wb,
                                                             const float *bb, int64_t n, float *y,
                                                             size_t ldy) {
  __m512 a[12][2];
  /* without this the compiler keeps all 9 * CV weight vectors live across the
   * row's pixels */
  __asm__("" : "+r"(wb));
#pragma GCC unroll 12
  for (int p = 0; p < NP; p++)
#pragma GCC unroll 2
    for (int v = 0; v < CV; v++) a[p][v] = bb ? _mm512_loadu_ps(bb + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 3
  for (int dy = 0; dy < 3; dy++)
#pragma GCC unroll 3
    for (int dx = 0; dx < 3; dx++) {
      __m512 w[2];
#pragma GCC unroll 2
      for (int v = 0; v < CV; v++) w[v] = _mm512_loadu_ps(wb + (dy * 3 + dx) * 32 + 16 * v);
#pragma GCC unroll 12
      for (int p = 0; p < NP; p++) {
        const __m512 s = _mm512_set1_ps(xp[(size_t)dy * ldx + (size_t)(p + dx)]);
#pragma GCC unroll 2
        for (int v = 0; v < CV; v++) a[p][v] = _mm512_fmadd_ps(s, w[v], a[p][v]);
      }
    }
  const int64_t last = n - 16 * (CV - 1);
  const __mmask16 live = (__mmask16)(last >= 16 ? 0xFFFF : (1u << last) - 1u);
#pragma GCC unroll 12
  for (int p = 0; p < NP; p++) {
    float *yp = y + (size_t)p * ldy;
    if (CV == 2) _mm512_storeu_ps(yp, a[p][0]);
    _mm512_mask_storeu_ps(yp + 16 * (CV - 1), live, a[p][CV - 1]);
  }
}

/* The row's ow pixels for one block of CV vectors in groups of at most 12 as
 * even as they go (26 = 9 + 9 + 8): a group of one or two would wait on the
 * FMA's latency with its 2 to 4 chains. */
#define FC_CONV_C1_CASE(CV, NP) \
  case NP: conv_block(CV, NP, x + px, ldx, wb, bb, n, y + px * ldy + k0, ldy); break;
#define FC_CONV_C1_ROW(CV)                                                                    \
  do {                                                                                        \
    const size_t groups = (ow + 11) / 12;                                                     \
    for (size_t g = 0, px = 0; g < groups; g++) {                                             \
      const size_t np = ow / groups + (g < ow % groups);                                      \
      switch (np) {                                                                           \
        FC_CONV_C1_CASE(CV, 1) FC_CONV_C1_CASE(CV, 2) FC_CONV_C1_CASE(CV, 3)                  \
        FC_CONV_C1_CASE(CV, 4) FC_CONV_C1_CASE(CV, 5) FC_CONV_C1_CASE(CV, 6)                  \
        FC_CONV_C1_CASE(CV, 7) FC_CONV_C1_CASE(CV, 8) FC_CONV_C1_CASE(CV, 9)                  \
        FC_CONV_C1_CASE(CV, 10) FC_CONV_C1_CASE(CV, 11) default: FC_CONV_C1_CASE(CV, 12)      \
      }                                                                                       \
      px += np;                                                                               \
    }                                                                                         \
  } while (0)

void fc_f32_conv_c1_ukernel__avx512(const float *x, size_t ldx, size_t c, size_t ow, size_t K,
                                    const float *w, const float *bias, float *y,
                                    size_t ldy) {
  (void)c; /* one input channel */
  for (size_t k0 = 0; k0 < K; k0 += 32) {
    const int64_t n = (int64_t)(K - k0 < 32 ? K - k0 : 32);
    const float *wb = w + 9 * k0, *bb = bias ? bias + k0 : NULL;
    if (n > 16)
      FC_CONV_C1_ROW(2);
    else
      FC_CONV_C1_ROW(1);
  }
}
#undef FC_CONV_C1_ROW
#undef FC_CONV_C1_CASE
