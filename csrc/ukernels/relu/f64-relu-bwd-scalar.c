/* f64 ReLU-gradient microkernel, portable C: gx[i] = x[i] <= 0 ? 0 : gy[i] for
 * i < n (NaN in x passes the gradient, as PyTorch's threshold_backward). gx may equal gy
 * or x; no alignment assumed. */
#include "fastconv/ukernel.h"

void fc_f64_relu_bwd_ukernel__scalar(size_t n, const double *gy, const double *x, double *gx) {
  for (size_t i = 0; i < n; i++) gx[i] = x[i] <= 0.0 ? 0.0 : gy[i];
}
