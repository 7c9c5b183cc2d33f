"""pytest-benchmark setup for benchmarks/: a machine header and the `threads` fixture.

pyproject.toml collects bench_*.py and passes --benchmark-disable, so a plain `pytest` runs each
benchmark once on its small smoke_* size; `pytest benchmarks --benchmark-enable` times them, in one
process (pyproject's `-n auto` spreads a plain run over pytest-xdist workers).
The workloads come from fastconv's own runner (src/fastconv/_bench), as `fastconv bench` and
perf_table.py time them."""
from __future__ import annotations

import pytest

from fastconv._bench import workloads

# Imported up front (when installed) so that `threads` below limits torch too; the runner
# builds every workload before it sets threads, a test here builds them inside the fixture.
workloads.peer_module("torch")


def pytest_report_header(config):
    info = workloads.machine_info()
    git = f"git {info['git']}, " if info["git"] else ""
    return [
        f"fastconv {info['fastconv']} ({git}kernels built {info['kernels_built']})",
        f"numpy {info['numpy']}, scipy {info['scipy']}, torch {info['torch']}, python {info['python']}",
        f"fastconv ISA {info['isa']} (compiled: {info['compiled_isas']}), pool {info['thread_pool']}, "
        f"default threads {info['threads']}, benchmarked threads {', '.join(map(str, workloads.THREADS))}",
        f"CPU: {info['cpu']}",
    ]


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # pytest-xdist's hook: xdist need not be installed
def pytest_xdist_auto_num_workers(config):
    """No pytest-xdist workers when the benchmarks are timed: pytest-benchmark times nothing
    under xdist, and workers would share the cores being measured."""
    return 0 if config.getoption("benchmark_enable", False) else None


@pytest.fixture
def threads(request):
    """Run the test with fastconv, torch and BLAS all limited to n threads and restore them
    afterwards; parametrise with ``@pytest.mark.parametrize("threads", workloads.THREADS,
    ids=workloads.threads_id, indirect=True)``."""
    n = request.param
    if n > workloads.available_cpus():
        pytest.skip(f"{n} threads asked for but only {workloads.available_cpus()} CPUs are usable")
    with workloads.num_threads(n):
        yield n


@pytest.fixture
def workload(benchmark):
    """``workload(build, case, impl)`` -> (size, Impl): the case's size for this run (full when
    timed, smoke under --benchmark-disable) and the one implementation `impl` made by `build`;
    skips, saying why, when its library is missing."""
    def build_one(build, case, impl: str):
        size = case.size("smoke" if benchmark.disabled else "full")
        run = build(case, size, (impl,))[impl]
        if run.fn is None:
            pytest.skip(run.missing)
        return size, run
    return build_one
