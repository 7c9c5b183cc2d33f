"""Drop-in replacements for scipy.ndimage's convolution filters: correlate,
convolve, correlate1d, convolve1d, uniform_filter(1d) and gaussian_filter(1d).

Each takes SciPy's arguments and checks them in SciPy's order (so bad input
raises SciPy's exception type), then runs on fastconv's C kernels:

- 1-D passes (correlate1d, convolve1d, gaussian_filter, uniform_filter and
  their 1-D forms) redo SciPy's own arithmetic (its symmetric and
  antisymmetric sums, its running sums, in double) in SIMD kernels without
  fused multiply-adds, so their results carry SciPy's bits;
- correlate and convolve in float64 (and every integer or bool input, which
  SciPy converts to double) likewise add SciPy's terms in SciPy's order;
  float32 in and out runs the float32 FMA kernels, a direct sum's rounding
  (docs/dropins.md), and falls back to the float64 path wherever that result
  is not finite;
- integer and bool outputs are converted from double as SciPy's C loops do.

The common call goes through the compiled front doors of `_ndfront`, which run
the same kernels with the same arguments at C speed, so a 16x16 image costs
less than SciPy's own call: an ndarray of float64, float32, an integer dtype,
bool or complex (with real weights), in any layout; no `axes`; `output` None,
a dtype (float32, float64, an integer) or an array of one, of the input's
shape and apart from it; a mode by name; Python or NumPy numbers, or one per
axis. Any other call goes through the Python code here, which checks
arguments as SciPy does.

SciPy is not needed for any of this; complex inputs go through real passes as
in SciPy.
"""
from __future__ import annotations

import functools
import math
import numbers
import operator
import warnings
from collections.abc import Iterable

import numpy as np

from . import _kernels, _ndfront, _planning

try:  # NumPy 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index  # type: ignore[no-redef]

__all__ = [
    "convolve",
    "convolve1d",
    "correlate",
    "correlate1d",
    "gaussian_filter",
    "gaussian_filter1d",
    "uniform_filter",
    "uniform_filter1d",
]

# fc_boundary codes (csrc/include/fastconv/fastconv.h) by SciPy's mode names:
# the front doors' table, one for both paths.
_MODES = _ndfront.MODES
_CHANNELS_FIRST_FROM = _ndfront.channels_first_from
FILL, WRAP, SYMM, MIRROR, NEAREST = (_MODES[m] for m in ("constant", "wrap", "reflect", "mirror",
                                                         "nearest"))

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
# dtypes SciPy's C loops read and write: bool, the integers, float32, float64
_SUPPORTED = frozenset("?bBhHiIlLqQfd")


def _gaussian_pass(sigma, order, truncate) -> np.ndarray | None:
    """The weights of one Gaussian pass for _ndfront.separable (sigma a Python
    number, order a Python int), or None when the general path must decide."""
    if type(sigma) not in (float, int) or type(order) is not int or type(truncate) not in (float, int):
        return None
    try:
        return _cached_gaussian_weights(float(sigma), order, float(truncate))
    except (ValueError, TypeError, OverflowError):  # the general path raises SciPy's error
        return None


def _per_axis(value, ndim: int, kinds: tuple) -> list | None:
    """`value` (one number or a list or tuple of `ndim` of them, each of
    `kinds` and not a bool) as one per axis, as SciPy's _normalize_sequence
    spreads it; None for anything else, which the general path decides."""
    values = list(value) if type(value) in (list, tuple) else [value] * ndim
    if len(values) != ndim:
        return None
    for v in values:
        if not isinstance(v, kinds) or isinstance(v, (bool, np.bool_)):
            return None
    return values


@functools.lru_cache(maxsize=64)
def _cached_gaussian_weights(sigma: float, order: int, truncate: float) -> np.ndarray:
    weights = np.ascontiguousarray(_gaussian_weights(sigma, order, truncate, None))
    weights.flags.writeable = False  # shared by every call with these arguments
    return weights


# ---- SciPy's argument rules (scipy.ndimage._ni_support and _filters) ------------

def _mode_code(mode) -> int:
    """SciPy's _extend_mode_to_code for filters: RuntimeError for unknown modes."""
    if isinstance(mode, str) and mode in _MODES:
        return _MODES[mode]
    for name, code in _MODES.items():  # SciPy compares with ==: e.g. an object equal to 'wrap'
        if mode == name:
            return code
    raise RuntimeError("boundary mode not supported")


def _normalize_sequence(value, rank: int) -> list:
    """A scalar repeated `rank` times, or a sequence of exactly `rank` items."""
    if not isinstance(value, str) and np.iterable(value):
        normalized = list(value)
        if len(normalized) != rank:
            raise RuntimeError("sequence argument must have length equal to input rank")
        return normalized
    return [value] * rank



@functools.lru_cache(maxsize=1)
def _non_numeric_name_refused() -> bool:
    """Whether the installed SciPy refuses a non-numeric dtype *name* as `output`
    (``output='bool'``): recent releases raise RuntimeError, older ones (1.10)
    take it. Without SciPy, the recent rule."""
    try:
        from scipy.ndimage import _ni_support
    except ImportError:
        return True
    try:
        _ni_support._get_output("bool", np.zeros(1))
    except (RuntimeError, TypeError, ValueError, AttributeError):
        return True  # refused (or a private helper that changed: the recent rule)
    return False

