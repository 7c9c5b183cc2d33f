"""fastconv.signal's N-d convolve, correlate, fftconvolve, oaconvolve and
choose_conv_method against scipy.signal itself: a zoo of random arrays (1-D to
4-D, every mode and method, every dtype SciPy takes, kernels larger than the
input, strided/reversed/Fortran/list inputs, the 'valid' swap, empty inputs),
the errors and warnings SciPy raises, SciPy's choice of method over a grid of
shapes, the FFT's accuracy against exact long-double direct sums (never worse
than SciPy's own FFT, also over wide dynamic ranges and magnitudes where
SciPy's overflows), NaN and inf placement, the paths taken without SciPy,
unchanged code under fastconv.patch(), and fastconv.dask.signal against the
in-memory calls.

References are SciPy's functions and long-double direct sums computed by
SciPy; nothing is compared with fastconv itself except the Dask results with
the in-memory ones they must equal.
"""
from __future__ import annotations

import doctest
import itertools
import math
import sys
import warnings

import dask.array as da
import numpy as np
import pytest
import scipy.signal as ss
from _helpers import LAYOUTS, random_array, with_layout
from dropins_reference import DROPIN, assert_same_behaviour, assert_same_exception
from reference import assert_close
from scipy.special import lambertw

import fastconv
import fastconv.dask.signal as fds
import fastconv.signal as fs
from fastconv import _fftconv, _originals, _signal_nd

OPS = ("convolve", "correlate")
FFT_OPS = ("fftconvolve", "oaconvolve")
MODES = ("full", "same", "valid")
METHODS = ("direct", "fft", "auto")
DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "g", "c8", "c16", "G",
          "?", "O"]
# Largest side of in1 and of in2 by rank: SciPy's direct loop is slow in 3-D and 4-D.
SIDES = {1: (40, 12), 2: (14, 6), 3: (6, 4), 4: (4, 3)}


@pytest.fixture
def kernels_always(monkeypatch):
    """Small 3-D and 4-D calls on fastconv's kernels too (they go to SciPy's loop by default)."""
    monkeypatch.setattr(_signal_nd, "SMALL_ND_PRODUCTS", 0)
    monkeypatch.setattr(_signal_nd, "SMALL_ND_FLOAT_PRODUCTS", 0)


@pytest.fixture
def without_scipy(monkeypatch):
    """fastconv as it runs without SciPy: no original to hand inputs to, numpy.fft,
    its own next_fast_len and Lambert W. SciPy itself stays usable as the reference."""
    installed = _originals.installed
    monkeypatch.setattr(_originals, "installed",
                        lambda name: None if name.startswith("scipy.") else installed(name))
    monkeypatch.setattr(_fftconv, "_scipy_fft", lambda: None)
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    _fftconv.next_fast_len.cache_clear()
    yield
    _fftconv.next_fast_len.cache_clear()


