# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The drop-ins' front doors: convolve, correlate, convolve2d, correlate2d.

A drop-in must cost no more per call than the original, and NumPy's own
``numpy.correlate`` takes under half a microsecond on ten samples. So the
common cases are recognised here, at C speed: two ndarrays whose dtype (or
the two dtypes' promotion, which the originals compute in) has a fast path
(float32 and float64; integers, exact in float64 sums; complex64 and
complex128 as real passes), any layout or byte order (copied, by NumPy's C
cast loops, only when the kernels cannot read it in place), a mode (and
boundary) spelled as the originals spell it, a Python number as fill value,
``method='direct'``. They go straight to the C kernels, releasing the GIL only
for work worth it. Other small ndarray calls (bool, float16, long double) go to
the original function itself, as it was before `fastconv.patch()`.
Lists and tuples are made arrays first, as the originals make them (the
lecture's ``np.convolve([5, 3, 2, 5, 9, 7], [1, 2, 3])`` costs no more than
NumPy's own call). Everything else (larger calls of those dtypes, swaps that
reverse a complex result, non-finite 1-D kernels whose edge sums NumPy forms
differently, integers too large for exact float64 sums or for float64 copies
on this machine, sizes only a broadcast view can have, errors) goes to the general
implementations in ``numpy_compat.py`` and ``signal.py``, which the public
functions' docstrings describe and which `bind` hands to this module.

Sizes come before values: operands and result are allocated before any value
is read, so a call too large for the machine fails at once, as the original
does, and never scans a broadcast view's 2**40 elements first.
"""
cimport numpy as cnp
from libc.math cimport fabs, isfinite, log, trunc
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cnp.import_array()

cdef extern from "numpy/ndarraytypes.h":
    int NPY_HALF

cdef extern from "numpy/arrayobject.h":
    # a new reference (the dtype class is PyArray_Descr, as the C function returns); NULL raises
    cnp.dtype PyArray_PromoteTypes(cnp.PyArray_Descr *type1, cnp.PyArray_Descr *type2)

from fastconv._capi cimport *
from fastconv._bigarrays cimport _new


# Multiply-adds under which the GIL is kept: releasing and taking it back costs
# about as much as this many multiply-adds take.
DEF GIL_MACS = 4096
# Other small ndarray calls (products at most this) go to the original itself:
# its per-call cost is below the general path's, its values the original's.
DEF SMALL_PRODUCTS = 4096
# What the front doors compute, by dtype.
DEF K_NONE = 0
DEF K_FLOAT = 1  # float32, float64: the kernels of that type
DEF K_INT = 2    # integers: the float64 kernels while exact, wrapped back
DEF K_CPLX = 3   # complex64, complex128: real passes of the real kernels
DEF K_HALF = 4   # float16, 1-D, small: NumPy's float32 sums, in its order
DEF K_BOOL = 5   # bool, 1-D: NumPy's "any product true"
DEF EXACT = 9007199254740992.0  # 2**53
# 1-D integer and float16 calls with at most this many products are summed as
# NumPy sums them (integers in wrapping 64-bit arithmetic, float16 in float32),
# with no conversions around the kernels.
DEF INT_DIRECT = 1024
DEF HALF_DIRECT = 16384  # float16 costs NumPy a conversion per product too
# Sizes beyond any real array (a dimension of 2**40 elements, an array or a
# result of 2**48) can only come from broadcast views; such calls take the
# general path, which allocates what it needs before it reads a value. Below
# these limits no size or product of sizes here overflows 64 bits.
DEF MAX_DIM = 1 << 40
DEF MAX_ELEMS = 1 << 48

from fastconv import _originals, _signal_nd
from fastconv._kernels import THREAD_ERROR, Planned, last_plan

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


# ---- argument classification (no Python calls) -----------------------------------

cdef inline int _kind(int t) noexcept:
    if t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE:
        return K_FLOAT
    if t == cnp.NPY_CFLOAT or t == cnp.NPY_CDOUBLE:
        return K_CPLX
    if t == NPY_HALF:
        return K_HALF
    if t == cnp.NPY_BOOL:
        return K_BOOL
    if (t == cnp.NPY_BYTE or t == cnp.NPY_UBYTE or t == cnp.NPY_SHORT or t == cnp.NPY_USHORT
            or t == cnp.NPY_INT or t == cnp.NPY_UINT or t == cnp.NPY_LONG or t == cnp.NPY_ULONG
            or t == cnp.NPY_LONGLONG or t == cnp.NPY_ULONGLONG):
        return K_INT
    return K_NONE


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


cdef inline bint _small(object a, object b, int ndim):
    """Two non-empty ndarrays of `ndim` dimensions with at most SMALL_PRODUCTS
    products."""
    if type(a) is not cnp.ndarray or type(b) is not cnp.ndarray:
        return False
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim or cnp.PyArray_NDIM(<cnp.ndarray>b) != ndim:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>a), m = cnp.PyArray_SIZE(<cnp.ndarray>b)
    return n > 0 and m > 0 and n <= SMALL_PRODUCTS // m


cdef inline bint _scipy_computes(object a):
    """An ndarray of a dtype scipy.signal.convolve2d computes (integers, float32
    and wider, complex); the others get fastconv's clearer error message."""
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) == NPY_HALF:
        return False
    return cnp.PyArray_ISINTEGER(arr) or cnp.PyArray_ISFLOAT(arr) or cnp.PyArray_ISCOMPLEX(arr)


# ---- the computation (no Python objects) --------------------------------------------

cdef int _kernel(const fc_correlate2d_params *p, bint f32, const void *x, const void *k,
                 double fill, void *y) noexcept nogil:
    if f32:
        return fc_f32_correlate2d(p, <const float *>x, <const float *>k, <float>fill, <float *>y)
    return fc_f64_correlate2d(p, <const double *>x, <const double *>k, fill, <double *>y)


cdef void _copy_kernel(const char *k, int64_t taps, size_t size, bint flip, char *out) noexcept nogil:
    """The kernel's elements of `size` bytes, reversed (both axes of a row-major
    kernel at once) when `flip`."""
    cdef int64_t i
    cdef size_t b
    for i in range(taps):
        for b in range(size):
            out[i * size + b] = k[(taps - 1 - i if flip else i) * size + b]


cdef int _real(const fc_correlate2d_params *p, bint f32, const char *x, const char *k,
               bint flip, double fill, char *y) noexcept nogil:
    cdef int64_t taps = p.kh * p.kw
    cdef size_t size = 4 if f32 else 8
    cdef char *rev = NULL
    cdef int st
    if flip:
        rev = <char *>malloc(<size_t>taps * size)
        if rev == NULL:
            return 2
        _copy_kernel(k, taps, size, True, rev)
        k = rev
    st = _kernel(p, f32, x, k, fill, y)
    free(rev)
    return st


