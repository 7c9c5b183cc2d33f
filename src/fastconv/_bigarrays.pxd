# Result arrays of FC_BIG_MIN_BYTES and more, on memory from libfastconv's
# large blocks (fc_big_alloc in fastconv.h): NumPy gives a freed array's
# memory back to a block kept for the next call, so a call made again and
# again does not fault its result's pages in anew each time. The arrays are
# NumPy's own in every other way (they own their data; resize, pickling and
# views work as ever): NumPy's allocation handler (PyDataMem_SetHandler, NumPy
# >= 1.22) is set to these blocks' for the one allocation and set back.
# cimported by the front doors (_new); each gets its own copy of the handler,
# all freeing into the same library.
cimport numpy as cnp
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport Py_INCREF
from fastconv._capi cimport FC_BIG_MIN_BYTES

cdef extern from *:
    """
    #include "fastconv/fastconv.h"
    static int fc_np_hugepage = 1; /* NumPy's madvise setting, read before each allocation */
    static PyObject *fc_np_capsule = NULL, *fc_np_madvise = NULL; /* made at first use */
    static void *fc_np_malloc(void *ctx, size_t n) {
      (void)ctx;
      return fc_big_alloc(n, fc_np_hugepage, 0);
    }
    static void *fc_np_calloc(void *ctx, size_t count, size_t size) {
      (void)ctx;
      if (size && count > SIZE_MAX / size) return NULL;
      return fc_big_alloc(count * size, fc_np_hugepage, 1);
    }
    static void *fc_np_realloc(void *ctx, void *p, size_t n) {
      (void)ctx;
      void *q = fc_big_alloc(n, fc_np_hugepage, 0);
      if (!q || !p) return q;
      const size_t had = fc_big_usable(p);
      memcpy(q, p, had < n ? had : n);
      fc_big_free(p);
      return q;
    }
    static void fc_np_free(void *ctx, void *p, size_t n) {
      (void)ctx, (void)n;
      fc_big_free(p);
    }
    static PyDataMem_Handler fc_np_handler = {
        "fastconv_big_blocks", 1, {NULL, fc_np_malloc, fc_np_calloc, fc_np_realloc, fc_np_free}};
    """
    int fc_np_hugepage
    PyObject *fc_np_capsule
    PyObject *fc_np_madvise
    ctypedef struct PyDataMem_Handler:
        pass
    PyDataMem_Handler fc_np_handler
    object PyDataMem_SetHandler(object handler)


cdef inline object _madvise_getter():
    """NumPy's _get_madvise_hugepage (numpy._core from NumPy 2, numpy.core before)."""
    try:
        from numpy._core.multiarray import _get_madvise_hugepage
    except ImportError:
        from numpy.core.multiarray import _get_madvise_hugepage
    return _get_madvise_hugepage


cdef inline bint _is_big(int nd, const cnp.npy_intp *dims, int t) except -1:
    """Whether an array of these sizes and type number has FC_BIG_MIN_BYTES or
    more (the dtype looked at only where the count alone does not say)."""
    cdef size_t count = 1
    cdef int i
    for i in range(nd):
        if dims[i] <= 0:
            return False
    for i in range(nd):  # the count, capped at FC_BIG_MIN_BYTES (no overflow)
        if <size_t>dims[i] >= FC_BIG_MIN_BYTES:
            return True
        count *= <size_t>dims[i]
        if count >= FC_BIG_MIN_BYTES:
            return True
    if count * 16 < FC_BIG_MIN_BYTES:  # no type here is wider than 16 bytes
        return False
    return count * <size_t>cnp.PyArray_DescrFromType(t).itemsize >= FC_BIG_MIN_BYTES


cdef inline object _new(int nd, cnp.npy_intp *dims, int t):
    """cnp.PyArray_EMPTY(nd, dims, t, 0); from FC_BIG_MIN_BYTES up on a large
    block, NumPy's handler set to this module's for the one allocation."""
    global fc_np_hugepage, fc_np_capsule, fc_np_madvise
    if not _is_big(nd, dims, t):
        return cnp.PyArray_EMPTY(nd, dims, t, 0)
    if fc_np_capsule == NULL:  # made once, kept for the process
        handler = PyCapsule_New(&fc_np_handler, "mem_handler", NULL)
        madvise = _madvise_getter()
        Py_INCREF(handler)
        Py_INCREF(madvise)
        fc_np_capsule, fc_np_madvise = <PyObject *>handler, <PyObject *>madvise
    fc_np_hugepage = 1 if (<object>fc_np_madvise)() else 0
    cdef object before = PyDataMem_SetHandler(<object>fc_np_capsule)
    try:
        return cnp.PyArray_EMPTY(nd, dims, t, 0)
    finally:
        PyDataMem_SetHandler(before)
