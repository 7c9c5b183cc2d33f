"""fastconv.dask against the in-memory fastconv calls (bitwise where both take the direct
kernels, else to float tolerance) and, on the same small cases, against SciPy and NumPy:
seeded random shapes, chunkings, modes, boundaries and dtypes, computed on a LocalCluster
of two worker processes (loopback only) and on the threaded scheduler; errors raised when
the graph is built and inside worker tasks; the model shipped once; one fastconv thread
per Dask thread."""
from __future__ import annotations

import pickle
import threading
import zlib

import numpy as np
import pytest
from scipy import signal as sps

da = pytest.importorskip("dask.array", reason="fastconv.dask needs the 'dask' extra: pip install 'fastconv[dask]'")
distributed = pytest.importorskip("distributed", reason="the cluster tests need dask.distributed ('dask' extra)")

import dask  # noqa: E402

import fastconv  # noqa: E402
import fastconv.dask as fcd  # noqa: E402
from _helpers import random_array
from dropins_reference import DROPIN, DROPIN_TOLERANCE  # noqa: E402
from reference import assert_close
from fastconv import _demo  # noqa: E402
from fastconv.layers import Dense  # noqa: E402
from fastconv.models import Sequential  # noqa: E402

MODES = ("full", "same", "valid")
INTEGERS = {"full_range": 0, "small": 50}  # random_array's integers: small ones only, within +-50
BOUNDARIES = ("fill", "wrap", "symm")
OPS_2D = {"correlate2d": (fcd.correlate2d, fastconv.correlate2d, sps.correlate2d),
          "convolve2d": (fcd.convolve2d, fastconv.convolve2d, sps.convolve2d)}
OPS_1D = {"correlate": (fcd.correlate, fastconv.correlate, np.correlate),
          "convolve": (fcd.convolve, fastconv.convolve, np.convolve)}
# Tolerance where the summation order may differ (SciPy/NumPy's loops, FFT, BLAS):
# relative to the result's scale, as API.md states for the drop-ins.


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, on the loopback interface."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster, set_as_default=False) as c:
            yield c


def on_cluster(client, *arrays):
    return client.compute(list(arrays), sync=True)


def seeded(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def random_chunks(rng, n: int) -> tuple[int, ...]:
    """A chunking of n: one chunk, equal chunks, or random sizes down to 1."""
    r = rng.random()
    if r < 0.2 or n <= 1:
        return (n,)
    if r < 0.5:
        return int(rng.integers(1, n + 1))
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(1, 6))), replace=False))
    return tuple(np.diff([0, *cuts.tolist(), n]).tolist())


# ---- the 2-D drop-ins ------------------------------------------------------------------------------


def case_2d(op: str, mode: str, boundary: str, salt: str):
    """A random image (5..60 per side), kernel (1..6 per side: direct kernels, so exact),
    chunking, dtype and fill value, the same on every run."""
    rng = seeded(f"{op}-{mode}-{boundary}-{salt}")
    dtype = rng.choice(["float64", "float32", "int32", "complex128"])
    x = random_array(rng, tuple(int(v) for v in rng.integers(5, 61, 2)), dtype, **INTEGERS)
    k = random_array(rng, tuple(int(v) for v in rng.integers(1, 7, 2)), dtype, **INTEGERS)
    if mode == "valid":
        k = k[:x.shape[0], :x.shape[1]]
    chunks = tuple(random_chunks(rng, n) for n in x.shape)
    fill = 0 if rng.random() < 0.3 else (int(rng.integers(-9, 9)) if x.dtype.kind == "i" else 1.25)
    return x, k, chunks, fill


