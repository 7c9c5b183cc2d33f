/* Template of the microkernels behind fastconv.ndimage that redo SciPy's
 * ndimage arithmetic operation for operation, so their results carry SciPy's
 * bits (every .c file in ukernels/ndimage/ is compiled with
 * -ffp-contract=off: a fused multiply-add would round once where SciPy rounds
 * twice). Each vectorises over NR independent outputs, in portable C (the
 * line kernel in GCC vector types) that the compiler turns into the including
 * file's SIMD (its ISA flags); the lanes never mix, so every ISA gives the
 * same bits. The caller promises n >= 1,
 * m, kh, kw >= 1, outputs aliasing no input; no alignment assumed.
 *
 * line (T = float or double; arithmetic in double, as SciPy's line buffers):
 *   y[j] = NI_Correlate1D's sum of x[t][j] * w[t] over taps t < m: with
 *   c = m / 2, for sym = 1 (w symmetric about c, m odd)
 *     x[c][j]*w[c] + (x[0][j] + x[m-1][j])*w[0] + ... + (x[c-1][j] + x[c+1][j])*w[c-1],
 *   for sym = -1 (antisymmetric) the same with '-' inside the brackets, and for
 *   sym = 0  x[m-1][j]*w[m-1] + x[0][j]*w[0] + ... + x[m-2][j]*w[m-2],
 *   added left to right; x[t] points at tap t's row of inputs.
 * runsum (T as above): acc[j] += x_in[j] - x_out[j]; y[j] = acc[j] / m, as
 *   NI_UniformFilter1D's running sum (x_in and x_out may be one row).
 * runlines (T as above): runsum along k <= FC_RUNLINES_MAX lines at once:
 *   acc[l] += x_in[l][i] - x_out[l][i]; y[l][i] = acc[l] / m for i < n, each
 *   line's sums in order (NI_UniformFilter1D's loop), the lines in the lanes
 *   of a vector by transposing VL steps of VL lines at a time.
 * store (double only): d[j] into y, of element type elem, as SciPy's C loops
 *   store a double on x86-64: float32 rounded to nearest; integers truncated
 *   toward zero through a 32-bit integer (8- to 32-bit signed, 8- and 16-bit
 *   unsigned) or a 64-bit one (uint32, int64, uint64), NaN and values beyond
 *   that integer giving its minimum, then wrapped to the target; uint64 above
 *   2**63 through the signed conversion of d - 2**63, and with `safe`
 *   (NI_Correlate's unsigned store) negated around the conversion below -1.
 *   The range tests give the same on d as on its truncation, their bounds
 *   being integers. The 32-bit conversions run VL at a time where the
 *   including file defines CVTT32 (x86's own conversion instruction).
 * acc (double only): y[j] += x[i*ldx + j + t] * w[i*kw + t] for i < kh, t < kw
 *   in that order, skipping taps whose weight is zero, as NI_Correlate adds
 *   its non-zero weights (the caller zeroes what NI_Correlate leaves out); the
 *   caller sets y to 0 before the first kernel slice.
 *
 * The including file defines T, NR, VL (doubles per SIMD vector, NR a multiple
 * of it), optionally WIDEN and (double) CVTT32, and the names LINE, RUNSUM,
 * RUNLINES and (for double) ACC and STORE, and includes this once. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include "fastconv/ukernel.h"

/* The line kernel's vectors, written with GCC's vector extension so that the
 * compiler keeps the accumulators in registers: VD holds VL doubles (the
 * including file's SIMD width), VT VL values of T at any alignment. Loads of
 * float widen exactly, by the including file's WIDEN(p) where it has one (GCC
 * 12 widens a whole vector in halves). */
#define NV (NR / VL)
typedef double VD __attribute__((vector_size(VL * sizeof(double))));
typedef T VT __attribute__((vector_size(VL * sizeof(T)), aligned(sizeof(T)), may_alias));

