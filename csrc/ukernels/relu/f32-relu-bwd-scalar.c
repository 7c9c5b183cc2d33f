/* f32 ReLU-gradient microkernel, portable C: gx[i] = x[i] <= 0 ? 0 : gy[i] for
 * i < n (NaN in x passes the gradient, as PyTorch's threshold_backward). gx may equal gy
 * or x; no alignment assumed. */
#include "fastconv/ukernel.h"

void fc_f32_relu_bwd_ukernel__scalar(size_t n, const float *gy, const float *x, float *gx) {
  for (size_t i = 0; i < n; i++) gx[i] = x[i] <= 0.0f ? 0.0f : gy[i];
}
