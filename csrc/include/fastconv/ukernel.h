/* Microkernel signatures and their contracts, and the dispatch table.
 *
 * GEMM microkernel (the heart of conv2d):
 *   C[i, j] (+)= sum_p A[p, i] * B[p, j]   for i < m <= MR, j < n <= NR
 *   a: packed panel, kc x MR, a[p * MR + i]; rows i >= m are zero.
 *   b: packed panel, kc x NR, b[p * NR + j]; columns j >= n are zero.
 *   c: row-major tile, row stride ldc elements; only the m x n corner is read
 *      or written.
 *   flags: FC_GEMM_ACCUMULATE  C += AB (else C = AB + bias)
 *          FC_GEMM_BIAS_ROW    add bias[i] to row i   (only without ACCUMULATE)
 *          FC_GEMM_BIAS_COL    add bias[j] to column j (only without ACCUMULATE)
 *   bias points at the tile's first row (BIAS_ROW, m values) or first column
 *   (BIAS_COL, n values); nothing past them is read. kc >= 1. No alignment.
 *
 * Indirect-GEMM microkernel (conv2d without im2col, as XNNPACK's IGEMM):
 *   C[i, j] (+)= sum_{t < ks} sum_{p < kc} A(t, i)[p] * b[(t*kc + p)*ldb + j]
 *   a: ks*MR row pointers; A(t, i) = a[t*MR + i] + a_offset, or `zero` itself
 *      where a[t*MR + i] == zero. A row's kc values are a_stride elements
 *      apart: one input pixel's channels for kernel tap t (a_stride 1 in
 *      NHWC, h*w in NCHW), or zeros (padding, rows i >= m; `zero` holds
 *      (kc - 1) * a_stride + 1 zeros). One pointer table serves every image.
 *   b: (ks*kc) rows of NR readable values, ldb elements apart: a packed
 *      panel (ldb = NR) or a matrix's columns read in place (ldb its row
 *      stride); what columns j >= n hold is never stored (only column j of B
 *      reaches column j of C).
 *   c, ldc, m, n, bias, flags: as for the GEMM microkernel (BIAS_ROW unused);
 *   with FC_GEMM_SKIP_ZERO_TAPS, a tap whose MR row pointers are all `zero` is
 *   skipped (its products are +-0 when the weights are finite, and adding +-0
 *   leaves every sum that does not start at -0 as it is: the caller's
 *   conditions for the same bits).
 *   FC_GEMM_PREFETCH is a hint: a kernel that takes it (the f32 6x64 AVX-512
 *   one) prefetches into L2, on a tile of MR live rows, one 64-byte line of
 *   the calling thread's fc_gemm_prefetch stream per depth step, advancing
 *   the stream; others ignore it. No result depends on it.
 *
 * Max-pool row microkernel: one output row oy of one NCHW plane (h*w values)
 * into y[0..ow) (row) or of one NHWC image (h*w*c values) into y[0..ow*c)
 * (nhwc) and, unless idx is NULL, the same slots of idx, with the semantics of
 * fc_f32_max_pool2d. The row and nhwc kernels read dilation 1 whatever p says;
 * the row_dilated and nhwc_dilated kernels take any dilation. SIMD row
 * variants need h*w and every window column position, padding and dilation
 * included, to fit in int32 (they hold positions in int32 lanes).
 *
 * Adam microkernel: one Keras Adam step of n elements in place (p, m, v; g
 * read), with the constants of fc_*_adam_params, in one fixed order of IEEE
 * operations that every ISA's variant follows lane by lane (same bits).
 *
 * Unary microkernel: y[i] = f(x[i]) for i < n; y may equal x (in place).
 * Binary microkernel: z[i] = f(a[i], b[i]) for i < n; z may equal a or b.
 *
 * Softmax row microkernel (softmax.inc): for a row of n >= 1 values, *top =
 * its maximum (a NaN in the row: NaN), e[j] = exp(x[j] - *top) rounded to the
 * dtype, their sum s in double returned, and y[j] = e[j] / s (in double,
 * rounded to the dtype); y may equal x.
 *
 * Correlation row microkernel (one output row of a 'valid' 2-D correlation;
 * 1-D correlation is the case kh = 1):
 *   y[j] = sum_{i < kh} sum_{t < kw} x[i*ldx + j + t] * w[i*kw + t]   for j < n
 *   x: kh rows, ldx elements apart, each with n + kw - 1 readable values;
 *   w: kh x kw, row-major; y: n values, written (never read), aliasing
 *   neither x nor w. n, kh, kw >= 1. No alignment.
 *
 * ndimage microkernels (scipy.ndimage's own arithmetic, bit for bit; see
 * ukernels/ndimage-exact.h for the exact order of operations):
 *   line:    y[j] = sum_{t < m} x[t][j] * w[t] as NI_Correlate1D sums it (sym:
 *            1 symmetric, -1 antisymmetric, 0 neither), in double; x holds m
 *            row pointers, each with n readable values.
 *   runsum:  acc[j] += x_in[j] - x_out[j]; y[j] = acc[j] / m (uniform filter).
 *   runlines: runsum along k <= FC_RUNLINES_MAX lines at once (the uniform
 *            filter along lines): acc[l] += x_in[l][i] - x_out[l][i];
 *            y[l][i] = acc[l] / m for i < n, each line's sums in order.
 *   ndcorrelate (f64): the correlation row microkernel's sum added to y
 *            (y[j] += ...), tap by tap in row-major order without FMA,
 *            skipping zero weights, as NI_Correlate.
 *   ndstore (f64): d[j] stored into y, of element type `elem`, as SciPy's C
 *            loops store a double on x86-64 (fc_store_doubles, fastconv.h).
 */
