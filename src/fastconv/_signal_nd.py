"""The engine behind fastconv.signal's N-d convolve and correlate: SciPy's direct
correlation (its ``_correlateND``) on the 2-D SIMD kernels, and SciPy's choice
between direct sums and the FFT, re-implemented to decide as SciPy decides.

Direct sums, for inputs of one native dtype (the result's) and SciPy's zero
extension:

    y[s] = sum_t X[s - pad + t] * k[t]        (no conjugation, no flip here)

- 1-D and 2-D: one call of the 2-D engine (``_correlate.correlate``), which
  extends the input per task and never copies it whole.
- 3-D and more: two axes are the 2-D kernel's; for each tap of the kernel's
  other ("leading") axes, the input slab those outputs read is a stack of 2-D
  images, laid end to end as one tall image and correlated with that tap's 2-D
  kernel in 'valid' mode (the rows that would straddle two images are left
  out), each tap's rows added to the result in the taps' order by the thread
  that computed them. The input is zero-extended once, as SciPy does.

Every output is thus a sum of all its products with zero-extended input, as
in SciPy (0 * inf is NaN where SciPy's is), in an order fixed by the kernel's
shape and the choice of the two axes, not by the output's position: blocks of a
chunked array (fastconv.dask.signal) give the same bits as the whole.

dtypes: float32, float64 natively; complex64/128 as real passes (two for a real
kernel, four otherwise); integers on the float64 kernels while every partial
sum is exact (below 2**53), wrapped back to the dtype as SciPy's wrap. Anything
else returns None: the caller hands it to SciPy's own function, or without
SciPy to the slow twin here (`slow_correlate`).
"""
from __future__ import annotations

import math
import timeit

import numpy as np

from . import _correlate, _kernels, _planning

_FAST_KINDS = "iu"
_FAST_CHARS = "fdFD"
# Products under which a call of 3 or more dimensions costs SciPy's own loop
# less than fastconv's slab set-up (15-45 microseconds, more with more axes):
# it goes to SciPy. Real floats, whose set-up is the cheapest, cross over at
# about SMALL_ND_FLOAT_PRODUCTS per axis beyond two (AMD EPYC Zen 4: 3-D 960
# products 1.3x faster, 324 1.5x slower; 4-D 2304 1.35x faster, 1296 1.1x
# slower); integers and complex values at SMALL_ND_PRODUCTS.
SMALL_ND_PRODUCTS = 4096
SMALL_ND_FLOAT_PRODUCTS = 1024
# A last axis with fewer outputs than this leaves the kernels' vectors mostly
# idle: another axis with many more outputs takes its place as the rows.
_SHORT_ROW = 64


