/* Template of the max-pool microkernel for one output row of one NHWC image
 * with dilated windows, portable C, for one dtype: y[ox, c] over all ox and
 * channels, window (oy, ox) reading rows oy*stride_h - pad_top + i*dil_h and
 * columns ox*stride_w - pad_left + j*dil_w that lie in the image, in row-major
 * window order; the first maximum wins, a NaN wins over every number (the last
 * NaN seen), as PyTorch; idx (may be NULL) receives the flat position
 * h*w + w. Any dilation >= 1. Caller promises: image holds h*w*c values,
 * every window holds at least one pixel of the image, y/idx have ow*c slots.
 *
 * The including file defines NAME and T (float, double) and includes this
 * once. */
#include "fastconv/ukernel.h"

void NAME(const fc_pool2d_params *p, const T *image, int64_t oy, T *y, int64_t *idx) {
  const int64_t C = p->c, dh = p->dil_h, dw = p->dil_w;
  const int64_t h0 = oy * p->stride_h - p->pad_top, h1 = h0 + (p->kernel_h - 1) * dh + 1;
  const int64_t hs = h0 < 0 ? h0 + ((-h0 - 1) / dh + 1) * dh : h0, he = h1 < p->h ? h1 : p->h;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w - p->pad_left, w1 = w0 + (p->kernel_w - 1) * dw + 1;
    const int64_t ws = w0 < 0 ? w0 + ((-w0 - 1) / dw + 1) * dw : w0, we = w1 < p->w ? w1 : p->w;
    T *yo = y + ox * C;
    int64_t *io = idx ? idx + ox * C : NULL;
    for (int64_t c = 0; c < C; c++) yo[c] = -(T)__builtin_inf();
    if (io)
      for (int64_t c = 0; c < C; c++) io[c] = hs * p->w + ws;
    for (int64_t ih = hs; ih < he; ih += dh)
      for (int64_t iw = ws; iw < we; iw += dw) {
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
