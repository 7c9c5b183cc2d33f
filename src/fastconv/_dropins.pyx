# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The drop-ins' front doors: convolve, correlate, convolve2d, correlate2d.

A drop-in must cost no more per call than the original, and NumPy's own
``numpy.correlate`` takes well under a microsecond on ten samples. So the
common case is recognised here, at C speed: exact ndarrays of one native,
aligned, C-contiguous float32 or float64 dtype, a mode (and boundary) spelled
as the originals spell it, ``method='direct'``, nothing to swap. It goes
straight to the C kernels, releasing the GIL only for work worth it. Other
ndarray calls of at most SMALL_PRODUCTS products go to the original function
itself (as it was before `fastconv.patch()`), which costs less per call than
any Python path. Everything else (lists, larger calls of other dtypes, views,
swaps, non-finite 1-D kernels whose edge sums NumPy forms differently, errors)
goes to the general implementations in ``numpy_compat.py`` and ``signal.py``,
which the public functions' docstrings describe and which `bind` hands to this
module.
"""
cimport numpy as cnp
from libc.math cimport isfinite
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

cnp.import_array()

cdef extern from "numpy/ndarraytypes.h":
    int NPY_HALF

cdef extern from "fastconv/fastconv.h" nogil:
    ctypedef enum fc_boundary:
        FC_BOUNDARY_FILL
        FC_BOUNDARY_WRAP
        FC_BOUNDARY_SYMM
    ctypedef struct fc_correlate2d_params:
        int64_t h, w, ldx, kh, kw, oh, ow, pad_top, pad_left
        fc_boundary boundary
    int fc_f32_correlate2d(const fc_correlate2d_params *p, const float *x, const float *k,
                           float fillvalue, float *y)
    int fc_f64_correlate2d(const fc_correlate2d_params *p, const double *x, const double *k,
                           double fillvalue, double *y)

# Multiply-adds under which the GIL is kept: releasing and taking it back costs
# about as much as this many multiply-adds take.
DEF GIL_MACS = 4096
# Kernels up to this many taps are reversed on the stack.
DEF STACK_TAPS = 256
# Other ndarray calls (other dtypes, views, swaps) with at most this many products
# go to the original itself: its per-call cost is below the general path's, and
# its values are the original's by definition.
DEF SMALL_PRODUCTS = 4096

from fastconv import _originals

cdef object _correlate_any = None
cdef object _convolve_any = None
cdef object _correlate2d_any = None
cdef object _convolve2d_any = None


def bind(correlate, convolve, correlate2d=None, convolve2d=None):
    """Install the general implementations the front doors fall back to, and
    give the front doors their docstrings."""
    global _correlate_any, _convolve_any, _correlate2d_any, _convolve2d_any
    if correlate is not None:
        _correlate_any, _convolve_any = correlate, convolve
    if correlate2d is not None:
        _correlate2d_any, _convolve2d_any = correlate2d, convolve2d
    for fast, general in ((globals()["correlate"], correlate), (globals()["convolve"], convolve),
                          (globals()["correlate2d"], correlate2d),
                          (globals()["convolve2d"], convolve2d)):
        if general is not None:
            fast.__doc__ = general.__doc__
            fast.__module__ = general.__module__


cdef inline int _float_type(object a, int ndim):
    """NPY_FLOAT or NPY_DOUBLE for an exact ndarray of `ndim` dimensions that
    the kernels can read in place (native, aligned, C-contiguous, non-empty);
    else -1."""
    if type(a) is not cnp.ndarray:
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_NDIM(arr) != ndim or cnp.PyArray_SIZE(arr) == 0:
        return -1
    cdef int t = cnp.PyArray_TYPE(arr)
    if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE:
        return -1
    if not (cnp.PyArray_ISNOTSWAPPED(arr) and cnp.PyArray_ISALIGNED(arr)
            and cnp.PyArray_IS_C_CONTIGUOUS(arr)):
        return -1
    return t


cdef inline int _mode_1d(object mode):
    """NumPy's mode codes: 0 valid, 1 same, 2 full; -1 for anything unusual."""
    if type(mode) is str:
        return 0 if mode == "valid" else 2 if mode == "full" else 1 if mode == "same" else -1
    if type(mode) is int and (mode == 0 or mode == 1 or mode == 2):
        return <int>mode
    return -1


cdef inline int _mode_2d(object mode):
    if type(mode) is not str:
        return -1
    return 2 if mode == "full" else 1 if mode == "same" else 0 if mode == "valid" else -1


cdef inline int _boundary(object boundary):
    if type(boundary) is not str:
        return -1
    if boundary == "fill" or boundary == "pad":
        return FC_BOUNDARY_FILL
    if boundary == "symm" or boundary == "symmetric":
        return FC_BOUNDARY_SYMM
    if boundary == "wrap" or boundary == "circular":
        return FC_BOUNDARY_WRAP
    return -1


