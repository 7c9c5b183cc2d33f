"""fastconv.convolve2d and fastconv.correlate2d against scipy.signal itself:
random cases over every dtype SciPy accepts, every mode, boundary and fill
value, layouts and ISAs; each algorithm path forced in turn; then the edge
cases (empty arrays, swaps in 'valid' mode, kernels larger than the image with
'wrap'/'symm', fillvalue conversion, unsupported dtypes, bad arguments)."""
from __future__ import annotations

import doctest
import functools
import warnings

import numpy as np
import pytest
from scipy import signal as sps

import fastconv
from fastconv import signal as fc_signal
from _helpers import LAYOUTS, misaligned, random_array, with_layout
from dropins_reference import DROPIN, assert_same_behaviour, assert_same_exception
from reference import assert_close

OPS = {"convolve2d": (fastconv.convolve2d, sps.convolve2d),
       "correlate2d": (fastconv.correlate2d, sps.correlate2d)}
DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "g", "c8", "c16", "G"]
MODES = ("full", "same", "valid")
BOUNDARIES = ("fill", "wrap", "symm")


def _side(rng, small: int, large: int) -> int:
    """0..small mostly (0 included: empty arrays), sometimes 0..large."""
    r = rng.random()
    return int(rng.integers(0, (small if r < 0.85 else large) + 1))


def _out_shape(mode, s1, s2):
    return {"full": (s1[0] + s2[0] - 1, s1[1] + s2[1] - 1), "same": s1,
            "valid": (s1[0] - s2[0] + 1, s1[1] - s2[1] + 1)}[mode]


def _scipy_crashes(mode, boundary, s1, s2) -> bool:
    """SciPy divides by zero (SIGFPE) for 'wrap'/'symm' on an empty image when it
    maps a row (or, with a non-empty kernel, a column) index into it."""
    if mode == "valid" and not all(a >= b for a, b in zip(s1, s2)):
        s1, s2 = s2, s1
    out = _out_shape(mode, s1, s2)
    if boundary == "fill" or min(out) <= 0 or s2[0] == 0:
        return False
    return s1[0] == 0 or (s1[1] == 0 and s2[1] > 0)


def _fillvalue(rng, dtype):
    r = rng.random()
    if r < 0.4:
        return 0
    if np.dtype(dtype).kind in "iu":
        return int(rng.integers(0, 100))
    if np.dtype(dtype).kind == "c" and r > 0.7:
        return complex(rng.standard_normal(), rng.standard_normal())
    return float(rng.standard_normal())


def _check(op, in1, in2, mode, boundary, fillvalue, isa, desc, method="direct"):
    fast, ref = OPS[op]
    fast = functools.partial(fast, method=method)
    case = f"{desc}, mode={mode!r}, boundary={boundary!r}, fillvalue={fillvalue!r}"
    if _scipy_crashes(mode, boundary, np.shape(in1), np.shape(in2)):
        # fastconv raises ValueError instead, or, for an empty kernel, returns
        # the empty sums SciPy would if it did not crash
        if min(np.shape(in2)) == 0:
            y = fast(in1, in2, mode, boundary, fillvalue)
            assert y.shape == _out_shape(mode, np.shape(in1), np.shape(in2)) and not y.any()
        else:
            with pytest.raises(ValueError, match="non-empty in1"):
                fast(in1, in2, mode, boundary, fillvalue)
        return
    try:
        want = ref(in1, in2, mode, boundary, fillvalue)
    except Exception:  # noqa: BLE001 - e.g. 'valid' with neither input larger
        assert_same_exception(lambda: fast(in1, in2, mode, boundary, fillvalue),
                              lambda: ref(in1, in2, mode, boundary, fillvalue), op=op, case=case)
        return
    assert_close(fast(in1, in2, mode, boundary, fillvalue), want, op=op, isa=isa, context=case, **DROPIN)


