/* Template of the 1-D, 2-D and N-d correlation drivers for one dtype.
 * The output is cut into tasks of `rb` rows x `cb` columns (of one plane, for
 * N-d). A task whose input window (rb + kh - 1 rows x cb + kw - 1 columns)
 * lies inside x runs the row microkernel on x itself; any other task first
 * copies its window, with the boundary rule applied, into a per-thread scratch
 * band sized to stay in L2, and runs the microkernel on that. So no padded copy
 * of the whole image is ever made, and 'valid' correlations copy nothing.
 * N-d correlation runs the plane's block once per kernel slice over the
 * leading axes (a slice whose leading index falls outside with FILL reads a
 * band of fill values), adding into the block of y. Tasks are spread over the
 * pool's threads above the serial threshold.
 *
 * Included once by f32-correlate.c and by f64-correlate.c, which define the
 * entry points' full names CORRELATE1D (fc_f32_correlate1d,
 * fc_f64_correlate1d), CORRELATE2D (fc_f32_correlate2d, ...),
 * CORRELATE2D_STACKED (fc_f32_correlate2d_stacked, ...), CORRELATEND
 * (fc_f32_correlatend, ...) and CORRELATEND_FINITE (fc_f32_correlatend_finite,
 * ...), T (float, double), the row microkernels' type
 * CORRELATE_UKERNEL (fc_f32_correlate_ukernel, ...), the table's members
 * TABLE_CORRELATE (f32_correlate, f64_correlate), the row kernel of
 * correlate2d, and TABLE_NDCORRELATE (f32_correlate, f64_ndcorrelate), that of
 * correlatend, ND_ACCUMULATES (1 if TABLE_NDCORRELATE adds into y: SciPy's
 * order, f64; 0 if it writes y: FMA, f32), TYPED_IO (1: define
 * fc_correlatend_typed, f64 only), and LOCAL(x), the static helpers'
 * names (fc_f32_##x, fc_f64_##x). The checks and the tiling, which do not
 * depend on the dtype, are in correlate-tiles.h. */
#include "correlate-tiles.h"

/* n values at src into d: values of T (xt = FC_ELEM_NATIVE) copied, or of
 * type xt read as doubles (f64 only). */
static inline void LOCAL(band_values)(int xt, const char *src, int64_t n, T *d) {
#if TYPED_IO
  if (xt != FC_ELEM_NATIVE) {
    fc_load_doubles((fc_elem)xt, src, n, d);
    return;
  }
#else
  (void)xt;
#endif
  memcpy(d, src, (size_t)n * sizeof(T));
}

/* X(g0 + rr, c0 + cc) for rr < rows, cc < cols into dst (rows x cols, dense),
 * from a plane of values of T or of type xt (band_values); x == NULL stands
 * for a plane of fill values. */
static void LOCAL(correlate_band)(const fc_correlate2d_params *p, const void *x, int xt, T fill,
                                  int64_t g0, int64_t rows, int64_t c0, int64_t cols, T *dst) {
  if (x == NULL) {
    for (int64_t i = 0; i < rows * cols; i++) dst[i] = fill;
    return;
  }
  const size_t item = xt == FC_ELEM_NATIVE ? sizeof(T) : fc_elem_size((fc_elem)xt);
  if (p->w <= FC_CORRELATE_NARROW && cols <= FC_CORRELATE_NARROW_BAND) {
    /* narrow planes (an image's colour channels as the last axis): each row
     * read whole, its columns gathered through one map of the block's columns */
    int64_t at[FC_CORRELATE_NARROW_BAND];
    T row[FC_CORRELATE_NARROW];
    for (int64_t cc = 0; cc < cols; cc++) at[cc] = fc_boundary_map(c0 + cc, p->w, p->boundary);
    for (int64_t rr = 0; rr < rows; rr++) {
      T *d = dst + rr * cols;
      const int64_t sr = fc_boundary_map(g0 + rr, p->h, p->boundary);
      if (sr < 0) {
        for (int64_t cc = 0; cc < cols; cc++) d[cc] = fill;
        continue;
      }
      const char *src = (const char *)x + (size_t)(sr * p->ldx) * item;
      const T *v = (const T *)src;
      if (xt != FC_ELEM_NATIVE) {
        LOCAL(band_values)(xt, src, p->w, row);
        v = row;
      }
      for (int64_t cc = 0; cc < cols; cc++) d[cc] = at[cc] < 0 ? fill : v[at[cc]];
    }
    return;
  }
  const int64_t lo = fc_min64(fc_max64(-c0, 0), cols);          /* first column inside x */
  const int64_t hi = fc_max64(fc_min64(p->w - c0, cols), lo);  /* one past the last */
  for (int64_t rr = 0; rr < rows; rr++) {
    T *d = dst + rr * cols;
    const int64_t sr = fc_boundary_map(g0 + rr, p->h, p->boundary);
    if (sr < 0) {
      for (int64_t cc = 0; cc < cols; cc++) d[cc] = fill;
      continue;
    }
    const char *src = (const char *)x + (size_t)(sr * p->ldx) * item;
    if (hi > lo) LOCAL(band_values)(xt, src + (size_t)(c0 + lo) * item, hi - lo, d + lo);
    for (int64_t cc = 0; cc < cols; cc++) {
      if (cc == lo) cc = hi; /* skip the middle */
      if (cc >= cols) break;
      const int64_t sc = fc_boundary_map(c0 + cc, p->w, p->boundary);
      if (sc < 0)
        d[cc] = fill;
      else
        LOCAL(band_values)(xt, src + (size_t)sc * item, 1, d + cc);
    }
  }
}

