/* Template of conv2d's backward passes for one dtype: the weight gradient, the
 * bias gradient, and the input gradient by GEMM + col2im or by transposed convolution.
 *
 * Included once by f32-conv2d-backward.c and by f64-conv2d-backward.c, which
 * define the entry points' full names CONV2D_BACKWARD_WEIGHT
 * (fc_f32_conv2d_backward_weight, ...), CONV2D_BACKWARD_WEIGHT_PLAN,
 * CONV2D_BACKWARD_BIAS, CONV2D_BACKWARD_BIAS_PLAN, CONV2D_INPUT_GRAD and
 * CONV2D_INPUT_GRAD_PLAN, T (float, double), LOCAL(x),
 * the dtype's names (fc_f32_##x, fc_f64_##x), and TABLE(x), its members of
 * the dispatch table (f32_##x, f64_##x). The weight gradient's set-up and
 * sweep are also the fused conv2d + max-pool backward's
 * (conv2d-pool-template.h; declared in conv2d-internal.h).
 *
 * ---- weight gradient -----------------------------------------------------------
 *   gw[k, tap, c] = sum over images n and output pixels q of
 *                   x[n, c, pixel q moved by tap] * gy[n, k, q]
 * is, per group, gw^T = X (kd x pixels) * GY^T (pixels x kg), with the pixels
 * of all images as the depth, run on the indirect-GEMM microkernel:
 *   rows = (tap, c), read in place from a channels-last copy of x's image
 *          that is padded left and right (so one output row's pixels are one
 *          stride apart: a_stride = stride_w * C), one row pointer per output
 *          row and (tap, c), shared by all images; rows in the vertical
 *          padding point at a zero row. Each thread copies the image it works
 *          on into its own slot just before its rows (the copy then stays in
 *          its L2 for the kernel), where a copy of the whole padded input
 *          made first went out to memory and was read back (the gradient of
 *          (32,64,56,56) by 64 3x3 filters, pad 1: NHWC 0.90x the time at 1
 *          thread, 0.80x at 2; NCHW 0.87x, 0.89x; the same bits; Intel Xeon,
 *          Emerald Rapids);
 *   cols = output channels, from gy packed pixel-major into NR-wide panels
 *          (gy itself when it is channels-last with NR channels).
 * No im2col is built. The (image, block of output rows) tasks come in
 * chunks, 8 per thread (one chunk at one thread), each summed into a partial
 * gw of its own, in task order (its first task stores, the others add, so the
 * partials need no zeroing); the partials are added in chunk order, so a
 * fixed thread count gives bitwise-identical results whichever thread ran
 * which chunk. A thread takes its own contiguous run of chunks first, then
 * whatever the others have not begun (fc_claims), so a thread whose core is
 * taken from it for a while (by a hypervisor, by other processes) no longer
 * holds up the call: (32,64,56,56) by 64 3x3 filters, pad 1, at 2 threads in
 * 0.964x the time of fixed shares (one process, 41 interleaved rounds; Intel
 * Xeon, Emerald Rapids, a VM whose vCPUs ran the same loop at 13 and 24 ms
 * side by side in one minute, 13 and 13 in another). */
#include <stdlib.h>
#include <string.h>
#include "conv2d-internal.h"

/* Row r (image r / h, input row r % h) of x (either layout), channels-last and
 * padded by pad_left zero columns on the left and `right` on the right, into
 * dst ((pad_left + w + right) * C values). */
static void LOCAL(bwd_padded_row)(const fc_conv2d_params *p, const T *x, int64_t right, int64_t r,
                                  T *dst) {
  const int64_t C = p->c, hw = p->h * p->w;
  const int64_t ni = r / p->h, ih = r % p->h;
  memset(dst, 0, (size_t)(p->pad_left * C) * sizeof(T));
  memset(dst + (p->pad_left + p->w) * C, 0, (size_t)(right * C) * sizeof(T));
  dst += p->pad_left * C;
  if (p->layout == FC_NHWC) {
    memcpy(dst, x + r * p->w * C, (size_t)(p->w * C) * sizeof(T));
  } else {
    LOCAL(transpose)(x + ni * C * hw + ih * p->w, hw, dst, C, p->w, C); /* C rows of w pixels */
  }
}

typedef struct {
  const fc_conv2d_params *p;
  const T *gy;
  T *out;
  size_t nr;
} LOCAL(bwd_copy_ctx);

/* gy -> per (image, group), NR-wide panels over its kg channels, pixel-major:
 * out[((n * groups + g) * npanels + jp) * P * nr + q * nr + j] = gy[n, g*kg + jp*nr + j, q]
 * (0 past kg). */
