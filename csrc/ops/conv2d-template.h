/* Template of conv2d's forward for one dtype: the plan, the packed GEMM, and
 * the entry points.
 *
 * Convolution is a matrix product per (image, group), cut into tiles for an
 * MR x NR register-blocked FMA microkernel. Two algorithms, and a direct
 * kernel for the geometries a special one (conv.inc) accepts (one input
 * channel, 3x3, stride 1, padding 0 or 1: an output row a call, the GEMM's
 * bits):
 *
 * - Indirect GEMM (NHWC, and NCHW with C/groups * R * S >= FC_IGEMM_MIN_DEPTH):
 *   rows = output pixels, columns = output channels, the input read in place
 *   through row pointers (igemm-template.h).
 * - Packed GEMM (shallow NCHW layers, such as one channel by 3x3 with padding):
 *   rows = output channels (weights packed into MR-tall panels), columns =
 *   output pixels (im2col packed NR at a time into thread scratch, in L1).
 *
 * The pixel blocks of all images and groups are the tasks of one parallel
 * region; a task writes only its own pixels of y, so no two threads write the
 * same element and results do not depend on the thread count.
 *
 * Every choice above (algorithm, tile, blocks, threads, scratch) is made by
 * conv2d_plan_data, which fastconv.explain calls through fc_*_conv2d_data_plan
 * (fc_*_conv2d_plan: the same for sizes alone); the driver calls it too and
 * acts on the plan, so the two cannot differ.
 *
 * Included once by f32-conv2d.c and by f64-conv2d.c, which define the entry
 * points' full names CONV2D (fc_f32_conv2d, fc_f64_conv2d), CONV2D_PLAN and
 * CONV2D_DATA_PLAN (fc_f32_conv2d_plan, fc_f32_conv2d_data_plan, ...), T
 * (float, double), LOCAL(x), the dtype's names (fc_f32_##x, fc_f64_##x), and
 * TABLE(x), its members of the dispatch table (f32_##x, f64_##x). */
#include <stdlib.h>
#include <string.h>
#include "conv2d-internal.h"

/* ---- packing: NCHW im2col -> NR-wide column panels ------------------------ */
/* Columns [q0, q0 + nn) of B (output pixels), depth [k0, k0 + kc), into
 * dst[p * nr + j]; columns nn..nr-1 are zero. xg is image n, group g. Pixels
 * of one output row form a run; with stride_w == 1 a run reads a contiguous
 * input row, copied with zero fill where it falls into the padding. */
static void LOCAL(pack_b_nchw)(const fc_conv2d_params *p, const T *xg, int64_t q0, int64_t nn,
                               int64_t k0, int64_t kc, size_t nr, T *dst) {
  enum { MAX_RUNS = 64 };
  int64_t run_j[MAX_RUNS], run_len[MAX_RUNS], run_ih[MAX_RUNS], run_iw[MAX_RUNS];
  int nruns = 0;
  for (int64_t j = 0; j < nn;) {
    const int64_t q = q0 + j, oy = q / p->ow, ox = q % p->ow;
    const int64_t len = fc_min64(nn - j, p->ow - ox);
    run_j[nruns] = j;
    run_len[nruns] = len;
    run_ih[nruns] = oy * p->stride_h - p->pad_top;
    run_iw[nruns] = ox * p->stride_w - p->pad_left;
    nruns++;
    j += len;
  }
  const int64_t hw = p->h * p->w;
  /* (ci, ry, sx) of depth index kk, stepped without divisions */
  int64_t ci = k0 / (p->r * p->s), ry = (k0 / p->s) % p->r, sx = k0 % p->s;
  for (int64_t kk = k0; kk < k0 + kc; kk++, dst += nr) {
    const T *xc = xg + ci * hw;
    for (int run = 0; run < nruns; run++) {
      T *d = dst + run_j[run];
      const int64_t len = run_len[run], ih = run_ih[run] + ry * p->dil_h;
      const int64_t iw0 = run_iw[run] + sx * p->dil_w;
      if (ih < 0 || ih >= p->h) {
        for (int64_t j = 0; j < len; j++) d[j] = 0;
        continue;
      }
      const T *row = xc + ih * p->w;
      if (p->stride_w == 1) {
        /* valid j: 0 <= iw0 + j < w */
        const int64_t lo = fc_min64(len, fc_max64(0, -iw0));
        const int64_t hi = fc_max64(lo, fc_min64(len, p->w - iw0));
        for (int64_t j = 0; j < lo; j++) d[j] = 0;
        for (int64_t j = lo; j < hi; j++) d[j] = row[iw0 + j];
        for (int64_t j = hi; j < len; j++) d[j] = 0;
      } else {
        for (int64_t j = 0; j < len; j++) {
          const int64_t iw = iw0 + j * p->stride_w;
          d[j] = (iw >= 0 && iw < p->w) ? row[iw] : 0;
        }
      }
    }
    for (int64_t j = nn; j < (int64_t)nr; j++) dst[j] = 0;
    if (++sx == p->s) {
      sx = 0;
      if (++ry == p->r) ry = 0, ci++;
    }
  }
}

