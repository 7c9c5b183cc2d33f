/* Template of the drivers of scipy.ndimage's 1-D filters for one dtype.
 *
 * x is (outer, n, inner) in C order and the filter runs along n.
 * - Down columns (inner >= FC_AXIS_MIN_INNER): a task is one block of columns
 *   of one outer index. A table of row pointers stands for the extended axis
 *   (rows outside point at the mapped row, or at a row of fill values), so
 *   nothing is copied; the kernels run across the block's columns, one output
 *   row at a time (the running sum keeps one accumulator per column).
 * - Along lines (the outer * inner lines of n values, inner apart: the last
 *   axis, or an axis followed by a few columns such as an image's colour
 *   channels), correlation: a task is a chunk of outputs of some groups of
 *   lines, the `inner` lines of one outer index, which the kernel runs
 *   together with its taps inner apart (axis_line_correlate); the window
 *   of outputs that lies inside x is read in place and a copy with the
 *   boundary rule applied at the edges. The running sum, sequential along a
 *   line, takes up to LANES lines at a time, RUN outputs at a time:
 *   contiguous lines run in the lanes of the runlines kernel's vectors, which
 *   transposes blocks of their values (axis_line_uniform); strided
 *   lines are transposed into a scratch block so that the runsum kernel runs
 *   across them (axis_strided_uniform; one line alone runs a scalar loop).
 * - Many short contiguous lines (fc_axis_across: an image's colour channels):
 *   a task transposes a block of lines, runs the down-columns code across
 *   them and transposes the outputs back (axis_across).
 * Tasks are spread over the pool's threads above the serial threshold; every
 * output is computed the same way whatever the split, so the bits never
 * depend on the thread count.
 *
 * Included once by f32-filter1d.c and by f64-filter1d.c, which define the
 * entry points' full names CORRELATE_AXIS (fc_f32_correlate_axis,
 * fc_f64_correlate_axis) and UNIFORM_AXIS (fc_f32_uniform_axis, ...), T
 * (float, double), the microkernels' types NDLINE_UKERNEL, RUNSUM_UKERNEL and
 * RUNLINES_UKERNEL (fc_f32_ndline_ukernel, ...) and the table's members
 * TABLE_NDLINE, TABLE_RUNSUM and TABLE_RUNLINES (f32_ndline, ...), and
 * LOCAL(x), the static helpers' names (fc_f32_##x, fc_f64_##x). The checks, the
 * symmetry test and the task shapes, which do not depend on the dtype, are in
 * filter1d-tiles.h. */
#include "filter1d-tiles.h"

typedef struct {
  const fc_axis_params *p;
  const T *x;
  const double *w; /* NULL: the running mean */
  T fill;
  T *y;
  int sym;
  NDLINE_UKERNEL line;
  RUNSUM_UKERNEL runsum;
  RUNLINES_UKERNEL runlines;
  fc_axis_tiling tl;
  int stage; /* running means along contiguous lines through the stage (fc_axis_stage) */
  fc_claims next;
  atomic_int failed;
} fc_axis_ctx;

typedef struct {
  const T **rows; /* row pointers of the extended axis, or the m tap pointers */
  T *buf;         /* fill row or window copies */
  double *acc; /* the running sums: one per column or line */
  T *stage;    /* means of lines side by side, rows FC_AXIS_STAGE_LD apart */
  T *across;   /* short lines transposed, then their outputs (fc_axis_across) */
} fc_axis_scratch;

