/* Template of the max-pool microkernel for one output row of one NCHW plane,
 * portable C, for one dtype: the first maximum in row-major window order wins,
 * a NaN wins over every number (the last NaN seen), as PyTorch's CPU kernel;
 * idx (may be NULL) receives the flat position h*w + w. Caller promises: plane
 * holds h*w values, y/idx have ow slots.
 *
 * The including file defines NAME and T (float, double) and includes this
 * once. */
#include "fastconv/ukernel.h"

void NAME(const fc_pool2d_params *p, const T *plane, int64_t oy, T *y, int64_t *idx) {
  const int64_t h0 = oy * p->stride_h - p->pad_top;
  const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + p->kernel_h < p->h ? h0 + p->kernel_h : p->h;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w - p->pad_left;
    const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + p->kernel_w < p->w ? w0 + p->kernel_w : p->w;
    T best = -(T)__builtin_inf();
    int64_t at = hs * p->w + ws;
    for (int64_t ih = hs; ih < he; ih++)
      for (int64_t iw = ws; iw < we; iw++) {
        const T v = plane[ih * p->w + iw];
        if (v > best || v != v) {
          best = v;
          at = ih * p->w + iw;
        }
      }
    y[ox] = best;
    if (idx) idx[ox] = at;
  }
}
