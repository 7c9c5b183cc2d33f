"""pytest-benchmark setup for benchmarks/: a machine header and the `threads` fixture.

pyproject.toml collects bench_*.py and passes --benchmark-disable, so a plain `pytest` runs each
benchmark once on its small quick_* size; `pytest benchmarks --benchmark-enable` times them."""
from __future__ import annotations

import pytest

import workloads


def pytest_report_header(config):
    info = workloads.machine_info()
    return [
        f"fastconv {info['fastconv']} (git {info['git']}, kernels built {info['kernels_built']})",
        f"numpy {info['numpy']}, scipy {info['scipy']}, torch {info['torch']}, python {info['python']}",
        f"fastconv ISA {info['isa']} (compiled: {info['compiled_isas']}), OpenMP {info['openmp']}, "
        f"default threads {info['threads']}, benchmarked threads {', '.join(map(str, workloads.THREADS))}",
        f"CPU: {info['cpu']}",
    ]


@pytest.fixture
def threads(request):
    """Run the test with fastconv and torch both limited to n threads and restore both afterwards;
    parametrise with ``@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)``."""
    n = request.param
    if n > workloads.available_cpus():
        pytest.skip(f"{n} threads asked for but only {workloads.available_cpus()} CPUs are usable")
    with workloads.num_threads(n):
        yield n
