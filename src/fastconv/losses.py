"""Cross-entropy losses with Keras' names: mean over the batch, stable gradients.

Labels are checked against the model's output as Keras checks them, with
Keras' messages and a hint at the likely fix: the sparse loss wants one class
index per output row (not one-hot rows), the categorical one wants rows of
the output's shape (not class indices), and a class index must lie within
the output's units.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CategoricalCrossentropy", "Loss", "SparseCategoricalCrossentropy", "get"]

_EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [eps, 1 - eps]

Array = npt.NDArray[Any]


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=-1, keepdims=True)
    out: Array = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return out


def _looks_like_indices(y: Array) -> bool:
    return y.dtype.kind in "iub" or (y.dtype.kind == "f" and bool(np.all(y == np.round(y))))


class Loss:
    """A loss: ``value(y_true, out)`` (the batch mean) and ``gradient(y_true, out)``
    (d mean-loss / d out).

    `out` is the model's output: probabilities (``from_logits=False``) or
    logits. ``value_from_logits`` / ``gradient_from_logits`` serve a model whose
    last layer is a softmax: they use log-softmax of the logits, so no
    probability is ever clipped or divided by.

    Each takes an optional `sample_weight`, one weight per sample (shape (N,)):
    the loss is then ``sum(w * loss) / N``, the batch size dividing and not the
    weights' sum, as Keras' default reduction ("sum_over_batch_size") does.

    Parameters
    ----------
    from_logits : bool, optional
        True if the model outputs logits rather than probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.losses import SparseCategoricalCrossentropy
    >>> loss = SparseCategoricalCrossentropy()
    >>> round(loss.value(np.array([0, 1]), np.array([[0.5, 0.5], [0.5, 0.5]])), 4)
    0.6931
    """

    name = "loss"
    sparse = False

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)

    def check_labels(self, y_true: npt.ArrayLike, output_shape: Sequence[int], op: str | None = None) -> None:
        """Raise ValueError unless `y_true` fits this loss and an output of
        `output_shape` (with the batch axis), with Keras' messages; the sparse
        loss also checks every class index against the output's units. Called
        by `fit` and `evaluate` on all labels before the first step.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.losses import SparseCategoricalCrossentropy
        >>> SparseCategoricalCrossentropy().check_labels(np.array([0, 3]), (2, 3))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: sparse_categorical_crossentropy: Received a label value of 3 which is outside the valid range of [0, 3)...
        """
        self._labels(np.asarray(y_true), tuple(output_shape), op)

    def _labels(self, y: Array, out_shape: tuple[int, ...], op: str | None) -> Array:
        """`y` checked against the output's shape: for the sparse loss, the class
        indices as int64 of shape out_shape[:-1]; else `y` itself."""
        head = f"{op}: {self.name}" if op else self.name
        classes = out_shape[-1]
        if not self.sparse:
            if y.ndim != len(out_shape):
                hint = ("; y looks like class indices: use loss='sparse_categorical_crossentropy', "
                        "or one-hot encode them" if y.ndim == len(out_shape) - 1 and _looks_like_indices(y)
                        else "")
                raise ValueError(f"{head}: Arguments `target` and `output` must have the same rank (ndim). "
                                 f"Received: target.shape={y.shape}, output.shape={out_shape}{hint}")
            if y.shape != out_shape:
                hint = ("; y looks like a column of class indices: use "
                        "loss='sparse_categorical_crossentropy', or one-hot encode them"
                        if y.shape[-1] == 1 and classes > 1 and _looks_like_indices(y) else "")
                raise ValueError(f"{head}: Arguments `target` and `output` must have the same shape. "
                                 f"Received: target.shape={y.shape}, output.shape={out_shape}{hint}")
            return y
        labels = y[..., 0] if y.ndim == len(out_shape) and y.ndim and y.shape[-1] == 1 else y
        if labels.shape != out_shape[:-1]:
            hint = ""
            if y.shape == out_shape and classes > 1:
                hint = ("; y looks one-hot: use loss='categorical_crossentropy', or pass class "
                        "indices (y.argmax(-1))")
            if labels.ndim == len(out_shape) - 1:  # the ranks agree: the sizes do not
                raise ValueError(f"{head}: y has shape {y.shape}, one class index per sample "
                                 f"expected: shape {out_shape[:-1]} for an output of shape {out_shape}")
            raise ValueError(f"{head}: Argument `output` must have rank (ndim) `target.ndim - 1`. "
                             f"Received: target.shape={y.shape}, output.shape={out_shape}; y has shape "
                             f"{y.shape}, one class index per sample expected{hint}")
        if labels.dtype.kind == "f":
            if not np.all(labels == np.round(labels)):
                raise ValueError(f"{head}: sparse labels must be whole numbers (class indices)")
            labels = labels.astype(np.int64)
        if labels.dtype.kind not in "iub":
            raise TypeError(f"{head}: labels must be integers, got dtype {labels.dtype}")
        if labels.size:
            outside = (labels < 0) | (labels >= classes)
            if outside.any():
                first = labels[outside].flat[0]
                raise ValueError(
                    f"{head}: Received a label value of {first} which is outside the valid range of "
                    f"[0, {classes}). {int(outside.sum())} of the {labels.size} labels lie outside it; "
                    f"the model's output has {classes} units, one per class"
                )
        return labels.astype(np.int64, copy=False)

    def _one_hot(self, y_true: npt.ArrayLike, out_shape: tuple[int, ...], dtype: Any) -> Array:
        """The labels as rows of probabilities, (rows, classes), for an output of `out_shape`."""
        classes = out_shape[-1]
        labels = self._labels(np.asarray(y_true), out_shape, None)
        if not self.sparse:
            return np.asarray(labels, dtype=dtype).reshape(-1, classes)
        flat = labels.reshape(-1)
        y = np.zeros((flat.size, classes), dtype=dtype)
        y[np.arange(flat.size), flat] = 1
        return y

    @staticmethod
    def _sum(y: Array, logp: Array, w: npt.ArrayLike | None) -> Any:
        """-sum(y * logp) over all samples, each weighted by w when given: a
        NumPy scalar of the output's dtype."""
        if w is None:
            return -(y * logp).sum()
        return -((y * logp).sum(axis=-1) * _weights(w, len(y), logp.dtype)).sum()

    def value_from_logits(self, y_true: npt.ArrayLike, z: Array,
                          sample_weight: npt.ArrayLike | None = None) -> float:
        """The mean loss from the logits `z` (the output before a softmax)."""
        y = self._one_hot(y_true, z.shape, z.dtype)
        return float(self._sum(y, _log_softmax(z.reshape(y.shape)), sample_weight) / max(1, len(y)))

    def gradient_from_logits(self, y_true: npt.ArrayLike, z: Array,
                             sample_weight: npt.ArrayLike | None = None) -> Array:
        """d mean-loss / d `z`, the logits: ``(softmax(z) - y) / batch``."""
        y = self._one_hot(y_true, z.shape, z.dtype)
        p = np.exp(_log_softmax(z.reshape(y.shape)))
        return _scaled(p - y, sample_weight, z)

    def value_and_gradient_from_logits(self, y_true: npt.ArrayLike, z: Array,
                                       sample_weight: npt.ArrayLike | None = None) -> tuple[float, Array]:
        """``(value_from_logits, gradient_from_logits)`` from one log-softmax."""
        y = self._one_hot(y_true, z.shape, z.dtype)
        logp = _log_softmax(z.reshape(y.shape))
        value = float(self._sum(y, logp, sample_weight) / max(1, len(y)))
        return value, _scaled(np.exp(logp) - y, sample_weight, z)

    def value(self, y_true: npt.ArrayLike, out: Array, sample_weight: npt.ArrayLike | None = None) -> float:
        """The mean loss over the batch for the model's output `out`.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.losses import CategoricalCrossentropy
        >>> round(CategoricalCrossentropy().value(np.eye(2), np.array([[0.5, 0.5], [0.2, 0.8]])), 4)
        0.4581
        """
        if self.from_logits:
            return self.value_from_logits(y_true, out, sample_weight)
        y = self._one_hot(y_true, out.shape, out.dtype)
        p = out.reshape(y.shape)
        p = np.clip(p / p.sum(axis=-1, keepdims=True), _EPSILON, 1 - _EPSILON)
        return float(self._sum(y, np.log(p), sample_weight) / max(1, len(y)))

    def gradient(self, y_true: npt.ArrayLike, out: Array, sample_weight: npt.ArrayLike | None = None) -> Array:
        """d mean-loss / d `out` (zero where Keras' clipping of probabilities applies).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.losses import SparseCategoricalCrossentropy
        >>> SparseCategoricalCrossentropy().gradient(np.array([0]), np.array([[0.5, 0.5]]))
        array([[-1.,  1.]])
        """
        if self.from_logits:
            return self.gradient_from_logits(y_true, out, sample_weight)
        y = self._one_hot(y_true, out.shape, out.dtype)
        p = out.reshape(y.shape)
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        inside = (q > _EPSILON) & (q < 1 - _EPSILON)
        # d/dp of -sum(y log(p / s)) = -(y / p) + sum(y) / s, zero where clipped
        g = np.where(inside, -y / np.where(inside, p, 1), 0) + (y * inside).sum(-1, keepdims=True) / s
        return _scaled(g, sample_weight, out)

    def get_config(self) -> dict[str, Any]:
        """The class name and arguments, JSON-ready.

        Examples
        --------
        >>> from fastconv.losses import CategoricalCrossentropy
        >>> CategoricalCrossentropy(from_logits=True).get_config()
        {'class_name': 'CategoricalCrossentropy', 'from_logits': True}
        """
        return {"class_name": type(self).__name__, "from_logits": self.from_logits}


