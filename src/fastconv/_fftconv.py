"""fftconvolve and oaconvolve with SciPy's rules (axes, broadcasting of the other
axes, modes, dtypes, errors), on scipy.fft (one worker, as SciPy's own calls)
when SciPy is installed, else on numpy.fft.

The transforms are SciPy's own (the same lengths, the same library, the same
precision: float32 and complex64 inputs are transformed in single precision),
so results are SciPy's to the bit, with two exceptions that only ever remove
error: operands whose magnitudes would overflow or underflow the transforms
(spectra of 1e300 inputs, subnormal kernels, float32 beyond 1e19) are first
scaled by powers of two, which is exact, and the result scaled back, the
shrinking factor first, so the result is finite wherever the true sums are;
and oaconvolve runs only the blocks that hold input (SciPy's extra blocks of
zeros add exact zeros).
"""
from __future__ import annotations

import functools
import math
import operator
from numbers import Number

import numpy as np

from . import _planning

# Exponents e (2**(e-1) <= largest |part| < 2**e) the transforms take unscaled,
# for each operand and for their sum (the spectra's product), by the precision
# they run in: a spectrum grows by at most the points transformed (< 2**64),
# and products keep 24 or 53 bits above the subnormal range.
_SAFE = {4: (-80, 40), 8: (-900, 400)}
# scipy.fft runs one worker, as in SciPy's own fftconvolve: on the 2-vCPU
# machines measured (AMD EPYC Zen 5) a second worker made 1050x1050 and
# 66x66x66 transforms faster in some runs and 10-30% slower in others, and a
# drop-in must never be slower than the original.


@functools.lru_cache(maxsize=1)
def _scipy_fft():
    try:
        import scipy.fft as sp_fft
    except ImportError:
        return None
    return sp_fft


def _transforms(complex_: bool):
    """(forward, inverse, keyword arguments): scipy.fft's, else numpy.fft's."""
    sp_fft = _scipy_fft()
    if sp_fft is not None:
        pair = (sp_fft.fftn, sp_fft.ifftn) if complex_ else (sp_fft.rfftn, sp_fft.irfftn)
        return (*pair, {})
    pair = (np.fft.fftn, np.fft.ifftn) if complex_ else (np.fft.rfftn, np.fft.irfftn)
    return (*pair, {})


def _transforms_name() -> str:
    """Which FFT module the transforms run on."""
    return "scipy.fft" if _scipy_fft() is not None else "numpy.fft"


def _smooth(n: int, primes: tuple[int, ...]) -> bool:
    for p in primes:
        while n % p == 0:
            n //= p
    return n == 1


@functools.lru_cache(maxsize=1024)
def next_fast_len(target: int, real: bool = False) -> int:
    """scipy.fft.next_fast_len: the smallest n >= target whose prime factors
    are 2, 3 and 5 (real transforms) or 2, 3, 5, 7 and 11; SciPy's own when
    installed."""
    sp_fft = _scipy_fft()
    if sp_fft is not None:
        return sp_fft.next_fast_len(target, real)
    primes = (2, 3, 5) if real else (2, 3, 5, 7, 11)
    n = max(int(target), 1)
    while not _smooth(n, primes):
        n += 1
    return n


def _lambertw_m1(y: float) -> float:
    """The lower real branch W_{-1}(y) of Lambert's W, -1/e <= y < 0: SciPy's
    when installed, else Newton's iteration from its asymptotic form."""
    try:
        from scipy.special import lambertw
    except ImportError:
        lo = math.log(-y)
        w = lo - math.log(-lo) if y > -0.25 else -1.0 - math.sqrt(2.0 * (1.0 + math.e * y))
        for _ in range(100):
            ew = math.exp(w)
            step = (w * ew - y) / (ew * (w + 1.0))
            w -= step
            if abs(step) <= 1e-15 * abs(w):
                break
        return w
    return float(lambertw(y, k=-1).real)


# ---- SciPy's argument rules --------------------------------------------------------------------


def _axes_list(axes, ndim: int) -> list[int]:
    """scipy.fft's axes argument: an int or integers, negatives counted from the
    end, each within the rank and used once."""
    if isinstance(axes, Number):
        axes = (axes,)
    try:
        axes = [operator.index(a) for a in axes]
    except TypeError as e:
        raise ValueError(f"axes must be a scalar or iterable of integers, got {axes!r}") from e
    axes = [a + ndim if a < 0 else a for a in axes]
    if any(a >= ndim or a < 0 for a in axes):
        raise ValueError(f"axes exceeds dimensionality of input: axes {axes} for {ndim}-d inputs")
    if len(set(axes)) != len(axes):
        raise ValueError(f"all axes must be unique, got {axes}")
    return axes


