/* Templates of the portable-C ReLU microkernels, for one dtype; y, gx may
 * equal an input, no alignment assumed.
 *   forward (RELU_NAME):      y[i] = x[i] < 0 ? 0 : x[i] for i < n, so NaN
 *                             passes through;
 *   backward (RELU_BWD_NAME): gx[i] = x[i] <= 0 ? 0 : gy[i] for i < n (NaN in
 *                             x passes the gradient, as PyTorch's
 *                             threshold_backward).
 *   streaming (RELU_NT_NAME): the forward kernel (no streaming store in
 *                             portable C).
 * The including file defines T (float, double) and the names of the kernels it
 * instantiates, RELU_NAME (and RELU_NT_NAME) or RELU_BWD_NAME, and includes
 * this once. */
#include "fastconv/ukernel.h"

#ifdef RELU_NAME
void RELU_NAME(size_t n, const T *x, T *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] < (T)0 ? (T)0 : x[i];
}
#endif

#ifdef RELU_NT_NAME
/* Portable C has no streaming store: RELU_NAME itself. */
void RELU_NT_NAME(size_t n, const T *x, T *y) { RELU_NAME(n, x, y); }
#endif

#ifdef RELU_BWD_NAME
void RELU_BWD_NAME(size_t n, const T *gy, const T *x, T *gx) {
  for (size_t i = 0; i < n; i++) gx[i] = x[i] <= (T)0 ? (T)0 : gy[i];
}
#endif
