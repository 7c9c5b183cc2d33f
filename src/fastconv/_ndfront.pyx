# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""fastconv.ndimage's front doors: the common calls, recognised at C speed.

SciPy's ndimage filters spend most of a small call in Python (normalising
arguments, making the output); on a 16x16 image that is most of the 4-18 us
they take. To cost less than the original at every size, the common calls
skip that here:

- `input` an ndarray (exact type) of float64, float32, an integer type or
  bool, 1 to 64 dimensions, none empty; in another layout or byte order it
  is first copied C-contiguous and native in its own dtype, as the general
  path copies it (a 2-D array in Fortran order by a blocked transpose).
  Copies of 64 KiB and more live in scratch blocks kept between calls.
  Integers are read as doubles, a cached chunk at a time, and the results
  stored back as SciPy's C loops store them (`_store`), after every pass of
  a separable filter as SciPy stores each pass into the output;
- `weights` an ndarray or a list or tuple of real numbers, of the right
  number of dimensions; `output` None, a NumPy dtype or scalar type of
  float32, float64, an integer or bool, or an ndarray (exact type) of such a
  dtype and the input's shape, C-contiguous, aligned and writable, its memory apart
  from the weights' and either apart from the input's (the result is then
  written there and returned, as SciPy returns it) or the input's own, value
  for value (`_placement`: computed into a new array, then copied in); `mode`
  one name from SciPy's list (a list or tuple of one per axis for the
  separable filters); `cval` a Python float or int; `origin` a Python int; no
  `axes`;
- float32 with mode 'constant' only when cval is a float32 value; other
  dtypes take the general path;
- bool runs as uint8, its bytes read and stored (_sized): SciPy reads a bool
  array's byte and stores a double's byte into a bool result;
- complex64 and complex128 inputs with real weights run the real front doors
  on their two parts, as SciPy's _complex_via_real_components runs its real
  filters, into the complex output (None, or an array of the input's
  dtype): the 1-D filters (correlate1d, uniform_filter1d and the separable
  ones) on the array's real view with a last axis of 2, the two parts side
  by side, where both parts read the same values outside (`_pairs`: any mode
  but 'constant' and 'grid-constant', or cval 0); the others on contiguous
  copies of the parts, joined into the output (`_via_parts`).

