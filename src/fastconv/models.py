"""Keras-style Sequential model: compile, fit, evaluate, predict, summary, save/load."""
from __future__ import annotations

import io
import json
import math
import os
import signal
import sys
import threading
import time
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from . import activations, losses, optimizers, utils
from . import layers as layers_mod
from ._bounded import (
    NPY_HEADER_MAX,
    ZipMember,
    check_zip_directory,
    open_regular,
    read_npy_header,
)
from ._checks import positive_int
from ._files import atomic_write
from .layers import DTYPE, Conv2D, Layer, Shape, Weight

__all__ = ["History", "Sequential", "load_model"]

FORMAT_NAME = "fastconv-model"
FORMAT_VERSION = 2
_CONFIG_MEMBER = "config.json"
_MAX_CONFIG_BYTES = 1 << 20


class History:
    """What ``fit`` returns (and leaves in ``model.history``, also when Ctrl-C stops
    it): ``history`` maps 'loss', 'accuracy' (and 'val_*') to one value per completed
    epoch; ``epoch`` lists the completed epochs; ``interrupted`` says Ctrl-C stopped fit."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.interrupted = False

    def _record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class Sequential:
    """A linear stack of layers, trained and run like ``keras.Sequential``.

    Parameters
    ----------
    layers : list of Layer, optional
        Added in order, as with `add`.
    name : str, optional

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.models import Sequential
    >>> from fastconv.layers import Dense
    >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    >>> model.predict(np.ones((2, 4)), verbose=0).shape
    (2, 3)
    """

    def __init__(self, layers: Sequence[Layer] | None = None, name: str = "sequential") -> None:
        self.name = name
        self._layers: list[Layer] = []
        self.optimizer: optimizers.Optimizer | None = None
        self.loss: losses.Loss | None = None
        self.metrics: list[str] = []
        self.stop_training = False
        for layer in layers or []:
            self.add(layer)

    # ---- building ------------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        """The model's layers in order (a new list: change the model with `add` and `pop`).

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense, Flatten
        >>> model = Sequential([Flatten(input_shape=(2, 2)), Dense(3, name="out")])
        >>> [layer.name for layer in model.layers][1:]
        ['out']
        """
        return list(self._layers)

    def add(self, layer: Layer, build: bool = True) -> None:
        """Append `layer`; once the first layer knows its ``input_shape``, the
        model is built (every layer's weights created) as layers arrive.

        Raises
        ------
        TypeError
            If `layer` is not a fastconv layer.
        ValueError
            For a name already in the model, or a layer that cannot take the
            previous layer's output (the wrong number of axes; an output that
            would be zero or negative in size, with Keras' message). The model
            is left as it was (Keras keeps the refused layer).

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Conv2D
        >>> model = Sequential()
        >>> model.add(Conv2D(4, 3, input_shape=(2, 2, 1)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: conv2d...: Computed output size would be zero or negative. ...
        >>> model.layers
        []
        """
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a fastconv.layers layer, got {type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                "argument to pass a unique name."
            )
        self._layers.append(layer)
        needed_input_grad = layer.need_input_grad
        if len(self._layers) == 1:
            layer.need_input_grad = False
        if build and self._layers[0].input_shape is not None:
            try:
                self._build()
            except BaseException:
                self._layers.pop()
                layer.need_input_grad = needed_input_grad
                raise

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove the last layer and return it, as ``keras.Sequential.pop``; the
        model's output is then the new last layer's (its weights stay as they are).

        Raises
        ------
        IndexError
            If the model has no layers.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(8, input_shape=(4,)), Dense(2)])
        >>> model.pop().units, model.output_shape
        (2, (8,))
        """
        if not self._layers:
            raise IndexError(f"pop: the model {self.name!r} has no layers")
        layer = self._layers.pop()
        if not self._layers:
            layer.need_input_grad = True
        if rebuild and self._layers and self.input_shape is not None:
            self._build()
        return layer

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or the one at `index` (from 0; negative counts
        from the end), as ``keras.Model.get_layer``.

        Raises
        ------
        ValueError
            For both or neither argument, an unknown name (the message lists the
            model's layers), an index out of range; Keras' messages.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(8, input_shape=(4,), name="hidden"), Dense(2, name="out")])
        >>> model.get_layer("out").units, model.get_layer(index=0).name
        (2, 'hidden')
        """
        if name is not None and index is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"get_layer: index must be an int, got {index!r}")
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self._layers)} layers.")
            return self._layers[index]
        if name is not None:
            for layer in self._layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self._layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    @property
    def input_shape(self) -> Shape | None:
        """One sample's input shape (no batch axis), or None before it is known."""
        return None if not self._layers else self._layers[0].input_shape

    def _build(self, input_shape: Shape | None = None, initialize: bool = True) -> None:
        """Build every layer not yet built; each layer's output shape is worked out
        (and Keras' build-time errors raised) before its weights are made. Without
        `initialize`, weights are allocated without drawing random numbers (for
        load_model, which reads them: loading leaves the shared generator alone)."""
        shape = input_shape or self.input_shape
        if shape is None:
            raise ValueError(f"{self.name}: the first layer needs input_shape=(...) to build the model")
        for layer in self._layers:
            out = layer.compute_output_shape(shape)
            if not layer.built:
                if initialize:
                    layer.build(shape)
                else:
                    layer._build_for_loading(shape)
            shape = out

    def _weight_shapes(self) -> list[Shape]:
        """Shapes of every weight, from the layers' configs and the input shape alone."""
        shape, out = self.input_shape, []
        if shape is None:
            raise ValueError(f"{self.name}: the first layer needs input_shape=(...)")
        for layer in self._layers:
            out += [tuple(s) for s in layer.weight_shapes(shape)]
            shape = layer.compute_output_shape(shape)
        return out

    def _ensure_built(self, x: np.ndarray) -> None:
        if self._layers and not all(layer.built for layer in self._layers):
            self._build(self.input_shape or x.shape[1:])

    @property
    def output_shape(self) -> Shape:
        """One sample's output shape (no batch axis), from the input shape.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Conv2D, MaxPooling2D
        >>> Sequential([Conv2D(28, 3, input_shape=(28, 28, 1)), MaxPooling2D(2)]).output_shape
        (13, 13, 28)
        """
        shape = self.input_shape
        if shape is None:
            raise ValueError(f"{self.name}: the output shape is not known before the input shape")
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    # ---- weights ---------------------------------------------------------------------------

    @property
    def weights(self) -> list[Weight]:
        """Every layer's weight arrays in Keras' order (the arrays themselves, see
        `Layer.weights`; `get_weights` gives copies).

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> [w.shape for w in Sequential([Dense(2, input_shape=(3,))]).weights]
        [(3, 2), (2,)]
        """
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Weight]:
        """The weights of the trainable layers, what the optimizer updates.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(2, input_shape=(3,), trainable=False), Dense(1)])
        >>> [w.shape for w in model.trainable_weights]
        [(2, 1), (1,)]
        """
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Weight]:
        """The weights of the frozen layers (``trainable=False``).

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(2, input_shape=(3,), trainable=False), Dense(1)])
        >>> [w.shape for w in model.non_trainable_weights]
        [(3, 2), (2,)]
        """
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def _weight_targets(self) -> list[tuple[str, Weight, str]]:
        """(layer name, array, weight name) of every weight, in `weights` order."""
        return [(layer.name, w, n) for layer in self._layers
                for w, n in zip(layer.weights, layer._weight_names())]

    def get_weights(self) -> list[Weight]:
        """Copies of every weight, layer by layer: kernel then bias, Keras' order and shapes.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Conv2D, Flatten, Dense
        >>> model = Sequential([Conv2D(4, 3, input_shape=(8, 8, 1)), Flatten(), Dense(2)])
        >>> [w.shape for w in model.get_weights()]
        [(3, 3, 1, 4), (4,), (144, 2), (2,)]
        """
        return [w.copy() for layer in self._layers for w in layer.weights]

    def set_weights(self, weights: Sequence[npt.ArrayLike]) -> None:
        """Replace every weight's values; `weights` as `get_weights` returns them
        (a Keras model's ``get_weights()`` gives Keras' predictions).

        All or nothing: the count and every array's shape are checked and every
        array converted to float32 before any weight changes. `weights` are not
        modified.

        Raises
        ------
        ValueError
            For a list of another length, or an array whose shape differs from
            its weight's (the message names the layer, the weight and both
            shapes), or that holds no numbers.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(2, input_shape=(3,))])
        >>> model.set_weights([np.ones((3, 2)), np.zeros(2)])
        >>> model.predict(np.ones((1, 3)), verbose=0)
        array([[3., 3.]], dtype=float32)
        """
        targets = self._weight_targets()
        new = layers_mod._converted(weights, targets, owner=self.name)
        for (_, cur, _), w in zip(targets, new):
            cur[...] = w

    def count_params(self) -> int:
        """The number of weight values in the model.

        Raises
        ------
        ValueError
            If the model is not built yet (no input shape given and no data
            seen), as in Keras.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> Sequential([Dense(10, input_shape=(784,))]).count_params()
        7850
        """
        if not self._layers or not all(layer.built for layer in self._layers):
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: `layer.build(input_shape)`."
            )
        return sum(layer.count_params() for layer in self._layers)

    # ---- compile / forward / backward -----------------------------------------------------------

    def compile(self, optimizer: str | optimizers.Optimizer | dict[str, Any] = "rmsprop",
                loss: str | losses.Loss | dict[str, Any] | None = None,
                metrics: Sequence[str] | None = None) -> None:
        """Choose the optimizer, the loss and the metrics for `fit` and `evaluate`.

        Parameters
        ----------
        optimizer : str or Optimizer, optional
            'rmsprop' (Keras' default), 'adam', 'sgd' (their Keras defaults) or
            an instance. As in Keras, an instance keeps the state of the
            weights it first trained; training another model's weights with it
            raises ValueError (make a new optimizer per model).
        loss : str or Loss
            'sparse_categorical_crossentropy' (integer labels) or
            'categorical_crossentropy' (one-hot labels), or an instance.
        metrics : list of str, optional
            ``['accuracy']`` or none.

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> from fastconv.optimizers import SGD
        >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
        >>> model.compile(optimizer=SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> type(model.optimizer).__name__, model.metrics
        ('SGD', ['accuracy'])
        """
        if isinstance(metrics, str):  # as Keras: a list, so "acc" is not read as "a", "c", "c"
            raise ValueError(  # noqa: TRY004 -- Keras raises ValueError here
                f"compile: metrics must be a list such as ['accuracy'], got {metrics!r}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        metrics = list(metrics or [])
        for m in metrics:
            if m not in ("accuracy", "acc"):
                raise ValueError(f"compile: the only metric is 'accuracy', got {m!r}")
        self.metrics = ["accuracy"] if metrics else []

    def _bind_optimizer(self) -> None:
        """The optimizer takes the trainable weights on its first step and only
        those afterwards (Keras' rule): checked for the whole step before
        anything changes, since Dense applies its kernel's update inside backward."""
        assert self.optimizer is not None
        targets = [(f"{self.name}/{layer.name}/{n}", w) for layer in self._layers if layer.trainable
                   for w, n in zip(layer.weights, layer._weight_names())]
        self.optimizer._check_variables_are_known([w for _, w in targets], [n for n, _ in targets])

    def _prepare_x(self, x: Any, op: str) -> np.ndarray:
        """x as float32 (Keras casts, it does not scale); (N, H, W) is taken as
        (N, H, W, 1) when the model wants one channel."""
        out: np.ndarray = self._fit_input(np.asarray(x), op).astype(DTYPE, copy=False)
        return out

    def _fit_input(self, x: Any, op: str) -> Any:
        """x (a NumPy or Dask array) checked against the model's input: numeric, and
        (N, *input_shape), with (N, H, W) taken as (N, H, W, 1) when the model wants
        one channel."""
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{op}: x must be numeric, got dtype {x.dtype}")
        want = self.input_shape
        if want is not None:
            if x.ndim == len(want) and want[-1] == 1 and x.shape[1:] == tuple(want[:-1]):
                x = x[..., None]
            if x.shape[1:] != tuple(want):
                raise ValueError(
                    f"{op}: the model expects inputs of shape (N, {', '.join(map(str, want))}), got {x.shape}"
                )
        return x

    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Runs the layers; a Conv2D followed by a MaxPooling2D it fuses with (not the
        last layer) runs as one kernel, the pair recorded in `_fused` for backward."""
        layers, fused, i = self.layers, set(), 0
        while i < len(layers):
            layer = layers[i]
            plan = (layer.fused_plan(x, layers[i + 1], training)
                    if isinstance(layer, Conv2D) and i + 2 < len(layers) else None)
            if plan is not None:
                assert isinstance(layer, Conv2D)
                x = layer.call_pooled(x, plan, training=training)
                fused.add(i)
                i += 2
            else:
                x = layer.call(x, training=training)
                i += 1
        self._fused = fused
        return x

    def _backward(self, grad: Any) -> None:
        """Back through every layer but the last, whose gradient `grad` is."""
        i = len(self.layers) - 2
        while i >= 0:
            if i - 1 in self._fused:
                conv = self.layers[i - 1]
                assert isinstance(conv, Conv2D)
                conv.backward_pooled(grad)  # the weight gradients only: nothing flows further
                grad = None
                i -= 2
            else:
                grad = self.layers[i].backward(grad)
                i -= 1

    def _fuses_softmax(self) -> bool:
        """A final softmax with a probability cross-entropy is differentiated as one
        step from the logits: stable, and no division by probabilities."""
        last = self.layers[-1] if self.layers else None
        return (self.loss is not None and not self.loss.from_logits and last is not None
                and getattr(last, "activation", None) is activations.softmax)

    def _train_step(self, xb: np.ndarray, yb: np.ndarray,
                    guard: _InterruptGuard | None = None) -> tuple[float, np.ndarray]:
        """One optimizer step on a batch. Only its forward pass, which changes nothing
        the model keeps, is open to Ctrl-C under fit's `guard` (the step is then
        discarded); from backward on, where the first weights change (Dense applies
        Adam inside its gradient kernel), Ctrl-C waits until every weight, moment
        and the iteration count have taken the step."""
        with (guard or _NO_GUARD).interruptible():
            probs = self._forward(xb, training=True)
        self._bind_optimizer()  # after the forward pass, which Ctrl-C may discard: builds nothing early
        # layers that can apply the optimizer's step inside their gradient kernels
        # get its hook for this step only
        hooked = [layer for layer in self.layers if hasattr(layer, "fused_update")]
        self.optimizer._done = set()
        for layer in hooked:
            layer.fused_update = self.optimizer.fused_update
        try:
            loss = self._backward_and_apply(yb, probs)
        finally:
            for layer in hooked:
                layer.fused_update = None
        return loss, probs

    def _backward_and_apply(self, yb: np.ndarray, probs: np.ndarray) -> float:
        last = self.layers[-1]
        if self._fuses_softmax():
            loss, grad = self.loss.value_and_gradient_from_logits(yb, last.preactivation)
            grad = last.backward(grad, grad_is_preactivation=True)
        else:
            loss = self.loss.value(yb, probs)
            grad = last.backward(self.loss.gradient(yb, probs))
        self._backward(grad)
        params = [w for layer in self.layers if layer.trainable for w in layer.weights]
        grads = [g for layer in self.layers if layer.trainable for g in layer.grads]
        self.optimizer.apply(params, grads)
        return loss

    # ---- fit / evaluate / predict -----------------------------------------------------------

    def _correct(self, y: np.ndarray, probs: np.ndarray) -> int:
        assert self.loss is not None
        pred = probs.reshape(len(probs), -1).argmax(axis=-1)
        truth = np.asarray(y)
        truth = truth.reshape(len(pred), -1).argmax(-1) if not self.loss.sparse else truth.reshape(-1)
        return int((pred == truth).sum())

    def _check_ready(self, op: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"{op}: call model.compile(optimizer, loss, metrics) first")
        if not self.layers:
            raise RuntimeError(f"{op}: the model has no layers")

    def _check_xy(self, x: np.ndarray, y: Any, op: str) -> np.ndarray:
        """y as an array, one label per sample of x, checked against the loss and
        the model's output (Keras' messages) before any step: the right shape for
        the loss, and sparse class indices inside the output's units."""
        labels: np.ndarray = np.asarray(y)
        if labels.ndim == 0 or len(labels) != len(x):
            raise ValueError(f"{op}: x has {len(x)} samples but y has "
                             f"{'none (a scalar)' if labels.ndim == 0 else len(labels)}")
        if self.loss is not None and self._layers:
            shape = self.input_shape or tuple(x.shape[1:])
            for layer in self._layers:
                shape = layer.compute_output_shape(shape)
            self.loss.check_labels(labels, (len(labels), *shape), op)
        return labels

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Train for `epochs` passes over (x, y) in mini-batches of `batch_size` (32),
        shuffling each epoch; returns a `History`, also kept as ``model.history``.

        Ctrl-C (SIGINT) stops training as in Keras: fit raises KeyboardInterrupt, and
        the model is exactly as after its last complete step, never half updated:
        every weight, optimizer moment and ``optimizer.iterations`` agree. Ctrl-C
        during a step's forward pass (or the validation) acts at once and the step is
        discarded; during the rest of a step (backward and the update, which Dense
        applies inside its gradient kernel) it acts when the step is complete.
        ``model.history`` holds the completed epochs, with ``interrupted`` set. This
        needs fit to run in the main thread over Python's default SIGINT handler,
        which fit replaces for its own duration only; another handler is left alone
        and decides what Ctrl-C does."""
        self._check_ready("fit")
        x = self._prepare_x(x, "fit")
        y = self._check_xy(x, y, "fit")
        self._ensure_built(x)
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size", "fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        if callbacks:
            raise ValueError("fit: callbacks are not supported")
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
            cut = int(len(x) * (1 - validation_split))  # Keras: the last samples, before shuffling
            if cut == 0 or cut == len(x):
                raise ValueError(
                    f"fit: x has {len(x)} samples, too few to split into training and validation "
                    f"sets with validation_split={validation_split!r}; give more data or another "
                    "validation_split")
            validation_data = (x[cut:], y[cut:])
            x, y = x[:cut], y[:cut]
        if len(x) == 0:
            raise ValueError(f"fit: no training data: x has shape {x.shape}; give at least one sample")
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("fit: validation_data must be (x_val, y_val)")
            vx = self._prepare_x(validation_data[0], "fit (validation_data)")
            vy = self._check_xy(vx, validation_data[1], "fit (validation_data)")
            if len(vx) == 0:
                raise ValueError(f"fit: validation_data holds no samples: x_val has shape {vx.shape}")
        self.history = history = History()
        n = len(x)
        steps = math.ceil(n / batch_size)
        self.stop_training = False
        bar = None
        guard = _InterruptGuard()
        try:
            with guard:
                for epoch in range(initial_epoch, epochs):
                    guard.check()
                    order = utils.rng().permutation(n) if shuffle else np.arange(n)
                    bar = _Bar(verbose, steps, f"Epoch {epoch + 1}/{epochs}")
                    seen = total_loss = correct = 0
                    start = time.perf_counter()
                    for step in range(steps):
                        idx = order[step * batch_size:(step + 1) * batch_size]
                        loss, probs = self._train_step(x[idx], y[idx], guard)
                        seen += idx.size
                        total_loss += loss * idx.size
                        logs = {"loss": total_loss / seen}
                        if self.metrics:
                            correct += self._correct(y[idx], probs)
                            logs["accuracy"] = correct / seen
                        bar.update(logs)
                    if validation_data is not None:
                        with guard.interruptible():
                            vals = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, return_dict=True)
                        logs.update({f"val_{k}": v for k, v in vals.items()})
                    bar.close(logs=logs, seconds=time.perf_counter() - start)
                    history._record(epoch, logs)
        except KeyboardInterrupt:
            history.interrupted = True
            self.stop_training = True
            if bar is not None:
                bar.close(interrupted=True)
            raise
        return history

    def evaluate(self, x: npt.ArrayLike | None = None, y: npt.ArrayLike | None = None, batch_size: int | None = None,
                 verbose: int | str = "auto", return_dict: bool = False) -> Any:
        """Mean loss (and accuracy) over (x, y), dropout off, as ``keras.Model.evaluate``.

        Parameters
        ----------
        x : array_like
            Inputs, (N, *input_shape); (N, H, W) for one channel.
        y : array_like
            Labels as the loss wants them: class indices (sparse) or one-hot rows.
        batch_size : int, optional
            32 by default.
        verbose : 'auto', 0 or 1, optional
            1 ('auto') shows a progress bar.
        return_dict : bool, optional

        Returns
        -------
        list of float, float or dict
            ``[loss, accuracy]``, or the loss alone when compiled without
            metrics, or ``{'loss': ..., 'accuracy': ...}`` with `return_dict`.

        Raises
        ------
        ValueError
            For labels that do not fit the loss and the output (Keras' messages:
            one-hot labels with the sparse loss, class indices with the
            categorical one, a class index outside the output's units).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(4, activation="softmax", input_shape=(3,),
        ...                           kernel_initializer="zeros")])
        >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> loss, acc = model.evaluate(np.ones((8, 3)), np.zeros(8, int), verbose=0)
        >>> round(loss, 4)  # log(4): four equally likely classes
        1.3863
        """
        self._check_ready("evaluate")
        assert self.loss is not None
        x = self._prepare_x(x, "evaluate")
        y = self._check_xy(x, y, "evaluate")
        self._ensure_built(x)
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size", "evaluate")
        verbose = 1 if verbose == "auto" else int(verbose)
        if len(x) == 0:
            raise ValueError(f"evaluate: no data: x has shape {x.shape}; give at least one sample")
        steps = math.ceil(len(x) / batch_size)
        bar = _Bar(verbose, steps, "Evaluate")
        total_loss = correct = 0.0
        for step in range(steps):
            xb, yb = x[step * batch_size:(step + 1) * batch_size], y[step * batch_size:(step + 1) * batch_size]
            probs = self._forward(xb, training=False)
            total_loss += self.loss.value(yb, probs) * len(xb)
            correct += self._correct(yb, probs)
            bar.update({})
        logs = {"loss": total_loss / len(x)}
        if self.metrics:
            logs["accuracy"] = correct / len(x)
        bar.close(logs=logs)
        if return_dict:
            return logs
        return [logs["loss"], logs["accuracy"]] if self.metrics else logs["loss"]

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = "auto") -> Any:
        """The model's outputs for x, in batches of `batch_size` (32), dropout off.

        Parameters
        ----------
        x : array_like or dask.array.Array
            Inputs, (N, *input_shape); (N, H, W) for one channel.
        batch_size : int, optional
        verbose : 'auto', 0 or 1, optional

        Returns
        -------
        numpy.ndarray or dask.array.Array
            float32, (N, *output_shape); for no samples, ``(0, *output_shape)``.
            A Dask array gives a Dask array, computed chunk by chunk
            (`fastconv.dask.predict`).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(2, input_shape=(3,), kernel_initializer="ones")])
        >>> model.predict(np.ones((1, 3)), verbose=0)
        array([[3., 3.]], dtype=float32)
        """
        if type(x).__module__.split(".")[0] == "dask":  # a Dask array: lazy, chunk by chunk
            from .dask import predict as _dask_predict
            return _dask_predict(self, x, batch_size=batch_size)
        x = self._prepare_x(x, "predict")
        self._ensure_built(x)
        if not self.layers:
            raise RuntimeError("predict: the model has no layers")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size", "predict")
        verbose = 1 if verbose == "auto" else int(verbose)
        steps = max(1, math.ceil(len(x) / batch_size))
        bar = _Bar(verbose, steps, "Predict")
        outs = []
        for step in range(steps):
            xb = x[step * batch_size:(step + 1) * batch_size]
            if len(xb):
                outs.append(self._forward(xb, training=False))
            bar.update({})
        bar.close()
        if not outs:
            return np.zeros((0, *self.output_shape), dtype=DTYPE)
        return np.concatenate(outs)

    def __call__(self, x: npt.ArrayLike, training: bool = False) -> npt.NDArray[Any]:
        """The forward pass on one batch `x` (float32), as calling a Keras model;
        `training` turns dropout on.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> Sequential([Dense(2, input_shape=(3,))])(np.ones((5, 3))).shape
        (5, 2)
        """
        x = self._prepare_x(x, "call")
        self._ensure_built(x)
        return self._forward(x, training=training)

    # ---- summary, config, save ---------------------------------------------------------------

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print a table of layers, output shapes and parameter counts, as Keras does.

        Parameters
        ----------
        print_fn : callable, optional
            Called with each line (`print` by default).

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> lines = []
        >>> Sequential([Dense(10, input_shape=(784,))]).summary(print_fn=lines.append)
        >>> lines[-3]
        'Total params: 7,850'
        """
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape) if shape is not None else None
            out = "?" if shape is None else str((None, *shape))
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", out, params))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "=" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for i, row in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
            print_fn(line if i == 0 else "-" * sum(widths) if i < len(rows) - 1 else line)
        built = [layer for layer in self._layers if layer.built]
        total = sum(layer.count_params() for layer in built)
        trainable = sum(layer.count_params() for layer in built if layer.trainable)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    def get_config(self) -> dict[str, Any]:
        """The model's name and its layers' classes and configs (what `save` writes).

        Examples
        --------
        >>> from fastconv.models import Sequential
        >>> from fastconv.layers import Dense
        >>> config = Sequential([Dense(2, input_shape=(3,), name="out")]).get_config()
        >>> config["layers"][0]["class_name"], config["layers"][0]["config"]["units"]
        ('Dense', 2)
        """
        return {"name": self.name,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers]}

    def save(self, filepath: str | os.PathLike[str]) -> None:
        """Write the model to `filepath` in the format of docs/model-format.md: a ZIP
        of ``config.json`` (format, version, layers, compile settings, the
        optimizer's iteration count), one ``.npy`` per weight and one per
        optimizer slot (Adam's moments, SGD's momentum, RMSprop's average), so
        that `load_model` resumes training exactly where it stopped. No pickle
        anywhere: loading an untrusted file cannot run code.

        The file is replaced atomically: written beside the target under a name
        of its own, synced, then renamed over it (keeping its permission bits,
        following a symlink), so a crash, a full disk or a concurrent save
        leaves either the old file or a complete new one.

        Examples
        --------
        >>> import os, tempfile
        >>> from fastconv.models import Sequential, load_model
        >>> from fastconv.layers import Dense
        >>> model = Sequential([Dense(2, input_shape=(3,))])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.fcm")
        >>> model.save(path)
        >>> load_model(path).get_config() == model.get_config()
        True
        """
        weights = self.weights
        state, slots = self._optimizer_state(weights)
        config = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": self.get_config(),
                  "compile": None if self.loss is None or self.optimizer is None else {
                      "optimizer": self.optimizer.get_config(), "loss": self.loss.get_config(),
                      "metrics": self.metrics},
                  "weights": [list(w.shape) for w in weights],
                  "optimizer_state": state}
        with atomic_write(filepath) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_CONFIG_MEMBER, json.dumps(config, indent=1))
            for prefix, arrays in (("weights", weights), ("optimizer", slots)):
                for i, w in enumerate(arrays):
                    buf = io.BytesIO()
                    np.save(buf, w, allow_pickle=False)
                    zf.writestr(f"{prefix}/{i:04d}.npy", buf.getvalue())

    def _optimizer_state(self, weights: list[Weight]) -> tuple[dict[str, Any] | None, list[Weight]]:
        """What save writes of the optimizer: None before its first step (or for an
        uncompiled model); else its iteration count, its slot names and which of
        `weights` it holds slots for (every weight it took at its first step that is
        still in the model), and those slots, weight by weight."""
        opt = self.optimizer
        if self.loss is None or opt is None or not opt.built:
            return None, []
        held = [i for i, w in enumerate(weights) if opt._knows(w)]
        state = {"iterations": int(opt.iterations), "slots": list(opt.slot_names),
                 "weights": held}
        return state, [s for i in held for s in opt._slots.get(id(weights[i]), [])]