/* ---- packed GEMM (shallow layers) ------------------------------------------
 * x and y NCHW; weight element (output channel i of group g, depth
 * kk) at weight[(g * kg + i) * w_rstride + kk * w_kstride]. */
typedef struct {
  const fc_conv2d_params *p;
  const T *x, *wpack, *bias;
  T *y;
  size_t mr, nr;
  int64_t kcb, mpad, nblocks, pblock, ntasks;
  atomic_int failed;
  fc_claims next;
} LOCAL(packed_ctx);

/* The (image, group, pixel block) tasks a thread claims (its own run first,
 * then what the others have not begun), with its own B panel. */
static void LOCAL(packed_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(packed_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const fc_ukernel_table *tab = fc_table();
  const size_t mr = c->mr, nr = c->nr;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, kd = cg * p->r * p->s, kcb = c->kcb;
  const int64_t img_in = p->c * p->h * p->w, img_out = p->k * P;
  T *bpan = fc_alloc((size_t)(kcb * (int64_t)nr) * sizeof(T));
  if (!bpan) {
    atomic_store(&c->failed, 1);
    return;
  }
  int step = 0;
  int64_t t, end;
  while ((t = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
    const int64_t blk = t % c->nblocks, g = (t / c->nblocks) % g_count, ni = t / (c->nblocks * g_count);
    const int64_t q0 = blk * c->pblock, qc = fc_min64(c->pblock, P - q0);
    const T *xg = c->x + ni * img_in + g * cg * p->h * p->w;
    const T *wg = c->wpack + g * c->mpad * kd;
    for (int64_t k0 = 0; k0 < kd; k0 += kcb) {
      const int64_t kc = fc_min64(kcb, kd - k0);
      const unsigned flags = k0 > 0 ? FC_GEMM_ACCUMULATE : c->bias ? FC_GEMM_BIAS_ROW : 0u;
      for (int64_t j0 = 0; j0 < qc; j0 += (int64_t)nr) {
        const int64_t nn = fc_min64((int64_t)nr, qc - j0), q = q0 + j0;
        LOCAL(pack_b_nchw)(p, xg, q, nn, k0, kc, nr, bpan);
        for (int64_t i0 = 0; i0 < kg; i0 += (int64_t)mr) {
          const int64_t ch = g * kg + i0;
          tab->TABLE(gemm).fn((size_t)kc, wg + k0 * c->mpad + i0 * kc, bpan, c->y + ni * img_out + ch * P + q,
                              (size_t)P, (size_t)fc_min64((int64_t)mr, kg - i0), (size_t)nn,
                              c->bias ? c->bias + ch : NULL, flags);
        }
      }
    }
  }
  free(bpan);
}

/* The packed GEMM's plan: the table's GEMM tile, kc deep B panels, pixel blocks. */
static void LOCAL(packed_plan)(const fc_conv2d_params *p, const fc_ukernel_table *tab, fc_plan *pl) {
  const size_t mr = tab->TABLE(gemm).mr, nr = tab->TABLE(gemm).nr;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, kd = cg * p->r * p->s;
  /* a kcb x NR panel of B fills about half of a 32 KiB L1 */
  const int64_t kcb = fc_max64(64, 16384 / (int64_t)(nr * sizeof(T)));
  const int64_t mpad = fc_ceil_div(kg, (int64_t)mr) * (int64_t)mr;
  /* pixel blocks of up to 512, fewer when that would leave threads idle (those
   * the work gets: one below the parallel threshold, as a single image has) */
  int64_t pblock = fc_max64(1, 512 / (int64_t)nr) * (int64_t)nr;
  const int64_t nthreads_max = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), INT64_MAX);
  while (pblock > (int64_t)nr && p->n * g_count * fc_ceil_div(P, pblock) < 4 * nthreads_max)
    pblock -= (int64_t)nr;
  const int64_t nblocks = fc_ceil_div(P, pblock), ntasks = p->n * g_count * nblocks;
  pl->algorithm = fc_alg_packed_gemm;
  pl->kernel_fn = FC_UKERNEL_FN(tab->TABLE(gemm).fn);
  pl->mr = (int64_t)mr, pl->nr = (int64_t)nr;
  pl->depth_block = kcb, pl->row_block = pblock, pl->tasks = ntasks;
  pl->threads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), ntasks);
  /* the packed weights, and one B panel per thread */
  pl->scratch_bytes = fc_sat_add(fc_sat_mul(fc_sat_mul(mpad, kd), g_count * (int64_t)sizeof(T)),
                                 pl->threads * kcb * (int64_t)(nr * sizeof(T)));
}

