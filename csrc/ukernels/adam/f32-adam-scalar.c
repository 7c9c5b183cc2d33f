/* f32 Adam microkernel, portable C: one Keras Adam step of n elements,
 *   m += (g - m) * c1;  v += (g*g - v) * c2;  p -= a * m / (sqrt(v) + eps)
 * (c1 = 1 - beta_1, c2 = 1 - beta_2, a = lr with the bias correction), in
 * exactly this order of IEEE operations: the SIMD variants do the same
 * operations lane by lane (no FMA contraction), so every ISA gives the same
 * bits. p, g, m, v distinct. */
#include <math.h>
#include "fastconv/ukernel.h"

void fc_f32_adam_ukernel__scalar(size_t n, float *restrict p, const float *restrict g,
                                 float *restrict m, float *restrict v, const fc_f32_adam_params *c) {
  const float a = c->a, c1 = c->c1, c2 = c->c2, eps = c->eps;
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = mi;
    v[i] = vi;
    p[i] -= a * mi / (sqrtf(vi) + eps);
  }
}