# What reading a malformed file can raise from zipfile, json, numpy's .npy
# header parser and the config walk (zip versions or flags it cannot read,
# offsets before the file, JSON nested past the recursion limit, a header numpy
# cannot tokenize, a config of the wrong types): load_model turns each into its
# ValueError. MemoryError is left alone.
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError, OSError, EOFError,
              RuntimeError, NotImplementedError, SyntaxError, zipfile.BadZipFile, zlib.error,
              tokenize.TokenError)

DEFAULT_MAX_BYTES = 4 << 30
"""The most bytes `load_model` allocates for weights and optimizer state unless told otherwise (4 GiB)."""

_FLOAT_ITEMSIZES = (2, 4, 8)  # float16, float32, float64: what a weight member may hold
_READ_VERSIONS = (1, 2)       # version 1: no optimizer state (a fresh optimizer on load)
_MAX_ITERATIONS = 1 << 62


def load_model(filepath: str | os.PathLike[str], compile: bool = True, *,
               max_bytes: int = DEFAULT_MAX_BYTES) -> Sequential:
    """Load a model written by `Sequential.save`.

    Parameters
    ----------
    filepath : str or path-like
        A regular file in the format of docs/model-format.md (version 2, or
        version 1 from older fastconv releases).
    compile : bool, optional
        Compile the model as it was saved (default, as Keras), with the
        optimizer's state as it was saved: its iteration count and slots
        (Adam's moments, SGD's momentum), so that `fit` continues exactly as
        uninterrupted training would. A file without that state (version 1, or
        saved before the first training step) gives a fresh optimizer. With
        False the model comes back uncompiled: ready for `predict`, or for
        `compile` with settings of your own; the optimizer's state is not read.
    max_bytes : int, optional, keyword only
        The most bytes the model's weights, and with `compile` the optimizer's
        slots, may take in memory (as float32, which is how a model holds
        them), 4 GiB (`DEFAULT_MAX_BYTES`) by default. A file whose config
        declares more is refused before any array is read; pass a larger
        value to load a larger model.

    Returns
    -------
    Sequential
        The model, compiled as it was saved (if it was, and `compile` is true).

    Raises
    ------
    ValueError
        For anything but a well-formed model file, naming the file (and the
        member): not a regular file (a FIFO, a device, a directory), not a ZIP,
        a missing, oversized or non-JSON ``config.json``, another format or
        version, an unknown layer, weights and state of more than `max_bytes`,
        an optimizer state that does not fit the model or the optimizer, a
        member that inflates to more or less than its declared size, a ``.npy``
        header whose shape or dtype differs from the config's, a truncated or
        corrupt member.

    Notes
    -----
    Nothing in the file is executed (JSON and ``.npy`` only, no pickle), and
    the memory used is bounded before it is allocated: each member is inflated
    through a stream capped at its declared size, which must itself fit what
    the config declares; each ``.npy`` header is checked against the config's
    shape before its array is allocated, and the arrays are read in chunks
    straight into the model's weights and the optimizer's slots. Loading
    draws no random numbers (the weights are not initialised before they are
    read), so the shared generator of `fastconv.utils.set_random_seed` is as
    it was.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastconv.models import Sequential, load_model
    >>> from fastconv.layers import Dense
    >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> _ = model.fit(np.ones((8, 4)), np.arange(8) % 3, verbose=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.fcm")
    >>> model.save(path)
    >>> loaded = load_model(path)
    >>> loaded.optimizer.iterations, type(loaded.optimizer).__name__
    (1, 'Adam')
    """
    path = Path(filepath)
    max_bytes = positive_int(max_bytes, "max_bytes", "load_model", minimum=0)
    try:
        f = open_regular(path)
    except _MALFORMED as err:
        raise ValueError(f"load_model: {path} is not a fastconv model file ({err})") from None
    with f:
        check_zip_directory(f, f"load_model: {path}")
        try:
            zf = zipfile.ZipFile(f)
        except _MALFORMED as err:
            raise ValueError(f"load_model: {path} is not a fastconv model file ({err})") from None
        with zf:
            return _read_model(zf, f, path, max_bytes, compile)


