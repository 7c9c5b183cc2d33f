/* Template of a model's inference pass in one call (fc_*_forward), and of
 * that pass over batches across threads (fc_*_forward_batches), for one dtype.
 * Runs a chain of steps (fastconv.h: fc_step) on n samples: each step calls
 * the op's own entry point (conv2d, the fused conv+pool, max_pool2d, dense)
 * with the arguments the model layer would pass it, then the activation, so
 * the chain's bits are the layer-by-layer bits. Intermediate outputs alternate
 * in the caller's scratch: even steps write its first part, odd steps the
 * rest; the last step writes y.
 *
 * Included once by f32-forward.c and by f64-forward.c, which define the entry
 * points' full names FORWARD (fc_f32_forward, fc_f64_forward) and
 * FORWARD_BATCHES (fc_f32_forward_batches, ...), T (float, double), the ops'
 * entry points the steps call, CONV2D, CONV2D_MAXPOOL, MAX_POOL2D, DENSE,
 * RELU and SOFTMAX (fc_f32_conv2d, ...), the packed dense kernel's
 * DENSE_PACKED_ELEMS, DENSE_PACK_KERNEL and DENSE_PACKED (internal.h:
 * fc_f32_dense_packed_elems, ...), and LOCAL(x), the static helpers' names
 * (fc_f32_##x, fc_f64_##x). The chain's checks and sizes, which do not
 * depend on the dtype, are in forward-chain.h; the scratch sizes in forward.c. */
#include <string.h>
#include "forward-chain.h"

/* A dense step's kernel packed once for a whole pass over batches
 * (pack_kernels), or w NULL: the step calls DENSE itself. */
typedef struct {
  T *w;
  int variant;
} LOCAL(packed);

static int LOCAL(step)(int64_t n, const fc_step *s, const LOCAL(packed) *pk, const T *src,
                       T *dst) {
  int64_t in, out, last;
  fc_step_sizes(s, &in, &out, &last);
  fc_conv2d_params p = s->conv;
  fc_pool2d_params q = s->pool;
  p.n = q.n = n;
  int st;
  switch (s->op) {
    case FC_STEP_CONV2D:
      st = CONV2D(&p, src, s->weight, s->bias, dst);
      break;
    case FC_STEP_CONV2D_MAXPOOL:
      st = CONV2D_MAXPOOL(&p, &q, src, s->weight, s->bias, dst, NULL);
      break;
    case FC_STEP_MAXPOOL: st = MAX_POOL2D(&q, src, dst, NULL); break;
    case FC_STEP_DENSE:
      st = pk && pk->w ? DENSE_PACKED(n * s->rows, s->k, s->m, src, s->weight, pk->w, pk->variant,
                                      s->bias, dst)
                       : DENSE(n * s->rows, s->k, s->m, src, s->weight, s->bias, dst);
      break;
    default: /* FC_STEP_ACTIVATION: the activation below reads src */
      st = FC_OK;
      break;
  }
  if (st != FC_OK) return st;
  const T *a = s->op == FC_STEP_ACTIVATION ? src : dst;
  switch (s->act) {
    case FC_ACT_RELU: return RELU(n * out, a, dst);
    case FC_ACT_SOFTMAX: return SOFTMAX(n * out / last, last, a, dst);
    default:
      if (a != dst) memcpy(dst, a, (size_t)(n * out) * sizeof(T));
      return FC_OK;
  }
}

/* FORWARD, with step i's kernel packed in packs[i] where packs (may be NULL) has it. */
static int LOCAL(chain)(int64_t n, int n_steps, const fc_step *steps, const LOCAL(packed) *packs,
                        const T *x, T *y, T *scratch, int64_t scratch_elems) {
  int64_t first, final, half[2];
  const int64_t need = fc_chain_scratch(n, n_steps, steps, &first, &final, half);
  if (need == -2) return FC_EOVERFLOW;
  if (need < 0 || scratch_elems < need || (need > 0 && !scratch)) return FC_EINVAL;
  for (int i = 0; i < n_steps; i++)
    if (!steps[i].weight && (steps[i].op == FC_STEP_CONV2D ||
                             steps[i].op == FC_STEP_CONV2D_MAXPOOL ||
                             steps[i].op == FC_STEP_DENSE))
      return FC_EINVAL;
  if (n == 0) return FC_OK;
  const T *src = x;
  for (int i = 0; i < n_steps; i++) {
    T *dst = i == n_steps - 1 ? y : scratch + (i % 2) * n * half[0];
    const int st = LOCAL(step)(n, &steps[i], packs ? &packs[i] : NULL, src, dst);
    if (st != FC_OK) return st;
    src = dst;
  }
  return FC_OK;
}

