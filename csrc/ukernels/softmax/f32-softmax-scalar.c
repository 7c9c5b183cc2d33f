/* f32 softmax row microkernel, portable: softmax-scalar.h at float (libm's
 * expf). */
#include "fastconv/ukernel.h"
#define T float
#define EXP expf
#define FC_SOFTMAX_SCALAR fc_f32_softmax_row_scalar
#include "softmax-scalar.h"

double fc_f32_softmax_ukernel__scalar(size_t n, const float *x, float *y, float *top) {
  return fc_f32_softmax_row_scalar(n, x, y, top);
}
