"""Activation functions of the model layer: each a forward and the gradient through it."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import _kernels, nn


class Activation:
    """One activation: ``forward(z) -> a`` and ``backward(grad_a, z, a) -> grad_z``."""

    name = "linear"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z

    def backward(self, grad: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return grad

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def _own(a: np.ndarray) -> bool:
    """An array the layers made: C-contiguous, aligned, float32/float64 (the model's
    own activations and gradients), which can go to the kernels without the public
    functions' conversions."""
    return (type(a) is np.ndarray and a.dtype in _FLOATS and a.flags.c_contiguous
            and a.flags.aligned)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _ReLU(Activation):
    name = "relu"

    def forward(self, z):
        return nn.relu(z)

    def backward(self, grad, z, a):
        if not (_own(grad) and _own(z) and grad.dtype == z.dtype and grad.shape == z.shape):
            return nn.relu_backward(grad, z)
        gz = np.empty_like(z)
        _kernels.relu_backward(grad.reshape(-1), z.reshape(-1), gz.reshape(-1))
        return gz


class _Softmax(Activation):
    name = "softmax"

    def forward(self, z):
        return nn.softmax(z, axis=-1)

    def backward(self, grad, z, a):
        # Jacobian-vector product of softmax: a * (g - sum(g * a))
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))


linear = Activation()
relu = _ReLU()
softmax = _Softmax()
_BY_NAME = {"linear": linear, "relu": relu, "softmax": softmax}
_BY_FUNCTION: dict[Callable[..., Any], Activation] = {nn.relu: relu, nn.softmax: softmax}


def get(identifier: Any) -> Activation:
    """The activation for None, a name ('relu', 'softmax', 'linear'), an
    `Activation`, or one of the functions ``fastconv.nn.relu`` / ``fastconv.nn.softmax``."""
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]
        raise ValueError(
            f"activation must be one of {', '.join(map(repr, _BY_NAME))}, got {identifier!r}"
        )
    if callable(identifier) and identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]
    raise ValueError(
        "activation must be None, a name ('relu', 'softmax', 'linear') or "
        f"fastconv.nn.relu / fastconv.nn.softmax, got {identifier!r}"
    )
