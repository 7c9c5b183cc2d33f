/* f64 softmax row microkernel, portable: softmax-scalar.h at double (libm's
 * exp). */
#include "fastconv/ukernel.h"
#define T double
#define EXP exp
#define FC_SOFTMAX_SCALAR fc_f64_softmax_row_scalar
#include "softmax-scalar.h"

double fc_f64_softmax_ukernel__scalar(size_t n, const double *x, double *y, double *top) {
  return fc_f64_softmax_row_scalar(n, x, y, top);
}
