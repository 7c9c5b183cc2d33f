"""The engine behind convolve, correlate, convolve2d and correlate2d: one
correlation with SciPy's boundary rules, computed by the C kernels, by FFT or by
the exact slow twin, whichever the dtype and the caller's `method` call for.

    y[r, c] = sum_ij X(r - pad[0] + i, c - pad[1] + j) * k[i, j]

X is the input extended by the boundary rule; no conjugation, no flipping (the
public functions do those). Inputs arrive already in the result dtype.

method='direct' (the drop-ins' default, the originals' algorithm class) sums
directly at every size; 'fft' uses an overlap-save FFT for float and complex
inputs whose values are all finite; 'auto' picks between the two with the cost
model below. Paths, by result dtype:
- float32, float64: direct SIMD kernels (csrc/ops/correlate-template.h), or the FFT;
- complex64, complex128: the real kernels on real and imaginary parts (two
  passes for a real kernel, four otherwise), or the FFT;
- float16: the float32 path, rounded back once (NumPy also sums float16 in
  float32), silently, as NumPy's own float16 sums overflow to inf;
- bool and integers: the float64 kernels when every partial sum is an integer
  below 2**53 (so float64 is exact), converted back with wrap-around; otherwise
  None, and the caller calls the original (or the slow twin, exact in uint64).
  Never FFT;
- long double, complex long double: the slow twin.
The public functions hand the dtypes that have no fast path to the original
NumPy/SciPy function where it is installed, before reaching this engine.
"""
from __future__ import annotations

import cmath
import functools
import itertools
import math
import os
import threading
from typing import TYPE_CHECKING

import numpy as np

from . import _kernels, _planning, slow
from ._checks import c_aligned
from .slow import FILL, SYMM, WRAP

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["FILL", "SYMM", "WRAP", "correlate"]

METHODS = ("direct", "fft", "auto")


def check_method(method, op: str) -> None:
    """The drop-ins' `method` keyword: one of METHODS, else ValueError."""
    if method not in METHODS:
        raise ValueError(f"{op}: method must be 'direct', 'fft' or 'auto', got {method!r}")

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
_F16 = np.dtype(np.float16)

# ---- cost model ---------------------------------------------------------------
# From csrc/include/fastconv/costs.def (which says what each is and the machine
# that measured it, with `python benchmarks/crossover.py`, which also checks the
# picks; see docs/dropins.md), through _kernels.COSTS.
_C = _planning.COSTS
_DIRECT_S_PER_MAC = {_F32: _C["FC_DIRECT_S_PER_MAC_F32"], _F64: _C["FC_DIRECT_S_PER_MAC_F64"]}
_DIRECT_ISA_SLOWDOWN = {"avx512": _C["FC_DIRECT_SLOWDOWN_AVX512"],
                        "avx2": _C["FC_DIRECT_SLOWDOWN_AVX2"],
                        "scalar": _C["FC_DIRECT_SLOWDOWN_SCALAR"]}
_THREAD_EFFICIENCY = _C["FC_THREAD_EFFICIENCY"]  # speed-up added per extra thread
_FFT_S_PER_POINT_LOG = _C["FC_FFT_S_PER_POINT_LOG"]  # per point and log2(block points)
_FFT_S_PER_POINT = _C["FC_FFT_S_PER_POINT"]  # per point: window copy, product, slicing
_FFT_COMPLEX_FACTOR = _C["FC_FFT_COMPLEX_FACTOR"]  # complex transforms over real ones
_SMALL_MACS = _C["FC_DIRECT_SMALL_MACS"]  # below this the direct kernels win whatever the shape,
_FEW_TAPS = _C["FC_DIRECT_FEW_TAPS"]  # and for kernels this small


def _speedup(threads: int) -> float:
    return 1.0 + _THREAD_EFFICIENCY * (max(threads, 1) - 1)


