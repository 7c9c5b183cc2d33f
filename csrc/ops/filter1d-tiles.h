/* The checks, NI_Correlate1D's symmetry test and the task shapes of
 * scipy.ndimage's 1-D filters along one axis, which do not depend on the
 * dtype: static, for filter1d-template.h (f32-filter1d.c, f64-filter1d.c), so
 * each instance keeps them inlinable. */
#ifndef FC_FILTER1D_TILES_H
#define FC_FILTER1D_TILES_H
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include "internal.h"

#define FC_AXIS_LIMIT ((int64_t)1 << 62) /* sizes and pads; keeps index sums in int64 */
#define FC_AXIS_COLS 512                 /* columns per task down columns */
#define FC_AXIS_MIN_COLS 32              /* ... when cut finer to feed the threads */
#define FC_AXIS_MIN_INNER 16             /* fewer columns: the running sum's strided lines, */
                                         /* the correlation's edges by window copies */
#define FC_AXIS_CHUNK 4096               /* values of a line group per task along lines */
#define FC_AXIS_SHORT 256                /* fewer: one window copy, one kernel call */
#define FC_AXIS_LANES 16                 /* lines one running-sum task carries side by side */
#define FC_AXIS_RUN 256                  /* ... this many outputs at a time */
#define FC_AXIS_STAGE_LD (FC_AXIS_RUN + 16) /* ... their means staged a run a row (fc_axis_stage) */
#define FC_AXIS_SHORT_N 48               /* contiguous lines shorter: filtered across */
#define FC_AXIS_ACROSS 512               /* ... this many lines a task (fc_axis_across) */
#define FC_AXIS_ACROSS_LD (FC_AXIS_ACROSS + 8) /* ... transposed, rows this far apart */
#define FC_AXIS_EDGE 128                 /* bytes: column blocks end on these boundaries of y */
#define FC_AXIS_STRIP_BYTES 24576        /* a strip's m rows, to stay in L1 (strip copies) */
#define FC_AXIS_STRIP_UNIT 32            /* a strip's columns: whole passes of every ndline kernel */
#define FC_AXIS_WINDOW_BYTES 262144      /* down columns: a copied window of a block's rows */

static int fc_axis_check(const fc_axis_params *p) {
  if (p->outer < 0 || p->n < 0 || p->inner < 0 || p->m < 1 || !fc_boundary_valid(p->boundary))
    return FC_EINVAL;
  const int64_t lim = FC_AXIS_LIMIT;
  if (p->outer > lim || p->n > lim || p->inner > lim || p->m > lim || p->pad > lim ||
      p->pad < -lim)
    return FC_EOVERFLOW;
  const int64_t dims[3] = {p->outer, p->n, p->inner};
  if (fc_prod(3, dims) < 0) return FC_EOVERFLOW;
  return FC_OK;
}

/* NI_Correlate1D's test, comparisons as written there: 1 if w (odd length) is
 * symmetric about its centre within DBL_EPSILON, -1 if antisymmetric, else 0. */
static int fc_axis_symmetry(const double *w, int64_t m) {
  if (!(m & 1)) return 0;
  const int64_t c = m / 2;
  int symmetric = 1;
  for (int64_t i = 1; i <= c; i++)
    if (fabs(w[c + i] - w[c - i]) > DBL_EPSILON) {
      symmetric = 0;
      break;
    }
  if (symmetric) return 1;
  for (int64_t i = 1; i <= c; i++)
    if (fabs(w[c + i] + w[c - i]) > DBL_EPSILON) return 0;
  return -1;
}

typedef struct {
  int64_t cb, col_tasks;         /* down columns: columns per task, tasks per outer index */
  int64_t chunk, chunks, lines;  /* along lines: outputs per line, lines per task */
  int64_t nlines;                /* along lines: outer * inner lines, inner elements apart */
  int64_t strip;                 /* columns per window copy (chunk rows at a time), or 0 */
  int64_t ntasks;
} fc_axis_tiling;

/* Correlation along wide lines whose rows lie a multiple of 2 KiB apart: the m
 * rows one output reads then fall in the same few sets of a set-associative
 * L1, which holds 8 lines a set or so, and each tap's load comes from L2
 * (AMD EPYC Zen 4: gaussian_filter1d sigma 5 along axis 0 of 1024x1024
 * float64 took 9.8 ms, of 1000 or 1030 columns 3.5-4.5 ms per 1024). Such
 * passes copy their window a strip of columns at a time into rows a little
 * more than the strip apart (axis_strip_copy); down columns, where rows
 * lie a multiple of 2 KiB apart too, a block copies its window chunk rows at
 * a time (axis_columns). */
