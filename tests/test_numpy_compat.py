"""fastconv.convolve and fastconv.correlate against numpy.convolve and
numpy.correlate themselves: random cases over every dtype, size regime, layout,
mode and ISA; each algorithm path forced in turn; then the documented edge
cases (empty, 0-d, swaps, conjugation, overflow, bad arguments)."""
from __future__ import annotations

import doctest
import itertools
import warnings

import numpy as np
import pytest

import fastconv
from fastconv import numpy_compat
from _helpers import LAYOUTS, misaligned, random_array, with_layout
from dropins_reference import DROPIN, assert_same_behaviour
from reference import assert_close

OPS = {"convolve": (fastconv.convolve, np.convolve), "correlate": (fastconv.correlate, np.correlate)}
DTYPES = ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8",
          "f2", "f4", "f8", "g", "c8", "c16", "G"]
MODES = ("valid", "same", "full", 0, 1, 2)


def _length(rng) -> int:
    """Mostly short (vector-width territory), sometimes long: 1..40, 1..300, 1..2000."""
    r = rng.random()
    top = 40 if r < 0.8 else 300 if r < 0.95 else 2000
    return int(rng.integers(1, top + 1))


def _case(rng, dtype):
    """(a, v, description): lengths drawn independently, so v is as often longer
    than a as shorter; v sometimes of another dtype; each in a random layout."""
    other = dtype if rng.random() < 0.8 else DTYPES[rng.integers(len(DTYPES))]
    a = random_array(rng, _length(rng), dtype)
    v = random_array(rng, _length(rng), other)
    la, lv = LAYOUTS[rng.integers(len(LAYOUTS))], LAYOUTS[rng.integers(len(LAYOUTS))]
    desc = f"a {dtype}[{a.size}] {la}, v {other}[{v.size}] {lv}"
    return with_layout(rng, a, la), with_layout(rng, v, lv), desc


def _check(op, a, v, mode, isa, desc, method="direct"):
    fast, ref = OPS[op]
    assert_close(fast(a, v, mode, method=method), ref(a, v, mode), op=op, isa=isa,
                 context=f"{desc}, mode={mode!r}, method={method!r}", **DROPIN)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_matches_numpy_random(isa, rng, op, dtype, seed):
    a, v, desc = _case(rng, dtype)
    for mode in ("valid", "same", "full", MODES[3 + rng.integers(3)]):
        _check(op, a, v, mode, isa, desc)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", ["f4", "f8", "c8", "c16"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
def test_each_float_method_matches_numpy(method, rng, op, dtype, seed):
    a, v, desc = _case(rng, dtype)
    for mode in ("valid", "same", "full"):
        _check(op, a, v, mode, "default", desc, method)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("force_path", ["slow"], indirect=True)
def test_slow_twin_matches_numpy(force_path, rng, op, dtype, seed):
    a, v, desc = _case(rng, dtype)
    for mode in ("valid", "same", "full"):
        _check(op, a, v, mode, "default", f"path=slow, {desc}")


@pytest.mark.parametrize("n, m", [(1, 1), (7, 7), (8, 3), (63, 64), (64, 63), (65, 2), (127, 5),
                                  (128, 128), (129, 31), (257, 17), (1000, 999), (4099, 301)])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
@pytest.mark.parametrize("op", OPS)
def test_sizes_around_the_vector_width(isa, rng, op, dtype, n, m):
    """Lengths at tile - 1, tile, tile + 1 of every kernel (8..128 outputs per pass)."""
    a, v = random_array(rng, n, dtype), random_array(rng, m, dtype)
    for mode in ("valid", "same", "full"):
        _check(op, a, v, mode, isa, f"{dtype}[{n}] with {dtype}[{m}]")
        _check(op, v, a, mode, isa, f"{dtype}[{m}] with {dtype}[{n}] (swapped)")


def test_lecture_example():
    got = fastconv.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3])
    assert_close(got, np.array([17, 22, 39, 44]), op="correlate", isa="default",
                 context="lecture example", **DROPIN)
    assert got.dtype == np.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3]).dtype


