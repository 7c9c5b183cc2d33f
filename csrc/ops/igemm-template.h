/* Template of the indirect GEMM for one dtype: the tile choice (static,
 * loaded, forced or learned at first use), the row pointers, the sweep of
 * tiles over a block, and conv2d's indirect-GEMM driver.
 *
 * Rows = output pixels, columns = output channels. The microkernel reads
 * each input pixel's channels straight from the image (contiguous in NHWC,
 * h*w apart in NCHW) through a table of row pointers (no im2col); the weights
 * are packed once into NR-wide panels over the whole depth, so C is written
 * once. NCHW results go through a cache-resident pixels x channels block per
 * task, transposed into y when the block is done. The pixel blocks of all
 * images and groups are the tasks of one parallel region; a task writes only
 * its own pixels of y, so no two threads write the same element and results
 * do not depend on the thread count. The fused conv2d + max-pool
 * (conv2d-pool-template.h) and the dense layer (dense-template.h) run the same
 * tiles.
 *
 * Included once by f32-igemm.c and by f64-igemm.c, which define T (float,
 * double), LOCAL(x), the dtype's names (fc_f32_##x, fc_f64_##x), and
 * TABLE(x), its members of the dispatch table (f32_##x, f64_##x); the
 * functions other files call are declared in conv2d-internal.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "conv2d-internal.h"

/* The index in tab's indirect-GEMM list of the tile with the least padded
 * work (times the tile's cost) for a rows x cols product; a tile within
 * `tie` (a fraction) of the least ties, and of tied tiles the one listed
 * first wins. The list puts the widest first: a tile NR columns wide sweeps
 * the rows (a large layer's input, read from memory) cols / NR times, which
 * padded work does not count. */
int LOCAL(pick_igemm_tie)(const fc_ukernel_table *tab, int64_t rows, int64_t cols, double tie) {
  double work[FC_MAX_IGEMM_TILES], least = 0.0;
  int n = 0;
  for (; n < FC_MAX_IGEMM_TILES && tab->TABLE(igemm)[n].fn; n++) {
    const LOCAL(igemm_entry) *uk = &tab->TABLE(igemm)[n];
    work[n] = fc_tile_work((int64_t)uk->mr, (int64_t)uk->nr, uk->cost, rows, cols);
    if (n == 0 || work[n] < least) least = work[n];
  }
  int i = 0;
  while (i + 1 < n && work[i] > least * (1.0 + tie)) i++;
  return i;
}

/* The static choice: ties within FC_TILE_TIE_PERMILLE. */
int LOCAL(pick_igemm_at)(const fc_ukernel_table *tab, int64_t rows, int64_t cols) {
  return LOCAL(pick_igemm_tie)(tab, rows, cols, FC_TILE_TIE_PERMILLE / 1000.0);
}

/* One sweep of tile uk over an m x n x kc slice (one tap; rows from ptrs,
 * padded with `zero`; B panels packed kc x NR), in nanoseconds. */
static int64_t LOCAL(time_tile)(LOCAL(igemm_entry) uk, int64_t m, int64_t n, int64_t kc,
                                const T *const *ptrs, const T *zero, const T *bpack, T *c) {
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr, t0 = fc_clock_ns();
  for (int64_t j0 = 0; j0 < n; j0 += nr)
    for (int64_t i0 = 0; i0 < m; i0 += mr)
      uk.fn(1, (size_t)kc, ptrs + i0, 0, 1, zero, bpack + j0 * kc, uk.nr, c + i0 * n + j0, (size_t)n,
            (size_t)fc_min64(mr, m - i0), (size_t)fc_min64(nr, n - j0), NULL, 0u);
  return fc_clock_ns() - t0;
}

/* First-use tuning (fc_tune_learning in fastconv.h): the variant learned for
 * this product, timed now if it is new, large enough and there is room; -1 for
 * the static choice. The slice: up to 192 rows and 256 columns, which every
 * tile of the tables divides, so no tile is charged padding the product itself
 * would not have (it has at most one partial tile per dimension, a small share
 * of a product this large) and up to 256 of its depth. */
static int LOCAL(learned_igemm_at)(const fc_ukernel_table *tab, fc_tune_site site, int64_t rows,
                                   int64_t cols, int64_t depth, int fixed) {
  const fc_tune_entry key = {site, tab->isa, (int32_t)sizeof(T), rows, cols, depth, fixed};
  int ntiles = 0;
  while (ntiles < FC_MAX_IGEMM_TILES && tab->TABLE(igemm)[ntiles].fn) ntiles++;
  if (!fc_tune_learning(-1) || ntiles < 2 ||
      fc_sat_mul(fc_sat_mul(rows, cols), depth) < FC_TUNE_LEARN_MIN_MACS)
    return -1;
  int v = fc_tune_learned_variant(&key);
  if (v == -2) {
    if (!fc_tune_learn_room()) return -1;
    const int64_t m = fc_min64(rows, 192), n = fc_min64(cols, 256), kc = fc_min64(depth, 256);
    const int64_t nptr = m + 64; /* rows past m point at zero, for any MR */
    const T **ptrs = malloc((size_t)nptr * sizeof *ptrs);
    T *x = fc_alloc((size_t)(m * kc + kc) * sizeof(T)), *zero = x + m * kc;
    T *bpack = fc_alloc((size_t)((n + 64) * kc) * sizeof(T)), *c = fc_alloc((size_t)(m * n) * sizeof(T));
    if (!ptrs || !x || !bpack || !c) {
      free((void *)ptrs), free(x), free(bpack), free(c);
      return -1; /* no memory to time with: the static choice */
    }
    for (int64_t i = 0; i < m * kc; i++) x[i] = (T)0.5;
    for (int64_t i = 0; i < kc; i++) zero[i] = 0;
    for (int64_t i = 0; i < (n + 64) * kc; i++) bpack[i] = (T)0.25;
    for (int64_t i = 0; i < nptr; i++) ptrs[i] = i < m ? x + i * kc : zero;
    /* two timings of FC_TUNE_ROUNDS rounds; round -1 warms caches and clocks up */
    double ns[2][FC_MAX_IGEMM_TILES * FC_TUNE_ROUNDS];
    for (int r = -1; r < 2 * FC_TUNE_ROUNDS; r++)
      for (int t = 0; t < ntiles; t++) {
        const int64_t dt = LOCAL(time_tile)(tab->TABLE(igemm)[t], m, n, kc, ptrs, zero, bpack, c);
        if (r >= 0) ns[r / FC_TUNE_ROUNDS][t * FC_TUNE_ROUNDS + r % FC_TUNE_ROUNDS] = (double)dt;
      }
    free((void *)ptrs), free(x), free(bpack), free(c);
    /* kept only where both timings pick it by the wider margin (fastconv.h) */
    const int v0 = fc_tune_pick_margin(ns[0], ntiles, FC_TUNE_ROUNDS, fixed, FC_TUNE_LEARN_MARGIN);
    const int v1 = fc_tune_pick_margin(ns[1], ntiles, FC_TUNE_ROUNDS, fixed, FC_TUNE_LEARN_MARGIN);
    fc_tune_entry choice = key;
    choice.variant = v = v0 == v1 ? v0 : fixed;
    fc_tune_learn(&choice, fixed);
  }
  return v >= 0 && v < ntiles && v != fixed ? v : -1;
}

/* The index in tab's list of the tile the autotuner chose for this product,
 * loaded, forced or (with `learn`) learned at first use (csrc/ops/tuning.c;
 * *tuned = 1), else `fixed`, the static choice (*tuned = 0). */
int LOCAL(tuned_igemm_from)(const fc_ukernel_table *tab, fc_tune_site site, int64_t rows,
                            int64_t cols, int64_t depth, int fixed, int learn, int *tuned) {
  int v = fc_tune_variant(site, (int64_t)sizeof(T), rows, cols, depth, fixed);
  if (v < 0 && learn) v = LOCAL(learned_igemm_at)(tab, site, rows, cols, depth, fixed);
  *tuned = v >= 0 && v < FC_MAX_IGEMM_TILES && tab->TABLE(igemm)[v].fn;
  return *tuned ? v : fixed;
}

int LOCAL(tuned_igemm_at)(const fc_ukernel_table *tab, fc_tune_site site, int64_t rows,
                          int64_t cols, int64_t depth, int *tuned) {
  return LOCAL(tuned_igemm_from)(tab, site, rows, cols, depth, LOCAL(pick_igemm_at)(tab, rows, cols),
                                 1, tuned);
}


/* ---- conv2d by indirect GEMM --------------------------------------------------
 * x in either layout (p->layout); w_rsck holds the weights as (r, s, cg, k). */

/* Whether one row of kernel taps reads one contiguous run of the input: NHWC,
 * one group, no horizontal dilation or padding, every window inside the
 * image horizontally. Then a pointer per kernel row serves its s * C values
 * (depth s * C, a_stride 1): an s-th of the pointers the microkernel would
 * otherwise set up, which dominates when C is small (the lecture's C = 1). */
int LOCAL(igemm_merge_rows)(const fc_conv2d_params *p) {
  return p->layout == FC_NHWC && p->groups == 1 && p->dil_w == 1 && p->s > 1 &&
         p->pad_left == 0 && (p->ow - 1) * p->stride_w + p->s <= p->w;
}

/* The layer on its input's rows copied with their horizontal padding (pad_left
 * zeros before each row, and after it as many as the last window needs), so
 * that igemm_merge_rows holds: NHWC, one group, no horizontal dilation, taps
 * of a kernel row that the padding alone keeps from being one run. *q is the
 * layer on the copy (no horizontal padding, the same outputs); returns 0 where
 * the copy does not apply. Each output is the same sum in the same order
 * (tap by tap, channel by channel, the padding's zeros included), so the bits
 * are the unpadded call's. */
static int LOCAL(pad_merge_params)(const fc_conv2d_params *p, fc_conv2d_params *q) {
  if (p->layout != FC_NHWC || p->groups != 1 || p->dil_w != 1 || p->s < 2 ||
      LOCAL(igemm_merge_rows)(p) || p->n < 1 || p->oh < 1 || p->ow < 1)
    return 0;
  int64_t span, w2;
  if (!fc_mul(p->ow - 1, p->stride_w, &span) || __builtin_add_overflow(span, p->s, &span) ||
      __builtin_add_overflow(p->w, p->pad_left, &w2))
    return 0;
  *q = *p;
  q->w = fc_max64(w2, span), q->pad_left = 0;
  return LOCAL(igemm_merge_rows)(q);
}