#ifndef FASTCONV_UKERNEL_H
#define FASTCONV_UKERNEL_H

#include <stddef.h>
#include <stdint.h>
#include "fastconv/fastconv.h"

enum {
  FC_GEMM_ACCUMULATE = 1u,
  FC_GEMM_BIAS_ROW = 2u,
  FC_GEMM_BIAS_COL = 4u,
  FC_GEMM_SKIP_ZERO_TAPS = 8u,
  FC_GEMM_PREFETCH = 16u
};

/* The calling thread's prefetch stream for FC_GEMM_PREFETCH: `lines` 64-byte
 * lines from `at` still to fetch. A driver sets it before the calls that are
 * to fetch it and clears `lines` after them. */
typedef struct {
  const char *at;
  size_t lines;
} fc_prefetch_stream;
extern _Thread_local fc_prefetch_stream fc_gemm_prefetch;

typedef void (*fc_f32_gemm_ukernel)(size_t kc, const float *a, const float *b, float *c,
                                    size_t ldc, size_t m, size_t n, const float *bias,
                                    unsigned flags);
typedef void (*fc_f64_gemm_ukernel)(size_t kc, const double *a, const double *b, double *c,
                                    size_t ldc, size_t m, size_t n, const double *bias,
                                    unsigned flags);
typedef void (*fc_f32_igemm_ukernel)(size_t ks, size_t kc, const float *const *a,
                                     size_t a_offset, size_t a_stride, const float *zero,
                                     const float *b, size_t ldb, float *c, size_t ldc, size_t m,
                                     size_t n, const float *bias, unsigned flags);
typedef void (*fc_f64_igemm_ukernel)(size_t ks, size_t kc, const double *const *a,
                                     size_t a_offset, size_t a_stride, const double *zero,
                                     const double *b, size_t ldb, double *c, size_t ldc, size_t m,
                                     size_t n, const double *bias, unsigned flags);
typedef void (*fc_f32_maxpool_ukernel)(const fc_pool2d_params *p, const float *plane, int64_t oy,
                                       float *y, int64_t *idx);
typedef void (*fc_f64_maxpool_ukernel)(const fc_pool2d_params *p, const double *plane, int64_t oy,
                                       double *y, int64_t *idx);
/* NHWC, windows inside the image: the winner's place in its window as a byte code */
typedef void (*fc_f32_maxpool_code_ukernel)(const fc_pool2d_params *p, const float *image,
                                            int64_t oy, float *y, uint8_t *code);
typedef void (*fc_f64_maxpool_code_ukernel)(const fc_pool2d_params *p, const double *image,
                                            int64_t oy, double *y, uint8_t *code);
/* and back: dst[q][j] = g[j] where code[j] == q (j < n), else 0, for q < places, j < nr */
typedef void (*fc_f32_unpool_code_ukernel)(size_t n, size_t nr, size_t places, const float *g,
                                           const uint8_t *code, float *const *dst);
typedef void (*fc_f64_unpool_code_ukernel)(size_t n, size_t nr, size_t places, const double *g,
                                           const uint8_t *code, double *const *dst);
/* Special fused conv+pool microkernels (convpool.inc): one pooled output row
 * of max_pool2d(conv2d(x, w, bias)), NHWC, for the geometries their
 * predicate fc_convpool_<geometry>_fits accepts. x: the row's first input
 * row, ldx elements per input row; w (r, s, c, K); bias K values or NULL;
 * y, code (code may be NULL): pw pooled pixels of K channels, with the values
 * and window codes of the generic fused path bit for bit. The _wgrad twin
 * adds the row's weight gradient (as w) to gw and, unless gb is NULL, its
 * bias gradient to gb, for the pooled gradient g and the codes; it returns
 * the largest code it saw (the driver refuses codes outside the window). */