static inline __attribute__((always_inline)) VD LOAD(const T *p) {
#ifdef WIDEN
  return (VD)WIDEN(p);
#else
  return __builtin_convertvector(*(const VT *)p, VD);
#endif
}

/* W vectors of outputs from y (W a constant after inlining: NV, then 1), in
 * the order written at the top of this file, lane by lane. */
static inline __attribute__((always_inline)) void LINE_BLOCK(size_t W, size_t m,
                                                             const T *const *restrict x,
                                                             size_t j, const double *restrict w,
                                                             int sym, T *restrict y) {
  VD acc[NV];
  const size_t c = m / 2;
  if (sym != 0) {
    const T *xc = x[c] + j;
#pragma GCC unroll 8
    for (size_t v = 0; v < W; v++) acc[v] = LOAD(xc + v * VL) * w[c];
    if (sym > 0) {
      for (size_t t = 0; t < c; t++) {
        const T *a = x[t] + j, *b = x[m - 1 - t] + j;
        const double wt = w[t];
#pragma GCC unroll 8
        for (size_t v = 0; v < W; v++) acc[v] += (LOAD(a + v * VL) + LOAD(b + v * VL)) * wt;
      }
    } else {
      for (size_t t = 0; t < c; t++) {
        const T *a = x[t] + j, *b = x[m - 1 - t] + j;
        const double wt = w[t];
#pragma GCC unroll 8
        for (size_t v = 0; v < W; v++) acc[v] += (LOAD(a + v * VL) - LOAD(b + v * VL)) * wt;
      }
    }
  } else {
    const T *xl = x[m - 1] + j;
#pragma GCC unroll 8
    for (size_t v = 0; v < W; v++) acc[v] = LOAD(xl + v * VL) * w[m - 1];
    for (size_t t = 0; t + 1 < m; t++) {
      const T *a = x[t] + j;
      const double wt = w[t];
#pragma GCC unroll 8
      for (size_t v = 0; v < W; v++) acc[v] += LOAD(a + v * VL) * wt;
    }
  }
#pragma GCC unroll 8
  for (size_t v = 0; v < W; v++) *(VT *)(y + j + v * VL) = __builtin_convertvector(acc[v], VT);
}

void LINE(size_t n, size_t m, const T *const *restrict x, const double *restrict w, int sym,
          T *restrict y) {
  assert(n >= 1 && m >= 1);
  const size_t c = m / 2;
  size_t j = 0;
  for (; j + NR <= n; j += NR) LINE_BLOCK(NV, m, x, j, w, sym, y);
  if (NV > 1)
    for (; j + VL <= n; j += VL) LINE_BLOCK(1, m, x, j, w, sym, y);
  for (; j < n; j++) { /* the tail, one output at a time in the same order */
    double s;
    if (sym != 0) {
      s = (double)x[c][j] * w[c];
      for (size_t t = 0; t < c; t++) {
        const double a = (double)x[t][j], b = (double)x[m - 1 - t][j];
        s += (sym > 0 ? a + b : a - b) * w[t];
      }
    } else {
      s = (double)x[m - 1][j] * w[m - 1];
      for (size_t t = 0; t + 1 < m; t++) s += (double)x[t][j] * w[t];
    }
    y[j] = (T)s;
  }
}

void RUNSUM(size_t n, double *restrict acc, const T *x_in, const T *x_out, double m,
            T *restrict y) {
  assert(n >= 1);
  for (size_t j = 0; j < n; j++) {
    acc[j] += (double)x_in[j] - (double)x_out[j];
    y[j] = (T)(acc[j] / m);
  }
}

/* ---- runlines ----
 * VL x VL transposition in place (r[i][j] <-> r[j][i]) in log2(VL) stages:
 * the stage of width w swaps the off-diagonal w x w blocks of each 2w x 2w
 * block, lane k of the pair (a, b) = (r[i], r[i + w]), bit w of i clear,
 * taking a[k] | b[k - w] into a and a[k + w] | b[k] into b by bit w of k. */
