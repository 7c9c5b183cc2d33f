"""Inputs and one zero-argument callable per implementation of every benchmarked workload, thread
control and the machine description, shared by ``fastconv bench``, benchmarks/perf_table.py and
the pytest-benchmark modules so all three time exactly the same calls.

Every callable allocates its own output, as a user's call would. The peers (NumPy, SciPy,
PyTorch, ONNX Runtime) are imported only when a workload asks for them; a peer that cannot be
imported gives an `Impl` whose ``fn`` is None and whose ``missing`` says why, so it is reported,
never dropped.
PyTorch channels-last inputs are real channels-last copies made with
``.contiguous(memory_format=torch.channels_last)``, never permuted views (torch 2.13 has crashed
on those).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.metadata
import io
import os
import platform
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import fastconv
from fastconv import _kernels

SEED = 0
THREADS = (1, 2)  # the thread counts of the pytest-benchmark modules and perf_table.py
PEERS = ("numpy", "scipy", "torch", "onnxruntime")
LAYOUT_IMPLS = ("fastconv NCHW", "fastconv NHWC", "torch NCHW", "torch channels_last")
POOL_IMPLS = LAYOUT_IMPLS + ("numpy",)
RELU_IMPLS = ("fastconv", "numpy", "torch")
DENSE_IMPLS = ("fastconv", "numpy")
DROPIN_IMPLS = ("fastconv", "numpy", "scipy")
SMALL_IMPLS = ("fastconv", "numpy", "scipy", "torch", "onnxruntime")
# Seconds of untimed calls of an implementation before each of its timed runs, where a peer's
# threads keep spinning on the cores after its calls and would be timed as part of the next
# implementation's run (timing.measure's settle). After NumPy's matmul at 2 threads OpenBLAS's
# spin for about 0.13 s; after ONNX Runtime's and PyTorch's predict at 2 threads, fastconv's
# predict of 10,000 images took 38.0 ms against 35.3 ms with 0.3 s of settling (AMD EPYC Zen 5).
SETTLE_BLAS = 0.15
SETTLE_PREDICT = 0.3

_INSTALL = {"torch": "pip install torch (fastconv's 'test' extra pins 2.13.0)",
            "scipy": "pip install scipy", "numpy": "pip install numpy",
            "onnxruntime": "pip install onnxruntime onnx", "onnx": "pip install onnx"}


@dataclass
class Impl:
    """One implementation of one workload. `fn` is None when its library is missing.

    `for_threads`, when given, makes the callable for a thread count (ONNX Runtime fixes its
    threads when a session is made, so each count needs its own session); `fn` then runs at
    fastconv's current count, and the runner times ``at(n).fn`` instead.
    """
    name: str
    fn: Callable[[], Any] | None
    as_ref: Callable[[Any], Any] = np.asarray  # result -> NumPy (NCHW, or a tuple of arrays) to compare
    missing: str = ""
    for_threads: Callable[[int], Callable[[], Any]] | None = None

    def at(self, threads: int) -> Impl:
        """This implementation with its callable for `threads` threads."""
        if self.fn is None or self.for_threads is None:
            return self
        return dataclasses.replace(self, fn=self.for_threads(threads))


def library(impl: str) -> str:
    """'torch channels_last' -> 'torch'."""
    return impl.split()[0]


def threads_id(n: int) -> str:
    return f"{n}thr"


def impl_id(name: str) -> str:
    """'torch channels_last' -> 'torch-channels_last', for pytest ids."""
    return name.replace(" ", "-")


def peer_module(name: str):
    """(module, "") for 'numpy', 'scipy' (scipy.signal) or 'torch', else (None, why not).
    Imported on each call (sys.modules makes that cheap) so a blocked import is always seen."""
    try:
        if name == "torch":
            import torch
            import torch.nn.functional  # noqa: F401
            return torch, ""
        if name == "onnxruntime":
            import onnxruntime
            return onnxruntime, ""
        if name == "scipy":
            import scipy.signal
            return scipy.signal, ""
        return importlib.import_module(name), ""
    except ImportError as exc:
        return None, f"{name} is not installed ({exc}); {_INSTALL.get(name, f'pip install {name}')}"


def _select(names, available: dict[str, Callable[[], Impl]]) -> dict[str, Impl]:
    """The implementations in `names` that this workload has, in the order of `names`; each is
    built by its zero-argument factory, a peer that cannot be imported as a missing Impl."""
    return {n: available[n]() for n in names if n in available}


def _peer(name: str, build: Callable[[Any], Impl]) -> Callable[[], Impl]:
    """Factory for an implementation of library `name`: build(module) or a missing Impl."""
    def make() -> Impl:
        module, why = peer_module(library(name))
        return build(module) if module is not None else Impl(name, None, missing=why)
    return make


def _torch_ref(y) -> np.ndarray:
    return y.detach().contiguous().numpy()


def _nhwc_to_nchw(y) -> np.ndarray:
    return np.asarray(y).transpose(0, 3, 1, 2)


def _torch_inputs(torch, arrays, channels_last: bool, requires_grad: bool = False):
    """The arrays as torch tensors, as real channels-last copies when asked."""
    out = []
    for a in arrays:
        t = torch.from_numpy(a)
        if channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
            assert t.is_contiguous(memory_format=torch.channels_last)
        out.append(t.requires_grad_() if requires_grad else t)
    return out


def _conv_inputs(layer, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, layer.C, layer.H, layer.W), dtype=np.float32)
    w = rng.standard_normal((layer.K, layer.C, layer.R, layer.S), dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(layer.C * layer.R * layer.S))
    gy = rng.standard_normal((batch, layer.K, *layer.out_hw), dtype=np.float32)
    return x, w, gy


def _nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _rsck(w: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


# ---- conv2d --------------------------------------------------------------------
def conv2d_impls(layer, batch: int, names=LAYOUT_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.conv2d (NCHW and NHWC/RSCK weights) and torch F.conv2d (NCHW, channels_last)."""
    x, w, _ = _conv_inputs(layer, batch, seed)
    st, pad = layer.stride, layer.padding

    def fc_nhwc() -> Impl:
        xh, wh = _nhwc(x), _rsck(w)
        return Impl("fastconv NHWC",
                    lambda: fastconv.conv2d(xh, wh, stride=st, padding=pad, layout="NHWC"),
                    _nhwc_to_nchw)

    def torch_conv(name: str, channels_last: bool):
        def build(torch) -> Impl:
            xt, wt = _torch_inputs(torch, (x, w), channels_last)
            conv = torch.nn.functional.conv2d
            return Impl(name, lambda: conv(xt, wt, stride=st, padding=pad), _torch_ref)
        return _peer(name, build)

    return _select(names, {
        "fastconv NCHW": lambda: Impl("fastconv NCHW",
                                      lambda: fastconv.conv2d(x, w, stride=st, padding=pad)),
        "fastconv NHWC": fc_nhwc,
        "torch NCHW": torch_conv("torch NCHW", False),
        "torch channels_last": torch_conv("torch channels_last", True),
    })


