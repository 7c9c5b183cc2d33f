"""Activation functions of the model layer: each a forward and the gradient through it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _kernels, nn

__all__ = ["Activation", "get", "linear", "relu", "softmax"]


class Activation:
    """An activation function of the model layer, with the gradient through it.

    The base class is the identity (``linear``); :data:`relu` and
    :data:`softmax` are the others. Layers take one by name
    (``activation="relu"``) through :func:`get`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import activations
    >>> z = np.array([[-1.0, 2.0]])
    >>> activations.linear.forward(z)
    array([[-1.,  2.]])
    >>> activations.linear.backward(np.ones_like(z), z, z)
    array([[1., 1.]])
    """

    name = "linear"

    def forward(self, z: np.ndarray) -> np.ndarray:
        """The activation of the pre-activation `z`.

        Parameters
        ----------
        z : ndarray
            A layer's output before the activation.

        Returns
        -------
        ndarray
            ``a``, the shape and dtype of `z`.
        """
        return z

    def backward(self, grad: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The gradient with respect to `z`, given that with respect to ``a``.

        Parameters
        ----------
        grad : ndarray
            dL/da.
        z : ndarray
            The pre-activation `forward` was given.
        a : ndarray
            What `forward` returned for `z`.

        Returns
        -------
        ndarray
            dL/dz, the shape of `z`.
        """
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
    """``max(z, 0)`` (:func:`fastconv.relu`); the gradient passes where ``z > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import activations
    >>> z = np.array([-1.0, 0.0, 3.0])
    >>> activations.relu.forward(z)
    array([0., 0., 3.])
    >>> activations.relu.backward(np.array([5.0, 5.0, 5.0]), z, activations.relu.forward(z))
    array([0., 0., 5.])
    """

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
    """Softmax over the last axis (:func:`fastconv.nn.softmax`), with its
    Jacobian-vector product as the gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import activations
    >>> activations.softmax.forward(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """

    name = "softmax"

    def forward(self, z):
        return nn.softmax(z, axis=-1)

    def backward(self, grad, z, a):
        # Jacobian-vector product of softmax: a * (g - sum(g * a))
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))


# The three activations; each is documented by its class's docstring.
linear = Activation()
relu = _ReLU()
softmax = _Softmax()
_BY_NAME = {"linear": linear, "relu": relu, "softmax": softmax}
_BY_FUNCTION: dict[Callable[..., Any], Activation] = {nn.relu: relu, nn.softmax: softmax}


def get(identifier: Any) -> Activation:
    """The activation a layer's ``activation=`` argument names.

    Parameters
    ----------
    identifier : None, str, Activation or callable
        None (linear), ``"linear"``, ``"relu"``, ``"softmax"``, an
        `Activation`, or one of the functions :func:`fastconv.nn.relu` and
        :func:`fastconv.nn.softmax` (what ``tf.nn.relu`` and ``tf.nn.softmax``
        become in a Keras program).

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For any other value; the message lists those accepted.

    Examples
    --------
    >>> import fastconv
    >>> from fastconv import activations
    >>> activations.get("relu") is activations.get(fastconv.nn.relu) is activations.relu
    True
    >>> activations.get(None)
    <activation linear>
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