static void LOCAL(bwd_pack_gy_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(bwd_copy_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int64_t g_count = p->groups, kg = p->k / g_count, P = p->oh * p->ow, inr = (int64_t)c->nr;
  const int64_t npanels = fc_ceil_div(kg, inr);
  for (int64_t t = t0; t < t1; t++) {
    const int64_t ni = t / g_count, g = t % g_count;
    for (int64_t jp = 0; jp < npanels; jp++) {
      T *dst = c->out + (t * npanels + jp) * P * inr;
      const int64_t k0 = g * kg + jp * inr, nn = fc_min64(inr, kg - jp * inr);
      if (p->layout == FC_NCHW) /* nn channel rows of P pixels -> P rows of nn */
        LOCAL(transpose)(c->gy + (ni * p->k + k0) * P, P, dst, inr, P, nn);
      for (int64_t q = 0; q < P; q++, dst += inr) {
        if (p->layout == FC_NHWC) memcpy(dst, c->gy + (ni * P + q) * p->k + k0, (size_t)nn * sizeof(T));
        for (int64_t j = nn; j < inr; j++) dst[j] = 0;
      }
    }
  }
}

static int LOCAL(bwd_pack_gy)(const fc_conv2d_params *p, const T *gy, size_t nr, T *out) {
  const int64_t P = p->oh * p->ow, tasks = p->n * p->groups;
  const int nt = fc_threads_for(FC_NS_BYTES(2 * p->n * p->k * P * (int64_t)sizeof(T)), tasks);
  LOCAL(bwd_copy_ctx) c = {p, gy, out, nr};
  return fc_parallel_for(nt, tasks, 0, LOCAL(bwd_pack_gy_tasks), &c);
}

/* The weight gradient's set-up (its context: fc_*_wgrad_ctx in
 * conv2d-internal.h) for tile uk, nthreads threads and nparts partials, and
 * its release. */
void LOCAL(wgrad_free)(LOCAL(wgrad_ctx) *ctx) {
  free(ctx->xp), free(ctx->held), free(ctx->zero), free((void *)ctx->ind);
  if (!ctx->in_place) fc_free_large(ctx->partial, ctx->partial_bytes);
}

int LOCAL(wgrad_setup)(LOCAL(wgrad_ctx) *ctx, const fc_conv2d_params *p, const T *x,
                       LOCAL(igemm_entry) uk, int nthreads, int nparts, T *gw) {
  memset(ctx, 0, sizeof *ctx);
  ctx->p = p;
  ctx->nthreads = nthreads, ctx->nparts = nparts;
  const int64_t g_count = p->groups, C = p->c;
  ctx->kg = p->k / g_count, ctx->cg = p->c / g_count;
  ctx->kd = p->r * p->s * ctx->cg;
  ctx->uk = uk; /* the (kd, kg) product's tile (pick_igemm_at) */
  const int64_t imr = (int64_t)ctx->uk.mr, inr = (int64_t)ctx->uk.nr;
  ctx->mpad = fc_ceil_div(ctx->kd, imr) * imr, ctx->npad = fc_ceil_div(ctx->kg, inr) * inr;
  ctx->npanels = ctx->npad / inr;
  ctx->tile = ctx->mpad * ctx->npad;
  /* input columns read: ox * stride_w + sx * dil_w in the padded row */
  const int64_t right = fc_max64(0, (p->ow - 1) * p->stride_w + (p->s - 1) * p->dil_w + 1 - p->pad_left - p->w);
  const int64_t wp = p->pad_left + p->w + right;
  ctx->a_stride = p->stride_w * C;
  ctx->img = p->h * wp * C;
  const int x_as_is = right == 0 && p->pad_left == 0 && (p->layout == FC_NHWC || C == 1);
  int64_t xsize, nptr, psize;
  if (!fc_mul(nthreads, ctx->img, &xsize) || !fc_mul(ctx->mpad, p->oh, &nptr) ||
      !fc_mul(nparts * ctx->tile, g_count, &psize))
    return FC_EOVERFLOW;
  ctx->x = x, ctx->right = right;
  ctx->xp = x_as_is ? NULL : fc_alloc((size_t)xsize * sizeof(T));
  ctx->held = x_as_is ? NULL : malloc((size_t)nthreads * sizeof(int64_t));
  ctx->zero = calloc((size_t)((p->ow - 1) * ctx->a_stride + 1), sizeof(T));
  ctx->ind = fc_alloc((size_t)nptr * sizeof(T *));
  ctx->in_place = gw && fc_wgrad_in_place(p, ctx->npad, nparts);
  ctx->partial_bytes = (size_t)psize * sizeof(T);
  ctx->partial = ctx->in_place ? gw : fc_alloc_large(ctx->partial_bytes); /* each written by its first unit */
  if ((!x_as_is && (!ctx->xp || !ctx->held)) || !ctx->zero || !ctx->ind || !ctx->partial) {
    LOCAL(wgrad_free)(ctx);
    return FC_ENOMEM;
  }
  for (int t = 0; ctx->held && t < nthreads; t++) ctx->held[t] = -1;
  ctx->xs = ctx->xp ? ctx->xp : x;
  for (int64_t kk = 0; kk < ctx->mpad; kk++) { /* row kk = (tap, c), divided out once */
    const int64_t tap = kk / ctx->cg, c = kk % ctx->cg, ry = tap / p->s, sx = tap % p->s;
    const T **dst = ctx->ind + kk / imr * p->oh * imr + kk % imr;
    for (int64_t oy = 0; oy < p->oh; oy++) {
      const int64_t ih = oy * p->stride_h - p->pad_top + ry * p->dil_h;
      dst[oy * imr] = kk < ctx->kd && ih >= 0 && ih < p->h ? ctx->xs + (ih * wp + sx * p->dil_w) * C + c
                                                          : ctx->zero;
    }
  }
  return FC_OK;
}

/* Adds image ni's output rows [oy0, oy0 + tn) to rows [i_lo, i_hi) of
 * partial `part` (all: 0, kd; i_lo a multiple of the tile's rows) (stores them
 * into it where `fresh`: its first unit), on thread tid, with
 * gy of group g, panel jp, output pixel q - oy0 * ow of those rows at
 * gy_panel(g, jp) + (q - oy0 * ow) * NR, i.e. b + g * g_step + jp * jp_step.
 * With a padded copy, image ni is first copied into the thread's slot unless
 * the slot holds it already (a thread's units are contiguous but for those it
 * takes over from another: about once an image). */
void LOCAL(wgrad_rows)(const LOCAL(wgrad_ctx) *ctx, int tid, int part, int fresh, int64_t ni,
                       int64_t oy0, int64_t tn, const T *b, int64_t g_step, int64_t jp_step,
                       int64_t i_lo, int64_t i_hi) {
  const fc_conv2d_params *p = ctx->p;
  const int64_t imr = (int64_t)ctx->uk.mr, inr = (int64_t)ctx->uk.nr;
  T *acc = ctx->partial + part * ctx->tile * p->groups;
  if (ctx->xp && ctx->held[tid] != ni) { /* image ni, padded, into the thread's slot */
    T *slot = ctx->xp + tid * ctx->img;
    const int64_t wp = p->pad_left + p->w + ctx->right;
    for (int64_t ih = 0; ih < p->h; ih++)
      LOCAL(bwd_padded_row)(p, ctx->x, ctx->right, ni * p->h + ih, slot + ih * wp * p->c);
    ctx->held[tid] = ni;
  }
  /* the pointers read slot 0 of xp (the thread's slot is tid images on), or x */
  const int64_t at = ctx->xp ? tid : ni;
  for (int64_t g = 0; g < p->groups; g++) {
    const size_t a_offset = (size_t)(at * ctx->img + g * ctx->cg);
    for (int64_t jp = 0; jp < ctx->npanels; jp++)
      for (int64_t i0 = i_lo; i0 < i_hi; i0 += imr)
        ctx->uk.fn((size_t)tn, (size_t)p->ow, ctx->ind + (i0 / imr * p->oh + oy0) * imr, a_offset,
                   (size_t)ctx->a_stride, ctx->zero, b + g * g_step + jp * jp_step, ctx->uk.nr,
                   acc + g * ctx->tile + i0 * ctx->npad + jp * inr, (size_t)ctx->npad,
                   (size_t)fc_min64(imr, i_hi - i0), (size_t)fc_min64(inr, ctx->kg - jp * inr),
                   NULL, fresh ? 0u : FC_GEMM_ACCUMULATE);
  }
}

/* Rows [r0, r1) of (group, kk) of gw: the partials gw^T (kk, k) added into the
 * first in their order (only their kd x kg corners per group are written),
 * then, with kk_major, each row copied to gw as (tap, c, k) (NHWC's (r, s,
 * c/groups, k)); NCHW's order is stored by wgrad_store_kcrs after. */
typedef struct {
  const LOCAL(wgrad_ctx) *ctx;
  T *gw;
  int kk_major;
  atomic_int failed; /* wgrad_store_kcrs had no scratch */
} LOCAL(wgrad_finish_ctx);

static void LOCAL(wgrad_finish_rows)(void *arg, int tid, int64_t r0, int64_t r1) {
  (void)tid;
  const LOCAL(wgrad_finish_ctx) *f = arg;
  const LOCAL(wgrad_ctx) *ctx = f->ctx;
  const fc_conv2d_params *p = ctx->p;
  const int64_t size = ctx->tile * p->groups, kd = ctx->kd, kg = ctx->kg;
  T *sum = ctx->partial;
  for (int64_t r = r0; r < r1; r++) {
    T *dst = sum + r / kd * ctx->tile + r % kd * ctx->npad;
    for (int t = 1; t < ctx->nparts; t++) {
      const T *src = dst + t * size;
      for (int64_t k = 0; k < kg; k++) dst[k] += src[k];
    }
    if (f->kk_major) memcpy(f->gw + r % kd * p->k + r / kd * kg, dst, (size_t)kg * sizeof(T));
  }
}

/* NCHW's gw (k, cg, r, s) from the sums gw^T ((tap, c), k), output channels
 * [j0, j1) of the layer (group j / kg), FC_WGRAD_STORE_BLOCK at a time: the
 * block's columns transposed into rows of (tap, c) by the table's kernel, then
 * each row's (tap, c) transposed to (c, tap). A value at a time, reading a
 * column of the sums, took a fifth of (1,14,14,256) by 256 3x3 filters' weight
 * gradient at one thread, and NumPy's copy from (k, r, s, c) to the layout
 * another seventh (AMD EPYC Zen 4). */
#define FC_WGRAD_STORE_BLOCK 16
static void LOCAL(wgrad_store_kcrs)(void *arg, int tid, int64_t j0, int64_t j1) {
  (void)tid;
  LOCAL(wgrad_finish_ctx) *f = arg;
  const LOCAL(wgrad_ctx) *ctx = f->ctx;
  const int64_t kd = ctx->kd, kg = ctx->kg, cg = ctx->cg, rs = kd / cg;
  T *rows = rs > 1 ? fc_alloc((size_t)(FC_WGRAD_STORE_BLOCK * kd) * sizeof(T)) : NULL;
  if (rs > 1 && !rows) {
    atomic_store(&f->failed, 1);
    return;
  }
  for (int64_t jb = j0; jb < j1;) {
    const int64_t g = jb / kg, k0 = jb % kg, nb = fc_min64(fc_min64(FC_WGRAD_STORE_BLOCK, j1 - jb), kg - k0);
    const T *src = ctx->partial + g * ctx->tile + k0;
    T *dst = f->gw + jb * kd;
    /* rows[i * kd + kk] = sum (kk, k0 + i); straight into gw when (tap, c) is (c, tap) */
    LOCAL(transpose)(src, ctx->npad, rs > 1 ? rows : dst, kd, nb, kd);
    for (int64_t i = 0; rs > 1 && i < nb; i++)
      LOCAL(transpose)(rows + i * kd, cg, dst + i * kd, rs, cg, rs);
    jb += nb;
  }
  free(rows);
}

/* gw from the partials (wgrad_finish_rows), the rows shared among the call's
 * threads where there are partials to add (each element's sum in the same
 * order whoever adds it), in the layout's weight order: kk_major (NHWC) or
 * NCHW's. */
int LOCAL(wgrad_finish)(const LOCAL(wgrad_ctx) *ctx, T *gw, int kk_major) {
  LOCAL(wgrad_finish_ctx) f = {ctx, gw, kk_major, 0};
  const int64_t rows = ctx->p->groups * ctx->kd;
  /* the threads where there are partials to add or rows to copy, 64K values or more */
  const int team = ctx->nparts > 1 || ctx->tile * ctx->p->groups >= ((int64_t)1 << 16)
                       ? ctx->nthreads : 1;
  if (fc_parallel_for(team, rows, 0, LOCAL(wgrad_finish_rows), &f) != FC_OK)
    LOCAL(wgrad_finish_rows)(&f, 0, 0, rows); /* (the pool ran none of it) */
  if (kk_major) return FC_OK;
  if (fc_parallel_for(ctx->nthreads, ctx->p->k, 0, LOCAL(wgrad_store_kcrs), &f) != FC_OK)
    LOCAL(wgrad_store_kcrs)(&f, 0, 0, ctx->p->k);
  return atomic_load(&f.failed) ? FC_ENOMEM : FC_OK;
}

/* The weight gradient's region: each chunk of (image, block of output rows)
 * units, claimed by one thread, summed into the chunk's partial. gy is used as
 * is (npanels 0) or packed per (image, group) as bwd_pack_gy packs it. */
typedef struct {
  const LOCAL(wgrad_ctx) *ctx;
  const T *b;
  int64_t blocks, trows, units, npanels;
  fc_claims chunks;
} LOCAL(wgrad_run);

/* Unit u (image, block of output rows) into rows [i_lo, i_hi) of partial part. */
static void LOCAL(wgrad_unit)(const LOCAL(wgrad_run) *w, int tid, int part, int fresh, int64_t u,
                              int64_t i_lo, int64_t i_hi) {
  const fc_conv2d_params *p = w->ctx->p;
  const int64_t P = p->oh * p->ow, inr = (int64_t)w->ctx->uk.nr;
  const int64_t ni = u / w->blocks, oy0 = u % w->blocks * w->trows;
  const int64_t tn = fc_min64(w->trows, p->oh - oy0);
  if (w->npanels == 0)
    LOCAL(wgrad_rows)(w->ctx, tid, part, fresh, ni, oy0, tn, w->b + (ni * P + oy0 * p->ow) * inr,
                      0, 0, i_lo, i_hi);
  else
    LOCAL(wgrad_rows)(w->ctx, tid, part, fresh, ni, oy0, tn,
                      w->b + ni * p->groups * w->npanels * P * inr + oy0 * p->ow * inr,
                      w->npanels * P * inr, P * inr, i_lo, i_hi);
}

static void LOCAL(wgrad_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(wgrad_run) *w = arg;
  const int64_t nparts = w->ctx->nparts;
  int step = 0;
  int64_t ch, end;
  while ((ch = fc_claims_next(&w->chunks, tid, &step, &end)) >= 0) {
    int64_t u0, u1;
    fc_share(w->units, (int)ch, (int)nparts, &u0, &u1);
    for (int64_t u = u0; u < u1; u++) LOCAL(wgrad_unit)(w, tid, (int)ch, u == u0, u, 0, w->ctx->kd);
  }
}

/* FC_PLAN_SPLIT_OUTPUT's region: blocks [b0, b1) of the gradient's rows (the
 * tile's rows each), every unit in order into the one partial: each value
 * sums its terms in the order one thread does. */
static void LOCAL(wgrad_split_tasks)(void *arg, int tid, int64_t b0, int64_t b1) {
  LOCAL(wgrad_run) *w = arg;
  const int64_t imr = (int64_t)w->ctx->uk.mr;
  for (int64_t u = 0; u < w->units; u++)
    LOCAL(wgrad_unit)(w, tid, 0, u == 0, u, b0 * imr, fc_min64(w->ctx->kd, b1 * imr));
}

/* Output rows per kernel call (its slice of a gy panel stays near L1), the
 * tile, the threads, and what is copied: x unless it can be read in place,
 * gy unless it is channels-last with exactly NR channels. */
static int LOCAL(wgrad_plan_for)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                 fc_plan *pl) {
  const int st = fc_conv2d_plan_start(p, tab, pl);
  if (st != FC_OK || pl->algorithm == fc_alg_nothing) return st;
  const int64_t P = p->oh * p->ow;
  const int64_t g_count = p->groups, C = p->c, cg = p->c / g_count, kg = p->k / g_count;
  const int64_t kd = p->r * p->s * cg;
  const int variant = LOCAL(pick_igemm_at)(tab, kd, kg);
  const LOCAL(igemm_entry) uk = tab->TABLE(igemm)[variant];
  const int64_t imr = (int64_t)uk.mr, inr = (int64_t)uk.nr;
  /* blocks of at most 48 KiB of a gy panel's rows, as even as they go: 14 rows
   * of 14 pixels by 64 channels went in blocks of 13 and 1, so one image's
   * gradient at 2 threads took 0.83x its time at 1, not half */
  const int64_t most = fc_max64(1, fc_min64(p->oh, (48 << 10) / (p->ow * inr * (int64_t)sizeof(T))));
  const int64_t trows = fc_ceil_div(p->oh, fc_ceil_div(p->oh, most));
  const int64_t blocks = fc_ceil_div(p->oh, trows), units = p->n * blocks;
  const int64_t flops = 2 * p->k * cg * p->r * p->s * p->n * P;
  const int64_t mpad = fc_ceil_div(kd, imr) * imr, npad = fc_ceil_div(kg, inr) * inr;
  /* threads over the units, each chunk of them into a partial of its own; or,
   * where one partial is over half the L2 (adding 8 a thread would stream
   * them through memory: (8,256,14,14) by 256 3x3 filters took 1.13x at 2
   * threads its time at 1), threads over blocks of the gradient's rows */
  const int64_t rblocks = mpad / imr;
  const int split_threads = fc_threads_for(FC_NS_FLOPS(flops), rblocks);
  const int split = split_threads > 1 && fc_sat_mul(fc_sat_mul(mpad, npad), g_count * (int64_t)sizeof(T)) >
                                             fc_l2_bytes() / 2;
  const int nthreads = split ? split_threads : fc_threads_for(FC_NS_FLOPS(flops), units);
  const int nparts = split ? 1 : fc_wgrad_parts(nthreads, units);
  const int64_t right = fc_max64(0, (p->ow - 1) * p->stride_w + (p->s - 1) * p->dil_w + 1 - p->pad_left - p->w);
  const int64_t img = p->h * (p->pad_left + p->w + right) * C, a_stride = p->stride_w * C;
  const int x_as_is = right == 0 && p->pad_left == 0 && (p->layout == FC_NHWC || C == 1);
  const int gy_as_is = p->layout == FC_NHWC && g_count == 1 && kg == inr;
  /* NCHW's order: a thread's block of rows (wgrad_store_kcrs) */
  const int64_t store =
      p->layout == FC_NCHW && p->r * p->s > 1 ? fc_sat_mul(nthreads * FC_WGRAD_STORE_BLOCK, kd) : 0;
  int64_t xsize, nptr, psize, gsize = 0;
  if (!fc_mul(nthreads, img, &xsize) || !fc_mul(mpad, p->oh, &nptr) ||
      !fc_mul(fc_wgrad_in_place(p, npad, nparts) ? 0 : nparts * mpad * npad, g_count, &psize) ||
      (!gy_as_is && !fc_mul(p->n * g_count * npad, P, &gsize)))
    return FC_EOVERFLOW;
  gsize = fc_sat_add(gsize, store); /* (with packed gy's) */
  pl->algorithm = fc_alg_igemm_wgrad;
  pl->kernel_fn = FC_UKERNEL_FN(uk.fn);
  pl->variant = variant;
  pl->mr = imr, pl->nr = inr;
  pl->depth_block = p->ow, pl->row_block = trows, pl->tasks = split ? rblocks : units;
  pl->threads = nthreads;
  pl->flags = (x_as_is ? FC_PLAN_INPUT_AS_IS : 0u) | (gy_as_is ? FC_PLAN_GY_AS_IS : 0u) |
              (split ? FC_PLAN_SPLIT_OUTPUT : 0u);
  /* the padded input, the zero row, the pointers, the partials (none where gw holds the
   * sums), packed gy, the store's */
  int64_t elems = fc_sat_add(x_as_is ? 0 : xsize, (p->ow - 1) * a_stride + 1);
  elems = fc_sat_add(fc_sat_add(elems, psize), gsize);
  pl->scratch_bytes = fc_sat_add(fc_sat_mul(elems, (int64_t)sizeof(T)),
                                 fc_sat_mul(nptr, (int64_t)sizeof(T *)));
  return FC_OK;
}

