"""conv2d, float32: fastconv (NCHW, NHWC) beside torch (NCHW, channels_last) for every layer in
src/fastconv/_bench/conv2d.txt.

Each benchmark group is one layer at one thread count, so ``--benchmark-group-by=group`` (the
default) prints the four implementations side by side. With ``--benchmark-disable`` each call
runs once on the small ``smoke_N`` batch, which keeps the CI smoke run to seconds.
"""
from __future__ import annotations

import pytest

from fastconv._bench import workloads
from fastconv._bench.shapes import CONV_LAYERS


@pytest.mark.parametrize("impl", workloads.LAYOUT_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("layer", CONV_LAYERS, ids=lambda layer: layer.name)
def test_conv2d(benchmark, workload, layer, threads, impl):
    batch, run = workload(workloads.conv2d_impls, layer, impl)
    benchmark.group = f"conv2d {layer.name}: {layer.label(batch)}, float32, {threads} thread(s)"
    benchmark.extra_info.update(op="conv2d", layer=layer.name, impl=impl, threads=threads,
                                batch=batch, gflop=layer.flops(batch) / 1e9)
    y = benchmark(run.fn)
    assert run.as_ref(y).shape == (batch, layer.K, *layer.out_hw)
