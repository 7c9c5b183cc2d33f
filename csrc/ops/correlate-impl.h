/* Driver template for 2-D correlation, included by correlate2d.c once per dtype
 * with T (float or double), FC_(name) (adds the dtype prefix) and UKERNEL (the
 * dispatch table field).
 *
 * The output is cut into tasks of `rb` rows x `cb` columns. A task whose input
 * window (rb + kh - 1 rows x cb + kw - 1 columns) lies inside x runs the row
 * microkernel on x itself; any other task first copies its window, with the
 * boundary rule applied, into a per-thread scratch band sized to stay in L2,
 * and runs the microkernel on that. So no padded copy of the whole image is
 * ever made, and 'valid' correlations copy nothing. Tasks are spread over
 * the pool's threads above the serial threshold. */

/* X(g0 + rr, c0 + cc) for rr < rows, cc < cols into dst (rows x cols, dense). */
static void FC_(correlate_band)(const fc_correlate2d_params *p, const T *x, T fill, int64_t g0,
                                int64_t rows, int64_t c0, int64_t cols, T *dst) {
  const int64_t lo = fc_min64(fc_max64(-c0, 0), cols);          /* first column inside x */
  const int64_t hi = fc_max64(fc_min64(p->w - c0, cols), lo);  /* one past the last */
  for (int64_t rr = 0; rr < rows; rr++) {
    T *d = dst + rr * cols;
    const int64_t sr = fc_correlate_map(g0 + rr, p->h, p->boundary);
    if (sr < 0) {
      for (int64_t cc = 0; cc < cols; cc++) d[cc] = fill;
      continue;
    }
    const T *src = x + sr * p->ldx;
    if (hi > lo) memcpy(d + lo, src + c0 + lo, (size_t)(hi - lo) * sizeof(T));
    for (int64_t cc = 0; cc < cols; cc++) {
      if (cc == lo) cc = hi; /* skip the copied middle */
      if (cc >= cols) break;
      const int64_t sc = fc_correlate_map(c0 + cc, p->w, p->boundary);
      d[cc] = sc < 0 ? fill : src[sc];
    }
  }
}

/* One task: a band of rows x a block of columns of y. The window is read in
 * place when it lies inside x, else copied into *scratch (allocated on first
 * need, tl->scratch_elems elements). Returns 0, or 1 when that allocation fails. */
static int FC_(correlate_task)(const fc_correlate2d_params *p, const T *x, const T *k, T fill,
                               T *y, const fc_correlate_tiling *tl, UKERNEL_T fn, int64_t task,
                               T **scratch) {
  const int64_t r0 = (task / tl->col_tasks) * tl->rb, c0 = (task % tl->col_tasks) * tl->cb;
  const int64_t rows = fc_min64(tl->rb, p->oh - r0), cols = fc_min64(tl->cb, p->ow - c0);
  const int64_t g0 = r0 - p->pad_top, h0 = c0 - p->pad_left; /* window origin in x */
  const int64_t wrows = rows + p->kh - 1, wcols = cols + p->kw - 1;
  const T *src;
  int64_t lds;
  if (g0 >= 0 && g0 + wrows <= p->h && h0 >= 0 && h0 + wcols <= p->w) {
    src = x + g0 * p->ldx + h0;
    lds = p->ldx;
  } else {
    if (*scratch == NULL) *scratch = fc_alloc((size_t)tl->scratch_elems * sizeof(T));
    if (*scratch == NULL) return 1;
    FC_(correlate_band)(p, x, fill, g0, wrows, h0, wcols, *scratch);
    src = *scratch;
    lds = wcols;
  }
  for (int64_t r = 0; r < rows; r++)
    fn((size_t)cols, (size_t)p->kh, (size_t)p->kw, src + r * lds, (size_t)lds, k,
       y + (r0 + r) * p->ow + c0);
  return 0;
}

/* One region: each thread takes the next task until none is left (or one
 * thread failed to allocate its scratch band). */
typedef struct {
  const fc_correlate2d_params *p;
  const T *x, *k;
  T fill;
  T *y;
  const fc_correlate_tiling *tl;
  UKERNEL_T fn;
  int64_t ntasks;
  _Atomic int64_t next;
  atomic_int failed;
} FC_(correlate_ctx);

static void FC_(correlate_thread)(void *arg, int tid, int team) {
  (void)tid, (void)team;
  FC_(correlate_ctx) *c = arg;
  T *scratch = NULL;
  for (;;) {
    const int64_t task = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
    if (task >= c->ntasks || atomic_load_explicit(&c->failed, memory_order_relaxed)) break;
    if (FC_(correlate_task)(c->p, c->x, c->k, c->fill, c->y, c->tl, c->fn, task, &scratch))
      atomic_store_explicit(&c->failed, 1, memory_order_relaxed);
  }
  free(scratch);
}

int FC_(correlate2d)(const fc_correlate2d_params *p, const T *x, const T *k, T fill, T *y) {
  const int st = fc_correlate2d_check(p);
  if (st != FC_OK) return st;
  if (p->oh == 0 || p->ow == 0) return FC_OK;
  const fc_correlate_tiling tl = fc_correlate_tiles(p, sizeof(T));
  if (tl.scratch_elems < 0) return FC_EOVERFLOW;
  const UKERNEL_T fn = fc_table()->UKERNEL;
  const int64_t ntasks = tl.row_tasks * tl.col_tasks;
  /* estimated single-thread time: multiply-adds, or streaming x and y for short kernels */
  int64_t macs;
  if (!fc_mul(p->oh * p->ow, p->kh * p->kw, &macs) || macs > INT64_MAX / 4) macs = INT64_MAX / 4;
  const int64_t bytes = (int64_t)sizeof(T) * (p->oh * p->ow + fc_min64(p->h * p->w, INT64_MAX / 16));
  const int nt = fc_threads_for(fc_max64(FC_NS_FLOPS(2 * macs), FC_NS_BYTES(bytes)), ntasks);
  int failed = 0;
  if (nt <= 1) { /* no parallel region at all: entering one costs more than a small call */
    T small[512];  /* a small call's window band, without malloc */
    T *scratch = tl.scratch_elems <= 512 ? small : NULL;
    for (int64_t task = 0; task < ntasks && !failed; task++)
      failed = FC_(correlate_task)(p, x, k, fill, y, &tl, fn, task, &scratch);
    if (scratch != small) free(scratch);
    return failed ? FC_ENOMEM : FC_OK;
  }
  FC_(correlate_ctx) c = {p, x, k, fill, y, &tl, fn, ntasks, 0, 0};
  const int r = fc_parallel(nt, FC_(correlate_thread), &c);
  return r != FC_OK ? r : atomic_load(&c.failed) ? FC_ENOMEM : FC_OK;
}