cdef void _reverse(char *y, int64_t n, size_t size) noexcept nogil:
    cdef int64_t i
    cdef size_t b
    cdef char c
    for i in range(n // 2):
        for b in range(size):
            c = y[i * size + b]
            y[i * size + b] = y[(n - 1 - i) * size + b]
            y[(n - 1 - i) * size + b] = c


cdef double _int_peak(int t) noexcept nogil:
    """The largest magnitude of integer dtype `t`."""
    if t == cnp.NPY_BYTE:
        return 128.0
    if t == cnp.NPY_UBYTE:
        return 255.0
    if t == cnp.NPY_SHORT:
        return 32768.0
    if t == cnp.NPY_USHORT:
        return 65535.0
    if t == cnp.NPY_INT or t == cnp.NPY_UINT or (
            (t == cnp.NPY_LONG or t == cnp.NPY_ULONG) and sizeof(long) == 4):
        return 4294967296.0
    return 18446744073709551616.0


cdef bint _int_fill(int t, object v, double *out):
    """A Python int or float fill value as integer dtype `t` holds it, as
    ``numpy.array(v, dtype)`` converts it (SciPy's conversion): an int in the
    dtype's range as it is, a float truncated toward zero; False where that
    conversion overflows, warns or raises, or the value passes 2**53 (the
    general path decides)."""
    cdef double lo, hi, f
    cdef bint unsigned = (t == cnp.NPY_UBYTE or t == cnp.NPY_USHORT or t == cnp.NPY_UINT
                          or t == cnp.NPY_ULONG or t == cnp.NPY_ULONGLONG)
    hi = _int_peak(t) - 1.0 if unsigned else _int_peak(t) / 2.0 - 1.0
    lo = 0.0 if unsigned else -_int_peak(t) / 2.0
    if type(v) is int:
        if not -(1 << 53) <= v <= (1 << 53):
            return False
        f = <double>v
    elif type(v) is float:
        f = <double>v
        if not isfinite(f):
            return False
        f = trunc(f)
    else:
        return False
    if not (lo <= f <= hi and fabs(f) <= EXACT):
        return False
    out[0] = f
    return True


cdef bint _exact(const double *x, int64_t n, const double *k, int64_t m, double fill,
                 int t) noexcept nogil:
    """Every partial sum of x * k (and of the fill value) below 2**53: float64
    arithmetic on these integers is exact in any order. The dtype `t` alone
    decides it for 8- and 16-bit integers (no value is read)."""
    cdef double peak = fabs(fill), total = 0.0
    cdef int64_t i
    if max(_int_peak(t), peak) * _int_peak(t) * <double>m < EXACT:
        return True
    for i in range(n):
        if fabs(x[i]) > peak:
            peak = fabs(x[i])
    for i in range(m):
        total += fabs(k[i])
    return peak * total < EXACT


ctypedef fused wtype:  # the integer dtypes' widths, wrapped into unsigned
    uint8_t
    uint16_t
    uint32_t
    uint64_t


cdef void _wrap_as(const double *src, int64_t n, wtype *dst) noexcept nogil:
    cdef int64_t i
    for i in range(n):
        dst[i] = <wtype>(<uint64_t>(<int64_t>src[i]))


cdef void _to_int(const double *src, int64_t n, int t, char *dst) noexcept nogil:
    """Exact integer sums into dtype `t`, wrapping as NumPy's integer sums do."""
    if t == cnp.NPY_BYTE or t == cnp.NPY_UBYTE:
        _wrap_as(src, n, <uint8_t *>dst)
    elif t == cnp.NPY_SHORT or t == cnp.NPY_USHORT:
        _wrap_as(src, n, <uint16_t *>dst)
    elif (t == cnp.NPY_INT or t == cnp.NPY_UINT
          or ((t == cnp.NPY_LONG or t == cnp.NPY_ULONG) and sizeof(long) == 4)):
        _wrap_as(src, n, <uint32_t *>dst)
    else:
        _wrap_as(src, n, <uint64_t *>dst)


# A long 1-D complex call runs CPLX_CHUNK outputs at a time: the window's
# parts, the passes and the interleaved result stay in cache (whole-array
# part copies made complex128 1,000,000 x 3 0.69x NumPy, page faults and
# memory traffic on a virtual machine).
DEF CPLX_CHUNK = 8192


ctypedef fused ftype:
    float
    double


cdef void _split_as(const ftype *x, int64_t w, int64_t g0, int64_t n, ftype *re,
                    ftype *im) noexcept nogil:
    cdef int64_t i, lo = min(max(-g0, 0), n), hi = max(min(w - g0, n), lo)
    for i in range(lo):
        re[i] = 0
        im[i] = 0
    for i in range(lo, hi):
        re[i] = x[2 * (g0 + i)]
        im[i] = x[2 * (g0 + i) + 1]
    for i in range(hi, n):
        re[i] = 0
        im[i] = 0


cdef void _join_as(const ftype *re, const ftype *im, int64_t n, ftype *y) noexcept nogil:
    cdef int64_t i
    for i in range(n):
        y[2 * i] = re[i]
        y[2 * i + 1] = im[i]


cdef void _split(const char *x, int64_t w, int64_t g0, int64_t n, bint f32, char *re,
                 char *im) noexcept nogil:
    """Values g0 .. g0 + n of the interleaved complex x (w of them; zero
    outside) as their real and imaginary parts."""
    if f32:
        _split_as(<const float *>x, w, g0, n, <float *>re, <float *>im)
    else:
        _split_as(<const double *>x, w, g0, n, <double *>re, <double *>im)


ctypedef struct _Cplx:
    fc_correlate2d_params p  # the whole call
    bint f32, kimag, chunked
    const char *x
    const char *kr  # the kernel's parts, flipped and conjugated as the call needs
    const char *ki
    double fill
    char *y
    char *bufs  # per thread: window parts (nx each), yr, yi, tmp (ny each), stride bytes apart
    size_t stride
    int64_t nx, ny


cdef int _cplx_block(void *ctx, int64_t i, int tid) noexcept nogil:
    """Block i of a complex correlation on thread tid's buffers
    (fc_run_chunks' callback): chunk i of a long zero-extended row, its
    window split into parts and run in 'valid' mode, or the whole call as
    block 0. A status as _kernel's."""
    cdef const _Cplx *c = <const _Cplx *>ctx
    cdef size_t size = 4 if c.f32 else 8
    cdef char *xr = c.bufs + <size_t>tid * c.stride
    cdef char *xi = xr + c.nx * size
    cdef char *yr = xi + c.nx * size
    cdef char *yi = yr + c.ny * size
    cdef char *tmp = yi + c.ny * size
    cdef fc_correlate2d_params q = c.p
    cdef int64_t o0 = 0, cw = c.p.oh * c.p.ow, j
    cdef int st = 0
    if c.chunked:  # the chunk's window, zero outside, in 'valid' mode
        o0 = i * CPLX_CHUNK
        cw = CPLX_CHUNK if CPLX_CHUNK < c.p.ow - o0 else c.p.ow - o0
        q.w, q.ldx, q.ow, q.pad_left = cw + c.p.kw - 1, cw + c.p.kw - 1, cw, 0
        _split(c.x, c.p.w, o0 - c.p.pad_left, q.w, c.f32, xr, xi)
    else:
        _split(c.x, c.p.h * c.p.w, 0, c.p.h * c.p.w, c.f32, xr, xi)
    st = st or _kernel(&q, c.f32, xr, c.kr, c.fill, yr)
    st = st or _kernel(&q, c.f32, xi, c.kr, 0.0, yi)
    if c.kimag and st == 0:
        st = st or _kernel(&q, c.f32, xi, c.ki, 0.0, tmp)
        for j in range(cw):
            if c.f32:
                (<float *>yr)[j] -= (<float *>tmp)[j]
            else:
                (<double *>yr)[j] -= (<double *>tmp)[j]
        st = st or _kernel(&q, c.f32, xr, c.ki, c.fill, tmp)
        for j in range(cw):
            if c.f32:
                (<float *>yi)[j] += (<float *>tmp)[j]
            else:
                (<double *>yi)[j] += (<double *>tmp)[j]
    if st == 0 and c.f32:  # interleave
        _join_as(<const float *>yr, <const float *>yi, cw, <float *>c.y + 2 * o0)
    elif st == 0:
        _join_as(<const double *>yr, <const double *>yi, cw, <double *>c.y + 2 * o0)
    return st


cdef int _complex(const fc_correlate2d_params *p, bint f32, const char *x, const char *k,
                  bint flip, bint conj, double fill, char *y) noexcept nogil:
    """(a + ib) * (c + id) as real correlations of the planes: two passes when
    the kernel is real, four otherwise. Inputs are finite (the caller checks),
    so skipping the imaginary kernel's passes changes nothing. A long row
    extended by zeros (1-D) runs CPLX_CHUNK outputs at a time, the chunks
    shared among the pool's threads (each kernel call then on its thread
    alone; a chunk's result does not depend on who runs it)."""
    cdef size_t size = 4 if f32 else 8
    cdef int64_t taps = p.kh * p.kw, outs = p.oh * p.ow, i, j
    cdef _Cplx c
    c.p, c.f32, c.x, c.fill, c.y, c.kimag = p[0], f32, x, fill, y, False
    c.chunked = (p.h == 1 and p.kh == 1 and p.boundary == FC_BOUNDARY_FILL and fill == 0
                 and outs > CPLX_CHUNK)
    c.nx = CPLX_CHUNK + p.kw - 1 if c.chunked else p.h * p.w
    c.ny = CPLX_CHUNK if c.chunked else outs
    c.stride = <size_t>(2 * c.nx + 3 * c.ny) * size
    cdef int64_t count = (outs + CPLX_CHUNK - 1) // CPLX_CHUNK if c.chunked else 1
    cdef int team = min(max(fc_get_num_threads(), 1), 64) if c.chunked else 1
    if team > count:
        team = <int>count
    cdef char *kbuf = <char *>malloc(<size_t>(2 * taps) * size)
    c.bufs = <char *>malloc(<size_t>team * c.stride)
    if kbuf == NULL or c.bufs == NULL:
        free(kbuf)
        free(c.bufs)
        return 2
    cdef char *kr = kbuf
    cdef char *ki = kbuf + taps * size
    for i in range(taps):
        j = taps - 1 - i if flip else i
        if f32:
            (<float *>kr)[i] = (<const float *>k)[2 * j]
            (<float *>ki)[i] = -(<const float *>k)[2 * j + 1] if conj else (<const float *>k)[2 * j + 1]
            c.kimag = c.kimag or (<float *>ki)[i] != 0
        else:
            (<double *>kr)[i] = (<const double *>k)[2 * j]
            (<double *>ki)[i] = -(<const double *>k)[2 * j + 1] if conj else (<const double *>k)[2 * j + 1]
            c.kimag = c.kimag or (<double *>ki)[i] != 0
    c.kr, c.ki = kr, ki
    cdef int st = fc_run_chunks(team, count, _cplx_block, &c)
    free(kbuf)
    free(c.bufs)
    return st


cdef inline int64_t _first_tap(const fc_correlate2d_params *p, int64_t i) noexcept nogil:
    """The taps t of output i whose input i - pad_left + t lies in [0, w): [first, last)."""
    return p.pad_left - i if p.pad_left > i else 0


cdef inline int64_t _last_tap(const fc_correlate2d_params *p, int64_t i) noexcept nogil:
    return p.w + p.pad_left - i if p.w + p.pad_left - i < p.kw else p.kw


cdef void _int_sums(const itype *x, const itype *k, const fc_correlate2d_params *p, bint flip,
                    itype *y) noexcept nogil:
    """1-D zero-extended correlation in wrapping 64-bit integer arithmetic, then
    truncated to the dtype: NumPy's integer sums, modulo 2**bits."""
    cdef int64_t i, t, m = p.kw
    cdef uint64_t acc
    cdef const itype *xi
    for i in range(p.ow):
        acc = 0
        xi = x + (i - p.pad_left)
        if flip:
            for t in range(_first_tap(p, i), _last_tap(p, i)):
                acc += <uint64_t>(<int64_t>xi[t]) * <uint64_t>(<int64_t>k[m - 1 - t])
        else:
            for t in range(_first_tap(p, i), _last_tap(p, i)):
                acc += <uint64_t>(<int64_t>xi[t]) * <uint64_t>(<int64_t>k[t])
        y[i] = <itype>acc


cdef void _int_small(int t, const char *x, const char *k, const fc_correlate2d_params *p,
                     bint flip, char *y) noexcept nogil:
    cdef bint long32 = sizeof(long) == 4
    if t == cnp.NPY_BYTE:
        _int_sums(<const int8_t *>x, <const int8_t *>k, p, flip, <int8_t *>y)
    elif t == cnp.NPY_UBYTE:
        _int_sums(<const uint8_t *>x, <const uint8_t *>k, p, flip, <uint8_t *>y)
    elif t == cnp.NPY_SHORT:
        _int_sums(<const int16_t *>x, <const int16_t *>k, p, flip, <int16_t *>y)
    elif t == cnp.NPY_USHORT:
        _int_sums(<const uint16_t *>x, <const uint16_t *>k, p, flip, <uint16_t *>y)
    elif t == cnp.NPY_INT or (t == cnp.NPY_LONG and long32):
        _int_sums(<const int32_t *>x, <const int32_t *>k, p, flip, <int32_t *>y)
    elif t == cnp.NPY_UINT or (t == cnp.NPY_ULONG and long32):
        _int_sums(<const uint32_t *>x, <const uint32_t *>k, p, flip, <uint32_t *>y)
    elif t == cnp.NPY_LONG or t == cnp.NPY_LONGLONG:
        _int_sums(<const int64_t *>x, <const int64_t *>k, p, flip, <int64_t *>y)
    else:
        _int_sums(<const uint64_t *>x, <const uint64_t *>k, p, flip, <uint64_t *>y)


# A 1-D integer call beyond INT_DIRECT runs on the float64 kernels INT_CHUNK
# outputs at a time: the chunk's window of the signal read as doubles, the
# kernel, the sums wrapped into the dtype, all in cache. Whole-array double
# copies cost more than the sums (int64 100,000 x 3: three 800 KB temporaries
# a call, page-faulted in again on a virtual machine whenever the C library
# had given them back: 1.2-1.6 ms against NumPy's 0.22).
DEF INT_CHUNK = 16384


cdef double _window_as(const itype *x, int64_t w, int64_t g0, int64_t n, double *d) noexcept nogil:
    """x[g0 .. g0 + n) as doubles into d, zero outside [0, w); the largest
    magnitude (0 for 8- and 16-bit types, whose sums are always exact)."""
    cdef int64_t i, lo = min(max(-g0, 0), n), hi = max(min(w - g0, n), lo)
    cdef double peak = 0.0
    for i in range(lo):
        d[i] = 0.0
    for i in range(lo, hi):
        d[i] = <double>x[g0 + i]
    for i in range(hi, n):
        d[i] = 0.0
    if sizeof(itype) >= 4:
        for i in range(lo, hi):
            peak = fabs(d[i]) if fabs(d[i]) > peak else peak
    return peak


cdef double _window(int t, const char *x, int64_t w, int64_t g0, int64_t n, double *d) noexcept nogil:
    cdef bint long32 = sizeof(long) == 4
    if t == cnp.NPY_BYTE:
        return _window_as(<const int8_t *>x, w, g0, n, d)
    if t == cnp.NPY_UBYTE:
        return _window_as(<const uint8_t *>x, w, g0, n, d)
    if t == cnp.NPY_SHORT:
        return _window_as(<const int16_t *>x, w, g0, n, d)
    if t == cnp.NPY_USHORT:
        return _window_as(<const uint16_t *>x, w, g0, n, d)
    if t == cnp.NPY_INT or (t == cnp.NPY_LONG and long32):
        return _window_as(<const int32_t *>x, w, g0, n, d)
    if t == cnp.NPY_UINT or (t == cnp.NPY_ULONG and long32):
        return _window_as(<const uint32_t *>x, w, g0, n, d)
    if t == cnp.NPY_LONG or t == cnp.NPY_LONGLONG:
        return _window_as(<const int64_t *>x, w, g0, n, d)
    return _window_as(<const uint64_t *>x, w, g0, n, d)


ctypedef struct _IntChunks:
    fc_correlate2d_params p  # the whole call
    int t
    const char *x
    const char *kt  # the kernel in dtype t
    const double *k  # ... as doubles
    double ksum
    bint flip
    char *y
    size_t item  # y's item size
    double *buf  # per thread: stride doubles from buf + tid * stride
    int64_t stride


cdef int _int_chunk(const _IntChunks *c, int64_t i, double *buf) noexcept nogil:
    """Outputs [i * INT_CHUNK, ...) of a 1-D zero-extended integer correlation
    through buf (INT_CHUNK + kw - 1 and INT_CHUNK doubles): on the float64
    kernels where every partial sum of the chunk is exact below 2**53, else
    NumPy's wrapping integer sums. A status as _real's."""
    cdef fc_correlate2d_params q = c.p, r = c.p
    cdef int64_t o0 = i * INT_CHUNK, m = c.p.kw
    cdef int64_t cw = INT_CHUNK if INT_CHUNK < c.p.ow - o0 else c.p.ow - o0
    cdef double peak = _window(c.t, c.x, c.p.w, o0 - c.p.pad_left, cw + m - 1, buf)
    cdef double *yc = buf + INT_CHUNK + m - 1
    cdef int st
    if _int_peak(c.t) * _int_peak(c.t) * <double>m < EXACT or peak * c.ksum < EXACT:
        q.w, q.ldx, q.ow, q.pad_left = cw + m - 1, cw + m - 1, cw, 0
        st = _real(&q, False, <const char *>buf, <const char *>c.k, c.flip, 0.0, <char *>yc)
        if st == 0:
            _to_int(yc, cw, c.t, c.y + <size_t>o0 * c.item)
        return st
    r.pad_left, r.ow = c.p.pad_left - o0, cw
    _int_small(c.t, c.x, c.kt, &r, c.flip, c.y + <size_t>o0 * c.item)
    return 0


cdef int _int_chunk_on(void *ctx, int64_t i, int tid) noexcept nogil:
    """_int_chunk i on thread tid's buffer (fc_run_chunks' callback)."""
    cdef const _IntChunks *c = <const _IntChunks *>ctx
    return _int_chunk(c, i, c.buf + <size_t>tid * <size_t>c.stride)


cdef void _sums_1d(int kind, int t, const char *x, const char *k, const fc_correlate2d_params *p,
                   bint flip, bint reverse, char *y) noexcept nogil:
    if kind == K_CPLX:  # after a swap the signal is NumPy's conjugated second argument
        _complex_sums(<const double *>x, <const double *>k, p, flip, not flip and not reverse,
                      reverse, <double *>y)
    elif kind == K_HALF:
        _half_sums(<const uint16_t *>x, <const uint16_t *>k, p, flip, <uint16_t *>y)
    elif kind == K_BOOL:
        _bool_sums(<const uint8_t *>x, <const uint8_t *>k, p, flip, <uint8_t *>y)
    else:
        _int_small(t, x, k, p, flip, y)


cdef inline float _half_to_float(uint16_t h) noexcept nogil:
    """IEEE binary16 to binary32, exactly (integer operations, plus one exact
    subtraction for subnormals)."""
    cdef uint32_t o = (<uint32_t>h & 0x7fffu) << 13
    cdef uint32_t exp = o & (0x7c00u << 13)
    cdef uint32_t magic = 113u << 23
    cdef float f, m
    o += (127u - 15u) << 23
    if exp == (0x7c00u << 13):  # inf or NaN
        o += (128u - 16u) << 23
    elif exp == 0:  # zero or subnormal: renormalise by a float subtraction
        o += 1u << 23
        memcpy(&f, &o, 4)
        memcpy(&m, &magic, 4)
        f -= m
        memcpy(&o, &f, 4)
    o |= (<uint32_t>h & 0x8000u) << 16
    memcpy(&f, &o, 4)
    return f


cdef inline uint16_t _float_to_half(float value) noexcept nogil:
    """binary32 to binary16, rounding to nearest even as NumPy's
    npy_float_to_half does: overflow to inf, NaN stays NaN; no floating-point
    flag that NumPy would turn into a warning is raised."""
    cdef uint32_t f, sign, denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23
    cdef uint16_t o
    cdef float ff, dm
    memcpy(&f, &value, 4)
    sign = f & 0x80000000u
    f ^= sign
    if f >= (127u + 16u) << 23:  # inf, NaN or too large
        o = 0x7e00 if f > (255u << 23) else 0x7c00
    elif f < (113u << 23):  # subnormal or zero: let a float addition round
        memcpy(&ff, &f, 4)
        memcpy(&dm, &denorm_magic, 4)
        ff += dm
        memcpy(&f, &ff, 4)
        o = <uint16_t>(f - denorm_magic)
    else:
        f += ((15u - 127u) << 23) + 0xfffu + ((f >> 13) & 1u)
        o = <uint16_t>(f >> 13)
    return o | <uint16_t>(sign >> 16)


cdef void _half_sums(const uint16_t *x, const uint16_t *k, const fc_correlate2d_params *p,
                     bint flip, uint16_t *y) noexcept nogil:
    """NumPy's HALF_dot per output: float32 sums of the (exact) products in tap
    order from +0.0, rounded once to float16; bit for bit NumPy's result."""
    cdef int64_t i, t, m = p.kw
    cdef float acc
    cdef const uint16_t *xi
    for i in range(p.ow):
        acc = 0.0
        xi = x + (i - p.pad_left)
        if flip:
            for t in range(_first_tap(p, i), _last_tap(p, i)):
                acc = acc + _half_to_float(xi[t]) * _half_to_float(k[m - 1 - t])
        else:
            for t in range(_first_tap(p, i), _last_tap(p, i)):
                acc = acc + _half_to_float(xi[t]) * _half_to_float(k[t])
        y[i] = _float_to_half(acc)


cdef inline uint8_t _bool_one(const uint8_t *x, const uint8_t *k, const fc_correlate2d_params *p,
                              bint flip, int64_t i) noexcept nogil:
    cdef int64_t t, m = p.kw
    cdef const uint8_t *xi = x + (i - p.pad_left)
    for t in range(_first_tap(p, i), _last_tap(p, i)):
        if xi[t] and (k[m - 1 - t] if flip else k[t]):
            return 1
    return 0


cdef void _bool_sums(const uint8_t *x, const uint8_t *k, const fc_correlate2d_params *p,
                     bint flip, uint8_t *y) noexcept nogil:
    """NumPy's BOOL_dot per output: True where any product is (any non-zero
    byte true). The outputs whose window lies inside x go tap by tap across a
    row without branches (NumPy's loop stops at the first true product, a
    mispredicted branch on mixed data); those at the ends one at a time."""
    cdef int64_t i, t, m = p.kw
    cdef int64_t lo = min(max(p.pad_left, 0), p.ow)
    cdef int64_t hi = max(min(p.w - m + p.pad_left + 1, p.ow), lo)
    cdef const uint8_t *xi
    for i in range(lo, hi):
        y[i] = 0
    for t in range(m):
        if (k[m - 1 - t] if flip else k[t]) == 0:
            continue
        xi = x + (t - p.pad_left)
        for i in range(lo, hi):
            y[i] |= xi[i] != 0
    for i in range(lo):
        y[i] = _bool_one(x, k, p, flip, i)
    for i in range(hi, p.ow):
        y[i] = _bool_one(x, k, p, flip, i)


cdef void _complex_sums(const double *x, const double *k, const fc_correlate2d_params *p,
                        bint flip, bint conj_k, bint conj_x, double *y) noexcept nogil:
    """Small 1-D complex128 correlation, one output at a time as NumPy's
    CDOUBLE_dot does, with the kernel (correlate) or, after NumPy's swap, the
    signal (which was the second argument) conjugated."""
    cdef int64_t i, t, m = p.kw, j
    cdef double re, im, kr, ki, xr, xi_
    cdef const double *xi
    for i in range(p.ow):
        re = 0.0
        im = 0.0
        xi = x + 2 * (i - p.pad_left)
        for t in range(_first_tap(p, i), _last_tap(p, i)):
            j = m - 1 - t if flip else t
            kr = k[2 * j]
            ki = -k[2 * j + 1] if conj_k else k[2 * j + 1]
            xr = xi[2 * t]
            xi_ = -xi[2 * t + 1] if conj_x else xi[2 * t + 1]
            re = re + (xr * kr - xi_ * ki)
            im = im + (xr * ki + xi_ * kr)
        y[2 * i] = re
        y[2 * i + 1] = im


cdef bint _finite(const char *p, int64_t n, bint f32) noexcept nogil:
    cdef int64_t i
    if f32:
        for i in range(n):
            if not isfinite((<const float *>p)[i]):
                return False
    else:
        for i in range(n):
            if not isfinite((<const double *>p)[i]):
                return False
    return True


# ---- the front door ------------------------------------------------------------------

cdef inline bint _beyond_memory(cnp.ndarray a):
    """More elements, or a longer dimension, than any real array has."""
    cdef int i
    if cnp.PyArray_SIZE(a) > MAX_ELEMS:
        return True
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIM(a, i) > MAX_DIM:
            return True
    return False


cdef int _promoted(cnp.ndarray a, cnp.ndarray b):
    """The type NumPy's correlate and SciPy's convolve2d compute two arrays of
    different dtypes in (NumPy's promotion of the two), or -1 where there is
    none."""
    try:
        return PyArray_PromoteTypes(cnp.PyArray_DESCR(a), cnp.PyArray_DESCR(b)).type_num
    except Exception:
        return -1


cdef inline cnp.ndarray _operand(cnp.ndarray a, int t, int nd, int flags):
    """a as the kernels read it (dtype t, native, aligned, C-contiguous, nd
    axes): a itself where it already is (the common call: no NumPy conversion,
    about a sixth of a 10-sample call), else PyArray_FROMANY's copy."""
    if (cnp.PyArray_TYPE(a) == t and cnp.PyArray_NDIM(a) == nd and cnp.PyArray_ISCARRAY_RO(a)
            and cnp.PyArray_ISNOTSWAPPED(a)):
        return a
    return cnp.PyArray_FROMANY(a, t, nd, nd, flags)


cdef object _front(object in1, object in2, int nd, int code, int b, object fillvalue,
                   bint flip):
    """in1 (*) in2 on the kernels, or None for the general path. nd 1: NumPy's
    rules (mode code `code`, zero extension, swaps); nd 2: SciPy's (boundary
    `b`, `fillvalue`)."""
    if type(in1) is not cnp.ndarray or type(in2) is not cnp.ndarray or code < 0 or b < 0:
        return None
    cdef cnp.ndarray a1 = <cnp.ndarray>in1, a2 = <cnp.ndarray>in2
    if (cnp.PyArray_NDIM(a1) != nd or cnp.PyArray_NDIM(a2) != nd
            or cnp.PyArray_SIZE(a1) == 0 or cnp.PyArray_SIZE(a2) == 0):
        return None
    cdef int t = cnp.PyArray_TYPE(a1)
    if cnp.PyArray_TYPE(a2) != t:
        t = _promoted(a1, a2)  # both are computed in it, as the originals do
    cdef int kind = _kind(t)
    if kind == K_NONE:
        return None
    if _beyond_memory(a1) or _beyond_memory(a2):
        return None
    cdef double fill = 0.0
    if b == FC_BOUNDARY_FILL:
        if kind == K_INT:
            if not _int_fill(t, fillvalue, &fill):
                return None  # SciPy's conversion into the dtype decides: the general path
        elif type(fillvalue) is int:
            if not -(1 << 53) <= fillvalue <= (1 << 53):
                return None
            fill = <double>fillvalue
        elif type(fillvalue) is float:
            fill = <double>fillvalue
        else:
            return None
    cdef bint reverse = False
    cdef fc_correlate2d_params p
    p.boundary = <fc_boundary>b
    if nd == 1:
        p.h, p.kh, p.oh, p.pad_top = 1, 1, 1, 0
        p.w, p.kw = cnp.PyArray_DIM(a1, 0), cnp.PyArray_DIM(a2, 0)
        if p.kw > p.w:  # NumPy swaps (convolution commutes); correlate then reverses
            reverse = not flip
            a1, a2 = a2, a1
            p.w, p.kw = p.kw, p.w
        if code == 0:
            p.ow, p.pad_left = p.w - p.kw + 1, 0
        elif code == 1:  # NumPy centres 'same' on len(v) // 2, convolving or not
            p.ow, p.pad_left = p.w, p.kw // 2
        else:
            p.ow, p.pad_left = p.w + p.kw - 1, p.kw - 1
    else:
        p.h, p.w = cnp.PyArray_DIM(a1, 0), cnp.PyArray_DIM(a1, 1)
        p.kh, p.kw = cnp.PyArray_DIM(a2, 0), cnp.PyArray_DIM(a2, 1)
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
    if p.oh > MAX_ELEMS // p.ow:
        return None  # a result no machine holds: the general path says so
    p.ldx = p.w
    cdef int flags = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_FORCECAST
    cdef cnp.npy_intp dims[2]
    cdef cnp.ndarray y
    if (kind == K_HALF or kind == K_BOOL) and nd != 1:
        return None  # SciPy refuses them: the general path words the error
    if kind == K_HALF and p.ow > HALF_DIRECT // p.kw:
        return None  # long float16: the float32 kernels on the general path
    if nd == 1 and (kind == K_HALF or kind == K_BOOL
                    or ((kind == K_INT or t == cnp.NPY_CDOUBLE) and p.ow <= INT_DIRECT // p.kw)):
        # NumPy's own sums, one output at a time
        if fc_plan_only(-1):
            _planned({"algorithm": "direct-sums-in-numpy-order", "kernel": None,
                      "reason": "small 1-D integer, float16, bool or complex128 call: summed "
                                "one output at a time as NumPy sums it"})
        a1 = _operand(a1, t, 1, flags)
        a2 = _operand(a2, t, 1, flags)
        dims[0] = p.ow
        y = _new(1, dims, t)
        _sums_1d(kind, t, <const char *>cnp.PyArray_DATA(a1), <const char *>cnp.PyArray_DATA(a2),
                 &p, flip, reverse, <char *>cnp.PyArray_DATA(y))
        if reverse:
            _reverse(<char *>cnp.PyArray_DATA(y), p.ow, <size_t>cnp.PyArray_ITEMSIZE(y))
        return y
    if nd == 1 and kind == K_INT and not reverse and p.kw <= INT_CHUNK:
        return _int_1d(a1, a2, t, &p, flip)
    # the kernels' operands (native, aligned, C-contiguous, of the work dtype)
    # and the result, allocated before any value is read
    cdef int wt = cnp.NPY_DOUBLE if kind == K_INT else t
    cdef cnp.ndarray x, k, yd
    if nd == 1:
        dims[0] = p.ow
    else:
        dims[0], dims[1] = p.oh, p.ow
    try:
        x = _operand(a1, wt, nd, flags)
        k = _operand(a2, wt, nd, flags)
        y = _new(nd, dims, t)
        yd = _new(nd, dims, cnp.NPY_DOUBLE) if kind == K_INT else y
    except MemoryError:
        if kind == K_INT:
            return None  # float64 copies too large here: the general path asks the original
        raise
    cdef const char *xp = <const char *>cnp.PyArray_DATA(x)
    cdef const char *kp = <const char *>cnp.PyArray_DATA(k)
    cdef int64_t n = p.h * p.w, taps = p.kh * p.kw
    cdef bint f32 = t == cnp.NPY_FLOAT or t == cnp.NPY_CFLOAT
    if kind == K_FLOAT:
        if nd == 1 and code != 0 and taps > 1 and not _finite(kp, taps, f32):
            return None  # NumPy sums only the overlapping terms at the ends
    elif kind == K_CPLX:
        if reverse or not (_finite(xp, 2 * n, f32) and _finite(kp, 2 * taps, f32) and isfinite(fill)):
            return None  # (after NumPy's swap the conjugated operand is the signal:
            #               the general path does that)
    elif not _exact(<const double *>xp, n, <const double *>kp, taps, fill, t):
        return None
    cdef char *yp = <char *>cnp.PyArray_DATA(yd)
    cdef int64_t outs = p.oh * p.ow
    cdef bint conj = not flip
    cdef int st
    if outs <= (GIL_MACS - 1) // taps:
        st = _compute(&p, kind, f32, xp, kp, flip, conj, fill, reverse, t, yp,
                      <char *>cnp.PyArray_DATA(y))
    else:
        with nogil:
            st = _compute(&p, kind, f32, xp, kp, flip, conj, fill, reverse, t, yp,
                          <char *>cnp.PyArray_DATA(y))
    if st == 0 and fc_plan_only(-1):
        plan = last_plan()
        plan["reason"] = {K_FLOAT: "float kernels", K_INT: "integers on the float64 kernels "
                          "(every partial sum exact below 2**53)",
                          K_CPLX: "complex as real passes of the real kernels"}.get(kind, "")
        _planned(plan)
    if st != 0:
        _raise_for(st, (p.h, p.w), (p.kh, p.kw))
    return y


cdef _raise_for(int st, tuple shape, tuple kshape):
    """The exception for a correlation's non-zero status (_real's, or
    FC_ETHREAD), naming the shapes; nothing for 0."""
    if st == 2:
        raise MemoryError(f"could not allocate scratch memory for shapes {shape} and {kshape}")
    if st == 4:
        raise RuntimeError(THREAD_ERROR.format(op=f"correlation of shapes {shape} and {kshape}"))
    if st != 0:
        raise ValueError(f"correlation of shapes {shape} and {kshape}: sizes out of range")


cdef object _int_1d(cnp.ndarray a1, cnp.ndarray a2, int t, const fc_correlate2d_params *p,
                    bint flip):
    """The 1-D integer front door beyond INT_DIRECT: _int_chunk over the
    call's chunks, shared among the pool's threads when the call is large
    (each kernel call then runs on its thread alone; a chunk's result does
    not depend on who runs it)."""
    cdef int flags = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_FORCECAST
    cdef cnp.npy_intp dims[1]
    dims[0] = p.ow
    cdef cnp.ndarray x = _operand(a1, t, 1, flags)
    cdef cnp.ndarray kt = _operand(a2, t, 1, flags)
    cdef cnp.ndarray k = cnp.PyArray_FROMANY(a2, cnp.NPY_DOUBLE, 1, 1, flags)
    cdef cnp.ndarray y = _new(1, dims, t)
    cdef _IntChunks c
    cdef int64_t i, count = (p.ow + INT_CHUNK - 1) // INT_CHUNK
    cdef int team = min(max(fc_get_num_threads(), 1), 64) if p.ow * p.kw > GIL_MACS - 1 else 1
    c.p, c.t, c.flip, c.item = p[0], t, flip, <size_t>cnp.PyArray_ITEMSIZE(y)
    c.x, c.kt = <const char *>cnp.PyArray_DATA(x), <const char *>cnp.PyArray_DATA(kt)
    c.k, c.y = <const double *>cnp.PyArray_DATA(k), <char *>cnp.PyArray_DATA(y)
    c.ksum = 0.0
    for i in range(p.kw):
        c.ksum += fabs(c.k[i])
    team = <int>min(team, max(count, 1))
    c.stride = 2 * INT_CHUNK + p.kw
    c.buf = <double *>malloc(<size_t>(team * c.stride) * sizeof(double))
    if c.buf == NULL:
        raise MemoryError(f"could not allocate scratch memory for shapes {(p.w,)} and {(p.kw,)}")
    cdef int st
    cdef fc_correlate2d_params q = p[0]
    if fc_plan_only(-1):  # the plan of the first chunk's kernel call (nothing is read)
        q.w = min(INT_CHUNK, p.ow) + p.kw - 1
        q.ldx, q.ow, q.pad_left = q.w, q.w - p.kw + 1, 0
        st = _real(&q, False, <const char *>c.buf, <const char *>c.k, flip, 0.0, <char *>c.buf)
    elif p.ow * p.kw <= GIL_MACS - 1:
        st = fc_run_chunks(1, count, _int_chunk_on, &c)
    else:
        with nogil:
            st = fc_run_chunks(team, count, _int_chunk_on, &c)
    free(c.buf)
    if st == 0 and fc_plan_only(-1):
        plan = last_plan()
        plan["threads"], plan["chunks"] = team, count
        plan["reason"] = (f"integers on the float64 kernels, {INT_CHUNK:,} outputs at a time on "
                          "the threads (every partial sum exact below 2**53; else NumPy's "
                          "integer sums)")
        _planned(plan)
    if st != 0:
        _raise_for(st, (p.w,), (p.kw,))
    return y


cdef int _compute(const fc_correlate2d_params *p, int kind, bint f32, const char *x,
                  const char *k, bint flip, bint conj, double fill, bint reverse, int t,
                  char *yw, char *y) noexcept nogil:
    """The kernels into yw (the result, or its float64 sums for integers), then
    the 1-D reversal and the integers' conversion into y."""
    cdef int st
    cdef int64_t outs = p.oh * p.ow
    if kind == K_CPLX:
        return _complex(p, f32, x, k, flip, conj, fill, yw)
    st = _real(p, f32 and kind == K_FLOAT, x, k, flip, fill, yw)
    if st != 0:
        return st
    if reverse:
        _reverse(yw, outs, 4 if (f32 and kind == K_FLOAT) else 8)
    if kind == K_INT:
        _to_int(<const double *>yw, outs, t, y)
    return 0


cdef _planned(dict plan):
    """In plan-only mode (fastconv.explain), where a front door would compute."""
    plan["path"] = "front door: the drop-in's C-speed entry"
    raise Planned(plan)


cdef _original(str name):
    """The original function `name`, or, in plan-only mode, what says it would run."""
    if fc_plan_only(-1):
        _planned({"algorithm": "original", "kernel": name,
                  "reason": "a small call of a dtype without a fast path: the original itself"})
    return _originals.found(name)


# dtypes NumPy computes and fastconv has no path for at any size: straight to NumPy
cdef inline bint _numpy_only(object a, object b):
    if type(a) is not cnp.ndarray or type(b) is not cnp.ndarray:
        return False
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if cnp.PyArray_TYPE(<cnp.ndarray>b) != t:
        return False
    return t == cnp.NPY_LONGDOUBLE or t == cnp.NPY_CLONGDOUBLE


cdef object _listed(object a):
    """A list or tuple (exact types) as the array NumPy's own call makes of it
    (``np.asarray``); anything else as it is, and a sequence NumPy cannot
    convert too (the general path then raises the original's error)."""
    if type(a) is list or type(a) is tuple:
        try:
            return cnp.PyArray_FROM_O(a)
        except Exception:
            return a
    return a


cdef object _one_d(str name, object a, object v, object mode, bint flip):
    """The 1-D front door: fastconv's kernels, NumPy itself, or None."""
    cdef int code = _mode_1d(mode)
    if code < 0:
        return None  # the general path words the error (or NumPy 1.x's deprecated spellings)
    a, v = _listed(a), _listed(v)
    y = _front(a, v, 1, code, FC_BOUNDARY_FILL, 0, flip)
    if y is None and (_small(a, v, 1) or _numpy_only(a, v)):
        y = _original(name)(a, v, mode)
    return y


cdef object _two_d(str name, object in1, object in2, object mode, object boundary,
                   object fillvalue, bint flip):
    """The 2-D front door: fastconv's kernels, SciPy itself, or None."""
    cdef int code = _mode_2d(mode), b = _boundary(boundary)
    if code < 0 or b < 0:
        return None  # the general path words the error
    in1, in2 = _listed(in1), _listed(in2)
    y = _front(in1, in2, 2, code, b, fillvalue, flip)
    if (y is None and _small(in1, in2, 2) and _scipy_computes(in1) and _scipy_computes(in2)
            and (b != FC_BOUNDARY_FILL or type(fillvalue) is int or type(fillvalue) is float)):
        # (other fill values get fastconv's conversion and its worded errors)
        f = _original(name)
        if f is not None:
            y = f(in1, in2, mode, boundary, fillvalue)
    return y


# ---- scipy.signal's N-d correlate and convolve: small float calls, integer calls --------
# Calls of 3 or more axes cost the general path (its slabs) 15-45 us of set-up, SciPy's own
# loop 8-13 us plus about 10 ns a product; the float calls the general path hands to SciPy's
# loop, and integer calls whose sums are exact, take the N-d kernel directly here (1-2 us).
DEF ND_PRODUCTS = 65536  # a bound on the inputs' sizes before any product is formed
# Integer calls run here at any size up to this many input products: their sums are exact,
# so their bits are every path's (a chunked array's blocks included).
DEF ND_INT_PRODUCTS = 1 << 24


cdef bint _fft_decides(const int64_t *s1, const int64_t *s2, int nd, int code, bint *near) noexcept:
    """SciPy's _fftconv_faster for inputs of 2 or more axes (code: 2 full, 1
    same, 0 valid): whether it predicts the FFT beats direct sums; *near where
    the two predictions lie within 1e-12 of each other (this log and NumPy's
    may differ in the last place: then the general path decides)."""
    cdef double n1 = 1, n2 = 1, out = 1, full = 1, direct, fft, lhs, rhs, o_fft, o_direct
    cdef int a
    for a in range(nd):
        n1 *= s1[a]
        n2 *= s2[a]
        full *= s1[a] + s2[a] - 1
        out *= (s1[a] + s2[a] - 1 if code == 2 else s1[a] if code == 1
                else (s1[a] - s2[a] if s1[a] >= s2[a] else s2[a] - s1[a]) + 1)
    direct = n1 * n2 if code == 1 else (n1 if n1 < n2 else n2) * out
    fft = 3 * full * log(full)
    o_fft, o_direct = ((1.99817e-9, 1.66174e-8) if code == 2 else (2.04735e-9, 1.55367e-8)
                       if code == 1 else (1.85927e-9, 2.11242e-8))
    lhs, rhs = o_fft * fft, o_direct * direct + -1e-4
    near[0] = fabs(lhs - rhs) <= 1e-12 * (fabs(lhs) + fabs(rhs))
    return lhs < rhs


cdef void _copy_box(const char *src, const int64_t *src_shape, char *dst, const int64_t *dst_shape,
                    const int64_t *box, int nd, size_t item) noexcept nogil:
    """The box of shape `box` at the origin of src (C order, src_shape) into the
    same place of dst (C order, dst_shape), a run of the last axis at a time."""
    cdef int64_t idx[FC_ND_MAX_DIMS]
    cdef int64_t rows = 1, i, s, d
    cdef int a
    for a in range(nd - 1):
        rows *= box[a]
        idx[a] = 0
    for i in range(rows):
        s = d = 0
        for a in range(nd - 1):
            s = s * src_shape[a] + idx[a]
            d = d * dst_shape[a] + idx[a]
        memcpy(dst + d * dst_shape[nd - 1] * item, src + s * src_shape[nd - 1] * item,
               <size_t>box[nd - 1] * item)
        a = nd - 2
        while a >= 0:  # the next run, C order
            idx[a] += 1
            if idx[a] < box[a]:
                break
            idx[a] = 0
            a -= 1


cdef bint _all_finite(cnp.ndarray a, bint f32) noexcept:
    return _finite(<const char *>cnp.PyArray_DATA(a), cnp.PyArray_SIZE(a), f32)


cdef object _nd_front(object in1, object in2, object mode, object method, bint flip,
                      int64_t per_axis, int64_t most):
    """scipy.signal.correlate (flip False) or convolve of two C-contiguous,
    native ndarrays of one dtype, 3 to FC_ND_MAX_DIMS axes, non-empty, with
    method 'direct' or 'auto' where SciPy's choice is direct sums: SciPy's
    swaps, then the N-d kernel with zero extension (fc_*_correlatend).
    Finite float32 and float64 calls with fewer products than the general
    path hands to SciPy's own loop (per_axis per axis beyond two, at most
    `most`: _signal_nd.small): float64 sums each output's products in
    SciPy's order, the kernel's C order, so SciPy's bits; float32 with fused
    multiply-adds (larger calls keep the general path's kernels, whose bits
    fastconv.dask.signal's blocks reproduce). Integers up to ND_INT_PRODUCTS
    input products whose every partial sum float64 holds exactly (_exact):
    summed in float64, wrapped into the dtype as SciPy's integer sums wrap.
    Else None."""
    if type(in1) is not cnp.ndarray or type(in2) is not cnp.ndarray or type(mode) is not str:
        return None
    if type(method) is not str or (method != "direct" and method != "auto"):
        return None
    cdef int code = _mode_2d(mode)
    cdef cnp.ndarray x = <cnp.ndarray>in1, k = <cnp.ndarray>in2
    cdef int t = cnp.PyArray_TYPE(x), nd = cnp.PyArray_NDIM(x), a
    cdef bint ints = _kind(t) == K_INT
    if (code < 0 or (t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE and not ints)
            or cnp.PyArray_TYPE(k) != t or nd < 3 or nd > FC_ND_MAX_DIMS
            or cnp.PyArray_NDIM(k) != nd):
        return None
    if not (cnp.PyArray_ISCARRAY_RO(x) and cnp.PyArray_ISNOTSWAPPED(x)
            and cnp.PyArray_ISCARRAY_RO(k) and cnp.PyArray_ISNOTSWAPPED(k)):
        return None
    cdef int64_t n = cnp.PyArray_SIZE(x), m = cnp.PyArray_SIZE(k), total = 1
    cdef int64_t s1[FC_ND_MAX_DIMS]
    cdef int64_t s2[FC_ND_MAX_DIMS]
    cdef int64_t out[FC_ND_MAX_DIMS]
    cdef int64_t ext[FC_ND_MAX_DIMS]
    if n == 0 or m == 0 or n > (ND_INT_PRODUCTS if ints else ND_PRODUCTS) // m:
        return None
    cdef int64_t limit = min(most, per_axis * (nd - 2))
    cdef bint ok1 = True, ok2 = True, near = False, f32 = t == cnp.NPY_FLOAT
    for a in range(nd):
        s1[a], s2[a] = cnp.PyArray_DIM(x, a), cnp.PyArray_DIM(k, a)
        ok1 = ok1 and s1[a] >= s2[a]
        ok2 = ok2 and s2[a] >= s1[a]
    if code == 0 and not (ok1 or ok2):
        return None  # the general path raises SciPy's ValueError
    if code == 0 and not ok1 and not flip and method == "auto":
        return None  # SciPy's 'auto' then sums both inputs reversed, in the other order
    if method == "auto":
        if ints:  # SciPy's choice reads the values first (their largest product; either order)
            if _signal_nd.choose(x, k, mode) != "direct":
                return None
        elif _fft_decides(s1, s2, nd, code, &near) or near:
            return None
    if not ints and (not _all_finite(x, f32) or not _all_finite(k, f32)):
        return None  # NaN and inf: the general path places them as SciPy does
    # convolve swaps for 'valid' first; correlate then swaps for 'valid' and for
    # a larger kernel in 'full', and reverses the result to undo it
    cdef bint swap_first = flip and code == 0 and not ok1
    cdef bint swapped = (code == 2 and m > n) or (code == 0 and not flip and not ok1)
    if swap_first != swapped:  # (never both: after convolve's swap 'valid' needs no other)
        x, k = k, x
        n, m = m, n
        for a in range(nd):
            s1[a], s2[a] = s2[a], s1[a]
    # the kernel as correlate's: reversed for convolve (before correlate's own swap,
    # which then makes the reversed kernel the input)
    cdef bint rev_x = flip and swapped, rev_k = flip and not swapped
    cdef fc_correlatend_params p
    p.ndim = nd
    p.boundary = FC_BOUNDARY_FILL
    for a in range(nd):
        p.kshape[a] = s2[a]
        if code == 2:
            out[a], p.pad[a] = s1[a] + s2[a] - 1, s2[a] - 1
        elif code == 1:
            out[a], p.pad[a] = s1[a], s2[a] // 2
        else:
            out[a], p.pad[a] = s1[a] - s2[a] + 1, 0
        ext[a] = out[a] if code == 2 else s1[a]  # the input as the kernel reads it
        p.shape[a] = ext[a]
        total *= out[a]
    if not ints and total * m >= limit:
        return None  # the general path's kernels
    if ints:  # as float64, where every partial sum is exact
        x = cnp.PyArray_Cast(x, cnp.NPY_DOUBLE)
        k = cnp.PyArray_Cast(k, cnp.NPY_DOUBLE)
        if not _exact(<const double *>cnp.PyArray_DATA(x), n, <const double *>cnp.PyArray_DATA(k),
                      m, 0.0, t):
            return None
    cdef size_t item = 4 if f32 else 8
    cdef cnp.npy_intp dims[FC_ND_MAX_DIMS]
    for a in range(nd):
        dims[a] = <cnp.npy_intp>out[a]
    y = _new(nd, dims, cnp.NPY_DOUBLE if ints else t)
    cdef char *yd = <char *>cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef char *buf = <char *>malloc(<size_t>(m + (n if rev_x else 0)) * item)
    if buf == NULL:
        return None
    cdef char *xe = NULL
    cdef char *ye = NULL
    cdef int64_t ext_total = 1
    for a in range(nd):
        ext_total *= ext[a]
    if code == 2 or rev_x:  # the input zero-extended to the output's shape, or reversed
        xe = <char *>malloc(<size_t>ext_total * item)
    if code == 0:  # all of the input's positions computed, the output's taken
        ye = <char *>malloc(<size_t>ext_total * item)
    if ((code == 2 or rev_x) and xe == NULL) or (code == 0 and ye == NULL):
        free(buf)
        free(xe)
        free(ye)
        return None
    cdef const char *xs = <const char *>cnp.PyArray_DATA(x)
    cdef const char *kd = <const char *>cnp.PyArray_DATA(k)
    cdef char *kk = buf
    cdef int st, finite = 1
    with nogil:
        memcpy(kk, kd, <size_t>m * item)
        if rev_k:
            _reverse(kk, m, item)
        if rev_x:  # convolve's reversed kernel became the input
            memcpy(buf + m * item, xs, <size_t>n * item)
            _reverse(buf + m * item, n, item)
            xs = buf + m * item
        if code == 2 or rev_x:
            if code == 2:  # the input into the zero-extended array
                memset(xe, 0, <size_t>ext_total * item)
                _copy_box(xs, s1, xe, ext, s1, nd, item)
            else:
                memcpy(xe, xs, <size_t>n * item)
            xs = xe
        if f32:
            st = fc_f32_correlatend_finite(&p, <const float *>xs, <const float *>kk, 0,
                                           <float *>(ye if code == 0 else yd),
                                           &finite)
        else:
            st = fc_f64_correlatend(&p, <const double *>xs, <const double *>kk, 0,
                                    <double *>(ye if code == 0 else yd))
        if st == 0 and code == 0 and not fc_plan_only(-1):  # the valid outputs
            _copy_box(ye, ext, yd, out, out, nd, item)
        if st == 0 and swapped and not fc_plan_only(-1):
            _reverse(yd, total, item)
    free(buf)
    free(xe)
    free(ye)
    if st == 0 and fc_plan_only(-1):
        plan = last_plan()
        plan["reason"] = "a small call of 3 or more axes on the N-d kernel"
        _planned(plan)
    if st != 0 or not finite:
        return None
    if ints:  # the exact sums wrapped into the dtype
        yi = _new(nd, dims, t)
        _to_int(<const double *>yd, total, t, <char *>cnp.PyArray_DATA(<cnp.ndarray>yi))
        return yi
    return y


cdef object _nd_complex(cnp.ndarray a, cnp.ndarray b, object mode, object method, bint flip,
                        int64_t most):
    """_nd_front for two C-contiguous complex ndarrays of one dtype, as real
    calls on their parts (each taken by _nd_front, with the complex limit
    `most`; else None): correlate a * conj(b) (SciPy's), convolve a * b. The
    parts' swaps and reversals are the complex call's, so the sums combine
    as its own (within a direct sum's error of SciPy's complex loop)."""
    cdef int nd = cnp.PyArray_NDIM(a), code = _mode_2d(mode), i
    cdef int64_t s1[FC_ND_MAX_DIMS]
    cdef int64_t s2[FC_ND_MAX_DIMS]
    cdef bint near = False, ok1 = True
    if nd < 3 or nd > FC_ND_MAX_DIMS or cnp.PyArray_NDIM(b) != nd or code < 0:
        return None
    if not (cnp.PyArray_ISCARRAY_RO(a) and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_ISCARRAY_RO(b) and cnp.PyArray_ISNOTSWAPPED(b)):
        return None
    for i in range(nd):
        s1[i], s2[i] = cnp.PyArray_DIM(a, i), cnp.PyArray_DIM(b, i)
        ok1 = ok1 and s1[i] >= s2[i]
    if method == "auto":
        if code == 0 and not ok1 and not flip:
            return None  # as _nd_front: SciPy's 'auto' sums the reversed inputs
        if _fft_decides(s1, s2, nd, code, &near) or near:
            return None
    ar, ai = a.real.copy(), a.imag.copy()
    br, bi = b.real.copy(), b.imag.copy()
    parts = []
    for u, v in ((ar, br), (ai, bi), (ai, br), (ar, bi)):
        z = _nd_front(u, v, mode, "direct", flip, most, most)
        if z is None:
            return None
        parts.append(z)
    y = cnp.PyArray_EMPTY(nd, <cnp.npy_intp *>cnp.PyArray_DIMS(<cnp.ndarray>parts[0]),
                          cnp.PyArray_TYPE(a), 0)
    if flip:  # (ar + i ai)(br + i bi)
        y.real, y.imag = parts[0] - parts[1], parts[3] + parts[2]
    else:  # (ar + i ai)(br - i bi)
        y.real, y.imag = parts[0] + parts[1], parts[2] - parts[3]
    return y


def signal_nd(in1, in2, mode, method, bint flip, int64_t per_axis, int64_t most):
    """fastconv.signal.correlate (flip False) or convolve for a small float or
    complex call, or an integer call, of 3 or more axes (see _nd_front and
    _nd_complex), or None for the general path."""
    if (type(in1) is cnp.ndarray and type(in2) is cnp.ndarray and type(mode) is str
            and type(method) is str and (method == "direct" or method == "auto")):
        t = cnp.PyArray_TYPE(<cnp.ndarray>in1)
        if (t == cnp.NPY_CDOUBLE or t == cnp.NPY_CFLOAT) and cnp.PyArray_TYPE(<cnp.ndarray>in2) == t:
            return _nd_complex(<cnp.ndarray>in1, <cnp.ndarray>in2, mode, method, flip, most)
    return _nd_front(in1, in2, mode, method, flip, per_axis, most)


def correlate(a, v, mode="valid", *, method="direct"):
    if type(method) is str and method == "direct":
        y = _one_d("numpy.correlate", a, v, mode, False)
        if y is not None:
            return y
    return _correlate_any(a, v, mode, method=method)


def convolve(a, v, mode="full", *, method="direct"):
    if type(method) is str and method == "direct":
        y = _one_d("numpy.convolve", a, v, mode, True)
        if y is not None:
            return y
    return _convolve_any(a, v, mode, method=method)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="direct"):
    if type(method) is str and method == "direct":
        y = _two_d("scipy.signal.correlate2d", in1, in2, mode, boundary, fillvalue, False)
        if y is not None:
            return y
    return _correlate2d_any(in1, in2, mode, boundary, fillvalue, method=method)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="direct"):
    if type(method) is str and method == "direct":
        y = _two_d("scipy.signal.convolve2d", in1, in2, mode, boundary, fillvalue, True)
        if y is not None:
            return y
    return _convolve2d_any(in1, in2, mode, boundary, fillvalue, method=method)