int CONV2D_BACKWARD_WEIGHT_PLAN(const fc_conv2d_params *p, fc_plan *plan) {
  const int st = LOCAL(wgrad_plan_for)(p, fc_table(), plan);
  fc_plan_name(plan);
  return st;
}

int CONV2D_BACKWARD_WEIGHT(const fc_conv2d_params *p, const T *x, const T *gy, T *gw) {
  const fc_ukernel_table *tab = fc_table();
  fc_plan pl;
  int r = LOCAL(wgrad_plan_for)(p, tab, &pl);
  if (r != FC_OK || fc_record_plan(&pl)) return r;
  const int64_t P = p->oh * p->ow;
  if (pl.algorithm == fc_alg_nothing) {
    memset(gw, 0, (size_t)(p->k * (p->c / p->groups) * p->r * p->s) * sizeof(T));
    return FC_OK;
  }
  const int64_t inr = pl.nr, trows = pl.row_block;
  const int64_t blocks = fc_ceil_div(p->oh, trows), units = p->n * blocks;
  const int split = (pl.flags & FC_PLAN_SPLIT_OUTPUT) != 0;
  LOCAL(wgrad_ctx) ctx;
  r = LOCAL(wgrad_setup)(&ctx, p, x, tab->TABLE(igemm)[pl.variant], pl.threads,
                         split ? 1 : fc_wgrad_parts(pl.threads, units), gw);
  if (r != FC_OK) return r;
  const int64_t g_count = p->groups, npanels = ctx.npanels;
  const int gy_as_is = (pl.flags & FC_PLAN_GY_AS_IS) != 0;
  T *gp = NULL;
  if (!gy_as_is) {
    if (!(gp = fc_alloc((size_t)(p->n * g_count * ctx.npad * P) * sizeof(T)))) r = FC_ENOMEM;
    if (r != FC_OK) {
      LOCAL(wgrad_free)(&ctx);
      return r;
    }
    r = LOCAL(bwd_pack_gy)(p, gy, (size_t)inr, gp);
  }
  LOCAL(wgrad_run) run = {&ctx, gy_as_is ? gy : gp, blocks, trows, units, gy_as_is ? 0 : npanels, {0}};
  fc_claims_init(&run.chunks, ctx.nparts, 1, ctx.nthreads);
  if (r == FC_OK && split)
    r = fc_parallel_for(ctx.nthreads, pl.tasks, 0, LOCAL(wgrad_split_tasks), &run);
  else if (r == FC_OK)
    r = fc_parallel(ctx.nthreads, LOCAL(wgrad_thread), &run);
  if (r != FC_OK) {
    LOCAL(wgrad_free)(&ctx);
    free(gp);
    return r;
  }
  if (!ctx.in_place) r = LOCAL(wgrad_finish)(&ctx, gw, p->layout == FC_NHWC);
  LOCAL(wgrad_free)(&ctx);
  free(gp);
  return r;
}

