/* Template of the max_pool2d drivers, forward and backward, for one dtype.
 *
 * Included once by f32-maxpool2d.c and by f64-maxpool2d.c, which define the
 * entry points' full names MAX_POOL2D (fc_f32_max_pool2d, fc_f64_max_pool2d),
 * MAX_POOL2D_PLAN (fc_f32_max_pool2d_plan, ...), MAX_POOL2D_BACKWARD
 * (fc_f32_max_pool2d_backward, ...) and MAX_POOL2D_BACKWARD_PLAN
 * (fc_f32_max_pool2d_backward_plan, ...), T (float, double), the row
 * microkernels' type MAXPOOL_UKERNEL (fc_f32_maxpool_ukernel, ...), the
 * table's members TABLE_MAXPOOL_ROW, TABLE_MAXPOOL_ROW_DILATED,
 * TABLE_MAXPOOL_NHWC and TABLE_MAXPOOL_NHWC_DILATED (f32_maxpool_row, ...),
 * the portable row kernels MAXPOOL_ROW_SCALAR and MAXPOOL_ROW_DILATED_SCALAR
 * (fc_f32_maxpool_row_ukernel__scalar, ...), and LOCAL(x), the static
 * helpers' names (fc_f32_##x, fc_f64_##x). The checks of the parameters do
 * not depend on the dtype; they are static here, so each instance has its own.
 *
 * ==== max_pool2d forward ==================================================
 * Threaded over image planes (NCHW) or output rows (NHWC), each output row
 * computed by the table's row microkernel for the layout: the dilation-1
 * kernels, or the dilated ones when either dilation exceeds 1.
 * Semantics follow PyTorch: implicit -inf padding, the first maximum in
 * row-major window order wins, a NaN wins over every number (the last NaN
 * seen, as PyTorch's CPU kernel), indices are flat positions in the plane. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include "fastconv/ukernel.h"
#include "internal.h"

/* Whether each of `outs` windows along one axis of length n holds an input
 * position: window o reads start + j * dil (j < kernel), start = o * stride - pad.
 * Starts grow with o, so past the leading padding only the last window can
 * begin beyond the input; a window starting in the padding first reaches 0 at
 * j = ceil(-start / dil) (at most `outs` such windows). Sizes checked before. */
static int fc_pool_axis_covered(int64_t outs, int64_t n, int64_t kernel, int64_t stride,
                                int64_t dil, int64_t pad) {
  if (outs == 0) return 1;
  if ((outs - 1) * stride - pad >= n) return 0;
  for (int64_t o = 0; o < outs && o * stride < pad; o++) {
    const int64_t start = o * stride - pad, j = (-start - 1) / dil + 1;
    if (j >= kernel || start + j * dil >= n) return 0;
  }
  return 1;
}

static int fc_pool2d_check(const fc_pool2d_params *p) {
  if (p->n < 0 || p->c < 0 || p->h < 0 || p->w < 0 || p->oh < 0 || p->ow < 0 ||
      p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
      p->dil_h < 1 || p->dil_w < 1 || p->pad_top < 0 || p->pad_left < 0 ||
      (p->layout != FC_NCHW && p->layout != FC_NHWC))
    return FC_EINVAL;
  if (p->n > 0 && p->c > 0 && (p->h == 0 || p->w == 0)) return FC_EINVAL; /* windows of padding only */
  const int64_t in[4] = {p->n, p->c, p->h, p->w}, out[4] = {p->n, p->c, p->oh, p->ow};
  if (fc_prod(4, in) < 0 || fc_prod(4, out) < 0) return FC_EOVERFLOW;
  int64_t a;
  if (!fc_mul(p->oh, p->stride_h, &a) || a > INT64_MAX / 4 || !fc_mul(p->ow, p->stride_w, &a) ||
      a > INT64_MAX / 4 || p->kernel_h > INT64_MAX / 4 || p->kernel_w > INT64_MAX / 4 ||
      !fc_mul(p->kernel_h - 1, p->dil_h, &a) || a > INT64_MAX / 4 ||
      !fc_mul(p->kernel_w - 1, p->dil_w, &a) || a > INT64_MAX / 4 || p->pad_top > INT64_MAX / 4 ||
      p->pad_left > INT64_MAX / 4)
    return FC_EOVERFLOW;
  /* a window of padding only has no element for its index (dilation > 1 with
   * tiny inputs; PyTorch returns -inf and an index outside the plane there) */
  if (p->n > 0 && p->c > 0 &&
      (!fc_pool_axis_covered(p->oh, p->h, p->kernel_h, p->stride_h, p->dil_h, p->pad_top) ||
       !fc_pool_axis_covered(p->ow, p->w, p->kernel_w, p->stride_w, p->dil_w, p->pad_left)))
    return FC_EINVAL;
  return FC_OK;
}

/* One region's arguments, forward and backward. */
typedef struct {
  const fc_pool2d_params *p;
  MAXPOOL_UKERNEL fn;
  const T *x, *gy;
  T *y, *gx;
  int64_t *indices;
  const int64_t *ix;
  int64_t cblocks;
  atomic_int bad;
} fc_pool_ctx;