int LOCAL(conv2d_packed)(const fc_conv2d_params *p, const fc_plan *pl, const T *x,
                         const T *weight, int64_t w_rstride, int64_t w_kstride, const T *bias,
                         T *y) {
  const size_t mr = (size_t)pl->mr, nr = (size_t)pl->nr;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t P = p->oh * p->ow, kd = cg * p->r * p->s;
  const int64_t kcb = pl->depth_block, pblock = pl->row_block;
  const int64_t mpad = fc_ceil_div(kg, (int64_t)mr) * (int64_t)mr;
  int64_t wsize, tmp;
  if (!fc_mul(mpad, kd, &tmp) || !fc_mul(tmp, g_count, &wsize)) return FC_EOVERFLOW;
  const size_t wbytes = (size_t)wsize * sizeof(T);
  T *wpack = fc_alloc_large(wbytes);
  if (!wpack) return FC_ENOMEM;
  for (int64_t g = 0; g < g_count; g++)
    LOCAL(pack_panels)(weight + g * kg * w_rstride, kg, kd, w_rstride, w_kstride, mr, kcb,
                       wpack + g * mpad * kd);
  const int64_t nblocks = fc_ceil_div(P, pblock);
  LOCAL(packed_ctx) c = {p, x, wpack, bias, y, mr, nr, kcb, mpad, nblocks, pblock, pl->tasks, 0, {0}};
  fc_claims_init(&c.next, pl->tasks, 1, pl->threads);
  const int r = fc_parallel(pl->threads, LOCAL(packed_thread), &c);
  fc_free_large(wpack, wbytes);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

/* ---- special direct kernels (conv.inc) -------------------------------------------- */
/* The table's first special kernel whose predicate accepts this geometry, or NULL. */
static const LOCAL(conv_entry) *LOCAL(conv_special)(const fc_conv2d_params *p,
                                                    const fc_ukernel_table *tab) {
  for (int i = 0; i < FC_MAX_CONV && tab->TABLE(conv)[i].fn; i++)
    if (tab->TABLE(conv)[i].fits(p)) return &tab->TABLE(conv)[i];
  return NULL;
}

/* Whether the kernel reads the input in place: one input channel without
 * padding, whose rows oy..oy+2 and columns ox..ox+2 it reads; else each output
 * row reads a copy of each input channel's three rows with their zero padding
 * (fc_copy_padded_rows), channel after channel. */
static int LOCAL(direct_in_place)(const fc_conv2d_params *p) {
  return p->c == 1 && p->pad_top == 0 && p->pad_left == 0 && p->oh <= p->h - 2 &&
         p->ow <= p->w - 2;
}

/* A thread's copies of the input rows (fc_padded_rows_stride) */
static int64_t LOCAL(direct_rows_stride)(const fc_conv2d_params *p) {
  return fc_padded_rows_stride(3 * p->c, p->ow + 2, sizeof(T));
}

/* A task per block of output rows of an image (NHWC: one row, whose pixels'
 * channels are one contiguous run of y); the packed weights and the padded
 * bias as scratch, and for padded layers a thread's copies of the input rows.
 * NCHW writes each channel's rows a plane apart, so a task is an image's rows
 * (fewer where that would leave threads idle), gone through channel block by
 * channel block, each channel's plane written in one run: (128,3,32,32) by 64
 * 'same', whose 33.5 MB result goes to memory, took 1.07x / 1.16x the packed
 * GEMM's time at 1 / 2 threads a row a task, 0.91x / 0.90x an image a task
 * (AMD EPYC Zen 4). The sizes fit: fc_conv2d_check. */
static void LOCAL(direct_plan)(const fc_conv2d_params *p, const LOCAL(conv_entry) *e, fc_plan *pl) {
  const int64_t taps = p->r * p->s * p->c, width = fc_ceil_div(p->k, FC_CONV_BLOCK) * FC_CONV_BLOCK;
  const int64_t flops = FC_NS_FLOPS(2 * p->n * p->k * p->oh * p->ow * taps);
  int64_t rb = 1;
  if (p->layout == FC_NCHW) {
    /* blocks an image: enough for 4 tasks a thread, of rows as even as they go */
    const int64_t most = fc_threads_for(flops, INT64_MAX);
    const int64_t per = fc_max64(1, fc_min64(p->oh, fc_ceil_div(4 * most, fc_max64(1, p->n))));
    rb = fc_max64(1, fc_ceil_div(p->oh, per));
  }
  pl->algorithm = fc_alg_direct;
  pl->kernel_fn = FC_UKERNEL_FN(e->fn);
  pl->row_block = rb, pl->tasks = p->n * fc_ceil_div(p->oh, rb);
  pl->threads = fc_threads_for(flops, pl->tasks);
  int64_t elems = fc_sat_mul(width, taps + 1);
  if (!LOCAL(direct_in_place)(p))
    elems = fc_sat_add(elems, fc_sat_mul(pl->threads, LOCAL(direct_rows_stride)(p)));
  pl->scratch_bytes = fc_sat_mul(elems, (int64_t)sizeof(T));
}

typedef struct {
  const fc_conv2d_params *p;
  const T *x, *w, *bias;
  T *y, *rows; /* a thread's padded rows, direct_rows_stride apart; NULL: read in place */
  LOCAL(conv_ukernel) fn;
  int64_t row_block;
} LOCAL(direct_ctx);

static void LOCAL(direct_rows)(void *arg, int tid, int64_t t0, int64_t t1) {
  const LOCAL(direct_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int64_t plane = p->oh * p->ow, image = plane * p->k, rb = c->row_block;
  const int nhwc = p->layout == FC_NHWC;
  /* NHWC: the whole row's channels a call; NCHW: a channel block's rows */
  const int64_t kb = nhwc ? p->k : FC_CONV_BLOCK;
  T *rows = c->rows ? c->rows + tid * LOCAL(direct_rows_stride)(p) : NULL;
  const int64_t hw = p->h * p->w, len = p->ow + 2, per = fc_ceil_div(p->oh, rb);
  for (int64_t t = t0; t < t1; t++) {
    const int64_t ni = t / per, y0 = t % per * rb, y1 = fc_min64(p->oh, y0 + rb);
    const T *xi = c->x + ni * p->c * hw; /* (NHWC: one input channel, as NCHW's plane) */
    for (int64_t k0 = 0; k0 < p->k; k0 += kb)
      for (int64_t oy = y0; oy < y1; oy++) {
        const T *xr = xi + oy * p->w;
        size_t ldx = (size_t)p->w;
        if (rows) {
          for (int64_t ci = 0; ci < p->c; ci++)
            fc_copy_padded_rows(xi + ci * hw, p->h, p->w, oy - p->pad_top, 3, p->pad_left, len,
                                sizeof(T), rows + ci * 3 * len);
          xr = rows, ldx = (size_t)len;
        }
        /* NHWC: a row of pixels of k channels; NCHW: k channels' rows, a plane apart */
        T *yr = c->y + ni * image + (nhwc ? oy * p->ow * p->k : k0 * plane + oy * p->ow);
        c->fn(xr, ldx, (size_t)p->c, (size_t)p->ow, (size_t)fc_min64(kb, p->k - k0),
              c->w + k0 * 9 * p->c, c->bias ? c->bias + k0 : NULL, yr,
              (size_t)(nhwc ? p->k : plane));
      }
  }
}

/* The layer by its special kernel: the weights ((r, s, c, k) in NHWC, (k, c,
 * r, s) in NCHW) packed in blocks of FC_CONV_BLOCK channels (ukernel.h), zero
 * past k, the bias padded alike. */
static int LOCAL(conv2d_direct)(const fc_conv2d_params *p, const fc_plan *pl, const T *x,
                                const T *weight, const T *bias, T *y) {
  const int64_t taps = p->r * p->s * p->c, K = p->k, blocks = fc_ceil_div(K, FC_CONV_BLOCK);
  T *w = fc_alloc((size_t)pl->scratch_bytes);
  if (!w) return FC_ENOMEM;
  T *b = w + blocks * FC_CONV_BLOCK * taps;
  const int nhwc = p->layout == FC_NHWC;
  for (int64_t blk = 0; blk < blocks; blk++)
    for (int64_t t = 0; t < taps; t++)
      for (int64_t j = 0; j < FC_CONV_BLOCK; j++) {
        const int64_t k = blk * FC_CONV_BLOCK + j;
        const T v = k >= K ? (T)0 : weight[nhwc ? t * K + k : k * taps + t];
        w[(blk * taps + t) * FC_CONV_BLOCK + j] = v;
      }
  for (int64_t k = 0; k < blocks * FC_CONV_BLOCK; k++) b[k] = bias && k < K ? bias[k] : (T)0;
  /* the plan's kernel (a special one's, so of this type) */
  T *rows = LOCAL(direct_in_place)(p) ? NULL : b + blocks * FC_CONV_BLOCK;
  LOCAL(direct_ctx) c = {p, x, w, bias ? b : NULL, y, rows, (LOCAL(conv_ukernel))pl->kernel_fn,
                         pl->row_block};
  const int r = fc_parallel_for(pl->threads, pl->tasks, 1, LOCAL(direct_rows), &c);
  free(w);
  return r;
}

/* ---- the plan and the entry point ------------------------------------------------ */
/* NHWC, and NCHW from depth FC_IGEMM_MIN_DEPTH: the indirect GEMM (NCHW's
 * weights (k, cg, r, s) packed into its panels, whose depth is (r, s, cg));
 * shallower NCHW: the packed GEMM. */
int LOCAL(conv2d_plan_with)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                            int allow_border, fc_plan *pl) {
  const int st = fc_conv2d_plan_start(p, tab, pl);
  if (st != FC_OK || pl->algorithm == fc_alg_nothing) return st;
  const int64_t kd = p->c / p->groups * p->r * p->s;
  if (p->layout == FC_NCHW && kd < FC_IGEMM_MIN_DEPTH) {
    LOCAL(packed_plan)(p, tab, pl);
    return FC_OK;
  }
  const int r = LOCAL(igemm_plan)(p, tab, allow_border, pl);
  if (r == FC_OK && p->layout == FC_NCHW) { /* and a thread's block to transpose them by */
    pl->flags |= FC_PLAN_WEIGHTS_REORDERED;
    pl->scratch_bytes = fc_sat_add(pl->scratch_bytes, pl->threads * FC_KCRS_BLOCK * FC_KCRS_BLOCK *
                                                          (int64_t)sizeof(T));
    if (pl->flags & FC_PLAN_PANEL_TASKS) /* packed whole, where NHWC's are copied by slices */
      pl->scratch_bytes = fc_sat_add(pl->scratch_bytes, fc_panel_packed_bytes(p, pl, (int64_t)sizeof(T)));
  }
  return r;
}

int LOCAL(conv2d_plan_for)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                           fc_plan *pl) {
  return LOCAL(conv2d_plan_with)(p, tab, 1, pl);
}

