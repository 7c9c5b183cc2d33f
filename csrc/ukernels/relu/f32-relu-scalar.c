/* f32 ReLU microkernel, portable C: y[i] = x[i] < 0 ? 0 : x[i] for i < n, so
 * NaN passes through. y may equal x; no alignment assumed. */
#include "fastconv/ukernel.h"

void fc_f32_relu_ukernel__scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