cdef bint _all_finite(const char *p, Py_ssize_t n, int t) noexcept nogil:
    cdef Py_ssize_t i
    if t == cnp.NPY_FLOAT:
        for i in range(n):
            if not isfinite((<const float *>p)[i]):
                return False
    else:
        for i in range(n):
            if not isfinite((<const double *>p)[i]):
                return False
    return True


cdef int _run(fc_correlate2d_params *p, int t, const char *x, const char *k, bint flip,
              double fill, char *y) noexcept nogil:
    """The kernels on x (h x w), k (kh x kw, reversed in both axes when `flip`)."""
    cdef int64_t taps = p.kh * p.kw, i
    cdef size_t size = 4 if t == cnp.NPY_FLOAT else 8
    cdef double stack[STACK_TAPS]
    cdef char *rev = NULL
    cdef int st
    if flip:
        rev = <char *>stack if taps <= STACK_TAPS else <char *>malloc(<size_t>taps * size)
        if rev == NULL:
            return 2
        if t == cnp.NPY_FLOAT:
            for i in range(taps):
                (<float *>rev)[i] = (<const float *>k)[taps - 1 - i]
        else:
            for i in range(taps):
                (<double *>rev)[i] = (<const double *>k)[taps - 1 - i]
        k = rev
    if t == cnp.NPY_FLOAT:
        st = fc_f32_correlate2d(p, <const float *>x, <const float *>k, <float>fill, <float *>y)
    else:
        st = fc_f64_correlate2d(p, <const double *>x, <const double *>k, fill, <double *>y)
    if rev != NULL and rev != <char *>stack:
        free(rev)
    return st


cdef object _call(fc_correlate2d_params *p, int t, cnp.ndarray x, cnp.ndarray k, bint flip,
                  double fill, int nd):
    cdef cnp.npy_intp dims[2]
    if nd == 1:
        dims[0] = p.ow
    else:
        dims[0], dims[1] = p.oh, p.ow
    cdef cnp.ndarray y = cnp.PyArray_EMPTY(nd, dims, t, 0)
    cdef const char *xp = <const char *>cnp.PyArray_DATA(x)
    cdef const char *kp = <const char *>cnp.PyArray_DATA(k)
    cdef char *yp = <char *>cnp.PyArray_DATA(y)
    cdef int st
    if p.oh * p.ow * p.kh * p.kw < GIL_MACS:
        st = _run(p, t, xp, kp, flip, fill, yp)
    else:
        with nogil:
            st = _run(p, t, xp, kp, flip, fill, yp)
    if st == 2:
        raise MemoryError(f"could not allocate scratch memory for a kernel of shape {(p.kh, p.kw)}")
    if st != 0:
        raise ValueError(f"correlation of shapes {(p.h, p.w)} and {(p.kh, p.kw)}: sizes out of range")
    return y


cdef object _front_1d(a, v, int code, bint flip):
    """1-D float32/float64 read in place, the kernel (the shorter input) finite
    when an output's window crosses an end of the signal; else None."""
    cdef int t = _float_type(a, 1)
    if t < 0 or code < 0 or _float_type(v, 1) != t:
        return None
    cdef cnp.ndarray x = <cnp.ndarray>a, k = <cnp.ndarray>v
    cdef int64_t n = cnp.PyArray_DIM(x, 0), m = cnp.PyArray_DIM(k, 0)
    cdef bint reverse = m > n and not flip  # numpy.correlate swaps, then reverses the result
    if m > n:
        x, k = k, x
        n, m = m, n
    if code != 0 and m > 1 and not _all_finite(<const char *>cnp.PyArray_DATA(k), m, t):
        return None  # NumPy sums only the overlapping terms at the ends
    cdef fc_correlate2d_params p
    p.h, p.w, p.ldx, p.kh, p.kw, p.oh, p.pad_top = 1, n, n, 1, m, 1, 0
    p.boundary = FC_BOUNDARY_FILL
    if code == 0:
        p.ow, p.pad_left = n - m + 1, 0
    elif code == 1:  # NumPy centres 'same' on len(v) // 2, convolving or not
        p.ow, p.pad_left = n, m // 2
    else:
        p.ow, p.pad_left = n + m - 1, m - 1
    y = _call(&p, t, x, k, flip, 0.0, 1)
    if reverse:
        _reverse(<char *>cnp.PyArray_DATA(<cnp.ndarray>y), p.ow, t)
    return y


