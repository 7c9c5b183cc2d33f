/* What the GEMM-based drivers' translation units share: conv2d's parameter
 * check and algorithm names (conv2d-common.c), and each dtype's packing,
 * indirect-GEMM and weight-gradient helpers, written once as templates and
 * compiled per dtype:
 *
 *   f32-pack.c, f64-pack.c                        pack-template.h
 *   f32-igemm.c, f64-igemm.c                      igemm-template.h
 *   f32-conv2d.c, f64-conv2d.c                    conv2d-template.h
 *   f32-conv2d-backward.c, f64-conv2d-backward.c  conv2d-backward-template.h
 *   f32-conv2d-pool.c, f64-conv2d-pool.c          conv2d-pool-template.h
 *   f32-dense.c, f64-dense.c                      dense-template.h
 *
 * The templates name a dtype's functions and types LOCAL(x) (fc_f32_##x,
 * fc_f64_##x); the ones another translation unit calls are declared below,
 * by their full names, and documented at their definitions. All of them
 * check nothing: the public entry points have. */
#ifndef FASTCONV_OPS_CONV2D_INTERNAL_H
#define FASTCONV_OPS_CONV2D_INTERNAL_H

#include <string.h>
#include "internal.h"

/* FC_OK, or FC_EINVAL / FC_EOVERFLOW for parameters a direct C caller got
 * wrong (the Python layer has checked them already). */
FC_INTERNAL int fc_conv2d_check(const fc_conv2d_params *p);

/* A conv2d planner's start: pl emptied for tab, then the check's status; for
 * an empty result (no image or no output pixel) FC_OK and the algorithm
 * fc_alg_nothing, which the planner returns as it is. */
FC_INTERNAL int fc_conv2d_plan_start(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                     fc_plan *pl);

/* Rows ih0 .. ih0 + nrows - 1 of an image of h rows of w values (elem bytes
 * each), columns -left .. len - left - 1 of each, into dst (len values a row),
 * zero outside the image: a direct kernel's input rows with the zeros of the
 * layer's padding, which it multiplies as the GEMM does, and the indirect
 * GEMM's padded copy of whole rows (igemm-template.h). */
static inline void fc_copy_padded_rows(const void *img, int64_t h, int64_t w, int64_t ih0,
                                       int64_t nrows, int64_t left, int64_t len, size_t elem,
                                       void *dst) {
  const int64_t lo = fc_min64(left, len), hi = fc_max64(lo, fc_min64(len, w + left));
  char *d = dst;
  for (int64_t i = 0; i < nrows; i++, d += (size_t)len * elem) {
    const int64_t ih = ih0 + i;
    if (ih < 0 || ih >= h) {
      memset(d, 0, (size_t)len * elem);
      continue;
    }
    memset(d, 0, (size_t)lo * elem);
    memcpy(d + (size_t)lo * elem, (const char *)img + (size_t)(ih * w + lo - left) * elem,
           (size_t)(hi - lo) * elem);
    memset(d + (size_t)hi * elem, 0, (size_t)(len - hi) * elem);
  }
}

/* A thread's share of such rows: nrows * len values rounded up to whole
 * 128-byte lines, so no two threads write to one line (or to one pair the
 * adjacent-line prefetcher fetches together): conv2d of (128,1,28,28) by 28
 * 'same' at 2 threads took 1.6x the time of the GEMM while they shared one. */
static inline int64_t fc_padded_rows_stride(int64_t nrows, int64_t len, size_t elem) {
  const int64_t line = 128 / (int64_t)elem;
  return fc_ceil_div(nrows * len, line) * line;
}

/* The block NCHW weights are packed by, FC_KCRS_BLOCK squared values a
 * thread (igemm-template.h: wpack_kcrs_tasks) */
#define FC_KCRS_BLOCK 64

/* Depth (C/groups * R * S) from which the indirect GEMM beats packing im2col */
#define FC_IGEMM_MIN_DEPTH FC_CONV2D_IGEMM_MIN_DEPTH /* costs.def */

