/* ==== a model's inference pass in one call ====================================
 * Runs a chain of steps (fastconv.h: fc_step) on n samples: each step calls
 * the op's own entry point (conv2d, the fused conv+pool, max_pool2d, dense)
 * with the arguments the model layer would pass it, then the activation, so
 * the chain's bits are the layer-by-layer bits. Intermediate outputs alternate
 * in the caller's scratch: even steps write its first part, odd steps the
 * rest; the last step writes y. */
#include <string.h>
#include "internal.h"

/* Per-sample input and output elements of a step and the length of the axis
 * its softmax runs along; 0 if its parameters are invalid. */
static int fc_step_sizes(const fc_step *s, int64_t *in, int64_t *out, int64_t *last) {
  const fc_conv2d_params *p = &s->conv;
  const fc_pool2d_params *q = &s->pool;
  int64_t a[4];
  switch (s->op) {
    case FC_STEP_CONV2D:
    case FC_STEP_CONV2D_MAXPOOL:
      if (p->layout != FC_NHWC || p->c < 1 || p->k < 1 || p->h < 0 || p->w < 0) return 0;
      a[0] = p->h, a[1] = p->w, a[2] = p->c, *in = fc_prod(3, a);
      if (s->op == FC_STEP_CONV2D) {
        a[0] = p->oh, a[1] = p->ow, a[2] = p->k;
      } else {
        if (q->layout != FC_NHWC || q->c != p->k || q->h != p->oh || q->w != p->ow) return 0;
        a[0] = q->oh, a[1] = q->ow, a[2] = p->k;
      }
      *out = fc_prod(3, a), *last = p->k;
      break;
    case FC_STEP_MAXPOOL:
      if (q->layout != FC_NHWC || q->c < 1) return 0;
      a[0] = q->h, a[1] = q->w, a[2] = q->c, *in = fc_prod(3, a);
      a[0] = q->oh, a[1] = q->ow, *out = fc_prod(3, a), *last = q->c;
      break;
    case FC_STEP_DENSE:
      if (s->rows < 0 || s->k < 0 || s->m < 1) return 0;
      a[0] = s->rows, a[1] = s->k, *in = fc_prod(2, a);
      a[1] = s->m, *out = fc_prod(2, a), *last = s->m;
      break;
    case FC_STEP_ACTIVATION:
      if (s->rows < 0 || s->m < 1) return 0;
      a[0] = s->rows, a[1] = s->m, *in = *out = fc_prod(2, a), *last = s->m;
      break;
    default: return 0;
  }
  return *in >= 0 && *out >= 0 &&
         (s->act == FC_ACT_LINEAR || s->act == FC_ACT_RELU || s->act == FC_ACT_SOFTMAX);
}

/* Checks the chain; the per-sample sizes of its input and output and of the
 * widest output of an even and of an odd step before the last (the two
 * scratch halves: step i writes half i % 2). -1 if inconsistent. */
static int64_t fc_chain(int n_steps, const fc_step *steps, int64_t *first, int64_t *final,
                        int64_t half[2]) {
  if (n_steps < 1 || !steps) return -1;
  int64_t prev = -1, in, out, last;
  half[0] = half[1] = 0;
  for (int i = 0; i < n_steps; i++) {
    if (!fc_step_sizes(&steps[i], &in, &out, &last)) return -1;
    if (i == 0) *first = in;
    else if (in != prev) return -1;
    if (i < n_steps - 1) half[i % 2] = fc_max64(half[i % 2], out);
    prev = out;
  }
  *final = prev;
  return 0;
}

/* fc_chain for n samples: the scratch elements it needs, -1 if inconsistent,
 * -2 on overflow. */
static int64_t fc_chain_scratch(int64_t n, int n_steps, const fc_step *steps, int64_t *first,
                                int64_t *final, int64_t half[2]) {
  int64_t t;
  if (n < 0 || fc_chain(n_steps, steps, first, final, half) < 0) return -1;
  if (!fc_mul(*first, n, &t) || !fc_mul(*final, n, &t) || half[0] > INT64_MAX - half[1] ||
      !fc_mul(half[0] + half[1], n, &t))
    return -2;
  return t;
}