def _case(rng, dtype, small=(24, 9), large=(200, 30)):
    other = dtype if rng.random() < 0.8 else DTYPES[rng.integers(len(DTYPES))]
    s1 = (_side(rng, small[0], large[0]), _side(rng, small[0], large[0]))
    s2 = (_side(rng, small[1], large[1]), _side(rng, small[1], large[1]))
    if s1[0] * s1[1] * s2[0] * s2[1] > 2_000_000:  # keep SciPy's direct loop quick
        s2 = (min(s2[0], 7), min(s2[1], 7))
    l1, l2 = LAYOUTS[rng.integers(len(LAYOUTS))], LAYOUTS[rng.integers(len(LAYOUTS))]
    in1 = with_layout(rng, random_array(rng, s1, dtype), l1)
    in2 = with_layout(rng, random_array(rng, s2, other), l2)
    return in1, in2, f"in1 {dtype}{s1} {l1}, in2 {other}{s2} {l2}"


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_matches_scipy_random(isa, rng, op, dtype, seed):
    in1, in2, desc = _case(rng, dtype)
    for mode in MODES:
        for boundary in BOUNDARIES:
            _check(op, in1, in2, mode, boundary, _fillvalue(rng, dtype), isa, desc)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dtype", ["f4", "f8", "c8", "c16"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
def test_each_float_method_matches_scipy(method, rng, op, dtype, seed):
    in1, in2, desc = _case(rng, dtype)
    for mode in MODES:
        for boundary in BOUNDARIES:
            _check(op, in1, in2, mode, boundary, _fillvalue(rng, dtype), "default",
                   f"method={method}, {desc}", method)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("force_path", ["slow"], indirect=True)
def test_slow_twin_matches_scipy(force_path, rng, op, dtype):
    in1, in2, desc = _case(rng, dtype, small=(12, 5), large=(40, 12))
    for mode in MODES:
        for boundary in BOUNDARIES:
            _check(op, in1, in2, mode, boundary, _fillvalue(rng, dtype), "default",
                   f"path=slow, {desc}")


@pytest.mark.parametrize("shape, kshape", [
    ((1, 1), (1, 1)), ((5, 63), (3, 3)), ((5, 64), (3, 3)), ((5, 65), (3, 3)),
    ((9, 129), (2, 4)), ((33, 127), (5, 1)), ((3, 256), (1, 31)), ((70, 70), (7, 7)),
])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
@pytest.mark.parametrize("op", OPS)
def test_widths_around_the_vector_width(isa, rng, op, dtype, shape, kshape):
    in1, in2 = random_array(rng, shape, dtype), random_array(rng, kshape, dtype)
    for mode in MODES:
        for boundary in BOUNDARIES:
            _check(op, in1, in2, mode, boundary, 1.5, isa, f"{dtype}{shape} * {kshape}")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape, kshape", [((2, 3), (9, 11)), ((1, 1), (4, 5)), ((3, 1), (1, 8)),
                                           ((4, 4), (17, 3))])
def test_kernel_larger_than_image_wraps_and_mirrors_repeatedly(isa, rng, op, shape, kshape):
    in1, in2 = random_array(rng, shape, "f8"), random_array(rng, kshape, "f8")
    for mode in ("full", "same"):
        for boundary in BOUNDARIES:
            _check(op, in1, in2, mode, boundary, -2.0, isa, f"{shape} * {kshape}")
            _check(op, in2, in1, mode, boundary, -2.0, isa, f"{kshape} * {shape}")


@pytest.mark.parametrize("op", OPS)
def test_valid_mode_swaps_like_scipy(isa, op):
    """correlate2d reverses the result after swapping; convolve2d need not."""
    small = np.array([[1.0, 2j], [3.0, -1.0]])
    big = np.arange(20.0).reshape(4, 5) * (1 - 0.5j)
    _check(op, small, big, "valid", "fill", 0, isa, "in2 larger")
    _check(op, big, small, "valid", "fill", 0, isa, "in1 larger")
    _check(op, np.ones((3, 3)), np.ones((3, 3)), "valid", "fill", 0, isa, "equal shapes")


def test_docstring_examples():
    assert doctest.testmod(fc_signal).failed == 0


def test_lecture_example_as_one_row():
    got = fastconv.correlate2d([[5, 3, 2, 5, 9, 7]], [[1, 2, 3]], "valid")
    assert_close(got, np.array([[17, 22, 39, 44]]), op="correlate2d", isa="default",
                 context="lecture example", **DROPIN)


EMPTY = [(0, 3), (3, 0), (0, 0), (2, 2), (1, 3), (3, 1)]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("s1", EMPTY)
@pytest.mark.parametrize("s2", EMPTY)
def test_empty_inputs_like_scipy(op, s1, s2):
    in1, in2 = np.arange(np.prod(s1), dtype=float).reshape(s1), np.ones(s2)
    if min(s1) and min(s2):
        return  # not an empty case
    for mode in MODES:
        for boundary in BOUNDARIES:
            _check(op, in1, in2, mode, boundary, 2.0, "default", f"{s1} * {s2}")


