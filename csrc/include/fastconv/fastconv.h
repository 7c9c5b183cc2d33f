/* fastconv public C API.
 *
 * Plain C: pointers, 64-bit sizes and a status code. Every array is dense and
 * C-contiguous in the layout named by the call; the Python layer makes it so.
 * Shapes are validated by the caller (Python) *and* re-checked here, so a
 * direct C caller gets FC_EINVAL instead of a wild read. No function keeps a
 * pointer after it returns; all of them may be called from several threads.
 */
#ifndef FASTCONV_FASTCONV_H
#define FASTCONV_FASTCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  FC_OK = 0,
  FC_EINVAL = 1, /* inconsistent sizes or parameters */
  FC_ENOMEM = 2, /* a scratch buffer could not be allocated */
  FC_EOVERFLOW = 3, /* a size computation overflowed int64 */
  FC_ETHREAD = 4    /* a worker thread could not be started; nothing was computed */
} fc_status;

typedef enum { FC_NCHW = 0, FC_NHWC = 1 } fc_layout;

typedef enum { FC_ISA_SCALAR = 0, FC_ISA_AVX2 = 1, FC_ISA_AVX512 = 2 } fc_isa;
#define FC_ISA_COUNT 3 /* the ISAs are 0 .. FC_ISA_COUNT - 1; fc_isa_name names them */

/* ---- measured costs -------------------------------------------------------
 * The thresholds and rates the planners decide by, measured on one machine:
 * fastconv/costs.def lists them, saying what each is, how it was measured and
 * on which CPU. The whole numbers are these enum constants (for instance
 * FC_CONV2D_IGEMM_MIN_DEPTH, the depth C/groups * R * S from which conv2d in
 * NCHW takes the indirect GEMM); fc_costs lists every one, real ones too. */
#define FC_COST(name, value, doc) name = value,
enum {
#include "fastconv/costs.def"
  FC_COST_ENUM_END_
};
typedef struct {
  const char *name; /* "FC_CONV2D_IGEMM_MIN_DEPTH", ... */
  double value;
  int whole;        /* 1 for a whole number (an enum constant above) */
  const char *doc;  /* what it is, measured how and where */
} fc_cost;
/* The table of costs, in costs.def's order; *count receives its length. */
const fc_cost *fc_costs(int *count);

/* ---- conv2d ------------------------------------------------------------- */
/* Cross-correlation, as in every deep-learning library.
 *   NCHW: x (n, c, h, w), weight (k, c/groups, r, s),  y (n, k, oh, ow)
 *   NHWC: x (n, h, w, c), weight (r, s, c/groups, k),  y (n, oh, ow, k)
 * pad_top/pad_left pad the start of each axis; the end is padded by whatever
 * oh/ow need (so asymmetric 'same' padding is expressed by oh/ow). bias is
 * NULL or k values. y never aliases x, weight or bias. */
typedef struct {
  int64_t n, c, h, w; /* input */
  int64_t k, r, s;    /* output channels, kernel height, kernel width */
  int64_t oh, ow;     /* output height and width */
  int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, groups;
  fc_layout layout;
} fc_conv2d_params;

int fc_f32_conv2d(const fc_conv2d_params *p, const float *x, const float *weight,
                  const float *bias, float *y);
int fc_f64_conv2d(const fc_conv2d_params *p, const double *x, const double *weight,
                  const double *bias, double *y);

/* TensorFlow's 'same' padding of one axis of n >= 0 positions for a kernel of
 * `kernel` taps at `stride` and `dilation` (all >= 1): ceil(n / stride) outputs
 * into *out, the pad before them into *pad_before (the odd pad goes at the end).
 * Returns the total pad, or -1 if the kernel's span overflows int64. */
static inline int64_t fc_same_padding(int64_t n, int64_t kernel, int64_t stride, int64_t dilation,
                                      int64_t *pad_before, int64_t *out) {
  int64_t span;
  if (__builtin_mul_overflow(kernel - 1, dilation, &span) || __builtin_add_overflow(span, 1, &span))
    return -1;
  const int64_t o = n / stride + (n % stride != 0);
  int64_t total = (o - 1) * stride - n; /* in [-stride - n, 0): no overflow */
  if (__builtin_add_overflow(total, span, &total)) return -1;
  if (total < 0) total = 0;
  *pad_before = total / 2;
  *out = o;
  return total;
}

/* Weight gradient of fc_*_conv2d: gw = sum over images and output pixels of
 * gy x (input window), for gy of y's shape. gw is laid out as the layout's
 * weight: (k, c/groups, r, s) for FC_NCHW, (r, s, c/groups, k) for FC_NHWC.
 * Bitwise reproducible at a fixed thread count. */
int fc_f32_conv2d_backward_weight(const fc_conv2d_params *p, const float *x, const float *gy,
                                  float *gw);
int fc_f64_conv2d_backward_weight(const fc_conv2d_params *p, const double *x, const double *gy,
                                  double *gw);

/* Bias gradient of fc_*_conv2d: gb[k] = gy summed over images and output
 * pixels (gy of y's shape, gb of k values), on fastconv's threads. Each
 * channel is summed in one fixed order, whatever the thread count. */
int fc_f32_conv2d_backward_bias(const fc_conv2d_params *p, const float *gy, float *gb);
int fc_f64_conv2d_backward_bias(const fc_conv2d_params *p, const double *gy, double *gb);

/* Input gradient of fc_*_conv2d: gx (x's shape) for gy of y's shape, the
 * algorithm chosen here (what conv2d_backward runs): `path` FC_INPUT_GRAD_AUTO
 * takes the transposed convolution when the input has at least
 * FC_TRANSPOSED_MIN_CHANNELS channels per group, the stride is 1 and every
 * weight is finite, else GEMM + col2im (any stride, parallel over images);
 * FC_INPUT_GRAD_COL2IM and FC_INPUT_GRAD_TRANSPOSED force one (for tests).
 * Either is bitwise reproducible.
 * The transposed convolution is a stride-1 forward conv2d of gy (placed on a
 * zero grid first when the stride is above 1 or the padding reaches past the
 * kernel) with the weights flipped in space and their input and output
 * channels swapped per group, packed into scratch; it multiplies its zero
 * padding by the weights, so an inf or NaN weight would reach pixels its tap
 * never touches -- hence the finiteness check. gx (x's shape) is written whole. */