These run the kernels the general path in ndimage.py runs, with the same
arguments (the same weights, zeroed where NI_Correlate skips them, the same
pads, one array of the output's dtype per pass; the float32 kernels where a
pass reads and stores float32, the float64 ones otherwise), so the results
are the same bits. Every other call, and any kernel error, returns None: the caller then
takes the general path, which raises SciPy's exceptions for bad input.
Nothing here raises for a user's argument.
"""
cimport cython
cimport numpy as cnp
from libc.float cimport DBL_EPSILON
from libc.math cimport copysign, fabs
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

cnp.import_array()

from fastconv._capi cimport *
from fastconv._bigarrays cimport _new
from fastconv._kernels import Planned, last_plan


# fc_boundary codes by SciPy's mode names, for filters (ndimage.py reads this
# table too): 'grid-constant', 'grid-wrap' and 'grid-mirror' are 'constant',
# 'wrap' and 'reflect' (they differ only for interpolation).
MODES = {"nearest": FC_BOUNDARY_NEAREST, "wrap": FC_BOUNDARY_WRAP, "reflect": FC_BOUNDARY_SYMM,
         "grid-mirror": FC_BOUNDARY_SYMM, "mirror": FC_BOUNDARY_MIRROR,
         "constant": FC_BOUNDARY_FILL, "grid-wrap": FC_BOUNDARY_WRAP,
         "grid-constant": FC_BOUNDARY_FILL}
cdef dict _MODES = MODES

# Products under which the GIL is kept: taking it back costs about as much.
DEF GIL_WORK = 8192
DEF MAX_ELEMS = 1 << 48  # beyond any real array: only a broadcast view, the general path's
DEF CHANNELS_FIRST_FROM = 1024  # correlate: arrays this large move one-tap channels in front


cdef inline bint _is_int(int t) noexcept:
    """An integer type, bool included: SciPy reads and stores a bool array's
    bytes as uint8 (so a stored 2 stays 2), and so do the front doors (_sized)."""
    return (t == cnp.NPY_BYTE or t == cnp.NPY_UBYTE or t == cnp.NPY_SHORT or t == cnp.NPY_USHORT
            or t == cnp.NPY_INT or t == cnp.NPY_UINT or t == cnp.NPY_LONG or t == cnp.NPY_ULONG
            or t == cnp.NPY_LONGLONG or t == cnp.NPY_ULONGLONG or t == cnp.NPY_BOOL)


cdef inline bint _sizes_ok(cnp.ndarray arr) noexcept:
    """1 to FC_ND_MAX_DIMS axes, not empty, and no more elements than MAX_ELEMS."""
    return (1 <= cnp.PyArray_NDIM(arr) <= FC_ND_MAX_DIMS
            and 0 < cnp.PyArray_SIZE(arr) <= MAX_ELEMS)


cdef inline int _input_type(object a):
    """NPY_DOUBLE, NPY_FLOAT or an integer type for a C-contiguous, aligned,
    native, non-empty ndarray with 1 to FC_ND_MAX_DIMS axes; else -1."""
    if type(a) is not cnp.ndarray:
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr)
    if not (t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT or _is_int(t)):
        return -1
    if not cnp.PyArray_ISCARRAY_RO(arr) or not cnp.PyArray_ISNOTSWAPPED(arr) or not _sizes_ok(arr):
        return -1
    return t


cdef object _copy_as(cnp.ndarray a, int t):
    """a's values as a C-contiguous array of type t in a kept scratch block
    (_scratch_like), in one strided cast; None if there is no memory."""
    cdef object copy = _scratch_like(a, t)
    if copy is None or cnp.PyArray_CopyInto(<cnp.ndarray>copy, a) < 0:
        return None
    return copy


cdef object _native_c(cnp.ndarray a, int t):
    """a itself if it is C-contiguous and native, else its values copied so
    (_copy_as, type t); None if there is no memory."""
    if cnp.PyArray_ISCARRAY_RO(a) and cnp.PyArray_ISNOTSWAPPED(a):
        return a
    return _copy_as(a, t)


DEF TILE = 32  # the blocked transpose's tile side


ctypedef fused word:  # elements moved as their bytes, by size
    uint8_t
    uint16_t
    uint32_t
    uint64_t


cdef void _transpose(const word *x, word *y, int64_t rows, int64_t cols) noexcept nogil:
    """y (rows x cols, C order) from x, the same matrix in Fortran order
    (element (i, j) at x[i + j * rows]): _transpose_strided."""
    _transpose_strided(x, y, rows, cols, rows, cols)


cdef void _transpose_strided(const word *x, word *y, int64_t rows, int64_t cols, int64_t xs,
                             int64_t ys) noexcept nogil:
    """y[i * ys + j] = x[i + j * xs] for i < rows, j < cols, a TILE x TILE tile
    at a time through a local copy: the tile's column pieces are read once
    each and its row pieces written once each, so strides of a power of two
    (the cache's sets) cost no re-reads."""
    cdef word tile[TILE * TILE]
    cdef int64_t i0, j0, i, j, ni, nj
    for j0 in range(0, cols, TILE):
        nj = min(TILE, cols - j0)
        for i0 in range(0, rows, TILE):
            ni = min(TILE, rows - i0)
            for j in range(nj):
                for i in range(ni):
                    tile[j * TILE + i] = x[i0 + i + (j0 + j) * xs]
            for i in range(ni):
                for j in range(nj):
                    y[(i0 + i) * ys + j0 + j] = tile[j * TILE + i]


cdef void _reverse_axes(const word *x, word *y, const int64_t *shape, int nd) noexcept nogil:
    """y, C order, from x, the same array in Fortran order (nd >= 2): for each
    index of the middle axes, the plane of the first and last axes transposed
    (_transpose_strided: the first axis runs along x, the last along y)."""
    cdef int64_t first = shape[0], last = shape[nd - 1], mid = 1, mc, mf
    cdef int64_t idx[FC_ND_MAX_DIMS]
    cdef int a
    for a in range(1, nd - 1):
        mid *= shape[a]
        idx[a] = 0
    mf = 0
    for mc in range(mid):  # the middle index in C order; mf, its place in Fortran order
        _transpose_strided(x + first * mf, y + mc * last, first, last, first * mid, mid * last)
        a = nd - 2
        while a >= 1:
            idx[a] += 1
            if idx[a] < shape[a]:
                break
            idx[a] = 0
            a -= 1
        mf = 0
        for a in range(nd - 2, 0, -1):
            mf = mf * shape[a] + idx[a]


cdef inline bint _fortran(cnp.ndarray a) noexcept:
    """A native array of 2 or more axes in Fortran order (a transposed C array),
    which NumPy copies to C order element by element down its columns,
    several times slower than a blocked transpose."""
    return (cnp.PyArray_NDIM(a) >= 2 and cnp.PyArray_IS_F_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_DIM(a, 0) > 1
            and cnp.PyArray_DIM(a, cnp.PyArray_NDIM(a) - 1) > 1)


cdef void _untranspose_few(const word *x, word *y, int64_t rows, int64_t cols) noexcept nogil:
    """_transpose into few columns: each row of y written once, from its
    elements in x's `cols` runs."""
    cdef int64_t i, j
    for i in range(rows):
        for j in range(cols):
            y[i * cols + j] = x[j * rows + i]


cdef void _transpose_few(const word *x, word *y, int64_t rows, int64_t cols) noexcept nogil:
    """_transpose for few rows (x's runs of `rows` elements): each run read
    once, its elements written to their rows of y."""
    cdef int64_t i, j
    for j in range(cols):
        for i in range(rows):
            y[i * cols + j] = x[j * rows + i]


cdef void _transpose_items(const void *x, void *y, int64_t rows, int64_t cols,
                           int size) noexcept nogil:
    """_transpose for elements of `size` bytes (1, 2, 4 or 8); fewer than 16
    rows or columns go element by element (_transpose_few, or its mirror),
    as a tile of them would be mostly empty."""
    if rows < 16:
        if size == 1:
            _transpose_few(<const uint8_t *>x, <uint8_t *>y, rows, cols)
        elif size == 2:
            _transpose_few(<const uint16_t *>x, <uint16_t *>y, rows, cols)
        elif size == 4:
            _transpose_few(<const uint32_t *>x, <uint32_t *>y, rows, cols)
        else:
            _transpose_few(<const uint64_t *>x, <uint64_t *>y, rows, cols)
        return
    if cols < 16:
        if size == 1:
            _untranspose_few(<const uint8_t *>x, <uint8_t *>y, rows, cols)
        elif size == 2:
            _untranspose_few(<const uint16_t *>x, <uint16_t *>y, rows, cols)
        elif size == 4:
            _untranspose_few(<const uint32_t *>x, <uint32_t *>y, rows, cols)
        else:
            _untranspose_few(<const uint64_t *>x, <uint64_t *>y, rows, cols)
        return
    if size == 1:
        _transpose(<const uint8_t *>x, <uint8_t *>y, rows, cols)
    elif size == 2:
        _transpose(<const uint16_t *>x, <uint16_t *>y, rows, cols)
    elif size == 4:
        _transpose(<const uint32_t *>x, <uint32_t *>y, rows, cols)
    else:
        _transpose(<const uint64_t *>x, <uint64_t *>y, rows, cols)


cdef object _transposed(cnp.ndarray a):
    """The C-contiguous copy, in kept scratch, of a Fortran-order array
    (_fortran) of 1, 2, 4 or 8-byte elements; None for other sizes or if
    there is no memory."""
    cdef int nd = cnp.PyArray_NDIM(a), size = cnp.PyArray_ITEMSIZE(a), i
    if size != 1 and size != 2 and size != 4 and size != 8:
        return None
    y = _scratch_like(a, cnp.PyArray_TYPE(a))
    if y is None:
        return None
    cdef int64_t shape[FC_ND_MAX_DIMS]
    for i in range(nd):
        shape[i] = cnp.PyArray_DIM(a, i)
    cdef const void *x = cnp.PyArray_DATA(a)
    cdef void *out = cnp.PyArray_DATA(<cnp.ndarray>y)
    with nogil:
        if nd == 2:
            _transpose_items(x, out, shape[0], shape[1], size)
        elif size == 1:
            _reverse_axes(<const uint8_t *>x, <uint8_t *>out, shape, nd)
        elif size == 2:
            _reverse_axes(<const uint16_t *>x, <uint16_t *>out, shape, nd)
        elif size == 4:
            _reverse_axes(<const uint32_t *>x, <uint32_t *>out, shape, nd)
        else:
            _reverse_axes(<const uint64_t *>x, <uint64_t *>out, shape, nd)
    return y


cdef object _as_carray(object a):
    """An ndarray (exact type) of float32, float64, an integer dtype or bool, 1 to
    FC_ND_MAX_DIMS axes, in another layout or byte order (a channel of an RGB
    image, a transposed or big-endian array) as the C-contiguous, native copy
    of its values the general path would make; anything else, or with no
    memory for the copy, as it is."""
    if type(a) is not cnp.ndarray:
        return a
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_ISCARRAY_RO(arr) and cnp.PyArray_ISNOTSWAPPED(arr):
        return a
    cdef int t = cnp.PyArray_TYPE(arr)
    if not (t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT or _is_int(t)) or not _sizes_ok(arr):
        return a
    copy = _transposed(arr) if _fortran(arr) else _copy_as(arr, t)
    return a if copy is None else copy


cdef inline int _mode(object mode):
    if type(mode) is not str:
        return -1
    return _MODES.get(mode, -1)


cdef inline bint _number(object v, double *out):
    """A Python float or int (not bool, not a subclass) as a double."""
    cdef type k = type(v)
    if k is float:
        out[0] = <double>v
        return True
    if k is int:
        try:
            out[0] = <double>v
        except OverflowError:
            return False
        return True
    return False


cdef inline bint _small_int(object v, int64_t *out):
    """A Python int (not bool) that fits int64."""
    if type(v) is not int:
        return False
    try:
        out[0] = <int64_t>v
    except OverflowError:
        return False
    return True


cdef cnp.ndarray _real_weights(object w):
    """w as a C-contiguous float64 array if it is an ndarray, list or tuple of
    bool, integer or float numbers (what SciPy converts with
    ``np.asarray(weights, dtype=np.float64)``), else None."""
    cdef cnp.ndarray arr
    if type(w) is cnp.ndarray:
        arr = <cnp.ndarray>w
    elif type(w) is list or type(w) is tuple:
        try:
            arr = cnp.PyArray_FROM_O(w)
        except Exception:  # ragged sequences and the like: the general path says so
            return None
    else:
        return None
    if cnp.PyArray_TYPE(arr) == cnp.NPY_DOUBLE and cnp.PyArray_ISCARRAY_RO(arr) \
            and cnp.PyArray_ISNOTSWAPPED(arr):
        return arr
    if arr.dtype.kind not in "biuf" or cnp.PyArray_TYPE(arr) == cnp.NPY_LONGDOUBLE:
        return None
    return cnp.PyArray_FROMANY(arr, cnp.NPY_DOUBLE, 0, 0, cnp.NPY_ARRAY_CARRAY)


cdef inline bint _origin_ok(int64_t origin, int64_t n) noexcept:
    return -(n // 2) <= origin <= (n - 1) // 2


cdef inline cnp.ndarray _empty_like(cnp.ndarray a, int t):
    return _new(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), t)


cdef inline void _extent(cnp.ndarray a, const char **lo, const char **hi) noexcept:
    """The bytes a non-empty array's elements lie in: [lo, hi)."""
    cdef const char *p = <const char *>cnp.PyArray_DATA(a)
    cdef cnp.npy_intp step
    cdef int i
    lo[0], hi[0] = p, p + cnp.PyArray_ITEMSIZE(a)
    for i in range(cnp.PyArray_NDIM(a)):
        step = (cnp.PyArray_DIM(a, i) - 1) * cnp.PyArray_STRIDE(a, i)
        if step < 0:
            lo[0] += step
        else:
            hi[0] += step


cdef inline bint _apart(cnp.ndarray a, cnp.ndarray b) noexcept:
    """Whether the bytes of two non-empty arrays do not overlap (NumPy's
    may_share_memory bounds test)."""
    cdef const char *a0
    cdef const char *a1
    cdef const char *b0
    cdef const char *b1
    _extent(a, &a0, &a1)
    _extent(b, &b0, &b1)
    return a1 <= b0 or b1 <= a0


cdef inline bint _stored(int t) noexcept:
    """A type the front doors compute in or store to: float32, float64, an integer."""
    return t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT or _is_int(t)


cdef int _named_type(object output):
    """The type number of the native dtype a NumPy dtype or scalar type
    `output` names (SciPy's ``output=np.float32``), if the front doors store
    it; else -1."""
    cdef cnp.dtype d
    if isinstance(output, cnp.dtype):
        d = <cnp.dtype>output
    elif type(output) is type:
        try:
            d = cnp.dtype(output)
        except Exception:
            return -1
    else:
        return -1
    if not d.isnative or not _stored(d.type_num):
        return -1
    return d.type_num


cdef cnp.ndarray _output(object output, cnp.ndarray x, int t, object weights):
    """Where the result goes: a new array like x of dtype t for output None or
    of the dtype `output` names (float32, float64 or an integer); `output`
    itself where it is a common-case array of such a dtype (see the module
    docstring: weights, if an ndarray, is the caller's, which the kernels read
    while they write); else None, for the general path."""
    cdef int ot
    if output is None:
        return _empty_like(x, t)
    if type(output) is not cnp.ndarray:
        ot = _named_type(output)
        return None if ot < 0 else _empty_like(x, ot)
    cdef cnp.ndarray o = <cnp.ndarray>output
    if not _stored(cnp.PyArray_TYPE(o)):
        return None
    cdef _Place place = _placement(o, x, weights)
    if place == _DIRECT:
        return o
    if place == _IN_PLACE:  # a new array, copied into `output` when done (_into)
        return _empty_like(x, cnp.PyArray_TYPE(o))
    return None


cdef object _into(object output, object y):
    """The front door's result: y, or where y is the new array standing for an
    output array that is the input's memory (_output), that array with y
    copied in."""
    if y is None or type(output) is not cnp.ndarray or y is output:
        return y
    cdef cnp.ndarray o = <cnp.ndarray>output, r = <cnp.ndarray>y
    cdef char *dst = <char *>cnp.PyArray_DATA(o)
    cdef const char *src = <const char *>cnp.PyArray_DATA(r)
    cdef size_t n = <size_t>cnp.PyArray_NBYTES(r)
    if n > GIL_WORK * 8:
        with nogil:
            memcpy(dst, src, n)
    else:
        memcpy(dst, src, n)
    return o


cdef enum _Place:
    _REFUSED, _DIRECT, _IN_PLACE


cdef _Place _placement(cnp.ndarray o, cnp.ndarray x, object weights):
    """How the kernels may write the output array `o` for input x, when it is
    native, C-contiguous, aligned and writable, of x's shape, and its memory
    apart from the weights' (the caller's, if an ndarray: read while `o` is
    written): _DIRECT, apart from x's too; _IN_PLACE, x's own memory value for
    value (the same address, x C-contiguous, values of one size), where
    SciPy's filters give what they give into a separate array (its N-d
    correlation works in a temporary, and the 1-D passes read each line whole
    before they write it), so the front doors compute into a new array and
    copy it in; else _REFUSED."""
    cdef int i, nd = cnp.PyArray_NDIM(x)
    if not cnp.PyArray_ISCARRAY(o) or not cnp.PyArray_ISNOTSWAPPED(o) or cnp.PyArray_NDIM(o) != nd:
        return _REFUSED
    for i in range(nd):
        if cnp.PyArray_DIM(o, i) != cnp.PyArray_DIM(x, i):
            return _REFUSED
    if type(weights) is cnp.ndarray and not _apart(o, <cnp.ndarray>weights):
        return _REFUSED
    if _apart(o, x):
        return _DIRECT
    if (cnp.PyArray_IS_C_CONTIGUOUS(x) and cnp.PyArray_DATA(o) == cnp.PyArray_DATA(x)
            and cnp.PyArray_ITEMSIZE(o) == cnp.PyArray_ITEMSIZE(x)):
        return _IN_PLACE
    return _REFUSED


# ---- integers: read as doubles, stored back as SciPy's C loops store doubles ----------
# (the conversions themselves are C's: fc_load_doubles, fc_store_doubles)

cdef inline int _sized(int t) noexcept nogil:
    """NPY_LONG and NPY_ULONG as the fixed-width type of the same size (C's
    long is 32 bits on Windows, 64 elsewhere), NPY_BOOL as NPY_UBYTE (its
    bytes); any other type as it is."""
    if t == cnp.NPY_BOOL:
        return cnp.NPY_UBYTE
    if t == cnp.NPY_LONG:
        return cnp.NPY_LONGLONG if sizeof(long) == 8 else cnp.NPY_INT
    if t == cnp.NPY_ULONG:
        return cnp.NPY_ULONGLONG if sizeof(long) == 8 else cnp.NPY_UINT
    return t


cdef inline fc_elem _elem(int t) noexcept nogil:
    """The C element type of NumPy type t: float32, float64, an integer or bool."""
    t = _sized(t)
    if t == cnp.NPY_DOUBLE:
        return FC_ELEM_F64
    if t == cnp.NPY_FLOAT:
        return FC_ELEM_F32
    if t == cnp.NPY_BYTE:
        return FC_ELEM_I8
    if t == cnp.NPY_UBYTE:
        return FC_ELEM_U8
    if t == cnp.NPY_SHORT:
        return FC_ELEM_I16
    if t == cnp.NPY_USHORT:
        return FC_ELEM_U16
    if t == cnp.NPY_INT:
        return FC_ELEM_I32
    if t == cnp.NPY_UINT:
        return FC_ELEM_U32
    if t == cnp.NPY_LONGLONG:
        return FC_ELEM_I64
    return FC_ELEM_U64


cdef inline void _to_double(int t, const void *x, double *d, int64_t n) noexcept nogil:
    """n values of type t (float32, float64, an integer) as doubles."""
    fc_load_doubles(_elem(t), x, n, d)


cdef inline void _from_double(int t, const double *d, void *y, int64_t n, bint safe) noexcept nogil:
    """n doubles into type t, as SciPy's C loops store a double: float32 rounded
    to nearest, integers truncated through a 32- or 64-bit integer and wrapped
    (fc_store_doubles; `safe`, NI_Correlate's unsigned store)."""
    fc_store_doubles(_elem(t), d, n, y, safe)


cdef int _correlatend(const fc_correlatend_params *p, bint f32, int t, const void *x,
                      const void *k, double fill, int ot, void *y, bint *finite) noexcept nogil:
    """The kernel for x's dtype t and y's ot: float32 on the float32 kernels,
    also telling whether every result is finite; any other pair in double
    (SciPy's sums), each task reading its windows as doubles and storing its
    block as SciPy stores a double into ot (its unsigned store: `safe`)."""
    cdef int st, ok = 1
    if not f32:
        return fc_correlatend_typed(p, _elem(t), x, <const double *>k, fill, _elem(ot), y, 1)
    st = fc_f32_correlatend_finite(p, <const float *>x, <const float *>k, <float>fill,
                                   <float *>y, &ok)
    if st == 0 and not fc_plan_only(-1):  # (plan-only: nothing was computed)
        finite[0] = ok != 0
    return st


cdef bint _common(object input, object mode, object cval, object origin,
                  int *t, int *code, double *fill, int64_t *org):
    """The checks every front door makes: the input (see _input_type), a mode by
    name, cval and origin Python numbers, cval usable in the input's dtype."""
    t[0] = _input_type(input)
    code[0] = _mode(mode)
    return (t[0] >= 0 and code[0] >= 0 and _number(cval, fill) and _small_int(origin, org)
            and _fill_fits(t[0], code[0], fill[0]))


# ---- correlate, convolve ------------------------------------------------------------

# ---- complex inputs: real passes on the two parts ------------------------------------------

cdef inline int _complex_input(object a) noexcept:
    """NPY_CDOUBLE or NPY_CFLOAT for a complex ndarray (exact type) with 1 to
    FC_ND_MAX_DIMS axes, non-empty, in any layout and byte order; else -1."""
    if type(a) is not cnp.ndarray:
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr)
    if (t != cnp.NPY_CDOUBLE and t != cnp.NPY_CFLOAT) or not _sizes_ok(arr):
        return -1
    return t