@pytest.mark.parametrize("a, v", [
    ([5, 3, 2, 5, 9, 7], [1, 2, 3]), ((0.5, -1.0, 2.25), [1, 2]), ([1, 2, 3, 4], (0.5, 0.25)),
    ([1 + 2j, 3, -1j], [1, 1j]), ([True, False, True], [True, True]), ([2 ** 40, 3], [2 ** 20, 1]),
    ([1.5], [2]), (np.arange(7), [1, -1]), ([1, 2, 3], np.array([0.5, 2], np.float32)),
], ids=str)
@pytest.mark.parametrize("op", OPS)
def test_lists_and_tuples_get_the_originals_values_and_dtype(op, a, v):
    """Sequences are made arrays as NumPy makes them, mixed dtypes computed in
    their promotion: the original's dtype, and its values."""
    for mode in ("valid", "same", "full"):
        got = getattr(fastconv, op)(a, v, mode)
        want = getattr(np, op)(a, v, mode)
        assert got.dtype == want.dtype, (a, v, mode)
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_docstring_examples():
    assert doctest.testmod(numpy_compat).failed == 0


@pytest.mark.parametrize("op", OPS)
def test_complex_conjugation_and_swap(isa, op):
    """numpy.correlate conjugates v and, when v is longer, returns the reversed
    conjugate of correlate(v, a); numpy.convolve conjugates nothing."""
    a = np.array([1 + 1j, 2, 3 - 2j])
    v = np.array([0.5j, 1, -1 + 1j, 2, 0.25])
    for mode in ("valid", "same", "full"):
        _check(op, a, v, mode, isa, "complex, v longer")
        _check(op, v, a, mode, isa, "complex, a longer")
        _check(op, a.astype(np.complex64), v.real, mode, isa, "complex64 with float64")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("a, v", [
    (np.array([100, 100, 100], np.int8), np.array([100, 100], np.int8)),
    (np.array([250, 251, 3], np.uint8), np.array([255, 7], np.uint8)),
    (np.array([2**62, -2**62, 2**63 - 1], np.int64), np.array([3, -5], np.int64)),
    (np.array([2**64 - 1, 2**63], np.uint64), np.array([2**64 - 1, 5, 7], np.uint64)),
    (np.array([2**31 - 1] * 5, np.int32), np.array([2**31 - 1] * 3, np.int32)),
    (np.array([True, False, True]), np.array([True, True])),
    (np.array([3, 1, 2], np.uint64), np.array([-1, 2], np.int64)),   # -> float64
    (np.array([1.5, 2.5], np.float32), np.array([2, 3], np.int16)),  # -> float32
    (np.array([1.5, 2.5], np.float16), np.array([2, 3], np.int8)),   # -> float16
], ids=lambda x: str(x.dtype))
def test_wraparound_and_promotion(isa, op, a, v):
    for mode in ("valid", "same", "full"):
        _check(op, a, v, mode, isa, f"{a.dtype} {a.tolist()} with {v.dtype} {v.tolist()}")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("a, v", [
    (np.array([1, 2, 3], dtype=object), [4, 5]),
    (np.array([1, 2, 3], dtype="m8[s]"), [1, 2]),
    (np.array([1.0, 2.0]), [np.float64(2.0), 3.0]),
    ([1, 2, 3], (4.0, 5.0)),
    (3, [1, 2, 3]),  # 0-d: numpy.convolve takes it, numpy.correlate refuses it
], ids=["object", "timedelta64", "numpy scalars", "list and tuple", "scalar"])
def test_other_inputs_like_numpy(op, a, v):
    fast, ref = OPS[op]
    assert_same_behaviour(lambda: fast(a, v), lambda: ref(a, v), op=op, case=repr((a, v)))


