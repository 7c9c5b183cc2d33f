/* f32 direct kernels for a single-channel 3x3 convolution (stride 1, no
 * padding or dilation) followed by a 2x2 max-pool of stride 2, AVX2 and FMA:
 * what f32-convpool-c1-avx512.c computes (its comment says what and why),
 * with 8 lanes and 16 registers. Without them an AVX2 machine runs this layer
 * (the lecture's first) as the generic fused path's indirect GEMM of depth 9,
 * whose per-tile set-up, conv-output stores and separate pooling pass cost
 * more than the arithmetic: the lecture's training step (batch 32, 1 thread,
 * AMD EPYC Zen 4 under FASTCONV_ISA=avx2, benchmarks/model_profile.py) took
 * 0.44 ms in the conv+pool forward and 0.62 ms in its backward, and takes
 * 0.21 and 0.13 ms with these.
 *
 * Forward, one pooled output row, in blocks of up to 24 channels: a block of
 * 17 to 24 (three vectors) or 9 to 16 (two) goes one pooled pixel at a time,
 * with 4 x 3 (or 4 x 2) accumulators, one per window place and vector, beside
 * the tap's weight vectors and a broadcast input value; a block of 8 or fewer
 * goes up to three pooled pixels at a time (12 accumulators again: chains
 * enough for two FMA pipes). Each conv value is bias + the taps (dy, dx) in
 * that order, one fused multiply-add each: the indirect GEMM's values, bit
 * for bit. A block's weights and bias are first copied into 24-wide buffers,
 * zero past its channels, so every load in the loop is a whole vector. The
 * pool is the max-pool kernels' rule (first in row-major order among equals;
 * a NaN takes the place); without codes a window with no NaN takes three
 * maxima.
 *
 * Weight gradient, one pooled output row, 8 channels at a time: a lane's
 * gradient reaches the conv output only at the window place its code names,
 * so tap (dy, dx) multiplies the input at row dy + code / 2, column
 * 2 px + code % 2 + dx. Input rows dy and dy + 1 of the pixel's 4x4 patch
 * fill one register, and one permute per tap picks each lane's value. The
 * bias gradient and the largest code are passes of their own.
 *
 * A block's last, partial vector is stored by halves, quarters and lanes
 * (avx2-store.h), not by a masked store, which costs many times a plain one
 * on AMD's cores: the lecture's layer (batch 32, 28 channels: blocks of 24
 * and 4) at 0.90x the time in inference, 0.96x with codes (AMD EPYC Zen 4). */
#include <immintrin.h>
#include <string.h>
#include "../avx2-store.h"
#include "fastconv/ukernel.h"

#define CB 24 /* channels in the widest forward block: three vectors */