/* The row stride of a window copy of `cols` values a row: a line more, so that
 * its rows spread over the sets. */
static int64_t fc_axis_window_ld(int64_t cols, int64_t item) { return cols + 64 / item; }

static int fc_axis_aliased(const fc_axis_params *p, int64_t item) {
  return p->m > 4 && (p->inner * item) % 2048 == 0;
}

/* Whether the running means along contiguous lines of x go through a stage
 * before y. The runlines kernel stores the means of eight lines into y a few
 * vectors behind its loads from the same lines of x; the cores compare the
 * low 12 bits of addresses first, and where the lines lie a multiple of 4 KiB
 * apart and y's line a little (under 256 bytes) ahead of either of its two
 * reading points in x modulo 4 KiB, each load waits for a store it only seems
 * to depend on: measured on an AMD EPYC Zen 4, 1.0-1.5 ns a value against
 * 0.35-0.45 elsewhere (other line lengths at the same distance: up to 0.7, no
 * worse than through the stage). y and x share their layout, so the distance
 * is the same for every line. The stage's rows lie FC_AXIS_STAGE_LD values
 * apart, each copied into y after the kernel call. */
static int fc_axis_stage(const fc_axis_params *p, const void *x, const void *y, int64_t item) {
  if ((p->n * item) % 4096 != 0) return 0;
  const int64_t d = (int64_t)(((uintptr_t)y - (uintptr_t)x) % 4096);
  const int64_t reads[2] = {(-1 - p->pad) * item, (p->m - 1 - p->pad) * item}; /* x_out, x_in */
  for (int k = 0; k < 2; k++) {
    const int64_t ahead = ((d - reads[k]) % 4096 + 4096) % 4096;
    if (ahead > 0 && ahead < 256) return 1;
  }
  return 0;
}

static int64_t fc_axis_strip(const fc_axis_params *p, int64_t item) {
  if (p->inner < FC_AXIS_MIN_INNER || p->inner > FC_AXIS_CHUNK || !fc_axis_aliased(p, item))
    return 0;
  const int64_t unit = FC_AXIS_STRIP_UNIT; /* (the kernels' tails run one output at a time) */
  const int64_t w = FC_AXIS_STRIP_BYTES / (p->m * item) / unit * unit;
  return fc_min64(fc_max64(w, unit), p->inner);
}

/* Down columns (the kernels run across a block of columns, one output row at a
 * time) for the running sum when a row holds at least FC_AXIS_MIN_INNER
 * columns, and for correlation when a row holds more than FC_AXIS_CHUNK
 * values; else along the outer * inner lines. (Correlation along lines reads
 * `inner` lines as one run whose taps lie inner apart: one kernel call covers
 * many rows, which is faster than a call per row down columns.) */
static int fc_axis_down_columns(const fc_axis_params *p, int uniform) {
  return uniform ? p->inner >= FC_AXIS_MIN_INNER : p->inner > FC_AXIS_CHUNK;
}

/* Many short contiguous lines (inner 1, n < FC_AXIS_SHORT_N: an image's colour
 * channels as the last axis): a task transposes FC_AXIS_ACROSS lines into a
 * block whose rows hold one position of every line, runs the down-columns
 * kernels across them (a kernel call per output row for hundreds of lines,
 * instead of one per line of a few outputs and its window copy) and
 * transposes the outputs back. Every output is computed as along its line. */
static int fc_axis_across(const fc_axis_params *p) {
  return p->inner == 1 && p->n < FC_AXIS_SHORT_N && p->outer >= 8;
}

/* Tasks write disjoint parts of y, and no two share a cache line where that
 * can be arranged: a task down columns takes the columns between two
 * FC_AXIS_EDGE-byte boundaries of y (fc_axis_block; NumPy's arrays start 16 or
 * 32 bytes past one, so blocks counted from column 0 would share a line with
 * their neighbours in every row, and the two cores would pass those lines back
 * and forth: along axis 0 of a 4096x256 float64 array, 2 threads took 4x the
 * time of 1), and a task along strided lines takes whole groups of `inner`
 * lines where a group is narrower than its LANES. `item` is sizeof the dtype. */