typedef enum {
  FC_INPUT_GRAD_AUTO = 0,
  FC_INPUT_GRAD_COL2IM = 1,
  FC_INPUT_GRAD_TRANSPOSED = 2
} fc_input_grad_path;
int fc_f32_conv2d_input_grad(const fc_conv2d_params *p, const float *gy, const float *weight,
                             fc_input_grad_path path, float *gx);
int fc_f64_conv2d_input_grad(const fc_conv2d_params *p, const double *gy, const double *weight,
                             fc_input_grad_path path, double *gx);

/* ---- relu: y[i] = max(x[i], 0), NaN propagates; y may equal x ----------- */
int fc_f32_relu(int64_t n_elems, const float *x, float *y);
int fc_f64_relu(int64_t n_elems, const double *x, double *y);
/* gx[i] = x[i] <= 0 ? 0 : gy[i] (NaN in x passes gy, as PyTorch); gx may equal gy */
int fc_f32_relu_backward(int64_t n_elems, const float *gy, const float *x, float *gx);
int fc_f64_relu_backward(int64_t n_elems, const double *gy, const double *x, double *gx);

/* ---- max_pool2d ----------------------------------------------------------
 *   NCHW: x (n, c, h, w) -> y (n, c, oh, ow);  NHWC: x (n, h, w, c) -> y (n, oh, ow, c)
 * Window (oy, ox) reads rows oy * stride_h - pad_top + i * dil_h (i < kernel_h)
 * and likewise columns. Padding is implicit -inf; every window must hold at
 * least one input element, else FC_EINVAL. A window holding NaN gives NaN.
 * indices (NULL or the shape of y) receive the flat position h_in * w + w_in
 * of the chosen element inside its (h, w) plane, as PyTorch returns them: the
 * first maximum in row-major window order, or the last NaN. */
typedef struct {
  int64_t n, c, h, w;
  int64_t oh, ow;
  int64_t kernel_h, kernel_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  fc_layout layout;
} fc_pool2d_params;

int fc_f32_max_pool2d(const fc_pool2d_params *p, const float *x, float *y, int64_t *indices);
int fc_f64_max_pool2d(const fc_pool2d_params *p, const double *x, double *y, int64_t *indices);
/* gx (the shape of x, zeroed here) receives gy[o] at indices[o] of each output's
 * plane, summed where windows overlap. FC_EINVAL if an index is outside [0, h*w). */
int fc_f32_max_pool2d_backward(const fc_pool2d_params *p, const float *gy, const int64_t *indices,
                               float *gx);
int fc_f64_max_pool2d_backward(const fc_pool2d_params *p, const double *gy,
                               const int64_t *indices, double *gx);

/* ---- conv2d fused with the max-pool after it (channels-last) ----------------
 * y = max_pool2d(conv2d(x, weight, bias)) without the conv output ever
 * going to memory; weight is (r, s, c/groups, k) as for NHWC conv2d; p and
 * q describe the two ops (q->h, q->w = p->oh, p->ow; q->c = p->k) and the
 * pool's windows must tile without overlap or padding (stride == kernel,
 * dilation 1, pad 0), and a window of at most 256 places, else FC_EINVAL. code (may be
 * NULL) receives, for each output, the place of its maximum in its window,
 * dy * kernel_w + dx (the same element max_pool2d's index names: the first
 * maximum in row-major order, a NaN winning). The backward gives conv2d's
 * weight gradient, (r, s, c/groups, k) as the weight, and bias gradient
 * (unless gb is NULL) from the pool's output gradient gy and those codes;
 * FC_EINVAL also when a code lies outside its window. */
int fc_f32_conv2d_maxpool(const fc_conv2d_params *p, const fc_pool2d_params *q, const float *x,
                          const float *weight, const float *bias, float *y, uint8_t *code);
int fc_f64_conv2d_maxpool(const fc_conv2d_params *p, const fc_pool2d_params *q, const double *x,
                          const double *weight, const double *bias, double *y, uint8_t *code);
int fc_f32_conv2d_maxpool_backward_weight(const fc_conv2d_params *p, const fc_pool2d_params *q,
                                          const float *x, const float *gy, const uint8_t *code,
                                          float *gw, float *gb);
int fc_f64_conv2d_maxpool_backward_weight(const fc_conv2d_params *p, const fc_pool2d_params *q,
                                          const double *x, const double *gy, const uint8_t *code,
                                          double *gw, double *gb);

/* ---- dense (fully connected) layer -----------------------------------------
 * y (n x m) = x (n x k) @ w (k x m) + bias (m values, or NULL), all C-contiguous
 * and y aliasing nothing. Backward: gx = gy @ w^T (n x k) and gw = x^T @ gy
 * (k x m), each skipped when its pointer is NULL. */
int fc_f32_dense(int64_t n, int64_t k, int64_t m, const float *x, const float *w,
                 const float *bias, float *y);
int fc_f64_dense(int64_t n, int64_t k, int64_t m, const double *x, const double *w,
                 const double *bias, double *y);
int fc_f32_dense_backward(int64_t n, int64_t k, int64_t m, const float *gy, const float *x,
                          const float *w, float *gx, float *gw);
int fc_f64_dense_backward(int64_t n, int64_t k, int64_t m, const double *gy, const double *x,
                          const double *w, double *gx, double *gw);
/* dense_backward, then one Keras Adam step of w in place (as fc_*_adam_update,
 * moments mom and vel) with the kernel gradient, in one sweep over w's rows;
 * gx (may be NULL) comes from w before the step; gw receives the kernel
 * gradient unless it is NULL. */
int fc_f32_dense_backward_adam(int64_t n, int64_t k, int64_t m, const float *gy, const float *x,
                               float *w, float *gx, float *gw, float *mom, float *vel,
                               double alpha, double beta_1, double beta_2, double epsilon);
int fc_f64_dense_backward_adam(int64_t n, int64_t k, int64_t m, const double *gy,
                               const double *x, double *w, double *gx, double *gw, double *mom,
                               double *vel, double alpha, double beta_1, double beta_2,
                               double epsilon);

/* ---- softmax over the last axis ----------------------------------------------
 * Each of `rows` rows of `cols` values becomes exp(x - max) / sum(exp(x - max)),
 * the row's maximum subtracted first so that nothing overflows; the sum is kept
 * in double. As the formula gives in IEEE arithmetic, a row holding NaN or +inf
 * becomes NaN. y may equal x. Rows are independent: a row's result does not
 * depend on the others or on the thread count. */