BAD = [
    (np.ones(3), np.ones((2, 2)), {}), (np.ones((2, 2)), np.ones(3), {}), (3, [[1]], {}),
    (np.ones((2, 2, 2)), np.ones((1, 1, 1)), {}),
    ([[1, 2]], [[1]], {"mode": "x"}), ([[1, 2]], [[1]], {"mode": 1}), ([[1, 2]], [[1]], {"mode": "FULL"}),
    ([[1, 2]], [[1]], {"mode": ["full"]}), ([[1, 2]], [[1]], {"boundary": "reflect"}),
    ([[1, 2]], [[1]], {"boundary": "x"}), ([[1, 2]], [[1]], {"boundary": None}),
    (np.ones((3, 3)), np.ones((2, 4)), {"mode": "valid"}),
    (np.ones((2, 2), bool), np.ones((1, 1), bool), {}),
    (np.ones((2, 2), np.float16), np.ones((1, 1), np.float16), {}),
    (np.ones((2, 2), np.float16), np.ones((1, 1), np.int8), {}),
    (np.ones((2, 2), object), np.ones((1, 1)), {}),
    (np.ones((2, 2)), np.ones((1, 1), object), {}),
    (np.ones((2, 2), "m8[s]"), np.ones((1, 1), "i8"), {}),
    (np.ones((2, 2)), np.ones((1, 1), "m8[s]"), {}),
    (np.array([["a", "b"]]), [[1]], {}), ([[1, 2]], np.array([["a"]]), {}),
    (np.ones((2, 2), complex), np.ones((1, 1), "M8[s]"), {}),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("in1, in2, kwargs", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_like_scipy(op, in1, in2, kwargs):
    fast, ref = OPS[op]
    assert_same_exception(lambda: fast(in1, in2, **kwargs), lambda: ref(in1, in2, **kwargs),
                          op=op, case=f"in1={in1!r}, in2={in2!r}, {kwargs}")


FILLVALUES = [1, 1.5, -2.5, 1j, 1 + 0j, np.float64(1.5), np.float32(2.5), np.int64(3),
              np.array(1.5), np.array([2]), [[3]], [], [1, 2], "abc", "2", None, True, 2**70,
              -1, 300, np.nan, np.inf, np.complex128(1j), np.array(1j), np.uint8(7), b"1",
              # at the edges of the integer dtypes' ranges, and floats truncated into them
              127, 128, -128, -129, 255, 256, 127.9, 255.9, -0.9, -1.0, -128.7, 2.0**53, 2**53 + 1]


@pytest.mark.parametrize("dtype", ["i1", "u1", "i8", "u8", "f4", "f8", "c8", "c16"])
@pytest.mark.parametrize("fillvalue", FILLVALUES, ids=[repr(f)[:16] for f in FILLVALUES])
def test_fillvalue_converts_like_scipy(dtype, fillvalue):
    in1, in2 = np.ones((2, 2), dtype), np.arange(1, 4, dtype=np.int8).reshape(1, 3).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ComplexWarning, cast warnings: both sides alike
        for op, (fast, ref) in OPS.items():
            assert_same_behaviour(lambda: fast(in1, in2, "full", "fill", fillvalue),
                                  lambda: ref(in1, in2, "full", "fill", fillvalue), op=op,
                                  case=f"{dtype} fillvalue={fillvalue!r}")


def test_fillvalue_ignored_unless_fill():
    x = np.arange(6.0).reshape(2, 3)
    for boundary in ("wrap", "symm"):
        assert_close(fastconv.correlate2d(x, x, "same", boundary, "not a number"),
                     sps.correlate2d(x, x, "same", boundary, "not a number"),
                     op="correlate2d", isa="default", context=boundary, **DROPIN)


def test_error_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"mode must be 'valid', 'same' or 'full', got 'ful'"):
        fastconv.correlate2d([[1]], [[1]], "ful")
    with pytest.raises(ValueError, match=r"boundary must be .* got 'mirror'"):
        fastconv.convolve2d([[1]], [[1]], boundary="mirror")
    with pytest.raises(ValueError, match=r"in1 of shape \(3,\)"):
        fastconv.convolve2d([1, 2, 3], [[1]])
    with pytest.raises(ValueError, match=r"dtype bool and bool .* does not support"):
        fastconv.correlate2d(np.ones((2, 2), bool), np.ones((2, 2), bool))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", ["f4", "f8", "c8", "i2", "i8"])
def test_inputs_unchanged(op, rng, dtype):
    in1, in2 = random_array(rng, (40, 30), dtype), random_array(rng, (5, 4), dtype)
    c1, c2 = in1.copy(), in2.copy()
    for mode in MODES:
        for boundary in BOUNDARIES:
            y = OPS[op][0](in1, in2, mode, boundary, 3)
            assert not np.shares_memory(y, in1) and not np.shares_memory(y, in2)
    np.testing.assert_array_equal(in1, c1)
    np.testing.assert_array_equal(in2, c2)


@pytest.mark.parametrize("op", OPS)
def test_nan_stays_local(op, rng):
    """A 21x21 kernel would pick FFT, where a NaN spreads everywhere."""
    in1, in2 = rng.standard_normal((160, 150)), rng.standard_normal((21, 21))
    in1[30, 40] = np.nan
    in1[100, 7] = np.inf
    for boundary in BOUNDARIES:
        _check(op, in1, in2, "same", boundary, 0, "default", "NaN and inf in in1")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kshape", [(3, 3), (7, 7), (31, 31)])
def test_large_image_matches_scipy_and_threads_agree(op, rng, restore_threads, kshape):
    in1 = rng.standard_normal((300, 260))
    in2 = rng.standard_normal(kshape)
    fast, ref = OPS[op]
    for mode, boundary in (("same", "fill"), ("full", "symm"), ("valid", "wrap")):
        fastconv.set_num_threads(1)
        one = fast(in1, in2, mode, boundary, 0.5)
        fastconv.set_num_threads(2)
        two = fast(in1, in2, mode, boundary, 0.5)
        case = f"(300, 260) * {kshape}, {mode}, {boundary}"
        assert_close(two, ref(in1, in2, mode, boundary, 0.5), op=op, isa="default", context=case, **DROPIN)
        assert_close(one, two, op=op, isa="default", context="1 vs 2 threads, " + case, **DROPIN)


def test_direct_path_is_bitwise_repeatable_across_threads(rng, restore_threads):
    in1 = rng.standard_normal((257, 333)).astype(np.float32)
    in2 = rng.standard_normal((5, 6)).astype(np.float32)
    fastconv.set_num_threads(1)
    one = fastconv.correlate2d(in1, in2, "same", "symm")
    fastconv.set_num_threads(2)
    assert np.array_equal(one, fastconv.correlate2d(in1, in2, "same", "symm"))


@pytest.mark.parametrize("op", OPS)
def test_broadcast_and_overlapping_views(op, rng):
    """Rows that repeat (stride 0) or overlap (sliding windows) are valid inputs."""
    row = rng.standard_normal(60)
    views = {"broadcast rows": np.broadcast_to(row, (40, 60)),
             "sliding windows": np.lib.stride_tricks.sliding_window_view(row, 9),
             "broadcast columns": np.broadcast_to(row[:30, None], (30, 20))}
    for name, x in views.items():
        for mode in MODES:
            _check(op, x, rng.standard_normal((3, 4)), mode, "symm", 0, "default", name)


def test_misaligned_and_mixed_dtype_operands(rng):
    """Operands the kernels cannot read as they are (misaligned, or of another
    dtype than the call computes in) are converted first, on either side."""
    in1, in2 = rng.standard_normal((9, 11)), rng.standard_normal((3, 4))
    cases = {"misaligned image": (misaligned(in1), in2), "misaligned kernel": (in1, misaligned(in2)),
             "float32 image": (in1.astype(np.float32), in2), "float32 kernel": (in1, in2.astype(np.float32))}
    for op in OPS:
        for name, (x, k) in cases.items():
            for mode in MODES:
                _check(op, x, k, mode, "fill", 0, "default", name)


def test_transposed_views_and_big_endian(rng):
    in1 = rng.standard_normal((40, 50)).T  # Fortran-ordered view
    in2 = rng.standard_normal((6, 3)).astype(">f8")[::-1]
    for op in OPS:
        for mode in MODES:
            _check(op, in1, in2, mode, "symm", 0, "default", "transposed view, big-endian kernel")


def test_concurrent_calls_from_python_threads(rng, restore_threads):
    """The GIL is released in the kernels and the FFT pool is shared: calls from
    several Python threads at once must give the sequential results."""
    from concurrent.futures import ThreadPoolExecutor

    fastconv.set_num_threads(2)
    jobs = [(fastconv.correlate2d, rng.standard_normal((150, 170)), rng.standard_normal(ks), mode)
            for ks in ((3, 3), (25, 25)) for mode in MODES]
    jobs += [(fastconv.convolve, rng.standard_normal(30_000), rng.standard_normal(m), mode)
             for m in (5, 2000) for mode in MODES]
    want = [f(a, b, mode) for f, a, b, mode in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda job: job[0](job[1], job[2], job[3]), jobs * 3))
    for i, y in enumerate(got):
        f, a, b, mode = jobs[i % len(jobs)]
        assert_close(y, want[i % len(jobs)], op=f.__name__, isa="default",
                     context=f"concurrent call {i}: {a.shape} * {b.shape} {mode}", **DROPIN)