# ---- conv2d backward -----------------------------------------------------------
def conv2d_backward_impls(layer, batch: int, names=LAYOUT_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """grad_x and grad_weight of a bias-free conv2d: fastconv.conv2d_backward (NCHW, NHWC)
    against torch autograd on the same layer (NCHW, channels_last). Torch's forward runs once,
    here, outside the timed call; each timed call is one ``torch.autograd.grad`` on the kept graph."""
    x, w, gy = _conv_inputs(layer, batch, seed)
    st, pad = layer.stride, layer.padding
    mask = (True, True, False)  # no bias, as on the torch side

    def fc_nhwc() -> Impl:
        xh, wh, gh = _nhwc(x), _rsck(w), _nhwc(gy)
        return Impl("fastconv NHWC",
                    lambda: fastconv.conv2d_backward(gh, xh, wh, stride=st, padding=pad,
                                                     layout="NHWC", output_mask=mask),
                    lambda g: (_nhwc_to_nchw(g[0]), np.asarray(g[1]).transpose(3, 2, 0, 1)))

    def torch_grad(name: str, channels_last: bool):
        def build(torch) -> Impl:
            xt, wt = _torch_inputs(torch, (x, w), channels_last, requires_grad=True)
            (gt,) = _torch_inputs(torch, (gy,), channels_last)
            y = torch.nn.functional.conv2d(xt, wt, stride=st, padding=pad)
            return Impl(name, lambda: torch.autograd.grad(y, (xt, wt), gt, retain_graph=True),
                        lambda g: (_torch_ref(g[0]), _torch_ref(g[1])))
        return _peer(name, build)

    return _select(names, {
        "fastconv NCHW": lambda: Impl(
            "fastconv NCHW",
            lambda: fastconv.conv2d_backward(gy, x, w, stride=st, padding=pad, output_mask=mask),
            lambda g: (g[0], g[1])),
        "fastconv NHWC": fc_nhwc,
        "torch NCHW": torch_grad("torch NCHW", False),
        "torch channels_last": torch_grad("torch channels_last", True),
    })


# ---- relu ----------------------------------------------------------------------
def relu_impls(case, n_elems: int, names=RELU_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.relu against np.maximum(x, 0) and torch F.relu on one contiguous float32
    vector, half negative."""
    x = np.random.default_rng(seed).standard_normal(n_elems, dtype=np.float32)

    def build_torch(torch) -> Impl:
        xt, relu = torch.from_numpy(x), torch.nn.functional.relu
        return Impl("torch", lambda: relu(xt), _torch_ref)

    return _select(names, {
        "fastconv": lambda: Impl("fastconv", lambda: fastconv.relu(x)),
        "numpy": lambda: Impl("numpy", lambda: np.maximum(x, np.float32(0))),
        "torch": _peer("torch", build_torch),
    })


# ---- dense ---------------------------------------------------------------------
def dense_impls(case, batch: int, names=DENSE_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """One product of a Dense layer's training step: fastconv.nn.dense or nn.dense_backward
    asked for that product alone, against NumPy's matmul on the same arrays (kernel.T and x.T
    are views, as a NumPy user writes them)."""
    rng = np.random.default_rng(seed)
    k, m = case.in_features, case.out_features
    x = rng.standard_normal((batch, k), dtype=np.float32)
    w = rng.standard_normal((k, m), dtype=np.float32) * np.float32(1 / np.sqrt(k))
    gy = rng.standard_normal((batch, m), dtype=np.float32)
    nn = fastconv.nn
    if case.product == "forward":
        fc_fn, np_fn, pick = functools.partial(nn.dense, x, w), lambda: x @ w, None
    else:
        at = 0 if case.product == "grad_x" else 1
        mask = (at == 0, at == 1, False)
        fc_fn, pick = functools.partial(nn.dense_backward, gy, x, w, output_mask=mask), at
        np_fn = (lambda: gy @ w.T) if at == 0 else (lambda: x.T @ gy)
    return _select(names, {
        "fastconv": lambda: Impl("fastconv", fc_fn,
                                 np.asarray if pick is None else (lambda g: np.asarray(g[pick]))),
        "numpy": lambda: Impl("numpy", np_fn),
    })


# ---- max_pool2d ----------------------------------------------------------------
def _numpy_max_pool2d(x: np.ndarray, p: int) -> np.ndarray:
    """Non-overlapping p x p max pooling of NCHW x with NumPy: a reshape and one reduction."""
    n, c, h, w = x.shape
    oh, ow = h // p, w // p
    return x[:, :, :oh * p, :ow * p].reshape(n, c, oh, p, ow, p).max(axis=(3, 5))


def pool_impls(case, batch: int, names=POOL_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.max_pool2d (NCHW, NHWC) against torch F.max_pool2d (NCHW, channels_last) and a
    NumPy reshape-and-max."""
    x = np.random.default_rng(seed).standard_normal((batch, case.C, case.H, case.W),
                                                    dtype=np.float32)
    p = case.pool

    def fc_nhwc() -> Impl:
        xh = _nhwc(x)
        return Impl("fastconv NHWC", lambda: fastconv.max_pool2d(xh, p, layout="NHWC"),
                    _nhwc_to_nchw)

    def torch_pool(name: str, channels_last: bool):
        def build(torch) -> Impl:
            (xt,) = _torch_inputs(torch, (x,), channels_last)
            pool = torch.nn.functional.max_pool2d
            return Impl(name, lambda: pool(xt, p), _torch_ref)
        return _peer(name, build)

    return _select(names, {
        "fastconv NCHW": lambda: Impl("fastconv NCHW", lambda: fastconv.max_pool2d(x, p)),
        "fastconv NHWC": fc_nhwc,
        "torch NCHW": torch_pool("torch NCHW", False),
        "torch channels_last": torch_pool("torch channels_last", True),
        "numpy": lambda: Impl("numpy", lambda: _numpy_max_pool2d(x, p)),
    })


# ---- drop-ins ------------------------------------------------------------------
def dropins_missing(cases) -> str:
    """Why the drop-in area cannot run in this fastconv, or "" when it can."""
    absent = sorted({c.function for c in cases if not hasattr(fastconv, c.function)})
    if not absent:
        return ""
    return (f"fastconv {fastconv.__version__} has no {', '.join('fastconv.' + f for f in absent)} "
            "(the drop-in module is not in this build)")


def dropin_impls(case, in1, names=DROPIN_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.<function> against the numpy (1-D) or scipy.signal (2-D) function it replaces,
    float64, same arguments."""
    rng = np.random.default_rng(seed)
    a, v = rng.standard_normal(in1), rng.standard_normal(case.in2)
    kwargs = {"mode": case.mode}

    def fastconv_impl() -> Impl:
        fn = getattr(fastconv, case.function, None)
        if fn is None:
            return Impl("fastconv", None, missing=dropins_missing([case]))
        return Impl("fastconv", lambda: fn(a, v, **kwargs))

    def build(module) -> Impl:
        fn = getattr(module, case.function)
        return Impl(case.peer, lambda: fn(a, v, **kwargs))

    return _select(names, {"fastconv": fastconv_impl, case.peer: _peer(case.peer, build)})


def family_impls(case, in1, names=DROPIN_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.ndimage/signal.<function> against scipy.ndimage/signal.<function>, same
    arguments."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(in1).astype(case.dtype)
    args = () if case.kernel_shape is None else (rng.standard_normal(case.kernel_shape).astype(case.dtype),)
    kwargs = case.kwargs

    def fastconv_impl() -> Impl:
        fn = getattr(importlib.import_module(f"fastconv.{case.area}"), case.function)
        return Impl("fastconv", lambda: fn(a, *args, **kwargs))

    def build(_module) -> Impl:
        fn = getattr(importlib.import_module(f"scipy.{case.area}"), case.function)
        return Impl("scipy", lambda: fn(a, *args, **kwargs))

    return _select(names, {"fastconv": fastconv_impl, "scipy": _peer("scipy", build)})


# ---- small work: per-call latency ----------------------------------------------
LECTURE_INPUT = (28, 28, 1)  # the lecture CNN's input, NHWC without the batch


def lecture_images(n: int, seed: int = SEED) -> np.ndarray:
    """`n` drawn 28x28 images (the demo's X's and O's, float32 in [0, 1]) as (n, 28, 28, 1):
    inputs like a digit's, made offline."""
    from .._demo import make_xo
    return make_xo(n, size=LECTURE_INPUT[0], seed=seed)[0][..., None]


def lecture_model(seed: int = SEED) -> Any:
    """The lecture's MNIST CNN (Conv2D(28, 3x3) -> MaxPooling2D(2x2) -> Flatten -> Dense(128,
    relu) -> Dropout(0.2) -> Dense(10, softmax)) from fastconv.layers, built, with Keras'
    initial weights drawn from `seed`."""
    from .._demo import lecture_model as build
    return build(10, input_shape=LECTURE_INPUT, seed=seed)


def torch_twin(model: Any, torch: Any) -> Any:
    """The torch.nn.Sequential equivalent of `lecture_model()`, with `model`'s weights, for
    NCHW input, in eval mode and without autograd. Keras' conv kernel (kh, kw, cin, cout) becomes
    torch's (cout, cin, kh, kw); Keras flattens the pooled (h, w, c) map, torch its (c, h, w) map,
    so the first dense kernel's rows are reordered from (h, w, c) to (c, h, w)."""
    layers = [type(layer).__name__ for layer in model.layers]
    expected = ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense"]
    if layers != expected:
        raise ValueError(f"torch_twin: model must have the layers {expected}, got {layers}")
    conv, pool, _, hidden, drop, out = model.layers
    settings = {"Conv2D strides, padding, dilation, groups, activation, bias":
                (conv.strides, conv.padding, conv.dilation_rate, conv.groups, conv.activation.name,
                 conv.use_bias),
                "MaxPooling2D strides, padding": (pool.strides == pool.pool_size, pool.padding),
                "Dense activations and biases": (hidden.activation.name, hidden.use_bias,
                                                 out.activation.name, out.use_bias)}
    lecture = {"Conv2D strides, padding, dilation, groups, activation, bias":
               ((1, 1), "valid", (1, 1), 1, "linear", True),
               "MaxPooling2D strides, padding": (True, "valid"),
               "Dense activations and biases": ("relu", True, "softmax", True)}
    differ = [f"{k}: {settings[k]} (twin: {v})" for k, v in lecture.items() if settings[k] != v]
    if differ:
        raise ValueError(f"torch_twin: model's layers are set otherwise than the lecture's: {'; '.join(differ)}")
    ck, cb = conv.get_weights()
    hk, hb = hidden.get_weights()
    ok, ob = out.get_weights()
    ph, pw, pc = pool.compute_output_shape(conv.compute_output_shape(model.input_shape))
    nn = torch.nn
    twin = nn.Sequential(
        nn.Conv2d(ck.shape[2], ck.shape[3], ck.shape[:2]), nn.MaxPool2d(pool.pool_size),
        nn.Flatten(), nn.Linear(hk.shape[0], hk.shape[1]), nn.ReLU(), nn.Dropout(drop.rate),
        nn.Linear(ok.shape[0], ok.shape[1]), nn.Softmax(dim=1))
    hk_chw = hk.reshape(ph, pw, pc, -1).transpose(3, 2, 0, 1).reshape(hk.shape[1], -1)
    with torch.no_grad():
        for layer, kernel, bias in ((twin[0], ck.transpose(3, 2, 0, 1), cb), (twin[3], hk_chw, hb),
                                    (twin[6], ok.T, ob)):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    return twin.eval().requires_grad_(False)


def export_onnx(twin: Any, torch: Any) -> bytes:
    """The ONNX model of `twin` (input "x", NCHW with any batch; output "y"). torch 2.13's
    TorchScript exporter needs only the onnx package; its default, the torch.export-based
    exporter, also needs onnxscript, so that route is the fallback."""
    example = torch.zeros((1, *twin[0].weight.shape[1:2], *LECTURE_INPUT[:2]))
    kwargs = {"input_names": ["x"], "output_names": ["y"],
              "dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}}}
    errors = []
    for dynamo in (False, True):
        f = io.BytesIO()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
                torch.onnx.export(twin, (example,), f, dynamo=dynamo, **kwargs)
            return f.getvalue()
        except Exception as exc:  # noqa: BLE001 - both routes tried, both reasons reported
            errors.append(f"dynamo={dynamo}: {type(exc).__name__}: {exc}")
    raise RuntimeError("torch.onnx.export failed: " + "; ".join(errors))


def ort_session(ort: Any, model: bytes, threads: int) -> Any:
    """An ONNX Runtime CPU session of `model` with `threads` intra-op threads, one inter-op
    thread and sequential execution."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _batches(x: Any, batch: int) -> list[Any]:
    """x in batches of `batch` (views, sliced before timing, as predict's own slicing is cheap)."""
    return [x[i:i + batch] for i in range(0, len(x), batch)]


def _predict_impls(case: Any, n_images: int, names: tuple[str, ...], seed: int) -> dict[str, Impl]:
    """The lecture CNN's predict on `n_images` images against its PyTorch twin (eager) and the
    twin exported to ONNX Runtime, in batches of case.kernel (the same for all three)."""
    model, x, batch = lecture_model(seed), lecture_images(n_images, seed), case.kernel
    x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # a reshape: one channel
    twins: dict[str, Any] = {}

    def twin(torch: Any) -> Any:
        if "twin" not in twins:
            twins["twin"] = torch_twin(model, torch)
        return twins["twin"]

    def build_torch(torch: Any) -> Impl:
        model_t, xt = twin(torch), torch.from_numpy(x_nchw)
        if n_images <= batch:
            return Impl("torch", functools.partial(model_t, xt), _torch_ref)
        parts = _batches(xt, batch)
        return Impl("torch", lambda: torch.cat([model_t(p) for p in parts]), _torch_ref)

    def build_ort(ort: Any) -> Impl:
        torch, why = peer_module("torch")
        if torch is None:
            return Impl("onnxruntime", None, missing=f"the ONNX model is exported from PyTorch: {why}")
        _, why = peer_module("onnx")
        if why:
            return Impl("onnxruntime", None, missing=f"torch.onnx.export needs onnx: {why}")
        try:
            onnx_model = export_onnx(twin(torch), torch)
        except RuntimeError as exc:
            return Impl("onnxruntime", None, missing=str(exc))
        sessions: dict[int, Any] = {}

        def for_threads(n: int) -> Callable[[], Any]:
            if n not in sessions:
                sessions[n] = ort_session(ort, onnx_model, n)
            run = sessions[n].run
            if n_images <= batch:  # session.run as a user calls it: a list of the outputs
                return functools.partial(run, ["y"], {"x": x_nchw})
            feeds = [{"x": p} for p in _batches(x_nchw, batch)]
            return lambda: [np.concatenate([run(["y"], f)[0] for f in feeds])]

        return Impl("onnxruntime", lambda: for_threads(fastconv.get_num_threads())(),
                    lambda outputs: outputs[0], for_threads=for_threads)

    return _select(names, {
        "fastconv": lambda: Impl("fastconv", functools.partial(model.predict, x, batch_size=batch,
                                                                verbose=0)),
        "torch": _peer("torch", build_torch),
        "onnxruntime": _peer("onnxruntime", build_ort),
    })


def small_impls(case: Any, in1: Any, names: tuple[str, ...] = SMALL_IMPLS,
                seed: int = SEED) -> dict[str, Impl]:
    """One small call: the lecture CNN's predict against PyTorch and ONNX Runtime; the drop-ins
    against numpy.convolve/correlate (1-D, float64) and scipy.signal.convolve2d/correlate2d
    (float64); fastconv.nn.relu against np.maximum(x, 0) and torch.relu (float32); and
    fastconv.nn.conv2d of one image against torch F.conv2d (NCHW, float32). Every call is the
    function itself with its default arguments (functools.partial, no wrapper of ours), so only
    the per-call cost of the libraries differs."""
    if case.op == "predict":
        return _predict_impls(case, in1, names, seed)
    rng = np.random.default_rng(seed)
    calls: dict[str, Callable[[], Impl]] = {}
    if case.op in ("convolve", "correlate", "convolve2d", "correlate2d"):
        a, v = rng.standard_normal(in1), rng.standard_normal(case.kernel)
        peer = case.peers[0]

        def build(module: Any) -> Impl:
            return Impl(peer, functools.partial(getattr(module, case.op), a, v))
        calls[peer] = _peer(peer, build)
        fast = getattr(fastconv, case.op, None)
        calls["fastconv"] = lambda: (
            Impl("fastconv", functools.partial(fast, a, v)) if fast is not None else
            Impl("fastconv", None, missing=f"fastconv {fastconv.__version__} has no fastconv.{case.op}"))
    elif case.op == "relu":
        x = rng.standard_normal(in1, dtype=np.float32)
        calls["fastconv"] = lambda: Impl("fastconv", functools.partial(fastconv.nn.relu, x))
        calls["numpy"] = lambda: Impl("numpy", functools.partial(np.maximum, x, 0))
        calls["torch"] = _peer("torch", lambda torch: Impl(
            "torch", functools.partial(torch.relu, torch.from_numpy(x)), _torch_ref))
    else:  # conv2d
        k, r, s = case.kernel
        x = rng.standard_normal((1, 1, *in1), dtype=np.float32)
        w = rng.standard_normal((k, 1, r, s), dtype=np.float32) / np.float32(r * s)
        calls["fastconv"] = lambda: Impl("fastconv", functools.partial(fastconv.nn.conv2d, x, w))
        calls["torch"] = _peer("torch", lambda torch: Impl(
            "torch", functools.partial(torch.nn.functional.conv2d, torch.from_numpy(x),
                                       torch.from_numpy(w)), _torch_ref))
    return _select(names, calls)


def worst_rel_error(impls: dict[str, Impl]) -> float:
    """Run each available implementation once and return the largest max|y - ref| / max|ref|
    (per array, for results that are tuples) against a peer (torch NCHW if there), or against
    the first implementation when no peer ran."""
    ready = [i for i in impls.values() if i.fn is not None]
    if len(ready) < 2:
        return 0.0
    ready.sort(key=lambda i: (library(i.name) == "fastconv", i.name != "torch NCHW"))

    def arrays(impl: Impl) -> list[np.ndarray]:
        out = impl.as_ref(impl.fn())
        return [np.asarray(y, dtype=np.float64) for y in (out if isinstance(out, tuple) else (out,))]

    refs = arrays(ready[0])
    worst = 0.0
    for impl in ready[1:]:
        for y, ref in zip(arrays(impl), refs, strict=True):
            if y.shape != ref.shape:
                return float("inf")
            if ref.size:
                scale = max(float(np.abs(ref).max()), np.finfo(np.float32).tiny)
                worst = max(worst, float(np.abs(y - ref).max()) / scale)
    return worst


# ---- threads -------------------------------------------------------------------
def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def num_threads(n: int):
    """Give fastconv, torch (if imported: build the workloads first) and the BLAS libraries seen
    by threadpoolctl (if installed) the same thread count, and restore all afterwards."""
    torch = sys.modules.get("torch")
    saved_fc = fastconv.get_num_threads()
    saved_torch = torch.get_num_threads() if torch is not None else None
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits
            stack.enter_context(threadpool_limits(limits=n, user_api="blas"))
        except ImportError:
            pass
        fastconv.set_num_threads(n)
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            # fastconv and torch keep separate counts; restore both.
            if torch is not None:
                torch.set_num_threads(saved_torch)
            fastconv.set_num_threads(saved_fc)


# ---- the machine ---------------------------------------------------------------
# environment variables that choose the instructions or the threads of fastconv or of a
# peer: a table measured under any of them describes another machine than the CPU's name
# says (FASTCONV_ISA=avx2 with ONEDNN_MAX_CPU_ISA=AVX2 and OPENBLAS_CORETYPE=Haswell stands
# in for an AVX2-only CPU), so they are written beside it
RUN_SETTINGS = ("FASTCONV_ISA", "FASTCONV_TUNE", "FASTCONV_NUM_THREADS", "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
                "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "ONEDNN_MAX_CPU_ISA",
                "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES",
                "NPY_ENABLE_CPU_FEATURES")


def run_settings() -> dict[str, str]:
    """The RUN_SETTINGS this process was started with, by name."""
    return {name: os.environ[name] for name in RUN_SETTINGS if name in os.environ}


def run_settings_text() -> str:
    """'run with NAME=value, ...' for the run_settings in effect; '' without any."""
    settings = run_settings()
    return "run with " + ", ".join(f"{k}={v}" for k, v in settings.items()) if settings else ""


def cpu_model() -> str:
    """'AMD EPYC (family 25, model 17, stepping 1), 2 logical CPUs (2 usable), virtual
    machine', and '; run with NAME=value, ...' for the run_settings in effect."""
    from fastconv._config import cpu_name, virtual_machine

    text = f"{cpu_name()}, {os.cpu_count()} logical CPUs ({available_cpus()} usable)"
    text += ", virtual machine" if virtual_machine() else ""
    settings = run_settings_text()
    return f"{text}; {settings}" if settings else text


def git_revision() -> str:
    """`git describe` of the source checkout fastconv runs from; "" for an installed wheel."""
    repo = Path(fastconv.__file__).resolve().parents[2]
    if not ((repo / ".git").exists() and (repo / "pyproject.toml").exists()):
        return ""
    try:
        out = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(module: str, dist: str | None = None) -> str:
    """The installed version, without importing the module; 'not installed' when it cannot be
    imported (including an import blocked through sys.modules)."""
    if module in sys.modules:
        mod = sys.modules[module]
        return getattr(mod, "__version__", "?") if mod is not None else "not installed"
    try:
        return importlib.metadata.version(dist or module)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    return {"fastconv": fastconv.__version__, "numpy": np.__version__, "scipy": _version("scipy"),
            "torch": _version("torch"), "onnxruntime": _version("onnxruntime"),
            "onnx": _version("onnx"), "threadpoolctl": _version("threadpoolctl"),
            "python": platform.python_version()}


def kernels_built() -> str:
    """When the loaded extension module was built (its file's mtime): with kernels being tuned,
    a "-dirty" git revision alone does not say which code ran."""
    try:
        stamp = os.path.getmtime(os.path.realpath(_kernels.__file__))
    except (OSError, TypeError):
        return "unknown"
    import datetime as dt
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def machine_info() -> dict[str, str]:
    cfg = fastconv.config()
    return {
        "cpu": cpu_model(),
        "isa": _kernels.current_isa(),
        "compiled_isas": ", ".join(cfg["compiled_isas"]),
        "thread_pool": cfg["thread_pool"],
        "threads": str(fastconv.get_num_threads()),
        "compiler": f"{cfg['compiler']} {cfg['cflags']}".strip(),
        "git": git_revision(),
        "kernels_built": kernels_built(),
        **versions(),
    }