#define FC_PAD_MERGE_MAX_IMAGE_BYTES ((int64_t)64 << 20) /* the copy's scratch stays bounded */

/* Images per chunk of the padded copy: as many as fit twice the L2 (a chunk is
 * copied, then read back while still in cache), at least one; 0 if one
 * image's copy passes FC_PAD_MERGE_MAX_IMAGE_BYTES. (32,224,224,3) by 64 7x7
 * stride 2 pad 3 under FASTCONV_ISA=avx2, 1 thread, AMD EPYC Zen 4 (1 MiB
 * L2), chunks of at most 1, 2, 4, 8, 16 and 64 MiB: 73.7, 73.0, 74.0, 75.0,
 * 81 and 75-83 ms; the same layer on an input padded beforehand, 72 ms. */
static int64_t LOCAL(pad_merge_images)(const fc_conv2d_params *q) {
  int64_t img;
  if (!fc_mul(q->h, q->w, &img) || !fc_mul(img, q->c, &img) ||
      !fc_mul(img, (int64_t)sizeof(T), &img) ||
      img > FC_PAD_MERGE_MAX_IMAGE_BYTES)
    return 0;
  const int64_t l2 = fc_l2_bytes();
  return fc_min64(q->n, fc_max64(1, 2 * l2 / fc_max64(1, img)));
}

/* ---- NCHW through channels-last copies -------------------------------------------
 * Read in place, an NCHW input has a pixel's channels h * w apart: every step
 * of the microkernel's depth loop broadcasts from a new cache line for each row
 * of the tile, where NHWC reads a pixel's channels in one run. On an Intel Xeon
 * (Emerald Rapids, 48 KiB L1d, 2 MiB L2) that left NCHW at 0.6-0.85x the NHWC
 * call's speed on the benchmark's layers ((8,256,14,14) by 256 3x3 filters, pad
 * 1: 26.8 ms against 15.9 at 1 thread). So an NCHW layer runs chunk by chunk of
 * images: the chunk's input transposed into channels-last scratch, the layer's
 * NHWC plan run on it (border tiles, merged rows, the padded copy, as NHWC
 * would), and its output transposed back into y. The transposes only move
 * values, so the results are the NHWC call's, bit for bit. */

/* The values one image's channels-last copies hold: its input (*in) and its
 * output (*out), 0 for one channel, which is channels-last already. */
static void LOCAL(nhwc_copies)(const fc_conv2d_params *p, int64_t *in, int64_t *out) {
  *in = p->c > 1 ? p->h * p->w * p->c : 0; /* fits: the plan's check */
  *out = p->k > 1 ? p->oh * p->ow * p->k : 0;
}

/* Images per chunk: as many whose input and output copies fit twice the L2 (a
 * chunk's copies are written, then read back while still in cache); 0 (read
 * NCHW in place) where one image's copies do not fit the L2 itself: there the
 * copies' trips through L3 cost more than the NHWC plan saves ((32,3,224,224)
 * by 64 7x7 filters, stride 2, whose output is 5 times its input: 100-111 ms
 * in place, 123-126 ms through copies, 1 thread, Intel Xeon). */
static int64_t LOCAL(nhwc_copy_images)(const fc_conv2d_params *p) {
  int64_t in, out, both;
  if (!fc_mul(p->h * p->w, p->c, &in) || !fc_mul(p->oh * p->ow, p->k, &out) ||
      __builtin_add_overflow(in, out, &both) || !fc_mul(both, (int64_t)sizeof(T), &both))
    return 0;
  const int64_t l2 = fc_l2_bytes();
  return both > l2 ? 0 : fc_min64(p->n, fc_max64(1, 2 * l2 / fc_max64(1, both)));
}

#define FC_LAYOUT_STRIPE 64 /* pixels per transpose task: a stripe's lines stay in L1 */

/* Task t of a chunk's layout copy: image t / stripes, its pixels in stripe
 * t % stripes, between (channels, pixels) planes and (pixels, channels) rows. */
typedef struct {
  const T *src;
  T *dst;
  int64_t pixels, channels, stripes;
  int to_nhwc;
} LOCAL(layout_ctx);

static void LOCAL(layout_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(layout_ctx) *c = arg;
  const int64_t P = c->pixels, C = c->channels, img = P * C;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t i = t / c->stripes, j0 = t % c->stripes * FC_LAYOUT_STRIPE;
    const int64_t nj = fc_min64(FC_LAYOUT_STRIPE, P - j0);
    const T *src = c->src + i * img;
    T *dst = c->dst + i * img;
    if (c->to_nhwc) /* channel j's pixels [j0, j0 + nj) -> those pixels' channel j */
      LOCAL(transpose)(src + j0, P, dst + j0 * C, C, nj, C);
    else
      LOCAL(transpose)(src + j0 * C, C, dst + j0, P, C, nj);
  }
}

/* The images' planes copied between layouts on the plan's threads. */
static int LOCAL(layout_copy)(int threads, const T *src, T *dst, int64_t images, int64_t pixels,
                              int64_t channels, int to_nhwc) {
  const int64_t stripes = fc_ceil_div(pixels, FC_LAYOUT_STRIPE);
  LOCAL(layout_ctx) c = {src, dst, pixels, channels, stripes, to_nhwc};
  return fc_parallel_for(threads, images * stripes, 0, LOCAL(layout_tasks), &c);
}

/* Row pointers for output pixels [q0, q1) (q0 a multiple of mr) into
 * ind[((q - q0) / mr * ks + tap) * mr + (q - q0) % mr]: channel 0 of the input
 * pixel in image 0 of x; `zero` in the padding and past q1 up to a whole panel.
 * With `merge` (igemm_merge_rows) a tap is a whole kernel row (ks = r).
 * Tap by tap and output row by output row: a tap reads the input columns
 * ox * stride_w + dx, inside the image for ox in [lo, hi), so a row's pointers
 * need no division and no test per pixel beyond that range (for one small
 * image, dividing out each pixel's row and column made this table cost more
 * than the products it feeds). */
void LOCAL(igemm_pointers)(const fc_conv2d_params *p, const T *x, const T *zero, int64_t q0,
                           int64_t q1, size_t mr, int merge, const T **ind) {
  const int64_t s_taps = merge ? 1 : p->s, ks = p->r * s_taps, imr = (int64_t)mr;
  const int64_t ow = p->ow, sw = p->stride_w, cstride = p->layout == FC_NHWC ? p->c : 1;
  const int64_t span = fc_ceil_div(q1 - q0, imr) * imr;
  for (int64_t t = q1 - q0; t < span; t++) /* the last panel's lanes past q1 */
    for (int64_t tap = 0; tap < ks; tap++) ind[(t / imr * ks + tap) * imr + t % imr] = zero;
  for (int64_t tap = 0; tap < ks; tap++) {
    const int64_t dy = tap / s_taps * p->dil_h - p->pad_top, dx = tap % s_taps * p->dil_w - p->pad_left;
    const int64_t lo = fc_min64(ow, dx >= 0 ? 0 : fc_ceil_div(-dx, sw));
    const int64_t hi = p->w - dx <= 0 ? lo : fc_max64(lo, fc_min64(ow, fc_ceil_div(p->w - dx, sw)));
    int64_t oy = q0 / ow, ox0 = q0 % ow, lane = 0;
    const T **pan = ind + tap * imr; /* this tap's row of the current panel */
    for (int64_t q = q0; q < q1; oy++, ox0 = 0) {
      const int64_t n = fc_min64(ow - ox0, q1 - q), ih = oy * p->stride_h + dy;
      const int64_t a = ih >= 0 && ih < p->h ? fc_max64(lo, ox0) : ox0 + n; /* [a, b): inside */
      const int64_t b = ih >= 0 && ih < p->h ? fc_max64(a, fc_min64(hi, ox0 + n)) : ox0 + n;
      const int64_t base = (ih * p->w + dx) * cstride, step = sw * cstride;
      for (int64_t ox = ox0; ox < ox0 + n; ox++) {
        pan[lane] = ox >= a && ox < b ? x + (base + ox * step) : zero;
        if (++lane == imr) lane = 0, pan += ks * imr;
      }
      q += n;
    }
  }
}

/* Output pixels [0, qc) of one block (row pointers bind, as igemm_pointers
 * lays them out) by the kg output channels of one group (weights wg packed
 * as NR-wide panels over the depth ks * cg; bias at the group's first
 * channel, or NULL): C tile (i, j) at c + i * ldc + j. Kernel taps go tblock
 * at a time (the first pass writes C, the others add). */
void LOCAL(igemm_tiles)(LOCAL(igemm_entry) uk, int64_t ks, int64_t cg, int64_t kg, int64_t tblock,
                        const T **bind, int64_t qc, size_t a_offset, size_t a_stride,
                        const T *zero, const T *wg, const T *bias, T *c, int64_t ldc) {
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr, kd = ks * cg;
  for (int64_t t0 = 0; t0 < ks; t0 += tblock) {
    const int64_t tn = fc_min64(tblock, ks - t0);
    const unsigned flags = t0 > 0 ? FC_GEMM_ACCUMULATE : bias ? FC_GEMM_BIAS_COL : 0u;
    for (int64_t j0 = 0; j0 < kg; j0 += nr) {
      const int64_t nn = fc_min64(nr, kg - j0);
      for (int64_t i0 = 0; i0 < qc; i0 += mr)
        uk.fn((size_t)tn, (size_t)cg, bind + i0 * ks + t0 * mr, a_offset, a_stride, zero,
              wg + j0 * kd + t0 * cg * nr, uk.nr, c + i0 * ldc + j0, (size_t)ldc,
              (size_t)fc_min64(mr, qc - i0), (size_t)nn, bias ? bias + j0 : NULL, flags);
    }
  }
}

