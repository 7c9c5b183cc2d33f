"""fastconv.dask.ndimage: scipy.ndimage's filters over chunks with halos equal the
in-memory fastconv.ndimage results (bitwise; to rounding for uniform_filter, whose
running sums start at each block's edge, and for float32 N-d correlation, where a
small block may run SciPy's own loop), agree with SciPy, and with dask_image.ndfilters
where it has the same function; arguments are checked as in memory, before anything
runs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.ndimage as sndi

da = pytest.importorskip("dask.array", reason="fastconv.dask needs dask (the test extra installs it)")
dndi = pytest.importorskip("dask_image.ndfilters", reason="dask-image is a test reference (the test extra installs it)")

import fastconv.dask.ndimage as fdn
import fastconv.ndimage as fnd

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror", "grid-wrap"]
RNG = np.random.default_rng(20261202)
IMG2 = RNG.standard_normal((23, 31))
IMG3 = RNG.standard_normal((9, 12, 14))
CHUNKS2 = [(23, 31), (5, 7), ((3, 15, 5), (1, 20, 10))]


def _check(got: da.Array, want: np.ndarray, exact: bool = True) -> None:
    assert isinstance(got, da.Array)
    out = got.compute()
    assert out.shape == want.shape and out.dtype == want.dtype
    if exact:
        np.testing.assert_array_equal(out, want)
    else:
        tol = 1e-6 if out.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * float(np.abs(want).max() or 1))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunks", CHUNKS2, ids=str)
@pytest.mark.parametrize("op", ["correlate", "convolve"])
def test_nd_equals_in_memory_and_scipy(op, mode, chunks):
    k = RNG.standard_normal((3, 4))
    for origin in (0, (1, -2), (-1, 1)):
        want = getattr(fnd, op)(IMG2, k, mode=mode, cval=0.5, origin=origin)
        got = getattr(fdn, op)(da.from_array(IMG2, chunks=chunks), k, mode=mode, cval=0.5, origin=origin)
        _check(got, want)
        np.testing.assert_allclose(want, getattr(sndi, op)(IMG2, k, mode=mode, cval=0.5, origin=origin),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["correlate1d", "convolve1d", "uniform_filter1d", "gaussian_filter1d"])
def test_one_axis_filters(op, mode):
    # uniform_filter's running sums start at each block's edge: equal to rounding
    exact = not op.startswith("uniform")
    for axis, chunks, origin in itertools.product((0, -1), ((4, 6), (1, 31)), (0, 1, -1)):
        if op == "correlate1d" or op == "convolve1d":
            args, kw = ([1.0, -2.0, 0.5, 3.0],), {"origin": origin}
        elif op == "uniform_filter1d":
            args, kw = (4,), {"origin": origin}
        else:
            if origin:
                continue  # no origin argument
            args, kw = (1.7,), {"order": 1}
        want = getattr(fnd, op)(IMG2, *args, axis=axis, mode=mode, cval=-1.0, **kw)
        got = getattr(fdn, op)(da.from_array(IMG2, chunks=chunks), *args, axis=axis, mode=mode,
                               cval=-1.0, **kw)
        _check(got, want, exact)


@pytest.mark.parametrize("chunks", [(9, 12, 14), (4, 5, 6), (2, 3, 3)], ids=str)
def test_gaussian_and_uniform_per_axis(chunks):
    x = da.from_array(IMG3, chunks=chunks)
    cases = [
        ("gaussian_filter", (1.0,), {}),
        ("gaussian_filter", ((0.0, 1.5, 2.5),), {"mode": ["wrap", "reflect", "mirror"]}),
        ("gaussian_filter", (1.2,), {"order": (0, 1, 2), "truncate": 2.0}),
        ("gaussian_filter", ((2.0, 1.0),), {"axes": (2, 0), "radius": (3, 2), "mode": ["nearest", "grid-wrap"]}),
        ("uniform_filter", (3,), {}),
        ("uniform_filter", ((2, 5, 4),), {"origin": (0, -2, 1), "mode": ["constant", "wrap", "nearest"], "cval": 2.0}),
        ("uniform_filter", ((4, 2),), {"axes": (0, 2), "mode": "mirror"}),
    ]
    for op, args, kw in cases:
        want = getattr(fnd, op)(IMG3, *args, **kw)
        _check(getattr(fdn, op)(x, *args, **kw), want, exact=op != "uniform_filter")
        np.testing.assert_allclose(want, getattr(sndi, op)(IMG3, *args, **kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int16"])
def test_dtypes_and_output_dtype(dtype):
    x = (RNG.random((40, 33)) * 100).astype(dtype)
    dx = da.from_array(x, chunks=(7, 9))
    k = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype="float64") / 16
    exact_nd = dtype != "float32"  # float32 N-d: a small block may run SciPy's double loop
    _check(fdn.correlate(dx, k), fnd.correlate(x, k), exact=exact_nd)
    _check(fdn.convolve(dx, k, output="float64"), fnd.convolve(x, k, output="float64"), exact=exact_nd)
    _check(fdn.gaussian_filter(dx, 1.3), fnd.gaussian_filter(x, 1.3))
    _check(fdn.uniform_filter(dx, 5, output=np.float32), fnd.uniform_filter(x, 5, output=np.float32),
           exact=False)
    _check(fdn.correlate1d(dx, [1, 3, 1], axis=0), fnd.correlate1d(x, [1, 3, 1], axis=0))


def test_axes_of_nd_correlate():
    k = RNG.standard_normal((2, 3))
    want = fnd.correlate(IMG3, k, mode="wrap", axes=(0, 2))
    _check(fdn.correlate(da.from_array(IMG3, chunks=4), k, mode="wrap", axes=(0, 2)), want)


def test_kernel_larger_than_chunks_and_input():
    x = RNG.standard_normal((6, 40))
    k = RNG.standard_normal((9, 11))
    for mode in MODES:
        _check(fdn.correlate(da.from_array(x, chunks=(2, 3)), k, mode=mode), fnd.correlate(x, k, mode=mode))


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_dask_image_semantics(mode):
    """Where dask_image.ndfilters has the function, the same call gives the same values."""
    x = da.from_array(IMG2, chunks=(6, 8))
    k = RNG.standard_normal((3, 5))
    for ours, theirs, memory, args in [
        (fdn.correlate, dndi.correlate, sndi.correlate, (k,)),
        (fdn.convolve, dndi.convolve, sndi.convolve, (k,)),
        (fdn.uniform_filter, dndi.uniform_filter, sndi.uniform_filter, (3,)),
        (fdn.gaussian_filter, dndi.gaussian_filter, sndi.gaussian_filter, (1.5,)),
    ]:
        got = ours(x, *args, mode=mode).compute()
        np.testing.assert_allclose(got, memory(IMG2, *args, mode=mode), rtol=1e-12, atol=1e-12)
        if mode == "wrap" and ours in (fdn.uniform_filter, fdn.gaussian_filter):
            # dask_image wraps these two within each block (no periodic halo), which
            # differs from SciPy's in-memory result at the block edges; fastconv's equals
            # SciPy's (asserted above)
            continue
        np.testing.assert_allclose(got, theirs(x, *args, mode=mode).compute(), rtol=1e-12, atol=1e-12)


def test_threads_and_empty():
    x = da.from_array(IMG2, chunks=10)
    for threads in (None, 2):
        _check(fdn.gaussian_filter(x, 2.0, threads=threads), fnd.gaussian_filter(IMG2, 2.0))
    empty = da.zeros((0, 5), chunks=5)
    assert fdn.uniform_filter(empty, 3).compute().shape == (0, 5)


def test_errors_as_in_memory_before_anything_runs():
    x = da.from_array(IMG2, chunks=5)
    calls = [
        (lambda m: m.correlate(IMG2 if m is fnd else x, np.ones((3, 3)), mode="bogus")),
        (lambda m: m.correlate(IMG2 if m is fnd else x, np.ones(3))),  # weights of the wrong rank
        (lambda m: m.correlate(IMG2 if m is fnd else x, np.ones((3, 3)), origin=2)),
        (lambda m: m.gaussian_filter(IMG2 if m is fnd else x, 1.0, order=-1)),
        (lambda m: m.uniform_filter1d(IMG2 if m is fnd else x, 3, axis=5)),
    ]
    for call in calls:
        with pytest.raises(Exception) as want:
            call(fnd)
        with pytest.raises(type(want.value), match=None) as got:
            call(fdn)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError, match="output must be None or a dtype"):
        fdn.uniform_filter(x, 3, output=np.empty(IMG2.shape))
    with pytest.raises(ValueError, match="threads"):
        fdn.uniform_filter(x, 3, threads=0)
