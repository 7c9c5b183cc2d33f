/* The checks and tiling of 2-D and N-d correlation, which do not depend on
 * the dtype: static, for correlate-template.h (f32-correlate.c,
 * f64-correlate.c), so each instance keeps them inlinable. */
#ifndef FC_CORRELATE_TILES_H
#define FC_CORRELATE_TILES_H
#include <stdatomic.h>
#include <string.h>
#include "internal.h"

#define FC_CORRELATE_LIMIT ((int64_t)1 << 62) /* sizes and pads; keeps index sums in int64 */
#define FC_CORRELATE_BAND_BYTES (256 * 1024)  /* one padded band: half of a 512 KiB+ L2 */
#define FC_CORRELATE_MAX_COLS 4096            /* columns per task */
#define FC_CORRELATE_FOLD_COLS 64             /* fewer: a block's rows in one kernel call */
#define FC_CORRELATE_NARROW 16                /* plane rows up to this, */
#define FC_CORRELATE_NARROW_BAND 128          /* ... window rows up to this: gathered */
#define FC_CORRELATE_SWAP_ROWS 32             /* N-d blocks of narrow planes this tall: axes swapped */
#define FC_CORRELATE_STACK_PLANE 256         /* N-d planes of this many values or fewer, */
#define FC_CORRELATE_STACK_BYTES (64 * 1024)  /* ... their windows stacked up to this a task */
#define FC_CORRELATE_CONVERT_BYTES ((int64_t)256 << 20) /* N-d typed input converted once, up to */
/* correlate_block's element type for "values of the instance's own T" */
enum { FC_ELEM_NATIVE = -1 };

/* Re-checks what the Python layer validated, so a direct C caller gets FC_EINVAL
 * or FC_EOVERFLOW instead of an out-of-bounds access. */
static int fc_correlate2d_check(const fc_correlate2d_params *p) {
  const int64_t sizes[7] = {p->h, p->w, p->ldx, p->kh, p->kw, p->oh, p->ow};
  for (int i = 0; i < 7; i++)
    if (sizes[i] < 0) return FC_EINVAL;
  if (p->kh < 1 || p->kw < 1 || (p->h > 1 && p->ldx < p->w)) return FC_EINVAL;
  if (!fc_boundary_valid(p->boundary)) return FC_EINVAL;
  if (p->boundary != FC_BOUNDARY_FILL && (p->h == 0 || p->w == 0) && p->oh > 0 && p->ow > 0)
    return FC_EINVAL; /* nothing to wrap or mirror */
  const int64_t lim = FC_CORRELATE_LIMIT;
  for (int i = 0; i < 7; i++)
    if (sizes[i] > lim) return FC_EOVERFLOW;
  if (p->pad_top > lim || p->pad_top < -lim || p->pad_left > lim || p->pad_left < -lim)
    return FC_EOVERFLOW;
  int64_t t;
  if (!fc_mul(p->h, p->ldx, &t) || !fc_mul(p->oh, p->ow, &t) || !fc_mul(p->kh, p->kw, &t))
    return FC_EOVERFLOW;
  return FC_OK;
}

/* ND parameters: what fc_correlate2d_check checks, over any number of axes. */
static int fc_correlatend_check(const fc_correlatend_params *p) {
  if (p->ndim < 1 || p->ndim > FC_ND_MAX_DIMS || !fc_boundary_valid(p->boundary)) return FC_EINVAL;
  const int64_t lim = FC_CORRELATE_LIMIT;
  for (int a = 0; a < p->ndim; a++) {
    if (p->shape[a] < 0 || p->kshape[a] < 1) return FC_EINVAL;
    if (p->shape[a] > lim || p->kshape[a] > lim || p->pad[a] > lim || p->pad[a] < -lim)
      return FC_EOVERFLOW;
  }
  if (fc_prod(p->ndim, p->shape) < 0 || fc_prod(p->ndim, p->kshape) < 0) return FC_EOVERFLOW;
  return FC_OK;
}

typedef struct {
  int64_t rb, cb;               /* output rows and columns per task */
  int64_t row_tasks, col_tasks;
  int64_t scratch_elems;        /* one thread's padded band, or -1 on overflow */
} fc_correlate_tiling;

/* Columns: whole rows up to FC_CORRELATE_MAX_COLS. Rows: as many as keep the
 * padded band within FC_CORRELATE_BAND_BYTES, but few enough that each of the
 * `threads` that will run gets about four tasks; at least min_rows (then the
 * plane's rows shared evenly among the tasks). */