/* Kernel taps per pass: a pass's slice of a 32-wide weight panel stays within
 * 3/8 of L2 (384 KiB of a 1 MiB L2) while the pixel panels stream past it:
 * (8,256,14,14) by 256 3x3 filters then runs its 9 taps in one pass, 2-3%
 * faster at 1 thread than in passes of 6 and 3 (3/16 of L2; AMD EPYC Zen 5,
 * median of 7, three interleaved rounds). It does not depend on the tile, so
 * every tile sums each output in the same passes and gives the same bits (the
 * autotuner may pick any). */
int64_t LOCAL(igemm_tap_block)(int64_t ks, int64_t cg) {
  const int64_t l2 = fc_l2_bytes();
  return fc_max64(1, fc_min64(ks, l2 * 3 / 8 / (cg * 32 * (int64_t)sizeof(T))));
}

/* The weights as a layer's tasks find them: group g's panel of output
 * channels j0 .. j0 + NR - 1 starts at w + g * gs + j0 * js, its rows (the
 * depth, in (r, s, cg) order) ld apart. Packed into panels: gs = npad * kd,
 * js = kd, ld = NR, which the microkernel reads; the caller's (r, s, cg, k),
 * which panel tasks copy a slice at a time: gs = kg, js = 1, ld = k. */
typedef struct {
  const T *w;
  int64_t gs, js, ld;
} LOCAL(wview);

static inline const T *LOCAL(wpanel)(const LOCAL(wview) *v, int64_t g, int64_t j0) {
  return v->w + g * v->gs + j0 * v->js;
}

typedef struct {
  const fc_conv2d_params *p;
  const T *x, *zero, *wpack, *bias;
  T *y;
  const T **ind; /* the shared pointer table, or NULL: one per task */
  LOCAL(igemm_entry) ukernel;
  int merge, shared_ind, batch; /* batch: pixel blocks over all images (FC_PLAN_BATCH_PANELS) */
  int64_t ks, kc, npad, a_stride, nblocks, pblock, tblock, ntasks;
  atomic_int failed;
  fc_claims next;
} LOCAL(igemm_ctx);

/* The (image, group, pixel block) tasks a thread claims: its own run first,
 * then what the others have not begun. */
