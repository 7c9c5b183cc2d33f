/* ==== softmax over the last axis ===========================================
 * Row by row: the maximum (NaN sticks), exp(x - max) with the sum kept in
 * double, then the division. In parallel over blocks of rows above the serial
 * threshold; each row is computed alike whatever the blocking. */
#include <math.h>
#include "internal.h"

enum { FC_SOFTMAX_CHUNK = 1 << 14 }; /* values per task, about */
#define FC_NS_EXP(n) ((n) * 4)       /* ~4 ns per value: a libm exp and the passes */

#define FC_DEFINE_SOFTMAX(dtype, T, EXP)                                                   \
  static void fc_##dtype##_softmax_rows(int64_t r0, int64_t r1, int64_t cols, const T *x,   \
                                        T *y) {                                             \
    for (int64_t r = r0; r < r1; r++) {                                                     \
      const T *xr = x + r * cols;                                                           \
      T *yr = y + r * cols;                                                                 \
      T top = xr[0];                                                                        \
      for (int64_t j = 1; j < cols; j++)                                                    \
        if (xr[j] > top || xr[j] != xr[j]) top = xr[j];                                     \
      double sum = 0.0;                                                                     \
      for (int64_t j = 0; j < cols; j++) {                                                  \
        const T e = EXP(xr[j] - top);                                                       \
        yr[j] = e;                                                                          \
        sum += (double)e;                                                                   \
      }                                                                                     \
      for (int64_t j = 0; j < cols; j++) yr[j] = (T)((double)yr[j] / sum);                  \
    }                                                                                       \
  }                                                                                         \
                                                                                            \
  typedef struct {                                                                          \
    const T *x;                                                                             \
    T *y;                                                                                   \
    int64_t rows, cols, per_task;                                                           \
  } fc_##dtype##_softmax_ctx;                                                               \
                                                                                            \
  static void fc_##dtype##_softmax_tasks(void *arg, int tid, int64_t t0, int64_t t1) {      \
    (void)tid;                                                                              \
    const fc_##dtype##_softmax_ctx *c = arg;                                                \
    fc_##dtype##_softmax_rows(t0 * c->per_task, fc_min64(c->rows, t1 * c->per_task),        \
                              c->cols, c->x, c->y);                                         \
  }                                                                                         \
                                                                                            \
  int fc_##dtype##_softmax(int64_t rows, int64_t cols, const T *x, T *y) {                 \
    int64_t n;                                                                              \
    if (rows < 0 || cols < 0) return FC_EINVAL;                                             \
    if (!fc_mul(rows, cols, &n)) return FC_EOVERFLOW;                                       \
    if (n == 0) return FC_OK;                                                               \
    const int64_t per_task = fc_max64(1, FC_SOFTMAX_CHUNK / cols);                          \
    const int64_t ntasks = fc_ceil_div(rows, per_task);                                     \
    const int nt = fc_threads_for(FC_NS_EXP(n), ntasks);                                    \
    if (nt <= 1) {                                                                          \
      fc_##dtype##_softmax_rows(0, rows, cols, x, y);                                       \
      return FC_OK;                                                                         \
    }                                                                                       \
    fc_##dtype##_softmax_ctx c = {x, y, rows, cols, per_task};                              \
    return fc_parallel_for(nt, ntasks, 0, fc_##dtype##_softmax_tasks, &c);                  \
  }

FC_DEFINE_SOFTMAX(f32, float, expf)
FC_DEFINE_SOFTMAX(f64, double, exp)