@pytest.mark.parametrize("in1, in2", [
    ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 0], [0, -1]]), (((0.5, 1.0), (2.0, -1.0)), [[1, 2]]),
    ([[1, 2], [3, 4]], np.array([[0.5]], np.float32)), ([[1j, 2], [3, 4]], [[1, 1]]),
], ids=str)
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_nested_lists_get_scipys_values_and_dtype(name, in1, in2):
    for mode in ("full", "same", "valid"):
        for boundary in ("fill", "wrap", "symm"):
            got = getattr(fc_signal, name)(in1, in2, mode, boundary)
            want = getattr(sps, name)(in1, in2, mode, boundary)
            assert got.dtype == want.dtype and got.shape == want.shape, (mode, boundary)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtypes", [("i8", "i8"), ("u1", "u1"), ("i2", "i4"), ("c16", "c16"), ("c8", "c8"),
                                    ("c16", "i8"), ("u8", "u8"), ("f4", "f4"), ("f8", "i2"), ("f2", "f2"),
                                    ("?", "?")], ids=str)
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_small_planes_match_scipy(name, dtypes, rng):
    """2-D direct calls, which correlate2d's and convolve2d's front door
    computes (an even kernel's 'same' correlation excepted; float16 and bool
    keep their path): SciPy's dtype, shape, values and errors, for kernels of
    every parity and inputs smaller than the kernel."""
    def make(shape, dtype):
        if dtype[0] in "u?":
            return rng.integers(0, 9, shape).astype(dtype)
        values = rng.integers(-9, 9, shape) + (1j * rng.integers(-9, 9, shape) if dtype[0] == "c" else 0)
        return values.astype(dtype)
    for kshape in ((3, 3), (2, 2), (4, 3), (1, 5), (6, 6)):
        for shape in ((4, 4), (8, 9), (3, 3), (5, 2), (1, 1)):
            a, k = make(shape, dtypes[0]), make(kshape, dtypes[1])
            for mode in ("full", "same", "valid"):
                want = _outcome(getattr(sps, name), a, k, mode, method="direct")
                got = _outcome(getattr(fc_signal, name), a, k, mode, method="direct")
                what = f"{name} {dtypes} {shape} by {kshape} {mode}"
                if isinstance(want, Exception):
                    assert type(got) is type(want), what
                    continue
                assert got.dtype == want.dtype and got.shape == want.shape, what
                if want.dtype.kind in "iub":
                    np.testing.assert_array_equal(got, want, err_msg=what)
                else:
                    tol = 1e-6 if want.dtype.itemsize >= 8 else 2e-3
                    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


def test_planes_on_the_front_door_keep_the_n_d_paths_bits(rng):
    """Floats reach correlate2d's front door only because its kernels are the
    N-d path's for two dimensions: the same bits either way."""
    for dtype in ("f4", "f8"):
        for kshape in ((3, 3), (5, 5), (1, 7), (9, 9)):
            for shape in ((4, 4), (30, 70), (200, 200)):
                a = rng.standard_normal(shape).astype(dtype)
                k = rng.standard_normal(kshape).astype(dtype)
                for mode in ("full", "valid", "same"):
                    if mode == "valid" and (shape[0] < kshape[0] or shape[1] < kshape[1]):
                        continue
                    nd = fc_signal._correlate_nd(a, k, mode, order=(0, 1))
                    np.testing.assert_array_equal(fc_signal.correlate(a, k, mode, method="direct"), nd,
                                                  err_msg=f"{dtype} {shape} {kshape} {mode}")


def _outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # the exception, to compare its type
        return e
