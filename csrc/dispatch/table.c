/* The dispatch tables, built from the registries (the ukernels' .inc files), and an
 * atomic pointer to the one in use. It starts at the best ISA the CPU
 * supports, capped by $FASTCONV_ISA (read once, on first use); fc_set_isa lets
 * tests move it, never above what the CPU has.
 *
 * Each table is built when the library is loaded, as BLIS builds its
 * contexts: every slot starts from the scalar line and is upgraded by each
 * registry line of a higher ISA up to the table's own, so an op that has no
 * line for an ISA (f64 max-pool on AVX2, say) keeps the best lower one. The
 * indirect-GEMM tile lists and the special conv+pool lists follow their
 * registries' rules (igemm.inc, convpool.inc). Nothing here lists kernels by
 * hand: a new registry line reaches the tables, the kernel names and the
 * registry records (fc_ukernel_at) by itself. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastconv/ukernel.h"

_Thread_local fc_prefetch_stream fc_gemm_prefetch; /* FC_GEMM_PREFETCH's (ukernel.h) */

/* f32 and f64 lines of a registry, counted at compile time */
#define FC_IS_f32_f32 1
#define FC_IS_f32_f64 0
#define FC_IS_f64_f32 0
#define FC_IS_f64_f64 1
#define FC_IGEMM(dtype, ctype, mr, nr, isa, borrow) +FC_IS_f32_##dtype
enum { FC_F32_IGEMM_LINES = 0
#include "../ukernels/igemm.inc"
};
#undef FC_IGEMM
#define FC_IGEMM(dtype, ctype, mr, nr, isa, borrow) +FC_IS_f64_##dtype
enum { FC_F64_IGEMM_LINES = 0
#include "../ukernels/igemm.inc"
};
#undef FC_IGEMM
#define FC_CONVPOOL(dtype, ctype, geometry, isa) +FC_IS_f32_##dtype
enum { FC_F32_CONVPOOL_LINES = 0
#include "../ukernels/convpool.inc"
};
#undef FC_CONVPOOL
#define FC_CONVPOOL(dtype, ctype, geometry, isa) +FC_IS_f64_##dtype
enum { FC_F64_CONVPOOL_LINES = 0
#include "../ukernels/convpool.inc"
};
#undef FC_CONVPOOL
#define FC_CONV(dtype, ctype, geometry, isa) +FC_IS_f32_##dtype
enum { FC_F32_CONV_LINES = 0
#include "../ukernels/conv.inc"
};
#undef FC_CONV
#define FC_CONV(dtype, ctype, geometry, isa) +FC_IS_f64_##dtype
enum { FC_F64_CONV_LINES = 0
#include "../ukernels/conv.inc"
};
#undef FC_CONV
_Static_assert((int)FC_F32_CONV_LINES <= (int)FC_MAX_CONV &&
                   (int)FC_F64_CONV_LINES <= (int)FC_MAX_CONV,
               "more conv2d lines than a table holds: raise FC_MAX_CONV");
_Static_assert((int)FC_F32_IGEMM_LINES <= (int)FC_MAX_IGEMM_TILES &&
                   (int)FC_F64_IGEMM_LINES <= (int)FC_MAX_IGEMM_TILES,
               "more indirect-GEMM lines than a table holds: raise FC_MAX_IGEMM_TILES");
_Static_assert((int)FC_F32_CONVPOOL_LINES <= (int)FC_MAX_CONVPOOL &&
                   (int)FC_F64_CONVPOOL_LINES <= (int)FC_MAX_CONVPOOL,
               "more conv+pool lines than a table holds: raise FC_MAX_CONVPOOL");

/* ---- building a table --------------------------------------------------------- */

#define FC_AT(isa) if ((int)FC_ISA_OF(isa) == level)

