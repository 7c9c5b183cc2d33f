/* f32 indirect-GEMM microkernel, 6x64 tile, AVX-512F (convolution without im2col).
 * C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*ldb + j]
 * for i < m <= 6, j < n <= 64, where A(t, i) = a[t*6 + i] + a_offset, or `zero`
 * itself where the pointer is `zero` (padding, rows i >= m): one pointer
 * table serves every image of a batch, in NHWC (a_stride 1) or NCHW (h*w);
 * b packed (ldb = 64) or read in place, 64 values a row. 24 zmm accumulators; per step
 * four loads of B, six broadcasts and twenty-four FMAs (a tile of at most two
 * or four live rows runs two or four). No alignment assumed.
 * FC_GEMM_PREFETCH (a tile of six live rows): one prefetch into L2 per step
 * from the thread's stream. The Dense forward reads the kernel in place, a
 * depth block at a time, and its first row tile of a block otherwise waits on
 * the block's lines from L3 (its later tiles find them in L2): with the next
 * block fetched during this one, the lecture's forward 32 x 4732 x 128 ran in
 * 0.84-0.88x the time at 1 thread (Intel Xeon, Emerald Rapids). */
#include <assert.h>
#include <immintrin.h>
#include "fastconv/ukernel.h"

#define MR 6
#define NR 64
#define T float
#include "../igemm-common.h"

static inline __mmask16 fc_mask16(size_t n, size_t lo) {
  return n >= lo + 16 ? (__mmask16)0xFFFF : n > lo ? (__mmask16)((1u << (n - lo)) - 1u) : 0;
}

void fc_f32_igemm_ukernel_6x64__avx512(size_t ks, size_t kc, const float *const *restrict a,
    size_t a_offset, size_t a_stride, const float *zero,
                                       const float *restrict b, size_t ldb, float *restrict c,
                                       size_t ldc,
                                       size_t m, size_t n, const float *restrict bias,
                                       unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  const __mmask16 km[4] = {fc_mask16(n, 0), fc_mask16(n, 16), fc_mask16(n, 32), fc_mask16(n, 48)};
  __m512 acc[MR][4];
#pragma GCC unroll 4
  for (int v = 0; v < 4; v++) {
    const __m512 init = (flags & FC_GEMM_BIAS_COL) ? _mm512_maskz_loadu_ps(km[v], bias + 16 * v)
                                                   : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc[i][v] = init;
  }
  size_t pf_lines = 0; /* the prefetch stream's lines still to fetch, when asked (six live rows) */
  const char *pf = NULL;
  if ((flags & FC_GEMM_PREFETCH) && m == MR) pf = fc_gemm_prefetch.at, pf_lines = fc_gemm_prefetch.lines;
  for (size_t t = 0; t < ks; t++, a += MR) {
    const float *ap[MR];
    if (!fc_igemm_tap_rows(a, a_offset, zero, ap) && (flags & FC_GEMM_SKIP_ZERO_TAPS)) {
      b += kc * ldb;
      continue;
    }
/* the depth steps of the first `rows` rows, each also running PF (a prefetch, or nothing) */
#define FC_STEPS_AND(rows, PF)                                               \
  for (size_t p = 0, off = 0; p < kc; p++, off += a_stride) {                \
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);     \
    const __m512 b2 = _mm512_loadu_ps(b + 32), b3 = _mm512_loadu_ps(b + 48); \
    b += ldb;                                                                \
    PF                                                                       \
    _Pragma("GCC unroll 6") for (int i = 0; i < (rows); i++) {               \
      const __m512 ai = _mm512_set1_ps(ap[i][off]);                          \
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                        \
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                        \
      acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);                        \
      acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);                        \
    }                                                                        \
  }
#define FC_STEPS(rows) FC_STEPS_AND(rows, )
#define FC_PREFETCH_LINE                 \
  if (pf_lines > 0) {                    \
    _mm_prefetch(pf, _MM_HINT_T1);       \
    pf += 64, pf_lines--;                \
  }
    if (pf_lines > 0) { /* a full tile: each step with one line of the stream while it lasts */
      FC_STEPS_AND(MR, FC_PREFETCH_LINE)
    } else {
      FC_LIVE_ROWS(m, FC_STEPS)
    }
#undef FC_PREFETCH_LINE
#undef FC_STEPS_AND
#undef FC_STEPS
  }
  if (pf) fc_gemm_prefetch.at = pf, fc_gemm_prefetch.lines = pf_lines;
#pragma GCC unroll 6
  for (size_t i = 0; i < MR; i++) {
    if (i >= m) break;
    float *ci = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
      __m512 r = acc[i][v];
      if (flags & FC_GEMM_ACCUMULATE) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(km[v], ci + 16 * v));
      _mm512_mask_storeu_ps(ci + 16 * v, km[v], r);
    }
  }
}
