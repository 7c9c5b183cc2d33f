"""Inputs, one zero-argument callable per implementation, thread control and the machine header,
shared by the pytest-benchmark modules and perf_table.py so both time exactly the same calls.

Every callable allocates its own output, as a user's call would. The PyTorch channels-last
inputs are real channels-last copies made with ``.contiguous(memory_format=torch.channels_last)``,
never permuted views (torch 2.13 has crashed on those).
"""
from __future__ import annotations

import os
import platform
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import fastconv
from fastconv import _kernels

try:
    import torch
    import torch.nn.functional as F
    TORCH_MISSING = ""
except ImportError as exc:  # the peer is optional; its rows are skipped, never dropped silently
    torch = F = None
    TORCH_MISSING = (f"PyTorch peer not benchmarked: torch is not installed ({exc}); "
                     "pip install torch==2.13.0 (fastconv's 'test' extra)")

SEED = 0
REPO = Path(__file__).resolve().parent.parent

THREADS = (1, 2)
LAYOUT_IMPLS = ("fastconv NCHW", "fastconv NHWC", "torch NCHW", "torch channels_last")
RELU_IMPLS = ("fastconv", "torch")


@dataclass
class Impl:
    """One implementation of one workload. `fn` is None when the library is missing."""
    name: str
    fn: Callable[[], Any] | None
    as_nchw: Callable[[Any], np.ndarray] = np.asarray  # result -> NumPy in NCHW, for cross-checks
    missing: str = ""


def threads_id(n: int) -> str:
    return f"{n}thr"


def impl_id(name: str) -> str:
    """'torch channels_last' -> 'torch-channels_last', for pytest ids."""
    return name.replace(" ", "-")


def _torch_nchw(y) -> np.ndarray:
    return y.contiguous().numpy()


def _nhwc_to_nchw(y) -> np.ndarray:
    return np.asarray(y).transpose(0, 3, 1, 2)


def _torch_impls(names, build) -> dict[str, Impl]:
    """The torch entries of `names`, built by `build()` -> {name: fn}, or marked missing."""
    wanted = [n for n in names if n.startswith("torch")]
    if not wanted:
        return {}
    if torch is None:
        return {n: Impl(n, None, missing=TORCH_MISSING) for n in wanted}
    fns = build()
    return {n: Impl(n, fns[n], _torch_nchw) for n in wanted}


def _channels_last(t):
    cl = t.contiguous(memory_format=torch.channels_last)
    assert cl.is_contiguous(memory_format=torch.channels_last)
    return cl


# ---- conv2d --------------------------------------------------------------------
def conv2d_impls(layer, batch: int, names=LAYOUT_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.conv2d (NCHW and NHWC/RSCK weights) and torch F.conv2d (NCHW, channels_last)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, layer.C, layer.H, layer.W), dtype=np.float32)
    w = rng.standard_normal((layer.K, layer.C, layer.R, layer.S), dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(layer.C * layer.R * layer.S))
    st, pad = layer.stride, layer.padding
    impls = {}
    if "fastconv NCHW" in names:
        impls["fastconv NCHW"] = Impl(
            "fastconv NCHW", lambda: fastconv.conv2d(x, w, stride=st, padding=pad))
    if "fastconv NHWC" in names:
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        w_rsck = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
        impls["fastconv NHWC"] = Impl(
            "fastconv NHWC",
            lambda: fastconv.conv2d(x_nhwc, w_rsck, stride=st, padding=pad, layout="NHWC"),
            _nhwc_to_nchw)

    def build():
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        xc, wc = _channels_last(xt), _channels_last(wt)
        return {"torch NCHW": lambda: F.conv2d(xt, wt, stride=st, padding=pad),
                "torch channels_last": lambda: F.conv2d(xc, wc, stride=st, padding=pad)}

    impls.update(_torch_impls(names, build))
    return {n: impls[n] for n in names}


