"""fastconv.ndimage against scipy.ndimage itself: every mode, origin, axis and
dtype SciPy filters, 1-D to 4-D, kernels larger than the input, even kernels
with origins, strided, reversed and Fortran inputs, output= arrays and dtypes,
the same exception types for bad calls, and image-processing code written the
way scikit-image calls scipy.ndimage, unchanged under fastconv.patched().

fastconv redoes SciPy's arithmetic (its order of operations, in double, no
fused multiply-add), so results are compared bit for bit (bool outputs byte for
byte: SciPy stores the converted byte, 2 stays 2). The one exception is
correlate/convolve with float32 in and out, which sums in float32 on the FMA
kernels: each output must lie within a direct sum's error (test_dropin_fidelity's
bound, ulps of the sum of the absolute values of its terms) of SciPy's double
sum. Off x86-64 (SciPy's builds may contract into FMAs there) every float
comparison uses that bound.
"""
from __future__ import annotations

import itertools
import math
import platform
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from _helpers import random_array, with_layout
from dropins_reference import assert_same_exception
from scipy import ndimage as sndi
from scipy import signal as ssig

import fastconv
import fastconv.ndimage as fndi

BITWISE = platform.machine().lower() in ("x86_64", "amd64")
MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror",
         "grid-wrap")
REAL = ("float64", "float32", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
        "uint64", "bool")
UNSUPPORTED = ("float16", "longdouble")  # SciPy raises RuntimeError
COMPLEX = ("complex64", "complex128")
OUTPUTS = (None, np.float64, np.float32, np.int16, np.uint8, np.int64, "f", int)
INTEGERS = {"full_range": 0.3, "small": 20}  # random_array's integers: a third over the whole range


# ---- the comparison ----------------------------------------------------------------------

def _ulps(taps: int) -> float:
    return 2.0 + 2.0 * math.sqrt(taps)  # tests/test_dropin_fidelity.py's direct-sum bound


def assert_same(got, want, *, what: str, size=None, taps: int = 1) -> None:
    """`got` has `want`'s type, dtype and shape, and its bits (bool: its bytes);
    with `size` (SciPy's result on absolute values, in double), float values
    within `_ulps(taps)` ulps of it instead, NaN where SciPy has NaN."""
    assert isinstance(got, np.ndarray), f"{what}: returned {type(got).__name__}"
    assert got.dtype == want.dtype and got.shape == want.shape, (
        f"{what}: {got.dtype}{got.shape}, SciPy {want.dtype}{want.shape}")
    if want.dtype.kind == "b":
        got, want = got.view(np.uint8), want.view(np.uint8)
    if size is None and (BITWISE or want.dtype.kind not in "fc"):
        same = (got == want) | (np.isnan(got) & np.isnan(want)) if want.dtype.kind in "fc" else got == want
        if not np.all(same):
            at = np.unravel_index(np.argmin(same), want.shape)
            raise AssertionError(f"{what}: {int(np.sum(~same))} of {want.size} values differ from "
                                 f"SciPy's; first at {at}: {got[at]!r} vs {want[at]!r}")
        return
    if size is None:
        size = np.abs(want.astype(np.complex128))
    g, w = got.astype(np.complex128), want.astype(np.complex128)
    assert np.array_equal(np.isnan(g), np.isnan(w)), f"{what}: NaN pattern differs from SciPy's"
    eps = np.finfo(want.dtype).eps
    bound = _ulps(taps) * eps * np.abs(size) + np.finfo(want.dtype).smallest_subnormal * taps
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(g - w) <= bound) & np.isfinite(w)
    if bad.any():
        at = np.unravel_index(np.argmax(bad), want.shape)
        raise AssertionError(f"{what}: {int(bad.sum())} values beyond {_ulps(taps):.1f} ulps of "
                             f"sum|terms|; first at {at}: {got[at]!r} vs SciPy {want[at]!r}")


_NP_PAD = {"reflect": "symmetric", "grid-mirror": "symmetric", "mirror": "reflect",
           "nearest": "edge", "wrap": "wrap", "grid-wrap": "wrap", "constant": "constant",
           "grid-constant": "constant"}