def _direct_seconds(macs: float, dtype: np.dtype, threads: int) -> float:
    real = _F32 if dtype in (_F32, _C64) else _F64
    per_mac = _DIRECT_S_PER_MAC[real] * _DIRECT_ISA_SLOWDOWN.get(_kernels.current_isa(), 1.0)
    return macs * per_mac / _speedup(threads)


def _fft_seconds(blocks: tuple[int, ...], lengths: tuple[int, ...], complex_: bool,
                 threads: int) -> float:
    block_points = math.prod(lengths)
    points = math.prod(blocks) * block_points
    s = points * (_FFT_S_PER_POINT_LOG * math.log2(max(block_points, 2)) + _FFT_S_PER_POINT)
    return s * (_FFT_COMPLEX_FACTOR if complex_ else 1.0) / _speedup(min(threads, max(blocks)))


@functools.lru_cache(maxsize=512)
def fast_len(n: int) -> int:
    """The smallest 2**a 3**b 5**c 7**d >= n: lengths numpy.fft transforms fastest."""
    if n <= 8:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p7 = 1
    while p7 < best:
        p5 = p7
        while p5 < best:
            p3 = p5
            while p3 < best:
                p = p3
                while p < n:
                    p *= 2
                best = min(best, p)
                p3 *= 3
            p5 *= 5
        p7 *= 7
    return best


def _block_lengths(out: int, k: int) -> list[int]:
    """Transform lengths worth trying along one axis: powers of two from 2k, and
    the single block covering everything."""
    whole = fast_len(out + k - 1)
    lengths = {whole}
    n = 1 << max(k, 1).bit_length()
    while n < whole:
        lengths.add(n)
        n *= 2
    return sorted(lengths)