typedef int64_t VX __attribute__((vector_size(VL * sizeof(int64_t))));
#define TR_LO(w, k) ((k) & (w) ? VL + (k) - (w) : (k))
#define TR_HI(w, k) ((k) & (w) ? VL + (k) : (k) + (w))
#if VL == 2
#define TR_MASK(f, w) ((VX){f(w, 0), f(w, 1)})
#elif VL == 4
#define TR_MASK(f, w) ((VX){f(w, 0), f(w, 1), f(w, 2), f(w, 3)})
#elif VL == 8
#define TR_MASK(f, w) ((VX){f(w, 0), f(w, 1), f(w, 2), f(w, 3), f(w, 4), f(w, 5), f(w, 6), f(w, 7)})
#else
#error "VL must be 2, 4 or 8"
#endif
#define TR_STAGE(r, w)                                                 \
  for (size_t i = 0; i < VL; i++)                                      \
    if (!(i & (w))) {                                                  \
      const VD a = r[i], b = r[i + (w)];                               \
      r[i] = __builtin_shuffle(a, b, TR_MASK(TR_LO, w));               \
      r[i + (w)] = __builtin_shuffle(a, b, TR_MASK(TR_HI, w));         \
    }

static inline __attribute__((always_inline)) void TRANSPOSE(VD *r) {
  TR_STAGE(r, 1)
#if VL > 2
  TR_STAGE(r, 2)
#endif
#if VL > 4
  TR_STAGE(r, 4)
#endif
}

/* The lines of a whole SIMD group, one a lane: VL steps of VL lines loaded
 * along the lines, their differences transposed so that a vector holds one
 * step of every line, the sums added and divided a step at a time, and the
 * means transposed back to be stored along the lines. */
static inline __attribute__((always_inline)) void RUNLINES_GROUP(
    size_t n, const T *const *restrict x_in, const T *const *restrict x_out,
    double *restrict acc, double m, T *const *restrict y) {
  const T *in[VL], *out[VL];
  T *dst[VL];
  VD a;
  for (size_t r = 0; r < VL; r++) in[r] = x_in[r], out[r] = x_out[r], dst[r] = y[r], a[r] = acc[r];
  const VD vm = (VD){0} + m;
  size_t i = 0;
  for (; i + VL <= n; i += VL) {
    VD d[VL];
#pragma GCC unroll 8
    for (size_t r = 0; r < VL; r++) d[r] = LOAD(in[r] + i) - LOAD(out[r] + i);
    TRANSPOSE(d);
#pragma GCC unroll 8
    for (size_t r = 0; r < VL; r++) {
      a += d[r];
      d[r] = a / vm;
    }
    TRANSPOSE(d);
#pragma GCC unroll 8
    for (size_t r = 0; r < VL; r++) *(VT *)(dst[r] + i) = __builtin_convertvector(d[r], VT);
  }
  for (size_t r = 0; r < VL; r++) {
    double s = a[r];
    for (size_t j = i; j < n; j++) {
      s += (double)in[r][j] - (double)out[r][j];
      dst[r][j] = (T)(s / m);
    }
    acc[r] = s;
  }
}

/* Fewer lines than a SIMD group: their sums side by side in scalar chains, a
 * block of them at a time, then divided along each line (K a constant after
 * inlining, so that the sums stay in registers). */
#define RL_BLOCK 64
static inline __attribute__((always_inline)) void RUNLINES_REST(
    size_t K, size_t n, const T *const *restrict x_in, const T *const *restrict x_out,
    double *restrict acc, double m, T *const *restrict y) {
  double a[VL], s[VL][RL_BLOCK];
  for (size_t l = 0; l < K; l++) a[l] = acc[l];
  for (size_t i0 = 0; i0 < n; i0 += RL_BLOCK) {
    const size_t len = n - i0 < RL_BLOCK ? n - i0 : RL_BLOCK;
    for (size_t j = 0; j < len; j++)
#pragma GCC unroll 8
      for (size_t l = 0; l < K; l++) {
        a[l] += (double)x_in[l][i0 + j] - (double)x_out[l][i0 + j];
        s[l][j] = a[l];
      }
    for (size_t l = 0; l < K; l++)
      for (size_t j = 0; j < len; j++) y[l][i0 + j] = (T)(s[l][j] / m);
  }
  for (size_t l = 0; l < K; l++) acc[l] = a[l];
}

