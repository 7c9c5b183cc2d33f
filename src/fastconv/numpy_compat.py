"""Drop-in replacements for numpy.convolve and numpy.correlate."""
from __future__ import annotations

import operator

import numpy as np

from . import _correlate, _dropins, _originals

__all__ = ["convolve", "correlate"]

_MODES = {"valid": 0, "same": 1, "full": 2}
# Result dtypes with a path of fastconv's own (integers only while float64 sums
# are exact); anything else (bool, long double, object, timedelta64, strings...)
# is handed to NumPy itself, which computes it at its own speed or raises its
# own error.
_FAST_CHARS = frozenset("efdFD") | frozenset(np.typecodes["AllInteger"])


def _mode_code(mode) -> int | None:
    """NumPy's rule: 'valid', 'same', 'full' or the ints 0, 1, 2. None for any
    other string, which the installed NumPy judges (NumPy 1.x takes 'VALID' or
    'v' with a DeprecationWarning, 2.x raises ValueError)."""
    if isinstance(mode, str):
        return _MODES.get(mode)
    if isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"mode must be 'valid', 'same', 'full' or 0, 1, 2, got {mode!r}")
    try:
        code = operator.index(mode)
    except TypeError:
        raise TypeError(
            f"mode must be 'valid', 'same', 'full' or 0, 1, 2, got {mode!r}"
        ) from None
    if code not in (0, 1, 2):
        raise ValueError(f"an integer mode must be 0, 1 or 2, got {mode!r}")
    return code


def _result_dtype(a: np.ndarray, v: np.ndarray) -> np.dtype | None:
    """NumPy's computation dtype, native byte order, or None when it is one
    this module leaves to NumPy."""
    try:
        dtype = np.result_type(a, v)
    except TypeError:
        return None
    if dtype.char not in _FAST_CHARS:
        return None
    return dtype.newbyteorder("=")


def _as_1d(a) -> np.ndarray:
    """``numpy.array(a, copy=None, ndmin=1)``, in words NumPy 1.x also takes."""
    a = np.asarray(a)
    return a.reshape(1) if a.ndim == 0 else a


