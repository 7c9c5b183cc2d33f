"""Weight initialisers with Keras' names and defaults."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import utils


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras' fan-in and fan-out: (in, out) for a dense kernel; for a conv kernel
    (kh, kw, cin, cout), cin and cout times the receptive field kh * kw."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, dtype=np.float32, seed: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__}


class GlorotUniform(Initializer):
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""

    def __call__(self, shape, dtype=np.float32, seed=None):
        fan_in, fan_out = _fans(tuple(shape))
        limit = np.sqrt(6.0 / max(1, fan_in + fan_out))
        return utils.rng(seed).uniform(-limit, limit, size=shape).astype(dtype)


class Zeros(Initializer):
    def __call__(self, shape, dtype=np.float32, seed=None):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=np.float32, seed=None):
        return np.ones(shape, dtype=dtype)


_BY_NAME = {"glorot_uniform": GlorotUniform, "zeros": Zeros, "ones": Ones}


def get(identifier: Any) -> Initializer:
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in {c.__name__ for c in _BY_NAME.values()}:
        return next(c for c in _BY_NAME.values() if c.__name__ == identifier["class_name"])()
    raise ValueError(f"initializer must be one of {', '.join(map(repr, _BY_NAME))}, got {identifier!r}")
