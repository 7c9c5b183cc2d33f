/* Max-pool microkernels with window codes, portable C, for one dtype (T, NAME,
 * UNPOOL_NAME):
 * one output row of one NHWC image whose windows lie inside it (no padding).
 * y[ox, c] is the window's maximum, the first in row-major window order
 * winning and a NaN winning over every number (the last NaN seen), as the
 * index-tracking kernels; code (may be NULL) receives the winner's place in
 * its window, dy * kernel_w + dx. Caller promises: kernel_h * kernel_w <= 256,
 * image holds h*w*c values, y/code have ow*c slots. */
#include "fastconv/ukernel.h"

void NAME(const fc_pool2d_params *p, const T *image, int64_t oy, T *y, uint8_t *code) {
  const int64_t C = p->c, h0 = oy * p->stride_h;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w;
    T *yo = y + ox * C;
    uint8_t *co = code ? code + ox * C : NULL;
    for (int64_t c = 0; c < C; c++) yo[c] = -(T)__builtin_inf();
    if (co)
      for (int64_t c = 0; c < C; c++) co[c] = 0;
    for (int64_t dy = 0; dy < p->kernel_h; dy++)
      for (int64_t dx = 0; dx < p->kernel_w; dx++) {
        const T *xi = image + ((h0 + dy) * p->w + w0 + dx) * C;
        const uint8_t q = (uint8_t)(dy * p->kernel_w + dx);
        for (int64_t c = 0; c < C; c++) {
          const T v = xi[c];
          if (v > yo[c] || v != v) {
            yo[c] = v;
            if (co) co[c] = q;
          }
        }
      }
  }
}

/* The inverse for the gradient: for each window place q < places and lane
 * j < nr, dst[q][j] = g[j] where j < n and code[j] == q, else 0. */
void UNPOOL_NAME(size_t n, size_t nr, size_t places, const T *g, const uint8_t *code,
                 T *const *dst) {
  for (size_t q = 0; q < places; q++) {
    T *d = dst[q];
    for (size_t j = 0; j < n; j++) {
      const T v = g[j];
      d[j] = code[j] == q ? v : (T)0;
    }
    for (size_t j = n; j < nr; j++) d[j] = 0;
  }
}
