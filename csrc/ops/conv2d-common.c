/* The dtype-independent parts of the GEMM-based drivers (conv2d-internal.h):
 * conv2d's parameter check, its planners' start and the algorithms' names in
 * plans. */
#include "conv2d-internal.h"

/* Re-checks what the Python layer validated, so a direct C caller gets
 * FC_EINVAL or FC_EOVERFLOW instead of an out-of-bounds access. */
int fc_conv2d_check(const fc_conv2d_params *p) {
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

int fc_conv2d_plan_start(const fc_conv2d_params *p, const fc_ukernel_table *tab, fc_plan *pl) {
  fc_plan_init(pl, tab);
  const int st = fc_conv2d_check(p);
  if (st == FC_OK && (p->n == 0 || p->oh == 0 || p->ow == 0)) pl->algorithm = fc_alg_nothing;
  return st;
}

const char fc_alg_nothing[] = "nothing (empty result)";
const char fc_alg_packed_gemm[] = "packed-gemm";
const char fc_alg_igemm[] = "igemm";
const char fc_alg_direct[] = "direct";
const char fc_alg_gemm_col2im[] = "gemm-col2im";
const char fc_alg_igemm_wgrad[] = "igemm-weight-gradient";
const char fc_alg_channel_sum[] = "channel-sum";
const char fc_alg_transposed_igemm[] = "transposed-conv (igemm)";
const char fc_alg_transposed_packed[] = "transposed-conv (packed-gemm)";
const char fc_alg_dense_gemv[] = "dense-gemv";
const char fc_alg_dense_gemm[] = "dense-gemm";
const char fc_alg_dense_blocked[] = "dense-blocked";
const char fc_alg_dense_bias[] = "bias-fill";
const char fc_alg_dense_adam[] = "dense-backward-adam";