BAD_CALLS = [
    ([], [1], "full"), ([1], [], "full"), ([], [], "valid"), (np.zeros((0,)), [1.0], "same"),
    ([[1, 2], [3, 4]], [1], "full"), ([1, 2], [[1]], "full"), ([1, 2], np.ones((1, 1, 1)), "valid"),
    (np.array(3.0), [1, 2], "full"), ([1, 2, 3], np.array(2.0), "valid"),
    ([1, 2, 3], [1, 2], "x"), ([1, 2, 3], [1, 2], "VALID"), ([1, 2, 3], [1, 2], ""),
    ([1, 2, 3], [1, 2], 3), ([1, 2, 3], [1, 2], -1), ([1, 2, 3], [1, 2], None),
    ([1, 2, 3], [1, 2], 2.0), ([1, 2, 3], [1, 2], True), ([1, 2, 3], [1, 2], ["full"]),
    (["a", "b"], [1, 2], "full"), ([1, 2], ["b"], "valid"),
    ([[1, 2], [3]], [1], "full"),  # ragged
    (np.array(["2020-01-01"], "M8[D]"), [1], "full"),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("a, v, mode", BAD_CALLS, ids=[repr(c)[:40] for c in BAD_CALLS])
def test_bad_input_raises_like_numpy(op, a, v, mode):
    """The same exception type as NumPy (or, where NumPy accepts the odd input,
    the same result)."""
    fast, ref = OPS[op]
    assert_same_behaviour(lambda: fast(a, v, mode), lambda: ref(a, v, mode), op=op,
                          case=f"a={a!r}, v={v!r}, mode={mode!r}")


def test_error_messages_name_the_argument():
    # An inexact mode name is the installed NumPy's to judge: older releases take
    # it with a DeprecationWarning, newer ones raise a ValueError naming `mode`.
    def outcome(f):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = ("value", f([1, 2], [1], "ful").tolist())
            except ValueError as e:
                result = ("ValueError", "mode" in str(e))
        return result, [w.category for w in caught]

    assert outcome(fastconv.convolve) == outcome(np.convolve)
    with pytest.raises(ValueError, match=r"correlate: a must be 1-D, got an array of shape \(2, 1\)"):
        fastconv.correlate([[1], [2]], [1])
    with pytest.raises(ValueError, match="v cannot be empty"):
        fastconv.convolve([1, 2], [])


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", ["f4", "f8", "c16", "i8", "?"])
def test_inputs_unchanged_and_result_new(op, rng, dtype):
    a, v = random_array(rng, 300, dtype), random_array(rng, 40, dtype)
    a0, v0 = a.copy(), v.copy()
    for mode in ("valid", "same", "full"):
        y = OPS[op][0](a, v, mode)
        assert not np.shares_memory(y, a) and not np.shares_memory(y, v)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(v, v0)
    y = OPS[op][0](a, [1])
    assert not np.shares_memory(y, a)


@pytest.mark.parametrize("op", OPS)
def test_nan_and_inf_stay_local(op, rng):
    """A long kernel would pick FFT, where one NaN spreads everywhere; fastconv
    must give NumPy's NaN/inf pattern."""
    a, v = rng.standard_normal(5000), rng.standard_normal(1500)
    a[100], a[4000], v[7] = np.nan, np.inf, -np.inf
    for mode in ("valid", "same", "full"):
        _check(op, a, v, mode, "default", "NaN and inf inputs")


def _at_1_and_2_threads(fast, a, v, mode):
    """fast(a, v, mode) at 1 thread and at 2 (the caller restores the count)."""
    fastconv.set_num_threads(1)
    one = fast(a, v, mode)
    fastconv.set_num_threads(2)
    return one, fast(a, v, mode)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("m", [3, 31, 301, 3001])
def test_long_signal_matches_numpy_and_threads_agree(op, rng, restore_threads, m):
    """200k samples: many tasks per thread, kernels on both sides of the crossover."""
    a, v = rng.standard_normal(200_000), rng.standard_normal(m)
    fast, ref = OPS[op]
    for mode in ("valid", "same", "full"):
        one, two = _at_1_and_2_threads(fast, a, v, mode)
        assert_close(two, ref(a, v, mode), op=op, isa="default",
                     context=f"float64[200000] with [{m}], 2 threads", **DROPIN)
        assert_close(one, two, op=op, isa="default", context="1 thread vs 2 threads", **DROPIN)


@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "i4", "u4", "i8", "u8"])
@pytest.mark.parametrize("op", OPS)
def test_long_integer_signals_match_numpy(op, dtype, rng, restore_threads):
    """Integer signals of several kernel chunks: exact float64 sums where a
    chunk's values allow, NumPy's wrapping integer sums where one holds values
    too large for them, chunk edges inside the zero extension of 'same' and
    'full'; equal to NumPy's, bit for bit, at 1 and 2 threads."""
    info = np.iinfo(dtype)
    a = rng.integers(max(info.min, -1000), min(info.max, 1000), 50_000, endpoint=True).astype(dtype)
    if a.itemsize == 8:  # the middle chunk's sums pass 2**53: it wraps as NumPy's do
        a[20_000:20_010] = rng.integers(info.max // 4, info.max // 2, 10, dtype=dtype)
    fast, ref = OPS[op]
    for m in (3, 40, 600):
        v = rng.integers(max(info.min, -50), min(info.max, 50), m, endpoint=True).astype(dtype)
        for mode in ("valid", "same", "full"):
            want = ref(a, v, mode)
            for threads in (1, 2):
                fastconv.set_num_threads(threads)
                got = fast(a, v, mode)
                assert got.dtype == want.dtype, f"{op} {dtype} m={m} {mode}: {got.dtype}"
                np.testing.assert_array_equal(got, want, err_msg=f"{op} {dtype} m={m} {mode}, "
                                              f"{threads} thread(s)")


@pytest.mark.parametrize("op", OPS)
def test_long_bool_signals_match_numpy(op, rng):
    """bool: True where any product is; bytes other than 0 and 1 (a uint8 array
    viewed as bool) count as True, as in NumPy's loop."""
    fast, ref = OPS[op]
    a = rng.choice(np.array([0, 0, 0, 1, 2, 255], np.uint8), 30_000).view(np.bool_)
    for m in (1, 3, 31, 40_000):
        v = rng.choice(np.array([0, 0, 0, 0, 1, 7], np.uint8), m).view(np.bool_)
        for mode in ("valid", "same", "full"):
            want, got = ref(a, v, mode), fast(a, v, mode)
            assert got.dtype == want.dtype, f"{op} m={m} {mode}: {got.dtype}"
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8),
                                          err_msg=f"{op} bool m={m} {mode}")


