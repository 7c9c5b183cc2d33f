/* f32 transpose microkernel, portable C: transpose-vec4.h's 4x4 blocks. */
#include "fastconv/ukernel.h"
#define T float
#define VEC4_NAME fc_f32_transpose_vec4
#include "transpose-vec4.h"

void fc_f32_transpose_ukernel__scalar(size_t np, size_t nj, const float *restrict src, size_t lds,
                                      float *restrict dst, size_t ldd) {
  (void)fc_f32_transpose_vec4(np, nj, src, lds, dst, ldd, 0);
}
