/* The softmax row microkernel's portable form, for one dtype (T float or
 * double, EXP its libm exp): the row's maximum (a NaN sticks: the last NaN),
 * e = exp(x - max) rounded to T, the sum of those values in double, in
 * order (returned), and y = e / sum in double rounded to T. n >= 1. The SIMD
 * kernels call their dtype's scalar kernel for a row holding a NaN and for
 * short rows. */
#include <math.h>
#include <stddef.h>

static inline double FC_SOFTMAX_SCALAR(size_t n, const T *x, T *y, T *top) {
  T t = x[0];
  for (size_t j = 1; j < n; j++)
    if (x[j] > t || x[j] != x[j]) t = x[j];
  double sum = 0.0;
  for (size_t j = 0; j < n; j++) {
    const T e = EXP(x[j] - t);
    y[j] = e;
    sum += (double)e;
  }
  for (size_t j = 0; j < n; j++) y[j] = (T)((double)y[j] / sum);
  *top = t;
  return sum;
}