#define FC_CONVPOOL_TYPES(dtype, ctype)                                                        \
  typedef void (*fc_##dtype##_convpool_ukernel)(const ctype *x, size_t ldx, size_t pw,        \
                                                size_t K, const ctype *w, const ctype *bias,  \
                                                ctype *y, uint8_t *code);                     \
  typedef unsigned (*fc_##dtype##_convpool_wgrad_ukernel)(const ctype *x, size_t ldx,         \
                                                          size_t pw, size_t K, const ctype *g, \
                                                          const uint8_t *code, ctype *gw,      \
                                                          ctype *gb);
FC_CONVPOOL_TYPES(f32, float)
FC_CONVPOOL_TYPES(f64, double)
#undef FC_CONVPOOL_TYPES
/* Special conv2d microkernels (conv.inc): one output row of conv2d(x, w,
 * bias) for the geometries their predicate fc_conv_<geometry>_fits accepts.
 * x: the row's first input row, ldx elements per input row, c input
 * channels (NCHW kernels: channel ci's rows from x + 3 ci ldx; NHWC ones
 * take one); w the weights packed in blocks of FC_CONV_BLOCK channels, each
 * block its r * s * c taps' FC_CONV_BLOCK weights in turn, zero past channel
 * K; bias K values padded with zeros to whole blocks, or NULL; y: the row's
 * ow pixels of K channels,
 * the GEMM's values bit for bit (the indirect GEMM's for NHWC, the packed
 * GEMM's for NCHW), the row's first output at y, ldy elements apart from one
 * pixel to the next (NHWC: a pixel's K channels are contiguous) or from one
 * channel to the next (NCHW: a channel's ow pixels are contiguous). */
enum { FC_CONV_BLOCK = 32 };
typedef void (*fc_f32_conv_ukernel)(const float *x, size_t ldx, size_t c, size_t ow, size_t K,
                                    const float *w, const float *bias, float *y, size_t ldy);
typedef void (*fc_f64_conv_ukernel)(const double *x, size_t ldx, size_t c, size_t ow, size_t K,
                                    const double *w, const double *bias, double *y, size_t ldy);
typedef void (*fc_f32_correlate_ukernel)(size_t n, size_t kh, size_t kw, const float *x,
                                         size_t ldx, const float *w, float *y);
typedef void (*fc_f64_correlate_ukernel)(size_t n, size_t kh, size_t kw, const double *x,
                                         size_t ldx, const double *w, double *y);
typedef void (*fc_f32_ndline_ukernel)(size_t n, size_t m, const float *const *x, const double *w,
                                      int sym, float *y);
typedef void (*fc_f64_ndline_ukernel)(size_t n, size_t m, const double *const *x,
                                      const double *w, int sym, double *y);
typedef void (*fc_f32_runsum_ukernel)(size_t n, double *acc, const float *x_in,
                                      const float *x_out, double m, float *y);
typedef void (*fc_f64_runsum_ukernel)(size_t n, double *acc, const double *x_in,
                                      const double *x_out, double m, double *y);
#define FC_RUNLINES_MAX 8 /* lines one runlines call carries */
typedef void (*fc_f32_runlines_ukernel)(size_t k, size_t n, const float *const *x_in,
                                        const float *const *x_out, double *acc, double m,
                                        float *const *y);
typedef void (*fc_f64_runlines_ukernel)(size_t k, size_t n, const double *const *x_in,
                                        const double *const *x_out, double *acc, double m,
                                        double *const *y);
typedef void (*fc_f64_ndstore_ukernel)(fc_elem elem, size_t n, const double *d, void *y,
                                       int safe);
/* a = learning rate with the bias correction, c1 = 1 - beta_1, c2 = 1 - beta_2 */
typedef struct {
  float a, c1, c2, eps;
} fc_f32_adam_params;
typedef struct {
  double a, c1, c2, eps;
} fc_f64_adam_params;
/* Adam's moment floor: a new moment below it in magnitude is stored as +0, 2^26
 * times the smallest normal number (adam/adam-scalar.h says why) */
#define FC_F32_ADAM_FLOOR 0x1p-100f
#define FC_F64_ADAM_FLOOR 0x1p-996
typedef void (*fc_f32_adam_ukernel)(size_t n, float *p, const float *g, float *m, float *v,
                                    const fc_f32_adam_params *c);
typedef void (*fc_f64_adam_ukernel)(size_t n, double *p, const double *g, double *m, double *v,
                                    const fc_f64_adam_params *c);
