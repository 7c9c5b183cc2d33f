"""relu and max_pool2d, float32: fastconv beside torch for the workloads in shapes/relu.txt and shapes/max_pool2d.txt.

Groups are one workload at one thread count (implementations side by side). With
``--benchmark-disable`` the small ``quick_*`` sizes are used.
"""
from __future__ import annotations

import pytest

import workloads
from shapes import POOL_CASES, RELU_CASES


@pytest.mark.parametrize("impl", workloads.RELU_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("case", RELU_CASES, ids=lambda case: case.name)
def test_relu(benchmark, case, threads, impl):
    n_elems = case.size(quick=benchmark.disabled)
    run = workloads.relu_impls(n_elems, names=(impl,))[impl]
    if run.fn is None:
        pytest.skip(run.missing)
    benchmark.group = f"relu {case.label(n_elems)}, {threads} thread(s)"
    benchmark.extra_info.update(op="relu", impl=impl, threads=threads, n_elems=n_elems,
                                gbytes=case.bytes_moved(n_elems) / 1e9)
    y = benchmark(run.fn)
    assert run.as_nchw(y).shape == (n_elems,)


@pytest.mark.parametrize("impl", workloads.LAYOUT_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda case: case.name)
def test_max_pool2d(benchmark, case, threads, impl):
    batch = case.batch(quick=benchmark.disabled)
    run = workloads.pool_impls(case, batch, names=(impl,))[impl]
    if run.fn is None:
        pytest.skip(run.missing)
    benchmark.group = f"max_pool2d {case.label(batch)}, {threads} thread(s)"
    benchmark.extra_info.update(op="max_pool2d", impl=impl, threads=threads, batch=batch,
                                gbytes=case.bytes_moved(batch) / 1e9)
    y = benchmark(run.fn)
    assert run.as_nchw(y).shape == (batch, case.C, *case.out_hw)
