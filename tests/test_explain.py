"""fastconv.explain: a plan for every public op, computed without running the op,
equal to what the op then runs, with the op's own errors for bad arguments."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv import (
    _correlate,
    _explain,
    _fftconv,
    _kernels,
    _signal_nd,
    ndimage,
    numpy_compat,
    signal,
    slow,
)

from _helpers import forced_tile

F32, F64 = np.float32, np.float64


def _arr(shape, dtype=F64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _calls():
    """(label, op, args, kwargs) covering every op explain knows, several paths each."""
    x = _arr((2, 8, 12, 12), F32)
    w = _arr((4, 8, 3, 3), F32)
    y = fastconv.conv2d(x, w, padding=1)
    pooled, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    a, v = _arr(300), _arr(9)
    img, k = _arr((40, 50)), _arr((5, 3))
    vol = _arr((6, 7, 8))
    return [
        ("conv2d", fastconv.conv2d, (x, w), {"padding": 1}),
        ("conv2d-nhwc", fastconv.conv2d, (_arr((1, 9, 9, 70), F32), _arr((3, 3, 70, 5), F32)),
         {"layout": "NHWC"}),
        ("conv2d_backward", fastconv.conv2d_backward, (y, x, w), {"padding": 1}),
        ("max_pool2d", fastconv.max_pool2d, (x, 2), {}),
        ("max_pool2d_backward", fastconv.max_pool2d_backward, (pooled, x, idx, 2), {}),
        ("relu", fastconv.relu, (x,), {}),
        ("relu_backward", fastconv.relu_backward, (x, x), {}),
        ("nn.softmax", fastconv.nn.softmax, (x,), {}),
        ("nn.dense", fastconv.nn.dense, (_arr((3, 40)), _arr((40, 7))), {}),
        ("nn.dense-gemm", fastconv.nn.dense, (_arr((2, 9, 40), F32), _arr((40, 7), F32)),
         {"bias": _arr(7, F32)}),
        ("nn.dense_backward", fastconv.nn.dense_backward,
         (_arr((30, 7)), _arr((30, 40)), _arr((40, 7))), {}),
        ("nn.dense_backward-mask", fastconv.nn.dense_backward,
         (_arr((30, 7)), _arr((30, 40)), _arr((40, 7))), {"output_mask": (False, True, False)}),
        ("nn.dense_backward-adam", fastconv.nn.dense_backward,
         (_arr((30, 7)), _arr((30, 40)), _arr((40, 7))),
         {"adam": fastconv.nn.AdamStep(np.zeros((40, 7)), np.zeros((40, 7)), 1e-3, 0.9, 0.999, 1e-7)}),
        ("correlate", fastconv.correlate, (a, v), {}),
        ("correlate-list", fastconv.correlate, ([5, 3, 2, 5, 9, 7], [1, 2, 3]), {}),
        ("correlate-fft", fastconv.correlate, (a, v), {"method": "fft"}),
        ("convolve", fastconv.convolve, (a, v), {"mode": "same"}),
        ("convolve-int", fastconv.convolve, (np.arange(50), np.arange(7)), {}),
        ("convolve-bool", fastconv.convolve, (a > 0, v > 0), {}),
        ("convolve2d", fastconv.convolve2d, (img, k), {"boundary": "symm"}),
        ("correlate2d", fastconv.correlate2d, (img, k), {"mode": "same", "method": "auto"}),
        ("correlate2d-complex", fastconv.correlate2d, (img + 1j, k), {}),
        ("numpy_compat.convolve", numpy_compat.convolve, (a, v), {"method": "auto"}),
        ("numpy_compat.correlate", numpy_compat.correlate, (a, v), {}),
        ("signal.convolve", signal.convolve, (img, k), {}),
        ("signal.convolve-direct", signal.convolve, (vol, _arr((3, 2, 3))), {"method": "direct"}),
        ("signal.correlate", signal.correlate, (vol, _arr((3, 2, 3))), {"method": "auto"}),
        ("signal.fftconvolve", signal.fftconvolve, (img, k), {}),
        ("signal.oaconvolve", signal.oaconvolve, (_arr(2000), _arr(31)), {}),
        ("signal.convolve2d", signal.convolve2d, (img, k), {}),
        ("signal.correlate2d", signal.correlate2d, (img, k), {"boundary": "wrap"}),
        ("ndimage.correlate", ndimage.correlate, (img, _arr((3, 3))), {}),
        ("ndimage.convolve", ndimage.convolve, (vol, _arr((3, 3, 3))), {"mode": "nearest"}),
        ("ndimage.correlate1d", ndimage.correlate1d, (img, [1.0, 2.0, 1.0]), {}),
        ("ndimage.convolve1d", ndimage.convolve1d, (img.astype(F32), [1.0, -1.0]), {"axis": 0}),
        ("ndimage.gaussian_filter", ndimage.gaussian_filter, (img, 1.5), {}),
        ("ndimage.gaussian_filter1d", ndimage.gaussian_filter1d, (img, 2.0), {}),
        ("ndimage.uniform_filter", ndimage.uniform_filter, (img, 3), {}),
        ("ndimage.uniform_filter1d", ndimage.uniform_filter1d, (img, 4), {"mode": "wrap"}),
    ]


CALLS = _calls()


def test_every_op_explain_knows_is_covered_here():
    known = {name for name, _ in _explain._registry().values()}
    covered = {label.split("-")[0] for label, *_ in CALLS}
    assert known - covered == set()


@pytest.fixture
def nothing_computes(monkeypatch):
    """Every Python path that computes raises if reached (the C drivers are
    checked by their run counter)."""
    def ran(*args, **kwargs):
        raise AssertionError("explain ran a computing path")

    for module, name in ((_correlate, "_fft"), (_fftconv, "freq_conv"), (slow, "correlate2d"),
                         (_signal_nd, "slow_correlate"), (np, "convolve"), (np, "correlate"),
                         (np, "matmul")):
        monkeypatch.setattr(module, name, ran)


@pytest.mark.parametrize("label, op, args, kwargs", CALLS, ids=[c[0] for c in CALLS])
def test_explain_gives_one_paragraph_and_computes_nothing(label, op, args, kwargs,
                                                          nothing_computes):
    runs = _kernels.plan_runs()
    plan = fastconv.explain(op, *args, **kwargs)
    assert _kernels.plan_runs() == runs, f"{label}: a C driver computed"
    assert isinstance(plan, fastconv.Plan)
    text = str(plan)
    assert "\n" not in text and text.endswith(".") and len(text) > 30, text
    assert plan.algorithm and plan.threads >= 1 and plan.scratch_bytes >= 0
    assert repr(plan).startswith("Plan(op=") and "\n" not in repr(plan)
    assert _kernels.plan_only() == 0  # plan-only mode is switched off again


def test_out_arrays_stay_untouched():
    x, w = _arr((1, 3, 8, 8), F32), _arr((2, 3, 3, 3), F32)
    out = np.full((1, 2, 6, 6), 7.0, F32)
    fastconv.explain(fastconv.conv2d, x, w, out=out)
    assert (out == 7.0).all()
    out = np.full(x.shape, 7.0, F32)
    fastconv.explain(fastconv.relu, x, out=out)
    assert (out == 7.0).all()
    img = _arr((30, 20))
    for op, args in ((ndimage.correlate, (_arr((3, 3)),)), (ndimage.convolve1d, ([1.0, 2.0],)),
                     (ndimage.gaussian_filter, (2.0,)), (ndimage.uniform_filter, (3,)),
                     (ndimage.uniform_filter1d, (5,)), (ndimage.correlate1d, ([1.0, 2.0, 3.0],))):
        for dtype in (F64, F32):
            output = np.full(img.shape, 7, dtype)
            plan = fastconv.explain(op, img, *args, output=output)
            assert (output == 7).all(), (op.__name__, dtype, plan)


def test_unknown_op_is_a_type_error_listing_the_known_ones():
    with pytest.raises(TypeError, match=r"'print' is not an op explain knows.*conv2d.*"
                                        r"ndimage\.gaussian_filter"):
        fastconv.explain(print, 1)
    with pytest.raises(TypeError, match="not an op"):
        fastconv.explain(np.convolve, [1], [1])


def test_an_op_named_by_a_string_is_told_to_pass_the_function():
    with pytest.raises(TypeError, match=r"the function itself.*not the string 'conv2d'.*max_pool2d"):
        fastconv.explain("conv2d", np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 3, 3), np.float32))


# ---- the plan is what runs -------------------------------------------------------------

def _same_as_run(plan, label):
    """plan against the plan the C driver recorded for the call just made."""
    ran = _kernels.last_plan()
    assert ran is not None
    got = (plan.kernel, plan.tile, plan.threads, plan.scratch_bytes, plan.isa)
    want = (ran["kernel"], ran["tile"], ran["threads"], ran["scratch_bytes"], ran["isa"])
    assert got == want, f"{label}: explained {got}, ran {want}"
    assert plan.algorithm.endswith(ran["algorithm"]) or ran["algorithm"] in plan.algorithm, label


CONV_GRID = [  # (n, c, h, w, k, r, s, stride, padding, groups, layout)
    (1, 1, 28, 28, 28, 3, 3, 1, 0, 1, "NCHW"),    # depth 9: direct kernel, or packed GEMM
    (2, 7, 16, 16, 8, 3, 3, 1, 1, 1, "NCHW"),     # depth 63: direct kernel, or packed GEMM
    (2, 8, 9, 9, 16, 3, 3, 1, 1, 1, "NCHW"),      # depth 72: 8 channels, no direct kernel
    (2, 3, 12, 12, 8, 5, 5, 1, 2, 1, "NCHW"),     # depth 75: 5x5, no direct kernel
    (2, 64, 10, 10, 16, 1, 1, 1, 0, 1, "NCHW"),   # depth 64: indirect GEMM
    (3, 16, 12, 13, 20, 3, 3, 2, 1, 2, "NCHW"),   # depth 72, two groups
    (2, 32, 9, 9, 64, 5, 5, 1, 2, 1, "NCHW"),
    (4, 1, 28, 28, 28, 3, 3, 1, 0, 1, "NHWC"),    # rows merged
    (2, 5, 11, 11, 33, 3, 3, 1, 1, 1, "NHWC"),
    (1, 8, 7, 7, 8, 3, 3, 1, 1, 4, "NHWC"),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("case", CONV_GRID, ids=[f"{c[-1]}-c{c[1]}-r{c[5]}-g{c[9]}" for c in CONV_GRID])
def test_conv2d_plan_is_what_runs(case, dtype, threads, isa, restore_threads):
    n, c, h, w, k, r, s, stride, padding, groups, layout = case
    fastconv.set_num_threads(threads)
    nhwc = layout == "NHWC"
    x = _arr((n, h, w, c) if nhwc else (n, c, h, w), dtype)
    wt = _arr((r, s, c // groups, k) if nhwc else (k, c // groups, r, s), dtype)
    kw = {"stride": stride, "padding": padding, "groups": groups, "layout": layout}
    plan = fastconv.explain(fastconv.conv2d, x, wt, **kw)
    fastconv.conv2d(x, wt, **kw)
    _same_as_run(plan, str(case))
    depth = c // groups * r * s
    want = "igemm" if nhwc or depth >= 64 else "packed-gemm"  # the documented threshold
    kind = "conv_c1" if nhwc else "conv_nchw"  # the ISA's special kernels (conv.inc)
    direct = any(u["kind"] == kind and u["isa"] == isa and u["dtype"] == str(np.dtype(dtype))
                 for u in _kernels.ukernels(isa))
    if (direct and (c == 1 if nhwc else c <= 7) and groups == 1 and (r, s, stride) == (3, 3, 1)
            and padding in (0, 1)):
        want = "direct"
    assert plan.algorithm == want, (case, plan)
    assert plan.kernel.startswith(f"fc_{'f32' if dtype == F32 else 'f64'}_")
    # the ISA's own tiles, or a narrower one a lower ISA lends its table
    tile_isa = plan.kernel.rpartition("__")[2]
    assert _kernels.ISA_NAMES.index(tile_isa) <= _kernels.ISA_NAMES.index(isa)
    assert plan.isa == isa
    assert plan.threads <= threads


BACKWARD_GRID = [  # (c, k, stride, groups, finite weights): grad_x's path
    (15, 8, 1, 1, True),   # C/groups 15: col2im
    (16, 8, 1, 1, True),   # 16: transposed convolution
    (32, 8, 2, 1, True),   # stride 2: col2im
    (32, 8, 1, 2, True),   # C/groups 16 in two groups
    (32, 8, 1, 1, False),  # an inf weight: col2im
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", BACKWARD_GRID, ids=[f"c{c[0]}-s{c[2]}-g{c[3]}-{c[4]}" for c in BACKWARD_GRID])
def test_conv2d_backward_plans_are_what_runs(case, layout, restore_threads):
    c, k, stride, groups, finite = case
    nhwc = layout == "NHWC"
    x = _arr((2, 9, 9, c) if nhwc else (2, c, 9, 9), F32)
    w = _arr((3, 3, c // groups, k) if nhwc else (k, c // groups, 3, 3), F32)
    if not finite:
        w.reshape(-1)[5] = np.inf
    kw = {"stride": stride, "padding": 1, "groups": groups, "layout": layout}
    gy = np.ones_like(fastconv.conv2d(x, w, **kw))
    for mask, step in (((False, True, False), "grad_weight"), ((True, False, False), "grad_x")):
        plan = fastconv.explain(fastconv.conv2d_backward, gy, x, w, output_mask=mask, **kw)
        with np.errstate(invalid="ignore"):
            fastconv.conv2d_backward(gy, x, w, output_mask=mask, **kw)
        assert plan.op == "conv2d_backward" and not plan.steps
        _same_as_run(plan, f"{case} {step}")
    transposed = c // groups >= 16 and stride == 1 and finite  # nn.conv2d_backward's rule
    assert plan.algorithm.startswith("transposed-conv") == transposed, plan
    full = fastconv.explain(fastconv.conv2d_backward, gy, x, w, **kw)
    assert [s.op for s in full.steps] == ["grad_bias", "grad_weight", "grad_x"]
    assert full.threads == max(s.threads for s in full.steps)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_pool_and_relu_plans_are_what_runs(layout, dilation, dtype, restore_threads):
    x = _arr((2, 6, 20, 21), dtype)
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    plan = fastconv.explain(fastconv.max_pool2d, x, 3, 2, 1, dilation, layout=layout)
    y, idx = fastconv.max_pool2d(x, 3, 2, 1, dilation, return_indices=True, layout=layout)
    _same_as_run(plan, "max_pool2d")
    assert ("dilated" in plan.kernel) == (dilation > 1)
    plan = fastconv.explain(fastconv.max_pool2d_backward, y, x, idx, 3, 2, 1, dilation,
                            layout=layout)
    fastconv.max_pool2d_backward(y, x, idx, 3, 2, 1, dilation, layout=layout)
    _same_as_run(plan, "max_pool2d_backward")
    plan = fastconv.explain(fastconv.relu_backward, x, x)
    fastconv.relu_backward(x, x)
    _same_as_run(plan, "relu_backward")
    big = _arr(300_000, dtype)
    plan = fastconv.explain(fastconv.relu, big)
    fastconv.relu(big)
    _same_as_run(plan, "relu")


def _counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


AUTO_GRID = [(n, m) for n in (40, 500, 5000, 60000) for m in (3, 31, 33, 200, 2000) if m <= n]


@pytest.mark.parametrize("n, m", AUTO_GRID)
def test_auto_method_plan_is_the_path_taken(n, m, monkeypatch):
    """method='auto' crosses the cost model's thresholds (few taps, few
    multiply-adds, direct vs FFT time): explain names the path the call takes."""
    a, v = _arr(n), _arr(m, seed=1)
    fft_calls = _counting(monkeypatch, _correlate, "_fft")
    plan = fastconv.explain(fastconv.correlate, a, v, "same", method="auto")
    fastconv.correlate(a, v, "same", method="auto")
    assert plan.algorithm.startswith("fft") == bool(fft_calls), (n, m, plan)
    if not fft_calls:
        assert plan.algorithm == "direct-row-bands" and plan.kernel.startswith("fc_f64_correlate")


@pytest.mark.parametrize("shape, kshape", [((20, 20), (3, 3)), ((300, 300), (40, 40)),
                                           ((2000,), (5,)), ((2000,), (900,)),
                                           ((8, 9, 10), (3, 3, 3)), ((30, 30, 30), (9, 9, 9))])
def test_signal_auto_plan_is_the_path_taken(shape, kshape, monkeypatch):
    x, k = _arr(shape), _arr(kshape, seed=1)
    fft_calls = _counting(monkeypatch, _fftconv, "fftconvolve")
    plan = fastconv.explain(signal.convolve, x, k)
    signal.convolve(x, k)
    assert (plan.algorithm == "fft") == bool(fft_calls), (shape, kshape, plan)
    assert signal.choose_conv_method(x, k) == ("fft" if fft_calls else "direct")


@pytest.mark.parametrize("args, front", [
    ((_arr(100), _arr(5)), True),
    ((_arr(100).astype(F32), _arr(5).astype(F32)), True),
    ((list(range(100)), [1.0, 2.0]), True),             # lists: made arrays, as NumPy makes them
    ((_arr(100), _arr(5).astype(F32)), True),           # mixed dtypes: in their promotion
    ((_arr(1000), _arr(5).astype(F32)), True),
    ((np.arange(3000), np.arange(500)), True),          # integers, exact in float64
])
def test_front_door_or_general_path_as_explained(args, front, monkeypatch):
    general = _counting(monkeypatch, _correlate, "correlate")
    plan = fastconv.explain(fastconv.correlate, *args)
    fastconv.correlate(*args)
    assert ("front door" in plan.reason) == front == (not general), plan


# ---- bad arguments: the op's own exceptions --------------------------------------------

BAD = [
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32), _arr((2, 4, 3, 3), F32)), {}),
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32), _arr((2, 3, 3, 3), F64)), {}),
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32), _arr((2, 3, 7, 7), F32)), {}),
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32), _arr((2, 3, 3, 3), F32)), {"stride": 0}),
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32), _arr((2, 3, 3, 3), F32)), {"layout": "CHWN"}),
    (fastconv.conv2d, (np.ones((1, 3, 5, 5), int), np.ones((2, 3, 3, 3), int)), {}),
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32), _arr((2, 3, 3, 3), F32)),
     {"out": np.empty((1, 2, 4, 4), F32)}),
    (fastconv.conv2d, (_arr((1, 3, 5, 5), F32),), {}),
    (fastconv.conv2d_backward, (_arr((1, 2, 2, 2), F32), _arr((1, 3, 5, 5), F32),
                                _arr((2, 3, 3, 3), F32)), {}),
    (fastconv.max_pool2d, (_arr((1, 3, 5, 5)), 2), {"padding": 2}),
    (fastconv.max_pool2d, (_arr((1, 3, 5, 5)), 2), {"ceil_mode": "yes"}),
    (fastconv.max_pool2d_backward, (_arr((1, 3, 2, 2)), _arr((1, 3, 5, 5)),
                                    np.zeros((1, 3, 2, 2)), 2), {}),
    (fastconv.relu, (np.arange(5),), {}),
    (fastconv.relu_backward, (_arr(4), _arr(5)), {}),
    (fastconv.correlate, ([], [1.0]), {}),
    (fastconv.correlate, (_arr(5), _arr(2)), {"mode": 3}),
    (fastconv.correlate, (_arr(5), _arr(2)), {"mode": 1.5}),
    (fastconv.convolve, (_arr(5), _arr(2)), {"method": "fast"}),
    (fastconv.convolve2d, (_arr(5), _arr((2, 2))), {}),
    (fastconv.correlate2d, (_arr((5, 5)), _arr((2, 2))), {"boundary": "reflect"}),
    (signal.convolve, (_arr((5, 5)), _arr(2)), {}),
    (signal.fftconvolve, (_arr((5, 5)), _arr((2, 2))), {"axes": 3}),
    (ndimage.correlate, (_arr((5, 5)), _arr(3)), {}),
    (ndimage.gaussian_filter, (_arr((5, 5)), 1.0), {"mode": "bogus"}),
    (ndimage.uniform_filter1d, (_arr((5, 5)), 0), {}),
    (ndimage.correlate1d, (_arr((5, 5)).astype(object), [1.0]), {}),
]


@pytest.mark.parametrize("op, args, kwargs", BAD, ids=[f"{i}-{b[0].__name__}" for i, b in enumerate(BAD)])
def test_bad_arguments_raise_what_the_op_raises(op, args, kwargs):
    with pytest.raises(Exception) as by_op:
        op(*args, **kwargs)
    with pytest.raises(Exception) as by_explain:
        fastconv.explain(op, *args, **kwargs)
    assert type(by_explain.value) is type(by_op.value)
    assert str(by_op.value).split(":")[-1] in str(by_explain.value)
    assert _kernels.plan_only() == 0


@pytest.mark.parametrize("threads", [1, 2, 17])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_scratch_of_panel_tasks_on_many_threads_is_counted(layout, threads, restore_threads):
    """Few pixels by many weights run panel tasks, whose NHWC scratch is a slice
    a thread and NCHW's the weights packed whole: on more threads than weight
    panels the slices outweigh the packed weights, and the estimate, adjusted
    down, stays a count of bytes (it saturated to 2**63 - 1 forward and went
    negative for the input gradient). Bounds from the sizes alone: the forward
    at least the weights packed (NCHW) or one thread's slice (NHWC), the input
    gradient at least its flipped copy of the weights; all below 64 MiB."""
    fastconv.set_num_threads(threads)
    n, c, h, w, k = 1, 256, 4, 3, 213
    nhwc = layout == "NHWC"
    x = _arr((n, h, w, c) if nhwc else (n, c, h, w), F32)
    wt = _arr((3, 3, c, k) if nhwc else (k, c, 3, 3), F32)
    gy = _arr((n, h, w, k) if nhwc else (n, k, h, w), F32)
    plan = fastconv.explain(fastconv.conv2d, x, wt, padding=1, layout=layout)
    assert "panel tasks" in str(plan), plan  # the case this test is about
    floor = wt.nbytes if not nhwc else 32 * c * 4  # a slice: a tap's depth, NR >= 32 wide
    assert floor <= plan.scratch_bytes < 64 << 20, plan
    grad = fastconv.explain(fastconv.conv2d_backward, gy, x, wt, padding=1, layout=layout,
                            output_mask=(True, False, False))
    assert wt.nbytes <= grad.scratch_bytes < 64 << 20, grad


# ---- runtime control -------------------------------------------------------------------

def test_one_thread_gives_one_thread_plans(restore_threads):
    fastconv.set_num_threads(1)
    x, w = _arr((8, 64, 32, 32), F32), _arr((64, 64, 3, 3), F32)
    for op, args in ((fastconv.conv2d, (x, w)), (fastconv.relu, (x,)),
                     (fastconv.max_pool2d, (x, 2)), (fastconv.correlate2d, (x[0, 0], w[0, 0])),
                     (ndimage.gaussian_filter, (x[0], 2.0))):
        plan = fastconv.explain(op, *args)
        assert plan.threads == 1 and all(s.threads == 1 for s in plan.steps), plan
    fastconv.set_num_threads(2)
    assert fastconv.explain(fastconv.conv2d, x, w).threads == 2


def test_forced_isa_names_its_kernels():
    code = ("import numpy as np, fastconv; from fastconv import _kernels;"
            "x = np.zeros((2, 64, 16, 16), np.float32); w = np.zeros((8, 64, 3, 3), np.float32);"
            "p = fastconv.explain(fastconv.conv2d, x, w);"
            "q = fastconv.explain(fastconv.correlate, np.zeros(500), np.zeros(9));"
            "print(_kernels.current_isa(), p.isa, p.kernel, q.kernel)")
    env = dict(os.environ, FASTCONV_ISA="avx2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    isa = "avx2" if _kernels.cpu_isa() in ("avx2", "avx512") else "scalar"
    assert out[0] == out[1] == isa
    assert out[2].endswith("__" + isa) and out[3].endswith("__" + isa), out


def test_fft_plan_threads_are_the_slabs_run(monkeypatch, restore_threads):
    """The overlap-save FFT maps one slab per thread: as many threads as the plan says."""
    fastconv.set_num_threads(2)
    seen = []
    real = _correlate._map_threads
    monkeypatch.setattr(_correlate, "_map_threads",
                        lambda fn, items, threads: seen.append(len(items)) or real(fn, items, threads))
    for n in (3000, 100_000):
        a, v = _arr(n), _arr(700, seed=1)
        plan = fastconv.explain(fastconv.convolve, a, v, method="fft")
        fastconv.convolve(a, v, method="fft")
        assert plan.algorithm == "fft-overlap-save" and plan.dtype == "float64"
        assert plan.threads == seen[-1], (n, plan, seen)


@pytest.mark.parametrize("output", [None, np.float64, np.float32])
def test_separable_filters_plan_one_pass_per_axis(output):
    img = _arr((30, 20, 10))
    out = None if output is None else np.full(img.shape, 7, output)
    for op, arg in ((ndimage.gaussian_filter, 1.5), (ndimage.uniform_filter, 3)):
        plan = fastconv.explain(op, img, arg, output=out)
        assert [s.blocking["axis"] for s in plan.steps] == [0, 1, 2], plan
        assert out is None or (out == 7).all()
    plan = fastconv.explain(ndimage.gaussian_filter, img, (1.5, 0, 2.0), output=out)
    assert [s.blocking["axis"] for s in plan.steps] == [0, 2], plan


def test_plan_only_mode_is_per_thread(restore_threads):
    """Calls made by other threads while one thread explains compute as usual."""
    import threading

    a, v = _arr(4000), _arr(50, seed=1)
    x, w = _arr((2, 16, 20, 20), F32), _arr((8, 16, 3, 3), F32)
    want_c, want_y = np.correlate(a, v, "same"), fastconv.conv2d(x, w)
    stop, bad = threading.Event(), []

    def work():
        runs = 0
        try:
            while not stop.is_set() or runs == 0:
                if not (np.allclose(fastconv.correlate(a, v, "same"), want_c)
                        and np.array_equal(fastconv.conv2d(x, w), want_y)):
                    bad.append("a wrong result")
                runs += 1
        except Exception as e:  # noqa: BLE001 (a Planned would say that plan-only mode leaked)
            bad.append(repr(e))

    worker = threading.Thread(target=work)
    worker.start()
    try:
        for _ in range(300):
            fastconv.explain(fastconv.correlate, a, v, "same")
            fastconv.explain(fastconv.conv2d, x, w)
            fastconv.explain(ndimage.gaussian_filter, x[0], 1.0)
    finally:
        stop.set()
        worker.join()
    assert not bad, bad[:3]


@pytest.mark.parametrize("op, args, kwargs", [
    (signal.convolve, (np.float64(2.0), np.float64(3.0)), {}),
    (signal.correlate, (np.float64(2.0), np.float64(3.0)), {}),
    (signal.fftconvolve, (_arr((4, 1)), _arr((4, 1))), {"axes": [1]}),
    (signal.oaconvolve, (_arr((4, 1, 3)), _arr((4, 1, 1))), {"axes": [1, 2]}),
    (ndimage.gaussian_filter, (_arr((6, 5)) + 1j, 1e-20), {}),
    (ndimage.uniform_filter, (_arr((6, 5)) + 1j, 1), {}),
    (ndimage.uniform_filter, (_arr((6, 5)), 1), {"output": np.zeros((6, 5))}),
])
def test_trivial_cases_are_planned_not_computed(op, args, kwargs):
    """Cases an op settles with one NumPy operation (a product, a copy) say so."""
    output = kwargs.get("output")
    plan = fastconv.explain(op, *args, **kwargs)
    assert plan.algorithm in ("product", "copy"), plan
    assert output is None or not output.any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_tuned_tile_is_the_one_explained_and_run(dtype):
    """Every tile of the table, forced as the autotuner's choice: explain names
    it (flagged as tuned) and the driver runs it."""
    x = _arr((2, 9, 9, 40), np.dtype(dtype))
    w = _arr((3, 3, 40, 24), np.dtype(dtype))
    static = fastconv.explain(fastconv.conv2d, x, w, layout="NHWC")
    assert "tuned_tile" not in static.blocking["flags"]
    for variant, tile in enumerate(_kernels.igemm_tiles(dtype)):
        with forced_tile(_kernels.current_isa(), dtype, variant):
            plan = fastconv.explain(fastconv.conv2d, x, w, layout="NHWC")
            fastconv.conv2d(x, w, layout="NHWC")
            _same_as_run(plan, f"variant {variant}")
            assert plan.tile == tile and "tuned_tile" in plan.blocking["flags"], plan


# ---- the dense ops ------------------------------------------------------------------------

def test_dense_adam_plan_says_how_grad_x_goes():
    """The fused sweep takes grad_x by grad_out's nonzero terms where at most
    the ISA's FC_DENSE_SPARSE_MAX_PERCENT_* of them are nonzero (NaN counts, -0.0 does not),
    else by the GEMM; explain says which, with the share."""
    x, w = _arr((32, 70), F32), _arr((70, 40), F32, 1)
    step = fastconv.nn.AdamStep(np.zeros_like(w), np.zeros_like(w), 1e-3, 0.9, 0.999, 1e-7)
    limit = _explain.dense_sparse_limit()
    for nonzero, by_terms in ((0, True), (limit * 32 * 40 // 100, True),
                              (limit * 32 * 40 // 100 + 1, False), (32 * 40, False)):
        gy = np.full(32 * 40, -0.0, F32)
        gy[:nonzero] = np.nan if nonzero == 32 * 40 else 1.5
        plan = fastconv.explain(fastconv.nn.dense_backward, gy.reshape(32, 40), x, w, adam=step)
        (fused,) = [s for s in plan.steps if s.op == "grad_kernel+adam"]
        assert ("by grad_out's nonzero terms" in fused.reason) == by_terms, (nonzero, fused.reason)
        assert ("by the GEMM" in fused.reason) == (not by_terms), (nonzero, fused.reason)
        assert f"{nonzero / gy.size:.0%}" in fused.reason


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("rows", [1, 5, 8, 9, 32, 300])
def test_dense_plans_are_what_runs(dtype, rows):
    """explain(nn.dense) and, with adam, explain(nn.dense_backward) name what the
    drivers record; the backward products follow the forward GEMM's rule."""
    x, w, b = _arr((rows, 70), dtype), _arr((70, 33), dtype, 1), _arr(33, dtype, 2)
    plan = fastconv.explain(fastconv.nn.dense, x, w, b)
    fastconv.nn.dense(x, w, b)
    _same_as_run(plan, f"dense {rows} rows")
    assert plan.algorithm in (("dense-gemv",) if rows <= 8 else ("dense-blocked", "dense-gemm")), plan
    gy = _arr((rows, 33), dtype, 3)
    mom, vel = np.zeros_like(w), np.zeros_like(w)
    step = fastconv.nn.AdamStep(mom, vel, 1e-3, 0.9, 0.999, 1e-7)
    before = w.copy()
    plan = fastconv.explain(fastconv.nn.dense_backward, gy, x, w, adam=step)
    assert (w == before).all() and not mom.any(), "explain stepped the kernel"
    fastconv.nn.dense_backward(gy, x, w, adam=step)
    (fused,) = [s for s in plan.steps if s.op == "grad_kernel+adam"]
    _same_as_run(fused, f"dense_backward adam {rows} rows")
    kernel_only = fastconv.explain(fastconv.nn.dense_backward, gy, x, w, adam=step,
                                   output_mask=(False, False, False))
    fastconv.nn.dense_backward(gy, x, w, adam=step, output_mask=(False, False, False))
    _same_as_run(kernel_only, f"dense_backward adam without grad_x, {rows} rows")
    products = {s.op: s for s in fastconv.explain(fastconv.nn.dense_backward, gy, x, w).steps}
    assert set(products) == {"grad_x", "grad_kernel", "grad_bias"}
    # the products are the forward GEMM's: grad_kernel = (gy^T @ x)^T, 70 features as
    # units by 33 rows as batch over `rows` (or, turned where that pads less, 33 units
    # by 70 features as batch); grad_x = gy @ w^T, 70 by `rows` over 33
    turned = "transposed_out" in products["grad_kernel"].blocking.get("flags", ())
    gk_batch, gk_units = (70, 33) if turned else (33, 70)
    for name, a, b2 in (("grad_kernel", _arr((gk_batch, rows), dtype), _arr((rows, gk_units), dtype)),
                        ("grad_x", _arr((rows, 33), dtype), _arr((33, 70), dtype))):
        want = fastconv.explain(fastconv.nn.dense, a, b2)
        if want.algorithm == "dense-gemm":
            assert (products[name].kernel, products[name].tile, products[name].threads) == (
                want.kernel, want.tile, want.threads), name
        elif want.algorithm == "dense-blocked":  # the forward runs batch x units there;
            assert products[name].algorithm == "dense-gemm", products[name]  # the products do not
