"""fastconv.relu is a numpy.ufunc: its attributes, its results bitwise against an
independent NumPy reference on every instruction set and memory layout, and the ufunc
machinery (out=, where=, dtype=, casting=, order=, broadcasting, subclasses,
__array_ufunc__ dispatch, Dask) working as for NumPy's own ufuncs."""
from __future__ import annotations

import doctest
import pickle
import warnings

import numpy as np
import pytest

import fastconv
from fastconv import activations

relu = fastconv.relu
DTYPES = [np.float32, np.float64]
UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def reference(x):
    """x where x >= 0 or NaN (the NaN's bits kept), else +0.0: -0.0 >= 0 holds, so
    -0.0 stays -0.0 (np.maximum(x, 0) would give +0.0 there)."""
    x = np.asarray(x)
    return np.where(np.isnan(x) | (x >= 0), x, np.zeros((), x.dtype))


def assert_bitwise(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    bits = UINT[got.dtype]
    diff = np.flatnonzero(got.view(bits) != want.view(bits)) if got.ndim else (
        [0] if got.view(bits) != want.view(bits) else [])
    assert len(diff) == 0, (
        f"{len(diff)} elements differ, first at {diff[0]}: got {got.reshape(-1)[diff[0]]!r}, "
        f"want {want.reshape(-1)[diff[0]]!r}")


def sample(n, dtype, rng):
    """Normal values with NaNs of several payloads and signs, +-inf, +-0.0, subnormals
    and the smallest negatives sprinkled in (about a quarter of the elements)."""
    dtype = np.dtype(dtype)
    x = rng.standard_normal(n).astype(dtype)
    bits = UINT[dtype]
    nans = (np.array([0x7FC00001, 0xFFC00000, 0x7FFFFFFF], np.uint32) if dtype == np.float32 else
            np.array([0x7FF8000000000001, 0xFFF8000000000000, 0x7FFFFFFFFFFFFFFF], np.uint64))
    info = np.finfo(dtype)
    specials = np.concatenate([nans.astype(bits).view(dtype),
                               np.array([np.inf, -np.inf, 0.0, -0.0, info.smallest_subnormal,
                                         -info.smallest_subnormal, -info.tiny, info.max, -info.max],
                                        dtype)])
    pick = rng.random(n) < 0.25
    x[pick] = rng.choice(specials, size=int(pick.sum()))
    return x


def layout(a, how):
    """The values of `a` as a view laid out as `how` says."""
    if how == "contiguous":
        return np.ascontiguousarray(a)
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "transposed":
        return np.ascontiguousarray(a.T).T
    if how == "strided":
        buf = np.full(a.shape[:-1] + (3 * a.shape[-1],), 7.0, a.dtype)
        buf[..., ::3] = a
        return buf[..., ::3]
    if how == "reversed":
        flip = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[flip])[flip]
    raise AssertionError(how)


LAYOUTS = ["contiguous", "fortran", "transposed", "strided", "reversed"]


# ---- it is a ufunc -----------------------------------------------------------------------------


def test_is_a_numpy_ufunc_with_float32_and_float64_loops():
    assert isinstance(relu, np.ufunc)
    assert (relu.nin, relu.nout, relu.nargs) == (1, 1, 2)
    assert relu.types == ["f->f", "d->d"]
    assert relu.__name__ == "relu"
    assert relu.signature is None and relu.identity is None


def test_one_object_for_fastconv_relu_nn_relu_and_the_model_activation():
    assert fastconv.relu is fastconv.nn.relu
    assert activations.get(fastconv.nn.relu) is activations.relu
    assert activations.get(fastconv.relu) is activations.relu


def test_pickles_as_itself():
    assert pickle.loads(pickle.dumps(relu)) is relu


def test_docstring_has_the_ufunc_signature_and_working_examples():
    doc = relu.__doc__
    assert doc.startswith("relu(x, /, out=None, *, where=True")
    test = doctest.DocTestParser().get_doctest(doc, {}, "fastconv.relu", None, 0)
    assert len(test.examples) >= 3
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


