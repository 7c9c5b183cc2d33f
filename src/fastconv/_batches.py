"""Where fit, evaluate and predict take their batches from: arrays cut into batches, or an
iterable of batches, with sample and class weights checked, and Keras' rules for steps.

A batch is ``(x, y, sample_weight)``: x prepared as the model takes it (float32,
channel axis added), y as given (or None for predict), sample_weight float32 of
shape (len(x),) or None. Weights follow Keras 3: a batch's loss is
``sum(w * loss) / len(x)`` (the batch size, not the weights' sum), class weights
become per-sample weights (a class missing from the dict weighs 1), and
`class_weight` with `sample_weight` is an error; metrics (accuracy) are not
weighted, as ``compile(metrics=...)`` is not in Keras.

`Epochs` hands out one epoch's batches at a time as Keras' EpochIterator does:
without `steps`, one pass over the data per epoch; with `steps`, that many
batches per epoch, continuing through the data across epochs (a new, reshuffled
pass begins when one ends), and a warning if the data runs out first.
"""
from __future__ import annotations

import inspect
import itertools
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import utils
from ._checks import positive_int

if TYPE_CHECKING:
    from .models import Sequential

Batch = tuple[np.ndarray, Any, "np.ndarray | None"]
WEIGHT_DTYPE = np.float32  # Keras casts sample weights to floatx


# ---- what the user passed --------------------------------------------------------------------------


def is_batch_iterable(x: Any) -> bool:
    """Whether `x` is a source of batches (a generator, an iterator, an iterable
    object) rather than array data (ndarray, list, tuple, anything with
    ``__array__``, a Dask array)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, str, bytes, dict)):
        return False
    if hasattr(x, "__array__") or hasattr(x, "__array_interface__"):
        return False
    return isinstance(x, Iterable)


def _kind(x: Any) -> str:
    return "generator" if inspect.isgenerator(x) else "iterable of batches"


def refuse_with_batches(op: str, x: Any, **given: Any) -> None:
    """Keras' error for arguments that an iterable of batches carries itself."""
    kind = _kind(x)
    instead = {"y": "the targets should be included as part of the batches",
               "sample_weight": "the sample weights should be included as part of the batches",
               "batch_size": "the batch size is the length of the batches it yields"}
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"{op}: when providing `x` as a {kind}, `{name}` should not be passed. "
                             f"Instead, {instead[name]}.")


def sample_weights(w: Any, n: int, op: str, name: str = "sample_weight") -> np.ndarray:
    """`w` as float32 of shape (n,): one finite, non-negative weight per sample
    (shape (n, 1) is taken too, as Keras takes it); a new array, `w` untouched."""
    arr = np.asarray(w)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{op}: {name} must have shape ({n},), one weight per sample, got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{op}: x has {n} samples but {name} has {len(arr)}")
    bad = ~np.isfinite(arr) if arr.dtype.kind == "f" else np.zeros(len(arr), bool)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{op}: {name} must be finite, got {arr[i]} at index {i}")
    if (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise ValueError(f"{op}: {name} must be >= 0, got {arr[i]} at index {i}")
    return arr.astype(WEIGHT_DTYPE)  # a copy, also when it is float32 already


def check_class_weight(class_weight: Any, op: str) -> dict[int, float] | None:
    """`class_weight` as {class index: weight}: keys whole numbers >= 0, values
    finite and >= 0. (Whether each key is a class of the model is checked when
    the model's output is known, by `class_sample_weights`.)"""
    if class_weight is None:
        return None
    if not hasattr(class_weight, "items"):
        raise TypeError(f"{op}: class_weight must be a dict {{class index: weight}}, "
                        f"got {type(class_weight).__name__}")
    out: dict[int, float] = {}
    for key, value in class_weight.items():
        try:
            index = operator.index(key) if not isinstance(key, (bool, np.bool_)) else None
        except TypeError:
            index = int(key) if isinstance(key, (float, np.floating)) and float(key).is_integer() else None
        if index is None or index < 0:
            raise ValueError(f"{op}: class_weight keys must be class indices (ints >= 0), got {key!r}")
        try:
            weight = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: class_weight[{key!r}] must be a number, got {value!r}") from None
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"{op}: class_weight[{key!r}] must be finite and >= 0, got {value!r}")
        out[index] = weight
    return out


def class_sample_weights(y: Any, class_weight: dict[int, float], classes: int, op: str) -> np.ndarray:
    """Per-sample weights from `class_weight`, as Keras makes them: the class is
    y itself (rounded), y[:, 0] for y of shape (N, 1), or argmax(y) for one-hot y;
    a class missing from `class_weight` weighs 1."""
    out_of_range = sorted(k for k in class_weight if k >= classes)
    if out_of_range:
        raise ValueError(f"{op}: class_weight has key {out_of_range[0]}, but the model predicts "
                         f"{classes} classes (indices 0 to {classes - 1})")
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels[..., 0] if labels.shape[-1] == 1 else labels.argmax(axis=-1)
    labels = np.round(labels).astype(np.int64).reshape(len(labels))
    w = np.ones(len(labels), dtype=WEIGHT_DTYPE)
    for index, weight in class_weight.items():
        w[labels == index] = weight
    return w