/* The algorithms' names in plans, compared by address in the drivers. */
FC_INTERNAL extern const char fc_alg_nothing[], fc_alg_packed_gemm[], fc_alg_igemm[], fc_alg_direct[],
    fc_alg_gemm_col2im[], fc_alg_igemm_wgrad[], fc_alg_channel_sum[],
    fc_alg_transposed_igemm[], fc_alg_transposed_packed[], fc_alg_dense_gemv[],
    fc_alg_dense_gemm[], fc_alg_dense_blocked[], fc_alg_dense_bias[], fc_alg_dense_adam[];

/* ---- packing (pack-template.h) --------------------------------------------------- */
FC_INTERNAL void fc_f32_pack_panels(const float *m, int64_t rows, int64_t depth, int64_t rstride,
                                    int64_t kstride, size_t tile, int64_t kcb, float *dst);
FC_INTERNAL void fc_f64_pack_panels(const double *m, int64_t rows, int64_t depth, int64_t rstride,
                                    int64_t kstride, size_t tile, int64_t kcb, double *dst);
FC_INTERNAL void fc_f32_transpose(const float *restrict src, int64_t lds, float *restrict dst,
                                  int64_t ldd, int64_t np, int64_t nj);
FC_INTERNAL void fc_f64_transpose(const double *restrict src, int64_t lds, double *restrict dst,
                                  int64_t ldd, int64_t np, int64_t nj);
/* The same transpose; returns whether every value is finite. */
FC_INTERNAL int fc_f32_transpose_finite(const float *restrict src, int64_t lds, float *restrict dst,
                                        int64_t ldd, int64_t np, int64_t nj);
FC_INTERNAL int fc_f64_transpose_finite(const double *restrict src, int64_t lds,
                                        double *restrict dst, int64_t ldd, int64_t np, int64_t nj);

/* ---- the indirect GEMM (igemm-template.h) ----------------------------------------- */
/* The work of an mr x nr tile (of relative cost `cost`) on a rows x cols
 * product, padding included: what the tile choice minimises. */
static inline double fc_tile_work(int64_t mr, int64_t nr, double cost, int64_t rows, int64_t cols) {
  return (double)(fc_ceil_div(rows, mr) * mr) * (double)(fc_ceil_div(cols, nr) * nr) * cost;
}
/* Scratch bytes (elements of elem_bytes) of an igemm plan with
 * FC_PLAN_PANEL_TASKS on packed weights (NCHW's) less those on the caller's
 * (NHWC's): the weights packed into panels nr wide for each group, not a slice
 * of them a thread. Negative where the threads' slices are the larger (many
 * threads on few weights); each part saturates, so the difference does not
 * overflow. */
static inline int64_t fc_panel_packed_bytes(const fc_conv2d_params *p, const fc_plan *pl,
                                            int64_t elem_bytes) {
  const int64_t kg = p->k / p->groups;
  const int64_t packed = fc_sat_mul(fc_sat_mul(fc_sat_mul(p->groups, fc_ceil_div(kg, pl->nr) * pl->nr),
                                               p->c / p->groups * p->r * p->s), elem_bytes);
  return packed - fc_sat_mul(fc_sat_mul(pl->threads, fc_sat_mul(pl->tap_block * pl->depth_block, pl->nr)),
                             elem_bytes);
}
/* The L2's bytes (fc_cpu_cache_bytes), 1 MiB where unknown: what the blocking
 * of the indirect GEMM's passes and copies is sized by. */
static inline int64_t fc_l2_bytes(void) {
  const int64_t l2 = fc_cpu_cache_bytes(2);
  return l2 > 0 ? l2 : (int64_t)1 << 20;
}
FC_INTERNAL int fc_f32_pick_igemm_at(const fc_ukernel_table *tab, int64_t rows, int64_t cols);
FC_INTERNAL int fc_f64_pick_igemm_at(const fc_ukernel_table *tab, int64_t rows, int64_t cols);
FC_INTERNAL int fc_f32_pick_igemm_tie(const fc_ukernel_table *tab, int64_t rows, int64_t cols,
                                      double tie);
FC_INTERNAL int fc_f64_pick_igemm_tie(const fc_ukernel_table *tab, int64_t rows, int64_t cols,
                                      double tie);
FC_INTERNAL int fc_f32_tuned_igemm_from(const fc_ukernel_table *tab, fc_tune_site site,
                                        int64_t rows, int64_t cols, int64_t depth, int fixed,
                                        int learn, int *tuned);