# ---- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", LAYOUTS)
@pytest.mark.parametrize("shape", [(1,), (67,), (5, 37), (3, 4, 65)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_equal_to_reference(isa, dtype, shape, how, rng):
    if how == "fortran" and len(shape) < 2:
        shape = (shape[0], 2)
    x = layout(sample(int(np.prod(shape)), dtype, rng).reshape(shape), how)
    before = x.copy()
    got = relu(x)
    assert type(got) is np.ndarray
    assert_bitwise(got, reference(before))
    assert_bitwise(x, before)  # the input is not modified


@pytest.mark.parametrize("dtype", DTYPES)
def test_negative_zero_stays_negative_zero_and_nan_keeps_its_bits(isa, dtype):
    x = np.array([-0.0, 0.0, np.nan, -np.nan, -1.0] * 20, dtype)
    for view in (x, x[::2], x[::-1]):
        got = relu(view)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(view) & ~(view < 0))
        assert_bitwise(got, reference(view))
    # np.maximum differs only in the sign of zero
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0))
    assert not np.signbit(np.maximum(x[:1], 0))[0] and np.signbit(relu(x[:1]))[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_threaded_arrays_match_reference(isa, dtype, rng, restore_threads):
    """Several MB, so the driver splits the work between threads; NaNs and -0.0
    sprinkled throughout; contiguous, strided, in place."""
    fastconv.set_num_threads(2)
    n = 3_000_003 if dtype == np.float32 else 1_500_001
    x = sample(n, dtype, rng)
    want = reference(x)
    before = x.copy()
    assert_bitwise(relu(x), want)
    assert_bitwise(x, before)
    assert_bitwise(relu(x[::2]), want[::2])
    assert relu(x, out=x) is x
    assert_bitwise(x, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_arrays_past_the_cache_take_the_streaming_kernels(dtype, rng, restore_threads):
    """Arrays whose pass spans more than twice the last-level cache (as counted) are stored with
    streaming stores (from the output's first 64-byte boundary on): the same bits as the
    reference into fresh, offset and in-place outputs (the backward pass keeps plain
    stores). At the ISA this CPU runs only: arrays this size take seconds to make, and
    every ISA's streaming kernel is checked at each output alignment in test_ukernels."""
    llc = fastconv._kernels.cpu_caches()["llc"]
    item = np.dtype(dtype).itemsize
    n = max(llc // item, 1000) + 17  # two arrays of n: just over twice the cache
    plan = fastconv.explain(fastconv.relu, np.empty(n, dtype))
    assert plan.kernel.startswith(f"fc_{'f32' if item == 4 else 'f64'}_relu_{'nt_' if llc else ''}ukernel")
    fastconv.set_num_threads(2)
    x = sample(n, dtype, rng)
    want = reference(x)
    assert_bitwise(relu(x), want)
    buf = np.full(n + 1, 7, dtype)
    assert_bitwise(relu(x, out=buf[1:]), want)  # an output one value past its buffer's start
    assert buf[0] == 7
    g = rng.standard_normal(n).astype(dtype)
    assert_bitwise(fastconv.nn.relu_backward(g, x), np.where(x <= 0, dtype(0), g))
    y = x.copy()
    assert relu(y, out=y) is y
    assert_bitwise(y, want)


@pytest.mark.parametrize("how", ["contiguous", "strided"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_raises_no_floating_point_warning(isa, dtype, how, restore_threads):
    """The max instruction and the ordered compare raise the invalid flag on NaN; relu
    of NaN is NaN, so NumPy must not report 'invalid value encountered in relu'."""
    fastconv.set_num_threads(2)
    for n in (1, 100, 1_000_001):
        x = layout(np.full((1, n), np.nan, dtype), how)
        with np.errstate(all="raise"):
            assert np.isnan(relu(x)).all()


def test_floating_point_errors_of_casts_are_still_reported():
    """Only the flag relu itself raised is cleared: the casts NumPy runs around the
    loop report as they do for np.negative."""
    big = np.array([1e300, np.nan, -1.0] * 3)
    for call in (lambda f: f(big, dtype=np.float32),
                 lambda f: f(big, out=np.zeros(big.shape, np.int64), casting="unsafe")):
        messages = []
        for f in (np.negative, relu):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                call(f)
            messages.append([str(w.message).replace("negative", "relu") for w in caught])
        assert messages[0] == messages[1], messages
        if np.lib.NumpyVersion(np.__version__) >= "1.24.0":  # casts report errors since 1.24
            assert messages[0], "NumPy reported nothing: the case tests nothing"


# ---- out= ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_is_x_in_place(isa, dtype, how, rng):
    x = layout(sample(6 * 41, dtype, rng).reshape(6, 41), how)
    want = reference(x)
    assert relu(x, out=x) is x
    assert_bitwise(x, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_separate_array_and_tuple(isa, dtype, rng):
    x = sample(300, dtype, rng).reshape(10, 30)
    before = x.copy()
    out = np.full_like(x, 7)
    assert relu(x, out=out) is out
    assert_bitwise(out, reference(x))
    out2 = layout(np.full_like(x, 7), "strided")
    got = relu(x, out=(out2,))
    assert got is out2
    assert_bitwise(out2, reference(x))
    assert_bitwise(relu(x, out=None), reference(x))
    assert_bitwise(relu(x, out=(None,)), reference(x))
    assert_bitwise(x, before)


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("shift", [1, -1])
@pytest.mark.parametrize("n", [101, 300_001])
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_overlapping_x_gets_relu_of_x_before_the_call(isa, dtype, n, shift, step, rng,
                                                          restore_threads):
    """For x running one element ahead of out (shift -1) NumPy makes no copy and expects
    the elements in order: two threads on the driver's chunks would read elements the
    other thread had already overwritten."""
    fastconv.set_num_threads(2)
    buf = sample((n + 1) * step, dtype, rng)[::step]
    x, out = (buf[:-1], buf[1:]) if shift == 1 else (buf[1:], buf[:-1])
    want = reference(x.copy())
    relu(x, out=out)
    assert_bitwise(out, want)


# float64's largest values overflow to inf when cast to float32, and NumPy says so
OVERFLOW_IN_CAST = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


@OVERFLOW_IN_CAST
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_of_the_other_float_dtype_casts_as_numpy_does(dtype, rng):
    x = sample(257, dtype, rng)
    other = np.float64 if dtype == np.float32 else np.float32
    out = np.empty(x.shape, other)
    assert relu(x, out=out) is out
    assert_bitwise(out, reference(x).astype(other))


@pytest.mark.parametrize("casting", ["no", "equiv", "safe", "same_kind", "unsafe"])
@pytest.mark.parametrize("out_dtype", [np.float32, np.float64, np.int64])
def test_out_dtype_and_casting_follow_numpy(out_dtype, casting):
    """Whatever np.negative accepts or refuses for float64 input, relu does too."""
    x = np.array([-1.5, 0.0, 2.5, 3.0])
    want_out, got_out = np.zeros(4, out_dtype), np.zeros(4, out_dtype)
    try:
        np.negative(x, out=want_out, casting=casting)
    except TypeError as err:
        with pytest.raises(type(err)) as info:
            relu(x, out=got_out, casting=casting)
        assert str(info.value) == str(err).replace("'negative'", "'relu'")
        return
    assert relu(x, out=got_out, casting=casting) is got_out
    np.testing.assert_array_equal(got_out, reference(x).astype(out_dtype, casting="unsafe"))


def test_broadcasting_into_a_larger_out(rng):
    x = sample(7, np.float32, rng)
    out = np.full((4, 7), 9.0, np.float32)
    assert relu(x, out=out) is out
    assert_bitwise(out, np.broadcast_to(reference(x), (4, 7)))
    col = sample(5, np.float64, rng).reshape(5, 1)
    out = np.empty((5, 3))
    relu(col, out=out)
    assert_bitwise(out, np.broadcast_to(reference(col), (5, 3)))


# ---- where=, dtype=, casting=, order= ------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_where_leaves_unselected_elements_of_out(isa, dtype, rng):
    x = sample(12 * 33, dtype, rng).reshape(12, 33)
    mask = rng.random(x.shape) < 0.5
    out = np.full_like(x, 7)
    assert relu(x, out=out, where=mask) is out
    assert_bitwise(out, np.where(mask, reference(x), np.array(7, dtype)))
    rows = rng.random((12, 1)) < 0.5  # broadcast mask
    out = np.full_like(x, -3)
    relu(x, out=out, where=rows)
    assert_bitwise(out, np.where(rows, reference(x), np.array(-3, dtype)))


@OVERFLOW_IN_CAST
def test_dtype_selects_the_loop_as_numpy_would(rng):
    x64 = sample(99, np.float64, rng)
    got = relu(x64, dtype=np.float32)
    assert got.dtype == np.float32
    assert_bitwise(got, reference(x64.astype(np.float32)))
    assert_bitwise(relu(x64, signature="f->f"), reference(x64.astype(np.float32)))
    ints = np.arange(-5, 6, dtype=np.int64)
    assert_bitwise(relu(ints, dtype=np.float64), reference(ints.astype(np.float64)))
    assert_bitwise(relu(ints.astype(np.int8), dtype=np.float32), reference(ints.astype(np.float32)))
    assert_bitwise(relu([-1.0, 2.0], dtype=np.float32), np.array([0.0, 2.0], np.float32))


@pytest.mark.parametrize("kwargs", [dict(dtype=np.float32), dict(signature="f->f")])
@pytest.mark.parametrize("casting", ["no", "equiv", "safe", "same_kind", "unsafe"])
def test_casting_of_the_input_follows_numpy(casting, kwargs):
    x = np.array([-1.5, 0.0, 2.5])
    try:
        want = np.negative(x, casting=casting, **kwargs)
    except TypeError as err:
        with pytest.raises(type(err)) as info:
            relu(x, casting=casting, **kwargs)
        assert str(info.value) == str(err).replace("'negative'", "'relu'")
        return
    got = relu(x, casting=casting, **kwargs)
    assert got.dtype == want.dtype == np.float32
    assert_bitwise(got, reference(x.astype(np.float32)))


def test_dtype_without_a_loop_raises_typeerror():
    for kwargs in (dict(dtype=np.float16), dict(dtype=np.int64), dict(signature="e->e")):
        with pytest.raises(TypeError):
            relu(np.array([-1.0, 2.0]), **kwargs)


@pytest.mark.parametrize("order", ["C", "F", "A", "K"])
def test_order_as_numpy(order, rng):
    f = np.asfortranarray(sample(20, np.float64, rng).reshape(4, 5))
    got, want = relu(f, order=order), np.negative(f, order=order)
    assert (got.flags.c_contiguous, got.flags.f_contiguous) == (want.flags.c_contiguous,
                                                                want.flags.f_contiguous)
    assert_bitwise(got, reference(f))


# ---- scalars, 0-d, empty, lists, byte order ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_d_and_scalars(dtype):
    got = relu(np.array(-2.5, dtype))
    assert type(got) is np.dtype(dtype).type and got == 0
    got = relu(dtype(-0.0))
    assert type(got) is np.dtype(dtype).type and np.signbit(got)
    assert relu(dtype(3.5)) == 3.5
    out = np.empty((), dtype)
    assert relu(np.array(-1.0, dtype), out=out) is out and out == 0
    assert type(relu(-2.0)) is np.float64 and relu(-2.0) == 0
    assert np.isnan(relu(float("nan")))


@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (0, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_arrays(dtype, shape):
    x = np.empty(shape, dtype)
    got = relu(x)
    assert got.shape == shape and got.dtype == dtype
    out = np.empty(shape, dtype)
    assert relu(x, out=out) is out


def test_python_lists_of_floats_are_float64():
    got = relu([-1.5, 0.0, 2.0, float("nan"), -0.0])
    assert got.dtype == np.float64
    assert_bitwise(got, reference(np.array([-1.5, 0.0, 2.0, np.nan, -0.0])))
    assert_bitwise(relu([[-1.0], [2.0]]), np.array([[0.0], [2.0]]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_byte_swapped_input(dtype, rng):
    x = sample(50, dtype, rng)
    got = relu(x.astype(np.dtype(dtype).newbyteorder(">")))
    assert got.dtype == dtype
    assert_bitwise(got, reference(x))


# ---- other dtypes --------------------------------------------------------------------------------

BAD_INPUTS = {
    "int8": np.arange(-3, 3, dtype=np.int8),
    "int64": np.arange(-3, 3),
    "uint8": np.arange(6, dtype=np.uint8),
    "bool": np.array([True, False]),
    "float16": np.array([-1.0, 2.0], np.float16),
    "longdouble": np.array([-1.0, 2.0], np.longdouble),
    "complex64": np.array([-1 + 1j], np.complex64),
    "complex128": np.array([-1 + 1j]),
    "object": np.array([-1.0, 2.0], dtype=object),
    "str": np.array(["a", "b"]),
    "bytes": np.array([b"a"]),
    "datetime64": np.array(["2020-01-01"], "datetime64[s]"),
    "python-int": 3,
    "list-of-ints": [-1, 2],
    "int-scalar": np.int32(-4),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_other_input_dtypes_raise_typeerror_naming_float32_and_float64(name):
    x = BAD_INPUTS[name]
    before = np.array(x, copy=True)
    with pytest.raises(TypeError, match=r"float32 and float64") as info:
        relu(x)
    assert str(np.asarray(x).dtype) in str(info.value)
    out = np.zeros(np.shape(x))
    with pytest.raises(TypeError, match=r"float32 and float64"):
        relu(x, out=out)  # an out= of a supported dtype does not select a loop
    np.testing.assert_array_equal(out, 0)
    np.testing.assert_array_equal(np.asarray(x), before)


# ---- subclasses and dispatch ---------------------------------------------------------------------


class Tagged(np.ndarray):
    def __array_finalize__(self, obj):
        self.tag = getattr(obj, "tag", None)


def test_ndarray_subclass_comes_back_as_that_subclass(rng):
    x = sample(10, np.float32, rng).view(Tagged)
    x.tag = "t"
    got = relu(x)
    assert type(got) is type(np.maximum(x, 0)) is Tagged
    assert got.tag == "t"
    assert_bitwise(got.view(np.ndarray), reference(x.view(np.ndarray)))


class Recorder:
    """A toy array-like that takes over every ufunc called on it."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return ("handled", ufunc, method, inputs, kwargs)


def test_array_ufunc_override_receives_the_call():
    obj = Recorder()
    tag, ufunc, method, inputs, kwargs = relu(obj)
    assert (tag, method, inputs, kwargs) == ("handled", "__call__", (obj,), {})
    assert ufunc is fastconv.relu
    out = np.empty(3)
    _, ufunc, method, inputs, kwargs = relu(obj, out=out, where=False)
    assert ufunc is relu and method == "__call__" and kwargs["out"] == (out,)
    _, _, method, inputs, _ = relu.at(obj, [0])
    assert method == "at" and inputs == (obj, [0])


def test_dask_array_stays_lazy_and_computes_to_the_reference(rng):
    da = pytest.importorskip("dask.array")
    x = sample(4 * 30, np.float32, rng).reshape(4, 30)
    calls = []

    def count(block):
        calls.append(block.shape)
        return block

    lazy = da.from_array(x, chunks=(2, 10)).map_blocks(count, meta=np.empty((0, 0), np.float32))
    y = relu(lazy)
    assert isinstance(y, da.Array) and y.dtype == np.float32 and y.shape == x.shape
    assert calls == []  # nothing computed yet
    assert_bitwise(y.compute(scheduler="sync"), reference(x))
    assert len(calls) == 6
    with pytest.raises(TypeError):  # Dask asks the ufunc and gets a refusal for int64
        relu(da.arange(5, chunks=2))


# ---- the ufunc methods ---------------------------------------------------------------------------


def test_at_applies_relu_in_place_at_the_indices():
    a = np.array([-1.0, -2.0, 3.0, -4.0, np.nan])
    relu.at(a, [0, 0, 2, 4])
    assert_bitwise(a, np.array([0.0, -2.0, 3.0, -4.0, np.nan]))
    b = np.array([[-1.0, 2.0], [-3.0, -4.0]], np.float32)
    relu.at(b, (np.array([1, 1]), np.array([0, 1])))
    assert_bitwise(b, np.array([[-1.0, 2.0], [0.0, 0.0]], np.float32))


@pytest.mark.parametrize("method", ["reduce", "accumulate", "reduceat", "outer"])
def test_binary_only_methods_raise_valueerror(method):
    x = np.array([-1.0, 2.0])
    args = {"reduce": (x,), "accumulate": (x,), "reduceat": (x, [0]), "outer": (x, x)}[method]
    with pytest.raises(ValueError, match="binary"):
        getattr(relu, method)(*args)
