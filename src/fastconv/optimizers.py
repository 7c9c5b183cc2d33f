"""Optimizers with Keras' names, defaults and update rules (in place, float32)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _kernels
from ._checks import c_aligned


class Optimizer:
    """``apply(params, grads)`` updates each array of `params` in place."""

    def __init__(self, learning_rate: float):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self._slots: dict[int, list[np.ndarray]] = {}
        self._done: set[int] = set()  # ids updated this step through fused_update

    def _state(self, i: int, p: np.ndarray, n: int) -> list[np.ndarray]:
        """The optimizer's slots (moments) for parameter array p, keyed by the array
        itself, as Keras keys them by variable."""
        slots = self._slots.get(i)
        if slots is None or slots[0].shape != p.shape:
            slots = self._slots[i] = [np.zeros_like(p) for _ in range(n)]
        return slots

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One step: updates every array of `params` in place, except those a layer
        already updated this step through `fused_update`."""
        if len(params) != len(grads):
            raise ValueError(f"apply: {len(params)} parameter arrays but {len(grads)} gradients")
        self.iterations += 1
        done, self._done = self._done, set()  # this step's fused updates, then none
        for p, g in zip(params, grads):
            if id(p) in done:
                continue
            if g is None or g.shape != p.shape:
                what = "no gradient" if g is None else f"a gradient of shape {g.shape}"
                raise ValueError(f"apply: {what} for a parameter of shape {p.shape}")
            self._update(id(p), p, g)

    def fused_update(self, p: np.ndarray):
        """For a layer that can apply this step's update to `p` inside the kernel that
        computes its gradient: the update's arguments (for Adam: the moments, alpha,
        beta_1, beta_2, epsilon), after which `apply` skips `p` this step; or None
        (the default, and for arrays the fused kernels cannot take) to leave `p` to
        `apply`. Exact only because these optimizers update each element from its
        own gradient alone (no clipping by a norm over all gradients)."""
        return None

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "learning_rate": self.learning_rate}


class SGD(Optimizer):
    """``keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, i, p, g):
        if self.momentum == 0:
            p -= self.learning_rate * g
            return
        (v,) = self._state(i, p, 1)
        v *= self.momentum
        v -= self.learning_rate * g
        if self.nesterov:
            p += self.momentum * v - self.learning_rate * g
        else:
            p += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


def _flush_subnormal(a: np.ndarray) -> None:
    """Moments below the smallest normal number in magnitude become +0, as the C Adam
    kernels store them (see csrc/ukernels/adam/adam-scalar.h)."""
    a[np.abs(a) < np.finfo(a.dtype).tiny] = 0


class Adam(Optimizer):
    """``keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)``.

    The moments are Keras' (``m += (g - m) * (1 - beta_1)``, ``v += (g*g - v) * (1 -
    beta_2)``, ``p -= alpha * m / (sqrt(v) + epsilon)``), except that a moment below
    the dtype's smallest normal number in magnitude is stored as zero, as TensorFlow's
    CPU kernels flush subnormals: the moment of a gradient that stays zero (a dead
    unit's) decays into the subnormals, where arithmetic can be a hundred times slower,
    and a step that small moves no weight."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _alpha(self, t: int) -> float:
        return self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)

    def fused_update(self, p):
        if p.dtype not in (np.float32, np.float64) or not p.flags.c_contiguous or p.ndim != 2:
            return None
        m, v = self._state(id(p), p, 2)
        self._done.add(id(p))
        return m, v, self._alpha(self.iterations + 1), self.beta_1, self.beta_2, self.epsilon

    def _update(self, i, p, g):
        m, v = self._state(i, p, 2)
        alpha = self._alpha(self.iterations)
        g = c_aligned(g, dtype=p.dtype)
        if p.flags.c_contiguous and p.dtype in (np.float32, np.float64):
            # one fused pass in C instead of ~10 NumPy passes with temporaries
            _kernels.adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                                 alpha, self.beta_1, self.beta_2, self.epsilon)
            return
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        _flush_subnormal(m)
        _flush_subnormal(v)
        p -= (alpha * m / (np.sqrt(v) + self.epsilon)).astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """``keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-7)`` (Keras'
    default optimizer in ``compile``): ``p -= lr * g / sqrt(v + epsilon)``, as Keras 3."""

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        super().__init__(learning_rate)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, i, p, g):
        (v,) = self._state(i, p, 1)
        v *= self.rho
        v += (1 - self.rho) * g * g
        p -= (self.learning_rate * g / np.sqrt(v + self.epsilon)).astype(p.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier: Any) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict):
        cls = {c.__name__: c for c in _BY_NAME.values()}.get(identifier.get("class_name"))
        if cls is not None:
            return cls(**{k: v for k, v in identifier.items() if k != "class_name"})
    raise ValueError(f"optimizer must be one of {', '.join(map(repr, _BY_NAME))} or an Optimizer, got {identifier!r}")
