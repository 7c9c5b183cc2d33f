"""Paths forced through the planners (context-local, not global) and the cost
constants of csrc/include/fastconv/costs.def as the Python layer sees them."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from _helpers import igemm_table, pick_tile

import fastconv
from fastconv import _correlate, _kernels, _planning


def _grad_x_algorithm(x, w, **kw):
    gy = fastconv.conv2d(x, w, **kw)
    plan = fastconv.explain(fastconv.conv2d_backward, gy, x, w, output_mask=(True, False, False),
                            **kw)
    return plan.algorithm


def test_forced_input_grad_path_changes_the_plan_inside_the_block_only():
    x, w = np.ones((1, 16, 5, 5)), np.ones((3, 16, 3, 3))
    assert _grad_x_algorithm(x, w).startswith("transposed-conv")
    with _planning.forced("conv2d_backward_input", "col2im"):
        assert _grad_x_algorithm(x, w) == "gemm-col2im"
        with _planning.forced("conv2d_backward_input", "transposed-conv"):
            assert _grad_x_algorithm(x, w, stride=2).startswith("transposed-conv")
        assert _grad_x_algorithm(x, w) == "gemm-col2im"
    assert _grad_x_algorithm(x, w).startswith("transposed-conv")
    assert _grad_x_algorithm(x, w, stride=2) == "gemm-col2im"


def test_forced_path_does_not_reach_other_threads():
    seen = []
    with _planning.forced("correlate", "slow"):
        assert _planning.forced_path("correlate") == "slow"
        t = threading.Thread(target=lambda: seen.append(_planning.forced_path("correlate")))
        t.start()
        t.join()
    assert seen == ["auto"]
    assert _planning.forced_path("correlate") == "auto"


def test_forced_correlate_slow_runs_the_slow_twin(monkeypatch):
    """The engine behind the drop-ins (the calls their front doors hand on)."""
    calls = []
    real = _correlate.slow.correlate2d
    monkeypatch.setattr(_correlate.slow, "correlate2d",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    x, k = np.arange(40.0).reshape(5, 8), np.array([[1.0, 2.0], [3.0, 4.0]])
    want = np.array([[np.sum(x[i:i + 2, j:j + 2] * k) for j in range(7)] for i in range(4)])
    np.testing.assert_array_equal(_correlate.correlate(x, k, (0, 0), (4, 7)), want)
    assert calls == []
    with _planning.forced("correlate", "slow"):
        np.testing.assert_array_equal(_correlate.correlate(x, k, (0, 0), (4, 7)), want)
    assert calls == [1]


@pytest.mark.parametrize("op, path", [("conv2d", "col2im"), ("correlate", "fft"),
                                      ("conv2d_backward_input", "auto")])
def test_forced_refuses_unknown_ops_and_paths(op, path):
    with pytest.raises(ValueError, match="forced: "), _planning.forced(op, path):
        pass


# The values costs.def took over, as they were written before it existed.
BEFORE = {
    "FC_CONV2D_IGEMM_MIN_DEPTH": 64, "FC_TRANSPOSED_MIN_CHANNELS": 16,
    "FC_DENSE_GEMV_MAX_BATCH": 8, "FC_PARALLEL_THRESHOLD_NS": 50000, "FC_CORE_GFLOPS": 64,
    "FC_CORE_BYTES_PER_NS": 8, "FC_DIRECT_S_PER_MAC_F32": 3.0e-11,
    "FC_DIRECT_S_PER_MAC_F64": 5.8e-11, "FC_DIRECT_SLOWDOWN_AVX512": 1.0,
    "FC_DIRECT_SLOWDOWN_AVX2": 1.6, "FC_DIRECT_SLOWDOWN_SCALAR": 6.0,
    "FC_THREAD_EFFICIENCY": 0.85, "FC_FFT_S_PER_POINT_LOG": 1.0e-9, "FC_FFT_S_PER_POINT": 4.0e-9,
    "FC_FFT_COMPLEX_FACTOR": 2.0, "FC_DIRECT_SMALL_MACS": 1 << 15, "FC_DIRECT_FEW_TAPS": 32,
}


# Values added to costs.def since.
SINCE = {"FC_FORWARD_PACK_MIN_BATCHES": 8, "FC_TILE_TIE_PERMILLE": 10, "FC_CONVPOOL_WGRAD_SLOWDOWN": 3,
         "FC_PAD_MERGE_MAX_WIDTH": 64, "FC_DENSE_SPARSE_MAX_PERCENT_AVX512": 50,
         "FC_DENSE_SPARSE_MAX_PERCENT_AVX2": 35, "FC_DENSE_SPARSE_MAX_PERCENT_SCALAR": 70,
         "FC_DENSE_BLOCKED_TIE_PERMILLE": 125, "FC_DENSE_SPARSE_MAX_PERCENT_AVX512_FULL": 20,
         "FC_PAD_MERGE_MAX_WIDTH_AVX512": 192}


def test_costs_are_the_measured_values_with_their_documentation():
    assert _kernels.COSTS == {**BEFORE, **SINCE}
    assert all(type(v) is type({**BEFORE, **SINCE}[k]) for k, v in _kernels.COSTS.items())
    # each value names the CPU it was measured on
    assert all("AMD EPYC" in doc or "Intel Xeon" in doc for doc in _kernels.COST_DOCS.values())
    assert _kernels.IGEMM_MIN_DEPTH == BEFORE["FC_CONV2D_IGEMM_MIN_DEPTH"]
    assert _correlate._DIRECT_S_PER_MAC[np.dtype(np.float64)] == 5.8e-11
    assert _correlate._FEW_TAPS == 32 and _correlate._SMALL_MACS == 1 << 15
    assert _kernels.parallel_threshold_ns(-1) in (0, BEFORE["FC_PARALLEL_THRESHOLD_NS"])


# Batches around the GEMV/GEMM threshold and the tiles, features across depth
# blocks; the plan must be what the driver then runs (its recorded plan).
@pytest.mark.parametrize("n", [1, 4, 8, 9, 13, 32, 100])
@pytest.mark.parametrize("k, m", [(7, 5), (300, 10), (784, 128), (1, 33)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_plan_is_what_the_driver_runs(isa, n, k, m, dtype, restore_threads):
    rng = np.random.default_rng(n * 1000 + k + m)
    x, w = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        plan = _kernels.dense_plan(n, k, m, dtype == np.float32)
        y = np.empty((n, m), dtype)
        _kernels.dense(x, w, b, y)
        ran = _kernels.last_plan()
        assert ran == plan, (n, k, m, threads)
        assert plan["algorithm"] in (("dense-gemv",) if n <= 8 else ("dense-blocked", "dense-gemm"))
        assert plan["kernel"].startswith(f"fc_{'f32' if dtype == np.float32 else 'f64'}_")
        assert plan["threads"] <= threads and plan["isa"] == isa
        want = x.astype(np.float64) @ w.astype(np.float64) + b
        np.testing.assert_allclose(y, want, rtol=1e-4 if dtype == np.float32 else 1e-12,
                                   atol=1e-4 if dtype == np.float32 else 1e-12)
    p = fastconv._explain._dense(x, w, b)
    assert p.algorithm == plan["algorithm"] and p.kernel == plan["kernel"], p


def _dense_rule(dtype, n, m):
    """dense's product for n > FC_DENSE_GEMV_MAX_BATCH rows at one thread, modelled from the
    registry and costs.def: batch x units where its least padded work ties with (within
    FC_TILE_TIE_PERMILLE) or is below the units x batch product's static tile's, on the
    first tile listed within FC_DENSE_BLOCKED_TIE_PERMILLE of that least; else units x batch."""
    table, costs = igemm_table(dtype), _kernels.COSTS
    tie = costs["FC_TILE_TIE_PERMILLE"] / 1000
    _, blocked = pick_tile(table, n, m, 0.0)
    units, gemm = pick_tile(table, m, n, tie)
    if min(blocked) <= gemm[units] * (1 + tie):
        return "dense-blocked", table[pick_tile(table, n, m, costs["FC_DENSE_BLOCKED_TIE_PERMILLE"] / 1000)[0]][0]
    return "dense-gemm", table[units][0]


# The forward of more rows than the GEMV takes runs batch x units (x and the kernel read in
# place, a depth block at a time) or units x batch, by the padded work of each:
# either way each output is the same chain of fused multiply-adds per depth block, so
# the rows give the bits they give eight at a time through the GEMV (another code path,
# w read in place) -- and NumPy's float64 product within rounding.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_product_follows_the_rule_and_keeps_the_bits(isa, dtype, rng, restore_threads):
    fastconv.set_num_threads(1)
    learning = _kernels.tune_learning(False)  # the static choice
    algorithms = set()
    try:
        for n, k, m in [(9, 100, 20), (13, 300, 70), (16, 784, 128), (32, 4732, 128), (32, 128, 10),
                        (32, 1024, 128), (64, 4732, 128), (100, 784, 128), (40, 300, 130),
                        (33, 600, 129), (300, 257, 64)]:
            f32 = dtype == np.float32
            plan = _kernels.dense_plan(n, k, m, f32)
            want = _dense_rule("float32" if f32 else "float64", n, m)
            assert (plan["algorithm"], plan["tile"]) == want, (n, k, m, plan)
            algorithms.add(plan["algorithm"])
            x = rng.standard_normal((n, k)).astype(dtype)
            w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dtype)
            b = rng.standard_normal(m).astype(dtype)
            y = fastconv.nn.dense(x, w, b)
            assert _kernels.last_plan()["algorithm"] == want[0]
            by_eight = np.concatenate([fastconv.nn.dense(x[i:i + 8], w, b) for i in range(0, n, 8)])
            assert y.tobytes() == by_eight.tobytes(), (n, k, m)
            np.testing.assert_allclose(y, x.astype(np.float64) @ w.astype(np.float64) + b,
                                       rtol=1e-4 if f32 else 1e-12, atol=1e-4 if f32 else 1e-12)
    finally:
        _kernels.tune_learning(learning)
    # (a table of one tile, such as the scalar float64 one, ties Dense(10)'s two ways and so
    # runs every case batch x units; the AVX-512 float32 table runs Dense(10) units x batch)
    assert "dense-blocked" in algorithms, algorithms


# The kernel's rows owned by threads: at two threads or more, the forward product of
# enough features takes one fixed range of them per thread, and the fused
# backward-and-Adam sweep gives each thread the same rows; the bits stay those of
# one thread (the later ranges' block sums are added in block order).
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, k, m, threads, owned", [
    (32, 4732, 128, 2, True),   # the lecture's Dense(128): 2,304 and 2,428 features
    (32, 4732, 128, 3, True),   # 1,536, 1,536 and 1,660
    (32, 4732, 128, 1, False),  # one thread: nothing to share out
    (32, 2000, 128, 2, False),  # 768 and 1,232: too uneven, the shared-out products
    (20, 1536, 40, 2, True),    # the smallest two ranges
    (300, 4732, 128, 2, False), # a batch past one column chunk
])
def test_owned_rows_keep_the_one_thread_bits(n, k, m, threads, owned, dtype, restore_threads):
    rng = np.random.default_rng(k + n)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((k, m)) * 0.05).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    gy = rng.standard_normal((n, m)).astype(dtype)
    gy[rng.random((n, m)) < 0.6] = 0  # a ReLU's gradient: gx by the nonzero terms too

    def step(team):
        fastconv.set_num_threads(team)
        y = fastconv.nn.dense(x, w, b)
        forward = _kernels.last_plan()
        wk, mom, vel = w.copy(), np.zeros_like(w), np.zeros_like(w)
        adam = fastconv.nn.AdamStep(mom, vel, 1e-3, 0.9, 0.999, 1e-7)
        gx, _gw, _gb = fastconv.nn.dense_backward(gy, x, wk, adam=adam)
        sweep = _kernels.last_plan()
        return (y, gx, wk, mom, vel), forward, sweep

    want, _, _ = step(1)
    got, forward, sweep = step(threads)
    assert ("owned_rows" in forward["flags"]) == owned, forward
    assert ("owned_rows" in sweep["flags"]) == owned, sweep
    if owned:
        assert forward["threads"] == sweep["threads"] == threads
    for name, a, b2 in zip(("y", "grad_x", "kernel", "m", "v"), want, got):
        assert a.tobytes() == b2.tobytes(), name
    # and the forward is the product (an independent reference, not the same code)
    ref = x.astype(np.float64) @ w.astype(np.float64) + b
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got[0], ref, rtol=tol, atol=tol)
    why = fastconv.explain(fastconv.nn.dense, x, w, b).reason
    assert ("fixed ranges, one per thread" in why) == owned, why


def test_avx512_fma_rate_agrees_with_the_long_probes():
    """The sweep's sparse limit under AVX-512 depends on whether the core runs 512-bit
    multiply-adds at twice its AVX2 rate; the quick once-per-process answer must agree
    with the benchmarks' longer probes wherever those leave no doubt (a ratio near 2 or
    near 1), and be False without AVX-512."""
    full = _kernels.avx512_fma_full_rate()
    assert full is _kernels.avx512_fma_full_rate()  # measured once
    if _kernels.ISA_NAMES.index(_kernels.cpu_isa()) < _kernels.ISA_NAMES.index("avx512"):
        assert full is False
        return
    ratios = sorted(_kernels.probe_fma_gflops("avx512", 0.01) / _kernels.probe_fma_gflops("avx2", 0.01)
                    for _ in range(3))
    if ratios[0] > 1.7:
        assert full is True, ratios
    elif ratios[-1] < 1.3:
        assert full is False, ratios
    limit = fastconv._explain.dense_sparse_limit("avx512")
    assert limit == _kernels.COSTS["FC_DENSE_SPARSE_MAX_PERCENT_AVX512" + ("_FULL" if full else "")]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_blocks_are_cut_for_the_threads_the_work_gets(layout, restore_threads):
    """conv2d cuts its pixels into blocks enough to keep its threads busy; a call
    below the parallel threshold (one 28x28 image) runs on one thread whatever the
    thread count, so it is planned as at one thread (smaller blocks would only
    add overhead), while a call that gets more threads is cut finer. The
    packed GEMM (NCHW, shallow) and the indirect GEMM (NHWC) alike; results
    bitwise the same."""
    rng = np.random.default_rng(0)
    nchw = layout == "NCHW"
    _kernels.parallel_threshold_ns(_kernels.COSTS["FC_PARALLEL_THRESHOLD_NS"])  # (the fixture's 0 undone)

    def plan(n, threads):  # shapes no direct kernel takes: NHWC 2 channels, NCHW 5x5
        x = rng.standard_normal((n, 2, 28, 28) if nchw else (n, 28, 28, 2)).astype(np.float32)
        w = rng.standard_normal((28, 2, 5, 5) if nchw else (3, 3, 2, 28)).astype(np.float32)
        fastconv.set_num_threads(threads)
        return fastconv.explain(fastconv.conv2d, x, w, layout=layout), x, w

    one, x, w = plan(1, 1)
    two, _, _ = plan(1, 2)
    assert one.threads == two.threads == 1
    assert two.blocking == one.blocking, (one.blocking, two.blocking)
    fastconv.set_num_threads(1)
    y1 = fastconv.conv2d(x, w, layout=layout)
    fastconv.set_num_threads(2)
    assert fastconv.conv2d(x, w, layout=layout).tobytes() == y1.tobytes()
    _kernels.parallel_threshold_ns(0)  # every call threaded: the same image gets 4 threads
    four, _, _ = plan(1, 4)
    assert four.threads == 4
    assert four.blocking["tasks"] > one.blocking["tasks"], (one.blocking, four.blocking)
    assert four.blocking["pixel block"] < one.blocking["pixel block"]