def _pads(name: str, shape, wshape, origin) -> list[int]:
    """Samples each axis reads before its start (SciPy's origin rules)."""
    origins = list(origin) if np.iterable(origin) else [origin] * len(wshape)
    if name == "convolve":
        origins = [-o - (1 - k % 2) for o, k in zip(origins, wshape)]
    return [k // 2 + o for k, o in zip(wshape, origins)]


def scipy_reads_outside(name: str, x, w, mode="reflect", origin=0, **_) -> bool:
    """Whether scipy.ndimage.correlate/convolve would read before the array:
    in 'reflect' mode NI_InitFilterOffsets maps an index that is an exact
    multiple of -2n (n the axis length), beyond -2n, to -1. That happens where
    a window starts 4n or more before the array."""
    x, w = np.asarray(x), np.asarray(w)
    return (mode in ("reflect", "grid-mirror") and x.ndim == w.ndim and x.size > 0
            and any(p >= 4 * n for p, n in zip(_pads(name, x.shape, w.shape, origin), x.shape)))


def numpy_reference(name: str, x, w, mode="reflect", cval=0.0, origin=0) -> np.ndarray:
    """scipy.ndimage.correlate's definition in NumPy, for float64 input: x
    extended by np.pad, then 0.0 + w[t] * X[o - pad + t] over the non-zero
    weights in C order, as NI_Correlate adds them."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    if name == "convolve":
        w = w[tuple(slice(None, None, -1) for _ in w.shape)]
    pads = _pads(name, x.shape, w.shape, origin)
    extra = {"constant_values": cval} if _NP_PAD[mode] == "constant" else {}
    ext = np.pad(x, [(p, k - 1 - p) for p, k in zip(pads, w.shape)], _NP_PAD[mode], **extra)
    out = np.zeros(x.shape)
    for t in itertools.product(*(range(k) for k in w.shape)):
        if abs(w[t]) > np.finfo(np.float64).eps:
            out += w[t] * ext[tuple(slice(i, i + n) for i, n in zip(t, x.shape))]
    return out


def _call(func, *args, **kwargs):
    """func's result, or the exception it raised."""
    try:
        return func(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - compared by type with SciPy's
        return e


def check(name: str, *args, what: str = "", **kwargs):
    """fastconv.ndimage.<name> against scipy.ndimage.<name> on the same call:
    the same exception type, or the same result (float32 correlate and
    convolve within a direct sum's error). Returns SciPy's result."""
    what = f"{name} {what}"
    if name in ("correlate", "convolve") and scipy_reads_outside(name, *args, **kwargs):
        # SciPy's result depends on memory before the array there: fastconv is
        # held to the definition instead (float64 only; other dtypes skipped)
        x, w = np.asarray(args[0]), np.asarray(args[1])
        if x.dtype == np.float64 and w.dtype.kind != "c" and kwargs.get("output") is None:
            assert_same(getattr(fndi, name)(*args, **kwargs),
                        numpy_reference(name, *args, **kwargs), what=what + " (NumPy reference)")
        return None
    want = _call(getattr(sndi, name), *args, **kwargs)
    if isinstance(want, Exception):
        assert_same_exception(lambda: getattr(fndi, name)(*args, **kwargs),
                              lambda: getattr(sndi, name)(*args, **kwargs), op=name, case=what)
        return want
    got = getattr(fndi, name)(*args, **kwargs)
    x = np.asarray(args[0])
    single = (np.float32, np.complex64)
    if name in ("correlate", "convolve") and want.dtype in single and x.dtype in single:
        # the float32 FMA path (complex64: on each part); |x| * |w| bounds the
        # sum of |terms| of either part
        w = np.asarray(args[1])
        abs_kwargs = {k: v for k, v in kwargs.items() if k != "output"}
        if "cval" in abs_kwargs:
            abs_kwargs["cval"] = abs(abs_kwargs["cval"])
        size = getattr(sndi, name)(np.abs(x).astype(np.float64), np.abs(w), **abs_kwargs)
        assert_same(got, want, what=what, size=size, taps=2 * max(w.size, 1))
    else:
        assert_same(got, want, what=what)
    return want


# ---- inputs ---------------------------------------------------------------------------------

def _weights(rng, ndim: int, big: int, integral: bool) -> np.ndarray:
    """Kernels of 1 to 5 taps per axis, now and then larger than the input
    (`big`), with zeros (which NI_Correlate skips) and, now and then, integers."""
    shape = tuple(int(rng.integers(1, 6)) if rng.random() < 0.85 else big + int(rng.integers(1, 4))
                  for _ in range(ndim))
    w = rng.standard_normal(shape)
    if integral:
        w = np.round(3 * w)
    w[rng.random(shape) < 0.15] = 0.0
    return w


def _origins(rng, shape) -> list[int]:
    return [int(rng.integers(-(n // 2), (n - 1) // 2 + 1)) for n in shape]


def _output(rng, x: np.ndarray):
    """None, a dtype, or an array (now and then a strided view) to write into."""
    out = OUTPUTS[rng.integers(len(OUTPUTS))]
    if out is None or rng.random() < 0.6:
        return out
    dtype = np.dtype(out)
    if rng.random() < 0.5:
        return np.zeros(x.shape, dtype)
    return np.zeros(x.shape + (2,), dtype)[..., 1]


def _shape(rng, ndim: int) -> tuple[int, ...]:
    top = {1: 40, 2: 12, 3: 7, 4: 5}[ndim]
    return tuple(int(rng.integers(1, top + 1)) for _ in range(ndim))


# ---- correlate, convolve ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", REAL + UNSUPPORTED + COMPLEX)
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_correlate_and_convolve_match_scipy(name, ndim, dtype, rng):
    for mode in MODES:
        for _ in range(2):
            shape = _shape(rng, ndim)
            x = with_layout(rng, random_array(rng, shape, dtype, **INTEGERS))
            w = _weights(rng, ndim, max(shape), integral=rng.random() < 0.3)
            if dtype in COMPLEX and rng.random() < 0.5:
                w = w + 1j * rng.standard_normal(w.shape)
            origin = _origins(rng, w.shape) if rng.random() < 0.7 else 0
            cval = float(rng.choice([0.0, 1.5, -2.25, 7.0]))
            out = None if dtype in COMPLEX else _output(rng, x)
            check(name, x, w, output=out, mode=mode, cval=cval, origin=origin,
                  what=f"{dtype}{shape} * {w.shape} {mode} origin={origin} cval={cval} "
                       f"output={getattr(out, 'dtype', out)}")


@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_correlate_along_axes(name, rng):
    """`axes`: a kernel over some axes, one tap along the others."""
    if "axes" not in sndi.correlate.__code__.co_varnames:
        pytest.skip("this SciPy's correlate has no `axes` (SciPy >= 1.15)")
    x = rng.standard_normal((6, 7, 8))
    for axes in [(0,), (2,), (0, 2), (2, 1), (-1, 0), (0, 1, 2)]:
        w = rng.standard_normal(tuple(int(rng.integers(1, 5)) for _ in axes))
        for mode in MODES[:5]:
            check(name, x, w, mode=mode, axes=axes, origin=_origins(rng, w.shape),
                  what=f"axes={axes} {w.shape} {mode}")


def test_kernels_larger_than_the_input_and_even_kernels_with_every_origin(rng):
    x = rng.standard_normal((3, 2))
    for mode in MODES:
        for wshape in [(7, 9), (4, 2), (2, 6), (1, 8), (10, 1)]:
            w = rng.standard_normal(wshape)
            for origin in itertools.product(range(-(wshape[0] // 2), (wshape[0] - 1) // 2 + 1),
                                            range(-(wshape[1] // 2), (wshape[1] - 1) // 2 + 1)):
                for name in ("correlate", "convolve"):
                    check(name, x, w, mode=mode, origin=list(origin), cval=2.5,
                          what=f"{wshape} {mode} origin={origin}")


def test_reflect_windows_far_before_the_array_follow_the_definition(rng):
    """Where SciPy's N-d correlate reads before the array (see
    scipy_reads_outside), fastconv gives the reflected values SciPy's own
    correlate1d and np.pad(mode='symmetric') give."""
    x = rng.standard_normal(2)
    w = rng.standard_normal(9)
    assert scipy_reads_outside("correlate", x, w, origin=4)
    got = fndi.correlate(x, w, origin=4)
    assert_same(got, numpy_reference("correlate", x, w, origin=4), what="1-D, 9 taps on 2")
    # correlate1d adds the same terms in another order
    np.testing.assert_allclose(got, sndi.correlate1d(x, w, origin=4), rtol=1e-12, atol=1e-12)
    x = rng.standard_normal((3, 2))
    for origin in ([-3, -4], [0, 4], [3, 3]):
        for name in ("correlate", "convolve"):
            check(name, x, rng.standard_normal((7, 9)), origin=origin, what=f"origin={origin}")


def test_float32_sums_stay_within_a_direct_sums_error_on_spanning_values(rng):
    """float32 in and out sums in float32 (SciPy in double): values and weights
    whose magnitudes span ten decades either side, each output within the
    direct-sum bound of SciPy's double sum."""
    for trial in range(20):
        shape = _shape(rng, int(rng.integers(1, 4)))
        mag = 10.0 ** rng.uniform(-10, 10, shape)
        x = (rng.choice([-1.0, 1.0], shape) * mag).astype(np.float32)
        w = rng.choice([-1.0, 1.0], (3,) * x.ndim) * 10.0 ** rng.uniform(-10, 10, (3,) * x.ndim)
        check("correlate", x, w, mode=MODES[trial % len(MODES)], what=f"spanning {shape}")


def test_non_finite_values_land_where_scipy_puts_them(rng):
    """NI_Correlate skips zero weights, so inf * 0 never makes NaN there; the
    float32 path recomputes in double where its own result is not finite."""
    for dtype in ("float64", "float32"):
        x = rng.standard_normal((9, 11)).astype(dtype)
        x[2, 3], x[6, 7], x[0, 0] = np.inf, np.nan, -np.inf
        for w in (np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]), np.eye(3), np.ones((2, 2))):
            for mode in ("reflect", "constant", "wrap"):
                check("correlate", x, w, mode=mode, what=f"{dtype} non-finite {mode}")
                check("correlate", x, w, mode="constant", cval=np.inf, what=f"{dtype} cval=inf")
        big = np.full((4, 5), 3e38, dtype=np.float32)  # float32 partial sums overflow, double's do not
        big[::2] *= -1
        check("correlate", big, np.ones((3, 3)), mode="wrap", what="float32 near overflow")
    check("correlate", np.arange(6.0) * 1e300, np.array([1e-20, 1.0, 0.5]), what="tiny weights")
    check("correlate", np.arange(6.0), np.array([np.nan, 1.0, 0.5]), what="NaN weight")


@pytest.mark.parametrize("where", [0, 3, -1])
def test_float32_overflow_in_any_block_is_redone_in_double(where, restore_threads, rng):
    """Each task of the float32 N-d kernel checks its own block for values that are not
    finite; one overflowing block among many, on any thread, sends the call to the
    double sums (SciPy's result: its double sums fit float32 here, float32's overflow)."""
    x = rng.standard_normal((7, 40, 50)).astype(np.float32)
    x[where, 10:14, 20:25] = 3e38
    x[where, 10:14:2, 20:25] *= -1
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        check("correlate", x, np.ones((1, 3, 3)), mode="wrap", what=f"plane {where}, {threads} threads")
        check("convolve", x, np.ones((3, 3, 3)), mode="reflect", what=f"plane {where}, {threads} threads")


# ---- correlate1d, convolve1d, uniform_filter1d, gaussian_filter1d ---------------------------

@pytest.mark.parametrize("dtype", REAL + UNSUPPORTED + COMPLEX)
@pytest.mark.parametrize("name", ["correlate1d", "convolve1d", "uniform_filter1d",
                                  "gaussian_filter1d"])
def test_1d_filters_match_scipy_along_every_axis(name, dtype, rng):
    for ndim in (1, 2, 3, 4):
        shape = _shape(rng, ndim)
        x = with_layout(rng, random_array(rng, shape, dtype, **INTEGERS))
        for axis in range(-ndim, ndim):
            mode = MODES[int(rng.integers(len(MODES)))]
            cval = float(rng.choice([0.0, 1.5, -3.0]))
            out = None if dtype in COMPLEX else _output(rng, x)
            if name in ("correlate1d", "convolve1d"):
                taps = int(rng.integers(1, 8)) if rng.random() < 0.85 else shape[axis] + 3
                w = rng.standard_normal(taps)
                kind = rng.integers(4)  # NI_Correlate1D sums (anti)symmetric weights its own way
                if kind == 1:
                    w = w + w[::-1]
                elif kind == 2:
                    w = w - w[::-1]
                elif kind == 3:
                    w = np.round(2 * w)
                args, kwargs = (x, w), {"origin": int(rng.integers(-(taps // 2), (taps - 1) // 2 + 1))}
            elif name == "uniform_filter1d":
                size = int(rng.integers(1, 9)) if rng.random() < 0.85 else shape[axis] + 4
                args, kwargs = (x, size), {"origin": int(rng.integers(-(size // 2), size - size // 2))}
            else:
                sigma = float(rng.uniform(0.3, 3))
                args, kwargs = (x, sigma), {"order": int(rng.integers(0, 3)),
                                            "truncate": float(rng.choice([4.0, 2.0, 1.0]))}
            check(name, *args, axis=axis, output=out, mode=mode, cval=cval, **kwargs,
                  what=f"{dtype}{shape} axis={axis} {mode} {kwargs} output={getattr(out, 'dtype', out)}")


@pytest.mark.parametrize("mode", MODES)
def test_lines_shorter_than_the_kernel_in_every_mode(mode, rng):
    """Extensions several times the line's length: mirrored, wrapped and
    repeated as SciPy's NI_ExtendLine does (a line of one sample included)."""
    for n in (1, 2, 3, 5):
        for axis in (0, 1):
            shape = (n, 4) if axis == 0 else (4, n)
            x = rng.standard_normal(shape)
            check("correlate1d", x, rng.standard_normal(13), axis=axis, mode=mode, cval=-1.0,
                  origin=3, what=f"n={n} axis={axis}")
            check("uniform_filter1d", x, 11, axis=axis, mode=mode, cval=-1.0, origin=-2,
                  what=f"n={n} axis={axis}")
            check("correlate", x, rng.standard_normal((7, 9)), mode=mode, what=f"n={n}")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_colour_channels_last(dtype, rng):
    """(H, W, channels): 1-D passes whose lines lie a few elements apart, and
    N-d kernels of one tap along the channels, which run channels first."""
    for channels in (1, 3, 4):
        x = random_array(rng, (23, 31, channels), dtype, **INTEGERS)
        for mode in MODES[:5]:
            check("correlate", x, rng.standard_normal((3, 4, 1)), mode=mode, origin=[0, -1, 0],
                  what=f"{channels} channels {mode}")
            check("convolve", x, rng.standard_normal((5, 1, 1)), mode=mode, what=f"{channels} ch")
            check("gaussian_filter", x, (1.5, 2.0, 0), mode=mode, what=f"{channels} channels")
            check("uniform_filter", x, (4, 3, 1), mode=mode, what=f"{channels} channels")
            check("correlate1d", x, rng.standard_normal(5), axis=1, mode=mode, what=f"{channels} ch")
        check("correlate", x[:, 0, :], rng.standard_normal((6, 1)), what=f"(23, {channels}) by (6, 1)")


# ---- uniform_filter, gaussian_filter ------------------------------------------------------------

@pytest.mark.parametrize("dtype", REAL + COMPLEX)
def test_uniform_and_gaussian_filters_match_scipy(dtype, rng):
    for ndim in (1, 2, 3, 4):
        shape = _shape(rng, ndim)
        x = with_layout(rng, random_array(rng, shape, dtype, **INTEGERS))
        out = None if dtype in COMPLEX else _output(rng, x)
        modes = [MODES[int(i)] for i in rng.integers(len(MODES), size=ndim)]
        size = [int(s) for s in rng.integers(1, 8, ndim)]
        origin = [int(rng.integers(-(s // 2), s - s // 2)) for s in size]
        check("uniform_filter", x, size, output=out, mode=modes, cval=1.25, origin=origin,
              what=f"{dtype}{shape} size={size} {modes}")
        check("uniform_filter", x, 3, output=out, mode=modes[0], what=f"{dtype}{shape} size=3")
        sigma = [float(s) for s in rng.uniform(0, 2.5, ndim)]
        order = [int(o) for o in rng.integers(0, 3, ndim)]
        check("gaussian_filter", x, sigma, order=order, output=out, mode=modes, cval=-0.5,
              truncate=float(rng.choice([4.0, 3.0, 1.5])), what=f"{dtype}{shape} sigma={sigma}")
        radius = [int(r) for r in rng.integers(0, 6, ndim)]
        check("gaussian_filter", x, 1.5, output=out, radius=radius, what=f"{dtype}{shape} radius")


def test_gaussian_and_uniform_filters_along_axes(rng):
    if "axes" not in sndi.gaussian_filter.__code__.co_varnames:
        pytest.skip("this SciPy's gaussian_filter has no `axes` (SciPy >= 1.11)")
    x = rng.standard_normal((5, 6, 7)).astype(np.float32)
    for axes in [(0,), (2, 0), (-1,), (1, 2), None]:
        n = 3 if axes is None else len(axes)
        check("gaussian_filter", x, [1.0 + i for i in range(n)], axes=axes,
              mode=list(MODES[:n]), what=f"axes={axes}")
        check("uniform_filter", x, [2 + i for i in range(n)], axes=axes, origin=[0] * n,
              mode=list(MODES[3:3 + n]), what=f"axes={axes}")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_running_mean_along_long_lines(dtype, rng):
    """uniform_filter1d along contiguous lines adds up several lines' sums side
    by side, a block of outputs at a time: lines of many blocks, line counts
    that are not multiples of eight or four, windows longer than a block or
    than the line, any mode and origin, each output with SciPy's bits."""
    for lines, n in [(1, 1), (3, 5), (13, 600), (21, 257), (9, 1500), (1, 3000)]:
        x = random_array(rng, (lines, n), dtype, **INTEGERS)
        for size in (1, 2, 3, 8, 300, 2 * n + 1):
            mode = MODES[int(rng.integers(len(MODES)))]
            origin = int(rng.integers(-(size // 2), size - size // 2))
            check("uniform_filter1d", x, size, axis=-1, mode=mode, cval=0.75, origin=origin,
                  what=f"{dtype}{x.shape} size={size} {mode} origin={origin}")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_filters_along_many_short_lines(dtype, rng):
    """1-D filters along a short last axis (an image's colour channels, short
    rows by the thousand) run across the lines a block at a time: line
    lengths 1 to 47, line counts around the block's, windows longer than the
    line, symmetric, antisymmetric and general weights, the running mean and
    the Gaussian, any mode and origin, each output with SciPy's bits."""
    shapes = [(9, 1), (8, 2), (600, 3), (1100, 5), (513, 17), (40, 47), (64, 30, 3)]
    for shape in shapes:
        x = random_array(rng, shape, dtype, **INTEGERS)
        n = shape[-1]
        for m in sorted({1, 2, 3, 5, n + 4}):
            mode = MODES[int(rng.integers(len(MODES)))]
            origin = int(rng.integers(-(m // 2), m - m // 2))
            w = rng.standard_normal(m)
            for kind, weights in (("sym", w + w[::-1]), ("anti", w - w[::-1]), ("any", w)):
                check("correlate1d", x, weights, axis=-1, mode=mode, cval=0.5, origin=origin,
                      what=f"{dtype}{shape} m={m} {kind} {mode} origin={origin}")
            check("uniform_filter1d", x, m, axis=-1, mode=mode, cval=0.5, origin=origin,
                  what=f"{dtype}{shape} size={m} {mode} origin={origin}")
        check("gaussian_filter1d", x, 1.5, axis=-1, mode=mode, what=f"{dtype}{shape} {mode}")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_correlate_with_a_narrow_last_axis(dtype, rng):
    """N-d correlation whose last axis holds a few values (colour channels):
    the plane's rows go through the row kernel together, in one call per block
    (outputs between the rows computed and dropped; float64 a call per row
    where the kernel is much wider); channels 1 to 9, kernels wider and
    narrower than the axis, every mode; against SciPy (float32
    within a direct sum's error, the rest bit for bit). The 2-D drop-ins on
    narrow images take the same route."""
    for channels in (1, 2, 3, 4, 9):
        x = random_array(rng, (23, 31, channels), dtype, **INTEGERS)
        for kshape in ((3, 3, 3), (1, 3, 5), (5, 1, 2), (2, 2, 1), (3, 3, channels + 2),
                       (1, 2, 2 * channels + 20)):
            w = rng.standard_normal(kshape)
            mode = MODES[int(rng.integers(len(MODES)))]
            origin = [int(rng.integers(-(k // 2), k - k // 2)) for k in kshape]
            check("correlate", x, w, mode=mode, cval=1.5, origin=origin,
                  what=f"{dtype} C={channels} {kshape} {mode} origin={origin}")
    for cols in (1, 2, 3, 7, 40):
        a = rng.standard_normal((300, cols)).astype(dtype if dtype != "uint8" else "float64")
        k = rng.standard_normal((3, 3)).astype(a.dtype)
        for mode in ("full", "same", "valid") if cols >= 3 else ("full", "same"):
            got = fastconv.correlate2d(a, k, mode=mode)
            want = ssig.correlate2d(a, k, mode=mode)
            np.testing.assert_allclose(got, want, rtol=1e-5 if a.dtype == np.float32 else 1e-12,
                                       atol=1e-5 if a.dtype == np.float32 else 1e-12,
                                       err_msg=f"correlate2d {a.shape} {mode}")



def _correlate_cases(rng, dtype, cases) -> None:
    """correlate of `dtype` inputs by normal weights of each (shape, kshape)
    against SciPy (`check`), at 1 and 2 threads, in every mode, with a random
    origin and output type each time."""
    for shape, kshape in cases:
        x = random_array(rng, shape, dtype, **INTEGERS)
        w = rng.standard_normal(kshape)
        for threads, mode in itertools.product((1, 2), MODES):
            fastconv.set_num_threads(threads)
            origin = [int(rng.integers(-(k // 2), k - k // 2)) for k in kshape]
            output = (None, np.float32, np.int16)[int(rng.integers(3))] if dtype != "float32" else None
            check("correlate", x, w, mode=mode, cval=-2.5, origin=origin, output=output,
                  what=f"{dtype}{shape} by {kshape} {mode} origin={origin} output={output} "
                       f"{threads} threads")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_correlate_down_narrow_planes(dtype, rng, restore_threads):
    """Planes of up to 16 columns and 32 rows or more, by kernels more than one
    column wide, run with the plane's axes swapped (the window gathered
    transposed, the row kernel down the long axis): kernels far wider than
    the axis, taller than the plane, one row; planes outside the array
    ('constant' slices of fill); every mode and origin; typed outputs; 1 and 2
    threads; against SciPy (float32 within a direct sum's error, the rest bit
    for bit). A float32 block that overflows is redone in double."""
    _correlate_cases(rng, dtype, [((2, 70, 2), (3, 3, 101)), ((40, 3), (3, 3)), ((3, 33, 1), (2, 1, 4)),
                                  ((100, 5), (1, 12)), ((2, 64, 16), (1, 5, 3)),
                                  ((5, 36, 3), (3, 40, 2)), ((1, 90, 4), (1, 2, 9))])
    assert fastconv.explain(fndi.correlate, np.zeros((40, 3), dtype),
                            np.ones((3, 3))).algorithm == "direct-planes-swapped"
    if dtype == "float32":
        x = rng.standard_normal((4, 50, 3)).astype(np.float32)
        x[2, 49, 0] = 3e38  # in the block's last output row only (the kernel's middle row
        x[2, 49, 1] = -3e38  # doubled) float32 sums down a column overflow, SciPy's not
        w = np.ones((1, 3, 3))
        w[0, 1] = 2
        check("correlate", x, w, mode="wrap", what="float32 overflow, swapped")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8", "int16"])
def test_correlate_over_many_small_planes(dtype, rng, restore_threads):
    """Planes of up to 256 values, many of them: a task's planes have their
    windows stacked and summed in one kernel call per kernel slice (the
    outputs between planes computed and dropped); plane counts that do and do
    not fill the last stack, leading planes outside the array ('constant'),
    every mode and origin, typed outputs, 1 and 2 threads; against SciPy
    (float32 within a direct sum's error, the rest bit for bit). A float32
    plane that overflows, last in its stack, is redone in double."""
    _correlate_cases(rng, dtype, [((41, 4, 4), (3, 3, 3)), ((30, 7, 3), (2, 1, 4)),
                                  ((3, 50, 5, 2), (3, 2, 3, 2)), ((300, 2, 1), (5, 2, 1)),
                                  ((9, 16, 16), (2, 5, 5)), ((200, 3, 8), (1, 3, 2))])
    assert fastconv.explain(fndi.correlate, np.zeros((41, 4, 4), dtype),
                            np.ones((3, 3, 3))).algorithm == "direct-planes-stacked"
    if dtype == "float32":
        fastconv.set_num_threads(1)
        x = rng.standard_normal((64, 4, 4)).astype(np.float32)
        x[15, 1] = 3e38  # the last plane of the first stack, where float32's partial sums
        x[15, 2] = -3e38  # overflow the other way from SciPy's double sums
        w = np.ones((1, 3, 3))
        w[0, 1] = 2
        assert fastconv.explain(fndi.correlate, x, w, mode="wrap").algorithm == "direct-planes-stacked"
        # SciPy's bits exactly: check's float32 tolerance is unbounded where sums overflow
        assert_same(fndi.correlate(x, w, mode="wrap"), sndi.correlate(x, w, mode="wrap"),
                    what="float32 overflow, stacked")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_running_mean_along_lines_wherever_the_output_lies(dtype, rng):
    """uniform_filter1d along contiguous lines 4 KiB long into an output at
    every distance from the input modulo 4 KiB, a value apart (the means go
    through a stage where the output lies just ahead of what is read): SciPy's
    bits at each, for full line groups and lines left over."""
    item = np.dtype(dtype).itemsize
    x = rng.standard_normal((19, 4096 // item)).astype(dtype)
    cases = [(3, 0, "reflect"), (5, 1, "nearest"), (31, -7, "wrap")]
    want = {case: sndi.uniform_filter1d(x, case[0], axis=-1, origin=case[1], mode=case[2])
            for case in cases}
    buf = np.empty(x.size + 8192 // item, dtype)
    for d in range(0, 4096, item):
        o = ((x.ctypes.data + d - buf.ctypes.data) % 4096) // item
        y = buf[o:o + x.size].reshape(x.shape)
        assert (y.ctypes.data - x.ctypes.data) % 4096 == d
        for case in cases:
            y.fill(np.nan)
            got = fndi.uniform_filter1d(x, case[0], axis=-1, output=y, origin=case[1], mode=case[2])
            assert got is None or got is y
            assert y.tobytes() == want[case].tobytes(), f"{dtype} output {d} bytes on, {case}"


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int64", "uint64", "float32", "float64"])
def test_passes_over_many_values_through_doubles(dtype, rng, restore_threads):
    """Integer inputs, and any pass whose input and output dtypes differ, run
    on doubles a block of slices or columns at a time (tens of thousands of
    values), the blocks shared among the threads; arrays over several blocks,
    along every axis, one pass and several, into every kind of output, match
    SciPy's bits at 1 and 3 threads, and stores between passes are SciPy's
    (each pass reads back what the last stored)."""
    outputs = [None, np.float32, np.float64, np.int16, np.uint8]
    for threads, shape in itertools.product((1, 3), [(300, 150), (3, 200, 70), (40000,), (70, 1200)]):
        fastconv.set_num_threads(threads)
        x = random_array(rng, shape, dtype, **INTEGERS)
        for axis in range(-len(shape), 0):
            mode = MODES[int(rng.integers(len(MODES)))]
            out = outputs[int(rng.integers(len(outputs)))]
            check("uniform_filter1d", x, 5, axis=axis, mode=mode, cval=3.0, output=out,
                  what=f"{dtype}{shape} axis={axis} {mode} output={out}")
            check("correlate1d", x, [0.25, -1.5, 2.0, 0.5], axis=axis, mode=mode, cval=-2.0,
                  origin=-1, output=out, what=f"{dtype}{shape} axis={axis} {mode} output={out}")
        for out in outputs:
            check("uniform_filter", x, 4, mode="mirror", output=out,
                  what=f"{dtype}{shape} all axes output={out}")
            check("gaussian_filter", x, 1.5, mode="wrap", output=out,
                  what=f"{dtype}{shape} all axes output={out}")


def test_sigma_and_size_that_skip_axes():
    """SciPy skips axes with sigma <= 1e-15 (negative sigma too) and size <= 1,
    and then copies the input into the output."""
    x = np.arange(24.0).reshape(4, 6)
    for sigma in (0, 0.0, 1e-16, -1.0, [0, 0], [-2, 1e-16], np.nan):
        check("gaussian_filter", x, sigma, output=np.int16, what=f"sigma={sigma}")
        check("gaussian_filter", x, sigma, what=f"sigma={sigma}, no output")
    for size in (1, 0, -3, [1, 1], 2.7):
        check("uniform_filter", x, size, output=np.float32, what=f"size={size}")
        check("uniform_filter", x, size, what=f"size={size}, no output")


# ---- outputs, conversions, in place ------------------------------------------------------------

def test_integer_and_bool_outputs_are_converted_as_scipys_c_loops_convert():
    """Truncation toward zero; out of range and NaN as SciPy's x86-64 builds
    convert them (NI_Correlate's unsigned conversion negates around the cast)."""
    values = np.array([1.5, -1.5, 200.7, -200.7, 70000.2, -70000.2, 3e9, -3e9, 1e10, -1e10, 1e19,
                       -1e19, 2e19, -2e19, 9.3e18, -9.3e18, np.nan, np.inf, -np.inf, 2.0**63,
                       -2.0**63, 2.0**64, 2.0**31, -2.0**31, 2.0**32, -2.0**32, 255.9, -0.99])
    if not BITWISE:
        values = values[np.abs(values) < 2**31]  # C leaves the rest undefined
    for dtype in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool"):
        check("correlate1d", values, [1.0], output=dtype, what=dtype)
        check("correlate", values, [1.0], output=dtype, what=dtype)
        check("uniform_filter1d", values, 1, output=dtype, what=dtype)
        check("correlate", np.ones(4, bool), [1.0, 1, 1], output=dtype, what=f"{dtype} from bool")


def test_every_pass_rounds_to_the_output_dtype_as_in_scipy(rng):
    """SciPy writes each 1-D pass into the output, so integer outputs round
    (and bool ones keep their converted bytes) between passes."""
    x = rng.random((20, 30, 4)) * 300
    for out in (np.uint8, np.int8, np.bool_, np.float32):
        check("gaussian_filter", x, [1.5, 0.7, 2.0], output=out, what=f"{out.__name__}")
        check("uniform_filter", x, [3, 4, 2], output=out, what=f"{out.__name__}")
        check("gaussian_filter", x.astype(out), 1.0, what=f"{out.__name__} in and out")


def test_output_arrays_in_place_and_aliasing_the_input(rng):
    x = rng.standard_normal((15, 17))
    for name, args in [("correlate", (np.ones((3, 4)),)), ("correlate1d", ([1.0, -2.0, 0.5],)),
                       ("gaussian_filter", (1.2,)), ("uniform_filter", (4,)),
                       ("convolve", (rng.standard_normal((2, 5)),))]:
        a, b = x.copy(), x.copy()
        got = getattr(fndi, name)(a, *args, output=a)
        getattr(sndi, name)(b, *args, output=b)
        assert got is a
        assert_same(a, b, what=f"{name} output=input")
        out = np.empty((15, 17, 2), np.float32)[..., 0]
        assert getattr(fndi, name)(x, *args, output=out) is out
        assert_same(out, getattr(sndi, name)(x, *args, output=np.float32), what=f"{name} view")


def test_inputs_are_never_written_to(rng):
    x = rng.standard_normal((10, 12)).astype(np.float32)
    w = rng.standard_normal((3, 3))
    x0, w0 = x.copy(), w.copy()
    x.flags.writeable = w.flags.writeable = False
    for call in (lambda: fndi.correlate(x, w), lambda: fndi.convolve(x, w, mode="wrap"),
                 lambda: fndi.correlate1d(x, w[0], axis=0), lambda: fndi.gaussian_filter(x, 2),
                 lambda: fndi.uniform_filter(x, 5, mode="constant")):
        call()
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_byte_swapped_inputs_and_outputs(rng):
    x = rng.standard_normal((8, 9)).astype(">f8")
    check("correlate", x, np.ones((2, 3)), what=">f8")
    check("gaussian_filter", x.astype(">f4"), 1.0, what=">f4")
    out = np.zeros((8, 9), ">i4")
    check("uniform_filter", x * 50, 3, output=out, what="output >i4")


# ---- the same exceptions ------------------------------------------------------------------------

X = np.arange(12.0).reshape(3, 4)
BAD_CALLS = {
    "origin too large": ("correlate", (X, np.ones((3, 3))), {"origin": 2}),
    "origin too small 1d": ("correlate1d", (X, np.ones(4)), {"origin": -3}),
    "origin per axis too long": ("correlate", (X, np.ones((3, 3))), {"origin": [0, 0, 0]}),
    "origin float": ("correlate", (X, np.ones((3, 3))), {"origin": 0.5}),
    "convolve1d origin": ("convolve1d", (X, [1.0, 2.0]), {"origin": 1}),
    "uniform origin": ("uniform_filter", (X, 3), {"origin": 2}),
    "uniform1d origin": ("uniform_filter1d", (X, 4), {"origin": -3}),
    "mode name": ("correlate", (X, np.ones((3, 3))), {"mode": "symmetric"}),
    "mode name 1d": ("correlate1d", (X, [1.0]), {"mode": "fill"}),
    "mode None": ("gaussian_filter", (X, 1), {"mode": None}),
    "mode sequence for correlate": ("correlate", (X, np.ones((3, 3))), {"mode": ["wrap", "reflect"]}),
    "mode sequence too short": ("uniform_filter", (X, 3), {"mode": ["wrap"]}),
    "weights of fewer dimensions": ("correlate", (X, np.ones(3)), {}),
    "weights of more dimensions": ("convolve", (X, np.ones((1, 3, 3))), {}),
    "weights empty": ("correlate", (X, np.ones((0, 3))), {}),
    "weights 2-D for 1-D": ("correlate1d", (X, np.ones((2, 2))), {}),
    "weights none 1-D": ("correlate1d", (X, []), {}),
    "weights strings": ("correlate", (X, np.array([["a"]])), {}),
    "sigma < 0 in 1-D": ("gaussian_filter1d", (X, -1.0), {}),
    "sigma string": ("gaussian_filter", (X, "1"), {}),
    "sigma inf": ("gaussian_filter", (X, np.inf), {}),
    "sigma sequence too long": ("gaussian_filter", (X, [1, 1, 1]), {}),
    "order < 0": ("gaussian_filter", (X, 1), {"order": -1}),
    "radius < 0": ("gaussian_filter", (X, 1), {"radius": -1}),
    "radius float": ("gaussian_filter1d", (X, 1), {"radius": 2.0}),
    "size 0 in 1-D": ("uniform_filter1d", (X, 0), {}),
    "size float in 1-D": ("uniform_filter1d", (X, 2.0), {}),
    "axis out of range": ("correlate1d", (X, [1.0]), {"axis": 2}),
    "axis float": ("uniform_filter1d", (X, 3), {"axis": 1.0}),
    "input 0-d along an axis": ("correlate1d", (np.float64(2), [1.0]), {}),
    "float16 input": ("correlate", (X.astype(np.float16), np.ones((2, 2))), {}),
    "float16 input 1-D": ("gaussian_filter", (X.astype(np.float16), 1), {}),
    "long double input": ("uniform_filter", (X.astype(np.longdouble), 3), {}),
    "object input": ("correlate", (X.astype(object), np.ones((2, 2))), {}),
    "string input": ("correlate", (np.array(["ab", "c"]), np.ones(2)), {}),
    "float16 output": ("correlate", (X, np.ones((2, 2))), {"output": np.float16}),
    "complex output for real input": ("correlate1d", (X, [1.0]), {"output": np.complex128}),
    "output of the wrong shape": ("uniform_filter", (X, 3), {"output": np.zeros((4, 3))}),
    "output string not numeric": ("correlate", (X, np.ones((2, 2))), {"output": "U"}),
    "read-only output": ("correlate", (X, np.ones((2, 2))),
                         {"output": np.broadcast_to(np.zeros(4), (3, 4))}),
    "read-only output 1-D": ("gaussian_filter1d", (X, 1.0),
                             {"output": np.broadcast_to(np.zeros(4), (3, 4))}),
    "cval complex for real input": ("correlate", (X, np.ones((2, 2))), {"cval": 1j}),
    "cval complex with complex weights": ("correlate", (X, np.ones((2, 2)) * 1j), {"cval": 1j}),
    "cval string": ("uniform_filter", (X, 3), {"cval": "1"}),
    "cval None": ("correlate1d", (X, [1.0]), {"cval": None}),
    "cval array": ("correlate", (X, np.ones((2, 2))), {"cval": np.array([1.0, 2.0])}),
}


if "axes" in sndi.gaussian_filter.__code__.co_varnames:  # SciPy >= 1.11
    BAD_CALLS["axes repeated"] = ("gaussian_filter", (X, 1), {"axes": (0, 0)})
    BAD_CALLS["axes out of range"] = ("uniform_filter", (X, 3), {"axes": (0, 2)})


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_calls_raise_scipys_exception_type(case):
    name, args, kwargs = BAD_CALLS[case]
    assert_same_exception(lambda: getattr(fndi, name)(*args, **kwargs),
                          lambda: getattr(sndi, name)(*args, **kwargs), op=name, case=case)


def test_edge_shapes_match_scipy():
    for x in (np.float64(2.5), np.ones((0, 4)), np.ones((3, 0, 2)), np.ones((1, 1, 1, 1, 1))):
        check("correlate", x, np.full((1,) * np.ndim(x), 0.5), what=f"shape {np.shape(x)}")
        check("gaussian_filter", x, 1.0, what=f"shape {np.shape(x)}")
        check("uniform_filter", x, 3, what=f"shape {np.shape(x)}")
    check("correlate", np.float64(3.0), 1e-20, what="0-d, a weight SciPy skips")
    check("correlate", np.ones((0, 4), np.float16), np.ones((2, 2)), what="empty float16")
    check("correlate", X, np.ones((0, 2, 2)), what="weights with an empty extra axis")
    check("correlate", [[1, 2], [3, 4]], [[1, 1], [1, 1]], what="lists")


# ---- ISAs, threads, hand-over to SciPy, no SciPy ----------------------------------------------

def test_every_isa_gives_the_same_bits(isa, rng):
    for dtype in ("float64", "float32", "uint8"):
        x = random_array(rng, (37, 45), dtype, **INTEGERS)
        for mode in MODES[:5]:
            check("correlate", x, rng.standard_normal((3, 5)), mode=mode, what=f"{isa} {dtype}")
            check("gaussian_filter", x, [2.0, 0.8], mode=mode, what=f"{isa} {dtype}")
            check("uniform_filter", x, [5, 3], mode=mode, what=f"{isa} {dtype}")
            check("correlate1d", x, rng.standard_normal(6), axis=0, mode=mode, what=f"{isa} {dtype}")


def test_threads_do_not_change_the_bits(restore_threads, rng):
    """Large enough for many tasks per call; the threshold is 0 in this test."""
    x = rng.standard_normal((3, 70, 300))
    x32 = x.astype(np.float32)
    calls = [lambda: fndi.correlate(x, np.ones((2, 3, 4)), mode="mirror"),
             lambda: fndi.correlate(x32, np.ones((3, 3, 3)) / 27),
             lambda: fndi.gaussian_filter(x32, 2.0, mode="wrap"),
             lambda: fndi.uniform_filter((x * 9).astype(np.int16), (1, 7, 5)),
             lambda: fndi.correlate1d(x, np.arange(9.0), axis=1, mode="nearest"),
             # a share of few long lines for each thread; short lines across; narrow planes
             lambda: fndi.uniform_filter1d(x.reshape(9, -1), 11),
             lambda: fndi.gaussian_filter1d(x32.reshape(-1, 3), 1.5),
             lambda: fndi.correlate(x.reshape(70, 100, 9), np.arange(27.0).reshape(3, 3, 3))]
    fastconv.set_num_threads(1)
    one = [c() for c in calls]
    fastconv.set_num_threads(2)
    two = [c() for c in calls]
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()


def _at_offset(shape, dtype, offset):
    """An array of `shape` starting `offset` values past a 128-byte boundary."""
    n = math.prod(shape)
    item = np.dtype(dtype).itemsize
    buf = np.empty(n * item + 256 + offset * item, np.uint8)
    start = (-buf.ctypes.data) % 128 + offset * item
    return buf[start:start + n * item].view(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_column_blocks_at_any_offset_of_the_output_keep_scipys_bits(dtype, restore_threads, rng):
    """Down columns, the threads' blocks end on 128-byte boundaries of the output, wherever
    the output starts: with an output starting 0-15 values past a boundary, the blocks (a
    spare one where column 0 sits on a boundary) still cover every column once, at 1, 2 and
    3 threads. Along strided lines narrower than a task's lanes, tasks take whole groups."""
    cases = [((5, 600), 0, 4), ((2, 40, 100), 1, 3), ((3, 9, 70), 1, 31), ((3, 5000), 0, 5),
             ((7, 50, 3), 1, 4), ((4, 30, 5), 1, 9)]
    for (shape, axis, size), offset, threads in itertools.product(cases, (0, 1, 3, 8, 15), (1, 2, 3)):
        fastconv.set_num_threads(threads)
        x = rng.standard_normal(shape).astype(dtype)
        weights = rng.standard_normal(size)
        for name, arg in (("uniform_filter1d", size), ("correlate1d", weights)):
            want = getattr(sndi, name)(x, arg, axis=axis)
            got = _at_offset(shape, dtype, offset)
            got[...] = np.nan
            getattr(fndi, name)(x, arg, axis=axis, output=got)
            assert got.tobytes() == want.tobytes(), (name, shape, axis, offset, threads)


@pytest.mark.parametrize("pair", [("uint8", "uint8"), ("int16", "int16"), ("uint16", "float64"),
                                  ("int32", "float32"), ("float64", "uint8"), ("float32", "int8"),
                                  ("uint64", "uint64"), ("int64", "uint32"), ("bool", "int16")])
def test_n_d_correlation_of_other_dtypes_block_by_block_keeps_scipys_bits(pair, restore_threads,
                                                                          rng):
    """correlate and convolve of an input or into an output of another dtype
    than float32 in and out: each task reads its windows as doubles and stores
    its block (C's fc_correlatend_typed), over images of many tasks and their
    edges, leading kernel axes with every mode, 1 to 3 threads: SciPy's bits,
    negative and out-of-range sums stored as SciPy stores them."""
    xt, yt = pair
    cases = [((70, 301), (3, 3), "reflect"), ((5, 33, 40), (3, 2, 4), "constant"),
             ((3, 4, 17, 9), (2, 1, 3, 3), "wrap"), ((1000,), (7,), "mirror"),
             ((40, 64), (5, 1), "nearest"), ((6, 4500), (3, 3), "reflect")]  # (two column blocks)
    for (shape, kshape, mode), threads in itertools.product(cases, (1, 2, 3)):
        fastconv.set_num_threads(threads)
        if xt == "bool":
            x = rng.random(shape) < 0.5
        elif xt.startswith("float"):
            x = (rng.standard_normal(shape) * 120).astype(xt)
        else:
            info = np.iinfo(xt)
            x = rng.integers(max(info.min, -3000), min(info.max, 3000), shape, endpoint=True).astype(xt)
        w = rng.standard_normal(kshape) * 3
        for name in ("correlate", "convolve"):
            want = getattr(sndi, name)(x, w, output=np.dtype(yt), mode=mode, cval=-7.5)
            got = getattr(fndi, name)(x, w, output=np.dtype(yt), mode=mode, cval=-7.5)
            assert got.dtype == want.dtype
            assert got.tobytes() == want.tobytes(), (name, pair, shape, kshape, mode, threads)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_wide_rows_a_power_of_two_apart_keep_scipys_bits(dtype, restore_threads, rng):
    """Correlations along an axis whose rows lie a multiple of 2 KiB apart copy their
    window a strip of columns at a time, or (rows of more than 4,096 values, down
    columns) a block's rows a chunk at a time (the rows would share the caches' sets):
    SciPy's bits for symmetric, antisymmetric and general weights, every mode, an
    origin, outer axes, 1 to 3 threads."""
    item = np.dtype(dtype).itemsize
    cols = 2048 // item  # a row exactly 2 KiB
    cases = [((90, cols), 0), ((3, 60, cols), 1), ((70, 2 * cols), 0),
             ((30, 4608), 0), ((12, 3, 2048), 0)]  # rows of over 4,096 values: down columns
    antisym = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    for (shape, axis), threads in itertools.product(cases, (1, 2, 3)):
        fastconv.set_num_threads(threads)
        x = rng.standard_normal(shape).astype(dtype)
        for mode in MODES[:5]:
            check("gaussian_filter1d", x, 3.0, axis=axis, mode=mode, what=f"{shape} {threads}t")
            check("correlate1d", x, rng.standard_normal(17), axis=axis, mode=mode, origin=2,
                  what=f"{shape} {threads}t")
            check("correlate1d", x, antisym, axis=axis, mode=mode, what=f"{shape} {threads}t")


def test_concurrent_calls_from_python_threads(rng):
    """The kernels run without the GIL; calls from several threads at once
    give each its own result."""
    images = [rng.standard_normal((120, 130)).astype(dt) for dt in ("float64", "float32", "uint8")
              for _ in range(2)]
    calls = [lambda x: fndi.gaussian_filter(x, 1.5, mode="mirror"),
             lambda x: fndi.uniform_filter(x, (5, 3)),
             lambda x: fndi.correlate(x, np.arange(12.0).reshape(3, 4), mode="wrap")]
    want = [[c(x) for c in calls] for x in images]
    errors = []

    def worker(i):
        try:
            for _ in range(5):
                for got, expected in zip([c(images[i]) for c in calls], want[i]):
                    assert got.tobytes() == expected.tobytes()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[0]


_FRONT = fndi._ndfront  # the compiled module, before any test replaces it


class _NoFrontDoor:
    """Stands in for fastconv._ndfront: every call declined, so the general
    path in ndimage.py runs."""

    def __getattr__(self, name):
        return lambda *args: None


class _FrontDoorSpy:
    """Stands in for fastconv._ndfront, noting the entry points that returned a
    result rather than declining."""

    def __init__(self):
        self.taken: list[str] = []

    def __getattr__(self, name):
        real = getattr(_FRONT, name)

        def call(*args):
            result = real(*args)
            if result is not None:
                self.taken.append(name)
            return result
        return call


INT_DTYPES = ("uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64")


def _taps(ndim: int, one) -> np.ndarray:
    """Weights of `ndim` axes, one tap along the axes a where one(a), else three."""
    shape = tuple(1 if one(a) else 3 for a in range(ndim))
    return np.arange(1.0, 1 + math.prod(shape)).reshape(shape) - 3

# Common calls: what fastconv._ndfront takes (ndarray float64/float32 or an
# integer dtype; list or array weights; a mode name, Python numbers)
FRONT_CALLS = [
    ("correlate", "correlate", lambda x: (x, np.full((3,) * x.ndim, 0.5)), {"mode": "nearest"}),
    ("correlate", "correlate", lambda x: (x, np.arange(9.0).reshape(3, 3) - 4), {}),
    ("correlate", "correlate", lambda x: (x, [[1, 2], [3, -4]]), {"mode": "wrap", "origin": -1}),
    ("correlate", "convolve", lambda x: (x, np.ones((2, 3)) / 6), {"mode": "constant", "cval": 2.5}),
    ("correlate", "convolve", lambda x: (x, np.linspace(-1, 1, 15).reshape(5, 3)),
     {"mode": "mirror", "origin": 1}),
    # axes filtered by one tap: dropped (one value) or merged with their neighbours
    ("correlate", "correlate", lambda x: (x, _taps(x.ndim, lambda a: a == x.ndim - 1)), {}),
    ("correlate", "convolve", lambda x: (x, _taps(x.ndim, lambda a: a % 2 == 0)), {"mode": "wrap"}),
    ("correlate", "correlate", lambda x: (x, _taps(x.ndim, lambda a: a > 0)), {"mode": "constant"}),
    ("correlate1d", "correlate1d", lambda x: (x, [1.0, 2.0, 1.0]), {"axis": 0, "mode": "nearest"}),
    ("correlate1d", "convolve1d", lambda x: (x, np.array([0.5, -1.0, 3.0, 2.0])),
     {"mode": "grid-wrap", "origin": -2}),
    ("correlate1d", "gaussian_filter1d", lambda x: (x, 1.5), {"axis": 0}),
    ("uniform_filter1d", "uniform_filter1d", lambda x: (x, 4), {"mode": "constant", "cval": 7}),
    ("separable", "gaussian_filter", lambda x: (x, 1.0), {}),
    ("separable", "gaussian_filter", lambda x: (x, 2), {"order": 1, "mode": "nearest"}),
    ("separable", "uniform_filter", lambda x: (x, 3), {}),
    ("separable", "uniform_filter", lambda x: (x, 5), {"mode": "constant", "cval": 3.0, "origin": 1}),
]


@pytest.mark.parametrize("shape", [(1,), (7,), (1, 1), (5, 3), (16, 16), (4, 5, 6)])
@pytest.mark.parametrize("front, name, make, kwargs", FRONT_CALLS,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(FRONT_CALLS)])
def test_common_calls_take_the_front_door_with_scipys_results(monkeypatch, rng, shape, front,
                                                              name, make, kwargs):
    """A common call runs in fastconv._ndfront (its entry point returns a result,
    not None) and gives SciPy's result (`check`) and the general path's bits.
    Integers: sums beyond the dtype's range (negative weights, derivatives,
    large values) are stored as SciPy's C loops store them."""
    for dtype in ("float64", "float32") + INT_DTYPES:
        scale = 200 if dtype in ("float64", "float32", "uint8") else 3e4 if dtype != "int8" else 100
        x = (rng.random(shape) * scale).astype(dtype)
        args = make(x)
        if name in ("correlate", "convolve") and np.ndim(args[1]) != x.ndim:
            continue
        what = f"{dtype}{shape} {kwargs}"
        check(name, *args, what=what, **kwargs)
        spy = _FrontDoorSpy()
        monkeypatch.setattr(fndi, "_ndfront", spy)
        got = getattr(fndi, name)(*args, **kwargs)
        monkeypatch.setattr(fndi, "_ndfront", _NoFrontDoor())
        general = getattr(fndi, name)(*args, **kwargs)
        monkeypatch.undo()
        assert front in spy.taken, f"{name} {what}: the front door declined a common call"
        assert_same(got, general, what=f"{name} {what}: front door vs the general path")


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_channels_filtered_by_one_tap_go_in_front_in_large_enough_arrays(monkeypatch, rng, dtype):
    """Trailing axes filtered by one tap holding 2-15 values (colour channels)
    go in front of the others (the input transposed into scratch, so that the
    2-D kernels run image rows, the result transposed back) in arrays of
    _ndfront.channels_first_from values or more; axes of one value are
    dropped at any size. The front door takes every such call, with SciPy's
    results and the general path's bits on either side of the threshold."""
    edge = _FRONT.channels_first_from
    side = math.isqrt(edge // 3)
    for shape, kshape in [((8, 8, 3), (3, 3, 1)), ((side, side, 3), (3, 3, 1)),
                          ((side + 1, side + 1, 3), (3, 3, 1)), ((40, 40, 3), (5, 5, 1)),
                          ((16, 16, 2, 2), (3, 1, 1, 1)), ((30, 30, 2, 2), (2, 3, 1, 1)),
                          ((90, 90, 1), (3, 3, 1)), ((3, 90, 90, 1), (2, 3, 3, 1))]:
        x = random_array(rng, shape, dtype, **INTEGERS)
        w = rng.standard_normal(kshape)
        for mode in ("nearest", "constant"):
            what = f"{dtype}{shape} by {kshape} {mode}"
            check("correlate", x, w, mode=mode, cval=1.5, what=what)
            spy = _FrontDoorSpy()
            monkeypatch.setattr(fndi, "_ndfront", spy)
            got = fndi.correlate(x, w, mode=mode, cval=1.5)
            monkeypatch.setattr(fndi, "_ndfront", _NoFrontDoor())
            general = fndi.correlate(x, w, mode=mode, cval=1.5)
            monkeypatch.undo()
            assert "correlate" in spy.taken, what
            assert_same(got, general, what=f"{what}: front door vs the general path")


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_inputs_at_the_front_door_are_stored_as_scipy_stores_them(monkeypatch, rng, dtype):
    """Sums far outside the dtype's range, NaN from a NaN cval, negative sums
    into unsigned types: the front door's stores are SciPy's, bit for bit."""
    info = np.iinfo(dtype)
    x = rng.integers(info.min // 2, info.max // 2, (9, 11), dtype=dtype, endpoint=True)
    nan = float("nan")
    for front, name, args, kwargs in [
            ("correlate", "correlate", (np.arange(9.0).reshape(3, 3) - 4,), {"mode": "constant", "cval": nan}),
            ("correlate", "correlate", (np.array([[1e10, -3e10], [2.5, -1.0]]),), {}),
            ("correlate", "convolve", (np.array([[-1.0, 2.0], [3.0, -4.0]]),), {"mode": "wrap"}),
            ("correlate1d", "correlate1d", ([1.5, -2.5, 3.0],), {"mode": "constant", "cval": -1e20}),
            ("separable", "gaussian_filter", (1.0,), {"order": 1}),
            ("correlate1d", "gaussian_filter1d", (2.0,), {"order": 2, "mode": "constant", "cval": nan}),
            ("separable", "uniform_filter", (3,), {"mode": "constant", "cval": -5.5}),
            ("uniform_filter1d", "uniform_filter1d", (4,), {"mode": "constant", "cval": 1e30})]:
        spy = _FrontDoorSpy()
        monkeypatch.setattr(fndi, "_ndfront", spy)
        got = getattr(fndi, name)(x, *args, **kwargs)
        monkeypatch.undo()
        assert front in spy.taken, f"{name} {dtype} {kwargs}: the front door declined"
        assert_same(got, getattr(sndi, name)(x, *args, **kwargs), what=f"{name} {dtype} {kwargs}")


def test_bool_inputs_take_the_front_door_byte_by_byte(monkeypatch, rng):
    """A bool image (a byte of 2 among them, which SciPy reads as 2) into bool,
    float and uint8 results, dtypes and arrays: the uint8 front door on its
    bytes, with SciPy's bytes."""
    x = rng.random((9, 11)) > 0.5
    odd = x.view(np.uint8).copy()
    odd[0, 0] = 2
    for xx in (x, odd.view(bool), x[:, ::2]):
        for out in (None, np.bool_, bool, "bool array", np.float32, np.uint8, "float array"):
            for front, name, args, kwargs in [
                    ("correlate", "correlate", (np.arange(9.0).reshape(3, 3) - 4,), {}),
                    ("correlate1d", "correlate1d", ([1.0, 2.0, 1.0],), {}),
                    ("separable", "gaussian_filter", (1.0,), {"order": 1}),
                    ("uniform_filter1d", "uniform_filter1d", (4,), {"mode": "constant", "cval": 2.0})]:
                output = (np.zeros(xx.shape, bool) if out == "bool array" else
                          np.zeros(xx.shape) if out == "float array" else out)
                want = getattr(sndi, name)(
                    xx, *args, output=output.copy() if isinstance(output, np.ndarray) else output, **kwargs)
                spy = _FrontDoorSpy()
                monkeypatch.setattr(fndi, "_ndfront", spy)
                got = getattr(fndi, name)(xx, *args, output=output, **kwargs)
                monkeypatch.undo()
                what = f"{name} into {out}"
                assert front in spy.taken, what
                assert not isinstance(output, np.ndarray) or got is output, what
                assert_same(got, want, what=what)


@pytest.mark.parametrize("shape", [(40, 3, 37), (6, 4, 5, 35), (33, 1, 2, 70), (2, 70, 3)])
def test_fortran_arrays_of_any_rank_are_copied_into_the_front_door(monkeypatch, rng, shape):
    """An array in Fortran order (a transposed C array) of 3 or 4 axes is copied
    into C order by blocked transposes of its first and last axes, one for
    each index of the middle ones, then filtered at the front door: SciPy's
    results, the input left alone."""
    for dtype in ("float64", "float32", "uint8", "int16"):
        x = np.asfortranarray(random_array(rng, shape, dtype, **INTEGERS))
        before = x.copy(order="K")
        w = rng.standard_normal((3,) * len(shape))
        for front, name, args in [("correlate", "correlate", (w,)),
                                  ("uniform_filter1d", "uniform_filter1d", (5,)),
                                  ("separable", "gaussian_filter", (1.0,))]:
            spy = _FrontDoorSpy()
            monkeypatch.setattr(fndi, "_ndfront", spy)
            getattr(fndi, name)(x, *args, axis=1) if name.endswith("1d") else getattr(fndi, name)(x, *args)
            monkeypatch.undo()
            assert front in spy.taken, f"{name} {dtype}{shape}"
            kwargs = {"axis": 1} if name.endswith("1d") else {}
            check(name, x, *args, what=f"{dtype}{shape} Fortran order", **kwargs)
        assert x.flags.f_contiguous and np.array_equal(x, before)


@pytest.mark.parametrize("layout", ["channel", "step", "fortran", "big-endian"])
def test_other_layouts_are_copied_into_the_front_door(monkeypatch, rng, layout):
    """A channel of an RGB image, a strided or transposed view, a big-endian
    array: copied C-contiguous and native first, as the general path copies
    them, then the front door, with SciPy's bits; the input is left alone."""
    for dtype in ("float64", "uint8", "int16", "complex128"):
        base = (rng.random((9, 11)) * 100).astype(dtype)
        if layout == "channel":
            rgb = np.zeros((9, 11, 3), dtype)
            rgb[..., 1] = base
            x = rgb[..., 1]
        elif layout == "step":
            big = np.zeros((18, 22), dtype)
            big[::2, ::2] = base
            x = big[::2, ::2]
        elif layout == "fortran":
            x = np.asfortranarray(base)
        else:
            x = base.astype(base.dtype.newbyteorder())
        before = x.copy()
        for front, name, args in [("correlate", "correlate", (np.arange(9.0).reshape(3, 3) - 4,)),
                                  ("correlate1d", "correlate1d", ([1.0, 2.0, 1.0],)),
                                  ("separable", "gaussian_filter", (1.0,)),
                                  ("uniform_filter1d", "uniform_filter1d", (3,))]:
            spy = _FrontDoorSpy()
            monkeypatch.setattr(fndi, "_ndfront", spy)
            got = getattr(fndi, name)(x, *args)
            monkeypatch.undo()
            what = f"{name} {dtype} {layout}"
            assert front in spy.taken, what
            assert_same(got, getattr(sndi, name)(x, *args), what=what)
        assert np.array_equal(x, before) and x.dtype == before.dtype


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_complex_inputs_at_the_front_door_get_scipys_bits(monkeypatch, rng, dtype):
    """A complex input with real weights: the front door runs its real passes
    on the two parts, as SciPy's _complex_via_real_components, with SciPy's
    bits (complex64 correlate and convolve: float32 direct sums' rounding);
    complex weights take the general path."""
    x = (rng.standard_normal((9, 11)) + 1j * rng.standard_normal((9, 11))).astype(dtype)
    for front, name, args, kwargs in [
            ("correlate", "correlate", (np.arange(9.0).reshape(3, 3) - 4,), {"mode": "constant", "cval": -2.5}),
            ("correlate", "convolve", (np.array([[-1.0, 2.0], [3.0, -4.0]]),), {"mode": "wrap"}),
            ("correlate1d", "correlate1d", ([1.5, -2.5, 3.0],), {}),
            ("correlate1d", "convolve1d", ([1.5, -2.5, 3.0, 1.0],), {"axis": 0, "mode": "nearest"}),
            ("separable", "gaussian_filter", (1.0,), {"order": 1}),
            ("separable", "gaussian_filter", ([1.5, 0.5],), {}),
            ("correlate1d", "gaussian_filter1d", (2.0,), {"mode": "constant", "cval": 7.0}),
            ("separable", "uniform_filter", (3,), {"mode": "constant", "cval": -5.5}),
            ("uniform_filter1d", "uniform_filter1d", (4,), {}),
            (None, "correlate", (np.array([[1j, 2.0], [3.0, 4.0]]),), {})]:
        for out in (None, "array"):
            output = None if out is None else np.zeros(x.shape, dtype)
            want = getattr(sndi, name)(x, *args, output=None if output is None else output.copy(), **kwargs)
            spy = _FrontDoorSpy()
            monkeypatch.setattr(fndi, "_ndfront", spy)
            got = getattr(fndi, name)(x, *args, output=output, **kwargs)
            monkeypatch.undo()
            what = f"{name} {dtype} {kwargs} output={out}"
            assert (front in spy.taken) if front else not spy.taken, what
            assert output is None or got is output, what
            if dtype == "complex64" and name in ("correlate", "convolve"):
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-5, err_msg=what)
                assert got.dtype == want.dtype, what
            else:
                assert_same(got, want, what=what)


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_complex_one_d_filters_read_both_parts_in_place(monkeypatch, rng, dtype):
    """The 1-D filters of a complex input run on its real view, both parts
    side by side (cval 0 or a mode that reads no cval), in every mode, along
    every axis (negative ones too), from every layout, into a new array or an
    output array: SciPy's bits, the input untouched. A cval other than +0 in a
    constant mode (each part has its own) goes part by part, with SciPy's
    bits too."""
    base = (rng.standard_normal((6, 7, 5)) + 1j * rng.standard_normal((6, 7, 5))).astype(dtype)
    layouts = {"contiguous": base, "transposed": base.T,
               "strided": np.repeat(base, 2, axis=1)[:, ::2],
               "channel": np.stack([base, base], axis=-1)[..., 1]}
    filters = [("correlate1d", ([1.5, -2.5, 3.0],), {}), ("convolve1d", ([0.5, 2.0],), {}),
               ("uniform_filter1d", (4,), {}), ("gaussian_filter1d", (1.2,), {})]
    for (layout, x), mode, axis, cval in itertools.product(
            layouts.items(), MODES, (0, -1, 1), (0.0, -0.0, 2.5)):
        if mode not in ("constant", "grid-constant") and cval != 0.0:
            continue
        before = x.copy()
        for name, args, kwargs in filters:
            kw = dict(kwargs, mode=mode, axis=axis, cval=cval)
            want = getattr(sndi, name)(x, *args, **kw)
            assert_same(getattr(fndi, name)(x, *args, **kw), want,
                        what=f"{name} {layout} {mode} axis={axis} cval={cval}")
            out = np.full(x.shape, np.nan, dtype)
            assert getattr(fndi, name)(x, *args, output=out, **kw) is out
            assert_same(out, want, what=f"{name} {layout} {mode} axis={axis} cval={cval} into out")
        for name, args in (("gaussian_filter", (1.0,)), ("uniform_filter", (3,))):
            want = getattr(sndi, name)(x, *args, mode=mode, cval=cval)
            assert_same(getattr(fndi, name)(x, *args, mode=mode, cval=cval), want,
                        what=f"{name} {layout} {mode} cval={cval}")
        assert np.array_equal(x, before, equal_nan=True)
    # the in-place path is the front door's, not the general path's
    spy = _FrontDoorSpy()
    monkeypatch.setattr(fndi, "_ndfront", spy)
    fndi.correlate1d(base, [1.0, 2.0, 1.0], axis=-1)
    fndi.gaussian_filter(base, 1.0)
    monkeypatch.undo()
    assert {"correlate1d", "separable"} <= set(spy.taken)


def test_large_inputs_in_other_forms_through_kept_scratch(rng):
    """Inputs whose copies or parts are large enough for the kept scratch
    blocks (integer and float arrays in another layout, transposed ones by the
    blocked transpose, complex arrays in any layout, through the 1-D and N-d
    filters), at sizes that grow, shrink and grow again so the blocks are
    reused, taken over and put out: SciPy's bits every time, results in memory
    of their own (or `output`), inputs untouched."""
    sides = (96, 160, 64, 200, 96)
    dtypes = ("uint8", "int16", "float32", "float64", "complex128", "complex64")
    for side, dtype in itertools.product(sides, dtypes):
        shape = (side, side + 37)  # the transposed form: Fortran order, not square
        base = rng.standard_normal(shape) * 50
        if dtype.startswith("complex"):
            base = base + 1j * rng.standard_normal(shape)
        base = base.astype(dtype)
        for layout, x in (("transposed", base.T), ("strided", np.repeat(base, 2, axis=0)[::2]),
                          ("contiguous", base), ("big-endian", base.astype(base.dtype.newbyteorder(">")))):
            if layout == "contiguous" and not dtype.startswith("complex"):
                continue
            before = x.copy()
            for name, args, kwargs in (("correlate", (np.arange(9.0).reshape(3, 3) - 4,), {"mode": "constant", "cval": 1.5}),
                                       ("correlate1d", ([1.0, -2.0, 0.5],), {"axis": 0}),
                                       ("gaussian_filter", (1.5,), {}),
                                       ("uniform_filter", (3,), {"mode": "constant", "cval": 2.0})):
                what = f"{name} {dtype} {layout} {side}"
                want = getattr(sndi, name)(x, *args, **kwargs)
                got = getattr(fndi, name)(x, *args, **kwargs)
                assert got.base is None and got.flags.owndata, what
                if dtype == "float32" and name == "correlate" or dtype == "complex64" and name == "correlate":
                    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-3, err_msg=what)
                    assert got.dtype == want.dtype, what
                else:
                    assert_same(got, want, what=what)
                out = np.empty(x.shape, want.dtype)
                assert getattr(fndi, name)(x, *args, output=out, **kwargs) is out, what
                assert np.array_equal(out, got, equal_nan=True), what
            assert np.array_equal(x, before), layout


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8", "int16"])
def test_per_axis_sigmas_sizes_and_numpy_numbers_at_the_front_door(monkeypatch, rng, dtype):
    """Sequences of sigmas, sizes and origins, and NumPy numbers, take the
    front door with SciPy's bits; a float32 sigma (SciPy's weights are then
    float32 arithmetic) takes the general path, with SciPy's bits too."""
    x = (rng.random((12, 10)) * 200).astype(dtype)
    cases = [("gaussian_filter", (s,), kw, front)
             for s, front in (([1.0, 2.0], True), ((0.5, 0), True), (np.float64(1.3), True),
                              (np.int64(2), True), ([1e-16, 1.0], True), ([float("nan"), 1.0], True),
                              ([0, 0], False), (np.float32(0.7), False), ([np.float32(1.2), 3], False))
             for kw in ({}, {"order": 1}, {"mode": "constant", "cval": 3.0})]
    cases += [("uniform_filter", (n,), {"origin": o}, front)
              for n, o, front in (([3, 5], 0, True), ((2, 4), [0, -1], True),
                                  (np.int64(3), np.int64(1), True), ([1, 3], [0, 1], True),
                                  (1, 0, False), ([3, 5], [0, 9], False))]
    for name, args, kwargs, front in cases:
        what = f"{name} {dtype} {args} {kwargs}"
        spy = _FrontDoorSpy()
        monkeypatch.setattr(fndi, "_ndfront", spy)
        got = _call(getattr(fndi, name), x, *args, **kwargs)
        monkeypatch.undo()
        assert ("separable" in spy.taken) == front, what
        want = _call(getattr(sndi, name), x, *args, **kwargs)
        if isinstance(want, Exception):
            assert type(got) is type(want), what
        else:
            assert_same(got, want, what=what)


@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8", "int16", "int64", "uint64"])
def test_outputs_of_another_dtype_at_the_front_door_get_scipys_bits(monkeypatch, rng, dtype):
    """output= a dtype, a scalar type or an array of another dtype than the
    input's: every pass stores into it as SciPy does (a separable filter's
    later passes read those stores), with SciPy's bits (float32 in and out of
    correlate and convolve: a direct sum's rounding, as without output)."""
    x = (rng.random((9, 11)) * 300 - 50).astype(dtype)
    for out in (np.float32, np.float64, np.uint8, np.int16, np.uint32, np.int64, np.uint64,
                np.dtype("f4"), float, int, "array"):
        for front, name, args, kwargs in [
                ("correlate", "correlate", (np.arange(9.0).reshape(3, 3) - 4,), {"mode": "constant", "cval": -2.5}),
                ("correlate", "convolve", (np.array([[-1.0, 2.0], [3.0, -4.0]]),), {"mode": "wrap"}),
                ("correlate1d", "correlate1d", ([1.5, -2.5, 3.0],), {}),
                ("separable", "gaussian_filter", (1.0,), {"order": 1}),
                ("correlate1d", "gaussian_filter1d", (2.0,), {"mode": "constant", "cval": 7.0}),
                ("separable", "uniform_filter", (3,), {"mode": "constant", "cval": -5.5}),
                ("uniform_filter1d", "uniform_filter1d", (4,), {})]:
            output = np.zeros(x.shape, np.int32) if out == "array" else out
            want = getattr(sndi, name)(x, *args, output=output.copy() if out == "array" else output, **kwargs)
            spy = _FrontDoorSpy()
            monkeypatch.setattr(fndi, "_ndfront", spy)
            got = getattr(fndi, name)(x, *args, output=output, **kwargs)
            monkeypatch.undo()
            what = f"{name} {dtype} into {out} {kwargs}"
            assert front in spy.taken, f"{what}: the front door declined"
            if out == "array":
                assert got is output, what
            if dtype == "float32" and want.dtype == np.float32 and name in ("correlate", "convolve"):
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-4, err_msg=what)
            else:
                assert_same(got, want, what=what)


@pytest.mark.parametrize("front, name, make, kwargs", FRONT_CALLS,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(FRONT_CALLS)])
def test_common_calls_with_an_output_array_take_the_front_door(monkeypatch, rng, front, name, make,
                                                                kwargs):
    """An output array of the input's dtype and shape, C-contiguous and apart
    from the input: the front door writes it and returns it, with the bits of
    SciPy's call with that output and of the general path."""
    for dtype in ("float64", "float32") + INT_DTYPES:
        x = (rng.random((6, 7)) * 200).astype(dtype)
        args = make(x)
        what = f"{name} {dtype} {kwargs} output array"
        want = np.full(x.shape, 99, dtype)
        assert getattr(sndi, name)(*args, output=want, **kwargs) is want
        spy = _FrontDoorSpy()
        monkeypatch.setattr(fndi, "_ndfront", spy)
        out = np.full(x.shape, 77, dtype)
        got = getattr(fndi, name)(*args, output=out, **kwargs)
        monkeypatch.setattr(fndi, "_ndfront", _NoFrontDoor())
        general = getattr(fndi, name)(*args, output=np.full(x.shape, 55, dtype), **kwargs)
        monkeypatch.undo()
        assert front in spy.taken, f"{what}: the front door declined"
        assert got is out, what
        assert_same(out, general, what=f"{what}: front door vs the general path")
        if dtype != "float32" or name not in ("correlate", "convolve"):
            assert_same(out, want, what=f"{what}: vs SciPy")
        else:  # float32 correlate and convolve: a direct sum's rounding (docs/dropins.md)
            np.testing.assert_allclose(out, want, rtol=2e-5, atol=2e-4, err_msg=what)


@pytest.mark.parametrize("front, name, make, kwargs", FRONT_CALLS,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(FRONT_CALLS)])
def test_the_input_as_its_own_output_takes_the_front_door(monkeypatch, rng, front, name, make,
                                                          kwargs):
    """output=input (and a view of the input's memory as another dtype of its
    item size): the front door computes into a new array and copies it in,
    returning `output`, with the bits of SciPy's call on that same array
    (SciPy's 1-D passes read a line whole before writing it, and its N-d
    correlation works in a temporary)."""
    for dtype in ("float64", "float32") + INT_DTYPES:
        x = (rng.random((9, 11)) * 200).astype(dtype)
        views = [(dtype, lambda a: a)]
        if dtype in ("uint8", "int16", "int32", "uint64"):
            other = {"uint8": "int8", "int16": "uint16", "int32": "float32", "uint64": "float64"}
            views.append((other[dtype], lambda a: a.view(other[a.dtype.name])))
        for out_dtype, view in views:
            what = f"{name} {dtype} into {out_dtype} in place {kwargs}"
            want = x.copy()
            args = make(want)
            assert getattr(sndi, name)(*args, output=view(want), **kwargs) is not None
            got = x.copy()
            args = make(got)
            spy = _FrontDoorSpy()
            monkeypatch.setattr(fndi, "_ndfront", spy)
            out = view(got)
            result = getattr(fndi, name)(*args, output=out, **kwargs)
            monkeypatch.undo()
            assert front in spy.taken, f"{what}: the front door declined"
            assert result is out, what
            if x.dtype == np.float32 and out_dtype == "float32" and name in ("correlate", "convolve"):
                np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-4, err_msg=what)
            else:
                assert_same(got, want, what=what)


@pytest.mark.parametrize("dtype", ("float64", "float32") + INT_DTYPES)
def test_a_mode_and_an_order_per_axis_take_the_front_door(monkeypatch, rng, dtype):
    """gaussian_filter and uniform_filter with a list or tuple of modes (one per
    axis, 'constant' on some with a cval) and gaussian_filter with an order per
    axis: the front door's `separable`, with SciPy's bits; a list of the wrong
    length still raises SciPy's exception."""
    modes = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-constant"]
    for shape in ((13, 9), (5, 6, 7)):
        x = (rng.random(shape) * 200).astype(dtype)
        for trial in range(4):
            mode = [modes[(trial + 2 * a) % len(modes)] for a in range(x.ndim)]
            mode = tuple(mode) if trial % 2 else mode
            order = [int(o) for o in rng.integers(0, 3, x.ndim)]
            cval = 3.0 if dtype != "float32" else 0.5
            for name, args, kwargs in (("gaussian_filter", (1.3,), {"order": order}),
                                       ("gaussian_filter", ([0.8, 0.0, 2.0][:x.ndim],), {}),
                                       ("uniform_filter", ([3, 4, 1][:x.ndim],), {})):
                what = f"{name} {dtype}{shape} mode={mode} {kwargs}"
                want = getattr(sndi, name)(x, *args, mode=mode, cval=cval, **kwargs)
                spy = _FrontDoorSpy()
                monkeypatch.setattr(fndi, "_ndfront", spy)
                got = getattr(fndi, name)(x, *args, mode=mode, cval=cval, **kwargs)
                monkeypatch.undo()
                assert spy.taken == ["separable"], f"{what}: {spy.taken}"
                assert_same(got, want, what=what)
    x = rng.random((6, 5))
    for name, args in (("gaussian_filter", (1.0,)), ("uniform_filter", (3,))):
        assert_same_exception(lambda: getattr(fndi, name)(x, *args, mode=["reflect"] * 3),
                              lambda: getattr(sndi, name)(x, *args, mode=["reflect"] * 3),
                              op=name, case="three modes for two axes")


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64"])
def test_scipys_derivative_filters_through_the_patch_keep_scipys_bits(dtype, rng):
    """scipy.ndimage's sobel, prewitt, laplace, gaussian_laplace and
    gaussian_gradient_magnitude call the patched filters (into their own
    output array, in place, and gaussian_filter with an order per axis):
    their results are those of SciPy unpatched, and every one of those calls
    takes the front door."""
    x = (rng.random((40, 33)) * 200).astype(dtype)
    calls = [("sobel", ()), ("sobel", (0,)), ("prewitt", (1,)), ("laplace", ()),
             ("gaussian_laplace", (1.5,)), ("gaussian_gradient_magnitude", (2.0,))]
    for name, args in calls:
        want = getattr(sndi, name)(x, *args)
        calls: list[tuple[str, bool]] = []

        class Spy:
            def __getattr__(self, entry):
                real = getattr(_FRONT, entry)

                def call(*a):
                    result = real(*a)
                    calls.append((entry, result is not None))
                    return result
                return call

        with fastconv.patched():
            saved, fndi._ndfront = fndi._ndfront, Spy()
            try:
                got = getattr(sndi, name)(x, *args)
            finally:
                fndi._ndfront = saved
        assert calls and all(taken for _, taken in calls), f"{name}{args} {dtype}: {calls}"
        assert_same(got, want, what=f"{name}{args} {dtype} through the patch")


@pytest.mark.parametrize("dtype", ["float64", "int16", "bool"])
def test_bool_outputs_hold_scipys_bytes(dtype, rng):
    """A bool output (array, type or dtype) holds the byte SciPy's C store
    leaves there (a 2 stays 2), from any input, through every filter."""
    x = random_array(rng, (12, 10), dtype, **INTEGERS)
    w = rng.standard_normal((3, 3)) * 3
    for out in (np.bool_, np.dtype(bool), "array"):
        for name, extra in (("correlate", (w,)), ("correlate1d", (w[0],)), ("uniform_filter", (3,)),
                            ("gaussian_filter", (1.0,)), ("uniform_filter1d", (4,))):
            array = isinstance(out, str)
            want = np.zeros(x.shape, bool) if array else out
            got = np.zeros(x.shape, bool) if array else out
            ref = getattr(sndi, name)(x, *extra, output=want)
            res = getattr(fndi, name)(x, *extra, output=got)
            ref, res = (want, got) if array else (ref, res)
            assert res.dtype == ref.dtype == np.bool_, f"{name} {dtype} output={out}"
            assert np.array_equal(res.view(np.uint8), ref.view(np.uint8)), f"{name} {dtype} output={out}"


@pytest.mark.parametrize("case", ["complex", "strided", "fortran", "readonly", "subclass", "shape",
                                  "overlaps input", "overlaps weights", "big-endian"])
def test_output_arrays_the_front_door_declines_still_get_scipys_result(rng, case):
    """An output array that is not the common case: the front door returns None
    and the general path gives SciPy's result (or SciPy's exception type)."""
    x = rng.random((9, 8))
    w = rng.random((3, 3))
    buf = rng.random(200)
    out = np.empty_like(x)
    if case == "complex":
        out = np.empty(x.shape, np.complex128)
    elif case == "strided":
        out = np.empty((9, 16))[:, ::2]
    elif case == "fortran":
        out = np.asfortranarray(out)
    elif case == "readonly":
        out.flags.writeable = False
    elif case == "subclass":
        out = out.view(np.matrix)
    elif case == "shape":
        out = np.empty((9, 9))
    elif case == "overlaps input":
        x = buf[:72].reshape(9, 8)
        out = buf[8:80].reshape(9, 8)
    elif case == "overlaps weights":
        w = buf[:9].reshape(3, 3)
        out = buf[4:76].reshape(9, 8)
    elif case == "big-endian":
        out = np.empty(x.shape, ">f8")
    x0, w0 = x.copy(), w.copy()
    assert _FRONT.correlate(x, w, out, "reflect", 0.0, 0, None, False) is None, case
    for name, extra in (("correlate", (w,)), ("gaussian_filter", (1.0,)), ("correlate1d", (w[0],))):
        if case.startswith("overlaps"):  # SciPy reads its inputs whole first: compare on copies
            want = getattr(sndi, name)(x0, *((w0,) if name == "correlate" else
                                               (w0[0],) if name == "correlate1d" else extra))
            got = getattr(fndi, name)(x, *extra, output=out)
            assert got is out
            assert_same(out, want, what=f"{name} {case}")
            x[...], w[...] = x0, w0  # the shared buffer, as it was
            continue
        check(name, x, *extra, output=out.copy() if case != "readonly" else out, what=case)


@pytest.mark.parametrize("case", ["output", "axes", "list input", "float16", "mode list", "numpy cval",
                                  "long double"])
def test_other_calls_are_declined_and_still_right(rng, case):
    """The front door returns None for anything but the common call, and the
    general path's result is SciPy's."""
    x = rng.random((9, 8))
    w = np.ones((3, 3)) / 9
    kwargs = {}
    if case == "output":
        kwargs = {"output": "float32"}  # a dtype by name: the general path's
    elif case == "axes":
        kwargs = {"axes": (0, 1)}
    elif case == "list input":
        x = x.tolist()
    elif case == "float16":
        x = x.astype(np.float16)
    elif case == "numpy cval":
        kwargs = {"mode": "constant", "cval": np.float64(2.0)}
    if case == "mode list":
        assert _FRONT.correlate(x, w, None, ["reflect"] * 2, 0.0, 0, None, False) is None
        check("gaussian_filter", x, 1.0, mode=["reflect", "wrap"])
        return
    if case == "long double":
        xl = x.astype(np.longdouble)
        assert _FRONT.separable(xl, None, "reflect", 0.0, [(None, 3, 0)] * 2) is None
        check("uniform_filter", xl, 3)
        return
    front = _FRONT.correlate(x, w, kwargs.get("output"), kwargs.get("mode", "reflect"),
                                        kwargs.get("cval", 0.0), 0, kwargs.get("axes"), False)
    assert front is None, f"{case}: taken by the front door"
    if case == "axes" and "axes" not in sndi.correlate.__code__.co_varnames:
        return  # this SciPy's correlate has no `axes` (SciPy >= 1.15) to compare with
    check("correlate", x, w, what=case, **kwargs)


def test_front_door_leaves_inputs_alone(rng):
    x = rng.random((12, 10))
    w = rng.random((3, 5))
    x0, w0 = x.copy(), w.copy()
    fndi.convolve(x, w)
    fndi.convolve1d(x, w[0])
    fndi.gaussian_filter(x, 2.0)
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_float_paths_work_without_scipy(tmp_path, rng):
    """SciPy is not a dependency: with it blocked, the filters run on the
    kernels; their results are compared here with SciPy's."""
    x = rng.standard_normal((30, 40))
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["scipy"] = None  # as if SciPy were not installed
        import numpy as np
        import fastconv.ndimage as f
        x = np.load({str(tmp_path / 'x.npy')!r})
        np.savez({str(tmp_path / 'out.npz')!r},
                 f.correlate(x, np.ones((3, 4)), mode="mirror"),
                 f.gaussian_filter(x, 1.5),
                 f.uniform_filter(x, 5, mode="wrap"),
                 f.correlate1d(x, [1.0, -1.0], axis=0, mode="constant", cval=2.0),
                 f.uniform_filter((x * 40).astype(np.int16), 3),
                 f.convolve(x.astype(np.float32), np.ones((2, 2)), mode="nearest"))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "out.npz")
    want = [sndi.correlate(x, np.ones((3, 4)), mode="mirror"), sndi.gaussian_filter(x, 1.5),
            sndi.uniform_filter(x, 5, mode="wrap"),
            sndi.correlate1d(x, [1.0, -1.0], axis=0, mode="constant", cval=2.0),
            sndi.uniform_filter((x * 40).astype(np.int16), 3)]
    for i, w in enumerate(want):
        assert_same(got[f"arr_{i}"], w, what=f"call {i} without SciPy")
    x32 = x.astype(np.float32)
    assert_same(got["arr_5"], sndi.convolve(x32, np.ones((2, 2)), mode="nearest"),
                what="float32 convolve without SciPy", taps=4,
                size=sndi.convolve(np.abs(x32).astype(np.float64), np.ones((2, 2)), mode="nearest"))


# ---- image-processing code written the way scikit-image calls scipy.ndimage --------------------

def _image(rng, shape=(96, 128)) -> np.ndarray:
    """A smooth field with a disc, a step and noise, in [0, 1]."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    img = 0.3 + 0.2 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    img[(yy - 40) ** 2 + (xx - 60) ** 2 < 400] += 0.35
    img[:, 100:] -= 0.2
    img += 0.05 * rng.standard_normal(shape)
    return np.clip(img, 0, 1)


def _gaussian(image, sigma=1.0, mode="nearest", cval=0, preserve_range=False, truncate=4.0,
              channel_axis=None):
    """skimage.filters.gaussian: to float, sigma 0 along the channel axis."""
    from scipy import ndimage as ndi
    if image.dtype.kind in "iu" and not preserve_range:
        image = image.astype(np.float64) / np.iinfo(image.dtype).max
    image = image.astype(np.float64, copy=False) if image.dtype.kind != "f" else image
    if channel_axis is not None:
        sigma = [sigma] * (image.ndim - 1)
        sigma.insert(channel_axis % image.ndim, 0)
    return ndi.gaussian_filter(image, sigma, output=np.empty_like(image), mode=mode, cval=cval,
                               truncate=truncate)


def _sobel(image):
    """skimage.filters.sobel: the magnitude of the two sobel passes, each a
    smoothing correlate1d and a derivative correlate1d (as ndi.sobel)."""
    from scipy import ndimage as ndi
    image = image.astype(np.float64)
    h = ndi.correlate1d(ndi.correlate1d(image, [1, 2, 1], axis=1, mode="reflect"),
                        [1, 0, -1], axis=0, mode="reflect") / 4
    v = ndi.correlate1d(ndi.correlate1d(image, [1, 2, 1], axis=0, mode="reflect"),
                        [1, 0, -1], axis=1, mode="reflect") / 4
    return np.sqrt((h * h + v * v) / 2)


def _harris(image, sigma=1.0, k=0.05):
    """skimage.feature.corner_harris: the structure tensor smoothed with a
    constant-mode Gaussian."""
    from scipy import ndimage as ndi
    ix = ndi.sobel(image, axis=1, mode="constant")
    iy = ndi.sobel(image, axis=0, mode="constant")
    arr = [ndi.gaussian_filter(a, sigma, mode="constant", cval=0) for a in (ix * ix, ix * iy, iy * iy)]
    axx, axy, ayy = arr
    return axx * ayy - axy ** 2 - k * (axx + ayy) ** 2


def _local_mean_std(image, window=15):
    """skimage.filters.threshold_sauvola's local statistics (by uniform filters)."""
    from scipy import ndimage as ndi
    image = image.astype(np.float64)
    mean = ndi.uniform_filter(image, window, mode="reflect")
    sqmean = ndi.uniform_filter(image ** 2, window, mode="reflect")
    return mean, np.sqrt(np.clip(sqmean - mean ** 2, 0, None))


def _unsharp(image, radius=2.0, amount=1.5):
    """skimage.filters.unsharp_mask on a colour image (channel_axis=-1)."""
    blurred = _gaussian(image, radius, mode="nearest", channel_axis=-1)
    return np.clip(image + (image - blurred) * amount, 0, 1)


def _laplace_of_gaussian(image, sigma=2.0):
    """skimage.feature.blob_log's scale-normalised LoG response."""
    from scipy import ndimage as ndi
    return -ndi.gaussian_laplace(image.astype(np.float32), sigma) * sigma ** 2


def _box_and_edges(image_u8):
    """Integer pipelines: ndi.convolve with an integer kernel on uint8 (as
    skimage.filters.rank-style code and user scripts do), and a 3-D median-free
    smoothing of a stack."""
    from scipy import ndimage as ndi
    box = ndi.convolve(image_u8, np.ones((5, 5), int), mode="mirror", output=np.int32)
    stack = np.stack([image_u8, image_u8[::-1], image_u8[:, ::-1]])
    smooth = ndi.uniform_filter(stack, size=(1, 3, 3))
    return box, smooth


SKIMAGE_STYLE = {
    "gaussian float": lambda img, u8, rgb: _gaussian(img, 2.0),
    "gaussian uint8 preserve_range": lambda img, u8, rgb: _gaussian(u8, 1.0, preserve_range=True),
    "gaussian rgb channel_axis": lambda img, u8, rgb: _gaussian(rgb, 1.5, channel_axis=-1),
    "sobel": lambda img, u8, rgb: _sobel(u8),
    "harris": lambda img, u8, rgb: _harris(img),
    "sauvola statistics": lambda img, u8, rgb: _local_mean_std(img),
    "unsharp mask": lambda img, u8, rgb: _unsharp(rgb),
    "LoG float32": lambda img, u8, rgb: _laplace_of_gaussian(img),
    "uint8 box and stack": lambda img, u8, rgb: _box_and_edges(u8),
}


@pytest.mark.parametrize("case", SKIMAGE_STYLE)
def test_skimage_style_code_is_unchanged_under_patched(case, rng):
    img = _image(rng)
    u8 = (img * 255).astype(np.uint8)
    rgb = np.stack([img, img[::-1], np.roll(img, 7, axis=1)], axis=-1)
    run = SKIMAGE_STYLE[case]
    want = run(img, u8, rgb)
    with fastconv.patched():
        got = run(img, u8, rgb)
    for g, w in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        assert_same(g, w, what=case)


def test_separable_scratch_kept_between_calls_stays_right(rng):
    """The separable filters' scratch blocks, kept between calls, serve calls of
    growing and shrinking sizes and dtypes, and threads calling at once (each
    takes a block of its own while the kernels run without the GIL)."""
    shapes = [(300, 200), (40, 30), (600, 500), (64, 64, 3), (300, 200)]
    for shape in shapes:
        for dtype in ("float64", "float32", "uint8"):
            x = (rng.random(shape) * 200).astype(dtype)
            check("uniform_filter", x, 5, what=f"{dtype}{shape}")
            check("gaussian_filter", x, 1.5, what=f"{dtype}{shape}")
    images = [(rng.random((256 + 16 * i, 300)) * 255).astype(np.uint8 if i % 2 else np.float64)
              for i in range(6)]
    want = [sndi.uniform_filter(im, 7) for im in images]
    got: list = [None] * len(images)
    errors: list = []

    def run(i):
        try:
            for _ in range(5):
                got[i] = fndi.uniform_filter(images[i], 7)
                assert np.array_equal(got[i], want[i]), f"image {i}"
        except Exception as e:  # reported below, with the thread's image
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