def _weights(sample_weight: npt.ArrayLike, rows: int, dtype: Any) -> Array:
    w = np.asarray(sample_weight, dtype=dtype).reshape(-1)
    if w.shape != (rows,):
        raise ValueError(f"sample_weight has shape {np.shape(sample_weight)}; one weight per sample "
                         f"({rows}) expected")
    return w


def _scaled(g: Array, sample_weight: npt.ArrayLike | None, out: Array) -> Array:
    """The gradient rows `g` (one per sample) of the weighted mean loss, shaped as `out`."""
    n = max(1, len(g))
    if sample_weight is not None:
        g = g * _weights(sample_weight, len(g), g.dtype)[:, None]
    grad: Array = (g / n).reshape(out.shape).astype(out.dtype, copy=False)
    return grad


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class labels, as ``keras.losses.SparseCategoricalCrossentropy``:
    y of shape (N,) (or (N, 1)), each in [0, classes).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.losses import SparseCategoricalCrossentropy
    >>> round(SparseCategoricalCrossentropy().value(np.array([1]), np.array([[0.25, 0.75]])), 4)
    0.2877
    """

    name = "sparse_categorical_crossentropy"
    sparse = True


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or soft) labels of the output's shape, as
    ``keras.losses.CategoricalCrossentropy``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.losses import CategoricalCrossentropy
    >>> round(CategoricalCrossentropy().value(np.array([[0.0, 1.0]]), np.array([[0.25, 0.75]])), 4)
    0.2877
    """

    name = "categorical_crossentropy"


_BY_NAME: dict[str, type[Loss]] = {c.name: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy)}


def get(identifier: str | Loss | dict[str, Any] | None) -> Loss:
    """The loss for a name ('sparse_categorical_crossentropy',
    'categorical_crossentropy'), an instance (returned as is) or a `get_config`
    dictionary.

    Examples
    --------
    >>> from fastconv import losses
    >>> type(losses.get("categorical_crossentropy")).__name__
    'CategoricalCrossentropy'
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in {c.__name__ for c in _BY_NAME.values()}:
        cls = next(c for c in _BY_NAME.values() if c.__name__ == identifier["class_name"])
        return cls(from_logits=identifier.get("from_logits", False))
    raise ValueError(f"loss must be one of {', '.join(map(repr, _BY_NAME))}, got {identifier!r}")