/* ---- bias gradient ---------------------------------------------------------------
 * gb[k] = gy summed over images and output pixels, on fastconv's threads (a
 * BLAS product with a ones vector would wake BLAS's own threads, whose spinning
 * afterwards takes the cores from the next parallel region). Each channel is
 * summed by one task in a fixed order -- runs of FC_BIAS_RUN pixels in T by 16
 * independent lanes, the lanes and runs added in double -- so the result
 * depends neither on the thread count nor on the schedule. NCHW: a task per
 * channel (its pixels contiguous per image); NHWC: a task per block of 16
 * channels, read across every pixel row. */
enum { FC_BIAS_RUN = 1024, FC_BIAS_LANES = 16 };

typedef struct {
  const fc_conv2d_params *p;
  const T *gy;
  T *gb;
} LOCAL(bias_ctx);

static void LOCAL(bias_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(bias_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int64_t P = p->oh * p->ow, K = p->k, L = FC_BIAS_LANES;
  for (int64_t t = t0; t < t1; t++) {
    double total[FC_BIAS_LANES] = {0};
    if (p->layout == FC_NCHW) { /* channel t: n runs of P contiguous values */
      for (int64_t ni = 0; ni < p->n; ni++) {
        const T *src = c->gy + (ni * K + t) * P;
        for (int64_t q0 = 0; q0 < P; q0 += FC_BIAS_RUN) {
          const int64_t qn = fc_min64(FC_BIAS_RUN, P - q0), qv = qn / L * L;
          T acc[FC_BIAS_LANES] = {0};
          for (int64_t q = 0; q < qv; q += L)
            for (int64_t l = 0; l < L; l++) acc[l] += src[q0 + q + l];
          for (int64_t q = qv; q < qn; q++) acc[q - qv] += src[q0 + q];
          for (int64_t l = 0; l < L; l++) total[l] += (double)acc[l];
        }
      }
      double sum = 0;
      for (int64_t l = 0; l < L; l++) sum += total[l];
      c->gb[t] = (T)sum;
    } else { /* channels [k0, k0 + kn) of every pixel row */
      const int64_t k0 = t * L, kn = fc_min64(L, K - k0), rows = p->n * P;
      for (int64_t r0 = 0; r0 < rows; r0 += FC_BIAS_RUN) {
        const int64_t rn = fc_min64(FC_BIAS_RUN, rows - r0);
        T acc[FC_BIAS_LANES] = {0};
        const T *src = c->gy + r0 * K + k0;
        if (kn == L)
          for (int64_t r = 0; r < rn; r++)
            for (int64_t l = 0; l < L; l++) acc[l] += src[r * K + l];
        else
          for (int64_t r = 0; r < rn; r++)
            for (int64_t l = 0; l < kn; l++) acc[l] += src[r * K + l];
        for (int64_t l = 0; l < kn; l++) total[l] += (double)acc[l];
      }
      for (int64_t l = 0; l < kn; l++) c->gb[k0 + l] = (T)total[l];
    }
  }
}

static int LOCAL(bias_plan_for)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                fc_plan *pl) {
  const int st = fc_conv2d_plan_start(p, tab, pl);
  if (st != FC_OK || pl->algorithm == fc_alg_nothing) return st;
  const int64_t tasks = p->layout == FC_NCHW ? p->k : fc_ceil_div(p->k, FC_BIAS_LANES);
  pl->algorithm = fc_alg_channel_sum;
  pl->row_block = FC_BIAS_RUN;
  pl->tasks = tasks;
  pl->threads = fc_threads_for(FC_NS_BYTES(fc_sat_mul(p->n * p->k, p->oh * p->ow * (int64_t)sizeof(T))),
                               tasks);
  return FC_OK;
}

