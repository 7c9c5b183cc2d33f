/* Templates of the AVX-512F ReLU microkernels, for one dtype; no alignment
 * assumed, masked tails.
 *   forward (RELU_NAME), 4 zmm per loop pass (64 f32 or 32 f64 elements):
 *     y = max(0, x) with x as max's second operand, so NaN passes through;
 *     y may equal x.
 *   backward (RELU_BWD_NAME), 2 zmm per loop pass (32 f32 or 16 f64):
 *     gx = x <= 0 ? 0 : gy by a compare mask (NaN in x passes gy, as
 *     PyTorch's threshold_backward); gx may equal gy or x (each vector is
 *     loaded before it is stored).
 *   forward with streaming stores (RELU_NT_NAME): the same results, stored
 *     with non-temporal stores on whole aligned vectors.
 * The including file defines T (float, double), V (__m512, __m512d), MASK
 * (__mmask16, __mmask8), LANES (16, 8), SFX (ps, pd) and the names of the
 * kernels it instantiates, RELU_NAME (and RELU_NT_NAME) or RELU_BWD_NAME, and
 * includes this once. */
#include <immintrin.h>
#include "fastconv/ukernel.h"

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm512_##op##_, SFX)
#define FC_CMP_MASK FC_CAT(FC_VOP(cmp), _mask)

#include "relu-loop.h"

#ifdef RELU_NAME
void RELU_NAME(size_t n, const T *x, T *y) {
  const V zero = FC_VOP(setzero)();
  size_t i = 0;
  FC_RELU_LOOP(FC_VOP(storeu));
  if (i < n) {
    const MASK k = (MASK)((1u << (n - i)) - 1u);
    FC_VOP(mask_storeu)(y + i, k, FC_VOP(max)(zero, FC_VOP(maskz_loadu)(k, x + i)));
  }
}
#endif

#include "relu-stream.h"

#ifdef RELU_BWD_NAME
void RELU_BWD_NAME(size_t n, const T *gy, const T *x, T *gx) {
  const V zero = FC_VOP(setzero)();
  size_t i = 0;
  for (; i + 2 * LANES <= n; i += 2 * LANES) {
    const MASK m0 = FC_CMP_MASK(FC_VOP(loadu)(x + i), zero, _CMP_NLE_UQ);
    const MASK m1 = FC_CMP_MASK(FC_VOP(loadu)(x + i + LANES), zero, _CMP_NLE_UQ);
    const V g0 = FC_VOP(maskz_loadu)(m0, gy + i), g1 = FC_VOP(maskz_loadu)(m1, gy + i + LANES);
    FC_VOP(storeu)(gx + i, g0);
    FC_VOP(storeu)(gx + i + LANES, g1);
  }
  for (; i < n; i += LANES) {
    const MASK k = n - i >= LANES ? (MASK)((1u << LANES) - 1u) : (MASK)((1u << (n - i)) - 1u);
    const MASK m = k & FC_CMP_MASK(FC_VOP(maskz_loadu)(k, x + i), zero, _CMP_NLE_UQ);
    FC_VOP(mask_storeu)(gx + i, k, FC_VOP(maskz_loadu)(m, gy + i));
  }
}
#endif
