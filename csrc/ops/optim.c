/* ==== optimizer updates ==================================================
 * Keras' Adam step, fused into one pass over the parameter, gradient and both
 * moment arrays (NumPy needs about ten passes with temporaries):
 *   m += (g - m) * (1 - beta_1);  v += (g*g - v) * (1 - beta_2)
 *   p -= alpha * m / (sqrt(v) + epsilon)
 * with alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) from the caller.
 * The step itself is the table's Adam microkernel (sqrt and division bound
 * it, so the SIMD width matters); threaded over chunks. */
#include "internal.h"

#define FC_DEFINE_ADAM(dtype, T)                                                                \
  int fc_##dtype##_adam_update(int64_t n, T *p, const T *g, T *m, T *v, double alpha,          \
                               double beta_1, double beta_2, double epsilon) {                 \
    if (n < 0) return FC_EINVAL;                                                                \
    const fc_##dtype##_adam_params c = {(T)alpha, (T)(1.0 - beta_1), (T)(1.0 - beta_2),         \
                                        (T)epsilon};                                            \
    const fc_##dtype##_adam_ukernel fn = fc_table()->dtype##_adam;                              \
    const int64_t chunk = 1 << 15, ntasks = fc_ceil_div(n, chunk);                              \
    FC_MAYBE_UNUSED const int nt = fc_threads_for(FC_NS_BYTES(28 * n), ntasks);                 \
    _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1)")                    \
    for (int64_t t = 0; t < ntasks; t++) {                                                      \
      const int64_t i0 = t * chunk, i1 = fc_min64(n, i0 + chunk);                               \
      fn((size_t)(i1 - i0), p + i0, g + i0, m + i0, v + i0, &c);                                \
    }                                                                                           \
    return FC_OK;                                                                               \
  }

FC_DEFINE_ADAM(f32, float)
FC_DEFINE_ADAM(f64, double)