int CONV2D_BACKWARD_BIAS_PLAN(const fc_conv2d_params *p, fc_plan *plan) {
  const int st = LOCAL(bias_plan_for)(p, fc_table(), plan);
  fc_plan_name(plan);
  return st;
}

int CONV2D_BACKWARD_BIAS(const fc_conv2d_params *p, const T *gy, T *gb) {
  fc_plan pl;
  const int st = LOCAL(bias_plan_for)(p, fc_table(), &pl);
  if (st != FC_OK || fc_record_plan(&pl)) return st;
  if (pl.algorithm == fc_alg_nothing) {
    memset(gb, 0, (size_t)p->k * sizeof(T));
    return FC_OK;
  }
  LOCAL(bias_ctx) c = {p, gy, gb};
  return fc_parallel_for(pl.threads, pl.tasks, 0, LOCAL(bias_tasks), &c);
}

/* ---- input gradient by GEMM + col2im -----------------------------------------
 *   cols[(c, tap), q] = sum_k w[k, c, tap] * gy[n, k, q]     (one GEMM per image, group)
 *   gx[n, c, pixel q moved by tap] += cols[(c, tap), q]      (col2im)
 * rows = (c, tap) (A: the weights, packed once), columns = output pixels (B:
 * gy rows, packed per block), depth = k. Any stride, dilation and padding, no
 * zero-interleaving; the caller prefers the transposed convolution when the
 * input has many channels and stride 1. One task is one image, so the
 * overlapping scatters of neighbouring pixels never race. */
typedef struct {
  const fc_conv2d_params *p;
  const T *gy, *wpack;
  T *gx;
  size_t mr, nr;
  int64_t mpad, pblock;
  atomic_int failed;
  fc_claims next;
} LOCAL(bwd_input_ctx);

/* The images a thread claims (its own run first, then what the others have
 * not begun), with its own B panels and column block. */
