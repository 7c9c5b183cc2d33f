"""Keras' callbacks for `Sequential.fit`, `evaluate` and `predict`: the `Callback` hooks, `History`,
`EarlyStopping`, `ModelCheckpoint`, `CSVLogger`, `LambdaCallback` and `TerminateOnNaN`.

The hooks are Keras 3's, called in Keras' order and with Keras' arguments::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_train_batch_begin(batch, logs=...)   (then on_batch_begin, its alias)
        on_train_batch_end(batch, logs=...)     (then on_batch_end)
        ...
        on_test_begin(logs)                     (validation, when it runs this epoch)
          on_test_batch_begin(batch, logs=...)
          on_test_batch_end(batch, logs=...)
        on_test_end(logs)
      on_epoch_end(epoch, logs)
    on_train_end(logs)

`evaluate` calls the ``on_test_*`` hooks and `predict` the ``on_predict_*`` ones. Every
``logs`` is a fresh dict, shared by the callbacks of one call, with its keys sorted
and its values Python floats: the running means of the epoch so far in the batch
hooks (``loss``, ``accuracy``), the epoch's values and the ``val_*`` ones in
``on_epoch_end`` and ``on_train_end``, ``{"outputs": array}`` in
``on_predict_batch_end``, ``{}`` where Keras passes nothing.
"""
from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import atomic_write

if TYPE_CHECKING:
    from .models import Sequential

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "History", "LambdaCallback", "ModelCheckpoint",
           "TerminateOnNaN"]

Logs = dict[str, Any]


