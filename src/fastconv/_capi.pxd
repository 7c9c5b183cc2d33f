# The C API of libfastconv (csrc/include/fastconv/fastconv.h) as the Cython
# modules see it: one declaration of each entry point, cimported by
# _kernels.pyx and the front doors (_dropins, _ndfront, _nnfront).
from libc.stddef cimport size_t
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

# Every integer width, for loops over the integer dtypes (_dropins, _ndfront).
ctypedef fused itype:
    int8_t
    uint8_t
    int16_t
    uint16_t
    int32_t
    uint32_t
    int64_t
    uint64_t

cdef extern from "fastconv/fastconv.h" nogil:
    ctypedef enum fc_layout:
        FC_NCHW
        FC_NHWC
    ctypedef enum fc_isa:
        FC_ISA_SCALAR
        FC_ISA_AVX2
        FC_ISA_AVX512
    enum: FC_ISA_COUNT
    enum: FC_MAX_THREADS
    ctypedef struct fc_conv2d_params:
        int64_t n, c, h, w, k, r, s, oh, ow
        int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, groups
        fc_layout layout
    ctypedef struct fc_pool2d_params:
        int64_t n, c, h, w, oh, ow
        int64_t kernel_h, kernel_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left
        fc_layout layout
    int fc_f32_conv2d(const fc_conv2d_params *p, const float *x, const float *w, const float *b, float *y)
    int fc_f64_conv2d(const fc_conv2d_params *p, const double *x, const double *w, const double *b, double *y)
    int64_t fc_same_padding(int64_t n, int64_t kernel, int64_t stride, int64_t dilation, int64_t *pad_before, int64_t *out)
    int fc_f32_conv2d_backward_weight(const fc_conv2d_params *p, const float *x, const float *gy, float *gw)
    int fc_f64_conv2d_backward_weight(const fc_conv2d_params *p, const double *x, const double *gy, double *gw)
    int fc_f32_conv2d_backward_bias(const fc_conv2d_params *p, const float *gy, float *gb)
    int fc_f64_conv2d_backward_bias(const fc_conv2d_params *p, const double *gy, double *gb)
    ctypedef enum fc_input_grad_path:
        FC_INPUT_GRAD_AUTO
        FC_INPUT_GRAD_COL2IM
        FC_INPUT_GRAD_TRANSPOSED
    int fc_f32_conv2d_input_grad(const fc_conv2d_params *p, const float *gy, const float *w, fc_input_grad_path path, float *gx)
    int fc_f64_conv2d_input_grad(const fc_conv2d_params *p, const double *gy, const double *w, fc_input_grad_path path, double *gx)
    int fc_f32_relu(int64_t n, const float *x, float *y)
    int fc_f32_relu_backward(int64_t n, const float *gy, const float *x, float *gx)
    int fc_f64_relu_backward(int64_t n, const double *gy, const double *x, double *gx)
    int fc_f32_max_pool2d_backward(const fc_pool2d_params *p, const float *gy, const int64_t *idx, float *gx)
    int fc_f64_max_pool2d_backward(const fc_pool2d_params *p, const double *gy, const int64_t *idx, double *gx)
    int fc_f32_conv2d_maxpool(const fc_conv2d_params *p, const fc_pool2d_params *q, const float *x, const float *w, const float *b, float *y, uint8_t *code)
    int fc_f64_conv2d_maxpool(const fc_conv2d_params *p, const fc_pool2d_params *q, const double *x, const double *w, const double *b, double *y, uint8_t *code)
    int fc_f32_conv2d_maxpool_backward_weight(const fc_conv2d_params *p, const fc_pool2d_params *q, const float *x, const float *gy, const uint8_t *code, float *gw, float *gb)
    int fc_f64_conv2d_maxpool_backward_weight(const fc_conv2d_params *p, const fc_pool2d_params *q, const double *x, const double *gy, const uint8_t *code, double *gw, double *gb)
    int fc_f32_dense(int64_t n, int64_t k, int64_t m, const float *x, const float *w, const float *b, float *y)
    int fc_f64_dense(int64_t n, int64_t k, int64_t m, const double *x, const double *w, const double *b, double *y)
    int fc_f32_dense_backward(int64_t n, int64_t k, int64_t m, const float *gy, const float *x, const float *w, float *gx, float *gw)
    int fc_f64_dense_backward(int64_t n, int64_t k, int64_t m, const double *gy, const double *x, const double *w, double *gx, double *gw)
    int fc_f32_dense_backward_adam(int64_t n, int64_t k, int64_t m, const float *gy, const float *x, float *w, float *gx, float *gw, float *mom, float *vel, double alpha, double b1, double b2, double eps)
    int fc_f64_dense_backward_adam(int64_t n, int64_t k, int64_t m, const double *gy, const double *x, double *w, double *gx, double *gw, double *mom, double *vel, double alpha, double b1, double b2, double eps)
    int fc_f32_softmax(int64_t rows, int64_t cols, const float *x, float *y)
    int fc_f64_softmax(int64_t rows, int64_t cols, const double *x, double *y)
    int fc_f32_dropout(int64_t n, const float *x, float *y, float *mask, uint64_t seed,
                       double rate, double scale)
    int fc_f64_dropout(int64_t n, const double *x, double *y, double *mask, uint64_t seed,
                       double rate, double scale)
    int fc_f32_softmax_xent(int64_t rows, int64_t cols, const float *z, const int64_t *labels,
                            const float *w, const float *probs, float *grad, double *loss,
                            int64_t *correct, int64_t *bad)
    int fc_f64_softmax_xent(int64_t rows, int64_t cols, const double *z, const int64_t *labels,
                            const double *w, const double *probs, double *grad, double *loss,
                            int64_t *correct, int64_t *bad)
    ctypedef enum fc_activation:
        FC_ACT_LINEAR
        FC_ACT_RELU
        FC_ACT_SOFTMAX
    ctypedef enum fc_step_op:
        FC_STEP_CONV2D
        FC_STEP_CONV2D_MAXPOOL
        FC_STEP_MAXPOOL
        FC_STEP_DENSE
        FC_STEP_ACTIVATION
    ctypedef struct fc_step:
        fc_step_op op
        fc_activation act
        fc_conv2d_params conv
        fc_pool2d_params pool
        int64_t rows, k, m
        const void *weight
        const void *bias
    int64_t fc_forward_scratch_elems(int64_t n, int n_steps, const fc_step *steps, int64_t *in_elems, int64_t *out_elems)
    int fc_f32_forward(int64_t n, int n_steps, const fc_step *steps, const float *x, float *y, float *scratch, int64_t scratch_elems)
    int fc_f64_forward(int64_t n, int n_steps, const fc_step *steps, const double *x, double *y, double *scratch, int64_t scratch_elems)
    int64_t fc_forward_batches_scratch_elems(int64_t n, int64_t batch, int n_steps, const fc_step *steps)
    int fc_f32_forward_batches(int64_t n, int64_t batch, int n_steps, const fc_step *steps, const float *x, float *y, float *scratch, int64_t scratch_elems)
    int fc_f64_forward_batches(int64_t n, int64_t batch, int n_steps, const fc_step *steps, const double *x, double *y, double *scratch, int64_t scratch_elems)
    int64_t fc_forward_macs(int n_steps, const fc_step *steps)
    int fc_f32_adam_update(int64_t n, float *p, const float *g, float *m, float *v, double alpha, double b1, double b2, double eps)
    int fc_f64_adam_update(int64_t n, double *p, const double *g, double *m, double *v, double alpha, double b1, double b2, double eps)
    int fc_f32_max_pool2d(const fc_pool2d_params *p, const float *x, float *y, int64_t *idx)
    int fc_f64_max_pool2d(const fc_pool2d_params *p, const double *x, double *y, int64_t *idx)
    ctypedef enum fc_boundary:
        FC_BOUNDARY_FILL
        FC_BOUNDARY_WRAP
        FC_BOUNDARY_SYMM
        FC_BOUNDARY_MIRROR
        FC_BOUNDARY_NEAREST
    ctypedef struct fc_correlate2d_params:
        int64_t h, w, ldx, kh, kw, oh, ow, pad_top, pad_left
        fc_boundary boundary
    int fc_f32_correlate2d(const fc_correlate2d_params *p, const float *x, const float *k, float fill, float *y)
    int fc_f64_correlate2d(const fc_correlate2d_params *p, const double *x, const double *k, double fill, double *y)
    int fc_f32_correlate2d_stacked(const fc_correlate2d_params *p, int64_t every, int64_t keep, int add, const float *x, const float *k, float *y)
    int fc_f64_correlate2d_stacked(const fc_correlate2d_params *p, int64_t every, int64_t keep, int add, const double *x, const double *k, double *y)
    int fc_f32_correlate1d(int64_t n, const float *x, int64_t m, const float *w, int64_t pad_left, int64_t out_n, float *y)
    int fc_f64_correlate1d(int64_t n, const double *x, int64_t m, const double *w, int64_t pad_left, int64_t out_n, double *y)
    enum: FC_ND_MAX_DIMS
    ctypedef struct fc_correlatend_params:
        int ndim
        int64_t shape[FC_ND_MAX_DIMS]
        int64_t kshape[FC_ND_MAX_DIMS]
        int64_t pad[FC_ND_MAX_DIMS]
        fc_boundary boundary
    int fc_f32_correlatend(const fc_correlatend_params *p, const float *x, const float *k, float fill, float *y)
    int fc_f64_correlatend(const fc_correlatend_params *p, const double *x, const double *k, double fill, double *y)
    int fc_f32_correlatend_finite(const fc_correlatend_params *p, const float *x, const float *k, float fill, float *y, int *finite)
    int fc_f64_correlatend_finite(const fc_correlatend_params *p, const double *x, const double *k, double fill, double *y, int *finite)
    ctypedef enum fc_elem:
        FC_ELEM_I8, FC_ELEM_U8, FC_ELEM_I16, FC_ELEM_U16, FC_ELEM_I32, FC_ELEM_U32,
        FC_ELEM_I64, FC_ELEM_U64, FC_ELEM_F32, FC_ELEM_F64
    size_t fc_elem_size(fc_elem t)
    void fc_load_doubles(fc_elem t, const void *x, int64_t n, double *d)
    void fc_store_doubles(fc_elem t, const double *d, int64_t n, void *y, int safe)
    int fc_correlatend_typed(const fc_correlatend_params *p, fc_elem xt, const void *x, const double *k, double fill, fc_elem yt, void *y, int safe)
    ctypedef struct fc_axis_params:
        int64_t outer, n, inner, m, pad
        fc_boundary boundary
    int fc_f32_correlate_axis(const fc_axis_params *p, const float *x, const double *w, float fill, float *y)
    int fc_f64_correlate_axis(const fc_axis_params *p, const double *x, const double *w, double fill, double *y)
    int fc_f32_uniform_axis(const fc_axis_params *p, const float *x, float fill, float *y)
    int fc_f64_uniform_axis(const fc_axis_params *p, const double *x, double fill, double *y)
    ctypedef enum fc_tune_site:
        FC_TUNE_CONV2D
        FC_TUNE_DENSE
    ctypedef struct fc_tune_entry:
        int32_t site, isa, elem
        int64_t rows, cols, depth
        int32_t variant
    int fc_tune_load(int64_t n, const fc_tune_entry *entries)
    int64_t fc_tune_count()
    int fc_tune_variant(fc_tune_site site, int64_t elem, int64_t rows, int64_t cols, int64_t depth, int static_variant)
    int fc_tune_force(const fc_tune_entry *choice)
    int fc_tune_seen(fc_tune_entry *out, int max, int reset)
    int fc_igemm_tiles(int64_t elem, int64_t *mr, int64_t *nr, int max)
    double FC_TUNE_MARGIN
    double FC_TUNE_LEARN_MARGIN
    enum: FC_TUNE_MAX_LEARNED
    int fc_tune_learning(int on)
    int fc_tune_pick(const double *t, int n, int rounds, int fixed)
    int fc_tune_pick_margin(const double *t, int n, int rounds, int fixed, double margin)
    int64_t fc_tune_learned(fc_tune_entry *out, int32_t *static_variant, int64_t max)
    ctypedef struct fc_plan:
        const char *algorithm
        const char *kernel
        int64_t mr, nr, depth_block, row_block, tap_block, tasks, scratch_bytes
        int threads, variant
        unsigned flags
        fc_isa isa
        const char *reason
    ctypedef struct fc_cost:
        const char *name
        double value
        int whole
        const char *doc
    const fc_cost *fc_costs(int *count)
    enum: FC_CONV2D_IGEMM_MIN_DEPTH
    int fc_f32_conv2d_input_grad_plan(const fc_conv2d_params *p, const float *w, fc_input_grad_path path, fc_plan *plan)
    int fc_f64_conv2d_input_grad_plan(const fc_conv2d_params *p, const double *w, fc_input_grad_path path, fc_plan *plan)
    int fc_f32_conv2d_data_plan(const fc_conv2d_params *p, const float *w, const float *b, fc_plan *plan)
    int fc_f64_conv2d_data_plan(const fc_conv2d_params *p, const double *w, const double *b, fc_plan *plan)
    int fc_f32_conv2d_backward_weight_plan(const fc_conv2d_params *p, fc_plan *plan)
    int fc_f64_conv2d_backward_weight_plan(const fc_conv2d_params *p, fc_plan *plan)
    int fc_f32_conv2d_backward_bias_plan(const fc_conv2d_params *p, fc_plan *plan)
    int fc_f64_conv2d_backward_bias_plan(const fc_conv2d_params *p, fc_plan *plan)
    int fc_f32_max_pool2d_plan(const fc_pool2d_params *p, fc_plan *plan)
    int fc_f64_max_pool2d_plan(const fc_pool2d_params *p, fc_plan *plan)
    int fc_f32_max_pool2d_backward_plan(const fc_pool2d_params *p, fc_plan *plan)
    int fc_f64_max_pool2d_backward_plan(const fc_pool2d_params *p, fc_plan *plan)
    int fc_f32_relu_plan(int64_t n, int backward, fc_plan *plan)
    int fc_f64_relu_plan(int64_t n, int backward, fc_plan *plan)
    int fc_f32_dense_plan(int64_t n, int64_t k, int64_t m, fc_plan *plan)
    int fc_f64_dense_plan(int64_t n, int64_t k, int64_t m, fc_plan *plan)
    ctypedef enum fc_dense_product:
        FC_DENSE_GRAD_X
        FC_DENSE_GRAD_KERNEL
        FC_DENSE_ADAM
        FC_DENSE_ADAM_NO_GRAD_X
    int fc_f32_dense_backward_plan(int64_t n, int64_t k, int64_t m, fc_dense_product product, fc_plan *plan)
    int fc_f64_dense_backward_plan(int64_t n, int64_t k, int64_t m, fc_dense_product product, fc_plan *plan)
    int fc_last_plan(fc_plan *plan)
    int fc_plan_only(int on)
    int64_t fc_plan_runs()
    int fc_get_num_threads()
    void fc_set_num_threads(int n)
    int fc_threads_enabled()
    int fc_local_thread_limit(int n)
    int fc_pool_workers()
    int64_t fc_pool_spin_ns(int64_t ns)
    void fc_pool_wake(int64_t hold_ns)
    size_t FC_BIG_MIN_BYTES
    void *fc_big_alloc(size_t n_bytes, int hugepage, int zeroed)
    size_t fc_big_usable(const void *p)
    void fc_big_free(void *p)
    int64_t fc_big_release()
    int64_t fc_big_kept()
    int64_t fc_big_keep(int64_t max_bytes)
    int64_t fc_parallel_threshold_ns(int64_t ns)
    int fc_run_chunks(int team, int64_t count, int (*fn)(void *ctx, int64_t i, int tid) noexcept nogil, void *ctx) nogil
    fc_isa fc_cpu_isa()
    fc_isa fc_current_isa()
    fc_isa fc_set_isa(fc_isa wanted)
    int fc_isa_compiled(fc_isa isa)
    const char *fc_isa_name(fc_isa isa)
    int fc_env_isa(char *why, size_t why_size)
    int fc_env_num_threads(char *why, size_t why_size)
    int fc_cgroup_cpus()
    int fc_cgroup_cpus_at(const char *root)
    int64_t fc_cgroup_memory()
    int64_t fc_cgroup_memory_at(const char *root)
    int64_t fc_cpu_cache_bytes(int level)
    int64_t fc_cpu_llc_bytes()
    double fc_probe_fma_gflops(fc_isa isa, double seconds)
    int fc_avx512_fma_full_rate()
    double fc_probe_copy_gbps(int64_t n_bytes, double seconds)
    double fc_probe_region_ns(int team, int64_t count, int64_t work_ns)