static void LOCAL(bwd_input_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(bwd_input_ctx) *ctx = arg;
  const fc_conv2d_params *p = ctx->p;
  const fc_ukernel_table *tab = fc_table();
  const size_t mr = ctx->mr, nr = ctx->nr;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, rs = p->r * p->s, kd = cg * rs, hw = p->h * p->w;
  const int64_t mpad = ctx->mpad, pblock = ctx->pblock;
  const int nhwc = p->layout == FC_NHWC;
  const T *gy = ctx->gy, *wpack = ctx->wpack;
  T *gx = ctx->gx;
  T *bpack = fc_alloc((size_t)(kg * pblock) * sizeof(T));
  T *cols = fc_alloc((size_t)(mpad * pblock) * sizeof(T));
  if (!bpack || !cols) {
    atomic_store(&ctx->failed, 1);
  } else {
    int step = 0;
    int64_t ni, end;
    while ((ni = fc_claims_next(&ctx->next, tid, &step, &end)) >= 0) {
      for (int64_t g = 0; g < g_count; g++) {
        const T *wg = wpack + g * mpad * kg;
        for (int64_t q0 = 0; q0 < P; q0 += pblock) {
          const int64_t qc = fc_min64(pblock, P - q0);
          /* B panels: bpack[jp * kg * nr + k * nr + j] = gy[n, g * kg + k, q0 + jp * nr + j] */
          for (int64_t j0 = 0; j0 < qc; j0 += (int64_t)nr) {
            const int64_t nn = fc_min64((int64_t)nr, qc - j0);
            T *pan = bpack + j0 * kg;
            if (nhwc) /* nn pixel rows of kg channels -> kg rows of nn */
              LOCAL(transpose)(gy + (ni * P + q0 + j0) * p->k + g * kg, p->k, pan, (int64_t)nr, kg, nn);
            for (int64_t k = 0; k < kg; k++) {
              if (!nhwc) {
                const T *src = gy + (ni * p->k + g * kg + k) * P + q0 + j0;
                for (int64_t j = 0; j < nn; j++) pan[k * (int64_t)nr + j] = src[j];
              }
              for (int64_t j = nn; j < (int64_t)nr; j++) pan[k * (int64_t)nr + j] = 0;
            }
            for (int64_t i0 = 0; i0 < kd; i0 += (int64_t)mr)
              tab->TABLE(gemm).fn((size_t)kg, wg + i0 * kg, pan, cols + i0 * pblock + j0, (size_t)pblock,
                                  (size_t)fc_min64((int64_t)mr, kd - i0), (size_t)nn, NULL, 0u);
          }
          /* col2im: cols[(c, tap), q] into gx, output row by output row: the
           * tap reads input columns ox * stride_w + dx, inside for ox in [lo, hi)
           * (one tap sends distinct pixels to distinct elements, so the sums
           * are the same in any order within it) */
          for (int64_t kk = 0; kk < kd; kk++) {
            const int64_t c = g * cg + kk / rs, ry = kk % rs / p->s, sx = kk % p->s;
            const int64_t dy = ry * p->dil_h - p->pad_top, dx = sx * p->dil_w - p->pad_left;
            const int64_t sw = p->stride_w, ow = p->ow;
            const int64_t lo = fc_min64(ow, dx >= 0 ? 0 : fc_ceil_div(-dx, sw));
            const int64_t hi = p->w - dx <= 0 ? lo : fc_max64(lo, fc_min64(ow, fc_ceil_div(p->w - dx, sw)));
            const int64_t cs = nhwc ? p->c : 1; /* element stride along a row of gx */
            const T *src = cols + kk * pblock;
            int64_t oy = q0 / ow, ox0 = q0 % ow;
            for (int64_t j = 0; j < qc; oy++, ox0 = 0) {
              const int64_t n = fc_min64(ow - ox0, qc - j), ih = oy * p->stride_h + dy;
              if (ih >= 0 && ih < p->h) {
                T *row = gx + (nhwc ? (ni * p->h + ih) * p->w * p->c + c : (ni * p->c + c) * hw + ih * p->w);
                const int64_t a = fc_max64(lo, ox0), b = fc_min64(hi, ox0 + n);
                if (sw * cs == 1) { /* a contiguous run (NCHW, stride 1): vectorised */
                  T *restrict d = row + a + dx;
                  const T *restrict e = src + j + a - ox0;
                  for (int64_t i = 0; i < b - a; i++) d[i] += e[i];
                } else {
                  for (int64_t ox = a; ox < b; ox++) row[(ox * sw + dx) * cs] += src[j + ox - ox0];
                }
              }
              j += n;
            }
          }
        }
      }
    }
  }
  free(bpack);
  free(cols);
}

/* The table's GEMM tile, pixel blocks of about 256, one task per image. */
static int LOCAL(bwd_input_plan_for)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                     fc_plan *pl) {
  const int st = fc_conv2d_plan_start(p, tab, pl);
  if (st != FC_OK || pl->algorithm == fc_alg_nothing) return st;
  const int64_t P = p->oh * p->ow;
  const int64_t g_count = p->groups, kg = p->k / g_count, kd = p->c / g_count * p->r * p->s;
  const int64_t mr = (int64_t)tab->TABLE(gemm).mr, nr = (int64_t)tab->TABLE(gemm).nr;
  const int64_t mpad = fc_ceil_div(kd, mr) * mr;
  pl->algorithm = fc_alg_gemm_col2im;
  pl->kernel_fn = FC_UKERNEL_FN(tab->TABLE(gemm).fn);
  pl->mr = mr, pl->nr = nr;
  pl->depth_block = kg, pl->row_block = fc_max64(1, 256 / nr) * nr, pl->tasks = p->n;
  pl->threads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), p->n);
  /* the packed weights; per thread, B panels and the column block */
  const int64_t per_thread = fc_sat_mul(fc_sat_add(kg, mpad), pl->row_block);
  pl->scratch_bytes = fc_sat_mul(fc_sat_add(fc_sat_mul(g_count * mpad, kg),
                                            fc_sat_mul(pl->threads, per_thread)),
                                 (int64_t)sizeof(T));
  return FC_OK;
}