def validation_freq_checked(freq: Any) -> int | frozenset[int]:
    """An int >= 1 (validate every that many epochs) or a collection of epochs
    counted from 1 (validate after those), as Keras takes `validation_freq`."""
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, (bool, np.bool_)):
        return positive_int(freq, "validation_freq", "fit")
    if isinstance(freq, (list, tuple, set, frozenset, range)):
        return frozenset(positive_int(e, "validation_freq", "fit") for e in freq)
    raise ValueError(f"fit: expected `validation_freq` to be a list or int, got validation_freq={freq!r} "
                     f"of type {type(freq).__name__}")


def should_validate(epoch: int, freq: int | frozenset[int]) -> bool:
    """Keras' rule: the epoch counted from 1 is a multiple of `freq`, or in it."""
    return (epoch + 1) % freq == 0 if isinstance(freq, int) else epoch + 1 in freq


# ---- sources of batches -------------------------------------------------------------------------------


class ArraySource:
    """(x, y, w) arrays cut into batches of `batch_size`, in a new random order
    on every pass when `shuffle` is set."""

    one_shot = False

    def __init__(self, x: np.ndarray, y: Any, w: np.ndarray | None, batch_size: int, shuffle: bool):
        self.x, self.y, self.w = x, y, w
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_batches: int | None = math.ceil(len(x) / batch_size)

    def new_pass(self) -> Iterator[Batch]:
        n = len(self.x)
        order = utils.rng().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield (self.x[idx], None if self.y is None else self.y[idx],
                   None if self.w is None else self.w[idx])


class IterableSource:
    """Batches from an iterable: each item made a `Batch` by `prepare(item, i)`, i
    counting the items taken from it so far. A one-shot source (an iterator, a
    generator) continues where it stopped; another starts over on each pass."""

    def __init__(self, data: Iterable[Any], prepare: Callable[[Any, int], Batch]):
        self.data = data
        self.prepare = prepare
        self.one_shot = isinstance(data, Iterator)
        self.num_batches: int | None = None
        if not self.one_shot and hasattr(data, "__len__"):
            try:
                self.num_batches = len(data)  # type: ignore[arg-type]
            except TypeError:
                pass
        self._taken = 0

    def new_pass(self) -> Iterator[Batch]:
        for item in iter(self.data):
            i, self._taken = self._taken, self._taken + 1
            yield self.prepare(item, i)


class Epochs:
    """One epoch's batches at a time from `source`, by Keras' EpochIterator rules
    (see the module docstring). With `replay`, the first epoch's batches (up to
    `steps`) are kept and every later epoch replays them: a one-shot validation
    source then gives each validation the same samples, as Keras documents for
    `validation_steps`."""

    def __init__(self, source: ArraySource | IterableSource, steps: int | None, *, what: str,
                 replay: bool = False):
        self.source = source
        self.steps = steps
        self.what = what  # "training", "evaluation", "prediction"
        self.num_batches = source.num_batches
        self._iterator: Iterator[Batch] | None = None
        self._seen = 0
        self._kept: list[Batch] | None = [] if replay else None
        self._replaying = False
        self.warned = False  # whether this epoch's data ran out (and said so)

    def reset(self) -> None:
        """Start the next epoch at a new pass (Keras resets the validation data so
        before every validation; a one-shot source continues where it stopped)."""
        self._iterator, self._seen = None, 0

    @property
    def steps_per_epoch(self) -> int | None:
        """Batches per epoch: `steps`, else the data's batches (None while unknown)."""
        return self.steps or self.num_batches

    def array_pass(self) -> tuple[np.ndarray, Any, np.ndarray | None, int] | None:
        """(x, y, sample weights, batch size) where an epoch is one pass over
        arrays in their order, every batch of `batch size` samples but the last;
        else None."""
        source = self.source
        if type(source) is ArraySource and not source.shuffle and self.steps is None and self._kept is None:
            return source.x, source.y, source.w, source.batch_size
        return None

    def _pass(self) -> Iterator[Batch]:
        return self.source.new_pass()

    def _replay(self) -> Iterator[Batch]:
        """The first epoch's batches (up to `steps`), kept; later epochs replay them."""
        if self._replaying:
            yield from self._kept
            return
        try:
            for batch in itertools.islice(self.source.new_pass(), self.steps):
                self._kept.append(batch)
                yield batch
        finally:
            self._replaying = True
        if self.steps is not None and len(self._kept) < self.steps:
            self.warn_ran_out()

    def warn_ran_out(self) -> None:
        """Keras' warning that the data ran out before the steps asked for."""
        self.warned = True
        need = "`steps_per_epoch * epochs`" if self.what == "training" else "`steps`"
        warnings.warn(f"Your input ran out of data; interrupting {self.what}. Make sure that your dataset "
                      f"or generator can generate at least {need} batches.", UserWarning, stacklevel=4)

    def epoch(self) -> Iterator[Batch]:
        """The next epoch's batches."""
        self.warned = False
        if self._kept is not None:
            yield from self._replay()
            return
        if self.steps is None:
            count = 0
            for batch in self._pass():
                count += 1
                yield batch
            if self.num_batches is None and count and not self.source.one_shot:
                self.num_batches = count
            return
        if self._iterator is None:
            self._iterator, self._seen = self._pass(), 0
        for _ in range(self.steps):
            if self.num_batches is not None and self._seen >= self.num_batches:
                self.warn_ran_out()
                break
            try:
                batch = next(self._iterator)
            except StopIteration:
                if self.num_batches is None and self._seen and not self.source.one_shot:
                    self.num_batches = self._seen
                self._iterator = None
                self.warn_ran_out()
                return
            self._seen += 1
            yield batch
        if self.num_batches is not None and self._seen >= self.num_batches:
            self._iterator = None  # the pass is over: the next epoch starts a new one