int fc_f32_softmax(int64_t rows, int64_t cols, const float *x, float *y);
int fc_f64_softmax(int64_t rows, int64_t cols, const double *x, double *y);

/* The sparse categorical cross-entropy of a softmax, from its logits z: for
 * each row r with class label[r] and weight w[r] (1 when w is NULL),
 *   loss    += w[r] * (log(sum_j exp(z[r,j] - max)) - (z[r,label] - max))  (double)
 *   grad[r] = ((softmax(z[r]) - onehot(label)) * w[r]) / rows              (T)
 * softmax(z[r]) having fc_*_softmax's bits, and with `probs` (may be NULL) the
 * rows whose argmax of probs[r] (NumPy's: the first maximum, or the first NaN)
 * is label[r] counted into *correct. Every label is checked first: one outside
 * [0, cols) gives FC_EINVAL, the first such row in *bad (else -1), and nothing
 * written. The rows' terms are summed in fixed-size blocks added in order: the
 * same bits at any thread count. */
int fc_f32_softmax_xent(int64_t rows, int64_t cols, const float *z, const int64_t *labels,
                        const float *w, const float *probs, float *grad, double *loss,
                        int64_t *correct, int64_t *bad);
int fc_f64_softmax_xent(int64_t rows, int64_t cols, const double *z, const int64_t *labels,
                        const double *w, const double *probs, double *grad, double *loss,
                        int64_t *correct, int64_t *bad);

/* ---- dropout (training) -------------------------------------------------------
 * y[i] = x[i] * mask[i], mask[i] = scale (as T) where element i is kept and 0
 * where it is dropped; mask may be NULL. Element i is kept when its word of
 * the counter-based stream of `seed` (splitmix64 of seed + (i/2 + 1) * 0x9E3779B97F4A7C15,
 * low 32 bits for even i, high for odd) has its top 24 bits >= ceil(rate * 2^24),
 * rate rounded to float: as a float32 uniform u in [0, 1) of 24 bits, u >= rate.
 * y may equal x. The same bits at any thread count. FC_EINVAL for rate outside [0, 1). */
int fc_f32_dropout(int64_t n, const float *x, float *y, float *mask, uint64_t seed, double rate,
                   double scale);
int fc_f64_dropout(int64_t n, const double *x, double *y, double *mask, uint64_t seed,
                   double rate, double scale);

/* ---- a model's inference pass in one call ------------------------------------
 * A chain of steps, each reading the previous step's output (the first reads
 * x, n samples) and writing the next input (the last writes y). Each step runs
 * the same entry point as the op alone, with the same arguments, so the chain
 * gives the bits the ops give one by one. Sizes are per sample (the conv and
 * pool params' n is ignored: the call's n is used). Channels-last throughout.
 *   CONV2D          fc_*_conv2d, layout NHWC          in h*w*c      out oh*ow*k
 *   CONV2D_MAXPOOL  fc_*_conv2d_maxpool (conv, pool)  in h*w*c      out pool oh*ow*k
 *   MAXPOOL         fc_*_max_pool2d (pool), NHWC      in h*w*c      out oh*ow*c
 *   DENSE           rows x k times weight (k x m) + bias, per sample
 *   ACTIVATION      `rows` rows of `m` values
 * Every step's output then goes through `act` (softmax over its last axis). */
typedef enum { FC_ACT_LINEAR = 0, FC_ACT_RELU = 1, FC_ACT_SOFTMAX = 2 } fc_activation;
typedef enum {
  FC_STEP_CONV2D = 0,
  FC_STEP_CONV2D_MAXPOOL = 1,
  FC_STEP_MAXPOOL = 2,
  FC_STEP_DENSE = 3,
  FC_STEP_ACTIVATION = 4
} fc_step_op;
typedef struct {
  fc_step_op op;
  fc_activation act;
  fc_conv2d_params conv; /* CONV2D, CONV2D_MAXPOOL */
  fc_pool2d_params pool; /* MAXPOOL, CONV2D_MAXPOOL */
  int64_t rows, k, m;    /* DENSE, ACTIVATION */
  const void *weight, *bias; /* CONV2D, CONV2D_MAXPOOL, DENSE (bias may be NULL) */
} fc_step;

/* Elements of scratch fc_*_forward needs for n samples (the same for both
 * dtypes), or -1 when the chain is inconsistent (a step's input size is not
 * the previous step's output size, or a step's params are invalid) and -2 on
 * overflow. *in_elems and *out_elems (may be NULL) receive the chain's input
 * and output elements per sample. */
int64_t fc_forward_scratch_elems(int64_t n, int n_steps, const fc_step *steps,
                                 int64_t *in_elems, int64_t *out_elems);
/* x holds n * in_elems values, y n * out_elems; scratch at least
 * fc_forward_scratch_elems(...) values (may be NULL when that is 0). */
int fc_f32_forward(int64_t n, int n_steps, const fc_step *steps, const float *x, float *y,
                   float *scratch, int64_t scratch_elems);
int fc_f64_forward(int64_t n, int n_steps, const fc_step *steps, const double *x, double *y,
                   double *scratch, int64_t scratch_elems);
/* The chain on n samples in consecutive batches of `batch` (the last may be
 * smaller), each exactly as fc_*_forward runs it on that batch; with more
 * than one batch and more than one thread the batches are shared out among
 * the threads, each running its batches' ops on itself alone. With enough
 * batches (FC_FORWARD_PACK_MIN_BATCHES) each dense step's kernel is packed
 * once for the call, in memory of its own the size of the kernel, to the
 * same bits. scratch: at least fc_forward_batches_scratch_elems(...) values
 * (-1: an inconsistent chain, -2: overflow). */
int64_t fc_forward_batches_scratch_elems(int64_t n, int64_t batch, int n_steps,
                                         const fc_step *steps);
int fc_f32_forward_batches(int64_t n, int64_t batch, int n_steps, const fc_step *steps,
                           const float *x, float *y, float *scratch, int64_t scratch_elems);
int fc_f64_forward_batches(int64_t n, int64_t batch, int n_steps, const fc_step *steps,
                           const double *x, double *y, double *scratch, int64_t scratch_elems);
/* Multiply-adds of one sample through the chain (conv2d and dense steps;
 * saturates at INT64_MAX), or -1 when the chain is inconsistent. */
int64_t fc_forward_macs(int n_steps, const fc_step *steps);

