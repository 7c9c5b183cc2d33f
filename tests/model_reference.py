"""Shared by the tests of fastconv's model layer (test_layers.py, test_losses.py,
test_optimizers.py, test_models.py): the comparison helper for the model layer's
results, references written from the Keras/TensorFlow definitions through PyTorch and
NumPy, and small models that both fastconv and the torch reference are built from.
The references call PyTorch and NumPy only."""
from __future__ import annotations

import math

import numpy as np
import reference as ref
import torch
import torch.nn.functional as F
from reference import assert_close

from fastconv import _kernels
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fastconv.models import Sequential


def close(got, want, what, dtype=np.float32, **tol):
    """The shared comparison (reference.assert_close) for results of the model layer."""
    assert_close(np.asarray(got), want, op=what, isa=_kernels.current_isa(), dtype=dtype, **tol)


def t64(a) -> torch.Tensor:
    """A float64 torch copy (never a view: torch optimizers write in place)."""
    return torch.from_numpy(np.array(a, dtype=np.float64))


def built(layer, input_shape):
    """`layer` built for `input_shape` (no batch axis), its weights replaced by
    random values so that biases are not all zero."""
    layer.build(tuple(input_shape))
    rng = np.random.default_rng(20240607)
    for w in layer.weights:
        w[...] = rng.uniform(-0.5, 0.5, w.shape)
    return layer


# ---- references written from the Keras/TensorFlow definitions ------------------------------


def torch_conv_nhwc(x, kernel, bias, strides, padding, dilation):
    """keras Conv2D (channels-last) through torch: kernel (kh, kw, cin, cout) ->
    (cout, cin, kh, kw); 'same' pads TensorFlow's way (the odd pixel at the end)."""
    xt = t64(x).permute(0, 3, 1, 2)
    wt = t64(kernel).permute(3, 2, 0, 1)
    if padding == "same":
        (top, bottom), _ = ref.tf_same_padding(x.shape[1], kernel.shape[0], strides[0], dilation[0])
        (left, right), _ = ref.tf_same_padding(x.shape[2], kernel.shape[1], strides[1], dilation[1])
        xt = F.pad(xt, (left, right, top, bottom))
    y = F.conv2d(xt, wt, None if bias is None else t64(bias), stride=strides, dilation=dilation)
    return y.permute(0, 2, 3, 1)


def torch_activation(z: torch.Tensor, name: str) -> torch.Tensor:
    return {"relu": torch.relu, "softmax": lambda t: torch.softmax(t, dim=-1),
            "linear": lambda t: t, None: lambda t: t}[name](z)


def tf_pool_geometry(n, k, s, padding):
    """(pad_before, pad_after, out) of TensorFlow's max pooling along one axis."""
    if padding == "valid":
        return 0, 0, (n - k) // s + 1
    (before, after), out = ref.tf_same_padding(n, k, s, 1)
    return before, after, out


def numpy_max_pool_nhwc(x, pool, strides, padding):
    """TensorFlow's MaxPool2D on NHWC: pad with -inf by the rule above, then the
    maximum of every window; also each output's argmax position in x."""
    n, h, w, c = x.shape
    top, bottom, oh = tf_pool_geometry(h, pool[0], strides[0], padding)
    left, right, ow = tf_pool_geometry(w, pool[1], strides[1], padding)
    xp = np.full((n, top + h + bottom, left + w + right, c), -np.inf)
    xp[:, top:top + h, left:left + w] = x
    y = np.empty((n, oh, ow, c))
    arg = np.empty((n, oh, ow, c, 2), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * strides[0]:i * strides[0] + pool[0], j * strides[1]:j * strides[1] + pool[1]]
            flat = win.reshape(n, -1, c)
            y[:, i, j] = flat.max(axis=1)
            a = flat.argmax(axis=1)
            arg[:, i, j, :, 0] = i * strides[0] + a // pool[1] - top
            arg[:, i, j, :, 1] = j * strides[1] + a % pool[1] - left
    return y, arg


# ---- small models: a spec both fastconv and the torch reference are built from ----------------

