/* Template of the softmax driver (over the last axis) for one dtype: row by
 * row, the table's softmax row kernel (the maximum, NaN sticking; exp(x -
 * max), their sum kept in double, and the division by it). In parallel over
 * blocks of rows above the serial threshold; each row is computed alike
 * whatever the blocking and whatever rows are beside it. And the sparse
 * cross-entropy head built on the same rows (SOFTMAX_XENT).
 *
 * Included once by f32-softmax.c and by f64-softmax.c, which define the entry
 * points' full names SOFTMAX and SOFTMAX_XENT (fc_f32_softmax,
 * fc_f32_softmax_xent; f64 alike), T (float, double), the table's member
 * TABLE_SOFTMAX (f32_softmax, f64_softmax) and LOCAL(x), the static helpers'
 * names (fc_f32_##x, fc_f64_##x). */
#include <math.h>
#include <stdlib.h>
#include "internal.h"

enum { FC_SOFTMAX_CHUNK = 1 << 14 }; /* values per task, about */
/* ~4 ns per value: libm's exp and the passes (the portable kernel). The vector
 * kernels take less (AMD EPYC Zen 4, 1,000 x 1,000: float32 and float64 on
 * AVX-512 1.2-1.3 ns, float64 on AVX2 2.9); the estimate then starts a second
 * thread early, which still paid at 256 x 128 float32 (37 against 43 us). */
#define FC_NS_EXP(n) ((n) * 4)

/* The table's row kernel: y = exp(x - max) (as T) divided by their sum (in
 * double), the sum returned; the maximum, NaN sticking, into *top. Taken
 * once per call, so every row of a call runs the same kernel. */
typedef double (*LOCAL(softmax_row))(size_t n, const T *x, T *y, T *top);

static void LOCAL(softmax_rows)(LOCAL(softmax_row) row, int64_t r0, int64_t r1, int64_t cols,
                                const T *x, T *y) {
  for (int64_t r = r0; r < r1; r++) {
    T top;
    T *yr = y + r * cols;
    row((size_t)cols, x + r * cols, yr, &top);
  }
}

typedef struct {
  LOCAL(softmax_row) row;
  const T *x;
  T *y;
  int64_t rows, cols, per_task;
} fc_softmax_ctx;

static void LOCAL(softmax_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const fc_softmax_ctx *c = arg;
  LOCAL(softmax_rows)(c->row, t0 * c->per_task, fc_min64(c->rows, t1 * c->per_task), c->cols, c->x,
                      c->y);
}

int SOFTMAX(int64_t rows, int64_t cols, const T *x, T *y) {
  int64_t n;
  if (rows < 0 || cols < 0) return FC_EINVAL;
  if (!fc_mul(rows, cols, &n)) return FC_EOVERFLOW;
  if (n == 0) return FC_OK;
  const int64_t per_task = fc_max64(1, FC_SOFTMAX_CHUNK / cols);
  const int64_t ntasks = fc_ceil_div(rows, per_task);
  const int nt = fc_threads_for(FC_NS_EXP(n), ntasks);
  const LOCAL(softmax_row) row = fc_table()->TABLE_SOFTMAX;
  if (nt <= 1) {
    LOCAL(softmax_rows)(row, 0, rows, cols, x, y);
    return FC_OK;
  }
  fc_softmax_ctx c = {row, x, y, rows, cols, per_task};
  return fc_parallel_for(nt, ntasks, 0, LOCAL(softmax_tasks), &c);
}

/* ---- the sparse cross-entropy head ---------------------------------------- */

typedef struct {
  LOCAL(softmax_row) row;
  const T *z, *w, *probs;
  const int64_t *labels;
  T *grad;
  double *loss;    /* one partial sum per task */
  int64_t *hits;   /* one count per task */
  int64_t rows, cols, per_task;
} fc_xent_ctx;