cdef object _via_parts(cnp.ndarray x, int ct, object output, object weights, object cval, object run):
    """A complex input as SciPy's _complex_via_real_components takes it with
    real weights: `run(part, out, cval)` (a real front door's call into `out`,
    or None) on the real part with cval's real part, then on the imaginary
    part with its imaginary part (0: cval is a Python number); the parts are
    copied into C-contiguous scratch arrays and each one's result, filtered
    into another, copied into its place in `output` (None: a new array of x's
    dtype; or an ndarray of x's dtype and shape, C-contiguous, writable,
    apart from x and the weights). x in any layout and byte order. None
    wherever a front door declines."""
    if type(cval) is not float and type(cval) is not int:
        return None
    cdef int rt = cnp.NPY_DOUBLE if ct == cnp.NPY_CDOUBLE else cnp.NPY_FLOAT
    y = _complex_out(x, ct, output, weights)
    if y is None:
        return None
    re, im = _scratch_like(x, rt), _scratch_like(x, rt)
    if re is None or im is None:
        return None
    dense = _native_c(x, ct)  # another layout or byte order: a contiguous native copy first
    if dense is None:
        return None
    _split(<cnp.ndarray>dense, <cnp.ndarray>re, <cnp.ndarray>im)
    dense = None
    # each part's result into the other part's scratch once that is read:
    # the real part's into a third array, the imaginary part's into re
    result = _scratch_like(x, rt)
    if result is None or run(re, result, cval) is None or run(im, re, 0.0) is None:
        return None
    _join(<cnp.ndarray>result, <cnp.ndarray>re, <cnp.ndarray>y)
    return y


