/* f32 Adam microkernel, portable C: one Keras Adam step of n elements,
 *   m += (g - m) * c1;  v += (g*g - v) * c2;  p -= a * m / (sqrt(v) + eps)
 * (c1 = 1 - beta_1, c2 = 1 - beta_2, a = lr with the bias correction), in
 * exactly this order of IEEE operations: the SIMD variants do the same
 * operations lane by lane (no FMA contraction), so every ISA gives the same
 * bits. A new moment below the smallest normal number in magnitude is stored
 * as +0: a moment that decays geometrically (its gradient stays zero, as for a
 * dead unit) would otherwise sit among the subnormals for hundreds of steps,
 * where every operation on it can cost a hundred times a normal one, while a
 * step a*m/(sqrt(v) + eps) that small (< 1e-34 here) moves no weight.
 * TensorFlow's CPU kernels flush subnormals too. p, g, m, v distinct. */
#include <float.h>
#include <math.h>
#include "fastconv/ukernel.h"

void fc_f32_adam_ukernel__scalar(size_t n, float *restrict p, const float *restrict g,
                                 float *restrict m, float *restrict v, const fc_f32_adam_params *c) {
  const float a = c->a, c1 = c->c1, c2 = c->c2, eps = c->eps;
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    float mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;
    if (fabsf(mi) < FLT_MIN) mi = 0; /* subnormal moments flushed (see the f32 kernel) */
    if (fabsf(vi) < FLT_MIN) vi = 0;
    m[i] = mi;
    v[i] = vi;
    p[i] -= a * mi / (sqrtf(vi) + eps);
  }
}
