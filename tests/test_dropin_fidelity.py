"""The drop-ins keep the originals' algorithm class: direct sums at every kernel
size, so each output carries a direct sum's error (a bound in ulps of the sum
of the absolute values of its terms, see _ulps_allowed), integer-valued results
stay exact, finite
results stay finite, and no warning appears that the original would not give.

Each case is compared element by element with NumPy or SciPy, and with a
near-exact reference: the same original run in long double (64-bit
significand), against a bound computed from the original run on the absolute
values. The originals themselves are held to the same bound, so a bound that
is too tight fails on the reference, not silently on fastconv. The FFT
(``method='fft'``), which these rules forbid by default, fails the bound on the
same inputs: that is checked too, so the tests can tell the two apart.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal as sps

import fastconv
from reference import CHILD_ADDRESS_LIMIT

pytestmark = pytest.mark.filterwarnings("error")  # a warning the original does not give fails

ONE_D = {"convolve": (fastconv.convolve, np.convolve), "correlate": (fastconv.correlate, np.correlate)}
TWO_D = {"convolve2d": (fastconv.convolve2d, sps.convolve2d),
         "correlate2d": (fastconv.correlate2d, sps.correlate2d)}
BOUNDARIES = ("fill", "wrap", "symm")


def _ulps_allowed(taps: int) -> float:
    """A direct sum's error in ulps of the sum of |terms|. The worst case of any
    summation order is taps - 1; rounding errors that behave as random give
    about sqrt(taps) (Higham and Mary's probabilistic bound), which SciPy's
    sequential sums and fastconv's blocked SIMD sums both meet with room: on a
    31x31 Gaussian blur of positive pixels SciPy reaches 14 ulps and fastconv
    22, against 64 allowed here. An FFT misses it by many orders of magnitude
    (test_fft_fails_the_direct_sum_bound_on_spanning_kernels)."""
    return 2.0 + 2.0 * math.sqrt(taps)


def assert_direct_sum_error(got, ref_call, args, *, taps: int, what: str) -> None:
    """`got` (fastconv's result for `args`) and the original's result are both
    within _ulps_allowed(taps) ulps of sum |terms| of the long-double result,
    element by element; NaN/inf where the original has them."""
    want = ref_call(*args)
    assert got.dtype == want.dtype and got.shape == want.shape, (
        f"{what}: {got.dtype}{got.shape}, the original gives {want.dtype}{want.shape}")
    a, v, *rest = args
    exact = ref_call(np.asarray(a).astype(np.longdouble), np.asarray(v).astype(np.longdouble),
                     *rest)
    size = ref_call(np.abs(np.asarray(a)).astype(np.float64),
                    np.abs(np.asarray(v)).astype(np.float64), *rest)
    info = np.finfo(got.dtype)
    bound = _ulps_allowed(taps) * float(info.eps) * size + taps * float(info.smallest_subnormal)
    for name, y in (("fastconv", got), ("original", want)):
        assert np.array_equal(np.isnan(y), np.isnan(want)), f"{what}: {name}'s NaN pattern"
        err = np.abs(y.astype(np.longdouble) - exact)
        bad = ~(err <= bound) & np.isfinite(exact)
        if bad.any():
            at = np.unravel_index(np.argmax(np.where(bad, err / bound, 0)), y.shape)
            raise AssertionError(
                f"{what}: {name} has {int(bad.sum())} of {y.size} outputs beyond "
                f"{_ulps_allowed(taps):.1f} ulps of sum|terms|; worst at {at}: "
                f"{y[at]!r} vs exact {exact[at]!r}, bound {bound[at]:.3g}")


def _spanning(rng, shape, decades: float, dtype):
    """Values of random sign whose magnitudes span 10**-decades .. 10**decades."""
    mag = 10.0 ** rng.uniform(-decades, decades, shape)
    return (rng.choice([-1.0, 1.0], shape) * mag).astype(dtype)


# ---- the cases that an FFT gets wrong ---------------------------------------------------

def _gaussian(size: int, sigma: float) -> np.ndarray:
    g = np.exp(-0.5 * ((np.arange(size) - size // 2) / sigma) ** 2)
    g2 = np.outer(g, g)
    return g2 / g2.sum()


def test_gaussian_blur_of_a_half_black_image_stays_non_negative(rng):
    image = rng.random((512, 512))
    image[:, :256] = 0.0
    kernel = _gaussian(31, 3.0)
    args = (image, kernel, "same", "symm")
    got = fastconv.convolve2d(*args)
    want = sps.convolve2d(*args)
    assert got.min() >= 0.0, f"{int((got < 0).sum())} negative pixels; SciPy's minimum is {want.min()}"
    assert np.array_equal(got == 0, want == 0), (
        f"exact zeros: fastconv {int((got == 0).sum())}, SciPy {int((want == 0).sum())}")
    assert not np.isnan(np.sqrt(got)).any()
    assert_direct_sum_error(got, sps.convolve2d, args, taps=31 * 31, what="31x31 blur")
    # The FFT, on request, does not keep these properties: proof that the
    # checks above can tell the algorithms apart.
    assert (fastconv.convolve2d(*args, method="fft") < 0).any()


@pytest.mark.parametrize("op", TWO_D)
def test_impulse_returns_a_kernel_spanning_thirty_decades(op):
    kernel = 10.0 ** np.linspace(-30, 0, 31 * 31).reshape(31, 31)
    kernel[::2, 1::3] *= -1
    image = np.zeros((64, 64))
    image[32, 32] = 1.0
    fast, ref = TWO_D[op]
    got = fast(image, kernel, "full")
    want = ref(image, kernel, "full")
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.sign(got), np.sign(want))


@pytest.mark.parametrize("op", ONE_D)
def test_integer_valued_floats_stay_exact(op, rng):
    a = rng.integers(0, 10, 20000).astype(float)
    v = rng.integers(0, 10, 500).astype(float)
    fast, ref = ONE_D[op]
    for mode in ("full", "same", "valid"):
        got = fast(a, v, mode)
        np.testing.assert_array_equal(got, ref(a, v, mode))
        assert np.array_equal(got, np.round(got))


@pytest.mark.parametrize("op", ONE_D)
def test_huge_values_stay_finite_1d(op):
    a, v = np.full(20000, 1e305), np.full(500, 1e-5)
    fast, ref = ONE_D[op]
    for method in ("direct", "fft", "auto"):
        got = fast(a, v, "full", method=method)
        want = ref(a, v, "full")
        assert np.isfinite(got).all(), f"method={method}: {int((~np.isfinite(got)).sum())} not finite"
        np.testing.assert_allclose(got, want, rtol=1e-12 if method == "direct" else 1e-9)


@pytest.mark.parametrize("op", TWO_D)
def test_huge_values_stay_finite_2d(op):
    x, k = np.full((300, 300), 1e306), np.full((31, 31), 1e-6)
    fast, ref = TWO_D[op]
    want = ref(x, k)
    for method in ("direct", "fft", "auto"):
        got = fast(x, k, method=method)
        assert np.isfinite(got).all(), f"method={method}: {int((~np.isfinite(got)).sum())} not finite"
        np.testing.assert_allclose(got, want, rtol=1e-12 if method == "direct" else 1e-9)


def test_fft_on_request_keeps_subnormal_kernels():
    """Scaled before transforming: a kernel of subnormal values is not lost."""
    x = np.ones((40, 40))
    k = np.full((9, 9), 5e-320)
    got = fastconv.correlate2d(x, k, "valid", method="fft")
    want = sps.correlate2d(x, k, "valid")
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_fft_error_stays_within_its_documented_model(rng):
    """docs/dropins.md: |error| <= 4 eps log2(N) max|x| sum|k| for each output."""
    x = _spanning(rng, (120, 130), 6, np.float64)
    k = _spanning(rng, (25, 25), 6, np.float64)
    got = fastconv.correlate2d(x, k, "same", "wrap", method="fft")
    exact = sps.correlate2d(x.astype(np.longdouble), k.astype(np.longdouble), "same", "wrap")
    points = (120 + 24) * (130 + 24)
    bound = 4 * np.finfo(float).eps * math.log2(points) * np.abs(x).max() * np.abs(k).sum()
    assert float(np.abs(got - exact).max()) <= bound


# ---- dtypes -------------------------------------------------------------------------

@pytest.mark.parametrize("op", ONE_D)
def test_float16_overflows_silently_as_numpy_does(op):
    a = np.full(50, 300.0, dtype=np.float16)
    v = np.full(5, 300.0, dtype=np.float16)
    fast, ref = ONE_D[op]
    with np.errstate(all="raise"):
        want = ref(a, v, "full")
        got = fast(a, v, "full")
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want)  # inf where the float32 sums exceed 65504


@pytest.mark.parametrize("op", ONE_D)
def test_float16_rounds_once_from_float32_sums(op, rng):
    """Small integer-valued halves: the float32 sums are exact in any order, so
    the one rounding to float16 must give NumPy's values bit for bit."""
    a = rng.integers(-40, 40, 3000).astype(np.float16) / 8
    v = rng.integers(-40, 40, 37).astype(np.float16) / 4
    fast, ref = ONE_D[op]
    for mode in ("full", "same", "valid"):
        np.testing.assert_array_equal(fast(a, v, mode), ref(a, v, mode))


@pytest.mark.parametrize("dtype", [np.longdouble, np.clongdouble, np.bool_, object])
@pytest.mark.parametrize("op", ONE_D)
def test_dtypes_without_a_fast_path_give_numpys_values(op, dtype, rng):
    a = rng.integers(-3, 4, 300).astype(dtype)
    v = rng.integers(-3, 4, 17).astype(dtype)
    if dtype is np.longdouble:
        a = a / np.longdouble(3)
    fast, ref = ONE_D[op]
    for mode in ("full", "same", "valid"):
        got, want = fast(a, v, mode), ref(a, v, mode)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize("op", ONE_D)
def test_wide_integers_wrap_as_numpy(op, dtype, rng):
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, 400, dtype=dtype, endpoint=True)
    v = rng.integers(info.min, info.max, 31, dtype=dtype, endpoint=True)
    fast, ref = ONE_D[op]
    for mode in ("full", "same", "valid"):
        np.testing.assert_array_equal(fast(a, v, mode), ref(a, v, mode))


@pytest.mark.parametrize("op", TWO_D)
def test_long_double_and_wide_integers_give_scipys_values_2d(op, rng):
    fast, ref = TWO_D[op]
    x = rng.standard_normal((20, 30)).astype(np.longdouble) / 3
    k = rng.standard_normal((4, 5)).astype(np.longdouble)
    np.testing.assert_array_equal(fast(x, k, "same", "symm"), ref(x, k, "same", "symm"))
    xi = rng.integers(-2**62, 2**62, (20, 30), dtype=np.int64)
    ki = rng.integers(-2**62, 2**62, (4, 5), dtype=np.int64)
    np.testing.assert_array_equal(fast(xi, ki, "full", "wrap"), ref(xi, ki, "full", "wrap"))


def test_unknown_method_is_refused():
    for call in (lambda: fastconv.convolve([1.0], [1.0], method="fast"),
                 lambda: fastconv.correlate([1.0], [1.0], method=None),
                 lambda: fastconv.convolve2d([[1.0]], [[1.0]], method="FFT"),
                 lambda: fastconv.correlate2d([[1.0]], [[1.0]], method="overlap-add")):
        with pytest.raises(ValueError, match="method"):
            call()


# ---- property test: kernels spanning many decades, every mode and boundary -------------

def _draw_case(data):
    """(rng, dtype, decades, mode) for one example: values of float32 span 24
    decades (their products stay in range), float64 200."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    mode = data.draw(st.sampled_from(["full", "same", "valid"]), label="mode")
    return rng, dtype, (12 if dtype == np.float32 else 100), mode


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.parametrize("op", ONE_D)
def test_1d_direct_sum_error_property(op, data):
    rng, dtype, decades, mode = _draw_case(data)
    n = data.draw(st.integers(1, 300), label="n")
    m = data.draw(st.integers(1, 64), label="m")
    a, v = _spanning(rng, n, decades, dtype), _spanning(rng, m, decades, dtype)
    fast, ref = ONE_D[op]
    assert_direct_sum_error(fast(a, v, mode), ref, (a, v, mode), taps=min(n, m),
                            what=f"{op} {np.dtype(dtype)}[{n}] x [{m}] {mode}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.parametrize("op", TWO_D)
def test_2d_direct_sum_error_property(op, data):
    rng, dtype, decades, mode = _draw_case(data)
    shape = (data.draw(st.integers(1, 48)), data.draw(st.integers(1, 48)))
    kshape = (data.draw(st.integers(1, 33)), data.draw(st.integers(1, 33)))
    boundary = data.draw(st.sampled_from(BOUNDARIES), label="boundary")
    if mode == "valid" and not (all(s >= k for s, k in zip(shape, kshape))
                                or all(s <= k for s, k in zip(shape, kshape))):
        kshape = (min(kshape[0], shape[0]), min(kshape[1], shape[1]))
    x, k = _spanning(rng, shape, decades, dtype), _spanning(rng, kshape, decades, dtype)
    fast, ref = TWO_D[op]
    args = (x, k, mode, boundary)
    assert_direct_sum_error(fast(*args), ref, args, taps=min(x.size, k.size),
                            what=f"{op} {np.dtype(dtype)}{shape} x {kshape} {mode} {boundary}")


def test_fft_fails_the_direct_sum_bound_on_spanning_kernels(rng):
    """The bound above is tight enough to catch an FFT: method='fft' on the same
    kind of input lands far outside it."""
    x = _spanning(rng, (40, 50), 100, np.float64)
    k = _spanning(rng, (7, 9), 100, np.float64)
    args = (x, k, "same", "symm")
    got = fastconv.correlate2d(*args, method="fft")
    with pytest.raises(AssertionError, match="fastconv has"):
        assert_direct_sum_error(got, sps.correlate2d, args, taps=k.size, what="fft")


def test_no_new_warnings_on_non_finite_input():
    """inf and NaN inputs: fastconv warns exactly when the original does."""
    a = np.array([1.0, np.inf, -np.inf, np.nan, 2.0] * 20)
    v = np.array([0.5, np.inf, 1.0])
    for fast, ref in ONE_D.values():
        with warnings.catch_warnings(record=True) as want_w:
            warnings.simplefilter("always")
            want = ref(a, v, "full")
        with warnings.catch_warnings(record=True) as got_w:
            warnings.simplefilter("always")
            got = fast(a, v, "full")
        assert [str(w.message) for w in got_w] == [str(w.message) for w in want_w]
        assert np.array_equal(np.isnan(got), np.isnan(want))


# ---- small calls: NumPy's own sums, bit for bit ----------------------------------------

def _halves(rng, n):
    """float16 values over the whole range: subnormals, normals near overflow,
    zeros of both signs, inf and NaN."""
    bits = rng.integers(0, 1 << 16, n, dtype=np.uint64).astype(np.uint16)
    return bits.view(np.float16)


@pytest.mark.parametrize("op", ONE_D)
def test_small_float16_calls_are_numpys_bits(op, rng):
    fast, ref = ONE_D[op]
    for _ in range(300):
        a, v = _halves(rng, int(rng.integers(1, 40))), _halves(rng, int(rng.integers(1, 40)))
        mode = ("valid", "same", "full")[int(rng.integers(3))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's own inf - inf warnings, if any
            want = ref(a, v, mode)
            got = fast(a, v, mode)
        assert got.dtype == np.float16 and got.shape == want.shape
        same = (got.view(np.uint16) == want.view(np.uint16)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), f"{op} {a.size}x{v.size} {mode}: {got[~same]} vs {want[~same]}"


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int32, np.uint32, np.int64,
                                   np.uint64])
@pytest.mark.parametrize("op", ONE_D)
def test_small_integer_and_bool_calls_are_numpys(op, dtype, rng):
    fast, ref = ONE_D[op]
    for _ in range(100):
        n, m = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        if dtype is np.bool_:
            a, v = rng.random(n) < 0.1, rng.random(m) < 0.1
        else:
            info = np.iinfo(dtype)
            a = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
            v = rng.integers(info.min, info.max, m, dtype=dtype, endpoint=True)
        a = a[::-1] if rng.random() < 0.3 else a  # a view: copied by the front door
        mode = ("valid", "same", "full")[int(rng.integers(3))]
        got, want = fast(a, v, mode), ref(a, v, mode)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [127, 128, 129, 255, 256, 257, 513, 1031])
def test_long_kernels_keep_the_direct_sum_bound(dtype, m, rng):
    """Kernels around the AVX-512 row kernel's switch to its shared-load form
    (128 float64 / 256 float32 taps), with and without a partial last pass."""
    decades = 12 if dtype == np.float32 else 100
    for n in (m + 5, 2 * m + 197):
        a, v = _spanning(rng, n, decades, dtype), _spanning(rng, m, decades, dtype)
        for op, (fast, ref) in ONE_D.items():
            for mode in ("full", "same", "valid"):
                assert_direct_sum_error(fast(a, v, mode), ref, (a, v, mode), taps=m,
                                        what=f"{op} {np.dtype(dtype)}[{n}] x [{m}] {mode}")
    x, k = _spanning(rng, (40, m + 30), decades, dtype), _spanning(rng, (3, m), decades, dtype)
    for op, (fast, ref) in TWO_D.items():
        args = (x, k, "same", "symm")
        assert_direct_sum_error(fast(*args), ref, args, taps=3 * m, what=f"{op} 3x{m}")


# ---- huge views: sizes before values -------------------------------------------------------
# Broadcast views of 2**42 to 2**61 elements take no memory; the originals copy
# them (or allocate their result) before reading a value, so they fail at once:
# MemoryError, or ValueError where the size overflows. The drop-ins must fail
# at once too, with the same exception type, never scan 2**42 values first.
# Each function runs in a child process under a timeout and an address-space
# limit, which reports every case as it goes.

HUGE_VIEWS_CHILD = r"""
import json, resource, sys, time
import numpy as np
from scipy import signal
import fastconv
""" + CHILD_ADDRESS_LIMIT + r"""name = sys.argv[1]
fast, ref = getattr(fastconv, name), {"convolve": np.convolve, "correlate": np.correlate,
                                      "convolve2d": signal.convolve2d,
                                      "correlate2d": signal.correlate2d}[name]
view = lambda dtype, shape: np.broadcast_to(np.dtype(dtype).type(1), shape)
cases = []
if name in ("convolve", "correlate"):
    for dtype, e in (("int8", 42), ("int8", 61), ("int16", 60), ("int32", 59), ("int64", 42),
                     ("uint64", 58), ("float64", 42), ("complex128", 42)):
        a = view(dtype, 2**e)
        for kname, k in (("ones", np.ones(3, dtype)), ("list", [1, 2, 3]), ("itself", a)):
            for mode in ("full", "valid"):
                for method in ("direct", "fft"):
                    cases.append((f"{dtype}[2**{e}] x {kname} {mode} {method}", (a, k, mode), method))
else:
    for dtype, shape in (("int8", (2**21, 2**21)), ("int8", (2**31, 2**30)), ("int32", (2**29, 2**30)),
                         ("int64", (2**21, 2**21)), ("float64", (2**21, 2**21))):
        x = view(dtype, shape)
        for kname, k in (("ones", np.ones((3, 3), dtype)), ("list", [[1, 2], [3, 4]]), ("itself", x)):
            for mode, boundary, fill in (("full", "fill", 0), ("full", "fill", 1), ("valid", "fill", 0),
                                         ("same", "symm", 0)):
                for method in ("direct", "auto"):
                    cases.append((f"{dtype}{shape} x {kname} {mode} {boundary} {fill} {method}",
                                  (x, k, mode, boundary, fill), method))

def outcome(call):
    start = time.perf_counter()
    try:
        call()
        got = "no exception"
    except Exception as err:
        got = type(err).__name__
    return got, time.perf_counter() - start

for label, args, method in cases:
    print(json.dumps({"case": label}), flush=True)
    want, _ = outcome(lambda: ref(*args))
    got, seconds = outcome(lambda: fast(*args, method=method))
    print(json.dumps({"case": label, "want": want, "got": got, "seconds": seconds}), flush=True)
"""


@pytest.mark.parametrize("name", ["convolve", "correlate", "convolve2d", "correlate2d"])
def test_huge_views_fail_at_once_as_the_original(name):
    try:
        proc = subprocess.run([sys.executable, "-c", HUGE_VIEWS_CHILD, name], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        proc = None
    if proc is None:
        started = [json.loads(line)["case"] for line in out.splitlines() if line.startswith("{")]
        pytest.fail(f"{name}: still running after 60 s, at {started[-1] if started else 'start'}")
    assert proc.returncode == 0, proc.stderr
    results = [r for r in map(json.loads, proc.stdout.splitlines()) if "got" in r]
    assert len(results) > 50
    wrong = [r for r in results if r["got"] != r["want"] or r["seconds"] > 2.0]
    assert not wrong, "\n".join(f"{name} {r['case']}: {r['got']} in {r['seconds']:.1f} s, "
                                f"the original: {r['want']}" for r in wrong)
