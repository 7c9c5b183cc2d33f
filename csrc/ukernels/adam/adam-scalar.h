/* Template of the portable-C Adam microkernel, for one dtype: one Keras Adam
 * step of n elements,
 *   m += (g - m) * c1;  v += (g*g - v) * c2;  p -= a * m / (sqrt(v) + eps)
 * (c1 = 1 - beta_1, c2 = 1 - beta_2, a = lr with the bias correction), in
 * exactly this order of IEEE operations: the SIMD variants do the same
 * operations lane by lane (no FMA contraction: CMake compiles every .c file in
 * ukernels/adam/ with -ffp-contract=off, so include this only from there), so
 * every ISA gives the same bits. A new moment below the smallest normal number
 * in magnitude is stored as +0: a moment that decays geometrically (its
 * gradient stays zero, as for a dead unit) would otherwise sit among the
 * subnormals for hundreds of steps, where every operation on it can cost a
 * hundred times a normal one, while a step a*m/(sqrt(v) + eps) that small
 * (< 1e-34 in f32) moves no weight. TensorFlow's CPU kernels flush subnormals
 * too. p, g, m, v distinct.
 *
 * The including file defines NAME, T (float, double), PARAMS
 * (fc_f32_adam_params, fc_f64_adam_params), and the dtype's ABS (fabsf, fabs),
 * SQRT (sqrtf, sqrt) and TINY (FLT_MIN, DBL_MIN), and includes this once. */
#include <float.h>
#include <math.h>
#include "fastconv/ukernel.h"

void NAME(size_t n, T *restrict p, const T *restrict g, T *restrict m, T *restrict v,
          const PARAMS *c) {
  const T a = c->a, c1 = c->c1, c2 = c->c2, eps = c->eps;
  for (size_t i = 0; i < n; i++) {
    const T gi = g[i];
    T mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;
    if (ABS(mi) < TINY) mi = 0; /* subnormal moments flushed (see above) */
    if (ABS(vi) < TINY) vi = 0;
    m[i] = mi;
    v[i] = vi;
    p[i] -= a * mi / (SQRT(vi) + eps);
  }
}