def case_id(x, k, chunks, fill) -> str:
    return f"x{x.shape[0]}x{x.shape[1]}-k{k.shape[0]}x{k.shape[1]}-{x.dtype}-chunks{chunks}-fill{fill}"


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", OPS_2D)
def test_2d_on_cluster_matches_in_memory_and_scipy(client, op, mode, boundary):
    dask_fn, mem_fn, scipy_fn = OPS_2D[op]
    for salt in ("a", "b"):
        x, k, chunks, fill = case_2d(op, mode, boundary, salt)
        case = f"{mode}-{boundary}-{case_id(x, k, chunks, fill)}"
        y = dask_fn(da.from_array(x, chunks=chunks), k, mode, boundary, fill)
        want = mem_fn(x, k, mode, boundary, fill)
        assert y.shape == want.shape and y.dtype == want.dtype, case
        (got,) = on_cluster(client, y)
        if x.dtype.kind == "c":  # complex goes through the cost model: FFT or real passes
            assert_close(got, want, op=op, context=case, isa="default", tolerance=DROPIN_TOLERANCE)
        else:
            assert_close(got, want, op=op, context=case, isa="default", exact=True)
        assert_close(got, scipy_fn(x, k, mode, boundary, fill), op=op, isa="default", context=case, **DROPIN)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", OPS_2D)