/* The dense layer's small-batch product: for rows j < nb (1 <= nb <=
 * FC_GEMV_MAX_ROWS) and columns i < mc, acc = the sum over p < kc of
 * x[j * ldx + p] * w[p * ldw + i], one accumulator per output from zero, the
 * terms in p order with the arithmetic of the ISA's indirect-GEMM kernels
 * (fused multiply-adds where they use them); y[j * ldy + i] = acc, or acc + y
 * under FC_GEMM_ACCUMULATE. So each output has the bits the indirect-GEMM
 * kernels give it, whatever the batch around it. w is read in place. */
enum { FC_GEMV_MAX_ROWS = 4 };
typedef void (*fc_f32_gemv_ukernel)(size_t nb, size_t kc, size_t mc, const float *x, size_t ldx,
                                    const float *w, size_t ldw, float *y, size_t ldy,
                                    unsigned flags);
typedef void (*fc_f64_gemv_ukernel)(size_t nb, size_t kc, size_t mc, const double *x,
                                    size_t ldx, const double *w, size_t ldw, double *y,
                                    size_t ldy, unsigned flags);
/* Sparse row products (gemv.inc, beside the GEMV): nb <= FC_GEMV_MAX_ROWS rows
 * of x, row r given by its nnz[r] terms (index idx[r][t], value val[r][t]);
 * y[r * ldy + i] for i < mc = the sum over t of val[r][t] * w[idx[r][t] * ldw
 * + i], from zero, in t order, with the GEMV's arithmetic and store
 * (FC_GEMM_ACCUMULATE: acc + y). Where a row's other terms are zeros (+0 or
 * -0) and w's rows are finite, each output has the bits the GEMV gives the
 * whole row: a zero term's product is a signed zero, and the running sum,
 * which starts at +0, is never -0, so adding it changes nothing. */
typedef void (*fc_f32_gemv_sparse_ukernel)(size_t nb, const size_t *nnz,
                                           const uint32_t *const *idx, const float *const *val,
                                           size_t mc, const float *w, size_t ldw, float *y,
                                           size_t ldy, unsigned flags);
typedef void (*fc_f64_gemv_sparse_ukernel)(size_t nb, const size_t *nnz,
                                           const uint32_t *const *idx, const double *const *val,
                                           size_t mc, const double *w, size_t ldw, double *y,
                                           size_t ldy, unsigned flags);
/* FMA-throughput probe (probe.inc): `iters` steps of `chains` independent
 * multiply-add chains acc = acc * 0.999999 + 1e-7 of `lanes` lanes each,
 * chain i starting at i; returns lane 0 of the chains' sum (so no chain is
 * optimised away). */
typedef float (*fc_f32_probe_ukernel)(uint64_t iters);
/* Transpose (transpose.inc): dst[p * ldd + j] = src[j * lds + p] for p < np,
 * j < nj; only copies values. */
typedef void (*fc_f32_transpose_ukernel)(size_t np, size_t nj, const float *restrict src,
                                         size_t lds, float *restrict dst, size_t ldd);
typedef void (*fc_f64_transpose_ukernel)(size_t np, size_t nj, const double *restrict src,
                                         size_t lds, double *restrict dst, size_t ldd);
typedef struct {
  fc_f32_probe_ukernel fn;
  int chains, lanes;
} fc_f32_probe_entry;
typedef double (*fc_f32_softmax_ukernel)(size_t n, const float *x, float *y, float *top);
typedef double (*fc_f64_softmax_ukernel)(size_t n, const double *x, double *y, double *top);
typedef void (*fc_f32_unary_ukernel)(size_t n, const float *x, float *y);
typedef void (*fc_f64_unary_ukernel)(size_t n, const double *x, double *y);
typedef void (*fc_f32_binary_ukernel)(size_t n, const float *a, const float *b, float *z);
typedef void (*fc_f64_binary_ukernel)(size_t n, const double *a, const double *b, double *z);

typedef struct {
  fc_f32_gemm_ukernel fn;
  size_t mr, nr;
} fc_f32_gemm_entry;
typedef struct {
  fc_f64_gemm_ukernel fn;
  size_t mr, nr;
} fc_f64_gemm_entry;

/* cost: relative time per padded tile element; 1 for the ISA's own tiles, the
 * registry line's `borrow` for a lower ISA's tile offered too (igemm.inc). */
typedef struct {
  fc_f32_igemm_ukernel fn;
  size_t mr, nr;
  double cost;
} fc_f32_igemm_entry;
typedef struct {
  fc_f64_igemm_ukernel fn;
  size_t mr, nr;
  double cost;
} fc_f64_igemm_entry;

