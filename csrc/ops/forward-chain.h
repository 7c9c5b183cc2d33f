/* The checks and sizes of a model's chain of steps (fastconv.h: fc_step),
 * which do not depend on the dtype: static, for forward.c (the scratch sizes)
 * and for forward-template.h (the passes), so each keeps them inlinable. */
#ifndef FC_FORWARD_CHAIN_H
#define FC_FORWARD_CHAIN_H
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

#endif
