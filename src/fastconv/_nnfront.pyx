# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""fastconv.nn's front doors: conv2d, max_pool2d, max_pool2d_backward, the
geometry of conv2d_backward, dense and dense_backward, and the model layer's
fused conv2d + max-pool and softmax; and the model layer's inference pass in
one C call (ForwardPlan), and its training step as one sequence of C calls
(TrainChain).

Per-call cost matters for these ops as much as for the drop-ins: one 28x28
image through the lecture's first layer (28 3x3 filters) is about 4.5 us of
kernel time, and the general path's argument handling in Python took about
6 us more. So the common call is recognised here, at C speed, and goes
straight to the kernels:

- arrays that are ndarrays (not subclasses) of float32 or float64 in native
  byte order, C-contiguous, aligned and non-empty, of one dtype; a
  max_pool2d_backward's indices int64 likewise (its `x` only lends its shape
  and dtype, so any strides);
- options that are Python ints, or tuples of them (one or two for pooling),
  'valid' or 'same' as a conv2d padding, bools as bools, and a layout of
  'NCHW' or 'NHWC': nothing to convert;
- and a call the general path would not refuse, worked out with the same
  formulas as fastconv.nn's.

An `out` (conv2d, dense, dense_backward) is taken here when it is such an
array itself, of exactly the result's shape, writable, and its memory lies
apart from every input's (else the general path computes aside and copies
in); the kernel then writes it directly.

Every front door returns None for anything else, and for any call the
general path would refuse: the public function in nn.py then runs its
general path, which converts what needs converting and words every error. So
no front door raises, and no error message lives here. A non-zero status from
the C kernels (no memory, no thread) also returns None: the general path runs
the call again and reports it. The result is allocated here, the GIL released
around the kernel, and the kernel's parameters are those the general path
hands it, so the bits are the same.

Options above OPT_MAX and arrays or results with more than MAX_ELEMS elements
take the general path, so no size or product here can overflow 64 bits.
"""
cimport numpy as cnp
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free

cnp.import_array()

from fastconv._capi cimport *
from fastconv._bigarrays cimport _new

import numpy as np


cdef enum:
    OPT_MAX = 1 << 30  # strides, paddings, dilations, groups and kernel sizes up to this

cdef int64_t MAX_DIM = <int64_t>1 << 40    # a longer axis, or
cdef double MAX_ELEMS = <double>(<int64_t>1 << 48)  # more elements: the general path
cdef int ALIGNED_C = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED


# ---- arguments (no Python calls) ---------------------------------------------------

cdef bint _int(object v, int64_t lo, int64_t *out) except -1:
    """A Python int (not a bool) in [lo, OPT_MAX] into *out."""
    cdef int overflow = 0
    cdef long long i
    if type(v) is not int:
        return False
    i = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or i < lo or i > OPT_MAX:
        return False
    out[0] = i
    return True


cdef bint _pair(object v, int64_t lo, bint single, int64_t *a, int64_t *b) except -1:
    """An int or a tuple of two ints (or, with `single`, of one, used for both),
    each in [lo, OPT_MAX], into *a and *b: `fastconv._checks.pair`'s rule."""
    cdef Py_ssize_t n
    if type(v) is int:
        if not _int(v, lo, a):
            return False
        b[0] = a[0]
        return True
    if type(v) is not tuple:
        return False
    n = len(<tuple>v)
    if n == 2:
        return _int((<tuple>v)[0], lo, a) and _int((<tuple>v)[1], lo, b)
    if n == 1 and single:
        if not _int((<tuple>v)[0], lo, a):
            return False
        b[0] = a[0]
        return True
    return False


cdef int _layout(object layout) except -2:
    if type(layout) is not str:
        return -1
    if layout == "NCHW":
        return FC_NCHW
    if layout == "NHWC":
        return FC_NHWC
    return -1


cdef int _float_array(object a, bint contiguous) noexcept:
    """NPY_FLOAT or NPY_DOUBLE for a non-empty ndarray of that dtype in native
    byte order (C-contiguous and aligned if `contiguous`) of at most MAX_ELEMS
    elements and no axis longer than MAX_DIM; else -1."""
    if type(a) is not cnp.ndarray:
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr), i
    if (t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE) or not cnp.PyArray_ISNOTSWAPPED(arr):
        return -1
    if contiguous and (cnp.PyArray_FLAGS(arr) & ALIGNED_C) != ALIGNED_C:
        return -1
    if cnp.PyArray_SIZE(arr) == 0 or <double>cnp.PyArray_SIZE(arr) > MAX_ELEMS:
        return -1
    for i in range(cnp.PyArray_NDIM(arr)):
        if cnp.PyArray_DIM(arr, i) > MAX_DIM:
            return -1
    return t


cdef bint _dims_are(cnp.ndarray a, int nd, const cnp.npy_intp *dims) noexcept:
    cdef int i
    if cnp.PyArray_NDIM(a) != nd:
        return False
    for i in range(nd):
        if cnp.PyArray_DIM(a, i) != dims[i]:
            return False
    return True


cdef bint _out_ok(object out, int t, int nd, const cnp.npy_intp *dims) noexcept:
    """Whether `out` is a common-case result array: an ndarray (not a subclass)
    of dtype t in native byte order, C-contiguous, aligned and writable, of
    exactly dims."""
    if type(out) is not cnp.ndarray:
        return False
    cdef cnp.ndarray o = <cnp.ndarray>out
    cdef int need = ALIGNED_C | cnp.NPY_ARRAY_WRITEABLE
    return (cnp.PyArray_TYPE(o) == t and cnp.PyArray_ISNOTSWAPPED(o)
            and (cnp.PyArray_FLAGS(o) & need) == need and _dims_are(o, nd, dims))


cdef bint _apart(object out, object a) noexcept:
    """Whether the bytes of two C-contiguous ndarrays (`a` may be None) do not
    overlap: NumPy's may_share_memory bounds test."""
    if a is None:
        return True
    cdef cnp.ndarray o = <cnp.ndarray>out, b = <cnp.ndarray>a
    cdef const char *o0 = <const char *>cnp.PyArray_DATA(o)
    cdef const char *b0 = <const char *>cnp.PyArray_DATA(b)
    return (o0 + cnp.PyArray_NBYTES(o) <= b0) or (b0 + cnp.PyArray_NBYTES(b) <= o0)


cdef object _result(object out, int nd, cnp.npy_intp *dims, int t, object a, object b,
                    object c):
    """`out` if it is a common-case result apart from the inputs a, b and c (each
    a C-contiguous ndarray or None), a new array for out None; else None."""
    if out is None:
        return _empty(nd, dims, t)
    if _out_ok(out, t, nd, dims) and _apart(out, a) and _apart(out, b) and _apart(out, c):
        return out
    return None


cdef object _empty(int nd, cnp.npy_intp *dims, int t):
    """A new C-contiguous array (on a large block from FC_BIG_MIN_BYTES up, see
    _bigarrays.pxd), or None where it cannot be allocated (the general path
    then raises NumPy's MemoryError itself)."""
    try:
        return _new(nd, dims, t)
    except MemoryError:
        return None


def empty(shape, dtype):
    """numpy.empty(shape, dtype) for the general paths' results: C-contiguous, on a
    kept large block from FC_BIG_MIN_BYTES up (_bigarrays.pxd)."""
    cdef tuple dims_in = tuple(shape)
    cdef int nd = len(dims_in), i
    cdef cnp.npy_intp dims[cnp.NPY_MAXDIMS]
    if nd > cnp.NPY_MAXDIMS:
        return np.empty(dims_in, dtype)
    for i in range(nd):
        dims[i] = dims_in[i]
        if dims[i] < 0:
            return np.empty(dims_in, dtype)  # NumPy's own error
    return _new(nd, dims, np.dtype(dtype).num)


# ---- conv2d ------------------------------------------------------------------------