# The microkernel registry (csrc/include/fastconv/ukernel.h): its records, the
# slot each fills in a table, and the kernel types, for the per-kernel tests
# and benchmarks (_kernels.ukernels, _kernels.ukernel_run).
cdef extern from "fastconv/ukernel.h" nogil:
    enum: FC_CONV_BLOCK
    ctypedef void (*fc_any_ukernel)() noexcept nogil
    ctypedef struct fc_ukernel_info:
        const char *name
        const char *family
        const char *kind
        const char *dtype
        fc_isa isa
        int mr, nr
        double borrow
        fc_any_ukernel fn
    int fc_ukernel_count()
    const fc_ukernel_info *fc_ukernel_at(int i)
    int fc_ukernel_slot(int i, fc_isa isa, char *buf, size_t size, double *cost)
    ctypedef struct fc_f32_adam_params:
        float a, c1, c2, eps
    ctypedef struct fc_f64_adam_params:
        double a, c1, c2, eps
    ctypedef void (*fc_f32_gemm_ukernel)(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t m, size_t n, const float *bias, unsigned flags) noexcept nogil
    ctypedef void (*fc_f64_gemm_ukernel)(size_t kc, const double *a, const double *b, double *c, size_t ldc, size_t m, size_t n, const double *bias, unsigned flags) noexcept nogil
    ctypedef void (*fc_f32_igemm_ukernel)(size_t ks, size_t kc, const float *const *a, size_t a_offset, size_t a_stride, const float *zero, const float *b, size_t ldb, float *c, size_t ldc, size_t m, size_t n, const float *bias, unsigned flags) noexcept nogil
    ctypedef void (*fc_f64_igemm_ukernel)(size_t ks, size_t kc, const double *const *a, size_t a_offset, size_t a_stride, const double *zero, const double *b, size_t ldb, double *c, size_t ldc, size_t m, size_t n, const double *bias, unsigned flags) noexcept nogil
    ctypedef void (*fc_f32_maxpool_ukernel)(const fc_pool2d_params *p, const float *plane, int64_t oy, float *y, int64_t *idx) noexcept nogil
    ctypedef void (*fc_f64_maxpool_ukernel)(const fc_pool2d_params *p, const double *plane, int64_t oy, double *y, int64_t *idx) noexcept nogil
    ctypedef void (*fc_f32_maxpool_code_ukernel)(const fc_pool2d_params *p, const float *image, int64_t oy, float *y, uint8_t *code) noexcept nogil
    ctypedef void (*fc_f64_maxpool_code_ukernel)(const fc_pool2d_params *p, const double *image, int64_t oy, double *y, uint8_t *code) noexcept nogil
    ctypedef void (*fc_f32_unpool_code_ukernel)(size_t n, size_t nr, size_t places, const float *g, const uint8_t *code, float *const *dst) noexcept nogil
    ctypedef void (*fc_f64_unpool_code_ukernel)(size_t n, size_t nr, size_t places, const double *g, const uint8_t *code, double *const *dst) noexcept nogil
    ctypedef void (*fc_f32_convpool_ukernel)(const float *x, size_t ldx, size_t pw, size_t K, const float *w, const float *bias, float *y, uint8_t *code) noexcept nogil
    ctypedef void (*fc_f64_convpool_ukernel)(const double *x, size_t ldx, size_t pw, size_t K, const double *w, const double *bias, double *y, uint8_t *code) noexcept nogil
    ctypedef unsigned (*fc_f32_convpool_wgrad_ukernel)(const float *x, size_t ldx, size_t pw, size_t K, const float *g, const uint8_t *code, float *gw, float *gb) noexcept nogil
    ctypedef unsigned (*fc_f64_convpool_wgrad_ukernel)(const double *x, size_t ldx, size_t pw, size_t K, const double *g, const uint8_t *code, double *gw, double *gb) noexcept nogil
    ctypedef void (*fc_f32_conv_ukernel)(const float *x, size_t ldx, size_t c, size_t ow, size_t K, const float *w, const float *bias, float *y, size_t ldy) noexcept nogil
    ctypedef void (*fc_f64_conv_ukernel)(const double *x, size_t ldx, size_t c, size_t ow, size_t K, const double *w, const double *bias, double *y, size_t ldy) noexcept nogil
    ctypedef void (*fc_f32_correlate_ukernel)(size_t n, size_t kh, size_t kw, const float *x, size_t ldx, const float *w, float *y) noexcept nogil
    ctypedef void (*fc_f64_correlate_ukernel)(size_t n, size_t kh, size_t kw, const double *x, size_t ldx, const double *w, double *y) noexcept nogil
    ctypedef void (*fc_f32_ndline_ukernel)(size_t n, size_t m, const float *const *x, const double *w, int sym, float *y) noexcept nogil
    ctypedef void (*fc_f64_ndline_ukernel)(size_t n, size_t m, const double *const *x, const double *w, int sym, double *y) noexcept nogil
    ctypedef void (*fc_f32_runsum_ukernel)(size_t n, double *acc, const float *x_in, const float *x_out, double m, float *y) noexcept nogil
    ctypedef void (*fc_f64_runsum_ukernel)(size_t n, double *acc, const double *x_in, const double *x_out, double m, double *y) noexcept nogil
    ctypedef void (*fc_f32_runlines_ukernel)(size_t k, size_t n, const float *const *x_in, const float *const *x_out, double *acc, double m, float *const *y) noexcept nogil
    ctypedef void (*fc_f64_runlines_ukernel)(size_t k, size_t n, const double *const *x_in, const double *const *x_out, double *acc, double m, double *const *y) noexcept nogil
    ctypedef void (*fc_f64_ndstore_ukernel)(fc_elem elem, size_t n, const double *d, void *y, int safe) noexcept nogil
    ctypedef void (*fc_f32_adam_ukernel)(size_t n, float *p, const float *g, float *m, float *v, const fc_f32_adam_params *c) noexcept nogil
    ctypedef void (*fc_f64_adam_ukernel)(size_t n, double *p, const double *g, double *m, double *v, const fc_f64_adam_params *c) noexcept nogil
    ctypedef void (*fc_f32_gemv_ukernel)(size_t nb, size_t kc, size_t mc, const float *x, size_t ldx, const float *w, size_t ldw, float *y, size_t ldy, unsigned flags) noexcept nogil
    ctypedef float (*fc_f32_probe_ukernel)(uint64_t iters) noexcept nogil
    ctypedef void (*fc_f64_gemv_ukernel)(size_t nb, size_t kc, size_t mc, const double *x, size_t ldx, const double *w, size_t ldw, double *y, size_t ldy, unsigned flags) noexcept nogil
    ctypedef void (*fc_f32_gemv_sparse_ukernel)(size_t nb, const size_t *nnz, const uint32_t *const *idx, const float *const *val, size_t mc, const float *w, size_t ldw, float *y, size_t ldy, unsigned flags) noexcept nogil
    ctypedef void (*fc_f64_gemv_sparse_ukernel)(size_t nb, const size_t *nnz, const uint32_t *const *idx, const double *const *val, size_t mc, const double *w, size_t ldw, double *y, size_t ldy, unsigned flags) noexcept nogil
    ctypedef void (*fc_f32_transpose_ukernel)(size_t np, size_t nj, const float *src, size_t lds, float *dst, size_t ldd) noexcept nogil
    ctypedef void (*fc_f64_transpose_ukernel)(size_t np, size_t nj, const double *src, size_t lds, double *dst, size_t ldd) noexcept nogil
    ctypedef double (*fc_f32_softmax_ukernel)(size_t n, const float *x, float *y, float *top) noexcept nogil
    ctypedef double (*fc_f64_softmax_ukernel)(size_t n, const double *x, double *y, double *top) noexcept nogil
    ctypedef void (*fc_f32_unary_ukernel)(size_t n, const float *x, float *y) noexcept nogil
    ctypedef void (*fc_f64_unary_ukernel)(size_t n, const double *x, double *y) noexcept nogil
    ctypedef void (*fc_f32_binary_ukernel)(size_t n, const float *a, const float *b, float *z) noexcept nogil
    ctypedef void (*fc_f64_binary_ukernel)(size_t n, const double *a, const double *b, double *z) noexcept nogil
