/* f64 transpose microkernel, portable C: transpose-vec4.h's 4x4 blocks. */
#include "fastconv/ukernel.h"
#define T double
#define VEC4_NAME fc_f64_transpose_vec4
#include "transpose-vec4.h"

void fc_f64_transpose_ukernel__scalar(size_t np, size_t nj, const double *restrict src, size_t lds,
                                      double *restrict dst, size_t ldd) {
  (void)fc_f64_transpose_vec4(np, nj, src, lds, dst, ldd, 0);
}