cdef bint _conv_geometry(object x, object weight, object stride, object padding,
                         object dilation, object groups, object layout,
                         fc_conv2d_params *p, int *t) except -1:
    """Fills *p and the dtype *t for a common-case conv2d whose arguments
    fastconv.nn._conv_geometry would accept, with its formulas; else False."""
    cdef int lay = _layout(layout)
    if lay < 0:
        return False
    p.layout = <fc_layout>lay
    t[0] = _float_array(x, True)
    if t[0] < 0 or _float_array(weight, True) != t[0]:
        return False
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>weight
    cdef int nd = cnp.PyArray_NDIM(xa), o = cnp.PyArray_NDIM(xa) - 3
    if (nd != 3 and nd != 4) or cnp.PyArray_NDIM(wa) != 4:
        return False
    cdef const cnp.npy_intp *xs = cnp.PyArray_DIMS(xa)
    cdef const cnp.npy_intp *ws = cnp.PyArray_DIMS(wa)
    cdef int64_t cg
    p.n = xs[0] if nd == 4 else 1
    if p.layout == FC_NHWC:
        p.h, p.w, p.c = xs[o], xs[o + 1], xs[o + 2]
        p.r, p.s, cg, p.k = ws[0], ws[1], ws[2], ws[3]
    else:
        p.c, p.h, p.w = xs[o], xs[o + 1], xs[o + 2]
        p.k, cg, p.r, p.s = ws[0], ws[1], ws[2], ws[3]
    if not (_pair(stride, 1, False, &p.stride_h, &p.stride_w)
            and _pair(dilation, 1, False, &p.dil_h, &p.dil_w) and _int(groups, 1, &p.groups)):
        return False
    if p.r > OPT_MAX or p.s > OPT_MAX or cg * p.groups != p.c or p.k % p.groups:
        return False
    cdef int64_t span_h = p.dil_h * (p.r - 1) + 1, span_w = p.dil_w * (p.s - 1) + 1
    cdef int64_t ph, pw
    if type(padding) is str and padding == "same":
        fc_same_padding(p.h, p.r, p.stride_h, p.dil_h, &p.pad_top, &p.oh)
        fc_same_padding(p.w, p.s, p.stride_w, p.dil_w, &p.pad_left, &p.ow)
    else:
        if type(padding) is str:
            if padding != "valid":
                return False
            ph = pw = 0
        elif not _pair(padding, 0, False, &ph, &pw):
            return False
        if p.h + 2 * ph < span_h or p.w + 2 * pw < span_w:
            return False
        p.oh = (p.h + 2 * ph - span_h) // p.stride_h + 1
        p.ow = (p.w + 2 * pw - span_w) // p.stride_w + 1
        p.pad_top, p.pad_left = ph, pw
    return <double>p.n * <double>p.k * <double>p.oh * <double>p.ow <= MAX_ELEMS


cdef void _conv_out_dims(const fc_conv2d_params *p, bint batched, cnp.npy_intp *dims) noexcept:
    """conv2d's result shape: (n,) k, oh, ow for NCHW, (n,) oh, ow, k for NHWC."""
    cdef int o = 1 if batched else 0
    dims[0] = p.n
    if p.layout == FC_NHWC:
        dims[o], dims[o + 1], dims[o + 2] = p.oh, p.ow, p.k
    else:
        dims[o], dims[o + 1], dims[o + 2] = p.k, p.oh, p.ow


def conv2d(x, weight, bias, stride, padding, dilation, groups, layout, out=None):
    """``fastconv.nn.conv2d(x, weight, bias, stride, padding, dilation, groups,
    layout=layout, out=out)`` for the common case, or None (see the module's
    docstring)."""
    cdef fc_conv2d_params p
    cdef int t, st
    if not _conv_geometry(x, weight, stride, padding, dilation, groups, layout, &p, &t):
        return None
    cdef const void *bp = NULL
    if bias is not None:
        if (_float_array(bias, True) != t or cnp.PyArray_NDIM(<cnp.ndarray>bias) != 1
                or cnp.PyArray_DIM(<cnp.ndarray>bias, 0) != p.k):
            return None
        bp = cnp.PyArray_DATA(<cnp.ndarray>bias)
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    cdef cnp.npy_intp dims[4]
    _conv_out_dims(&p, nd == 4, dims)
    y = _result(out, nd, dims, t, x, weight, bias)
    if y is None:
        return None
    cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef const void *wp = cnp.PyArray_DATA(<cnp.ndarray>weight)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_conv2d(&p, <const float *>xp, <const float *>wp, <const float *>bp, <float *>yp)
        else:
            st = fc_f64_conv2d(&p, <const double *>xp, <const double *>wp, <const double *>bp,
                               <double *>yp)
    return y if st == 0 else None


def conv2d_backward_geometry(grad_out, x, weight, stride, padding, dilation, groups, layout):
    """For a common-case ``fastconv.nn.conv2d_backward`` call (grad_out too an
    array of x's dtype, C-contiguous and aligned, of the shape conv2d gives):
    ``(dims, opts, out_shape)`` as fastconv.nn._conv_geometry gives them;
    else None."""
    cdef fc_conv2d_params p
    cdef int t
    if not _conv_geometry(x, weight, stride, padding, dilation, groups, layout, &p, &t):
        return None
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    cdef cnp.npy_intp dims[4]
    _conv_out_dims(&p, True, dims)
    cdef const cnp.npy_intp *gdims = &dims[0] if nd == 4 else &dims[1]
    if _float_array(grad_out, True) != t or not _dims_are(<cnp.ndarray>grad_out, nd, gdims):
        return None
    return ((p.n, p.c, p.h, p.w, p.k, p.r, p.s, p.oh, p.ow),
            (p.stride_h, p.stride_w, p.dil_h, p.dil_w, p.pad_top, p.pad_left, p.groups),
            (dims[0], dims[1], dims[2], dims[3]))


# ---- max_pool2d and its gradient -----------------------------------------------------

cdef int64_t _pool_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d, bint ceil_mode) noexcept:
    """fastconv.nn._pool_out (PyTorch's pooling_output_shape), or 0 where it is
    below 1."""
    cdef int64_t num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0), o
    if num < 0:
        return 0  # (floor division: an output size of at most 0)
    o = num // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


cdef bint _pool_geometry(object x, bint contiguous, object kernel_size, object stride,
                         object padding, object dilation, object ceil_mode, object layout,
                         fc_pool2d_params *p, int *t) except -1:
    """Fills *p and the dtype *t for a common-case max-pool call whose arguments
    fastconv.nn._pool_geometry would accept, with its formulas; else False."""
    cdef int lay = _layout(layout)
    if lay < 0 or type(ceil_mode) is not bool:
        return False
    p.layout = <fc_layout>lay
    t[0] = _float_array(x, contiguous)
    if t[0] < 0:
        return False
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(xa), o = cnp.PyArray_NDIM(xa) - 3
    if nd != 3 and nd != 4:
        return False
    if not _pair(kernel_size, 1, True, &p.kernel_h, &p.kernel_w):
        return False
    if stride is None:
        p.stride_h, p.stride_w = p.kernel_h, p.kernel_w
    elif not _pair(stride, 1, True, &p.stride_h, &p.stride_w):
        return False
    if not (_pair(padding, 0, True, &p.pad_top, &p.pad_left)
            and _pair(dilation, 1, True, &p.dil_h, &p.dil_w)):
        return False
    if p.pad_top > p.kernel_h // 2 or p.pad_left > p.kernel_w // 2:
        return False
    cdef const cnp.npy_intp *xs = cnp.PyArray_DIMS(xa)
    p.n = xs[0] if nd == 4 else 1
    if p.layout == FC_NHWC:
        p.h, p.w, p.c = xs[o], xs[o + 1], xs[o + 2]
    else:
        p.c, p.h, p.w = xs[o], xs[o + 1], xs[o + 2]
    cdef bint ceil = ceil_mode
    p.oh = _pool_out(p.h, p.kernel_h, p.stride_h, p.pad_top, p.dil_h, ceil)
    p.ow = _pool_out(p.w, p.kernel_w, p.stride_w, p.pad_left, p.dil_w, ceil)
    # a dilation up to the input's size leaves no window of padding only
    # (nn._pool_axis_covered); larger ones are checked on the general path
    if p.oh < 1 or p.ow < 1 or p.dil_h > p.h or p.dil_w > p.w:
        return False
    return <double>p.n * <double>p.c * <double>p.oh * <double>p.ow <= MAX_ELEMS


