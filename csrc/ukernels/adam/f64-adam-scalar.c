/* f64 Adam microkernel, portable C: the f32 kernel's step (see
 * f32-adam-scalar.c) in double. p, g, m, v distinct. */
#include <float.h>
#include <math.h>
#include "fastconv/ukernel.h"

void fc_f64_adam_ukernel__scalar(size_t n, double *restrict p, const double *restrict g,
                                 double *restrict m, double *restrict v,
                                 const fc_f64_adam_params *c) {
  const double a = c->a, c1 = c->c1, c2 = c->c2, eps = c->eps;
  for (size_t i = 0; i < n; i++) {
    const double gi = g[i];
    double mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;
    if (fabs(mi) < DBL_MIN) mi = 0; /* subnormal moments flushed (see the f32 kernel) */
    if (fabs(vi) < DBL_MIN) vi = 0;
    m[i] = mi;
    v[i] = vi;
    p[i] -= a * mi / (sqrt(vi) + eps);
  }
}
