/* Template of the portable-C Adam microkernel, for one dtype: one Keras Adam
 * step of n elements,
 *   m += (g - m) * c1;  v += (g*g - v) * c2;  p -= a * m / (sqrt(v) + eps)
 * (c1 = 1 - beta_1, c2 = 1 - beta_2, a = lr with the bias correction), in
 * exactly this order of IEEE operations: the SIMD variants do the same
 * operations lane by lane (no FMA contraction: CMake compiles every .c file in
 * ukernels/adam/ with -ffp-contract=off, so include this only from there), so
 * every ISA gives the same bits. A new moment below TINY = 2^26 times the
 * smallest normal number in magnitude (2^-100 in f32, 2^-996 in f64) is
 * stored as +0. A moment that decays geometrically (its gradient stays zero,
 * as for a dead unit) would otherwise pass through values whose products with
 * c1, c2 and a are subnormal (m * 0.1 below 2^-126, a * m for the last ~70
 * steps above FLT_MIN at a = 1e-3, and then the subnormal m itself), where
 * every such operation costs the core a microcode assist of a hundred cycles
 * or more: measured on an Intel Xeon (Emerald Rapids), a training step of the
 * lecture's model at twice its time while its dead units' moments crossed
 * that range. Above TINY, a product with any factor >= 2^-26 (c1, c2, a: a
 * learning rate above ~1.5e-8) stays normal. A step a*m/(sqrt(v) + eps) with
 * m < 2^-100 (< 8e-27 in f32 at Keras' defaults) moves no weight above 1e-18
 * in magnitude; and where sqrt(v) < 2^-50 (v < TINY) it is already below half
 * an ulp of eps = 1e-7, so flushing v changes no step at Keras' defaults.
 * TensorFlow's CPU kernels flush subnormals. p, g, m, v distinct.
 *
 * The including file defines NAME, T (float, double), PARAMS
 * (fc_f32_adam_params, fc_f64_adam_params), and the dtype's ABS (fabsf, fabs),
 * SQRT (sqrtf, sqrt) and TINY (FC_F32_ADAM_FLOOR, FC_F64_ADAM_FLOOR: ukernel.h), and
 * includes this once. */
#include <math.h>
#include "fastconv/ukernel.h"

void NAME(size_t n, T *restrict p, const T *restrict g, T *restrict m, T *restrict v,
          const PARAMS *c) {
  const T a = c->a, c1 = c->c1, c2 = c->c2, eps = c->eps;
  for (size_t i = 0; i < n; i++) {
    const T gi = g[i];
    T mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;
    if (ABS(mi) < TINY) mi = 0; /* tiny moments flushed (see above) */
    if (ABS(vi) < TINY) vi = 0;
    m[i] = mi;
    v[i] = vi;
    p[i] -= a * mi / (SQRT(vi) + eps);
  }
}
