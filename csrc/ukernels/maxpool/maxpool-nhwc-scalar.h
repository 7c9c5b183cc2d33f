/* Template of the max-pool microkernel for one output row of one NHWC image,
 * portable C, for one dtype: y[ox, c] over all ox and channels, the first
 * maximum in row-major window order winning, a NaN winning over every number
 * (the last NaN seen), as PyTorch; idx (may be NULL) receives the flat
 * position h*w + w. Caller promises: image holds h*w*c values, y/idx have
 * ow*c slots.
 *
 * The including file defines NAME and T (float, double) and includes this
 * once. */
#include "fastconv/ukernel.h"

void NAME(const fc_pool2d_params *p, const T *image, int64_t oy, T *y, int64_t *idx) {
  const int64_t C = p->c, h0 = oy * p->stride_h - p->pad_top;
  const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + p->kernel_h < p->h ? h0 + p->kernel_h : p->h;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w - p->pad_left;
    const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + p->kernel_w < p->w ? w0 + p->kernel_w : p->w;
    T *yo = y + ox * C;
    int64_t *io = idx ? idx + ox * C : NULL;
    for (int64_t c = 0; c < C; c++) yo[c] = -(T)__builtin_inf();
    if (io)
      for (int64_t c = 0; c < C; c++) io[c] = hs * p->w + ws;
    for (int64_t ih = hs; ih < he; ih++)
      for (int64_t iw = ws; iw < we; iw++) {
        const T *xi = image + (ih * p->w + iw) * C;
        const int64_t pos = ih * p->w + iw;
        for (int64_t c = 0; c < C; c++) {
          const T v = xi[c];
          if (v > yo[c] || v != v) {
            yo[c] = v;
            if (io) io[c] = pos;
          }
        }
      }
  }
}