class Callback:
    """Base class of the callbacks: override the hooks you need.

    ``fit``, ``evaluate`` and ``predict`` set `model` (the model being run) and
    `params` (``{"verbose": ..., "epochs": ..., "steps": ...}``, ``steps`` being
    the batches per epoch, None while unknown for an iterable of batches) before
    the first hook. See the module's docstring for the hooks' order and logs.

    Attributes
    ----------
    model : Sequential or None
        The model the callback is attached to.
    params : dict or None
        ``verbose``, ``epochs`` and ``steps`` of the run.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.callbacks import Callback
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential
    >>> class Losses(Callback):
    ...     def on_train_begin(self, logs=None):
    ...         self.seen = []
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.seen.append((epoch, sorted(logs)))
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> losses = Losses()
    >>> _ = model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=2, verbose=0, callbacks=[losses])
    >>> losses.seen
    [(0, ['accuracy', 'loss']), (1, ['accuracy', 'loss'])]
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] | None = None
        self._model: Sequential | None = None

    def set_params(self, params: dict[str, Any]) -> None:
        """Called by the model before the first hook, with ``verbose``, ``epochs`` and ``steps``."""
        self.params = params

    def set_model(self, model: Sequential) -> None:
        """Called by the model before the first hook, with itself."""
        self._model = model

    @property
    def model(self) -> Sequential | None:
        """The model this callback is attached to (None before ``fit``, ``evaluate`` or ``predict``)."""
        return getattr(self, "_model", None)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Keras' older name of `on_train_batch_begin`, which calls it."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Keras' older name of `on_train_batch_end`, which calls it."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """At the start of epoch `epoch` (counted from 0) of ``fit``; `logs` is empty."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """At the end of epoch `epoch` of ``fit``: `logs` holds the epoch's ``loss``
        (and ``accuracy``) and, when validation ran this epoch, ``val_loss`` (and
        ``val_accuracy``)."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before training batch `batch` (counted from 0 in each epoch); `logs` is empty."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After training batch `batch`: `logs` holds the epoch's running means so far."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before batch `batch` of ``evaluate`` or of the validation in ``fit``."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After batch `batch` of ``evaluate`` or of the validation: running means so far."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before batch `batch` of ``predict``."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After batch `batch` of ``predict``: ``logs["outputs"]`` is the batch's output."""

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """At the start of ``fit``."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """At the end of ``fit`` (not when an exception, Ctrl-C included, ends it):
        `logs` is the last epoch's, empty when no epoch ran."""

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """At the start of ``evaluate`` or of a validation in ``fit``."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """At the end of ``evaluate`` or of a validation: its ``loss`` (and ``accuracy``)."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """At the start of ``predict``."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """At the end of ``predict``."""


class History(Callback):
    """Records each epoch's logs; what ``fit`` returns and leaves in ``model.history``.

    Every ``fit`` adds one (unless its `callbacks` hold one already, which is then
    used), and sets ``model.history`` to it as it starts and after every epoch, so
    it is there, with the completed epochs, also when an exception or Ctrl-C ends
    ``fit``.

    Attributes
    ----------
    history : dict of str to list of float
        ``loss``, ``accuracy`` (and ``val_*``): one value per completed epoch.
    epoch : list of int
        The completed epochs (counted from 0; from ``initial_epoch`` on).
    interrupted : bool
        Whether Ctrl-C (KeyboardInterrupt) stopped ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> history = model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=3, verbose=0)
    >>> history.epoch, len(history.history["loss"]), model.history is history
    ([0, 1, 2], 3, True)
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []
        self.interrupted = False

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch = []
        self.interrupted = False

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def __repr__(self) -> str:
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class _MonitorCallback(Callback):
    """Keras' MonitorCallback: which way `monitor` improves, and by how much."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                          stacklevel=3)
            mode = "auto"
        if not isinstance(monitor, str):
            raise TypeError(f"{type(self).__name__}: monitor must be the name of a log such as "
                            f"'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(float(min_delta))
        self.monitor_op: Callable[[float, float], bool] | None = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = np.less
            elif name in ("accuracy", "acc"):
                self.monitor_op = np.greater
            else:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but fastconv "
                    "isn't able to automatically determine whether that metric should be maximized "
                    "or minimized. Pass `mode='max'` in order to monitor based on the highest "
                    "metric value, or pass `mode='min'` in order to use the lowest value.")
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value: float, reference_value: float | None) -> bool:
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(_MonitorCallback):
    """Stop training when `monitor` has stopped improving, as ``keras.callbacks.EarlyStopping``.

    After each epoch (from `start_from_epoch` on) the monitored value counts as an
    improvement if it beats the best so far by more than `min_delta`; after
    `patience` epochs without one, ``model.stop_training`` is set and ``fit``
    ends after that epoch.

    Parameters
    ----------
    monitor : str, optional
        The log to watch, ``'val_loss'`` by default (``'loss'``, ``'accuracy'``,
        ``'val_accuracy'``).
    min_delta : float, optional
        The least change that counts as an improvement (its sign is ignored).
    patience : int, optional
        Epochs without improvement after which training stops.
    verbose : int, optional
        1 prints the epoch it stopped at and the weights it restored.
    mode : {'auto', 'min', 'max'}, optional
        Whether the value should fall or rise; ``'auto'`` reads it from the name
        (``*loss`` falls, ``*accuracy`` rises; anything else is a ValueError).
    baseline : float, optional
        An improvement that does not also beat `baseline` does not reset the
        patience count.
    restore_best_weights : bool, optional
        At the end of training, put back the weights of the best epoch (of the
        last epoch watched, if none improved).
    start_from_epoch : int, optional
        Epochs to train before watching begins.

    Attributes
    ----------
    stopped_epoch : int
        The epoch training stopped after (0 if it did not stop early).
    best_epoch : int
        The epoch of the best value.
    best : float or None
        The best value.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.callbacks import EarlyStopping
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> stop = EarlyStopping(monitor="loss", min_delta=10.0, patience=2)  # no epoch gains 10
    >>> history = model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=50, verbose=0,
    ...                     callbacks=[stop])
    >>> history.epoch, stop.stopped_epoch
    ([0, 1, 2], 2)
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = _non_negative_int(patience, "patience", "EarlyStopping")
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = bool(restore_best_weights)
        self.best_weights: list[np.ndarray] | None = None
        self.start_from_epoch = _non_negative_int(start_from_epoch, "start_from_epoch", "EarlyStopping")
        self.best_epoch = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        # an instance may serve several fits
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # until something beats them
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # the count restarts only on beating both the baseline and the best so far
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs: Logs | None) -> float | None:
        """``logs[monitor]``, or None with a warning naming the logs there are."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}", stacklevel=2)
        return value


class ModelCheckpoint(_MonitorCallback):
    """Save the model after every epoch (or every `save_freq` batches), as
    ``keras.callbacks.ModelCheckpoint``.

    Each save is ``model.save(path)``: the whole model (config, weights, compile
    settings), written atomically, so an interrupted save leaves the previous
    file whole; ``fastconv.models.load_model(path)`` reads it back.

    Parameters
    ----------
    filepath : str or path-like
        Where to save; may hold ``str.format`` fields filled from ``epoch``
        (counted from 1), the epoch's logs (``{val_loss:.2f}``) and, with an
        integer `save_freq`, ``batch`` (from 1): ``"ckpt-{epoch:02d}.fcm"``.
        Missing directories are created.
    monitor : str, optional
        The log that decides, with `save_best_only`, which epochs are saved.
    verbose : int, optional
        1 prints a line per save (or per skipped save).
    save_best_only : bool, optional
        Save only when `monitor` improved on the best so far (always when the
        logs lack it, with a warning).
    save_weights_only : bool, optional
        Must be False: fastconv has no weights-only file (NotImplementedError
        otherwise); the model file holds the weights, ``model.get_weights()``
        gives them.
    mode : {'auto', 'min', 'max'}, optional
        As in `EarlyStopping`.
    save_freq : 'epoch' or int, optional
        ``'epoch'`` saves at each epoch's end; an int saves every that many
        training batches.
    initial_value_threshold : float, optional
        With `save_best_only`, the value the first save must beat.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastconv.callbacks import ModelCheckpoint
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential, load_model
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> folder = tempfile.mkdtemp()
    >>> ckpt = ModelCheckpoint(os.path.join(folder, "m-{epoch:02d}.fcm"), monitor="loss")
    >>> _ = model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=2, verbose=0, callbacks=[ckpt])
    >>> sorted(os.listdir(folder))
    ['m-01.fcm', 'm-02.fcm']
    >>> load_model(os.path.join(folder, "m-02.fcm")).predict(np.ones((1, 3)), verbose=0).shape
    (1, 2)
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' "
                             "or integer values >= 1")
        self.save_freq = save_freq
        if self.save_weights_only:
            raise NotImplementedError(
                "ModelCheckpoint: save_weights_only=True needs a weights-only file, which fastconv "
                "does not write; use save_weights_only=False (the default): each checkpoint is then "
                "the whole model, as model.save writes it, fastconv.models.load_model reads it back "
                "and its get_weights() gives the weights")
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:  # a new epoch
            add = batch + 1
        else:
            add = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch: int, logs: Logs | None, filepath: str) -> bool:
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: Logs | None) -> None:
        filepath = self._get_file_path(epoch, batch, logs or {})
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                f"existing directory: {filepath}")
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.model.save(filepath)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch: int, batch: int | None, logs: Logs) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as err:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {err}") from None


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file, as ``keras.callbacks.CSVLogger``.

    The columns are ``epoch`` and the logs' keys in sorted order (with ``val_*``
    columns, ``NA`` in them, when the first epoch has no validation); rows end
    in ``\\r\\n`` (the ``csv`` module's excel dialect, as Keras writes them).
    The file is rewritten atomically at the start of training and after every
    epoch, so it is always a whole CSV file, never half a row.

    Parameters
    ----------
    filename : str or path-like
        The CSV file.
    separator : str, optional
        The field separator, ``','`` by default.
    append : bool, optional
        Keep the file's rows and add to them (the header is written only if
        the file was empty); by default the file is replaced.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastconv.callbacks import CSVLogger
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> _ = model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=2, verbose=0,
    ...               callbacks=[CSVLogger(path)])
    >>> [line.split(",")[:2] for line in open(path).read().splitlines()]
    [['epoch', 'loss'], ['0', ...], ['1', ...]]
    """

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self.keys: list[str] | None = None
        self.append_header = True
        self._text = ""
        self._writer_ready = False

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._text = ""
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._text = f.read()
            self.append_header = not self._text
        self.keys = None
        self._writer_ready = False
        self._write()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["epoch", *self.keys], delimiter=self.sep)
        if not self._writer_ready:
            if self.append_header:
                writer.writeheader()
            self._writer_ready = True
        writer.writerow({"epoch": epoch, **{key: _csv_value(logs.get(key, "NA")) for key in self.keys}})
        self._text += out.getvalue()
        self._write()

    def _write(self) -> None:
        with atomic_write(self.filename) as f:
            f.write(self._text.encode("utf-8"))


def _csv_value(value: Any) -> Any:
    """A log value as Keras' CSVLogger writes it: strings and scalars as they are,
    other iterables as ``"[a, b, ...]"``."""
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value
    if isinstance(value, Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class LambdaCallback(Callback):
    """A callback made of functions, as ``keras.callbacks.LambdaCallback``.

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : callable, optional
        Called as ``f(epoch, logs)``.
    on_train_begin, on_train_end : callable, optional
        Called as ``f(logs)``.
    on_train_batch_begin, on_train_batch_end : callable, optional
        Called as ``f(batch, logs)``.
    **kwargs
        Further hooks (``on_test_begin=...``, ``on_predict_batch_end=...``, ...),
        set as they are, as Keras does.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.callbacks import LambdaCallback
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> epochs = []
    >>> _ = model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), epochs=2, verbose=0,
    ...               callbacks=[LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch))])
    >>> epochs
    [0, 1]
    """

    def __init__(self, on_epoch_begin: Callable[..., Any] | None = None,
                 on_epoch_end: Callable[..., Any] | None = None,
                 on_train_begin: Callable[..., Any] | None = None,
                 on_train_end: Callable[..., Any] | None = None,
                 on_train_batch_begin: Callable[..., Any] | None = None,
                 on_train_batch_end: Callable[..., Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        self.__dict__.update(kwargs)
        for name, hook in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                           ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                           ("on_train_batch_begin", on_train_batch_begin),
                           ("on_train_batch_end", on_train_batch_end)):
            if hook is not None:
                setattr(self, name, hook)


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite, as ``keras.callbacks.TerminateOnNaN``.

    Checked after every training batch, on the epoch's running loss.

    Parameters
    ----------
    raise_error : bool, optional
        Raise RuntimeError at once instead of setting ``model.stop_training``
        (which ends ``fit`` after the epoch's validation and ``on_epoch_end``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.callbacks import TerminateOnNaN
    >>> from fastconv.layers import Dense
    >>> from fastconv.models import Sequential
    >>> model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> x = np.full((4, 3), np.nan)
    >>> history = model.fit(x, np.array([0, 1, 0, 1]), batch_size=1, epochs=5, verbose=0,
    ...                     callbacks=[TerminateOnNaN()])
    Batch 0: Invalid loss, terminating training
    >>> history.epoch
    [0]
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def _non_negative_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, got {value!r}")
    return int(value)


# ---- what fit, evaluate and predict call ---------------------------------------------------------


def _python_logs(logs: Mapping[str, Any] | None) -> Logs:
    """A fresh dict of `logs`, keys sorted and numbers as Python floats, as Keras hands them out."""
    out: Logs = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            value = float(value)
        out[key] = value
    return out


def _checked(callbacks: Any, op: str) -> list[Callback]:
    """`callbacks` (None or a list or tuple of `Callback`) as a list, else TypeError."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError(f"{op}: callbacks must be a list of callbacks, got one {type(callbacks).__name__}; "
                        "pass [callback]")
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{op}: callbacks must be a list of fastconv.callbacks.Callback, got "
                        f"{type(callbacks).__name__}")
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(f"{op}: callbacks[{i}] is a {type(callback).__module__}."
                            f"{type(callback).__name__}, not a fastconv.callbacks.Callback")
    return list(callbacks)