enum { FC_MAX_IGEMM_TILES = 8, FC_MAX_CONVPOOL = 4, FC_MAX_CONV = 4 };

/* Which conv2d geometries a special kernel computes (conv.inc). */
typedef int (*fc_conv_fits_fn)(const fc_conv2d_params *p);
typedef struct {
  fc_f32_conv_ukernel fn;
  fc_conv_fits_fn fits;
} fc_f32_conv_entry;
typedef struct {
  fc_f64_conv_ukernel fn;
  fc_conv_fits_fn fits;
} fc_f64_conv_entry;

/* 3x3, stride 1, no dilation or groups, padding of at most 1 on each side
 * ('valid': the lecture's first layer without its pool, PyTorch's MNIST
 * example's first layer; 'same'). The bottom and right padding are what oh
 * and ow leave: oh + 2 - h - pad_top, at most 1 (a negative one: rows not
 * read). */
static inline int fc_conv_3x3_fits(const fc_conv2d_params *p) {
  return p->groups == 1 && p->r == 3 && p->s == 3 && p->stride_h == 1 &&
         p->stride_w == 1 && p->dil_h == 1 && p->dil_w == 1 && p->pad_top >= 0 &&
         p->pad_top <= 1 && p->pad_left >= 0 && p->pad_left <= 1 && p->h >= 0 && p->w >= 0 &&
         p->oh >= 0 && p->ow >= 0 && p->oh - p->h <= p->pad_top - 1 &&
         p->ow - p->w <= p->pad_left - 1;
}
/* ... of one input channel, NHWC */
static inline int fc_conv_c1_fits(const fc_conv2d_params *p) {
  return p->layout == FC_NHWC && p->c == 1 && fc_conv_3x3_fits(p);
}
/* ... of 1 to 7 input channels, NCHW: the depth 9c below the indirect GEMM's
 * FC_CONV2D_IGEMM_MIN_DEPTH (64), where the packed GEMM whose bits the kernel
 * keeps runs it (an image's channels, or an RGB image's colours) */
static inline int fc_conv_nchw_fits(const fc_conv2d_params *p) {
  return p->layout == FC_NCHW && p->c >= 1 && p->c <= 7 && fc_conv_3x3_fits(p);
}
_Static_assert(9 * 7 < FC_CONV2D_IGEMM_MIN_DEPTH,
               "the NCHW conv kernels take only depths the packed GEMM runs");

/* Which conv+pool geometries a special kernel computes (convpool.inc). */
typedef int (*fc_convpool_fits_fn)(const fc_conv2d_params *p, const fc_pool2d_params *q);
typedef struct {
  fc_f32_convpool_ukernel fn;
  fc_f32_convpool_wgrad_ukernel wgrad;
  fc_convpool_fits_fn fits;
} fc_f32_convpool_entry;
typedef struct {
  fc_f64_convpool_ukernel fn;
  fc_f64_convpool_wgrad_ukernel wgrad;
  fc_convpool_fits_fn fits;
} fc_f64_convpool_entry;

/* The c1 kernels: the c1 conv kernels' geometry ('valid' or 'same', the
 * driver handing a padded layer's kernel a padded copy of its input rows),
 * 2x2 pooling windows (stride 2: the fused driver's check). */
static inline int fc_convpool_c1_fits(const fc_conv2d_params *p, const fc_pool2d_params *q) {
  return p->c == 1 && fc_conv_3x3_fits(p) && q->kernel_h == 2 && q->kernel_w == 2;
}

/* One pointer per op, for one ISA, built from the registries (.inc files) the
 * first time that ISA is asked for: every slot starts with the scalar line
 * and is upgraded by each line of a higher ISA up to the table's, so an op
 * without a line for the ISA keeps the best lower one. Drivers read the table
 * once per call. */
