/* Template of the microkernels behind fastconv.ndimage that redo SciPy's
 * ndimage arithmetic operation for operation, so their results carry SciPy's
 * bits (every .c file in ukernels/ndimage/ is compiled with
 * -ffp-contract=off: a fused multiply-add would round once where SciPy rounds
 * twice). Each vectorises over NR independent outputs, in portable C that the
 * compiler turns into the including file's SIMD (its ISA flags); the lanes
 * never mix, so every ISA gives the same bits. The caller promises n >= 1,
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
 * runmean (T as above): y[j] = s[j] / m, the division of running sums that the
 *   caller added up along a line, NI_UniformFilter1D's outputs.
 * acc (double only): y[j] += x[i*ldx + j + t] * w[i*kw + t] for i < kh, t < kw
 *   in that order, skipping taps whose weight is zero, as NI_Correlate adds
 *   its non-zero weights (the caller zeroes what NI_Correlate leaves out); the
 *   caller sets y to 0 before the first kernel slice.
 *
 * The including file defines T, NR and the names LINE, RUNSUM, RUNMEAN and (for
 * double) ACC, and includes this once. */
#include <assert.h>
#include <stddef.h>
#include "fastconv/ukernel.h"

void LINE(size_t n, size_t m, const T *const *restrict x, const double *restrict w, int sym,
          T *restrict y) {
  assert(n >= 1 && m >= 1);
  const size_t c = m / 2;
  for (size_t j = 0; j < n; j += NR) {
    const size_t nr = n - j < NR ? n - j : NR;
    double acc[NR];
    if (nr == NR) {
      if (sym != 0) {
        const T *xc = x[c] + j;
        for (size_t r = 0; r < NR; r++) acc[r] = (double)xc[r] * w[c];
        for (size_t t = 0; t < c; t++) {
          const T *a = x[t] + j, *b = x[m - 1 - t] + j;
          const double wt = w[t];
          if (sym > 0) {
            for (size_t r = 0; r < NR; r++) acc[r] += ((double)a[r] + (double)b[r]) * wt;
          } else {
            for (size_t r = 0; r < NR; r++) acc[r] += ((double)a[r] - (double)b[r]) * wt;
          }
        }
      } else {
        const T *xl = x[m - 1] + j;
        for (size_t r = 0; r < NR; r++) acc[r] = (double)xl[r] * w[m - 1];
        for (size_t t = 0; t + 1 < m; t++) {
          const T *a = x[t] + j;
          const double wt = w[t];
          for (size_t r = 0; r < NR; r++) acc[r] += (double)a[r] * wt;
        }
      }
      for (size_t r = 0; r < NR; r++) y[j + r] = (T)acc[r];
    } else { /* the tail, one output at a time in the same order */
      for (size_t r = 0; r < nr; r++) {
        double s;
        if (sym != 0) {
          s = (double)x[c][j + r] * w[c];
          for (size_t t = 0; t < c; t++) {
            const double a = (double)x[t][j + r], b = (double)x[m - 1 - t][j + r];
            s += (sym > 0 ? a + b : a - b) * w[t];
          }
        } else {
          s = (double)x[m - 1][j + r] * w[m - 1];
          for (size_t t = 0; t + 1 < m; t++) s += (double)x[t][j + r] * w[t];
        }
        y[j + r] = (T)s;
      }
    }
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

void RUNMEAN(size_t n, const double *restrict s, double m, T *restrict y) {
  assert(n >= 1);
  for (size_t j = 0; j < n; j++) y[j] = (T)(s[j] / m);
}

#ifdef ACC
/* One block of W outputs from j (W a constant after inlining: NR, then 8). */
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
   * then one at a time, each in the same order */
  if (NR > 8)
    for (; j + 8 <= n; j += 8) ACC_BLOCK(8, j, kh, kw, x, ldx, w, y);
  for (; j < n; j++) {
    double s = y[j];
    for (size_t i = 0; i < kh; i++)
      for (size_t t = 0; t < kw; t++) {
        const double wt = w[i * kw + t];
        if (wt != 0) s += x[i * ldx + j + t] * wt;
      }
    y[j] = s;
  }
}
#endif