def _values(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "O":
        return rng.integers(-9, 10, shape).astype(object)
    if dtype.char in "gG":
        return random_array(rng, shape, "c16" if dtype.kind == "c" else "f8").astype(dtype)
    return random_array(rng, shape, dtype)


def _shapes(rng, ndim):
    big, small = SIDES[ndim]
    s1 = [int(rng.integers(1, big + 1)) for _ in range(ndim)]
    s2 = [int(rng.integers(1, small + 1)) for _ in range(ndim)]
    r = rng.random()
    if r < 0.15:  # a kernel larger than the input on some axes
        s2 = [int(rng.integers(1, big + 1)) for _ in range(ndim)]
    elif r < 0.25:  # in2 larger on every axis: 'valid' swaps
        s1, s2 = s2, s1
    elif r < 0.3:  # an empty side
        (s1 if rng.random() < 0.5 else s2)[int(rng.integers(ndim))] = 0
    return tuple(s1), tuple(s2)


def _case(rng, ndim, dtype):
    s1, s2 = _shapes(rng, ndim)
    other = dtype if rng.random() < 0.8 else DTYPES[rng.integers(len(DTYPES))]
    l1, l2 = LAYOUTS[rng.integers(len(LAYOUTS))], LAYOUTS[rng.integers(len(LAYOUTS))]
    in1 = with_layout(rng, _values(rng, s1, dtype), l1)
    in2 = with_layout(rng, _values(rng, s2, other), l2)
    return in1, in2, f"in1 {dtype}{s1} {l1}, in2 {other}{s2} {l2}"


def _both(op, in1, in2, *args, case):
    """fastconv's and SciPy's op on the same arguments: the same exception type, or
    the same result (shape, dtype, values to the dtype's tolerance, NaN and inf)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings are compared on their own below
        assert_same_behaviour(lambda: getattr(fs, op)(in1, in2, *args),
                              lambda: getattr(ss, op)(in1, in2, *args), op=op, case=case)


# ---- convolve and correlate against SciPy ------------------------------------------------------


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("op", OPS)
def test_matches_scipy_zoo(kernels_always, rng, op, ndim, dtype, seed):
    in1, in2, desc = _case(rng, ndim, dtype)
    for mode in MODES:
        for method in METHODS:
            _both(op, in1, in2, mode, method, case=f"{desc}, mode={mode!r}, method={method!r}")


@pytest.mark.parametrize("ndim", [3, 4])
@pytest.mark.parametrize("op", OPS)
def test_small_calls_of_three_or_more_dimensions_are_scipys_own(rng, op, ndim):
    """Under SMALL_ND_PRODUCTS products (real floats: SMALL_ND_FLOAT_PRODUCTS per
    axis beyond two) SciPy's loop is quicker than fastconv's set-up: the call
    is SciPy's, to the bit."""
    x, k = rng.standard_normal((2,) * (ndim - 1) + (3,)), rng.standard_normal((2,) * ndim)
    assert _signal_nd.small(x.shape, k.shape, "full", x.dtype)
    for mode in MODES:
        got, want = getattr(fs, op)(x, k, mode, "direct"), getattr(ss, op)(x, k, mode, "direct")
        assert got.dtype == want.dtype and np.array_equal(got, want), (op, ndim, mode)


class _NdSpy:
    """Stands in for fastconv._dropins in fastconv.signal, noting whether the
    N-d front door returned a result."""

    def __init__(self, real):
        self.real, self.taken = real, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def signal_nd(self, *args):
        y = self.real.signal_nd(*args)
        self.taken += y is not None
        return y


def _front_door_calls(spy, cases, make):
    """Each (shape, kshape) case, inputs from make(shape), by op, mode and method,
    called in fastconv.signal and SciPy (SciPy's ValueError raised by both):
    (case, x, k, op, mode, method, SciPy's result, fastconv's, front door
    results during the call)."""
    for (shape, kshape), op, mode, method in itertools.product(cases, OPS, MODES, ("direct", "auto")):
        x, k = make(shape), make(kshape)
        case = f"{op} {x.dtype}{shape} * {kshape} {mode} {method}"
        try:
            want = getattr(ss, op)(x, k, mode, method)
        except ValueError:
            with pytest.raises(ValueError):
                getattr(fs, op)(x, k, mode, method)
            continue
        before = spy.taken
        got = getattr(fs, op)(x, k, mode, method)
        yield case, x, k, op, mode, method, want, got, spy.taken - before


def _small_and_direct(x, k, mode, method) -> bool:
    """Whether the general path would hand this call to SciPy's loop (after
    SciPy's swaps), with direct sums by `method`."""
    a, b = (k, x) if (mode == "full" and k.size > x.size) or _fftconv.swap_needed(
        mode, x.shape, k.shape) else (x, k)
    return (_signal_nd.small(a.shape, b.shape, mode, x.dtype)
            and (method == "direct" or ss.choose_conv_method(x, k, mode) == "direct"))


@pytest.mark.parametrize("dtype", ["f8", "f4"])
def test_small_real_calls_of_three_or_more_dimensions_at_the_front_door(monkeypatch, rng, dtype):
    """Real-float calls the general path would hand to SciPy's loop run on the
    N-d kernel from a compiled front door: SciPy's swaps (the kernel the
    larger input in 'full', in2 the larger in 'valid', convolve's own swap
    first), zero extension, reversal; float64 with SciPy's bits, float32
    within a direct sum's error; 'auto' where SciPy picks direct sums. Not
    taken: non-finite values, other layouts, larger calls (their bits are the
    chunked path's), 'auto' choosing the FFT."""
    spy = _NdSpy(fs._dropins)
    monkeypatch.setattr(fs, "_dropins", spy)
    cases = [((2, 3, 4), (2, 1, 2)), ((3, 2, 2), (2, 3, 4)), ((4, 5, 6), (3, 3, 3)),
             ((2, 2, 2, 3), (2, 2, 1, 2)), ((1, 2, 3, 2), (3, 2, 2, 1)), ((2, 1, 2, 2, 3), (1, 2, 2, 1, 2)),
             ((3, 3, 3), (3, 3, 3)), ((5, 1, 4), (1, 1, 5)), ((2, 2, 3), (3, 4, 3))]
    for case, x, k, op, mode, method, want, got, taken in _front_door_calls(
            spy, cases, lambda shape: rng.standard_normal(shape).astype(dtype)):
        # (correlate's 'auto' with in2 the larger in 'valid' sums both reversed: not taken)
        swapped_auto = op == "correlate" and method == "auto" and _fftconv.swap_needed(
            mode, x.shape, k.shape)
        assert taken == (_small_and_direct(x, k, mode, method) and not swapped_auto), case
        if dtype == "f8" and taken:
            assert got.dtype == want.dtype and np.array_equal(got, want), case
        else:
            assert_close(got, want, op=op, isa="default", context=case, **DROPIN)
    x, k = rng.standard_normal((3, 4, 5)).astype(dtype), rng.standard_normal((2, 2, 2)).astype(dtype)
    x[1, 2, 3] = np.inf
    for arg in (x, np.asfortranarray(rng.standard_normal((3, 4, 5)).astype(dtype)),
                rng.standard_normal((9, 9, 9)).astype(dtype)):
        before = spy.taken
        got = fs.correlate(arg, k, "full", "direct")
        assert spy.taken == before, arg.shape
        assert_close(got, ss.correlate(arg, k, "full", "direct"), op="correlate", isa="default",
                     context=f"{dtype} not taken", **DROPIN)


@pytest.mark.parametrize("dtype", ["c16", "c8"])
def test_small_complex_calls_of_three_or_more_dimensions_at_the_front_door(monkeypatch, rng, dtype):
    """Complex calls the general path would hand to SciPy's loop run as real
    calls on the parts from the same front door (correlate conjugating the
    second input, convolve not; the complex call's swaps and reversals):
    SciPy's results within a direct sum's error; not taken with a NaN."""
    spy = _NdSpy(fs._dropins)
    monkeypatch.setattr(fs, "_dropins", spy)
    cases = [((2, 3, 4), (2, 1, 2)), ((3, 2, 2), (2, 3, 4)), ((2, 16, 4), (1, 2, 2)),
             ((2, 2, 2, 3), (2, 2, 1, 2)), ((2, 2, 3), (3, 4, 3))]
    for case, x, k, op, mode, method, want, got, taken in _front_door_calls(
            spy, cases, lambda shape: _values(rng, shape, dtype)):
        assert_close(got, want, op=op, isa="default", context=case, **DROPIN)
        # (correlate's 'auto' goes through convolve with the second input reversed and
        # conjugated, a new array, which the front door takes as SciPy's 'auto' computes it)
        assert taken == _small_and_direct(x, k, mode, method), case
    x = _values(rng, (2, 3, 4), dtype)
    x[1, 1, 1] = complex(np.nan, 1)
    before = spy.taken
    got = fs.convolve(x, _values(rng, (2, 2, 2), dtype), "same", "direct")
    assert spy.taken == before and np.isnan(got).any()


@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"])
def test_integer_calls_of_three_or_more_dimensions_at_the_front_door(monkeypatch, rng, dtype):
    """Integer calls of 3 or more axes run from the compiled front door at any
    size whose sums float64 holds exactly (summed in float64, wrapped into the
    dtype): SciPy's bits, SciPy's swaps, 'auto' as SciPy chooses. Values too
    large for exact sums are not taken (the general path: SciPy's own)."""
    spy = _NdSpy(fs._dropins)
    monkeypatch.setattr(fs, "_dropins", spy)
    info = np.iinfo(dtype)
    cases = [((2, 3, 4), (2, 1, 2)), ((3, 2, 2), (2, 3, 4)), ((12, 10, 9), (3, 3, 3)),
             ((2, 2, 2, 3), (2, 2, 1, 2)), ((2, 2, 3), (3, 4, 3)), ((30, 2, 8), (3, 2, 1))]
    lo, hi = max(info.min, -40), min(info.max, 40)
    for case, x, k, op, mode, method, want, got, taken in _front_door_calls(
            spy, cases, lambda shape: rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)):
        assert got.dtype == want.dtype and np.array_equal(got, want), case
        direct = method == "direct" or ss.choose_conv_method(x, k, mode) == "direct"
        swapped_auto = op == "correlate" and method == "auto" and _fftconv.swap_needed(mode, x.shape, k.shape)
        assert taken == (direct and not swapped_auto), case
    if info.bits >= 32:  # products near the dtype's range: float64 could not hold the sums
        x, k = np.full((3, 4, 5), info.max, dtype), np.full((2, 2, 2), info.max - 1, dtype)
        before = spy.taken
        got = fs.convolve(x, k, "full", "direct")
        assert spy.taken == before
        assert np.array_equal(got, ss.convolve(x, k, "full", "direct"))