typedef struct {
  fc_isa isa;
  fc_f32_gemm_entry f32_gemm;
  fc_f64_gemm_entry f64_gemm;
  /* Indirect-GEMM tiles (igemm.inc says which and in what order): a driver
   * takes the one whose padded rows x columns times cost is smallest, the
   * earlier on a tie. Unused slots have fn == NULL. */
  fc_f32_igemm_entry f32_igemm[FC_MAX_IGEMM_TILES];
  fc_f64_igemm_entry f64_igemm[FC_MAX_IGEMM_TILES];
  fc_f32_maxpool_ukernel f32_maxpool_row;  /* NCHW: one output row of one plane */
  fc_f64_maxpool_ukernel f64_maxpool_row;
  fc_f32_maxpool_ukernel f32_maxpool_nhwc; /* NHWC: one output row of one image */
  fc_f64_maxpool_ukernel f64_maxpool_nhwc;
  fc_f32_maxpool_ukernel f32_maxpool_row_dilated; /* the same for any dilation */
  fc_f64_maxpool_ukernel f64_maxpool_row_dilated;
  fc_f32_maxpool_ukernel f32_maxpool_nhwc_dilated;
  fc_f64_maxpool_ukernel f64_maxpool_nhwc_dilated;
  fc_f32_maxpool_code_ukernel f32_maxpool_code; /* NHWC, no padding: window codes */
  fc_f64_maxpool_code_ukernel f64_maxpool_code;
  fc_f32_unpool_code_ukernel f32_unpool_code; /* its gradient, into GEMM panels */
  fc_f64_unpool_code_ukernel f64_unpool_code;
  /* Special conv+pool kernels, the table's ISA's first, then lower ISAs';
   * fn == NULL ends the list. */
  fc_f32_convpool_entry f32_convpool[FC_MAX_CONVPOOL];
  fc_f64_convpool_entry f64_convpool[FC_MAX_CONVPOOL];
  /* Special conv2d kernels, the table's ISA's own; fn == NULL ends the list. */
  fc_f32_conv_entry f32_conv[FC_MAX_CONV];
  fc_f64_conv_entry f64_conv[FC_MAX_CONV];
  fc_f32_unary_ukernel f32_relu;
  fc_f64_unary_ukernel f64_relu;
  fc_f32_binary_ukernel f32_relu_bwd; /* (gy, x) -> gx */
  fc_f64_binary_ukernel f64_relu_bwd;
  /* relu's results stored with streaming (non-temporal) stores, past the
   * caches: for arrays too large to stay in them (the relu driver decides). */
  fc_f32_unary_ukernel f32_relu_nt;
  fc_f64_unary_ukernel f64_relu_nt;
  fc_f32_softmax_ukernel f32_softmax;
  fc_f64_softmax_ukernel f64_softmax;
  fc_f32_correlate_ukernel f32_correlate;
  fc_f64_correlate_ukernel f64_correlate;
  fc_f64_correlate_ukernel f64_ndcorrelate; /* accumulates into y, SciPy's order */
  fc_f64_ndstore_ukernel f64_ndstore;
  fc_f32_ndline_ukernel f32_ndline;
  fc_f64_ndline_ukernel f64_ndline;
  fc_f32_runsum_ukernel f32_runsum;
  fc_f64_runsum_ukernel f64_runsum;
  fc_f32_runlines_ukernel f32_runlines;
  fc_f64_runlines_ukernel f64_runlines;
  fc_f32_adam_ukernel f32_adam;
  fc_f64_adam_ukernel f64_adam;
  fc_f32_gemv_ukernel f32_gemv;
  fc_f64_gemv_ukernel f64_gemv;
  fc_f32_gemv_sparse_ukernel f32_gemv_sparse;
  fc_f64_gemv_sparse_ukernel f64_gemv_sparse;
  fc_f32_probe_entry f32_fma_probe;
  fc_f32_transpose_ukernel f32_transpose;
  fc_f64_transpose_ukernel f64_transpose;
} fc_ukernel_table;

const fc_ukernel_table *fc_table(void);
/* The table of one compiled ISA (built on first use; thread-safe), or NULL
 * for an ISA not compiled in. */
const fc_ukernel_table *fc_table_for_isa(fc_isa isa);

/* The C name of a registered microkernel ("fc_f32_igemm_ukernel_6x64__avx512"),
 * looked up by its address; "unknown" for any other pointer. fc_plan_name
 * fills plan->kernel from plan->kernel_fn (a scan of the registry: done when
 * a plan is read, not by the drivers). */
typedef void (*fc_any_ukernel)(void);
const char *fc_ukernel_name(fc_any_ukernel fn);
void fc_plan_name(fc_plan *plan);
#define FC_UKERNEL_FN(fn) ((fc_any_ukernel)(fn))

/* The registry as data: one record per registered microkernel, in the
 * registries' order (gemm, igemm, maxpool, unary, softmax, correlate, adam,
 * ndimage, gemv, convpool, probe, transpose), each line's kernels as the line lists
 * them. kind names the kernel's contract and table slot without the dtype
 * ("igemm", "maxpool_nhwc", "relu_bwd", "convpool_c1_wgrad"); tests and
 * benchmarks call fn cast to the kind's type. */