static void LOCAL(pool_planes)(void *arg, int tid, int64_t pl0, int64_t pl1) {
  (void)tid;
  const fc_pool_ctx *c = arg;
  const fc_pool2d_params *p = c->p;
  const int64_t hw = p->h * p->w, ohw = p->oh * p->ow;
  for (int64_t pl = pl0; pl < pl1; pl++)
    for (int64_t oy = 0; oy < p->oh; oy++)
      c->fn(p, c->x + pl * hw, oy, c->y + pl * ohw + oy * p->ow,
            c->indices ? c->indices + pl * ohw + oy * p->ow : NULL);
}

static void LOCAL(pool_rows)(void *arg, int tid, int64_t r0, int64_t r1) {
  (void)tid;
  const fc_pool_ctx *c = arg;
  const fc_pool2d_params *p = c->p;
  const int64_t hw = p->h * p->w, rowlen = p->ow * p->c;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t ni = r / p->oh, oy = r % p->oh;
    c->fn(p, c->x + ni * hw * p->c, oy, c->y + r * rowlen,
          c->indices ? c->indices + r * rowlen : NULL);
  }
}

/* The row kernel for the layout (dilated or not; the scalar one where the
 * SIMD kernels' int32 positions could overflow), threads over planes
 * (NCHW) or output rows (NHWC). p: a one-tap axis at dilation 1. */
static MAXPOOL_UKERNEL LOCAL(pool_plan_for)(const fc_pool2d_params *p,
                                            const fc_ukernel_table *t, fc_plan *pl) {
  const int64_t hw = p->h * p->w, ohw = p->oh * p->ow;
  /* window reads, for the thread count only; saturating (kernels may be huge) */
  const int64_t work = fc_sat_mul(fc_sat_mul(fc_sat_mul(p->n * p->c, ohw), p->kernel_h),
                                  p->kernel_w);
  const int dilated = p->dil_h != 1 || p->dil_w != 1;
  MAXPOOL_UKERNEL fn;
  if (p->layout == FC_NCHW) {
    /* the SIMD row kernels hold positions in int32 lanes */
    const int64_t lim = (int64_t)1 << 30, span_w = (p->kernel_w - 1) * p->dil_w + 1;
    const int small = hw < lim && p->ow * p->stride_w + span_w + p->pad_left < lim;
    if (dilated)
      fn = small ? t->TABLE_MAXPOOL_ROW_DILATED : MAXPOOL_ROW_DILATED_SCALAR;
    else
      fn = small ? t->TABLE_MAXPOOL_ROW : MAXPOOL_ROW_SCALAR;
    pl->algorithm = "rows-per-plane";
    pl->tasks = p->n * p->c, pl->row_block = p->oh;
  } else {
    fn = dilated ? t->TABLE_MAXPOOL_NHWC_DILATED : t->TABLE_MAXPOOL_NHWC;
    pl->algorithm = "rows-channels-last";
    pl->tasks = p->n * p->oh, pl->row_block = 1;
  }
  pl->kernel_fn = FC_UKERNEL_FN(fn);
  pl->threads = fc_threads_for(FC_NS_BYTES(fc_sat_mul(8, work)), pl->tasks);
  return fn;
}

/* params with a one-tap axis run at dilation 1 (it reads one element at any) */
static fc_pool2d_params LOCAL(pool_undilated)(const fc_pool2d_params *params) {
  fc_pool2d_params q = *params;
  if (q.kernel_h == 1) q.dil_h = 1;
  if (q.kernel_w == 1) q.dil_w = 1;
  return q;
}

int MAX_POOL2D_PLAN(const fc_pool2d_params *params, fc_plan *pl) {
  const fc_ukernel_table *t = fc_table();
  fc_plan_init(pl, t);
  const int st = fc_pool2d_check(params);
  if (st != FC_OK) return st;
  if (params->n == 0 || params->c == 0 || params->oh == 0 || params->ow == 0) {
    pl->algorithm = "nothing (empty result)";
    return FC_OK;
  }
  const fc_pool2d_params q = LOCAL(pool_undilated)(params);
  LOCAL(pool_plan_for)(&q, t, pl);
  fc_plan_name(pl);
  return FC_OK;
}

int MAX_POOL2D(const fc_pool2d_params *params, const T *x, T *y, int64_t *indices) {
  const int st = fc_pool2d_check(params);
  if (st != FC_OK) return st;
  const fc_ukernel_table *t = fc_table();
  fc_plan pl;
  fc_plan_init(&pl, t);
  if (params->n == 0 || params->c == 0 || params->oh == 0 || params->ow == 0) {
    pl.algorithm = "nothing (empty result)";
    fc_record_plan(&pl);
    return FC_OK;
  }
  const fc_pool2d_params q = LOCAL(pool_undilated)(params);
  const fc_pool2d_params *p = &q;
  fc_pool_ctx c = {.p = p, .x = x, .y = y, .indices = indices};
  c.fn = LOCAL(pool_plan_for)(p, t, &pl);
  if (fc_record_plan(&pl)) return FC_OK;
  if (p->layout == FC_NCHW)
    return fc_parallel_for(pl.threads, pl.tasks, 0, LOCAL(pool_planes), &c);
  return fc_parallel_for(pl.threads, pl.tasks, 0, LOCAL(pool_rows), &c);
}