FC_INTERNAL int fc_f64_tuned_igemm_from(const fc_ukernel_table *tab, fc_tune_site site,
                                        int64_t rows, int64_t cols, int64_t depth, int fixed,
                                        int learn, int *tuned);
FC_INTERNAL int fc_f32_tuned_igemm_at(const fc_ukernel_table *tab, fc_tune_site site, int64_t rows,
                                      int64_t cols, int64_t depth, int *tuned);
FC_INTERNAL int fc_f64_tuned_igemm_at(const fc_ukernel_table *tab, fc_tune_site site, int64_t rows,
                                      int64_t cols, int64_t depth, int *tuned);
FC_INTERNAL int fc_f32_igemm_merge_rows(const fc_conv2d_params *p);
FC_INTERNAL int fc_f64_igemm_merge_rows(const fc_conv2d_params *p);
FC_INTERNAL void fc_f32_igemm_pointers(const fc_conv2d_params *p, const float *x, const float *zero,
                                       int64_t q0, int64_t q1, size_t mr, int merge,
                                       const float **ind);
FC_INTERNAL void fc_f64_igemm_pointers(const fc_conv2d_params *p, const double *x,
                                       const double *zero, int64_t q0, int64_t q1, size_t mr,
                                       int merge, const double **ind);
FC_INTERNAL void fc_f32_igemm_tiles(fc_f32_igemm_entry uk, int64_t ks, int64_t cg, int64_t kg,
                                    int64_t tblock, const float **bind, int64_t qc, size_t a_offset,
                                    size_t a_stride, const float *zero, const float *wg,
                                    const float *bias, float *c, int64_t ldc);
FC_INTERNAL void fc_f64_igemm_tiles(fc_f64_igemm_entry uk, int64_t ks, int64_t cg, int64_t kg,
                                    int64_t tblock, const double **bind, int64_t qc,
                                    size_t a_offset, size_t a_stride, const double *zero,
                                    const double *wg, const double *bias, double *c, int64_t ldc);
FC_INTERNAL int fc_f32_all_finite(const float *w, int64_t nw);
FC_INTERNAL int fc_f64_all_finite(const double *w, int64_t nw);
FC_INTERNAL int fc_f32_border_data_ok(const float *w, int64_t nw, const float *bias, int64_t k);
FC_INTERNAL int fc_f64_border_data_ok(const double *w, int64_t nw, const double *bias, int64_t k);
FC_INTERNAL int64_t fc_f32_igemm_tap_block(int64_t ks, int64_t cg);
FC_INTERNAL int64_t fc_f64_igemm_tap_block(int64_t ks, int64_t cg);
FC_INTERNAL int fc_f32_igemm_plan(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                  int allow_border, fc_plan *pl);
FC_INTERNAL int fc_f64_igemm_plan(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                  int allow_border, fc_plan *pl);
FC_INTERNAL int fc_f32_conv2d_igemm(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                    const fc_plan *pl, const float *x, const float *w, int w_kcrs,
                                    const float *bias, float *y);
FC_INTERNAL int fc_f64_conv2d_igemm(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                    const fc_plan *pl, const double *x, const double *w, int w_kcrs,
                                    const double *bias, double *y);

/* ---- conv2d forward (conv2d-template.h) ------------------------------------------- */
/* conv2d's plan, with border or position tiles only where allow_border (conv2d_plan_for:
 * allowed) */
FC_INTERNAL int fc_f32_conv2d_plan_with(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                        int allow_border, fc_plan *pl);
FC_INTERNAL int fc_f64_conv2d_plan_with(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                        int allow_border, fc_plan *pl);
FC_INTERNAL int fc_f32_conv2d_plan_for(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                       fc_plan *pl);
FC_INTERNAL int fc_f64_conv2d_plan_for(const fc_conv2d_params *p, const fc_ukernel_table *tab,
                                       fc_plan *pl);
FC_INTERNAL int fc_f32_conv2d_packed(const fc_conv2d_params *p, const fc_plan *pl, const float *x,
                                     const float *weight, int64_t w_rstride, int64_t w_kstride,
                                     const float *bias, float *y);
FC_INTERNAL int fc_f64_conv2d_packed(const fc_conv2d_params *p, const fc_plan *pl, const double *x,
                                     const double *weight, int64_t w_rstride, int64_t w_kstride,
                                     const double *bias, double *y);

