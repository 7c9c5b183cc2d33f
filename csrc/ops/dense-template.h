/* Template of the dense (fully connected) layer's products for one dtype:
 * forward, the gradients, and the backward fused with the Adam update. They
 * run the indirect-GEMM microkernels (tile choice: igemm-template.h), and a
 * GEMV kernel for small batches.
 *
 * A dense layer's three products are skinny: the batch (32 in the lecture's
 * model) is one side, features (4,732) and units (128) the others. BLAS packs
 * both operands of each; here the big operand (the kernel w, or x for the
 * kernel gradient) is read in place through the microkernel's row pointers,
 * and only the small one is packed:
 *
 *   forward   y  = x @ w + b   rows = units,    cols = batch,    depth = features
 *   input     gx = gy @ w^T    rows = features, cols = batch,    depth = units
 *   kernel    gw = x^T @ gy    rows = features, cols = units,    depth = batch
 *
 * One driver does all three: C[i, j] = sum_p A(i)[p * a_pstride] * B(p, j)
 * with A(i) = a + i * a_rstride read in place, B(p, j) = b[p * b_ps + j * b_js]
 * packed NR columns at a time, and C stored to c[i * c_is + j * c_js]: straight
 * from the microkernel when c_js == 1, else (the transposed results of the
 * forward and input products, c_is == 1) from a scratch block, transposed, with
 * the bias.
 * Every output element is written by one task, so results do not depend on
 * the thread count.
 *
 * Included once by f32-dense.c and by f64-dense.c, which define the entry
 * points' full names DENSE (fc_f32_dense, fc_f64_dense), DENSE_PLAN,
 * DENSE_BACKWARD, DENSE_BACKWARD_PLAN and DENSE_BACKWARD_ADAM, T (float,
 * double), LOCAL(x), the dtype's names (fc_f32_##x, fc_f64_##x), and TABLE(x),
 * its members of the dispatch table (f32_##x, f64_##x). */
#include <stdlib.h>
#include <string.h>
#include "conv2d-internal.h"

#define FC_DENSE_MAX_MR 16 /* the tallest tile's rows (the table's are 4 to 12) */

/* B(p, j) for p in [k0, k0 + kc), j in [j0, j0 + nn) -> dst[p * nr + j], zero
 * past nn. */
static void LOCAL(dense_pack_b)(const T *b, int64_t b_ps, int64_t b_js, int64_t k0, int64_t kc,
                                int64_t j0, int64_t nn, size_t nr, T *dst) {
  const int64_t inr = (int64_t)nr;
  if (b_js == 1) {
    for (int64_t p = 0; p < kc; p++) {
      memcpy(dst + p * inr, b + (k0 + p) * b_ps + j0, (size_t)nn * sizeof(T));
      for (int64_t j = nn; j < inr; j++) dst[p * inr + j] = 0;
    }
    return;
  }
  if (b_ps == 1) { /* a transpose */
    LOCAL(transpose)(b + j0 * b_js + k0, b_js, dst, inr, kc, nn);
    for (int64_t p = 0; p < kc; p++)
      for (int64_t j = nn; j < inr; j++) dst[p * inr + j] = 0;
    return;
  }
  /* a general gather: 16 depth rows at a time, so source and panel lines stay in L1 */
  for (int64_t p0 = 0; p0 < kc; p0 += 16) {
    const int64_t pe = fc_min64(kc, p0 + 16);
    for (int64_t j = 0; j < inr; j++) {
      if (j < nn) {
        const T *src = b + (j0 + j) * b_js + k0 * b_ps;
        for (int64_t p = p0; p < pe; p++) dst[p * inr + j] = src[p * b_ps];
      } else {
        for (int64_t p = p0; p < pe; p++) dst[p * inr + j] = 0;
      }
    }
  }
}

/* Keras' Adam on the kernel, by the table's Adam microkernel. */
typedef struct {
  T *p, *m, *v;
  LOCAL(adam_params) c;
} LOCAL(dense_adam);

/* Adam on rows [i0, i1), columns [0, cols) of the parameter (row stride ld),
 * the gradient's row i at g + (i - i0) * ldg. */
static void LOCAL(dense_adam_rows)(const LOCAL(dense_adam) *o, int64_t ld, int64_t i0, int64_t i1,
                                   int64_t cols, const T *g, int64_t ldg) {
  const LOCAL(adam_ukernel) fn = fc_table()->TABLE(adam);
  for (int64_t i = i0; i < i1; i++)
    fn((size_t)cols, o->p + i * ld, g + (i - i0) * ldg, o->m + i * ld, o->v + i * ld, &o->c);
}

#define FC_DENSE_KB 256 /* depth block: a block of one B panel is L1-sized */
/* the fused backward-and-Adam sweep's row groups (features): a multiple of
 * every tile's rows; 48 features are three AVX-512 vectors of the sparse row
 * product (gx by gy's terms: 24, one and a half, ran it 20% slower) */
#define FC_DENSE_G 48

/* ---- the kernel's rows owned by threads (the training step) ------------------
 * A training step reads the kernel w (features x units) in the forward product
 * and reads and writes it, with Adam's moments, in the backward sweep. Shared
 * out the usual ways -- the forward by units (a thread reads every feature's
 * columns of its units), the sweep by features (a thread steps whole rows) --
 * half of the lines a thread writes in the sweep were read by the other thread
 * in the forward, and each such write first takes the line back from the other
 * core's cache. Where the two cores share an L3 that costs a little; where
 * they do not (a virtual machine's two vCPUs on different core complexes, as
 * a 2-vCPU benchmark VM's were for minutes at a time: a cache-line round trip
 * of 330-380 ns instead of 50-80), it made the sweep's Adam part seven times
 * slower and the lecture's training step 2.3 ms at 2 threads, against 1.7 ms
 * at 1 (AMD EPYC Zen 4). So both products give each thread the same fixed
 * range of features: the sweep's row groups of the range, and in the forward
 * the range's depth blocks, every unit. Each range is whole depth blocks and
 * whole row groups. The forward's sums keep their order, bit for bit: the
 * first range sums its blocks into C as dense_rows does; a later range's
 * blocks are each summed from zero into scratch, and after the region they are
 * added to C in block order, the very additions the microkernel makes under
 * FC_GEMM_ACCUMULATE (c + block, round once). */
#define FC_DENSE_OWN_ROWS (3 * FC_DENSE_KB) /* 768: whole depth blocks and row groups */
_Static_assert(FC_DENSE_OWN_ROWS % FC_DENSE_KB == 0 && FC_DENSE_OWN_ROWS % FC_DENSE_G == 0,
               "an owned range is whole depth blocks and whole sweep groups");

/* Thread t's first feature (t = team: k); ranges of whole FC_DENSE_OWN_ROWS. */
static int64_t LOCAL(dense_owned_row)(int64_t k, int team, int t) {
  if (t >= team) return k;
  return fc_min64(k, fc_ceil_div(k, FC_DENSE_OWN_ROWS) * t / team * FC_DENSE_OWN_ROWS);
}

/* The depth blocks of the ranges after the first: summed apart in the forward. */
static int64_t LOCAL(dense_owned_later_blocks)(int64_t k, int team) {
  return fc_ceil_div(k, FC_DENSE_KB) - LOCAL(dense_owned_row)(k, team, 1) / FC_DENSE_KB;
}

/* Whether k features share out among team threads in such ranges, none of
 * them more than 1/8 over an even share (the lecture's 4,732: 2,304 and 2,428;
 * 2,000 would be 768 and 1,232, and fall back to the shared-out products). */
static int LOCAL(dense_owned_fits)(int64_t k, int team) {
  if (team < 2 || fc_ceil_div(k, FC_DENSE_OWN_ROWS) < team) return 0;
  for (int t = 0; t < team; t++) {
    const int64_t len = LOCAL(dense_owned_row)(k, team, t + 1) - LOCAL(dense_owned_row)(k, team, t);
    if (len <= 0 || 8 * len * team > 9 * k) return 0;
  }
  return 1;
}

/* Whether B's whole panels are read in place, its rows ld apart over a depth
 * of K: where a depth block's rows span at most the L2. Wider apart, a
 * panel's lines fall in a fraction of the L2's sets and the block no longer
 * stays there for the row tiles after the first (conv2d's 3x3 weights read so
 * at 256 output channels, 1 KiB apart over 2,304 rows, ran 2.35x slower than
 * packed on Intel Xeon, Emerald Rapids); packing gathers them into contiguous
 * panels. */
static int LOCAL(dense_b_in_place)(int64_t K, int64_t ld) {
  return fc_sat_mul(fc_sat_mul(fc_min64(K, FC_DENSE_KB), ld), (int64_t)sizeof(T)) <= fc_l2_bytes();
}

/* Columns [q0, q0 + qc) of B (depth K) in NR-wide panels, each FC_DENSE_KB-deep
 * block of a panel contiguous: block k0 of panel jp at
 * dst + k0 * ld + jp * kc * nr, with ld = ceil(qc / nr) * nr; the panels from
 * column jfirst of the chunk on (those before it are read in place). */