static void LOCAL(igemm_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(igemm_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int nchw = p->layout == FC_NCHW;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  /* pixels of one image, or of the batch when blocks run on across images
   * (the pointers then hold each pixel's image, and image 0 is "the" image) */
  const int64_t P = p->oh * p->ow * (c->batch ? p->n : 1), kd = c->ks * c->kc, ks = c->ks;
  const int64_t img_in = p->h * p->w * p->c, img_out = P * p->k, pblock = c->pblock;
  const T **own = c->shared_ind ? NULL : fc_alloc((size_t)(pblock * ks) * sizeof(T *));
  /* NCHW output: tiles land in a cache-resident pixels x channels block,
   * transposed into y once the block is done (contiguous runs per channel) */
  T *blkbuf = nchw ? fc_alloc((size_t)(pblock * c->npad) * sizeof(T)) : NULL;
  if ((!c->shared_ind && !own) || (nchw && !blkbuf)) {
    atomic_store(&c->failed, 1);
  } else {
    int step = 0;
    int64_t t, end;
    while ((t = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
      const int64_t blk = t % c->nblocks, g = (t / c->nblocks) % g_count, ni = t / (c->nblocks * g_count);
      const int64_t q0 = blk * pblock, qc = fc_min64(pblock, P - q0);
      const T **bind = c->shared_ind ? c->ind + q0 * ks : own;
      if (!c->shared_ind) LOCAL(igemm_pointers)(p, c->x, c->zero, q0, q0 + qc, c->ukernel.mr, c->merge, own);
      const size_t a_offset = (size_t)(ni * img_in + g * cg * c->a_stride);
      LOCAL(igemm_tiles)(c->ukernel, ks, c->kc, kg, c->tblock, bind, qc, a_offset, (size_t)c->a_stride,
                         c->zero, c->wpack + g * c->npad * kd, c->bias ? c->bias + g * kg : NULL,
                         nchw ? blkbuf : c->y + ni * img_out + q0 * p->k + g * kg, nchw ? c->npad : p->k);
      if (nchw) LOCAL(transpose)(blkbuf, c->npad, c->y + ni * img_out + g * kg * P + q0, P, kg, qc);
    }
  }
  free((void *)own);
  free(blkbuf);
}

/* ---- panel tasks -----------------------------------------------------------------
 * Few pixels by many weights ((1,7,7,512) by 512 3x3 filters: 49 pixels, 9.4
 * MB of weights): pixel blocks small enough to share out read every weight
 * again for each block, from L3 or memory. A panel task is one group's weight
 * panel (NR output channels) over every pixel of the batch, or over a part
 * of the pixels where the panels alone would leave threads idle: tap pass by
 * tap pass, the pass's slice of the panel is copied into the thread's block
 * (rows NR apart, in L2) and every pixel tile runs on it, so each weight is
 * read from memory once. An NCHW chunk's weights are packed already and read
 * as they are. Each output is the same sum in the same passes as in pixel
 * blocks, so the bits are theirs. Read in place instead, the rows lie k apart,
 * a power-of-two stride holds them in a fraction of the L2's sets, and the
 * time depends on where the pages land: (1,7,7,512) by 512 from NumPy's
 * arrays at 1 thread, median (range) of 5 processes, copied 3.06 ms
 * (2.75-3.33), in place 3.85 (2.46-4.41), pixel blocks 4.23 (3.80-5.36);
 * (2,7,7,512) 5.09, 5.66 and 6.25 ms (AMD EPYC Zen 4). The copy is
 * pack_panels' (its rows fetched ahead). */
#define FC_PANEL_MAX_PIXELS 256

typedef struct {
  const fc_conv2d_params *p;
  const T *zero, *bias;
  const T **ind; /* the shared pointer table: one image's, or the batch's (batch) */
  LOCAL(wview) wv;
  T *y;
  LOCAL(igemm_entry) uk;
  int64_t ks, kc, images, pixels, parts, part_rows, tblock;
  atomic_int failed;
  fc_claims next;
} LOCAL(panel_ctx);

static void LOCAL(panel_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(panel_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int64_t mr = (int64_t)c->uk.mr, nr = (int64_t)c->uk.nr, k = p->k, ks = c->ks, kc = c->kc;
  const int64_t kg = k / p->groups, cg = p->c / p->groups, panels = fc_ceil_div(kg, nr);
  const int64_t img_in = p->h * p->w * p->c, img_out = c->pixels * k;
  /* the caller's weights are copied a slice at a time, packed ones read as they are */
  const int copy = c->wv.ld != nr;
  T *slice = copy ? fc_alloc((size_t)(c->tblock * kc * nr) * sizeof(T)) : NULL;
  if (copy && !slice) {
    atomic_store(&c->failed, 1);
    return;
  }
  int step = 0;
  int64_t t, end;
  while ((t = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
    const int64_t unit = t / c->parts, g = unit / panels, j0 = unit % panels * nr;
    const int64_t nn = fc_min64(nr, kg - j0), q0 = t % c->parts * c->part_rows;
    const int64_t q1 = fc_min64(c->pixels, q0 + c->part_rows);
    const T *wp = LOCAL(wpanel)(&c->wv, g, j0), *bias = c->bias ? c->bias + g * kg + j0 : NULL;
    for (int64_t tp = 0; tp < ks; tp += c->tblock) {
      const int64_t tn = fc_min64(c->tblock, ks - tp);
      const unsigned flags = tp > 0 ? FC_GEMM_ACCUMULATE : bias ? FC_GEMM_BIAS_COL : 0u;
      const T *b = wp + tp * kc * c->wv.ld;
      if (copy) { /* one panel of nn values a depth, ld apart */
        LOCAL(pack_panels)(b, nn, tn * kc, 1, c->wv.ld, (size_t)nr, tn * kc, slice);
        b = slice;
      }
      for (int64_t ni = 0; ni < c->images; ni++)
        for (int64_t i0 = q0; i0 < q1; i0 += mr)
          c->uk.fn((size_t)tn, (size_t)kc, c->ind + i0 * ks + tp * mr, (size_t)(ni * img_in + g * cg),
                   1, c->zero, b, (size_t)nr, c->y + ni * img_out + i0 * k + g * kg + j0, (size_t)k,
                   (size_t)fc_min64(mr, q1 - i0), (size_t)nn, bias, flags);
    }
  }
  free(slice);
}

/* The plan's panel tasks on the pointer table ind (NHWC, shared: the batch's
 * when batch, else one image's). */
static int LOCAL(conv2d_panels)(const fc_conv2d_params *p, const fc_plan *pl, LOCAL(igemm_entry) uk,
                                const T **ind, int batch, int64_t ks, int64_t kc, const T *zero,
                                LOCAL(wview) wv, const T *bias, T *y) {
  const int64_t P = p->oh * p->ow, kg = p->k / p->groups;
  const int64_t units = p->groups * fc_ceil_div(kg, (int64_t)uk.nr);
  LOCAL(panel_ctx) c = {p, zero, bias, ind, wv, y, uk, ks, kc, batch ? 1 : p->n, batch ? p->n * P : P,
                        pl->tasks / units, pl->row_block, pl->tap_block, 0, {0}};
  fc_claims_init(&c.next, pl->tasks, 1, pl->threads);
  const int r = fc_parallel(pl->threads, LOCAL(panel_thread), &c);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

/* Whether pixel blocks run on across images: for NHWC when an image's pixels
 * leave the last row panel part empty (the tile computes its empty rows, on
 * zeros) and one pointer table for the whole batch is small. The output's
 * pixels are contiguous across images in NHWC, so a panel may hold the last
 * pixels of one image and the first of the next: (8,14,14,256) by 256 3x3
 * filters on the 6x64 tile fills 262 panels for its 1,568 pixels instead of 8
 * x 33, 1% less work, and 7x7 images 9% less. Each output is the same sum in
 * the same order either way. */
static int LOCAL(igemm_batch_panels)(const fc_conv2d_params *p, int64_t mr, int64_t ks, int64_t kc) {
  const int64_t P = p->oh * p->ow, ppad = fc_ceil_div(P, mr) * mr;
  int64_t all;
  /* The batch's table costs a pointer copy per pixel and tap, about what 50
   * multiply-adds cost, against the 2 kc kg flops a pixel-tap computes; the
   * rows saved must be worth four times that: (8,56,56,64) by 64 3x3 (the
   * last panel's 2 rows of 3,138, kc kg = 4,096) keeps a table per image */
  return p->layout == FC_NHWC && p->n > 1 && P % mr != 0 &&
         (ppad - P) * kc * (p->k / p->groups) >= 200 * ppad && fc_mul(p->n, P, &all) &&
         fc_ceil_div(all, mr) * mr <= (((int64_t)1 << 20) / ks);
}

/* ---- border tiles ----------------------------------------------------------------
 * A 3x3 kernel with padding 1 reads the padding on a tenth of its (pixel, tap)
 * pairs at 14x14 (9.3%). A tile of row-major pixels mixes border and inner
 * pixels, so it multiplies those zeros. Border tiles group the pixels by the
 * taps they miss: per output row, the inner pixels (1 .. ow-2) in tiles along
 * the row, those of the first and last rows missing the kernel's first or last
 * row of taps; then the first and last columns in tiles down the column (ldc
 * ow * k), missing its first or last column of taps; and the microkernel skips
 * a tap whose row pointers are all `zero` (FC_GEMM_SKIP_ZERO_TAPS). A skipped
 * product is 0 * w = +-0 for a finite w, and adding +-0 leaves a sum as it is
 * unless the sum is -0, which a sum starting at +0 or at a bias other than -0
 * never is: with finite weights and no -0 in the bias (border_data_ok) every
 * output keeps its bits. (8,256,14,14) by 256 filters: 6.4% fewer
 * multiply-adds on the 6x64 tile, 7% faster (AMD EPYC Zen 5). */
typedef struct {
  int64_t q, ldc, m; /* the tile's first output pixel, pixels between its rows, its rows */
} LOCAL(btile);

/* Whether the layer has border tiles: NHWC, one group, one pass of taps, 3x3,
 * stride and dilation 1, padding 1 all round ("same"). */
static int LOCAL(border_ok)(const fc_conv2d_params *p, int merge, int64_t tblock, int64_t ks) {
  return p->layout == FC_NHWC && p->groups == 1 && !merge && tblock >= ks && p->r == 3 &&
         p->s == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1 && p->dil_w == 1 &&
         p->pad_top == 1 && p->pad_left == 1 && p->oh == p->h && p->ow == p->w && p->h >= 3 &&
         p->w >= 3;
}

/* Tiles of one image's border-tile sweep (an upper bound for the arrays) and
 * the tap-tiles it computes (a tile times the taps it does not skip). */
static int64_t LOCAL(border_tile_count)(const fc_conv2d_params *p, int64_t mr, int64_t *taps) {
  const int64_t row = fc_ceil_div(p->ow - 2, mr), col = fc_ceil_div(p->oh, mr);
  *taps = (p->oh - 2) * row * 9 + 2 * row * 6 + 2 * col * 6;
  return p->oh * row + 2 * col;
}

/* Channel 0 of the input pixel that kernel tap `tap` (row-major over r x s)
 * reads for output pixel q of image 0, or `zero` where it reads the padding. */
static inline const T *LOCAL(tap_input)(const fc_conv2d_params *p, const T *x, const T *zero,
                                        int64_t q, int64_t tap) {
  const int64_t iy = q / p->ow * p->stride_h + tap / p->s * p->dil_h - p->pad_top;
  const int64_t ix = q % p->ow * p->stride_w + tap % p->s * p->dil_w - p->pad_left;
  return iy >= 0 && iy < p->h && ix >= 0 && ix < p->w ? x + (iy * p->w + ix) * p->c : zero;
}

/* Image 0's tiles and their row pointers (ind[(tile * 9 + tap) * mr + lane]);
 * returns the tile count. */
static int64_t LOCAL(border_tiles)(const fc_conv2d_params *p, const T *x, const T *zero, int64_t mr,
                                   LOCAL(btile) *tiles, const T **ind) {
  const int64_t oh = p->oh, ow = p->ow;
  int64_t nt = 0;
  for (int64_t s = 0; s < oh + 2; s++) { /* the rows' inner pixels, then the two columns */
    const int64_t q0 = s < oh ? s * ow + 1 : s == oh ? 0 : ow - 1;
    const int64_t step = s < oh ? 1 : ow, len = s < oh ? ow - 2 : oh;
    for (int64_t i0 = 0; i0 < len; i0 += mr, nt++) {
      const int64_t m = fc_min64(mr, len - i0);
      tiles[nt] = (LOCAL(btile)){q0 + i0 * step, step, m};
      for (int64_t tap = 0; tap < 9; tap++)
        for (int64_t i = 0; i < mr; i++)
          ind[(nt * 9 + tap) * mr + i] =
              i < m ? LOCAL(tap_input)(p, x, zero, q0 + (i0 + i) * step, tap) : zero;
    }
  }
  return nt;
}

/* Whether all nw weights are finite: w * 0 is +-0 for those and NaN for inf
 * and NaN, and a sum of zeros stays zero where one NaN makes it NaN. Summed in
 * 64 lanes of their own (vectors the compiler keeps apart): 0.6x the time of
 * one running test of w - w on 37K and 2.4M weights (AMD EPYC Zen 4). */
int LOCAL(all_finite)(const T *w, int64_t nw) {
  T lanes[64] = {0}, sum = 0;
  int64_t i = 0;
  for (; i + 64 <= nw; i += 64)
    for (int l = 0; l < 64; l++) lanes[l] += w[i + l] * (T)0;
  for (; i < nw; i++) sum += w[i] * (T)0;
  for (int l = 0; l < 64; l++) sum += lanes[l];
  return sum == 0;
}

/* Whether skipping the padding keeps every output's bits: finite weights and
 * no -0 in the bias (NULL: none). */
int LOCAL(border_data_ok)(const T *w, int64_t nw, const T *bias, int64_t k) {
  int bad = !LOCAL(all_finite)(w, nw);
  for (int64_t i = 0; bias && i < k; i++) bad |= bias[i] == 0 && signbit(bias[i]);
  return !bad;
}

typedef struct {
  const fc_conv2d_params *p;
  const LOCAL(btile) *tiles;
  const T **ind;
  const T *zero, *wpack, *bias;
  T *y;
  LOCAL(igemm_entry) uk;
  int64_t ntiles, chunks;
  int panels_inside; /* FC_PLAN_PANELS_INSIDE */
} LOCAL(border_ctx);

/* Task t: an image's chunk of the tiles, each tile by every weight panel in
 * turn where the packed weights fit half the L2 (panels_inside: the tile's
 * input rows are read from L1 by the panels after the first; (32,56,56,64)
 * by 64 filters on AVX2's 6x16 tile, four panels, 0.925x the time at 1
 * thread, 0.947x at 2, AMD EPYC Zen 4); else weight panel t / (n chunks),
 * then image and chunk: a thread's run of tasks keeps its panel in L2 across
 * the images, where a run of images would read every panel again for each
 * (8 x 2.4 MB for (8,256,14,14) by 256 filters on the 6x64 tile, past a
 * 2 MiB L2). */
static void LOCAL(border_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(border_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int64_t mr = (int64_t)c->uk.mr, nr = (int64_t)c->uk.nr, k = p->k, kd = 9 * p->c;
  const int64_t img_in = p->h * p->w * p->c, img_out = p->oh * p->ow * k, per_panel = p->n * c->chunks;
  const unsigned flags = (c->bias ? FC_GEMM_BIAS_COL : 0u) | FC_GEMM_SKIP_ZERO_TAPS;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t j_lo = c->panels_inside ? 0 : t / per_panel * nr;
    const int64_t j_hi = c->panels_inside ? k : fc_min64(k, j_lo + nr), u = t % per_panel;
    const int64_t ni = u / c->chunks, ch = u % c->chunks;
    const int64_t b0 = c->ntiles * ch / c->chunks, b1 = c->ntiles * (ch + 1) / c->chunks;
    for (int64_t b = b0; b < b1; b++) {
      const LOCAL(btile) *tl = &c->tiles[b];
      for (int64_t j0 = j_lo; j0 < j_hi; j0 += nr)
        c->uk.fn(9, (size_t)p->c, c->ind + b * 9 * mr, (size_t)(ni * img_in), 1, c->zero,
                 c->wpack + j0 * kd, c->uk.nr, c->y + ni * img_out + tl->q * k + j0,
                 (size_t)(tl->ldc * k), (size_t)tl->m, (size_t)fc_min64(nr, k - j0),
                 c->bias ? c->bias + j0 : NULL, flags);
    }
  }
}

static int LOCAL(conv2d_border)(const fc_conv2d_params *p, const fc_plan *pl, LOCAL(igemm_entry) uk,
                                const T *x, const T *zero, const T *wpack, const T *bias, T *y) {
  int64_t taps;
  const int64_t mr = (int64_t)uk.mr, maxt = LOCAL(border_tile_count)(p, mr, &taps);
  LOCAL(btile) *tiles = malloc((size_t)maxt * sizeof *tiles);
  const T **ind = fc_alloc((size_t)(maxt * 9 * mr) * sizeof(T *)); /* at most 2^22: the plan */
  if (!tiles || !ind) {
    free(tiles), free((void *)ind);
    return FC_ENOMEM;
  }
  const int64_t nt = LOCAL(border_tiles)(p, x, zero, mr, tiles, ind);
  const int inside = (pl->flags & FC_PLAN_PANELS_INSIDE) != 0;
  const int64_t panels = inside ? 1 : fc_ceil_div(p->k, (int64_t)uk.nr);
  LOCAL(border_ctx) c = {p, tiles, ind, zero, wpack, bias, y, uk, nt, pl->tasks / (p->n * panels), inside};
  const int r = fc_parallel_for(pl->threads, pl->tasks, 1, LOCAL(border_tasks), &c);
  free(tiles), free((void *)ind);
  return r;
}

/* ---- position tiles --------------------------------------------------------------
 * Tiles of up to MR images at one output pixel: every row of a tile reads the
 * same taps, so a tap in the padding is zero on all of its rows and the
 * microkernel skips it (FC_GEMM_SKIP_ZERO_TAPS, the bits kept under the
 * border tiles' conditions). Row-major panels skip a tap only where all MR
 * pixels miss it, and border tiles cut a small image's rows into short tiles
 * (5 inner pixels a row at 7x7). A tile's rows are images, an image's output
 * apart in y. 3x3 filters with padding 1 read the padding on 18% of the
 * (pixel, tap) pairs at 7x7 ((64,512,7,7) by 512 filters), 9% at 14x14;
 * what a batch whose size is not a multiple of MR pads is the price. */

/* The (output pixel, tap) pairs that read inside the input: a tap is inside
 * when its row and its column are, so the count is the product of the two
 * axes' counts. */
static int64_t LOCAL(live_taps)(const fc_conv2d_params *p) {
  int64_t rows = 0, cols = 0;
  for (int64_t oy = 0; oy < p->oh; oy++)
    for (int64_t i = 0; i < p->r; i++) {
      const int64_t iy = oy * p->stride_h + i * p->dil_h - p->pad_top;
      rows += iy >= 0 && iy < p->h;
    }
  for (int64_t ox = 0; ox < p->ow; ox++)
    for (int64_t j = 0; j < p->s; j++) {
      const int64_t ix = ox * p->stride_w + j * p->dil_w - p->pad_left;
      cols += ix >= 0 && ix < p->w;
    }
  return fc_sat_mul(rows, cols);
}

/* The pointer table: ind[((b * P + q) * ks + tap) * mr + i] for tile b
 * (images b * mr ..), output pixel q of P, tap and lane: channel 0 of the
 * input pixel the tap reads in image b * mr + i, or `zero` (padding, lanes
 * past the batch). */
static void LOCAL(position_pointers)(const fc_conv2d_params *p, const T *x, const T *zero,
                                     int64_t mr, int64_t tpp, const T **ind) {
  const int64_t ks = p->r * p->s, img_in = p->h * p->w * p->c, P = p->oh * p->ow;
  for (int64_t q = 0; q < P; q++)
    for (int64_t tap = 0; tap < ks; tap++) {
      const T *at = LOCAL(tap_input)(p, x, zero, q, tap);
      for (int64_t b = 0; b < tpp; b++)
        for (int64_t i = 0; i < mr; i++) {
          const int64_t img = b * mr + i;
          ind[((b * P + q) * ks + tap) * mr + i] = at != zero && img < p->n ? at + img * img_in : zero;
        }
    }
}

typedef struct {
  const fc_conv2d_params *p;
  const T **ind;
  const T *zero, *wpack, *bias;
  T *y;
  LOCAL(igemm_entry) uk;
  int64_t per_task, tblock;
} LOCAL(position_ctx);

/* Task t: tile b = t / (pixel blocks) (images b * mr ..) at the pixels of
 * block t % (pixel blocks), tap pass by tap pass, each pass's weight panels in
 * turn over the pixels (a pass's panel slice stays in L2 while they stream
 * past it, as in igemm_tiles). */
static void LOCAL(position_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(position_ctx) *c = arg;
  const fc_conv2d_params *p = c->p;
  const int64_t mr = (int64_t)c->uk.mr, nr = (int64_t)c->uk.nr, k = p->k, ks = p->r * p->s;
  const int64_t kd = ks * p->c, P = p->oh * p->ow, img_out = P * k;
  const int64_t blocks = fc_ceil_div(P, c->per_task);
  for (int64_t t = t0; t < t1; t++) {
    const int64_t b = t / blocks, q0 = t % blocks * c->per_task, q1 = fc_min64(P, q0 + c->per_task);
    for (int64_t tp = 0; tp < ks; tp += c->tblock) {
      const int64_t tn = fc_min64(c->tblock, ks - tp);
      const unsigned flags = (tp > 0 ? FC_GEMM_ACCUMULATE : c->bias ? FC_GEMM_BIAS_COL : 0u) |
                             FC_GEMM_SKIP_ZERO_TAPS;
      for (int64_t j0 = 0; j0 < k; j0 += nr)
        for (int64_t q = q0; q < q1; q++)
          c->uk.fn((size_t)tn, (size_t)p->c, c->ind + ((b * P + q) * ks + tp) * mr, 0, 1, c->zero,
                   c->wpack + j0 * kd + tp * p->c * nr, c->uk.nr, c->y + b * mr * img_out + q * k + j0,
                   (size_t)img_out, (size_t)fc_min64(mr, p->n - b * mr), (size_t)fc_min64(nr, k - j0),
                   c->bias ? c->bias + j0 : NULL, flags);
    }
  }
}

static int LOCAL(conv2d_positions)(const fc_conv2d_params *p, const fc_plan *pl,
                                   LOCAL(igemm_entry) uk, const T *x, const T *zero,
                                   const T *wpack, const T *bias, T *y) {
  const int64_t mr = (int64_t)uk.mr, tpp = fc_ceil_div(p->n, mr), P = p->oh * p->ow;
  const T **ind = fc_alloc((size_t)(P * tpp * mr * p->r * p->s) * sizeof(T *)); /* fits: the plan */
  if (!ind) return FC_ENOMEM;
  LOCAL(position_pointers)(p, x, zero, mr, tpp, ind);
  LOCAL(position_ctx) c = {p, ind, zero, wpack, bias, y, uk, pl->row_block, pl->tap_block};
  const int r = fc_parallel_for(pl->threads, pl->tasks, 1, LOCAL(position_tasks), &c);
  free((void *)ind);
  return r;
}

/* The NHWC plan of chunk q, but with fewer position tiles a pixel than
 * threads the plan without tiles that skip: the threads would share each
 * image, whose channels-last copy one of them wrote ((6,64,7,7) by 64 5x5
 * filters, stride 2, padding 2, at 2 threads: 1.38x the time of the other
 * tiles, where NHWC on the caller's input took 0.76x; AMD EPYC Zen 4). */
static int LOCAL(chunk_plan)(const fc_conv2d_params *q, const fc_ukernel_table *tab,
                             int allow_border, fc_plan *pq) {
  fc_plan_init(pq, tab);
  int r = LOCAL(igemm_plan)(q, tab, allow_border, pq);
  if (r == FC_OK && (pq->flags & FC_PLAN_POSITION_TILES) && fc_ceil_div(q->n, pq->mr) < pq->threads) {
    fc_plan_init(pq, tab);
    r = LOCAL(igemm_plan)(q, tab, 0, pq);
  }
  return r;
}

/* Images per chunk of an NCHW layer's channels-last copies (0: read in place)
 * and *pq, the NHWC plan of a chunk: nhwc_copy_images's chunk, or, where the
 * batch takes several chunks, that chunk rounded up to a multiple of the rows
 * of the tile position tiles would take, if that takes them: they fill their
 * rows only with a multiple of the tile's images. (64,512,7,7) by 512 3x3
 * filters, padding 1, on the 6x64 tile: chunks of 10 images (the L2 rule)
 * took the pixel tiles; of 12, 0.91x the time of chunks of 6 (0.95x at 2
 * threads) and 1.00x that of 36 (8 L2s of copies); (64,64,14,14) by 64 5x5
 * filters, padding 2: chunks of 24, 0.85x / 0.83x the time of one chunk of
 * 64 at 1 / 2 threads (AMD EPYC Zen 4, C harness). Returns -1 where no plan
 * was made. */
static int64_t LOCAL(nhwc_chunk)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                 int allow_border, fc_plan *pq) {
  const int64_t chunk = LOCAL(nhwc_copy_images)(p);
  if (chunk < 1) return chunk;
  fc_conv2d_params q = *p;
  q.layout = FC_NHWC, q.n = chunk;
  if (LOCAL(chunk_plan)(&q, tab, allow_border, pq) != FC_OK) return -1;
  /* the rows of the tile position tiles would take on that many images */
  const int64_t rows = (int64_t)tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, chunk, p->k / p->groups)].mr;
  const int64_t more = fc_min64(p->n, fc_ceil_div(chunk, rows) * rows);
  if (allow_border && chunk < p->n && more > chunk) {
    fc_plan p2;
    q.n = more;
    if (LOCAL(chunk_plan)(&q, tab, allow_border, &p2) == FC_OK && (p2.flags & FC_PLAN_POSITION_TILES)) {
      *pq = p2;
      return more;
    }
  }
  return chunk;
}

/* The indirect GEMM's plan: tile, pixel blocks, tap blocks, the pointer table;
 * border tiles or position tiles instead of pixel blocks where allowed
 * (allow_border: the weights and bias keep the bits when the padding's taps
 * are skipped) and they compute less (2% and 5%, as below). */
int LOCAL(igemm_plan)(const fc_conv2d_params *p, const fc_ukernel_table *tab, int allow_border,
                      fc_plan *pl) {
  const int nchw = p->layout == FC_NCHW, merge = LOCAL(igemm_merge_rows)(p);
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  /* taps (ks) of depth kc each: kernel pixels of cg channels, or whole rows */
  const int64_t ks = merge ? p->r : p->r * p->s, kc = merge ? p->s * cg : cg;
  const int64_t P = p->oh * p->ow, kd = ks * kc;
  int tuned;
  const int variant = LOCAL(tuned_igemm_at)(tab, FC_TUNE_CONV2D, P, kg, kd, &tuned);
  const LOCAL(igemm_entry) ukernel = tab->TABLE(igemm)[variant];
  const size_t mr = ukernel.mr, nr = ukernel.nr;
  const int64_t npad = fc_ceil_div(kg, (int64_t)nr) * (int64_t)nr;
  /* pixel blocks of up to 256, fewer when that would leave threads idle (those
   * the work gets: one below the parallel threshold); over the batch, blocks as
   * even as whole panels allow, a multiple of the threads in number (each
   * thread takes a run of them) */
  const int batch = LOCAL(igemm_batch_panels)(p, (int64_t)mr, ks, kc);
  const int64_t images = batch ? 1 : p->n, pixels = batch ? p->n * P : P; /* fits: batch_panels */
  int64_t pblock = fc_ceil_div(256, (int64_t)mr) * (int64_t)mr;
  const int64_t nthreads_max = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), INT64_MAX);
  if (batch) {
    const int64_t panels = fc_ceil_div(pixels, (int64_t)mr);
    int64_t want = fc_max64(fc_ceil_div(panels, pblock / (int64_t)mr), 4 * nthreads_max / g_count);
    want = fc_min64(panels, fc_ceil_div(want, nthreads_max) * nthreads_max);
    pblock = fc_ceil_div(panels, want) * (int64_t)mr;
  }
  while (pblock > (int64_t)mr && images * g_count * fc_ceil_div(pixels, pblock) < 4 * nthreads_max)
    pblock -= (int64_t)mr;
  const int64_t nblocks = fc_ceil_div(pixels, pblock), ntasks = images * g_count * nblocks;
  /* One pointer table for all images and groups when it is small enough
   * (the usual case), else one per task, built for its block only. */
  const int64_t ppad = fc_ceil_div(P, (int64_t)mr) * (int64_t)mr;
  int64_t nptr, wsize, tmp;
  if (!fc_mul(ppad, ks, &nptr)) return FC_EOVERFLOW;
  if (!fc_mul(npad, kd, &tmp) || !fc_mul(tmp, g_count, &wsize)) return FC_EOVERFLOW;
  const int shared_ind = batch || nptr <= ((int64_t)1 << 22);
  /* the batch's table, built from image 0's */
  if (batch) nptr += fc_ceil_div(pixels, (int64_t)mr) * (int64_t)mr * ks;
  const int64_t a_stride = nchw ? p->h * p->w : 1;
  pl->algorithm = fc_alg_igemm;
  pl->kernel_fn = FC_UKERNEL_FN(ukernel.fn);
  pl->variant = variant;
  pl->mr = (int64_t)mr, pl->nr = (int64_t)nr;
  pl->depth_block = kc, pl->row_block = pblock, pl->tasks = ntasks;
  pl->tap_block = LOCAL(igemm_tap_block)(ks, kc);
  pl->flags = (merge ? FC_PLAN_MERGE_ROWS : 0u) | (shared_ind ? FC_PLAN_SHARED_POINTERS : 0u) |
              (nchw ? FC_PLAN_TRANSPOSED_OUT : 0u) | (tuned ? FC_PLAN_TUNED_TILE : 0u) |
              (batch ? FC_PLAN_BATCH_PANELS : 0u);
  pl->threads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), ntasks);
  /* packed weights, the zero row, the pointer table(s), the NCHW blocks */
  int64_t bytes = fc_sat_mul(wsize, (int64_t)sizeof(T));
  bytes = fc_sat_add(bytes, fc_sat_mul(fc_sat_add(fc_sat_mul(kc - 1, a_stride), 1), (int64_t)sizeof(T)));
  bytes = fc_sat_add(bytes, fc_sat_mul(shared_ind ? nptr : fc_sat_mul(pl->threads, pblock * ks),
                                       (int64_t)sizeof(T *)));
  if (nchw) bytes = fc_sat_add(bytes, fc_sat_mul(pl->threads, fc_sat_mul(pblock, npad * (int64_t)sizeof(T))));
  pl->scratch_bytes = bytes;
  /* Panel tasks (panel_thread) where a group's weights outgrow half the L2,
   * so that pixel blocks read them from farther out once a block, and the
   * batch has at most FC_PANEL_MAX_PIXELS output pixels; parts of the pixels
   * so that the tasks share out evenly on the threads. Against pixel blocks,
   * 3x3 filters, padding 1, 1 thread (C harness, AMD EPYC Zen 4): (1,7,7,512)
   * by 512 0.71-0.85x the time (three runs), (2,5,5,512) 0.84x, (2,7,7,512)
   * 0.87x, (4,7,7,512) 0.95x, then past 256 pixels (8,7,7,512) 0.99x,
   * (16,7,7,512) 1.00x, (1,28,28,512) 0.96x; at 2 threads (1,7,7,512)
   * 0.39-0.66x. */
  if (p->layout == FC_NHWC && shared_ind && fc_sat_mul(p->n, P) <= FC_PANEL_MAX_PIXELS &&
      fc_sat_mul(kd * npad, (int64_t)sizeof(T)) > fc_l2_bytes() / 2) {
    const int64_t units = g_count * (npad / (int64_t)nr);
    int64_t a = units, b = nthreads_max;
    while (b) { const int64_t r = a % b; a = b, b = r; } /* a: gcd */
    const int64_t parts = nthreads_max / a;
    pl->flags |= FC_PLAN_PANEL_TASKS;
    pl->tasks = units * parts;
    pl->row_block = fc_ceil_div(fc_ceil_div(pixels, (int64_t)mr), parts) * (int64_t)mr;
    pl->threads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), pl->tasks);
    /* the caller's weights (NHWC's) copied a slice at a time by each thread, not packed */
    bytes -= wsize * (int64_t)sizeof(T);
    bytes = fc_sat_add(bytes, fc_sat_mul(pl->threads, fc_sat_mul(pl->tap_block * kc * (int64_t)nr,
                                                                   (int64_t)sizeof(T))));
    pl->scratch_bytes = bytes;
  }
  /* border tiles: one table of image 0's pointers, no larger than a shared one */
  int64_t btaps;
  const int64_t btiles = LOCAL(border_tile_count)(p, (int64_t)mr, &btaps);
  const int64_t taps_now = fc_sat_mul(batch ? fc_ceil_div(pixels, (int64_t)mr)
                                            : fc_sat_mul(p->n, fc_ceil_div(P, (int64_t)mr)), ks);
  if (allow_border && LOCAL(border_ok)(p, merge, pl->tap_block, ks) &&
      fc_sat_mul(btiles, 9 * (int64_t)mr) <= ((int64_t)1 << 22) &&
      fc_sat_mul(fc_sat_mul(p->n, btaps), 50) < fc_sat_mul(taps_now, 49)) {
    const int64_t chunks = fc_max64(1, fc_ceil_div(4 * nthreads_max, p->n));
    /* every panel on a tile in turn when the packed weights fit half the L2
     * (border_tasks); fits: n * chunks <= n + 4 threads, times the panels */
    const int64_t panels = npad / (int64_t)nr;
    const int inside = panels > 1 && fc_sat_mul(wsize, (int64_t)sizeof(T)) <= fc_l2_bytes() / 2;
    pl->row_block = (int64_t)mr, pl->tasks = p->n * chunks * (inside ? 1 : panels);
    pl->flags = FC_PLAN_BORDER_TILES | (inside ? FC_PLAN_PANELS_INSIDE : 0u) |
                (tuned ? FC_PLAN_TUNED_TILE : 0u);
    pl->threads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), pl->tasks);
    bytes = fc_sat_mul(wsize, (int64_t)sizeof(T));
    bytes = fc_sat_add(bytes, fc_sat_mul(kc, (int64_t)sizeof(T)));
    bytes = fc_sat_add(bytes, fc_sat_mul(fc_sat_mul(btiles, 9 * (int64_t)mr), (int64_t)sizeof(T *)));
    pl->scratch_bytes = fc_sat_add(bytes, fc_sat_mul(btiles, (int64_t)sizeof(LOCAL(btile))));
  }
  /* Position tiles where they compute 5% less than the plan so far: at 2-5%
   * less they took 0.95x to 1.02x its time ((8,28,28,512) by 512 3x3
   * filters, stride 2). A tap of kc channels counts as kc + 6, since a tile's
   * rows lie far apart in x and y, which costs shallow taps more (64 channels,
   * 9% of the taps skipped: 0.99-1.02x the time of the plan so far; 256 and
   * 512 channels: 0.94x at 5% skipped, 0.82-0.86x at 18%; 1 thread, AMD EPYC
   * Zen 4); none below 32 channels a tap, where a tile's images and the
   * weights outgrow L1 ((64,7,7,16) by 16 5x5 filters, padding 2, 31% of the
   * taps skipped: 1.10x the time at 1 thread, 1.32x at 2). A task is one
   * tile's images at a block of pixels (about a pixel block's tiles, the
   * blocks as even as they go, at least four tasks a thread), so a thread's
   * run of tasks keeps to its own images, as the channels-last copy of an
   * NCHW chunk shares them out. */
  /* Their own tile: the least padded work on a pixel's images by the output
   * channels (the tuner's where it chose one): 32 images fill four 8x32 tiles
   * where 6x64 tiles pad 4 rows of 36. Work in multiply-adds, padding
   * and the tiles' relative costs included; the serial scan of the weights
   * that skipping needs (border_data_ok) counted where the plan so far has no
   * border tiles, as 8 multiply-adds' time a weight on every thread (a quarter
   * of (6,4,4,64) by 64 3x3 filters, stride 2, at 19 us). */
  if (allow_border && p->layout == FC_NHWC && p->groups == 1 && !merge && kc >= 32) {
    const int pvar = tuned ? variant : LOCAL(pick_igemm_at)(tab, p->n, kg);
    const LOCAL(igemm_entry) puk = tab->TABLE(igemm)[pvar];
    const int64_t pmr = (int64_t)puk.mr, pnr = (int64_t)puk.nr, pnpad = fc_ceil_div(kg, pnr) * pnr;
    const int64_t tpp = fc_ceil_div(p->n, pmr), P_tpp = fc_sat_mul(P, tpp);
    const int border = (pl->flags & FC_PLAN_BORDER_TILES) != 0;
    const double taps_plan = border ? (double)p->n * (double)btaps : (double)taps_now;
    const double plan_work = taps_plan * (double)mr * (double)kc * (double)npad * ukernel.cost;
    const double pos_work = (double)tpp * (double)LOCAL(live_taps)(p) * (double)pmr *
                                (double)(kc + 6) * (double)pnpad * puk.cost +
                            (border ? 0.0 : 8.0 * (double)(ks * kc * kg) * (double)nthreads_max);
    if (fc_sat_mul(fc_sat_mul(P_tpp, pmr), ks) <= ((int64_t)1 << 22) && pos_work * 20 < plan_work * 19) {
      const int64_t blocks = fc_min64(P, fc_max64(fc_ceil_div(P, fc_ceil_div(256, pmr)),
                                                  fc_ceil_div(4 * nthreads_max, tpp)));
      const int64_t per_task = fc_ceil_div(P, blocks);
      pl->kernel_fn = FC_UKERNEL_FN(puk.fn);
      pl->variant = pvar, pl->mr = pmr, pl->nr = pnr;
      pl->row_block = per_task, pl->tasks = tpp * fc_ceil_div(P, per_task);
      pl->flags = FC_PLAN_POSITION_TILES | (tuned ? FC_PLAN_TUNED_TILE : 0u);
      pl->threads = fc_threads_for(FC_NS_FLOPS(2 * p->n * p->k * P * kd), pl->tasks);
      bytes = fc_sat_mul(fc_sat_mul(pnpad, kd), (int64_t)sizeof(T));
      bytes = fc_sat_add(bytes, fc_sat_mul(kc, (int64_t)sizeof(T)));
      pl->scratch_bytes = fc_sat_add(bytes, fc_sat_mul(fc_sat_mul(P_tpp, pmr * ks), (int64_t)sizeof(T *)));
    }
  }
  /* a tap of few channels on a narrow tile: the padded copy's plan (its first
   * chunk's: conv2d_igemm plans each chunk), with the copy's scratch */
  fc_conv2d_params q;
  int64_t chunk;
  const int64_t merge_width = tab->isa >= FC_ISA_AVX512 && sizeof(T) == 4 ? FC_PAD_MERGE_MAX_WIDTH_AVX512
                                                                          : FC_PAD_MERGE_MAX_WIDTH;
  if (cg * (int64_t)nr <= merge_width && LOCAL(pad_merge_params)(p, &q) &&
      (chunk = LOCAL(pad_merge_images)(&q)) > 0) {
    q.n = chunk;
    fc_plan pq;
    fc_plan_init(&pq, tab);
    if (LOCAL(igemm_plan)(&q, tab, 0, &pq) == FC_OK && (pq.flags & FC_PLAN_MERGE_ROWS)) {
      *pl = pq;
      pl->flags |= FC_PLAN_PADDED_COPY;
      pl->scratch_bytes = fc_sat_add(pq.scratch_bytes, fc_sat_mul(chunk * q.h * q.w * q.c,
                                                                  (int64_t)sizeof(T)));
    }
  }
  /* NCHW: the NHWC plan of a chunk (its first) on channels-last copies (above);
   * one input channel is already channels-last, one output channel too */
  fc_plan pq;
  if (nchw && (chunk = LOCAL(nhwc_chunk)(p, tab, allow_border, &pq)) > 0) {
    int64_t in, out;
    LOCAL(nhwc_copies)(p, &in, &out);
    *pl = pq;
    pl->flags |= FC_PLAN_CHANNELS_LAST_COPY;
    pl->scratch_bytes = fc_sat_add(pq.scratch_bytes, fc_sat_mul(chunk * (in + out), (int64_t)sizeof(T)));
  }
  return FC_OK;
}