/* Where output row R of a correlation lands in y: row R of an oh x ow y
 * (every 0), or, for images stacked into one tall input, row R % every of
 * image R / every, where y holds `keep` rows of each image and the rest
 * (those whose windows straddle two images) are neither computed nor stored. */
typedef struct {
  int64_t every, keep;
} LOCAL(rowmap);

/* One block of y (rows x cols from (r0, c0)) from kernel k over plane x (NULL:
 * all fill), whose values are T (xt = FC_ELEM_NATIVE) or of type xt (read as
 * doubles, f64 only). The window is read in place when it lies inside x and
 * holds T, else copied into *scratch (allocated on first need, scratch_elems
 * elements); FC_BLOCK_ADD uses *rowbuf (cols elements, allocated likewise);
 * `how` is an fc_block_how. `map` places the rows; without one, y is the
 * block's first output and its rows lie ldy apart. Returns 0, or 1 when an
 * allocation fails. */
static int LOCAL(correlate_block)(const fc_correlate2d_params *p, const void *x, int xt,
                                  const T *k, T fill, T *y, int64_t ldy, int64_t r0, int64_t rows,
                                  int64_t c0, int64_t cols, const fc_correlate_tiling *tl,
                                  CORRELATE_UKERNEL fn, int how, const LOCAL(rowmap) *map,
                                  T **scratch, T **rowbuf) {
  const int64_t g0 = r0 - p->pad_top, h0 = c0 - p->pad_left; /* window origin in x */
  const int64_t wrows = rows + p->kh - 1, wcols = cols + p->kw - 1;
  const T *src;
  int64_t lds;
  if (x != NULL && xt == FC_ELEM_NATIVE && g0 >= 0 && g0 + wrows <= p->h && h0 >= 0 &&
      h0 + wcols <= p->w) {
    src = (const T *)x + g0 * p->ldx + h0;
    lds = p->ldx;
  } else {
    if (*scratch == NULL) *scratch = fc_alloc((size_t)tl->scratch_elems * sizeof(T));
    if (*scratch == NULL) return 1;
    LOCAL(correlate_band)(p, x, xt, fill, g0, wrows, h0, wcols, *scratch);
    src = *scratch;
    lds = wcols;
  }
  /* few columns: the block's rows as one run of (rows - 1) * lds + cols outputs
   * in one kernel call, those between the rows computed and dropped */
  const int fold = map == NULL && lds == wcols && (ldy == lds || how == FC_BLOCK_WRITE) &&
                   fc_correlate_fold(rows, cols, p->kw, how == FC_BLOCK_ACCUMULATE);
  if ((fold || how == FC_BLOCK_ADD) && *rowbuf == NULL) {
    *rowbuf = fc_alloc((size_t)tl->scratch_elems * sizeof(T));
    if (*rowbuf == NULL) return 1;
  }
  if (fold) {
    const int64_t n = (rows - 1) * lds + cols;
    if (ldy == lds && how != FC_BLOCK_ADD) { /* y laid out as the window: correlatend's blocks */
      fn((size_t)n, (size_t)p->kh, (size_t)p->kw, src, (size_t)lds, k, y);
      return 0;
    }
    T *t = *rowbuf;
    fn((size_t)n, (size_t)p->kh, (size_t)p->kw, src, (size_t)lds, k, t);
    if (ldy == lds) /* FC_BLOCK_ADD */
      for (int64_t i = 0; i < n; i++) y[i] += t[i];
    else /* FC_BLOCK_WRITE */
      for (int64_t r = 0; r < rows; r++)
        memcpy(y + r * ldy, t + r * lds, (size_t)cols * sizeof(T));
    return 0;
  }
  for (int64_t r = 0; r < rows; r++) {
    T *yr;
    if (map) {
      const int64_t image = (r0 + r) / map->every, row = (r0 + r) % map->every;
      if (row >= map->keep) continue;
      yr = y + (image * map->keep + row) * p->ow + c0;
    } else {
      yr = y + r * ldy;
    }
    if (how == FC_BLOCK_ADD) {
      fn((size_t)cols, (size_t)p->kh, (size_t)p->kw, src + r * lds, (size_t)lds, k, *rowbuf);
      for (int64_t c = 0; c < cols; c++) yr[c] += (*rowbuf)[c];
    } else {
      fn((size_t)cols, (size_t)p->kh, (size_t)p->kw, src + r * lds, (size_t)lds, k, yr);
    }
  }
  return 0;
}

/* One task of a 2-D correlation: a band of rows x a block of columns of y. */
static int LOCAL(correlate_task)(const fc_correlate2d_params *p, const T *x, const T *k, T fill,
                                 T *y, const fc_correlate_tiling *tl, CORRELATE_UKERNEL fn,
                                 int how, const LOCAL(rowmap) *map, int64_t task, T **scratch,
                                 T **rowbuf) {
  const int64_t r0 = (task / tl->col_tasks) * tl->rb, c0 = (task % tl->col_tasks) * tl->cb;
  const int64_t rows = fc_min64(tl->rb, p->oh - r0), cols = fc_min64(tl->cb, p->ow - c0);
  T *yb = map ? y : y + r0 * p->ow + c0;
  return LOCAL(correlate_block)(p, x, FC_ELEM_NATIVE, k, fill, yb, p->ow, r0, rows, c0, cols, tl,
                                fn, how, map, scratch, rowbuf);
}