static void LOCAL(dense_pack_from)(const T *b, int64_t b_ps, int64_t b_js, int64_t K, int64_t q0,
                                   int64_t qc, int64_t nr, T *dst, int64_t blk0, int64_t blk1,
                                   int64_t jfirst) {
  const int64_t ld = fc_ceil_div(qc, nr) * nr;
  for (int64_t k0 = blk0 * FC_DENSE_KB; k0 < fc_min64(K, blk1 * FC_DENSE_KB); k0 += FC_DENSE_KB)
    for (int64_t j0 = jfirst; j0 < qc; j0 += nr) {
      const int64_t kc = fc_min64(FC_DENSE_KB, K - k0);
      LOCAL(dense_pack_b)(b, b_ps, b_js, k0, kc, q0 + j0, fc_min64(nr, qc - j0), (size_t)nr,
                          dst + k0 * ld + j0 * kc);
    }
}

static void LOCAL(dense_pack_blocks)(const T *b, int64_t b_ps, int64_t b_js, int64_t K, int64_t q0,
                                     int64_t qc, int64_t nr, T *dst, int64_t blk0, int64_t blk1) {
  LOCAL(dense_pack_from)(b, b_ps, b_js, K, q0, qc, nr, dst, blk0, blk1, 0);
}

static void LOCAL(dense_pack_all)(const T *b, int64_t b_ps, int64_t b_js, int64_t K, int64_t q0,
                                  int64_t qc, int64_t nr, T *dst) {
  LOCAL(dense_pack_blocks)(b, b_ps, b_js, K, q0, qc, nr, dst, 0, fc_ceil_div(K, FC_DENSE_KB));
}

/* dense_pack_from's depth blocks shared among a region's threads. */
typedef struct {
  const T *b;
  T *dst;
  int64_t b_ps, b_js, K, q0, qc, nr, jfirst;
} LOCAL(dense_pack_ctx);

static void LOCAL(dense_pack_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(dense_pack_ctx) *c = arg;
  LOCAL(dense_pack_from)(c->b, c->b_ps, c->b_js, c->K, c->q0, c->qc, c->nr, c->dst, t0, t1,
                         c->jfirst);
}

/* Rows [r0, r1) of C over its qc columns: C[i, j] = sum_p A(i)[p] B(p, j) over the
 * depth range [kb, ke), A(i) = a + i * a_rstride read in place (a_pstride apart; R
 * rows in all, rows past R point at a real row and are not stored), B packed by
 * dense_pack_all (or dense_pack_blocks over the range's blocks) or, given bin
 * (B's row 0 at the chunk's first column, rows b_ps apart), its whole panels
 * read in place and only a last part panel packed (dense_pack_from); C row i at c +
 * (i - r0) * ldc. r0 a multiple of the tile's rows; kb a multiple of FC_DENSE_KB,
 * ke one too or the whole depth. Each output is summed depth block by depth
 * block in order, each block's chain from zero added to the sum of the blocks
 * before it (C itself from the range's second block on), whatever the rows or
 * columns around it.
 * The depth block is the outer loop: the rows' slice of A for one block stays
 * in L2 while every column panel passes over it, where a panel at a time would
 * stream all of A's rows once per panel (the lecture's forward under AVX2, two
 * 16-wide panels of the batch: 429 -> 403 us at 1 thread, AMD EPYC Zen 4). */
static void LOCAL(dense_rows_over)(LOCAL(igemm_entry) uk, const T *a, int64_t R, int64_t a_rstride,
                                   int64_t a_pstride, int64_t r0, int64_t r1, int64_t kb,
                                   int64_t ke, const T *bpack, const T *bin, int64_t b_ps,
                                   int64_t qc, T *c, int64_t ldc) {
  static const T never = 0; /* a `zero` no row pointer equals: no row is padding */
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr, ld = fc_ceil_div(qc, nr) * nr;
  for (int64_t k0 = kb; k0 < ke; k0 += FC_DENSE_KB) {
    const int64_t kc = fc_min64(FC_DENSE_KB, ke - k0);
    for (int64_t j0 = 0; j0 < qc; j0 += nr) {
      const int64_t n = fc_min64(nr, qc - j0);
      const int in_place = bin && n == nr;
      const T *bp = in_place ? bin + k0 * b_ps + j0 : bpack + k0 * ld + j0 * kc;
      const size_t ldb = in_place ? (size_t)b_ps : uk.nr;
      for (int64_t i0 = r0; i0 < r1; i0 += mr) {
        const T *rows[FC_DENSE_MAX_MR];
        for (int64_t i = 0; i < mr; i++) rows[i] = a + fc_min64(i0 + i, R - 1) * a_rstride;
        uk.fn(1, (size_t)kc, rows, (size_t)(k0 * a_pstride), (size_t)a_pstride, &never,
              bp, ldb, c + (i0 - r0) * ldc + j0, (size_t)ldc,
              (size_t)fc_min64(mr, r1 - i0), (size_t)n, NULL, k0 > kb ? FC_GEMM_ACCUMULATE : 0u);
      }
    }
  }
}

static void LOCAL(dense_rows)(LOCAL(igemm_entry) uk, const T *a, int64_t R, int64_t a_rstride,
                              int64_t a_pstride, int64_t r0, int64_t r1, int64_t K,
                              const T *bpack, const T *bin, int64_t b_ps, int64_t qc, T *c,
                              int64_t ldc) {
  LOCAL(dense_rows_over)(uk, a, R, a_rstride, a_pstride, r0, r1, 0, K, bpack, bin, b_ps, qc, c, ldc);
}

/* Rows [r0, r1) of C^T (cbuf at row r0, rows ld apart, qc columns) stored
 * transposed into columns r0..r1 of c (row j at c + j * c_js), then the bias
 * added (the same one addition per element). */
static void LOCAL(dense_store_transposed)(const T *cbuf, int64_t ld, T *c, int64_t c_js, int64_t qc,
                                          int64_t r0, int64_t r1, const T *bias) {
  LOCAL(transpose)(cbuf, ld, c + r0, c_js, qc, r1 - r0);
  if (bias)
    for (int64_t j = 0; j < qc; j++) {
      T *dst = c + j * c_js;
      for (int64_t i = r0; i < r1; i++) dst[i] += bias[i];
    }
}

/* dense_gemm's tasks: `tasks` groups of row tiles over one chunk of qc
 * columns, task t the tiles [t rtiles / tasks, (t + 1) rtiles / tasks). */
typedef struct {
  LOCAL(igemm_entry) uk;
  const T *a, *bpack, *bias;
  const T *b; /* B read in place (its whole panels), or NULL: all packed */
  T *c, *cbuf;
  int64_t R, a_rstride, a_pstride, K, b_ps, c_is, c_js, q0, qc, tasks, rtiles;
  int direct;
} LOCAL(dense_gemm_ctx);

static void LOCAL(dense_gemm_groups)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(dense_gemm_ctx) *g = arg;
  const int64_t mr = (int64_t)g->uk.mr, nr = (int64_t)g->uk.nr;
  const int64_t ld = fc_ceil_div(g->qc, nr) * nr, q0 = g->q0, qc = g->qc;
  /* task t's first tile, floor(t rtiles / tasks), without that product:
   * t rem < tasks^2 fits (the plan) */
  const int64_t base = g->rtiles / g->tasks, rem = g->rtiles % g->tasks;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t g0 = t * base + t * rem / g->tasks, g1 = (t + 1) * base + (t + 1) * rem / g->tasks;
    const int64_t r0 = g0 * mr, r1 = fc_min64(g->R, g1 * mr);
    const T *bin = g->b ? g->b + q0 : NULL;
    if (g->direct) {
      LOCAL(dense_rows)(g->uk, g->a, g->R, g->a_rstride, g->a_pstride, r0, r1, g->K, g->bpack, bin,
                        g->b_ps, qc, g->c + r0 * g->c_is + q0, g->c_is);
      continue;
    }
    LOCAL(dense_rows)(g->uk, g->a, g->R, g->a_rstride, g->a_pstride, r0, r1, g->K, g->bpack, bin,
                      g->b_ps, qc, g->cbuf + r0 * ld, ld);
    /* this group's rows of C^T -> c (c_is == 1: dense_gemm), then the bias */
    LOCAL(dense_store_transposed)(g->cbuf + r0 * ld, ld, g->c + q0 * g->c_js, g->c_js, qc, r0, r1,
                                  g->bias);
  }
}

/* The GEMM's plan for C (R x Q) over depth K, stored straight (direct) or
 * through a transposing block: the tile (the tuner's or pick_igemm_at's), the
 * threads, the row groups (row_block rows per task) and the scratch.
 * Columns go in chunks of up to QB = 8 NR, each packed whole (depth blocks of
 * FC_DENSE_KB, a block's panel L1-sized) before its parallel region. A task
 * is a group of up to ~64 rows (row tiles) over every column panel, run depth
 * block by depth block, so the group's slice of A is reused from L1/L2 by all
 * its tiles; it also stores its own rows of a transposed result. So a region
 * has no barrier inside: a worker that sleeps between regions wakes once per
 * product, not per phase. */