@pytest.mark.parametrize("dtype", ["f4", "f8", "c8", "c16", "i2", "i8"])
@pytest.mark.parametrize("shape, kshape", [
    ((1000, 3), (7, 2)),          # a short last axis: the long one makes the rows
    ((3000, 2, 2), (5, 1, 1)),
    ((5, 9, 70), (2, 3, 9)),      # rows around the vector width
    ((4, 3, 5, 6), (3, 1, 2, 2)),  # 4-D, the 2-D kernels' axes chosen by the kernel
    ((2, 7, 3, 11), (2, 2, 3, 1)),
    ((6, 130), (3, 17)),
])
def test_axis_choices_and_widths_under_every_isa(isa, kernels_always, rng, dtype, shape, kshape):
    x, k = _values(rng, shape, dtype), _values(rng, kshape, dtype)
    for op in OPS:
        for mode in MODES:
            want = getattr(ss, op)(x, k, mode, "direct")
            assert_close(getattr(fs, op)(x, k, mode, "direct"), want, op=op, isa=isa,
                         context=f"{dtype}{shape} * {kshape}, {mode}", **DROPIN)


@pytest.mark.parametrize("op", OPS)
def test_valid_mode_swaps_like_scipy(kernels_always, op):
    """correlate swaps and then reverses and conjugates; convolve only swaps."""
    small = np.array([[[1.0, 2j], [3.0, -1.0]]])
    big = (np.arange(60.0).reshape(3, 4, 5) * (1 - 0.5j))
    for a, b in ((small, big), (big, small), (big, big)):
        _both(op, a, b, "valid", "direct", case=f"{a.shape} * {b.shape}")
    _both(op, np.ones((2, 5, 3)), np.ones((3, 4, 3)), "valid", "direct", case="neither larger")


@pytest.mark.parametrize("op", OPS)
def test_integer_valued_floats_stay_exact(kernels_always, rng, op):
    """Direct sums of integer-valued floats are exact, as SciPy's: equal to the bit."""
    for shape, kshape in (((9, 8, 7), (3, 2, 4)), ((40, 50), (5, 7)), ((200,), (301,))):
        x = rng.integers(-99, 100, shape).astype(np.float64)
        k = rng.integers(-9, 10, kshape).astype(np.float64)
        for mode in MODES:
            got, want = getattr(fs, op)(x, k, mode, "direct"), getattr(ss, op)(x, k, mode, "direct")
            assert np.array_equal(got, want), (op, shape, kshape, mode)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape, kshape", [((7,), (11,)), ((6, 7), (3, 4)), ((4, 5, 6), (2, 3, 2))])
def test_nan_and_inf_land_where_scipy_puts_them(kernels_always, rng, op, shape, kshape):
    """SciPy's direct N-d loop forms every product with zero-extended input, so an
    infinite kernel value meets the zeros past the edges (NaN), and a swapped 'full'
    call does not: fastconv's kernels give the same pattern. Complex inputs get NaN
    only: fastconv multiplies complex numbers as four real products, where C99's
    complex product can recover an infinity in the other part (docs/dropins.md)."""
    for dtype in ("f8", "f4", "c16"):
        x, k = _values(rng, shape, dtype), _values(rng, kshape, dtype)
        big = np.nan if dtype == "c16" else np.inf
        x.flat[int(rng.integers(x.size))] = big
        k.flat[0], k.flat[-1] = -big, np.nan
        for a, b in ((x, k), (k, x)):
            for mode in MODES:
                _both(op, a, b, mode, "direct", case=f"{dtype} {a.shape} * {b.shape}, {mode}")


def _empty_shapes():
    shapes = [((0,), (3,)), ((3,), (0,)), ((0,), (0,)), ((0, 3), (2, 2)), ((3, 3), (0, 2)),
              ((0, 3), (0, 2)), ((2, 0, 3), (1, 1, 1)), ((3, 3), (2, 0)), ((2, 3), (0, 4)),
              ((3, 4), (3, 0)), ((0, 2, 2, 1), (1, 1, 1, 1))]
    return shapes + [(b, a) for a, b in shapes]


@pytest.mark.parametrize("s1, s2", _empty_shapes())
def test_empty_inputs_like_scipy(s1, s2):
    for dtype in ("f8", "i8", "c16"):
        x, k = np.ones(s1, dtype), np.ones(s2, dtype)
        for mode in MODES:
            for op in OPS:
                for method in METHODS:
                    _both(op, x, k, mode, method, case=f"{dtype} {s1} * {s2}, {mode}, {method}")
            for op in FFT_OPS:
                _both(op, x, k, mode, case=f"{dtype} {s1} * {s2}, {mode}")


