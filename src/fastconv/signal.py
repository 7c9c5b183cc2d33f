"""Drop-in replacements for scipy.signal's convolutions: the 2-D convolve2d and
correlate2d, and the N-d convolve, correlate, fftconvolve, oaconvolve and
choose_conv_method."""
from __future__ import annotations

import warnings

import numpy as np

from . import (
    _correlate,
    _dropins,
    _fftconv,
    _originals,
    _planning,
    _signal_nd,
    numpy_compat,
    slow,
)
from ._correlate import FILL, SYMM, WRAP

__all__ = [
    "choose_conv_method",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "fftconvolve",
    "oaconvolve",
]

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
        _planning.stop("slow-twin", "fastconv.slow.correlate2d",
                       "integers beyond exact float64 sums, without SciPy")
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

    Raises
    ------
    ValueError
        Where SciPy raises it: inputs that are not both 2-D, an unknown mode
        or boundary, 'valid' mode with neither input at least as large as the
        other in every dimension, a dtype SciPy does not compute (bool,
        float16), a `fillvalue` that does not convert to the result dtype or
        has more than one element; also an unknown `method`.
    TypeError
        Where SciPy raises it, as for inputs of a non-numeric dtype.

    Notes
    -----
    float32 and float64 (complex via real passes) run on the direct SIMD
    kernels of ``csrc/ops/correlate-template.h`` over padded row bands, threaded, at
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

    Raises
    ------
    ValueError, TypeError
        As :func:`correlate2d`, where SciPy raises them.

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


# ---- the N-d family: convolve, correlate, fftconvolve, oaconvolve, choose_conv_method ----------
# Each reads as SciPy's function does, step for step (the same checks in the same
# order, the same swaps), with fastconv's engines where SciPy runs its own:
# _signal_nd for direct sums and the choice of method, _fftconv for the FFT, the
# NumPy drop-ins for SciPy's 1-D shortcut to numpy.convolve/correlate.

def _reverse_and_conj(x: np.ndarray) -> np.ndarray:
    x = x[(slice(None, None, -1),) * x.ndim]
    return np.conj(x) if x.dtype.kind == "c" else x


def _np_conv_ok(volume: np.ndarray, kernel: np.ndarray, mode) -> bool:
    """SciPy's 1-D shortcut to NumPy: 'full' and 'valid', and 'same' when the
    kernel is not longer (NumPy's 'same' has the longer input's length)."""
    if volume.ndim == kernel.ndim == 1:
        if mode in ("full", "valid"):
            return True
        if mode == "same":
            return volume.size >= kernel.size
    return False


_PLANE_PRODUCTS = 1 << 16  # floats up to this many products: checking them finite costs little


def _plane(in1: np.ndarray, in2: np.ndarray, mode: str, correlation: bool) -> bool:
    """Whether a direct correlate or convolve of `in1` and `in2` is correlate2d's
    or convolve2d's call, whose front door takes it at C speed with the same
    kernels and so the same bits: non-empty 2-D integer, float32, float64 or
    complex inputs, 'valid' with in1 at least as large in every dimension (no
    swap), and for correlate 'same' an odd kernel (correlate2d centres an even
    one a place further on). Floats and complex only small and finite: SciPy's
    N-d sums place NaN (0 times inf beyond the edges) where correlate2d's do
    not, and larger calls gain nothing."""
    if not (in1.ndim == 2 and in2.ndim == 2 and in1.size > 0 and in2.size > 0
            and (in1.dtype.kind in "iu" or in1.dtype.char in "fdFD")
            and (in2.dtype.kind in "iu" or in2.dtype.char in "fdFD")
            and (mode != "valid" or (in1.shape[0] >= in2.shape[0] and in1.shape[1] >= in2.shape[1]))
            and not (correlation and mode == "same" and not (in2.shape[0] % 2 and in2.shape[1] % 2))):
        return False
    if in1.dtype.kind in "iu" and in2.dtype.kind in "iu":
        return True
    return (in1.size * in2.size <= _PLANE_PRODUCTS and bool(np.isfinite(in1).all())
            and bool(np.isfinite(in2).all()))