static int LOCAL(dense_gemm_plan)(int64_t R, int64_t Q, int64_t K, int direct, int forward,
                                  const fc_ukernel_table *tab, fc_plan *pl) {
  fc_plan_init(pl, tab);
  int tuned;
  const int variant = LOCAL(tuned_igemm_at)(tab, FC_TUNE_DENSE, R, Q, K, &tuned);
  const LOCAL(igemm_entry) uk = tab->TABLE(igemm)[variant];
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr;
  if (mr > FC_DENSE_MAX_MR) return FC_EINVAL; /* the row-pointer arrays of dense_rows */
  const int64_t QB = 8 * nr;
  const int64_t rtiles = fc_ceil_div(R, mr);
  const int64_t qpanels_max = fc_ceil_div(fc_min64(Q, QB), nr);
  int64_t flops, tmp, bsize;
  if (!fc_mul(R, Q, &tmp) || !fc_mul(tmp, K, &flops) || !fc_mul(K, qpanels_max * nr, &bsize) ||
      !fc_mul(rtiles * mr, qpanels_max * nr, &tmp))
    return FC_EOVERFLOW;
  const int nthreads = fc_threads_for(FC_NS_FLOPS(flops) * 2, rtiles);
  int64_t tg = fc_max64(1, 64 / mr);
  /* two groups per thread are enough for the dynamic schedule; more, smaller
   * groups stream B from L2 once per row tile (the lecture's forward, 128 units
   * by 32 images at 2 threads: 121 us against 131 with eight per thread, AMD EPYC
   * Zen 5, interleaved processes, median of 5) */
  while (tg > 1 && fc_ceil_div(rtiles, tg) < 2 * (int64_t)nthreads) tg = (tg + 1) / 2;
  /* as many tasks for each thread, the tiles shared out evenly among them: each
   * thread's own range of tasks (fc_parallel_for) then has the same work (22
   * tiles of 6 units, the lecture's forward under AVX2, in five tasks of 5, 5,
   * 5, 5 and 2 tiles gave the threads 10 and 12; six of 3 or 4 give 11 each) */
  int64_t tasks = fc_min64(fc_ceil_div(rtiles, tg), (int64_t)1 << 24); /* so tasks^2 fits */
  if (nthreads > 1) tasks = fc_min64(rtiles, fc_ceil_div(tasks, nthreads) * nthreads);
  pl->algorithm = fc_alg_dense_gemm;
  pl->kernel_fn = FC_UKERNEL_FN(uk.fn);
  pl->variant = variant;
  pl->mr = mr, pl->nr = nr;
  pl->depth_block = FC_DENSE_KB, pl->row_block = fc_ceil_div(rtiles, tasks) * mr, pl->tasks = tasks;
  pl->threads = nthreads;
  pl->flags = (tuned ? FC_PLAN_TUNED_TILE : 0u) | (direct ? 0u : FC_PLAN_TRANSPOSED_OUT);
  pl->scratch_bytes = fc_sat_mul(fc_sat_add(bsize, direct ? 0 : tmp), (int64_t)sizeof(T));
  /* the forward product over owned feature ranges (above): one column chunk,
   * one task per thread, and the later ranges' block sums kept apart (at most
   * FC_SCRATCH_KEEP of them: they are added back from cache) */
  if (forward && Q <= QB && LOCAL(dense_owned_fits)(K, nthreads)) {
    const int64_t later = LOCAL(dense_owned_later_blocks)(K, nthreads);
    const int64_t parts = fc_sat_mul(fc_sat_mul(later, rtiles * mr), qpanels_max * nr);
    if (fc_sat_mul(parts, (int64_t)sizeof(T)) <= (int64_t)FC_SCRATCH_KEEP) {
      pl->flags |= FC_PLAN_OWNED_ROWS;
      pl->tasks = nthreads;
      pl->row_block = rtiles * mr;
      pl->scratch_bytes = fc_sat_mul(fc_sat_add(fc_sat_add(bsize, tmp), parts), (int64_t)sizeof(T));
    }
  }
  return FC_OK;
}

static int LOCAL(dense_gemm)(int64_t R, int64_t Q, int64_t K, const T *a, int64_t a_rstride,
                             int64_t a_pstride, const T *b, int64_t b_ps, int64_t b_js, T *c,
                             int64_t c_is, int64_t c_js, const T *bias) {
  const fc_ukernel_table *tab = fc_table();
  const int direct = c_js == 1 && !bias;
  /* stored straight, or a transposed result whose rows are contiguous (the forward and
   * input products): the transposing store of dense_gemm_groups takes only that */
  if (!direct && c_is != 1) return FC_EINVAL;
  fc_plan pl;
  const int st = LOCAL(dense_gemm_plan)(R, Q, K, direct, 0, tab, &pl);
  if (st != FC_OK) return st;
  const LOCAL(igemm_entry) uk = tab->TABLE(igemm)[pl.variant];
  const int64_t mr = pl.mr, nr = pl.nr, QB = 8 * nr, rtiles = fc_ceil_div(R, mr);
  const int64_t qpanels_max = fc_ceil_div(fc_min64(Q, QB), nr);
  const int64_t bsize = K * qpanels_max * nr, tmp = rtiles * mr * qpanels_max * nr; /* the plan */
  /* one block: the packed panels, then (64-byte aligned) the transposing block */
  const int64_t boff = fc_ceil_div(bsize * (int64_t)sizeof(T), 64) * 64;
  char *block = fc_scratch_take((size_t)(boff + (direct ? 0 : tmp * (int64_t)sizeof(T))));
  if (!block) return FC_ENOMEM;
  T *bpack = (T *)block, *cbuf = direct ? NULL : (T *)(block + boff);
  const int nthreads = pl.threads;
  const int64_t ngroups = pl.tasks;
  /* B's rows contiguous: its whole panels read in place, not packed (the
   * Dense(10) head's kernel gradient, x (32 x 128) as B: 0.76x the time at 1
   * and 2 threads, 1.20 -> 0.91 us; Intel Xeon, Emerald Rapids, 2000-call
   * pairs) */
  const int in_place = b_js == 1 && LOCAL(dense_b_in_place)(K, b_ps);
  LOCAL(dense_gemm_ctx) g = {uk, a, bpack, bias, in_place ? b : NULL, c, cbuf, R, a_rstride,
                             a_pstride, K, b_ps, c_is, c_js, 0, 0, ngroups, rtiles, direct};
  int r = FC_OK;
  for (int64_t q0 = 0; q0 < Q && r == FC_OK; q0 += QB) {
    g.q0 = q0, g.qc = fc_min64(QB, Q - q0);
    /* packing is a tenth of the lecture's forward: threaded too */
    const int64_t jfirst = in_place ? g.qc / nr * nr : 0;
    LOCAL(dense_pack_ctx) pc = {b, bpack, b_ps, b_js, K, q0, g.qc, nr, jfirst};
    if (jfirst < g.qc)
      r = fc_parallel_for(nthreads, fc_ceil_div(K, FC_DENSE_KB), 0, LOCAL(dense_pack_tasks), &pc);
    if (r != FC_OK) break;
    /* dynamic: a thread that wakes late (a sleeping worker can take a long
     * time to wake on a virtual machine) finds the work already taken by the
     * others, rather than the others waiting for its share */
    r = fc_parallel_for(nthreads, ngroups, 1, LOCAL(dense_gemm_groups), &g);
  }
  fc_scratch_give(block);
  return r;
}

/* One depth block [k0, k0 + kc) of the batch x units product: rows [0, n) of
 * x read in place (row i at x + i * k) by qc units in NR-wide panels at b
 * (panel j0 at b + j0 * jstep, its rows ldb apart: packed, jstep = kc and ldb
 * = NR; in place, 1 and the kernel's row stride), into c (row stride ldc),
 * each output's block sum stored or, with FC_GEMM_ACCUMULATE, added to it.
 * The x rows a tile has past n point at row n - 1 and are not stored. */
static void LOCAL(dense_batch_block)(LOCAL(igemm_entry) uk, const T *x, int64_t n, int64_t k,
                                     int64_t k0, int64_t kc, const T *b, int64_t ldb,
                                     int64_t jstep, int64_t qc, T *c, int64_t ldc,
                                     unsigned flags) {
  static const T never = 0; /* as in dense_rows: no row pointer equals it */
  const int64_t mr = (int64_t)uk.mr, nr = (int64_t)uk.nr;
  const T *rows[FC_DENSE_MAX_MR];
  for (int64_t i0 = 0; i0 < n; i0 += mr) {
    for (int64_t i = 0; i < mr; i++) rows[i] = x + fc_min64(i0 + i, n - 1) * k;
    for (int64_t j0 = 0; j0 < qc; j0 += nr)
      uk.fn(1, (size_t)kc, rows, (size_t)k0, 1, &never, b + j0 * jstep, (size_t)ldb,
            c + i0 * ldc + j0, (size_t)ldc, (size_t)fc_min64(mr, n - i0),
            (size_t)fc_min64(nr, qc - j0), NULL, flags);
  }
}

/* y (n x m) plus `count` block sums kept apart (n x m each at parts, in block
 * order; acc + y, as the igemm store adds), then the bias, one addition per
 * element. */