def test_zero_dimensional_inputs_multiply():
    for a, b in ((np.array(2.5), np.array(3 - 1j)), (np.array(4), np.array(True))):
        for op in (*OPS, *FFT_OPS):
            want, got = getattr(ss, op)(a, b), getattr(fs, op)(a, b)
            assert type(got) is type(want) and got == want, (op, a, b)


BAD_CALLS = {
    "ranks differ": ((np.ones((3, 3)), np.ones(3)), {}),
    "mode misspelt": ((np.ones((4, 4)), np.ones((2, 2)), "ful"), {}),
    "mode None": ((np.ones(5), np.ones(2), None), {}),
    "mode unhashable": ((np.ones((4, 4)), np.ones((2, 2)), ["full"]), {}),
    "neither larger in valid": ((np.ones((2, 5)), np.ones((3, 4)), "valid"), {}),
    "bool 2-D": ((np.ones((3, 3), bool), np.ones((2, 2), bool)), {"method": "direct"}),
    "float16 2-D": ((np.ones((3, 3), np.float16), np.ones((2, 2), np.float16)), {"method": "direct"}),
    "object 3-D": ((np.ones((3, 3, 2), object), np.ones((2, 2, 2), object)), {"method": "direct"}),
    "strings": ((np.array([["a", "b"]]), np.array([["c"]])), {"method": "direct"}),
    "strings by fft": ((np.array([["a", "b"]]), np.array([["c"]])), {"method": "fft"}),
    "datetime 2-D": ((np.ones((3, 3)).astype("M8[s]"), np.ones((2, 2)).astype("M8[s]")), {"method": "direct"}),
}
BAD_METHODS = ["fast", None, "FFT"]
BAD_FFT_CALLS = {
    "ranks differ": ((np.ones((3, 3)), np.ones(3)), {}),
    "axes out of range": ((np.ones((3, 3)), np.ones((2, 2))), {"axes": 2}),
    "axes negative out of range": ((np.ones((3, 3)), np.ones((2, 2))), {"axes": [-3]}),
    "axes repeated": ((np.ones((3, 3)), np.ones((2, 2))), {"axes": [0, -2]}),
    "axes empty": ((np.ones((3, 3)), np.ones((2, 2))), {"axes": []}),
    "axes float": ((np.ones((3, 3)), np.ones((2, 2))), {"axes": 1.0}),
    "axes strings": ((np.ones((3, 3)), np.ones((2, 2))), {"axes": "ab"}),
    "other axes differ": ((np.ones((3, 4)), np.ones((2, 3))), {"axes": 0}),
    "mode misspelt": ((np.ones((5, 4)), np.ones((2, 3)), "ful"), {}),
    "neither larger in valid": ((np.ones((2, 5)), np.ones((3, 4)), "valid"), {}),
    "strings": ((np.array(["a", "b"]), np.array(["c"])), {}),
}


@pytest.mark.parametrize("case", BAD_CALLS)
@pytest.mark.parametrize("op", OPS)
def test_bad_calls_raise_as_scipy(op, case):
    args, kwargs = BAD_CALLS[case]
    assert_same_exception(lambda: getattr(fs, op)(*args, **kwargs),
                          lambda: getattr(ss, op)(*args, **kwargs), op=op, case=case)


@pytest.mark.parametrize("method", BAD_METHODS)
@pytest.mark.parametrize("op", OPS)
def test_bad_methods_raise_as_scipy(op, method):
    for x, k in ((np.ones(9), np.ones(3)), (np.ones((4, 4)), np.ones((2, 2)))):
        assert_same_exception(lambda x=x, k=k: getattr(fs, op)(x, k, "same", method),
                              lambda x=x, k=k: getattr(ss, op)(x, k, "same", method), op=op,
                              case=repr(method))


@pytest.mark.parametrize("case", BAD_FFT_CALLS)
@pytest.mark.parametrize("op", FFT_OPS)
def test_bad_fft_calls_raise_as_scipy(op, case):
    args, kwargs = BAD_FFT_CALLS[case]
    assert_same_exception(lambda: getattr(fs, op)(*args, **kwargs),
                          lambda: getattr(ss, op)(*args, **kwargs), op=op, case=case)


def test_messages_name_the_arguments_and_shapes():
    with pytest.raises(ValueError, match=r"in1 of shape \(3, 3\) and in2 of shape \(3,\)"):
        fs.correlate(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"'ful'"):
        fs.convolve(np.ones((4, 4)), np.ones((2, 2)), "ful")
    with pytest.raises(ValueError, match=r"'fast'"):
        fs.convolve(np.ones((4, 4)), np.ones((2, 2)), "same", "fast")
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 4\)"):
        fs.fftconvolve(np.ones((2, 5)), np.ones((3, 4)), "valid")
    with pytest.raises(ValueError, match=r"axes \[2\] for 2-d"):
        fs.oaconvolve(np.ones((3, 30)), np.ones((2, 2)), axes=2)
    with pytest.raises(ValueError, match=r"in1 \(bool, shape \(3, 3\)\).*Unsupported type"):
        fs.convolve(np.ones((3, 3), bool), np.ones((2, 2), bool), "same", "direct")


def test_warnings_as_scipy():
    """The FFT path warns about a NaN or inf first value, and 'auto' on empty float
    inputs warns from SciPy's operation count: the same warnings, in the same words."""
    nan = np.array([np.nan, 1.0, 2.0, 3.0])
    calls = [("convolve", (nan, np.ones(2), "full", "fft")),
             ("correlate", (np.ones((3, 3)), np.full((2, 2), np.inf), "same", "fft")),
             ("convolve", (np.ones((0, 3)), np.ones((0, 2)), "same", "auto"))]
    for op, args in calls:
        with warnings.catch_warnings(record=True) as want:
            warnings.simplefilter("always")
            try:
                getattr(ss, op)(*args)
            except ValueError:
                pass
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            try:
                getattr(fs, op)(*args)
            except ValueError:
                pass
        assert want, f"{op}{args}: SciPy no longer warns; fix the test"
        assert [(w.category, str(w.message)) for w in got] == \
            [(w.category, str(w.message)) for w in want], (op, args)


