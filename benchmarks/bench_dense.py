"""The Dense products of the lecture CNN's training step, float32: fastconv.nn.dense and
nn.dense_backward beside NumPy's matmul for the workloads in src/fastconv/_bench/dense.txt.

Groups are one workload at one thread count (implementations side by side). With
``--benchmark-disable`` the small ``smoke_*`` sizes are used.
"""
from __future__ import annotations

import pytest

from fastconv._bench import workloads
from fastconv._bench.shapes import DENSE_CASES


@pytest.mark.parametrize("impl", workloads.DENSE_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("case", DENSE_CASES, ids=lambda case: case.name)
def test_dense(benchmark, workload, case, threads, impl):
    batch, run = workload(workloads.dense_impls, case, impl)
    benchmark.group = f"dense {case.label(batch)}, {threads} thread(s)"
    benchmark.extra_info.update(op=f"dense {case.product}", impl=impl, threads=threads, batch=batch,
                                gflop=case.flops(batch) / 1e9)
    y = benchmark(run.fn)
    k, m = case.in_features, case.out_features
    shape = {"forward": (batch, m), "grad_x": (batch, k), "grad_kernel": (k, m)}[case.product]
    assert run.as_ref(y).shape == shape