cdef object _complex_out(cnp.ndarray x, int ct, object output, object weights):
    """Where a complex result of input x (type ct) goes: a new array for output
    None; `output` itself where it is an ndarray of type ct the kernels may
    write directly (_placement); else None (a dtype: SciPy's complex promotion and
    warnings are the general path's)."""
    if output is None:
        return _empty_like(x, ct)
    if (type(output) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>output) == ct
            and _placement(<cnp.ndarray>output, x, weights) == _DIRECT):
        return output
    return None


cdef void _split(cnp.ndarray z, cnp.ndarray re, cnp.ndarray im) noexcept:
    """The parts of the C-contiguous native complex z into the C-contiguous
    real arrays re and im."""
    cdef int64_t j, total = cnp.PyArray_SIZE(z)
    cdef const double *zd = <const double *>cnp.PyArray_DATA(z)
    cdef double *rd = <double *>cnp.PyArray_DATA(re)
    cdef double *id = <double *>cnp.PyArray_DATA(im)
    cdef const float *zf = <const float *>cnp.PyArray_DATA(z)
    cdef float *rf = <float *>cnp.PyArray_DATA(re)
    cdef float *jf = <float *>cnp.PyArray_DATA(im)
    if cnp.PyArray_TYPE(z) == cnp.NPY_CDOUBLE:
        for j in range(total):
            rd[j], id[j] = zd[2 * j], zd[2 * j + 1]
    else:
        for j in range(total):
            rf[j], jf[j] = zf[2 * j], zf[2 * j + 1]


cdef void _join(cnp.ndarray re, cnp.ndarray im, cnp.ndarray z) noexcept:
    """The C-contiguous real arrays re and im into the parts of the C-contiguous
    complex z."""
    cdef int64_t j, total = cnp.PyArray_SIZE(z)
    cdef double *zd = <double *>cnp.PyArray_DATA(z)
    cdef const double *rd = <const double *>cnp.PyArray_DATA(re)
    cdef const double *id = <const double *>cnp.PyArray_DATA(im)
    cdef float *zf = <float *>cnp.PyArray_DATA(z)
    cdef const float *rf = <const float *>cnp.PyArray_DATA(re)
    cdef const float *jf = <const float *>cnp.PyArray_DATA(im)
    if cnp.PyArray_TYPE(z) == cnp.NPY_CDOUBLE:
        for j in range(total):
            zd[2 * j], zd[2 * j + 1] = rd[j], id[j]
    else:
        for j in range(total):
            zf[2 * j], zf[2 * j + 1] = rf[j], jf[j]


cdef object _AS_IS = object()  # _other_form's answer for an input the front door takes as it is


cdef object _pairs(object input, object output, object weights, object mode, object cval,
                   object call):
    """A complex input of a 1-D filter as its real view with a last axis of 2
    (each element's real and imaginary parts side by side): `call(view,
    out)`, a real front door's call on the view into `out`, the real view of
    the complex result (output None: a new array of the input's dtype; or
    an ndarray of the input's dtype and shape, C-contiguous, writable, apart
    from the input and the weights). Each line of the view's other axes is
    one part's line, filtered as SciPy filters input.real with cval's real
    part and input.imag with its imaginary part (0), so this applies where
    the two read the same values outside the input: a mode other than
    'constant' and 'grid-constant', or cval +0. _AS_IS where it does not
    apply (other outputs and cvals go to _other_form); None where the front
    door declines. A complex input in another layout or byte order is first
    copied into a C-contiguous scratch array."""
    cdef int ct = _complex_input(input)
    if ct < 0:
        return _AS_IS
    cdef int code = _mode(mode)
    cdef double fill
    if code < 0 or not _number(cval, &fill):
        return _AS_IS
    if code == FC_BOUNDARY_FILL and not (fill == 0.0 and copysign(1.0, fill) > 0):
        return _AS_IS
    y = _complex_out(<cnp.ndarray>input, ct, output, weights)
    if y is None:
        return _AS_IS
    x = _native_c(<cnp.ndarray>input, ct)  # another layout or byte order: a contiguous native copy
    if x is None:
        return None
    cdef object real = cnp.PyArray_DescrFromType(cnp.NPY_DOUBLE if ct == cnp.NPY_CDOUBLE
                                                 else cnp.NPY_FLOAT)
    shape = input.shape + (2,)
    got = call(x.view(real).reshape(shape), y.view(real).reshape(shape))
    return None if got is None else y