def _same_rank(in1: np.ndarray, in2: np.ndarray, names: str) -> None:
    if in1.ndim != in2.ndim:
        raise ValueError(
            f"{names} should have the same dimensionality, got in1 of shape {in1.shape} "
            f"and in2 of shape {in2.shape}"
        )


def _bad_method(method):
    return ValueError(f"Acceptable method flags are 'auto', 'direct', or 'fft'; got {method!r}")


def _direct_without_scipy(in1: np.ndarray, in2: np.ndarray, mode: str, swapped: bool):
    """SciPy's direct N-d correlation for what has no fast path (empty inputs,
    long double, integers beyond exact float64 sums, unsupported dtypes), when
    SciPy is not installed: its steps and errors, and the exact slow twin."""
    x, k = (in2, in1) if swapped else (in1, in2)
    if mode == "valid":
        shape = [i - j + 1 for i, j in zip(x.shape, k.shape)]
        np.empty(shape, x.dtype)  # SciPy's ValueError for negative sizes
    else:
        padded = np.zeros([i + j - 1 for i, j in zip(x.shape, k.shape)], x.dtype)
        padded[tuple(slice(0, n) for n in x.shape)] = x  # and its broadcasting error
        shape = padded.shape if mode == "full" else x.shape
    try:
        dtype = np.result_type(x, k)
    except TypeError:
        dtype = np.dtype(object)
    if not (dtype.kind in "iu" or dtype.char in "fdgFDG"):
        raise ValueError(
            f"correlate: inputs of dtype {in1.dtype} and {in2.dtype} give {dtype}, which "
            "direct N-d sums do not support (SciPy refuses it too: 'Unsupported type')"
        )
    if x.size == 0 or k.size == 0:
        y = np.zeros(shape, dtype=dtype)
    else:
        k = np.conj(k.astype(dtype)) if dtype.kind == "c" else k.astype(dtype)
        y = _signal_nd.slow_correlate(x.astype(dtype), k, mode)
    return _reverse_and_conj(y) if swapped else y