static void LOCAL(dense_finish)(T *y, const T *parts, int64_t count, int64_t n, int64_t m,
                                const T *bias) {
  for (int64_t b = 0; b < count; b++) {
    const T *s = parts + b * n * m;
    for (int64_t i = 0; i < n * m; i++) y[i] = s[i] + y[i];
  }
  if (bias)
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) y[j * m + i] = y[j * m + i] + bias[i];
}

/* ---- small batches ----------------------------------------------------------
 * A batch of a few rows would fill one column of the GEMM's tile and pad the
 * rest (a batch of one computes NR outputs per output), so it takes the GEMV
 * kernel instead, w read in place. Each output is summed as dense_gemm sums
 * it: depth block by depth block of FC_DENSE_KB, each block from zero by the
 * ISA's igemm arithmetic, the blocks added in order, the bias last; so
 * predict's results do not depend on the batch size. The depth blocks are the
 * tasks: a thread streams whole rows of w (one pass per four rows of x) and
 * keeps each block's sums apart; the blocks are then added in order. */
/* FC_DENSE_GEMV_MAX_BATCH (costs.def): two passes over w still beat a mostly
 * empty tile */

typedef struct {
  LOCAL(gemv_ukernel) fn;
  const T *x, *w;
  T *y, *scratch; /* block 0's sums go to y, block b's to scratch + (b - 1) * n * m */
  int64_t n, k, m;
} LOCAL(dense_gemv_ctx);

static void LOCAL(dense_gemv_blocks)(void *arg, int tid, int64_t b0, int64_t b1) {
  (void)tid;
  const LOCAL(dense_gemv_ctx) *g = arg;
  const int64_t n = g->n, k = g->k, m = g->m;
  for (int64_t b = b0; b < b1; b++) {
    const int64_t k0 = b * FC_DENSE_KB, kc = fc_min64(FC_DENSE_KB, k - k0);
    T *sums = b == 0 ? g->y : g->scratch + (b - 1) * n * m;
    for (int64_t j0 = 0; j0 < n; j0 += FC_GEMV_MAX_ROWS)
      g->fn((size_t)fc_min64(FC_GEMV_MAX_ROWS, n - j0), (size_t)kc, (size_t)m, g->x + j0 * k + k0,
            (size_t)k, g->w + k0 * m, (size_t)m, sums + j0 * m, (size_t)m, 0u);
  }
}

/* The GEMV's plan: FC_GEMV_MAX_ROWS rows of x per kernel call, one task per
 * depth block, threads by the bytes of w streamed, scratch for the blocks'
 * sums past the first. */
static int LOCAL(dense_gemv_plan)(int64_t n, int64_t k, int64_t m, const fc_ukernel_table *tab,
                                  fc_plan *pl) {
  fc_plan_init(pl, tab);
  const int64_t blocks = fc_ceil_div(k, FC_DENSE_KB);
  int64_t nm, elems, bytes;
  if (!fc_mul(n, m, &nm) || !fc_mul(blocks - 1, nm, &elems) || !fc_mul(k, m, &bytes) ||
      !fc_mul(bytes, (int64_t)sizeof(T) * fc_ceil_div(n, FC_GEMV_MAX_ROWS), &bytes))
    return FC_EOVERFLOW;
  pl->algorithm = fc_alg_dense_gemv;
  pl->kernel_fn = FC_UKERNEL_FN(tab->TABLE(gemv));
  pl->mr = FC_GEMV_MAX_ROWS;
  pl->depth_block = FC_DENSE_KB, pl->tasks = blocks;
  pl->threads = fc_threads_for(FC_NS_BYTES(bytes), blocks);
  pl->scratch_bytes = blocks > 1 ? fc_sat_mul(elems, (int64_t)sizeof(T)) : 0;
  return FC_OK;
}

static int LOCAL(dense_gemv)(int64_t n, int64_t k, int64_t m, const T *x, const T *w,
                             const T *bias, T *y) {
  const fc_ukernel_table *tab = fc_table();
  fc_plan pl;
  const int st = LOCAL(dense_gemv_plan)(n, k, m, tab, &pl);
  if (st != FC_OK) return st;
  const int64_t blocks = pl.tasks, nm = n * m, elems = (blocks - 1) * nm; /* the plan */
  T *scratch = blocks > 1 ? fc_alloc((size_t)elems * sizeof(T)) : NULL;
  if (blocks > 1 && !scratch) return FC_ENOMEM;
  LOCAL(dense_gemv_ctx) g = {tab->TABLE(gemv), x, w, y, scratch, n, k, m};
  const int r = fc_parallel_for(pl.threads, blocks, 1, LOCAL(dense_gemv_blocks), &g);
  if (r == FC_OK) LOCAL(dense_finish)(y, scratch, blocks - 1, n, m, bias);
  free(scratch);
  return r;
}

/* ---- the forward, batch x units, the kernel read in place -----------------------
 * rows = samples (x read in place, a row's features contiguous), cols = units:
 * the microkernel reads w's NR-wide panels in place, a depth block
 * (FC_DENSE_KB features) at a time, so w is read from memory once, in whole
 * lines, and the row tiles after the first read the block from L2 -- where
 * the units x batch product reads w a column tile at a time (a few values of
 * each 64-byte line, a line per feature) and its A stream runs 512 bytes a
 * step for the lecture's 128 units. Packing each block into scratch first (as
 * this product did) took a fifth of its time: the lecture's forward, 32 x
 * 4732 x 128, runs in 0.79x the time in place, at 1 and 2 threads (Intel Xeon,
 * Emerald Rapids, 201 alternations). A last panel of fewer than NR units is
 * packed (zeros past m), and so is every panel where w's rows are too far
 * apart to read in place (dense_b_in_place). Each output is summed as
 * dense_gemm sums it (dense_packed's loop: a block's chain of fused
 * multiply-adds from zero, the blocks added in order, the bias last), so y is
 * the same bits whichever product runs. At
 * several threads the features are the owned ranges (FC_DENSE_OWN_ROWS):
 * range 0 sums into y, a later range's blocks each into its own slice, added
 * to y in block order after the region. */
typedef struct {
  LOCAL(igemm_entry) uk;
  const T *x, *w;
  T *y, *wpack, *parts; /* wpack: per thread `packed` elements; parts: the later ranges' blocks */
  int64_t n, k, m, cw, first, packed; /* cw: the units the row tiles pass over together */
  int team, in_place;
} LOCAL(dense_blocked_ctx);

/* The units the row tiles pass over together, whole panels of nr: every unit
 * of a depth block where that is at most an eighth of the L2 (the lecture's
 * 128 units by 256 features: 128 KiB), so the block's slice of w stays in L2
 * while each row tile reads it. */
static int64_t LOCAL(dense_blocked_units)(int64_t m, int64_t nr) {
  const int64_t panel = FC_DENSE_KB * nr * (int64_t)sizeof(T);
  return fc_min64(fc_ceil_div(m, nr), fc_max64(1, fc_l2_bytes() / 8 / panel)) * nr;
}

/* The elements a thread packs w's panels into: a part panel's where w is read
 * in place (none if m is whole panels), else a chunk of cw units'. */
static int64_t LOCAL(dense_blocked_packed)(int64_t k, int64_t m, int64_t nr) {
  if (LOCAL(dense_b_in_place)(k, m)) return m % nr ? FC_DENSE_KB * nr : 0;
  return FC_DENSE_KB * LOCAL(dense_blocked_units)(m, nr);
}

/* Depth blocks [b0, b1) into y (block b0 plain, the rest accumulated) or, with
 * `apart`, each into its own n x m slice of parts. */
static void LOCAL(dense_blocked_run)(const LOCAL(dense_blocked_ctx) *c, int tid, int64_t b0,
                                     int64_t b1, int apart) {
  const int64_t nr = (int64_t)c->uk.nr, n = c->n, k = c->k, m = c->m;
  T *pack = c->wpack + (int64_t)tid * c->packed;
  for (int64_t b = b0; b < b1; b++) {
    const int64_t k0 = b * FC_DENSE_KB, kc = fc_min64(FC_DENSE_KB, k - k0);
    T *out = apart ? c->parts + (k0 - c->first) / FC_DENSE_KB * n * m : c->y;
    unsigned flags = !apart && b > b0 ? FC_GEMM_ACCUMULATE : 0u;
    if (c->in_place && b + 1 < b1) {
      /* the next block's rows of w (contiguous) fetched into L2 while this one
       * runs, by the microkernels that take FC_GEMM_PREFETCH (ukernel.h): its
       * first row tile would otherwise wait on them from L3 */
      const int64_t next = fc_min64(FC_DENSE_KB, k - k0 - kc) * m * (int64_t)sizeof(T);
      fc_gemm_prefetch = (fc_prefetch_stream){(const char *)(c->w + (k0 + kc) * m), (size_t)(next / 64)};
      flags |= FC_GEMM_PREFETCH;
    }
    for (int64_t q0 = 0; q0 < m; q0 += c->cw) {
      const int64_t qc = fc_min64(c->cw, m - q0), full = c->in_place ? qc / nr * nr : 0;
      /* whole panels read in place, the others packed (zeros past m), panel
       * j0 >= full at pack + (j0 - full) * kc */
      if (full > 0)
        LOCAL(dense_batch_block)(c->uk, c->x, n, k, k0, kc, c->w + k0 * m + q0, m, 1, full,
                                 out + q0, m, flags);
      if (full < qc) {
        for (int64_t j0 = full; j0 < qc; j0 += nr)
          LOCAL(dense_pack_b)(c->w, m, 1, k0, kc, q0 + j0, fc_min64(nr, qc - j0), (size_t)nr,
                              pack + (j0 - full) * kc);
        LOCAL(dense_batch_block)(c->uk, c->x, n, k, k0, kc, pack, nr, kc, qc - full,
                                 out + q0 + full, m, flags & ~FC_GEMM_PREFETCH);
      }
    }
  }
  fc_gemm_prefetch.lines = 0;
}

