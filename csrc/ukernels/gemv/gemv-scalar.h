/* Template of the portable small-batch dense product (contract in
 * fastconv/ukernel.h): the scalar indirect-GEMM kernel's arithmetic, acc +=
 * w * x per term from zero in p order, so the two agree bit for bit; and the
 * sparse row product (fc_*_gemv_sparse_ukernel), the same sum over the listed
 * terms of one row. The including file defines NAME, SPARSE_NAME and T. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include "fastconv/ukernel.h"

#define FC_GEMV_COLS 8

void NAME(size_t nb, size_t kc, size_t mc, const T *restrict x, size_t ldx, const T *restrict w,
          size_t ldw, T *restrict y, size_t ldy, unsigned flags) {
  assert(nb >= 1 && nb <= FC_GEMV_MAX_ROWS && kc >= 1);
  for (size_t i0 = 0; i0 < mc; i0 += FC_GEMV_COLS) {
    const size_t n = mc - i0 < FC_GEMV_COLS ? mc - i0 : FC_GEMV_COLS;
    for (size_t r = 0; r < nb; r++) {
      T acc[FC_GEMV_COLS] = {0};
      const T *xr = x + r * ldx;
      for (size_t p = 0; p < kc; p++) {
        const T *wp = w + p * ldw + i0;
        const T xp = xr[p];
        for (size_t i = 0; i < n; i++) acc[i] += wp[i] * xp;
      }
      T *yr = y + r * ldy + i0;
      for (size_t i = 0; i < n; i++) yr[i] = (flags & FC_GEMM_ACCUMULATE) ? acc[i] + yr[i] : acc[i];
    }
  }
}

void SPARSE_NAME(size_t nb, const size_t *restrict nnz, const uint32_t *const *restrict idx,
                 const T *const *restrict val, size_t mc, const T *restrict w, size_t ldw,
                 T *restrict y, size_t ldy, unsigned flags) {
  assert(nb >= 1 && nb <= FC_GEMV_MAX_ROWS);
  for (size_t r = 0; r < nb; r++)
    for (size_t i0 = 0; i0 < mc; i0 += FC_GEMV_COLS) {
      const size_t n = mc - i0 < FC_GEMV_COLS ? mc - i0 : FC_GEMV_COLS;
      T acc[FC_GEMV_COLS] = {0};
      for (size_t t = 0; t < nnz[r]; t++) {
        const T *wp = w + (size_t)idx[r][t] * ldw + i0;
        const T xp = val[r][t];
        for (size_t i = 0; i < n; i++) acc[i] += wp[i] * xp;
      }
      T *yr = y + r * ldy + i0;
      for (size_t i = 0; i < n; i++) yr[i] = (flags & FC_GEMM_ACCUMULATE) ? acc[i] + yr[i] : acc[i];
    }
}
