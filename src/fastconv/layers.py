"""Keras-style layers on fastconv's kernels: channels-last (NHWC), float32.

Each layer stores and checks its hyperparameters in ``__init__``, creates its
weights once in ``build(input_shape)`` (shapes without the batch axis), runs
the forward pass in ``call(x, training)`` keeping what the backward pass needs,
and returns the input gradient from ``backward(grad)`` while leaving the weight
gradients in ``self.grads`` beside ``self.weights`` (same order; None for a
weight the optimizer already updated inside the backward pass, see Dense).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _kernels, activations, initializers, nn, utils
from ._checks import c_aligned, pair, positive_int

__all__ = ["Layer", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Activation", "ReLU"]

DTYPE = np.float32


class Layer:
    """Base class: name, weights/grads lists, build-once, config round trip."""

    _count: dict[str, int] = {}

    def __init__(self, name: str | None = None, input_shape=None, trainable: bool = True):
        prefix = _snake(type(self).__name__)
        if name is None:
            Layer._count[prefix] = Layer._count.get(prefix, 0) + 1
            n = Layer._count[prefix]
            name = prefix if n == 1 else f"{prefix}_{n - 1}"
        self.name = name
        self.trainable = trainable
        if isinstance(input_shape, (int, np.integer)):  # Keras takes Dense(2, input_shape=4)
            input_shape = (input_shape,)
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.weights: list[np.ndarray] = []
        self.grads: list[np.ndarray | None] = []
        self.built = False
        self.need_input_grad = True  # False for the first layer: nothing upstream to feed

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.input_shape = tuple(input_shape)
        self.built = True

    def weight_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Shapes of the weights `build(input_shape)` creates, without creating them."""
        return []

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def __call__(self, x, training: bool = False):
        x = np.asarray(x, dtype=DTYPE)
        if not self.built:
            self.build(x.shape[1:])
        return self.call(x, training=training)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("conv2_d", "conv2d").replace("max_pooling2_d", "max_pooling2d")