cdef inline object _axis_of(object axis, int nd):
    """A Python int axis of an array of nd axes as its non-negative number (the
    same axis of the array's real view with a last axis of 2); else None."""
    cdef int a = _axis(axis, nd)
    return None if a < 0 else a


cdef object _other_form(object input, object output, object weights, object cval, object call):
    """An input a front door takes only in another form, run in that form by
    `call(x, out, cval)`, the front door's own call on x into `out` with `cval`:
    floats, integers and bool in another layout or byte order as their
    C-contiguous native copy in their own dtype (_as_carray), complex in any
    layout as its two real parts (_via_parts, `weights` the caller's real
    weights or None). _AS_IS for any other input: the front door goes on with
    it as it is."""
    copy = _as_carray(input)
    if copy is not input:
        return call(copy, output, cval)
    cdef int ct = _complex_input(input)
    if ct >= 0:
        return _via_parts(<cnp.ndarray>input, ct, output, weights, cval, call)
    return _AS_IS


# the general path's threshold too, so that both run a call alike
channels_first_from = CHANNELS_FIRST_FROM


def correlate(input, weights, output, mode, cval, origin, axes, bint convolution):
    """ndimage.correlate (convolution False) or convolve for the common case
    above with weights of input's number of dimensions; else None. Axes of
    one value filtered by one tap are dropped and adjacent axes filtered by
    one tap merge into one (reshapes of C-ordered data), as the general path
    merges them; trailing one-tap axes of 2-15 values (colour channels) in an
    array of CHANNELS_FIRST_FROM values or more go in front, as the general
    path moves them: the input transposed into kept scratch, the result
    transposed back (copies which smaller arrays do not repay: AMD EPYC Zen 4,
    (H, W, 3) by (3, 3, 1) 1.4x slower so at 16x16, 1.4x faster at 24x24)."""
    if axes is not None:
        return None
    if _input_type(input) < 0:
        got = _other_form(input, output, weights, cval, lambda x, out, c: correlate(
            x, weights, out, mode, c, origin, None, convolution))
        if got is not _AS_IS:
            return got
    cdef int t, code
    cdef double fill
    cdef int64_t org
    if not _common(input, mode, cval, origin, &t, &code, &fill, &org):
        return None
    cdef cnp.ndarray x = <cnp.ndarray>input
    cdef cnp.ndarray k = _real_weights(weights)
    if k is None:
        return None
    cdef int nd = cnp.PyArray_NDIM(x), a, m = 0, j = nd, step
    if cnp.PyArray_NDIM(k) != nd:
        return None
    cdef int64_t n, o, taps = 1, few = 1, total = cnp.PyArray_SIZE(x)
    while j > 1 and cnp.PyArray_DIM(k, j - 1) == 1:
        j -= 1
        few *= cnp.PyArray_DIM(x, j)
    cdef bint front = 1 < few < 16 and total >= CHANNELS_FIRST_FROM  # axes j.. go in front
    cdef fc_correlatend_params p
    p.boundary = <fc_boundary>code
    for step in range(nd):
        a = (j + step) % nd if front else step
        n = cnp.PyArray_DIM(k, a)
        if n < 1:
            return None
        o = org
        if convolution:  # the weights reversed; the origin mirrored, one less when even
            o = -o - (1 - (n & 1))
        if not _origin_ok(o, n):  # one tap: origin 0, so no padding
            return None
        if n == 1 and cnp.PyArray_DIM(x, a) == 1 and (m > 0 or step < nd - 1):
            continue  # an axis of one value filtered by one tap: dropped, a reshape
        if m > 0 and n == 1 and p.kshape[m - 1] == 1:
            p.shape[m - 1] *= cnp.PyArray_DIM(x, a)
            continue
        p.shape[m] = cnp.PyArray_DIM(x, a)
        p.kshape[m] = n
        p.pad[m] = n // 2 + o
        taps *= n
        m += 1
    p.ndim = m
    cdef cnp.ndarray y = _output(output, x, t, weights)
    if y is None:
        return None
    # float32 in and out on the float32 kernels, anything else on the float64
    # ones (SciPy's double sums), read and stored a block at a time
    cdef int ot = cnp.PyArray_TYPE(y)
    cdef bint f32 = t == cnp.NPY_FLOAT and ot == cnp.NPY_FLOAT
    cdef const double *w = <const double *>cnp.PyArray_DATA(k)
    cdef void *kk = malloc(<size_t>taps * (sizeof(float) if f32 else sizeof(double)))
    if kk == NULL:
        return None
    cdef int64_t i
    cdef double v
    cdef int st
    cdef bint finite = True
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(y)
    cdef int xsize = cnp.PyArray_ITEMSIZE(x), ysize = cnp.PyArray_ITEMSIZE(y)
    xs = ys = None
    if front:  # the channels' planes: x transposed (few x total / few) into scratch, y likewise
        xs, ys = _scratch_like(x, t), _scratch_like(x, ot)
        if xs is None or ys is None:
            free(kk)
            return None
        xp, yp = cnp.PyArray_DATA(<cnp.ndarray>xs), cnp.PyArray_DATA(<cnp.ndarray>ys)
        with nogil:
            _transpose_items(cnp.PyArray_DATA(x), <void *>xp, few, total // few, xsize)
    # NI_Correlate skips weights of magnitude <= DBL_EPSILON (and NaN): zero here
    for i in range(taps):
        v = w[taps - 1 - i] if convolution else w[i]
        v = v if fabs(v) > DBL_EPSILON else 0.0
        if f32:
            (<float *>kk)[i] = <float>v
        else:
            (<double *>kk)[i] = v
    if total * taps > GIL_WORK:
        with nogil:
            st = _correlatend(&p, f32, t, xp, kk, fill, ot, yp, &finite)
    else:
        st = _correlatend(&p, f32, t, xp, kk, fill, ot, yp, &finite)
    free(kk)
    if st == 0 and fc_plan_only(-1):
        _planned("front door: fastconv.ndimage's C-speed entry", [last_plan()])
    if st != 0 or not finite:  # errors, and float32 sums to redo in double: the general path
        return None
    if front:
        with nogil:
            _transpose_items(yp, cnp.PyArray_DATA(y), total // few, few, ysize)
    return _into(output, y)


def _planned(str path, list steps):
    """In plan-only mode (fastconv.explain), where a front door would compute."""
    plan = dict(steps[len(steps) - 1] or {"algorithm": None})  # (no wraparound here)
    plan["path"] = path
    if len(steps) > 1:
        plan["steps"] = steps
    raise Planned(plan)


# ---- 1-D passes: correlate1d, convolve1d, uniform_filter1d and the separable filters ----

cdef void _axis_params(cnp.ndarray x_like, int axis, int64_t m, int64_t pad, int code,
                       fc_axis_params *p) noexcept:
    """A 1-D pass along `axis` of an array shaped as x_like, as (outer, n, inner)."""
    cdef int nd = cnp.PyArray_NDIM(x_like), a
    p.outer, p.inner = 1, 1
    for a in range(axis):
        p.outer *= cnp.PyArray_DIM(x_like, a)
    for a in range(axis + 1, nd):
        p.inner *= cnp.PyArray_DIM(x_like, a)
    p.n = cnp.PyArray_DIM(x_like, axis)
    p.m, p.pad = m, pad
    p.boundary = <fc_boundary>code


cdef int _pass(int t, const void *x, void *y, cnp.ndarray x_like, int axis, const double *w,
               int64_t m, int64_t pad, int code, double fill) noexcept:
    """One 1-D pass along `axis` of an array shaped as x_like (w NULL: a running
    mean of m), float (t NPY_FLOAT) or double; the kernel's status."""
    cdef fc_axis_params p
    _axis_params(x_like, axis, m, pad, code, &p)
    if p.outer * p.n * p.inner * m > GIL_WORK:
        with nogil:
            return _axis_kernel(&p, t == cnp.NPY_FLOAT, x, w, fill, y)
    return _axis_kernel(&p, t == cnp.NPY_FLOAT, x, w, fill, y)


cdef int _axis_kernel(const fc_axis_params *p, bint f32, const void *x, const double *w,
                      double fill, void *y) noexcept nogil:
    if f32:
        if w != NULL:
            return fc_f32_correlate_axis(p, <const float *>x, w, <float>fill, <float *>y)
        return fc_f32_uniform_axis(p, <const float *>x, <float>fill, <float *>y)
    if w != NULL:
        return fc_f64_correlate_axis(p, <const double *>x, w, fill, <double *>y)
    return fc_f64_uniform_axis(p, <const double *>x, fill, <double *>y)


# Scratch kept between calls: for the separable passes' intermediate results,
# integers' chunks read as doubles, and the copies of inputs in another layout or of a
# complex input's parts (_scratch_like). A two-pass filter of a 512x512 float64
# image needs 2 MB of it, and memory the C library returns to the system after
# each call is page-faulted in again by the next (several times the filter's
# own time on a virtual machine). At most SCRATCH_SLOTS blocks of up to
# SCRATCH_MAX bytes, SCRATCH_TOTAL in all, are kept; only code holding the GIL
# takes or gives them back, and a block taken is the taker's alone until given
# back.
DEF SCRATCH_MIN = 64 << 10
DEF SCRATCH_MAX = 32 << 20
DEF SCRATCH_TOTAL = 64 << 20
DEF SCRATCH_SLOTS = 4
cdef void *_kept[SCRATCH_SLOTS]
cdef size_t _kept_bytes[SCRATCH_SLOTS]
cdef size_t _kept_total = 0


cdef void *_take(size_t nbytes, size_t *got):
    """A scratch block of at least nbytes (its size in *got): the smallest kept
    one that is large enough, else a new one; NULL if there is no memory."""
    global _kept_total
    cdef int i, best = -1
    cdef void *p
    for i in range(SCRATCH_SLOTS):
        if _kept[i] != NULL and _kept_bytes[i] >= nbytes and (
                best < 0 or _kept_bytes[i] < _kept_bytes[best]):
            best = i
    if best >= 0:
        p, got[0] = _kept[best], _kept_bytes[best]
        _kept[best] = NULL
        _kept_total -= got[0]
        return p
    got[0] = nbytes
    return malloc(nbytes if nbytes else 1)


cdef void _give(void *p, size_t nbytes):
    """Back to the kept blocks if it is small enough and there is room, putting
    out smaller kept blocks to make room; else freed."""
    global _kept_total
    cdef int i, slot
    if p == NULL:
        return
    if nbytes > SCRATCH_MAX:
        free(p)
        return
    while True:
        slot = -1
        for i in range(SCRATCH_SLOTS):
            if _kept[i] == NULL:
                slot = i
                break
        if slot >= 0 and _kept_total + nbytes <= SCRATCH_TOTAL:
            _kept[slot], _kept_bytes[slot] = p, nbytes
            _kept_total += nbytes
            return
        slot = -1  # no room: put out the smallest kept block if it is smaller than p
        for i in range(SCRATCH_SLOTS):
            if _kept[i] != NULL and _kept_bytes[i] < nbytes and (
                    slot < 0 or _kept_bytes[i] < _kept_bytes[slot]):
                slot = i
        if slot < 0:
            free(p)
            return
        free(_kept[slot])
        _kept[slot] = NULL
        _kept_total -= _kept_bytes[slot]


@cython.auto_pickle(False)
cdef class _Lent:
    """The owner (base) of an array in a kept scratch block: gives the block
    back when the array goes."""
    cdef void *block
    cdef size_t nbytes

    def __dealloc__(self):
        _give(self.block, self.nbytes)


cdef object _scratch_like(cnp.ndarray x, int t):
    """A C-contiguous array of x's shape and type t in a kept scratch block,
    which goes back to the kept blocks with the array (below SCRATCH_MIN
    bytes, a new array: NumPy's allocator serves those from its heap without
    page faults); None if there is no memory."""
    cdef size_t nbytes = <size_t>cnp.PyArray_SIZE(x) * <size_t>cnp.PyArray_DescrFromType(t).itemsize
    if nbytes < SCRATCH_MIN:
        try:
            return _empty_like(x, t)
        except MemoryError:
            return None
    cdef size_t got = 0
    cdef void *p = _take(nbytes, &got)
    if p == NULL:
        return None
    cdef _Lent owner = _Lent.__new__(_Lent)
    owner.block, owner.nbytes = p, got
    cdef cnp.ndarray arr = cnp.PyArray_SimpleNewFromData(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x),
                                                         t, p)
    cnp.set_array_base(arr, owner)
    return arr


cdef int _step(int kt, const void *src, void *dst, cnp.ndarray x, object weights, int64_t m, int axis,
               int64_t pad, int code, double fill, list planned):
    """One pass of _run or _run_mixed on the kernels of type kt: -1 if the
    kernel failed; in plan-only mode (fastconv.explain: nothing computed) 1,
    the pass's plan appended to `planned`; else 0."""
    cdef cnp.ndarray k = weights
    cdef const double *kp = NULL  # a typed local: Cython's temporary for `a if c else b` drops const
    if k is not None:
        kp = <const double *>cnp.PyArray_DATA(k)
    if _pass(kt, src, dst, x, axis, kp, m, pad, code, fill):
        return -1
    if fc_plan_only(-1):
        plan = last_plan()
        plan["axis"] = axis
        planned.append(plan)
        return 1
    return 0


cdef object _run(cnp.ndarray x, int t, list passes, double fill, cnp.ndarray result):
    """Passes (weights as float64 arrays or None, window, axis, pad, boundary code) one after
    another, each into an array of x's dtype, as ndimage._passes runs them; the
    last result (in `result`, an array like x apart from it), or None if a
    kernel failed. Integers run on doubles (_run_mixed). Intermediate results
    live in kept scratch blocks and `result`."""
    if cnp.PyArray_TYPE(result) != t:
        return _run_mixed(x, t, passes, fill, result)
    if _is_int(t):
        return _run_mixed(x, t, passes, fill, result)
    cdef int64_t total = cnp.PyArray_SIZE(x)
    cdef Py_ssize_t j, count = len(passes)
    cdef size_t item = sizeof(double) if t == cnp.NPY_DOUBLE else sizeof(float)
    cdef size_t got_b = 0
    cdef const void *src = cnp.PyArray_DATA(x)
    cdef void *dst
    cdef void *b = NULL
    cdef bint failed = False
    cdef list planned = []
    cdef int st
    if count > 1:  # a spare for the passes before the last (counting back in twos)
        b = _take(<size_t>total * item, &got_b)
        if b == NULL:
            return None
    for j in range(count):
        weights, m, axis, pad, code = passes[j]
        dst = cnp.PyArray_DATA(result) if (count - 1 - j) % 2 == 0 else b
        st = _step(t, src, dst, x, weights, m, axis, pad, code, fill, planned)
        if st < 0:
            failed = True
            break
        src = dst
    _give(b, got_b)
    if fc_plan_only(-1) and not failed:
        _planned("front door: fastconv.ndimage's C-speed entry, one pass per axis", planned)
    return None if failed else result


# A pass that computes in double (integers, and any pass whose input and
# output dtypes differ) runs about CHUNK_VALUES values at a time: loaded as
# doubles, filtered and stored while the doubles are in cache, where
# whole-array double copies would go through memory three times (a 1024x1024
# uint8 image: 1 MB read and 1 MB written against three passes over 8 MB).
# A chunk is whole slices of the axes before the pass's own (outer), or,
# along the first axis, a block of at least CHUNK_COLUMNS columns (of the
# axes after it).
DEF CHUNK_VALUES = 32768
DEF CHUNK_COLUMNS = 64


cdef inline int64_t _slices_per_chunk(const fc_axis_params *p) noexcept nogil:
    cdef int64_t values = p.n * p.inner
    cdef int64_t per = CHUNK_VALUES // values if values > 0 else 1
    if per > p.outer:
        per = p.outer
    return per if per > 1 else 1


cdef inline int64_t _columns_per_chunk(const fc_axis_params *p) noexcept nogil:
    """Columns per chunk of a pass of one slice (outer 1) over more than
    CHUNK_VALUES values; else all of them."""
    cdef int64_t cols = CHUNK_VALUES // p.n if p.n > 0 else p.inner
    if p.outer != 1 or p.n * p.inner <= CHUNK_VALUES:
        return p.inner
    return min(max(cols, CHUNK_COLUMNS), p.inner)


cdef inline int64_t _chunk_values(const fc_axis_params *p) noexcept nogil:
    return _slices_per_chunk(p) * p.n * _columns_per_chunk(p)


cdef inline int64_t _chunk_count(const fc_axis_params *p) noexcept nogil:
    cdef int64_t per = _slices_per_chunk(p), cols = _columns_per_chunk(p)
    if cols < p.inner:
        return (p.inner + cols - 1) // cols
    return (p.outer + per - 1) // per


ctypedef struct _Chunks:
    int src_t, dst_t
    const char *x
    char *y
    size_t sitem, ditem
    fc_axis_params p  # the whole pass
    const double *w
    double fill
    int64_t per, cols  # slices or columns a chunk
    double *scratch  # per thread: 2 * need doubles from scratch + tid * 2 * need
    int64_t need


cdef int _chunk(const _Chunks *c, int64_t i, double *cin, double *cout) noexcept nogil:
    """Chunk i of a pass (_chunked_pass): read as doubles into cin
    (_to_double), filtered into cout, stored as SciPy's C loops store a
    double (_from_double). The kernel's status."""
    cdef fc_axis_params p = c.p
    cdef int64_t inner = c.p.inner, values = c.p.n * c.p.inner, r, c0, o0
    cdef int st
    if c.cols < inner:  # one slice, a block of columns
        c0 = i * c.cols
        p.inner = c.cols if c.cols < inner - c0 else inner - c0
        for r in range(p.n):
            _to_double(c.src_t, c.x + <size_t>(r * inner + c0) * c.sitem, cin + r * p.inner, p.inner)
        st = _axis_kernel(&p, False, cin, c.w, c.fill, cout)
        if st == 0:
            for r in range(p.n):
                _from_double(c.dst_t, cout + r * p.inner, c.y + <size_t>(r * inner + c0) * c.ditem,
                             p.inner, False)
        return st
    o0 = i * c.per
    p.outer = c.per if c.per < c.p.outer - o0 else c.p.outer - o0
    _to_double(c.src_t, c.x + <size_t>(o0 * values) * c.sitem, cin, p.outer * values)
    st = _axis_kernel(&p, False, cin, c.w, c.fill, cout)
    if st == 0:
        _from_double(c.dst_t, cout, c.y + <size_t>(o0 * values) * c.ditem, p.outer * values, False)
    return st


cdef int _chunk_on(void *ctx, int64_t i, int tid) noexcept nogil:
    """_chunk i on thread tid's scratch (fc_run_chunks' callback)."""
    cdef const _Chunks *c = <const _Chunks *>ctx
    cdef double *cin = c.scratch + <size_t>tid * 2 * <size_t>c.need
    return _chunk(c, i, cin, cin + c.need)


cdef int _chunked_pass(_Chunks *c, int team) noexcept nogil:
    """One pass from c.x into c.y on the float64 kernels, a chunk at a time
    (_slices_per_chunk slices, or _columns_per_chunk columns), the chunks
    shared out among up to `team` threads (each kernel call then runs on its
    thread alone; a chunk's result does not depend on who runs it). The
    kernels' status, or FC_ETHREAD."""
    c.per, c.cols = _slices_per_chunk(&c.p), _columns_per_chunk(&c.p)
    return fc_run_chunks(team, _chunk_count(&c.p), _chunk_on, c)


cdef object _run_mixed(cnp.ndarray x, int t, list passes, double fill, cnp.ndarray result):
    """_run for integers and for a result of another dtype than x's, as
    ndimage._passes runs it: each pass reads the previous pass's array (x
    first) and stores into an array of the result's dtype. A pass that reads
    and stores float32 (cval a float32 value) runs on the float32 kernels, any
    other on the float64 ones a chunk at a time (_chunked_pass), the chunks
    shared among the threads where there are several."""
    cdef int ot = cnp.PyArray_TYPE(result), wt, cur_t = t, code
    cdef int64_t total = cnp.PyArray_SIZE(x), need = 1
    cdef Py_ssize_t j, count = len(passes)
    cdef size_t oitem = cnp.PyArray_ITEMSIZE(result), cur_item = cnp.PyArray_ITEMSIZE(x)
    cdef size_t got_s = 0, got_t = 0
    cdef int team = fc_get_num_threads(), tid
    cdef _Chunks c
    cdef const char *cur = <const char *>cnp.PyArray_DATA(x)
    cdef char *dst
    cdef cnp.ndarray k
    cdef bint planning = fc_plan_only(-1)
    cdef list planned = []
    cdef int st = 0
    team = min(max(team, 1), 64)  # (the scratch grows with it)
    for j in range(count):
        weights, m, axis, pad, code = passes[j]
        _axis_params(x, axis, m, pad, code, &c.p)
        need = max(need, _chunk_values(&c.p))
    cdef double *scratch = <double *>_take(<size_t>(2 * team * need) * sizeof(double), &got_s)
    cdef char *tmp = <char *>_take(<size_t>total * oitem, &got_t) if count > 1 else NULL
    if scratch == NULL or (count > 1 and tmp == NULL):
        st = -1
    c.scratch, c.need, c.fill = scratch, need, fill
    for j in range(count if st == 0 else 0):
        weights, m, axis, pad, code = passes[j]
        k = weights
        c.w = NULL
        if k is not None:
            c.w = <const double *>cnp.PyArray_DATA(k)
        _axis_params(x, axis, m, pad, code, &c.p)
        dst = <char *>cnp.PyArray_DATA(result) if (count - 1 - j) % 2 == 0 else tmp
        wt = (cnp.NPY_FLOAT if cur_t == cnp.NPY_FLOAT and ot == cnp.NPY_FLOAT
              and _fill_fits(cnp.NPY_FLOAT, code, fill) else cnp.NPY_DOUBLE)
        c.src_t, c.x, c.sitem, c.dst_t, c.y, c.ditem = cur_t, cur, cur_item, ot, dst, oitem
        if wt == cnp.NPY_FLOAT:
            st = _step(wt, cur, dst, x, weights, m, axis, pad, code, fill, planned)
            st = 0 if st > 0 else st
        elif planning:  # a chunk's kernel call, on its thread alone; nothing read or stored
            chunks = _chunk_count(&c.p)
            c.p.outer, c.p.inner = _slices_per_chunk(&c.p), _columns_per_chunk(&c.p)
            st = _axis_kernel(&c.p, False, scratch, c.w, fill, scratch + need)
            if st == 0:
                plan = last_plan()
                plan["axis"] = axis
                plan["chunks"] = chunks
                plan["threads"] = min(team, chunks) if total * m > GIL_WORK else 1
                planned.append(plan)
        elif total * m > GIL_WORK:
            with nogil:
                st = _chunked_pass(&c, team)
        else:
            st = _chunked_pass(&c, 1)
        if st != 0:
            break
        cur, cur_t, cur_item = dst, ot, oitem
    _give(scratch, got_s)
    _give(tmp, got_t)
    if planning and st == 0:
        _planned("front door: fastconv.ndimage's C-speed entry, one pass per axis", planned)
    return None if st != 0 else result


cdef inline int _axis(object axis, int nd):
    """A Python int axis in range, normalised; -1 otherwise."""
    cdef int64_t a
    if not _small_int(axis, &a) or a < -nd or a >= nd:
        return -1
    return <int>(a + nd if a < 0 else a)


cdef object _view_or_other_form(object input, object output, object weights, object mode,
                                object cval, object view_call, object call):
    """For the 1-D front doors: a complex input as its real view
    (`_pairs(..., view_call)`) where that applies, else _other_form(..., call)."""
    got = _pairs(input, output, weights, mode, cval, view_call)
    return got if got is not _AS_IS else _other_form(input, output, weights, cval, call)


cdef object _axis_other_form(object input, object output, object weights, object mode,
                             object cval, object axis, object call):
    """_other_form for the front doors of one axis (correlate1d,
    uniform_filter1d), `call(x, out, axis, cval)` being the front door's own
    call: a complex input first as its real view (_pairs, along the same axis
    made non-negative). _AS_IS for an input the front door takes as it is;
    None where it declines."""
    along = axis
    if _complex_input(input) >= 0:
        along = _axis_of(axis, cnp.PyArray_NDIM(<cnp.ndarray>input))
        if along is None:
            return None
    return _view_or_other_form(input, output, weights, mode, cval,
                               lambda x, out: call(x, out, along, cval),
                               lambda x, out, c: call(x, out, axis, c))


def correlate1d(input, weights, axis, output, mode, cval, origin, bint convolution):
    """ndimage.correlate1d (or convolve1d) for the common case; else None."""
    if _input_type(input) < 0:
        got = _axis_other_form(input, output, weights, mode, cval, axis, lambda x, out, a, c:
                               correlate1d(x, weights, a, out, mode, c, origin, convolution))
        if got is not _AS_IS:
            return got
    cdef int t, code
    cdef double fill
    cdef int64_t org
    if not _common(input, mode, cval, origin, &t, &code, &fill, &org):
        return None
    cdef cnp.ndarray x = <cnp.ndarray>input
    cdef int ax = _axis(axis, cnp.PyArray_NDIM(x))
    cdef cnp.ndarray k = _real_weights(weights)
    if ax < 0 or k is None or cnp.PyArray_NDIM(k) != 1 or cnp.PyArray_SIZE(k) < 1:
        return None
    cdef int64_t m = cnp.PyArray_SIZE(k)
    if convolution:  # SciPy's convolve1d: reversed weights, mirrored origin
        k = k[::-1].copy()
        org = -org - (1 - (m & 1))
    if not _origin_ok(org, m):
        return None
    cdef cnp.ndarray y = _output(output, x, t, weights)
    if y is None:
        return None
    return _into(output, _run(x, t, [(k, m, ax, m // 2 + org, code)], fill, y))


def uniform_filter1d(input, size, axis, output, mode, cval, origin):
    """ndimage.uniform_filter1d for the common case; else None."""
    if _input_type(input) < 0:
        got = _axis_other_form(input, output, None, mode, cval, axis, lambda x, out, a, c:
                               uniform_filter1d(x, size, a, out, mode, c, origin))
        if got is not _AS_IS:
            return got
    cdef int t, code
    cdef double fill
    cdef int64_t org, m
    if not _common(input, mode, cval, origin, &t, &code, &fill, &org) \
            or not _small_int(size, &m) or m < 1:
        return None
    cdef cnp.ndarray x = <cnp.ndarray>input
    cdef int ax = _axis(axis, cnp.PyArray_NDIM(x))
    if ax < 0 or m // 2 + org < 0 or m // 2 + org >= m:
        return None
    cdef cnp.ndarray y = _output(output, x, t, None)
    if y is None:
        return None
    return _into(output, _run(x, t, [(None, m, ax, m // 2 + org, code)], fill, y))


cdef inline bint _fill_fits(int t, int code, double fill) noexcept:
    """cval usable as given: a float32 value for float32 (the others compute in double)."""
    if code != FC_BOUNDARY_FILL or t != cnp.NPY_FLOAT:
        return True
    return <double><float>fill == fill


def separable(input, output, mode, cval, list passes):
    """gaussian_filter / uniform_filter for the common case: `passes` holds, per
    axis in order, (weights, 0, origin) for a correlation (weights a float64
    array) or (None, size, origin) for a running mean; axis i is the i-th entry.
    Entries that SciPy skips (sigma <= 1e-15, size <= 1) are None. `mode` one
    name, or a list or tuple of one per axis. Else None."""
    if _input_type(input) < 0:
        got = _view_or_other_form(input, output, None, mode, cval,
                                  lambda x, out: separable(x, out, mode, cval, passes + [None]),
                                  lambda x, out, c: separable(x, out, mode, c, passes))
        if got is not _AS_IS:
            return got
    cdef int t = _input_type(input), code
    cdef double fill
    if t < 0 or not _number(cval, &fill):
        return None
    cdef cnp.ndarray x = <cnp.ndarray>input, k
    if len(passes) != cnp.PyArray_NDIM(x):
        return None
    cdef list modes = list(mode) if type(mode) in (list, tuple) else [mode] * len(passes)
    if len(modes) != len(passes):
        return None
    cdef list run = []
    cdef int64_t m, org
    cdef Py_ssize_t ax
    for ax in range(len(passes)):
        code = _mode(modes[ax])  # (SciPy checks the modes of skipped axes too)
        if code < 0 or not _fill_fits(t, code, fill):
            return None
        entry = passes[ax]
        if entry is None:
            continue
        weights, size, origin = entry
        if not _small_int(origin, &org):
            return None
        if weights is None:
            if not _small_int(size, &m) or m < 1 or m // 2 + org < 0 or m // 2 + org >= m:
                return None
            run.append((None, m, ax, m // 2 + org, code))
        else:
            k = weights
            m = cnp.PyArray_SIZE(k)
            if not _origin_ok(org, m):
                return None
            run.append((k, m, ax, m // 2 + org, code))
    if not run:
        return None  # a copy: the general path's
    cdef cnp.ndarray y = _output(output, x, t, None)
    if y is None:
        return None
    return _into(output, _run(x, t, run, fill, y))
