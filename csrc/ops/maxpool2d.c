/* ==== max_pool2d forward ==================================================
 * Threaded over image planes (NCHW) or output rows (NHWC), each output row
 * computed by the table's row microkernel for the layout.
 * Semantics follow PyTorch: implicit -inf padding, the first maximum in
 * row-major window order wins, a NaN wins over every number (the last NaN
 * seen, as PyTorch's CPU kernel), indices are flat positions in the plane. */
#include <math.h>
#include <string.h>
#include "fastconv/ukernel.h"
#include "internal.h"

static int fc_pool2d_check(const fc_pool2d_params *p) {
  if (p->n < 0 || p->c < 0 || p->h < 0 || p->w < 0 || p->oh < 0 || p->ow < 0 ||
      p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
      p->pad_top < 0 || p->pad_left < 0 || (p->layout != FC_NCHW && p->layout != FC_NHWC))
    return FC_EINVAL;
  if (p->n > 0 && p->c > 0 && (p->h == 0 || p->w == 0)) return FC_EINVAL; /* windows of padding only */
  const int64_t in[4] = {p->n, p->c, p->h, p->w}, out[4] = {p->n, p->c, p->oh, p->ow};
  if (fc_prod(4, in) < 0 || fc_prod(4, out) < 0) return FC_EOVERFLOW;
  int64_t a;
  if (!fc_mul(p->oh, p->stride_h, &a) || a > INT64_MAX / 4 || !fc_mul(p->ow, p->stride_w, &a) ||
      a > INT64_MAX / 4 || p->kernel_h > INT64_MAX / 4 || p->kernel_w > INT64_MAX / 4)
    return FC_EOVERFLOW;
  return FC_OK;
}

#define FC_DEFINE_MAXPOOL(dtype, T)                                                          \
  int fc_##dtype##_max_pool2d(const fc_pool2d_params *p, const T *x, T *y, int64_t *indices) { \
    const int st = fc_pool2d_check(p);                                                       \
    if (st != FC_OK || p->n == 0 || p->c == 0 || p->oh == 0 || p->ow == 0) return st;        \
    const int64_t hw = p->h * p->w, ohw = p->oh * p->ow;                                     \
    /* window reads, for the thread count only; saturating (kernels may be huge) */           \
    const int64_t work = fc_sat_mul(fc_sat_mul(fc_sat_mul(p->n * p->c, ohw), p->kernel_h),    \
                                    p->kernel_w);                                             \
    if (p->layout == FC_NCHW) {                                                              \
      /* the SIMD row kernels hold positions in int32 lanes */                               \
      const int64_t lim = (int64_t)1 << 30;                                                  \
      const int small = hw < lim && p->ow * p->stride_w + p->kernel_w + p->pad_left < lim;  \
      const fc_##dtype##_maxpool_ukernel fn = small                                          \
                                                  ? fc_table()->dtype##_maxpool_row          \
                                                  : fc_##dtype##_maxpool_row_ukernel__scalar;  \
      const int64_t planes = p->n * p->c;                                                    \
      FC_MAYBE_UNUSED const int nt = fc_threads_for(FC_NS_BYTES(fc_sat_mul(8, work)), planes); \
      _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1)")               \
      for (int64_t pl = 0; pl < planes; pl++)                                                \
        for (int64_t oy = 0; oy < p->oh; oy++)                                               \
          fn(p, x + pl * hw, oy, y + pl * ohw + oy * p->ow,                                  \
             indices ? indices + pl * ohw + oy * p->ow : NULL);                              \
    } else {                                                                                 \
      const fc_##dtype##_maxpool_ukernel fn = fc_table()->dtype##_maxpool_nhwc;               \
      const int64_t rows = p->n * p->oh, rowlen = p->ow * p->c;                              \
      FC_MAYBE_UNUSED const int nt = fc_threads_for(FC_NS_BYTES(fc_sat_mul(8, work)), rows); \
      _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1)")               \
      for (int64_t r = 0; r < rows; r++) {                                                   \
        const int64_t ni = r / p->oh, oy = r % p->oh;                                        \
        fn(p, x + ni * hw * p->c, oy, y + r * rowlen, indices ? indices + r * rowlen : NULL); \
      }                                                                                      \
    }                                                                                        \
    return FC_OK;                                                                            \
  }

