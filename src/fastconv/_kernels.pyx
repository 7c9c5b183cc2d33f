# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The binding file: thin calls into csrc/ with the GIL released (fastconv.relu,
a numpy.ufunc, is built in _ufunc.pyx).

Arrays arrive flattened, C-contiguous and of one floating dtype (correlate2d
takes its input as a 2-D view with unit column stride); shapes and options
were worked out in Python (fastconv.nn, fastconv._correlate, fastconv.ndimage). Sizes are
re-checked here and in C, so a wrong call raises instead of reading out of
bounds.
"""
from cython cimport floating
from libc.float cimport DBL_EPSILON
from libc.math cimport fabs
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.stdlib cimport free, malloc

from fastconv._capi cimport *

import os

cdef extern from *:
    """
    #ifndef FASTCONV_COMPILER
    #define FASTCONV_COMPILER "unknown"
    #endif
    #ifndef FASTCONV_CFLAGS
    #define FASTCONV_CFLAGS ""
    #endif
    static const char *fc_compiler = FASTCONV_COMPILER;
    static const char *fc_cflags = FASTCONV_CFLAGS;
    """
    const char *fc_compiler
    const char *fc_cflags

# The ISA names, in fc_isa's order, as the C library spells them.
ISA_NAMES = tuple(fc_isa_name(<fc_isa>i).decode() for i in range(FC_ISA_COUNT))

MAX_THREADS = FC_MAX_THREADS  # the pool's cap on the thread count
# C's fc_elem by NumPy dtype name (the ndstore microkernel's element types)
ELEM_CODES = {"int8": FC_ELEM_I8, "uint8": FC_ELEM_U8, "int16": FC_ELEM_I16,
              "uint16": FC_ELEM_U16, "int32": FC_ELEM_I32, "uint32": FC_ELEM_U32,
              "int64": FC_ELEM_I64, "uint64": FC_ELEM_U64, "float32": FC_ELEM_F32,
              "float64": FC_ELEM_F64}

THREAD_ERROR = ("{op}: fastconv could not start its worker threads (the system refused a new "
                "thread: too many threads, or too little address space); nothing was computed. "
                "fastconv.set_num_threads(1) runs without them.")


cdef _check(int status, str op, shapes):
    if status == 0:
        return
    if status == 2:
        raise MemoryError(f"{op}: could not allocate scratch memory for shapes {shapes}")
    if status == 3:
        raise ValueError(f"{op}: sizes overflow 64-bit arithmetic for shapes {shapes}")
    if status == 4:
        raise RuntimeError(THREAD_ERROR.format(op=op))
    raise ValueError(f"{op}: inconsistent sizes or parameters for shapes {shapes}")


def check_status(int status, str op, shapes):
    """Raise what a C kernel's non-zero `status` means for `op` on `shapes` (a
    front door's call that ran and failed: not to be run again)."""
    _check(status, op, shapes)


cdef _planned(str op):
    """In plan-only mode, after a C driver planned instead of computing: raise
    Planned with the plan it recorded."""
    cdef fc_plan pl
    plan = _plan_dict(&pl) if fc_last_plan(&pl) else {"algorithm": None}
    plan["binding"] = op
    raise Planned(plan)


cdef _need(Py_ssize_t have, Py_ssize_t want, str what, str op):
    if have != want:
        raise ValueError(f"{op}: {what} has {have} elements, expected {want}")


cdef fc_conv2d_params _conv_params(tuple dims, tuple opts, bint nhwc, str op) except *:
    """dims = (n, c, h, w, k, r, s, oh, ow); opts = (sh, sw, dh, dw, pad_top, pad_left, groups)."""
    cdef fc_conv2d_params p
    p.n, p.c, p.h, p.w, p.k, p.r, p.s, p.oh, p.ow = dims
    p.stride_h, p.stride_w, p.dil_h, p.dil_w, p.pad_top, p.pad_left, p.groups = opts
    p.layout = FC_NHWC if nhwc else FC_NCHW
    if p.groups < 1 or p.c % p.groups or p.k % p.groups:
        raise ValueError(f"{op}: groups={p.groups} must divide channels {p.c} and {p.k}")
    return p


cdef fc_pool2d_params _pool_params(tuple dims, tuple opts, bint nhwc) except *:
    """dims = (n, c, h, w, oh, ow); opts = (kh, kw, sh, sw, dh, dw, pad_top, pad_left)."""
    cdef fc_pool2d_params p
    p.n, p.c, p.h, p.w, p.oh, p.ow = dims
    p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dil_h, p.dil_w, p.pad_top, p.pad_left = opts
    p.layout = FC_NHWC if nhwc else FC_NCHW
    return p


# ---- conv2d ------------------------------------------------------------------
def conv2d(const floating[::1] x, const floating[::1] w, const floating[::1] b,
           floating[::1] y, tuple dims, tuple opts, bint nhwc):
    """dims = (n, c, h, w, k, r, s, oh, ow); opts = (sh, sw, dh, dw, pad_top, pad_left, groups)."""
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d")
    _need(x.shape[0], p.n * p.c * p.h * p.w, "x", "conv2d")
    _need(w.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "weight", "conv2d")
    _need(y.shape[0], p.n * p.k * p.oh * p.ow, "out", "conv2d")
    cdef const floating *bp = NULL
    if b is not None:
        _need(b.shape[0], p.k, "bias", "conv2d")
        bp = &b[0] if b.shape[0] else NULL
    cdef const floating *xp = &x[0] if x.shape[0] else NULL
    cdef const floating *wp = &w[0]
    cdef floating *yp = &y[0] if y.shape[0] else NULL
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_conv2d(&p, xp, wp, bp, yp)
        else:
            st = fc_f64_conv2d(&p, xp, wp, bp, yp)
    _check(st, "conv2d", dims)
    if fc_plan_only(-1):
        _planned("conv2d")