def _correlate_1d(a: np.ndarray, v: np.ndarray, code: int, method: str) -> np.ndarray | None:
    """NumPy's _pyarray_correlate for len(a) >= len(v) >= 1 (no conjugation), or
    None for integers too large for exact float64 sums (or for float64 copies
    on this machine)."""
    n, m = len(a), len(v)
    pad, out_n = ((0, n - m + 1), (m // 2, n), (m - 1, n + m - 1))[code]
    return _correlate.correlate(a, v, pad, out_n, method=method)


def correlate(a, v, mode="valid", *, method="direct"):
    """Cross-correlation of two 1-D sequences, exactly as ``numpy.correlate``.

    ``c[k] = sum_n a[n + k] * conj(v[n])``, with the lag range set by `mode`.

    Parameters
    ----------
    a, v : array_like, 1-D
        Any dtype NumPy accepts. The result has ``numpy.result_type(a, v)``.
    mode : {'valid', 'same', 'full'} or {0, 1, 2}, optional
        As in NumPy: 'valid' (default) gives ``max(M, N) - min(M, N) + 1``
        values, 'same' ``max(M, N)``, 'full' ``M + N - 1``.
    method : {'direct', 'fft', 'auto'}, optional, keyword only
        fastconv's extension. 'direct' (default) sums directly, as NumPy does,
        at every size. 'fft' computes float and complex inputs by FFT, 'auto'
        picks the faster of the two by a cost model; both fall back to direct
        sums for integers and for inputs holding inf or NaN. An FFT result's
        error is relative to the largest values, not to each output: see
        docs/dropins.md before asking for it.

    Returns
    -------
    ndarray
        The same values, shape and dtype as ``numpy.correlate(a, v, mode)``. When
        `v` is longer than `a` the result is, as in NumPy, the time-reversed
        conjugate of ``correlate(v, a)``.

    Raises
    ------
    ValueError
        Empty or non-1-D inputs, an unknown mode string or integer, an
        unknown `method`.
    TypeError
        A mode that is neither a string nor an integer.

    Notes
    -----
    float32/float64 (and complex64/complex128 as real passes) run on the direct
    SIMD kernels of ``csrc/ops/correlate-template.h``, threaded. Integers are computed
    exactly on the float64 kernels while every partial sum stays below 2**53;
    float16 is summed in float32 and rounded once, as NumPy does. Everything
    else (larger integers, bool, long double, object, timedelta64) is passed to
    ``numpy.correlate`` itself, so it is exactly NumPy's result at NumPy's speed.
    Sizes are checked before values: what a call allocates is allocated before
    any value is read, so an input too large for the machine (a broadcast view
    of 2**42 elements) fails at once with NumPy's own exception, never after a
    scan of its values.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3])
    array([17, 22, 39, 44])
    >>> np.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3])
    array([17, 22, 39, 44])
    """
    code = _mode_code(mode)
    _correlate.check_method(method, "correlate")
    if code is None:
        return _originals.original("numpy.correlate")(a, v, mode)
    a_arr, v_arr = np.asarray(a), np.asarray(v)
    for name, arr in (("a", a_arr), ("v", v_arr)):
        if arr.ndim != 1:
            raise ValueError(f"correlate: {name} must be 1-D, got an array of shape {arr.shape}")
    dtype = _result_dtype(a_arr, v_arr)
    if dtype is None:
        return _originals.original("numpy.correlate")(a, v, mode)
    if a_arr.size == 0:
        raise ValueError("correlate: a (the first array argument) cannot be empty")
    if v_arr.size == 0:
        raise ValueError("correlate: v (the second array argument) cannot be empty")
    a_arr = a_arr.astype(dtype, copy=False)
    v_arr = v_arr.astype(dtype, copy=False)
    if dtype.kind == "c":
        v_arr = np.conjugate(v_arr)
    if len(v_arr) > len(a_arr):  # NumPy swaps, then reverses the result (in place: contiguous)
        y = _correlate_1d(v_arr, a_arr, code, method)
        y = None if y is None else np.ascontiguousarray(y[::-1])
    else:
        y = _correlate_1d(a_arr, v_arr, code, method)
    return _originals.original("numpy.correlate")(a, v, mode) if y is None else y


def convolve(a, v, mode="full", *, method="direct"):
    """Discrete linear convolution of two 1-D sequences, exactly as ``numpy.convolve``.

    ``c[k] = sum_n a[n] * v[k - n]``; the arguments are swapped when `v` is the
    longer one (convolution commutes).

    Parameters
    ----------
    a, v : array_like, 1-D (a scalar counts as one element)
        Any dtype NumPy accepts. The result has ``numpy.result_type(a, v)``.
    mode : {'full', 'same', 'valid'} or {2, 1, 0}, optional
        'full' (default): ``N + M - 1`` values; 'same': ``max(M, N)`` values
        centred on the full result; 'valid': ``max(M, N) - min(M, N) + 1``.
    method : {'direct', 'fft', 'auto'}, optional, keyword only
        As in :func:`correlate`: direct sums by default.

    Returns
    -------
    ndarray
        The same values, shape and dtype as ``numpy.convolve(a, v, mode)``.

    Raises
    ------
    ValueError
        Empty inputs ("a cannot be empty"), inputs of more than one dimension,
        an unknown mode string or integer, an unknown `method`.
    TypeError
        A mode that is neither a string nor an integer.

    Notes
    -----
    The paths are those of :func:`fastconv.correlate`; what has no fast path
    goes to ``numpy.convolve`` itself.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> np.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    a_arr, v_arr = _as_1d(a), _as_1d(v)
    if len(a_arr) == 0:
        raise ValueError("convolve: a cannot be empty")
    if len(v_arr) == 0:
        raise ValueError("convolve: v cannot be empty")
    if len(v_arr) > len(a_arr):
        a_arr, v_arr = v_arr, a_arr
    code = _mode_code(mode)
    _correlate.check_method(method, "convolve")
    if code is None:
        return _originals.original("numpy.convolve")(a, v, mode)
    for name, arr in (("a", a_arr), ("v", v_arr)):
        if arr.ndim != 1:
            raise ValueError(f"convolve: inputs must be 1-D, got an array of shape {arr.shape}")
    dtype = _result_dtype(a_arr, v_arr)
    if dtype is not None:
        y = _correlate_1d(a_arr.astype(dtype, copy=False), v_arr.astype(dtype, copy=False)[::-1],
                          code, method)
        if y is not None:
            return y
    return _originals.original("numpy.convolve")(a, v, mode)


# The public names are the compiled front doors, which take the common case at
# C speed and hand everything else to the functions above.
_dropins.bind(correlate, convolve)
correlate, convolve = _dropins.correlate, _dropins.convolve
