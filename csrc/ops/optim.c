/* ==== optimizer updates ==================================================
 * Keras' Adam step, fused into one pass over the parameter, gradient and both
 * moment arrays (NumPy needs about ten passes with temporaries):
 *   m += (g - m) * (1 - beta_1);  v += (g*g - v) * (1 - beta_2)
 *   p -= alpha * m / (sqrt(v) + epsilon)
 * with alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) from the caller.
 * The step itself is the table's Adam microkernel (sqrt and division bound
 * it, so the SIMD width matters); threaded over chunks. */
#include "internal.h"

enum { FC_ADAM_CHUNK = 1 << 15 };

#define FC_DEFINE_ADAM(dtype, T)                                                                \
  typedef struct {                                                                              \
    fc_##dtype##_adam_ukernel fn;                                                               \
    fc_##dtype##_adam_params c;                                                                 \
    T *p, *m, *v;                                                                               \
    const T *g;                                                                                 \
    int64_t n;                                                                                  \
  } fc_##dtype##_adam_ctx;                                                                      \
                                                                                                \
  static void fc_##dtype##_adam_tasks(void *arg, int tid, int64_t t0, int64_t t1) {             \
    (void)tid;                                                                                  \
    const fc_##dtype##_adam_ctx *a = arg;                                                       \
    const int64_t i0 = t0 * FC_ADAM_CHUNK, i1 = fc_min64(a->n, t1 * FC_ADAM_CHUNK);             \
    a->fn((size_t)(i1 - i0), a->p + i0, a->g + i0, a->m + i0, a->v + i0, &a->c);                \
  }                                                                                             \
                                                                                                \
  int fc_##dtype##_adam_update(int64_t n, T *p, const T *g, T *m, T *v, double alpha,          \
                               double beta_1, double beta_2, double epsilon) {                 \
    if (n < 0) return FC_EINVAL;                                                                \
    fc_##dtype##_adam_ctx a = {fc_table()->dtype##_adam,                                        \
                               {(T)alpha, (T)(1.0 - beta_1), (T)(1.0 - beta_2), (T)epsilon},    \
                               p, m, v, g, n};                                                  \
    const int64_t ntasks = fc_ceil_div(n, FC_ADAM_CHUNK);                                       \
    const int nt = fc_threads_for(FC_NS_BYTES(28 * n), ntasks);                                 \
    return fc_parallel_for(nt, ntasks, 0, fc_##dtype##_adam_tasks, &a);                         \
  }

FC_DEFINE_ADAM(f32, float)
FC_DEFINE_ADAM(f64, double)