void RUNLINES(size_t k, size_t n, const T *const *restrict x_in, const T *const *restrict x_out,
              double *restrict acc, double m, T *const *restrict y) {
  assert(k >= 1 && k <= FC_RUNLINES_MAX && n >= 1);
  size_t l = 0;
  for (; l + VL <= k; l += VL) RUNLINES_GROUP(n, x_in + l, x_out + l, acc + l, m, y + l);
  switch (k - l) { /* (at most VL - 1 lines) */
    case 0: break;
    case 1: RUNLINES_REST(1, n, x_in + l, x_out + l, acc + l, m, y + l); break;
#if VL > 2
    case 2: RUNLINES_REST(2, n, x_in + l, x_out + l, acc + l, m, y + l); break;
    case 3: RUNLINES_REST(3, n, x_in + l, x_out + l, acc + l, m, y + l); break;
#endif
#if VL > 4
    case 4: RUNLINES_REST(4, n, x_in + l, x_out + l, acc + l, m, y + l); break;
    case 5: RUNLINES_REST(5, n, x_in + l, x_out + l, acc + l, m, y + l); break;
    case 6: RUNLINES_REST(6, n, x_in + l, x_out + l, acc + l, m, y + l); break;
    case 7: RUNLINES_REST(7, n, x_in + l, x_out + l, acc + l, m, y + l); break;
#endif
    default: break;
  }
}

#ifdef ACC
/* One block of W outputs from j (W a constant after inlining: NR, 8, then 1 to 7). */
static inline __attribute__((always_inline)) void ACC_BLOCK(size_t W, size_t j, size_t kh,
                                                             size_t kw, const double *restrict x,
                                                             size_t ldx, const double *restrict w,
                                                             double *restrict y) {
  double acc[NR];
  for (size_t r = 0; r < W; r++) acc[r] = y[j + r];
  for (size_t i = 0; i < kh; i++)
    for (size_t t = 0; t < kw; t++) {
      const double wt = w[i * kw + t];
      if (wt == 0) continue;
      const double *xr = x + i * ldx + j + t;
      for (size_t r = 0; r < W; r++) acc[r] += xr[r] * wt;
    }
  for (size_t r = 0; r < W; r++) y[j + r] = acc[r];
}

void ACC(size_t n, size_t kh, size_t kw, const double *restrict x, size_t ldx,
         const double *restrict w, double *restrict y) {
  assert(n >= 1 && kh >= 1 && kw >= 1);
  size_t j = 0;
  for (; j + NR <= n; j += NR) ACC_BLOCK(NR, j, kh, kw, x, ldx, w, y);
  /* a narrow image's rows (and the end of a wide one's) 8 outputs at a time,
   * then the rest as one block of their own width (their sums side by side:
   * one output at a time waited on each addition), each in the same order */
  if (NR > 8)
    for (; j + 8 <= n; j += 8) ACC_BLOCK(8, j, kh, kw, x, ldx, w, y);
  switch (n - j) {
    case 7: ACC_BLOCK(7, j, kh, kw, x, ldx, w, y); break;
    case 6: ACC_BLOCK(6, j, kh, kw, x, ldx, w, y); break;
    case 5: ACC_BLOCK(5, j, kh, kw, x, ldx, w, y); break;
    case 4: ACC_BLOCK(4, j, kh, kw, x, ldx, w, y); break;
    case 3: ACC_BLOCK(3, j, kh, kw, x, ldx, w, y); break;
    case 2: ACC_BLOCK(2, j, kh, kw, x, ldx, w, y); break;
    case 1: ACC_BLOCK(1, j, kh, kw, x, ldx, w, y); break;
    default: break;
  }
}

