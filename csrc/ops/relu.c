/* ==== relu forward and backward ===========================================
 * Splits the arrays into chunks of whole cache lines and runs the table's
 * microkernel on each, in parallel above the serial threshold. */
#include "internal.h"

enum { FC_RELU_CHUNK = 1 << 16 }; /* elements per task: 256-512 KiB */

/* One pass of the table's kernel (bytes: what one element reads and writes),
 * in chunks of FC_RELU_CHUNK over the threads the work is worth. */
static int fc_relu_plan_for(int64_t n, int64_t bytes, fc_any_ukernel fn, fc_plan *pl) {
  pl->algorithm = "elementwise";
  pl->kernel_fn = fn;
  pl->row_block = FC_RELU_CHUNK;
  pl->tasks = fc_ceil_div(n, FC_RELU_CHUNK);
  pl->threads = fc_threads_for(FC_NS_BYTES(fc_sat_mul(bytes, n)), pl->tasks);
  return FC_OK;
}

#define FC_DEFINE_RELU_PLAN(dtype, T)                                                        \
  int fc_##dtype##_relu_plan(int64_t n, int backward, fc_plan *pl) {                        \
    const fc_ukernel_table *tab = fc_table();                                               \
    fc_plan_init(pl, tab);                                                                  \
    if (n < 0) return FC_EINVAL;                                                            \
    if (backward)                                                                           \
      fc_relu_plan_for(n, 3 * (int64_t)sizeof(T), (fc_any_ukernel)tab->dtype##_relu_bwd, pl); \
    else                                                                                    \
      fc_relu_plan_for(n, 2 * (int64_t)sizeof(T), (fc_any_ukernel)tab->dtype##_relu, pl);   \
    fc_plan_name(pl);                                                                       \
    return FC_OK;                                                                           \
  }

FC_DEFINE_RELU_PLAN(f32, float)
FC_DEFINE_RELU_PLAN(f64, double)

#define FC_DEFINE_RELU(dtype, T)                                                           \
  typedef struct {                                                                          \
    fc_##dtype##_unary_ukernel fn;                                                          \
    const T *x;                                                                             \
    T *y;                                                                                   \
    int64_t n;                                                                              \
  } fc_##dtype##_relu_ctx;                                                                  \
                                                                                            \
  static void fc_##dtype##_relu_tasks(void *arg, int tid, int64_t t0, int64_t t1) {         \
    (void)tid;                                                                              \
    const fc_##dtype##_relu_ctx *c = arg;                                                   \
    const int64_t i0 = t0 * FC_RELU_CHUNK, i1 = fc_min64(c->n, t1 * FC_RELU_CHUNK);         \
    c->fn((size_t)(i1 - i0), c->x + i0, c->y + i0);                                         \
  }                                                                                         \
                                                                                            \
  int fc_##dtype##_relu(int64_t n, const T *x, T *y) {                                     \
    const fc_ukernel_table *tab = fc_table();                                               \
    fc_plan pl;                                                                             \
    fc_plan_init(&pl, tab);                                                                 \
    if (n < 0) return FC_EINVAL;                                                            \
    const fc_##dtype##_unary_ukernel fn = tab->dtype##_relu;                                \
    fc_relu_plan_for(n, 2 * (int64_t)sizeof(T), (fc_any_ukernel)fn, &pl);                   \
    if (fc_record_plan(&pl)) return FC_OK;                                                  \
    const int64_t ntasks = pl.tasks;                                                        \
    const int nt = pl.threads;                                                              \
    if (nt <= 1) {                                                                          \
      fn((size_t)n, x, y);                                                                  \
      return FC_OK;                                                                         \
    }                                                                                       \
    fc_##dtype##_relu_ctx c = {fn, x, y, n};                                                \
    return fc_parallel_for(nt, ntasks, 0, fc_##dtype##_relu_tasks, &c);                     \
  }

FC_DEFINE_RELU(f32, float)
FC_DEFINE_RELU(f64, double)

#define FC_DEFINE_RELU_BWD(dtype, T)                                                       \
  typedef struct {                                                                          \
    fc_##dtype##_binary_ukernel fn;                                                         \
    const T *gy, *x;                                                                        \
    T *gx;                                                                                  \
    int64_t n;                                                                              \
  } fc_##dtype##_relu_bwd_ctx;                                                              \
                                                                                            \
  static void fc_##dtype##_relu_bwd_tasks(void *arg, int tid, int64_t t0, int64_t t1) {     \
    (void)tid;                                                                              \
    const fc_##dtype##_relu_bwd_ctx *c = arg;                                               \
    const int64_t i0 = t0 * FC_RELU_CHUNK, i1 = fc_min64(c->n, t1 * FC_RELU_CHUNK);         \
    c->fn((size_t)(i1 - i0), c->gy + i0, c->x + i0, c->gx + i0);                            \
  }                                                                                         \
                                                                                            \
  int fc_##dtype##_relu_backward(int64_t n, const T *gy, const T *x, T *gx) {             \
    const fc_ukernel_table *tab = fc_table();                                               \
    fc_plan pl;                                                                             \
    fc_plan_init(&pl, tab);                                                                 \
    if (n < 0) return FC_EINVAL;                                                            \
    const fc_##dtype##_binary_ukernel fn = tab->dtype##_relu_bwd;                           \
    fc_relu_plan_for(n, 3 * (int64_t)sizeof(T), (fc_any_ukernel)fn, &pl);                   \
    if (fc_record_plan(&pl)) return FC_OK;                                                  \
    const int64_t ntasks = pl.tasks;                                                        \
    const int nt = pl.threads;                                                              \
    if (nt <= 1) {                                                                          \
      fn((size_t)n, gy, x, gx);                                                             \
      return FC_OK;                                                                         \
    }                                                                                       \
    fc_##dtype##_relu_bwd_ctx c = {fn, gy, x, gx, n};                                       \
    return fc_parallel_for(nt, ntasks, 0, fc_##dtype##_relu_bwd_tasks, &c);                 \
  }

FC_DEFINE_RELU_BWD(f32, float)
FC_DEFINE_RELU_BWD(f64, double)