/* ---- optimizer: one Keras Adam step in place (alpha includes bias correction) */
int fc_f32_adam_update(int64_t n, float *p, const float *g, float *m, float *v, double alpha,
                       double beta_1, double beta_2, double epsilon);
int fc_f64_adam_update(int64_t n, double *p, const double *g, double *m, double *v,
                       double alpha, double beta_1, double beta_2, double epsilon);

/* ---- correlate2d / correlate1d (behind the NumPy/SciPy drop-ins) ---------
 * 2-D cross-correlation, no conjugation:
 *   y[r, c] = sum_{i < kh} sum_{j < kw} X(r - pad_top + i, c - pad_left + j) * k[i, j]
 * for r < oh, c < ow. X extends x (h x w, rows ldx elements apart, unit column
 * stride) past its edges, each axis by the same rule: scipy.signal.correlate2d's
 * three and the two more that scipy.ndimage's filters have:
 *   FC_BOUNDARY_FILL     fillvalue (ndimage 'constant', 'grid-constant');
 *   FC_BOUNDARY_WRAP     periodic, x[r mod h, c mod w] (ndimage 'wrap', 'grid-wrap');
 *   FC_BOUNDARY_SYMM     mirrored with the edge repeated: d c b a | a b c d | d c b a,
 *                        as often as needed (ndimage 'reflect', 'grid-mirror');
 *   FC_BOUNDARY_MIRROR   mirrored about the edge value: d c b | a b c d | c b a, period
 *                        2n - 2; an axis of length 1 repeats its value (ndimage 'mirror');
 *   FC_BOUNDARY_NEAREST  the edge value repeated: a a | a b c d | d d (ndimage 'nearest').
 * k is kh x kw and y is oh x ow, both dense row-major; y aliases neither input.
 * Convolution is this with k flipped and the pads mirrored (the caller does it).
 * kh, kw >= 1; every boundary but FILL needs h, w >= 1 unless y is empty.
 *
 * 1-D: y[i] = sum_{t < m} X(i - pad_left + t) * w[t] for i < out_n, X being x[0..n)
 * extended by zeros; the 2-D case with one row. m >= 1. */
typedef enum {
  FC_BOUNDARY_FILL = 0,
  FC_BOUNDARY_WRAP = 1,
  FC_BOUNDARY_SYMM = 2,
  FC_BOUNDARY_MIRROR = 3,
  FC_BOUNDARY_NEAREST = 4
} fc_boundary;

typedef struct {
  int64_t h, w, ldx;         /* input rows, columns, row stride in elements (>= w) */
  int64_t kh, kw;            /* kernel rows and columns */
  int64_t oh, ow;            /* output rows and columns */
  int64_t pad_top, pad_left; /* y[0, 0] reads X from (-pad_top, -pad_left); may be < 0 */
  fc_boundary boundary;
} fc_correlate2d_params;

int fc_f32_correlate2d(const fc_correlate2d_params *p, const float *x, const float *k,
                       float fillvalue, float *y);
int fc_f64_correlate2d(const fc_correlate2d_params *p, const double *x, const double *k,
                       double fillvalue, double *y);
/* Images stacked into one tall input (h = images * every rows), correlated
 * 'valid' with the zero boundary: p->boundary is FC_BOUNDARY_FILL, the pads 0,
 * p->oh = h - kh + 1. Output row R is row R % every of image R / every; y is
 * images x keep x ow, dense, and holds rows 0..keep-1 of each image (keep <=
 * every - kh + 1 leaves out the rows whose windows straddle two images: they
 * are not computed). add = 0 writes y; add = 1 adds each computed row to y
 * (y + row, as NumPy's add of the written result). FC_EINVAL for every < 1,
 * keep outside [1, every] or another boundary. */
int fc_f32_correlate2d_stacked(const fc_correlate2d_params *p, int64_t every, int64_t keep,
                               int add, const float *x, const float *k, float *y);
int fc_f64_correlate2d_stacked(const fc_correlate2d_params *p, int64_t every, int64_t keep,
                               int add, const double *x, const double *k, double *y);
int fc_f32_correlate1d(int64_t n, const float *x, int64_t m, const float *w, int64_t pad_left,
                       int64_t out_n, float *y);
int fc_f64_correlate1d(int64_t n, const double *x, int64_t m, const double *w, int64_t pad_left,
                       int64_t out_n, double *y);

/* ---- correlatend, correlate_axis, uniform_axis (behind fastconv.ndimage) --
 * N-d correlation with an output of the input's shape, as scipy.ndimage.correlate:
 *   y[o] = sum_t X(o - pad + t) * k[t]       (o, t, pad: vectors over ndim axes)
 * x and y have `shape`, k has `kshape`, all dense C order; y aliases neither
 * input. X extends x along every axis by `boundary` (FC_BOUNDARY_*, above; with
 * FILL, a position outside on any axis reads fillvalue). The last two axes are
 * correlated plane by plane as fc_*_correlate2d does; the leading kernel axes
 * add one plane correlation per kernel slice, in C order.
 *   f32: float32 SIMD kernels with FMA (a direct sum's rounding);
 *   f64: scipy.ndimage.correlate's own arithmetic: each output is 0.0 plus
 *        x * k over the non-zero weights in C order, without FMA, so the bits
 *        are SciPy's (NI_Correlate also skips weights of magnitude <= DBL_EPSILON
 *        and NaN: the caller zeroes those).
 * 1 <= ndim <= FC_ND_MAX_DIMS; kshape >= 1; shape >= 0 (nothing to do when
 * empty); -2**62 < pad < 2**62. */
enum { FC_ND_MAX_DIMS = 64 };
typedef struct {
  int ndim;
  int64_t shape[FC_ND_MAX_DIMS], kshape[FC_ND_MAX_DIMS], pad[FC_ND_MAX_DIMS];
  fc_boundary boundary;
} fc_correlatend_params;

int fc_f32_correlatend(const fc_correlatend_params *p, const float *x, const float *k,
                       float fillvalue, float *y);
int fc_f64_correlatend(const fc_correlatend_params *p, const double *x, const double *k,
                       double fillvalue, double *y);
/* The same, and *finite = 1 if every value of y is finite, else 0 (each task
 * looks at its block while it is in cache: where float32 sums overflowed and
 * double ones would not, the caller redoes them). */
int fc_f32_correlatend_finite(const fc_correlatend_params *p, const float *x, const float *k,
                              float fillvalue, float *y, int *finite);
int fc_f64_correlatend_finite(const fc_correlatend_params *p, const double *x, const double *k,
                              double fillvalue, double *y, int *finite);