cdef void _pool_out_dims(const fc_pool2d_params *p, bint batched, cnp.npy_intp *dims) noexcept:
    cdef int o = 1 if batched else 0
    dims[0] = p.n
    if p.layout == FC_NHWC:
        dims[o], dims[o + 1], dims[o + 2] = p.oh, p.ow, p.c
    else:
        dims[o], dims[o + 1], dims[o + 2] = p.c, p.oh, p.ow


def max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout):
    """``fastconv.nn.max_pool2d(x, ...)`` for the common case, or None (see the
    module's docstring)."""
    cdef fc_pool2d_params p
    cdef int t, st
    if type(return_indices) is not bool:
        return None
    if not _pool_geometry(x, True, kernel_size, stride, padding, dilation, ceil_mode, layout, &p, &t):
        return None
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    cdef cnp.npy_intp dims[4]
    _pool_out_dims(&p, nd == 4, dims)
    y = _empty(nd, dims, t)
    idx = _empty(nd, dims, cnp.NPY_INT64) if return_indices else None
    if y is None or (return_indices and idx is None):
        return None
    cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef int64_t *ip = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>idx) if return_indices else NULL
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_max_pool2d(&p, <const float *>xp, <float *>yp, ip)
        else:
            st = fc_f64_max_pool2d(&p, <const double *>xp, <double *>yp, ip)
    if st != 0:
        return None
    return (y, idx) if return_indices else y


def max_pool2d_backward(grad_out, x, indices, kernel_size, stride, padding, dilation, ceil_mode,
                        layout):
    """``fastconv.nn.max_pool2d_backward(grad_out, x, indices, ...)`` for the
    common case, or None (see the module's docstring; indices outside their
    planes are a kernel status, so they too take the general path, which
    raises)."""
    cdef fc_pool2d_params p
    cdef int t, st
    if not _pool_geometry(x, False, kernel_size, stride, padding, dilation, ceil_mode, layout, &p, &t):
        return None
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    cdef cnp.npy_intp dims[4]
    _pool_out_dims(&p, nd == 4, dims)
    if _float_array(grad_out, True) != t or not _dims_are(<cnp.ndarray>grad_out, nd, dims):
        return None
    if (type(indices) is not cnp.ndarray
            or cnp.PyArray_TYPE(<cnp.ndarray>indices) != cnp.NPY_INT64
            or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>indices)
            or (cnp.PyArray_FLAGS(<cnp.ndarray>indices) & ALIGNED_C) != ALIGNED_C
            or not _dims_are(<cnp.ndarray>indices, nd, dims)):
        return None
    gx = _empty(nd, cnp.PyArray_DIMS(<cnp.ndarray>x), t)
    if gx is None:
        return None
    cdef const void *gp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef const int64_t *ip = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>indices)
    cdef void *xp = cnp.PyArray_DATA(<cnp.ndarray>gx)
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_max_pool2d_backward(&p, <const float *>gp, ip, <float *>xp)
        else:
            st = fc_f64_max_pool2d_backward(&p, <const double *>gp, ip, <double *>xp)
    return gx if st == 0 else None


# ---- conv2d fused with the max-pool after it (the model layer's Conv2D + MaxPooling2D) --

def conv2d_maxpool(x, weight, bias, tuple cdims, tuple copts, tuple pdims, tuple popts,
                   bint return_codes):
    """``fastconv.nn._conv2d_maxpool``'s (y, codes or None) for a plan's sizes and
    options (checked when the plan was made, and by the kernel), or None where
    an array is not one the kernel reads in place."""
    cdef fc_conv2d_params p
    cdef fc_pool2d_params q
    cdef int t = _float_array(x, True), st
    if t < 0 or _float_array(weight, True) != t:
        return None
    p.n, p.c, p.h, p.w, p.k, p.r, p.s, p.oh, p.ow = cdims
    p.stride_h, p.stride_w, p.dil_h, p.dil_w, p.pad_top, p.pad_left, p.groups = copts
    q.n, q.c, q.h, q.w, q.oh, q.ow = pdims
    q.kernel_h, q.kernel_w, q.stride_h, q.stride_w, q.dil_h, q.dil_w, q.pad_top, q.pad_left = popts
    p.layout = q.layout = FC_NHWC
    if (p.groups < 1 or cnp.PyArray_SIZE(<cnp.ndarray>x) != p.n * p.h * p.w * p.c
            or cnp.PyArray_SIZE(<cnp.ndarray>weight) != p.r * p.s * (p.c // p.groups) * p.k):
        return None
    cdef const void *bp = NULL
    if bias is not None:
        if _float_array(bias, True) != t or cnp.PyArray_SIZE(<cnp.ndarray>bias) != p.k:
            return None
        bp = cnp.PyArray_DATA(<cnp.ndarray>bias)
    cdef cnp.npy_intp dims[4]
    dims[0], dims[1], dims[2], dims[3] = q.n, q.oh, q.ow, q.c
    y = _empty(4, dims, t)
    codes = _empty(4, dims, cnp.NPY_UINT8) if return_codes else None
    if y is None or (return_codes and codes is None):
        return None
    cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef const void *wp = cnp.PyArray_DATA(<cnp.ndarray>weight)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef uint8_t *cp = <uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>codes) if return_codes else NULL
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_conv2d_maxpool(&p, &q, <const float *>xp, <const float *>wp,
                                       <const float *>bp, <float *>yp, cp)
        else:
            st = fc_f64_conv2d_maxpool(&p, &q, <const double *>xp, <const double *>wp,
                                       <const double *>bp, <double *>yp, cp)
    return (y, codes) if st == 0 else None


# ---- softmax over the last axis (the model layer's activation) --------------------

def softmax(x):
    """A new array, softmax over the last axis of `x` (csrc/ops/softmax-template.h), for a
    C-contiguous float array; else None."""
    cdef int t = _float_array(x, True), st
    if t < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(xa)
    if nd == 0:
        return None
    y = _empty(nd, cnp.PyArray_DIMS(xa), t)
    if y is None:
        return None
    cdef int64_t cols = cnp.PyArray_DIM(xa, nd - 1)
    cdef int64_t rows = cnp.PyArray_SIZE(xa) // cols
    cdef const void *xp = cnp.PyArray_DATA(xa)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_softmax(rows, cols, <const float *>xp, <float *>yp)
        else:
            st = fc_f64_softmax(rows, cols, <const double *>xp, <double *>yp)
    return y if st == 0 else None


def softmax_xent(z, labels, w, probs):
    """The sparse cross-entropy head of a softmax (csrc/ops/softmax-template.h) from its
    logits `z` (..., classes), a C-contiguous float array: (the rows' weighted loss
    terms summed, the gradient with respect to `z`, the number of rows whose `probs`
    argmax is the label, or None without `probs`). `labels` is an integer array of z's
    leading shape, or of z's shape with a last axis of 1; `w` None or one weight per
    row, of z's dtype, C-contiguous; `probs` None or of z's shape and dtype,
    C-contiguous, counted only for 2-D `z`. None for anything else, and for a label
    outside [0, classes): the general path then words the error."""
    cdef int t = _float_array(z, True), st
    if t < 0 or type(labels) is not cnp.ndarray:
        return None
    cdef cnp.ndarray za = <cnp.ndarray>z, la = <cnp.ndarray>labels
    cdef int nd = cnp.PyArray_NDIM(za), lnd = cnp.PyArray_NDIM(la)
    if nd == 0 or not cnp.PyArray_ISINTEGER(la) or not (
            lnd == nd - 1 or (lnd == nd and cnp.PyArray_DIM(la, nd - 1) == 1)):
        return None
    cdef int i
    for i in range(nd - 1):
        if cnp.PyArray_DIM(la, i) != cnp.PyArray_DIM(za, i):
            return None
    cdef int64_t cols = cnp.PyArray_DIM(za, nd - 1)
    cdef int64_t rows = cnp.PyArray_SIZE(za) // cols
    cdef const void *wp = NULL
    cdef const void *pp = NULL
    if w is not None:
        if _float_array(w, True) != t or cnp.PyArray_SIZE(<cnp.ndarray>w) != rows:
            return None
        wp = cnp.PyArray_DATA(<cnp.ndarray>w)
    if probs is not None and nd == 2 and _float_array(probs, True) == t \
            and _dims_are(<cnp.ndarray>probs, nd, cnp.PyArray_DIMS(za)):
        pp = cnp.PyArray_DATA(<cnp.ndarray>probs)
    cdef cnp.ndarray lab = <cnp.ndarray>cnp.PyArray_FROMANY(
        la, cnp.NPY_INT64, 0, 0, cnp.NPY_ARRAY_CARRAY_RO | cnp.NPY_ARRAY_FORCECAST)
    g = _empty(nd, cnp.PyArray_DIMS(za), t)
    if g is None:
        return None
    cdef const void *zp = cnp.PyArray_DATA(za)
    cdef const int64_t *lp = <const int64_t *>cnp.PyArray_DATA(lab)
    cdef void *gp = cnp.PyArray_DATA(<cnp.ndarray>g)
    cdef double loss
    cdef int64_t correct, bad
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_softmax_xent(rows, cols, <const float *>zp, lp, <const float *>wp,
                                     <const float *>pp, <float *>gp, &loss, &correct, &bad)
        else:
            st = fc_f64_softmax_xent(rows, cols, <const double *>zp, lp, <const double *>wp,
                                     <const double *>pp, <double *>gp, &loss, &correct, &bad)
    if st != 0:
        return None
    return loss, g, (correct if pp != NULL else None)


def dropout(x, uint64_t seed, double rate, double scale):
    """(y, mask) of dropout in training (csrc/ops/dropout-template.h) for a C-contiguous
    float array `x`: new arrays of x's shape and dtype, y = x * mask, the mask `scale`
    where an element is kept and 0 where it is dropped, drawn from the stream of
    `seed`; None for anything else or a rate outside [0, 1)."""
    cdef int t = _float_array(x, True), st
    if t < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(xa)
    y = _empty(nd, cnp.PyArray_DIMS(xa), t)
    mask = _empty(nd, cnp.PyArray_DIMS(xa), t) if y is not None else None
    if mask is None:
        return None
    cdef int64_t n = cnp.PyArray_SIZE(xa)
    cdef const void *xp = cnp.PyArray_DATA(xa)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void *mp = cnp.PyArray_DATA(<cnp.ndarray>mask)
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_dropout(n, <const float *>xp, <float *>yp, <float *>mp, seed, rate, scale)
        else:
            st = fc_f64_dropout(n, <const double *>xp, <double *>yp, <double *>mp, seed, rate, scale)
    return (y, mask) if st == 0 else None


cdef bint _adam_operand(object a, int t, int64_t n, bint write) noexcept:
    """`a` an ndarray of dtype t, n elements, C-contiguous, aligned (and writable)."""
    if _float_array(a, True) != t or cnp.PyArray_SIZE(<cnp.ndarray>a) != n:
        return False
    return not write or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)