static int LOCAL(axis_scratch_alloc)(const fc_axis_ctx *c, fc_axis_scratch *s) {
  const fc_axis_params *p = c->p;
  int64_t nrows, nbuf, nacc = 0, nstage = 0, nacross = 0;
  if (fc_axis_across(p)) { /* a row table, a fill row and sums for the block's columns */
    nrows = p->n + p->m - 1, nbuf = FC_AXIS_ACROSS, nacc = c->w ? 0 : FC_AXIS_ACROSS;
    nacross = 2 * p->n * FC_AXIS_ACROSS_LD;
  } else if (fc_axis_down_columns(p, c->w == NULL)) {
    nrows = p->n + p->m - 1, nbuf = c->tl.cb, nacc = c->w ? 0 : c->tl.cb;
    if (c->tl.strip) /* the window copy and its m row pointers */
      nrows += p->m, nbuf += (c->tl.chunk + p->m - 1) * fc_axis_window_ld(c->tl.cb, sizeof(T));
  } else if (c->w) { /* a window copy of a line group's chunk, or a row of fill values */
    nrows = p->m;
    nbuf = p->inner < FC_AXIS_MIN_INNER ? p->inner * (fc_min64(p->n, c->tl.chunk) + p->m - 1)
                                        : p->inner;
    if (c->tl.strip) /* after the fill row: a strip's window, rows a line more than it apart */
      nbuf += (fc_min64(p->n, c->tl.chunk) + p->m - 1) * fc_axis_window_ld(c->tl.strip, sizeof(T));
  } else if (p->inner == 1) { /* window copies at the edges; the means' stage, if used */
    nrows = 0, nbuf = (fc_min64(FC_AXIS_RUN, p->n) + p->m) * FC_AXIS_LANES;
    nacc = FC_AXIS_LANES, nstage = c->stage ? FC_AXIS_STAGE_LD * FC_AXIS_LANES : 0;
  } else { /* transposed windows and outputs */
    nrows = 0, nbuf = (FC_AXIS_RUN + p->m) * FC_AXIS_LANES + FC_AXIS_RUN * FC_AXIS_LANES;
    nacc = FC_AXIS_LANES;
  }
  s->rows = nrows ? fc_alloc((size_t)nrows * sizeof(T *)) : NULL;
  s->buf = fc_alloc((size_t)nbuf * sizeof(T));
  s->acc = nacc ? fc_alloc((size_t)nacc * sizeof(double)) : NULL;
  s->stage = nstage ? fc_alloc((size_t)nstage * sizeof(T)) : NULL;
  s->across = nacross ? fc_alloc((size_t)nacross * sizeof(T)) : NULL;
  if ((nrows && !s->rows) || !s->buf || (nacc && !s->acc) || (nstage && !s->stage) ||
      (nacross && !s->across))
    return 1;
  if (c->w && !fc_axis_down_columns(p, 0) && p->inner >= FC_AXIS_MIN_INNER)
    for (int64_t i = 0; i < p->inner; i++) s->buf[i] = c->fill; /* the edges' row of fill values */
  return 0;
}

static void LOCAL(axis_scratch_free)(fc_axis_scratch *s) {
  free((void *)s->rows), free(s->buf), free(s->acc), free(s->stage), free(s->across);
}

/* X(g) of a line of length n >= 1 whose values lie `stride` elements apart */
static inline T LOCAL(axis_at)(const fc_axis_params *p, const T *line, int64_t stride, T fill,
                               int64_t g) {
  const int64_t i = fc_boundary_map(g, p->n, p->boundary);
  return i < 0 ? fill : line[i * stride];
}

/* Line l of the outer * inner lines: its first element's offset in x and y. */
static inline int64_t LOCAL(axis_line)(const fc_axis_params *p, int64_t l) {
  return (l / p->inner) * p->n * p->inner + l % p->inner;
}

/* The line kernel on `outs` output rows (ldy apart in y) of `cols` values whose
 * window rows were copied into win, ld apart: output row j reads rows j to
 * j + m - 1; `at` holds the m tap pointers. */
static void LOCAL(window_lines)(const fc_axis_ctx *c, const T **at, const T *win, int64_t ld,
                                int64_t outs, int64_t cols, T *y, int64_t ldy) {
  const int64_t m = c->p->m;
  for (int64_t j = 0; j < outs; j++) {
    for (int64_t t = 0; t < m; t++) at[t] = win + (j + t) * ld;
    c->line((size_t)cols, (size_t)m, at, c->w, c->sym, y + j * ldy);
  }
}

/* Down columns: `cols` columns of the n rows at x (ld values apart) into y
 * (rows as far apart). */