typedef struct {
  const char *name;   /* the C symbol */
  const char *family; /* the registry: gemm, igemm, maxpool, unary, ... */
  const char *kind;
  const char *dtype;  /* "f32" or "f64" */
  fc_isa isa;
  int mr, nr;         /* the tile (gemm, igemm, correlate), a probe's chains and
                         lanes; 0 elsewhere */
  double borrow;      /* igemm: the cost in higher ISAs' tables, 0 if not offered */
  fc_any_ukernel fn;
} fc_ukernel_info;
int fc_ukernel_count(void);
const fc_ukernel_info *fc_ukernel_at(int i); /* NULL outside 0 .. count - 1 */
/* The slot registered kernel i fills in isa's table, as "f32_relu" or
 * "f32_igemm[3]", written to buf (size bytes); 0 if it fills none there (a
 * higher ISA's line took its place, or the ISA is below the kernel's or not
 * compiled). *cost (if given) gets an igemm tile's cost there, else 1. */
int fc_ukernel_slot(int i, fc_isa isa, char *buf, size_t size, double *cost);

/* ISA tokens of the registries as fc_isa values */
#define FC_ISA_OF_scalar FC_ISA_SCALAR
#define FC_ISA_OF_avx2 FC_ISA_AVX2
#define FC_ISA_OF_avx512 FC_ISA_AVX512
#define FC_ISA_OF(isa) FC_ISA_OF_##isa

/* Declarations of every microkernel: generated by each registry. */
#define FC_DECLARE_GEMM(dtype, ctype, tile, isa)                                            \
  void fc_##dtype##_gemm_ukernel_##tile##__##isa(size_t kc, const ctype *a, const ctype *b, \
                                                  ctype *c, size_t ldc, size_t m, size_t n,  \
                                                  const ctype *bias, unsigned flags);
#define FC_DECLARE_IGEMM(dtype, ctype, tile, isa)                                            \
  void fc_##dtype##_igemm_ukernel_##tile##__##isa(size_t ks, size_t kc, const ctype *const *a, \
                                                   size_t a_offset, size_t a_stride,           \
                                                   const ctype *zero,                          \
                                                   const ctype *b, size_t ldb, ctype *c,       \
                                                   size_t ldc,                                 \
                                                   size_t m, size_t n, const ctype *bias,      \
                                                   unsigned flags);
#define FC_DECLARE_MAXPOOL(dtype, ctype, layout, isa)                                           \
  void fc_##dtype##_maxpool_##layout##_ukernel__##isa(const fc_pool2d_params *p,                \
                                                      const ctype *plane, int64_t oy, ctype *y, \
                                                      int64_t *idx);
#define FC_DECLARE_MAXPOOL_CODE(dtype, ctype, isa)                                         \
  void fc_##dtype##_maxpool_code_ukernel__##isa(const fc_pool2d_params *p, const ctype *image, \
                                                int64_t oy, ctype *y, uint8_t *code); \
  void fc_##dtype##_unpool_code_ukernel__##isa(size_t n, size_t nr, size_t places,            \
                                               const ctype *g, const uint8_t *code,           \
                                               ctype *const *dst);
#define FC_DECLARE_CORRELATE(dtype, ctype, tile, isa)                                       \
  void fc_##dtype##_correlate_ukernel_##tile##__##isa(size_t n, size_t kh, size_t kw,       \
                                                      const ctype *x, size_t ldx,           \
                                                      const ctype *w, ctype *y);
#define FC_NDIMAGE(dtype, ctype, isa)                                                          \
  void fc_##dtype##_ndline_ukernel__##isa(size_t n, size_t m, const ctype *const *x,           \
                                          const double *w, int sym, ctype *y);                 \
  void fc_##dtype##_runsum_ukernel__##isa(size_t n, double *acc, const ctype *x_in,            \
                                          const ctype *x_out, double m, ctype *y);             \
  void fc_##dtype##_runlines_ukernel__##isa(size_t k, size_t n, const ctype *const *x_in,      \
                                            const ctype *const *x_out, double *acc, double m,  \
                                            ctype *const *y);
#define FC_NDIMAGE_ACC(isa)                                                                     \
  void fc_f64_ndcorrelate_ukernel__##isa(size_t n, size_t kh, size_t kw, const double *x,       \
                                         size_t ldx, const double *w, double *y);              \
  void fc_f64_ndstore_ukernel__##isa(fc_elem elem, size_t n, const double *d, void *y, int safe);
#define FC_DECLARE_UNARY(dtype, ctype, op, isa) \
  void fc_##dtype##_##op##_ukernel__##isa(size_t n, const ctype *x, ctype *y);

#define FC_DECLARE_BINARY(dtype, ctype, op, isa) \
  void fc_##dtype##_##op##_ukernel__##isa(size_t n, const ctype *a, const ctype *b, ctype *z);