/* Multiply-adds of one sample through the chain (a work estimate; saturates). */
static int64_t fc_chain_macs(int n_steps, const fc_step *steps) {
  int64_t macs = 0;
  for (int i = 0; i < n_steps; i++) {
    const fc_step *s = &steps[i];
    const fc_conv2d_params *p = &s->conv;
    if (s->op == FC_STEP_CONV2D || s->op == FC_STEP_CONV2D_MAXPOOL)
      macs = fc_sat_add(macs, fc_sat_mul(fc_sat_mul(p->oh * p->ow, p->k),
                                         fc_sat_mul(p->c / (p->groups > 0 ? p->groups : 1), p->r * p->s)));
    else if (s->op == FC_STEP_DENSE)
      macs = fc_sat_add(macs, fc_sat_mul(fc_sat_mul(s->rows, s->k), s->m));
  }
  return macs;
}

/* How many threads fc_*_forward_batches runs n samples on, in batches of
 * `batch`: one per batch up to the thread count, when the work is worth it. */
static int fc_batches_threads(int64_t n, int64_t batch, int n_steps, const fc_step *steps) {
  if (batch < 1 || n <= batch) return 1;
  const int64_t work = FC_NS_FLOPS(fc_sat_mul(2 * fc_chain_macs(n_steps, steps), n));
  return fc_threads_for(work, fc_ceil_div(n, batch));
}

int64_t fc_forward_batches_scratch_elems(int64_t n, int64_t batch, int n_steps,
                                         const fc_step *steps) {
  if (n < 0 || batch < 1) return -1;
  int64_t first, final, half[2];
  const int64_t one = fc_chain_scratch(fc_min64(n, batch), n_steps, steps, &first, &final, half);
  if (one < 0) return one;
  const int64_t nt = fc_batches_threads(n, batch, n_steps, steps);
  int64_t t;
  return fc_mul(one, nt, &t) ? t : -2;
}

int64_t fc_forward_scratch_elems(int64_t n, int n_steps, const fc_step *steps,
                                 int64_t *in_elems, int64_t *out_elems) {
  int64_t first, final, half[2];
  const int64_t need = fc_chain_scratch(n, n_steps, steps, &first, &final, half);
  if (need >= 0 && in_elems) *in_elems = first;
  if (need >= 0 && out_elems) *out_elems = final;
  return need;
}

#define FC_DEFINE_FORWARD(dtype, T)                                                        \
  static int fc_##dtype##_step(int64_t n, const fc_step *s, const T *src, T *dst) {        \
    int64_t in, out, last;                                                                  \
    fc_step_sizes(s, &in, &out, &last);                                                     \
    fc_conv2d_params p = s->conv;                                                           \
    fc_pool2d_params q = s->pool;                                                           \
    p.n = q.n = n;                                                                          \
    int st;                                                                                 \
    switch (s->op) {                                                                        \
      case FC_STEP_CONV2D:                                                                  \
        st = fc_##dtype##_conv2d(&p, src, s->weight, s->bias, dst);                         \
        break;                                                                              \
      case FC_STEP_CONV2D_MAXPOOL:                                                          \
        st = fc_##dtype##_conv2d_maxpool(&p, &q, src, s->weight, s->bias, dst, NULL);       \
        break;                                                                              \
      case FC_STEP_MAXPOOL: st = fc_##dtype##_max_pool2d(&q, src, dst, NULL); break;        \
      case FC_STEP_DENSE:                                                                   \
        st = fc_##dtype##_dense(n * s->rows, s->k, s->m, src, s->weight, s->bias, dst);     \
        break;                                                                              \
      default: /* FC_STEP_ACTIVATION: the activation below reads src */                     \
        st = FC_OK;                                                                         \
        break;                                                                              \
    }                                                                                       \
    if (st != FC_OK) return st;                                                             \
    const T *a = s->op == FC_STEP_ACTIVATION ? src : dst;                                   \
    switch (s->act) {                                                                       \
      case FC_ACT_RELU: return fc_##dtype##_relu(n * out, a, dst);                          \
      case FC_ACT_SOFTMAX: return fc_##dtype##_softmax(n * out / last, last, a, dst);       \
      default:                                                                              \
        if (a != dst) memcpy(dst, a, (size_t)(n * out) * sizeof(T));                        \
        return FC_OK;                                                                       \
    }                                                                                       \
  }                                                                                         \
                                                                                            \
  int fc_##dtype##_forward(int64_t n, int n_steps, const fc_step *steps, const T *x, T *y,  \
                           T *scratch, int64_t scratch_elems) {                             \
    int64_t first, final, half[2];                                                          \
    const int64_t need = fc_chain_scratch(n, n_steps, steps, &first, &final, half);         \
    if (need == -2) return FC_EOVERFLOW;                                                    \
    if (need < 0 || scratch_elems < need || (need > 0 && !scratch)) return FC_EINVAL;       \
    for (int i = 0; i < n_steps; i++)                                                       \
      if (!steps[i].weight && (steps[i].op == FC_STEP_CONV2D ||                             \
                               steps[i].op == FC_STEP_CONV2D_MAXPOOL ||                     \
                               steps[i].op == FC_STEP_DENSE))                               \
        return FC_EINVAL;                                                                   \
    if (n == 0) return FC_OK;                                                               \
    const T *src = x;                                                                       \
    for (int i = 0; i < n_steps; i++) {                                                     \
      T *dst = i == n_steps - 1 ? y : scratch + (i % 2) * n * half[0];                      \
      const int st = fc_##dtype##_step(n, &steps[i], src, dst);                             \
      if (st != FC_OK) return st;                                                           \
      src = dst;                                                                            \
    }                                                                                       \
    return FC_OK;                                                                           \
  }

