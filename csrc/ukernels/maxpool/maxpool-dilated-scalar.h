/* Template of the max-pool microkernel for one output row of one NCHW plane
 * with dilated windows, portable C, for one dtype: window (oy, ox) reads rows
 * oy*stride_h - pad_top + i*dil_h (i < kernel_h) and columns
 * ox*stride_w - pad_left + j*dil_w (j < kernel_w) that lie in the plane, in
 * row-major window order; the first maximum wins, a NaN wins over every number
 * (the last NaN seen), as PyTorch's CPU kernel; idx (may be NULL) receives the
 * flat position h*w + w. Any dilation >= 1. Caller promises: plane holds h*w
 * values, every window holds at least one element of the plane, y/idx have
 * ow slots.
 *
 * The including file defines NAME and T (float, double) and includes this
 * once. */
#include "fastconv/ukernel.h"

void NAME(const fc_pool2d_params *p, const T *plane, int64_t oy, T *y, int64_t *idx) {
  const int64_t dh = p->dil_h, dw = p->dil_w;
  const int64_t h0 = oy * p->stride_h - p->pad_top, h1 = h0 + (p->kernel_h - 1) * dh + 1;
  /* the window's first row in the plane: h0 stepped up by dh (PyTorch's start) */
  const int64_t hs = h0 < 0 ? h0 + ((-h0 - 1) / dh + 1) * dh : h0, he = h1 < p->h ? h1 : p->h;
  for (int64_t ox = 0; ox < p->ow; ox++) {
    const int64_t w0 = ox * p->stride_w - p->pad_left, w1 = w0 + (p->kernel_w - 1) * dw + 1;
    const int64_t ws = w0 < 0 ? w0 + ((-w0 - 1) / dw + 1) * dw : w0, we = w1 < p->w ? w1 : p->w;
    T best = -(T)__builtin_inf();
    int64_t at = hs * p->w + ws;
    for (int64_t ih = hs; ih < he; ih += dh)
      for (int64_t iw = ws; iw < we; iw += dw) {
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