/* The weights (r, s, cg, k) packed into NR-wide panels over the depth, a
 * panel per task (group g's panel t: kg's columns t * nr ..), on the layer's
 * threads: for a large layer a serial pass would be a tenth of the call at two
 * threads. Only copies, so the panels are those of one serial pass. */
typedef struct {
  const T *w; /* (r, s, cg, k), or (k, cg, r, s) when rs > 0 */
  T *wpack;
  int64_t kg, kd, k, npad, panels, rs;
  size_t nr;
  atomic_int failed; /* wpack_kcrs_tasks had no scratch */
} LOCAL(wpack_ctx);

static void LOCAL(wpack_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(wpack_ctx) *c = arg;
  const int64_t nr = (int64_t)c->nr;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t g = t / c->panels, j0 = t % c->panels * nr;
    LOCAL(pack_panels)(c->w + g * c->kg + j0, fc_min64(nr, c->kg - j0), c->kd, 1, c->k, c->nr,
                       c->kd, c->wpack + g * c->npad * c->kd + j0 * c->kd);
  }
}

/* wpack_tasks from NCHW's weights (k, cg, r, s), panel depth (r, s, cg): a
 * group's weights are a kg x (cg * rs) matrix whose transpose holds a panel's
 * rows, in (cg, rs) order where the depth is (rs, cg). A block of up to 64 of
 * the panel's columns by 64 of the matrix's is transposed in L1 by the table's
 * kernel (into scratch: 32 KiB of doubles is too much for a caller's thread
 * stack), then each of its rows copied to its depth. Reordering to (r, s, cg,
 * k) first, a value at a time, then packing as NHWC does, took about 5% of
 * (8,256,14,14) by 256 3x3 filters at one thread (AMD EPYC Zen 4). */