# ---- relu ----------------------------------------------------------------------
def relu_impls(n_elems: int, names=RELU_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.relu against torch F.relu on one contiguous float32 vector, half negative."""
    x = np.random.default_rng(seed).standard_normal(n_elems, dtype=np.float32)
    impls = {}
    if "fastconv" in names:
        impls["fastconv"] = Impl("fastconv", lambda: fastconv.relu(x))

    def build():
        xt = torch.from_numpy(x)
        return {"torch": lambda: F.relu(xt)}

    impls.update(_torch_impls(names, build))
    return {n: impls[n] for n in names}


# ---- max_pool2d ----------------------------------------------------------------
def pool_impls(case, batch: int, names=LAYOUT_IMPLS, seed: int = SEED) -> dict[str, Impl]:
    """fastconv.max_pool2d (NCHW, NHWC) against torch F.max_pool2d (NCHW, channels_last)."""
    x = np.random.default_rng(seed).standard_normal((batch, case.C, case.H, case.W),
                                                    dtype=np.float32)
    p = case.pool
    impls = {}
    if "fastconv NCHW" in names:
        impls["fastconv NCHW"] = Impl("fastconv NCHW", lambda: fastconv.max_pool2d(x, p))
    if "fastconv NHWC" in names:
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        impls["fastconv NHWC"] = Impl(
            "fastconv NHWC", lambda: fastconv.max_pool2d(x_nhwc, p, layout="NHWC"), _nhwc_to_nchw)

    def build():
        xt = torch.from_numpy(x)
        xc = _channels_last(xt)
        return {"torch NCHW": lambda: F.max_pool2d(xt, p),
                "torch channels_last": lambda: F.max_pool2d(xc, p)}

    impls.update(_torch_impls(names, build))
    return {n: impls[n] for n in names}


def worst_rel_error(impls: dict[str, Impl]) -> float:
    """Run each available implementation once and return the largest
    max|y - ref| / max|ref| against the first one (torch NCHW if present)."""
    ready = [i for i in impls.values() if i.fn is not None]
    ready.sort(key=lambda i: i.name != "torch NCHW" and i.name != "torch")
    ref = np.asarray(ready[0].as_nchw(ready[0].fn()), dtype=np.float64)
    scale = max(float(np.abs(ref).max()), np.finfo(np.float32).tiny)
    worst = 0.0
    for impl in ready[1:]:
        y = np.asarray(impl.as_nchw(impl.fn()), dtype=np.float64)
        if y.shape != ref.shape:
            return float("inf")
        worst = max(worst, float(np.abs(y - ref).max()) / scale)
    return worst


# ---- threads -------------------------------------------------------------------
def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextmanager
def num_threads(n: int):
    """Give fastconv and torch the same thread count, and restore both afterwards."""
    saved_fc = fastconv.get_num_threads()
    saved_torch = torch.get_num_threads() if torch is not None else None
    fastconv.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        # Both share the process's OpenMP default, so restore torch first, fastconv last.
        if torch is not None:
            torch.set_num_threads(saved_torch)
        fastconv.set_num_threads(saved_fc)


# ---- the machine ---------------------------------------------------------------
def cpu_model() -> str:
    """'AMD EPYC (family 25, model 17, stepping 1), 2 logical CPUs, virtual machine'."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    ids = [f"{k.replace('cpu ', '')} {fields[k]}" for k in ("cpu family", "model", "stepping")
           if k in fields]
    text = f"{name} ({', '.join(ids)})" if ids else name
    text += f", {os.cpu_count()} logical CPUs ({available_cpus()} usable)"
    if "hypervisor" in fields.get("flags", "").split():
        text += ", virtual machine"
    return text


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    v = {"fastconv": fastconv.__version__, "numpy": np.__version__}
    try:
        import scipy
        v["scipy"] = scipy.__version__
    except ImportError:
        v["scipy"] = "not installed"
    v["torch"] = torch.__version__ if torch is not None else "not installed"
    v["python"] = platform.python_version()
    return v


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
        "openmp": cfg["openmp"],
        "threads": str(fastconv.get_num_threads()),
        "compiler": f"{cfg['compiler']} {cfg['cflags']}".strip(),
        "git": git_revision(),
        "kernels_built": kernels_built(),
        **versions(),
    }
