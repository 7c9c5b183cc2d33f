"""Shared fixtures: run a test under every instruction set the CPU has, a seeded
random generator per test, thread-count save/restore, and the drop-ins' engine
forced down one path; and how many processes a plain `pytest` runs them in."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastconv
from fastconv import _kernels, _planning

ISAS = _kernels.ISA_NAMES  # the C library's names, in the order of its fc_isa
ISA_RANK = {name: rank for rank, name in enumerate(ISAS)}
MAX_WORKERS = 8  # each worker imports PyTorch, SciPy and Dask: a few hundred MB apiece


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: pytest without xdist runs too
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml's addopts): one pytest-xdist worker per CPU fastconv's
    pool uses by default (the affinity mask and a cgroup's CPU quota counted, where
    xdist's own count sees every core of the machine), at most MAX_WORKERS; none, so
    the tests run in this process, when that is one CPU."""
    n = min(fastconv.get_num_threads(), MAX_WORKERS)
    return n if n > 1 else 0


@pytest.fixture(params=ISAS)
def isa(request):
    """Select the kernels of one ISA for the test, restoring the previous ISA after.
    Skips (saying why) when the CPU, or this build, cannot run that ISA."""
    name = request.param
    best = _kernels.cpu_isa()
    if ISA_RANK[name] > ISA_RANK[best]:
        pytest.skip(f"this CPU/build runs at most {best!r}, not {name!r}")
    previous = _kernels.current_isa()
    got = _kernels.set_isa(name)
    assert got == name, f"set_isa({name!r}) selected {got!r}"
    try:
        yield name
    finally:
        _kernels.set_isa(previous)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id, so each test draws the same numbers
    whatever order or subset of tests runs."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def restore_threads():
    """Put fastconv's thread count back after the test; meanwhile every call may
    use threads, however small, so the tests' small shapes run the threaded paths."""
    previous = fastconv.get_num_threads()
    threshold = fastconv._kernels.parallel_threshold_ns(0)
    try:
        yield previous
    finally:
        fastconv.set_num_threads(previous)
        fastconv._kernels.parallel_threshold_ns(threshold)


@pytest.fixture
def force_path(request):
    """The drop-ins' engine forced down one path for the test (indirect
    parametrization: "slow", the exact twin in fastconv.slow, or another path
    _planning.FORCIBLE lists for "correlate")."""
    with _planning.forced("correlate", request.param):
        yield request.param


@pytest.fixture
def input_grad_path(request):
    """conv2d_backward's grad_x forced down one path for the test (indirect
    parametrization: "col2im" or "transposed-conv"; "auto" forces nothing)."""
    if request.param == "auto":
        yield request.param
        return
    with _planning.forced("conv2d_backward_input", request.param):
        yield request.param
