/* Template of the optimizer update drivers for one dtype. Keras' Adam step,
 * fused into one pass over the parameter, gradient and both moment arrays
 * (NumPy needs about ten passes with temporaries):
 *   m += (g - m) * (1 - beta_1);  v += (g*g - v) * (1 - beta_2)
 *   p -= alpha * m / (sqrt(v) + epsilon)
 * with alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) from the caller.
 * The step itself is the table's Adam microkernel (sqrt and division bound
 * it, so the SIMD width matters); threaded over chunks.
 *
 * Included once by f32-optim.c and by f64-optim.c, which define the entry
 * point's full name ADAM_UPDATE (fc_f32_adam_update, fc_f64_adam_update), T
 * (float, double), the microkernel's types ADAM_UKERNEL and ADAM_PARAMS
 * (fc_f32_adam_ukernel, fc_f32_adam_params, ...), the table's member
 * TABLE_ADAM (f32_adam, f64_adam) and LOCAL(x), the static helpers' names
 * (fc_f32_##x, fc_f64_##x). */
#include "internal.h"

enum { FC_ADAM_CHUNK = 1 << 15 };

typedef struct {
  ADAM_UKERNEL fn;
  ADAM_PARAMS c;
  T *p, *m, *v;
  const T *g;
  int64_t n;
} fc_adam_ctx;

static void LOCAL(adam_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const fc_adam_ctx *a = arg;
  const int64_t i0 = t0 * FC_ADAM_CHUNK, i1 = fc_min64(a->n, t1 * FC_ADAM_CHUNK);
  a->fn((size_t)(i1 - i0), a->p + i0, a->g + i0, a->m + i0, a->v + i0, &a->c);
}

int ADAM_UPDATE(int64_t n, T *p, const T *g, T *m, T *v, double alpha, double beta_1,
                double beta_2, double epsilon) {
  if (n < 0) return FC_EINVAL;
  fc_adam_ctx a = {fc_table()->TABLE_ADAM,
                   {(T)alpha, (T)(1.0 - beta_1), (T)(1.0 - beta_2), (T)epsilon},
                   p, m, v, g, n};
  const int64_t ntasks = fc_ceil_div(n, FC_ADAM_CHUNK);
  const int nt = fc_threads_for(FC_NS_BYTES(28 * n), ntasks);
  return fc_parallel_for(nt, ntasks, 0, LOCAL(adam_tasks), &a);
}