/* Element types that scipy.ndimage reads as doubles and stores doubles into
 * (bool as its bytes: U8). fc_load_doubles: n values at x as doubles.
 * fc_store_doubles: n doubles into y as SciPy's C loops store a double on
 * x86-64 (integers: truncation through a 32- or 64-bit integer, wrapped;
 * `safe`, NI_Correlate's unsigned store, negates around the conversion below
 * zero, which changes only uint64; float32 rounded to nearest). */
typedef enum {
  FC_ELEM_I8, FC_ELEM_U8, FC_ELEM_I16, FC_ELEM_U16, FC_ELEM_I32, FC_ELEM_U32,
  FC_ELEM_I64, FC_ELEM_U64, FC_ELEM_F32, FC_ELEM_F64
} fc_elem;
size_t fc_elem_size(fc_elem t);
void fc_load_doubles(fc_elem t, const void *x, int64_t n, double *d);
void fc_store_doubles(fc_elem t, const double *d, int64_t n, void *y, int safe);
/* fc_f64_correlatend of x, whose values are of type xt, into y of type yt
 * (each output stored as fc_store_doubles stores it, with `safe`): each task
 * reads its windows as doubles and stores its block of sums, in cache, where
 * converting whole arrays would pass through memory three times more. */
int fc_correlatend_typed(const fc_correlatend_params *p, fc_elem xt, const void *x,
                         const double *k, double fillvalue, fc_elem yt, void *y, int safe);

/* 1-D filters along the middle axis of x seen as (outer, n, inner), dense C
 * order, into y of the same shape (aliasing nothing), with scipy.ndimage's
 * arithmetic in double (its line buffers), so the bits are SciPy's:
 *   correlate_axis: y[a, i, b] = NI_Correlate1D's sum over t < m of
 *       X(a, i - pad + t, b) * w[t] (scipy.ndimage.correlate1d), m taps;
 *   uniform_axis:   the running mean of X(a, i - pad .. i - pad + m - 1, b),
 *       NI_UniformFilter1D's running sum divided by m (uniform_filter1d).
 * X extends the axis of length n by `boundary`; fillvalue is stored in the
 * dtype of x. m >= 1; outer, n, inner >= 0; -2**62 < pad < 2**62. */
typedef struct {
  int64_t outer, n, inner;
  int64_t m;   /* taps, or the window length */
  int64_t pad; /* output i reads X from i - pad */
  fc_boundary boundary;
} fc_axis_params;

int fc_f32_correlate_axis(const fc_axis_params *p, const float *x, const double *w,
                          float fillvalue, float *y);
int fc_f64_correlate_axis(const fc_axis_params *p, const double *x, const double *w,
                          double fillvalue, double *y);
int fc_f32_uniform_axis(const fc_axis_params *p, const float *x, float fillvalue, float *y);
int fc_f64_uniform_axis(const fc_axis_params *p, const double *x, double fillvalue, double *y);

/* ---- plans: what a call will run, decided before it runs ------------------
 * A planner fills an fc_plan from the call's parameters alone (no array is
 * read): the algorithm, the microkernel (its C name, from the dispatch table
 * in use), its register tile, the blocking, the threads the call would use at
 * the current thread count, and the scratch bytes it would allocate. The
 * drivers call the same planner and act on its result, so a plan is what
 * runs. Strings are static. FC_EINVAL / FC_EOVERFLOW as the op would return.
 * Fields that do not apply to an algorithm are 0 (or NULL). */
enum {
  FC_PLAN_MERGE_ROWS = 1u,      /* igemm: one pointer per kernel row (NHWC, 1 group) */
  FC_PLAN_SHARED_POINTERS = 2u, /* igemm: one row-pointer table for all tasks */
  FC_PLAN_TRANSPOSED_OUT = 4u,  /* igemm NCHW, dense GEMM: tiles into a block, transposed into y */
  FC_PLAN_INPUT_AS_IS = 8u,     /* backward weight: x read in place (no padded copy) */
  FC_PLAN_GY_AS_IS = 16u,       /* backward weight: grad_out read in place (no packing) */
  FC_PLAN_WEIGHTS_REORDERED = 32u, /* conv2d NCHW igemm: weights packed from (k, c, r, s) */
  FC_PLAN_TUNED_TILE = 64u,        /* the tile is the autotuner's choice (fc_tune_variant) */
  FC_PLAN_ZERO_GRID = 128u,        /* transposed conv: grad_out placed on a zero grid first */
  FC_PLAN_FORCED = 256u,           /* the caller forced the algorithm (tests) */
  FC_PLAN_BATCH_PANELS = 512u,     /* igemm NHWC: pixel panels run on across images */
  FC_PLAN_BORDER_TILES = 1024u,    /* igemm NHWC 3x3 pad 1: border pixels in tiles of their own,
                                      their padding taps skipped */
  FC_PLAN_PADDED_COPY = 2048u,     /* igemm NHWC: the input's rows copied with their horizontal
                                      padding, so one pointer serves a kernel row (merge_rows) */
  FC_PLAN_OWNED_ROWS = 4096u,      /* dense forward and backward-Adam sweep: each thread takes one
                                      fixed range of the kernel's rows (features), the same in both */
  FC_PLAN_CHANNELS_LAST_COPY = 8192u, /* igemm NCHW: chunks of images copied channels-last, the NHWC
                                         plan (the other flags) run on them, the results copied back */
  FC_PLAN_PANELS_INSIDE = 16384u, /* igemm border tiles: a task runs every weight panel on each of
                                     its tiles in turn (the packed weights fit half the L2) */
  FC_PLAN_SPLIT_OUTPUT = 32768u,   /* backward weight: each thread takes rows of the gradient over
                                      all pixels (no partials: the gradient is over half the L2) */
  FC_PLAN_POSITION_TILES = 65536u, /* igemm NHWC: tiles of images at one output pixel, their
                                      padding taps skipped */
  FC_PLAN_PANEL_TASKS = 131072u    /* igemm NHWC: a task is a weight panel over every pixel (few
                                      pixels, many weights: each weight read once) */
};
typedef struct {
  const char *algorithm;  /* "igemm", "packed-gemm", "gemm-col2im", "rows", ... */
  const char *kernel;     /* the microkernel's C name, e.g. "fc_f32_igemm_ukernel_6x64__avx512" */
  void (*kernel_fn)(void); /* its address (the drivers record this; the name is looked up
                              by the planners below and fc_last_plan) */
  int64_t mr, nr;         /* its register tile (rows x columns of C), 0 x 0 if none */
  int64_t depth_block;    /* depth per microkernel call (kc) */
  int64_t row_block;      /* rows (output pixels, output rows, elements) per task */
  int64_t tap_block;      /* igemm: kernel taps per pass over a weight panel */
  int64_t tasks;          /* units of the parallel loop */
  int64_t scratch_bytes;  /* allocated by the call, all threads together (saturating) */
  int threads;            /* threads the call runs on */
  int variant;            /* index of the chosen tile in the table's list (igemm) */
  unsigned flags;         /* FC_PLAN_* */
  fc_isa isa;             /* the dispatch table in use */
  const char *reason;     /* the rule that chose the algorithm, a short static name
                             ("few-channels", "strided", ...), or NULL */
} fc_plan;