static void LOCAL(wpack_kcrs_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  LOCAL(wpack_ctx) *c = arg;
  const int64_t nr = (int64_t)c->nr, kd = c->kd, rs = c->rs, cg = kd / rs;
  T *buf = fc_alloc(FC_KCRS_BLOCK * FC_KCRS_BLOCK * sizeof(T));
  if (!buf) {
    atomic_store(&c->failed, 1);
    return;
  }
  for (int64_t t = t0; t < t1; t++) {
    const int64_t g = t / c->panels, j0 = t % c->panels * nr, valid = fc_min64(nr, c->kg - j0);
    const T *src = c->w + (g * c->kg + j0) * kd;
    T *pan = c->wpack + g * c->npad * kd + j0 * kd;
    for (int64_t jb = 0; jb < valid; jb += FC_KCRS_BLOCK) {
      const int64_t nj = fc_min64(FC_KCRS_BLOCK, valid - jb);
      for (int64_t d0 = 0; d0 < kd; d0 += FC_KCRS_BLOCK) {
        const int64_t nd = fc_min64(FC_KCRS_BLOCK, kd - d0);
        /* buf[dd * BLOCK + j] = weight (column jb + j, depth d0 + dd in (cg, rs) order) */
        LOCAL(transpose)(src + jb * kd + d0, kd, buf, FC_KCRS_BLOCK, nd, nj);
        for (int64_t dd = 0; dd < nd; dd++) {
          const int64_t ci = (d0 + dd) / rs, tap = (d0 + dd) % rs;
          T *d = pan + (tap * cg + ci) * nr + jb;
          const T *b = buf + dd * FC_KCRS_BLOCK;
          for (int64_t j = 0; j < nj; j++) d[j] = b[j];
        }
      }
    }
    for (int64_t kk = 0; valid < nr && kk < kd; kk++) /* columns past the group's: zero */
      for (int64_t j = valid; j < nr; j++) pan[kk * nr + j] = 0;
  }
  free(buf);
}

