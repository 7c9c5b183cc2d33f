/* Template of the softmax driver (over the last axis) for one dtype: row by
 * row, the maximum (NaN sticks), exp(x - max) with the sum kept in double,
 * then the division. In parallel over blocks of rows above the serial
 * threshold; each row is computed alike whatever the blocking.
 *
 * Included once by f32-softmax.c and by f64-softmax.c, which define the entry
 * point's full name SOFTMAX (fc_f32_softmax, fc_f64_softmax), T (float,
 * double), the dtype's EXP (expf, exp) and LOCAL(x), the static helpers' names
 * (fc_f32_##x, fc_f64_##x). */
#include <math.h>
#include "internal.h"

enum { FC_SOFTMAX_CHUNK = 1 << 14 }; /* values per task, about */
#define FC_NS_EXP(n) ((n) * 4)       /* ~4 ns per value: a libm exp and the passes */

static void LOCAL(softmax_rows)(int64_t r0, int64_t r1, int64_t cols, const T *x, T *y) {
  for (int64_t r = r0; r < r1; r++) {
    const T *xr = x + r * cols;
    T *yr = y + r * cols;
    T top = xr[0];
    for (int64_t j = 1; j < cols; j++)
      if (xr[j] > top || xr[j] != xr[j]) top = xr[j];
    double sum = 0.0;
    for (int64_t j = 0; j < cols; j++) {
      const T e = EXP(xr[j] - top);
      yr[j] = e;
      sum += (double)e;
    }
    for (int64_t j = 0; j < cols; j++) yr[j] = (T)((double)yr[j] / sum);
  }
}

typedef struct {
  const T *x;
  T *y;
  int64_t rows, cols, per_task;
} fc_softmax_ctx;

static void LOCAL(softmax_tasks)(void *arg, int tid, int64_t t0, int64_t t1) {
  (void)tid;
  const fc_softmax_ctx *c = arg;
  LOCAL(softmax_rows)(t0 * c->per_task, fc_min64(c->rows, t1 * c->per_task), c->cols, c->x, c->y);
}

int SOFTMAX(int64_t rows, int64_t cols, const T *x, T *y) {
  int64_t n;
  if (rows < 0 || cols < 0) return FC_EINVAL;
  if (!fc_mul(rows, cols, &n)) return FC_EOVERFLOW;
  if (n == 0) return FC_OK;
  const int64_t per_task = fc_max64(1, FC_SOFTMAX_CHUNK / cols);
  const int64_t ntasks = fc_ceil_div(rows, per_task);
  const int nt = fc_threads_for(FC_NS_EXP(n), ntasks);
  if (nt <= 1) {
    LOCAL(softmax_rows)(0, rows, cols, x, y);
    return FC_OK;
  }
  fc_softmax_ctx c = {x, y, rows, cols, per_task};
  return fc_parallel_for(nt, ntasks, 0, LOCAL(softmax_tasks), &c);
}