def _member_info(zf: zipfile.ZipFile, name: str, missing: str) -> zipfile.ZipInfo:
    """The archive's entry for `name`; ValueError(missing) if it has none."""
    try:
        return zf.getinfo(name)
    except KeyError:
        raise ValueError(missing) from None


def _read_model(zf: zipfile.ZipFile, f: BinaryIO, path: Path, max_bytes: int,
                compile: bool) -> Sequential:
    """The config; the compile settings and optimizer state it describes (checked,
    nothing allocated); the bytes all that needs against `max_bytes`; then the
    built model with its weights, compiled, with the optimizer's slots read in."""
    info = _member_info(zf, _CONFIG_MEMBER, f"load_model: {path} has no {_CONFIG_MEMBER}; not a fastconv model")
    where = f"{path}: {_CONFIG_MEMBER}"
    try:
        config = json.loads(ZipMember(f, info, where, _MAX_CONFIG_BYTES).read_all().decode("utf-8"))
    except _MALFORMED as err:
        raise _named(err, where, f"unreadable {_CONFIG_MEMBER}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"load_model: {path} is not a fastconv model file")
    version = config.get("version")
    if type(version) is not int or version not in _READ_VERSIONS:
        raise ValueError(
            f"load_model: {path} has format version {version!r}; "
            f"this fastconv reads versions {', '.join(map(str, _READ_VERSIONS))}"
        )
    try:
        model = _model_from_config(config["model"])  # layers only: nothing allocated yet
        shapes = [tuple(int(d) for d in s) for s in config["weights"]]
        expected = model._weight_shapes()
    except _MALFORMED as err:
        raise ValueError(f"load_model: {path}: bad model description ({err})") from None
    if shapes != expected:
        raise ValueError(f"load_model: {path}: the file lists weights of shapes {shapes} but its "
                         f"layers need {expected}")
    settings = config.get("compile") if compile else None
    opt: optimizers.Optimizer | None = None
    loss: losses.Loss | None = None
    metrics: Any = None
    held: list[int] = []
    iterations, has_state = 0, False
    if settings:
        try:
            opt = optimizers.get(settings["optimizer"])
            loss = losses.get(settings["loss"])
            metrics = settings.get("metrics")
        except _MALFORMED as err:
            raise ValueError(f"load_model: {path}: bad compile settings ({err})") from None
        state = config.get("optimizer_state") if version >= 2 else None  # version 1 has none
        if state is not None:
            held, iterations = _check_optimizer_state(state, opt, len(shapes), path)
            has_state = True
    itemsize = np.dtype(DTYPE).itemsize
    weight_bytes = sum(math.prod(shape) for shape in shapes) * itemsize
    slot_bytes = sum(math.prod(shapes[i]) for i in held) * itemsize * (len(opt.slot_names) if opt else 0)
    if weight_bytes + slot_bytes > max_bytes:
        what = "weights and optimizer state take" if slot_bytes else "weights take"
        raise ValueError(f"load_model: {path}: its {what} {weight_bytes + slot_bytes:,} bytes, more than "
                         f"max_bytes={max_bytes:,}; pass a larger max_bytes to load it")
    try:
        model._build(initialize=False)
    except ValueError as err:
        raise ValueError(f"load_model: {path}: {err}") from None
    targets = model.weights
    for i, (shape, target) in enumerate(zip(shapes, targets)):
        _read_member(zf, f, path, f"weights/{i:04d}.npy", f"weight {i}", shape, target)
    if settings:
        assert opt is not None
        try:
            model.compile(optimizer=opt, loss=loss, metrics=metrics)
        except _MALFORMED as err:
            raise ValueError(f"load_model: {path}: bad compile settings ({err})") from None
        if has_state:
            opt.build([targets[i] for i in held])  # zero slots, filled from the file below
            k = 0
            for i in held:
                for slot_name, slot in zip(opt.slot_names, opt._slots[id(targets[i])]):
                    _read_member(zf, f, path, f"optimizer/{k:04d}.npy",
                                 f"optimizer slot {k} ({slot_name} of weight {i})", shapes[i], slot)
                    k += 1
            opt.iterations = iterations
    return model


def _check_optimizer_state(state: Any, opt: optimizers.Optimizer, n_weights: int,
                           path: Path) -> tuple[list[int], int]:
    """The config's ``optimizer_state`` checked against the optimizer it describes
    and the model's weights: (the weights it holds slots for, the iteration count)."""
    def bad(why: str) -> ValueError:
        return ValueError(f"load_model: {path}: bad optimizer state ({why})")

    if not isinstance(state, dict) or set(state) != {"iterations", "slots", "weights"}:
        raise bad("optimizer_state must hold exactly 'iterations', 'slots' and 'weights'")
    iterations, slots, held = state["iterations"], state["slots"], state["weights"]
    if type(iterations) is not int or not 0 <= iterations <= _MAX_ITERATIONS:
        raise bad(f"iterations must be an int in [0, 2**62], got {iterations!r}")
    if slots != list(opt.slot_names):
        raise bad(f"the file holds slots {slots!r} per weight; {type(opt).__name__} with these "
                  f"settings keeps {list(opt.slot_names)!r}")
    if (not isinstance(held, list) or any(type(i) is not int for i in held)
            or any(not 0 <= i < n_weights for i in held) or held != sorted(set(held))):
        raise bad(f"weights must list indices of the model's {n_weights} weights in increasing "
                  f"order, got {str(held)[:200]}")
    return held, iterations


def _read_member(zf: zipfile.ZipFile, f: BinaryIO, path: Path, name: str, what: str,
                 shape: Shape, target: np.ndarray) -> None:
    """The ``.npy`` member `name` (`what`, for messages) read into `target`."""
    member = _member_info(zf, name, f"load_model: {path}: {what} is missing ({name})")
    where = f"{path}: {name}"
    try:
        _read_weight(f, member, where, shape, target)
    except _MALFORMED as err:
        raise _named(err, where, f"corrupt {what.split(' (')[0]}") from None


def _named(err: BaseException, where: str, what: str) -> ValueError:
    """`err` as load_model's ValueError: its own message when that already names
    the file and member, else `what` and the message after them."""
    msg = str(err)
    return ValueError(f"load_model: {msg}" if msg.startswith(where) else f"load_model: {where}: {what} ({msg})")


def _read_weight(f: BinaryIO, member: zipfile.ZipInfo, where: str, shape: tuple[int, ...],
                 target: np.ndarray) -> None:
    """One ``.npy`` member into `target` (the model's weight, of `shape`): the
    header checked against `shape` before anything is allocated, then the data
    in chunks, straight into `target` when the dtypes agree."""
    count = math.prod(shape)
    stream = ZipMember(f, member, where, max(_FLOAT_ITEMSIZES) * count + NPY_HEADER_MAX + 16)
    got, fortran, dtype, header_bytes = read_npy_header(stream, where)
    if got != shape:
        raise ValueError(f"{where} holds an array of shape {got}; the config needs {shape}")
    if dtype.kind != "f" or dtype.itemsize not in _FLOAT_ITEMSIZES:
        raise ValueError(f"{where} holds dtype {dtype}; a weight is float16, float32 or float64 "
                         f"of shape {shape}")
    if header_bytes + count * dtype.itemsize != member.file_size:
        raise ValueError(f"{where} declares {member.file_size} bytes; its header and {count} "
                         f"values of {dtype} make {header_bytes + count * dtype.itemsize}")
    direct = dtype == target.dtype and not fortran and target.flags.c_contiguous
    buf = target if direct else np.empty(count, dtype=dtype)
    if stream.readinto(buf) != count * dtype.itemsize:
        raise ValueError(f"{where}: the array data is cut short")
    stream.finish()
    if not direct:
        target[...] = buf.reshape(shape[::-1]).T if fortran else buf.reshape(shape)


def _model_from_config(config: dict[str, Any]) -> Sequential:
    """The layers a config describes, not yet built (no weight allocated)."""
    model = Sequential(name=str(config.get("name", "sequential")))
    for entry in config["layers"]:
        cls = layers_mod.LAYERS.get(entry["class_name"])
        if cls is None:
            raise ValueError(f"unknown layer class {entry['class_name']!r}")
        model.add(cls(**dict(entry["config"])), build=False)
    if model.input_shape is None:
        raise ValueError("the first layer has no input_shape")
    return model


# ---- Ctrl-C ----------------------------------------------------------------------------------


class _InterruptGuard:
    """Ctrl-C for fit: while installed (``with``), a SIGINT is held and raised as
    KeyboardInterrupt at the next ``check()`` or ``interruptible()`` section, or on
    leaving the ``with``; inside an ``interruptible()`` section (code that changes
    nothing fit keeps: forward passes, validation) it is raised at once. Everything
    else fit does (weight and optimizer updates, history, progress bar, lazy
    imports) thus runs whole or not at all.

    It installs itself only in the main thread (the only one Python runs signal
    handlers in) and only over Python's default handler; a handler of the user's or
    of another framework is left in place and then nothing is held. On leaving, it
    puts the default handler back unless someone replaced ours meanwhile."""

    def __init__(self):
        self._replaced = None
        self._open = False
        self._pending = False

    def __enter__(self) -> _InterruptGuard:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            try:
                self._replaced = signal.signal(signal.SIGINT, self._on_sigint)
            except ValueError:  # not the main interpreter: leave signals alone
                self._replaced = None
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._replaced is not None:
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, self._replaced)
            self._replaced = None
        if exc_type is None:
            self.check()

    def _on_sigint(self, signum, frame) -> None:
        if self._open:
            raise KeyboardInterrupt
        self._pending = True

    def check(self) -> None:
        """Raise the KeyboardInterrupt held since the last check, if any."""
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    def interruptible(self) -> _Interruptible:
        return _Interruptible(self)