/* all ones in lanes j < n (n clamped to 0..8) */
static inline __m256i live8(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The max-pool of one pixel's four window places a0..a3, n live lanes, to y
 * and, when `coded` (a constant once inlined), the window codes to code. */
static inline __attribute__((always_inline)) void pool8(__m256 a0, __m256 a1, __m256 a2, __m256 a3,
                                                        int64_t n, float *y, uint8_t *code,
                                                        int coded) {
  if (!coded) { /* values only (inference): three maxima unless a live lane holds a NaN */
    const __m256 nan = _mm256_or_ps(_mm256_cmp_ps(a0, a1, _CMP_UNORD_Q), _mm256_cmp_ps(a2, a3, _CMP_UNORD_Q));
    if (!(_mm256_movemask_ps(_mm256_and_ps(nan, _mm256_castsi256_ps(live8(n)))))) {
      fc_avx2_store_n_ps(y, _mm256_max_ps(a3, _mm256_max_ps(a2, _mm256_max_ps(a1, a0))), n);
      return;
    }
  }
  const __m256 a[4] = {a0, a1, a2, a3};
  __m256 best = a0, at = _mm256_setzero_ps(); /* the codes, as 32-bit integers */
  for (int q = 1; q < 4; q++) {
    const __m256 t = _mm256_or_ps(_mm256_cmp_ps(a[q], best, _CMP_GT_OQ), _mm256_cmp_ps(a[q], a[q], _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, a[q], t);
    at = _mm256_blendv_ps(at, _mm256_castsi256_ps(_mm256_set1_epi32(q)), t);
  }
  fc_avx2_store_n_ps(y, best, n);
  if (coded) {
    const __m256i ai = _mm256_castps_si256(at);
    const __m128i c16 = _mm_packs_epi32(_mm256_castsi256_si128(ai), _mm256_extracti128_si256(ai, 1));
    const __m128i c8 = _mm_packus_epi16(c16, c16);
    if (n >= 8) {
      _mm_storel_epi64((__m128i *)code, c8);
    } else {
      uint8_t buf[16];
      _mm_storeu_si128((__m128i *)buf, c8);
      memcpy(code, buf, (size_t)n);
    }
  }
}

/* NP neighbouring pooled pixels (the next one's patch two columns on) of one
 * block of CV vectors (n live channels; 4 * CV * NP <= 12 accumulators): xp
 * the first pixel's 4x4 input patch's first value, wb the block's taps (CB
 * apart), bb its bias; y and code ldy apart per pixel. */
static inline __attribute__((always_inline)) void convpool_block(
    int CV, int NP, const float *xp, size_t ldx, const float *wb, const float *bb, int64_t n,
    float *y, uint8_t *code, size_t ldy, int coded) {
  __m256 a[3][4][3];
  /* wb is the same for every pixel of the row: without this the compiler keeps
   * all 9 * CV weight vectors live across the pixel loop and spills */
  __asm__("" : "+r"(wb));
  for (int p = 0; p < NP; p++)
    for (int q = 0; q < 4; q++)
      for (int v = 0; v < CV; v++) a[p][q][v] = _mm256_load_ps(bb + 8 * v);
  for (int dy = 0; dy < 3; dy++)
    for (int dx = 0; dx < 3; dx++) {
      __m256 w[3];
      for (int v = 0; v < CV; v++) w[v] = _mm256_load_ps(wb + (dy * 3 + dx) * CB + 8 * v);
      for (int p = 0; p < NP; p++)
        for (int q = 0; q < 4; q++) {
          const __m256 s = _mm256_broadcast_ss(xp + (size_t)(q / 2 + dy) * ldx + (size_t)(2 * p + q % 2 + dx));
          for (int v = 0; v < CV; v++) a[p][q][v] = _mm256_fmadd_ps(s, w[v], a[p][q][v]);
        }
    }
  for (int p = 0; p < NP; p++)
    for (int v = 0; v < CV; v++)
      pool8(a[p][0][v], a[p][1][v], a[p][2][v], a[p][3][v], n - 8 * v, y + (size_t)p * ldy + 8 * v,
            coded ? code + (size_t)p * ldy + 8 * v : NULL, coded);
}

/* The pw pooled pixels of one block (CV vectors, NP pixels a call, n live
 * channels), y and code at the block's first channel (K apart per pixel).
 * With NP > 1 the pixels go in groups as even as they go (13 = 3 + 3 + 3 +
 * 2 + 2): no group of one while a row has more. */
static inline __attribute__((always_inline)) void convpool_row(
    int CV, int NP, const float *x, size_t ldx, size_t pw, const float *wb, const float *bb,
    int64_t n, float *y, uint8_t *code, size_t K, int coded) {
  if (NP == 1) {
    for (size_t px = 0; px < pw; px++)
      convpool_block(CV, 1, x + 2 * px, ldx, wb, bb, n, y + px * K, coded ? code + px * K : NULL, K, coded);
    return;
  }
  const size_t groups = (pw + (size_t)NP - 1) / (size_t)NP;
  for (size_t g = 0, px = 0; g < groups; g++) {
    const size_t np = pw / groups + (g < pw % groups);
    float *yp = y + px * K;
    uint8_t *cp = coded ? code + px * K : NULL;
    if (np == 3)
      convpool_block(CV, 3, x + 2 * px, ldx, wb, bb, n, yp, cp, K, coded);
    else if (np == 2)
      convpool_block(CV, 2, x + 2 * px, ldx, wb, bb, n, yp, cp, K, coded);
    else
      convpool_block(CV, 1, x + 2 * px, ldx, wb, bb, n, yp, cp, K, coded);
    px += np;
  }
}

/* x: the pooled row's first input row (stride ldx); w: (3, 3, 1, K); bias: K
 * values or NULL; y, code (code may be NULL): pw pooled pixels of K channels. */
void fc_f32_convpool_c1_ukernel__avx2(const float *x, size_t ldx, size_t pw, size_t K,
                                      const float *w, const float *bias, float *y,
                                      uint8_t *code) {
  float wb[9 * CB] __attribute__((aligned(32))), bb[CB] __attribute__((aligned(32)));
  for (size_t k0 = 0; k0 < K;) {
    const size_t left = K - k0, nb = left < CB ? left : CB;
    const int cv = (int)((nb + 7) / 8);
    /* the block's taps and bias, zero past its channels */
    for (int v = 0; v < cv; v++) {
      const int64_t lanes = (int64_t)nb - 8 * v;
      const __m256i m = live8(lanes);
      for (int t = 0; t < 9; t++)
        _mm256_store_ps(wb + t * CB + 8 * v, _mm256_maskload_ps(w + (size_t)t * K + k0 + 8 * (size_t)v, m));
      _mm256_store_ps(bb + 8 * v, bias ? _mm256_maskload_ps(bias + k0 + 8 * (size_t)v, m) : _mm256_setzero_ps());
    }
    float *yk = y + k0;
    uint8_t *ck = code ? code + k0 : NULL;
    const int64_t n = (int64_t)nb;
    if (cv == 3) {
      if (code)
        convpool_row(3, 1, x, ldx, pw, wb, bb, n, yk, ck, K, 1);
      else
        convpool_row(3, 1, x, ldx, pw, wb, bb, n, yk, NULL, K, 0);
    } else if (cv == 2) {
      if (code)
        convpool_row(2, 1, x, ldx, pw, wb, bb, n, yk, ck, K, 1);
      else
        convpool_row(2, 1, x, ldx, pw, wb, bb, n, yk, NULL, K, 0);
    } else {
      if (code)
        convpool_row(1, 3, x, ldx, pw, wb, bb, n, yk, ck, K, 1);
      else
        convpool_row(1, 3, x, ldx, pw, wb, bb, n, yk, NULL, K, 0);
    }
    k0 += nb;
  }
}

/* One block of 8 channels (n live, n < 8 only when `full` is 0: a constant
 * once inlined) of the row's weight gradient, added to gw (9 taps, K apart). */
static inline __attribute__((always_inline)) void wgrad_block(const float *x, size_t ldx, size_t pw,
                                                              size_t K, const float *g,
                                                              const uint8_t *code, float *gw,
                                                              int64_t n, int full) {
  /* window place q's first value in a register of patch rows (dy, dy + 1):
   * lane (q / 2) * 4 + q % 2; tap dx adds dx */
  const __m256i place = _mm256_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0);
  const __m256i m = live8(n);
  __m256 a[9];
  for (int t = 0; t < 9; t++) a[t] = _mm256_setzero_ps();
  for (size_t px = 0; px < pw; px++) {
    const float *xp = x + 2 * px;
    __m256 gv;
    __m256i c;
    if (full) {
      gv = _mm256_loadu_ps(g + px * K);
      c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(code + px * K)));
    } else { /* the row's last bytes: read no further */
      gv = _mm256_maskload_ps(g + px * K, m);
      uint64_t bytes = 0;
      for (int64_t j = 0; j < n; j++) bytes |= (uint64_t)code[px * K + (size_t)j] << (8 * j);
      c = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)bytes));
    }
    const __m256i b0 = _mm256_permutevar8x32_epi32(place, c);
    const __m256i b1 = _mm256_add_epi32(b0, _mm256_set1_epi32(1));
    const __m256i b2 = _mm256_add_epi32(b0, _mm256_set1_epi32(2));
    for (int dy = 0; dy < 3; dy++) {
      const __m256 rows = _mm256_loadu2_m128(xp + (size_t)(dy + 1) * ldx, xp + (size_t)dy * ldx);
      a[dy * 3] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(rows, b0), gv, a[dy * 3]);
      a[dy * 3 + 1] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(rows, b1), gv, a[dy * 3 + 1]);
      a[dy * 3 + 2] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(rows, b2), gv, a[dy * 3 + 2]);
    }
  }
  for (int t = 0; t < 9; t++) {
    float *d = gw + (size_t)t * K;
    if (full)
      _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), a[t]));
    else
      fc_avx2_store_first_ps(d, _mm256_add_ps(_mm256_maskload_ps(d, m), a[t]), n);
  }
}

