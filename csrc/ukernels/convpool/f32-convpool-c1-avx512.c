/* f32 direct kernels for a single-channel 3x3 convolution (stride 1, no
 * padding or dilation) followed by a 2x2 max-pool of stride 2, AVX-512F: the
 * first layer of a CNN on grayscale images, the lecture's Conv2D(k, 3x3) +
 * MaxPooling2D(2x2). With one input channel the indirect GEMM's depth is only
 * 9, so its per-tile set-up, the store of the conv output and the separate
 * pooling pass cost as much as the arithmetic; here a pooled output's four
 * conv values stay in registers.
 *
 * Forward, one pooled output row: for 32 channels at a time (the last 16 or
 * fewer alone, several pixels at a time), the 9 taps' weight vectors stay in
 * registers; for each pooled pixel the four window
 * places accumulate bias + sum over taps (dy, dx) in that order, one fused
 * multiply-add each -- the indirect GEMM's order, so the values are its
 * values bit for bit -- then the maximum and its window code by the
 * max-pool kernels' rule (first in row-major order; a NaN wins). Without
 * codes, a window with no NaN takes the running maximum instead, vmaxps(a,
 * best), which keeps best unless a is greater: the rule's value, by three
 * maxima and two NaN checks (a pair of places each) a vector where the rule
 * takes twelve operations (two compares, an or and a blend per place); a
 * pixel with a NaN among its places still goes through the rule.
 *
 * Weight gradient, one pooled output row: each output's gradient reaches the
 * conv output only at the place its code names, so a tap's input value per
 * channel is a gather from the pixel's 4x4 input patch, held in one register:
 * one permute, one fused multiply-add per tap and 16 channels (9 instead of
 * the 36 of the dense product, whose other 27 multiply zeros). */
#include <immintrin.h>
#include "fastconv/ukernel.h"