/* ==== max_pool2d backward =================================================
 * gx = 0, then each output's gradient is added at the input position its
 * index names. Tasks own whole planes (NCHW) or a channel range of one image
 * (NHWC), so overlapping windows never make two threads write one element and
 * the additions happen in the same order on every run. */
enum { FC_POOL_CBLK = 64 };

static void LOCAL(unpool_planes)(void *arg, int tid, int64_t pl0, int64_t pl1) {
  (void)tid;
  fc_pool_ctx *c = arg;
  const int64_t hw = c->p->h * c->p->w, ohw = c->p->oh * c->p->ow;
  for (int64_t pl = pl0; pl < pl1; pl++) {
    const T *g = c->gy + pl * ohw;
    const int64_t *ix = c->ix + pl * ohw;
    T *d = c->gx + pl * hw;
    for (int64_t o = 0; o < ohw; o++) {
      const int64_t at = ix[o];
      if (at < 0 || at >= hw) {
        atomic_store_explicit(&c->bad, 1, memory_order_relaxed);
        continue;
      }
      d[at] += g[o];
    }
  }
}

static void LOCAL(unpool_blocks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  fc_pool_ctx *c = arg;
  const int64_t hw = c->p->h * c->p->w, ohw = c->p->oh * c->p->ow, C = c->p->c;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t ni = t / c->cblocks, c0 = t % c->cblocks * FC_POOL_CBLK;
    const int64_t c1 = fc_min64(C, c0 + FC_POOL_CBLK);
    const T *g = c->gy + ni * ohw * C;
    const int64_t *ix = c->ix + ni * ohw * C;
    T *d = c->gx + ni * hw * C;
    for (int64_t o = 0; o < ohw; o++)
      for (int64_t ch = c0; ch < c1; ch++) {
        const int64_t at = ix[o * C + ch];
        if (at < 0 || at >= hw) {
          atomic_store_explicit(&c->bad, 1, memory_order_relaxed);
          continue;
        }
        d[at * C + ch] += g[o * C + ch];
      }
  }
}

/* Tasks: whole planes (NCHW), or FC_POOL_CBLK channels of one image (NHWC). */
static void LOCAL(unpool_plan_for)(const fc_pool2d_params *p, fc_plan *pl) {
  const int64_t ohw = p->oh * p->ow, C = p->c;
  const int64_t reads = fc_sat_mul(24, fc_sat_mul(p->n * C, ohw));
  pl->algorithm = p->layout == FC_NCHW ? "scatter-per-plane" : "scatter-channel-blocks";
  pl->kernel = "none (a scalar scatter in the driver)";
  pl->row_block = p->layout == FC_NCHW ? 1 : FC_POOL_CBLK;
  pl->tasks = p->layout == FC_NCHW ? p->n * C : p->n * fc_ceil_div(C, FC_POOL_CBLK);
  pl->threads = fc_threads_for(FC_NS_BYTES(reads), pl->tasks);
}

int MAX_POOL2D_BACKWARD_PLAN(const fc_pool2d_params *p, fc_plan *pl) {
  fc_plan_init(pl, fc_table());
  const int st = fc_pool2d_check(p);
  if (st != FC_OK) return st;
  if (p->n == 0 || p->c == 0 || p->oh * p->ow == 0)
    pl->algorithm = "nothing (zeros)";
  else
    LOCAL(unpool_plan_for)(p, pl);
  return FC_OK;
}

int MAX_POOL2D_BACKWARD(const fc_pool2d_params *p, const T *gy, const int64_t *indices,
                        T *gx) {
  fc_plan pl;
  const int st = MAX_POOL2D_BACKWARD_PLAN(p, &pl);
  if (st != FC_OK || fc_record_plan(&pl)) return st;
  const int64_t hw = p->h * p->w, ohw = p->oh * p->ow, C = p->c;
  if (p->n * C * hw > 0) memset(gx, 0, (size_t)(p->n * C * hw) * sizeof(T));
  if (p->n == 0 || C == 0 || ohw == 0) return FC_OK;
  fc_pool_ctx c = {.p = p, .gy = gy, .gx = gx, .ix = indices};
  int r;
  if (p->layout == FC_NCHW) {
    r = fc_parallel_for(pl.threads, pl.tasks, 0, LOCAL(unpool_planes), &c);
  } else {
    c.cblocks = fc_ceil_div(C, FC_POOL_CBLK);
    r = fc_parallel_for(pl.threads, pl.tasks, 0, LOCAL(unpool_blocks), &c);
  }
  return r != FC_OK ? r : atomic_load(&c.bad) ? FC_EINVAL : FC_OK;
}