class _Interruptible:
    """A section of ``_InterruptGuard.interruptible()``: a held SIGINT is raised on
    entering, and one arriving inside is raised at once."""

    __slots__ = ("guard",)

    def __init__(self, guard: _InterruptGuard):
        self.guard = guard

    def __enter__(self) -> None:
        guard = self.guard
        guard._open = True  # before the check: a SIGINT between the two is not missed
        if guard._pending:
            guard._open = guard._pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        self.guard._open = False


_NO_GUARD = _InterruptGuard()  # never installed: its sections hold nothing


# ---- progress ---------------------------------------------------------------------------------


class _Bar:
    """One epoch's progress: tqdm's bar with running metrics (verbose=1), one
    line at the end (verbose=2), or nothing (verbose=0)."""

    def __init__(self, verbose: int, total: int, desc: str):
        self.verbose = verbose
        self.bar = None
        if verbose == 1:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="step", leave=True, dynamic_ncols=True,
                            file=sys.stdout)
        self.desc = desc

    def update(self, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if logs:
                self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)

    def close(self, logs: dict[str, float] | None = None, seconds: float | None = None,
              interrupted: bool = False) -> None:
        if self.bar is not None:
            if logs:
                self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            self.bar.close()
            self.bar = None
        elif self.verbose == 2 and logs and not interrupted:
            took = "" if seconds is None else f"{seconds:.1f}s - "
            print(f"{self.desc} - {took}" + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