static fc_correlate_tiling fc_correlate_tiles(const fc_correlate2d_params *p, size_t elem,
                                              int64_t planes, int64_t threads, int64_t min_rows) {
  fc_correlate_tiling t;
  t.cb = fc_min64(p->ow, FC_CORRELATE_MAX_COLS);
  t.col_tasks = fc_ceil_div(p->ow, t.cb);
  const int64_t wcols = t.cb + p->kw - 1;
  int64_t band_rows = FC_CORRELATE_BAND_BYTES / (int64_t)elem / wcols;
  t.rb = fc_max64(band_rows - (p->kh - 1), 8);
  const int64_t plane_tasks = fc_sat_mul(planes, t.col_tasks);
  if (plane_tasks < 4 * threads) {
    const int64_t want_row_tasks = fc_ceil_div(4 * threads, plane_tasks);
    t.rb = fc_min64(t.rb, fc_max64(fc_ceil_div(p->oh, want_row_tasks), 1));
  }
  if (t.rb < min_rows) t.rb = fc_ceil_div(p->oh, fc_max64(p->oh / min_rows, 1));
  t.rb = fc_max64(fc_min64(t.rb, p->oh), 1);
  t.row_tasks = fc_ceil_div(p->oh, t.rb);
  int64_t n;
  t.scratch_elems = fc_mul(t.rb + p->kh - 1, wcols, &n) && n <= INT64_MAX / 64 ? n : -1;
  return t;
}

/* Whether a block of `rows` x `cols` outputs runs its rows as one run of the
 * row kernel (correlate-template.h), which computes kw - 1 outputs between
 * rows for nothing: with the f64 accumulating kernel (SciPy's order), only
 * while kw stays near the row's width (measured on an AMD EPYC Zen 4: 3-value
 * rows by 50 taps took 1.6x the time of a call per row; by 20 taps the same);
 * the FMA kernels gain at every width measured (up to 101 taps). */
static inline int fc_correlate_fold(int64_t rows, int64_t cols, int64_t kw, int accumulates) {
  return rows > 1 && cols < FC_CORRELATE_FOLD_COLS && (!accumulates || kw <= 2 * cols + 16);
}

/* Whether correlatend runs the blocks of an h x w plane with the plane's axes
 * swapped (correlate-template.h), in blocks of at least FC_CORRELATE_SWAP_ROWS
 * rows: planes of few columns (the channels of an image as the last axis)
 * whose kernel is more than one column wide, so that the row kernel runs down
 * the long axis instead of computing the kw - 1 outputs between short rows.
 * Swapping costs a transposed gather and store, which the saving pays for with
 * up to 4 columns, and where the kw - 1 outputs in between are more than a
 * fifth of those computed (measured on an AMD EPYC Zen 4, (128, 128, C) by
 * (3, kh, kw): 8 columns by 3 x 3 1.1x slower swapped, by 3 x 5 1.2x faster;
 * 16 by 3 x 5 even, by 5 x 9 1.2x faster; up to 4 columns 1.03-5x faster). */
static inline int fc_correlate_swap(int64_t h, int64_t w, int64_t kw) {
  return w <= FC_CORRELATE_NARROW && kw > 1 && h >= FC_CORRELATE_SWAP_ROWS &&
         (w <= 4 || 4 * (kw - 1) > w);
}

/* The index over the first n axes of `shape` of plane number `plane` (C
 * order), into o; t, the kernel slice's index, from zero. */
static inline void fc_lead_index(int n, const int64_t *shape, int64_t plane, int64_t *o,
                                 int64_t *t) {
  for (int a = n - 1; a >= 0; a--) {
    o[a] = plane % shape[a], plane /= shape[a];
    t[a] = 0;
  }
}

/* idx over n axes of `bounds` stepped to the next index in C order (past the
 * last, back to all zeros). */
static inline void fc_next_index(int n, const int64_t *bounds, int64_t *idx) {
  for (int a = n - 1; a >= 0; a--) {
    if (++idx[a] < bounds[a]) return;
    idx[a] = 0;
  }
}

/* The plane of x that output plane o (its index over the `lead` leading axes)
 * reads through kernel slice t, as a plane number, or -1 where FILL leaves
 * the array. */
static inline int64_t fc_lead_source(const fc_correlatend_params *p, int lead, const int64_t *o,
                                     const int64_t *t) {
  int64_t src = 0;
  for (int a = 0; a < lead; a++) {
    const int64_t m = fc_boundary_map(o[a] - p->pad[a] + t[a], p->shape[a], p->boundary);
    if (m < 0) return -1;
    src = src * p->shape[a] + m;
  }
  return src;
}

/* How a block's row kernel meets y (correlate-template.h): it writes y, its sum is
 * added to y through a row buffer, or the kernel adds into y itself. */
typedef enum { FC_BLOCK_WRITE = 0, FC_BLOCK_ADD = 1, FC_BLOCK_ACCUMULATE = 2 } fc_block_how;

#endif /* FC_CORRELATE_TILES_H */
