/* Template of the relu driver, forward and backward, for one dtype: splits the
 * arrays into chunks of whole cache lines and runs the table's microkernel on
 * each, in parallel above the serial threshold.
 *
 * Included once by f32-relu.c and by f64-relu.c, which define the entry
 * points' full names RELU (fc_f32_relu, fc_f64_relu), RELU_BACKWARD
 * (fc_f32_relu_backward, ...) and RELU_PLAN (fc_f32_relu_plan, ...), T (float,
 * double), the microkernel types UNARY_UKERNEL and BINARY_UKERNEL
 * (fc_f32_unary_ukernel, fc_f32_binary_ukernel, ...) and the table's members
 * TABLE_RELU, TABLE_RELU_NT and TABLE_RELU_BWD (f32_relu, f32_relu_nt,
 * f32_relu_bwd, ...), and LOCAL(x),
 * the static helpers' names (fc_f32_##x, fc_f64_##x). */
#include "internal.h"

enum { FC_RELU_CHUNK = 1 << 16 }; /* elements per task: 256-512 KiB */

/* Whether a pass that reads and writes `bytes` in all should store past the
 * caches: when it spans more than twice the last-level cache it may count on
 * (fc_cpu_llc_bytes), its output cannot stay there for the next op anyway, and
 * streaming stores skip reading each line before writing it. (AMD EPYC Zen 4,
 * 32 MiB L3: relu of 16M float32, 128 MiB a pass, into a given output: 4.0 ->
 * 2.8 ms at 1 thread, 3.1 -> 2.4 ms at 2. Passes nearer the cache's size,
 * repeated, keep part of their arrays in it, which streaming stores give up:
 * 5M, 40 MiB, went 0.81 -> 0.71 ms at 1 thread but 0.43 -> 0.71 ms at 2; they
 * keep plain stores. Intel Xeon Emerald Rapids, 2 vCPUs told of a 260 MiB L3,
 * counted as 32 MiB: the microkernel alone over 16M float32 at 1 thread, 15.0
 * -> 8.4 ms.) */
static int fc_relu_streams(int64_t bytes) {
  const int64_t llc = fc_cpu_llc_bytes();
  return llc > 0 && bytes / 2 > llc;
}

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

/* The forward kernel a pass over n elements runs. (The backward pass keeps its
 * plain stores: streaming ones gained nothing there, 16M float32 at 1 thread,
 * and lost 5-10% at 2.) */
static UNARY_UKERNEL LOCAL(relu_kernel)(const fc_ukernel_table *tab, int64_t n) {
  return fc_relu_streams(fc_sat_mul(n, 2 * (int64_t)sizeof(T))) ? tab->TABLE_RELU_NT
                                                                : tab->TABLE_RELU;
}

int RELU_PLAN(int64_t n, int backward, fc_plan *pl) {
  const fc_ukernel_table *tab = fc_table();
  fc_plan_init(pl, tab);
  if (n < 0) return FC_EINVAL;
  if (backward)
    fc_relu_plan_for(n, 3 * (int64_t)sizeof(T), (fc_any_ukernel)tab->TABLE_RELU_BWD, pl);
  else
    fc_relu_plan_for(n, 2 * (int64_t)sizeof(T), (fc_any_ukernel)LOCAL(relu_kernel)(tab, n), pl);
  fc_plan_name(pl);
  return FC_OK;
}

/* One call's operands: the forward reads a into y (unary, b unused), the
 * backward reads a = gy and b = x into y = gx (binary). */
typedef struct {
  UNARY_UKERNEL unary;
  BINARY_UKERNEL binary;
  const T *a, *b;
  T *y;
  int64_t n;
} fc_relu_ctx;

static void LOCAL(relu_span)(const fc_relu_ctx *c, int64_t i0, int64_t i1) {
  if (c->unary)
    c->unary((size_t)(i1 - i0), c->a + i0, c->y + i0);
  else
    c->binary((size_t)(i1 - i0), c->a + i0, c->b + i0, c->y + i0);
}

static void LOCAL(relu_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const fc_relu_ctx *c = arg;
  LOCAL(relu_span)(c, t0 * FC_RELU_CHUNK, fc_min64(c->n, t1 * FC_RELU_CHUNK));
}

/* Plans and runs one pass (bytes: what an element reads and writes). */
static int LOCAL(relu_run)(fc_relu_ctx *c, int64_t bytes, fc_any_ukernel fn) {
  fc_plan pl;
  fc_plan_init(&pl, fc_table());
  if (c->n < 0) return FC_EINVAL;
  fc_relu_plan_for(c->n, bytes, fn, &pl);
  if (fc_record_plan(&pl)) return FC_OK;
  if (pl.threads <= 1) {
    LOCAL(relu_span)(c, 0, c->n);
    return FC_OK;
  }
  return fc_parallel_for(pl.threads, pl.tasks, 0, LOCAL(relu_tasks), c);
}

int RELU(int64_t n, const T *x, T *y) {
  fc_relu_ctx c = {LOCAL(relu_kernel)(fc_table(), n), NULL, x, NULL, y, n};
  return LOCAL(relu_run)(&c, 2 * (int64_t)sizeof(T), (fc_any_ukernel)c.unary);
}

int RELU_BACKWARD(int64_t n, const T *gy, const T *x, T *gx) {
  fc_relu_ctx c = {NULL, fc_table()->TABLE_RELU_BWD, gy, x, gx, n};
  return LOCAL(relu_run)(&c, 3 * (int64_t)sizeof(T), (fc_any_ukernel)c.binary);
}