@pytest.mark.parametrize("dtype", ["c8", "c16"])
@pytest.mark.parametrize("op", OPS)
def test_long_complex_signals_match_numpy(op, dtype, rng, restore_threads):
    """Complex signals of several chunks of outputs, with real and with
    complex kernels, chunk edges in the zero extension of 'same' and 'full',
    the chunks on 1 and 2 threads: the same bits either way."""
    fast, ref = OPS[op]
    a = (rng.standard_normal(30_000) + 1j * rng.standard_normal(30_000)).astype(dtype)
    for m, imag in ((3, 1), (3, 0), (40, 1), (9000, 1)):
        v = (rng.standard_normal(m) + imag * 1j * rng.standard_normal(m)).astype(dtype)
        for mode in ("valid", "same", "full"):
            one, two = _at_1_and_2_threads(fast, a, v, mode)
            assert_close(two, ref(a, v, mode), op=op, isa="default",
                         context=f"{dtype}[30000] with [{m}] {mode}", **DROPIN)
            assert np.array_equal(one, two), f"{op} {dtype}[30000] with [{m}] {mode}: 1 vs 2 threads"


@pytest.mark.parametrize("op", OPS)
def test_direct_path_is_bitwise_repeatable_across_threads(op, rng, restore_threads):
    a, v = rng.standard_normal(100_000).astype(np.float32), rng.standard_normal(77).astype(np.float32)
    fastconv.set_num_threads(1)
    one = OPS[op][0](a, v, "full")
    fastconv.set_num_threads(2)
    assert np.array_equal(one, OPS[op][0](a, v, "full"))


def test_broadcast_input(rng):
    a = np.broadcast_to(np.float64(2.5), (5000,))  # stride 0
    for op in OPS:
        _check(op, a, rng.standard_normal(40), "same", "default", "stride-0 signal")


def test_operands_read_as_they_are_only_when_the_kernels_can(rng):
    """The front door hands an array to the kernels as it is when it is of the
    work dtype, native, aligned and C-contiguous, and converts it otherwise: a
    misaligned, strided, byte-swapped or other-dtype operand on either side,
    each against NumPy."""
    a, v = rng.standard_normal(64), rng.standard_normal(5)
    variants = {"as is": lambda x: x, "misaligned": misaligned, "strided": lambda x: np.repeat(x, 2)[::2],
                "byte-swapped": lambda x: x.astype(">f8"), "float32": lambda x: x.astype(np.float32)}
    for op in OPS:
        for (na, fa), (nv, fv) in itertools.product(variants.items(), repeat=2):
            for mode in ("valid", "same", "full"):
                _check(op, fa(a), fv(v), mode, "default", f"signal {na}, kernel {nv}")


def test_byteswapped_and_readonly_inputs(rng):
    a = rng.standard_normal(100).astype(">f8")
    v = rng.standard_normal(9).astype(">f4")
    a.setflags(write=False)
    for op in OPS:
        for mode in ("valid", "same", "full"):
            _check(op, a, v, mode, "default", "big-endian, read-only")