/* GEMM + col2im as `pl` (bwd_input_plan_for's) says. */
static int LOCAL(bwd_input_run)(const fc_conv2d_params *p, const fc_plan *plp, const T *gy,
                                const T *weight, T *gx) {
  const fc_plan pl = *plp;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t rs = p->r * p->s, kd = cg * rs, hw = p->h * p->w;
  const int nhwc = p->layout == FC_NHWC;
  memset(gx, 0, (size_t)(p->n * p->c * hw) * sizeof(T));
  if (pl.algorithm == fc_alg_nothing) return FC_OK;
  const size_t mr = (size_t)pl.mr, nr = (size_t)pl.nr;
  const int64_t mpad = fc_ceil_div(kd, (int64_t)mr) * (int64_t)mr;
  const int64_t pblock = pl.row_block;
  /* A: weight element (row kk = (c, tap), depth k) of group g */
  const size_t wbytes = (size_t)(g_count * mpad * kg) * sizeof(T);
  T *wpack = fc_alloc_large(wbytes);
  if (!wpack) return FC_ENOMEM;
  for (int64_t g = 0; g < g_count; g++) {
    if (nhwc) /* weight (r, s, cg, k): (kk = (c, tap), k) at (tap * cg + c) * K + g * kg + k */
      for (int64_t i0 = 0; i0 < mpad; i0 += (int64_t)mr)
        for (int64_t k = 0; k < kg; k++)
          for (int64_t i = 0; i < (int64_t)mr; i++) {
            const int64_t kk = i0 + i, c = kk / rs, tap = kk % rs;
            wpack[g * mpad * kg + i0 * kg + k * (int64_t)mr + i] =
                kk < kd ? weight[(tap * cg + c) * p->k + g * kg + k] : 0;
          }
    else /* weight (k, cg, r, s): (kk, k) at (g * kg + k) * kd + kk */
      LOCAL(pack_panels)(weight + g * kg * kd, kd, kg, 1, kd, mr, kg, wpack + g * mpad * kg);
  }
  LOCAL(bwd_input_ctx) c = {p, gy, wpack, gx, mr, nr, mpad, pblock, 0, {0}};
  fc_claims_init(&c.next, p->n, 1, pl.threads);
  const int r = fc_parallel(pl.threads, LOCAL(bwd_input_thread), &c);
  fc_free_large(wpack, wbytes);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

/* ---- input gradient: the choice, and the transposed convolution ---------------
 * grad_x is also a stride-1 correlation of gy with the weights flipped in
 * space and their input and output channels swapped per group: conv2d's
 * forward on the transposed sizes below (q), the weights packed here into
 * scratch in the layout the forward driver reads. gy row oy feeds grad_x rows
 * oy * stride_h - pad_top + ry * dil_h: a correlation whose input starts
 * (r - 1) * dil_h - pad_top rows before grad_x's first row. With stride 1 and
 * that start >= 0 it is a padding, and gy is read in place; else (a stride
 * above 1, or padding past the kernel's reach) gy's rows and columns are
 * placed on a zero grid of grad_x's size plus the kernel's span, read with
 * padding 0. The forward kernels give the same bits whichever the caller. */

/* The choice: the rule, unless `path` forces one. *reason names the rule. */
static int LOCAL(input_grad_choice)(const fc_conv2d_params *p, const T *weight,
                                    fc_input_grad_path path, const char **reason) {
  if (path == FC_INPUT_GRAD_COL2IM || path == FC_INPUT_GRAD_TRANSPOSED) {
    *reason = "forced";
    return path;
  }
  if (p->c / p->groups < FC_TRANSPOSED_MIN_CHANNELS) {
    *reason = "few-channels";
    return FC_INPUT_GRAD_COL2IM;
  }
  if (p->stride_h * p->stride_w > 1) {
    *reason = "strided";
    return FC_INPUT_GRAD_COL2IM;
  }
  if (weight) { /* inf or NaN anywhere */
    if (!LOCAL(all_finite)(weight, p->k * (p->c / p->groups) * p->r * p->s)) {
      *reason = "nonfinite-weights";
      return FC_INPUT_GRAD_COL2IM;
    }
  }
  *reason = "rule";
  return FC_INPUT_GRAD_TRANSPOSED;
}

/* The forward conv2d the transposed convolution runs (*grid: on a zero grid). */
static fc_conv2d_params LOCAL(transposed_params)(const fc_conv2d_params *p, int *grid) {
  const int64_t top = (p->r - 1) * p->dil_h - p->pad_top, left = (p->s - 1) * p->dil_w - p->pad_left;
  fc_conv2d_params q = *p;
  q.c = p->k, q.k = p->c, q.oh = p->h, q.ow = p->w;
  q.stride_h = q.stride_w = 1;
  *grid = !(p->stride_h == 1 && p->stride_w == 1 && top >= 0 && left >= 0);
  if (*grid) {
    q.h = p->h + (p->r - 1) * p->dil_h, q.w = p->w + (p->s - 1) * p->dil_w;
    q.pad_top = q.pad_left = 0;
  } else {
    q.h = p->oh, q.w = p->ow, q.pad_top = top, q.pad_left = left;
  }
  return q;
}

/* The plan; with `inner` and `q` (may be NULL) also the forward plan and the
 * sizes the transposed convolution runs. */
static int LOCAL(input_grad_plan_for)(const fc_conv2d_params *p, const T *weight,
                                      fc_input_grad_path path, const fc_ukernel_table *tab,
                                      fc_plan *pl, fc_plan *inner, fc_conv2d_params *q) {
  int st = LOCAL(bwd_input_plan_for)(p, tab, pl);
  if (st != FC_OK || pl->algorithm == fc_alg_nothing) return st;
  const char *reason;
  if (LOCAL(input_grad_choice)(p, weight, path, &reason) == FC_INPUT_GRAD_COL2IM) {
    pl->reason = reason;
    pl->flags |= path != FC_INPUT_GRAD_AUTO ? FC_PLAN_FORCED : 0u;
    return FC_OK;
  }
  int grid;
  fc_conv2d_params qq = LOCAL(transposed_params)(p, &grid);
  fc_plan in;
  /* border or position tiles allowed: this path has finite weights (input_grad_choice) and
   * no bias */
  st = LOCAL(conv2d_plan_for)(&qq, tab, &in);
  if (st != FC_OK || in.algorithm == fc_alg_nothing) {
    *pl = in;
    return st;
  }
  *pl = in;
  pl->algorithm = in.algorithm == fc_alg_packed_gemm ? fc_alg_transposed_packed : fc_alg_transposed_igemm;
  pl->reason = reason;
  pl->flags |= (grid ? FC_PLAN_ZERO_GRID : 0u) | (path != FC_INPUT_GRAD_AUTO ? FC_PLAN_FORCED : 0u);
  /* the flipped weights, packed straight into the layout the forward reads (so
   * not reordered again), and the grid */
  pl->flags &= ~(unsigned)FC_PLAN_WEIGHTS_REORDERED;
  int64_t wn, gn = 0;
  if (!fc_mul(p->k * (p->c / p->groups), p->r * p->s, &wn) ||
      (grid && !fc_mul(qq.n * qq.c, qq.h * qq.w, &gn)))
    return FC_EOVERFLOW;
  /* not the forward's block for NCHW weights (these are packed from wt), but
   * a thread's flipped taps for NCHW's (flip_tasks) */
  int64_t bytes = in.scratch_bytes;
  if ((in.flags & FC_PLAN_WEIGHTS_REORDERED) && bytes < INT64_MAX) {
    bytes -= in.threads * FC_KCRS_BLOCK * FC_KCRS_BLOCK * (int64_t)sizeof(T);
    if (in.flags & FC_PLAN_PANEL_TASKS) /* copied by slices (the adjustment may be negative) */
      bytes = fc_sat_add(bytes, -fc_panel_packed_bytes(&qq, &in, (int64_t)sizeof(T)));
  }
  if (p->layout == FC_NCHW && pl->algorithm == fc_alg_transposed_igemm)
    gn = fc_sat_add(gn, fc_sat_mul(pl->threads, p->r * p->s * (p->c / p->groups)));
  pl->scratch_bytes = fc_sat_add(bytes, fc_sat_mul(fc_sat_add(wn, gn), (int64_t)sizeof(T)));
  if (inner) *inner = in;
  if (q) *q = qq;
  return FC_OK;
}

int CONV2D_INPUT_GRAD_PLAN(const fc_conv2d_params *p, const T *weight,
                           fc_input_grad_path path, fc_plan *plan) {
  const int st = LOCAL(input_grad_plan_for)(p, weight, path, fc_table(), plan, NULL, NULL);
  fc_plan_name(plan);
  return st;
}

/* The igemm's flipped weights (r, s, kg, c) from the layer's, a unit a task:
 * NHWC's (r, s, cg, k): a (group, tap) each, its cg x kg block transposed by
 * the table's kernel into the flipped tap's rows; NCHW's (k, cg, r, s): an
 * output channel each, its cg x rs block transposed (into scratch, rs rows of
 * cg) and each row copied to its flipped tap. A value at a time, reading the
 * weights across their rows, this took 40% of the input gradient of
 * (1,14,14,256) by 256 3x3 filters at one thread (AMD EPYC Zen 4). */
typedef struct {
  const fc_conv2d_params *p;
  const T *w;
  T *wt;
  atomic_int failed; /* a task had no scratch */
} LOCAL(flip_ctx);

static void LOCAL(flip_tasks)(void *arg, int tid, int64_t u0, int64_t u1) {
  (void)tid;
  LOCAL(flip_ctx) *f = arg;
  const fc_conv2d_params *p = f->p;
  const int64_t cg = p->c / p->groups, kg = p->k / p->groups, rs = p->r * p->s;
  if (p->layout == FC_NHWC) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t g = u / rs, t = u % rs, ft = rs - 1 - t;
      LOCAL(transpose)(f->w + ft * cg * p->k + g * kg, p->k, f->wt + t * kg * p->c + g * cg, p->c,
                       kg, cg);
    }
    return;
  }
  T *tmp = fc_alloc((size_t)(rs * cg) * sizeof(T));
  if (!tmp) {
    atomic_store(&f->failed, 1);
    return;
  }
  for (int64_t k = u0; k < u1; k++) {
    const int64_t g = k / kg, kj = k % kg;
    LOCAL(transpose)(f->w + k * cg * rs, rs, tmp, cg, rs, cg); /* tmp[ft * cg + ci] */
    for (int64_t t = 0; t < rs; t++)
      memcpy(f->wt + (t * kg + kj) * p->c + g * cg, tmp + (rs - 1 - t) * cg, (size_t)cg * sizeof(T));
  }
  free(tmp);
}