/* Task t: owned range t (one task, every block, at one thread). */
static void LOCAL(dense_blocked_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  const LOCAL(dense_blocked_ctx) *c = arg;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t kb = LOCAL(dense_owned_row)(c->k, c->team, (int)t);
    const int64_t ke = LOCAL(dense_owned_row)(c->k, c->team, (int)t + 1);
    LOCAL(dense_blocked_run)(c, tid, kb / FC_DENSE_KB, fc_ceil_div(ke, FC_DENSE_KB), t > 0);
  }
}

/* Whether the forward (n > FC_DENSE_GEMV_MAX_BATCH rows) runs batch x units,
 * and its plan if so: where its least padded work ties with the units x batch
 * product's or is less (FC_TILE_TIE_PERMILLE: AVX2's 6x16 tile pads the
 * lecture's batch of 32 to 36 rows, and there the units x batch product runs
 * faster), on one thread or on owned ranges (else the units x batch product
 * shares out the work). Its tile: the widest within
 * FC_DENSE_BLOCKED_TIE_PERMILLE of the least padded work. */
static int LOCAL(dense_blocked_plan)(int64_t n, int64_t k, int64_t m, const fc_ukernel_table *tab,
                                     fc_plan *pl) {
  const LOCAL(igemm_entry) s = tab->TABLE(igemm)[LOCAL(pick_igemm_tie)(tab, n, m, 0.0)];
  const LOCAL(igemm_entry) t = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, m, n)];
  if (fc_tile_work((int64_t)s.mr, (int64_t)s.nr, s.cost, n, m) >
      (1.0 + FC_TILE_TIE_PERMILLE / 1000.0) * fc_tile_work((int64_t)t.mr, (int64_t)t.nr, t.cost, m, n))
    return 0;
  const int fixed = LOCAL(pick_igemm_tie)(tab, n, m, FC_DENSE_BLOCKED_TIE_PERMILLE / 1000.0);
  int64_t flops, nm;
  if (!fc_mul(n, m, &nm) || !fc_mul(nm, k, &flops)) return 0; /* the GEMM's plan says */
  /* the threads the units x batch product would take */
  const int nthreads = fc_threads_for(FC_NS_FLOPS(flops) * 2, fc_ceil_div(m, (int64_t)t.mr));
  const int64_t later = nthreads > 1 ? LOCAL(dense_owned_later_blocks)(k, nthreads) : 0;
  if (nthreads > 1 && (!LOCAL(dense_owned_fits)(k, nthreads) ||
                       fc_sat_mul(fc_sat_mul(later, nm), (int64_t)sizeof(T)) > (int64_t)FC_SCRATCH_KEEP))
    return 0;
  /* a tuning file's or a forced tile, but none learned at first use: the
   * learner's slice (one depth block, every tile on the same rows) charges the
   * wider tile its padding and not the passes over x it saves, and there
   * chose 8x32 in 3 of 3 processes, 2-15% slower on whole calls */
  int tuned;
  const int variant = LOCAL(tuned_igemm_from)(tab, FC_TUNE_DENSE, n, m, k, fixed, 0, &tuned);
  const LOCAL(igemm_entry) uk = tab->TABLE(igemm)[variant];
  if ((int64_t)uk.mr > FC_DENSE_MAX_MR) return 0;
  fc_plan_init(pl, tab);
  pl->algorithm = fc_alg_dense_blocked;
  pl->kernel_fn = FC_UKERNEL_FN(uk.fn);
  pl->variant = variant;
  pl->mr = (int64_t)uk.mr, pl->nr = (int64_t)uk.nr;
  pl->depth_block = FC_DENSE_KB, pl->tasks = nthreads, pl->threads = nthreads;
  pl->flags = (tuned ? FC_PLAN_TUNED_TILE : 0u) | (nthreads > 1 ? FC_PLAN_OWNED_ROWS : 0u);
  /* the packed panels per thread, the later ranges' block sums */
  const int64_t packed = nthreads * LOCAL(dense_blocked_packed)(k, m, pl->nr);
  pl->scratch_bytes = fc_sat_mul(fc_sat_add(packed, fc_sat_mul(later, nm)), (int64_t)sizeof(T));
  return 1;
}

/* y (n x m) = x @ w + bias by the plan's batch x units product. */
static int LOCAL(dense_blocked)(int64_t n, int64_t k, int64_t m, const T *x, const T *w,
                                const T *bias, T *y, const fc_plan *pl) {
  const int team = pl->threads;
  const int64_t later = team > 1 ? LOCAL(dense_owned_later_blocks)(k, team) : 0;
  /* sizes: checked by the plan */
  const int64_t packed = LOCAL(dense_blocked_packed)(k, m, pl->nr), psize = team * packed;
  T *wpack = fc_scratch_take((size_t)(psize + later * n * m) * sizeof(T));
  if (!wpack) return FC_ENOMEM;
  LOCAL(dense_blocked_ctx) c = {fc_table()->TABLE(igemm)[pl->variant], x, w, y, wpack,
                                wpack + psize, n, k, m, LOCAL(dense_blocked_units)(m, pl->nr),
                                team > 1 ? LOCAL(dense_owned_row)(k, team, 1) : k, packed, team,
                                LOCAL(dense_b_in_place)(k, m)};
  const int r = fc_parallel_for(team, team, 0, LOCAL(dense_blocked_tasks), &c);
  if (r == FC_OK) LOCAL(dense_finish)(y, c.parts, later, n, m, bias);
  fc_scratch_give(wpack);
  return r;
}

/* dense's plan: what fc_*_dense runs for these sizes (with a bias or without:
 * the GEMM stores through its transposing block either way). */
static int LOCAL(dense_plan_for)(int64_t n, int64_t k, int64_t m, const fc_ukernel_table *tab,
                                 fc_plan *pl) {
  fc_plan_init(pl, tab);
  if (n < 0 || k < 0 || m < 0) return FC_EINVAL;
  if (n == 0 || m == 0 || k == 0) {
    pl->algorithm = k == 0 && n && m ? fc_alg_dense_bias : fc_alg_nothing;
    return FC_OK;
  }
  if (n <= FC_DENSE_GEMV_MAX_BATCH) return LOCAL(dense_gemv_plan)(n, k, m, tab, pl);
  if (LOCAL(dense_blocked_plan)(n, k, m, tab, pl)) return FC_OK;
  return LOCAL(dense_gemm_plan)(m, n, k, 0, 1, tab, pl);
}

/* The forward product over owned feature ranges (the comment at
 * FC_DENSE_OWN_ROWS): task t packs its range's depth blocks of x and sums them
 * over every unit, range 0 into cbuf, a later range's blocks each into its own
 * slice of parts. */
typedef struct {
  LOCAL(igemm_entry) uk;
  const T *w, *x;
  T *bpack, *cbuf, *parts;
  int64_t n, k, m, ld, rows;
  int team;
} LOCAL(dense_owned_ctx);

static void LOCAL(dense_owned_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const LOCAL(dense_owned_ctx) *c = arg;
  const int64_t nr = (int64_t)c->uk.nr, first = LOCAL(dense_owned_row)(c->k, c->team, 1);
  for (int64_t t = t0; t < t1; t++) {
    const int64_t kb = LOCAL(dense_owned_row)(c->k, c->team, (int)t);
    const int64_t ke = LOCAL(dense_owned_row)(c->k, c->team, (int)t + 1);
    LOCAL(dense_pack_blocks)(c->x, 1, c->k, c->k, 0, c->n, nr, c->bpack, kb / FC_DENSE_KB,
                             fc_ceil_div(ke, FC_DENSE_KB));
    if (t == 0) {
      LOCAL(dense_rows_over)(c->uk, c->w, c->m, 1, c->m, 0, c->m, 0, ke, c->bpack, NULL, 0, c->n,
                             c->cbuf, c->ld);
      continue;
    }
    for (int64_t k0 = kb; k0 < ke; k0 += FC_DENSE_KB)
      LOCAL(dense_rows_over)(c->uk, c->w, c->m, 1, c->m, 0, c->m, k0, fc_min64(ke, k0 + FC_DENSE_KB),
                             c->bpack, NULL, 0, c->n, c->parts + (k0 - first) / FC_DENSE_KB * c->rows * c->ld,
                             c->ld);
  }
}