def _get_output(output, input: np.ndarray, complex_output: bool = False) -> np.ndarray:
    """The array results go into, as SciPy's _get_output makes it (new arrays
    are left uninitialised: every element gets written)."""
    shape = input.shape
    if output is None:
        if not complex_output:
            dtype = input.dtype
            if dtype.char in _SUPPORTED:  # the name SciPy passes is this dtype, native
                return np.empty(shape, dtype if dtype.isnative else dtype.newbyteorder("="))
            return np.empty(shape, dtype=dtype.name)
        return np.empty(shape, dtype=np.promote_types(input.dtype, np.complex64))
    if isinstance(output, (type, np.dtype)):
        if complex_output and np.dtype(output).kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=3)
            output = np.promote_types(output, np.complex64)
        return np.empty(shape, dtype=output)
    if isinstance(output, str):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            raise RuntimeError("output must have complex dtype")
        if not issubclass(dtype.type, np.number) and _non_numeric_name_refused():
            raise RuntimeError("output must have numeric dtype")
        return np.empty(shape, dtype=dtype)
    output = np.asarray(output)
    if output.shape != shape:
        raise RuntimeError("output shape not correct")
    if complex_output and output.dtype.kind != "c":
        raise RuntimeError("output must have complex dtype")
    return output


def _check_axes(axes, ndim: int) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        axes = (operator.index(axes),)
    elif isinstance(axes, Iterable):
        for ax in axes:
            axes = tuple(operator.index(ax) for ax in axes)
            if ax < -ndim or ax > ndim - 1:
                raise ValueError(f"specified axis: {ax} is out of range")
        axes = tuple(ax % ndim if ax < 0 else ax for ax in axes)
    else:
        raise ValueError("axes must be an integer, iterable of integers, or None")
    if len(set(axes)) != len(axes):
        raise ValueError("axes must be unique")
    return axes