#define FC_GEMM(dtype, ctype, mr, nr, isa) FC_DECLARE_GEMM(dtype, ctype, mr##x##nr, isa)
#define FC_IGEMM(dtype, ctype, mr, nr, isa, borrow) FC_DECLARE_IGEMM(dtype, ctype, mr##x##nr, isa)
#define FC_MAXPOOL(dtype, ctype, layout, isa) FC_DECLARE_MAXPOOL(dtype, ctype, layout, isa)
#define FC_MAXPOOL_CODE(dtype, ctype, isa) FC_DECLARE_MAXPOOL_CODE(dtype, ctype, isa)
#define FC_DECLARE_ADAM(dtype, ctype, isa)                                                    \
  void fc_##dtype##_adam_ukernel__##isa(size_t n, ctype *p, const ctype *g, ctype *m, ctype *v, \
                                        const fc_##dtype##_adam_params *c);
#define FC_ADAM(dtype, ctype, isa) FC_DECLARE_ADAM(dtype, ctype, isa)
#define FC_GEMV(dtype, ctype, isa)                                                              \
  void fc_##dtype##_gemv_ukernel__##isa(size_t nb, size_t kc, size_t mc, const ctype *x,        \
                                        size_t ldx, const ctype *w, size_t ldw, ctype *y,       \
                                        size_t ldy, unsigned flags);                            \
  void fc_##dtype##_gemv_sparse_ukernel__##isa(                                               \
      size_t nb, const size_t *nnz, const uint32_t *const *idx, const ctype *const *val,         \
      size_t mc, const ctype *w, size_t ldw, ctype *y, size_t ldy, unsigned flags);
#define FC_UNARY(dtype, ctype, op, isa) FC_DECLARE_UNARY(dtype, ctype, op, isa)
#define FC_SOFTMAX(dtype, ctype, isa) \
  double fc_##dtype##_softmax_ukernel__##isa(size_t n, const ctype *x, ctype *y, ctype *top);
#define FC_BINARY(dtype, ctype, op, isa) FC_DECLARE_BINARY(dtype, ctype, op, isa)
#define FC_CORRELATE(dtype, ctype, mr, nr, isa) FC_DECLARE_CORRELATE(dtype, ctype, mr##x##nr, isa)
#define FC_CONVPOOL(dtype, ctype, geometry, isa)                                                \
  void fc_##dtype##_convpool_##geometry##_ukernel__##isa(const ctype *x, size_t ldx, size_t pw, \
                                                         size_t K, const ctype *w,              \
                                                         const ctype *bias, ctype *y,           \
                                                         uint8_t *code);                        \
  unsigned fc_##dtype##_convpool_##geometry##_wgrad_ukernel__##isa(                             \
      const ctype *x, size_t ldx, size_t pw, size_t K, const ctype *g, const uint8_t *code,     \
      ctype *gw, ctype *gb);
#include "../../ukernels/gemm.inc"
#include "../../ukernels/igemm.inc"
#include "../../ukernels/maxpool.inc"
#include "../../ukernels/unary.inc"
#include "../../ukernels/softmax.inc"
#include "../../ukernels/correlate.inc"
#include "../../ukernels/adam.inc"
#include "../../ukernels/ndimage.inc"
#include "../../ukernels/gemv.inc"
#include "../../ukernels/convpool.inc"
#define FC_CONV(dtype, ctype, geometry, isa)                                                  \
  void fc_##dtype##_conv_##geometry##_ukernel__##isa(const ctype *x, size_t ldx, size_t c,    \
                                                     size_t ow, size_t K, const ctype *w,     \
                                                     const ctype *bias, ctype *y, size_t ldy);
#include "../../ukernels/conv.inc"
#undef FC_CONV
#define FC_PROBE(dtype, ctype, isa, chains, lanes) ctype fc_##dtype##_fma_probe__##isa(uint64_t iters);
#include "../../ukernels/probe.inc"
#undef FC_PROBE
#define FC_TRANSPOSE(dtype, ctype, isa)                                                        \
  void fc_##dtype##_transpose_ukernel__##isa(size_t np, size_t nj, const ctype *restrict src, \
                                             size_t lds, ctype *restrict dst, size_t ldd);
#include "../../ukernels/transpose.inc"
#undef FC_TRANSPOSE
#undef FC_ADAM
#undef FC_GEMV
#undef FC_GEMM
#undef FC_IGEMM
#undef FC_MAXPOOL
#undef FC_MAXPOOL_CODE
#undef FC_UNARY
#undef FC_SOFTMAX
#undef FC_BINARY
#undef FC_CORRELATE
#undef FC_NDIMAGE
#undef FC_NDIMAGE_ACC
#undef FC_CONVPOOL

#endif