static void LOCAL(columns_at)(const fc_axis_ctx *c, fc_axis_scratch *s, const T *x, T *y,
                              int64_t ld, int64_t cols) {
  const fc_axis_params *p = c->p;
  const int64_t n = p->n, m = p->m;
  for (int64_t i = 0; i < cols; i++) s->buf[i] = c->fill;
  for (int64_t i = 0; i < n + m - 1; i++) {
    const int64_t r = fc_boundary_map(i - p->pad, n, p->boundary);
    s->rows[i] = r < 0 ? s->buf : x + r * ld;
  }
  if (c->w && c->tl.strip) { /* rows a multiple of 2 KiB apart: copies (fc_axis_strip) */
    const int64_t lds = fc_axis_window_ld(c->tl.cb, sizeof(T));
    T *win = s->buf + c->tl.cb;
    for (int64_t i0 = 0; i0 < n; i0 += c->tl.chunk) {
      const int64_t i1 = fc_min64(i0 + c->tl.chunk, n);
      for (int64_t r = 0; r < i1 - i0 + m - 1; r++)
        memcpy(win + r * lds, s->rows[i0 + r], (size_t)cols * sizeof(T));
      LOCAL(window_lines)(c, s->rows + n + m - 1, win, lds, i1 - i0, cols, y + i0 * ld, ld);
    }
    return;
  }
  if (c->w) {
    for (int64_t i = 0; i < n; i++)
      c->line((size_t)cols, (size_t)m, s->rows + i, c->w, c->sym, y + i * ld);
    return;
  }
  /* NI_UniformFilter1D: tmp = 0.0 + X(-pad) + ... + X(m - 1 - pad), then
   * tmp += X(i + m - 1 - pad) - X(i - 1 - pad), each output tmp / m */
  double *acc = s->acc;
  for (int64_t j = 0; j < cols; j++) acc[j] = 0.0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < cols; j++) acc[j] += (double)s->rows[i][j];
  for (int64_t j = 0; j < cols; j++) y[j] = (T)(acc[j] / (double)m);
  for (int64_t i = 1; i < n; i++)
    c->runsum((size_t)cols, acc, s->rows[i + m - 1], s->rows[i - 1], (double)m, y + i * ld);
}

/* Down columns: columns [c0, c0 + cols) of x[a]. */
static void LOCAL(axis_columns)(const fc_axis_ctx *c, fc_axis_scratch *s, int64_t a,
                                int64_t c0, int64_t cols) {
  const int64_t first = a * c->p->n * c->p->inner + c0;
  LOCAL(columns_at)(c, s, c->x + first, c->y + first, c->p->inner, cols);
}

/* Short contiguous lines (fc_axis_across): lines [l0, l0 + lanes) transposed
 * into a block whose rows hold one position of every line, filtered down its
 * columns, and transposed back. */
static void LOCAL(axis_across)(const fc_axis_ctx *c, fc_axis_scratch *s, int64_t l0,
                               int64_t lanes) {
  const int64_t n = c->p->n, ld = FC_AXIS_ACROSS_LD;
  const T *x = c->x + l0 * n;
  T *y = c->y + l0 * n;
  for (int64_t l = 0; l < lanes; l++)
    for (int64_t j = 0; j < n; j++) s->across[j * ld + l] = x[l * n + j];
  T *out = s->across + n * ld;
  LOCAL(columns_at)(c, s, s->across, out, ld, lanes);
  for (int64_t l = 0; l < lanes; l++)
    for (int64_t j = 0; j < n; j++) y[l * n + j] = out[j * ld + l];
}

/* Row g of the extended axis of the group at x (`in` values; fill values
 * outside) into dst. */
static inline void LOCAL(axis_row)(const fc_axis_ctx *c, const T *x, int64_t g, T *dst) {
  const fc_axis_params *p = c->p;
  const int64_t r = fc_boundary_map(g, p->n, p->boundary);
  if (p->inner == 1) {
    dst[0] = r < 0 ? c->fill : x[r];
    return;
  }
  for (int64_t k = 0; k < p->inner; k++) dst[k] = r < 0 ? c->fill : x[r * p->inner + k];
}

/* Window rows [g0, g0 + len) of the group at x, the boundary rule applied,
 * into buf; rows [lo, hi) lie inside. */
static inline void LOCAL(axis_window)(const fc_axis_ctx *c, const T *x, int64_t g0, int64_t len,
                                      int64_t lo, int64_t hi, T *buf) {
  const int64_t in = c->p->inner;
  for (int64_t i = 0; i < lo; i++) LOCAL(axis_row)(c, x, g0 + i, buf + i * in);
  if (hi > lo) memcpy(buf + lo * in, x + (g0 + lo) * in, (size_t)((hi - lo) * in) * sizeof(T));
  for (int64_t i = hi; i < len; i++) LOCAL(axis_row)(c, x, g0 + i, buf + i * in);
}