/* conv2d's own plan: a special kernel's where the table has one for the
 * geometry, else conv2d_plan_for's (which the input gradient's transposed
 * convolutions use too: they run the GEMMs it plans, never a special kernel).
 * The predicates only compare sizes, so they may see unchecked ones: the
 * special plan checks them as the others do. */
static int LOCAL(conv2d_plan_top)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                  fc_plan *pl) {
  const LOCAL(conv_entry) *direct = LOCAL(conv_special)(p, tab);
  if (!direct) return LOCAL(conv2d_plan_for)(p, tab, pl);
  const int st = fc_conv2d_plan_start(p, tab, pl);
  if (st == FC_OK && pl->algorithm != fc_alg_nothing) LOCAL(direct_plan)(p, direct, pl);
  return st;
}

int CONV2D_PLAN(const fc_conv2d_params *p, fc_plan *plan) {
  const int st = LOCAL(conv2d_plan_top)(p, fc_table(), plan);
  fc_plan_name(plan);
  return st;
}

/* conv2d's plan for this call's weights and bias: conv2d_plan_top's, but
 * border tiles and position tiles keep the bits only for finite weights and a
 * bias without -0 (igemm-template.h), so other data re-plans with the pixel
 * tiles. */
static int LOCAL(conv2d_plan_data)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                   const T *weight, const T *bias, fc_plan *pl) {
  int st = LOCAL(conv2d_plan_top)(p, tab, pl);
  if (st == FC_OK && (pl->flags & (FC_PLAN_BORDER_TILES | FC_PLAN_POSITION_TILES)) &&
      !LOCAL(border_data_ok)(weight, (p->c / p->groups) * p->r * p->s * p->k, bias, p->k)) {
    st = LOCAL(conv2d_plan_with)(p, tab, 0, pl); /* the sizes fit: the first plan */
    pl->reason = "border-data";
  }
  return st;
}