int fc_f32_conv2d_plan(const fc_conv2d_params *p, fc_plan *plan);
int fc_f64_conv2d_plan(const fc_conv2d_params *p, fc_plan *plan);
/* fc_*_conv2d's plan for this call's weight (k * c/groups * r * s values) and
 * bias (k values, or NULL): fc_*_conv2d_plan's, except where that plan's
 * border tiles or position tiles would change the bits (a weight inf or NaN, a
 * bias element -0): then the pixel tiles', reason "border-data". */
int fc_f32_conv2d_data_plan(const fc_conv2d_params *p, const float *weight, const float *bias,
                            fc_plan *plan);
int fc_f64_conv2d_data_plan(const fc_conv2d_params *p, const double *weight, const double *bias,
                            fc_plan *plan);
int fc_f32_conv2d_backward_weight_plan(const fc_conv2d_params *p, fc_plan *plan);
int fc_f64_conv2d_backward_weight_plan(const fc_conv2d_params *p, fc_plan *plan);
int fc_f32_conv2d_backward_bias_plan(const fc_conv2d_params *p, fc_plan *plan);
int fc_f64_conv2d_backward_bias_plan(const fc_conv2d_params *p, fc_plan *plan);
/* fc_*_conv2d_input_grad's plan. weight (may be NULL: taken as finite) is read
 * only when the rule needs its finiteness. The transposed convolution's plan
 * is the forward conv2d's on the transposed sizes, named "transposed-conv
 * (igemm)" or "transposed-conv (packed-gemm)", its scratch including the
 * flipped weights and the zero grid. reason: "few-channels", "strided",
 * "nonfinite-weights" or "rule" (the transposed convolution), or "forced". */
int fc_f32_conv2d_input_grad_plan(const fc_conv2d_params *p, const float *weight,
                                  fc_input_grad_path path, fc_plan *plan);
int fc_f64_conv2d_input_grad_plan(const fc_conv2d_params *p, const double *weight,
                                  fc_input_grad_path path, fc_plan *plan);
int fc_f32_max_pool2d_plan(const fc_pool2d_params *p, fc_plan *plan);
int fc_f64_max_pool2d_plan(const fc_pool2d_params *p, fc_plan *plan);
int fc_f32_max_pool2d_backward_plan(const fc_pool2d_params *p, fc_plan *plan);
int fc_f64_max_pool2d_backward_plan(const fc_pool2d_params *p, fc_plan *plan);
/* fc_*_dense's plan for x (n x k) @ w (k x m): "dense-gemv" for batches up to
 * FC_DENSE_GEMV_MAX_BATCH rows (mr: rows of x per kernel call; tasks: depth
 * blocks), else "dense-gemm" on an indirect-GEMM tile (rows = units, columns =
 * batch; row_block: units per task; FC_PLAN_TUNED_TILE when the tuner chose
 * it); "bias-fill" for k = 0. */
int fc_f32_dense_plan(int64_t n, int64_t k, int64_t m, fc_plan *plan);
int fc_f64_dense_plan(int64_t n, int64_t k, int64_t m, fc_plan *plan);
/* fc_*_dense_backward's and fc_*_dense_backward_adam's plans for the same
 * sizes, one product at a time: FC_DENSE_GRAD_X (gx = gy @ w^T: "dense-gemm",
 * rows = features, columns = batch, depth = units), FC_DENSE_GRAD_KERNEL (gw =
 * x^T @ gy: rows = features, columns = units, depth = batch), FC_DENSE_ADAM
 * (both in one sweep with the Adam step: "dense-backward-adam", row_block:
 * features per task, the tile gw's) or FC_DENSE_ADAM_NO_GRAD_X (that sweep
 * called without gx). "nothing" where the product is empty. */
typedef enum {
  FC_DENSE_GRAD_X = 0,
  FC_DENSE_GRAD_KERNEL = 1,
  FC_DENSE_ADAM = 2,
  FC_DENSE_ADAM_NO_GRAD_X = 3
} fc_dense_product;
int fc_f32_dense_backward_plan(int64_t n, int64_t k, int64_t m, fc_dense_product product,
                               fc_plan *plan);
int fc_f64_dense_backward_plan(int64_t n, int64_t k, int64_t m, fc_dense_product product,
                               fc_plan *plan);
/* relu (backward = 0) and relu_backward (backward = 1) over n_elems */
int fc_f32_relu_plan(int64_t n_elems, int backward, fc_plan *plan);
int fc_f64_relu_plan(int64_t n_elems, int backward, fc_plan *plan);

/* The plan of the last call the calling thread made to a driver that records
 * one (conv2d forward and backward, max_pool2d forward and backward, relu and
 * relu_backward, the correlations, dense), for tests: *plan, and 1; 0 if none yet. */
int fc_last_plan(fc_plan *plan);
/* How many of those driver calls the calling thread has made that went on to
 * compute (not in plan-only mode), for tests. */
int64_t fc_plan_runs(void);
/* While on (per calling thread; on >= 0 sets it, any on returns the previous
 * value), those drivers plan, record the plan and return FC_OK without
 * reading or writing any array: what fastconv.explain runs the ops under.
 * Turning it on forgets the thread's last plan. */
int fc_plan_only(int on);

/* ---- runtime control -----------------------------------------------------*/
/* fastconv's own thread pool (threads.c). The count is set_num_threads's,
 * else $FASTCONV_NUM_THREADS, else $OMP_NUM_THREADS's first entry, else the
 * CPUs this process may run on, capped by a cgroup CPU quota (fc_cgroup_cpus);
 * at most FC_MAX_THREADS. */