cdef void _reverse(char *y, int64_t n, int t) noexcept nogil:
    cdef int64_t i
    cdef float f
    cdef double d
    if t == cnp.NPY_FLOAT:
        for i in range(n // 2):
            f = (<float *>y)[i]
            (<float *>y)[i] = (<float *>y)[n - 1 - i]
            (<float *>y)[n - 1 - i] = f
    else:
        for i in range(n // 2):
            d = (<double *>y)[i]
            (<double *>y)[i] = (<double *>y)[n - 1 - i]
            (<double *>y)[n - 1 - i] = d


cdef inline bint _small(object a, object b, int ndim):
    """Two non-empty ndarrays of `ndim` dimensions (any dtype, any strides) with
    at most SMALL_PRODUCTS products."""
    if type(a) is not cnp.ndarray or type(b) is not cnp.ndarray:
        return False
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim or cnp.PyArray_NDIM(<cnp.ndarray>b) != ndim:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>a), m = cnp.PyArray_SIZE(<cnp.ndarray>b)
    return n > 0 and m > 0 and n * m <= SMALL_PRODUCTS


cdef inline bint _scipy_computes(object a):
    """An ndarray of a dtype scipy.signal.convolve2d computes (integers, float32
    and wider, complex); the others get fastconv's clearer error message."""
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) == NPY_HALF:
        return False
    return cnp.PyArray_ISINTEGER(arr) or cnp.PyArray_ISFLOAT(arr) or cnp.PyArray_ISCOMPLEX(arr)


cdef object _scipy_original(str name):
    """SciPy's own function, or None when SciPy is not installed."""
    try:
        return _originals.original(name)
    except ImportError:
        return None


def correlate(a, v, mode="valid", *, method="direct"):
    if type(method) is str and method == "direct":
        y = _front_1d(a, v, _mode_1d(mode), False)
        if y is not None:
            return y
        if _small(a, v, 1):
            return _originals.original("numpy.correlate")(a, v, mode)
    return _correlate_any(a, v, mode, method=method)


def convolve(a, v, mode="full", *, method="direct"):
    if type(method) is str and method == "direct":
        y = _front_1d(a, v, _mode_1d(mode), True)
        if y is not None:
            return y
        if _small(a, v, 1):
            return _originals.original("numpy.convolve")(a, v, mode)
    return _convolve_any(a, v, mode, method=method)


cdef object _front_2d(in1, in2, mode, boundary, fillvalue, bint flip):
    """2-D float32/float64 in place, no 'valid' swap, a Python number as the
    fill value (any, when the boundary ignores it); else None."""
    cdef int t = _float_type(in1, 2)
    if t < 0 or _float_type(in2, 2) != t:
        return None
    cdef int code = _mode_2d(mode), b = _boundary(boundary)
    if code < 0 or b < 0:
        return None
    cdef double fill = 0.0
    if b == FC_BOUNDARY_FILL:
        if type(fillvalue) is int:
            if not -(1 << 53) <= fillvalue <= (1 << 53):
                return None
            fill = <double>fillvalue
        elif type(fillvalue) is float:
            fill = <double>fillvalue
        else:
            return None
    cdef cnp.ndarray x = <cnp.ndarray>in1, k = <cnp.ndarray>in2
    cdef fc_correlate2d_params p
    p.h, p.w = cnp.PyArray_DIM(x, 0), cnp.PyArray_DIM(x, 1)
    p.kh, p.kw = cnp.PyArray_DIM(k, 0), cnp.PyArray_DIM(k, 1)
    p.ldx = p.w
    p.boundary = <fc_boundary>b
    if code == 0:
        if p.kh > p.h or p.kw > p.w:
            return None  # SciPy swaps or refuses: the general path
        p.oh, p.ow, p.pad_top, p.pad_left = p.h - p.kh + 1, p.w - p.kw + 1, 0, 0
    elif code == 1:  # SciPy's 'same' centring: k // 2 for convolution, (k - 1) // 2 else
        p.oh, p.ow = p.h, p.w
        p.pad_top = p.kh // 2 if flip else (p.kh - 1) // 2
        p.pad_left = p.kw // 2 if flip else (p.kw - 1) // 2
    else:
        p.oh, p.ow, p.pad_top, p.pad_left = p.h + p.kh - 1, p.w + p.kw - 1, p.kh - 1, p.kw - 1
    return _call(&p, t, x, k, flip, fill, 2)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="direct"):
    if type(method) is str and method == "direct":
        y = _front_2d(in1, in2, mode, boundary, fillvalue, False)
        if y is not None:
            return y
        if _small(in1, in2, 2) and _scipy_computes(in1) and _scipy_computes(in2):
            f = _scipy_original("scipy.signal.correlate2d")
            if f is not None:
                return f(in1, in2, mode, boundary, fillvalue)
    return _correlate2d_any(in1, in2, mode, boundary, fillvalue, method=method)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="direct"):
    if type(method) is str and method == "direct":
        y = _front_2d(in1, in2, mode, boundary, fillvalue, True)
        if y is not None:
            return y
        if _small(in1, in2, 2) and _scipy_computes(in1) and _scipy_computes(in2):
            f = _scipy_original("scipy.signal.convolve2d")
            if f is not None:
                return f(in1, in2, mode, boundary, fillvalue)
    return _convolve2d_any(in1, in2, mode, boundary, fillvalue, method=method)