static void fc_build(fc_ukernel_table *t, fc_isa isa) {
  memset(t, 0, sizeof *t);
  t->isa = isa;
  /* one-kernel slots: every line up to the table's ISA, lowest ISA first */
  for (int level = FC_ISA_SCALAR; level <= (int)isa; level++) {
#define FC_GEMM(dtype, ctype, mr, nr, isa) \
  FC_AT(isa) t->dtype##_gemm = (fc_##dtype##_gemm_entry){fc_##dtype##_gemm_ukernel_##mr##x##nr##__##isa, mr, nr};
#define FC_MAXPOOL(dtype, ctype, layout, isa) \
  FC_AT(isa) t->dtype##_maxpool_##layout = fc_##dtype##_maxpool_##layout##_ukernel__##isa;
#define FC_MAXPOOL_CODE(dtype, ctype, isa)                                  \
  FC_AT(isa) {                                                            \
    t->dtype##_maxpool_code = fc_##dtype##_maxpool_code_ukernel__##isa; \
    t->dtype##_unpool_code = fc_##dtype##_unpool_code_ukernel__##isa;   \
  }
#define FC_UNARY(dtype, ctype, op, isa) FC_AT(isa) t->dtype##_##op = fc_##dtype##_##op##_ukernel__##isa;
#define FC_SOFTMAX(dtype, ctype, isa) FC_AT(isa) t->dtype##_softmax = fc_##dtype##_softmax_ukernel__##isa;
#define FC_BINARY(dtype, ctype, op, isa) FC_AT(isa) t->dtype##_##op = fc_##dtype##_##op##_ukernel__##isa;
#define FC_CORRELATE(dtype, ctype, mr, nr, isa) \
  FC_AT(isa) t->dtype##_correlate = fc_##dtype##_correlate_ukernel_##mr##x##nr##__##isa;
#define FC_ADAM(dtype, ctype, isa) FC_AT(isa) t->dtype##_adam = fc_##dtype##_adam_ukernel__##isa;
#define FC_GEMV(dtype, ctype, isa)                                    \
  FC_AT(isa) {                                                        \
    t->dtype##_gemv = fc_##dtype##_gemv_ukernel__##isa;               \
    t->dtype##_gemv_sparse = fc_##dtype##_gemv_sparse_ukernel__##isa; \
  }
#define FC_NDIMAGE(dtype, ctype, isa)                           \
  FC_AT(isa) {                                                  \
    t->dtype##_ndline = fc_##dtype##_ndline_ukernel__##isa;     \
    t->dtype##_runsum = fc_##dtype##_runsum_ukernel__##isa;     \
    t->dtype##_runlines = fc_##dtype##_runlines_ukernel__##isa; \
  }
#define FC_NDIMAGE_ACC(isa)                                \
  FC_AT(isa) {                                             \
    t->f64_ndcorrelate = fc_f64_ndcorrelate_ukernel__##isa; \
    t->f64_ndstore = fc_f64_ndstore_ukernel__##isa;         \
  }
#define FC_PROBE(dtype, ctype, isa, chains, lanes) \
  FC_AT(isa) t->dtype##_fma_probe = (fc_##dtype##_probe_entry){fc_##dtype##_fma_probe__##isa, chains, lanes};
#define FC_TRANSPOSE(dtype, ctype, isa) FC_AT(isa) t->dtype##_transpose = fc_##dtype##_transpose_ukernel__##isa;
#include "../ukernels/gemm.inc"
#include "../ukernels/maxpool.inc"
#include "../ukernels/unary.inc"
#include "../ukernels/softmax.inc"
#include "../ukernels/correlate.inc"
#include "../ukernels/adam.inc"
#include "../ukernels/ndimage.inc"
#include "../ukernels/gemv.inc"
#include "../ukernels/probe.inc"
#include "../ukernels/transpose.inc"
#undef FC_GEMM
#undef FC_MAXPOOL
#undef FC_MAXPOOL_CODE
#undef FC_UNARY
#undef FC_SOFTMAX
#undef FC_BINARY
#undef FC_CORRELATE
#undef FC_ADAM
#undef FC_GEMV
#undef FC_NDIMAGE
#undef FC_NDIMAGE_ACC
#undef FC_PROBE
#undef FC_TRANSPOSE
  }
  /* indirect-GEMM tiles: those of the best ISA (up to the table's) that has
   * lines for the dtype, at cost 1, then lower ISAs' lines with a nonzero
   * borrow, at that cost, the higher ISA first */
  const int table_isa = (int)isa;
  int top_f32 = -1, top_f64 = -1, n_f32 = 0, n_f64 = 0;
#define FC_IGEMM(dtype, ctype, mr, nr, isa, borrow) \
  if ((int)FC_ISA_OF(isa) <= table_isa && (int)FC_ISA_OF(isa) > top_##dtype) top_##dtype = FC_ISA_OF(isa);
#include "../ukernels/igemm.inc"
#undef FC_IGEMM
#define FC_IGEMM(dtype, ctype, mr, nr, isa, borrow)                                       \
  if ((int)FC_ISA_OF(isa) == level &&                                                  \
      (level == top_##dtype || (level < top_##dtype && (double)(borrow) > 0.0)))       \
    t->dtype##_igemm[n_##dtype++] = (fc_##dtype##_igemm_entry){                        \
        fc_##dtype##_igemm_ukernel_##mr##x##nr##__##isa, mr, nr,                       \
        level == top_##dtype ? 1.0 : (double)(borrow)};
  for (int level = (int)isa; level >= FC_ISA_SCALAR; level--) {
#include "../ukernels/igemm.inc"
  }
#undef FC_IGEMM
  /* special conv+pool kernels: the table's ISA's lines first, then lower ones' */
  int c_f32 = 0, c_f64 = 0;
#define FC_CONVPOOL(dtype, ctype, geometry, isa)                             \
  FC_AT(isa) t->dtype##_convpool[c_##dtype++] = (fc_##dtype##_convpool_entry){ \
      fc_##dtype##_convpool_##geometry##_ukernel__##isa,                     \
      fc_##dtype##_convpool_##geometry##_wgrad_ukernel__##isa, fc_convpool_##geometry##_fits};
  for (int level = (int)isa; level >= FC_ISA_SCALAR; level--) {
#include "../ukernels/convpool.inc"
  }
#undef FC_CONVPOOL
  (void)c_f32, (void)c_f64;
  /* special conv2d kernels: the table's ISA's lines only (conv.inc) */
  int v_f32 = 0, v_f64 = 0;
#define FC_CONV(dtype, ctype, geometry, isa)                           \
  FC_AT(isa) t->dtype##_conv[v_##dtype++] = (fc_##dtype##_conv_entry){ \
      fc_##dtype##_conv_##geometry##_ukernel__##isa, fc_conv_##geometry##_fits};
  {
    const int level = (int)isa;
    (void)level; /* (a build without special kernels has no line to compare it with) */
#include "../ukernels/conv.inc"
  }
#undef FC_CONV
  (void)v_f32, (void)v_f64;
}

/* Every compiled ISA's table, built when the library is loaded (a constructor:
 * before any thread can call in, so no thread waits for another, and a fork
 * can never catch a table half built). */
static fc_ukernel_table fc_tables[FC_ISA_COUNT];

__attribute__((constructor)) static void fc_build_tables(void) {
  for (int isa = FC_ISA_SCALAR; isa < FC_ISA_COUNT; isa++)
    if (fc_isa_compiled((fc_isa)isa)) fc_build(&fc_tables[isa], (fc_isa)isa);
}

const fc_ukernel_table *fc_table_for_isa(fc_isa isa) {
  if ((int)isa < 0 || (int)isa >= FC_ISA_COUNT || !fc_isa_compiled(isa)) return NULL;
  return &fc_tables[isa];
}

static const fc_ukernel_table *fc_table_for(fc_isa isa) {
  const fc_ukernel_table *t = fc_table_for_isa(isa);
  return t ? t : fc_table_for_isa(FC_ISA_SCALAR);
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

/* ---- the registry as data: every line's kernels, in the registries' order --- */
#define FC_INFO(sym, family, kind, dtype, isa, mr, nr, borrow, slot) \
  {{#sym, family, kind, #dtype, FC_ISA_OF(isa), mr, nr, borrow, (fc_any_ukernel)sym}, slot},
#define FC_SLOT(field) offsetof(fc_ukernel_table, field)
#define FC_LIST ((size_t)-1) /* a list slot (igemm, convpool), searched by kind */
#define FC_GEMM(dtype, ctype, mr, nr, isa)                                                   \
  FC_INFO(fc_##dtype##_gemm_ukernel_##mr##x##nr##__##isa, "gemm", "gemm", dtype, isa, mr, nr, \
          0.0, FC_SLOT(dtype##_gemm))
#define FC_IGEMM(dtype, ctype, mr, nr, isa, borrow)                                             \
  FC_INFO(fc_##dtype##_igemm_ukernel_##mr##x##nr##__##isa, "igemm", "igemm", dtype, isa, mr, nr, \
          borrow, FC_LIST)
#define FC_MAXPOOL(dtype, ctype, layout, isa)                                                  \
  FC_INFO(fc_##dtype##_maxpool_##layout##_ukernel__##isa, "maxpool", "maxpool_" #layout, dtype, \
          isa, 0, 0, 0.0, FC_SLOT(dtype##_maxpool_##layout))
#define FC_MAXPOOL_CODE(dtype, ctype, isa)                                                       \
  FC_INFO(fc_##dtype##_maxpool_code_ukernel__##isa, "maxpool", "maxpool_code", dtype, isa, 0, 0, \
          0.0, FC_SLOT(dtype##_maxpool_code))                                                    \
  FC_INFO(fc_##dtype##_unpool_code_ukernel__##isa, "maxpool", "unpool_code", dtype, isa, 0, 0,   \
          0.0, FC_SLOT(dtype##_unpool_code))
#define FC_UNARY(dtype, ctype, op, isa) \
  FC_INFO(fc_##dtype##_##op##_ukernel__##isa, "unary", #op, dtype, isa, 0, 0, 0.0, FC_SLOT(dtype##_##op))
#define FC_BINARY(dtype, ctype, op, isa) \
  FC_INFO(fc_##dtype##_##op##_ukernel__##isa, "unary", #op, dtype, isa, 0, 0, 0.0, FC_SLOT(dtype##_##op))
#define FC_SOFTMAX(dtype, ctype, isa)                                                        \
  FC_INFO(fc_##dtype##_softmax_ukernel__##isa, "softmax", "softmax", dtype, isa, 0, 0, 0.0, \
          FC_SLOT(dtype##_softmax))
#define FC_CORRELATE(dtype, ctype, mr, nr, isa)                                                  \
  FC_INFO(fc_##dtype##_correlate_ukernel_##mr##x##nr##__##isa, "correlate", "correlate", dtype, \
          isa, mr, nr, 0.0, FC_SLOT(dtype##_correlate))
#define FC_ADAM(dtype, ctype, isa) \
  FC_INFO(fc_##dtype##_adam_ukernel__##isa, "adam", "adam", dtype, isa, 0, 0, 0.0, FC_SLOT(dtype##_adam))
#define FC_GEMV(dtype, ctype, isa)                                                              \
  FC_INFO(fc_##dtype##_gemv_ukernel__##isa, "gemv", "gemv", dtype, isa, 0, 0, 0.0,                \
          FC_SLOT(dtype##_gemv))                                                                 \
  FC_INFO(fc_##dtype##_gemv_sparse_ukernel__##isa, "gemv", "gemv_sparse", dtype, isa, 0, 0, 0.0, \
          FC_SLOT(dtype##_gemv_sparse))
#define FC_NDIMAGE(dtype, ctype, isa)                                                         \
  FC_INFO(fc_##dtype##_ndline_ukernel__##isa, "ndimage", "ndline", dtype, isa, 0, 0, 0.0,     \
          FC_SLOT(dtype##_ndline))                                                            \
  FC_INFO(fc_##dtype##_runsum_ukernel__##isa, "ndimage", "runsum", dtype, isa, 0, 0, 0.0,     \
          FC_SLOT(dtype##_runsum))                                                            \
  FC_INFO(fc_##dtype##_runlines_ukernel__##isa, "ndimage", "runlines", dtype, isa, 0, 0, 0.0, \
          FC_SLOT(dtype##_runlines))
#define FC_NDIMAGE_ACC(isa)                                                              \
  FC_INFO(fc_f64_ndcorrelate_ukernel__##isa, "ndimage", "ndcorrelate", f64, isa, 0, 0, 0.0, \
          FC_SLOT(f64_ndcorrelate))                                                         \
  FC_INFO(fc_f64_ndstore_ukernel__##isa, "ndimage", "ndstore", f64, isa, 0, 0, 0.0,         \
          FC_SLOT(f64_ndstore))
#define FC_CONVPOOL(dtype, ctype, geometry, isa)                                                \
  FC_INFO(fc_##dtype##_convpool_##geometry##_ukernel__##isa, "convpool", "convpool_" #geometry, \
          dtype, isa, 0, 0, 0.0, FC_LIST)                                                       \
  FC_INFO(fc_##dtype##_convpool_##geometry##_wgrad_ukernel__##isa, "convpool",                  \
          "convpool_" #geometry "_wgrad", dtype, isa, 0, 0, 0.0, FC_LIST)
#define FC_CONV(dtype, ctype, geometry, isa)                                                   \
  FC_INFO(fc_##dtype##_conv_##geometry##_ukernel__##isa, "conv", "conv_" #geometry, dtype, isa, 0, \
          0, 0.0, FC_LIST)
#define FC_PROBE(dtype, ctype, isa, chains, lanes)                                               \
  FC_INFO(fc_##dtype##_fma_probe__##isa, "probe", "fma_probe", dtype, isa, chains, lanes, 0.0, \
          FC_SLOT(dtype##_fma_probe))
#define FC_TRANSPOSE(dtype, ctype, isa)                                                          \
  FC_INFO(fc_##dtype##_transpose_ukernel__##isa, "transpose", "transpose", dtype, isa, 0, 0, 0.0, \
          FC_SLOT(dtype##_transpose))
static const struct {
  fc_ukernel_info info;
  size_t slot; /* offset of the one-kernel slot in fc_ukernel_table, or FC_LIST */
} fc_registry[] = {
#include "../ukernels/gemm.inc"
#include "../ukernels/igemm.inc"
#include "../ukernels/maxpool.inc"
#include "../ukernels/unary.inc"
#include "../ukernels/softmax.inc"
#include "../ukernels/correlate.inc"
#include "../ukernels/adam.inc"
#include "../ukernels/ndimage.inc"
#include "../ukernels/gemv.inc"
#include "../ukernels/convpool.inc"
#include "../ukernels/conv.inc"
#include "../ukernels/probe.inc"
#include "../ukernels/transpose.inc"
};
enum { FC_REGISTRY_SIZE = sizeof fc_registry / sizeof fc_registry[0] };

int fc_ukernel_count(void) { return FC_REGISTRY_SIZE; }

const fc_ukernel_info *fc_ukernel_at(int i) {
  return i >= 0 && i < FC_REGISTRY_SIZE ? &fc_registry[i].info : NULL;
}

int fc_ukernel_slot(int i, fc_isa isa, char *buf, size_t size, double *cost) {
  const fc_ukernel_table *t = fc_table_for_isa(isa);
  const fc_ukernel_info *k = fc_ukernel_at(i);
  if (cost) *cost = 1.0;
  if (buf && size) buf[0] = '\0';
  if (!t || !k) return 0;
  const int f32 = k->dtype[1] == '3';
  if (fc_registry[i].slot != FC_LIST) {
    fc_any_ukernel in;
    memcpy(&in, (const char *)t + fc_registry[i].slot, sizeof in);
    if (in != k->fn) return 0;
    if (buf) snprintf(buf, size, "%s_%s", k->dtype, k->kind);
    return 1;
  }
  if (strcmp(k->kind, "igemm") == 0) {
    for (int j = 0; j < FC_MAX_IGEMM_TILES; j++) {
      const fc_any_ukernel in = f32 ? FC_UKERNEL_FN(t->f32_igemm[j].fn) : FC_UKERNEL_FN(t->f64_igemm[j].fn);
      if (in == NULL || in != k->fn) continue;
      if (cost) *cost = f32 ? t->f32_igemm[j].cost : t->f64_igemm[j].cost;
      if (buf) snprintf(buf, size, "%s_igemm[%d]", k->dtype, j);
      return 1;
    }
    return 0;
  }
  if (strcmp(k->family, "conv") == 0) {
    for (int j = 0; j < FC_MAX_CONV; j++) {
      const fc_any_ukernel in = f32 ? FC_UKERNEL_FN(t->f32_conv[j].fn) : FC_UKERNEL_FN(t->f64_conv[j].fn);
      if (in == NULL || in != k->fn) continue;
      if (buf) snprintf(buf, size, "%s_conv[%d]", k->dtype, j);
      return 1;
    }
    return 0;
  }
  for (int j = 0; j < FC_MAX_CONVPOOL; j++) { /* a convpool kernel or its wgrad twin */
    const fc_any_ukernel fwd = f32 ? FC_UKERNEL_FN(t->f32_convpool[j].fn) : FC_UKERNEL_FN(t->f64_convpool[j].fn);
    const fc_any_ukernel bwd =
        f32 ? FC_UKERNEL_FN(t->f32_convpool[j].wgrad) : FC_UKERNEL_FN(t->f64_convpool[j].wgrad);
    if (fwd == NULL || (fwd != k->fn && bwd != k->fn)) continue;
    if (buf) snprintf(buf, size, "%s_convpool[%d]%s", k->dtype, j, fwd == k->fn ? "" : ".wgrad");
    return 1;
  }
  return 0;
}

void fc_plan_name(fc_plan *plan) {
  if (plan->kernel == NULL && plan->kernel_fn != NULL) plan->kernel = fc_ukernel_name(plan->kernel_fn);
}

const char *fc_ukernel_name(fc_any_ukernel fn) {
  for (int i = 0; i < FC_REGISTRY_SIZE; i++)
    if (fc_registry[i].info.fn == fn) return fc_registry[i].info.name;
  return "unknown";
}