/* y (n x m) = x @ w + bias by the plan's owned ranges (FC_PLAN_OWNED_ROWS). */
static int LOCAL(dense_owned)(int64_t n, int64_t k, int64_t m, const T *x, const T *w,
                              const T *bias, T *y, const fc_plan *pl) {
  const LOCAL(igemm_entry) uk = fc_table()->TABLE(igemm)[pl->variant];
  const int64_t nr = pl->nr, ld = fc_ceil_div(n, nr) * nr, rows = pl->row_block;
  const int64_t later = LOCAL(dense_owned_later_blocks)(k, pl->threads);
  /* sizes: checked by the plan (its scratch_bytes is this block's) */
  const int64_t bsize = k * ld, csize = rows * ld;
  T *block = fc_scratch_take((size_t)(bsize + csize + later * csize) * sizeof(T));
  if (!block) return FC_ENOMEM;
  LOCAL(dense_owned_ctx) c = {uk, w, x, block, block + bsize, block + bsize + csize, n, k, m, ld,
                              rows, pl->threads};
  const int r = fc_parallel_for(pl->threads, pl->threads, 0, LOCAL(dense_owned_tasks), &c);
  if (r == FC_OK) {
    /* the later blocks' sums added in block order, as FC_GEMM_ACCUMULATE adds them */
    for (int64_t b = 0; b < later; b++) {
      const T *part = c.parts + b * csize;
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c.cbuf[i * ld + j] += part[i * ld + j];
    }
    LOCAL(dense_store_transposed)(c.cbuf, ld, y, m, n, 0, m, bias);
  }
  fc_scratch_give(block);
  return r;
}

int DENSE_PLAN(int64_t n, int64_t k, int64_t m, fc_plan *plan) {
  const int st = LOCAL(dense_plan_for)(n, k, m, fc_table(), plan);
  fc_plan_name(plan);
  return st;
}

/* y (n x m) = x (n x k) @ w (k x m) + bias (m, or NULL); all C-contiguous. */
int DENSE(int64_t n, int64_t k, int64_t m, const T *x, const T *w, const T *bias, T *y) {
  if (n < 0 || k < 0 || m < 0) return FC_EINVAL;
  if (n == 0 || m == 0) return FC_OK;
  if (k == 0) {
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) y[j * m + i] = bias ? bias[i] : 0;
    return FC_OK;
  }
  fc_plan pl;
  const int st = LOCAL(dense_plan_for)(n, k, m, fc_table(), &pl);
  if (st != FC_OK || fc_record_plan(&pl)) return st;
  if (pl.algorithm == fc_alg_dense_gemv) return LOCAL(dense_gemv)(n, k, m, x, w, bias, y);
  if (pl.algorithm == fc_alg_dense_blocked) return LOCAL(dense_blocked)(n, k, m, x, w, bias, y, &pl);
  if (pl.flags & FC_PLAN_OWNED_ROWS) return LOCAL(dense_owned)(n, k, m, x, w, bias, y, &pl);
  /* rows = units (w read in place, a column at a time), cols = batch */
  return LOCAL(dense_gemm)(m, n, k, w, 1, m, x, 1, k, y, 1, m, bias);
}

/* Whether dense_backward computes gw (k x m) = x^T gy the other way round, as
 * gw^T = gy^T x: rows = units, cols = features, stored through the transposing
 * block. It does where the straight product (rows = features, cols = units)
 * pads a quarter more work than that: a few units fill few of a tile's columns
 * (Dense(10)'s 10 of the 8x32 tile's 32, against 10 of 12 rows the other way).
 * Each element is the same chain of fused multiply-adds over the batch either
 * way (a*b is b*a; the depth blocks and their order are the batch's), so gw is
 * bit for bit the same. */
static int LOCAL(dense_gw_transposed)(const fc_ukernel_table *tab, int64_t k, int64_t m) {
  const LOCAL(igemm_entry) s = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, k, m)];
  const LOCAL(igemm_entry) t = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, m, k)];
  return 4.0 * fc_tile_work((int64_t)s.mr, (int64_t)s.nr, s.cost, k, m) >
         5.0 * fc_tile_work((int64_t)t.mr, (int64_t)t.nr, t.cost, m, k);
}

/* gx (n x k) = gy (n x m) @ w^T and gw (k x m) = x^T @ gy; either output may be
 * NULL (not computed). */
int DENSE_BACKWARD(int64_t n, int64_t k, int64_t m, const T *gy, const T *x, const T *w,
                   T *gx, T *gw) {
  if (n < 0 || k < 0 || m < 0) return FC_EINVAL;
  if (k == 0) return FC_OK;
  if (gw && (n == 0 || m == 0)) memset(gw, 0, (size_t)(k * m) * sizeof(T));
  if (gx && n > 0 && m == 0) memset(gx, 0, (size_t)(n * k) * sizeof(T));
  if (n == 0 || m == 0) return FC_OK;
  int st = FC_OK;
  if (gx) /* rows = features (rows of w, contiguous), cols = batch */
    st = LOCAL(dense_gemm)(k, n, m, w, m, 1, gy, 1, m, gx, 1, k, NULL);
  if (st == FC_OK && gw) {
    if (LOCAL(dense_gw_transposed)(fc_table(), k, m)) /* rows = units (columns of gy), cols = features */
      st = LOCAL(dense_gemm)(m, k, n, gy, 1, m, x, k, 1, gw, 1, m, NULL);
    else /* rows = features (columns of x), cols = units; depth = batch either way */
      st = LOCAL(dense_gemm)(k, m, n, x, 1, k, gy, m, 1, gw, m, 1, NULL);
  }
  return st;
}

/* The fused backward-and-Adam sweep's plan (dense_backward_adam's comment):
 * the static tiles of both products, row groups of FC_DENSE_G features. */
static int LOCAL(dense_adam_plan)(int64_t n, int64_t k, int64_t m, int with_gx,
                                  const fc_ukernel_table *tab, fc_plan *pl) {
  fc_plan_init(pl, tab);
  if (n < 0 || k < 0 || m < 0) return FC_EINVAL;
  if (k == 0 || m == 0 || n == 0) {
    pl->algorithm = fc_alg_nothing;
    return FC_OK;
  }
  const LOCAL(igemm_entry) ux = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, k, n)];
  const LOCAL(igemm_entry) uw = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, k, m)];
  const int64_t nrx = (int64_t)ux.nr, nrw = (int64_t)uw.nr;
  if ((int64_t)ux.mr > FC_DENSE_MAX_MR || (int64_t)uw.mr > FC_DENSE_MAX_MR) return FC_EINVAL;
  /* row groups: a multiple of both tiles' rows (6, 8, 12 or 4 divide 48) */
  const int64_t G = FC_DENSE_G, groups = fc_ceil_div(k, G);
  const int64_t npx = fc_ceil_div(n, nrx) * nrx, npw = fc_ceil_div(m, nrw) * nrw;
  int64_t flops, tmp;
  if (!fc_mul(n, k, &tmp) || !fc_mul(tmp, m, &flops) || !fc_mul(npx, m, &tmp) ||
      !fc_mul(npw, n, &tmp))
    return FC_EOVERFLOW;
  pl->algorithm = fc_alg_dense_adam;
  pl->kernel_fn = FC_UKERNEL_FN(uw.fn);
  pl->mr = (int64_t)uw.mr, pl->nr = nrw;
  pl->row_block = G, pl->tasks = groups;
  pl->threads = fc_threads_for(FC_NS_FLOPS(flops) * (with_gx ? 4 : 2), groups);
  /* gy packed for each product, and per thread a group's product scratch */
  const int64_t packs = fc_sat_add(with_gx ? fc_sat_mul(npx, m) : 0, fc_sat_mul(npw, n));
  /* the gx part: the GEMM's block of gx^T, or w's block transposed (gx by gy's terms) */
  const int64_t per_thread = fc_sat_add(with_gx ? fc_max64(G * npx, FC_DENSE_KB * G) : 0, G * npw);
  pl->scratch_bytes = fc_sat_mul(fc_sat_add(packs, fc_sat_mul(pl->threads, per_thread)), (int64_t)sizeof(T));
  /* the forward's owned feature ranges, where its plan has them on as many threads */
  fc_plan fwd;
  if (LOCAL(dense_plan_for)(n, k, m, tab, &fwd) == FC_OK && (fwd.flags & FC_PLAN_OWNED_ROWS) &&
      fwd.threads == pl->threads)
    pl->flags |= FC_PLAN_OWNED_ROWS;
  return FC_OK;
}

