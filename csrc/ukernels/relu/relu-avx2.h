/* Templates of the AVX2 ReLU microkernels, for one dtype; no alignment
 * assumed, masked tails (their stores as avx2-store.h makes them).
 *   forward (RELU_NAME), 4 ymm per loop pass (32 f32 or 16 f64 elements):
 *     y = max(0, x) with x as max's second operand, so NaN passes through;
 *     y may equal x (each vector is loaded before it is stored).
 *   backward (RELU_BWD_NAME), 2 ymm per loop pass (16 f32 or 8 f64):
 *     gx = gy & !(x <= 0), the unordered compare passing gy where x is NaN
 *     (as PyTorch's threshold_backward); gx may equal gy or x (each vector is
 *     loaded before it is stored).
 *   forward with streaming stores (RELU_NT_NAME): the same results, stored
 *     with non-temporal stores on whole aligned vectors.
 * The including file defines T (float, double), V (__m256, __m256d), LANES
 * (8, 4), SFX (ps, pd) and the names of the kernels it instantiates,
 * RELU_NAME (and RELU_NT_NAME) or RELU_BWD_NAME, and includes this once. */
#include <immintrin.h>
#include "fastconv/ukernel.h"
#include "../avx2-lanes.h"
#include "../avx2-store.h"

#define FC_CAT2(a, b) a##b
#define FC_CAT(a, b) FC_CAT2(a, b)
#define FC_VOP(op) FC_CAT(_mm256_##op##_, SFX)

#include "relu-loop.h"

#ifdef RELU_NAME
void RELU_NAME(size_t n, const T *x, T *y) {
  const V zero = FC_VOP(setzero)();
  size_t i = 0;
  FC_RELU_LOOP(FC_VOP(storeu));
  if (i < n) {
    const __m256i idx = FC_MI_LANES;
    const __m256i mask = FC_MI_CMPGT(FC_MI_SET1((FC_MI)(n - i)), idx);
    const V v = FC_VOP(maskload)(x + i, mask);
    FC_CAT(fc_avx2_store_first_, SFX)(y + i, FC_VOP(max)(zero, v), (int64_t)(n - i));
  }
}
#endif

#include "relu-stream.h"

#ifdef RELU_BWD_NAME
void RELU_BWD_NAME(size_t n, const T *gy, const T *x, T *gx) {
  const V zero = FC_VOP(setzero)();
  size_t i = 0;
  for (; i + 2 * LANES <= n; i += 2 * LANES) {
    const V m0 = FC_VOP(cmp)(FC_VOP(loadu)(x + i), zero, _CMP_NLE_UQ);
    const V m1 = FC_VOP(cmp)(FC_VOP(loadu)(x + i + LANES), zero, _CMP_NLE_UQ);
    const V g0 = FC_VOP(loadu)(gy + i), g1 = FC_VOP(loadu)(gy + i + LANES);
    FC_VOP(storeu)(gx + i, FC_VOP(and)(m0, g0));
    FC_VOP(storeu)(gx + i + LANES, FC_VOP(and)(m1, g1));
  }
  if (i < n) {
    const __m256i lane = FC_MI_LANES;
    for (; i < n; i += LANES) {
      const __m256i k = FC_MI_CMPGT(FC_MI_SET1((FC_MI)(n - i < LANES ? n - i : LANES)), lane);
      const V m = FC_VOP(cmp)(FC_VOP(maskload)(x + i, k), zero, _CMP_NLE_UQ);
      FC_CAT(fc_avx2_maskstore_, SFX)(gx + i, k, FC_VOP(and)(m, FC_VOP(maskload)(gy + i, k)));
    }
  }
}
#endif