/* One region: each thread takes the next task until none is left (or one
 * thread failed to allocate its scratch band). */
typedef struct {
  const fc_correlate2d_params *p;
  const T *x, *k;
  T fill;
  T *y;
  const fc_correlate_tiling *tl;
  CORRELATE_UKERNEL fn;
  int how;
  const LOCAL(rowmap) *map;
  fc_claims next;
  atomic_int failed;
} LOCAL(correlate_ctx);

static void LOCAL(correlate_thread)(void *arg, int tid, int team) {
  (void)team;
  LOCAL(correlate_ctx) *c = arg;
  T *scratch = NULL, *rowbuf = NULL;
  int step = 0;
  int64_t task, end;
  while ((task = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
    if (atomic_load_explicit(&c->failed, memory_order_relaxed)) break;
    if (LOCAL(correlate_task)(c->p, c->x, c->k, c->fill, c->y, c->tl, c->fn, c->how, c->map,
                              task, &scratch, &rowbuf))
      atomic_store_explicit(&c->failed, 1, memory_order_relaxed);
  }
  free(scratch);
  free(rowbuf);
}

/* CORRELATE2D, and CORRELATE2D_STACKED with `map` and `how`. */
static int LOCAL(correlate2d_run)(const fc_correlate2d_params *p, const T *x, const T *k, T fill,
                                  T *y, int how, const LOCAL(rowmap) *map) {
  const int st = fc_correlate2d_check(p);
  if (st != FC_OK) return st;
  if (p->oh == 0 || p->ow == 0) return FC_OK;
  /* estimated single-thread time: multiply-adds, or streaming x and y for short
   * kernels; the blocks are cut for the threads that will run (a serial call
   * in few blocks) */
  int64_t macs;
  if (!fc_mul(p->oh * p->ow, p->kh * p->kw, &macs) || macs > INT64_MAX / 4) macs = INT64_MAX / 4;
  const int64_t bytes = (int64_t)sizeof(T) * (p->oh * p->ow + fc_min64(p->h * p->w, INT64_MAX / 16));
  const int64_t work = fc_max64(FC_NS_FLOPS(2 * macs), FC_NS_BYTES(bytes));
  const fc_correlate_tiling tl =
      fc_correlate_tiles(p, sizeof(T), 1, fc_threads_for(work, INT64_MAX), 1);
  if (tl.scratch_elems < 0) return FC_EOVERFLOW;
  const CORRELATE_UKERNEL fn = fc_table()->TABLE_CORRELATE;
  const int64_t ntasks = tl.row_tasks * tl.col_tasks;
  const int nt = fc_threads_for(work, ntasks);
  fc_plan pl;
  fc_plan_init(&pl, fc_table());
  pl.algorithm = "direct-row-bands", pl.kernel_fn = FC_UKERNEL_FN(fn);
  pl.row_block = tl.rb, pl.depth_block = tl.cb, pl.tasks = ntasks, pl.threads = nt;
  /* a band per thread (a serial call's small band lives on the stack) */
  if (nt > 1 || tl.scratch_elems > 512)
    pl.scratch_bytes = fc_sat_mul(nt, fc_sat_mul(tl.scratch_elems, (int64_t)sizeof(T)));
  if (fc_record_plan(&pl)) return FC_OK;
  int failed = 0;
  if (nt <= 1) { /* no parallel region at all: entering one costs more than a small call */
    T small[512], small_sums[512]; /* a small call's window band and sums, without malloc */
    T *scratch = tl.scratch_elems <= 512 ? small : NULL;
    T *rowbuf = tl.scratch_elems <= 512 ? small_sums : NULL;
    for (int64_t task = 0; task < ntasks && !failed; task++)
      failed = LOCAL(correlate_task)(p, x, k, fill, y, &tl, fn, how, map, task, &scratch, &rowbuf);
    if (scratch != small) free(scratch);
    if (rowbuf != small_sums) free(rowbuf);
    return failed ? FC_ENOMEM : FC_OK;
  }
  LOCAL(correlate_ctx) c = {.p = p, .x = x, .k = k, .fill = fill, .y = y, .tl = &tl, .fn = fn,
                            .how = how, .map = map};
  fc_claims_init(&c.next, ntasks, 1, nt);
  atomic_init(&c.failed, 0);
  const int r = fc_parallel(nt, LOCAL(correlate_thread), &c);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

int CORRELATE2D(const fc_correlate2d_params *p, const T *x, const T *k, T fill, T *y) {
  return LOCAL(correlate2d_run)(p, x, k, fill, y, FC_BLOCK_WRITE, NULL);
}

int CORRELATE2D_STACKED(const fc_correlate2d_params *p, int64_t every, int64_t keep, int add,
                        const T *x, const T *k, T *y) {
  if (every < 1 || keep < 1 || keep > every || p->boundary != FC_BOUNDARY_FILL) return FC_EINVAL;
  const LOCAL(rowmap) map = {every, keep};
  return LOCAL(correlate2d_run)(p, x, k, (T)0, y, add ? FC_BLOCK_ADD : FC_BLOCK_WRITE, &map);
}

/* ==== correlatend ==========================================================
 * The last two axes form the plane (a 1-D input is one row); the leading
 * axes index planes. A task is one block of one output plane; it runs the
 * block once per kernel slice over the leading axes, in C order. With typed
 * input or output (f64 only: fc_correlatend_typed), a task reads its windows
 * as doubles and sums its block into a scratch block of doubles, stored into
 * y at the end. */
typedef struct {
  const fc_correlatend_params *p;
  fc_correlate2d_params plane; /* the last two axes */
  int lead;                    /* leading axes */
  int64_t plane_elems, kslices, plane_tasks;
  const void *x; /* values of T, or of type xt */
  const T *k;
  T fill;
  void *y; /* values of T, or of type yt */
  int xt, yt, safe; /* FC_ELEM_NATIVE: T */
  fc_correlate_tiling tl;
  CORRELATE_UKERNEL fn;
  int swap;    /* blocks run with the plane's axes swapped (fc_correlate_swap) */
  int64_t stack; /* > 1: a task is this many whole planes, their windows stacked */
  const int32_t *gather; /* with stack: the window's values' places in a plane, -1: fill */
  const T *kt; /* with swap and a kernel that writes y: each slice's plane transposed */
  int64_t ntasks;
  int check;             /* tasks look for values that are not finite in their blocks */
  fc_claims next;
  atomic_int failed, nonfinite;
} fc_correlatend_ctx;

typedef struct {
  T *scratch, *rowbuf, *block; /* window, one row of sums, typed output's block */
  T *columns;                  /* swapped blocks: the window's columns, then one of fill */
} LOCAL(correlatend_scratch);

/* One kernel slice of a block of correlatend with the plane's axes swapped:
 * the window (rows + kh - 1 rows x cols + kw - 1 columns of plane x, NULL: all
 * fill) gathered transposed into s->scratch, its columns as rows of wr = rows +
 * kh - 1 values, so the row kernel runs down the plane's long axis, over the
 * block's cols columns in one call (the kh - 1 outputs between them computed
 * and dropped): yt holds the block transposed, cols rows wr apart. The
 * accumulating kernel (SciPy's order) is called once per kernel row i, adding
 * that row's taps in order; the others take the transposed kernel slice kt.
 * Returns 0, or 1 when an allocation fails. */
static int LOCAL(correlate_block_swapped)(const fc_correlatend_ctx *c, const void *x,
                                          const T *k, const T *kt, T *yt, int how, int64_t r0,
                                          int64_t rows, int64_t c0, int64_t cols,
                                          LOCAL(correlatend_scratch) *s) {
  const fc_correlate2d_params *q = &c->plane;
  const int64_t wr = rows + q->kh - 1, wc = cols + q->kw - 1, w = q->w;
  if (s->scratch == NULL) s->scratch = fc_alloc((size_t)c->tl.scratch_elems * sizeof(T));
  if (s->columns == NULL) s->columns = fc_alloc((size_t)((w + 1) * (c->tl.rb + q->kh - 1)) * sizeof(T));
  if (how == FC_BLOCK_ADD && s->rowbuf == NULL)
    s->rowbuf = fc_alloc((size_t)c->tl.scratch_elems * sizeof(T));
  if (s->scratch == NULL || s->columns == NULL || (how == FC_BLOCK_ADD && s->rowbuf == NULL))
    return 1;
  T *band = s->scratch, *col = s->columns;
  if (x == NULL) {
    for (int64_t i = 0; i < wc * wr; i++) band[i] = c->fill;
  } else {
    /* the window's rows read once, each of the plane's columns (and one of
     * fill) laid out as a row of col; then the window's columns copied from
     * there through the boundary rule */
    const size_t item = c->xt == FC_ELEM_NATIVE ? sizeof(T) : fc_elem_size((fc_elem)c->xt);
    const int64_t g0 = r0 - q->pad_top, h0 = c0 - q->pad_left;
    /* the rows inside x, [lo, hi): one run of values (correlatend's planes are
     * dense), read as T in one pass (into band, free until the columns are
     * laid out) */
    const int64_t lo = fc_min64(fc_max64(-g0, 0), wr), hi = fc_max64(fc_min64(q->h - g0, wr), lo);
    if (hi > lo) {
      const char *src = (const char *)x + (size_t)((g0 + lo) * w) * item;
      const T *v = (const T *)src;
      if (c->xt != FC_ELEM_NATIVE) {
        LOCAL(band_values)(c->xt, src, (hi - lo) * w, band);
        v = band;
      }
      for (int64_t j = 0; j < w; j++)
        for (int64_t rr = lo; rr < hi; rr++) col[j * wr + rr] = v[(rr - lo) * w + j];
    }
    T row[FC_CORRELATE_NARROW];
    for (int64_t rr = 0; rr < wr; rr++) {
      if (rr == lo) rr = hi; /* skip the rows inside */
      if (rr >= wr) break;
      const int64_t sr = fc_boundary_map(g0 + rr, q->h, q->boundary);
      if (sr < 0) {
        for (int64_t j = 0; j < w; j++) col[j * wr + rr] = c->fill;
        continue;
      }
      const char *src = (const char *)x + (size_t)(sr * q->ldx) * item;
      const T *v = (const T *)src;
      if (c->xt != FC_ELEM_NATIVE) {
        LOCAL(band_values)(c->xt, src, w, row);
        v = row;
      }
      for (int64_t j = 0; j < w; j++) col[j * wr + rr] = v[j];
    }
    for (int64_t rr = 0; rr < wr; rr++) col[w * wr + rr] = c->fill;
    for (int64_t cc = 0; cc < wc; cc++) {
      const int64_t sc = fc_boundary_map(h0 + cc, w, q->boundary);
      memcpy(band + cc * wr, col + (sc < 0 ? w : sc) * wr, (size_t)wr * sizeof(T));
    }
  }
  const size_t n = (size_t)((cols - 1) * wr + rows);
  if (how == FC_BLOCK_ACCUMULATE) {
    for (int64_t i = 0; i < q->kh; i++)
      c->fn(n, (size_t)q->kw, 1, band + i, (size_t)wr, k + i * q->kw, yt);
    return 0;
  }
  T *t = how == FC_BLOCK_ADD ? s->rowbuf : yt;
  c->fn(n, (size_t)q->kw, (size_t)q->kh, band, (size_t)wr, kt, t);
  if (how == FC_BLOCK_ADD)
    for (size_t i = 0; i < n; i++) yt[i] += t[i];
  return 0;
}

static int LOCAL(correlatend_task)(const fc_correlatend_ctx *c, int64_t task,
                                   LOCAL(correlatend_scratch) *s) {
  const fc_correlatend_params *p = c->p;
  const fc_correlate2d_params *q = &c->plane;
  const fc_correlate_tiling *tl = &c->tl;
  const int64_t plane = task / c->plane_tasks, rest = task % c->plane_tasks;
  const int64_t r0 = (rest / tl->col_tasks) * tl->rb, c0 = (rest % tl->col_tasks) * tl->cb;
  const int64_t rows = fc_min64(tl->rb, q->oh - r0), cols = fc_min64(tl->cb, q->ow - c0);
  const int64_t first = plane * c->plane_elems + r0 * q->ow + c0; /* y's offset of the block */
  int64_t o[FC_ND_MAX_DIMS], t[FC_ND_MAX_DIMS];
  fc_lead_index(c->lead, p->shape, plane, o, t);
  /* a block of few columns sums in a scratch block laid out as its windows
   * (correlate_block's folded rows, or the swapped block's transposed ones),
   * copied into y at the end */
  const int fold = !c->swap && fc_correlate_fold(rows, cols, q->kw, ND_ACCUMULATES);
  T *y;
  int64_t ldy;
  if (c->yt == FC_ELEM_NATIVE && !fold && !c->swap) {
    y = (T *)c->y + first, ldy = q->ow;
  } else {
    if (s->block == NULL) s->block = fc_alloc((size_t)tl->scratch_elems * sizeof(T));
    if (s->block == NULL) return 1;
    y = s->block, ldy = c->swap ? rows + q->kh - 1 : fold ? cols + q->kw - 1 : cols;
  }
  const int64_t lines = c->swap ? cols : rows; /* y's rows, ldy apart */
  if (ND_ACCUMULATES && (fold || c->swap))
    memset(y, 0, (size_t)(lines * ldy) * sizeof(T));
  else if (ND_ACCUMULATES)
    for (int64_t r = 0; r < rows; r++) memset(y + r * ldy, 0, (size_t)cols * sizeof(T));
  const size_t xitem = c->xt == FC_ELEM_NATIVE ? sizeof(T) : fc_elem_size((fc_elem)c->xt);
  for (int64_t sl = 0; sl < c->kslices; sl++) {
    /* the input plane this kernel slice reads, or NULL where FILL leaves the array */
    const int64_t src = fc_lead_source(p, c->lead, o, t);
    const void *x = src >= 0 ? (const char *)c->x + (size_t)(src * c->plane_elems) * xitem : NULL;
    const int how = ND_ACCUMULATES ? FC_BLOCK_ACCUMULATE : sl ? FC_BLOCK_ADD : FC_BLOCK_WRITE;
    const int64_t at = sl * q->kh * q->kw;
    if (c->swap ? LOCAL(correlate_block_swapped)(c, x, c->k + at, c->kt ? c->kt + at : NULL, y,
                                                 how, r0, rows, c0, cols, s)
                : LOCAL(correlate_block)(q, x, c->xt, c->k + at, c->fill, y, ldy, r0, rows, c0,
                                         cols, tl, c->fn, how, NULL, &s->scratch, &s->rowbuf))
      return 1;
    fc_next_index(c->lead, p->kshape, t); /* the next slice */
  }
  if (c->swap) { /* the block transposed back: into y, or for typed y into the
                   * window's scratch (free now), stored below */
    T *d = c->yt == FC_ELEM_NATIVE ? (T *)c->y + first : s->scratch;
    const int64_t ldd = c->yt == FC_ELEM_NATIVE ? q->ow : cols;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < cols; j++) d[r * ldd + j] = y[j * ldy + r];
  }
#if TYPED_IO
  if (c->yt != FC_ELEM_NATIVE) { /* the block's rows, dense (ld cols) or ldy apart */
    const size_t yitem = fc_elem_size((fc_elem)c->yt);
    const T *b = c->swap ? s->scratch : y;
    const int64_t ldb = c->swap ? cols : ldy;
    if (ldb == cols && cols == q->ow) /* whole rows: one run */
      fc_store_doubles((fc_elem)c->yt, b, rows * cols, (char *)c->y + (size_t)first * yitem,
                       c->safe);
    else
      for (int64_t r = 0; r < rows; r++)
        fc_store_doubles((fc_elem)c->yt, b + r * ldb, cols,
                         (char *)c->y + (size_t)(first + r * q->ow) * yitem, c->safe);
  }
#endif
  if (c->yt == FC_ELEM_NATIVE && fold)
    for (int64_t r = 0; r < rows; r++)
      memcpy((T *)c->y + first + r * q->ow, y + r * ldy, (size_t)cols * sizeof(T));
  if (c->check) { /* the block while it is in cache; v - v is 0 for finite v only */
    int bad = 0;
    const int64_t len = c->swap ? rows : cols;
    for (int64_t r = 0; r < lines; r++) {
      const T *yr = y + r * ldy;
      for (int64_t j = 0; j < len; j++) bad |= !(yr[j] - yr[j] == 0);
    }
    if (bad) atomic_store_explicit((atomic_int *)&c->nonfinite, 1, memory_order_relaxed);
  }
  return 0;
}

/* A task of c->stack whole planes from the task's first (their last ones may
 * fall short): for each kernel slice, each plane's window (wr = oh + kh - 1
 * rows x wc = ow + kw - 1 columns) gathered into s->scratch one below the
 * other, and the whole stack summed in one kernel call, the outputs between
 * rows and between planes computed and dropped (correlate_block's fold over
 * many planes: tiny planes would each pay a gather and a call per slice); the
 * planes' rows then copied into y. */
static int LOCAL(correlatend_stacked)(const fc_correlatend_ctx *c, int64_t task,
                                      LOCAL(correlatend_scratch) *s) {
  const fc_correlatend_params *p = c->p;
  const fc_correlate2d_params *q = &c->plane;
  const int64_t planes = fc_prod(c->lead, p->shape);
  const int64_t p0 = task * c->stack, np = fc_min64(c->stack, planes - p0);
  const int64_t wr = q->oh + q->kh - 1, wc = q->ow + q->kw - 1, win = wr * wc;
  const int64_t n = (np * wr - q->kh) * wc + q->ow; /* through the last plane's last output */
  const size_t elems = (size_t)c->tl.scratch_elems * sizeof(T);
  if (s->scratch == NULL) s->scratch = fc_alloc(elems);
  if (s->block == NULL) s->block = fc_alloc(elems);
  if (!ND_ACCUMULATES && c->kslices > 1 && s->rowbuf == NULL) s->rowbuf = fc_alloc(elems);
  if (s->scratch == NULL || s->block == NULL ||
      (!ND_ACCUMULATES && c->kslices > 1 && s->rowbuf == NULL))
    return 1;
  T *band = s->scratch, *y = s->block;
  if (ND_ACCUMULATES) memset(y, 0, (size_t)n * sizeof(T));
  const size_t xitem = c->xt == FC_ELEM_NATIVE ? sizeof(T) : fc_elem_size((fc_elem)c->xt);
  int64_t o0[FC_ND_MAX_DIMS], t[FC_ND_MAX_DIMS];
  fc_lead_index(c->lead, p->shape, p0, o0, t);
  for (int64_t sl = 0; sl < c->kslices; sl++) {
    int64_t o[FC_ND_MAX_DIMS];
    memcpy(o, o0, sizeof o);
    for (int64_t i = 0; i < np; i++) {
      const int64_t src = fc_lead_source(p, c->lead, o, t);
      const int inside = src >= 0;
      T *d = band + i * win;
      if (!inside) {
        for (int64_t j = 0; j < win; j++) d[j] = c->fill;
      } else { /* the window through the call's gather map */
        const char *xs = (const char *)c->x + (size_t)(src * c->plane_elems) * xitem;
        const T *v = (const T *)xs;
        T plane[FC_CORRELATE_STACK_PLANE + 1];
        if (c->xt != FC_ELEM_NATIVE) {
          LOCAL(band_values)(c->xt, xs, c->plane_elems, plane);
          v = plane;
        }
        for (int64_t j = 0; j < win; j++) d[j] = c->gather[j] < 0 ? c->fill : v[c->gather[j]];
      }
      fc_next_index(c->lead, p->shape, o); /* the next plane */
    }
    const T *k = c->k + sl * q->kh * q->kw;
    T *sums = !ND_ACCUMULATES && sl > 0 ? s->rowbuf : y;
    c->fn((size_t)n, (size_t)q->kh, (size_t)q->kw, band, (size_t)wc, k, sums);
    if (sums != y)
      for (int64_t i = 0; i < n; i++) y[i] += sums[i];
    fc_next_index(c->lead, p->kshape, t); /* the next slice */
  }
  int bad = 0;
  for (int64_t i = 0; i < np; i++)
    for (int64_t r = 0; r < q->oh; r++) {
      const T *yr = y + i * win + r * wc;
      const int64_t at = (p0 + i) * c->plane_elems + r * q->ow;
#if TYPED_IO
      if (c->yt != FC_ELEM_NATIVE) {
        const size_t yitem = fc_elem_size((fc_elem)c->yt);
        fc_store_doubles((fc_elem)c->yt, yr, q->ow, (char *)c->y + (size_t)at * yitem, c->safe);
      } else
#endif
        memcpy((T *)c->y + at, yr, (size_t)q->ow * sizeof(T));
      if (c->check)
        for (int64_t j = 0; j < q->ow; j++) bad |= !(yr[j] - yr[j] == 0);
    }
  if (bad) atomic_store_explicit((atomic_int *)&c->nonfinite, 1, memory_order_relaxed);
  return 0;
}

static void LOCAL(correlatend_thread)(void *arg, int tid, int team) {
  (void)team;
  fc_correlatend_ctx *c = arg;
  LOCAL(correlatend_scratch) s = {NULL, NULL, NULL, NULL};
  int step = 0;
  int64_t task, end;
  while ((task = fc_claims_next(&c->next, tid, &step, &end)) >= 0) {
    if (atomic_load_explicit(&c->failed, memory_order_relaxed)) break;
    if (c->stack > 1 ? LOCAL(correlatend_stacked)(c, task, &s) : LOCAL(correlatend_task)(c, task, &s))
      atomic_store_explicit(&c->failed, 1, memory_order_relaxed);
  }
  free(s.scratch);
  free(s.rowbuf);
  free(s.block);
  free(s.columns);
}

/* CORRELATEND over x of type xt into y of type yt (FC_ELEM_NATIVE: T); with
 * `finite`, *finite = whether every value of y is finite. */
static int LOCAL(correlatend_run)(const fc_correlatend_params *p, const void *x, int xt,
                                  const T *k, T fill, void *y, int yt, int safe, int *finite) {
  if (finite) *finite = 1;
  int st = fc_correlatend_check(p);
  if (st != FC_OK) return st;
  const int64_t total = fc_prod(p->ndim, p->shape), taps = fc_prod(p->ndim, p->kshape);
  if (total == 0) return FC_OK;
  const int d = p->ndim, lead = d >= 2 ? d - 2 : 0;
  const int64_t h = d >= 2 ? p->shape[d - 2] : 1, w = p->shape[d - 1];
  const fc_correlate2d_params q = {h, w, w, d >= 2 ? p->kshape[d - 2] : 1, p->kshape[d - 1], h,
                                   w, d >= 2 ? p->pad[d - 2] : 0, p->pad[d - 1], p->boundary};
  if ((st = fc_correlate2d_check(&q)) != FC_OK) return st;
  fc_correlatend_ctx c;
  c.p = p, c.plane = q, c.lead = lead, c.plane_elems = h * w;
  c.kslices = taps / (q.kh * q.kw);
  c.x = x, c.k = k, c.fill = fill, c.y = y, c.xt = xt, c.yt = yt, c.safe = safe;
  const int64_t macs = fc_min64(fc_sat_mul(total, taps), INT64_MAX / 4);
  const int64_t bytes = fc_sat_mul(2 * (int64_t)sizeof(T), total);
  const int64_t work = fc_max64(FC_NS_FLOPS(2 * macs), FC_NS_BYTES(bytes));
  const int64_t threads = fc_threads_for(work, INT64_MAX); /* that this work would use */
  c.swap = fc_correlate_swap(h, w, q.kw);
  c.tl = fc_correlate_tiles(&q, sizeof(T), total / c.plane_elems, threads,
                            c.swap ? FC_CORRELATE_SWAP_ROWS : 1);
  if (c.tl.scratch_elems < 0) return FC_EOVERFLOW;
  c.plane_tasks = c.tl.row_tasks * c.tl.col_tasks;
  const int64_t planes = total / c.plane_elems;
  if (!fc_mul(planes, c.plane_tasks, &c.ntasks)) return FC_EOVERFLOW;
  /* tiny planes, one task each: stacked, as many to a task as keep the stack's
   * windows within FC_CORRELATE_STACK_BYTES, few enough for four tasks a thread */
  c.stack = 1;
  const int64_t win = fc_sat_mul(h + q.kh - 1, w + q.kw - 1);
  if (!c.swap && c.plane_tasks == 1 && planes > 1 && c.plane_elems <= FC_CORRELATE_STACK_PLANE &&
      w < FC_CORRELATE_FOLD_COLS && (!ND_ACCUMULATES || q.kw <= 2 * w + 16) &&
      win <= FC_CORRELATE_STACK_BYTES / (int64_t)sizeof(T) / 2) {
    c.stack = fc_min64(FC_CORRELATE_STACK_BYTES / (int64_t)sizeof(T) / win,
                       fc_max64(planes / (4 * threads), 1));
    if (c.stack > 1) {
      c.ntasks = fc_ceil_div(planes, c.stack);
      c.tl.scratch_elems = c.stack * win;
    }
  }
  c.gather = NULL;
  c.fn = fc_table()->TABLE_NDCORRELATE;
  c.kt = NULL;
  c.check = finite != NULL;
  atomic_init(&c.failed, 0);
  atomic_init(&c.nonfinite, 0);
  const int nt = fc_threads_for(work, c.ntasks);
  fc_plan pl;
  fc_plan_init(&pl, fc_table());
  pl.algorithm = c.swap    ? "direct-planes-swapped"
                 : c.stack > 1 ? "direct-planes-stacked"
                               : "direct-planes";
  pl.kernel_fn = FC_UKERNEL_FN(c.fn);
  pl.row_block = c.tl.rb, pl.depth_block = c.tl.cb, pl.tasks = c.ntasks, pl.threads = nt;
  int64_t per_thread = c.tl.scratch_elems; /* the window; a block and a row buffer as large */
  if (yt != FC_ELEM_NATIVE || q.ow < FC_CORRELATE_FOLD_COLS)
    per_thread = fc_sat_add(per_thread, c.tl.scratch_elems);
  if (!ND_ACCUMULATES && c.kslices > 1) per_thread = fc_sat_add(per_thread, c.tl.scratch_elems);
  if (c.swap) per_thread = fc_sat_add(per_thread, (w + 1) * (c.tl.rb + q.kh - 1));
  pl.scratch_bytes = fc_sat_mul(nt, fc_sat_mul(per_thread, (int64_t)sizeof(T)));
  if (c.swap && !ND_ACCUMULATES) pl.scratch_bytes = fc_sat_add(pl.scratch_bytes, taps * (int64_t)sizeof(T));
  /* values of another type that three kernel slices or more read: converted
   * once, not by each slice again (where the copy is not too large) */
  const int convert = xt != FC_ELEM_NATIVE && c.kslices >= 3 &&
                      total <= FC_CORRELATE_CONVERT_BYTES / (int64_t)sizeof(T);
  if (convert) pl.scratch_bytes = fc_sat_add(pl.scratch_bytes, total * (int64_t)sizeof(T));
  if (c.stack > 1) pl.scratch_bytes = fc_sat_add(pl.scratch_bytes, win * (int64_t)sizeof(int32_t));
  if (fc_record_plan(&pl)) return FC_OK;
  int32_t *gather = NULL;
  if (c.stack > 1) { /* every plane's window, through the mode, as places in its plane */
    if ((gather = fc_alloc((size_t)win * sizeof(int32_t))) == NULL) return FC_ENOMEM;
    for (int64_t r = 0; r < h + q.kh - 1; r++) {
      const int64_t sr = fc_boundary_map(r - q.pad_top, h, q.boundary);
      for (int64_t j = 0; j < w + q.kw - 1; j++) {
        const int64_t sc = fc_boundary_map(j - q.pad_left, w, q.boundary);
        gather[r * (w + q.kw - 1) + j] = sr < 0 || sc < 0 ? -1 : (int32_t)(sr * w + sc);
      }
    }
    c.gather = gather;
  }
  T *xd = NULL;
#if TYPED_IO
  if (convert && (xd = fc_alloc((size_t)total * sizeof(T))) != NULL) {
    fc_load_doubles((fc_elem)xt, x, total, xd);
    c.x = xd, c.xt = FC_ELEM_NATIVE;
  }
#else
  (void)convert;
#endif
  T *kt = NULL;
  if (c.swap && !ND_ACCUMULATES) { /* each kernel slice's plane transposed */
    if ((kt = fc_alloc((size_t)taps * sizeof(T))) == NULL) {
      free(gather);
      free(xd);
      return FC_ENOMEM;
    }
    for (int64_t sl = 0, n = q.kh * q.kw; sl < c.kslices; sl++)
      for (int64_t i = 0; i < q.kh; i++)
        for (int64_t t = 0; t < q.kw; t++) kt[sl * n + t * q.kh + i] = k[sl * n + i * q.kw + t];
    c.kt = kt;
  }
  fc_claims_init(&c.next, c.ntasks, 1, nt);
  const int r = fc_parallel(nt, LOCAL(correlatend_thread), &c);
  free(kt);
  free(xd);
  free(gather);
  if (finite) *finite = !atomic_load(&c.nonfinite);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}

int CORRELATEND(const fc_correlatend_params *p, const T *x, const T *k, T fill, T *y) {
  return LOCAL(correlatend_run)(p, x, FC_ELEM_NATIVE, k, fill, y, FC_ELEM_NATIVE, 0, NULL);
}

int CORRELATEND_FINITE(const fc_correlatend_params *p, const T *x, const T *k, T fill, T *y,
                       int *finite) {
  int ok = 1;
  const int st =
      LOCAL(correlatend_run)(p, x, FC_ELEM_NATIVE, k, fill, y, FC_ELEM_NATIVE, 0, &ok);
  *finite = ok;
  return st;
}

#if TYPED_IO
int fc_correlatend_typed(const fc_correlatend_params *p, fc_elem xt, const void *x,
                         const double *k, double fill, fc_elem yt, void *y, int safe) {
  if ((int)xt < FC_ELEM_I8 || xt > FC_ELEM_F64 || (int)yt < FC_ELEM_I8 || yt > FC_ELEM_F64)
    return FC_EINVAL;
  return LOCAL(correlatend_run)(p, x, xt == FC_ELEM_F64 ? FC_ELEM_NATIVE : (int)xt, k, fill, y,
                                yt == FC_ELEM_F64 ? FC_ELEM_NATIVE : (int)yt, safe, NULL);
}
#endif

/* 1-D correlation with zero extension is the one-row case of correlate2d
 * (kh = 1, FILL with 0): the 2-D driver's column tasks read x in place and
 * copy only the windows that cross x's ends. */
int CORRELATE1D(int64_t n, const T *x, int64_t m, const T *w, int64_t pad_left, int64_t out_n,
                T *y) {
  const fc_correlate2d_params p = {1, n, n, 1, m, 1, out_n, 0, pad_left, FC_BOUNDARY_FILL};
  return CORRELATE2D(&p, x, w, (T)0, y);
}