/* argmax of a row as NumPy's: the first maximum, or the first NaN. */
static inline int64_t LOCAL(argmax)(int64_t cols, const T *p) {
  int64_t best = 0;
  for (int64_t j = 1; j < cols; j++)
    if (p[j] > p[best] || (p[j] != p[j] && p[best] == p[best])) best = j;
  return best;
}

/* Rows [r0, r1): each row's gradient, and the rows' loss terms summed in
 * order into *loss and their hits counted into *hits. */
static void LOCAL(xent_rows)(const fc_xent_ctx *c, int64_t r0, int64_t r1, double *loss,
                             int64_t *hits) {
  const int64_t cols = c->cols;
  const T n = (T)c->rows;
  double acc = 0.0;
  int64_t ok = 0;
  for (int64_t r = r0; r < r1; r++) {
    const T *zr = c->z + r * cols;
    T *gr = c->grad + r * cols;
    const int64_t label = c->labels[r];
    T top;
    const double sum = c->row((size_t)cols, zr, gr, &top); /* SOFTMAX's bits in gr */
    const double term = log(sum) - (double)(zr[label] - top); /* -log softmax(z)[label] */
    gr[label] -= (T)1;
    if (c->w) {
      const T wr = c->w[r];
      acc += (double)wr * term;
      for (int64_t j = 0; j < cols; j++) gr[j] = (gr[j] * wr) / n;
    } else {
      acc += term;
      for (int64_t j = 0; j < cols; j++) gr[j] /= n;
    }
    if (c->probs && LOCAL(argmax)(cols, c->probs + r * cols) == label) ok++;
  }
  *loss = acc;
  *hits = ok;
}

static void LOCAL(xent_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const fc_xent_ctx *c = arg;
  for (int64_t t = t0; t < t1; t++)
    LOCAL(xent_rows)(c, t * c->per_task, fc_min64(c->rows, (t + 1) * c->per_task), c->loss + t,
                     c->hits + t);
}

int SOFTMAX_XENT(int64_t rows, int64_t cols, const T *z, const int64_t *labels, const T *w,
                 const T *probs, T *grad, double *loss, int64_t *correct, int64_t *bad) {
  int64_t n;
  *loss = 0.0;
  *correct = 0;
  *bad = -1;
  if (rows < 0 || cols <= 0) return FC_EINVAL;
  if (!fc_mul(rows, cols, &n)) return FC_EOVERFLOW;
  for (int64_t r = 0; r < rows; r++) /* every label checked before anything is written */
    if (labels[r] < 0 || labels[r] >= cols) {
      *bad = r;
      return FC_EINVAL;
    }
  if (rows == 0) return FC_OK;
  /* tasks of a fixed size, their partial sums added in task order: the same
   * bits at any thread count */
  const int64_t per_task = fc_max64(1, FC_SOFTMAX_CHUNK / cols);
  const int64_t ntasks = fc_ceil_div(rows, per_task);
  fc_xent_ctx c = {fc_table()->TABLE_SOFTMAX, z, w, probs, labels, grad, loss, correct, rows, cols,
                   per_task};
  if (ntasks == 1) {
    LOCAL(xent_rows)(&c, 0, rows, loss, correct);
    return FC_OK;
  }
  double *partial = malloc((size_t)ntasks * (sizeof(double) + sizeof(int64_t)));
  if (!partial) return FC_ENOMEM;
  c.loss = partial;
  c.hits = (int64_t *)(partial + ntasks);
  const int nt = fc_threads_for(FC_NS_EXP(n), ntasks);
  int st = FC_OK;
  if (nt <= 1)
    LOCAL(xent_tasks)(&c, 0, 0, ntasks);
  else
    st = fc_parallel_for(nt, ntasks, 0, LOCAL(xent_tasks), &c);
  if (st == FC_OK)
    for (int64_t t = 0; t < ntasks; t++) {
      *loss += c.loss[t];
      *correct += c.hits[t];
    }
  free(partial);
  return st;
}