/* The weights for a plan's kernel: the caller's, which panel tasks copy a
 * slice at a time, or packed into panels nr wide (the kernel's) over the
 * depth, the same for every plan with that width, so the chunks of a chunked
 * call pack the weights once, not once a chunk. */
typedef struct {
  T *packed; /* owned (fc_alloc_large of `bytes`); NULL until packed */
  size_t nr, bytes;
  LOCAL(wview) v;
} LOCAL(igemm_weights);

static void LOCAL(igemm_weights_free)(LOCAL(igemm_weights) *pw) {
  fc_free_large(pw->packed, pw->bytes);
  pw->packed = NULL;
}

/* pw->v for plan pl's kernel from w in (r, s, cg, k) or, when w_kcrs, NCHW's
 * (k, cg, r, s): w itself for panel tasks on (r, s, cg, k), else w packed
 * (unless it already is, for that width). */
static int LOCAL(igemm_pack)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                             const fc_plan *pl, const T *w, int w_kcrs,
                             LOCAL(igemm_weights) *pw) {
  const size_t nr = tab->TABLE(igemm)[pl->variant].nr;
  const int64_t g_count = p->groups, kg = p->k / g_count, kd = p->c / g_count * p->r * p->s;
  const int64_t npad = fc_ceil_div(kg, (int64_t)nr) * (int64_t)nr;
  if (!w_kcrs && (pl->flags & FC_PLAN_PANEL_TASKS)) {
    pw->v = (LOCAL(wview)){w, kg, 1, p->k};
    return FC_OK;
  }
  pw->v = (LOCAL(wview)){pw->packed, npad * kd, kd, (int64_t)nr};
  if (pw->packed && pw->nr == nr) return FC_OK;
  LOCAL(igemm_weights_free)(pw);
  const size_t bytes = (size_t)(npad * kd * g_count) * sizeof(T); /* fits: the plan */
  T *packed = fc_alloc_large(bytes);
  if (!packed) return FC_ENOMEM;
  LOCAL(wpack_ctx) wc = {w, packed, kg, kd, p->k, npad, npad / (int64_t)nr,
                         w_kcrs ? p->r * p->s : 0, nr, 0};
  int r = fc_parallel_for(pl->threads, g_count * wc.panels, 0,
                          w_kcrs ? LOCAL(wpack_kcrs_tasks) : LOCAL(wpack_tasks), &wc);
  if (r == FC_OK && atomic_load(&wc.failed)) r = FC_ENOMEM;
  if (r != FC_OK) {
    fc_free_large(packed, bytes);
    return r;
  }
  pw->packed = packed, pw->nr = nr, pw->bytes = bytes, pw->v.w = packed;
  return FC_OK;
}

static int LOCAL(igemm_packed)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                               const fc_plan *pl, const T *x, LOCAL(wview) wv, const T *bias,
                               T *y);

/* A chunk of a chunked call (its own plan pq) on the call's packed weights pw
 * (packed anew only if pq's kernel is another width). */
static int LOCAL(igemm_chunk)(const fc_conv2d_params *q, const fc_ukernel_table *tab,
                              const fc_plan *pq, const T *x, const T *w, int w_kcrs,
                              LOCAL(igemm_weights) *pw, const T *bias, T *y) {
  if (pq->flags & (FC_PLAN_CHANNELS_LAST_COPY | FC_PLAN_PADDED_COPY))
    return LOCAL(conv2d_igemm)(q, tab, pq, x, w, w_kcrs, bias, y);
  const int r = LOCAL(igemm_pack)(q, tab, pq, w, w_kcrs, pw);
  return r != FC_OK ? r : LOCAL(igemm_packed)(q, tab, pq, x, pw->v, bias, y);
}

/* The padded copy's rows: row t of the chunk (image t / h, row t % h) from x
 * into the copy, zeros around it. */
typedef struct {
  const T *x;
  T *dst;
  int64_t h, w, w2, c, left;
} LOCAL(pad_rows_ctx);

