/* Template of the AVX2 + FMA indirect-GEMM microkernels whose tile is 6 rows by
 * two vectors (f32 6x16, f64 6x8: convolution without im2col; see ukernel.h
 * for the contract):
 *   C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*ldb + j]
 * for i < m <= 6, j < n <= NR = 2 * LANES, where A(t, i) = a[t*6 + i] +
 * a_offset, or `zero` itself where the pointer is `zero` (padding, rows
 * i >= m): one pointer table serves every image of a batch, in NHWC
 * (a_stride 1) or NCHW (h*w); b packed (ldb = NR) or read in place. 12 ymm
 * accumulators; per step two loads of B, six broadcasts and twelve FMAs, the
 * six row pointers in registers, the depth loop unrolled twice (f32, 9 taps x
 * 64 in cache, benchmarks/bench_ukernels.py on AMD EPYC Zen 4: 89% of the FMA
 * peak rolled, 99% unrolled; f64 88% and 99%); a tile of at most two or four live rows
 * runs two or four. Edge tiles go through a spilled register
 * tile (gemm-avx2.h). No alignment assumed.
 *
 * The including file defines FC_IGEMM_NAME, T (float, double), V (__m256,
 * __m256d), LANES (8, 4), SFX (ps, pd), and SSFX (ss, sd: the scalar
 * broadcast's), and includes this once. */
#include <assert.h>
#include <immintrin.h>
#define MR 6
#define NR (2 * LANES)

#include "gemm-avx2.h"
#include "igemm-common.h"

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm256_##op##_, SFX)
#define FC_BROADCAST FC_CAT(_mm256_broadcast_, SSFX)

void FC_IGEMM_NAME(size_t ks, size_t kc, const T *const *restrict a, size_t a_offset,
                   size_t a_stride, const T *zero, const T *restrict b, size_t ldb,
                   T *restrict c, size_t ldc, size_t m, size_t n, const T *restrict bias,
                   unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= NR);
  V acc[MR][2];
  if (flags & FC_GEMM_BIAS_COL) {
    T buf[NR];
    fc_bias_tail(bias, NR, n, buf);
    const V b0 = FC_VOP(loadu)(buf), b1 = FC_VOP(loadu)(buf + LANES);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  } else {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = FC_VOP(setzero)();
  }
  for (size_t t = 0; t < ks; t++, a += MR) {
    const T *ap[MR];
    if (!fc_igemm_tap_rows(a, a_offset, zero, ap) && (flags & FC_GEMM_SKIP_ZERO_TAPS)) {
      b += kc * ldb;
      continue;
    }
#define FC_STEPS_BY(rows, step)                                         \
  _Pragma("GCC unroll 2")                                               \
  for (size_t p = 0, off = 0; p < kc; p++, off += a_stride) {           \
    const V b0 = FC_VOP(loadu)(b), b1 = FC_VOP(loadu)(b + LANES);       \
    b += (step);                                                        \
    _Pragma("GCC unroll 6") for (int i = 0; i < (rows); i++) {          \
      const V ai = FC_BROADCAST(ap[i] + off);                           \
      acc[i][0] = FC_VOP(fmadd)(ai, b0, acc[i][0]);                     \
      acc[i][1] = FC_VOP(fmadd)(ai, b1, acc[i][1]);                     \
    }                                                                   \
  }
/* a packed B steps by the constant NR: with the stride in a register too, the
 * loop's pointers and counters outgrew the GPRs and spilled (conv2d's L2 layer
 * under AVX2 1.14x the time, Intel Xeon Emerald Rapids) */
#define FC_STEPS(rows)        \
  if (ldb == NR) {            \
    FC_STEPS_BY(rows, NR)     \
  } else {                    \
    FC_STEPS_BY(rows, ldb)    \
  }
    FC_LIVE_ROWS(m, FC_STEPS)
#undef FC_STEPS
#undef FC_STEPS_BY
  }
  fc_avx2_store_6x2(acc, c, ldc, m, n, flags);
}

#undef MR
#undef NR
#undef FC_CAT2
#undef FC_CAT
#undef FC_VOP
#undef FC_BROADCAST
