/* Template of the portable-C correlation row microkernel (the fallback
 * everywhere), 8 outputs per pass, for one dtype:
 *   y[j] = sum_{i<kh} sum_{t<kw} x[i*ldx + j + t] * w[i*kw + t]   for j < n
 * (ukernel.h), with the 8 accumulators in a local array the compiler keeps in
 * (baseline SIMD) registers. The caller promises n, kh, kw >= 1, rows of
 * n + kw - 1 readable values, and y aliasing neither x nor w; no alignment
 * assumed.
 *
 * The including file defines NAME and T (float, double) and includes this
 * once. */
#include <assert.h>
#include "fastconv/ukernel.h"

#define NR 8

void NAME(size_t n, size_t kh, size_t kw, const T *restrict x, size_t ldx, const T *restrict w,
          T *restrict y) {
  assert(n >= 1 && kh >= 1 && kw >= 1);
  for (size_t j = 0; j < n; j += NR) {
    const size_t nr = n - j < NR ? n - j : NR;
    T acc[NR] = {0};
    for (size_t i = 0; i < kh; i++) {
      const T *xr = x + i * ldx + j;
      const T *wr = w + i * kw;
      for (size_t t = 0; t < kw; t++) {
        const T wt = wr[t];
        if (nr == NR) {
          for (size_t r = 0; r < NR; r++) acc[r] += xr[t + r] * wt;
        } else {
          for (size_t r = 0; r < nr; r++) acc[r] += xr[t + r] * wt;
        }
      }
    }
    for (size_t r = 0; r < nr; r++) y[j + r] = acc[r];
  }
}