int DENSE_BACKWARD_PLAN(int64_t n, int64_t k, int64_t m, fc_dense_product product,
                        fc_plan *plan) {
  const fc_ukernel_table *tab = fc_table();
  int st;
  fc_plan_init(plan, tab);
  if (n < 0 || k < 0 || m < 0) {
    st = FC_EINVAL;
  } else if (product == FC_DENSE_ADAM || product == FC_DENSE_ADAM_NO_GRAD_X) {
    st = LOCAL(dense_adam_plan)(n, k, m, product == FC_DENSE_ADAM, tab, plan);
  } else if (product != FC_DENSE_GRAD_X && product != FC_DENSE_GRAD_KERNEL) {
    st = FC_EINVAL;
  } else if (n == 0 || k == 0 || m == 0) {
    plan->algorithm = fc_alg_nothing; /* zeros, where anything is written */
    st = FC_OK;
  } else if (product == FC_DENSE_GRAD_X) { /* as dense_backward calls dense_gemm */
    st = LOCAL(dense_gemm_plan)(k, n, m, k == 1, 0, tab, plan);
  } else if (LOCAL(dense_gw_transposed)(tab, k, m)) {
    st = LOCAL(dense_gemm_plan)(m, k, n, m == 1, 0, tab, plan);
  } else {
    st = LOCAL(dense_gemm_plan)(k, m, n, 1, 0, tab, plan);
  }
  fc_plan_name(plan);
  return st;
}

/* ---- the input gradient by gy's nonzero terms ---------------------------------
 * gx = gy @ w^T where gy is mostly zeros: a ReLU's gradient is zero wherever
 * its unit was off and Dropout's wherever it dropped one (the lecture's
 * Dense(128): 58-64% zeros through training on MNIST). gy's nonzero terms are
 * listed once, sample by sample and depth block by depth block; a task then
 * transposes its rows of w, block by block, into its scratch (w^T: units by
 * the task's features) and gives each sample its gx columns by the sparse row
 * product, one multiply-add per nonzero term and feature. Each output is the
 * GEMM's chain of fused multiply-adds over the units with the zero terms left
 * out, which changes no bit (fc_*_gemv_sparse_ukernel) while w's block is
 * finite; where it is not (0 * inf is NaN), that block's samples take the GEMV
 * over all their terms: the same chain, zeros included. */
typedef struct {
  uint32_t *idx;  /* unit of each term, from its depth block's first */
  T *val;         /* its value */
  int64_t *start; /* sample s's terms of block b: [start[s (blocks + 1) + b], ... + b + 1) */
  int64_t blocks;
} LOCAL(dense_terms);

/* Lists gy's (n x m) nonzero terms into tr (arrays of n m, n (blocks + 1)). */
static void LOCAL(dense_list_terms)(const T *gy, int64_t n, int64_t m, LOCAL(dense_terms) *tr) {
  int64_t count = 0;
  for (int64_t s = 0; s < n; s++) {
    const T *row = gy + s * m;
    for (int64_t b = 0; b < tr->blocks; b++) {
      tr->start[s * (tr->blocks + 1) + b] = count;
      const int64_t k0 = b * FC_DENSE_KB, k1 = fc_min64(m, k0 + FC_DENSE_KB);
      for (int64_t j = k0; j < k1; j++)
        if (row[j] != 0) {
          tr->idx[count] = (uint32_t)(j - k0);
          tr->val[count++] = row[j];
        }
    }
    tr->start[s * (tr->blocks + 1) + tr->blocks] = count;
  }
}

/* gx[:, r0:r1] (n x k) of gy (n x m) @ w^T (w k x m) by tr's terms; wt: FC_DENSE_KB
 * x (r1 - r0) of scratch. */
static void LOCAL(dense_gx_terms)(const LOCAL(dense_terms) *tr, const T *w, const T *gy,
                                  int64_t n, int64_t k, int64_t m, int64_t r0, int64_t r1, T *wt,
                                  T *gx) {
  const fc_ukernel_table *tab = fc_table();
  const LOCAL(gemv_sparse_ukernel) sparse = tab->TABLE(gemv_sparse);
  const LOCAL(gemv_ukernel) gemv = tab->TABLE(gemv);
  const int64_t f = r1 - r0;
  for (int64_t b = 0; b < tr->blocks; b++) {
    const int64_t k0 = b * FC_DENSE_KB, kc = fc_min64(FC_DENSE_KB, m - k0);
    const unsigned flags = b > 0 ? FC_GEMM_ACCUMULATE : 0u;
    if (LOCAL(transpose_finite)(w + r0 * m + k0, m, wt, f, kc, f)) {
      for (int64_t s0 = 0; s0 < n; s0 += FC_GEMV_MAX_ROWS) {
        const int64_t nb = fc_min64(FC_GEMV_MAX_ROWS, n - s0);
        size_t nnz[FC_GEMV_MAX_ROWS];
        const uint32_t *idx[FC_GEMV_MAX_ROWS];
        const T *val[FC_GEMV_MAX_ROWS];
        for (int64_t r = 0; r < nb; r++) {
          const int64_t *st = tr->start + (s0 + r) * (tr->blocks + 1) + b;
          nnz[r] = (size_t)(st[1] - st[0]), idx[r] = tr->idx + st[0], val[r] = tr->val + st[0];
        }
        sparse((size_t)nb, nnz, idx, val, (size_t)f, wt, (size_t)f, gx + s0 * k + r0, (size_t)k,
               flags);
      }
    } else {
      for (int64_t s = 0; s < n; s += FC_GEMV_MAX_ROWS)
        gemv((size_t)fc_min64(FC_GEMV_MAX_ROWS, n - s), (size_t)kc, (size_t)f, gy + s * m + k0,
             (size_t)m, wt, (size_t)f, gx + s * k + r0, (size_t)k, flags);
    }
  }
}

/* dense_backward_adam's tasks: groups of G rows, claimed as fc_parallel_for's
 * dynamic loop hands them out (a contiguous range per thread first, which the
 * prefetchers follow along w, m and v; then the others' leftovers), each
 * thread with its own product scratch. */
typedef struct {
  const LOCAL(dense_adam) *adam;
  LOCAL(igemm_entry) ux, uw;
  const T *x, *w, *bx, *bw, *gy;
  T *gx, *gw, *scratch; /* per thread: the gx part (if any), then G * npw */
  int64_t n, k, m, G, npx, npw, per_thread, gx_part;
  const LOCAL(dense_terms) *terms; /* gy's nonzero terms, if gx goes by them */
  int team; /* the threads, for the owned ranges */
  int gy_in_place; /* gw's B: gy's whole panels read in place (bw: a last part panel) */
} LOCAL(dense_adam_ctx);

/* Group t: rows [t G, t G + G) of gx^T and of the kernel gradient, and Adam's
 * step on those rows; cx, cw the thread's scratch. */
static void LOCAL(dense_adam_group)(const LOCAL(dense_adam_ctx) *c, int64_t t, T *cx, T *cw) {
  const int64_t n = c->n, k = c->k, m = c->m;
  const int64_t r0 = t * c->G, r1 = fc_min64(k, r0 + c->G);
  if (c->gx && c->terms) { /* gx columns r0..r1 by gy's nonzero terms, cx holding w's block */
    LOCAL(dense_gx_terms)(c->terms, c->w, c->gy, n, k, m, r0, r1, cx, c->gx);
  } else if (c->gx) { /* gx^T rows r0..r1 = w rows . gy^T, into cx, then transposed into gx */
    LOCAL(dense_rows)(c->ux, c->w, k, m, 1, r0, r1, m, c->bx, NULL, 0, n, cx, c->npx);
    LOCAL(transpose)(cx, c->npx, c->gx + r0, k, n, r1 - r0);
  }
  /* kernel gradient rows r0..r1 = x^T rows . gy, into cw (gy's whole panels read in place) */
  LOCAL(dense_rows)(c->uw, c->x, k, 1, k, r0, r1, n, c->bw, c->gy_in_place ? c->gy : NULL, m, m, cw,
                    c->npw);
  if (c->gw)
    for (int64_t i = r0; i < r1; i++) memcpy(c->gw + i * m, cw + (i - r0) * c->npw, (size_t)m * sizeof(T));
  LOCAL(dense_adam_rows)(c->adam, m, r0, r1, m, cw, c->npw);
}

static void LOCAL(dense_adam_groups)(void *arg, int tid, int64_t t0, int64_t t1) {
  const LOCAL(dense_adam_ctx) *c = arg;
  T *cx = c->scratch + (int64_t)tid * c->per_thread, *cw = cx + c->gx_part;
  for (int64_t t = t0; t < t1; t++) LOCAL(dense_adam_group)(c, t, cx, cw);
}

/* The owned ranges' tasks (FC_PLAN_OWNED_ROWS): task r, the groups of the
 * features the forward gave thread r. */
static void LOCAL(dense_adam_owned)(void *arg, int tid, int64_t r0, int64_t r1) {
  const LOCAL(dense_adam_ctx) *c = arg;
  for (int64_t r = r0; r < r1; r++)
    LOCAL(dense_adam_groups)(arg, tid, LOCAL(dense_owned_row)(c->k, c->team, (int)r) / c->G,
                             fc_ceil_div(LOCAL(dense_owned_row)(c->k, c->team, (int)r + 1), c->G));
}

/* The backward pass and Adam's step in one sweep over the kernel's rows
 * (features): a task takes a group of rows, computes their gx columns from w
 * (before the step), their kernel gradient into thread scratch, and applies
 * the step to those rows of w and its moments while both are in cache. The
 * kernel is read and written once per step instead of three times (gx, the
 * gradient's write and read, the optimizer's pass), and the gradient never
 * goes to memory unless gw is given. Both products are the dense_gemm ones
 * (rows = features; gx: cols = batch, depth = units; gw: cols = units, depth =
 * batch), with the same tiles, so the results are dense_backward's. */