def _invalid_origin(origin, lenw: int) -> bool:
    return (origin < -(lenw // 2)) or (origin > (lenw - 1) // 2)


def _complex_via_real_components(func, input, weights, output, cval, **kwargs):
    """Complex filtering as real filterings, exactly as SciPy combines them."""
    complex_input = input.dtype.kind == "c"
    complex_weights = weights.dtype.kind == "c"
    if complex_input and complex_weights:
        func(input.real, weights.real, output=output.real, cval=np.real(cval), **kwargs)
        output.real -= func(input.imag, weights.imag, output=None, cval=np.imag(cval), **kwargs)
        func(input.real, weights.imag, output=output.imag, cval=np.real(cval), **kwargs)
        output.imag += func(input.imag, weights.real, output=None, cval=np.imag(cval), **kwargs)
    elif complex_input:
        func(input.real, weights, output=output.real, cval=np.real(cval), **kwargs)
        func(input.imag, weights, output=output.imag, cval=np.imag(cval), **kwargs)
    else:
        if np.iscomplexobj(cval):
            raise ValueError("Cannot provide a complex-valued cval when the input is real.")
        func(input, weights.real, output=output.real, cval=cval, **kwargs)
        func(input, weights.imag, output=output.imag, cval=cval, **kwargs)
    return output


# ---- what SciPy's C entry points check, then the kernels ----------------------------

def _writable(output: np.ndarray) -> None:
    if not output.flags.writeable:
        raise ValueError("output array is read-only.")


def _as_double(cval) -> float:
    """cval as the C double SciPy parses it to: real numbers only."""
    kind = type(cval)
    if isinstance(cval, (str, bytes, bytearray)) or not (
            hasattr(kind, "__float__") or hasattr(kind, "__index__")):  # float() parses strings
        raise TypeError(f"must be real number, not {kind.__name__}")
    return float(cval)


def _supported(dtype: np.dtype, op: str) -> None:
    if dtype.char not in _SUPPORTED:
        raise RuntimeError(f"array type {dtype!r} not supported" if op == "1d"
                           else "array type not supported")


def _cvt_i32(t: np.ndarray) -> np.ndarray:
    """C's conversion of a double to a 32-bit integer on x86-64 (cvttsd2si):
    truncation, and INT32_MIN for NaN or out-of-range values."""
    return np.where((t >= -2.0**31) & (t < 2.0**31), t, -2.0**31).astype(np.int64)


def _cvt_i64(t: np.ndarray) -> np.ndarray:
    return np.where((t >= -2.0**63) & (t < 2.0**63), t, -2.0**63).astype(np.int64)


def _cvt_u64(t: np.ndarray) -> np.ndarray:
    big = t >= 2.0**63
    low = _cvt_i64(t).view(np.uint64)
    high = _cvt_i64(t - 2.0**63).view(np.uint64) ^ np.uint64(1 << 63)
    return np.where(big, high, low)


def _c_cast(y: np.ndarray, dtype: np.dtype, *, safe: bool) -> np.ndarray:
    """float64 results that do not all fit the integer `dtype`, converted as
    SciPy's C loops convert them where C leaves it undefined, as x86-64 builds
    of SciPy do (the tests check it): truncation through a 32-bit (8-, 16-,
    32-bit signed targets) or 64-bit (uint32, 64-bit) integer, NaN and values
    beyond it giving that integer's minimum, then wrapped to `dtype`. `safe`:
    NI_Correlate's conversion to unsigned types, which negates negative values
    around it (it differs only for uint64 below -2**63)."""
    with np.errstate(invalid="ignore"):
        t = np.trunc(y)
        if dtype.kind == "u" and dtype.itemsize == 8:
            wide = _cvt_u64(t)
            if safe:
                wide = np.where(t > -1, wide, -_cvt_u64(-t))
        elif dtype.itemsize == 8 or (dtype.kind == "u" and dtype.itemsize == 4):
            wide = _cvt_i64(t)
        else:
            wide = _cvt_i32(t)
    return wide.astype(dtype)


# integer dtype -> (min - 1, max + 1): the open interval whose values truncate into it
_BOUNDS = {np.dtype(c): (float(np.iinfo(c).min) - 1.0, float(np.iinfo(c).max) + 1.0)
           for c in "bBhHiIlLqQ"}


def _fits(y: np.ndarray, dtype: np.dtype) -> bool:
    """Whether every value of `y` truncates into `dtype`'s range (NaN does not),
    where C's conversion is defined and equals NumPy's cast."""
    lo, hi = _BOUNDS[dtype.newbyteorder("=")]
    return bool(y.min() > lo) and bool(y.max() < hi)


def _stays_in_range(input: np.ndarray, output: np.ndarray, code: int, cval: float) -> bool:
    """Whether averages of `input`'s values (and of cval, for FILL) must fit
    `output`: the same integer dtype of at most 32 bits (exact in double, so a
    weighted mean's rounding cannot carry it past the range), or bool."""
    dtype = output.dtype.newbyteorder("=")
    if dtype != input.dtype.newbyteorder("=") or dtype.kind not in "biu" or dtype.itemsize > 4:
        return False
    lo, hi = _BOUNDS[np.dtype(np.uint8) if dtype.kind == "b" else dtype]
    return code != FILL or lo + 1.0 <= cval <= hi - 1.0


def _store(y: np.ndarray, output: np.ndarray, *, safe: bool, in_range: bool = False) -> None:
    """Write the results `y` (float32 or float64, output's shape) into `output`
    as SciPy's C loops store doubles: rounding to float32, C conversion to
    integer and bool types (SciPy stores the converted byte into a bool array,
    so 2 stays 2). `in_range`: the caller knows every value fits."""
    if y is output:
        return
    if output.dtype.kind in "biu":
        target = output.view(np.uint8) if output.dtype.kind == "b" else output
        if not in_range and not _fits(y, target.dtype):
            y = _c_cast(np.asarray(y, dtype=np.float64), target.dtype, safe=safe)
        np.copyto(target, y, casting="unsafe")
        return
    with np.errstate(over="ignore", invalid="ignore"):
        np.copyto(output, y, casting="unsafe")


def _work_arrays(input: np.ndarray, output: np.ndarray, cval: float, code: int,
                 direct: bool = True):
    """The kernels' input (C-contiguous, float32 or float64, a copy only when
    needed) and result array (output itself when the kernels can write it and
    `direct`)."""
    dtype = _F32 if (input.dtype == _F32 and output.dtype == _F32
                     and (code != FILL or np.float32(cval) == cval)) else _F64
    if input.dtype.kind == "b":  # SciPy reads the byte (a 2 that it stored is 2.0)
        input = input.view(np.uint8)
    x = np.ascontiguousarray(input, dtype=dtype)
    if (direct and output.dtype == dtype and output.dtype.isnative and output.flags.c_contiguous
            and output.flags.writeable and not np.may_share_memory(x, output)):
        return x, output
    return x, np.empty(input.shape, dtype=dtype)


def _dims(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    outer = 1
    for n in shape[:axis]:
        outer *= n
    inner = 1
    for n in shape[axis + 1:]:
        inner *= n
    return outer, shape[axis], inner


def _axis_pass(input: np.ndarray, weights, size: int, axis: int, output: np.ndarray,
               code: int, cval, origin, convex: bool = False) -> None:
    """scipy.ndimage._nd_image.correlate1d (weights given) or uniform_filter1d
    (weights None, window `size`): the checks SciPy's C entry point makes in
    its order, then the kernel. `convex`: the weights are non-negative and sum
    to at most 1 (a running mean always is), so integer results of small
    integer inputs need no range scan."""
    _writable(output)
    cval = _as_double(cval)
    origin = operator.index(origin)
    _supported(input.dtype, "1d")
    _supported(output.dtype, "1d")
    if input.size == 0:
        return
    x, y = _work_arrays(input, output, cval, code)
    dims = _dims(input.shape, axis)
    if weights is None:
        _kernels.uniform_axis(x.reshape(-1), y.reshape(-1), dims, size, size // 2 + origin,
                              code, cval)
    else:
        _kernels.correlate_axis(x.reshape(-1), weights, y.reshape(-1), dims,
                                len(weights) // 2 + origin, code, cval)
    in_range = (convex or weights is None) and _stays_in_range(input, output, code, cval)
    _store(y, output, safe=False, in_range=in_range)


# ---- correlate1d / convolve1d ------------------------------------------------------

def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """Calculate a 1-D correlation along the given axis, as ``scipy.ndimage.correlate1d``.

    ``out[..., i, ...] = sum_t X[..., i - len(weights) // 2 - origin + t, ...] * weights[t]``
    along `axis`, X being `input` extended past its ends by `mode`.

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex through real passes).
    weights : array_like
        1-D sequence of numbers (complex weights are conjugated, as SciPy does).
    axis : int, optional
        The axis of `input` along which to correlate. Default -1.
    output : array or dtype, optional
        The array to place the output in, or its dtype; by default an array of
        `input`'s dtype.
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', 'grid-mirror', 'grid-wrap'}, optional
        How the input extends past its edges: 'reflect' (``d c b a | a b c d |
        d c b a``, default; 'grid-mirror' is the same), 'constant' (`cval`;
        'grid-constant' is the same), 'nearest' (``a a a a | a b c d | d d d
        d``), 'mirror' (``d c b | a b c d | c b a``), 'wrap' (``a b c d | a b
        c d | a b c d``; 'grid-wrap' is the same).
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    origin : int, optional
        Shifts the filter: ``-(len(weights) // 2) <= origin <= (len(weights) - 1) // 2``.

    Returns
    -------
    ndarray
        `output` if it was an array, else a new array of `input`'s shape and
        `output`'s (or `input`'s) dtype; the values are SciPy's, bit for bit.

    Raises
    ------
    RuntimeError
        Empty or multi-dimensional weights, an unknown mode, a dtype SciPy does
        not filter (float16, long double, object), a wrong output shape.
    ValueError
        An origin outside the range above; a read-only output.
    numpy.exceptions.AxisError
        `axis` out of range.

    Notes
    -----
    Runs on fastconv's line kernels (``csrc/ops/filter1d-template.h``), which add the
    terms in SciPy's order in double without fused multiply-adds; integer
    and bool inputs are converted to double first, as SciPy's line buffers do.

    Examples
    --------
    >>> import fastconv.ndimage as fndi
    >>> fndi.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((16, 100))
    >>> np.array_equal(fndi.correlate1d(x, [0.25, 0.5, 0.25], axis=0, mode="nearest"),
    ...                ndimage.correlate1d(x, [0.25, 0.5, 0.25], axis=0, mode="nearest"))
    True
    """
    fast = _ndfront.correlate1d(input, weights, axis, output, mode, cval, origin, False)
    if fast is not None:
        return fast
    input = np.asarray(input)
    weights = np.asarray(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c":
            weights = weights.conj().astype(np.complex128, copy=False)
        output = _get_output(output, input, complex_output=True)
        return _complex_via_real_components(correlate1d, input, weights, output, cval,
                                            axis=axis, mode=mode, origin=origin)
    output = _get_output(output, input)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise RuntimeError("no filter weights given")
    weights = np.ascontiguousarray(weights)
    axis = normalize_axis_index(operator.index(axis), input.ndim)
    if _invalid_origin(origin, len(weights)):
        raise ValueError("Invalid origin; origin must satisfy -(len(weights) // 2) <= origin "
                         f"<= (len(weights)-1) // 2; got origin={origin!r} for "
                         f"{len(weights)} weights")
    code = _mode_code(mode)
    _axis_pass(input, weights, 0, axis, output, code, cval, origin)
    return output


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """Calculate a 1-D convolution along the given axis, as ``scipy.ndimage.convolve1d``.

    A correlation (:func:`correlate1d`) with `weights` reversed and the origin
    mirrored (``-origin``, one less for an even number of weights).

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex through real passes).
    weights : array_like
        1-D sequence of numbers.
    axis : int, optional
        The axis of `input` along which to convolve. Default -1.
    output : array or dtype, optional
        The array to place the output in, or its dtype.
    mode : str, optional
        As in :func:`correlate1d`; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    origin : int, optional
        Shifts the filter, as in :func:`correlate1d`.

    Returns
    -------
    ndarray
        SciPy's values, shape and dtype.

    Raises
    ------
    RuntimeError, ValueError, numpy.exceptions.AxisError
        As :func:`correlate1d`.

    Examples
    --------
    >>> import fastconv.ndimage as fndi
    >>> fndi.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    fast = _ndfront.correlate1d(input, weights, axis, output, mode, cval, origin, True)
    if fast is not None:
        return fast
    weights = np.asarray(weights)
    weights = weights[::-1]
    origin = -origin
    if not weights.shape[0] & 1:
        origin -= 1
    if weights.dtype.kind == "c":
        weights = weights.conj()  # undone by correlate1d's conjugation
    return correlate1d(input, weights, axis, output, mode, cval, origin)


# ---- gaussian_filter -------------------------------------------------------------------

def _gaussian_kernel1d(sigma, order, radius):
    """SciPy's 1-D Gaussian kernel (or its derivative of `order`), computed by
    the same NumPy operations, so the weights are SciPy's bits."""
    if order < 0:
        raise ValueError("order must be non-negative")
    exponent_range = np.arange(order + 1)
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi_x = np.exp(-0.5 / sigma2 * x ** 2)
    phi_x = phi_x / phi_x.sum()
    if order == 0:
        return phi_x
    # f(x) = q(x) * phi(x); f'(x) = (q'(x) + q(x) * p'(x)) * phi(x), p'(x) = -x / sigma**2
    q = np.zeros(order + 1)
    q[0] = 1
    D = np.diag(exponent_range[1:], 1)
    P = np.diag(np.ones(order) / -sigma2, -1)
    Q_deriv = D + P
    for _ in range(order):
        q = Q_deriv.dot(q)
    q = (x[:, None] ** exponent_range).dot(q)
    return q * phi_x


def _gaussian_weights(sigma, order, truncate, radius):
    sd = float(sigma)
    lw = int(truncate * sd + 0.5)  # the radius: `truncate` standard deviations
    if radius is not None:
        lw = radius
    if not isinstance(lw, numbers.Integral) or lw < 0:
        raise ValueError("Radius must be a nonnegative integer.")
    return _gaussian_kernel1d(sigma, order, lw)[::-1]  # reversed: correlate1d convolves it


def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None):
    """1-D Gaussian filter, as ``scipy.ndimage.gaussian_filter1d``.

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex through real passes).
    sigma : scalar
        Standard deviation of the Gaussian kernel.
    axis : int, optional
        The axis of `input` along which to filter. Default -1.
    order : int, optional
        0 (default) convolves with the Gaussian, a positive order with that
        derivative of it.
    output : array or dtype, optional
        The array to place the output in, or its dtype.
    mode : str, optional
        As in :func:`correlate1d`; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    truncate : float, optional
        The kernel's radius in standard deviations, ``int(truncate * sigma +
        0.5)``. Default 4.0.
    radius : None or int, optional, keyword only
        The kernel's radius (``2 * radius + 1`` taps); overrides `truncate`.

    Returns
    -------
    ndarray
        SciPy's values, bit for bit, shape and dtype.

    Raises
    ------
    ValueError
        A negative radius (from a negative `sigma`, or given) or order.

    Examples
    --------
    >>> import fastconv.ndimage as fndi
    >>> fndi.gaussian_filter1d([1.0, 2.0, 3.0, 4.0, 5.0], 1)
    array([1.42704095, 2.06782203, 3.        , 3.93217797, 4.57295905])
    """
    weights = _gaussian_pass(sigma, order, truncate) if radius is None else None
    if weights is not None:
        fast = _ndfront.correlate1d(input, weights, axis, output, mode, cval, 0, False)
        if fast is not None:
            return fast
    weights = _gaussian_weights(sigma, order, truncate, radius)
    return correlate1d(input, weights, axis, output, mode, cval, 0)


def _passes(input: np.ndarray, output: np.ndarray, passes: list) -> np.ndarray:
    """Run 1-D passes (weights or None, size, axis, mode code, cval, origin)
    one after another, each into an array of `output`'s dtype as SciPy does
    (so each pass rounds as SciPy's), the last into `output`: the passes
    alternate between `output` and one scratch array, and none reads the
    array it writes."""
    if not passes:
        _planning.stop("copy", "numpy.copyto", "no axis left to filter: the input copied")
        output[...] = input[...]
        return output
    scratch = None
    src = input
    planned = []  # plan-only mode (fastconv.explain): each pass's plan
    for i, (weights, size, axis, code, cval, origin) in enumerate(passes):
        if (len(passes) - 1 - i) % 2 == 0:
            dst = output
        else:
            if scratch is None:
                scratch = np.empty(output.shape, dtype=output.dtype)
            dst = scratch
        convex = weights is None or bool(weights.min() >= 0 and weights.sum() <= 1 + 1e-12)
        try:
            _axis_pass(src, weights, size, axis, dst, code, cval, origin, convex)
        except _planning.Planned as stop:  # nothing was computed: on to the next pass
            planned.append(dict(stop.plan, axis=axis))
            continue
        src = dst
    if planned:
        raise _planning.Planned({**planned[-1], "steps": planned,
                                 "path": "general path (Python), one pass per axis"})
    return output


def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0,
                    *, radius=None, axes=None):
    """Multidimensional Gaussian filter, as ``scipy.ndimage.gaussian_filter``.

    One 1-D Gaussian pass (:func:`gaussian_filter1d`) per axis with a
    `sigma` above 1e-15, each into an array of the output's dtype (so integer
    outputs round after every pass, as in SciPy).

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex through real passes).
    sigma : scalar or sequence of scalars
        Standard deviation per axis (one number: every axis).
    order : int or sequence of ints, optional
        0 (default): the Gaussian; positive: that derivative, per axis.
    output : array or dtype, optional
        The array to place the output in, or its dtype.
    mode : str or sequence of str, optional
        As in :func:`correlate1d`, one per axis or one for all; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    truncate : float, optional
        The kernels' radius in standard deviations. Default 4.0.
    radius : None or int or sequence of ints, optional, keyword only
        The kernels' radius per axis; overrides `truncate`.
    axes : None or int or tuple of int, optional, keyword only
        The axes to filter (default all); sequences of `sigma`, `order`, `mode`
        and `radius` then follow `axes`.

    Returns
    -------
    ndarray
        SciPy's values, bit for bit, shape and dtype.

    Raises
    ------
    RuntimeError
        A sequence argument whose length is not the number of axes.
    ValueError
        A negative radius or order; repeated axes.

    Notes
    -----
    Each pass runs on fastconv's line kernels in SciPy's arithmetic: down the
    columns of the array for leading axes (vectorised across them, no copy),
    along rows for the last axis, threaded above ~50 us of work.

    Examples
    --------
    >>> import numpy as np, fastconv.ndimage as fndi
    >>> a = np.arange(50, step=2).reshape((5, 5))
    >>> fndi.gaussian_filter(a, sigma=1)
    array([[ 4,  6,  8,  9, 11],
           [10, 12, 14, 15, 17],
           [20, 22, 24, 25, 27],
           [29, 31, 33, 34, 36],
           [35, 37, 39, 40, 42]])
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((32, 48), dtype=np.float32)
    >>> np.array_equal(fndi.gaussian_filter(x, (2, 0.5), mode=["wrap", "mirror"]),
    ...                ndimage.gaussian_filter(x, (2, 0.5), mode=["wrap", "mirror"]))
    True
    """
    if type(input) is np.ndarray and axes is None and radius is None:
        # (a float32 sigma gives SciPy float32 weights: the general path's)
        sigmas = _per_axis(sigma, input.ndim, (float, int, np.integer))
        orders = _per_axis(order, input.ndim, (int, np.integer))
        if (sigmas is not None and orders is not None
                and any(s > 1e-15 for s in sigmas)):  # (SciPy skips the others' axes)
            passes = [None if not s > 1e-15 else _gaussian_pass(float(s), int(o), truncate)
                      for s, o in zip(sigmas, orders)]
            if all(p is not None for p, s in zip(passes, sigmas) if s > 1e-15):
                fast = _ndfront.separable(input, output, mode, cval,
                                          [None if p is None else (p, 0, 0) for p in passes])
                if fast is not None:
                    return fast
    input = np.asarray(input)
    output = _get_output(output, input)
    axes = _check_axes(axes, input.ndim)
    num_axes = len(axes)
    orders = _normalize_sequence(order, num_axes)
    sigmas = _normalize_sequence(sigma, num_axes)
    modes = _normalize_sequence(mode, num_axes)
    radiuses = _normalize_sequence(radius, num_axes)
    chosen = [(axes[ii], sigmas[ii], orders[ii], modes[ii], radiuses[ii])
              for ii in range(num_axes) if sigmas[ii] > 1e-15]
    if input.dtype.kind == "c" or output.dtype.kind == "c":
        # SciPy's own sequence through correlate1d's complex path
        if not chosen:
            _planning.stop("copy", "numpy.copyto", "no axis left to filter: the input copied")
            output[...] = input[...]
        for axis, sig, ordr, md, rad in chosen:
            gaussian_filter1d(input, sig, axis, ordr, output, md, cval, truncate, radius=rad)
            input = output
        return output
    passes = []
    for axis, sig, ordr, md, rad in chosen:
        weights = np.ascontiguousarray(_gaussian_weights(sig, ordr, truncate, rad))
        axis = normalize_axis_index(axis, input.ndim)
        passes.append((weights, 0, axis, _mode_code(md), cval, 0))
    return _passes(input, output, passes)


# ---- uniform_filter ---------------------------------------------------------------------

def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D uniform (moving average) filter, as ``scipy.ndimage.uniform_filter1d``.

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex: real and imaginary parts).
    size : int
        Length of the window, >= 1.
    axis : int, optional
        The axis of `input` along which to filter. Default -1.
    output : array or dtype, optional
        The array to place the output in, or its dtype.
    mode : str, optional
        As in :func:`correlate1d`; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    origin : int, optional
        Shifts the window: ``0 <= size // 2 + origin < size``.

    Returns
    -------
    ndarray
        SciPy's values, bit for bit, shape and dtype.

    Raises
    ------
    RuntimeError
        ``size < 1``; an unknown mode or a dtype SciPy does not filter.
    ValueError
        An origin outside the range above.

    Notes
    -----
    SciPy's running sum, in double: the first window added up, then one value
    in and one out per step, each output that sum divided by `size`; fastconv
    runs it across many lines at once (SIMD), so the bits are SciPy's.

    Examples
    --------
    >>> import fastconv.ndimage as fndi
    >>> fndi.uniform_filter1d([2, 8, 0, 4, 1, 9, 9, 0], size=3)
    array([4, 3, 4, 1, 4, 6, 6, 3])
    """
    fast = _ndfront.uniform_filter1d(input, size, axis, output, mode, cval, origin)
    if fast is not None:
        return fast
    input = np.asarray(input)
    axis = normalize_axis_index(operator.index(axis), input.ndim)
    if size < 1:
        raise RuntimeError("incorrect filter size")
    complex_output = input.dtype.kind == "c"
    output = _get_output(output, input, complex_output=complex_output)
    if (size // 2 + origin < 0) or (size // 2 + origin >= size):
        raise ValueError("invalid origin")
    code = _mode_code(mode)
    if not complex_output:
        _axis_pass(input, None, operator.index(size), axis, output, code, cval, origin)
    else:
        size = operator.index(size)
        _axis_pass(input.real, None, size, axis, output.real, code, np.real(cval), origin)
        _axis_pass(input.imag, None, size, axis, output.imag, code, np.imag(cval), origin)
    return output


def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *,
                   axes=None):
    """Multidimensional uniform (moving average) filter, as ``scipy.ndimage.uniform_filter``.

    One running-mean pass (:func:`uniform_filter1d`) per axis whose size is
    above 1, each into an array of the output's dtype, as SciPy does (not a
    size**d kernel).

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex: real and imaginary parts).
    size : int or sequence of ints, optional
        The window's length per axis (one number: every axis). Default 3.
    output : array or dtype, optional
        The array to place the output in, or its dtype.
    mode : str or sequence of str, optional
        As in :func:`correlate1d`, per axis or for all; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    origin : int or sequence of ints, optional
        Shifts the window per axis. Default 0.
    axes : None or int or tuple of int, optional, keyword only
        The axes to filter (default all); sequences of `size`, `origin` and
        `mode` then follow `axes`.

    Returns
    -------
    ndarray
        SciPy's values, bit for bit, shape and dtype.

    Raises
    ------
    RuntimeError
        A sequence argument whose length is not the number of axes.
    ValueError
        An origin outside its window; repeated axes.

    Examples
    --------
    >>> import numpy as np, fastconv.ndimage as fndi
    >>> from scipy import ndimage
    >>> fndi.uniform_filter(np.arange(16.0).reshape(4, 4), size=3, mode="nearest")
    array([[ 1.66666667,  2.33333333,  3.33333333,  4.        ],
           [ 4.33333333,  5.        ,  6.        ,  6.66666667],
           [ 8.33333333,  9.        , 10.        , 10.66666667],
           [11.        , 11.66666667, 12.66666667, 13.33333333]])
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    >>> np.array_equal(fndi.uniform_filter(image, 5), ndimage.uniform_filter(image, 5))
    True
    """
    if type(input) is np.ndarray and axes is None:
        sizes = _per_axis(size, input.ndim, (int, np.integer))
        origins = _per_axis(origin, input.ndim, (int, np.integer))
        if sizes is not None and origins is not None:
            fast = _ndfront.separable(input, output, mode, cval,
                                      [(None, int(n), int(o)) if n > 1 else None
                                       for n, o in zip(sizes, origins)])
            if fast is not None:
                return fast
    input = np.asarray(input)
    output = _get_output(output, input, complex_output=input.dtype.kind == "c")
    axes = _check_axes(axes, input.ndim)
    num_axes = len(axes)
    sizes = _normalize_sequence(size, num_axes)
    origins = _normalize_sequence(origin, num_axes)
    modes = _normalize_sequence(mode, num_axes)
    chosen = [(axes[ii], sizes[ii], origins[ii], modes[ii])
              for ii in range(num_axes) if sizes[ii] > 1]
    if input.dtype.kind == "c":
        if not chosen:
            _planning.stop("copy", "numpy.copyto", "no axis left to filter: the input copied")
            output[...] = input[...]
        for axis, sz, org, md in chosen:
            uniform_filter1d(input, int(sz), axis, output, md, cval, org)
            input = output
        return output
    passes = []
    for axis, sz, org, md in chosen:
        sz = int(sz)
        axis = normalize_axis_index(axis, input.ndim)
        if (sz // 2 + org < 0) or (sz // 2 + org >= sz):
            raise ValueError("invalid origin")
        passes.append((None, sz, axis, _mode_code(md), cval, org))
    return _passes(input, output, passes)


# ---- correlate / convolve ------------------------------------------------------------

def _expand_origin(ndim_image: int, axes, origin) -> list:
    num_axes = len(axes)
    origins = _normalize_sequence(origin, num_axes)
    if num_axes < ndim_image:
        full = [0] * ndim_image
        for o, ax in zip(origins, axes):
            full[ax] = o
        origins = full
    return origins


def _expand_footprint(ndim_image: int, axes, footprint: np.ndarray) -> np.ndarray:
    num_axes = len(axes)
    if num_axes < ndim_image:
        if footprint.ndim != num_axes:
            raise RuntimeError(f"weights.ndim ({footprint.ndim}) must match len(axes) "
                               f"({num_axes})")
        footprint = np.expand_dims(footprint, tuple(ax for ax in range(ndim_image)
                                                    if ax not in axes))
    return footprint


def _merged(shape, kshape, pads):
    """Axes of one element filtered by one tap dropped, and adjacent axes both
    filtered by one tap merged into one axis (reshapes of C-ordered data), so
    that (N, H, W) by (3, 1, 1) runs as (N, H*W) by (3, 1) and (H, W, 1) by
    (3, 3, 1) as (H, W) by (3, 3); as the front door runs them."""
    s, k, p = [], [], []
    for a, (n, kn, pn) in enumerate(zip(shape, kshape, pads)):
        if n == 1 and kn == 1 and (s or a < len(shape) - 1):
            continue
        if s and kn == 1 and k[-1] == 1:
            s[-1] *= n
        else:
            s.append(n), k.append(kn), p.append(pn)
    return tuple(s), tuple(k), tuple(p)


def _nd_correlate(input: np.ndarray, weights: np.ndarray, output: np.ndarray, code: int,
                  cval, origins) -> None:
    """scipy.ndimage._nd_image.correlate: the checks of its C entry point, in
    its order, then the kernels."""
    _writable(output)
    cval = _as_double(cval)
    origins = [operator.index(o) for o in origins]
    if len(origins) != input.ndim:
        raise ValueError(f"Invalid {len(origins)} element 'origin' sequence for "
                         f"{input.ndim}-dimensional input array.")
    if input.size == 0:  # SciPy's loop never looks at a dtype then
        return
    _supported(input.dtype, "nd")
    _supported(output.dtype, "nd")
    if weights.size == 0 or weights.ndim != input.ndim:  # only with an empty weights axis
        _store(np.zeros(input.shape), output, safe=True)
        return
    pads = [n // 2 + o for n, o in zip(weights.shape, origins)]
    order = _channels_first(input.shape, weights.shape)
    if order is not None:
        input, weights = input.transpose(order), weights.transpose(order)
        pads = [pads[a] for a in order]
    shape, kshape, pads = _merged(input.shape or (1,), weights.shape or (1,), pads or [0])
    # The binding leaves out the weights NI_Correlate leaves out (magnitude at
    # most DBL_EPSILON, NaN).
    k = np.ascontiguousarray(weights, dtype=_F64).reshape(-1)
    x, y = _work_arrays(input, output, cval, code, direct=order is None)
    if not _kernels.correlatend(x.reshape(-1), k, y.reshape(-1), shape, kshape, pads, code, cval):
        # float32 results not all finite: a zero weight met inf or NaN (SciPy
        # skips those weights) or a partial sum overflowed; double, as SciPy
        x, y = np.ascontiguousarray(input, dtype=_F64), np.empty(input.shape, _F64)
        _kernels.correlatend(x.reshape(-1), k, y.reshape(-1), shape, kshape, pads, code, cval)
    _store(y if order is None else y.transpose(np.argsort(order)), output, safe=True)


def _channels_first(shape: tuple[int, ...], wshape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The axis order that puts trailing axes filtered by one tap in front when
    they hold 2-15 elements (an image's colour channels) in an array large
    enough to repay the copies (the front door's threshold), else None: the
    2-D kernels then run rows of the image, not rows of three channels. The
    taps and their order stay the same, so do the float64 bits."""
    j = len(shape)
    while j > 1 and wshape[j - 1] == 1:
        j -= 1
    if (j == len(shape) or not 1 < math.prod(shape[j:]) < 16
            or math.prod(shape) < _CHANNELS_FIRST_FROM):
        return None
    return tuple(range(j, len(shape))) + tuple(range(j))