static void LOCAL(pad_rows)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(pad_rows_ctx) *c = arg;
  const int64_t run = c->w * c->c, row2 = c->w2 * c->c, before = c->left * c->c;
  /* rows t0..t1 as an image of t1 - t0 rows of `run` values, each padded */
  fc_copy_padded_rows(c->x + t0 * run, t1 - t0, run, 0, t1 - t0, before, row2, sizeof(T),
                      c->dst + t0 * row2);
}

/* conv2d_igemm with FC_PLAN_PADDED_COPY: chunk by chunk of images, the rows
 * copied with their padding into scratch, then the chunk's own plan (the
 * merged rows') run on the copy. */
static int LOCAL(conv2d_igemm_padded)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                      const fc_plan *pl, const T *x, const T *w, int w_kcrs,
                                      const T *bias, T *y) {
  fc_conv2d_params q;
  if (!LOCAL(pad_merge_params)(p, &q)) return FC_EINVAL; /* the plan said it applies */
  const int64_t images = LOCAL(pad_merge_images)(&q), img_out = p->oh * p->ow * p->k;
  const int64_t img_in = p->h * p->w * p->c, img_copy = q.h * q.w * q.c;
  if (images < 1) return FC_EINVAL;
  T *buf = fc_alloc((size_t)(images * img_copy) * sizeof(T)); /* fits: the plan */
  if (!buf) return FC_ENOMEM;
  LOCAL(igemm_weights) pw = {NULL, 0, 0, {NULL, 0, 0, 0}};
  int r = FC_OK;
  for (int64_t n0 = 0; n0 < p->n && r == FC_OK; n0 += images) {
    q.n = fc_min64(images, p->n - n0);
    LOCAL(pad_rows_ctx) pc = {x + n0 * img_in, buf, p->h, p->w, q.w, p->c, p->pad_left};
    r = fc_parallel_for(pl->threads, q.n * p->h, 0, LOCAL(pad_rows), &pc);
    fc_plan pq;
    fc_plan_init(&pq, tab);
    if (r == FC_OK) r = LOCAL(igemm_plan)(&q, tab, 0, &pq);
    if (r == FC_OK)
      r = LOCAL(igemm_chunk)(&q, tab, &pq, buf, w, w_kcrs, &pw, bias, y + n0 * img_out);
  }
  free(buf);
  LOCAL(igemm_weights_free)(&pw);
  return r;
}

/* conv2d_igemm with FC_PLAN_CHANNELS_LAST_COPY (NCHW): chunk by chunk of
 * images, the input transposed to NHWC, the chunk's NHWC plan run on it (border
 * tiles where the plan had them: the weights and bias allowed them), the output
 * transposed back. */
static int LOCAL(conv2d_igemm_nhwc)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                    const fc_plan *pl, const T *x, const T *w, int w_kcrs,
                                    const T *bias, T *y) {
  const int allow_border = (pl->flags & (FC_PLAN_BORDER_TILES | FC_PLAN_POSITION_TILES)) != 0;
  fc_plan first;
  const int64_t images = LOCAL(nhwc_chunk)(p, tab, allow_border, &first);
  const int64_t hw = p->h * p->w, P = p->oh * p->ow, img_in = hw * p->c, img_out = P * p->k;
  if (images < 1) return FC_EINVAL; /* the plan said it applies */
  int64_t in, out;
  LOCAL(nhwc_copies)(p, &in, &out);
  const int copy_in = in > 0, copy_out = out > 0;
  T *bin = copy_in ? fc_alloc((size_t)(images * in) * sizeof(T)) : NULL; /* fits: the plan */
  T *bout = copy_out ? fc_alloc((size_t)(images * out) * sizeof(T)) : NULL;
  if ((copy_in && !bin) || (copy_out && !bout)) {
    free(bin), free(bout);
    return FC_ENOMEM;
  }
  fc_conv2d_params q = *p;
  q.layout = FC_NHWC;
  LOCAL(igemm_weights) pw = {NULL, 0, 0, {NULL, 0, 0, 0}};
  int r = FC_OK;
  for (int64_t n0 = 0; n0 < p->n && r == FC_OK; n0 += images) {
    q.n = fc_min64(images, p->n - n0);
    const T *xc = x + n0 * img_in;
    T *yc = y + n0 * img_out;
    if (copy_in) r = LOCAL(layout_copy)(pl->threads, xc, bin, q.n, hw, p->c, 1);
    fc_plan pq;
    if (r == FC_OK) r = LOCAL(chunk_plan)(&q, tab, allow_border, &pq);
    if (r == FC_OK)
      r = LOCAL(igemm_chunk)(&q, tab, &pq, copy_in ? bin : xc, w, w_kcrs, &pw, bias,
                             copy_out ? bout : yc);
    if (r == FC_OK && copy_out) r = LOCAL(layout_copy)(pl->threads, bout, yc, q.n, P, p->k, 0);
  }
  free(bin), free(bout);
  LOCAL(igemm_weights_free)(&pw);
  return r;
}

int LOCAL(conv2d_igemm)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                        const fc_plan *pl, const T *x, const T *w, int w_kcrs, const T *bias,
                        T *y) {
  if (pl->flags & FC_PLAN_CHANNELS_LAST_COPY)
    return LOCAL(conv2d_igemm_nhwc)(p, tab, pl, x, w, w_kcrs, bias, y);
  if (pl->flags & FC_PLAN_PADDED_COPY)
    return LOCAL(conv2d_igemm_padded)(p, tab, pl, x, w, w_kcrs, bias, y);
  LOCAL(igemm_weights) pw = {NULL, 0, 0, {NULL, 0, 0, 0}};
  int r = LOCAL(igemm_pack)(p, tab, pl, w, w_kcrs, &pw);
  if (r == FC_OK) r = LOCAL(igemm_packed)(p, tab, pl, x, pw.v, bias, y);
  LOCAL(igemm_weights_free)(&pw);
  return r;
}

/* conv2d_igemm of a plan without chunks, on weights wv: packed for its kernel,
 * or the caller's for panel tasks. */
static int LOCAL(igemm_packed)(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                               const fc_plan *pl, const T *x, LOCAL(wview) wv, const T *bias,
                               T *y) {
  const int nchw = p->layout == FC_NCHW, merge = (pl->flags & FC_PLAN_MERGE_ROWS) != 0;
  const int shared_ind = (pl->flags & FC_PLAN_SHARED_POINTERS) != 0;
  const int batch = (pl->flags & FC_PLAN_BATCH_PANELS) != 0;
  const int64_t g_count = p->groups, kg = p->k / g_count, cg = p->c / g_count;
  const int64_t ks = merge ? p->r : p->r * p->s, kc = merge ? p->s * cg : cg;
  const int64_t P = p->oh * p->ow;
  const LOCAL(igemm_entry) ukernel = tab->TABLE(igemm)[pl->variant];
  const size_t mr = ukernel.mr, nr = ukernel.nr;
  const int64_t npad = fc_ceil_div(kg, (int64_t)nr) * (int64_t)nr;
  const int64_t pixels = batch ? p->n * P : P, pblock = pl->row_block;
  const int64_t nblocks = fc_ceil_div(pixels, pblock);
  const int64_t ppad = fc_ceil_div(P, (int64_t)mr) * (int64_t)mr; /* fits: the plan */
  const int64_t nptr = fc_ceil_div(pixels, (int64_t)mr) * (int64_t)mr * ks;
  /* a zero row as long as a strided row; calloc's untouched pages cost nothing */
  const int64_t hw = p->h * p->w, a_stride = nchw ? hw : 1;
  T *zero = calloc((size_t)((kc - 1) * a_stride + 1), sizeof(T));
  const T **ind = shared_ind ? fc_alloc((size_t)nptr * sizeof(T *)) : NULL;
  const T **ind0 = batch ? fc_alloc((size_t)(ppad * ks) * sizeof(T *)) : NULL;
  if (!zero || (shared_ind && !ind) || (batch && !ind0)) {
    free(zero);
    free((void *)ind);
    free((void *)ind0);
    return FC_ENOMEM;
  }
  if (pl->flags & (FC_PLAN_BORDER_TILES | FC_PLAN_POSITION_TILES)) {
    const int r = pl->flags & FC_PLAN_BORDER_TILES
                      ? LOCAL(conv2d_border)(p, pl, ukernel, x, zero, wv.w, bias, y)
                      : LOCAL(conv2d_positions)(p, pl, ukernel, x, zero, wv.w, bias, y);
    free(zero), free((void *)ind), free((void *)ind0);
    return r;
  }
  if (batch) { /* image 0's table, then each pixel of the batch at its place in the panels */
    LOCAL(igemm_pointers)(p, x, zero, 0, P, mr, merge, ind0);
    const int64_t img_in = p->h * p->w * p->c, imr = (int64_t)mr, all = p->n * P;
    const T **to = ind;
    int64_t lane = 0;
    for (int64_t ni = 0; ni < p->n; ni++) {
      const T **from = ind0;
      for (int64_t q0 = 0, from_lane = 0; q0 < P; q0++) {
        for (int64_t t = 0; t < ks; t++) {
          const T *a = from[t * imr + from_lane];
          to[t * imr + lane] = a == zero ? zero : a + ni * img_in;
        }
        if (++from_lane == imr) from_lane = 0, from += ks * imr;
        if (++lane == imr) lane = 0, to += ks * imr;
      }
    }
    for (int64_t q = all; q < nptr / ks; q++, lane++) /* the last panel's lanes past the batch */
      for (int64_t t = 0; t < ks; t++) to[t * imr + lane] = zero;
    free((void *)ind0);
  } else if (shared_ind) {
    LOCAL(igemm_pointers)(p, x, zero, 0, P, mr, merge, ind);
  }
  if (pl->flags & FC_PLAN_PANEL_TASKS) {
    const int r = LOCAL(conv2d_panels)(p, pl, ukernel, ind, batch, ks, kc, zero, wv, bias, y);
    free(zero), free((void *)ind);
    return r;
  }
  LOCAL(igemm_ctx) c = {p, x, zero, wv.w, bias, y, ind, ukernel, merge, shared_ind, batch, ks, kc,
                        npad, a_stride, nblocks, pblock, pl->tap_block, pl->tasks, 0, {0}};
  fc_claims_init(&c.next, pl->tasks, 1, pl->threads);
  const int r = fc_parallel(pl->threads, LOCAL(igemm_thread), &c);
  free(zero);
  free((void *)ind);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}
