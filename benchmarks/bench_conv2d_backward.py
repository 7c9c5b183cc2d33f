"""conv2d backward, float32: fastconv.conv2d_backward (NCHW, NHWC) beside torch autograd
(NCHW, channels_last) for the layers marked ``backward yes`` in src/fastconv/_bench/conv2d.txt.

Both compute grad_x and grad_weight of a bias-free layer. Torch's forward runs once, outside the
timed call; the timed call is one ``torch.autograd.grad`` on the kept graph. Groups are one layer
at one thread count; with ``--benchmark-disable`` each call runs once on the ``smoke_N`` batch.
"""
from __future__ import annotations

import pytest

from fastconv._bench import workloads
from fastconv._bench.shapes import CONV_LAYERS

BACKWARD_LAYERS = [layer for layer in CONV_LAYERS if layer.backward]


@pytest.mark.parametrize("impl", workloads.LAYOUT_IMPLS, ids=workloads.impl_id)
@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("layer", BACKWARD_LAYERS, ids=lambda layer: layer.name)
def test_conv2d_backward(benchmark, workload, layer, threads, impl):
    batch, run = workload(workloads.conv2d_backward_impls, layer, impl)
    benchmark.group = (f"conv2d_backward {layer.name}: {layer.label(batch)}, float32, "
                       f"{threads} thread(s)")
    benchmark.extra_info.update(op="conv2d_backward", layer=layer.name, impl=impl, threads=threads,
                                batch=batch, gflop=2 * layer.flops(batch) / 1e9)
    grad_x, grad_w = run.as_ref(benchmark(run.fn))
    assert grad_x.shape == (batch, layer.C, layer.H, layer.W)
    assert grad_w.shape == (layer.K, layer.C, layer.R, layer.S)