int FORWARD(int64_t n, int n_steps, const fc_step *steps, const T *x, T *y, T *scratch,
            int64_t scratch_elems) {
  return LOCAL(chain)(n, n_steps, steps, NULL, x, y, scratch, scratch_elems);
}

/* The dense steps' kernels packed for a pass over batches of `batch` samples
 * (n in all), one allocation each: for the dense steps that run the GEMM on a
 * full batch, when there are at least FC_FORWARD_PACK_MIN_BATCHES batches to
 * repay the packing (a pass over the kernel, as each batch's product makes).
 * NULL entries, or NULL, where nothing is packed: too few batches, a kernel
 * over FC_FORWARD_PACK_MAX_BYTES (not copied for a pass), no memory (those
 * steps then call DENSE, as they would anyway), or plan-only mode, where the
 * drivers touch no array. */
#define FC_FORWARD_PACK_MAX_BYTES ((int64_t)64 << 20)
static LOCAL(packed) *LOCAL(pack_kernels)(int64_t n, int64_t batch, int n_steps,
                                          const fc_step *steps) {
  if (fc_ceil_div(n, batch) < FC_FORWARD_PACK_MIN_BATCHES || fc_plan_only(-1)) return NULL;
  LOCAL(packed) *packs = NULL;
  for (int i = 0; i < n_steps; i++) {
    const fc_step *s = &steps[i];
    int64_t rows;
    int variant;
    if (s->op != FC_STEP_DENSE || !s->weight || !fc_mul(batch, s->rows, &rows) ||
        rows <= FC_DENSE_GEMV_MAX_BATCH)
      continue;
    const int64_t elems = DENSE_PACKED_ELEMS(rows, s->k, s->m, &variant);
    if (elems < 1 || elems > FC_FORWARD_PACK_MAX_BYTES / (int64_t)sizeof(T)) continue;
    if (!packs) packs = calloc((size_t)n_steps, sizeof *packs);
    T *w = packs ? fc_alloc((size_t)elems * sizeof(T)) : NULL;
    if (!w) continue;
    DENSE_PACK_KERNEL(s->k, s->m, s->weight, variant, w);
    packs[i] = (LOCAL(packed)){w, variant};
  }
  return packs;
}

static void LOCAL(free_packs)(LOCAL(packed) *packs, int n_steps) {
  for (int i = 0; packs && i < n_steps; i++) free(packs[i].w);
  free(packs);
}

/* fc_*_forward_batches' region: each thread takes the next batch until none
 * is left, in its own part of the scratch; the ops inside a region run on
 * their thread alone (fc_parallel), to the same bits as at any thread count. */
typedef struct {
  int n_steps;
  const fc_step *steps;
  const LOCAL(packed) *packs; /* pack_kernels' (may be NULL) */
  int64_t n, batch, in_el, out_el, per_thread;
  const T *x;
  T *y, *scratch;
  atomic_int status;
} LOCAL(batches_ctx);

static void LOCAL(batches_tasks)(void *arg, int tid, int64_t b0, int64_t b1) {
  LOCAL(batches_ctx) *c = arg;
  for (int64_t b = b0; b < b1 && atomic_load(&c->status) == FC_OK; b++) {
    const int64_t i0 = b * c->batch, m = fc_min64(c->batch, c->n - i0);
    const int st = LOCAL(chain)(m, c->n_steps, c->steps, c->packs, c->x + i0 * c->in_el,
                                c->y + i0 * c->out_el, c->scratch + (int64_t)tid * c->per_thread,
                                c->per_thread);
    if (st != FC_OK) {
      int ok = FC_OK;
      atomic_compare_exchange_strong(&c->status, &ok, st);
    }
  }
}

int FORWARD_BATCHES(int64_t n, int64_t batch, int n_steps, const fc_step *steps, const T *x,
                    T *y, T *scratch, int64_t scratch_elems) {
  int64_t first, final, half[2];
  if (n < 0 || batch < 1) return FC_EINVAL;
  const int64_t need = fc_forward_batches_scratch_elems(n, batch, n_steps, steps);
  if (need == -2) return FC_EOVERFLOW;
  if (need < 0 || scratch_elems < need || (need > 0 && !scratch)) return FC_EINVAL;
  if (n == 0) return FC_OK;
  fc_chain_scratch(1, n_steps, steps, &first, &final, half);
  const int nt = fc_batches_threads(n, batch, n_steps, steps);
  LOCAL(packed) *packs = LOCAL(pack_kernels)(n, batch, n_steps, steps);
  LOCAL(batches_ctx) c = {n_steps, steps, packs, n, batch, first, final, need / nt, x, y, scratch,
                          FC_OK};
  const int r = fc_parallel_for(nt, fc_ceil_div(n, batch), 1, LOCAL(batches_tasks), &c);
  LOCAL(free_packs)(packs, n_steps);
  return r != FC_OK ? r : atomic_load(&c.status);
}