def adam_update_many(list ps, list gs, list states, double alpha, double beta_1, double beta_2,
                     double epsilon):
    """The Adam kernel (fc_*_adam_update) on each ps[i] with gs[i] and states[i] = [m, v]
    where all four are common-case arrays of one float dtype and size, the weight and
    moments writable; returns the list of the other indices (untouched)."""
    cdef Py_ssize_t i, count = len(ps)
    cdef list left = []
    cdef object p, g, m, v
    cdef void *pp
    cdef void *gp
    cdef void *mp
    cdef void *vp
    cdef int t, st
    cdef int64_t n
    if len(gs) != count or len(states) != count:
        return list(range(count))
    for i in range(count):
        p, g = ps[i], gs[i]
        state = states[i]
        t = _float_array(p, True)
        if t < 0 or type(state) is not list or len(<list>state) != 2:
            left.append(i)
            continue
        m, v = (<list>state)[0], (<list>state)[1]
        n = cnp.PyArray_SIZE(<cnp.ndarray>p)
        if not (cnp.PyArray_ISWRITEABLE(<cnp.ndarray>p) and _adam_operand(g, t, n, False)
                and _adam_operand(m, t, n, True) and _adam_operand(v, t, n, True)):
            left.append(i)
            continue
        pp = cnp.PyArray_DATA(<cnp.ndarray>p)
        gp = cnp.PyArray_DATA(<cnp.ndarray>g)
        mp = cnp.PyArray_DATA(<cnp.ndarray>m)
        vp = cnp.PyArray_DATA(<cnp.ndarray>v)
        with nogil:
            if t == cnp.NPY_FLOAT:
                st = fc_f32_adam_update(n, <float *>pp, <const float *>gp, <float *>mp, <float *>vp,
                                        alpha, beta_1, beta_2, epsilon)
            else:
                st = fc_f64_adam_update(n, <double *>pp, <const double *>gp, <double *>mp,
                                        <double *>vp, alpha, beta_1, beta_2, epsilon)
        if st != 0:
            left.append(i)
    return left


# ---- dense ---------------------------------------------------------------------------

cdef bint _dense_operands(object x, object kernel, int *t, int64_t *n, int64_t *k,
                          int64_t *m) except -1:
    """x (..., k) and kernel (k, m) of one float dtype, C-contiguous and aligned:
    the dtype into *t and the rows of x, k and m; False otherwise, or when the
    result would have more than MAX_ELEMS elements."""
    t[0] = _float_array(x, True)
    if t[0] < 0 or _float_array(kernel, True) != t[0]:
        return False
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>kernel
    cdef int nd = cnp.PyArray_NDIM(xa)
    if nd == 0 or cnp.PyArray_NDIM(wa) != 2:
        return False
    k[0] = cnp.PyArray_DIM(wa, 0)
    m[0] = cnp.PyArray_DIM(wa, 1)
    if cnp.PyArray_DIM(xa, nd - 1) != k[0]:
        return False
    n[0] = cnp.PyArray_SIZE(xa) // k[0]  # k > 0: the arrays are not empty
    return <double>n[0] * <double>m[0] <= MAX_ELEMS


def dense(x, kernel, bias, out=None):
    """``fastconv.nn.dense(x, kernel, bias, out=out)`` for the common case, or
    None (see the module's docstring)."""
    cdef int t, st
    cdef int64_t n, k, m
    if not _dense_operands(x, kernel, &t, &n, &k, &m):
        return None
    cdef const void *bp = NULL
    if bias is not None:
        if (_float_array(bias, True) != t or cnp.PyArray_NDIM(<cnp.ndarray>bias) != 1
                or cnp.PyArray_DIM(<cnp.ndarray>bias, 0) != m):
            return None
        bp = cnp.PyArray_DATA(<cnp.ndarray>bias)
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int i, nd = cnp.PyArray_NDIM(xa)
    cdef cnp.npy_intp dims[cnp.NPY_MAXDIMS]
    for i in range(nd - 1):
        dims[i] = cnp.PyArray_DIM(xa, i)
    dims[nd - 1] = m
    y = _result(out, nd, dims, t, x, kernel, bias)
    if y is None:
        return None
    cdef const void *xp = cnp.PyArray_DATA(xa)
    cdef const void *wp = cnp.PyArray_DATA(<cnp.ndarray>kernel)
    cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_dense(n, k, m, <const float *>xp, <const float *>wp, <const float *>bp,
                              <float *>yp)
        else:
            st = fc_f64_dense(n, k, m, <const double *>xp, <const double *>wp,
                              <const double *>bp, <double *>yp)
    return y if st == 0 else None


cdef bint _shaped(object a, int t, int64_t rows, int64_t cols, bint write) noexcept:
    """`a` a common-case array of dtype t and shape (rows, cols) (and writable)."""
    if _float_array(a, True) != t or cnp.PyArray_NDIM(<cnp.ndarray>a) != 2:
        return False
    if cnp.PyArray_DIM(<cnp.ndarray>a, 0) != rows or cnp.PyArray_DIM(<cnp.ndarray>a, 1) != cols:
        return False
    return not write or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)


