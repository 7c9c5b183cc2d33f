/* The dispatch table: one static table per compiled ISA, built from the
 * registries, and an atomic pointer to the one in use. It starts at the best
 * ISA the CPU supports, capped by $FASTCONV_ISA (read once, on first use);
 * fc_set_isa lets tests move it, never above what the CPU has. */
#include <stdatomic.h>
#include <stdlib.h>
#include "fastconv/ukernel.h"

#define FC_GEMM_ENTRY(dtype, mr, nr, isa) \
  { fc_##dtype##_gemm_ukernel_##mr##x##nr##__##isa, mr, nr }
#define FC_IGEMM_ENTRY(dtype, mr, nr, isa) \
  { fc_##dtype##_igemm_ukernel_##mr##x##nr##__##isa, mr, nr, 1.0 }
#define FC_IGEMM_BORROWED(dtype, mr, nr, isa) \
  { fc_##dtype##_igemm_ukernel_##mr##x##nr##__##isa, mr, nr, 2.0 }

static const fc_ukernel_table fc_table_scalar = {
    FC_ISA_SCALAR, FC_GEMM_ENTRY(f32, 4, 8, scalar), FC_GEMM_ENTRY(f64, 4, 4, scalar),
    {FC_IGEMM_ENTRY(f32, 4, 8, scalar)},
    {FC_IGEMM_ENTRY(f64, 4, 4, scalar)},
    fc_f32_maxpool_row_ukernel__scalar, fc_f64_maxpool_row_ukernel__scalar,
    fc_f32_maxpool_nhwc_ukernel__scalar, fc_f64_maxpool_nhwc_ukernel__scalar,
    fc_f32_maxpool_row_dilated_ukernel__scalar, fc_f64_maxpool_row_dilated_ukernel__scalar,
    fc_f32_maxpool_nhwc_dilated_ukernel__scalar, fc_f64_maxpool_nhwc_dilated_ukernel__scalar,
    fc_f32_maxpool_code_ukernel__scalar, fc_f64_maxpool_code_ukernel__scalar,
    fc_f32_unpool_code_ukernel__scalar, fc_f64_unpool_code_ukernel__scalar,
    NULL, NULL,
    fc_f32_relu_ukernel__scalar, fc_f64_relu_ukernel__scalar,
    fc_f32_relu_bwd_ukernel__scalar, fc_f64_relu_bwd_ukernel__scalar,
    fc_f32_correlate_ukernel_1x8__scalar, fc_f64_correlate_ukernel_1x8__scalar,
    fc_f64_ndcorrelate_ukernel__scalar,
    fc_f32_ndline_ukernel__scalar, fc_f64_ndline_ukernel__scalar,
    fc_f32_runsum_ukernel__scalar, fc_f64_runsum_ukernel__scalar,
    fc_f32_adam_ukernel__scalar, fc_f64_adam_ukernel__scalar,
    fc_f32_gemv_ukernel__scalar, fc_f64_gemv_ukernel__scalar};
#if FASTCONV_HAVE_AVX2
static const fc_ukernel_table fc_table_avx2 = {
    FC_ISA_AVX2, FC_GEMM_ENTRY(f32, 6, 16, avx2), FC_GEMM_ENTRY(f64, 6, 8, avx2),
    {FC_IGEMM_ENTRY(f32, 6, 16, avx2)},
    {FC_IGEMM_ENTRY(f64, 6, 8, avx2)},
    fc_f32_maxpool_row_ukernel__avx2, fc_f64_maxpool_row_ukernel__scalar,
    fc_f32_maxpool_nhwc_ukernel__avx2, fc_f64_maxpool_nhwc_ukernel__scalar,
    fc_f32_maxpool_row_dilated_ukernel__avx2, fc_f64_maxpool_row_dilated_ukernel__scalar,
    fc_f32_maxpool_nhwc_dilated_ukernel__avx2, fc_f64_maxpool_nhwc_dilated_ukernel__scalar,
    fc_f32_maxpool_code_ukernel__avx2, fc_f64_maxpool_code_ukernel__scalar,
    fc_f32_unpool_code_ukernel__avx2, fc_f64_unpool_code_ukernel__scalar,
    NULL, NULL,
    fc_f32_relu_ukernel__avx2, fc_f64_relu_ukernel__avx2,
    fc_f32_relu_bwd_ukernel__avx2, fc_f64_relu_bwd_ukernel__avx2,
    fc_f32_correlate_ukernel_1x64__avx2, fc_f64_correlate_ukernel_1x32__avx2,
    fc_f64_ndcorrelate_ukernel__avx2,
    fc_f32_ndline_ukernel__avx2, fc_f64_ndline_ukernel__avx2,
    fc_f32_runsum_ukernel__avx2, fc_f64_runsum_ukernel__avx2,
    fc_f32_adam_ukernel__avx2, fc_f64_adam_ukernel__scalar,
    fc_f32_gemv_ukernel__avx2, fc_f64_gemv_ukernel__avx2};
#endif
#if FASTCONV_HAVE_AVX512
static const fc_ukernel_table fc_table_avx512 = {
    FC_ISA_AVX512, FC_GEMM_ENTRY(f32, 8, 32, avx512), FC_GEMM_ENTRY(f64, 8, 16, avx512),
    {FC_IGEMM_ENTRY(f32, 6, 64, avx512), FC_IGEMM_ENTRY(f32, 8, 32, avx512),
     FC_IGEMM_ENTRY(f32, 12, 32, avx512), FC_IGEMM_BORROWED(f32, 6, 16, avx2)},
    {FC_IGEMM_ENTRY(f64, 8, 16, avx512), FC_IGEMM_BORROWED(f64, 6, 8, avx2)},
    fc_f32_maxpool_row_ukernel__avx512, fc_f64_maxpool_row_ukernel__scalar,
    fc_f32_maxpool_nhwc_ukernel__avx512, fc_f64_maxpool_nhwc_ukernel__scalar,
    fc_f32_maxpool_row_dilated_ukernel__avx512, fc_f64_maxpool_row_dilated_ukernel__scalar,
    fc_f32_maxpool_nhwc_dilated_ukernel__avx512, fc_f64_maxpool_nhwc_dilated_ukernel__scalar,
    fc_f32_maxpool_code_ukernel__avx512, fc_f64_maxpool_code_ukernel__scalar,
    fc_f32_unpool_code_ukernel__avx512, fc_f64_unpool_code_ukernel__scalar,
    fc_f32_convpool_c1_ukernel__avx512, fc_f32_convpool_c1_wgrad_ukernel__avx512,
    fc_f32_relu_ukernel__avx512, fc_f64_relu_ukernel__avx512,
    fc_f32_relu_bwd_ukernel__avx512, fc_f64_relu_bwd_ukernel__avx512,
    fc_f32_correlate_ukernel_1x128__avx512, fc_f64_correlate_ukernel_1x64__avx512,
    fc_f64_ndcorrelate_ukernel__avx512,
    fc_f32_ndline_ukernel__avx512, fc_f64_ndline_ukernel__avx512,
    fc_f32_runsum_ukernel__avx512, fc_f64_runsum_ukernel__avx512,
    fc_f32_adam_ukernel__avx512, fc_f64_adam_ukernel__scalar,
    fc_f32_gemv_ukernel__avx512, fc_f64_gemv_ukernel__avx512};
#endif

static const fc_ukernel_table *fc_table_for(fc_isa isa) {
  switch (isa) {
#if FASTCONV_HAVE_AVX512
    case FC_ISA_AVX512: return &fc_table_avx512;
#endif
#if FASTCONV_HAVE_AVX2
    case FC_ISA_AVX2: return &fc_table_avx2;
#endif
    default: return &fc_table_scalar;
  }
}

static _Atomic(const fc_ukernel_table *) fc_current = NULL;

static fc_isa fc_env_cap(void) {
  const int isa = fc_env_isa(NULL, 0); /* unknown names: no cap (Python warns) */
  return isa < 0 ? FC_ISA_AVX512 : (fc_isa)isa;
}

fc_isa fc_set_isa(fc_isa wanted) {
  fc_isa isa = wanted < fc_cpu_isa() ? wanted : fc_cpu_isa();
  if (isa < FC_ISA_SCALAR) isa = FC_ISA_SCALAR;
  atomic_store(&fc_current, fc_table_for(isa));
  return isa;
}

const fc_ukernel_table *fc_table(void) {
  const fc_ukernel_table *t = atomic_load(&fc_current);
  if (t == NULL) {
    fc_set_isa(fc_env_cap());
    t = atomic_load(&fc_current);
  }
  return t;
}

fc_isa fc_current_isa(void) { return fc_table()->isa; }

/* ---- microkernel names, for plans: every registry line, by address ---------- */
#define FC_NAMED(sym) {(fc_any_ukernel)sym, #sym},
#define FC_GEMM(dtype, ctype, mr, nr, isa) FC_NAMED(fc_##dtype##_gemm_ukernel_##mr##x##nr##__##isa)
#define FC_IGEMM(dtype, ctype, mr, nr, isa) FC_NAMED(fc_##dtype##_igemm_ukernel_##mr##x##nr##__##isa)
#define FC_MAXPOOL(dtype, ctype, layout, isa) FC_NAMED(fc_##dtype##_maxpool_##layout##_ukernel__##isa)
#define FC_MAXPOOL_CODE(dtype, ctype, isa)          \
  FC_NAMED(fc_##dtype##_maxpool_code_ukernel__##isa) \
  FC_NAMED(fc_##dtype##_unpool_code_ukernel__##isa)
#define FC_UNARY(dtype, ctype, op, isa) FC_NAMED(fc_##dtype##_##op##_ukernel__##isa)
#define FC_BINARY(dtype, ctype, op, isa) FC_NAMED(fc_##dtype##_##op##_ukernel__##isa)
#define FC_CORRELATE(dtype, ctype, mr, nr, isa) \
  FC_NAMED(fc_##dtype##_correlate_ukernel_##mr##x##nr##__##isa)
#define FC_ADAM(dtype, ctype, isa) FC_NAMED(fc_##dtype##_adam_ukernel__##isa)
#define FC_GEMV(dtype, ctype, isa) FC_NAMED(fc_##dtype##_gemv_ukernel__##isa)
#define FC_NDIMAGE(dtype, ctype, isa)            \
  FC_NAMED(fc_##dtype##_ndline_ukernel__##isa)    \
  FC_NAMED(fc_##dtype##_runsum_ukernel__##isa)
#define FC_NDIMAGE_ACC(isa) FC_NAMED(fc_f64_ndcorrelate_ukernel__##isa)
static const struct {
  fc_any_ukernel fn;
  const char *name;
} fc_ukernel_names[] = {
#include "../ukernels/gemm.inc"
#include "../ukernels/igemm.inc"
#include "../ukernels/maxpool.inc"
#include "../ukernels/unary.inc"
#include "../ukernels/correlate.inc"
#include "../ukernels/adam.inc"
#include "../ukernels/ndimage.inc"
#include "../ukernels/gemv.inc"
#if FASTCONV_HAVE_AVX512
    FC_NAMED(fc_f32_convpool_c1_ukernel__avx512)
    FC_NAMED(fc_f32_convpool_c1_wgrad_ukernel__avx512)
#endif
};

void fc_plan_name(fc_plan *plan) {
  if (plan->kernel == NULL && plan->kernel_fn != NULL) plan->kernel = fc_ukernel_name(plan->kernel_fn);
}

const char *fc_ukernel_name(fc_any_ukernel fn) {
  for (size_t i = 0; i < sizeof fc_ukernel_names / sizeof fc_ukernel_names[0]; i++)
    if (fc_ukernel_names[i].fn == fn) return fc_ukernel_names[i].name;
  return "unknown";
}
