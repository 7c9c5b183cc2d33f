"""Activation functions of the model layer: each a forward and the gradient through it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import nn

__all__ = ["Activation", "get", "linear", "relu", "softmax"]

Array = npt.NDArray[Any]


class Activation:
    """One activation: ``forward(z) -> a`` and ``backward(grad_a, z, a) -> grad_z``.

    The base class is the identity ('linear'); `relu` and `softmax` are the
    module's other instances. Layers take them by name through `get`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import activations
    >>> activations.relu.forward(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> activations.linear.name
    'linear'
    """

    name = "linear"

    def forward(self, z: Array) -> Array:
        """The activation of `z` (a new array).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv import activations
        >>> activations.softmax.forward(np.zeros(2))
        array([0.5, 0.5])
        """
        return z

    def backward(self, grad: Array, z: Array, a: Array) -> Array:
        """The gradient with respect to `z` from `grad`, the gradient with respect
        to ``a = forward(z)``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv import activations
        >>> z = np.array([-1.0, 2.0])
        >>> activations.relu.backward(np.ones(2), z, activations.relu.forward(z))
        array([0., 1.])
        """
        return grad

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def _own(a: Array) -> bool:
    """An array the layers made: C-contiguous, aligned, float32/float64 (the model's
    own activations and gradients), which can go to the kernels without the public
    functions' conversions."""
    return (type(a) is np.ndarray and a.dtype in _FLOATS and a.flags.c_contiguous
            and a.flags.aligned)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _ReLU(Activation):
    """``max(z, 0)`` (:func:`fastconv.relu`); the gradient passes where ``z > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import activations
    >>> z = np.array([-1.0, 0.0, 3.0])
    >>> activations.relu.backward(np.array([5.0, 5.0, 5.0]), z, activations.relu.forward(z))
    array([0., 0., 5.])
    """

    name = "relu"

    def forward(self, z: Array) -> Array:
        out: Array = nn.relu(z)
        return out

    def backward(self, grad: Array, z: Array, a: Array) -> Array:
        if not (_own(grad) and _own(z) and grad.dtype == z.dtype and grad.shape == z.shape):
            return nn.relu_backward(grad, z)
        return nn._relu_backward(grad, z)


class _Softmax(Activation):
    """Softmax over the last axis (:func:`fastconv.nn.softmax`); its gradient is
    the Jacobian-vector product.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import activations
    >>> activations.softmax.forward(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """

    name = "softmax"

    def forward(self, z: Array) -> Array:
        # the model's own arrays go to the C kernel the one-call inference pass
        # runs too (csrc/ops/softmax-template.h), so both give the same bits
        out = nn._softmax(z) if _own(z) else None
        return nn.softmax(z, axis=-1) if out is None else out

    def backward(self, grad: Array, z: Array, a: Array) -> Array:
        # Jacobian-vector product of softmax: a * (g - sum(g * a))
        out: Array = a * (grad - (grad * a).sum(axis=-1, keepdims=True))
        return out


linear = Activation()
relu = _ReLU()
softmax = _Softmax()
_BY_NAME = {"linear": linear, "relu": relu, "softmax": softmax}
_BY_FUNCTION: dict[Callable[..., Any], Activation] = {nn.relu: relu, nn.softmax: softmax}


def get(identifier: str | Activation | Callable[..., Any] | None) -> Activation:
    """The activation for None (linear), a name ('relu', 'softmax', 'linear'),
    an `Activation`, or one of the functions ``fastconv.nn.relu`` /
    ``fastconv.nn.softmax`` (what ``tf.nn.relu`` becomes).

    Parameters
    ----------
    identifier : None, str, Activation or callable
        What a layer's ``activation=`` argument holds.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For anything else, listing what is accepted.

    Examples
    --------
    >>> import fastconv
    >>> from fastconv import activations
    >>> activations.get(fastconv.nn.relu) is activations.get("relu") is activations.relu
    True
    """
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