FC_DEFINE_MAXPOOL(f32, float)
FC_DEFINE_MAXPOOL(f64, double)

/* ==== max_pool2d backward =================================================
 * gx = 0, then each output's gradient is added at the input position its
 * index names. Tasks own whole planes (NCHW) or a channel range of one image
 * (NHWC), so overlapping windows never make two threads write one element and
 * the additions happen in the same order on every run. */
#define FC_DEFINE_MAXPOOL_BWD(dtype, T)                                                        \
  int fc_##dtype##_max_pool2d_backward(const fc_pool2d_params *p, const T *gy,                 \
                                       const int64_t *indices, T *gx) {                        \
    const int st = fc_pool2d_check(p);                                                         \
    if (st != FC_OK) return st;                                                                \
    const int64_t hw = p->h * p->w, ohw = p->oh * p->ow, C = p->c;                             \
    if (p->n * C * hw > 0) memset(gx, 0, (size_t)(p->n * C * hw) * sizeof(T));                 \
    if (p->n == 0 || C == 0 || ohw == 0) return FC_OK;                                         \
    int bad = 0;                                                                               \
    if (p->layout == FC_NCHW) {                                                                \
      const int64_t planes = p->n * C;                                                         \
      FC_MAYBE_UNUSED const int nt = fc_threads_for(FC_NS_BYTES(fc_sat_mul(24, fc_sat_mul(planes, ohw))), planes); \
      _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(|:bad)") \
      for (int64_t pl = 0; pl < planes; pl++) {                                                \
        const T *g = gy + pl * ohw;                                                            \
        const int64_t *ix = indices + pl * ohw;                                                \
        T *d = gx + pl * hw;                                                                   \
        for (int64_t o = 0; o < ohw; o++) {                                                    \
          const int64_t at = ix[o];                                                            \
          if (at < 0 || at >= hw) {                                                            \
            bad = 1;                                                                           \
            continue;                                                                          \
          }                                                                                    \
          d[at] += g[o];                                                                       \
        }                                                                                      \
      }                                                                                        \
    } else {                                                                                   \
      enum { CBLK = 64 };                                                                      \
      const int64_t cblocks = fc_ceil_div(C, CBLK), ntasks = p->n * cblocks;                   \
      FC_MAYBE_UNUSED const int nt = fc_threads_for(FC_NS_BYTES(fc_sat_mul(24, fc_sat_mul(p->n * C, ohw))), ntasks); \
      _Pragma("omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(|:bad)") \
      for (int64_t t = 0; t < ntasks; t++) {                                                   \
        const int64_t ni = t / cblocks, c0 = t % cblocks * CBLK, c1 = fc_min64(C, c0 + CBLK);  \
        const T *g = gy + ni * ohw * C;                                                        \
        const int64_t *ix = indices + ni * ohw * C;                                            \
        T *d = gx + ni * hw * C;                                                               \
        for (int64_t o = 0; o < ohw; o++)                                                      \
          for (int64_t c = c0; c < c1; c++) {                                                  \
            const int64_t at = ix[o * C + c];                                                  \
            if (at < 0 || at >= hw) {                                                          \
              bad = 1;                                                                         \
              continue;                                                                        \
            }                                                                                  \
            d[at * C + c] += g[o * C + c];                                                     \
          }                                                                                    \
      }                                                                                        \
    }                                                                                          \
    return bad ? FC_EINVAL : FC_OK;                                                            \
  }

FC_DEFINE_MAXPOOL_BWD(f32, float)
FC_DEFINE_MAXPOOL_BWD(f64, double)
