# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""fastconv.relu as a numpy.ufunc built with PyUFunc_FromFuncAndData.

Two inner loops, 'f->f' and 'd->d'. A loop handed unit steps (the whole of a
contiguous array, or one buffer of NumPy's iterator) calls the csrc driver
(SIMD microkernel of the ISA picked at import, threaded above the size
threshold); any other steps, and an output overlapping the input at a shift,
go through a strided scalar loop, in order, with the same expression as the
scalar microkernel, x < 0 ? 0 : x, so both give the same bits: NaN passes
through unchanged and -0.0 stays -0.0. The loops need no Python API, so NumPy
releases the GIL around them.

NumPy's default type resolution would cast int8 to float32 or int64 to float64
and run a float loop; relu refuses other input dtypes instead with a TypeError,
by a type resolver placed in front of NumPy's default one, unless the caller
chose a loop with dtype= or signature=. The resolver is the ufunc object's
type_resolver field, which NumPy 1.x and 2.x both consult for a legacy ufunc
when no loop matches the input dtypes exactly.
"""
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uintptr_t

cdef extern from "fastconv/fastconv.h" nogil:
    int fc_f32_relu(int64_t n, const float *x, float *y)
    int fc_f64_relu(int64_t n, const double *x, double *y)

cdef extern from "<fenv.h>" nogil:
    int FE_INVALID
    int fetestexcept(int excepts)
    int feclearexcept(int excepts)

cdef extern from "numpy/arrayobject.h":
    ctypedef Py_ssize_t npy_intp
    ctypedef struct PyArray_Descr:
        int type_num
    ctypedef struct PyArrayObject:
        pass
    ctypedef int NPY_CASTING
    enum:
        NPY_FLOAT
        NPY_DOUBLE
    PyArray_Descr *PyArray_DESCR(PyArrayObject *arr)
    int _import_array() except -1

cdef extern from "numpy/ufuncobject.h":
    ctypedef struct PyUFuncObject
    # NumPy's PyUFunc_TypeResolutionFunc (a function type; the field points to one)
    ctypedef int PyUFunc_TypeResolutionFunc(PyUFuncObject *ufunc, NPY_CASTING casting,
                                            PyArrayObject **operands, PyObject *type_tup,
                                            PyArray_Descr **out_dtypes) except -1
    ctypedef void (*PyUFuncGenericFunction)(char **args, const npy_intp *dimensions,
                                            const npy_intp *steps, void *data) noexcept nogil
    ctypedef struct PyUFuncObject:
        PyUFunc_TypeResolutionFunc *type_resolver
    enum:
        PyUFunc_None
    object PyUFunc_FromFuncAndData(PyUFuncGenericFunction *func, void **data, char *types,
                                   int ntypes, int nin, int nout, int identity,
                                   const char *name, const char *doc, int unused)
    int _import_umath() except -1

_import_array()
_import_umath()


# ---- inner loops ---------------------------------------------------------------------------------

ctypedef fused real:
    float
    double


cdef inline void _relu_strided(npy_intp n, const real *x, npy_intp x_step, real *y,
                               npy_intp y_step) noexcept nogil:
    """The scalar microkernel's expression over byte steps."""
    cdef const char *xp = <const char *>x
    cdef char *yp = <char *>y
    cdef real v
    for _ in range(n):
        v = (<const real *>xp)[0]
        (<real *>yp)[0] = <real>0 if v < 0 else v
        xp += x_step
        yp += y_step


cdef inline bint _shifted_overlap(const char *x, const char *y, npy_intp nbytes) noexcept nogil:
    """x and y share memory without being the same array. NumPy skips its copy for an
    input running ahead of the output (out=buf[:-1], x=buf[1:]) and expects the loop
    to take the elements in order; the driver's threads would not, so such a call
    goes through the scalar loop."""
    cdef uintptr_t a = <uintptr_t>x, b = <uintptr_t>y
    return a != b and a < b + <uintptr_t>nbytes and b < a + <uintptr_t>nbytes


# An ordered compare or a max instruction on a NaN raises the invalid flag, which
# NumPy would report as "invalid value encountered in relu"; relu of NaN is NaN, not
# an invalid operation, so each loop clears the flag again if it raised it.

cdef void _relu_f32(char **args, const npy_intp *dimensions, const npy_intp *steps,
                    void *data) noexcept nogil:
    cdef npy_intp n = dimensions[0]
    cdef int invalid_before = fetestexcept(FE_INVALID)
    if (steps[0] == <npy_intp>sizeof(float) and steps[1] == <npy_intp>sizeof(float)
            and not _shifted_overlap(args[0], args[1], n * <npy_intp>sizeof(float))):
        if fc_f32_relu(n, <const float *>args[0], <float *>args[1]) != 0:
            # the pool could not start its threads: the same values, on this thread
            _relu_strided(n, <const float *>args[0], steps[0], <float *>args[1], steps[1])
    else:
        _relu_strided(n, <const float *>args[0], steps[0], <float *>args[1], steps[1])
    if not invalid_before and fetestexcept(FE_INVALID):
        feclearexcept(FE_INVALID)


cdef void _relu_f64(char **args, const npy_intp *dimensions, const npy_intp *steps,
                    void *data) noexcept nogil:
    cdef npy_intp n = dimensions[0]
    cdef int invalid_before = fetestexcept(FE_INVALID)
    if (steps[0] == <npy_intp>sizeof(double) and steps[1] == <npy_intp>sizeof(double)
            and not _shifted_overlap(args[0], args[1], n * <npy_intp>sizeof(double))):
        if fc_f64_relu(n, <const double *>args[0], <double *>args[1]) != 0:
            _relu_strided(n, <const double *>args[0], steps[0], <double *>args[1], steps[1])
    else:
        _relu_strided(n, <const double *>args[0], steps[0], <double *>args[1], steps[1])
    if not invalid_before and fetestexcept(FE_INVALID):
        feclearexcept(FE_INVALID)


# ---- type resolution -----------------------------------------------------------------------------

cdef PyUFunc_TypeResolutionFunc *_numpy_resolver = NULL


cdef int _relu_type_resolver(PyUFuncObject *ufunc, NPY_CASTING casting,
                             PyArrayObject **operands, PyObject *type_tup,
                             PyArray_Descr **out_dtypes) except -1:
    """float32/float64 input, or a loop chosen by dtype=/signature= (type_tup):
    NumPy's default resolution; anything else: TypeError."""
    cdef PyArray_Descr *descr
    if type_tup == NULL:
        descr = PyArray_DESCR(operands[0])
        if descr.type_num != NPY_FLOAT and descr.type_num != NPY_DOUBLE:
            raise TypeError(
                f"relu: x has dtype {<object><PyObject *>descr}; supported dtypes are float32 "
                "and float64 (dtype=np.float32 or dtype=np.float64 casts other input)"
            )
    return _numpy_resolver(ufunc, casting, operands, type_tup, out_dtypes)


# ---- the ufunc -----------------------------------------------------------------------------------

cdef PyUFuncGenericFunction _loops[2]
cdef void *_loop_data[2]
cdef char _loop_types[4]

_loops[0] = _relu_f32
_loops[1] = _relu_f64
_loop_data[0] = NULL
_loop_data[1] = NULL
_loop_types[0] = NPY_FLOAT
_loop_types[1] = NPY_FLOAT
_loop_types[2] = NPY_DOUBLE
_loop_types[3] = NPY_DOUBLE

# NumPy keeps the pointers to the name and the docstring: both are C string literals.
cdef const char *_DOC = b"""Rectified linear unit, elementwise: ``x`` where ``x >= 0`` or NaN, else 0.

A NumPy ufunc (like ``np.maximum``): ``out=``, ``where=``, ``casting=``,
``order=``, ``dtype=``, broadcasting, ndarray subclasses and
``__array_ufunc__`` dispatch (Dask, xarray) behave as for any ufunc. float32
and float64 are computed natively and keep their dtype: contiguous stretches
run fastconv's SIMD kernel (threaded for large arrays, the GIL released),
other strides a scalar loop giving the same bits. A NaN passes through
unchanged and ``-0.0`` stays ``-0.0`` (``np.maximum(x, 0)`` gives ``+0.0``
for it). Other input dtypes (ints, bool, float16, longdouble, complex,
object, strings) raise TypeError rather than being cast to float, unless a
loop is chosen with ``dtype=`` or ``signature=``, which then casts the input
by the ``casting`` rule.

Parameters
----------
x : array_like, float32 or float64
out : ndarray, None, or tuple of one ndarray, optional
    Where to store the result: any dtype that the ``casting`` rule allows,
    and a shape `x` broadcasts to. ``out=x`` computes in place; an ``out``
    overlapping `x` any other way gets relu of `x` as it was before the call.
where : array_like of bool, optional
    Where False, ``out`` keeps its value (uninitialized if ``out`` was not
    given).
casting, order, dtype, subok, signature
    As for every ufunc; see the NumPy ufunc documentation.

Returns
-------
y : ndarray or scalar
    ``out`` if given; a scalar for scalar input.

Raises
------
TypeError
    For an input dtype other than float32 and float64 when no loop is chosen
    with ``dtype=`` or ``signature=`` (the message names the dtypes).
ValueError
    For ``relu.reduce``, ``relu.accumulate``, ``relu.reduceat`` and
    ``relu.outer``.

Notes
-----
``relu.reduce``, ``relu.accumulate``, ``relu.reduceat`` and ``relu.outer``
raise ValueError: NumPy defines them for binary ufuncs only.
``relu.at(a, indices)`` applies relu in place to the indexed elements of
`a` (each occurrence of a repeated index applies it again, which changes
nothing).

Examples
--------
>>> import numpy as np, fastconv
>>> fastconv.relu(np.array([-1.5, 0.0, 2.0, np.nan]))
array([ 0.,  0.,  2., nan])
>>> x = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
>>> fastconv.relu(x, out=x)
array([[0., 2.],
       [3., 0.]], dtype=float32)
>>> fastconv.relu(np.arange(-2, 3), dtype=np.float64)
array([0., 0., 0., 1., 2.])
"""

relu = PyUFunc_FromFuncAndData(_loops, _loop_data, _loop_types, 2, 1, 1, PyUFunc_None,
                               b"relu", _DOC, 0)
_numpy_resolver = (<PyUFuncObject *><PyObject *>relu).type_resolver
(<PyUFuncObject *><PyObject *>relu).type_resolver = &_relu_type_resolver
try:
    relu.__module__ = "fastconv"  # its public home, where pickle finds it
except AttributeError:  # NumPy < 2.1: no ufunc attributes; pickle searches the modules instead
    pass