static fc_axis_tiling fc_axis_tiles(const fc_axis_params *p, int uniform, int64_t item) {
  fc_axis_tiling t = {0, 0, 0, 0, 0, 0, 0, 0};
  const int64_t threads = fc_get_num_threads();
  t.nlines = fc_sat_mul(p->outer, p->inner);
  if (fc_axis_across(p)) {
    t.lines = FC_AXIS_ACROSS;
    t.ntasks = fc_ceil_div(t.nlines, t.lines);
  } else if (fc_axis_down_columns(p, uniform)) {
    t.cb = fc_min64(p->inner, FC_AXIS_COLS);
    if (fc_sat_mul(p->outer, fc_ceil_div(p->inner, t.cb)) < 4 * threads) {
      const int64_t want = fc_ceil_div(4 * threads, fc_max64(p->outer, 1));
      t.cb = fc_max64(fc_ceil_div(p->inner, want), fc_min64(p->inner, FC_AXIS_MIN_COLS));
    }
    t.col_tasks = 1;
    if (t.cb < p->inner) { /* whole edge units; one more block for the offset of column 0 */
      const int64_t unit = fc_max64(FC_AXIS_EDGE / item, 1);
      t.cb = fc_ceil_div(t.cb, unit) * unit;
      t.col_tasks = fc_ceil_div(p->inner, t.cb) + 1;
    }
    if (!uniform && p->m > 8 && fc_axis_aliased(p, item)) { /* (m > an 8-way set) */
      t.strip = t.cb;
      t.chunk = fc_min64(fc_max64(FC_AXIS_WINDOW_BYTES / (t.cb * item) - (p->m - 1), p->m),
                         fc_max64(p->n, 1));
    }
    t.ntasks = fc_sat_mul(p->outer, t.col_tasks);
  } else if (uniform) { /* a line's running sum is sequential: whole lines, LANES at a time */
    t.lines = p->inner > 1 && p->inner < FC_AXIS_LANES ? FC_AXIS_LANES / p->inner * p->inner
                                                      : FC_AXIS_LANES;
    if (p->inner == 1 && threads > 1) /* few long lines: a share of them for each thread */
      t.lines = fc_max64(fc_min64(t.lines, fc_ceil_div(t.nlines, threads)), 1);
    t.ntasks = fc_ceil_div(t.nlines, t.lines);
  } else { /* correlation: lines in whole groups of `inner` (one outer index) */
    const int64_t inner = fc_max64(p->inner, 1);
    t.chunk = fc_max64(FC_AXIS_CHUNK / inner, 1);
    t.strip = fc_axis_strip(p, item);
    if (t.strip) /* a strip copy's m - 1 extra rows over at least 8m rows of outputs */
      t.chunk = fc_min64(fc_max64(t.chunk, 8 * p->m), fc_max64(p->n, 1));
    t.chunks = fc_ceil_div(p->n, t.chunk);
    t.lines = inner * (p->n >= t.chunk ? 1 : fc_max64(t.chunk / fc_max64(p->n, 1), 1));
    t.ntasks = fc_sat_mul(fc_ceil_div(t.nlines, t.lines), t.chunks);
  }
  return t;
}

/* Task j of col_tasks down the columns of a slice whose row 0 starts at
 * `row` (an address of y, `item` bytes a value): the columns [*c0, *c0 +
 * *cols) between the slice's j-th and (j+1)-th cb-column boundaries of the
 * address space (each a multiple of FC_AXIS_EDGE bytes), clipped to the row;
 * *cols 0 for the spare block where column 0 sits on a boundary. */
static void fc_axis_block(const fc_axis_tiling *t, int64_t inner, const void *row, int64_t item,
                          int64_t j, int64_t *c0, int64_t *cols) {
  if (t->col_tasks == 1) {
    *c0 = 0, *cols = inner;
    return;
  }
  const int64_t lead = (int64_t)(((uintptr_t)row / (uintptr_t)item) % (uintptr_t)t->cb);
  const int64_t lo = fc_max64(j * t->cb - lead, 0), hi = fc_min64((j + 1) * t->cb - lead, inner);
  *c0 = lo, *cols = fc_max64(hi - lo, 0);
}

#endif /* FC_FILTER1D_TILES_H */
