"""relu and max_pool2d, float32: fastconv beside NumPy and torch for the workloads in
src/fastconv/_bench/relu.txt and max_pool2d.txt.

Groups are one workload at one thread count (implementations side by side). With
``--benchmark-disable`` the small ``smoke_*`` sizes are used.
"""
from __future__ import annotations

import pytest

from fastconv._bench import workloads
from fastconv._bench.shapes import POOL_CASES, RELU_CASES


@pytest.mark.parametrize("impl", workloads.RELU_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("case", RELU_CASES, ids=lambda case: case.name)
def test_relu(benchmark, workload, case, threads, impl):
    n_elems, run = workload(workloads.relu_impls, case, impl)
    benchmark.group = f"relu {case.label(n_elems)}, {threads} thread(s)"
    benchmark.extra_info.update(op="relu", impl=impl, threads=threads, n_elems=n_elems,
                                gbytes=case.amount(n_elems) / 1e9)
    y = benchmark(run.fn)
    assert run.as_ref(y).shape == (n_elems,)


@pytest.mark.parametrize("impl", workloads.POOL_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda case: case.name)
def test_max_pool2d(benchmark, workload, case, threads, impl):
    batch, run = workload(workloads.pool_impls, case, impl)
    benchmark.group = f"max_pool2d {case.label(batch)}, {threads} thread(s)"
    benchmark.extra_info.update(op="max_pool2d", impl=impl, threads=threads, batch=batch,
                                gbytes=case.amount(batch) / 1e9)
    y = benchmark(run.fn)
    assert run.as_ref(y).shape == (batch, case.C, *case.out_hw)