def test_inputs_unchanged_and_threads_give_the_same_bits(kernels_always, restore_threads, rng):
    x = rng.standard_normal((12, 20, 33))
    k = rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5))
    xc, kc = x.copy(), k.copy()
    runs = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        fastconv._kernels.parallel_threshold_ns(0)
        runs.append([fs.convolve(x, k, "same", "direct"), fs.correlate(x, k.real, "full", "direct"),
                     fs.fftconvolve(x, k), fs.oaconvolve(x, k[:1, :1, :3], axes=-1)])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
    assert np.array_equal(x, xc) and np.array_equal(k, kc)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stacked_images_kernel_against_a_loop_per_image(dtype, restore_threads, rng):
    """The 3-D path's kernel: images stacked into one tall input, each image's first
    rows correlated 'valid' and written or added into y (y + rows) by the threads that
    computed them, against SciPy's correlate2d image by image; rows past keep untouched."""
    from fastconv import _kernels
    images, every, w = 7, 23, 40
    x = rng.standard_normal((images * every, w)).astype(dtype)
    k = rng.standard_normal((3, 5)).astype(dtype)
    per_image = np.stack([ss.correlate2d(x[i * every:(i + 1) * every], k, "valid")
                          for i in range(images)])  # (images, every - 2, w - 4)
    for threads, keep in ((1, 21), (2, 21), (3, 16)):
        fastconv.set_num_threads(threads)
        _kernels.parallel_threshold_ns(0)
        y = np.full((images, keep, w - 4), np.nan, dtype)
        _kernels.correlate2d_stacked(x, k, y, every, False)
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(y, per_image[:, :keep], **tol)
        start = rng.standard_normal(y.shape).astype(dtype)
        y[...] = start
        _kernels.correlate2d_stacked(x, k, y, every, True)
        np.testing.assert_allclose(y, start + per_image[:, :keep], **tol)
    for bad in [dict(every=22), dict(every=0), dict(keep=22), dict(cols=37)]:
        y = np.zeros((images, bad.get("keep", 21), bad.get("cols", w - 4)), dtype)
        with pytest.raises(ValueError, match="correlate2d_stacked"):
            _kernels.correlate2d_stacked(x, k, y, bad.get("every", every), False)


# ---- SciPy's choice of method ------------------------------------------------------------------