static inline __mmask16 lanes16(int64_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* One pooled pixel, 32 channels (m0, m1 the live lanes): xp its 4x4 input
 * patch's first value, w0/w1 the taps' weights, b0/b1 the bias; its values
 * to y and, when `coded` (a constant once inlined: each caller's loop keeps
 * only its own branch), its window codes to code. */
static inline __attribute__((always_inline)) void convpool_pixel(
    const float *xp, size_t ldx, const __m512 *w0, const __m512 *w1, __m512 b0, __m512 b1,
    __mmask16 m0, __mmask16 m1, float *y, uint8_t *code, int coded) {
  __m512 a0[4], a1[4];
  for (int q = 0; q < 4; q++) a0[q] = b0, a1[q] = b1;
  for (int dy = 0; dy < 3; dy++)
    for (int dx = 0; dx < 3; dx++)
      for (int q = 0; q < 4; q++) {
        const __m512 v = _mm512_set1_ps(xp[(size_t)(q / 2 + dy) * ldx + (size_t)(q % 2 + dx)]);
        a0[q] = _mm512_fmadd_ps(v, w0[dy * 3 + dx], a0[q]);
        a1[q] = _mm512_fmadd_ps(v, w1[dy * 3 + dx], a1[q]);
      }
  if (!coded) { /* values only (inference): see the comment at the top */
    __m512 top0 = a0[0], top1 = a1[0];
    for (int q = 1; q < 4; q++) {
      top0 = _mm512_max_ps(a0[q], top0);
      top1 = _mm512_max_ps(a1[q], top1);
    }
    const __mmask16 nan = _mm512_mask_cmp_ps_mask(m0, a0[0], a0[1], _CMP_UNORD_Q) |
                          _mm512_mask_cmp_ps_mask(m0, a0[2], a0[3], _CMP_UNORD_Q) |
                          _mm512_mask_cmp_ps_mask(m1, a1[0], a1[1], _CMP_UNORD_Q) |
                          _mm512_mask_cmp_ps_mask(m1, a1[2], a1[3], _CMP_UNORD_Q);
    if (!nan) {
      _mm512_mask_storeu_ps(y, m0, top0);
      _mm512_mask_storeu_ps(y + 16, m1, top1);
      return;
    }
  }
  __m512 best0 = a0[0], best1 = a1[0];
  __m512i at0 = _mm512_setzero_si512(), at1 = at0;
  for (int q = 1; q < 4; q++) {
    const __mmask16 t0 = _mm512_cmp_ps_mask(a0[q], best0, _CMP_GT_OQ) |
                         _mm512_cmp_ps_mask(a0[q], a0[q], _CMP_UNORD_Q);
    const __mmask16 t1 = _mm512_cmp_ps_mask(a1[q], best1, _CMP_GT_OQ) |
                         _mm512_cmp_ps_mask(a1[q], a1[q], _CMP_UNORD_Q);
    best0 = _mm512_mask_mov_ps(best0, t0, a0[q]);
    best1 = _mm512_mask_mov_ps(best1, t1, a1[q]);
    at0 = _mm512_mask_mov_epi32(at0, t0, _mm512_set1_epi32(q));
    at1 = _mm512_mask_mov_epi32(at1, t1, _mm512_set1_epi32(q));
  }
  _mm512_mask_storeu_ps(y, m0, best0);
  _mm512_mask_storeu_ps(y + 16, m1, best1);
  if (coded) {
    _mm512_mask_cvtepi32_storeu_epi8(code, m0, at0);
    _mm512_mask_cvtepi32_storeu_epi8(code + 16, m1, at1);
  }
}

/* The max-pool of one pooled pixel's four window places a[0..3] (m: the live
 * lanes) to y and, when `coded` (a constant once inlined: each caller's loop
 * keeps only its own branch), its window codes to code. */
static inline __attribute__((always_inline)) void pool_pixel(const __m512 *a, __mmask16 m, float *y,
                                                             uint8_t *code, int coded) {
  if (!coded) { /* values only (inference): see the comment at the top */
    const __m512 top = _mm512_max_ps(a[3], _mm512_max_ps(a[2], _mm512_max_ps(a[1], a[0])));
    const __mmask16 nan = _mm512_mask_cmp_ps_mask(m, a[0], a[1], _CMP_UNORD_Q) |
                          _mm512_mask_cmp_ps_mask(m, a[2], a[3], _CMP_UNORD_Q);
    if (!nan) {
      _mm512_mask_storeu_ps(y, m, top);
      return;
    }
  }
  __m512 best = a[0];
  __m512i at = _mm512_setzero_si512();
  for (int q = 1; q < 4; q++) {
    const __mmask16 t = _mm512_cmp_ps_mask(a[q], best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(a[q], a[q], _CMP_UNORD_Q);
    best = _mm512_mask_mov_ps(best, t, a[q]);
    at = _mm512_mask_mov_epi32(at, t, _mm512_set1_epi32(q));
  }
  _mm512_mask_storeu_ps(y, m, best);
  if (coded) _mm512_mask_cvtepi32_storeu_epi8(code, m, at);
}

/* NP (1-4, a constant once inlined) neighbouring pooled pixels, 16 channels (m:
 * the live lanes): xp the first pixel's 4x4 input patch's first value (the
 * next pixel's starts two columns on), w the taps' weights, b the bias; y,
 * code (ldy apart per pixel) as pool_pixel. 4 * NP accumulators, one per
 * window place, each a chain of nine fused multiply-adds. convpool_pixel's 32
 * channels give 8 chains per pixel, enough to keep two FMA pipes busy; a block
 * of 16 channels or fewer gives one pixel only 4, so its pixels go several at
 * a time: for 16 channels 1.8x faster at inference, 1.35x with codes (AMD EPYC
 * Zen 5, in L1, 13 pooled pixels a row). */
static inline __attribute__((always_inline)) void convpool_pixels(
    int NP, const float *xp, size_t ldx, const __m512 *w, __m512 b, __mmask16 m, float *y,
    uint8_t *code, size_t ldy, int coded) {
  __m512 a[4][4];
  for (int p = 0; p < NP; p++)
    for (int q = 0; q < 4; q++) a[p][q] = b;
  for (int dy = 0; dy < 3; dy++)
    for (int dx = 0; dx < 3; dx++)
      for (int p = 0; p < NP; p++)
        for (int q = 0; q < 4; q++) {
          const __m512 v = _mm512_set1_ps(xp[(size_t)(q / 2 + dy) * ldx + (size_t)(2 * p + q % 2 + dx)]);
          a[p][q] = _mm512_fmadd_ps(v, w[dy * 3 + dx], a[p][q]);
        }
  for (int p = 0; p < NP; p++) pool_pixel(a[p], m, y + (size_t)p * ldy, coded ? code + (size_t)p * ldy : NULL, coded);
}

/* pw pooled pixels of one block of at most 16 channels, in ceil(pw / 4) groups
 * as even as they go (13 = 4 + 3 + 3 + 3): no group of one pixel while a row
 * has more. */
static inline __attribute__((always_inline)) void convpool_row16(
    const float *x, size_t ldx, size_t pw, const __m512 *w, __m512 b, __mmask16 m, float *y,
    uint8_t *code, size_t ldy, int coded) {
  const size_t groups = (pw + 3) / 4;
  for (size_t g = 0, px = 0; g < groups; g++) {
    const size_t np = pw / groups + (g < pw % groups);
    float *yp = y + px * ldy;
    uint8_t *cp = coded ? code + px * ldy : NULL;
    const float *xp = x + 2 * px;
    switch (np) {
      case 4: convpool_pixels(4, xp, ldx, w, b, m, yp, cp, ldy, coded); break;
      case 3: convpool_pixels(3, xp, ldx, w, b, m, yp, cp, ldy, coded); break;
      case 2: convpool_pixels(2, xp, ldx, w, b, m, yp, cp, ldy, coded); break;
      default: convpool_pixels(1, xp, ldx, w, b, m, yp, cp, ldy, coded); break;
    }
    px += np;
  }
}

/* x: the pooled row's first input row (stride ldx); w: (3, 3, 1, K); bias: K
 * values or NULL; y, code (code may be NULL): pw pooled pixels of K channels. */
void fc_f32_convpool_c1_ukernel__avx512(const float *x, size_t ldx, size_t pw, size_t K,
                                        const float *w, const float *bias, float *y,
                                        uint8_t *code) {
  size_t k0 = 0;
  for (; k0 + 16 < K; k0 += 32) {
    const __mmask16 m0 = lanes16((int64_t)(K - k0)), m1 = lanes16((int64_t)(K - k0) - 16);
    __m512 w0[9], w1[9];
    for (int t = 0; t < 9; t++) {
      w0[t] = _mm512_maskz_loadu_ps(m0, w + t * K + k0);
      w1[t] = _mm512_maskz_loadu_ps(m1, w + t * K + k0 + 16);
    }
    const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias + k0) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + k0 + 16) : _mm512_setzero_ps();
    if (code)
      for (size_t px = 0; px < pw; px++)
        convpool_pixel(x + 2 * px, ldx, w0, w1, b0, b1, m0, m1, y + px * K + k0,
                       code + px * K + k0, 1);
    else
      for (size_t px = 0; px < pw; px++)
        convpool_pixel(x + 2 * px, ldx, w0, w1, b0, b1, m0, m1, y + px * K + k0, NULL, 0);
  }
  if (k0 < K) { /* the last 16 channels or fewer */
    const __mmask16 m = lanes16((int64_t)(K - k0));
    __m512 wk[9];
    for (int t = 0; t < 9; t++) wk[t] = _mm512_maskz_loadu_ps(m, w + t * K + k0);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + k0) : _mm512_setzero_ps();
    if (code)
      convpool_row16(x, ldx, pw, wk, b, m, y + k0, code + k0, K, 1);
    else
      convpool_row16(x, ldx, pw, wk, b, m, y + k0, NULL, K, 0);
  }
}