/* Outputs [s0, s1) of the wide lines of x[a] (rows `in` values apart), whose
 * windows lie inside x[a], a strip of tl.strip columns at a time: the strip's
 * window rows copied into s->buf past its row of fill values, a line more than
 * the strip apart, then one kernel call per output row on rows in that copy
 * (fc_axis_strip says why). */
static void LOCAL(axis_strip_copy)(const fc_axis_ctx *c, fc_axis_scratch *s, const T *x, T *y,
                                   int64_t s0, int64_t s1) {
  const fc_axis_params *p = c->p;
  const int64_t in = p->inner, m = p->m, rows = s1 - s0 + m - 1;
  const int64_t ld = fc_axis_window_ld(c->tl.strip, sizeof(T));
  T *win = s->buf + in;
  for (int64_t c0 = 0; c0 < in; c0 += c->tl.strip) {
    const int64_t w = fc_min64(c->tl.strip, in - c0);
    const T *src = x + (s0 - p->pad) * in + c0;
    for (int64_t r = 0; r < rows; r++) memcpy(win + r * ld, src + r * in, (size_t)w * sizeof(T));
    LOCAL(window_lines)(c, s->rows, win, ld, s1 - s0, w, y + s0 * in + c0, in);
  }
}

/* Along lines: outputs [j0, j1) of the `inner` lines of x[a], correlation.
 * With x[a] read as one sequence of n * inner values, output (j, k) is the sum
 * over taps t of w[t] times value (j - pad + t) * inner + k: one kernel run
 * over (j1 - j0) * inner consecutive outputs whose taps lie inner apart, so
 * strided lines (inner > 1: a complex array's two parts, an image's
 * channels) are read in place like contiguous ones. The outputs whose window
 * lies inside x[a] read it in place; those at the edges read a copy with
 * the boundary rule applied (up to FC_AXIS_SHORT values read one copy of
 * their whole window: one kernel call instead of three). */
static inline void LOCAL(axis_line_correlate)(const fc_axis_ctx *c, fc_axis_scratch *s, int64_t a,
                                       int64_t j0, int64_t j1) {
  const fc_axis_params *p = c->p;
  const int64_t n = p->n, m = p->m, in = p->inner;
  const T *x = c->x + a * n * in;
  T *y = c->y + a * n * in;
  if (in == 1 && j1 - j0 <= FC_AXIS_SHORT) { /* a short contiguous line: its window copied once */
    const int64_t g0 = j0 - p->pad, len = j1 - j0 + m - 1;
    const int64_t lo = fc_min64(fc_max64(-g0, 0), len), hi = fc_max64(fc_min64(n - g0, len), lo);
    for (int64_t i = 0; i < lo; i++) s->buf[i] = LOCAL(axis_at)(p, x, 1, c->fill, g0 + i);
    if (hi > lo) memcpy(s->buf + lo, x + g0 + lo, (size_t)(hi - lo) * sizeof(T));
    for (int64_t i = hi; i < len; i++) s->buf[i] = LOCAL(axis_at)(p, x, 1, c->fill, g0 + i);
    for (int64_t t = 0; t < m; t++) s->rows[t] = s->buf + t;
    c->line((size_t)(j1 - j0), (size_t)m, s->rows, c->w, c->sym, y + j0);
    return;
  }
  if (in < FC_AXIS_MIN_INNER && (j1 - j0) * in <= FC_AXIS_SHORT) { /* the window copied once */
    const int64_t g0 = j0 - p->pad, len = j1 - j0 + m - 1;
    const int64_t lo = fc_min64(fc_max64(-g0, 0), len), hi = fc_max64(fc_min64(n - g0, len), lo);
    LOCAL(axis_window)(c, x, g0, len, lo, hi, s->buf);
    for (int64_t t = 0; t < m; t++) s->rows[t] = s->buf + t * in;
    c->line((size_t)((j1 - j0) * in), (size_t)m, s->rows, c->w, c->sym, y + j0 * in);
    return;
  }
  /* outputs whose window x[j - pad .. j - pad + m - 1] lies inside x[a] */
  const int64_t in0 = fc_min64(fc_max64(p->pad, j0), j1);
  const int64_t in1 = fc_min64(fc_max64(n - m + p->pad + 1, in0), j1);
  const int64_t cut[4] = {j0, in0, in1, j1};
  for (int part = 0; part < 3; part++) {
    const int64_t s0 = cut[part], s1 = cut[part + 1];
    if (s1 <= s0) continue;
    const T *base;
    if (part == 1 && c->tl.strip) {
      LOCAL(axis_strip_copy)(c, s, x, y, s0, s1);
      continue;
    } else if (part == 1) {
      base = x + (s0 - p->pad) * in;
    } else if (in >= FC_AXIS_MIN_INNER) { /* wide rows: a call per row, taps on the mapped rows */
      for (int64_t j = s0; j < s1; j++) {
        for (int64_t t = 0; t < m; t++) {
          const int64_t r = fc_boundary_map(j - p->pad + t, n, p->boundary);
          s->rows[t] = r < 0 ? s->buf : x + r * in;
        }
        c->line((size_t)in, (size_t)m, s->rows, c->w, c->sym, y + j * in);
      }
      continue;
    } else {
      const int64_t g0 = s0 - p->pad, len = s1 - s0 + m - 1;
      const int64_t lo = fc_min64(fc_max64(-g0, 0), len), hi = fc_max64(fc_min64(n - g0, len), lo);
      LOCAL(axis_window)(c, x, g0, len, lo, hi, s->buf);
      base = s->buf;
    }
    for (int64_t t = 0; t < m; t++) s->rows[t] = base + t * in;
    c->line((size_t)((s1 - s0) * in), (size_t)m, s->rows, c->w, c->sym, y + s0 * in);
  }
}

