/* ==== conv2d forward and backward, and the dense layer's products ==========
 * Parameter checks shared by both dtypes, then the driver templates
 * (conv2d-impl.h, conv2d-backward-impl.h, and conv2d-pool-impl.h and
 * dense-impl.h, which share their GEMM helpers) instantiated for float and
 * double through conv2d-dtype.h. */
#include <string.h>
#include "internal.h"

/* Re-checks what the Python layer validated, so a direct C caller gets
 * FC_EINVAL or FC_EOVERFLOW instead of an out-of-bounds access. */
static int fc_conv2d_check(const fc_conv2d_params *p) {
  if (p->n < 0 || p->c < 1 || p->h < 0 || p->w < 0 || p->k < 1 || p->r < 1 || p->s < 1 ||
      p->oh < 0 || p->ow < 0 || p->stride_h < 1 || p->stride_w < 1 || p->dil_h < 1 ||
      p->dil_w < 1 || p->pad_top < 0 || p->pad_left < 0 || p->groups < 1 ||
      p->c % p->groups != 0 || p->k % p->groups != 0 ||
      (p->layout != FC_NCHW && p->layout != FC_NHWC))
    return FC_EINVAL;
  const int64_t in[4] = {p->n, p->c, p->h, p->w}, out[4] = {p->n, p->k, p->oh, p->ow};
  const int64_t wt[4] = {p->k, p->c / p->groups, p->r, p->s};
  const int64_t flops[5] = {2, p->n, p->k, p->oh * 1, p->ow};
  if (fc_prod(4, in) < 0 || fc_prod(4, out) < 0 || fc_prod(4, wt) < 0 || fc_prod(5, flops) < 0)
    return FC_EOVERFLOW;
  int64_t f = fc_prod(5, flops);
  if (!fc_mul(f, fc_prod(3, wt + 1), &f)) return FC_EOVERFLOW;
  /* the last window position must be representable */
  int64_t a, b;
  if (!fc_mul(p->oh, p->stride_h, &a) || !fc_mul(p->r, p->dil_h, &b) || a > INT64_MAX / 4 ||
      b > INT64_MAX / 4)
    return FC_EOVERFLOW;
  if (!fc_mul(p->ow, p->stride_w, &a) || !fc_mul(p->s, p->dil_w, &b) || a > INT64_MAX / 4 ||
      b > INT64_MAX / 4)
    return FC_EOVERFLOW;
  return FC_OK;
}

/* Depth (C/groups * R * S) from which the indirect GEMM beats packing im2col */
#define FC_IGEMM_MIN_DEPTH FC_CONV2D_IGEMM_MIN_DEPTH /* costs.def */

/* The algorithms' names in plans (compared by address in the drivers). */
static const char FC_ALG_NOTHING[] = "nothing (empty result)";
static const char FC_ALG_PACKED_GEMM[] = "packed-gemm";
static const char FC_ALG_IGEMM[] = "igemm";
static const char FC_ALG_GEMM_COL2IM[] = "gemm-col2im";
static const char FC_ALG_IGEMM_WGRAD[] = "igemm-weight-gradient";
static const char FC_ALG_TRANSPOSED_IGEMM[] = "transposed-conv (igemm)";
static const char FC_ALG_TRANSPOSED_PACKED[] = "transposed-conv (packed-gemm)";
static const char FC_ALG_DENSE_GEMV[] = "dense-gemv";
static const char FC_ALG_DENSE_GEMM[] = "dense-gemm";
static const char FC_ALG_DENSE_BIAS[] = "bias-fill";
static const char FC_ALG_DENSE_ADAM[] = "dense-backward-adam";

#define T float
#define DT f32
#include "conv2d-dtype.h"

#define T double
#define DT f64
#include "conv2d-dtype.h"
