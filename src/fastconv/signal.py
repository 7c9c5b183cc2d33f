"""Drop-in replacements for scipy.signal.convolve2d and scipy.signal.correlate2d."""
from __future__ import annotations

import numpy as np

from . import _correlate, _dropins, _originals, slow
from ._correlate import FILL, SYMM, WRAP

__all__ = ["convolve2d", "correlate2d"]

_MODES = {"valid": 0, "same": 1, "full": 2}
_BOUNDARIES = {"fill": FILL, "pad": FILL, "wrap": WRAP, "circular": WRAP,
               "symm": SYMM, "symmetric": SYMM, "reflect": -1}
# Result dtype kinds SciPy's convolve2d computes: not bool, float16, object...
_SUPPORTED = "iufc"


def _mode_code(mode) -> int:
    try:
        return _MODES[mode]
    except KeyError:
        raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}") from None


def _boundary_code(boundary) -> int:
    try:
        return _BOUNDARIES[boundary]
    except KeyError:
        raise ValueError(
            "boundary must be 'fill' (or 'pad'), 'wrap' (or 'circular') or 'symm' "
            f"(or 'symmetric'), got {boundary!r}"
        ) from None


def _swap_needed(mode, shape1, shape2) -> bool:
    """SciPy's rule: in 'valid' mode the larger input goes first, and one input
    must be at least as large as the other in every dimension."""
    if mode != "valid":
        return False
    ok1 = all(i >= j for i, j in zip(shape1, shape2))
    ok2 = all(i <= j for i, j in zip(shape1, shape2))
    if not (ok1 or ok2):
        raise ValueError(
            "For 'valid' mode, one must be at least as large as the other in every "
            f"dimension; got in1 of shape {shape1} and in2 of shape {shape2}"
        )
    return not ok1


def _result_dtype(op: str, in1: np.ndarray, in2: np.ndarray) -> np.dtype:
    try:
        dtype = np.result_type(in1, in2)
    except TypeError:
        dtype = np.dtype(object)
    if dtype.kind not in _SUPPORTED or dtype == np.float16:
        raise ValueError(
            f"{op}: inputs of dtype {in1.dtype} and {in2.dtype} give {dtype}, which "
            f"scipy.signal.{op} does not support either (use integer, float32, float64, "
            "long double or complex arrays)"
        )
    return dtype.newbyteorder("=")