int DENSE_BACKWARD_ADAM(int64_t n, int64_t k, int64_t m, const T *gy, const T *x, T *w,
                        T *gx, T *gw, T *mom, T *vel, double alpha, double beta_1,
                        double beta_2, double epsilon) {
  if (n < 0 || k < 0 || m < 0 || !mom || !vel) return FC_EINVAL;
  const LOCAL(dense_adam) adam = {w, mom, vel, {(T)alpha, (T)(1.0 - beta_1), (T)(1.0 - beta_2),
                                               (T)epsilon}};
  if (k == 0 || m == 0) return FC_OK;
  if (n == 0) { /* a zero gradient still moves w through the moments */
    T *zero = calloc((size_t)m, sizeof(T));
    if (!zero) return FC_ENOMEM;
    for (int64_t i = 0; i < k; i++) LOCAL(dense_adam_rows)(&adam, m, i, i + 1, m, zero, 0);
    free(zero);
    if (gw) memset(gw, 0, (size_t)(k * m) * sizeof(T));
    return FC_OK;
  }
  const fc_ukernel_table *tab = fc_table();
  fc_plan pl;
  const int st = LOCAL(dense_adam_plan)(n, k, m, gx != NULL, tab, &pl);
  if (st != FC_OK || fc_record_plan(&pl)) return st;
  const LOCAL(igemm_entry) ux = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, k, n)];
  const LOCAL(igemm_entry) uw = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, k, m)];
  const int64_t nrx = (int64_t)ux.nr, nrw = (int64_t)uw.nr;
  const int64_t G = pl.row_block; /* sizes: checked by the plan */
  const int64_t npx = fc_ceil_div(n, nrx) * nrx, npw = fc_ceil_div(m, nrw) * nrw;
  /* gy^T in NR-wide panels over the units (gx's B), gy in NR-wide panels over the
   * batch (gw's B), packed as dense_gemm packs; then each thread's scratch */
  const int nthreads = pl.threads;
  /* gx by gy's nonzero terms where few enough of them are nonzero (costs.def: the
   * sparse row product's share of the GEMM's speed differs by ISA, and under
   * AVX-512 by the width of the core's FMA pipes) */
  int64_t nnz = 0;
  if (gx)
    for (int64_t i = 0; i < n * m; i++) nnz += gy[i] != 0;
  const int64_t limit = tab->isa >= FC_ISA_AVX512 ? (fc_avx512_fma_full_rate()
                                                          ? FC_DENSE_SPARSE_MAX_PERCENT_AVX512_FULL
                                                          : FC_DENSE_SPARSE_MAX_PERCENT_AVX512)
                        : tab->isa == FC_ISA_AVX2 ? FC_DENSE_SPARSE_MAX_PERCENT_AVX2
                                                  : FC_DENSE_SPARSE_MAX_PERCENT_SCALAR;
  const int by_terms = gx && nnz * 100 <= limit * n * m;
  LOCAL(dense_terms) terms = {NULL, NULL, NULL, fc_ceil_div(m, FC_DENSE_KB)};
  const int64_t gx_part = !gx ? 0 : by_terms ? FC_DENSE_KB * G : G * npx;
  const int64_t per_thread = gx_part + G * npw; /* sizes: checked by the plan */
  T *bx = gx && !by_terms ? fc_alloc((size_t)(npx * m) * sizeof(T)) : NULL;
  T *bw = fc_alloc((size_t)(npw * n) * sizeof(T));
  T *scratch = fc_alloc((size_t)(nthreads * per_thread) * sizeof(T));
  if (by_terms) {
    terms.idx = fc_alloc((size_t)nnz * sizeof(uint32_t) + 1);
    terms.val = fc_alloc((size_t)nnz * sizeof(T) + 1);
    terms.start = fc_alloc((size_t)(n * (terms.blocks + 1)) * sizeof(int64_t));
  }
  if ((gx && !by_terms && !bx) || !bw || !scratch ||
      (by_terms && (!terms.idx || !terms.val || !terms.start))) {
    free(bx), free(bw), free(scratch), free(terms.idx), free(terms.val), free(terms.start);
    return FC_ENOMEM;
  }
  if (by_terms) LOCAL(dense_list_terms)(gy, n, m, &terms);
  else if (gx) LOCAL(dense_pack_all)(gy, 1, m, m, 0, n, nrx, bx);
  const int gy_in_place = LOCAL(dense_b_in_place)(n, m);
  LOCAL(dense_pack_from)(gy, m, 1, n, 0, m, nrw, bw, 0, fc_ceil_div(n, FC_DENSE_KB),
                         gy_in_place ? m / nrw * nrw : 0);
  LOCAL(dense_adam_ctx) c = {&adam, ux, uw, x, w, bx, bw, gy, gx, gw, scratch, n, k, m, G, npx,
                             npw, per_thread, gx_part, by_terms ? &terms : NULL, nthreads,
                             gy_in_place};
  const int r = pl.flags & FC_PLAN_OWNED_ROWS
                    ? fc_parallel_for(nthreads, nthreads, 0, LOCAL(dense_adam_owned), &c)
                    : fc_parallel_for(nthreads, pl.tasks, 1, LOCAL(dense_adam_groups), &c);
  free(bx), free(bw), free(scratch), free(terms.idx), free(terms.val), free(terms.start);
  return r;
}

/* ---- a kernel packed once for many products (the inference pass) -----------
 * fc_*_forward_batches runs a dense layer on batch after batch with the same
 * kernel, so it packs w once (dense_pack_kernel) and runs each batch by
 * dense_packed: the product the other way round from dense_gemm's -- rows =
 * samples (x read in place), cols = units (w in NR-wide panels, as
 * dense_pack_all packs B) -- so a batch packs nothing and its tiles store
 * straight into y. Each output is still summed as dense_gemm sums it (a
 * chain of fused multiply-adds from zero per FC_DENSE_KB depth block, the
 * blocks added in order, the bias last), so y is fc_*_dense's bit for bit. */

/* The tile dense_packed takes for products of n rows (*variant, its index in
 * the table) and the elements of w (k x m) packed for it; -1 if too large, or
 * where that tile pads more than dense_gemm's static one (as AVX2's 6x16 does
 * 32 samples but not 128 units): packing x costs less than the padding. */
int64_t LOCAL(dense_packed_elems)(int64_t n, int64_t k, int64_t m, int *variant) {
  const fc_ukernel_table *tab = fc_table();
  if (n < 1 || k < 1 || m < 1) return -1;
  const int v = LOCAL(pick_igemm_at)(tab, n, m);
  const LOCAL(igemm_entry) uk = tab->TABLE(igemm)[v];
  const int64_t nr = (int64_t)uk.nr;
  int64_t elems;
  const LOCAL(igemm_entry) theirs = tab->TABLE(igemm)[LOCAL(pick_igemm_at)(tab, m, n)];
  if ((int64_t)uk.mr > FC_DENSE_MAX_MR || !fc_mul(k, fc_ceil_div(m, nr) * nr, &elems) ||
      fc_tile_work((int64_t)uk.mr, (int64_t)uk.nr, uk.cost, n, m) >
          fc_tile_work((int64_t)theirs.mr, (int64_t)theirs.nr, theirs.cost, m, n))
    return -1;
  *variant = v;
  return elems;
}

/* w (k x m) packed for the tile `variant` into dst (dense_packed_elems). */
void LOCAL(dense_pack_kernel)(int64_t k, int64_t m, const T *w, int variant, T *dst) {
  LOCAL(dense_pack_all)(w, m, 1, k, 0, m, (int64_t)fc_table()->TABLE(igemm)[variant].nr, dst);
}

/* fc_*_dense(n, k, m, x, w, bias, y), with wpack = w packed for `variant`:
 * batches the GEMM would take run on wpack, on the calling thread; smaller
 * ones, which fc_*_dense gives the GEMV, go to fc_*_dense. */
int LOCAL(dense_packed)(int64_t n, int64_t k, int64_t m, const T *x, const T *w,
                        const T *wpack, int variant, const T *bias, T *y) {
  if (n <= FC_DENSE_GEMV_MAX_BATCH || k < 1 || m < 1) return DENSE(n, k, m, x, w, bias, y);
  const LOCAL(igemm_entry) uk = fc_table()->TABLE(igemm)[variant];
  const int64_t ld = fc_ceil_div(m, (int64_t)uk.nr) * (int64_t)uk.nr;
  /* depth block outermost, unlike dense_rows: a block of x (n rows) stays in L1
   * while the kernel's block streams past it once */
  for (int64_t k0 = 0; k0 < k; k0 += FC_DENSE_KB)
    LOCAL(dense_batch_block)(uk, x, n, k, k0, fc_min64(FC_DENSE_KB, k - k0), wpack + k0 * ld,
                             (int64_t)uk.nr, fc_min64(FC_DENSE_KB, k - k0), m, y, m,
                             k0 > 0 ? FC_GEMM_ACCUMULATE : 0u);
  LOCAL(dense_finish)(y, NULL, 0, n, m, bias);
  return FC_OK;
}
