"""A Sequential model's inference pass as one C call.

`forward_plan` turns the model's layers, for samples of one shape and dtype,
into the chain of steps ``fc_*_forward`` runs (csrc/ops/forward-template.h; the
Cython side is ``_nnfront.ForwardPlan``). Each step calls the entry point the
layer itself calls, with the same arguments, so the chain's output is the
layer-by-layer output bit for bit; what it saves is the Python between the
layers (about 10 us of a 30 us single-image prediction of the lecture's model).

The layers it knows, by exact type (a subclass, or an instance given its own
`call`, may change what the layer does, so it is left to the layer-by-layer
path), and the one fusion rule:

=====================  ======================================================
Conv2D + MaxPooling2D  the fused conv+pool kernel, where the training plan pairs
                       them (``_training.RULES``) and its geometry allows
                       (``_training.conv_pool_plan``)
Conv2D                 conv2d (channels-last), then its activation
MaxPooling2D           max_pool2d, 'valid' padding only
Dense                  the dense product, then its activation
Activation, ReLU       the activation alone
Flatten, Dropout       nothing: a reshape of contiguous data, and the identity
                       when not training
=====================  ======================================================

Any other layer, activation or padding gives no plan, and the model runs its
layers one by one.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from . import _nnfront, _training, nn
from .layers import (
    Activation,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    ReLU,
)

__all__ = ["forward_plan"]

# fc_step_op and fc_activation (csrc/include/fastconv/fastconv.h)
_CONV2D, _CONV2D_MAXPOOL, _MAXPOOL, _DENSE, _ACTIVATION = range(5)
_ACT = _training.ACT_CODES
_MAX_STEPS = 16  # _nnfront.ForwardPlan's

Step = tuple[Any, ...]


def forward_plan(model: Any, x: np.ndarray) -> Any:
    """The model's ``_nnfront.ForwardPlan`` for inputs like `x` (C-contiguous,
    the weights' dtype), or None where its layers have none: made once per
    sample shape and dtype and kept in ``model._plans``, which adding or
    removing a layer empties."""
    plans: dict[Any, Any] = model._plans
    key = (x.shape[1:], x.dtype)
    if key in plans:
        return plans[key]
    if len(plans) >= 4:
        plans.clear()
    plan = plans[key] = _make(model._layers, x.shape[1:], x.dtype)
    return plan


def _make(layers: Sequence[Layer], sample: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
    if not layers or dtype not in (np.float32, np.float64):
        return None
    if any(w.dtype != dtype for layer in layers for w in getattr(layer, "_weights", ())):
        return None
    if any("call" in vars(layer) for layer in layers):
        return None  # a layer whose call was replaced on the instance (a spy, a patch)
    steps: list[Step] = []
    probe = np.zeros((1, *sample), dtype=dtype)
    # the training plan's steps (_training.RULES decides which layers fuse), each
    # turned into the C chain's steps
    for part in _training.plan(layers, None).steps:
        if isinstance(part, _training.ConvPoolStep):
            conv: Any = part.conv
            fused = _training.conv_pool_plan(conv, part.pool, probe, False, {})
            act = _ACT.get(id(conv.activation))
            if fused is not None and act is not None:
                steps.append((_CONV2D_MAXPOOL, act, fused.conv.dims, fused.conv.opts, fused.pdims,
                              fused.popts, 0, 0, 0, conv))
                probe = np.zeros(fused.out_shape, dtype=dtype)
                continue
        for layer in part.layers:
            step = _step(layer, probe)
            if step is False:
                return None
            if step is not None:
                steps.append(step)
            shape = tuple(int(d) for d in layer.compute_output_shape(probe.shape[1:]))
            probe = np.zeros((1, *shape), dtype=dtype)
    if not steps or len(steps) > _MAX_STEPS:
        return None
    return _nnfront.ForwardPlan(steps, tuple(sample), tuple(probe.shape[1:]), dtype.name)


def _step(layer: Layer, probe: np.ndarray) -> Step | Literal[False] | None:
    """Layer's step for an input like `probe` (one sample), None for none (the
    identity), False where the plan cannot run it."""
    kind = type(layer)
    if kind in (Flatten, Dropout):
        return None
    if kind is MaxPooling2D:
        pool: Any = layer
        if probe.ndim != 4 or pool.padding != "valid":
            return False
        (kh, kw), (sh, sw) = pool.pool_size, pool.strides
        _, h, w, c = probe.shape
        oh, ow, _ = pool.compute_output_shape(probe.shape[1:])
        return (_MAXPOOL, 0, None, None, (1, c, h, w, oh, ow), (kh, kw, sh, sw, 1, 1, 0, 0), 0, 0, 0, None)
    act = _ACT.get(id(getattr(layer, "activation", None)))
    if act is None:
        return False
    rows, last = int(np.prod(probe.shape[1:-1])), probe.shape[-1]
    if kind in (Activation, ReLU):
        return None if act == 0 else (_ACTIVATION, act, None, None, None, None, rows, 0, last, None)
    if kind is Dense:
        k, m = layer._weights[0].shape
        return False if k != last else (_DENSE, act, None, None, None, None, rows, k, m, layer)
    if kind is Conv2D and probe.ndim == 4:
        opts: Any = layer._options()  # type: ignore[attr-defined]
        g = nn._conv_geometry("conv2d", probe, layer._weights[0], opts["stride"],  # type: ignore[attr-defined]
                              opts["padding"], opts["dilation"], opts["groups"], True)
        return (_CONV2D, act, g.dims, g.opts, None, None, 0, 0, 0, layer)
    return False