def dense_backward_adam(gy, x, kernel, gx, gw, mom, vel, double alpha, double beta_1,
                        double beta_2, double epsilon):
    """The model layer's Dense backward with Adam's step on the kernel
    (fc_*_dense_backward_adam), for arrays it made: gy (n, m), x (n, k), kernel,
    mom and vel (k, m), gx None or (n, k), gw None or (k, m), all common-case
    arrays of one float dtype, the written ones writable: the kernel's status
    (0: done; else it may have written part: not to be run again); None, nothing
    written, for anything else."""
    cdef int t, st
    cdef int64_t n, k, m
    if not _dense_operands(x, kernel, &t, &n, &k, &m) or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    if not (_shaped(gy, t, n, m, False) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>kernel)
            and _shaped(mom, t, k, m, True) and _shaped(vel, t, k, m, True)
            and (gx is None or _shaped(gx, t, n, k, True)) and (gw is None or _shaped(gw, t, k, m, True))):
        return None
    cdef const void *gyp = cnp.PyArray_DATA(<cnp.ndarray>gy)
    cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef void *wp = cnp.PyArray_DATA(<cnp.ndarray>kernel)
    cdef void *gxp = NULL if gx is None else cnp.PyArray_DATA(<cnp.ndarray>gx)
    cdef void *gwp = NULL if gw is None else cnp.PyArray_DATA(<cnp.ndarray>gw)
    cdef void *mp = cnp.PyArray_DATA(<cnp.ndarray>mom)
    cdef void *vp = cnp.PyArray_DATA(<cnp.ndarray>vel)
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_dense_backward_adam(n, k, m, <const float *>gyp, <const float *>xp,
                                            <float *>wp, <float *>gxp, <float *>gwp, <float *>mp,
                                            <float *>vp, alpha, beta_1, beta_2, epsilon)
        else:
            st = fc_f64_dense_backward_adam(n, k, m, <const double *>gyp, <const double *>xp,
                                            <double *>wp, <double *>gxp, <double *>gwp,
                                            <double *>mp, <double *>vp, alpha, beta_1, beta_2,
                                            epsilon)
    return st


def dense_backward(grad_out, x, kernel, output_mask, out=None):
    """``fastconv.nn.dense_backward(grad_out, x, kernel, output_mask=output_mask,
    out=out)`` (no Adam step) for the common case of 2-D x and grad_out, an
    output_mask of three bools and an out of None or a tuple of three, or None
    (see the module's docstring). grad_bias is NumPy's sum over axis 0, as the
    general path takes it."""
    cdef int t, st
    cdef int64_t n, k, m
    if type(output_mask) is not tuple or len(<tuple>output_mask) != 3:
        return None
    if out is None:
        out_x = out_k = out_b = None
    elif type(out) is tuple and len(<tuple>out) == 3:
        out_x, out_k, out_b = <tuple>out
    else:
        return None
    want_x, want_k, want_b = <tuple>output_mask
    if type(want_x) is not bool or type(want_k) is not bool or type(want_b) is not bool:
        return None
    if not _dense_operands(x, kernel, &t, &n, &k, &m) or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    cdef cnp.npy_intp gdims[2]
    gdims[0] = n
    gdims[1] = m
    if _float_array(grad_out, True) != t or not _dims_are(<cnp.ndarray>grad_out, 2, gdims):
        return None
    cdef cnp.npy_intp xdims[2]
    cdef cnp.npy_intp kdims[2]
    xdims[0] = n
    xdims[1] = k
    kdims[0] = k
    kdims[1] = m
    gx = _result(out_x, 2, xdims, t, grad_out, x, kernel) if want_x else None
    gk = _result(out_k, 2, kdims, t, grad_out, x, kernel) if want_k else None
    if (want_x and gx is None) or (want_k and gk is None):
        return None
    gb = None
    if want_b and out_b is None:
        gb = cnp.PyArray_Sum(<cnp.ndarray>grad_out, 0, t, None)
    elif want_b:
        gb = _result(out_b, 1, &gdims[1], t, grad_out, None, None)
        if gb is None:
            return None
        cnp.PyArray_Sum(<cnp.ndarray>grad_out, 0, t, <cnp.ndarray>gb)
    if not want_x and not want_k:
        return None, None, gb
    cdef const void *gyp = cnp.PyArray_DATA(<cnp.ndarray>grad_out)
    cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef const void *wp = cnp.PyArray_DATA(<cnp.ndarray>kernel)
    cdef void *gxp = cnp.PyArray_DATA(<cnp.ndarray>gx) if want_x else NULL
    cdef void *gkp = cnp.PyArray_DATA(<cnp.ndarray>gk) if want_k else NULL
    with nogil:
        if t == cnp.NPY_FLOAT:
            st = fc_f32_dense_backward(n, k, m, <const float *>gyp, <const float *>xp,
                                       <const float *>wp, <float *>gxp, <float *>gkp)
        else:
            st = fc_f64_dense_backward(n, k, m, <const double *>gyp, <const double *>xp,
                                       <const double *>wp, <double *>gxp, <double *>gkp)
    return (gx, gk, gb) if st == 0 else None


# ---- the model layer's inference pass in one call ----------------------------------

cdef enum:
    KEPT_SCRATCH = 8 << 20  # bytes of scratch a plan keeps between calls, at most
    MAX_STEPS = 16          # steps of a plan, at most