/* x as above; g, code: the pooled row's gradient and window codes (pw x K);
 * gw (9 x K, as the weight) and gb (K, or NULL) are added to. Returns the
 * largest code seen (a code above 3 is not a 2x2 window's: the caller's error). */
unsigned fc_f32_convpool_c1_wgrad_ukernel__avx2(const float *x, size_t ldx, size_t pw, size_t K,
                                                const float *g, const uint8_t *code, float *gw,
                                                float *gb) {
  size_t k0 = 0;
  for (; k0 + 8 <= K; k0 += 8) wgrad_block(x, ldx, pw, K, g + k0, code + k0, gw + k0, 8, 1);
  if (k0 < K) wgrad_block(x, ldx, pw, K, g + k0, code + k0, gw + k0, (int64_t)(K - k0), 0);
  /* the bias gradient (the row's sum of g per channel) and the largest code, in
   * passes of their own: in the taps' loop they would take two of its registers */
  if (gb)
    for (k0 = 0; k0 < K; k0 += 8) {
      const __m256i m = live8((int64_t)(K - k0));
      __m256 s = _mm256_setzero_ps();
      for (size_t px = 0; px < pw; px++) s = _mm256_add_ps(s, _mm256_maskload_ps(g + px * K + k0, m));
      fc_avx2_store_n_ps(gb + k0, _mm256_add_ps(_mm256_maskload_ps(gb + k0, m), s), (int64_t)(K - k0));
    }
  const size_t bytes = pw * K;
  __m256i top = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) top = _mm256_max_epu8(top, _mm256_loadu_si256((const __m256i *)(code + i)));
  const __m128i t16 = _mm_max_epu8(_mm256_castsi256_si128(top), _mm256_extracti128_si256(top, 1));
  const __m128i t8 = _mm_max_epu8(t16, _mm_srli_si128(t16, 8)), t4 = _mm_max_epu8(t8, _mm_srli_si128(t8, 4));
  const __m128i t2 = _mm_max_epu8(t4, _mm_srli_si128(t4, 2)), t1 = _mm_max_epu8(t2, _mm_srli_si128(t2, 1));
  unsigned most = (unsigned)_mm_cvtsi128_si32(t1) & 0xFFu;
  for (; i < bytes; i++) most = code[i] > most ? code[i] : most;
  return most;
}