int CONV2D_DATA_PLAN(const fc_conv2d_params *p, const T *weight, const T *bias, fc_plan *plan) {
  const int st = LOCAL(conv2d_plan_data)(p, fc_table(), weight, bias, plan);
  fc_plan_name(plan);
  return st;
}

int CONV2D(const fc_conv2d_params *p, const T *x, const T *weight, const T *bias, T *y) {
  const fc_ukernel_table *tab = fc_table();
  fc_plan pl;
  const int st = LOCAL(conv2d_plan_data)(p, tab, weight, bias, &pl);
  const int64_t cg = p->c / p->groups, rs = p->r * p->s, kd = cg * rs;
  if (st != FC_OK) return st;
  if (fc_record_plan(&pl) || pl.algorithm == fc_alg_nothing) return FC_OK;
  if (pl.algorithm == fc_alg_direct) return LOCAL(conv2d_direct)(p, &pl, x, weight, bias, y);
  if (pl.algorithm == fc_alg_packed_gemm) return LOCAL(conv2d_packed)(p, &pl, x, weight, kd, 1, bias, y);
  /* NCHW, deep: the weights (k, cg, r, s) packed straight into the panels */
  return LOCAL(conv2d_igemm)(p, tab, &pl, x, weight, (pl.flags & FC_PLAN_WEIGHTS_REORDERED) != 0,
                             bias, y);
}