def _correlate_or_convolve(input, weights, output, mode, cval, origin, convolution, axes):
    input = np.asarray(input)
    weights = np.asarray(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c" and not convolution:
            weights = weights.conj()  # as numpy.correlate: the weights are conjugated
        output = _get_output(output, input, complex_output=True)
        return _complex_via_real_components(_correlate_or_convolve, input, weights, output, cval,
                                            mode=mode, origin=origin, convolution=convolution,
                                            axes=axes)
    axes = _check_axes(axes, input.ndim)
    weights = np.asarray(weights, dtype=np.float64)
    weights = _expand_footprint(input.ndim, axes, weights)
    origins = _expand_origin(input.ndim, axes, origin)
    wshape = [ii for ii in weights.shape if ii > 0]
    if len(wshape) != input.ndim:
        raise RuntimeError(f"weights.ndim ({len(wshape)}) must match len(axes) ({len(axes)})")
    if convolution:
        weights = weights[tuple([slice(None, None, -1)] * weights.ndim)]
        for ii in range(len(origins)):
            origins[ii] = -origins[ii]
            if not weights.shape[ii] & 1:
                origins[ii] -= 1
    for org, lenw in zip(origins, wshape):
        if _invalid_origin(org, lenw):
            raise ValueError("Invalid origin; origin must satisfy -(weights.shape[k] // 2) "
                             f"<= origin[k] <= (weights.shape[k]-1) // 2; got {origins} for "
                             f"weights of shape {weights.shape}")
    output = _get_output(output, input)
    if not isinstance(mode, str) and isinstance(mode, Iterable):
        raise RuntimeError("A sequence of modes is not supported")  # noqa: TRY004 - SciPy's type
    code = _mode_code(mode)
    _nd_correlate(input, weights, output, code, cval, origins)
    return output


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional correlation, as ``scipy.ndimage.correlate``.

    ``out[o] = sum_t X[o - weights.shape // 2 - origin + t] * weights[t]`` over
    every index vector t of `weights`, X being `input` extended past its edges
    by `mode`; the result has `input`'s shape.

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex through real passes), any
        number of dimensions.
    weights : array_like
        As many dimensions as `input` (or as `axes`); complex weights are
        conjugated, as SciPy does.
    output : array or dtype, optional
        The array to place the output in (it may be `input` itself), or its dtype.
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', 'grid-mirror', 'grid-wrap'}, optional
        As in :func:`correlate1d`, one mode for all axes; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    origin : int or sequence of ints, optional
        Shifts the filter per axis: ``-(weights.shape[k] // 2) <= origin[k] <=
        (weights.shape[k] - 1) // 2``.
    axes : None or tuple of int, optional, keyword only
        The axes `weights` spans (default all); the others are filtered with
        one tap.

    Returns
    -------
    ndarray
        SciPy's shape and dtype; SciPy's values, bit for bit, for every input
        but float32 in and out (a direct float32 sum's rounding, see Notes).

    Raises
    ------
    RuntimeError
        Weights of the wrong number of dimensions, an unknown mode or a
        sequence of modes, a dtype SciPy does not filter, a wrong output shape.
    ValueError
        An origin outside the range above; a read-only output; repeated axes.

    Notes
    -----
    Runs on fastconv's correlation driver (``csrc/ops/correlate-template.h``): the
    last two axes as threaded 2-D correlations over row bands, whose edge
    windows are copied with `mode` applied, the leading axes one kernel slice
    at a time. float64 (and integers and bool, converted to double as SciPy
    does) adds SciPy's terms in SciPy's order without fused multiply-adds,
    skipping the weights SciPy skips (magnitude at most DBL_EPSILON). float32
    in and out sums in float32 with FMA (SciPy sums in double and rounds
    once): each output within a direct sum's error; where that result is not
    finite, the output is recomputed in double, so NaN and inf land where
    SciPy puts them.

    Examples
    --------
    >>> import numpy as np, fastconv.ndimage as fndi
    >>> from scipy import ndimage
    >>> a = np.arange(16).reshape(4, 4)
    >>> cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    >>> fndi.correlate(a, cross, mode="constant")
    array([[ 5,  8, 12, 12],
           [17, 25, 30, 27],
           [33, 45, 50, 43],
           [33, 48, 52, 40]])
    >>> x = np.random.default_rng(0).random((64, 64))
    >>> np.array_equal(fndi.correlate(x, cross / 5.0), ndimage.correlate(x, cross / 5.0))
    True
    """
    fast = _ndfront.correlate(input, weights, output, mode, cval, origin, axes, False)
    if fast is not None:
        return fast
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, False, axes)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """Multidimensional convolution, as ``scipy.ndimage.convolve``.

    A correlation (:func:`correlate`) with `weights` reversed along every axis
    and the origins mirrored (``-origin``, one less along axes of even length).

    Parameters
    ----------
    input : array_like
        bool, integer, float32 or float64 (complex through real passes).
    weights : array_like
        As many dimensions as `input` (or as `axes`).
    output : array or dtype, optional
        The array to place the output in, or its dtype.
    mode : str, optional
        As in :func:`correlate1d`, one mode for all axes; default 'reflect'.
    cval : scalar, optional
        Value past the edges for 'constant'. Default 0.0.
    origin : int or sequence of ints, optional
        Shifts the filter per axis.
    axes : None or tuple of int, optional, keyword only
        The axes `weights` spans (default all).

    Returns
    -------
    ndarray
        As :func:`correlate`.

    Raises
    ------
    RuntimeError, ValueError
        As :func:`correlate`.

    Examples
    --------
    >>> import numpy as np, fastconv.ndimage as fndi
    >>> a = np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]])
    >>> k = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    >>> fndi.convolve(a, k, mode="constant", cval=0.0)
    array([[11, 10,  7,  4],
           [10,  3, 11, 11],
           [15, 12, 14,  7],
           [12,  3,  7,  0]])
    """
    fast = _ndfront.correlate(input, weights, output, mode, cval, origin, axes, True)
    if fast is not None:
        return fast
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, True, axes)
