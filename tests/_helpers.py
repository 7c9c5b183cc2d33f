"""Helpers shared by the test modules: `raises`, the one check of an exception and
the words of its message; `torch_one_thread`, which keeps PyTorch's references on
one thread in a module that imports it; the array zoo (`random_array`,
`with_layout`, `LAYOUTS`); a saved model's zip members (`members_of`,
`write_zip`); the indirect-GEMM tile rule modelled from the registry
(`igemm_table`, `pick_tile`) and a tile forced for a block (`forced_tile`). (The references and the comparison helper are in reference.py,
which the fuzzer loads without pytest.)"""
from __future__ import annotations

import contextlib
import math
import re
import zipfile

import numpy as np
import pytest


def raises(call, exc, *words):
    """call() raises exc whose message contains every one of `words`, ignoring
    case: a single word (a name) as a whole word, anything else (a shape, a
    phrase) as it is written; returns the message."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for word in words:
        pattern = re.escape(word)
        if re.fullmatch(r"\w+", word):
            pattern = rf"\b{pattern}\b"
        assert re.search(pattern, msg, re.IGNORECASE), f"{exc.__name__} message does not name {word!r}: {msg!r}"
    return msg


@pytest.fixture(autouse=True, scope="module")
def torch_one_thread():
    """torch on one thread for a test module that imports this fixture (it is
    autouse): the references are small, and torch's idle OpenMP team would spin
    against fastconv's own threads (slowing both many times over)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---- the array zoo: values of every dtype, in every memory layout -------------------------

LAYOUTS = ("contiguous", "strided", "reversed", "fortran", "list")


def random_array(rng: np.random.Generator, shape, dtype, *, full_range: float = 0.5,
                 small: int = 9) -> np.ndarray:
    """Values of `dtype`: bools; integers over their whole range (with probability
    `full_range`: the wrap-around and out-of-range conversion paths) or else small
    ones, within [-small, small]; normal floats; complex with both parts."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if full_range and rng.random() < full_range:
            return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        return rng.integers(max(info.min, -small), small + 1, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def misaligned(x: np.ndarray) -> np.ndarray:
    """A copy of x whose data starts one byte past an aligned address (NumPy
    then flags it unaligned)."""
    buf = np.empty(x.nbytes + 1, np.uint8)
    y = np.frombuffer(buf.data, dtype=x.dtype, count=x.size, offset=1).reshape(x.shape)
    y[...] = x
    assert not y.flags.aligned
    return y


def with_layout(rng: np.random.Generator, arr: np.ndarray, layout: str | None = None):
    """The same values as a strided view (starting one element into a larger
    buffer), a reversed view, a Fortran-order copy or a nested list (object and
    wider dtypes stay arrays); "contiguous" leaves `arr` as it is; None: one of
    the four array layouts, drawn from `rng`."""
    if layout is None:
        layout = LAYOUTS[int(rng.integers(4))]
    if layout == "strided":
        big = np.zeros(tuple(2 * n + 1 for n in arr.shape), dtype=arr.dtype)
        view = big[tuple(slice(1, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view
    if layout == "reversed":
        rev = arr[tuple(slice(None, None, -1) for _ in arr.shape)].copy()
        return rev[tuple(slice(None, None, -1) for _ in arr.shape)]
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "list" and arr.size and arr.dtype.kind in "biuf" and arr.dtype.itemsize <= 8:
        return arr.tolist() if arr.dtype in (np.int64, np.float64, np.bool_) else arr
    return arr


# ---- model files: a saved model as the members of its zip ------------------------------------


def members_of(path):
    """{member name: bytes} of the zip at `path` (a saved model)."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path, members):
    """A zip at `path` holding `members` ({name: bytes}); returns `path`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def igemm_table(dtype):
    """The ISA's indirect-GEMM tiles in table order, ((rows, columns), cost) each (the
    registry, fastconv._kernels.ukernels())."""
    from fastconv import _kernels

    table = sorted((u for u in _kernels.ukernels() if u["kind"] == "igemm" and u["dtype"] == dtype
                    and u["slot"] is not None), key=lambda u: int(u["slot"].split("[")[1][:-1]))
    return [(tuple(u["tile"]), u["cost"]) for u in table]


def pick_tile(table, rows, cols, tie):
    """The planners' static rule on a rows x cols product: the index of the first tile
    listed whose padded work (times its cost) is within `tie` (a fraction) of the least,
    and every tile's padded work."""
    work = [math.ceil(rows / mr) * mr * math.ceil(cols / nr) * nr * cost for (mr, nr), cost in table]
    return next(i for i, w in enumerate(work) if w <= min(work) * (1 + tie)), work


@contextlib.contextmanager
def forced_tile(isa, dtype, variant):
    """Inside the block, every conv2d product this thread plans runs tile `variant` of
    the ISA's table (the autotuner's force, _kernels.tune_force); undone on leaving."""
    from fastconv import _kernels

    _kernels.tune_force(("conv2d", isa, dtype, -1, 1, 1, variant))
    try:
        yield
    finally:
        _kernels.tune_force(None)