@functools.lru_cache(maxsize=512)
def _fft_plan(out_shape: tuple[int, int], kshape: tuple[int, int], complex_: bool,
              threads: int) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """Cheapest overlap-save plan: (predicted seconds, blocks per axis, transform
    length per axis). Each block of length N yields N - k + 1 outputs."""
    best = None
    for n0 in _block_lengths(out_shape[0], kshape[0]):
        for n1 in _block_lengths(out_shape[1], kshape[1]):
            blocks = (-(-out_shape[0] // (n0 - kshape[0] + 1)),
                      -(-out_shape[1] // (n1 - kshape[1] + 1)))
            cost = _fft_seconds(blocks, (n0, n1), complex_, threads)
            if best is None or cost < best[0]:
                best = (cost, blocks, (n0, n1))
    return best


# ---- paths ----------------------------------------------------------------------

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _map_threads(fn, items, threads: int) -> list:
    """fn over items, on up to `threads` threads (numpy.fft releases the GIL).
    The pool is made on first use and regrown when more threads are allowed."""
    global _pool, _pool_size
    if threads <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with _pool_lock:
        if _pool is None or _pool_size < threads:
            # imported here, not at import: only the FFT paths use threads of Python's
            from concurrent.futures import ThreadPoolExecutor

            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(threads, thread_name_prefix="fastconv-fft")
            _pool_size = threads
        pool = _pool
    return list(pool.map(fn, items))


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads do not exist here (and its
    lock may have been held by one of them), so start afresh."""
    global _pool, _pool_size, _pool_lock
    _pool_lock = threading.Lock()
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _direct(x, k, pad, out_shape, boundary, fill):
    """C kernels; x, k real float32 or float64 of one dtype, 2-D. x is read in
    place when its rows are unit-stride and do not overlap (row stride >= width),
    else copied (broadcast, sliding-window, transposed or reversed views)."""
    if x.size and (x.strides[1] != x.itemsize or x.strides[0] % x.itemsize
                   or (x.shape[0] > 1 and x.strides[0] < x.shape[1] * x.itemsize)
                   or not x.flags.aligned):
        x = c_aligned(x)
    k = c_aligned(k)
    y = np.empty(out_shape, dtype=x.dtype)
    if x.shape[0] == 1 and k.shape[0] == 1 and pad[0] == 0 and boundary == FILL and fill == 0:
        _kernels.correlate1d(c_aligned(x[0]), k[0], y[0], pad[1])
    else:
        _kernels.correlate2d(x, k, y, pad[0], pad[1], boundary, float(fill))
    return y


def _direct_complex(x, k, pad, out_shape, boundary, fill):
    """(a + ib) * (c + id) as real correlations: two passes when the kernel is
    real, four otherwise."""
    fill = complex(fill)
    xr, xi = c_aligned(x.real), c_aligned(x.imag)
    kr, ki = k.real, k.imag
    re = _direct(xr, kr, pad, out_shape, boundary, fill.real)
    im = _direct(xi, kr, pad, out_shape, boundary, fill.imag)
    if np.any(ki) or not _finite(x, fill):  # skipping them would drop inf * 0 = NaN
        re -= _direct(xi, ki, pad, out_shape, boundary, fill.imag)
        im += _direct(xr, ki, pad, out_shape, boundary, fill.real)
    y = np.empty(out_shape, dtype=x.dtype)
    y.real, y.imag = re, im
    return y


def _window(x, origin, shape, boundary, fill, dtype):
    """The extended input over rows origin[0] + [0, shape[0]) and columns
    origin[1] + [0, shape[1]), as a new array of `dtype`."""
    if boundary != FILL:
        rows = np.arange(shape[0]) + origin[0]
        cols = np.arange(shape[1]) + origin[1]
        return slow.extend(x, rows, cols, boundary, fill).astype(dtype)
    win = np.full(shape, fill, dtype=dtype)
    r0, c0 = max(origin[0], 0), max(origin[1], 0)
    r1 = min(origin[0] + shape[0], x.shape[0])
    c1 = min(origin[1] + shape[1], x.shape[1])
    if r1 > r0 and c1 > c0:
        win[r0 - origin[0]:r1 - origin[0], c0 - origin[1]:c1 - origin[1]] = x[r0:r1, c0:c1]
    return win


def _magnitude_exponent(*arrays) -> int | None:
    """e with 2**(e-1) <= the largest |real| or |imaginary| part of any value < 2**e,
    or None when every value is zero. Parts, not moduli: |z| may overflow."""
    peak = 0.0
    for a in arrays:
        a = np.asarray(a)
        if a.size:
            parts = (a.real, a.imag) if a.dtype.kind == "c" else (a,)
            peak = max(peak, *(float(np.abs(p).max()) for p in parts))
    return None if peak == 0.0 else math.frexp(peak)[1]


def _fft(x, k, pad, out_shape, boundary, fill, plan):
    """Overlap-save with numpy.fft in float64 (complex128 for complex input):
    the extended input is cut into overlapping blocks of the plan's lengths, all
    blocks are transformed at once (in a few slabs over threads), multiplied by
    the flipped kernel's spectrum, and each keeps its N - k + 1 valid outputs.

    Input and kernel are first scaled by powers of two (exact) so that their
    largest parts lie in [0.5, 1): the transforms then neither overflow (1e305
    inputs) nor lose subnormal kernels, and the result is scaled back at the
    end, so it is finite wherever the direct sum is."""
    _, (nb0, nb1), (n0, n1) = plan
    (oh, ow), (kh, kw) = out_shape, k.shape
    ex = _magnitude_exponent(x, fill if boundary == FILL else 0)
    ek = _magnitude_exponent(k)
    if ex is None or ek is None:  # all zeros: every sum is an exact zero
        return np.zeros(out_shape, dtype=x.dtype)
    l0, l1 = n0 - kh + 1, n1 - kw + 1
    cplx = x.dtype.kind == "c"
    work = np.complex128 if cplx else np.float64
    win = _window(x, (-pad[0], -pad[1]), (nb0 * l0 + kh - 1, nb1 * l1 + kw - 1),
                  boundary, fill, work)
    win = np.ldexp(win, -ex) if not cplx else np.ldexp(win.real, -ex) + 1j * np.ldexp(win.imag, -ex)
    kf = k[::-1, ::-1].astype(work)
    kf = np.ldexp(kf, -ek) if not cplx else np.ldexp(kf.real, -ek) + 1j * np.ldexp(kf.imag, -ek)
    blocks = np.lib.stride_tricks.sliding_window_view(win, (n0, n1))[::l0, ::l1]
    axes, s = ((-2, -1), (n0, n1)) if n0 > 1 else ((-1,), (n1,))  # 1-D: rows of length 1
    fwd, inv = (np.fft.fftn, np.fft.ifftn) if cplx else (np.fft.rfftn, np.fft.irfftn)
    spectrum = fwd(kf, s, axes)
    y = np.empty(out_shape, dtype=work)
    split = 0 if nb0 >= nb1 else 1  # cut the block grid into slabs along its longer side

    def run(span):  # one slab: transform, multiply, keep each block's valid part
        a, b = span
        sub = blocks[a:b] if split == 0 else blocks[:, a:b]
        f = inv(fwd(sub, s, axes) * spectrum, s, axes)[:, :, kh - 1:, kw - 1:]
        p, q = f.shape[:2]
        out = f.transpose(0, 2, 1, 3).reshape(p * l0, q * l1)
        if split == 0:  # the last blocks may reach past the result: clip
            y[a * l0:b * l0] = out[:min(b * l0, oh) - a * l0, :ow]
        else:
            y[:, a * l1:b * l1] = out[:oh, :min(b * l1, ow) - a * l1]

    threads = _kernels.get_num_threads()
    count = (nb0, nb1)[split]
    edges = np.linspace(0, count, _fft_threads((nb0, nb1)) + 1).astype(int)
    _map_threads(run, [(a, b) for a, b in itertools.pairwise(edges) if b > a], threads)
    # Scale back in two exact steps (ldexp), the one that shrinks first, so a
    # finite result is never lost to an intermediate overflow.
    lo, hi = sorted((ex, ek))
    with np.errstate(over="ignore"):  # a true overflow gives inf, as the direct sum does
        if cplx:
            y = np.ldexp(np.ldexp(y.real, lo), hi) + 1j * np.ldexp(np.ldexp(y.imag, lo), hi)
        else:
            y = np.ldexp(np.ldexp(y, lo), hi)
        return y.astype(x.dtype)


def _fft_threads(blocks: tuple[int, int]) -> int:
    """Threads the FFT runs on: one slab of blocks each, cut along the block
    grid's longer side."""
    return max(1, min(_kernels.get_num_threads(), max(blocks)))


def _int_bound(dtype: np.dtype) -> int:
    """The largest magnitude a value of an integer (or bool) dtype can have."""
    if dtype.kind == "b":
        return 1
    info = np.iinfo(dtype)
    return max(-int(info.min), int(info.max))


def exact_in_float64(x, k, boundary=FILL, fill=0) -> bool:
    """True when every partial sum of integer products stays below 2**53 in
    magnitude, so float64 arithmetic (any order, with FMA) is exact. Decided
    from the dtypes and sizes alone when they suffice (8- and 16-bit
    integers), else from the values."""
    fill_peak = abs(int(fill)) if boundary == FILL else 0
    if max(_int_bound(x.dtype), fill_peak) * _int_bound(k.dtype) * k.size < 2**53:
        return True
    peak = fill_peak
    if x.size:
        peak = max(peak, abs(int(x.max())), abs(int(x.min())))
    k_sum = float(np.abs(k.astype(np.float64)).sum())
    return peak * k_sum < 2.0**53


_MAX_F64_ELEMS = np.iinfo(np.intp).max // 8


def exact_operands(x, k, boundary=FILL, fill=0):
    """Float64 copies of the integer arrays x and k, for the float64 kernels,
    when every partial sum is exact in float64 (`exact_in_float64`); None when
    it is not, or when this machine cannot hold the copies (the original
    function then decides: it needs less memory, or refuses in its own words).

    The copies are allocated before any value is read, so an input too large
    to copy (a broadcast view of 2**40 elements) costs no scan of its values:
    the originals, too, copy their inputs before reading them."""
    if x.size > _MAX_F64_ELEMS or k.size > _MAX_F64_ELEMS:
        return None
    try:
        xf, kf = np.empty(x.shape, np.float64), np.empty(k.shape, np.float64)
    except MemoryError:
        return None
    if not exact_in_float64(x, k, boundary, fill):
        return None
    xf[...] = x
    kf[...] = k
    return xf, kf


def _owned(a: np.ndarray) -> np.ndarray:
    """`a`, or a contiguous copy when its elements overlap in memory (a
    broadcast or sliding-window view): reading such a view costs time for
    elements that take no memory, so it is copied, as the originals copy their
    inputs, before any value is read; a view too large to copy fails here, at
    once (MemoryError)."""
    if a.size <= 1:
        return a
    span = a.itemsize + sum((n - 1) * abs(s) for n, s in zip(a.shape, a.strides))
    return np.ascontiguousarray(a) if span < a.nbytes else a


def _from_exact(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "b":
        return y != 0
    return y.astype(np.int64).astype(dtype)  # int64 -> narrower wraps, as NumPy's sums do


def _numpy_edges(y, x, k, pad):
    """Redo the 1-D outputs whose window crosses an end of x the way NumPy does:
    summing only the overlapping terms. Zero padding adds 0 * k[t], which is NaN
    where k[t] is infinite or NaN; NumPy never forms that product."""
    n, m = len(x), len(k)
    left = range(min(pad, len(y)))
    right = range(max(n - m + 1 + pad, pad, 0), len(y))
    with np.errstate(all="ignore"):  # numpy.correlate does not warn about inf - inf either
        for i in (*left, *right):
            lo, hi = max(0, pad - i), min(m, n + pad - i)  # taps with 0 <= i - pad + t < n
            y[i] = np.dot(x[i - pad + lo:i - pad + hi], k[lo:hi]) if hi > lo else 0


def _finite(*arrays) -> bool:
    """No inf or NaN anywhere (small arrays checked in Python: ufuncs cost ~2 us)."""
    for a in arrays:
        a = np.asarray(a)
        if a.size <= 16:
            if not all(map(cmath.isfinite, a.ravel().tolist())):
                return False
        elif not np.isfinite(a).all():
            return False
    return True


def _correlate_1d(x, k, pad, out_n, method):
    """1-D, zero-extended: the 2-D engine on one row (a direct float call goes
    straight to the 1-D kernel), then NumPy's edge sums when the kernel is not
    finite."""
    n, m = len(x), len(k)
    if method == "direct" and x.dtype.char in "fd" and _planning.forced_path("correlate") == "auto":
        y = np.empty(out_n, dtype=x.dtype)
        _kernels.correlate1d(c_aligned(x), c_aligned(k), y, pad)
    else:
        y = correlate(x[None, :], k[None, :], (0, pad), (1, out_n), method=method)
        if y is None:
            return None
        y = y[0]
    if y.dtype.kind in "fc" and (pad > 0 or out_n > n - m + 1) and not _finite(k):
        _numpy_edges(y, x, k, pad)
    return y


def _fft_wins(x, k, out_shape, method) -> tuple[tuple | None, str]:
    """(the FFT plan, why) when `method` asks for the FFT ('fft', or 'auto' with
    the cost model predicting it faster), else (None, why not). Whether every
    value is finite is the caller's check."""
    if method == "direct":
        return None, "method='direct': direct sums, as the original"
    dtype = x.dtype
    (oh, ow), (kh, kw) = out_shape, k.shape
    threads = _kernels.get_num_threads()
    plan = _fft_plan(out_shape, k.shape, dtype.kind == "c", threads)
    if method == "auto":
        if kh * kw <= _FEW_TAPS:
            return None, f"method='auto': {kh * kw} taps <= {_FEW_TAPS}, direct sums win"
        if oh * ow * kh * kw <= _SMALL_MACS:
            return None, (f"method='auto': {oh * ow * kh * kw} multiply-adds <= {_SMALL_MACS}, "
                          "direct sums win")
        macs = oh * ow * kh * kw
        if dtype.kind == "c":
            macs *= 4 if np.any(k.imag) else 2
        direct = _direct_seconds(macs, dtype, threads)
        if plan[0] >= direct:
            return None, (f"method='auto': direct sums predicted faster ({direct:.3g} s against "
                          f"the FFT's {plan[0]:.3g} s)")
        return plan, f"method='auto': the FFT predicted faster ({plan[0]:.3g} s against {direct:.3g} s)"
    return plan, "method='fft'"


def correlate(x, k, pad, out_shape, boundary=FILL, fill=0, method="direct"):
    """The correlation above for 1-D (pad and out_shape ints, zero extension) or
    2-D inputs.

    x, k: arrays of one native numeric dtype, the result's; k non-empty. `fill`
    is a scalar of that dtype, used with boundary FILL. `method` is one of
    METHODS; it matters for float and complex dtypes only. Returns a new array,
    or None for integers whose sums float64 cannot hold exactly (or whose
    float64 copies this machine cannot hold): the caller hands those to the
    original function.

    Sizes come before values: whatever a call must allocate (the copies of
    overlapping views, the float64 operands of integers) is allocated before
    any value is read, so a call too large for the machine fails at once.
    """
    if x.ndim == 1:
        return _correlate_1d(x, k, pad, out_shape, method)
    dtype = x.dtype
    oh, ow = out_shape
    kh, kw = k.shape
    if oh == 0 or ow == 0 or kh == 0 or kw == 0:
        return np.zeros(out_shape, dtype=dtype)
    if _planning.forced_path("correlate") == "slow":
        _planning.stop("slow-twin", "fastconv.slow.correlate2d", "forced (tests)",
                       dtype=dtype)
        return slow.correlate2d(x, k, pad, out_shape, boundary, fill)
    if dtype == _F16:
        y = correlate(x.astype(_F32), k.astype(_F32), pad, out_shape, boundary,
                      _F32.type(fill), method)
        with np.errstate(over="ignore"):  # NumPy's float16 sums overflow to inf silently
            return y.astype(_F16)
    if dtype in (_F32, _F64, _C64, _C128):
        x, k = _owned(x), _owned(k)
        plan, why = _fft_wins(x, k, out_shape, method)
        if plan is not None:
            if _finite(x, k, fill):
                _planning.stop("fft-overlap-save", "numpy.fft", why,
                               threads=_fft_threads(plan[1]), dtype=dtype, blocks=plan[1],
                               transform=plan[2], predicted_seconds=plan[0])
                return _fft(x, k, pad, out_shape, boundary, fill, plan)
            why = f"{why}, but inf or NaN in the inputs: direct sums"
        try:
            if dtype.kind == "c":
                return _direct_complex(x, k, pad, out_shape, boundary, fill)
            return _direct(x, k, pad, out_shape, boundary, fill)
        except _planning.Planned as planned:  # (plan-only mode: the kernels planned)
            planned.plan["reason"] = planned.plan.get("reason") or why
            raise
    if dtype.kind in "biu":
        operands = exact_operands(x, k, boundary, fill)
        if operands is None:
            return None
        y = _direct(*operands, pad, out_shape, boundary, float(fill))
        return _from_exact(y, dtype)
    _planning.stop("slow-twin", "fastconv.slow.correlate2d", f"{dtype}: no kernel computes it",
                   dtype=dtype)
    return slow.correlate2d(x, k, pad, out_shape, boundary, fill)