/* Along contiguous lines (inner 1): the running mean of lines [l0, l0 +
 * lanes), FC_AXIS_RUN outputs at a time. Each line's sum runs as
 * NI_UniformFilter1D's loop, up to FC_RUNLINES_MAX lines a kernel call
 * (runlines: the lines in a vector's lanes); a block whose window lies inside
 * the lines reads them in place, one at an edge reads copies of its windows
 * with the boundary rule applied. */
static void LOCAL(axis_line_uniform)(const fc_axis_ctx *c, fc_axis_scratch *s, int64_t l0,
                                     int64_t lanes) {
  const fc_axis_params *p = c->p;
  const int64_t n = p->n, m = p->m, pad = p->pad, run = fc_min64(FC_AXIS_RUN, n), wlen = run + m;
  const double dm = (double)m;
  double *acc = s->acc;
  const T *src[FC_AXIS_LANES], *x_in[FC_AXIS_LANES], *x_out[FC_AXIS_LANES];
  T *y[FC_AXIS_LANES];
  int64_t base[FC_AXIS_LANES];
  for (int64_t l = 0; l < lanes; l++) base[l] = LOCAL(axis_line)(p, l0 + l);
  for (int64_t r0 = 0; r0 < n; r0 += run) {
    const int64_t r1 = fc_min64(r0 + run, n);
    const int64_t glo = r0 == 0 ? -pad : r0 - 1 - pad, ghi = r1 + m - 2 - pad; /* X rows used */
    const int64_t len = ghi - glo + 1; /* window values [lo, hi) lie inside */
    const int64_t lo = fc_min64(fc_max64(-glo, 0), len), hi = fc_max64(fc_min64(n - glo, len), lo);
    for (int64_t l = 0; l < lanes; l++) {
      const T *x = c->x + base[l];
      if (lo == 0 && hi == len) {
        src[l] = x + glo;
        continue;
      }
      T *e = s->buf + l * wlen;
      for (int64_t i = 0; i < lo; i++) e[i] = LOCAL(axis_at)(p, x, 1, c->fill, glo + i);
      if (hi > lo) memcpy(e + lo, x + glo + lo, (size_t)(hi - lo) * sizeof(T));
      for (int64_t i = hi; i < len; i++) e[i] = LOCAL(axis_at)(p, x, 1, c->fill, glo + i);
      src[l] = e;
    }
    int64_t first = r0;
    if (r0 == 0) { /* tmp = 0.0 + X(-pad) + ... + X(m - 1 - pad) */
      for (int64_t l = 0; l < lanes; l++) {
        double tmp = 0.0;
        for (int64_t i = 0; i < m; i++) tmp += (double)src[l][i];
        acc[l] = tmp;
        c->y[base[l]] = (T)(tmp / dm);
      }
      first = 1;
    }
    if (r1 <= first) continue;
    const int64_t d_in = first + m - 1 - pad - glo, d_out = first - 1 - pad - glo;
    for (int64_t l = 0; l < lanes; l++) {
      x_in[l] = src[l] + d_in, x_out[l] = src[l] + d_out;
      y[l] = c->stage ? s->stage + l * FC_AXIS_STAGE_LD : c->y + base[l] + first;
    }
    for (int64_t l = 0; l < lanes; l += FC_RUNLINES_MAX)
      c->runlines((size_t)fc_min64(FC_RUNLINES_MAX, lanes - l), (size_t)(r1 - first), x_in + l,
                  x_out + l, acc + l, dm, y + l);
    if (c->stage)
      for (int64_t l = 0; l < lanes; l++)
        memcpy(c->y + base[l] + first, y[l], (size_t)(r1 - first) * sizeof(T));
  }
}