def _padding(padding: Any, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _need_4d(x: np.ndarray, layer: Layer) -> None:
    if x.ndim != 4:
        raise ValueError(
            f"{layer.name}: expects a batch of images (N, H, W, C), got an array of shape {x.shape}"
        )


# ---- Conv2D ----------------------------------------------------------------------------------


class _KernelLayer(Layer):
    """A layer with a kernel and an optional bias (Conv2D, Dense): their initialisers,
    seed and activation, and the weights built from `weight_shapes`."""

    def _init_weights(self, activation, use_bias, kernel_initializer, bias_initializer, seed):
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed

    def build(self, input_shape):
        shapes = self.weight_shapes(input_shape)
        self.weights = [self.kernel_initializer(shapes[0], DTYPE, self.seed)]
        if self.use_bias:
            self.weights.append(self.bias_initializer(shapes[1], DTYPE))
        self.grads = [None] * len(self.weights)
        super().build(input_shape)


class Conv2D(_KernelLayer):
    """2-D convolution over channels-last images, as ``keras.layers.Conv2D``.

    The kernel is (kh, kw, C/groups, filters), Keras' layout, so weights copied
    from a Keras model give the same outputs.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", "Conv2D")
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = pair(strides, "strides", "Conv2D")
        self.padding = _padding(padding, "Conv2D")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Conv2D: only data_format='channels_last' is supported, got {data_format!r}")
        self.dilation_rate = pair(dilation_rate, "dilation_rate", "Conv2D")
        self.groups = positive_int(groups, "groups", "Conv2D")
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: groups={self.groups} must divide filters={self.filters}")
        self._init_weights(activation, use_bias, kernel_initializer, bias_initializer, seed)

    def weight_shapes(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: input_shape must be (H, W, C), got {tuple(input_shape)}")
        c = input_shape[-1]
        if c % self.groups:
            raise ValueError(f"{self.name}: groups={self.groups} must divide the {c} input channels")
        kernel = (*self.kernel_size, c // self.groups, self.filters)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def _options(self):
        return dict(stride=self.strides, padding=self.padding, dilation=self.dilation_rate,
                    groups=self.groups, layout="NHWC")

    def call(self, x, training=False):
        _need_4d(x, self)
        z = nn.conv2d(x, self.weights[0], self.weights[1] if self.use_bias else None, **self._options())
        a = self.activation.forward(z)
        if training:
            self._cache = (x, z, a)
        return a

    # -- fused with the MaxPooling2D after it (Sequential's fast path) --

    def fused_plan(self, x: np.ndarray, pool: Layer | None, training: bool):
        """The plan for running this layer and `pool` as one fused kernel
        (``nn._conv2d_maxpool``), or None where that does not apply: `pool` must be a
        MaxPooling2D whose windows tile the output without overlap or padding, the
        activation must commute with max (linear or relu: relu(max z) = max relu(z),
        and the gradients agree), and training must not need this layer's input
        gradient (the fused backward gives the weight gradients only)."""
        if (not isinstance(pool, MaxPooling2D) or pool.padding != "valid"
                or pool.strides != pool.pool_size or (training and self.need_input_grad)
                or self.activation not in (activations.linear, activations.relu)
                or x.ndim != 4 or not (x.flags.c_contiguous and x.flags.aligned)
                or x.dtype != self.weights[0].dtype):
            return None
        # the geometry depends only on shapes and options: worked out once per shape
        key = (x.shape, self.weights[0].shape, pool.pool_size)
        plans = self.__dict__.setdefault("_plans", {})
        if key not in plans:
            if len(plans) > 8:
                plans.clear()
            plans[key] = nn._conv2d_maxpool_plan(x, self.weights[0], self.strides, self.padding,
                                                 self.dilation_rate, self.groups, pool.pool_size)
        return plans[key]

    def call_pooled(self, x, plan, training=False):
        """``pool(self(x))`` for the plan `fused_plan` gave: the convolution's output is
        pooled band by band in cache and never stored."""
        kernel = c_aligned(self.weights[0])
        bias = c_aligned(self.weights[1]) if self.use_bias else None
        zp, codes = nn._conv2d_maxpool(plan, x, kernel, bias, return_codes=training)
        a = self.activation.forward(zp)
        if training:
            self._cache = (x, zp, a, plan, codes)
        return a

    def backward_pooled(self, grad):
        """The weight gradients after `call_pooled`, from the pooled output's gradient."""
        x, zp, a, plan, codes = self._cache
        self._cache = None
        gz = self.activation.backward(grad, zp, a)
        gw, gb = nn._conv2d_maxpool_backward(plan, gz, x, codes, self.weights[0].shape, self.use_bias)
        self.grads = [gw, gb] if self.use_bias else [gw]
        return None

    @property
    def preactivation(self) -> np.ndarray:
        """The last training call's output before the activation."""
        return self._cache[1]

    def backward(self, grad, grad_is_preactivation=False):
        x, z, a = self._cache
        gz = grad if grad_is_preactivation else self.activation.backward(grad, z, a)
        gx, gw, gb = nn.conv2d_backward(gz, x, self.weights[0], **self._options(),
                                        output_mask=(self.need_input_grad, True, self.use_bias))
        self.grads = [gw, gb] if self.use_bias else [gw]
        self._cache = None
        return gx

    def compute_output_shape(self, input_shape):
        h, w, _ = input_shape
        out = []
        for n, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate):
            out.append(-(-n // s) if self.padding == "same" else (n - d * (k - 1) - 1) // s + 1)
        return (out[0], out[1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": self.activation.name, "use_bias": self.use_bias}


# ---- MaxPooling2D ----------------------------------------------------------------------------


class MaxPooling2D(Layer):
    """2-D max pooling over channels-last images, as ``keras.layers.MaxPooling2D``
    (``padding='same'`` gives ceil(H / stride) outputs, the odd pad at the end)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = pair(pool_size, "pool_size", "MaxPooling2D")
        self.strides = self.pool_size if strides is None else pair(strides, "strides", "MaxPooling2D")
        self.padding = _padding(padding, "MaxPooling2D")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"MaxPooling2D: only data_format='channels_last' is supported, got {data_format!r}")

    def _plan(self, h: int, w: int) -> tuple[dict, tuple[int, int, int, int] | None]:
        """Keras' output grid as PyTorch-style arguments (symmetric padding of the
        TensorFlow start pad, ceil_mode where the last window hangs over the end),
        or, where no such arguments give that grid, explicit -inf padding
        (top, bottom, left, right) around a 'valid' pooling."""
        if self.padding == "valid":
            return dict(padding=0, ceil_mode=False), None
        pads, totals, ceil = [], [], False
        for n, k, s in zip((h, w), self.pool_size, self.strides):
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads.append(total // 2)
            totals.append(total)
            ceil = ceil or (n + 2 * (total // 2) - k) // s + 1 < out
        opts = dict(padding=tuple(pads), ceil_mode=ceil)
        shape = [nn._pool_out(n, k, s, p, 1, ceil) for n, k, s, p in zip((h, w), self.pool_size, self.strides, pads)]
        if shape == [-(-h // self.strides[0]), -(-w // self.strides[1])]:
            return opts, None
        (th, tw) = totals
        return dict(padding=0, ceil_mode=False), (th // 2, th - th // 2, tw // 2, tw - tw // 2)

    def call(self, x, training=False):
        _need_4d(x, self)
        opts, pad = self._plan(x.shape[1], x.shape[2])
        src = x
        if pad is not None:
            top, bottom, left, right = pad
            src = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
        y, idx = nn.max_pool2d(src, self.pool_size, self.strides, layout="NHWC", return_indices=True, **opts)
        if training:
            self._cache = (src, idx, opts, pad)
        return y

    def backward(self, grad):
        src, idx, opts, pad = self._cache
        self._cache = None
        if not self.need_input_grad:
            return None
        g = nn.max_pool2d_backward(grad, src, idx, self.pool_size, self.strides, layout="NHWC", **opts)
        if pad is not None:
            top, bottom, left, right = pad
            g = g[:, top:g.shape[1] - bottom, left:g.shape[2] - right]
        return g

    def compute_output_shape(self, input_shape):
        h, w, c = input_shape
        if self.padding == "same":
            return (-(-h // self.strides[0]), -(-w // self.strides[1]), c)
        return ((h - self.pool_size[0]) // self.strides[0] + 1, (w - self.pool_size[1]) // self.strides[1] + 1, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


# ---- Flatten, Dense, Dropout, Activation -------------------------------------------------------


class Flatten(Layer):
    """Flattens each sample in row-major (channels-last) order, as Keras does."""

    def call(self, x, training=False):
        if training:
            self._cache = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad):
        shape, self._cache = self._cache, None
        return grad.reshape(shape) if self.need_input_grad else None

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)


class Dense(_KernelLayer):
    """Fully connected layer, ``activation(x @ kernel + bias)``, kernel (in, units).

    The three products (forward, input and kernel gradients) run on fastconv's
    GEMM microkernels, which read the kernel in place and pack only the small
    batch-sized operand (csrc/ops/dense-impl.h). While a Sequential model
    trains with Adam, backward applies the kernel's update itself, in one sweep
    over the kernel's rows with the two gradient products (the same arithmetic
    as the optimizer's own pass); the kernel's entry in `grads` is then None,
    as its gradient never left the cache."""

    # Set by Sequential while it trains: the optimizer's `fused_update`, so that
    # backward can apply the step to the kernel as it computes the kernel gradient.
    fused_update = None

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", "Dense")
        self._init_weights(activation, use_bias, kernel_initializer, bias_initializer, seed)

    def weight_shapes(self, input_shape):
        kernel = (input_shape[-1], self.units)
        return [kernel, (self.units,)] if self.use_bias else [kernel]

    def call(self, x, training=False):
        kernel = self.weights[0]
        if x.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"{self.name}: expects {kernel.shape[0]} input features, got shape {x.shape}"
            )
        x2 = c_aligned(x.reshape(-1, x.shape[-1]))
        z = np.empty((len(x2), self.units), dtype=kernel.dtype)
        _kernels.dense(x2, kernel, self.weights[1] if self.use_bias else None, z)
        z = z.reshape(*x.shape[:-1], self.units)
        a = self.activation.forward(z)
        if training:
            self._cache = (x2, z, a)
        return a

    @property
    def preactivation(self) -> np.ndarray:
        """The last training call's output before the activation."""
        return self._cache[1]

    def backward(self, grad, grad_is_preactivation=False):
        x2, z, a = self._cache
        self._cache = None
        gz = grad if grad_is_preactivation else self.activation.backward(grad, z, a)
        g2 = c_aligned(gz.reshape(-1, self.units), dtype=DTYPE)
        kernel = self.weights[0]
        gx = np.empty(x2.shape, dtype=kernel.dtype) if self.need_input_grad else None
        fused = self.fused_update(kernel) if self.fused_update and self.trainable else None
        if fused is not None:
            # the optimizer's step on the kernel in the same sweep over its rows; the
            # kernel gradient stays in cache (grads holds None for it this step)
            _kernels.dense_backward_adam(g2, x2, kernel, gx, None, *fused)
            kernel_grad = None
        else:
            # the kernel gradient is as large as the kernel: reuse one buffer rather
            # than allocating (and page-faulting) megabytes every step
            if getattr(self, "_kernel_grad", None) is None or self._kernel_grad.shape != kernel.shape:
                self._kernel_grad = np.empty(kernel.shape, dtype=kernel.dtype)
            _kernels.dense_backward(g2, x2, kernel, gx, self._kernel_grad)
            kernel_grad = self._kernel_grad
        self.grads = [kernel_grad] + ([g2.sum(axis=0)] if self.use_bias else [])
        return None if gx is None else gx.reshape(*z.shape[:-1], x2.shape[-1])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias}


class Dropout(Layer):
    """Zeroes a fraction `rate` of the inputs while training, scaling the rest by
    1 / (1 - rate); the identity at inference, as ``keras.layers.Dropout``."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported")
        self.rate = float(rate)
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0:
            self._cache = None
            return x
        gen = self._rng or utils.rng()
        mask = (gen.random(x.shape, dtype=np.float32) >= self.rate).astype(x.dtype)
        mask *= 1.0 / (1.0 - self.rate)
        self._cache = mask
        return x * mask

    def backward(self, grad):
        mask, self._cache = self._cache, None
        if not self.need_input_grad:
            return None
        return grad if mask is None else grad * mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class Activation(Layer):
    """Applies an activation ('relu', 'softmax', 'linear' or fastconv.nn.relu/softmax)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x, training=False):
        a = self.activation.forward(x)
        if training:
            self._cache = (x, a)
        return a

    @property
    def preactivation(self) -> np.ndarray:
        return self._cache[0]

    def backward(self, grad, grad_is_preactivation=False):
        x, a = self._cache
        self._cache = None
        if not self.need_input_grad:
            return None
        return grad if grad_is_preactivation else self.activation.backward(grad, x, a)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class ReLU(Activation):
    """``keras.layers.ReLU()`` with its defaults (no max_value, slope or threshold)."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if max_value is not None or negative_slope != 0 or threshold != 0:
            raise ValueError("ReLU: only max_value=None, negative_slope=0, threshold=0 are supported")
        super().__init__("relu", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config


LAYERS = {cls.__name__: cls for cls in (Conv2D, MaxPooling2D, Flatten, Dense, Dropout, Activation, ReLU)}