/* ---- the weight gradient (conv2d-backward-template.h) ------------------------------
 * Its set-up, shared by conv2d_backward_weight and the fused conv2d + max-pool
 * backward: the tile, a padded image per thread (or x itself), the row pointers
 * and nparts partial gw^T (mpad x npad per group): one per chunk of the
 * tasks, each chunk claimed by one thread (fc_wgrad_parts). */
#define FC_WGRAD_CTX(T, ENTRY)                                                                  \
  struct {                                                                                      \
    const fc_conv2d_params *p;                                                                  \
    ENTRY uk;                                                                                   \
    int64_t cg, kg, kd, mpad, npad, npanels, a_stride, img, tile;                               \
    const T *x, *xs; /* the input; what the pointers read: slot 0 of xp, or x as is */           \
    T *xp, *zero, *partial; /* xp: a padded NHWC image per thread (NULL: x read as is) */        \
    int64_t *held, right;   /* the image each thread's slot holds (-1: none); right padding */   \
    const T **ind; /* ind[(panel * oh + oy) * mr + i]: row kk = panel * mr + i at output row oy */ \
    int nthreads, nparts;                                                                       \
    int in_place; /* partial is the caller's gw (fc_wgrad_in_place), not scratch */             \
    size_t partial_bytes; /* partial's size as scratch (fc_alloc_large) */                      \
  }
typedef FC_WGRAD_CTX(float, fc_f32_igemm_entry) fc_f32_wgrad_ctx;
typedef FC_WGRAD_CTX(double, fc_f64_igemm_entry) fc_f64_wgrad_ctx;
#undef FC_WGRAD_CTX

/* The weight gradient's partials: one per chunk of tasks, 8 chunks per thread
 * (at most one per task), added up in chunk order, so the bits are fixed for a
 * thread count whichever thread ran which chunk; one on one thread. */
static inline int fc_wgrad_parts(int nthreads, int64_t units) {
  return nthreads <= 1 ? 1 : (int)(units < 8 * (int64_t)nthreads ? units : 8 * (int64_t)nthreads);
}

/* Whether the one partial can be gw itself: NHWC's (r, s, c, k) is the
 * partial's (tap, c) x k layout when there is one group and k is a multiple of
 * the tile's NR (rows past kd, the tile's padding, are never written). */
static inline int fc_wgrad_in_place(const fc_conv2d_params *p, int64_t npad, int nparts) {
  return p->layout == FC_NHWC && p->groups == 1 && nparts == 1 && npad == p->k;
}

/* gw: the caller's gradient, which holds the sums where fc_wgrad_in_place
 * allows (wgrad_finish then has nothing to do), or NULL: scratch. */
FC_INTERNAL int fc_f32_wgrad_setup(fc_f32_wgrad_ctx *ctx, const fc_conv2d_params *p, const float *x,
                                   fc_f32_igemm_entry uk, int nthreads, int nparts, float *gw);
FC_INTERNAL int fc_f64_wgrad_setup(fc_f64_wgrad_ctx *ctx, const fc_conv2d_params *p,
                                   const double *x, fc_f64_igemm_entry uk, int nthreads, int nparts,
                                   double *gw);
FC_INTERNAL void fc_f32_wgrad_rows(const fc_f32_wgrad_ctx *ctx, int tid, int part, int fresh,
                                   int64_t ni, int64_t oy0, int64_t tn, const float *b,
                                   int64_t g_step, int64_t jp_step,
                                   int64_t i_lo, int64_t i_hi);
FC_INTERNAL void fc_f64_wgrad_rows(const fc_f64_wgrad_ctx *ctx, int tid, int part, int fresh,
                                   int64_t ni, int64_t oy0, int64_t tn, const double *b,
                                   int64_t g_step, int64_t jp_step,
                                   int64_t i_lo, int64_t i_hi);
FC_INTERNAL int fc_f32_wgrad_finish(const fc_f32_wgrad_ctx *ctx, float *gw, int kk_major);
FC_INTERNAL int fc_f64_wgrad_finish(const fc_f64_wgrad_ctx *ctx, double *gw, int kk_major);
FC_INTERNAL void fc_f32_wgrad_free(fc_f32_wgrad_ctx *ctx);
FC_INTERNAL void fc_f64_wgrad_free(fc_f64_wgrad_ctx *ctx);

#endif