enum { FC_MAX_THREADS = 1024 };
int fc_get_num_threads(void);
void fc_set_num_threads(int n); /* n <= 0: back to the default */
/* A further limit for calls made by the calling thread only (0: none); n >= 0
 * sets it, any n returns the previous value. */
int fc_local_thread_limit(int n);
int fc_threads_enabled(void);   /* 0 in a build without threads */
int fc_pool_workers(void);      /* worker threads started in this process */
/* How long an idle worker (and a thread waiting for its team) spins before it
 * sleeps, in ns (default 50,000); ns >= 0 sets it, any ns returns the
 * previous value. */
int64_t fc_pool_spin_ns(int64_t ns);
/* Tells the pool a region is coming soon (a training loop between steps):
 * workers asleep are woken to spin again, and spinning ones start their spin
 * time anew, so the next region does not wait for a wake-up; and, for
 * hold_ns > 0, idle threads keep spinning until hold_ns from now (at most
 * FC_POOL_HOLD_MAX_NS) even past their spin time: a loop whose steps are
 * regions with serial work and Python between them keeps its workers awake
 * through each step by a hold of about a step's time. Nothing runs; the
 * caller does not wait. No effect at one thread or with the spin time 0. */
#define FC_POOL_HOLD_MAX_NS 100000000 /* 0.1 s */
void fc_pool_wake(int64_t hold_ns);
/* Estimated single-thread run time under which a call stays serial (default
 * 50,000 ns); ns >= 0 sets it, any ns returns the previous value. Tests set 0
 * so that small shapes take the threaded paths too. */
int64_t fc_parallel_threshold_ns(int64_t ns);
/* Runs fn(ctx, i, tid) for each i in [0, count) on up to `team` threads of
 * the pool: thread tid (0 the calling thread) takes i = tid, tid + team, ...,
 * stopping at its first non-zero return. Returns FC_ETHREAD when a worker
 * could not be started (then nothing ran), else the first non-zero return in
 * thread order, else FC_OK. Drivers called from inside fn run on their thread
 * alone, as does the whole of a call made from inside a region. For bindings
 * that spread work of their own (conversions around kernel calls) over the
 * pool; fn's result for i must not depend on tid. */
int fc_run_chunks(int team, int64_t count, int (*fn)(void *ctx, int64_t i, int tid), void *ctx);

/* Large result blocks (bigblocks.c): memory for results the caller frees
 * with fc_big_free, which keeps a freed block (up to fc_big_keep's bytes in
 * all, a few blocks) for a later request of about its size, so a call made
 * again and again does not fault its result's pages in each time; a kept
 * block's pages are the kernel's to reclaim (MADV_FREE) until reused.
 * fc_big_alloc: 64-byte aligned, at least n_bytes (fc_big_usable says how
 * many), zeroed where asked, aligned to and advised to use huge pages where
 * `hugepage` (as NumPy does for its large arrays); NULL when out of memory.
 * fc_big_release unmaps every kept block and returns their bytes;
 * fc_big_kept: the bytes kept now; fc_big_keep: the limit (default an eighth
 * of the physical memory or of a cgroup's memory limit, the smaller, at most
 * 4 GiB; 0 keeps nothing); max_bytes >= 0
 * sets it, any value returns the previous one. FC_BIG_MIN_BYTES: the size
 * from which the Python layer takes its results' memory here (glibc's
 * largest mmap threshold: it keeps smaller blocks itself). */
#define FC_BIG_MIN_BYTES ((size_t)32 << 20)
void *fc_big_alloc(size_t n_bytes, int hugepage, int zeroed);
size_t fc_big_usable(const void *p);
void fc_big_free(void *p);
int64_t fc_big_release(void);
int64_t fc_big_kept(void);
int64_t fc_big_keep(int64_t max_bytes);

fc_isa fc_cpu_isa(void);          /* best ISA the CPU and OS support and we compiled */
fc_isa fc_current_isa(void);      /* ISA the dispatch table uses now */
fc_isa fc_set_isa(fc_isa wanted); /* capped at fc_cpu_isa(); returns what was set */
int fc_isa_compiled(fc_isa isa);  /* 1 if this build holds kernels for isa */
const char *fc_isa_name(fc_isa isa);
/* The environment, read in one place (dispatch/env.c) for the library and the
 * Python layer alike. fc_env_isa: the ISA $FASTCONV_ISA names (blanks and case
 * ignored), or -1 if it is unset, blank or names none. fc_env_num_threads: the
 * thread count $FASTCONV_NUM_THREADS, else $OMP_NUM_THREADS's first entry, asks
 * for, or 0. Where a variable is set to something unusable, both write a
 * sentence saying so into why (else an empty string); why may be NULL. */
int fc_env_isa(char *why, size_t why_size);
int fc_env_num_threads(char *why, size_t why_size);
/* The CPUs a Linux cgroup CPU quota grants this process (a container's
 * `--cpus`, a Kubernetes CPU limit): the smallest quota / period from its
 * cgroup up to the top of the v2 hierarchy and of the v1 one holding the cpu
 * controller, rounded up; 0 where none is set or none can be read (and on
 * other systems). fc_cgroup_cpus_at reads /proc/self/cgroup, mountinfo and the
 * quota files under the folder `root` instead of / (tests give it a made-up
 * tree). The default thread count is the affinity mask's CPUs capped by it. */
int fc_cgroup_cpus(void);
int fc_cgroup_cpus_at(const char *root);
/* The bytes a Linux cgroup memory limit grants this process (a container's
 * `--memory`, a Kubernetes memory limit): the smallest memory.max (v2) or
 * memory.limit_in_bytes (v1, the hierarchy holding the memory controller) from
 * its cgroup up to the top; 0 where none is set or none can be read (and on
 * other systems). fc_cgroup_memory_at reads under `root` as fc_cgroup_cpus_at.
 * The default limit of the kept large blocks (fc_big_keep) is an eighth of the
 * smaller of it and the physical memory. */
int64_t fc_cgroup_memory(void);
int64_t fc_cgroup_memory_at(const char *root);
/* Size in bytes of the level-1 data, level-2 or level-3 cache (level 1, 2, 3)
 * one core sees, from CPUID's cache parameters (leaf 4 or 0x8000001D) or the
 * C library; 0 if unknown. */