def swap_needed(mode, shape1, shape2, axes=None) -> bool:
    """SciPy's 'valid' rule: True when in2 is the larger (then the inputs swap);
    ValueError when neither is at least as large as the other on every axis."""
    if mode != "valid" or not shape1:
        return False
    axes = range(len(shape1)) if axes is None else axes
    ok1 = all(shape1[i] >= shape2[i] for i in axes)
    ok2 = all(shape2[i] >= shape1[i] for i in axes)
    if not (ok1 or ok2):
        raise ValueError(
            "For 'valid' mode, one must be at least as large as the other in every "
            f"dimension; got in1 of shape {tuple(shape1)} and in2 of shape {tuple(shape2)}"
        )
    return not ok1


def init_axes(in1, in2, mode, axes, sorted_axes=False):
    """SciPy's _init_freq_conv_axes: the axes to convolve (axes of length 1 in
    either input are left to broadcasting), the other axes checked for
    broadcasting, the inputs swapped for 'valid' mode."""
    s1, s2 = in1.shape, in2.shape
    if axes is None:
        axes = list(range(in1.ndim))
    else:
        axes = _axes_list(axes, in1.ndim)
        if not axes:
            raise ValueError("when provided, axes cannot be empty")
    axes = [a for a in axes if s1[a] != 1 and s2[a] != 1]
    if sorted_axes:
        axes.sort()
    if not all(s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1
               for a in range(in1.ndim) if a not in axes):
        raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")
    if swap_needed(mode, s1, s2, axes=axes):
        in1, in2 = in2, in1
    return in1, in2, axes


