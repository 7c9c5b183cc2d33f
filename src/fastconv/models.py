"""Keras-style Sequential model: compile, fit, evaluate, predict, summary, save/load."""
from __future__ import annotations

import io
import itertools
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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from . import _batches, _inference, _training, losses, nn, optimizers
from . import layers as layers_mod
from ._bounded import (
    NPY_HEADER_MAX,
    ZipMember,
    check_zip_directory,
    open_regular,
    read_npy_header,
)
from ._checks import positive_int
from ._config import get_num_threads
from ._files import atomic_write
from .callbacks import Callback, History, _CallbackList, _checked
from .layers import DTYPE, Layer, Shape, Weight

__all__ = ["History", "Sequential", "load_model"]

FORMAT_NAME = "fastconv-model"
FORMAT_VERSION = 2
_CONFIG_MEMBER = "config.json"
_MAX_CONFIG_BYTES = 1 << 20
# predict's largest C call without a bar, in multiply-adds per thread: about 70 ms at
# the FMA peak of an AVX-512 core (AMD EPYC Zen 5), 0.15 s at an AVX2 core's
_PREDICT_CALL_MACS = 1 << 33


def _group_samples(batch: int) -> int:
    """Samples per call of the one-call inference pass in predict and evaluate: 8
    batches per thread, and for small batches 2,048 samples per thread, which
    repay packing the dense kernels once per call (fc_*_forward_batches); few
    enough for the bar to move, for a cast copy of the group to stay small and
    for Ctrl-C to be prompt."""
    return batch * get_num_threads() * max(8, 2048 // batch)


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
        self._plans: dict[Any, Any] = {}  # one-call inference passes (_inference.forward_plan)
        self._steps: _training.Plan | None = None  # the layers as steps (_training.plan)
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
        self._forget_plans()
        needed_input_grad = layer.need_input_grad
        if len(self._layers) == 1:
            layer.need_input_grad = False
        if build and self._layers[0].input_shape is not None:
            try:
                self._build()
            except BaseException:
                self._layers.pop()
                self._forget_plans()
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
        self._forget_plans()
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
        self._forget_plans()

    def _forget_plans(self) -> None:
        """Drop the plans made for the layers and loss as they were."""
        self._plans.clear()
        self._steps = None

    def _plan(self) -> _training.Plan:
        """The layers as steps, with the loss's head (`_training.plan`): made on
        first use after the model changed (a layer added or removed, compile)."""
        steps = self._steps
        if steps is None:
            steps = self._steps = _training.plan(self._layers, self.loss)
        return steps

    def _bind_optimizer(self) -> list[np.ndarray]:
        """The optimizer takes the trainable weights on its first step and only
        those afterwards (Keras' rule): checked for the whole step before
        anything changes, since Dense applies its kernel's update inside backward.
        Returns the trainable weights, in order."""
        opt = self.optimizer
        assert opt is not None
        layers = [layer for layer in self._layers if layer.trainable]
        weights = [w for layer in layers for w in layer.weights]
        if not opt.built or not all(opt._knows(w) for w in weights):
            # the first step, or a weight to name in the error: with its path
            targets = [(f"{self.name}/{layer.name}/{n}", w) for layer in layers
                       for w, n in zip(layer.weights, layer._weight_names())]
            opt._check_variables_are_known([w for _, w in targets], [n for n, _ in targets])
        return weights

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
        """Runs the model's steps (`_plan`: fused pairs such as Conv2D +
        MaxPooling2D run as one kernel). Not training, a model of the layers
        `_inference` knows runs as one C call, to the same bits."""
        if not training:
            plan = _inference.forward_plan(self, x)
            out = plan.run(x) if plan is not None else None
            if out is not None:
                return out  # type: ignore[no-any-return]
        return self._plan().forward(x, training)

    def _train_step(self, xb: np.ndarray, yb: np.ndarray, guard: _InterruptGuard | None = None,
                    sample_weight: np.ndarray | None = None) -> tuple[float, np.ndarray, int | None]:
        """One optimizer step on a batch, its loss weighted per sample by
        `sample_weight` (Keras' ``sum(w * loss) / len(xb)``) when given; returns the
        batch's loss, the model's output, and the number of samples whose output's
        argmax is their label where the loss's head counted them (else None).

        Under fit's `guard`, a Ctrl-C held since the last step is raised first,
        before anything changes. A step the plan runs as one sequence of C calls
        (``Plan.train_step``) then runs whole: Ctrl-C waits for its end. Run layer
        by layer, only its forward pass, which changes nothing the model keeps, is
        open to Ctrl-C (the step is then discarded); from backward on, where the
        first weights change (Dense applies Adam inside its gradient kernel),
        Ctrl-C waits until every weight, moment and the iteration count have taken
        the step."""
        plan = self._plan()
        if guard is not None:
            # a Ctrl-C held through the last step, raised before this one begins (as
            # the layer-by-layer forward pass below would raise it)
            guard.check()
        # the whole step in one C sequence where the chain takes it (the same bits)
        got = plan.train_step(xb, yb, sample_weight, self.optimizer)
        if got is not None:
            return got
        with (guard or _NO_GUARD).interruptible():
            probs = plan.forward(xb, True)
        params = self._bind_optimizer()  # after the forward pass, which Ctrl-C may discard: builds nothing early
        # steps may apply the optimizer's update inside their gradient kernels
        # (optimizer.fused_update); they list those weights for apply to skip
        loss, skip, correct = plan.backward(yb, probs, sample_weight, self.optimizer)
        grads = [g for layer in self._layers if layer.trainable for g in layer.grads]
        self.optimizer.apply(params, grads, skip=skip)
        return loss, probs, correct

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

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = "auto", callbacks: Sequence[Callback] | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: Mapping[int, float] | None = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int | Collection[int] = 1) -> History:
        """Train the model, as ``keras.Model.fit``: epochs of mini-batch steps, each
        epoch optionally followed by a validation; returns a `History`, also kept as
        ``model.history``.

        Parameters
        ----------
        x : array_like or iterable
            Inputs, (N, *input_shape) (for one channel (N, H, W) is taken too); or
            an iterable of batches ``(x, y)`` or ``(x, y, sample_weight)`` (a
            generator, an iterator, or an object iterated afresh each epoch), in
            which case `y`, `batch_size` and `sample_weight` must not be given.
        y : array_like, optional
            Targets: class indices (sparse loss) or one-hot rows, N of them.
        batch_size : int, optional
            Samples per step: 32, or ``ceil(N / steps_per_epoch)`` when that is given.
        epochs : int, optional
            The epoch to stop before (counting from 0; with `initial_epoch`, the
            epochs run are ``initial_epoch .. epochs - 1``).
        verbose : 'auto', 0, 1 or 2, optional
            A progress bar per epoch (1, 'auto'), a line per epoch (2), or nothing (0).
        callbacks : list of fastconv.callbacks.Callback, optional
            Called as Keras calls them (`fastconv.callbacks`); a `History` is
            added unless the list holds one.
        validation_split : float, optional
            The fraction of the samples (the last ones, before shuffling; with
            their sample weights) to validate on instead of training; arrays only.
        validation_data : tuple or iterable, optional
            ``(x_val, y_val)``, ``(x_val, y_val, val_sample_weight)`` or an
            iterable of such batches; replaces `validation_split`. Every
            validation sees the same samples (as Keras documents): a one-shot
            iterable (a generator) is read at the first validation (up to
            `validation_steps` batches) and those batches are kept for the next.
        shuffle : bool, optional
            Draw a new order of the samples for every pass over arrays (not for an
            iterable, which yields its own order).
        class_weight : dict, optional
            ``{class index: weight}``: each sample's loss is weighted by its class's
            weight (1 for a class not in the dict), the class being y, or the
            argmax of one-hot y. Not together with `sample_weight`.
        sample_weight : array_like, optional
            One weight per sample, shape (N,) or (N, 1), finite and >= 0.
            A batch's loss is ``sum(w * loss) / batch size``, as Keras' default
            reduction; the reported ``loss`` is the mean of that over the epoch's
            samples, and ``accuracy`` is not weighted (``compile(metrics=...)`` in
            Keras is not).
        initial_epoch : int, optional
            The epoch to start at (to resume training: epochs are counted on).
        steps_per_epoch : int, optional
            Batches per epoch. Needed for an endless generator; with arrays, an
            epoch then takes the next batches of the current pass over the data (a
            new pass begins when one ends). If the data runs out before, a warning
            says so, and training stops when an epoch gets no batch at all.
        validation_steps : int, optional
            Batches per validation: the first that many of the validation data,
            the same ones every time; by default all of them.
        validation_batch_size : int, optional
            Batch size of the validation, `batch_size` by default.
        validation_freq : int or list of int, optional
            Validate after every that many epochs, or after the epochs listed
            (counted from 1).

        Returns
        -------
        History
            ``history.history`` maps ``loss``, ``accuracy`` (and ``val_*``) to one
            value per epoch; ``history.epoch`` lists the epochs run.

        Raises
        ------
        ValueError
            For data of the wrong shape or length, bad weights (negative, NaN,
            the wrong shape, class_weight keys that are not classes of the
            model), bad step counts, and arguments an iterable of batches must
            not come with; all before the first step.
        KeyboardInterrupt
            On Ctrl-C, with the model as after its last complete step.

        Notes
        -----
        Ctrl-C (SIGINT) stops training as in Keras: fit raises KeyboardInterrupt, and
        the model is exactly as after its last complete step, never half updated: every
        weight, optimizer moment and ``optimizer.iterations`` agree. Ctrl-C during a
        validation, or during the forward pass of a step run layer by layer, acts at
        once and the step is discarded; during a step run as one sequence of C calls
        (the lecture's model: about a millisecond), the rest of a step (backward and the
        update, which Dense applies inside its gradient kernel) or a callback it acts
        when that is complete, before the next step. ``model.history`` holds the
        completed epochs, with ``interrupted`` set; ``on_train_end`` is not called. This
        needs fit to run in the main thread over Python's default SIGINT handler, which
        fit replaces for its own duration only; another handler is left alone and
        decides what Ctrl-C does. An exception from a callback or from the data ends fit
        the same way: the handler restored, the progress bar closed, ``model.history``
        kept.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.callbacks import EarlyStopping
        >>> from fastconv.layers import Dense
        >>> from fastconv.models import Sequential
        >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> x, y = np.random.default_rng(0).random((40, 4)), np.arange(40) % 3
        >>> history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0,
        ...                     class_weight={0: 2.0}, callbacks=[EarlyStopping(patience=5)])
        >>> sorted(history.history), history.epoch
        (['accuracy', 'loss', 'val_accuracy', 'val_loss'], [0, 1, 2])
        >>> batches = ((x[i:i + 8], y[i:i + 8]) for i in range(0, 40, 8))
        >>> model.fit(batches, epochs=1, verbose=0).history["loss"] != []
        True
        """
        self._check_ready("fit")
        epochs = positive_int(epochs, "epochs", "fit", minimum=0)
        initial_epoch = positive_int(initial_epoch, "initial_epoch", "fit", minimum=0)
        steps_per_epoch = _optional_steps(steps_per_epoch, "steps_per_epoch", "fit")
        validation_steps = _optional_steps(validation_steps, "validation_steps", "fit")
        validation_freq = _batches.validation_freq_checked(validation_freq)
        level = 1 if verbose == "auto" else int(verbose)
        callbacks = _checked(callbacks, "fit")
        train, val = _batches.fit_data(self, x, y, batch_size, sample_weight, class_weight, shuffle,
                                       steps_per_epoch, validation_split, validation_data,
                                       validation_batch_size, validation_steps)
        guard = _InterruptGuard()
        hooks = bar = None
        try:
            with guard:
                hooks = _CallbackList(callbacks, self, {"verbose": verbose, "epochs": epochs,
                                                        "steps": train.steps_per_epoch}, add_history=True)
                history = hooks.history
                self.stop_training = False
                hooks.on_train_begin()
                epoch_logs: dict[str, float] = {}
                for epoch in range(initial_epoch, epochs):
                    guard.check()
                    batches = train.epoch()
                    first = next(batches, None)
                    if first is None:  # a one-shot iterable is used up: nothing to train on
                        if not train.warned:
                            train.warn_ran_out()
                        break
                    hooks.on_epoch_begin(epoch)
                    bar = _Bar(level, train.steps_per_epoch, f"Epoch {epoch + 1}/{epochs}")
                    start = time.perf_counter()
                    logs = self._train_epoch(itertools.chain([first], batches), hooks, bar, guard)
                    if val is not None and _batches.should_validate(epoch, validation_freq):
                        vals = self._test_loop(val, hooks, guard, "fit (validation)")
                        logs.update({f"val_{key}": value for key, value in vals.items()})
                    bar.close(logs=logs, seconds=time.perf_counter() - start)
                    bar = None
                    epoch_logs = logs
                    hooks.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        break
                hooks.on_train_end(epoch_logs)
        except KeyboardInterrupt:
            if hooks is not None:
                hooks.history.interrupted = True
            self.stop_training = True
            raise
        finally:
            if bar is not None:
                bar.close(interrupted=True)
            if self._steps is not None:
                self._steps.release()  # the training step's buffers: not held between fits
        return history

    def _train_epoch(self, batches: Iterable[_batches.Batch], hooks: _CallbackList, bar: _Bar,
                     guard: _InterruptGuard) -> dict[str, float]:
        """One epoch's steps; its running ``loss`` (mean over the samples so far of
        each batch's weighted loss) and ``accuracy``."""
        seen = correct = 0
        total_loss = 0.0
        logs: dict[str, float] = {}
        hint = _PoolHint()
        for step, (xb, yb, wb) in enumerate(batches):
            hooks.on_train_batch_begin(step)
            hint.begin()
            loss, probs, right = self._train_step(xb, yb, guard, wb)
            hint.end()
            seen += len(xb)
            total_loss += loss * len(xb)
            logs = {"loss": total_loss / seen}
            if self.metrics:
                correct += self._correct(yb, probs) if right is None else right
                logs["accuracy"] = correct / seen
            bar.update(logs)
            hooks.on_train_batch_end(step, logs)
            if self.stop_training:
                break
        return logs

    def _test_loop(self, data: _batches.Epochs, hooks: _CallbackList, guard: _InterruptGuard,
                   op: str, bar: _Bar | None = None) -> dict[str, float]:
        """One pass of `data` through the model in inference mode, with the
        ``on_test_*`` hooks: the mean (weighted) loss and the accuracy. Only the
        forward passes and the losses are open to Ctrl-C under `guard`."""
        self.stop_evaluating = False
        data.reset()
        hooks.on_test_begin()
        seen = correct = 0
        total_loss = 0.0
        logs: dict[str, float] = {}
        for step, yb, wb, probs in self._test_outputs(data, hooks, guard):
            with guard.interruptible():
                loss = self.loss.value(yb, probs, wb)
            seen += len(probs)
            total_loss += loss * len(probs)
            logs = {"loss": total_loss / seen}
            if self.metrics:
                correct += self._correct(yb, probs)
                logs["accuracy"] = correct / seen
            if bar is not None:
                bar.update({})
            hooks.on_test_batch_end(step, logs)
            if self.stop_evaluating:
                break
        if seen == 0:
            raise ValueError(f"{op}: no data: the iterable of batches yielded none")
        hooks.on_test_end(logs)
        return logs

    def _test_outputs(self, data: _batches.Epochs, hooks: _CallbackList, guard: _InterruptGuard
                      ) -> Iterator[tuple[int, Any, np.ndarray | None, np.ndarray]]:
        """Each batch of one pass of `data` with the model's outputs for it:
        (step, y, sample weights, outputs), ``on_test_batch_begin`` called before
        a batch's forward pass. A pass over arrays in order, no callback doing
        anything per batch, runs a group of batches per call of the one-call
        inference pass (`_predict_batches`' groups); each batch's outputs are
        the bits it gives alone."""
        hint = _PoolHint()
        arrays = None if hooks.per_batch("on_test_batch_begin", "on_test_batch_end") else data.array_pass()
        if arrays is not None and not self.stop_evaluating:
            x, y, w, batch = arrays
            group = _group_samples(batch)
            xg = np.ascontiguousarray(x[:group])
            plan = _inference.forward_plan(self, xg)
            if plan is not None:
                step = 0
                for start in range(0, len(x), group):
                    if start:
                        xg = np.ascontiguousarray(x[start:start + group])
                    hint.begin()
                    with guard.interruptible():
                        out = self._group_outputs(plan, xg, batch)
                    hint.end()
                    for i in range(0, len(xg), batch):
                        j = start + i
                        yield step, y[j:j + batch], None if w is None else w[j:j + batch], out[i:i + batch]
                        step += 1
                return
        for step, (xb, yb, wb) in enumerate(data.epoch()):
            hooks.on_test_batch_begin(step)
            hint.begin()
            with guard.interruptible():
                probs = self._forward(xb, training=False)
            hint.end()
            yield step, yb, wb, probs

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int | str = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: Sequence[Callback] | None = None,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Mean loss (and accuracy) over (x, y), as ``keras.Model.evaluate``.

        Parameters
        ----------
        x, y : array_like, or x an iterable of batches
            As for `fit` (an iterable of ``(x, y)`` or ``(x, y, sample_weight)``
            batches comes without `y`, `batch_size` and `sample_weight`).
        batch_size : int, optional
            32 by default, or ``ceil(N / steps)`` when `steps` is given.
        verbose : 'auto', 0, 1 or 2, optional
            A progress bar (1, 'auto'), one line at the end (2), or nothing (0).
        sample_weight : array_like, optional
            One weight per sample: the loss is ``sum(w * loss) / N``.
        steps : int, optional
            Batches to evaluate; by default all.
        callbacks : list of fastconv.callbacks.Callback, optional
            Their ``on_test_*`` hooks are called.
        return_dict : bool, optional
            Return ``{"accuracy": ..., "loss": ...}`` (keys sorted, as Keras).

        Returns
        -------
        list or float or dict
            ``[loss, accuracy]``, the loss alone when compiled without metrics, or
            a dict with `return_dict`.

        Raises
        ------
        ValueError
            For labels that do not fit the loss and the output (Keras' messages:
            one-hot labels with the sparse loss, class indices with the
            categorical one, a class index outside the output's units).

        Notes
        -----
        For in-memory arrays, no callback doing anything per batch, the
        batches run a group per C call as in `predict`, each batch's outputs the
        bits it gives alone and its loss taken from them as a batch at a time.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.layers import Dense
        >>> from fastconv.models import Sequential
        >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> x, y = np.ones((6, 4)), np.arange(6) % 3
        >>> loss, accuracy = model.evaluate(x, y, verbose=0)
        >>> half = model.evaluate(x, y, sample_weight=np.full(6, 0.5), verbose=0, return_dict=True)
        >>> bool(np.isclose(half["loss"], loss / 2))
        True
        """
        self._check_ready("evaluate")
        steps = _optional_steps(steps, "steps", "evaluate")
        level = 1 if verbose == "auto" else int(verbose)
        callbacks = _checked(callbacks, "evaluate")
        data = _batches.evaluate_data(self, x, y, batch_size, sample_weight, steps)
        hooks = _CallbackList(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": data.steps_per_epoch})
        bar = _Bar(level, data.steps_per_epoch, "Evaluate")
        logs = None
        try:
            logs = self._test_loop(data, hooks, _NO_GUARD, "evaluate", bar)
        finally:
            bar.close(logs=logs, interrupted=logs is None)
        if return_dict:
            return dict(sorted(logs.items()))
        return [logs["loss"], logs["accuracy"]] if self.metrics else logs["loss"]

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = "auto", steps: int | None = None,
                callbacks: Sequence[Callback] | None = None) -> Any:
        """The model's outputs for x, dropout off, as ``keras.Model.predict``.

        Parameters
        ----------
        x : array_like, iterable or Dask array
            Inputs (N, *input_shape); or an iterable of batches, each x or a tuple
            whose first item is x (then `batch_size` must not be given). A Dask
            array gives a Dask array, computed chunk by chunk
            (`fastconv.dask.predict`; `steps` and `callbacks` do not apply).
        batch_size : int, optional
            32 by default, or ``ceil(N / steps)`` when `steps` is given.
        verbose : 'auto', 0, 1 or 2, optional
            A progress bar (1, 'auto') or nothing.
        steps : int, optional
            Batches to predict; by default all.
        callbacks : list of fastconv.callbacks.Callback, optional
            Their ``on_predict_*`` hooks are called (``on_predict_batch_end`` with
            ``{"outputs": batch_output}``).

        Returns
        -------
        numpy.ndarray or dask.array.Array
            ``(N, *output_shape)`` (a Dask array for a Dask array x); for no
            samples an empty array of that shape.

        Notes
        -----
        The outputs do not depend on `batch_size` or the thread count. For an
        in-memory x without callbacks, a model of the built-in layers runs as
        one C call per group of batches, the batches shared out among the
        threads (each batch on one thread, as it would run alone).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.layers import Dense
        >>> from fastconv.models import Sequential
        >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
        >>> model.predict(np.ones((5, 4)), batch_size=2, verbose=0).shape
        (5, 3)
        """
        if type(x).__module__.split(".")[0] == "dask":  # a Dask array: lazy, chunk by chunk
            if steps is not None or callbacks:
                raise ValueError("predict: steps and callbacks do not apply to a Dask array x, which is "
                                 "computed lazily, chunk by chunk")
            from .dask import predict as _dask_predict
            return _dask_predict(self, x, batch_size=batch_size)
        steps = _optional_steps(steps, "steps", "predict")
        level = 1 if verbose == "auto" else int(verbose)
        callbacks = _checked(callbacks, "predict")
        if (level == 0 and not callbacks and steps is None and type(x) is np.ndarray and self.layers
                and (batch_size is None or type(batch_size) is int)
                and 0 < len(x) <= (32 if batch_size is None else batch_size)):
            # one in-memory batch, nothing to report: the loop below would run one step
            # of the same forward pass, at several microseconds of bookkeeping
            xb = self._prepare_x(x, "predict")
            self._ensure_built(xb)
            self.stop_predicting = False
            out = self._forward(xb, training=False)
            # a new array, as the concatenation below makes (Flatten alone returns a view)
            return out.copy() if np.may_share_memory(out, x) else out
        if (not callbacks and steps is None and type(x) is np.ndarray and self.layers and len(x)
                and (batch_size is None or (type(batch_size) is int and batch_size > 0))):
            out = self._predict_batches(x, 32 if batch_size is None else batch_size, level)
            if out is not None:
                return out
        data = _batches.predict_data(self, x, batch_size, steps)
        if not self.layers:
            raise RuntimeError("predict: the model has no layers")
        hooks = _CallbackList(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": data.steps_per_epoch})
        bar = _Bar(level, data.steps_per_epoch, "Predict")
        self.stop_predicting = False
        hooks.on_predict_begin()
        outs = []
        try:
            for step, (xb, _, _) in enumerate(data.epoch()):
                hooks.on_predict_batch_begin(step)
                out = self._forward(xb, training=False)
                outs.append(out)
                bar.update({})
                hooks.on_predict_batch_end(step, {"outputs": out})
                if self.stop_predicting:
                    break
        finally:
            bar.close()
        hooks.on_predict_end()
        if not outs:
            return np.zeros((0, *self.output_shape), dtype=DTYPE)
        return np.concatenate(outs)

    def _predict_batches(self, x: np.ndarray, batch: int, level: int) -> np.ndarray | None:
        """predict of an in-memory x through the one-call inference pass
        (`_inference`), a group of batches per call, the batches shared out
        among the threads: each batch's outputs are the bits a batch at a time
        gives. None, before any output or progress, where the pass does not
        apply (predict's loop then runs)."""
        n, nsteps, threads = len(x), -(-len(x) // batch), get_num_threads()
        group = _group_samples(batch)
        xb = self._prepare_x(x[:group], "predict")
        self._ensure_built(xb)
        plan = _inference.forward_plan(self, xb)
        if plan is None:
            return None
        if level == 0 and n > group and x.dtype == DTYPE:
            # no bar to move and no copy to make (the groups are views of x): groups
            # of up to _PREDICT_CALL_MACS per thread, as few calls as a prompt
            # Ctrl-C allows. Each call packs the dense kernels: in predict of 10,000
            # images of the lecture's model at 1 thread, five calls' packs took 1.1%
            # of the time, one call's 0.24% (perf record, AMD EPYC Zen 5)
            per_thread = -(-_PREDICT_CALL_MACS // max(plan.macs, 1)) // batch
            if per_thread * batch * threads > group:
                group = per_thread * batch * threads
                xb = self._prepare_x(x[:group], "predict")
        out = plan.run(xb, batch)
        if out is None:
            return None
        outs = [out]
        bar = _Bar(level, nsteps, "Predict")
        self.stop_predicting = False
        try:
            for start in range(0, n, group):
                if start:
                    xb = self._prepare_x(x[start:start + group], "predict")
                    outs.append(self._group_outputs(plan, xb, batch))
                for _ in range(-(-len(xb) // batch)):
                    bar.update({})
        finally:
            bar.close()
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _group_outputs(self, plan: Any, x: np.ndarray, batch: int) -> np.ndarray:
        """The outputs for a group of batches (predict's, evaluate's): the inference
        pass's call (`plan.run`), or, where it declines (a weight changed dtype
        meanwhile), the layers a batch at a time; the same bits either way."""
        out = plan.run(x, batch)
        if out is None:
            out = np.concatenate([self._forward(x[i:i + batch], training=False)
                                  for i in range(0, len(x), batch)])
        return out  # type: ignore[no-any-return]

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


def _optional_steps(value: Any, name: str, op: str) -> int | None:
    return None if value is None else positive_int(value, name, op)


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


class _PoolHint:
    """The thread pool's hint around each step of fit and each batch of evaluate.

    The pool's workers spin for 50 us after a region, then sleep; the serial parts
    of a step and the Python between two steps (the metrics, the callbacks, the
    next batch's gather) can outlast that, and a worker woken by a region arrives
    after the caller has begun its share, so most of the region runs on one
    thread. Waking them as a step begins and as it ends, with a hold of twice the
    last step's time (at most 5 ms), keeps them spinning for as long as the loop
    runs."""

    def __init__(self) -> None:
        self.hold = 0  # ns the workers keep spinning for; 0 before a step is timed
        self.began = 0.0

    def begin(self) -> None:
        nn._pool_wake(self.hold)  # type: ignore[attr-defined]
        self.began = time.perf_counter()

    def end(self) -> None:
        self.hold = min(int(2e9 * (time.perf_counter() - self.began)), 5_000_000)
        nn._pool_wake(self.hold)  # type: ignore[attr-defined]


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