def _fill_scalar(fillvalue, dtype: np.dtype):
    """`fillvalue` as a scalar of `dtype`, by SciPy's conversion rules: Python
    scalars and sequences convert as ``numpy.array(fillvalue, dtype)`` does,
    arrays only by a safe cast; what fails converts through complex and is
    refused."""
    try:
        if isinstance(fillvalue, np.ndarray):
            # the array, not its dtype: NumPy 1.x casts 0-d arrays by value, as
            # SciPy's C conversion then does; NumPy 2 by dtype alone
            if not np.can_cast(fillvalue, dtype, "safe"):
                raise TypeError("unsafe cast")
            arr = fillvalue.astype(dtype)
        else:
            arr = np.array(fillvalue, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        np.array(fillvalue, dtype=np.complex128)  # raises where SciPy raises
        raise ValueError(
            f"could not cast `fillvalue` directly to the output type {dtype} "
            f"(got {fillvalue!r}; it was first converted to complex)."
        ) from None
    if arr.size != 1:
        if arr.size == 0:
            raise ValueError("`fillvalue` cannot be an empty array.")
        raise ValueError(
            f"`fillvalue` must be scalar or an array with one element, got {fillvalue!r}"
        )
    return arr.reshape(-1)[0]


def _correlate2d(op: str, in1, in2, mode, boundary, fillvalue, flip: bool, method):
    """SciPy's _sigtools._convolve2d: checks in SciPy's order, then the engine,
    or SciPy itself for the dtypes without a fast path."""
    _correlate.check_method(method, op)
    args = (in1, in2, mode, boundary, fillvalue)
    in1, in2 = np.asarray(in1), np.asarray(in2)
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(
            f"{op} inputs must both be 2-D arrays, got in1 of shape {in1.shape} "
            f"and in2 of shape {in2.shape}"
        )
    swapped = _swap_needed(mode, in1.shape, in2.shape)
    if swapped:
        in1, in2 = in2, in1
    code = _mode_code(mode)
    bcode = _boundary_code(boundary)
    if not flip and in2.dtype.kind not in "biufc":
        in2.conj()  # SciPy conjugates first: non-numeric kernels raise its TypeError here
    dtype = _result_dtype(op, in1, in2)
    if bcode < 0:
        raise ValueError(f"{op}: boundary={boundary!r} is not supported (SciPy refuses it too)")
    fill = _fill_scalar(fillvalue, dtype) if bcode == FILL else dtype.type(0)
    (h, w), (kh, kw) = in1.shape, in2.shape
    out_shape = ((h - kh + 1, w - kw + 1), (h, w), (h + kh - 1, w + kw - 1))[code]
    if min(out_shape) < 0:
        raise ValueError(
            f"{op}: negative dimensions are not allowed (output {out_shape} for in1 of "
            f"shape {in1.shape} and in2 of shape {in2.shape}, mode={mode!r})"
        )
    if bcode != FILL and min(h, w) == 0 and min(out_shape) > 0 and kh * kw > 0:
        raise ValueError(
            f"{op}: boundary={boundary!r} needs a non-empty in1 to wrap or mirror, got "
            f"in1 of shape {in1.shape} (SciPy crashes here)"
        )
    x = in1.astype(dtype, copy=False)
    k = in2.astype(dtype, copy=False)
    # SciPy is looked up (and imported) only for the dtypes fastconv hands it
    if dtype.char in "gG" and (scipy_op := _originals.installed(f"scipy.signal.{op}")) is not None:
        return scipy_op(*args)  # no fast path: SciPy's own speed and values
    if flip:  # convolution: a correlation with the kernel reversed; 'same' centres on kh // 2
        k = k[::-1, ::-1]
        pad = ((0, 0), (kh // 2, kw // 2), (kh - 1, kw - 1))[code]
    else:
        if dtype.kind == "c":
            k = np.conjugate(k)
        pad = ((0, 0), ((kh - 1) // 2, (kw - 1) // 2), (kh - 1, kw - 1))[code]
    out = _correlate.correlate(x, k, pad, out_shape, bcode, fill, method)
    if out is None:  # integers without exact float64 sums: SciPy's own speed and values
        scipy_op = _originals.installed(f"scipy.signal.{op}")
        if scipy_op is not None:
            return scipy_op(*args)
        out = slow.correlate2d(x, k, pad, out_shape, bcode, fill)
    return out[::-1, ::-1] if swapped and not flip else out


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="direct"):
    """Cross-correlate two 2-D arrays, exactly as ``scipy.signal.correlate2d``.

    ``out[r, c] = sum_ij X(r - p + i, c - q + j) * conj(in2[i, j])``, X being `in1`
    extended past its edges by `boundary`.

    Parameters
    ----------
    in1, in2 : array_like, 2-D
        Integer, float32, float64, long double or complex; the result has
        ``numpy.result_type(in1, in2)``. bool and float16 raise ValueError, as
        in SciPy.
    mode : {'full', 'valid', 'same'}, optional
        'full' (default): ``in1.shape + in2.shape - 1``; 'valid': where the
        arrays overlap completely (one must be at least as large as the other
        in every dimension; they are swapped, and the result reversed, when
        `in2` is the larger); 'same': the shape of `in1`, centred on 'full'.
    boundary : {'fill', 'wrap', 'symm'}, optional
        'fill' (or 'pad'): `fillvalue` beyond the edges; 'wrap' (or 'circular'):
        periodic; 'symm' (or 'symmetric'): mirrored with the edge repeated.
    fillvalue : scalar, optional
        Converted to the result dtype by SciPy's rules (complex into a real
        type raises ValueError). Default 0.
    method : {'direct', 'fft', 'auto'}, optional, keyword only
        fastconv's extension. 'direct' (default) sums directly, as SciPy's
        ``convolve2d`` does, at every size. 'fft' computes float and complex
        inputs by an overlap-save FFT, 'auto' picks the faster by a cost
        model; both sum directly for integers and for inputs holding inf or
        NaN. An FFT result's error is relative to the largest values, not to
        each output (docs/dropins.md).

    Returns
    -------
    ndarray
        The same values, shape and dtype as SciPy's.

    Notes
    -----
    float32 and float64 (complex via real passes) run on the direct SIMD
    kernels of ``csrc/ops/correlate2d.c`` over padded row bands, threaded, at
    every kernel size. Integers are exact: the float64 kernels while every
    partial sum stays below 2**53; larger integers and long double go to
    ``scipy.signal`` itself (or, without SciPy, to the exact ``fastconv.slow``).
    Where SciPy crashes (boundary 'wrap'/'symm' on an empty `in1`), this
    raises ValueError. Sizes are checked before values: an input too large for
    the machine (a broadcast view of 2**42 elements) fails at once with SciPy's
    own exception, never after a scan of its values.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> from scipy import signal
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> k = np.array([[1.0, 2.0], [0.5, -1.0]])
    >>> fastconv.correlate2d(x, k, "same", "symm")
    array([[-1. ,  1.5,  4. ,  5.5],
           [ 9. , 11.5, 14. , 15.5],
           [21. , 23.5, 26. , 27.5]])
    >>> np.array_equal(fastconv.correlate2d(x, k, "same", "symm"),
    ...                signal.correlate2d(x, k, "same", "symm"))
    True
    """
    return _correlate2d("correlate2d", in1, in2, mode, boundary, fillvalue, False, method)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="direct"):
    """Convolve two 2-D arrays, exactly as ``scipy.signal.convolve2d``.

    ``out[r, c] = sum_ij X(r + p - i, c + q - j) * in2[i, j]``, X being `in1`
    extended past its edges by `boundary`.

    Parameters
    ----------
    in1, in2 : array_like, 2-D
        Integer, float32, float64, long double or complex; the result has
        ``numpy.result_type(in1, in2)``. bool and float16 raise ValueError, as
        in SciPy.
    mode : {'full', 'valid', 'same'}, optional
        As in :func:`correlate2d`; in 'valid' mode the inputs are swapped when
        `in2` is the larger (convolution commutes, so nothing is reversed).
    boundary : {'fill', 'wrap', 'symm'}, optional
        'fill' (or 'pad'), 'wrap' (or 'circular'), 'symm' (or 'symmetric').
    fillvalue : scalar, optional
        Value beyond the edges for 'fill'. Default 0.
    method : {'direct', 'fft', 'auto'}, optional, keyword only
        As in :func:`correlate2d`: direct sums by default.

    Returns
    -------
    ndarray
        The same values, shape and dtype as SciPy's.

    Notes
    -----
    A correlation with `in2` reversed along both axes, on the paths of
    :func:`correlate2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> from scipy import signal
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> k = np.array([[1.0, 2.0], [0.5, -1.0]])
    >>> fastconv.convolve2d(x, k, "valid")
    array([[13.5, 16. , 18.5],
           [23.5, 26. , 28.5]])
    >>> np.array_equal(fastconv.convolve2d(x, k, "valid"), signal.convolve2d(x, k, "valid"))
    True
    """
    return _correlate2d("convolve2d", in1, in2, mode, boundary, fillvalue, True, method)


# The public names are the compiled front doors, which take the common case at
# C speed and hand everything else to the functions above.
_dropins.bind(None, None, correlate2d, convolve2d)
correlate2d, convolve2d = _dropins.correlate2d, _dropins.convolve2d