def _centered(arr, newshape):
    start = [(n - m) // 2 for n, m in zip(arr.shape, newshape)]
    return arr[tuple(slice(a, a + m) for a, m in zip(start, newshape))]


def apply_mode(ret, s1, s2, mode, axes):
    """The 'full' result cut to `mode`, as a new array."""
    if mode == "full":
        return ret.copy()
    if mode == "same":
        return _centered(ret, s1).copy()
    if mode == "valid":
        shape = [ret.shape[a] if a not in axes else s1[a] - s2[a] + 1 for a in range(ret.ndim)]
        return _centered(ret, shape).copy()
    raise ValueError(f"acceptable mode flags are 'valid', 'same', or 'full', got {mode!r}")


# ---- operands and scaling ----------------------------------------------------------------------


def _operand(a: np.ndarray) -> np.ndarray:
    """What scipy.fft transforms: float16 as float32, other non-float dtypes as
    float64 (object arrays and numeric strings convert, others raise as SciPy's
    do), native byte order."""
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if a.dtype.kind not in "fc":
        return np.asarray(a, dtype=np.float64)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


def _exponent(a: np.ndarray):
    """e with 2**(e-1) <= the largest |real| or |imaginary| part < 2**e, 0 for
    an all-zero array, None when a value is inf or NaN. Parts, not moduli: |z|
    may overflow."""
    parts = (a.real, a.imag) if a.dtype.kind == "c" else (a,)
    peak = 0.0
    for p in parts:
        hi, lo = float(p.max()), float(p.min())
        if not (math.isfinite(hi) and math.isfinite(lo)):
            return None
        peak = max(peak, abs(hi), abs(lo))
    return math.frexp(peak)[1] if peak else 0


def _scaled(a: np.ndarray, e: int) -> np.ndarray:
    """a * 2**-e as a new array (exact: powers of two)."""
    if a.dtype.kind != "c":
        return np.ldexp(a, -e)
    out = np.empty_like(a)
    out.real, out.imag = np.ldexp(a.real, -e), np.ldexp(a.imag, -e)
    return out


def operands(in1, in2):
    """The two operands as the transforms take them, scaled to magnitudes near
    1 when theirs would overflow or underflow the transforms, and the exponent
    to scale the result back by (0: nothing scaled)."""
    a, b = _operand(in1), _operand(in2)
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc" or not a.size or not b.size:
        return a, b, 0
    lo, hi = _SAFE[min(a.real.dtype.itemsize, b.real.dtype.itemsize, 8)]
    ea, eb = _exponent(a), _exponent(b)
    if ea is None or eb is None:  # inf or NaN: transformed as they are, as SciPy does
        return a, b, 0
    if all(lo <= e <= hi for e in (ea, eb, ea + eb)):
        return a, b, 0
    return _scaled(a, ea), _scaled(b, eb), (ea, eb)


def unscale(ret: np.ndarray, scale) -> np.ndarray:
    """Undo `operands`' scaling on a result we own: two exact steps, the one that
    shrinks first, so a finite result never overflows on the way."""
    if not scale:
        return ret
    first, second = sorted(scale)
    parts = (ret.real, ret.imag) if ret.dtype.kind == "c" else (ret,)
    with np.errstate(over="ignore"):  # a true overflow gives inf, as the unscaled sums would
        for p in parts:
            np.ldexp(p, first, out=p)
            np.ldexp(p, second, out=p)
    return ret


def _multiply(sp1, sp2):
    """sp1 * sp2, in sp1's memory when it has the product's shape and dtype."""
    if sp1.shape == np.broadcast_shapes(sp1.shape, sp2.shape) and sp1.dtype == np.result_type(sp1, sp2):
        return np.multiply(sp1, sp2, out=sp1)
    return sp1 * sp2


# Transforms smaller than this are taken whole: below it the split's own
# steps cost more than the rows of zeros (measured on AMD EPYC Zen 5).
_SPLIT_POINTS = 1 << 14


def _forward(fwd, x, fshape, axes, kw, complex_):
    """fwd(x, fshape, axes=axes) for the operand x. A real operand that fills
    at most an eighth of the transform along its leading axes (a small kernel:
    3 of 1,050 rows) is transformed as scipy.fft's rfftn does it, last axis first,
    but only over its own rows; the rows of zeros it would transform are left
    zero, and the other axes' transforms run on the result. The values are
    rfftn's, bit for bit; the work is about half for a small kernel. Small
    transforms (under _SPLIT_POINTS) are taken whole."""
    axes = list(axes)
    sp_fft = _scipy_fft()
    if (complex_ or sp_fft is None or len(axes) < 2 or math.prod(fshape) < _SPLIT_POINTS
            or any(x.shape[ax] > n for ax, n in zip(axes, fshape))
            or 8 * math.prod(x.shape[ax] for ax in axes[:-1]) > math.prod(fshape[:-1])):
        return fwd(x, fshape, axes=axes, **kw)
    rows = sp_fft.rfft(x, n=fshape[-1], axis=axes[-1], **kw)
    shape = list(rows.shape)
    for ax, n in zip(axes[:-1], fshape[:-1]):
        shape[ax] = n
    full = np.zeros(shape, dtype=rows.dtype)
    full[tuple(slice(n) for n in rows.shape)] = rows
    return sp_fft.fftn(full, axes=axes[:-1], overwrite_x=True, **kw)


def freq_conv(a, b, axes, fshape):
    """Convolution of the operands over `axes` by transforms of lengths `fshape`
    (circular beyond them), the other axes broadcast."""
    complex_ = a.dtype.kind == "c" or b.dtype.kind == "c"
    fwd, inv, kw = _transforms(complex_)
    sp1 = _forward(fwd, a, fshape, axes, kw, complex_)
    sp2 = _forward(fwd, b, fshape, axes, kw, complex_)
    product = _multiply(sp1, sp2)
    if _scipy_fft() is not None:  # the product is ours: scipy.fft may transform it in place
        kw = {**kw, "overwrite_x": True}
    ret = inv(product, fshape, axes=axes, **kw)
    # scipy.fft's precision: numpy.fft before NumPy 2 transforms everything in float64
    want = np.result_type(a, b, np.complex64) if complex_ else np.result_type(a, b)
    return ret.astype(want, copy=False)


# ---- the two functions -------------------------------------------------------------------------


def _trivial(in1, in2):
    """SciPy's answers before any transform: a product for two 0-d inputs,
    ValueError for different ranks, an empty float64 array for empty inputs;
    None otherwise."""
    if in1.ndim == in2.ndim == 0:
        _planning.stop("product", "numpy.multiply", "two 0-d inputs: their product")
        return in1 * in2
    if in1.ndim != in2.ndim:
        raise ValueError(
            "in1 and in2 should have the same dimensionality, got in1 of shape "
            f"{in1.shape} and in2 of shape {in2.shape}"
        )
    if in1.size == 0 or in2.size == 0:
        return np.asarray([])
    return None


def fftconvolve(in1, in2, mode="full", axes=None):
    in1, in2 = np.asarray(in1), np.asarray(in2)
    done = _trivial(in1, in2)
    if done is not None:
        return done
    in1, in2, axes = init_axes(in1, in2, mode, axes)
    s1, s2 = in1.shape, in2.shape
    if not axes:
        _planning.stop("product", "numpy.multiply", "no axis to transform: an elementwise product")
        return apply_mode(in1 * in2, s1, s2, mode, axes)
    shape = [max(s1[i], s2[i]) if i not in axes else s1[i] + s2[i] - 1 for i in range(in1.ndim)]
    a, b, scale = operands(in1, in2)
    real = a.dtype.kind != "c" and b.dtype.kind != "c"
    fshape = [next_fast_len(shape[ax], real) for ax in axes]
    _planning.stop("fft", _transforms_name(), "one transform of the whole padded inputs",
                   transform=tuple(fshape), axes=tuple(axes))
    ret = freq_conv(a, b, axes, fshape)[tuple(slice(n) for n in shape)]
    return unscale(apply_mode(ret, s1, s2, mode, axes), scale)


def _oa_plan(n1: int, n2: int):
    """SciPy's overlap-add block for one axis: (transform length, step) with the
    longer input cut into steps, or None for one block (equal or length-1
    sizes, the shorter more than half the longer, or a block as long as the
    longer)."""
    if n1 == n2 or n1 == 1 or n2 == 1:
        return None
    big, small = max(n1, n2), min(n1, n2)
    if small >= big / 2:
        return None
    overlap = small - 1
    opt = -overlap * _lambertw_m1(-1 / (2 * math.e * overlap))
    block = next_fast_len(math.ceil(opt))
    if block >= big:
        return None
    return block, block - small + 1


def _overlap_add(blocks, axis: int, step: int, length: int):
    """Fold axes (steps, block) at `axis`, `axis` + 1 of `blocks` into one axis:
    block j lands on [j * step, j * step + block), overlaps added; cut to `length`."""
    nsteps, block = blocks.shape[axis], blocks.shape[axis + 1]
    pieces = -(-block // step)  # each block covers this many steps
    shape = blocks.shape[:axis] + (nsteps + pieces - 1, step) + blocks.shape[axis + 2:]
    out = np.zeros(shape, dtype=blocks.dtype)
    lead = (slice(None),) * axis
    for q in range(pieces):
        width = min(step, block - q * step)
        out[lead + (slice(q, q + nsteps), slice(0, width))] += \
            blocks[lead + (slice(None), slice(q * step, q * step + width))]
    out = out.reshape(blocks.shape[:axis] + (-1,) + blocks.shape[axis + 2:])
    return out[lead + (slice(0, length),)]


def oaconvolve(in1, in2, mode="full", axes=None):
    in1, in2 = np.asarray(in1), np.asarray(in2)
    done = _trivial(in1, in2)
    if done is not None:
        return done
    if in1.shape == in2.shape:
        return fftconvolve(in1, in2, mode=mode, axes=axes)
    in1, in2, axes = init_axes(in1, in2, mode, axes, sorted_axes=True)
    s1, s2 = in1.shape, in2.shape
    if not axes:
        _planning.stop("product", "numpy.multiply", "no axis to transform: an elementwise product")
        return apply_mode(in1 * in2, s1, s2, mode, axes)
    plans = {ax: _oa_plan(s1[ax], s2[ax]) for ax in axes}
    if all(p is None for p in plans.values()):
        return fftconvolve(in1, in2, mode=mode, axes=axes)
    a, b, scale = operands(in1, in2)
    real = a.dtype.kind != "c" and b.dtype.kind != "c"
    # Along a blocked axis the longer operand becomes (steps, step) and the
    # shorter (1, its length); both are transformed over the second of these.
    shape_a, shape_b, pad_a, pad_b = [], [], [], []
    fft_axes, fshape, folds = [], [], []
    for ax in range(in1.ndim):
        n1, n2 = s1[ax], s2[ax]
        plan = plans.get(ax)
        if plan is None:
            shape_a.append(n1)
            shape_b.append(n2)
            pad_a.append((0, 0))
            pad_b.append((0, 0))
            if ax in axes:
                fft_axes.append(len(shape_a) - 1)
                fshape.append(next_fast_len(n1 + n2 - 1, real))
            continue
        block, step = plan
        nsteps = -(-max(n1, n2) // step)
        cut = ((nsteps, step), (1, min(n1, n2)))
        (da, db) = cut if n1 > n2 else cut[::-1]
        shape_a.extend(da)
        shape_b.extend(db)
        pad_a.append((0, da[0] * da[1] - n1))
        pad_b.append((0, db[0] * db[1] - n2))
        fft_axes.append(len(shape_a) - 1)
        fshape.append(block)
        folds.append((len(shape_a) - 2, step, n1 + n2 - 1))
    _planning.stop("fft-overlap-add", _transforms_name(), "blocks of SciPy's overlap-add size",
                   transform=tuple(fshape), steps={ax: plan[1] for ax, plan in plans.items() if plan})
    if any(p != (0, 0) for p in pad_a):
        a = np.pad(a, pad_a)
    if any(p != (0, 0) for p in pad_b):
        b = np.pad(b, pad_b)
    ret = freq_conv(a.reshape(shape_a), b.reshape(shape_b), fft_axes, fshape)
    for axis, step, length in reversed(folds):  # the last first: earlier positions stay put
        ret = _overlap_add(ret, axis, step, length)
    ret = ret[tuple(slice(None) if ax not in axes else slice(s1[ax] + s2[ax] - 1)
                    for ax in range(in1.ndim))]
    return unscale(apply_mode(ret, s1, s2, mode, axes), scale)
