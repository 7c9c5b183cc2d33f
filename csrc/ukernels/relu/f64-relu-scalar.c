/* f64 ReLU microkernel, portable C: y[i] = x[i] < 0 ? 0 : x[i] for i < n, so
 * NaN passes through. y may equal x; no alignment assumed. */
#include "fastconv/ukernel.h"

void fc_f64_relu_ukernel__scalar(size_t n, const double *x, double *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0 ? 0.0 : x[i];
}
