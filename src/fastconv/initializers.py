"""Weight initialisers with Keras' names and defaults."""
from __future__ import annotations

from collections.abc import Sequence
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
    """Base class: ``initializer(shape, dtype, seed)`` returns a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.initializers import Ones
    >>> Ones()((2,), np.float32)
    array([1., 1.], dtype=float32)
    """

    def __call__(self, shape: Sequence[int], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> npt.NDArray[Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The class name, JSON-ready.

        Examples
        --------
        >>> from fastconv.initializers import Zeros
        >>> Zeros().get_config()
        {'class_name': 'Zeros'}
        """
        return {"class_name": type(self).__name__}


class GlorotUniform(Initializer):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)), as
    ``keras.initializers.GlorotUniform`` (Keras' default for kernels). Without
    a seed, the shared generator (`fastconv.utils.set_random_seed`) draws.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.initializers import GlorotUniform
    >>> w = GlorotUniform()((100, 50), np.float32, seed=0)
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 150)), w.dtype
    (True, dtype('float32'))
    """

    def __call__(self, shape: Sequence[int], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> npt.NDArray[Any]:
        fan_in, fan_out = _fans(tuple(shape))
        limit = np.sqrt(6.0 / max(1, fan_in + fan_out))
        return utils.rng(seed).uniform(-limit, limit, size=tuple(shape)).astype(dtype)


class Zeros(Initializer):
    """All zeros (Keras' default for biases).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.initializers import Zeros
    >>> Zeros()((3,), np.float32)
    array([0., 0., 0.], dtype=float32)
    """

    def __call__(self, shape: Sequence[int], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> npt.NDArray[Any]:
        return np.zeros(tuple(shape), dtype=dtype)


class Ones(Initializer):
    """All ones.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.initializers import Ones
    >>> Ones()((1, 2), np.float32)
    array([[1., 1.]], dtype=float32)
    """

    def __call__(self, shape: Sequence[int], dtype: npt.DTypeLike = np.float32,
                 seed: int | None = None) -> npt.NDArray[Any]:
        return np.ones(tuple(shape), dtype=dtype)


_BY_NAME: dict[str, type[Initializer]] = {"glorot_uniform": GlorotUniform, "zeros": Zeros, "ones": Ones}


def get(identifier: str | Initializer | dict[str, Any]) -> Initializer:
    """The initialiser for a name ('glorot_uniform', 'zeros', 'ones'), an
    instance (returned as is) or a `get_config` dictionary.

    Parameters
    ----------
    identifier : str, Initializer or dict
        What a layer's ``kernel_initializer=`` or ``bias_initializer=`` holds.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        For anything else, listing the names accepted.

    Examples
    --------
    >>> from fastconv import initializers
    >>> type(initializers.get("glorot_uniform")).__name__
    'GlorotUniform'
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in {c.__name__ for c in _BY_NAME.values()}:
        return next(c for c in _BY_NAME.values() if c.__name__ == identifier["class_name"])()
    raise ValueError(f"initializer must be one of {', '.join(map(repr, _BY_NAME))}, got {identifier!r}")