# ---- building the sources for fit, evaluate and predict -------------------------------------------------


def _describe(item: Any) -> str:
    if isinstance(item, tuple):
        return f"a tuple of {len(item)} items"
    shape = getattr(item, "shape", None)
    return f"a {type(item).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _labelled_batch(model: Sequential, item: Any, i: int, op: str, where: str,
                    class_weight: dict[int, float] | None = None) -> Batch:
    """One (x, y) or (x, y, sample_weight) batch of an iterable, checked and prepared."""
    if isinstance(item, list):  # as Keras: a list is a tuple
        item = tuple(item)
    if not isinstance(item, tuple) or len(item) not in (2, 3) or item[1] is None:
        raise ValueError(f"{op}: each batch of {where} must be (x, y) or (x, y, sample_weight); "
                         f"batch {i} is {_describe(item)}")
    name = f"{op} ({where}, batch {i})"
    xb = model._prepare_x(item[0], name)
    model._ensure_built(xb)
    if len(xb) == 0:
        raise ValueError(f"{name}: the batch holds no samples (x has shape {xb.shape})")
    yb = model._check_xy(xb, item[1], name)
    wb = None if len(item) == 2 or item[2] is None else sample_weights(item[2], len(xb), name)
    if class_weight is not None:
        if wb is not None:
            raise ValueError(f"{name}: class_weight and sample_weight cannot be given at the same time; "
                             "fold the class weights into the batch's sample weights")
        wb = class_sample_weights(yb, class_weight, model.output_shape[-1], op)
    return xb, yb, wb


def _input_batch(model: Sequential, item: Any, i: int) -> Batch:
    """One batch of an iterable given to predict: x, or a tuple whose first item is x."""
    if isinstance(item, list):
        item = tuple(item)
    if isinstance(item, tuple):
        if not 1 <= len(item) <= 3:
            raise ValueError(f"predict: each batch of x must be x, (x,), (x, y) or (x, y, sample_weight); "
                             f"batch {i} is {_describe(item)}")
        item = item[0]
    xb = model._prepare_x(item, f"predict (x, batch {i})")
    model._ensure_built(xb)
    return xb, None, None


def _arrays(model: Sequential, x: Any, y: Any, w: Any, op: str,
            names: tuple[str, str] = ("x", "sample_weight")) -> tuple[np.ndarray, Any, np.ndarray | None]:
    """x, y and sample weights given as arrays, checked against the model and each other."""
    x = model._prepare_x(x, op)
    if y is None:
        raise ValueError(f"{op}: y is missing: give the targets of {names[0]}, or {names[0]} as an "
                         "iterable of (x, y) batches")
    y = model._check_xy(x, y, op)
    model._ensure_built(x)
    return x, y, None if w is None else sample_weights(w, len(x), op, names[1])


def _batch_size(batch_size: Any, n: int, steps: int | None, op: str, name: str = "batch_size") -> int:
    """Keras' default: 32, or ceil(n / steps) when steps is given."""
    if batch_size is not None:
        return positive_int(batch_size, name, op)
    return max(1, math.ceil(n / steps)) if steps else 32