def _correlate_nd(in1: np.ndarray, in2: np.ndarray, mode: str, order=None) -> np.ndarray:
    """SciPy's correlate(in1, in2, mode, method='direct') past its 1-D NumPy
    shortcut: the direct kernels (`_signal_nd`), SciPy's own function for
    what they do not compute (and for small calls of 3 or more dimensions,
    which it finishes sooner), or its steps and the slow twin without SciPy.
    `order` fixes the kernels' axes (fastconv.dask.signal: every block as the
    whole array), and then the kernels run whatever the size."""
    swapped = ((mode == "full" and in2.size > in1.size)
               or _fftconv.swap_needed(mode, in1.shape, in2.shape))
    x, k = (in2, in1) if swapped else (in1, in2)
    try:
        dtype = np.result_type(x, k).newbyteorder("=")
    except TypeError:
        dtype = None
    # SciPy is looked up (and imported) only for the calls fastconv hands it
    if x.size and k.size and dtype is not None and _signal_nd.fast_dtype(dtype) and (
            order is not None or not _signal_nd.small(x.shape, k.shape, mode, dtype)
            or _originals.installed("scipy.signal.correlate") is None):
        kk = k.astype(dtype, copy=False)
        y = _signal_nd.correlate(x.astype(dtype, copy=False),
                                 np.conj(kk) if kk.dtype.kind == "c" else kk, mode, order)
        if y is not None:
            return _reverse_and_conj(y) if swapped else y
    original = _originals.installed("scipy.signal.correlate")
    if original is not None:  # no fast path: SciPy's own speed, values and errors
        try:
            return original(in1, in2, mode, "direct")
        except ValueError as e:  # SciPy's words ("Unsupported type"), with the inputs named
            raise ValueError(
                f"correlate: direct sums of in1 ({in1.dtype}, shape {in1.shape}) and in2 "
                f"({in2.dtype}, shape {in2.shape}), mode={mode!r}: {e}") from e
    return _direct_without_scipy(in1, in2, mode, swapped)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlate two N-d arrays, exactly as ``scipy.signal.correlate``.

    ``z[k] = sum_l in1[l] * conj(in2[l - k])`` over every axis, the lags set by
    `mode`.

    Parameters
    ----------
    in1, in2 : array_like
        Arrays of the same rank (two 0-d inputs give ``in1 * conj(in2)``).
    mode : {'full', 'valid', 'same'}, optional
        'full' (default): ``in1.shape + in2.shape - 1``; 'valid': where the
        arrays overlap completely (one must be at least as large as the other
        in every dimension; when `in2` is the larger the inputs swap and the
        result is reversed and conjugated); 'same': the shape of `in1`,
        centred on 'full'.
    method : {'auto', 'direct', 'fft'}, optional
        'direct' sums directly, 'fft' uses :func:`fftconvolve` (float results;
        integers rounded), 'auto' (default) picks as SciPy's
        :func:`choose_conv_method` does, by the same operation-count model.

    Returns
    -------
    ndarray
        SciPy's shape and dtype (``numpy.result_type(in1, in2)``) and values of
        its algorithm class.

    Notes
    -----
    Direct sums run on fastconv's 2-D SIMD kernels: 1-D and 2-D inputs in one
    call, more dimensions as sums of 2-D correlations over the other axes
    (``_signal_nd.py``); SciPy's 1-D shortcut, ``numpy.correlate``, is
    ``fastconv.correlate``. float32, float64, complex64/128 and integers (exact,
    wrapping as SciPy's) are computed there; long double, integers whose sums
    exceed 2**53 and empty inputs go to SciPy itself (without SciPy, to an exact
    slow twin), and dtypes SciPy refuses (bool, float16, object beyond 1-D)
    raise its ValueError. The FFT runs on ``scipy.fft``, one worker, as SciPy's.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from fastconv import signal as fsignal
    >>> x = np.arange(24.0).reshape(2, 3, 4)
    >>> k = np.array([[[1.0, -1.0]], [[0.5, 2.0]]])
    >>> fsignal.correlate(x, k, "valid")[0]
    array([[31. , 33.5, 36. ],
           [41. , 43.5, 46. ],
           [51. , 53.5, 56. ]])
    >>> np.allclose(fsignal.correlate(x, k, "same"), signal.correlate(x, k, "same"))
    True
    """
    y = _dropins.signal_nd(in1, in2, mode, method, False, _signal_nd.SMALL_ND_FLOAT_PRODUCTS,
                           _signal_nd.SMALL_ND_PRODUCTS)  # N-d floats (small) and integers at C speed
    if y is not None:
        return y
    in1, in2 = np.asarray(in1), np.asarray(in2)
    if in1.ndim == in2.ndim == 0:
        _planning.stop("product", "numpy.multiply", "two 0-d inputs: their product")
        return in1 * (np.conj(in2) if in2.dtype.kind == "c" else in2)
    _same_rank(in1, in2, "in1 and in2")
    try:
        _MODES[mode]  # convolve2d's table: the same three names
    except KeyError:
        raise ValueError(
            f"Acceptable mode flags are 'valid', 'same', or 'full'; got {mode!r}") from None
    if method in ("fft", "auto"):
        return convolve(in1, _reverse_and_conj(in2), mode, method)
    if method == "direct":
        if _np_conv_ok(in1, in2, mode):
            return numpy_compat.correlate(in1, in2, mode)
        if _plane(in1, in2, mode, correlation=True):
            return _dropins.correlate2d(in1, in2, mode)
        return _correlate_nd(in1, in2, mode)
    raise _bad_method(method)


def convolve(in1, in2, mode="full", method="auto"):
    """Convolve two N-d arrays, exactly as ``scipy.signal.convolve``.

    Parameters
    ----------
    in1, in2 : array_like
        Arrays of the same rank (two 0-d inputs give their product).
    mode : {'full', 'valid', 'same'}, optional
        'full' (default), 'valid' (the inputs swap when `in2` is the larger in
        every dimension; one must be at least as large as the other), 'same'
        (the shape of `in1`, centred on 'full').
    method : {'auto', 'direct', 'fft'}, optional
        'direct' sums directly, 'fft' uses :func:`fftconvolve` (integers are
        rounded back; a NaN or inf first value warns, as SciPy warns), 'auto'
        (default) picks as SciPy's :func:`choose_conv_method` does.

    Returns
    -------
    ndarray
        SciPy's shape, dtype (``numpy.result_type(in1, in2)``) and values of
        its algorithm class.

    Notes
    -----
    As :func:`correlate`: a correlation with `in2` reversed on the direct
    kernels, ``fastconv.convolve`` for SciPy's 1-D shortcut to
    ``numpy.convolve``, :func:`fftconvolve` for the FFT. 'auto' takes the FFT
    exactly where SciPy would, so each result carries the error of the
    algorithm SciPy's carries: a direct sum's, or the FFT's, which is relative
    to the largest outputs (docs/dropins.md).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from fastconv import signal as fsignal
    >>> fsignal.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> img = np.arange(30.0).reshape(5, 6)
    >>> np.allclose(fsignal.convolve(img, np.ones((3, 3)) / 9, "same"),
    ...             signal.convolve(img, np.ones((3, 3)) / 9, "same"))
    True
    """
    y = _dropins.signal_nd(in1, in2, mode, method, True, _signal_nd.SMALL_ND_FLOAT_PRODUCTS,
                           _signal_nd.SMALL_ND_PRODUCTS)  # N-d floats (small) and integers at C speed
    if y is not None:
        return y
    volume, kernel = np.asarray(in1), np.asarray(in2)
    if volume.ndim == kernel.ndim == 0:
        _planning.stop("product", "numpy.multiply", "two 0-d inputs: their product")
        return volume * kernel
    _same_rank(volume, kernel, "volume and kernel")
    if _fftconv.swap_needed(mode, volume.shape, kernel.shape):
        volume, kernel = kernel, volume  # convolution commutes
    if method == "auto":
        method = _signal_nd.choose(volume, kernel, mode)
    if method == "fft":
        out = _fftconv.fftconvolve(volume, kernel, mode=mode)
        result_type = np.result_type(volume, kernel)
        if result_type.kind in "iu":
            out = np.round(out)
        first = out.reshape(-1)[0]
        if np.isnan(first) or np.isinf(first):
            warnings.warn("Use of fft convolution on input with NAN or inf results in NAN or inf "
                          "output. Consider using method='direct' instead.",
                          category=RuntimeWarning, stacklevel=2)
        return out.astype(result_type)
    if method == "direct":
        if _np_conv_ok(volume, kernel, mode):
            return numpy_compat.convolve(volume, kernel, mode)
        if _plane(volume, kernel, mode, correlation=False):
            return _dropins.convolve2d(volume, kernel, mode)
        return correlate(volume, _reverse_and_conj(kernel), mode, "direct")
    raise _bad_method(method)


def choose_conv_method(in1, in2, mode="full", measure=False):
    """The faster of direct sums and the FFT for :func:`convolve` and
    :func:`correlate`, exactly as ``scipy.signal.choose_conv_method``.

    Parameters
    ----------
    in1, in2 : array_like
        The arguments of the convolution.
    mode : {'full', 'valid', 'same'}, optional
        Its mode.
    measure : bool, optional
        If True, time fastconv's :func:`convolve` with both methods (as SciPy
        times its own) and return the faster with the times.

    Returns
    -------
    method : str
        'direct' or 'fft'.
    times : dict, optional
        Seconds per call of each method, with ``measure=True`` only.

    Notes
    -----
    Without `measure`, SciPy's own decision on the same inputs: its operation
    counts and fitted constants, 'direct' for bool, non-numeric inputs and
    integers whose products may exceed float64's 52-bit mantissa. So
    ``method='auto'`` takes the FFT exactly where SciPy would.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from fastconv import signal as fsignal
    >>> x, k = np.ones(10_000), np.ones(1_000)
    >>> fsignal.choose_conv_method(x, k), signal.choose_conv_method(x, k)
    ('fft', 'fft')
    >>> img, blur = np.ones((8, 8)), np.ones((3, 3))
    >>> fsignal.choose_conv_method(img, blur, "same"), signal.choose_conv_method(img, blur, "same")
    ('direct', 'direct')
    """
    volume, kernel = np.asarray(in1), np.asarray(in2)
    if measure:
        times = {}
        for method in ("fft", "direct"):
            times[method] = _signal_nd.time_call(
                lambda m=method: convolve(volume, kernel, mode=mode, method=m))
        return ("fft" if times["fft"] < times["direct"] else "direct"), times
    return _signal_nd.choose(volume, kernel, mode)


def fftconvolve(in1, in2, mode="full", axes=None):
    """Convolve two N-d arrays by FFT, exactly as ``scipy.signal.fftconvolve``.

    Parameters
    ----------
    in1, in2 : array_like
        Arrays of the same rank. Along axes not convolved they must be equal or
        of length 1 (broadcast); so are convolved axes where either has length 1.
    mode : {'full', 'valid', 'same'}, optional
        'full' (default), 'valid' (the inputs swap when `in2` is the larger on
        the convolved axes), 'same' (the shape of `in1`).
    axes : int or sequence of int, optional
        The axes to convolve over; default all.

    Returns
    -------
    ndarray
        SciPy's shape and dtype: float32 or complex64 for single-precision
        inputs (float16 too), long double for long double, float64 or
        complex128 otherwise (integers, bool and objects convert as in
        ``scipy.fft``); an empty float64 array when either input is empty.

    Notes
    -----
    The transforms are ``scipy.fft``'s (``numpy.fft`` without SciPy) with
    SciPy's lengths and precision, one worker as in SciPy, so the values are
    SciPy's. Operands whose magnitudes would
    overflow or underflow the transforms (1e300, subnormal kernels, float32
    beyond 1e19) are scaled by powers of two first, exactly, so the result is
    finite wherever the true sums are. An FFT's error is relative to the
    largest outputs, not to each (docs/dropins.md).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from fastconv import signal as fsignal
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> fsignal.fftconvolve(x, np.ones((1, 2)), "valid", axes=1).round(9)
    array([[ 1.,  3.,  5.],
           [ 9., 11., 13.],
           [17., 19., 21.]])
    >>> y = np.ones((2, 100))
    >>> np.allclose(fsignal.fftconvolve(y, [[1.0, -1.0, 2.0]], axes=-1),
    ...             signal.fftconvolve(y, [[1.0, -1.0, 2.0]], axes=-1))
    True
    """
    return _fftconv.fftconvolve(in1, in2, mode, axes)


def oaconvolve(in1, in2, mode="full", axes=None):
    """Convolve two N-d arrays by overlap-add, exactly as ``scipy.signal.oaconvolve``.

    Parameters
    ----------
    in1, in2 : array_like
        As for :func:`fftconvolve`.
    mode : {'full', 'valid', 'same'}, optional
        As for :func:`fftconvolve`.
    axes : int or sequence of int, optional
        As for :func:`fftconvolve`.

    Returns
    -------
    ndarray
        SciPy's shape and dtype, as :func:`fftconvolve`.

    Notes
    -----
    The longer input is cut, along each axis where the shorter is less than
    half as long, into blocks of SciPy's optimal length (``-K W_{-1}(-1/(2eK))``
    for an overlap of K, rounded up to a fast length); the blocks are
    transformed at once on ``scipy.fft`` (one worker, as SciPy's) and their
    products added back where they overlap. Equal shapes, or one block per
    axis, are :func:`fftconvolve`.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import signal
    >>> from fastconv import signal as fsignal
    >>> rng = np.random.default_rng(0)
    >>> x, h = rng.standard_normal(10_000), rng.standard_normal(64)
    >>> np.allclose(fsignal.oaconvolve(x, h, "same"), signal.oaconvolve(x, h, "same"))
    True
    """
    return _fftconv.oaconvolve(in1, in2, mode, axes)
