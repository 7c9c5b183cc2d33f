"""Drop-in replacements for numpy.convolve and numpy.correlate."""
from __future__ import annotations

import operator

import numpy as np

from . import _correlate, _originals

__all__ = ["convolve", "correlate"]

_MODES = {"valid": 0, "same": 1, "full": 2}
# Result dtypes computed here; anything else (object, timedelta64, strings...)
# is handed to NumPy itself, which either computes it or raises its own error.
_NUMERIC_KINDS = "biufc"


def _mode_code(mode) -> int:
    """NumPy's rule: 'valid', 'same', 'full' or the ints 0, 1, 2."""
    if isinstance(mode, str):
        if mode not in _MODES:
            raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")
        return _MODES[mode]
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
    """NumPy's computation dtype (promotion, falling back to object), or None
    when it is one this module leaves to NumPy."""
    try:
        dtype = np.result_type(a, v)
    except TypeError:
        return None
    if dtype.kind not in _NUMERIC_KINDS:
        return None
    return dtype.newbyteorder("=")


def _correlate_1d(a: np.ndarray, v: np.ndarray, code: int) -> np.ndarray:
    """NumPy's _pyarray_correlate for len(a) >= len(v) >= 1: no conjugation."""
    n, m = len(a), len(v)
    pad, out_n = ((0, n - m + 1), (m // 2, n), (m - 1, n + m - 1))[code]
    return _correlate.correlate(a, v, pad, out_n)


def correlate(a, v, mode="valid"):
    """Cross-correlation of two 1-D sequences, exactly as ``numpy.correlate``.

    ``c[k] = sum_n a[n + k] * conj(v[n])``, with the lag range set by `mode`.

    Parameters
    ----------
    a, v : array_like, 1-D
        Any dtype NumPy accepts. The result has ``numpy.result_type(a, v)``.
    mode : {'valid', 'same', 'full'} or {0, 1, 2}, optional
        As in NumPy: 'valid' (default) gives ``max(M, N) - min(M, N) + 1``
        values, 'same' ``max(M, N)``, 'full' ``M + N - 1``.

    Returns
    -------
    ndarray
        The same values, shape and dtype as ``numpy.correlate(a, v, mode)``. When
        `v` is longer than `a` the result is, as in NumPy, the time-reversed
        conjugate of ``correlate(v, a)``.

    Raises
    ------
    ValueError
        Empty or non-1-D inputs, an unknown mode string or integer.
    TypeError
        A mode that is neither a string nor an integer.

    Notes
    -----
    float32/float64 (and complex64/complex128 as real passes) run on the SIMD
    kernels of ``csrc/ops/correlate2d.c``, threaded, or on ``numpy.fft`` when
    the kernel is long enough that FFT is predicted to be faster and all values
    are finite. Integers and bool are computed exactly, with NumPy's
    wrap-around on overflow (float64 kernels while exact, else
    ``fastconv.slow``); float16 is summed in float32. Object and timedelta64
    inputs are passed to ``numpy.correlate``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3])
    array([17, 22, 39, 44])
    >>> np.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3])
    array([17, 22, 39, 44])
    """
    code = _mode_code(mode)
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
        return np.ascontiguousarray(_correlate_1d(v_arr, a_arr, code)[::-1])
    return _correlate_1d(a_arr, v_arr, code)


def convolve(a, v, mode="full"):
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

    Returns
    -------
    ndarray
        The same values, shape and dtype as ``numpy.convolve(a, v, mode)``.

    Raises
    ------
    ValueError
        Empty inputs ("a cannot be empty"), inputs of more than one dimension,
        an unknown mode string or integer.
    TypeError
        A mode that is neither a string nor an integer.

    Notes
    -----
    The paths are those of :func:`fastconv.correlate` (SIMD kernels or FFT for
    floating and complex types, exact integer arithmetic with wrap-around for
    integers and bool); object and timedelta64 inputs go to ``numpy.convolve``.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> np.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    a_arr, v_arr = np.array(a, copy=None, ndmin=1), np.array(v, copy=None, ndmin=1)
    if len(a_arr) == 0:
        raise ValueError("convolve: a cannot be empty")
    if len(v_arr) == 0:
        raise ValueError("convolve: v cannot be empty")
    if len(v_arr) > len(a_arr):
        a_arr, v_arr = v_arr, a_arr
    code = _mode_code(mode)
    for name, arr in (("a", a_arr), ("v", v_arr)):
        if arr.ndim != 1:
            raise ValueError(f"convolve: inputs must be 1-D, got an array of shape {arr.shape}")
    dtype = _result_dtype(a_arr, v_arr)
    if dtype is None:
        return _originals.original("numpy.convolve")(a, v, mode)
    a_arr = a_arr.astype(dtype, copy=False)
    v_arr = v_arr.astype(dtype, copy=False)
    return _correlate_1d(a_arr, v_arr[::-1], code)