INPUT_SHAPE = (9, 10, 2)
ARCHS = {
    # the lecture's stack in miniature
    "lecture": [("conv", dict(filters=4, kernel_size=(3, 3))), ("pool", dict(pool_size=(2, 2))),
                ("flatten", {}), ("dense", dict(units=6, activation="relu")),
                ("dropout", dict(rate=0.0)), ("dense", dict(units=5, activation="softmax"))],
    # 'same' padding, strides, overlapping pool windows, relu in the conv
    "same-strided": [("conv", dict(filters=3, kernel_size=(3, 2), strides=(2, 1), padding="same",
                                   activation="relu")),
                     ("pool", dict(pool_size=(3, 3), strides=(2, 2), padding="same")),
                     ("flatten", {}), ("dense", dict(units=7, activation="relu")),
                     ("dense", dict(units=4, activation="softmax"))],
}
LAYER_CLASS = {"conv": Conv2D, "pool": MaxPooling2D, "flatten": Flatten, "dense": Dense, "dropout": Dropout}


def make_model(arch, seed=0, last_activation=None, input_shape=INPUT_SHAPE):
    """The fastconv model of `arch`, weights drawn from a seeded generator (biases too)."""
    model = Sequential()
    spec = ARCHS[arch]
    for i, (kind, kwargs) in enumerate(spec):
        kwargs = dict(kwargs)
        if i == len(spec) - 1 and last_activation is not None:
            kwargs["activation"] = last_activation
        if i == 0:
            kwargs["input_shape"] = input_shape
        model.add(LAYER_CLASS[kind](**kwargs))
    gen = np.random.default_rng(seed)
    model.set_weights([gen.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def torch_forward(arch, weights, x, last_activation=None):
    """The same network in torch, float64, on NHWC input; weights in Keras order.
    Returns (logits, output)."""
    ws = iter([w if isinstance(w, torch.Tensor) else t64(w) for w in weights])
    h = t64(x).permute(0, 3, 1, 2)  # NCHW until the Flatten
    flattened = False
    z = None
    spec = ARCHS[arch]
    for i, (kind, kw) in enumerate(spec):
        act = kw.get("activation")
        if i == len(spec) - 1 and last_activation is not None:
            act = last_activation
        if kind == "conv":
            k, b = next(ws), next(ws)
            strides = ref._pair(kw.get("strides", 1))
            if kw.get("padding", "valid") == "same":
                (t, bo), _ = ref.tf_same_padding(h.shape[2], k.shape[0], strides[0], 1)
                (le, ri), _ = ref.tf_same_padding(h.shape[3], k.shape[1], strides[1], 1)
                h = F.pad(h, (le, ri, t, bo))
            z = F.conv2d(h, k.permute(3, 2, 0, 1), b, stride=strides)
            h = torch_activation(z, act) if act != "softmax" else torch.softmax(z, dim=1)
        elif kind == "pool":
            pool = ref._pair(kw["pool_size"])
            strides = ref._pair(kw.get("strides") or pool)
            (t, bo, _), (le, ri, _) = (tf_pool_geometry(h.shape[2], pool[0], strides[0], kw.get("padding", "valid")),
                                       tf_pool_geometry(h.shape[3], pool[1], strides[1], kw.get("padding", "valid")))
            h = F.max_pool2d(F.pad(h, (le, ri, t, bo), value=-math.inf), pool, strides)
        elif kind == "flatten":
            h = h.permute(0, 2, 3, 1).reshape(len(h), -1)  # channels-last order, as Keras
            flattened = True
        elif kind == "dense":
            k, b = next(ws), next(ws)
            z = h @ k + b
            h = torch_activation(z, act)
        elif kind == "dropout":
            pass
    assert flattened
    return z, h


def model_inputs(n=6, seed=1, classes=5):
    gen = np.random.default_rng(seed)
    return gen.standard_normal((n, *INPUT_SHAPE)).astype(np.float32), gen.integers(0, classes, n)


def capture_grads(model, monkeypatch):
    """Replace the optimizer's apply by a recorder: the gradients of the next step,
    weights left as they are."""
    seen = []
    monkeypatch.setattr(model.optimizer, "apply",
                        lambda params, grads, skip=(): seen.append([g.copy() for g in grads]))
    return seen