_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
                "on_predict_batch_begin", "on_predict_batch_end")
_OLDER_NAME = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _does_something(callback: Callback, hook: str) -> bool:
    """Whether `callback`'s `hook` is anything but `Callback`'s empty one (for the
    train batch hooks: the base's call of Keras' older name, itself empty), so a
    batch loop can leave out the calls, and the logs made for them, that would
    do nothing."""
    if getattr(getattr(callback, hook), "__func__", None) is not getattr(Callback, hook):
        return True
    older = _OLDER_NAME.get(hook)
    return older is not None and _does_something(callback, older)


class _CallbackList:
    """The callbacks of one ``fit``, ``evaluate`` or ``predict`` call, called together
    (Keras' ``CallbackList``): a `History` added for ``fit``, model and params set,
    ``model.history`` pointed at the History, each hook's logs made Keras' way."""

    def __init__(self, callbacks: list[Callback], model: Sequential, params: dict[str, Any],
                 add_history: bool = False) -> None:
        self.callbacks = list(callbacks)
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)
        # per batch hook, the callbacks whose hook does something (a training step
        # of the lecture's model is about a millisecond: building the logs and
        # calling History's empty hooks twice a step took 1.9 us of it)
        self._batch = {hook: [c for c in self.callbacks if _does_something(c, hook)] for hook in _BATCH_HOOKS}

    def per_batch(self, *hooks: str) -> bool:
        """Whether any callback does something in one of these batch hooks."""
        return any(self._batch[hook] for hook in hooks)

    def _each(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args, **kwargs)

    def _each_batch(self, hook: str, batch: int, logs: Logs | None) -> None:
        callbacks = self._batch[hook]
        if callbacks:
            made = _python_logs(logs)
            for callback in callbacks:
                getattr(callback, hook)(batch, logs=made)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._each("on_train_begin", _python_logs(logs))

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._each("on_train_end", _python_logs(logs))

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._each("on_epoch_begin", epoch, _python_logs(logs))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._each("on_epoch_end", epoch, _python_logs(logs))

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._each_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._each_batch("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._each("on_test_begin", _python_logs(logs))

    def on_test_end(self, logs: Logs | None = None) -> None:
        self._each("on_test_end", _python_logs(logs))

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._each_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._each_batch("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._each("on_predict_begin", _python_logs(logs))

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._each("on_predict_end", _python_logs(logs))

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._each_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._each_batch("on_predict_batch_end", batch, logs)