int64_t fc_cpu_cache_bytes(int level);
/* The bytes of the last-level cache a pass over memory may count on keeping:
 * fc_cpu_cache_bytes(3), at most FC_LLC_PER_CPU for each CPU online (no CPU
 * sold has more L3 per core; a virtual machine on a many-core socket is told
 * of the whole socket's L3, of which its few CPUs keep a small share). 0 if
 * the L3 is unknown. */
enum { FC_LLC_PER_CPU = 16 << 20 };
int64_t fc_cpu_llc_bytes(void);

/* ---- tuned tile choices ------------------------------------------------------
 * Which of the dispatch table's tiles a product runs (the index into the ISA's
 * list of indirect-GEMM tiles), as the autotuner measured for a site, ISA,
 * element size and the product's rows, columns and depth. Every tile gives
 * the same bits, so a choice changes speed only. fc_tune_load replaces the
 * choices (n = 0 clears them; FC_EINVAL for a variant outside the list's
 * bounds, more than 4096 entries, or once 65,536 entries have been loaded in
 * the process: replaced tables are kept for readers that may hold them). */
typedef enum { FC_TUNE_CONV2D = 0, FC_TUNE_DENSE = 1 } fc_tune_site;
typedef struct {
  int32_t site, isa, elem; /* fc_tune_site, fc_isa, element bytes */
  int64_t rows, cols, depth;
  int32_t variant;
} fc_tune_entry;
int fc_tune_load(int64_t n, const fc_tune_entry *entries);
int64_t fc_tune_count(void);
/* The tuned variant, or -1 for the static choice, which the planner passes as
 * static_variant. The calling thread remembers the last 16 distinct products
 * it asked about, each with its static variant. */
int fc_tune_variant(fc_tune_site site, int64_t elem, int64_t rows, int64_t cols, int64_t depth,
                    int static_variant);
/* For the calling thread only: run choice->variant in the product choice
 * names (site, isa, elem, rows, cols, depth; rows < 0: in every product) where
 * the list has that variant; NULL goes back to the loaded choices. The tuner
 * times the tiles with it. FC_EINVAL for a variant outside the bounds. */
int fc_tune_force(const fc_tune_entry *choice);
/* The products the calling thread asked about (up to max into out, oldest
 * first, variant the static one), and with reset forgets them; returns how many. */
int fc_tune_seen(fc_tune_entry *out, int max, int reset);
/* The current ISA's indirect-GEMM tiles for elem-byte values (4 or 8), in the
 * list's order: up to max of them into mr[] and nr[]; returns how many. */
int fc_igemm_tiles(int64_t elem, int64_t mr[], int64_t nr[], int max);

/* First-use tuning. With learning on, a product that has no loaded choice, at
 * least FC_TUNE_LEARN_MIN_MACS multiply-adds and more than one tile in the
 * list is timed once per process, on the calling thread, when it is first
 * planned: every tile runs the same slice of it (a few hundred rows, columns
 * and depth), in FC_TUNE_ROUNDS rounds that time every tile in turn, and a tile
 * replaces the static one only if it is faster by FC_TUNE_LEARN_MARGIN in the
 * median and in four rounds of five, in each of two such timings (the rule
 * `fastconv tune` applies to whole calls, with the narrower FC_TUNE_MARGIN: a
 * slice is a proxy for the call, one tap of it on one thread). On an Intel Xeon
 * (Emerald Rapids) slices timed at 3% chose the 8x32 tile over the static 6x64
 * for (32,64,56,56) by 64 3x3 filters and (32,3,224,224) by 64 7x7 stride 2 in
 * NHWC in most processes, where the whole calls ran 6-16% slower on it (1 and
 * 2 threads, each tile forced, 11 interleaved rounds).
 * About two milliseconds per product, at most FC_TUNE_MAX_LEARNED products per
 * process; loaded and forced choices come first. Learning is off until
 * fc_tune_learning(1) (fastconv/_tuning.py turns it on at import unless
 * FASTCONV_TUNE=off); on < 0 only asks. Returns the previous state. */
#define FC_TUNE_MARGIN 0.03
#define FC_TUNE_LEARN_MARGIN 0.10
enum { FC_TUNE_MAX_LEARNED = 64, FC_TUNE_ROUNDS = 5 };
#define FC_TUNE_LEARN_MIN_MACS ((int64_t)1 << 23)
int fc_tune_learning(int on);
/* The tuner's rule, for first use and for `fastconv tune`: t[v * rounds + r]
 * is tile v's time in round r (each round times every tile in turn); returns
 * the fastest tile by median (the mean of the middle two for even rounds) if
 * it beats tile `fixed` by FC_TUNE_MARGIN in the median and in at least four
 * rounds of five, else `fixed` (also for n < 2 or bad arguments). */
int fc_tune_pick(const double *t, int n, int rounds, int fixed);
/* fc_tune_pick with `margin` for FC_TUNE_MARGIN (first use: FC_TUNE_LEARN_MARGIN). */
int fc_tune_pick_margin(const double *t, int n, int rounds, int fixed, double margin);
/* The choices learned so far, up to max into out (variant the one kept,
 * possibly the static one) and, unless NULL, static_variant (the static one);
 * returns how many. */
int64_t fc_tune_learned(fc_tune_entry *out, int32_t *static_variant, int64_t max);

/* ---- machine probes (for benchmarks) -------------------------------------*/
/* Sustained FP32 FMA throughput of one thread with the kernels of `isa`, in GFLOP/s
 * (2 flops per lane per FMA), measured for about `seconds`; -1 if the CPU lacks isa. */
double fc_probe_fma_gflops(fc_isa isa, double seconds);
/* 1 where the CPU runs AVX-512 multiply-adds at about twice its AVX2 rate (two
 * 512-bit FMA pipes), 0 where at about the same (AMD Zen 4) or without AVX-512;
 * measured once per process in 0.4 ms (up to 2.5 ms where in doubt). The dense sweep's choice
 * of the input gradient's product depends on it (costs.def). */
int fc_avx512_fma_full_rate(void);
/* Streaming-copy bandwidth over two buffers of n_bytes with the current thread
 * count, bytes read + written per second in GB/s; -1 if allocation fails. */
double fc_probe_copy_gbps(int64_t n_bytes, double seconds);
/* Mean wall time of one region on `team` threads of the pool over `count`
 * back-to-back regions, each thread's share a busy wait of work_ns (0: an
 * empty region), in ns; -1 if no worker could start. */
double fc_probe_region_ns(int team, int64_t count, int64_t work_ns);

#ifdef __cplusplus
}
#endif
#endif