def conv2d_backward_weight(const floating[::1] x, const floating[::1] gy, floating[::1] gw,
                           tuple dims, tuple opts, bint nhwc):
    """gw = weight gradient, laid out as the layout's weight ((k, c/groups, r, s) for NCHW,
    (r, s, c/groups, k) for NHWC); dims and opts as for conv2d."""
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d_backward")
    _need(x.shape[0], p.n * p.c * p.h * p.w, "x", "conv2d_backward")
    _need(gy.shape[0], p.n * p.k * p.oh * p.ow, "grad_out", "conv2d_backward")
    _need(gw.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "grad_weight", "conv2d_backward")
    cdef const floating *xp = &x[0] if x.shape[0] else NULL
    cdef const floating *gp = &gy[0] if gy.shape[0] else NULL
    cdef floating *wp = &gw[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_conv2d_backward_weight(&p, xp, gp, wp)
        else:
            st = fc_f64_conv2d_backward_weight(&p, xp, gp, wp)
    _check(st, "conv2d_backward", dims)
    if fc_plan_only(-1):
        _planned("conv2d_backward")


def conv2d_backward_bias(const floating[::1] gy, floating[::1] gb, tuple dims, tuple opts,
                         bint nhwc):
    """gb (k) = grad_out summed over images and output pixels, on fastconv's threads;
    dims and opts as for conv2d."""
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d_backward")
    _need(gy.shape[0], p.n * p.k * p.oh * p.ow, "grad_out", "conv2d_backward")
    _need(gb.shape[0], p.k, "grad_bias", "conv2d_backward")
    cdef const floating *gp = &gy[0] if gy.shape[0] else NULL
    cdef floating *bp = &gb[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_conv2d_backward_bias(&p, gp, bp)
        else:
            st = fc_f64_conv2d_backward_bias(&p, gp, bp)
    _check(st, "conv2d_backward", dims)
    if fc_plan_only(-1):
        _planned("conv2d_backward")


INPUT_GRAD_PATHS = {"auto": FC_INPUT_GRAD_AUTO, "col2im": FC_INPUT_GRAD_COL2IM,
                    "transposed-conv": FC_INPUT_GRAD_TRANSPOSED}


def conv2d_backward_input(const floating[::1] gy, const floating[::1] w, floating[::1] gx,
                          tuple dims, tuple opts, bint nhwc, str path="auto"):
    """gx (x's shape, written whole) = input gradient, by the algorithm the C planner
    picks (a transposed convolution or GEMM + col2im), or the one `path` forces
    (a key of INPUT_GRAD_PATHS); dims and opts as for conv2d."""
    cdef fc_input_grad_path how = INPUT_GRAD_PATHS[path]
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d_backward")
    _need(gy.shape[0], p.n * p.k * p.oh * p.ow, "grad_out", "conv2d_backward")
    _need(w.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "weight", "conv2d_backward")
    _need(gx.shape[0], p.n * p.c * p.h * p.w, "grad_x", "conv2d_backward")
    if gx.shape[0] == 0:
        return
    cdef const floating *gp = &gy[0] if gy.shape[0] else NULL
    cdef const floating *wp = &w[0]
    cdef floating *xp = &gx[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_conv2d_input_grad(&p, gp, wp, how, xp)
        else:
            st = fc_f64_conv2d_input_grad(&p, gp, wp, how, xp)
    _check(st, "conv2d_backward", dims)
    if fc_plan_only(-1):
        _planned("conv2d_backward")


# ---- relu_backward (relu itself is the ufunc in _ufunc.pyx) ------------------
def relu_backward(const floating[::1] gy, const floating[::1] x, floating[::1] gx):
    _need(x.shape[0], gy.shape[0], "x", "relu_backward")
    _need(gx.shape[0], gy.shape[0], "grad_x", "relu_backward")
    cdef int64_t n = gy.shape[0]
    if n == 0:
        return
    cdef const floating *gp = &gy[0]
    cdef const floating *xp = &x[0]
    cdef floating *op = &gx[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_relu_backward(n, gp, xp, op)
        else:
            st = fc_f64_relu_backward(n, gp, xp, op)
    _check(st, "relu_backward", (n,))
    if fc_plan_only(-1):
        _planned("relu_backward")


# ---- max_pool2d --------------------------------------------------------------
def max_pool2d(const floating[::1] x, floating[::1] y, int64_t[::1] idx, tuple dims,
               tuple opts, bint nhwc):
    """dims = (n, c, h, w, oh, ow); opts = (kh, kw, sh, sw, dh, dw, pad_top, pad_left)."""
    cdef fc_pool2d_params p = _pool_params(dims, opts, nhwc)
    _need(x.shape[0], p.n * p.c * p.h * p.w, "x", "max_pool2d")
    _need(y.shape[0], p.n * p.c * p.oh * p.ow, "out", "max_pool2d")
    cdef int64_t *ip = NULL
    if idx is not None:
        _need(idx.shape[0], y.shape[0], "indices", "max_pool2d")
        ip = &idx[0] if idx.shape[0] else NULL
    if y.shape[0] == 0:
        return
    cdef const floating *xp = &x[0]
    cdef floating *yp = &y[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_max_pool2d(&p, xp, yp, ip)
        else:
            st = fc_f64_max_pool2d(&p, xp, yp, ip)
    _check(st, "max_pool2d", dims)
    if fc_plan_only(-1):
        _planned("max_pool2d")


def max_pool2d_backward(const floating[::1] gy, const int64_t[::1] idx, floating[::1] gx,
                        tuple dims, tuple opts, bint nhwc):
    """dims and opts as for max_pool2d; gx has the input's size."""
    cdef fc_pool2d_params p = _pool_params(dims, opts, nhwc)
    _need(gy.shape[0], p.n * p.c * p.oh * p.ow, "grad_out", "max_pool2d_backward")
    _need(idx.shape[0], gy.shape[0], "indices", "max_pool2d_backward")
    _need(gx.shape[0], p.n * p.c * p.h * p.w, "grad_x", "max_pool2d_backward")
    if gx.shape[0] == 0:
        return
    cdef const floating *gp = &gy[0] if gy.shape[0] else NULL
    cdef const int64_t *ip = &idx[0] if idx.shape[0] else NULL
    cdef floating *op = &gx[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_max_pool2d_backward(&p, gp, ip, op)
        else:
            st = fc_f64_max_pool2d_backward(&p, gp, ip, op)
    if st == 1:
        raise ValueError(
            f"max_pool2d_backward: indices hold positions outside [0, {p.h * p.w}) of the "
            f"{p.h}x{p.w} input planes; pass the indices max_pool2d returned for this input")
    _check(st, "max_pool2d_backward", dims)
    if fc_plan_only(-1):
        _planned("max_pool2d_backward")


# ---- plans (fastconv.explain) --------------------------------------------------
IGEMM_MIN_DEPTH = FC_CONV2D_IGEMM_MIN_DEPTH
CONV_BLOCK = FC_CONV_BLOCK  # the special conv kernels' weight blocks (ukernel.h)
PLAN_FLAGS = {1: "merge_rows", 2: "shared_pointers", 4: "transposed_out", 8: "input_as_is",
              16: "grad_out_as_is", 32: "weights_reordered", 64: "tuned_tile", 128: "zero_grid",
              256: "forced", 512: "batch_panels",
              1024: "border_tiles", 2048: "padded_copy", 4096: "owned_rows",
              8192: "channels_last_copy", 16384: "panels_inside", 32768: "split_output",
              65536: "position_tiles", 131072: "panel_tasks"}


cdef tuple _costs():
    cdef int n = 0
    cdef const fc_cost *c = fc_costs(&n)
    return ({c[i].name.decode(): (int(c[i].value) if c[i].whole else c[i].value) for i in range(n)},
            {c[i].name.decode(): c[i].doc.decode() for i in range(n)})


# The measured costs and thresholds of csrc/include/fastconv/costs.def (name ->
# value: int for whole numbers, float otherwise); COST_DOCS says what each is.
COSTS, COST_DOCS = _costs()


class Planned(Exception):
    """Raised, in plan-only mode (`plan_only`), where an op would start computing:
    `plan` (a dict) says what it would run."""

    def __init__(self, plan):
        super().__init__(plan.get("algorithm"))
        self.plan = plan


cdef dict _plan_dict(const fc_plan *pl):
    return {
        "algorithm": pl.algorithm.decode() if pl.algorithm != NULL else None,
        "kernel": pl.kernel.decode() if pl.kernel != NULL else None,
        "tile": (pl.mr, pl.nr) if pl.mr or pl.nr else None,
        "depth_block": pl.depth_block, "row_block": pl.row_block, "tap_block": pl.tap_block,
        "tasks": pl.tasks, "scratch_bytes": pl.scratch_bytes, "threads": pl.threads,
        "flags": tuple(name for bit, name in PLAN_FLAGS.items() if pl.flags & bit),
        "isa": ISA_NAMES[<int>pl.isa],
        "rule": pl.reason.decode() if pl.reason != NULL else None,
    }


def conv2d_plan(tuple dims, tuple opts, bint nhwc, bint f32, str which):
    """The plan of conv2d_backward's C driver for these sizes (which: "backward_weight"
    or "backward_bias"), as a dict; nothing is computed (the forward's plan, which reads
    the weights: conv2d_data_plan; the input gradient's: conv2d_input_grad_plan)."""
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d")
    cdef fc_plan pl
    cdef int st
    if which == "backward_weight":
        st = (fc_f32_conv2d_backward_weight_plan(&p, &pl) if f32
              else fc_f64_conv2d_backward_weight_plan(&p, &pl))
    elif which == "backward_bias":
        st = (fc_f32_conv2d_backward_bias_plan(&p, &pl) if f32
              else fc_f64_conv2d_backward_bias_plan(&p, &pl))
    else:
        raise ValueError(f"conv2d_plan: unknown pass {which!r}")
    _check(st, "conv2d", dims)
    return _plan_dict(&pl)


def conv2d_data_plan(const floating[::1] w, object bias, tuple dims, tuple opts, bint nhwc):
    """The plan of conv2d's C driver for this call: `w` (the weights, flattened) and
    `bias` (None or a 1-D array of w's dtype) read as the driver reads them, for
    whether its border tiles or position tiles keep the bits ("rule" "border-data"
    where they do not and the pixel tiles run instead). Nothing is computed."""
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d")
    _need(w.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "weight", "conv2d")
    cdef const floating[::1] b
    cdef const floating *bp = NULL
    if bias is not None:
        b = bias
        _need(b.shape[0], p.k, "bias", "conv2d")
        if b.shape[0]:
            bp = &b[0]
    cdef fc_plan pl
    cdef int st
    if floating is float:
        st = fc_f32_conv2d_data_plan(&p, &w[0] if w.shape[0] else NULL, bp, &pl)
    else:
        st = fc_f64_conv2d_data_plan(&p, &w[0] if w.shape[0] else NULL, bp, &pl)
    _check(st, "conv2d", dims)
    return _plan_dict(&pl)


def conv2d_input_grad_plan(const floating[::1] w, tuple dims, tuple opts, bint nhwc,
                           str path="auto"):
    """The plan of conv2d_backward_input (its algorithm choice included, `w` read
    for finiteness where the rule asks) for these sizes, as a dict; "rule" names
    the rule that chose it. Nothing is computed."""
    cdef fc_conv2d_params p = _conv_params(dims, opts, nhwc, "conv2d_backward")
    _need(w.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "weight", "conv2d_backward")
    cdef fc_input_grad_path how = INPUT_GRAD_PATHS[path]
    cdef fc_plan pl
    cdef int st
    if floating is float:
        st = fc_f32_conv2d_input_grad_plan(&p, &w[0] if w.shape[0] else NULL, how, &pl)
    else:
        st = fc_f64_conv2d_input_grad_plan(&p, &w[0] if w.shape[0] else NULL, how, &pl)
    _check(st, "conv2d_backward", dims)
    return _plan_dict(&pl)


def dense_plan(int64_t n, int64_t k, int64_t m, bint f32):
    """The plan of the dense driver (dense: x (n, k) @ w (k, m)) for these sizes."""
    cdef fc_plan pl
    cdef int st = fc_f32_dense_plan(n, k, m, &pl) if f32 else fc_f64_dense_plan(n, k, m, &pl)
    _check(st, "dense", (n, k, m))
    return _plan_dict(&pl)


DENSE_PRODUCTS = {"grad_x": FC_DENSE_GRAD_X, "grad_kernel": FC_DENSE_GRAD_KERNEL,
                  "adam": FC_DENSE_ADAM, "adam_no_grad_x": FC_DENSE_ADAM_NO_GRAD_X}


def dense_backward_plan(int64_t n, int64_t k, int64_t m, str product, bint f32):
    """The plan of one product of the dense backward drivers (dense_backward:
    "grad_x", "grad_kernel"; dense_backward_adam: "adam", or "adam_no_grad_x"
    when it is called without grad_x) for these sizes."""
    cdef fc_plan pl
    cdef fc_dense_product which = DENSE_PRODUCTS[product]
    cdef int st = (fc_f32_dense_backward_plan(n, k, m, which, &pl) if f32
                   else fc_f64_dense_backward_plan(n, k, m, which, &pl))
    _check(st, "dense_backward", (n, k, m))
    return _plan_dict(&pl)


def max_pool2d_plan(tuple dims, tuple opts, bint nhwc, bint f32, bint backward=False):
    """The plan of max_pool2d's C driver (or its backward's) for these sizes."""
    cdef fc_pool2d_params p = _pool_params(dims, opts, nhwc)
    cdef fc_plan pl
    cdef int st
    if backward:
        st = (fc_f32_max_pool2d_backward_plan(&p, &pl) if f32
              else fc_f64_max_pool2d_backward_plan(&p, &pl))
    else:
        st = fc_f32_max_pool2d_plan(&p, &pl) if f32 else fc_f64_max_pool2d_plan(&p, &pl)
    _check(st, "max_pool2d", dims)
    return _plan_dict(&pl)


def relu_plan(int64_t n, bint f32, bint backward=False):
    """The plan of the relu (or relu_backward) driver over n elements."""
    cdef fc_plan pl
    cdef int st = fc_f32_relu_plan(n, backward, &pl) if f32 else fc_f64_relu_plan(n, backward, &pl)
    _check(st, "relu", (n,))
    return _plan_dict(&pl)


def last_plan():
    """The plan of the last call this thread made to a C driver that records one
    (a dict), or None."""
    cdef fc_plan pl
    return _plan_dict(&pl) if fc_last_plan(&pl) else None


def plan_runs():
    """How many calls this thread has made to plan-recording C drivers that
    went on to compute (tests: fastconv.explain computes nothing)."""
    return fc_plan_runs()


def plan_only(int on=-1):
    """This thread's plan-only mode: the C drivers plan and return without
    computing, and the front doors raise Planned. on >= 0 sets it; returns the
    previous value."""
    return fc_plan_only(on)


# ---- optimizers ----------------------------------------------------------------
def adam_update(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                double alpha, double beta_1, double beta_2, double epsilon):
    """One fused Keras Adam step on flat, same-size arrays (p, m, v updated in place)."""
    cdef int64_t n = p.shape[0]
    if g.shape[0] != n or m.shape[0] != n or v.shape[0] != n:
        raise ValueError(f"adam_update: sizes differ: p {n}, g {g.shape[0]}, m {m.shape[0]}, v {v.shape[0]}")
    if n == 0:
        return
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_adam_update(n, &p[0], &g[0], &m[0], &v[0], alpha, beta_1, beta_2, epsilon)
        else:
            st = fc_f64_adam_update(n, &p[0], &g[0], &m[0], &v[0], alpha, beta_1, beta_2, epsilon)
    _check(st, "adam_update", (n,))


# ---- conv2d fused with max_pool2d (channels-last; the model layer's Conv2D + MaxPooling2D)
def conv2d_maxpool(const floating[::1] x, const floating[::1] w, const floating[::1] b,
                   floating[::1] y, uint8_t[::1] code, tuple cdims, tuple copts, tuple pdims,
                   tuple popts):
    """y = max_pool2d(conv2d(x, w, b)), NHWC; cdims/copts as for conv2d, pdims/popts
    as for max_pool2d on the conv output (windows: stride == kernel, dilation 1, no
    padding, at most 256 places). code (may be None) receives each output's window code: the
    place of its maximum in its window, dy * kernel_w + dx."""
    cdef fc_conv2d_params p = _conv_params(cdims, copts, True, "conv2d_maxpool")
    cdef fc_pool2d_params q = _pool_params(pdims, popts, True)
    _need(x.shape[0], p.n * p.c * p.h * p.w, "x", "conv2d_maxpool")
    _need(w.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "weight", "conv2d_maxpool")
    _need(y.shape[0], q.n * q.c * q.oh * q.ow, "out", "conv2d_maxpool")
    cdef const floating *bp = NULL
    if b is not None:
        _need(b.shape[0], p.k, "bias", "conv2d_maxpool")
        bp = &b[0]
    cdef uint8_t *cp = NULL
    if code is not None:
        _need(code.shape[0], y.shape[0], "codes", "conv2d_maxpool")
        cp = &code[0] if code.shape[0] else NULL
    if y.shape[0] == 0 or x.shape[0] == 0:
        raise ValueError(f"conv2d_maxpool: empty input or output for shapes {cdims}, {pdims}")
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_conv2d_maxpool(&p, &q, &x[0], &w[0], bp, &y[0], cp)
        else:
            st = fc_f64_conv2d_maxpool(&p, &q, &x[0], &w[0], bp, &y[0], cp)
    _check(st, "conv2d_maxpool", (cdims, pdims))


def conv2d_maxpool_backward_weight(const floating[::1] x, const floating[::1] gy,
                                   const uint8_t[::1] code, floating[::1] gw, floating[::1] gb,
                                   tuple cdims, tuple copts, tuple pdims, tuple popts):
    """conv2d's weight (and bias, unless gb is None) gradient from the gradient gy of
    the max-pool over its output and the pool's window codes, as conv2d_maxpool gave."""
    cdef fc_conv2d_params p = _conv_params(cdims, copts, True, "conv2d_maxpool_backward")
    cdef fc_pool2d_params q = _pool_params(pdims, popts, True)
    _need(x.shape[0], p.n * p.c * p.h * p.w, "x", "conv2d_maxpool_backward")
    _need(gy.shape[0], q.n * q.c * q.oh * q.ow, "grad_output", "conv2d_maxpool_backward")
    _need(code.shape[0], gy.shape[0], "codes", "conv2d_maxpool_backward")
    _need(gw.shape[0], p.k * (p.c // p.groups) * p.r * p.s, "grad_weight", "conv2d_maxpool_backward")
    cdef floating *gbp = NULL
    if gb is not None:
        _need(gb.shape[0], p.k, "grad_bias", "conv2d_maxpool_backward")
        gbp = &gb[0]
    if gy.shape[0] == 0 or x.shape[0] == 0:
        raise ValueError(f"conv2d_maxpool_backward: empty input or output for shapes {cdims}, {pdims}")
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_conv2d_maxpool_backward_weight(&p, &q, &x[0], &gy[0], &code[0], &gw[0], gbp)
        else:
            st = fc_f64_conv2d_maxpool_backward_weight(&p, &q, &x[0], &gy[0], &code[0], &gw[0], gbp)
    if st == 1:
        raise ValueError("conv2d_maxpool_backward: inconsistent shapes, or window codes outside "
                         "their pooling windows (pass the codes conv2d_maxpool gave)")
    _check(st, "conv2d_maxpool_backward", (cdims, pdims))


def dense(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] b,
          floating[:, ::1] y):
    """y = x @ w + b (b may be None) for x (n, k), w (k, m), y (n, m); y is written."""
    cdef int64_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    _need(w.shape[0], k, "the kernel's rows", "dense")
    if y.shape[0] != n or y.shape[1] != m:
        raise ValueError(f"dense: out has shape {(y.shape[0], y.shape[1])}, expected {(n, m)}")
    cdef const floating *bp = NULL
    if b is not None:
        _need(b.shape[0], m, "bias", "dense")
        bp = &b[0] if m else NULL
    if n == 0 or m == 0:
        return
    cdef const floating *xp = &x[0, 0] if k else NULL
    cdef const floating *wp = &w[0, 0] if k else NULL
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_dense(n, k, m, xp, wp, bp, &y[0, 0])
        else:
            st = fc_f64_dense(n, k, m, xp, wp, bp, &y[0, 0])
    _check(st, "dense", (n, k, m))


cdef _dense_backward_shapes(str op, tuple gys, tuple xs, tuple ws, gxs, gws):
    """Shapes (tuples, or None for an output not asked for) of dense_backward's arrays."""
    n, k, m = xs[0], xs[1], ws[1]
    if ws[0] != k:
        raise ValueError(f"{op}: the kernel has {ws[0]} rows, expected {k} (x has shape {xs})")
    if gys != (n, m):
        raise ValueError(f"{op}: grad_output has shape {gys}, expected {(n, m)}")
    if gxs is not None and gxs != (n, k):
        raise ValueError(f"{op}: grad_input has shape {gxs}, expected {(n, k)}")
    if gws is not None and gws != (k, m):
        raise ValueError(f"{op}: grad_weight has shape {gws}, expected {(k, m)}")


def dense_backward(const floating[:, ::1] gy, const floating[:, ::1] x, const floating[:, ::1] w,
                   floating[:, ::1] gx, floating[:, ::1] gw):
    """gx = gy @ w.T and gw = x.T @ gy for gy (n, m), x (n, k), w (k, m); gx or gw
    may be None (not computed); both are written."""
    cdef int64_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    _dense_backward_shapes("dense_backward", (gy.shape[0], gy.shape[1]), (n, k),
                           (w.shape[0], m), None if gx is None else (gx.shape[0], gx.shape[1]),
                           None if gw is None else (gw.shape[0], gw.shape[1]))
    if k == 0:
        return
    cdef floating *gxp = &gx[0, 0] if gx is not None and n else NULL
    cdef floating *gwp = &gw[0, 0] if gw is not None else NULL
    cdef const floating *gyp = &gy[0, 0] if n and m else NULL
    cdef const floating *xp = &x[0, 0] if n else NULL
    cdef const floating *wp = &w[0, 0] if m else NULL
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_dense_backward(n, k, m, gyp, xp, wp, gxp, gwp)
        else:
            st = fc_f64_dense_backward(n, k, m, gyp, xp, wp, gxp, gwp)
    _check(st, "dense_backward", (n, k, m))


def dense_backward_adam(const floating[:, ::1] gy, const floating[:, ::1] x, floating[:, ::1] w,
                        floating[:, ::1] gx, floating[:, ::1] gw, floating[:, ::1] mom,
                        floating[:, ::1] vel, double alpha, double beta_1, double beta_2,
                        double epsilon):
    """dense_backward, then one Adam step of w in place (moments mom, vel updated) in
    one sweep over w's rows; gx (may be None) comes from w before the step; gw
    receives the kernel gradient unless it is None."""
    cdef int64_t n = x.shape[0], k = x.shape[1], m = w.shape[1]
    _dense_backward_shapes("dense_backward_adam", (gy.shape[0], gy.shape[1]), (n, k),
                           (w.shape[0], m), None if gx is None else (gx.shape[0], gx.shape[1]),
                           None if gw is None else (gw.shape[0], gw.shape[1]))
    if mom.shape[0] != k or mom.shape[1] != m or vel.shape[0] != k or vel.shape[1] != m:
        raise ValueError(f"dense_backward_adam: moments of shapes {(mom.shape[0], mom.shape[1])} and "
                         f"{(vel.shape[0], vel.shape[1])} for a kernel of shape {(k, m)}")
    if k == 0 or m == 0:
        return
    cdef floating *gxp = &gx[0, 0] if gx is not None and n else NULL
    cdef floating *gwp = &gw[0, 0] if gw is not None else NULL
    cdef const floating *gyp = &gy[0, 0] if n else NULL
    cdef const floating *xp = &x[0, 0] if n else NULL
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_dense_backward_adam(n, k, m, gyp, xp, &w[0, 0], gxp, gwp, &mom[0, 0],
                                            &vel[0, 0], alpha, beta_1, beta_2, epsilon)
        else:
            st = fc_f64_dense_backward_adam(n, k, m, gyp, xp, &w[0, 0], gxp, gwp, &mom[0, 0],
                                            &vel[0, 0], alpha, beta_1, beta_2, epsilon)
    _check(st, "dense_backward_adam", (n, k, m))


# ---- correlate1d / correlate2d (for fastconv.numpy_compat and fastconv.signal) --
def correlate1d(const floating[::1] x, const floating[::1] w, floating[::1] y, int64_t pad_left):
    """y[i] = sum_t X(i - pad_left + t) * w[t], X = x extended by zeros; y is written."""
    cdef int64_t n = x.shape[0], m = w.shape[0], out_n = y.shape[0]
    if m == 0:
        raise ValueError("correlate1d: the kernel w is empty")
    if out_n == 0:
        return
    cdef const floating *xp = &x[0] if n else NULL
    cdef const floating *wp = &w[0]
    cdef floating *yp = &y[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_correlate1d(n, xp, m, wp, pad_left, out_n, yp)
        else:
            st = fc_f64_correlate1d(n, xp, m, wp, pad_left, out_n, yp)
    _check(st, "correlate1d", (n, m, out_n))
    if fc_plan_only(-1):
        _planned("correlate1d")


def correlate2d(const floating[:, :] x, const floating[:, ::1] k, floating[:, ::1] y,
                int64_t pad_top, int64_t pad_left, int boundary, double fillvalue):
    """y[r, c] = sum_ij X(r - pad_top + i, c - pad_left + j) * k[i, j]; boundary is
    0 (fill), 1 (wrap), 2 (symm), 3 (mirror) or 4 (nearest). x needs unit column
    stride; y is written."""
    cdef fc_correlate2d_params p
    p.h, p.w = x.shape[0], x.shape[1]
    p.kh, p.kw = k.shape[0], k.shape[1]
    p.oh, p.ow = y.shape[0], y.shape[1]
    p.pad_top, p.pad_left = pad_top, pad_left
    if boundary < 0 or boundary > 4:
        raise ValueError(f"correlate2d: boundary code must be 0 to 4, got {boundary}")
    p.boundary = <fc_boundary>boundary
    if p.kh == 0 or p.kw == 0:
        raise ValueError(f"correlate2d: the kernel of shape {(p.kh, p.kw)} is empty")
    if p.oh == 0 or p.ow == 0:
        return
    cdef const floating *xp = NULL
    p.ldx = p.w
    if p.h and p.w:
        if x.strides[1] != sizeof(floating) or x.strides[0] < 0 or x.strides[0] % sizeof(floating):
            raise ValueError(f"correlate2d: x needs unit column stride, got strides {(x.strides[0], x.strides[1])}")
        p.ldx = x.strides[0] // sizeof(floating)
        xp = &x[0, 0]
    cdef const floating *kp = &k[0, 0]
    cdef floating *yp = &y[0, 0]
    cdef floating fill = <floating>fillvalue
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_correlate2d(&p, xp, kp, fill, yp)
        else:
            st = fc_f64_correlate2d(&p, xp, kp, fill, yp)
    _check(st, "correlate2d", (p.h, p.w, p.kh, p.kw, p.oh, p.ow))
    if fc_plan_only(-1):
        _planned("correlate2d")


def correlate2d_stacked(const floating[:, ::1] x, const floating[:, ::1] k,
                        floating[:, :, ::1] y, int64_t every, bint add):
    """The images stacked in x (images * every rows) correlated 'valid' with k,
    image by image: y[i, r, c] = sum_ij x[i * every + r + i', c + j] * k[i', j]
    for the first y.shape[1] rows of each of the y.shape[0] images (rows whose
    windows would reach the next image are not computed). add: y += that
    (y + result, as NumPy's add), else y = that."""
    cdef fc_correlate2d_params p
    p.h, p.w = x.shape[0], x.shape[1]
    p.kh, p.kw = k.shape[0], k.shape[1]
    p.ow = y.shape[2]
    p.pad_top = p.pad_left = 0
    p.boundary = FC_BOUNDARY_FILL
    cdef int64_t images = y.shape[0], keep = y.shape[1]
    shapes = (p.h, p.w, p.kh, p.kw, images, keep, p.ow)
    if p.kh == 0 or p.kw == 0:
        raise ValueError(f"correlate2d_stacked: the kernel of shape {(p.kh, p.kw)} is empty")
    if images == 0 or keep == 0 or p.ow == 0:
        return
    if every < 1 or every > p.h or images * every != p.h or keep > every - p.kh + 1 or p.ow != p.w - p.kw + 1:
        raise ValueError(f"correlate2d_stacked: x {(p.h, p.w)}, k {(p.kh, p.kw)} and y "
                         f"{(images, keep, p.ow)} do not fit images of {every} rows")
    p.ldx = p.w
    p.oh = p.h - p.kh + 1
    cdef const floating *xp = &x[0, 0]
    cdef const floating *kp = &k[0, 0]
    cdef floating *yp = &y[0, 0, 0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_correlate2d_stacked(&p, every, keep, add, xp, kp, yp)
        else:
            st = fc_f64_correlate2d_stacked(&p, every, keep, add, xp, kp, yp)
    _check(st, "correlate2d_stacked", shapes)
    if fc_plan_only(-1):
        _planned("correlate2d")


# ---- correlatend, correlate_axis, uniform_axis (for fastconv.ndimage) ----------
cdef int64_t _elems(tuple shape, str what, str op) except -1:
    cdef int64_t n = 1
    for d in shape:
        if d < 0:
            raise ValueError(f"{op}: {what} {shape} has a negative size")
        n *= d
    return n


def correlatend(const floating[::1] x, const double[::1] k, floating[::1] y, tuple shape,
                tuple kshape, tuple pad, int boundary, double fillvalue):
    """y = sum_t X(o - pad + t) k[t] over N-d arrays flattened in C order; x and
    y have `shape`, k `kshape`; boundary 0 fill, 1 wrap, 2 symm, 3 mirror, 4
    nearest. y is written. The weights NI_Correlate leaves out (magnitude at
    most DBL_EPSILON, NaN) count as 0; float32 runs on float32 weights. Returns
    whether every value of y is finite (float32; float64 is not scanned: True)."""
    cdef fc_correlatend_params p
    cdef int d = len(shape)
    cdef Py_ssize_t nk = k.shape[0], i
    if d < 1 or d > FC_ND_MAX_DIMS or len(kshape) != d or len(pad) != d:
        raise ValueError(f"correlatend: shapes {shape}, {kshape} and pad {pad} must have one "
                         f"length from 1 to {FC_ND_MAX_DIMS}")
    if boundary < 0 or boundary > 4:
        raise ValueError(f"correlatend: boundary code must be 0 to 4, got {boundary}")
    _need(x.shape[0], _elems(shape, "shape", "correlatend"), "x", "correlatend")
    _need(y.shape[0], x.shape[0], "y", "correlatend")
    _need(k.shape[0], _elems(kshape, "kshape", "correlatend"), "k", "correlatend")
    if k.shape[0] == 0:
        raise ValueError(f"correlatend: the kernel of shape {kshape} is empty")
    p.ndim = d
    for i in range(d):
        p.shape[i], p.kshape[i], p.pad[i] = shape[i], kshape[i], pad[i]
    p.boundary = <fc_boundary>boundary
    if x.shape[0] == 0:
        return True
    cdef floating *kp = <floating *>malloc(nk * sizeof(floating))
    if kp == NULL:
        raise MemoryError(f"correlatend: could not allocate the kernel of shape {kshape}")
    cdef const floating *xp = &x[0]
    cdef floating *yp = &y[0]
    cdef floating fill = <floating>fillvalue
    cdef int st
    cdef int finite = 1
    with nogil:
        for i in range(nk):
            kp[i] = <floating>k[i] if fabs(k[i]) > DBL_EPSILON else 0
        if floating is float:
            st = fc_f32_correlatend_finite(&p, xp, kp, fill, yp, &finite)
        else:
            st = fc_f64_correlatend(&p, xp, kp, fill, yp)
    free(kp)
    _check(st, "correlatend", (shape, kshape))
    if fc_plan_only(-1):
        _planned("correlatend")
    return finite != 0


cdef fc_axis_params _axis_params(Py_ssize_t size, tuple dims, int64_t m, int64_t pad, int boundary,
                                 str op) except *:
    cdef fc_axis_params p
    p.outer, p.n, p.inner = dims
    p.m, p.pad = m, pad
    if boundary < 0 or boundary > 4:
        raise ValueError(f"{op}: boundary code must be 0 to 4, got {boundary}")
    if m < 1:
        raise ValueError(f"{op}: the filter length must be at least 1, got {m}")
    p.boundary = <fc_boundary>boundary
    _need(size, _elems(dims, "dims", op), "x", op)
    return p


def correlate_axis(const floating[::1] x, const double[::1] w, floating[::1] y, tuple dims,
                   int64_t pad, int boundary, double fillvalue):
    """scipy.ndimage.correlate1d's sums along the middle axis of x seen as
    dims = (outer, n, inner), in its arithmetic; y is written."""
    cdef fc_axis_params p = _axis_params(x.shape[0], dims, w.shape[0], pad, boundary, "correlate_axis")
    _need(y.shape[0], x.shape[0], "y", "correlate_axis")
    if x.shape[0] == 0:
        return
    cdef const floating *xp = &x[0]
    cdef const double *wp = &w[0]
    cdef floating *yp = &y[0]
    cdef floating fill = <floating>fillvalue
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_correlate_axis(&p, xp, wp, fill, yp)
        else:
            st = fc_f64_correlate_axis(&p, xp, wp, fill, yp)
    _check(st, "correlate_axis", dims + (p.m,))
    if fc_plan_only(-1):
        _planned("correlate_axis")


def uniform_axis(const floating[::1] x, floating[::1] y, tuple dims, int64_t size, int64_t pad,
                 int boundary, double fillvalue):
    """scipy.ndimage.uniform_filter1d's running means along the middle axis of x
    seen as dims = (outer, n, inner), in its arithmetic; y is written."""
    cdef fc_axis_params p = _axis_params(x.shape[0], dims, size, pad, boundary, "uniform_axis")
    _need(y.shape[0], x.shape[0], "y", "uniform_axis")
    if x.shape[0] == 0:
        return
    cdef const floating *xp = &x[0]
    cdef floating *yp = &y[0]
    cdef floating fill = <floating>fillvalue
    cdef int st
    with nogil:
        if floating is float:
            st = fc_f32_uniform_axis(&p, xp, fill, yp)
        else:
            st = fc_f64_uniform_axis(&p, xp, fill, yp)
    _check(st, "uniform_axis", dims + (p.m,))
    if fc_plan_only(-1):
        _planned("uniform_axis")


# ---- runtime control -----------------------------------------------------------
def get_num_threads():
    return fc_get_num_threads()


def set_num_threads(int n):
    fc_set_num_threads(n)


def local_thread_limit(int n=-1):
    """The calling thread's own thread limit (0: none); n >= 0 sets it. Returns the old value."""
    return fc_local_thread_limit(n)


def probe_region_ns(int team=2, int64_t count=1000, int64_t work_ns=0):
    """Mean ns of one region on `team` pool threads (back to back), each share a busy
    wait of work_ns; -1 without workers."""
    cdef double r
    with nogil:
        r = fc_probe_region_ns(team, count, work_ns)
    return r


def pool_workers():
    """Worker threads the pool has started in this process (0 until a threaded call)."""
    return fc_pool_workers()


def pool_wake(int64_t hold_ns=0):
    """Tells the pool a threaded call is coming soon: sleeping workers wake and spin
    (the training loop calls it as a step begins and as it ends, so no region of
    the step waits for a wake-up), and for hold_ns > 0 keep spinning until hold_ns
    from now (at most 0.1 s) even past their spin time; returns at once."""
    with nogil:
        fc_pool_wake(hold_ns)


BIG_MIN_BYTES = FC_BIG_MIN_BYTES


def big_kept():
    """Bytes of large blocks kept for reuse now (fc_big_kept): the front
    doors' results of BIG_MIN_BYTES and more, and the kernels' scratch of that
    size, live on such blocks, and a freed one is kept (its pages the kernel's
    to reclaim) for the next."""
    return fc_big_kept()


def big_release():
    """Unmaps every kept large block; returns their bytes."""
    return fc_big_release()


def big_keep(int64_t max_bytes=-1):
    """The most bytes of large blocks kept (default an eighth of the physical
    memory or of a cgroup's memory limit, the smaller, at most 4 GiB; 0 keeps
    none); max_bytes >= 0 sets it. Returns the old value."""
    return fc_big_keep(max_bytes)


def pool_spin_ns(int64_t ns=-1):
    """How long idle workers spin before they sleep, in ns; ns >= 0 sets it. Returns the old value."""
    return fc_pool_spin_ns(ns)


def parallel_threshold_ns(int64_t ns=-1):
    """The serial threshold (estimated ns of work); ns >= 0 sets it. Returns the old value."""
    return fc_parallel_threshold_ns(ns)


def threads_enabled():
    return bool(fc_threads_enabled())


def cpu_isa():
    return ISA_NAMES[<int>fc_cpu_isa()]


def current_isa():
    return ISA_NAMES[<int>fc_current_isa()]


def set_isa(str name):
    """Use the kernels of `name`, capped at what the CPU supports; returns the ISA set."""
    cdef int wanted = ISA_NAMES.index(name)
    return ISA_NAMES[<int>fc_set_isa(<fc_isa>wanted)]


def compiled_isas():
    return tuple(n for i, n in enumerate(ISA_NAMES) if fc_isa_compiled(<fc_isa>i))


def env_isa():
    """(name, why): the ISA $FASTCONV_ISA names as the C library reads it (None if
    unset or unusable), and why it is unusable ("" if it is not)."""
    cdef char why[256]
    cdef int isa = fc_env_isa(why, sizeof(why))
    return (ISA_NAMES[isa] if isa >= 0 else None), why.decode(errors="replace")


def env_num_threads():
    """(count, why): the thread count $FASTCONV_NUM_THREADS, else $OMP_NUM_THREADS,
    asks for as the C library reads them (0: none), and why $FASTCONV_NUM_THREADS
    is unusable ("" if it is not)."""
    cdef char why[256]
    cdef int n = fc_env_num_threads(why, sizeof(why))
    return n, why.decode(errors="replace")


def cgroup_cpus(root=None):
    """The CPUs a cgroup CPU quota grants this process (C's fc_cgroup_cpus; 0:
    none), or those of the made-up tree under the folder `root` (tests)."""
    if root is None:
        return fc_cgroup_cpus()
    cdef bytes path = os.fsencode(root)
    return fc_cgroup_cpus_at(path)


def cgroup_memory(root=None):
    """The bytes a cgroup memory limit grants this process (C's
    fc_cgroup_memory; 0: none), or those of the made-up tree under `root` (tests)."""
    if root is None:
        return fc_cgroup_memory()
    cdef bytes path = os.fsencode(root)
    return fc_cgroup_memory_at(path)


def same_padding(int64_t n, int64_t kernel, int64_t stride, int64_t dilation, str op):
    """(pad_before, pad_total, out) of TensorFlow's 'same' padding for one axis
    (C's fc_same_padding): ceil(n / stride) outputs, the odd pad at the end."""
    cdef int64_t before = 0, out = 0
    cdef int64_t total = fc_same_padding(n, kernel, stride, dilation, &before, &out)
    if total < 0:
        raise ValueError(f"{op}: a kernel of {kernel} at dilation {dilation} spans more than 2**63")
    return before, total, out


def cpu_caches():
    """Bytes of the L1 data, L2 and L3 caches one core sees (0: unknown), and llc:
    the L3 a pass over memory counts on keeping (at most 16 MiB per CPU online)."""
    return {"l1d": fc_cpu_cache_bytes(1), "l2": fc_cpu_cache_bytes(2), "l3": fc_cpu_cache_bytes(3),
            "llc": fc_cpu_llc_bytes()}


def build_info():
    return {"compiler": fc_compiler.decode(), "cflags": fc_cflags.decode()}


def probe_fma_gflops(str isa, double seconds=0.2):
    """Single-thread FP32 FMA throughput of `isa`'s vectors, in GFLOP/s."""
    cdef int index = ISA_NAMES.index(isa)
    cdef fc_isa i = <fc_isa>index
    cdef double r
    with nogil:
        r = fc_probe_fma_gflops(i, seconds)
    if r < 0:
        raise ValueError(f"this CPU cannot run {isa!r} (best: {cpu_isa()!r})")
    return r


def avx512_fma_full_rate():
    """Whether this CPU runs AVX-512 multiply-adds at about twice its AVX2 rate (two
    512-bit FMA pipes); False where about the same (AMD Zen 4) or without AVX-512.
    Measured once per process (0.4 ms, up to 2.5 ms where the first runs leave
    doubt)."""
    cdef int r
    with nogil:
        r = fc_avx512_fma_full_rate()
    return bool(r)


def probe_copy_gbps(int64_t n_bytes=1 << 28, double seconds=0.3):
    """Streaming-copy memory bandwidth with fastconv's thread count, GB/s (read + write)."""
    cdef double r
    with nogil:
        r = fc_probe_copy_gbps(n_bytes, seconds)
    if r < 0:
        raise MemoryError(f"probe_copy_gbps: could not allocate two buffers of {n_bytes} bytes")
    return r


# ---- the autotuner's choices (csrc/ops/tuning.c; fastconv/_tuning.py) -----------------

TUNE_SITES = {"conv2d": FC_TUNE_CONV2D, "dense": FC_TUNE_DENSE}
TUNE_MARGIN = FC_TUNE_MARGIN  # a tile must beat the static one by this share to be kept
TUNE_LEARN_MARGIN = FC_TUNE_LEARN_MARGIN  # the same at first use, on a slice (fastconv.h)


cdef int64_t _elem(dtype) except -1:
    name = str(dtype)
    if name not in ("float32", "float64"):
        raise TypeError(f"tuning: dtype must be float32 or float64, got {name}")
    return 4 if name == "float32" else 8


def igemm_tiles(dtype):
    """The current ISA's indirect-GEMM tiles for `dtype` (float32 or float64),
    as (rows, columns) pairs in the table's order: the variants tuning picks from."""
    cdef int64_t mr[8]
    cdef int64_t nr[8]
    cdef int64_t elem = _elem(dtype)
    cdef int n = fc_igemm_tiles(elem, mr, nr, 8)
    return [(mr[i], nr[i]) for i in range(n)]


def tune_load(list entries):
    """Replace the tuned choices with `entries`, tuples (site, isa, dtype, rows,
    cols, depth, variant): site a TUNE_SITES name, isa an ISA_NAMES name."""
    cdef Py_ssize_t n = len(entries), i
    cdef fc_tune_entry *e = <fc_tune_entry *>malloc(max(n, 1) * sizeof(fc_tune_entry))
    cdef int st
    if e == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            _entry(tuple(entries[i]), &e[i])
        st = fc_tune_load(n, e)
    finally:
        free(e)
    if st != 0:
        raise ValueError(f"tune_load: the choices were refused (status {st}: a variant out of range, "
                         "more than 4096 entries, or 65,536 loaded in this process in all)")


def tune_count():
    """How many tuned choices are loaded."""
    return fc_tune_count()


cdef _entry(tuple choice, fc_tune_entry *e):
    site, isa, dtype, rows, cols, depth, variant = choice
    e.site = TUNE_SITES[site]
    e.isa = ISA_NAMES.index(isa)
    e.elem = _elem(dtype)
    e.rows, e.cols, e.depth, e.variant = rows, cols, depth, variant


cdef tuple _choice(const fc_tune_entry *e):
    sites = {v: k for k, v in TUNE_SITES.items()}
    return (sites[e.site], ISA_NAMES[e.isa], "float32" if e.elem == 4 else "float64", e.rows, e.cols,
            e.depth, e.variant)


def tune_force(choice):
    """Run a tile in this thread's products: `choice` a tuple (site, isa, dtype,
    rows, cols, depth, variant) naming one product (rows -1: every product), or
    None to go back to the loaded choices."""
    cdef fc_tune_entry e
    if choice is None:
        fc_tune_force(NULL)
        return
    _entry(tuple(choice), &e)
    if fc_tune_force(&e) != 0:
        raise ValueError(f"tune_force: no tile variant {e.variant}")


def tune_seen(bint reset=True):
    """The products (site, isa, dtype, rows, cols, depth, static variant) this
    thread planned since the last reset, oldest first (16 at most)."""
    cdef fc_tune_entry e[16]
    cdef int n = fc_tune_seen(e, 16, reset), i
    return [_choice(&e[i]) for i in range(n)]


def tune_variant(str site, dtype, int64_t rows, int64_t cols, int64_t depth):
    """The tuned variant for a product, or -1 (the static choice)."""
    return fc_tune_variant(<fc_tune_site>TUNE_SITES[site], _elem(dtype), rows, cols, depth, 0)


def tune_pick(list times, int fixed, double margin=FC_TUNE_MARGIN):
    """The tuner's rule (fc_tune_pick_margin): `times[v]` the times of tile v,
    one per round (every tile the same number of rounds); the fastest tile by
    median if it beats tile `fixed` by `margin` (TUNE_MARGIN; first use:
    TUNE_LEARN_MARGIN) in the median and in four rounds of five, else `fixed`."""
    cdef Py_ssize_t n = len(times), rounds = len(times[0]) if n else 0, v, r
    if any(len(t) != rounds for t in times):
        raise ValueError("tune_pick: every tile needs the same number of rounds")
    cdef double *t = <double *>malloc(max(n * rounds, 1) * sizeof(double))
    if t == NULL:
        raise MemoryError()
    try:
        for v in range(n):
            for r in range(rounds):
                t[v * rounds + r] = times[v][r]
        return fc_tune_pick_margin(t, <int>n, <int>rounds, fixed, margin)
    finally:
        free(t)


def tune_learning(on=None):
    """Whether first-use tuning is on (see fc_tune_learning in fastconv.h); with
    `on` a bool, set it. Returns the state before the call."""
    return bool(fc_tune_learning(-1 if on is None else (1 if on else 0)))


def tune_learned():
    """The choices learned at first use in this process: tune_seen's tuples
    (variant the one kept, which may be the static one) with the static
    variant added at the end."""
    cdef fc_tune_entry e[FC_TUNE_MAX_LEARNED]
    cdef int32_t fixed[FC_TUNE_MAX_LEARNED]
    cdef int64_t n = fc_tune_learned(e, fixed, FC_TUNE_MAX_LEARNED), i
    return [_choice(&e[i]) + (fixed[i],) for i in range(n)]


# ---- the microkernel registry, and a way to call any registered kernel ---------------------


def ukernels(isa=None):
    """Every registered microkernel (the registries, csrc/ukernels/*.inc), as
    dicts: name, family, kind (its contract and table slot without the dtype),
    dtype ("float32"/"float64"), isa, tile ((rows, columns), or None), borrow
    (an indirect-GEMM tile's cost in higher ISAs' tables, 0 if not offered),
    and slot, the slot it fills in `isa`'s table (default: the one in use;
    None where it fills none there) with cost, its tile cost there."""
    cdef char buf[64]
    cdef double cost
    cdef int table_isa = <int>fc_current_isa() if isa is None else ISA_NAMES.index(isa)
    cdef const fc_ukernel_info *k
    out = []
    for i in range(fc_ukernel_count()):
        k = fc_ukernel_at(i)
        filled = fc_ukernel_slot(i, <fc_isa>table_isa, buf, sizeof(buf), &cost)
        out.append({"index": i, "name": k.name.decode(), "family": k.family.decode(),
                    "kind": k.kind.decode(), "dtype": "float32" if k.dtype[1] == b"3"[0] else "float64",
                    "isa": ISA_NAMES[<int>k.isa], "tile": (k.mr, k.nr) if k.mr else None,
                    "borrow": k.borrow, "slot": buf.decode() if filled else None,
                    "cost": cost if filled else None})
    return out


cdef const char *_ptr(object a) except? NULL:
    """The first byte of a C-contiguous array (None: NULL)."""
    cdef const uint8_t[::1] mv
    if a is None:
        return NULL
    mv = memoryview(a).cast("B")
    if mv.shape[0] == 0:
        return <const char *>_ptr  # never read: an empty array's stand-in
    return <const char *>&mv[0]


cdef const void **_pointers(object base, object offsets, size_t elem, const void *minus_one) except NULL:
    """base + offsets[i] elements for each i (minus_one where offsets[i] < 0), malloc'd."""
    cdef const int64_t[::1] off = offsets
    cdef Py_ssize_t i, n = off.shape[0]
    cdef const char *b = _ptr(base)
    cdef const void **out = <const void **>malloc(max(n, 1) * sizeof(void *))
    if out == NULL:
        raise MemoryError()
    for i in range(n):
        out[i] = minus_one if off[i] < 0 else <const void *>(b + off[i] * <int64_t>elem)
    return out


def ukernel_run(int index, tuple s, list A, int64_t repeat=1):
    """Call registered microkernel `index` (the ukernels() order) `repeat`
    times on the arrays of A (C-contiguous, of the kernel's dtype, large
    enough: nothing is checked -- a test and benchmark entry point only), with
    the sizes s, by kind:

    gemm        s (kc, m, n, ldc, flags)           A [a, b, c, bias]
    igemm       s (ks, kc, m, n, ldc, a_offset, a_stride, ldb, flags)
                A [base, offsets (int64, ks*mr; -1: the zero row), zero, b, c, bias]
    maxpool_*   s the pool params (n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl,
                nhwc) and oy                        A [plane, y, idx (int64) or None]
    maxpool_code  s as maxpool                      A [image, y, code (uint8) or None]
    unpool_code s (n, nr, places)                  A [g, code, base, offsets (int64, places)]
    convpool_*  s (ldx, pw, K)                     A [x, w, bias, y, code]
    convpool_*_wgrad  s (ldx, pw, K)               A [x, g, code, gw, gb]
    conv_*      s (ldx, c, ow, K, ldy)             A [x, w (packed: ukernel.h), bias or None, y]
    relu, relu_nt  s (n,)  A [x, y];  relu_bwd  s (n,)  A [a, b, z]
    softmax     s (n,)  A [x, y, out (float64, 2): the sum it returns, then *top]
    correlate, ndcorrelate  s (n, kh, kw, ldx)     A [x, w, y]
    ndline      s (n, m, sym)                      A [base, offsets (int64, m), w (float64), y]
    runsum      s (n, m)                           A [acc (float64), x_in, x_out, y]
    runlines    s (k, n, m)                        A [acc (float64, k), x, in (int64, k),
                out (int64, k), y, at (int64, k)]: line l's inputs at x + in[l] and
                x + out[l], its outputs at y + at[l] (offsets in elements)
    ndstore     s (elem, n, safe): elem an fc_elem  A [d (float64), y (of that type)]
    adam        s (n, a, c1, c2, eps)              A [p, g, m, v]
    gemv        s (nb, kc, mc, ldx, ldw, ldy, flags)  A [x, w, y]
    gemv_sparse s (nb, L, mc, ldw, ldy, flags)     A [nnz (uintp, nb), idx (uint32, nb x L),
                val (nb x L), w, y]: row r's terms the first nnz[r] of idx[r], val[r]
    fma_probe   s (iters,)                         A [out (float32, 1): what it returns]
    transpose   s (np, nj, lds, ldd)               A [src, dst]

    Returns what the kernel returns (the largest code, for a wgrad), else 0."""
    cdef const fc_ukernel_info *k = fc_ukernel_at(index)
    if k == NULL:
        raise IndexError(f"ukernel_run: no registered kernel {index} (there are {fc_ukernel_count()})")
    kind = k.kind.decode()
    cdef bint f32 = k.dtype[1] == b"3"[0]
    cdef size_t elem = 4 if f32 else 8
    cdef fc_any_ukernel fn = k.fn
    cdef int64_t r
    cdef unsigned ret = 0, got
    cdef const char *p[6]
    cdef const uint32_t *sp_idx[4]
    cdef size_t q
    cdef const char *sp_val[4]
    cdef const void **ptrs = NULL
    cdef const void **ptrs2 = NULL
    cdef const void **ptrs3 = NULL
    cdef fc_pool2d_params pp
    cdef fc_f32_adam_params a32
    cdef fc_f64_adam_params a64
    cdef size_t s0, s1, s2, s3, s4, s5, s6
    cdef unsigned flags
    cdef double dm
    cdef float top32
    cdef double top64
    for i in range(min(len(A), 6)):
        p[i] = _ptr(A[i])
    try:
        if kind == "gemm":
            s0, s1, s2, s3, flags = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_gemm_ukernel>fn)(s0, <const float *>p[0], <const float *>p[1], <float *>p[2], s3, s1, s2, <const float *>p[3], flags)
                    else:
                        (<fc_f64_gemm_ukernel>fn)(s0, <const double *>p[0], <const double *>p[1], <double *>p[2], s3, s1, s2, <const double *>p[3], flags)
        elif kind == "igemm":
            s0, s1, s2, s3, s4, s5, s6, q, flags = s
            ptrs = _pointers(A[0], A[1], elem, p[2])
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_igemm_ukernel>fn)(s0, s1, <const float *const *>ptrs, s5, s6, <const float *>p[2], <const float *>p[3], q, <float *>p[4], s4, s2, s3, <const float *>p[5], flags)
                    else:
                        (<fc_f64_igemm_ukernel>fn)(s0, s1, <const double *const *>ptrs, s5, s6, <const double *>p[2], <const double *>p[3], q, <double *>p[4], s4, s2, s3, <const double *>p[5], flags)
        elif kind.startswith("maxpool"):
            (pp.n, pp.c, pp.h, pp.w, pp.oh, pp.ow, pp.kernel_h, pp.kernel_w, pp.stride_h, pp.stride_w,
             pp.dil_h, pp.dil_w, pp.pad_top, pp.pad_left, nhwc, oy) = s
            pp.layout = FC_NHWC if nhwc else FC_NCHW
            s0 = oy
            with nogil:
                for r in range(repeat):
                    if kind == "maxpool_code" and f32:
                        (<fc_f32_maxpool_code_ukernel>fn)(&pp, <const float *>p[0], s0, <float *>p[1], <uint8_t *>p[2])
                    elif kind == "maxpool_code":
                        (<fc_f64_maxpool_code_ukernel>fn)(&pp, <const double *>p[0], s0, <double *>p[1], <uint8_t *>p[2])
                    elif f32:
                        (<fc_f32_maxpool_ukernel>fn)(&pp, <const float *>p[0], s0, <float *>p[1], <int64_t *>p[2])
                    else:
                        (<fc_f64_maxpool_ukernel>fn)(&pp, <const double *>p[0], s0, <double *>p[1], <int64_t *>p[2])
        elif kind == "unpool_code":
            s0, s1, s2 = s
            ptrs = _pointers(A[2], A[3], elem, NULL)
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_unpool_code_ukernel>fn)(s0, s1, s2, <const float *>p[0], <const uint8_t *>p[1], <float *const *>ptrs)
                    else:
                        (<fc_f64_unpool_code_ukernel>fn)(s0, s1, s2, <const double *>p[0], <const uint8_t *>p[1], <double *const *>ptrs)
        elif kind.startswith("convpool") and kind.endswith("_wgrad"):
            s0, s1, s2 = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        got = (<fc_f32_convpool_wgrad_ukernel>fn)(<const float *>p[0], s0, s1, s2, <const float *>p[1], <const uint8_t *>p[2], <float *>p[3], <float *>p[4])
                    else:
                        got = (<fc_f64_convpool_wgrad_ukernel>fn)(<const double *>p[0], s0, s1, s2, <const double *>p[1], <const uint8_t *>p[2], <double *>p[3], <double *>p[4])
                    ret = got if got > ret else ret
        elif kind.startswith("convpool"):
            s0, s1, s2 = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_convpool_ukernel>fn)(<const float *>p[0], s0, s1, s2, <const float *>p[1], <const float *>p[2], <float *>p[3], <uint8_t *>p[4])
                    else:
                        (<fc_f64_convpool_ukernel>fn)(<const double *>p[0], s0, s1, s2, <const double *>p[1], <const double *>p[2], <double *>p[3], <uint8_t *>p[4])
        elif kind.startswith("conv_"):
            s0, s1, s2, s3, s4 = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_conv_ukernel>fn)(<const float *>p[0], s0, s1, s2, s3, <const float *>p[1], <const float *>p[2], <float *>p[3], s4)
                    else:
                        (<fc_f64_conv_ukernel>fn)(<const double *>p[0], s0, s1, s2, s3, <const double *>p[1], <const double *>p[2], <double *>p[3], s4)
        elif kind in ("relu", "relu_nt"):
            s0, = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_unary_ukernel>fn)(s0, <const float *>p[0], <float *>p[1])
                    else:
                        (<fc_f64_unary_ukernel>fn)(s0, <const double *>p[0], <double *>p[1])
        elif kind == "softmax":
            s0, = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<double *>p[2])[0] = (<fc_f32_softmax_ukernel>fn)(s0, <const float *>p[0], <float *>p[1], &top32)
                        (<double *>p[2])[1] = top32
                    else:
                        (<double *>p[2])[0] = (<fc_f64_softmax_ukernel>fn)(s0, <const double *>p[0], <double *>p[1], &top64)
                        (<double *>p[2])[1] = top64
        elif kind == "relu_bwd":
            s0, = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_binary_ukernel>fn)(s0, <const float *>p[0], <const float *>p[1], <float *>p[2])
                    else:
                        (<fc_f64_binary_ukernel>fn)(s0, <const double *>p[0], <const double *>p[1], <double *>p[2])
        elif kind in ("correlate", "ndcorrelate"):
            s0, s1, s2, s3 = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_correlate_ukernel>fn)(s0, s1, s2, <const float *>p[0], s3, <const float *>p[1], <float *>p[2])
                    else:
                        (<fc_f64_correlate_ukernel>fn)(s0, s1, s2, <const double *>p[0], s3, <const double *>p[1], <double *>p[2])
        elif kind == "ndline":
            s0, s1, sym = s
            ptrs = _pointers(A[0], A[1], elem, NULL)
            s2 = <size_t>(sym + 1)
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_ndline_ukernel>fn)(s0, s1, <const float *const *>ptrs, <const double *>p[2], <int>s2 - 1, <float *>p[3])
                    else:
                        (<fc_f64_ndline_ukernel>fn)(s0, s1, <const double *const *>ptrs, <const double *>p[2], <int>s2 - 1, <double *>p[3])
        elif kind == "runsum":
            s0, dm = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_runsum_ukernel>fn)(s0, <double *>p[0], <const float *>p[1], <const float *>p[2], dm, <float *>p[3])
                    else:
                        (<fc_f64_runsum_ukernel>fn)(s0, <double *>p[0], <const double *>p[1], <const double *>p[2], dm, <double *>p[3])
        elif kind == "runlines":
            s0, s1, dm = s
            ptrs = _pointers(A[1], A[2], elem, NULL)
            ptrs2 = _pointers(A[1], A[3], elem, NULL)
            ptrs3 = _pointers(A[4], A[5], elem, NULL)
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_runlines_ukernel>fn)(s0, s1, <const float *const *>ptrs, <const float *const *>ptrs2, <double *>p[0], dm, <float *const *>ptrs3)
                    else:
                        (<fc_f64_runlines_ukernel>fn)(s0, s1, <const double *const *>ptrs, <const double *const *>ptrs2, <double *>p[0], dm, <double *const *>ptrs3)
        elif kind == "ndstore":
            s0, s1, s2 = s
            with nogil:
                for r in range(repeat):
                    (<fc_f64_ndstore_ukernel>fn)(<fc_elem>s0, s1, <const double *>p[0], <void *>p[1], <int>s2)
        elif kind == "adam":
            s0 = s[0]
            a32.a, a32.c1, a32.c2, a32.eps = s[1:]
            a64.a, a64.c1, a64.c2, a64.eps = s[1:]
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_adam_ukernel>fn)(s0, <float *>p[0], <const float *>p[1], <float *>p[2], <float *>p[3], &a32)
                    else:
                        (<fc_f64_adam_ukernel>fn)(s0, <double *>p[0], <const double *>p[1], <double *>p[2], <double *>p[3], &a64)
        elif kind == "gemv":
            s0, s1, s2, s3, s4, s5, flags = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_gemv_ukernel>fn)(s0, s1, s2, <const float *>p[0], s3, <const float *>p[1], s4, <float *>p[2], s5, flags)
                    else:
                        (<fc_f64_gemv_ukernel>fn)(s0, s1, s2, <const double *>p[0], s3, <const double *>p[1], s4, <double *>p[2], s5, flags)
        elif kind == "gemv_sparse":
            s0, s1, s2, s3, s4, flags = s
            if not 1 <= s0 <= 4:
                raise ValueError(f"ukernel_run: gemv_sparse takes 1 to 4 rows, not {s0}")
            for q in range(s0):
                sp_idx[q] = <const uint32_t *>(p[1] + q * s1 * 4)
                sp_val[q] = p[2] + q * s1 * elem
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_gemv_sparse_ukernel>fn)(s0, <const size_t *>p[0], sp_idx, <const float *const *>sp_val, s2, <const float *>p[3], s3, <float *>p[4], s4, flags)
                    else:
                        (<fc_f64_gemv_sparse_ukernel>fn)(s0, <const size_t *>p[0], sp_idx, <const double *const *>sp_val, s2, <const double *>p[3], s3, <double *>p[4], s4, flags)
        elif kind == "fma_probe":
            s0 = s[0]
            with nogil:
                for r in range(repeat):
                    (<float *>p[0])[0] = (<fc_f32_probe_ukernel>fn)(s0)
        elif kind == "transpose":
            s0, s1, s2, s3 = s
            with nogil:
                for r in range(repeat):
                    if f32:
                        (<fc_f32_transpose_ukernel>fn)(s0, s1, <const float *>p[0], s2, <float *>p[1], s3)
                    else:
                        (<fc_f64_transpose_ukernel>fn)(s0, s1, <const double *>p[0], s2, <double *>p[1], s3)
        else:
            raise ValueError(f"ukernel_run: no calling convention for kind {kind!r} ({k.name.decode()})")
    finally:
        free(ptrs)
        free(ptrs2)
        free(ptrs3)
    return ret