def fit_data(model: Sequential, x: Any, y: Any, batch_size: Any, sample_weight: Any, class_weight: Any,
             shuffle: bool, steps_per_epoch: int | None, validation_split: Any, validation_data: Any,
             validation_batch_size: Any, validation_steps: int | None) -> tuple[Epochs, Epochs | None]:
    """fit's training and validation batches, every argument checked before training."""
    class_weight = check_class_weight(class_weight, "fit")
    if is_batch_iterable(x):
        refuse_with_batches("fit", x, y=y, batch_size=batch_size, sample_weight=sample_weight)
        if validation_split:
            raise ValueError(f"fit: validation_split is only supported for arrays, not for x given as a "
                             f"{_kind(x)}; pass validation_data instead")
        train = Epochs(IterableSource(x, lambda item, i: _labelled_batch(model, item, i, "fit", "x", class_weight)),
                       steps_per_epoch, what="training")
        vx = vy = vw = None
    else:
        x, y, w = _arrays(model, x, y, sample_weight, "fit")
        if class_weight is not None:
            if w is not None:
                raise ValueError("fit: class_weight and sample_weight cannot be given at the same time "
                                 "(as in Keras); fold the class weights into sample_weight")
            class_sample_weights(y[:0], class_weight, model.output_shape[-1], "fit")  # keys checked now
        vx = vy = vw = None
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
            cut = int(len(x) * (1 - validation_split))  # Keras: the last samples, before shuffling
            if cut == 0 or cut == len(x):
                raise ValueError(
                    f"fit: x has {len(x)} samples, too few to split into training and validation "
                    f"sets with validation_split={validation_split!r}; give more data or another "
                    "validation_split")
            vx, vy, vw = x[cut:], y[cut:], None if w is None else w[cut:]
            x, y, w = x[:cut], y[:cut], None if w is None else w[:cut]
        if len(x) == 0:
            raise ValueError(f"fit: no training data: x has shape {x.shape}; give at least one sample")
        if class_weight is not None:  # the training samples only, not those split off to validate on
            w = class_sample_weights(y, class_weight, model.output_shape[-1], "fit")
        size = _batch_size(batch_size, len(x), steps_per_epoch, "fit")
        train = Epochs(ArraySource(x, y, w, size, shuffle), steps_per_epoch, what="training")
    val = None
    if validation_data is not None:
        op = "fit (validation_data)"
        if is_batch_iterable(validation_data):
            source = IterableSource(validation_data,
                                    lambda item, i: _labelled_batch(model, item, i, "fit", "validation_data"))
            val = Epochs(source, validation_steps, what="evaluation", replay=source.one_shot)
        else:
            if isinstance(validation_data, list):
                validation_data = tuple(validation_data)
            if not isinstance(validation_data, tuple) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be (x_val, y_val), (x_val, y_val, "
                                 "val_sample_weight) or an iterable of such batches, got "
                                 f"{_describe(validation_data)}")
            vx, vy, vw = (*validation_data, None)[:3]
            vx, vy, vw = _arrays(model, vx, vy, vw, op, ("x_val", "val_sample_weight"))
            if len(vx) == 0:
                raise ValueError(f"fit: validation_data holds no samples: x_val has shape {vx.shape}")
    if vx is not None:
        size = _batch_size(validation_batch_size if validation_batch_size is not None else batch_size,
                           len(vx), validation_steps, "fit", "validation_batch_size")
        val = Epochs(ArraySource(vx, vy, vw, size, False), validation_steps, what="evaluation")
    return train, val


def evaluate_data(model: Sequential, x: Any, y: Any, batch_size: Any, sample_weight: Any,
                  steps: int | None) -> Epochs:
    """evaluate's batches."""
    if is_batch_iterable(x):
        refuse_with_batches("evaluate", x, y=y, batch_size=batch_size, sample_weight=sample_weight)
        return Epochs(IterableSource(x, lambda item, i: _labelled_batch(model, item, i, "evaluate", "x")),
                      steps, what="evaluation")
    x, y, w = _arrays(model, x, y, sample_weight, "evaluate")
    if len(x) == 0:
        raise ValueError(f"evaluate: no data: x has shape {x.shape}; give at least one sample")
    return Epochs(ArraySource(x, y, w, _batch_size(batch_size, len(x), steps, "evaluate"), False), steps,
                  what="evaluation")


def predict_data(model: Sequential, x: Any, batch_size: Any, steps: int | None) -> Epochs:
    """predict's batches (y and sample weights are None)."""
    if is_batch_iterable(x):
        refuse_with_batches("predict", x, batch_size=batch_size)
        return Epochs(IterableSource(x, lambda item, i: _input_batch(model, item, i)), steps, what="prediction")
    x = model._prepare_x(x, "predict")
    model._ensure_built(x)
    size = _batch_size(batch_size, len(x), steps, "predict")
    return Epochs(ArraySource(x, None, None, size, False), steps, what="prediction")
