"""Weight initialisers with Keras' names and defaults."""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import utils

__all__ = ["GlorotUniform", "Initializer", "Ones", "Zeros", "get"]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras' fan-in and fan-out: (in, out) for a dense kernel; for a conv kernel
    (kh, kw, cin, cout), cin and cout times the receptive field kh * kw."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: calling an initialiser returns a new array of weights.

    Subclasses define ``__call__(shape, dtype=np.float32, seed=None)``.

    Examples
    --------
    >>> from fastconv import initializers
    >>> isinstance(initializers.get("zeros"), initializers.Initializer)
    True
    """

    def __call__(self, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> np.ndarray:
        """New weights of `shape` and `dtype`.

        Parameters
        ----------
        shape : tuple of int
            The weight's shape, in Keras' layout.
        dtype : dtype, optional
            float32 by default.
        seed : int, optional
            A seed of this call's own; default: fastconv's shared generator
            (:func:`fastconv.utils.set_random_seed` seeds it).

        Returns
        -------
        ndarray
        """
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The initialiser as JSON-able data (``{"class_name": ...}``).

        Returns
        -------
        dict
        """
        return {"class_name": type(self).__name__}


class GlorotUniform(Initializer):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)): Keras'
    default kernel initialiser.

    Fan-in and fan-out are Keras': (in, out) for a dense kernel, and for a
    convolution kernel (kh, kw, cin, cout) cin and cout times kh * kw.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.initializers import GlorotUniform
    >>> w = GlorotUniform()((3, 3, 1, 28), seed=0)
    >>> w.shape, w.dtype
    ((3, 3, 1, 28), dtype('float32'))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / (9 * 1 + 9 * 28)))
    True
    """

    def __call__(self, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> np.ndarray:
        fan_in, fan_out = _fans(tuple(shape))
        limit = np.sqrt(6.0 / max(1, fan_in + fan_out))
        return utils.rng(seed).uniform(-limit, limit, size=shape).astype(dtype)


class Zeros(Initializer):
    """All zeros: Keras' default bias initialiser.

    Examples
    --------
    >>> from fastconv.initializers import Zeros
    >>> Zeros()((2,))
    array([0., 0.], dtype=float32)
    """

    def __call__(self, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones.

    Examples
    --------
    >>> from fastconv.initializers import Ones
    >>> Ones()((2,), dtype="float64")
    array([1., 1.])
    """

    def __call__(self, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> np.ndarray:
        return np.ones(shape, dtype=dtype)


_BY_NAME = {"glorot_uniform": GlorotUniform, "zeros": Zeros, "ones": Ones}


def get(identifier: Any) -> Initializer:
    """The initialiser a layer's ``kernel_initializer=`` or ``bias_initializer=`` names.

    Parameters
    ----------
    identifier : str, dict or Initializer
        ``"glorot_uniform"``, ``"zeros"``, ``"ones"``; a dict as
        :meth:`Initializer.get_config` returns it; or an initialiser.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        For any other value; the message lists the names accepted.

    Examples
    --------
    >>> from fastconv import initializers
    >>> initializers.get("glorot_uniform")  # doctest: +ELLIPSIS
    <fastconv.initializers.GlorotUniform object at ...>
    >>> initializers.get({"class_name": "Zeros"}).get_config()
    {'class_name': 'Zeros'}
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in {c.__name__ for c in _BY_NAME.values()}:
        return next(c for c in _BY_NAME.values() if c.__name__ == identifier["class_name"])()
    raise ValueError(f"initializer must be one of {', '.join(map(repr, _BY_NAME))}, got {identifier!r}")
