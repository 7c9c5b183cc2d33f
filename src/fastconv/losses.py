"""Cross-entropy losses with Keras' names: mean over the batch, stable gradients."""
from __future__ import annotations

from typing import Any

import numpy as np

_EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class Loss:
    """``value(y_true, out)`` and ``gradient(y_true, out)`` (d mean-loss / d out).

    `out` is the model's output: probabilities (``from_logits=False``) or
    logits. ``value_from_logits`` / ``gradient_from_logits`` serve a model whose
    last layer is a softmax: they use log-softmax of the logits, so no
    probability is ever clipped or divided by.

    Each takes an optional `sample_weight`, one weight per sample (shape (N,)):
    the loss is then ``sum(w * loss) / N``, the batch size dividing and not the
    weights' sum, as Keras' default reduction ("sum_over_batch_size") does."""

    name = "loss"
    sparse = False

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def _one_hot(self, y_true: np.ndarray, n_classes: int, dtype, rows: int) -> np.ndarray:
        if not self.sparse:
            y = np.asarray(y_true, dtype=dtype)
            if y.shape[-1] != n_classes:
                raise ValueError(
                    f"{self.name}: y has shape {y.shape} but the model predicts {n_classes} classes"
                )
            return y.reshape(-1, n_classes)
        given = np.asarray(y_true)
        labels = given.reshape(-1)
        if labels.size != rows:
            hint = ("; y looks one-hot: use 'categorical_crossentropy', or pass class indices "
                    "(y.argmax(-1))" if given.ndim >= 2 and given.shape[-1] == n_classes > 1 else "")
            raise ValueError(f"{self.name}: y has shape {given.shape}, one class index per sample "
                             f"expected ({rows} samples){hint}")
        if labels.dtype.kind == "f":
            if not np.all(labels == np.round(labels)):
                raise ValueError(f"{self.name}: sparse labels must be whole numbers")
            labels = labels.astype(np.int64)
        if labels.dtype.kind not in "iub":
            raise TypeError(f"{self.name}: labels must be integers, got dtype {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(
                f"{self.name}: labels must lie in [0, {n_classes}), got {labels.min()}..{labels.max()}"
            )
        y = np.zeros((labels.size, n_classes), dtype=dtype)
        y[np.arange(labels.size), labels] = 1
        return y

    @staticmethod
    def _sum(y: np.ndarray, logp: np.ndarray, w: np.ndarray | None) -> float:
        """-sum(y * logp) over all samples, each weighted by w when given."""
        if w is None:
            return -(y * logp).sum()
        return -((y * logp).sum(axis=-1) * _weights(w, len(y), logp.dtype)).sum()

    def value_from_logits(self, y_true, z, sample_weight=None):
        y = self._one_hot(y_true, z.shape[-1], z.dtype, z.size // max(1, z.shape[-1]))
        return float(self._sum(y, _log_softmax(z.reshape(y.shape)), sample_weight) / max(1, len(y)))

    def gradient_from_logits(self, y_true, z, sample_weight=None):
        y = self._one_hot(y_true, z.shape[-1], z.dtype, z.size // max(1, z.shape[-1]))
        p = np.exp(_log_softmax(z.reshape(y.shape)))
        return _scaled(p - y, sample_weight, z)

    def value_and_gradient_from_logits(self, y_true, z, sample_weight=None):
        """``(value_from_logits, gradient_from_logits)`` from one log-softmax."""
        y = self._one_hot(y_true, z.shape[-1], z.dtype, z.size // max(1, z.shape[-1]))
        logp = _log_softmax(z.reshape(y.shape))
        value = float(self._sum(y, logp, sample_weight) / max(1, len(y)))
        return value, _scaled(np.exp(logp) - y, sample_weight, z)

    def value(self, y_true, out, sample_weight=None):
        if self.from_logits:
            return self.value_from_logits(y_true, out, sample_weight)
        y = self._one_hot(y_true, out.shape[-1], out.dtype, out.size // max(1, out.shape[-1]))
        p = out.reshape(y.shape)
        p = np.clip(p / p.sum(axis=-1, keepdims=True), _EPSILON, 1 - _EPSILON)
        return float(self._sum(y, np.log(p), sample_weight) / max(1, len(y)))

    def gradient(self, y_true, out, sample_weight=None):
        if self.from_logits:
            return self.gradient_from_logits(y_true, out, sample_weight)
        y = self._one_hot(y_true, out.shape[-1], out.dtype, out.size // max(1, out.shape[-1]))
        p = out.reshape(y.shape)
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        inside = (q > _EPSILON) & (q < 1 - _EPSILON)
        # d/dp of -sum(y log(p / s)) = -(y / p) + sum(y) / s, zero where clipped
        g = np.where(inside, -y / np.where(inside, p, 1), 0) + (y * inside).sum(-1, keepdims=True) / s
        return _scaled(g, sample_weight, out)

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "from_logits": self.from_logits}


def _weights(sample_weight, rows: int, dtype) -> np.ndarray:
    w = np.asarray(sample_weight, dtype=dtype).reshape(-1)
    if w.shape != (rows,):
        raise ValueError(f"sample_weight has shape {np.shape(sample_weight)}; one weight per sample "
                         f"({rows}) expected")
    return w


def _scaled(g: np.ndarray, sample_weight, out: np.ndarray) -> np.ndarray:
    """The gradient rows `g` (one per sample) of the weighted mean loss, shaped as `out`."""
    n = max(1, len(g))
    if sample_weight is not None:
        g = g * _weights(sample_weight, len(g), g.dtype)[:, None]
    return (g / n).reshape(out.shape).astype(out.dtype, copy=False)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class labels, as ``keras.losses.SparseCategoricalCrossentropy``."""

    name = "sparse_categorical_crossentropy"
    sparse = True


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or soft) labels, as ``keras.losses.CategoricalCrossentropy``."""

    name = "categorical_crossentropy"


_BY_NAME = {c.name: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy)}


def get(identifier: Any) -> Loss:
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in {c.__name__ for c in _BY_NAME.values()}:
        cls = next(c for c in _BY_NAME.values() if c.__name__ == identifier["class_name"])
        return cls(from_logits=identifier.get("from_logits", False))
    raise ValueError(f"loss must be one of {', '.join(map(repr, _BY_NAME))}, got {identifier!r}")