FC_DEFINE_FORWARD(f32, float)
FC_DEFINE_FORWARD(f64, double)

/* fc_*_forward_batches' region: each thread takes the next batch until none
 * is left, in its own part of the scratch; the ops inside a region run on
 * their thread alone (fc_parallel), to the same bits as at any thread count. */
typedef struct {
  int (*forward)(const void *self, int64_t n, const void *x, void *y, void *scratch, int64_t elems);
  int n_steps;
  const fc_step *steps;
  int64_t n, batch, in_el, out_el, per_thread, elem_bytes;
  const char *x;
  char *y, *scratch;
  atomic_int status;
} fc_batches_ctx;

static void fc_batches_tasks(void *arg, int tid, int64_t b0, int64_t b1) {
  fc_batches_ctx *c = arg;
  for (int64_t b = b0; b < b1 && atomic_load(&c->status) == FC_OK; b++) {
    const int64_t i0 = b * c->batch, m = fc_min64(c->batch, c->n - i0);
    const int st = c->forward(c, m, c->x + i0 * c->in_el * c->elem_bytes,
                              c->y + i0 * c->out_el * c->elem_bytes,
                              c->scratch + (int64_t)tid * c->per_thread * c->elem_bytes, c->per_thread);
    if (st != FC_OK) {
      int ok = FC_OK;
      atomic_compare_exchange_strong(&c->status, &ok, st);
    }
  }
}

#define FC_DEFINE_FORWARD_BATCHES(dtype, T)                                                   \
  static int fc_##dtype##_forward_one(const void *self, int64_t n, const void *x, void *y,   \
                                      void *scratch, int64_t elems) {                        \
    const fc_batches_ctx *c = self;                                                          \
    return fc_##dtype##_forward(n, c->n_steps, c->steps, x, y, scratch, elems);              \
  }                                                                                          \
                                                                                             \
  int fc_##dtype##_forward_batches(int64_t n, int64_t batch, int n_steps, const fc_step *steps, \
                                   const T *x, T *y, T *scratch, int64_t scratch_elems) {    \
    int64_t first, final, half[2];                                                           \
    if (n < 0 || batch < 1) return FC_EINVAL;                                                \
    const int64_t need = fc_forward_batches_scratch_elems(n, batch, n_steps, steps);         \
    if (need == -2) return FC_EOVERFLOW;                                                     \
    if (need < 0 || scratch_elems < need || (need > 0 && !scratch)) return FC_EINVAL;        \
    if (n == 0) return FC_OK;                                                                \
    fc_chain_scratch(1, n_steps, steps, &first, &final, half);                              \
    const int nt = fc_batches_threads(n, batch, n_steps, steps);                             \
    fc_batches_ctx c = {fc_##dtype##_forward_one, n_steps, steps, n, batch, first, final,     \
                        need / nt, (int64_t)sizeof(T), (const char *)x, (char *)y,           \
                        (char *)scratch, FC_OK};                                             \
    const int r = fc_parallel_for(nt, fc_ceil_div(n, batch), 1, fc_batches_tasks, &c);       \
    return r != FC_OK ? r : atomic_load(&c.status);                                          \
  }

FC_DEFINE_FORWARD_BATCHES(f32, float)
FC_DEFINE_FORWARD_BATCHES(f64, double)