cdef class ForwardPlan:
    """A Sequential model's inference pass on samples of one shape and dtype as
    one C call (``fc_*_forward``, csrc/ops/forward-template.h).

    `steps` lists, in order, tuples ``(op, act, cdims, copts, pdims, popts,
    rows, k, m, layer)``: op and act the fc_step_op and fc_activation codes;
    cdims/copts the conv2d sizes and options and pdims/popts the pooling's, in
    conv2d_maxpool's order (n is ignored), or None; rows, k, m a dense step's
    or an activation's per-sample sizes; `layer` the layer whose ``_weights``
    (kernel, then bias where ``use_bias``) the step reads, or None. Weights are
    looked up on every call, so set_weights and training show at once.
    ``run(x)`` returns the output for a C-contiguous x of the plan's dtype and
    sample shape, or None (for anything else, or a non-zero status): the
    caller then runs the layers one by one. ``run(x, batch)`` runs x in
    consecutive batches of `batch` samples, each as ``run`` runs that batch,
    the batches shared out among the threads (``fc_*_forward_batches``)."""
    cdef fc_step *steps
    cdef int n_steps, t
    cdef readonly tuple in_shape, out_shape
    cdef list layers
    cdef int64_t *wsize
    cdef int64_t *bsize
    cdef object scratch  # kept between calls (at most KEPT_SCRATCH bytes), or None
    cdef tuple args      # the constructor's, for copies and pickles

    def __cinit__(self, list steps, tuple in_shape, tuple out_shape, dtype):
        cdef Py_ssize_t n = len(steps), i
        if n < 1 or n > MAX_STEPS:
            raise ValueError(f"ForwardPlan: 1 to {MAX_STEPS} steps, got {n}")
        self.steps = <fc_step *>calloc(n, sizeof(fc_step))
        self.wsize = <int64_t *>calloc(n, sizeof(int64_t))
        self.bsize = <int64_t *>calloc(n, sizeof(int64_t))
        if not self.steps or not self.wsize or not self.bsize:
            raise MemoryError()
        self.n_steps = <int>n
        self.t = cnp.NPY_FLOAT if dtype == "float32" else cnp.NPY_DOUBLE
        self.in_shape, self.out_shape = in_shape, out_shape
        self.layers = []
        self.scratch = None
        self.args = (steps, in_shape, out_shape, dtype)
        cdef fc_step *s
        for i in range(n):
            op, act, cdims, copts, pdims, popts, rows, k, m, layer = steps[i]
            s = &self.steps[i]
            s.op, s.act = op, act
            if cdims is not None:
                s.conv.n, s.conv.c, s.conv.h, s.conv.w, s.conv.k, s.conv.r, s.conv.s, s.conv.oh, s.conv.ow = cdims
                (s.conv.stride_h, s.conv.stride_w, s.conv.dil_h, s.conv.dil_w, s.conv.pad_top,
                 s.conv.pad_left, s.conv.groups) = copts
                s.conv.layout = FC_NHWC
                self.wsize[i] = s.conv.r * s.conv.s * (s.conv.c // s.conv.groups) * s.conv.k
                self.bsize[i] = s.conv.k
            if pdims is not None:
                s.pool.n, s.pool.c, s.pool.h, s.pool.w, s.pool.oh, s.pool.ow = pdims
                (s.pool.kernel_h, s.pool.kernel_w, s.pool.stride_h, s.pool.stride_w, s.pool.dil_h,
                 s.pool.dil_w, s.pool.pad_top, s.pool.pad_left) = popts
                s.pool.layout = FC_NHWC
            s.rows, s.k, s.m = rows, k, m
            if op == FC_STEP_DENSE:
                self.wsize[i], self.bsize[i] = k * m, m
            self.layers.append(layer)
        cdef int64_t first, final
        if fc_forward_scratch_elems(1, self.n_steps, self.steps, &first, &final) < 0:
            raise ValueError("ForwardPlan: the steps do not chain")

    @property
    def ops(self):
        """The steps' operations, in order (e.g. ('conv2d+maxpool', 'dense', 'dense'))."""
        names = ("conv2d", "conv2d+maxpool", "max_pool2d", "dense", "activation")
        return tuple(names[self.steps[i].op] for i in range(self.n_steps))

    @property
    def macs(self):
        """Multiply-adds of one sample through the pass (its conv2d and dense steps)."""
        return fc_forward_macs(self.n_steps, self.steps)

    def __reduce__(self):
        # copy.deepcopy of a model copies its plans with its layers
        return (ForwardPlan, self.args)

    def __dealloc__(self):
        free(self.steps)
        free(self.wsize)
        free(self.bsize)

    cdef bint _bind(self, int i, fc_step *s, list keep) except -1:
        """Points s, a copy of step i, at its layer's current weights; False if
        they are not arrays the kernels read in place."""
        layer = self.layers[i]
        if layer is None:
            return True
        weights = layer._weights
        w = weights[0]
        if _float_array(w, True) != self.t or cnp.PyArray_SIZE(<cnp.ndarray>w) != self.wsize[i]:
            return False
        s.weight = cnp.PyArray_DATA(<cnp.ndarray>w)
        keep.append(w)
        s.bias = NULL
        if layer.use_bias:
            b = weights[1]
            if _float_array(b, True) != self.t or cnp.PyArray_SIZE(<cnp.ndarray>b) != self.bsize[i]:
                return False
            s.bias = cnp.PyArray_DATA(<cnp.ndarray>b)
            keep.append(b)
        return True

    def run(self, x, int64_t batch=0):
        if _float_array(x, True) != self.t or batch < 0:
            return None
        cdef cnp.ndarray xa = <cnp.ndarray>x
        cdef int nd = cnp.PyArray_NDIM(xa), i, st
        if nd != 1 + len(self.in_shape) or tuple(x.shape[1:]) != self.in_shape:
            return None
        cdef int64_t n = cnp.PyArray_DIM(xa, 0)
        # this call's copy of the steps, pointing at the weights as they are now
        # (another thread may be running the plan with the ones it found)
        cdef fc_step steps[MAX_STEPS]
        cdef list keep = []
        for i in range(self.n_steps):
            steps[i] = self.steps[i]
            if not self._bind(i, &steps[i], keep):
                return None
        cdef int64_t need = (fc_forward_batches_scratch_elems(n, batch, self.n_steps, steps) if batch
                             else fc_forward_scratch_elems(n, self.n_steps, steps, NULL, NULL))
        if need < 0:
            return None
        cdef cnp.npy_intp dims[8]
        cdef int ond = 1 + len(self.out_shape)
        if ond > 8:
            return None
        dims[0] = n
        for i in range(ond - 1):
            dims[i + 1] = self.out_shape[i]
        y = _empty(ond, dims, self.t)
        # scratch: the kept buffer when it is large enough (taken, so another
        # thread running this plan meanwhile allocates its own), else a new one
        buf, self.scratch = self.scratch, None
        if buf is None or cnp.PyArray_SIZE(<cnp.ndarray>buf) < need:
            dims[0] = need if need > 0 else 1
            buf = _empty(1, dims, self.t)
        if y is None or buf is None:
            return None
        cdef const void *xp = cnp.PyArray_DATA(xa)
        cdef void *yp = cnp.PyArray_DATA(<cnp.ndarray>y)
        cdef void *sp = cnp.PyArray_DATA(<cnp.ndarray>buf)
        cdef int64_t have = cnp.PyArray_SIZE(<cnp.ndarray>buf)
        with nogil:
            if batch and self.t == cnp.NPY_FLOAT:
                st = fc_f32_forward_batches(n, batch, self.n_steps, steps, <const float *>xp,
                                            <float *>yp, <float *>sp, have)
            elif batch:
                st = fc_f64_forward_batches(n, batch, self.n_steps, steps, <const double *>xp,
                                            <double *>yp, <double *>sp, have)
            elif self.t == cnp.NPY_FLOAT:
                st = fc_f32_forward(n, self.n_steps, steps, <const float *>xp, <float *>yp,
                                    <float *>sp, have)
            else:
                st = fc_f64_forward(n, self.n_steps, steps, <const double *>xp, <double *>yp,
                                    <double *>sp, have)
        if cnp.PyArray_NBYTES(<cnp.ndarray>buf) <= KEPT_SCRATCH and (
                self.scratch is None or cnp.PyArray_SIZE(<cnp.ndarray>self.scratch) < have):
            self.scratch = buf
        return y if st == 0 else None


# ---- the model layer's training step in one call -----------------------------------

cdef enum:
    CH_CONVPOOL = 0  # the fused conv2d + max-pool (_training.ConvPoolStep)
    CH_DENSE = 1
    CH_DROPOUT = 2
    CH_RESHAPE = 3   # Flatten: the same elements

ctypedef struct chain_step:
    int kind, act  # act: an fc_activation
    bint need_gx, use_bias
    fc_conv2d_params p
    fc_pool2d_params q
    int64_t k, m, out_el, wsize
    double rate, scale
    uint64_t seed
    # bound for one call: the weights, their Adam moments, the step's input
    float *w
    float *b
    float *mw
    float *vw
    float *mb
    float *vb
    const float *src
    # the buffers, in the plan's scratch: z the op's output, a the activation's
    # (or z), gz the gradient before the activation, gx the input's gradient,
    # gw and gb the weights' gradients (those Adam takes after the sweep)
    float *z
    float *a
    float *gz
    float *gx
    float *gw
    float *gb
    uint8_t *codes


cdef int64_t _aligned_floats(int64_t n) noexcept nogil:
    return (n + 15) // 16 * 16  # 64-byte steps


cdef int _chain_forward(int ns, chain_step *st, int64_t n, const float *x, float *probs) noexcept nogil:
    cdef int i, r = 0
    cdef chain_step *s
    cdef const float *src = x
    for i in range(ns):
        s = &st[i]
        s.src = src
        if s.kind == CH_CONVPOOL:
            s.p.n = s.q.n = n
            r = fc_f32_conv2d_maxpool(&s.p, &s.q, src, s.w, s.b, s.z, s.codes)
            if r == 0 and s.act == FC_ACT_RELU:
                r = fc_f32_relu(n * s.out_el, s.z, s.a)
        elif s.kind == CH_DENSE:
            r = fc_f32_dense(n, s.k, s.m, src, s.w, s.b, s.z)
            if r == 0 and s.act == FC_ACT_RELU:
                r = fc_f32_relu(n * s.m, s.z, s.a)
            elif r == 0 and s.act == FC_ACT_SOFTMAX:
                r = fc_f32_softmax(n, s.m, s.z, probs)
        elif s.kind == CH_DROPOUT and s.rate > 0:
            r = fc_f32_dropout(n * s.out_el, src, s.a, s.gz, s.seed, s.rate, s.scale)
        if r != 0:
            return r
        if s.kind != CH_RESHAPE and (s.kind != CH_DROPOUT or s.rate > 0):
            src = s.a
    return 0


cdef int _chain_backward(int ns, chain_step *st, int64_t n, const float *g, double alpha,
                         double beta_1, double beta_2, double epsilon) noexcept nogil:
    """From g, the gradient of the last step's preactivation: each dense kernel
    stepped by Adam in its sweep (fc_f32_dense_backward_adam), then Adam on the
    other weights from the gradients the sweep left, as optimizer.apply steps them."""
    cdef int i, r = 0
    cdef int64_t j, e, rows
    cdef chain_step *s
    cdef const float *grad = g
    for i in range(ns - 1, -1, -1):
        s = &st[i]
        if grad == NULL:
            break
        if s.kind == CH_DENSE:
            if i < ns - 1 and s.act == FC_ACT_RELU:
                r = fc_f32_relu_backward(n * s.m, grad, s.z, s.gz)
                grad = s.gz
            if r == 0:
                r = fc_f32_dense_backward_adam(n, s.k, s.m, grad, s.src, s.w,
                                               s.gx if s.need_gx else NULL, NULL, s.mw, s.vw,
                                               alpha, beta_1, beta_2, epsilon)
            if r == 0 and s.use_bias:  # NumPy's sum over axis 0: the rows added in order
                for j in range(s.m):
                    s.gb[j] = grad[j]
                for rows in range(1, n):
                    for j in range(s.m):
                        s.gb[j] = s.gb[j] + grad[rows * s.m + j]
            grad = s.gx if s.need_gx else NULL
        elif s.kind == CH_DROPOUT:
            if s.need_gx and s.rate > 0:  # grad * mask, in place: grad is a later step's gx
                e = n * s.out_el
                for j in range(e):
                    (<float *>grad)[j] = grad[j] * s.gz[j]
            elif not s.need_gx:
                grad = NULL
        elif s.kind == CH_RESHAPE:
            if not s.need_gx:
                grad = NULL
        else:  # CH_CONVPOOL, the first step: weight gradients only
            if s.act == FC_ACT_RELU:
                r = fc_f32_relu_backward(n * s.out_el, grad, s.z, s.gz)
                grad = s.gz
            if r == 0:
                r = fc_f32_conv2d_maxpool_backward_weight(&s.p, &s.q, s.src, grad, s.codes, s.gw,
                                                          s.gb if s.use_bias else NULL)
            grad = NULL
        if r != 0:
            return r
    for i in range(ns):
        s = &st[i]
        if s.kind == CH_CONVPOOL:
            r = fc_f32_adam_update(s.wsize, s.w, s.gw, s.mw, s.vw, alpha, beta_1, beta_2, epsilon)
        if r == 0 and s.use_bias and (s.kind == CH_CONVPOOL or s.kind == CH_DENSE):
            r = fc_f32_adam_update(s.m, s.b, s.gb, s.mb, s.vb, alpha, beta_1, beta_2, epsilon)
        if r != 0:
            return r
    return 0


cdef bint _weight(object a, int64_t size) noexcept:
    """A float32 weight or moment the chain writes in place, of `size` elements."""
    return (_float_array(a, True) == cnp.NPY_FLOAT and cnp.PyArray_SIZE(<cnp.ndarray>a) == size
            and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a))


