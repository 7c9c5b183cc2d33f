/* Stores of an AVX2 vector's first n lanes without a masked store: a
 * VMASKMOVPS / VMASKMOVPD to memory costs many times a plain store on AMD's
 * Zen cores (AMD EPYC Zen 4: conv2d of (128,28,28,1) by 28 3x3 filters, whose
 * 12-channel tiles end in one, took 1.38x the time of a copy through a spilled
 * tile), so the lanes go as a half, a quarter and a single lane, as n's bits
 * say. Include only from files compiled with AVX2 flags. */
#ifndef FASTCONV_AVX2_STORE_H
#define FASTCONV_AVX2_STORE_H

#include <immintrin.h>
#include <stdint.h>

/* v's first n lanes (n < 8) at p */
static inline __attribute__((always_inline)) void fc_avx2_store_first_ps(float *p, __m256 v,
                                                                         int64_t n) {
  __m128 h = _mm256_castps256_ps128(v);
  if (n & 4) {
    _mm_storeu_ps(p, h);
    h = _mm256_extractf128_ps(v, 1), p += 4;
  }
  if (n & 2) {
    _mm_storel_pi((__m64 *)(void *)p, h);
    h = _mm_movehl_ps(h, h), p += 2;
  }
  if (n & 1) _mm_store_ss(p, h);
}

/* v's first n lanes (n < 4) at p */
static inline __attribute__((always_inline)) void fc_avx2_store_first_pd(double *p, __m256d v,
                                                                         int64_t n) {
  __m128d h = _mm256_castpd256_pd128(v);
  if (n & 2) {
    _mm_storeu_pd(p, h);
    h = _mm256_extractf128_pd(v, 1), p += 2;
  }
  if (n & 1) _mm_store_sd(p, h);
}

/* v's first n lanes at p, all of them when n >= 8 */
static inline __attribute__((always_inline)) void fc_avx2_store_n_ps(float *p, __m256 v, int64_t n) {
  if (n >= 8)
    _mm256_storeu_ps(p, v);
  else if (n > 0)
    fc_avx2_store_first_ps(p, v, n);
}

/* A masked store whose mask may be whole or empty: a plain store, or none (the small-batch
 * dense products' template stores every vector under a mask; the sparse row
 * product, 4 rows of 30% of 128 terms by 48 columns, 0.70x the time, in-cache
 * loop of the kernel alone, AMD EPYC Zen 4) */
static inline __attribute__((always_inline)) void fc_avx2_maskstore_ps(float *p, __m256i m, __m256 v) {
  const int live = _mm256_movemask_ps(_mm256_castsi256_ps(m));
  if (live == 0xFF)
    _mm256_storeu_ps(p, v);
  else if (live)
    _mm256_maskstore_ps(p, m, v);
}

static inline __attribute__((always_inline)) void fc_avx2_maskstore_pd(double *p, __m256i m,
                                                                       __m256d v) {
  const int live = _mm256_movemask_pd(_mm256_castsi256_pd(m));
  if (live == 0xF)
    _mm256_storeu_pd(p, v);
  else if (live)
    _mm256_maskstore_pd(p, m, v);
}

#endif