/* x as above; g, code: the pooled row's gradient and window codes (pw x K);
 * gw (9 x K, as the weight) and gb (K, or NULL) are added to. Returns the
 * largest code seen (a code above 3 is not a 2x2 window's: the caller's error). */
unsigned fc_f32_convpool_c1_wgrad_ukernel__avx512(const float *x, size_t ldx, size_t pw, size_t K,
                                                  const float *g, const uint8_t *code, float *gw,
                                                  float *gb) {
  /* the patch is the 4x4 input block under a pooled pixel's window (16 lanes,
   * row-major); window place q's conv value at tap (dy, dx) reads lane
   * (q / 2 + dy) * 4 + q % 2 + dx */
  const __m512i place = _mm512_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512i top = _mm512_setzero_si512();
  for (size_t k0 = 0; k0 < K; k0 += 32) {
    const __mmask16 m0 = lanes16((int64_t)(K - k0)), m1 = lanes16((int64_t)(K - k0) - 16);
    __m512 a0[9], a1[9];
    for (int t = 0; t < 9; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (size_t px = 0; px < pw; px++) {
      const float *xp = x + 2 * px;
      __m512 patch = _mm512_castps128_ps512(_mm_loadu_ps(xp));
      patch = _mm512_insertf32x4(patch, _mm_loadu_ps(xp + ldx), 1);
      patch = _mm512_insertf32x4(patch, _mm_loadu_ps(xp + 2 * ldx), 2);
      patch = _mm512_insertf32x4(patch, _mm_loadu_ps(xp + 3 * ldx), 3);
      const __m512 g0 = _mm512_maskz_loadu_ps(m0, g + px * K + k0);
      const __m512 g1 = _mm512_maskz_loadu_ps(m1, g + px * K + k0 + 16);
      const __m512i c0 = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m0, code + px * K + k0));
      const __m512i c1 = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m1, code + px * K + k0 + 16));
      top = _mm512_max_epu32(top, _mm512_max_epu32(c0, c1));
      const __m512i p0 = _mm512_permutexvar_epi32(c0, place), p1 = _mm512_permutexvar_epi32(c1, place);
      s0 = _mm512_add_ps(s0, g0);
      s1 = _mm512_add_ps(s1, g1);
      for (int dy = 0; dy < 3; dy++)
        for (int dx = 0; dx < 3; dx++) {
          const __m512i off = _mm512_set1_epi32(dy * 4 + dx);
          const __m512 v0 = _mm512_permutexvar_ps(_mm512_add_epi32(p0, off), patch);
          const __m512 v1 = _mm512_permutexvar_ps(_mm512_add_epi32(p1, off), patch);
          a0[dy * 3 + dx] = _mm512_fmadd_ps(v0, g0, a0[dy * 3 + dx]);
          a1[dy * 3 + dx] = _mm512_fmadd_ps(v1, g1, a1[dy * 3 + dx]);
        }
    }
    for (int t = 0; t < 9; t++) {
      float *d = gw + t * K + k0;
      _mm512_mask_storeu_ps(d, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, d), a0[t]));
      _mm512_mask_storeu_ps(d + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, d + 16), a1[t]));
    }
    if (gb) {
      _mm512_mask_storeu_ps(gb + k0, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, gb + k0), s0));
      _mm512_mask_storeu_ps(gb + k0 + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, gb + k0 + 16), s1));
    }
  }
  return (unsigned)_mm512_reduce_max_epu32(top);
}