cdef bint _bind_weight(object w, dict slots, int64_t size, float **p, float **m, float **v,
                       list keep) except -1:
    """Points p, m and v at weight `w` and its Adam moments (``slots[id(w)]``, [m, v]),
    kept alive in `keep` for the call; False unless all three are writable float32
    arrays of `size` elements."""
    state = slots.get(id(w))
    if not (_weight(w, size) and type(state) is list and len(<list>state) == 2
            and _weight((<list>state)[0], size) and _weight((<list>state)[1], size)):
        return False
    keep.append(w)
    keep.append(state[0])
    keep.append(state[1])
    p[0] = <float *>cnp.PyArray_DATA(<cnp.ndarray>w)
    m[0] = <float *>cnp.PyArray_DATA(<cnp.ndarray>(<list>state)[0])
    v[0] = <float *>cnp.PyArray_DATA(<cnp.ndarray>(<list>state)[1])
    return True


cdef class TrainChain:
    """A Sequential model's training step, float32, as one C sequence without
    Python between the ops (made by ``_training.train_chain``, run by
    ``Plan.train_step``): forward through the fused conv2d + max-pool, Flatten,
    Dense and Dropout steps, the softmax cross-entropy head on class indices,
    backward with Adam's step on each Dense kernel inside its sweep, then Adam
    on the other weights. Each op is the entry point the layer-by-layer step
    calls, with the same arguments, in the same order, so the weights, moments,
    loss and outputs are its bits.

    `steps` lists tuples ``(kind, act, need_gx, layer, cdims, copts, pdims,
    popts, k, m)`` (see ``_training``); ``run(x, labels, sample_weights,
    slots, alpha, beta_1, beta_2, epsilon)`` returns ``(loss terms summed,
    probabilities, right answers, status)``, or None with nothing drawn or
    changed where the call does not fit (arrays, labels, sample weights,
    weights or moments not the plan's), for the layer-by-layer step to take.
    A non-zero status means a kernel failed after the first weights may have
    changed."""
    cdef chain_step *steps
    cdef int n_steps
    cdef list layers, activations
    cdef readonly tuple in_shape
    cdef int64_t in_el, widest  # a sample's elements: in x, and in the widest buffer
    cdef dict scratch  # batch size -> its scratch (bytes, aligned within)
    cdef tuple args    # the constructor's, for copies and pickles

    def __cinit__(self, list steps, tuple in_shape):
        cdef Py_ssize_t ns = len(steps), i
        if ns < 1 or ns > MAX_STEPS:
            raise ValueError(f"TrainChain: 1 to {MAX_STEPS} steps, got {ns}")
        self.steps = <chain_step *>calloc(ns, sizeof(chain_step))
        if not self.steps:
            raise MemoryError()
        self.n_steps = <int>ns
        self.layers = []
        self.activations = []
        self.scratch = {}
        self.args = (steps, in_shape)
        self.in_shape = in_shape
        self.in_el = 1
        for d in in_shape:
            self.in_el *= <int64_t>d
        self.widest = self.in_el
        cdef chain_step *s
        cdef int64_t el = self.in_el
        for i in range(ns):
            kind, act, need_gx, layer, cdims, copts, pdims, popts, k, m = steps[i]
            s = &self.steps[i]
            s.kind, s.act, s.need_gx = kind, act, need_gx
            s.use_bias = bool(getattr(layer, "use_bias", False))
            if kind == CH_CONVPOOL:
                s.p.n, s.p.c, s.p.h, s.p.w, s.p.k, s.p.r, s.p.s, s.p.oh, s.p.ow = cdims
                (s.p.stride_h, s.p.stride_w, s.p.dil_h, s.p.dil_w, s.p.pad_top, s.p.pad_left,
                 s.p.groups) = copts
                s.q.n, s.q.c, s.q.h, s.q.w, s.q.oh, s.q.ow = pdims
                (s.q.kernel_h, s.q.kernel_w, s.q.stride_h, s.q.stride_w, s.q.dil_h, s.q.dil_w,
                 s.q.pad_top, s.q.pad_left) = popts
                s.p.layout = s.q.layout = FC_NHWC
                if i != 0 or el != s.p.h * s.p.w * s.p.c or s.p.groups < 1:
                    raise ValueError("TrainChain: the fused conv2d + max-pool comes first")
                s.wsize = s.p.r * s.p.s * (s.p.c // s.p.groups) * s.p.k
                s.m = s.p.k
                s.out_el = s.q.oh * s.q.ow * s.q.c
            elif kind == CH_DENSE:
                s.k, s.m = k, m
                if el != k or m < 1:
                    raise ValueError("TrainChain: a dense step takes one row per sample")
                s.wsize = s.k * s.m
                s.out_el = m
            else:
                s.out_el = el
            if act == FC_ACT_SOFTMAX and (kind != CH_DENSE or i != ns - 1):
                raise ValueError("TrainChain: a softmax ends the chain")
            el = s.out_el
            self.widest = max(self.widest, el, s.k, s.wsize)
            self.layers.append(layer)
            self.activations.append(getattr(layer, "activation", None))
        s = &self.steps[ns - 1]
        if s.kind != CH_DENSE or s.act != FC_ACT_SOFTMAX:
            raise ValueError("TrainChain: the last step is a dense softmax")

    def __reduce__(self):
        # copy.deepcopy of a model copies its plan's chains with its layers
        return (TrainChain, self.args)

    @property
    def kept_bytes(self):
        """Bytes of scratch kept for the next call (fit releases them as it returns)."""
        return sum(cnp.PyArray_NBYTES(<cnp.ndarray>buf) for buf in self.scratch.values())

    def release(self):
        """Drops the scratch kept between calls (the next call allocates anew)."""
        self.scratch.clear()

    def __dealloc__(self):
        free(self.steps)

    cdef object _take_buffers(self, int64_t n):
        """The scratch for batches of n, every step's buffers carved out of one
        array: the kept one, taken (so a call running meanwhile on another thread
        makes its own), or a new one."""
        got = self.scratch.pop(n, None)
        if got is not None:
            return got
        cdef int64_t total = 0, i
        for i in range(self.n_steps):
            total += self._carve(&self.steps[i], n, NULL)
        cdef cnp.npy_intp dims[1]
        dims[0] = total * 4 + 64
        return _empty(1, dims, cnp.NPY_UINT8)

    cdef void _keep_buffers(self, int64_t n, object buf):
        if len(self.scratch) >= 2:
            self.scratch.clear()
        self.scratch[n] = buf

    cdef int64_t _carve(self, chain_step *s, int64_t n, float *base) noexcept:
        """The floats step s needs for batches of n; with `base`, its buffers set there."""
        cdef int64_t used = 0, out = n * s.out_el
        # z and a (the op's output and its activation's), gz (the gradient before
        # the activation; Dropout's mask), gx (the input's gradient), gw, gb
        cdef int64_t z = 0, a = 0, gz = 0, gx = 0, gw = 0, gb = 0, codes = 0
        if s.kind == CH_CONVPOOL:
            z = out
            a = out if s.act == FC_ACT_RELU else 0
            gz = out if s.act == FC_ACT_RELU else 0
            gw, gb = s.wsize, (s.m if s.use_bias else 0)
            codes = (out + 3) // 4
        elif s.kind == CH_DENSE:
            z = out
            a = out if s.act == FC_ACT_RELU else 0
            gz = out  # relu's, or the head's gradient for the last step
            gx = n * s.k if s.need_gx else 0
            gb = s.m if s.use_bias else 0
        elif s.kind == CH_DROPOUT:
            a = gz = out
        cdef int64_t parts[7]
        parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6] = z, a, gz, gx, gw, gb, codes
        cdef float *at[7]
        cdef int j
        for j in range(7):
            at[j] = base + used if base != NULL and parts[j] else NULL
            used += _aligned_floats(parts[j])
        if base != NULL:
            s.z, s.a, s.gz, s.gx, s.gw, s.gb = at[0], at[1], at[2], at[3], at[4], at[5]
            s.codes = <uint8_t *>at[6]
            if s.a == NULL:
                s.a = s.z
        return used

    def run(self, x, labels, sample_weights, dict slots, double alpha, double beta_1,
            double beta_2, double epsilon):
        cdef int ns = self.n_steps, i, r
        if _float_array(x, True) != cnp.NPY_FLOAT or type(labels) is not cnp.ndarray:
            return None
        cdef cnp.ndarray xa = <cnp.ndarray>x, la = <cnp.ndarray>labels
        if cnp.PyArray_NDIM(xa) != 1 + len(self.in_shape) or tuple(x.shape[1:]) != self.in_shape:
            return None
        cdef int64_t n = cnp.PyArray_DIM(xa, 0)
        # the scratch, at most 8 buffers per step of the widest's size, within MAX_ELEMS
        if <double>n * <double>self.widest * 8 * ns > MAX_ELEMS:
            return None
        if n == 0 or not cnp.PyArray_ISINTEGER(la) or cnp.PyArray_SIZE(la) != n or not (
                cnp.PyArray_NDIM(la) == 1 or (cnp.PyArray_NDIM(la) == 2 and cnp.PyArray_DIM(la, 1) == 1)):
            return None
        cdef cnp.ndarray lab = <cnp.ndarray>cnp.PyArray_FROMANY(
            la, cnp.NPY_INT64, 0, 0, cnp.NPY_ARRAY_CARRAY_RO | cnp.NPY_ARRAY_FORCECAST)
        cdef const int64_t *lp = <const int64_t *>cnp.PyArray_DATA(lab)
        cdef int64_t classes = self.steps[ns - 1].m, j
        for j in range(n):
            if lp[j] < 0 or lp[j] >= classes:
                return None  # the layer-by-layer step words the error
        cdef const float *wp = NULL
        if sample_weights is not None:
            if (_float_array(sample_weights, True) != cnp.NPY_FLOAT
                    or cnp.PyArray_SIZE(<cnp.ndarray>sample_weights) != n):
                return None
            wp = <const float *>cnp.PyArray_DATA(<cnp.ndarray>sample_weights)
        # this call's copy of the steps, bound to the weights and moments as they
        # are now (another thread may be running the chain with its own)
        cdef chain_step steps[MAX_STEPS]
        cdef chain_step *s
        cdef list keep = []
        cdef list dropouts = []
        for i in range(ns):
            steps[i] = self.steps[i]
            s = &steps[i]
            layer = self.layers[i]
            if s.kind == CH_DROPOUT:
                s.rate = layer.rate
                if not 0 <= s.rate < 1:
                    return None
                s.scale = 1.0 / (1.0 - s.rate)
                if s.rate > 0:
                    dropouts.append(i)
                continue
            if s.kind == CH_RESHAPE:
                continue
            if not layer.trainable or layer.activation is not self.activations[i]:
                return None
            weights = layer._weights
            if len(weights) != (2 if s.use_bias else 1):
                return None
            s.b = s.mb = s.vb = NULL
            if not _bind_weight(weights[0], slots, s.wsize, &s.w, &s.mw, &s.vw, keep) or (
                    s.use_bias and not _bind_weight(weights[1], slots, s.m, &s.b, &s.mb, &s.vb, keep)):
                return None
        buf = self._take_buffers(n)
        cdef cnp.npy_intp dims[2]
        dims[0], dims[1] = n, self.steps[ns - 1].m
        probs = _empty(2, dims, cnp.NPY_FLOAT)
        if buf is None or probs is None:
            return None
        cdef size_t addr = <size_t>cnp.PyArray_DATA(<cnp.ndarray>buf)
        cdef float *base = <float *>((addr + 63) // 64 * 64)
        for i in range(ns):
            base += self._carve(&steps[i], n, base)
        # everything fits: from here on the step runs (each Dropout draws its seed,
        # in the layers' order, as its training call would)
        for i in dropouts:
            steps[i].seed = self.layers[i]._seed()
        cdef const float *xp = <const float *>cnp.PyArray_DATA(xa)
        cdef float *pp = <float *>cnp.PyArray_DATA(<cnp.ndarray>probs)
        cdef chain_step *last = &steps[ns - 1]
        cdef double loss = 0
        cdef int64_t correct = 0, bad = 0
        with nogil:
            r = _chain_forward(ns, steps, n, xp, pp)
            if r == 0:
                r = fc_f32_softmax_xent(n, last.m, last.z, lp, wp, pp, last.gz, &loss, &correct,
                                        &bad)
            if r == 0:
                r = _chain_backward(ns, steps, n, last.gz, alpha, beta_1, beta_2, epsilon)
        self._keep_buffers(n, buf)
        return loss, probs, correct, r
