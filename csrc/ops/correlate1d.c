/* ==== correlate1d =========================================================
 * 1-D correlation with zero extension is the one-row case of correlate2d
 * (kh = 1, FILL with 0): the 2-D driver's column tasks read x in place and
 * copy only the windows that cross x's ends. */
#include "internal.h"

int fc_f32_correlate1d(int64_t n, const float *x, int64_t m, const float *w, int64_t pad_left,
                       int64_t out_n, float *y) {
  const fc_correlate2d_params p = {1, n, n, 1, m, 1, out_n, 0, pad_left, FC_BOUNDARY_FILL};
  return fc_f32_correlate2d(&p, x, w, 0.0f, y);
}

int fc_f64_correlate1d(int64_t n, const double *x, int64_t m, const double *w, int64_t pad_left,
                       int64_t out_n, double *y) {
  const fc_correlate2d_params p = {1, n, n, 1, m, 1, out_n, 0, pad_left, FC_BOUNDARY_FILL};
  return fc_f64_correlate2d(&p, x, w, 0.0, y);
}