/* Along strided lines (inner > 1): the running mean of lines [l0, l0 +
 * lanes), transposed FC_AXIS_RUN outputs at a time into a block whose rows
 * hold the lanes, for the runsum kernel to run across the lines (reading the
 * lines of a group together, where they share cache lines). */
static void LOCAL(axis_strided_uniform)(const fc_axis_ctx *c, fc_axis_scratch *s, int64_t l0,
                                        int64_t lanes) {
  const fc_axis_params *p = c->p;
  const int64_t n = p->n, m = p->m, pad = p->pad, stride = p->inner;
  const double dm = (double)m;
  if (lanes == 1) { /* NI_UniformFilter1D's loop itself */
    const T *x = c->x + LOCAL(axis_line)(p, l0);
    T *y = c->y + LOCAL(axis_line)(p, l0);
    double tmp = 0.0;
    for (int64_t i = 0; i < m; i++) tmp += (double)LOCAL(axis_at)(p, x, stride, c->fill, i - pad);
    y[0] = (T)(tmp / dm);
    for (int64_t i = 1; i < n; i++) {
      tmp += (double)LOCAL(axis_at)(p, x, stride, c->fill, i + m - 1 - pad) -
             (double)LOCAL(axis_at)(p, x, stride, c->fill, i - 1 - pad);
      y[i * stride] = (T)(tmp / dm);
    }
    return;
  }
  T *ext = s->buf, *out = s->buf + (FC_AXIS_RUN + m) * FC_AXIS_LANES;
  double *acc = s->acc;
  int64_t base[FC_AXIS_LANES];
  for (int64_t l = 0; l < lanes; l++) base[l] = LOCAL(axis_line)(p, l0 + l);
  for (int64_t r0 = 0; r0 < n; r0 += FC_AXIS_RUN) {
    const int64_t r1 = fc_min64(r0 + FC_AXIS_RUN, n);
    const int64_t glo = r0 == 0 ? -pad : r0 - 1 - pad, ghi = r1 + m - 2 - pad; /* X rows used */
    for (int64_t g = glo; g <= ghi; g++) {
      const int64_t i = fc_boundary_map(g, n, p->boundary);
      T *e = ext + (g - glo) * lanes;
      for (int64_t l = 0; l < lanes; l++)
        e[l] = i < 0 ? c->fill : c->x[base[l] + i * stride];
    }
    int64_t first = r0;
    if (r0 == 0) {
      for (int64_t l = 0; l < lanes; l++) acc[l] = 0.0;
      for (int64_t i = 0; i < m; i++)
        for (int64_t l = 0; l < lanes; l++) acc[l] += (double)ext[i * lanes + l];
      for (int64_t l = 0; l < lanes; l++) out[l] = (T)(acc[l] / dm);
      first = 1;
    }
    for (int64_t i = first; i < r1; i++)
      c->runsum((size_t)lanes, acc, ext + (i + m - 1 - pad - glo) * lanes,
                ext + (i - 1 - pad - glo) * lanes, dm, out + (i - r0) * lanes);
    for (int64_t l = 0; l < lanes; l++) {
      T *y = c->y + base[l];
      for (int64_t i = r0; i < r1; i++) y[i * stride] = out[(i - r0) * lanes + l];
    }
  }
}