int CONV2D_INPUT_GRAD(const fc_conv2d_params *p, const T *gy, const T *weight,
                      fc_input_grad_path path, T *gx) {
  const fc_ukernel_table *tab = fc_table();
  fc_plan pl, in;
  fc_conv2d_params q;
  int r = LOCAL(input_grad_plan_for)(p, weight, path, tab, &pl, &in, &q);
  if (r != FC_OK || fc_record_plan(&pl)) return r;
  if (pl.algorithm != fc_alg_transposed_igemm && pl.algorithm != fc_alg_transposed_packed)
    return LOCAL(bwd_input_run)(p, &pl, gy, weight, gx);
  const int64_t g_count = p->groups, cg = p->c / g_count, kg = p->k / g_count, rs = p->r * p->s;
  const int nhwc = p->layout == FC_NHWC, packed = pl.algorithm == fc_alg_transposed_packed;
  const int grid = (pl.flags & FC_PLAN_ZERO_GRID) != 0;
  const size_t wbytes = (size_t)(p->k * cg * rs) * sizeof(T); /* sizes: the plan */
  T *wt = fc_alloc_large(wbytes);
  T *src = grid ? calloc((size_t)(q.n * q.c * q.h * q.w), sizeof(T)) : NULL;
  if (!wt || (grid && !src)) {
    fc_free_large(wt, wbytes);
    free(src);
    return FC_ENOMEM;
  }
  /* weight element (output channel g * kg + kj, input channel ci, tap rs - 1 - t)
   * -> the transposed weight's (output g * cg + ci, input kj, tap t): (c, kg, r, s)
   * for the packed GEMM, else (r, s, kg, c), the igemm's (r, s, cg, k) */
  if (packed) {
    for (int64_t g = 0; g < g_count; g++)
      for (int64_t kj = 0; kj < kg; kj++)
        for (int64_t ci = 0; ci < cg; ci++)
          for (int64_t t = 0; t < rs; t++) {
            const int64_t o = g * cg + ci, ft = rs - 1 - t;
            wt[(o * kg + kj) * rs + t] = nhwc ? weight[(ft * cg + ci) * p->k + g * kg + kj]
                                              : weight[((g * kg + kj) * cg + ci) * rs + ft];
          }
  } else {
    LOCAL(flip_ctx) fc = {p, weight, wt, 0};
    r = fc_parallel_for(pl.threads, nhwc ? g_count * rs : p->k, 0, LOCAL(flip_tasks), &fc);
    if (r == FC_OK && atomic_load(&fc.failed)) r = FC_ENOMEM;
    if (r != FC_OK) {
      fc_free_large(wt, wbytes);
      free(src);
      return r;
    }
  }
  if (grid) { /* gy pixel (oy, ox) at grid (oy * sh + top, ox * sw + left), when inside */
    const int64_t top = (p->r - 1) * p->dil_h - p->pad_top, left = (p->s - 1) * p->dil_w - p->pad_left;
    for (int64_t ni = 0; ni < p->n; ni++)
      for (int64_t oy = 0; oy < p->oh; oy++) {
        const int64_t gyy = oy * p->stride_h + top;
        if (gyy < 0 || gyy >= q.h) continue;
        for (int64_t ox = 0; ox < p->ow; ox++) {
          const int64_t gxx = ox * p->stride_w + left;
          if (gxx < 0 || gxx >= q.w) continue;
          if (nhwc)
            memcpy(src + ((ni * q.h + gyy) * q.w + gxx) * p->k, gy + ((ni * p->oh + oy) * p->ow + ox) * p->k,
                   (size_t)p->k * sizeof(T));
          else
            for (int64_t kk = 0; kk < p->k; kk++)
              src[((ni * p->k + kk) * q.h + gyy) * q.w + gxx] = gy[((ni * p->k + kk) * p->oh + oy) * p->ow + ox];
        }
      }
  }
  const T *x = grid ? src : gy;
  r = packed ? LOCAL(conv2d_packed)(&q, &in, x, wt, kg * rs, 1, NULL, gx)
             : LOCAL(conv2d_igemm)(&q, tab, &in, x, wt, 0, NULL, gx);
  fc_free_large(wt, wbytes);
  free(src);
  return r;
}