def test_2d_threaded_scheduler_matches_in_memory(op, mode):
    dask_fn, mem_fn, _ = OPS_2D[op]
    for boundary in BOUNDARIES:
        for salt in ("c", "d", "e"):
            x, k, chunks, fill = case_2d(op, mode, boundary, salt)
            got = dask_fn(da.from_array(x, chunks=chunks), k, mode, boundary, fill).compute(scheduler="threads")
            case = f"{mode}-{boundary}-{case_id(x, k, chunks, fill)}"
            want = mem_fn(x, k, mode, boundary, fill)
            if x.dtype.kind == "c":
                assert_close(got, want, op=op, context=case, isa="default", tolerance=DROPIN_TOLERANCE)
            else:
                assert_close(got, want, op=op, context=case, isa="default", exact=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_long_float_kernels_are_bitwise_too(dtype):
    """The drop-ins sum directly at every kernel size (no FFT unless asked), and
    each output's products in one fixed order: blocks with halos give the
    in-memory call's bits for long kernels as well."""
    rng = seeded(f"long-{dtype}")
    x = rng.standard_normal((70, 90)).astype(dtype)
    k = rng.standard_normal((9, 11)).astype(dtype)
    for op, (dask_fn, mem_fn, _) in OPS_2D.items():
        got = dask_fn(da.from_array(x, chunks=(23, 31)), k, "same", "symm").compute(scheduler="threads")
        assert_close(got, mem_fn(x, k, "same", "symm"), op=op, context=f"{dtype} 9x11", isa="default", exact=True)
    a, v = rng.standard_normal(5000).astype(dtype), rng.standard_normal(301).astype(dtype)
    for op, (dask_fn, mem_fn, _) in OPS_1D.items():
        got = dask_fn(da.from_array(a, chunks=1200), v, "full").compute(scheduler="threads")
        assert_close(got, mem_fn(a, v, "full"), op=op, context=f"{dtype} 301 taps", isa="default", exact=True)


@pytest.mark.parametrize("op", OPS_2D)
def test_2d_kernel_larger_than_chunks_and_image(op):
    """Halos wider than a chunk (chunks merged) and kernels taller than the image
    ('wrap'/'symm' extend it several times over)."""
    dask_fn, mem_fn, scipy_fn = OPS_2D[op]
    rng = seeded(op + "-large")
    x, k = rng.standard_normal((3, 50)), rng.standard_normal((7, 5))
    for mode in ("full", "same"):  # 'valid' refuses these shapes (see the swap test)
        for boundary in BOUNDARIES:
            y = dask_fn(da.from_array(x, chunks=(1, 2)), k, mode, boundary, -2.0)
            got = y.compute(scheduler="sync")
            case = f"{mode}-{boundary}"
            assert_close(got, mem_fn(x, k, mode, boundary, -2.0), op=op, context=case, isa="default", exact=True)
            assert_close(got, scipy_fn(x, k, mode, boundary, -2.0), op=op, isa="default", context=case, **DROPIN)


@pytest.mark.parametrize("op", OPS_2D)
def test_2d_long_kernel_within_tolerance(op):
    """An 11x11 kernel (121 taps): the in-memory engine picks direct or FFT by its cost
    model for the whole image, the blocks for themselves, so equal to float tolerance."""
    dask_fn, mem_fn, scipy_fn = OPS_2D[op]
    rng = seeded(op + "-long")
    x, k = rng.standard_normal((300, 260)), rng.standard_normal((11, 11))
    for mode in MODES:
        got = dask_fn(da.from_array(x, chunks=(70, 90)), k, mode, "symm").compute(scheduler="threads")
        assert_close(got, mem_fn(x, k, mode, "symm"), op=op, context=mode, isa="default", tolerance=DROPIN_TOLERANCE)
        assert_close(got, scipy_fn(x, k, mode, "symm"), op=op, context=mode, isa="default", tolerance=DROPIN_TOLERANCE)


def test_2d_same_mode_keeps_chunks_and_accepts_dask_kernel():
    x = np.arange(40.0 * 30).reshape(40, 30)
    k = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    y = fcd.correlate2d(da.from_array(x, chunks=(10, 15)), da.from_array(k), "same", "wrap")
    assert y.chunks == ((10, 10, 10, 10), (15, 15))
    assert_close(y.compute(scheduler="sync"), fastconv.correlate2d(x, k, "same", "wrap"),
                 op="correlate2d", context="dask kernel", isa="default", exact=True)


def test_2d_swap_and_empty_follow_in_memory_rules():
    """'valid' with in2 the larger swaps (in1 is computed), empty inputs give the
    in-memory result, mixed sizes raise its error."""
    rng = seeded("swap")
    small, big = rng.standard_normal((3, 4)), rng.standard_normal((5, 6))
    for dask_fn, mem_fn, _ in OPS_2D.values():
        got = dask_fn(da.from_array(small, chunks=2), big, "valid").compute(scheduler="sync")
        assert_close(got, mem_fn(small, big, "valid"), op=mem_fn.__name__, context="swap", isa="default", exact=True)
        empty = np.zeros((0, 4))
        got = dask_fn(da.from_array(empty), big, "full").compute(scheduler="sync")
        assert_close(got, mem_fn(empty, big, "full"), op=mem_fn.__name__, context="empty", isa="default", exact=True)
        with pytest.raises(ValueError, match="at least as large"):
            dask_fn(da.from_array(rng.standard_normal((3, 9))), big, "valid")


# ---- the 1-D drop-ins ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", OPS_1D)
def test_1d_on_cluster_matches_in_memory_and_numpy(client, op, mode):
    dask_fn, mem_fn, numpy_fn = OPS_1D[op]
    rng = seeded(f"{op}-{mode}")
    arrays, wants, cases = [], [], []
    for dtype in ("float64", "float32", "int64", "complex128", "bool"):
        a = random_array(rng, int(rng.integers(20, 400)), dtype, **INTEGERS) if dtype != "bool" else rng.random(99) < 0.5
        v = random_array(rng, int(rng.integers(1, 20)), dtype, **INTEGERS) if dtype != "bool" else rng.random(5) < 0.5
        chunks = random_chunks(rng, len(a))
        cases.append(f"{dtype}-n{len(a)}-m{len(v)}-chunks{chunks}")
        arrays.append(dask_fn(da.from_array(a, chunks=chunks), v, mode))
        wants.append((mem_fn(a, v, mode), numpy_fn(a, v, mode)))
    for got, (want, ref), case in zip(on_cluster(client, *arrays), wants, cases):
        if want.dtype.kind == "c":
            assert_close(got, want, op=op, context=case, isa="default", tolerance=DROPIN_TOLERANCE)
        else:
            assert_close(got, want, op=op, context=case, isa="default", exact=True)
        assert_close(got, ref, op=op, isa="default", context=case, **DROPIN)


@pytest.mark.parametrize("op", OPS_1D)
def test_1d_non_finite_kernel_edges_as_numpy(op):
    """NumPy sums only the overlapping terms at the ends (no 0 * inf = NaN): the end
    blocks run mode 'full' on data ending where `a` ends, so that holds chunked too."""
    dask_fn, mem_fn, numpy_fn = OPS_1D[op]
    a = seeded(op + "-inf").standard_normal(60)
    for v in ([np.inf, 1.0, 2.0], [1.0, np.nan, 2.0, 3.0]):
        for mode in MODES:
            got = dask_fn(da.from_array(a, chunks=7), v, mode).compute(scheduler="threads")
            assert_close(got, mem_fn(a, v, mode), op=op, context=f"{v}-{mode}", isa="default", exact=True)
            assert_close(got, numpy_fn(a, v, mode), op=op, context=f"{v}-{mode} vs numpy", isa="default", exact=True)


def test_1d_lecture_example_and_longer_kernel():
    a = da.from_array(np.array([5, 3, 2, 5, 9, 7]), chunks=2)
    assert fcd.correlate(a, [1, 2, 3]).compute().tolist() == [17, 22, 39, 44]
    got = fcd.correlate(a, np.arange(8), "full").compute()  # v longer: NumPy swaps and reverses
    assert_close(got, np.correlate([5, 3, 2, 5, 9, 7], np.arange(8), "full"), op="correlate", context="swap", isa="default", exact=True)


# ---- deep-learning ops -------------------------------------------------------------------------------

CONV_CASES = [  # (H, W), (R, S), stride, padding, dilation, groups, chunks (N, H, W)
    ((17, 19), (3, 3), 1, 0, 1, 1, (2, 19, 19)),
    ((17, 19), (3, 3), 1, 1, 1, 1, (3, 5, 6)),
    ((20, 23), (5, 3), (2, 3), "same", 1, 2, (1, 6, 5)),
    ((20, 23), (3, 3), 1, "same", 2, 1, (4, 3, 3)),
    ((16, 16), (2, 2), 3, "valid", 1, 1, (2, 7, 16)),
    ((12, 13), (3, 3), 2, (2, 0), 3, 1, (5, 4, 5)),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_on_cluster_matches_in_memory(client, case, layout):
    """Batch chunks, and spatial chunks with halos for strides, padding and dilation."""
    (h, w), (r, s), stride, padding, dilation, groups, (cn, ch, cw) = CONV_CASES[case]
    rng = seeded(f"conv-{case}-{layout}")
    c, k = 4, 6
    x = rng.standard_normal((5, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((k, c // groups, r, s)).astype(np.float32)
    bias = rng.standard_normal(k).astype(np.float32)
    chunks = (cn, 2, ch, cw)
    if layout == "NHWC":
        x, weight, chunks = x.transpose(0, 2, 3, 1).copy(), weight.transpose(2, 3, 1, 0).copy(), (cn, ch, cw, 2)
    y = fcd.conv2d(da.from_array(x, chunks=chunks), weight, bias, stride, padding, dilation, groups,
                   layout=layout)
    want = fastconv.conv2d(x, weight, bias, stride, padding, dilation, groups, layout=layout)
    assert y.shape == want.shape
    (got,) = on_cluster(client, y)
    assert_close(got, want, op="conv2d", context=f"{CONV_CASES[case]}-{layout}", isa="default", exact=True)


def test_relu_and_max_pool2d_on_cluster_match_in_memory(client):
    rng = seeded("pool")
    x = rng.standard_normal((6, 3, 9, 11))
    x[0, 0, 0, :3] = np.nan
    xd = da.from_array(x, chunks=(2, 1, 4, 5))
    y, idx = fcd.max_pool2d(xd, 3, 2, 1, 2, True, return_indices=True)
    nhwc = fcd.max_pool2d(da.from_array(x.transpose(0, 2, 3, 1), chunks=(4, 9, 11, 2)), (2, 3),
                          layout="NHWC")
    got = on_cluster(client, fcd.relu(xd), y, idx, nhwc)
    want_y, want_idx = fastconv.max_pool2d(x, 3, 2, 1, 2, True, return_indices=True)
    assert_close(got[0], fastconv.relu(x), op="relu", context="chunks (2, 1, 4, 5)", isa="default", exact=True)
    assert_close(got[1], want_y, op="max_pool2d", context="k3 s2 p1 d2 ceil", isa="default", exact=True)
    assert_close(got[2], want_idx, op="max_pool2d", context="indices", isa="default", exact=True)
    assert_close(got[3], fastconv.max_pool2d(x.transpose(0, 2, 3, 1), (2, 3), layout="NHWC"),
                 op="max_pool2d", context="NHWC", isa="default", exact=True)


# ---- batch inference -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lecture_model():
    """The lecture's CNN (examples/mnist_cnn.py), untrained, seeded."""
    fastconv.utils.set_random_seed(8)
    return _demo.lecture_model(10)


def test_predict_on_cluster_matches_model_predict(client, lecture_model):
    """Chunks of 50 (not a multiple of the batch of 32, so the layers see other
    groupings): bitwise equal to the in-memory predict, as every layer sums an output
    in one order whatever the batch; and model.predict hands a Dask array here."""
    images = seeded("predict").random((420, 28, 28)).astype(np.float32)
    y = fcd.predict(lecture_model, da.from_array(images, chunks=50))
    assert y.shape == (420, 10) and y.dtype == np.float32 and y.chunks[0] == da.from_array(images, chunks=50).chunks[0]
    (got,) = on_cluster(client, y)
    np.testing.assert_array_equal(got, lecture_model.predict(images, verbose=0))
    lazy = lecture_model.predict(da.from_array(images, chunks=50), verbose=0)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"), got)


def test_predict_ships_the_model_once(lecture_model):
    """The graph holds the model in one key, the chunks' tasks refer to it: pickled task
    by task (as the scheduler sends them to workers), the graph is about one model's size
    however many chunks there are."""
    model_bytes = len(pickle.dumps(lecture_model))
    x = da.zeros((4000, 28, 28, 1), dtype=np.float32, chunks=100)
    graph = dict(fcd.predict(lecture_model, x).__dask_graph__())
    task_bytes = sum(len(distributed.protocol.pickle.dumps(task)) for task in graph.values())
    assert model_bytes < task_bytes < 1.5 * model_bytes, (model_bytes, task_bytes, "40 chunks")


# ---- threads --------------------------------------------------------------------------------------


def test_tasks_run_one_fastconv_thread_and_restore(monkeypatch):
    """Inside each task of the threaded scheduler fastconv sees 1 thread (threads=1, the
    default) or 2 (threads=2, where OpenMP has them), while the calling thread keeps its own."""
    seen, real_relu = [], fastconv.nn.relu

    def spy(x, out=None):
        seen.append(fastconv.get_num_threads())
        return real_relu(x, out)

    monkeypatch.setattr(fastconv.nn, "relu", spy)
    before = fastconv.get_num_threads()
    x = da.ones((64, 64), chunks=8)
    fcd.relu(x).compute(scheduler="threads", num_workers=4)
    assert seen and set(seen) == {1}, seen
    assert fastconv.get_num_threads() == before
    seen.clear()
    fcd.relu(x, threads=None).compute(scheduler="sync")
    assert set(seen) == {before}


def test_thread_limit_touches_only_the_calling_thread():
    before = fastconv.get_num_threads()
    inside, entered, release = [], threading.Event(), threading.Event()

    def worker():
        with fcd.thread_limit(1):
            inside.append(fastconv.get_num_threads())
            entered.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(10)
    try:
        assert inside == [1]
        assert fastconv.get_num_threads() == before  # the main thread is not limited
    finally:
        release.set()
        t.join()
    with pytest.raises(ValueError, match="threads must be >= 1"):
        fcd.relu(da.ones(3), threads=0)


# ---- errors -----------------------------------------------------------------------------------------


def raised(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - comparing whatever was raised
        return err
    raise AssertionError("did not raise")


def assert_same_error(got, want):
    assert type(got) is type(want) and str(got) == str(want), (repr(got), repr(want))


def test_task_errors_surface_as_the_original_exception(client):
    """Blocks whose real dtype is not the declared one fail inside the worker; the
    client raises the in-memory call's exception type with its message."""
    x = seeded("errors").standard_normal((2, 3, 8, 8))
    lying_f16 = da.from_array(x, chunks=(1, 3, 8, 8)).map_blocks(lambda b: b.astype(np.float16), dtype=np.float64)
    w = np.ones((2, 3, 3, 3))
    got = raised(lambda: on_cluster(client, fcd.conv2d(lying_f16, w)))
    assert_same_error(got, raised(lambda: fastconv.conv2d(x.astype(np.float16), w)))
    assert isinstance(got, TypeError)

    lying_int = da.from_array(x, chunks=4).map_blocks(lambda b: (b > 0).astype(np.int64), dtype=np.float64)
    got = raised(lambda: on_cluster(client, fcd.relu(lying_int)))
    assert_same_error(got, raised(lambda: fastconv.relu((x > 0).astype(np.int64))))

    image = x[0, 0] > 0
    lying_bool = da.from_array(image, chunks=4).map_blocks(lambda b: b, dtype=np.int64)
    kernel = np.ones((3, 3), dtype=bool)
    got = raised(lambda: on_cluster(client, fcd.correlate2d(lying_bool, kernel, "valid")))
    assert_same_error(got, raised(lambda: fastconv.correlate2d(image, kernel, "valid")))
    assert isinstance(got, ValueError)


def test_bad_arguments_raise_the_in_memory_errors_before_computing():
    """Checked when the graph is built, with the in-memory message (the real shapes)."""
    rng = seeded("bad")
    img, k = rng.standard_normal((20, 30)), rng.standard_normal((3, 3))
    d = da.from_array(img, chunks=7)
    for call, ref in [
        (lambda: fcd.correlate2d(d, k, "ful"), lambda: fastconv.correlate2d(img, k, "ful")),
        (lambda: fcd.convolve2d(d, k, boundary="reflect"), lambda: fastconv.convolve2d(img, k, boundary="reflect")),
        (lambda: fcd.correlate2d(d, k, fillvalue=1j), lambda: fastconv.correlate2d(img, k, fillvalue=1j)),
        (lambda: fcd.correlate2d(d > 0, k > 0), lambda: fastconv.correlate2d(img > 0, k > 0)),
        (lambda: fcd.correlate2d(d, k[0]), lambda: fastconv.correlate2d(img, k[0])),
        (lambda: fcd.correlate(d, k[0]), lambda: fastconv.correlate(img, k[0])),
        (lambda: fcd.convolve(d[0], k[0], mode=3), lambda: fastconv.convolve(img[0], k[0], mode=3)),
        (lambda: fcd.correlate(d[0], k[0], mode=True), lambda: fastconv.correlate(img[0], k[0], mode=True)),
    ]:
        assert_same_error(raised(call), raised(ref))
    x = rng.standard_normal((4, 3, 10, 10)).astype(np.float32)
    xd = da.from_array(x, chunks=(2, 3, 10, 10))
    w = np.ones((5, 2, 3, 3), np.float32)
    for call, ref in [
        (lambda: fcd.conv2d(xd, w), lambda: fastconv.conv2d(x, w)),
        (lambda: fcd.conv2d(xd, w[:, :1].astype(np.float64).repeat(3, 1)), lambda: fastconv.conv2d(x, w[:, :1].astype(np.float64).repeat(3, 1))),
        (lambda: fcd.conv2d(xd, np.ones((5, 3, 11, 3), np.float32)), lambda: fastconv.conv2d(x, np.ones((5, 3, 11, 3), np.float32))),
        (lambda: fcd.conv2d(xd, w[:, :1].repeat(3, 1), np.ones(4, np.float32)), lambda: fastconv.conv2d(x, w[:, :1].repeat(3, 1), np.ones(4, np.float32))),
        (lambda: fcd.max_pool2d(xd, 3, padding=2), lambda: fastconv.max_pool2d(x, 3, padding=2)),
        (lambda: fcd.max_pool2d(xd, 3, dilation=0), lambda: fastconv.max_pool2d(x, 3, dilation=0)),
        (lambda: fcd.max_pool2d(xd, 3, dilation=5), lambda: fastconv.max_pool2d(x, 3, dilation=5)),
        (lambda: fcd.max_pool2d(xd, 3, ceil_mode="no"), lambda: fastconv.max_pool2d(x, 3, ceil_mode="no")),
        (lambda: fcd.max_pool2d(xd, 3, return_indices=1), lambda: fastconv.max_pool2d(x, 3, return_indices=1)),
        (lambda: fcd.max_pool2d(xd.astype(np.int32), 2), lambda: fastconv.max_pool2d(x.astype(np.int32), 2)),
    ]:
        assert_same_error(raised(call), raised(ref))
    model = Sequential([Dense(3, input_shape=(4,))])
    assert_same_error(raised(lambda: fcd.predict(model, da.ones((8, 5), chunks=4))),
                      raised(lambda: model.predict(np.ones((8, 5)))))
    words = np.full((8, 4), "a")
    assert_same_error(raised(lambda: fcd.predict(model, da.from_array(words))),
                      raised(lambda: model.predict(words)))


def test_docstring_examples():
    """The examples in fastconv.dask's docstrings, each checked against the in-memory call."""
    import doctest

    assert doctest.testmod(fcd).failed == 0