static void LOCAL(axis_task)(const fc_axis_ctx *c, fc_axis_scratch *s, int64_t task) {
  const fc_axis_params *p = c->p;
  const fc_axis_tiling *tl = &c->tl;
  if (fc_axis_across(p)) {
    const int64_t l0 = task * tl->lines;
    LOCAL(axis_across)(c, s, l0, fc_min64(tl->lines, tl->nlines - l0));
  } else if (fc_axis_down_columns(p, c->w == NULL)) {
    const int64_t a = task / tl->col_tasks;
    int64_t c0, cols;
    fc_axis_block(tl, p->inner, c->y + a * p->n * p->inner, (int64_t)sizeof(T),
                  task % tl->col_tasks, &c0, &cols);
    if (cols > 0) LOCAL(axis_columns)(c, s, a, c0, cols);
  } else if (c->w == NULL) {
    const int64_t l0 = task * tl->lines, lanes = fc_min64(tl->lines, tl->nlines - l0);
    if (p->inner == 1)
      LOCAL(axis_line_uniform)(c, s, l0, lanes);
    else
      LOCAL(axis_strided_uniform)(c, s, l0, lanes);
  } else {
    const int64_t l0 = (task / tl->chunks) * tl->lines, j0 = (task % tl->chunks) * tl->chunk;
    const int64_t l1 = fc_min64(l0 + tl->lines, tl->nlines), j1 = fc_min64(j0 + tl->chunk, p->n);
    for (int64_t a = l0 / p->inner; a < l1 / p->inner; a++) /* whole groups */
      LOCAL(axis_line_correlate)(c, s, a, j0, j1);
  }
}

static void LOCAL(axis_thread)(void *arg, int tid, int team) {
  (void)team;
  fc_axis_ctx *c = arg;
  fc_axis_scratch s = {NULL, NULL, NULL, NULL, NULL};
  int have = 0, step = 0;
  int64_t task, end;
  while ((task = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
    if (atomic_load_explicit(&c->failed, memory_order_relaxed)) break;
    if (!have && LOCAL(axis_scratch_alloc)(c, &s)) {
      atomic_store_explicit(&c->failed, 1, memory_order_relaxed);
      break;
    }
    have = 1;
    LOCAL(axis_task)(c, &s, task);
  }
  LOCAL(axis_scratch_free)(&s);
}

static int LOCAL(axis_run)(const fc_axis_params *p, const T *x, const double *w, T fill, T *y) {
  const int st = fc_axis_check(p);
  if (st != FC_OK) return st;
  const int64_t total = p->outer * p->n * p->inner;
  if (total == 0) return FC_OK;
  const fc_ukernel_table *table = fc_table();
  fc_axis_ctx c;
  c.p = p, c.x = x, c.w = w, c.fill = fill, c.y = y;
  c.sym = w ? fc_axis_symmetry(w, p->m) : 0;
  c.line = table->TABLE_NDLINE, c.runsum = table->TABLE_RUNSUM, c.runlines = table->TABLE_RUNLINES;
  c.tl = fc_axis_tiles(p, w == NULL, (int64_t)sizeof(T));
  c.stage = !w && p->inner == 1 && fc_axis_stage(p, x, y, (int64_t)sizeof(T));
  atomic_init(&c.failed, 0);
  /* estimated single-thread time: the taps' multiply-adds (twice FMA's
   * instructions), or the running sum's division and streaming */
  const int64_t ops = w ? fc_sat_mul(total, p->m) : fc_sat_mul(total, 4);
  const int64_t work = fc_max64(FC_NS_FLOPS(fc_min64(ops, INT64_MAX / 8) * 4),
                                FC_NS_BYTES(fc_sat_mul(total, 2 * (int64_t)sizeof(T))));
  const int nt = fc_threads_for(work, c.tl.ntasks);
  fc_plan pl;
  fc_plan_init(&pl, table);
  pl.algorithm = w ? "axis-lines" : "axis-running-sum";
  pl.kernel_fn = w ? FC_UKERNEL_FN(c.line) : FC_UKERNEL_FN(c.runsum);
  pl.tasks = c.tl.ntasks, pl.threads = nt;
  if (fc_record_plan(&pl)) return FC_OK;
  fc_claims_init(&c.next, c.tl.ntasks, 1, nt);
  const int r = fc_parallel(nt, LOCAL(axis_thread), &c);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

int CORRELATE_AXIS(const fc_axis_params *p, const T *x, const double *w, T fill, T *y) {
  if (w == NULL) return FC_EINVAL;
  return LOCAL(axis_run)(p, x, w, fill, y);
}

int UNIFORM_AXIS(const fc_axis_params *p, const T *x, T fill, T *y) {
  return LOCAL(axis_run)(p, x, NULL, fill, y);
}