def pads_and_shape(mode: str, shape1, shape2) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """SciPy's _correlateND geometry: per axis, the input positions before the
    first output's window, and the output shape. 'same' is centred on 'full'
    at (m - 1) // 2, for correlate and convolve alike."""
    if mode == "valid":
        return (0,) * len(shape1), tuple(n - m + 1 for n, m in zip(shape1, shape2))
    if mode == "same":
        return tuple(m // 2 for m in shape2), tuple(shape1)
    return tuple(m - 1 for m in shape2), tuple(n + m - 1 for n, m in zip(shape1, shape2))


def axes_order(kshape, out_shape) -> tuple[int, ...]:
    """A permutation of the axes with the 2-D kernels' two last: the two with
    the longest kernel extents (fewest 2-D calls; later axes win ties), in
    their own order unless the last one has few outputs and the other many
    more (then the long one makes the rows)."""
    nd = len(kshape)
    if nd == 1:
        return (0,)
    if nd == 2:
        pair = [0, 1]
    else:
        pair = sorted(sorted(range(nd), key=lambda a: (kshape[a], a))[-2:])
    a, b = pair
    if out_shape[b] < _SHORT_ROW and out_shape[a] >= 2 * out_shape[b] + _SHORT_ROW:
        a, b = b, a
    lead = [ax for ax in range(nd) if ax not in pair]
    return tuple(lead + [a, b])


def _stacked(xp: np.ndarray, k: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """'valid' correlation of the zero-extended input `xp` (C-contiguous, real
    float32/float64) with `k` (same dtype), 3-D or more: per leading tap, one
    2-D kernel call on the slab's images stacked into one tall image."""
    lead = xp.ndim - 2
    (hb, wb), kh = xp.shape[-2:], k.shape[-2]
    oh, ow = out_shape[-2:]
    images = math.prod(out_shape[:lead])
    k = np.ascontiguousarray(k)
    y = np.empty((images, oh, ow), dtype=xp.dtype)
    for i, tap in enumerate(np.ndindex(*k.shape[:lead])):
        slab = xp[tuple(slice(t, t + o) for t, o in zip(tap, out_shape[:lead]))]
        tall = slab.reshape(images * hb, wb)  # a view for 3-D, a copy when the slab has gaps
        # each image's first oh rows, written by the first tap and added to y
        # by the others (y + the tap's rows) where the thread computed them
        _kernels.correlate2d_stacked(tall, k[tap], y, hb, i > 0)
    return y.reshape(out_shape)


def _extended(x: np.ndarray, pads, out_shape, kshape, dtype) -> np.ndarray:
    """x zero-extended to the positions the outputs read, as a new C-contiguous
    array of `dtype` ('valid' reads x itself: a contiguous copy only if needed)."""
    shape = tuple(o + m - 1 for o, m in zip(out_shape, kshape))
    if shape == x.shape and not any(pads):
        return np.ascontiguousarray(x, dtype=dtype)
    xp = np.zeros(shape, dtype=dtype)
    xp[tuple(slice(p, p + n) for p, n in zip(pads, x.shape))] = x
    return xp


def _correlate_nd(x, k, pads, out_shape, order) -> np.ndarray | None:
    """The correlation above for x and k of one fast dtype, any rank, axes
    permuted by `order` (the result permuted back). None for integers whose
    sums float64 cannot hold exactly."""
    dtype = x.dtype
    if order != tuple(range(x.ndim)):
        x, k = x.transpose(order), k.transpose(order)
        pads = tuple(pads[a] for a in order)
        shape = tuple(out_shape[a] for a in order)
        y = _correlate_nd(x, k, pads, shape, tuple(range(x.ndim)))
        return None if y is None else np.ascontiguousarray(y.transpose(np.argsort(order)))
    if x.ndim <= 2:
        if x.ndim == 1:  # one row: zero padding with every product formed, as SciPy's ND loop
            y = _correlate.correlate(x[None, :], k[None, :], (0, pads[0]), (1, out_shape[0]))
            return None if y is None else y[0]
        return _correlate.correlate(x, k, tuple(pads), tuple(out_shape))
    exact = dtype.kind in _FAST_KINDS
    work = np.dtype(np.float64) if exact else dtype
    if exact and x.size > _correlate._MAX_F64_ELEMS:
        return None
    xp = _extended(x, pads, out_shape, k.shape, work)  # sizes before values
    if exact:
        if not _correlate.exact_in_float64(x, k):
            return None
        return _correlate._from_exact(_stacked(xp, k.astype(work), out_shape), dtype)
    if dtype.kind != "c":
        return _stacked(xp, k.astype(dtype, copy=False), out_shape)
    # complex: (a + ib) * (c + id) as real correlations, the parts split once
    xr, xi = np.ascontiguousarray(xp.real), np.ascontiguousarray(xp.imag)
    kr, ki = k.real, k.imag
    y = np.empty(out_shape, dtype=dtype)
    re, im = _stacked(xr, kr, out_shape), _stacked(xi, kr, out_shape)
    if np.any(ki) or not _correlate._finite(xp):  # skipping them would drop inf * 0 = NaN
        re -= _stacked(xi, ki, out_shape)
        im += _stacked(xr, ki, out_shape)
    y.real, y.imag = re, im
    return y


def small(shape1, shape2, mode: str, dtype: np.dtype | None = None) -> bool:
    """A call of 3 or more dimensions SciPy's own loop finishes sooner (result
    `dtype`; None: as integers)."""
    if len(shape1) < 3:
        return False
    limit = SMALL_ND_PRODUCTS
    if dtype is not None and dtype.char in "fd":
        limit = min(limit, SMALL_ND_FLOAT_PRODUCTS * (len(shape1) - 2))
    return math.prod(pads_and_shape(mode, shape1, shape2)[1]) * math.prod(shape2) < limit


def fast_dtype(dtype: np.dtype) -> bool:
    """Whether the direct kernels compute this result dtype here."""
    return dtype.kind in _FAST_KINDS or dtype.char in _FAST_CHARS


def correlate(x, k, mode: str, order=None) -> np.ndarray | None:
    """SciPy's direct N-d correlation without conjugation, for non-empty x and
    k of one fast dtype (`fast_dtype`), in the order SciPy has them after its
    swaps; `order` as `axes_order` gives it (computed when None)."""
    pads, out_shape = pads_and_shape(mode, x.shape, k.shape)
    if order is None:
        order = axes_order(k.shape, out_shape)
    x, k = _correlate._owned(x), _correlate._owned(k)
    return _correlate_nd(x, k, pads, out_shape, tuple(order))


def slow_correlate(x, k, mode: str) -> np.ndarray:
    """The same correlation, exact for integers (summed in uint64, wrapping as
    SciPy's does) and in the dtype's own arithmetic otherwise (long double):
    one shifted multiply-add per kernel tap. For dtypes without a fast path
    when SciPy is not installed."""
    pads, out_shape = pads_and_shape(mode, x.shape, k.shape)
    _planning.stop("slow-twin", "fastconv._signal_nd.slow_correlate",
                   f"{x.dtype} without SciPy: one shifted multiply-add per tap")
    dtype = x.dtype
    if dtype.kind in "iu":
        wide = np.uint64 if dtype.kind == "u" else np.int64
        x, k = x.astype(wide).view(np.uint64), k.astype(wide).view(np.uint64)
    xp = _extended(x, pads, out_shape, k.shape, x.dtype)
    acc = np.zeros(out_shape, dtype=xp.dtype)
    for tap in np.ndindex(*k.shape):
        acc += xp[tuple(slice(t, t + o) for t, o in zip(tap, out_shape))] * k[tap]
    if dtype.kind == "i":
        return acc.view(np.int64).astype(dtype)
    return acc.astype(dtype, copy=False)


# ---- SciPy's choice: direct sums or FFT ---------------------------------------------------
# scipy.signal._signaltools._conv_ops and _fftconv_faster (SciPy 1.4 onwards), the
# same operation counts and constants in the same floating-point operations, so
# that 'auto' decides exactly as SciPy's choose_conv_method does on every shape.


def _conv_ops(x_shape, h_shape, mode):
    if mode == "full":
        out_shape = [n + k - 1 for n, k in zip(x_shape, h_shape)]
    elif mode == "valid":
        out_shape = [abs(n - k) + 1 for n, k in zip(x_shape, h_shape)]
    elif mode == "same":
        out_shape = x_shape
    else:
        raise ValueError(f"mode must be 'full', 'valid' or 'same', got {mode!r}")
    s1, s2 = x_shape, h_shape
    if len(x_shape) == 1:
        s1, s2 = s1[0], s2[0]
        if mode == "full":
            direct_ops = s1 * s2
        elif mode == "valid":
            direct_ops = (s2 - s1 + 1) * s1 if s2 >= s1 else (s1 - s2 + 1) * s2
        else:
            direct_ops = s1 * s2 if s1 < s2 else s1 * s2 - (s2 // 2) * ((s2 + 1) // 2)
    elif mode == "same":
        direct_ops = math.prod(s1) * math.prod(s2)
    else:
        direct_ops = min(math.prod(s1), math.prod(s2)) * math.prod(out_shape)
    full_out_shape = [n + k - 1 for n, k in zip(x_shape, h_shape)]
    n = math.prod(full_out_shape)
    fft_ops = 3 * n * np.log(n)  # 3 transforms of the full shape
    return fft_ops, direct_ops


def fftconv_faster(x: np.ndarray, h: np.ndarray, mode) -> bool:
    """SciPy's prediction that the FFT beats direct sums for this shape."""
    fft_ops, direct_ops = _conv_ops(x.shape, h.shape, mode)
    offset = -1e-3 if x.ndim == 1 else -1e-4
    if x.ndim == 1:
        constants = {
            "valid": (1.89095737e-9, 2.1364985e-10, offset),
            "full": (1.7649070e-9, 2.1414831e-10, offset),
            "same": (3.2646654e-9, 2.8478277e-10, offset) if h.size <= x.size
            else (3.21635404e-9, 1.1773253e-8, -1e-5),
        }
    else:
        constants = {
            "valid": (1.85927e-9, 2.11242e-8, offset),
            "full": (1.99817e-9, 1.66174e-8, offset),
            "same": (2.04735e-9, 1.55367e-8, offset),
        }
    o_fft, o_direct, o_offset = constants[mode]
    return o_fft * fft_ops < o_direct * direct_ops + o_offset


def choose(volume: np.ndarray, kernel: np.ndarray, mode) -> str:
    """'direct' or 'fft', as SciPy's choose_conv_method(measure=False): direct
    for integers whose products could exceed float64's 52-bit mantissa, for
    bool and for non-numeric arrays, else by the operation-count model."""
    if volume.dtype.kind in "ui" or kernel.dtype.kind in "ui":
        max_value = int(np.max(np.abs(volume))) * int(np.max(np.abs(kernel)))
        max_value *= int(min(volume.size, kernel.size))
        if max_value > 2 ** np.finfo("float").nmant - 1:
            return "direct"
    if volume.dtype.kind == "b" and kernel.dtype.kind == "b":
        return "direct"
    numeric = volume.dtype.kind in "buifc" and kernel.dtype.kind in "buifc"
    return "fft" if numeric and fftconv_faster(volume, kernel, mode) else "direct"


def time_call(fn) -> float:
    """Seconds per call of fn(), as SciPy's _timeit_fast measures: calls grown
    tenfold until a round takes 0.5 ms, then the best of three rounds of ten
    times that many (one round for calls slower than a second)."""
    timer = timeit.Timer(fn)
    number, took = 1, 0.0
    for p in range(10):
        number = 10 ** p
        took = timer.timeit(number)
        if took >= 5e-4:
            break
    if took > 1:
        return took / number
    number *= 10
    return min(timer.repeat(3, number)) / number
