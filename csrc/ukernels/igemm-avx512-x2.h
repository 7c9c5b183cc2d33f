/* Template of the AVX-512 indirect-GEMM microkernels whose tile is MR rows by
 * two vectors (f32 8x32 and 12x32, f64 8x16; see ukernel.h for the contract):
 *   C[i, j] (+)= sum_(t < ks, p < kc) A(t, i)[p * a_stride] * b[(t*kc + p)*ldb + j]
 * for i < m <= MR, j < n <= NR = 2 * LANES, where A(t, i) = a[t*MR + i] +
 * a_offset, or `zero` itself where the pointer is `zero` (padding, rows
 * i >= m): one pointer table serves every image of a batch, in NHWC
 * (a_stride 1) or NCHW (h*w); b packed (ldb = NR) or read in place, NR
 * values a row. 2*MR zmm
 * accumulators; per step two loads of B, MR broadcasts and 2*MR FMAs (a tile
 * of at most a third or two thirds of MR live rows runs that many); the
 * row loops unroll fully, so the accumulators and row pointers stay in
 * registers (checked in the assembly: no stack traffic in the loop). No
 * alignment assumed.
 *
 * The including file defines FC_IGEMM_NAME, MR, T (float, double), V (__m512,
 * __m512d), K (__mmask16, __mmask8), LANES (16, 8) and SFX (ps, pd), and includes
 * this once. */
#include <assert.h>
#include <immintrin.h>
#include "gemm-avx512.h"
#include "igemm-common.h"

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm512_##op##_, SFX)

void FC_IGEMM_NAME(size_t ks, size_t kc, const T *const *restrict a, size_t a_offset,
                   size_t a_stride, const T *zero, const T *restrict b, size_t ldb,
                   T *restrict c, size_t ldc, size_t m, size_t n, const T *restrict bias,
                   unsigned flags) {
  assert(ks >= 1 && kc >= 1 && m >= 1 && m <= MR && n >= 1 && n <= 2 * LANES);
  const unsigned full = (1u << LANES) - 1u;
  const K k0 = (K)(n >= LANES ? full : (1u << n) - 1u);
  const K k1 = (K)(n >= 2 * LANES ? full : n > LANES ? (1u << (n - LANES)) - 1u : 0u);
  V acc[MR][2];
  const V init0 = (flags & FC_GEMM_BIAS_COL) ? FC_VOP(maskz_loadu)(k0, bias) : FC_VOP(setzero)();
  const V init1 = (flags & FC_GEMM_BIAS_COL) ? FC_VOP(maskz_loadu)(k1, bias + LANES) : FC_VOP(setzero)();
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) acc[i][0] = init0, acc[i][1] = init1;
  for (size_t t = 0; t < ks; t++, a += MR) {
    const T *ap[MR];
    if (!fc_igemm_tap_rows(a, a_offset, zero, ap) && (flags & FC_GEMM_SKIP_ZERO_TAPS)) {
      b += kc * ldb;
      continue;
    }
#define FC_STEPS_BY(rows, step)                                          \
  for (size_t p = 0, off = 0; p < kc; p++, off += a_stride) {            \
    const V b0 = FC_VOP(loadu)(b), b1 = FC_VOP(loadu)(b + LANES);        \
    b += (step);                                                         \
    _Pragma("GCC unroll 12") for (int i = 0; i < (rows); i++) {          \
      const V ai = FC_VOP(set1)(ap[i][off]);                             \
      acc[i][0] = FC_VOP(fmadd)(ai, b0, acc[i][0]);                      \
      acc[i][1] = FC_VOP(fmadd)(ai, b1, acc[i][1]);                      \
    }                                                                    \
  }
/* a packed B steps by the constant 2 * LANES, the loop it ran before the
 * stride was a parameter (which costs the row pointers a register) */
#define FC_STEPS(rows)             \
  if (ldb == 2 * LANES) {          \
    FC_STEPS_BY(rows, 2 * LANES)   \
  } else {                         \
    FC_STEPS_BY(rows, ldb)         \
  }
    FC_LIVE_ROWS(m, FC_STEPS)
#undef FC_STEPS
#undef FC_STEPS_BY
  }
  fc_avx512_store_x2(acc, c, ldc, m, k0, k1, flags);
}

#undef FC_CAT2
#undef FC_CAT
#undef FC_VOP