def _choice_grid():
    for n in (1, 2, 5, 20, 100, 500, 2000, 10_000, 60_000):
        for m in (1, 3, 10, 31, 100, 300, 1000, 5000):
            yield (n,), (m,)
    for n in (3, 8, 16, 40, 64, 128, 300):
        for m in (1, 2, 3, 5, 9, 15, 31):
            yield (n, n), (m, m)
            yield (n, max(n // 3, 1)), (m, 2)
    for n in (4, 10, 24, 40):
        for m in (1, 2, 3, 5, 9):
            yield (n, n, n), (m, m, m)
    yield (6, 7, 8, 9), (2, 3, 4, 5)


def test_choose_conv_method_matches_scipy_over_a_grid():
    checked = {"direct": 0, "fft": 0}
    for s1, s2 in _choice_grid():
        for a, b in ((s1, s2), (s2, s1)):
            x, k = np.zeros(a), np.zeros(b)
            for mode in MODES:
                for xx, kk in ((x, k), (x.astype(np.complex64), k), (x.astype(np.float32), k.astype(np.int8))):
                    want = ss.choose_conv_method(xx, kk, mode)
                    assert fs.choose_conv_method(xx, kk, mode) == want, (a, b, mode, xx.dtype, kk.dtype)
                    checked[want] += 1
    assert min(checked.values()) > 200, checked


@pytest.mark.parametrize("values", [(1, 1), (2**26, 2**26), (2**40, 3), (-128, -128), (2**63 - 1, 1)])
def test_choose_conv_method_integer_and_other_rules_as_scipy(values):
    """Integers whose products may pass 2**52 stay direct (SciPy's check, wrap-around of
    abs(-128) included); bool and object inputs stay direct."""
    a, b = values
    for dtype in ("i1", "i8", "u8"):
        info = np.iinfo(dtype)
        x = np.full((300, 300), min(max(a, info.min), info.max), dtype)
        k = np.full((31, 31), min(max(b, info.min), info.max), dtype)
        for xx, kk in ((x, k), (x, k.astype(float)), (x.astype(float), k)):
            assert fs.choose_conv_method(xx, kk) == ss.choose_conv_method(xx, kk), (values, dtype)
    for xx, kk in ((np.ones((300, 300), bool), np.ones((31, 31), bool)),
                   (np.ones(5000, object), np.ones(500, object)),
                   (np.ones(5000, bool), np.ones(500))):
        assert fs.choose_conv_method(xx, kk) == ss.choose_conv_method(xx, kk), (xx.dtype, kk.dtype)
    for bad in ((np.zeros(0, int), np.ones(3, int)), (np.ones(3, int), np.array([np.nan, 1.0]))):
        assert_same_exception(lambda bad=bad: fs.choose_conv_method(*bad),
                              lambda bad=bad: ss.choose_conv_method(*bad), op="choose_conv_method",
                              case=str(bad))


def test_auto_takes_the_fft_exactly_where_scipy_would(monkeypatch):
    calls = []
    fft = _fftconv.fftconvolve
    monkeypatch.setattr(_fftconv, "fftconvolve", lambda *a, **kw: calls.append(1) or fft(*a, **kw))
    for s1, s2 in [((5000,), (400,)), ((50,), (3,)), ((64, 64), (3, 3)), ((8, 8), (3, 3)),
                   ((20, 20, 20), (5, 5, 5)), ((6, 6, 6), (2, 2, 2))]:
        x, k = np.ones(s1), np.ones(s2)
        for op in OPS:
            for mode in MODES:
                calls.clear()
                getattr(fs, op)(x, k, mode)
                want = ss.choose_conv_method(x, k, mode)
                assert ("fft" if calls else "direct") == want, (op, s1, s2, mode)


def test_choose_conv_method_measures_fastconvs_convolve():
    method, times = fs.choose_conv_method(np.ones(50), np.ones(5), measure=True)
    assert method in ("direct", "fft") and set(times) == {"direct", "fft"}
    assert all(t > 0 for t in times.values()) and method == min(times, key=times.get)


# ---- fftconvolve and oaconvolve ------------------------------------------------------------------


def _fft_case(rng, ndim):
    s1 = [int(rng.integers(1, 40 if ndim < 3 else 9)) for _ in range(ndim)]
    s2 = [int(rng.integers(1, 40 if ndim < 3 else 9)) for _ in range(ndim)]
    for a in range(ndim):
        r = rng.random()
        if r < 0.15:
            s2[a] = 1  # broadcast axes
        elif r < 0.25:
            s1[a] = 1
        elif r < 0.35:
            s2[a] = s1[a]
        elif r < 0.5 and ndim < 3:
            s1[a] = int(rng.integers(100, 1500 if ndim == 1 else 200))  # oaconvolve blocks
    r = rng.random()
    if r < 0.4:
        axes = None
    elif r < 0.6:
        axes = int(rng.integers(-ndim, ndim))
    else:
        axes = [int(a) for a in rng.permutation(ndim)[:int(rng.integers(1, ndim + 1))]]
    return tuple(s1), tuple(s2), axes


def _assert_fft_close(got, want, *, case):
    """Shape and dtype as SciPy's; values within the FFT's error of the lower input
    precision (single-precision transforms may feed a double result)."""
    assert isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype == want.dtype, (
        f"{case}: {type(got).__name__} {getattr(got, 'shape', '')} {getattr(got, 'dtype', '')}, "
        f"expected {want.shape} {want.dtype}")
    if want.size:
        scale = float(np.max(np.abs(want)))
        err = float(np.max(np.abs(got.astype(np.clongdouble) - want.astype(np.clongdouble))))
        assert err <= 1e-4 * scale + 1e-300, f"{case}: error {err:.3g} at scale {scale:.3g}"


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("op", FFT_OPS)
def test_fft_functions_match_scipy(rng, op, ndim, seed):
    """Axes, broadcasting of the other axes and of length-1 axes, swaps, modes and
    dtypes as SciPy's; fftconvolve's values are SciPy's to the bit (the same
    transforms, here on fastconv's threads)."""
    s1, s2, axes = _fft_case(rng, ndim)
    d1 = ["f8", "f4", "c16", "c8", "i4", "?", "f2", "g"][(seed + ndim) % 8]
    d2 = d1 if rng.random() < 0.7 else ["f8", "f4", "c8", "i2"][int(rng.integers(4))]
    x, k = _values(rng, s1, d1), _values(rng, s2, d2)
    for mode in MODES:
        case = f"{op} {d1}{s1} * {d2}{s2}, {mode}, axes={axes}"
        try:
            want = getattr(ss, op)(x, k, mode, axes)
        except ValueError:
            assert_same_exception(lambda mode=mode: getattr(fs, op)(x, k, mode, axes),
                                  lambda mode=mode: getattr(ss, op)(x, k, mode, axes), op=op,
                                  case=case)
            continue
        got = getattr(fs, op)(x, k, mode, axes)
        _assert_fft_close(got, want, case=case)
        if op == "fftconvolve":
            assert np.array_equal(got, want), f"{case}: not SciPy's bits"


def _exact(x, k, mode):
    """The true convolution, to long-double accuracy: SciPy's direct loop in long double."""
    wide = np.clongdouble if np.iscomplexobj(x) or np.iscomplexobj(k) else np.longdouble
    return ss.convolve(x.astype(wide), k.astype(wide), mode, method="direct")


def _max_error(y, exact):
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(y.astype(exact.dtype) - exact)
    return np.inf if not np.all(np.isfinite(err)) else float(np.max(err))


def _wide_range(rng, shape, dtype, decades):
    """Normal values times 10**u, u uniform in +-decades/2: magnitudes over `decades` decades."""
    v = rng.standard_normal(shape) * 10.0 ** rng.uniform(-decades / 2, decades / 2, shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.standard_normal(shape) * 10.0 ** rng.uniform(-decades / 2, decades / 2, shape)
    return v.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("s1, s2, axes", [
    ((100, 120), (3, 3), None),
    ((24, 20, 22), (3, 3, 3), None),
    ((200, 50), (31, 7), None),
    ((30, 40), (30, 40), None),      # the kernel fills the transform: rfftn itself
    ((5, 60, 70), (1, 5, 3), (1, 2)),  # a broadcast axis beside the transformed ones
    ((6, 30, 40), (4, 1, 5), (2, 0)),  # axes out of order
    ((300, 200), (3, 3), None),        # big enough for the row-by-row transform
    ((40, 40, 40), (3, 3, 3), None),
    ((64, 20, 300), (5, 1, 7), (2, 0)),
])
@pytest.mark.parametrize("split_points", [0, None], ids=["split-always", "split-default"])
def test_fftconvolve_is_scipys_bit_for_bit(rng, monkeypatch, dtype, s1, s2, axes, split_points):
    """Well-scaled real inputs: fastconv's fftconvolve gives scipy.signal's bits
    (its transform of a small operand only over the operand's own rows is
    rfftn's, bit for bit), in every mode, with the row-by-row transform taken
    wherever the operand allows it and where the default threshold takes it."""
    if split_points is not None:
        monkeypatch.setattr(_fftconv, "_SPLIT_POINTS", split_points)
    split = []
    real_rfft = _fftconv._scipy_fft().rfft
    monkeypatch.setattr(_fftconv._scipy_fft(), "rfft", lambda *a, **k: (split.append(1), real_rfft(*a, **k))[1])
    a, b = rng.standard_normal(s1).astype(dtype), rng.standard_normal(s2).astype(dtype)
    if math.prod(s1) >= 50_000:  # the three cases made for it
        assert (fs.fftconvolve(a, b, axes=axes), split)[1], "the row-by-row transform was not taken"
    for mode in ("full", "same", "valid"):
        got = fs.fftconvolve(a, b, mode, axes=axes)
        want = ss.fftconvolve(a, b, mode, axes=axes)
        assert got.dtype == want.dtype and got.shape == want.shape, (mode, got.shape, want.shape)
        assert np.array_equal(got, want), f"{mode}: {np.max(np.abs(got - want))} from SciPy's"


@pytest.mark.parametrize("dtype, decades", [("f8", 0), ("f8", 12), ("f8", 60), ("f4", 0), ("f4", 10),
                                            ("c16", 20), ("c8", 6)])
@pytest.mark.parametrize("op", FFT_OPS)
def test_fft_never_less_accurate_than_scipys(rng, op, dtype, decades):
    """Against exact long-double direct sums, fastconv's largest error is at most twice
    SciPy's (plus one rounding of the result), on random shapes and values spanning up
    to 60 decades."""
    eps = np.finfo(np.dtype(dtype)).eps
    for _ in range(6):
        if rng.random() < 0.5:
            s1, s2 = (int(rng.integers(50, 3000)),), (int(rng.integers(1, 200)),)
        else:
            s1 = tuple(int(v) for v in rng.integers(8, 60, 2))
            s2 = tuple(int(v) for v in rng.integers(1, 9, 2))
        x, k = _wide_range(rng, s1, dtype, decades), _wide_range(rng, s2, dtype, decades)
        for mode in MODES:
            exact = _exact(x, k, mode)
            ours = _max_error(getattr(fs, op)(x, k, mode), exact)
            theirs = _max_error(getattr(ss, op)(x, k, mode), exact)
            bound = 2 * theirs + eps * float(np.max(np.abs(exact)))
            assert ours <= bound, f"{op} {dtype}{s1}*{s2} {mode}: error {ours:.3g}, SciPy's {theirs:.3g}"


@pytest.mark.parametrize("dtype, x_mag, k_mag", [
    ("f8", 1e305, 1e-10),    # SciPy's spectra overflow: inf and NaN
    ("f8", 1.0, 1e-310),     # subnormal kernel: SciPy keeps a few bits
    ("f8", 1e-160, 1e-160),  # the spectra's product underflows
    ("f4", 1e36, 1e-10),     # single-precision transforms overflow
    ("f4", 1e-20, 1e-20),
    ("c16", 1e300, 1e-3),
])
@pytest.mark.parametrize("op", FFT_OPS)
def test_fft_stays_finite_and_accurate_where_scipys_overflows_or_underflows(rng, op, dtype, x_mag, k_mag):
    """Operands scaled by powers of two before the transforms: the result is finite and
    within the FFT's error bound of the exact sums (eps * log2(N) * max|x| * sum|k|),
    whatever SciPy's own gives on the same inputs."""
    def positive(n, mag):  # positive parts: the zero-frequency term is their whole sum
        v = rng.uniform(0.5, 1.5, n) + (1j * rng.uniform(0.5, 1.5, n) if dtype == "c16" else 0)
        return (v * mag).astype(dtype)

    x, k = positive(3000, x_mag), positive(150, k_mag)
    info = np.finfo(np.dtype(dtype))
    bound = (8 * info.eps * math.log2(4096) * float(np.max(np.abs(x)))
             * float(np.sum(np.abs(k.astype(np.clongdouble)))) + 2 * info.smallest_subnormal)
    for mode in MODES:
        exact = _exact(x, k, mode)
        with np.errstate(all="ignore"):
            y = getattr(fs, op)(x, k, mode)
            theirs = _max_error(getattr(ss, op)(x, k, mode), exact)
        assert np.all(np.isfinite(y)), f"{op} {dtype} {mode}: not finite"
        ours = _max_error(y, exact)
        assert ours <= bound and ours <= 2 * theirs + bound / 8, (
            f"{op} {dtype} {mode}: error {ours:.3g}, bound {bound:.3g}, SciPy's {theirs:.3g}")
    with np.errstate(all="ignore"):  # convolve's FFT path too, with its integer rounding
        y = fs.convolve(x, k, "same", "fft")
    assert np.all(np.isfinite(y)) and _max_error(y, _exact(x, k, "same")) <= bound


@pytest.mark.parametrize("op", FFT_OPS)
def test_fft_of_non_finite_inputs_is_scipys(op):
    x = np.arange(40.0).reshape(5, 8)
    x[2, 3] = np.nan
    for k in (np.ones((2, 2)), np.array([[np.inf, 1.0]])):
        for mode in MODES:
            with np.errstate(all="ignore"):
                want, got = getattr(ss, op)(x, k, mode), getattr(fs, op)(x, k, mode)
            assert_close(got, want, op=op, isa="default", context=f"{k}, {mode}", **DROPIN)


# ---- without SciPy ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_without_scipy_the_same_results_and_errors(without_scipy, rng, ndim, seed):
    """No original to hand long double, wide integers or empty inputs to: the slow twin
    and SciPy's own steps; numpy.fft for the FFT, fastconv's next_fast_len and Lambert W."""
    dtype = ["g", "u8", "i8", "f8", "c16", "?", "f2", "G", "O"][(3 * seed + ndim) % 9]
    in1, in2, desc = _case(rng, ndim, dtype)
    for op in OPS:
        for mode in MODES:
            _both(op, in1, in2, mode, "direct", case=f"without SciPy: {desc}, {mode}")
    s1, s2, axes = _fft_case(rng, ndim)
    fft_dtype = ["f8", "f4", "c8"][seed]  # numpy.fft's precision brought to scipy.fft's
    x, k = _values(rng, s1, fft_dtype), _values(rng, s2, fft_dtype)
    for op in FFT_OPS:
        for mode in MODES:
            try:
                want = getattr(ss, op)(x, k, mode, axes)
            except ValueError:
                continue
            _assert_fft_close(getattr(fs, op)(x, k, mode, axes), want,
                              case=f"without SciPy: {op} {s1} * {s2}, {mode}, axes={axes}")


def test_without_scipy_wide_integers_wrap_as_scipys(without_scipy, rng):
    info = np.iinfo(np.int64)
    x = rng.integers(info.min, info.max, (5, 6, 4), dtype=np.int64, endpoint=True)
    k = rng.integers(info.min, info.max, (2, 3, 2), dtype=np.int64, endpoint=True)
    for op in OPS:
        for mode in MODES:
            assert np.array_equal(getattr(fs, op)(x, k, mode, "direct"),
                                  getattr(ss, op)(x, k, mode, "direct")), (op, mode)


@pytest.mark.parametrize("s1, s2", _empty_shapes()[:11])
def test_without_scipy_empty_inputs_like_scipy(without_scipy, s1, s2):
    for mode in MODES:
        for op in OPS:
            _both(op, np.ones(s1), np.ones(s2), mode, "direct", case=f"{s1} * {s2}, {mode}")


def test_without_scipy_helpers_equal_scipys(without_scipy):
    import scipy.fft

    for real in (True, False):
        want = [scipy.fft.next_fast_len(n, real) for n in range(1, 3000)]
        assert [_fftconv.next_fast_len(n, real) for n in range(1, 3000)] == want
    for overlap in (1, 2, 7, 100, 10_000, 10**7):
        y = -1 / (2 * math.e * overlap)
        want = float(lambertw(y, k=-1).real)
        assert abs(_fftconv._lambertw_m1(y) - want) <= 1e-12 * abs(want), overlap


# ---- unchanged code under fastconv.patch() ---------------------------------------------------------


def test_unchanged_scipy_code_runs_on_fastconv_when_patched(rng):
    img = rng.integers(0, 255, (48, 40)).astype(np.float64)
    vol = rng.standard_normal((10, 12, 14))
    sig = rng.standard_normal(4000)

    def script():
        return [
            ss.convolve(img, np.ones((3, 3)) / 9, "same"),
            ss.correlate(vol, vol[:3, :4, :5], "valid"),
            ss.convolve(sig, ss.windows.hann(301), "same"),
            ss.fftconvolve(vol, vol[:2, :1, :4], "same", axes=(0, 2)),
            ss.oaconvolve(sig, sig[:64], "full"),
            ss.wiener(img, 5),
            ss.deconvolve(np.convolve([1.0, 2, 3], [1.0, 0.5, 0.25]), [1.0, 0.5, 0.25])[0],
            ss.choose_conv_method(img, np.ones((31, 31))),
        ]

    want = script()
    with fastconv.patched():
        assert ss.convolve is fs.convolve and ss.oaconvolve is fs.oaconvolve
        got = script()
    assert ss.convolve is not fs.convolve
    for i, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, str):
            assert g == w
        else:
            assert_close(g, w, op=f"call {i}", isa="default", context="patched script", **DROPIN)


# ---- fastconv.dask.signal ----------------------------------------------------------------------------


def _chunks(rng, n):
    return int(rng.integers(1, n + 1)) if n > 1 and rng.random() < 0.8 else n


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ndim", [2, 3, 4])
def test_dask_signal_bitwise_the_in_memory_direct_sums(kernels_always, rng, ndim, seed):
    big, small = {2: (30, 6), 3: (12, 4), 4: (7, 3)}[ndim]
    dtype = ["f8", "f4", "i4", "c16"][seed]
    x = _values(rng, tuple(int(v) for v in rng.integers(1, big + 1, ndim)), dtype)
    k = _values(rng, tuple(int(v) for v in rng.integers(1, small + 1, ndim)), dtype)
    chunks = tuple(_chunks(rng, n) for n in x.shape)
    lazy = da.from_array(x, chunks=chunks)
    for op in OPS:
        for mode in MODES:
            case = f"{op} {dtype}{x.shape} * {k.shape}, chunks {chunks}, {mode}"
            try:
                want = getattr(fs, op)(x, k, mode, "direct")
            except ValueError:
                with pytest.raises(ValueError):
                    getattr(fds, op)(lazy, k, mode)
                continue
            got = getattr(fds, op)(lazy, k, mode).compute(scheduler="threads")
            if dtype == "c16":
                assert_close(got, want, op=op, isa="default", context=case, **DROPIN)
            else:
                assert got.dtype == want.dtype and np.array_equal(got, want), case
            assert_close(got, getattr(ss, op)(x, k, mode, "direct"), op=op, isa="default",
                         context=f"{case}, against SciPy", **DROPIN)


def test_dask_signal_1d_kernel_larger_and_empty_follow_the_in_memory_rules(rng):
    a = rng.standard_normal(50)
    for v in (rng.standard_normal(7), rng.standard_normal(80), np.ones(0)):
        for op in OPS:
            for mode in MODES:
                try:
                    want = getattr(fs, op)(a, v, mode, "direct")
                except ValueError:
                    with pytest.raises(ValueError):
                        getattr(fds, op)(da.from_array(a, chunks=9), v, mode).compute()
                    continue
                got = getattr(fds, op)(da.from_array(a, chunks=9), v, mode).compute()
                assert_close(got, want, op=op, isa="default", context=f"{len(v)} taps, {mode}", **DROPIN)
    small, big = rng.standard_normal((3, 4, 2)), rng.standard_normal((6, 7, 5))
    for op in OPS:  # the kernel the larger input: computed in memory, as SciPy swaps
        for mode in ("full", "valid"):
            got = getattr(fds, op)(da.from_array(small, chunks=2), big, mode).compute()
            assert_close(got, getattr(ss, op)(small, big, mode, "direct"), op=op,
                         isa="default", context=f"kernel larger, {mode}", **DROPIN)


def test_dask_signal_checks_before_computing():
    lazy = da.ones((40, 40), chunks=10)
    with pytest.raises(ValueError, match="'ful'"):
        fds.convolve(lazy, np.ones((3, 3)), "ful")
    with pytest.raises(ValueError, match="method must be 'direct'"):
        fds.correlate(lazy, np.ones((3, 3)), "same", "fft")
    with pytest.raises(ValueError, match="same dimensionality"):
        fds.correlate(lazy, np.ones(3))
    with pytest.raises(ValueError, match="Unsupported type"):
        fds.convolve(da.ones((40, 40), dtype=bool, chunks=10), np.ones((3, 3), bool), "same")
    with pytest.raises(TypeError):
        fds.convolve(lazy, np.ones((3, 3)), threads=1.5)
    assert fds.convolve(lazy, np.ones((3, 3)), "same").chunks == lazy.chunks


def test_docstring_examples():
    assert doctest.testmod(fs).failed == 0
    assert doctest.testmod(fds).failed == 0