/* ---- store ---- */
static inline int32_t CVT32(double v) {
  return (v >= -2147483648.0 && v < 2147483648.0) ? (int32_t)v : INT32_MIN;
}

static inline int64_t CVT64(double v) {
  return (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? (int64_t)v : INT64_MIN;
}

static inline uint64_t CVTU64(double v) {
  if (v >= 9223372036854775808.0) return (uint64_t)CVT64(v - 9223372036854775808.0) ^ (1ULL << 63);
  return (uint64_t)CVT64(v);
}

/* The 32-bit conversions into `ctype` (a cast from int32_t that wraps:
 * modular for the unsigned types, GCC's and Clang's rule for the signed),
 * VL at a time where the including file has CVTT32(p), x86's truncating
 * conversion of VL doubles, which gives INT32_MIN for NaN and out-of-range
 * values itself (cvttpd2dq), and into bytes 8 at a time by its BYTES8(o, d)
 * where VL bytes would make less than a word; the rest one at a time. */
#ifdef CVTT32
typedef int32_t VI __attribute__((vector_size(VL * 4)));
#ifdef BYTES8 /* the including file's: 8 doubles converted, their low bytes stored */
#define BYTES8_OK 1
#else
#define BYTES8_OK 0
#define BYTES8(o, d) (void)0
#endif
#define STORE_VECTORS(ctype, o)                                                              \
  do {                                                                                       \
    typedef ctype VO __attribute__((vector_size(VL * sizeof(ctype)), aligned(1), may_alias)); \
    if (VL * sizeof(ctype) >= 8) /* (GCC 12 narrows 4 values to bytes one by one) */          \
      for (; j + VL <= n; j += VL) *(VO *)(o + j) = __builtin_convertvector((VI)CVTT32(d + j), VO); \
    else if (sizeof(ctype) == 1 && BYTES8_OK)                                                 \
      for (; j + 8 <= n; j += 8) BYTES8(o + j, d + j);                                       \
  } while (0)
#else
#define STORE_VECTORS(ctype, o) (void)0
#endif
#define STORE_VIA_32(ctype)                                 \
  do {                                                      \
    ctype *o = (ctype *)y;                                  \
    STORE_VECTORS(ctype, o);                                \
    for (; j < n; j++) o[j] = (ctype)CVT32(d[j]);           \
  } while (0)

void STORE(fc_elem elem, size_t n, const double *d, void *y, int safe) {
  size_t j = 0;
  switch (elem) {
    case FC_ELEM_I8: STORE_VIA_32(int8_t); break;
    case FC_ELEM_U8: STORE_VIA_32(uint8_t); break;
    case FC_ELEM_I16: STORE_VIA_32(int16_t); break;
    case FC_ELEM_U16: STORE_VIA_32(uint16_t); break;
    case FC_ELEM_I32: STORE_VIA_32(int32_t); break;
    case FC_ELEM_U32:
      for (; j < n; j++) ((uint32_t *)y)[j] = (uint32_t)CVT64(d[j]);
      break;
    case FC_ELEM_I64:
      for (; j < n; j++) ((int64_t *)y)[j] = CVT64(d[j]);
      break;
    case FC_ELEM_U64:
      for (; j < n; j++) {
        const double v = d[j];
        ((uint64_t *)y)[j] = safe && !(v > -1) ? (uint64_t)0 - CVTU64(-v) : CVTU64(v);
      }
      break;
    case FC_ELEM_F32:
      for (; j < n; j++) ((float *)y)[j] = (float)d[j];
      break;
    case FC_ELEM_F64:
      for (; j < n; j++) ((double *)y)[j] = d[j];
      break;
  }
}
#endif
