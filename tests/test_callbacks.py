"""fastconv.callbacks and fit's Keras arguments, without TensorFlow: the hooks' order
and arguments against the loop Keras 3 documents (written out below), EarlyStopping,
ModelCheckpoint, CSVLogger, LambdaCallback and TerminateOnNaN against expectations
worked out here from their documented rules, sample and class weights against NumPy's
weighted cross-entropy and PyTorch's gradient of it, iterables of batches and steps
against the batches a recorder sees. (The same against Keras itself:
tests/test_keras_parity.py, where TensorFlow is installed.)

The model is a two-layer perceptron small enough to run in milliseconds; where a test
needs its loss unchanged by training, SGD's learning rate is too small to move a
float32 weight, so the NumPy forward pass of the initial weights is exact."""
from __future__ import annotations

import csv
import inspect
import io
import os
import signal
import warnings

import numpy as np
import pytest
import torch
from _helpers import raises, torch_one_thread  # noqa: F401 - torch_one_thread: autouse, torch on one thread

from fastconv import callbacks as cb
from fastconv import optimizers
from fastconv.layers import Dense
from fastconv.models import History, Sequential, load_model

FEATURES, HIDDEN, CLASSES = 6, 5, 3
FROZEN = 1e-30  # an SGD learning rate that moves no float32 weight


def make_model(seed=0, optimizer=None, metrics=("accuracy",)):
    model = Sequential([Dense(HIDDEN, activation="relu", input_shape=(FEATURES,)),
                        Dense(CLASSES, activation="softmax")])
    gen = np.random.default_rng(seed)
    model.set_weights([gen.uniform(-0.8, 0.8, w.shape).astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer=optimizer or optimizers.SGD(learning_rate=FROZEN),
                  loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def data(n=10, seed=1):
    gen = np.random.default_rng(seed)
    return gen.standard_normal((n, FEATURES)).astype(np.float32), gen.integers(0, CLASSES, n)


def numpy_losses(weights, x, y):
    """Per-sample cross-entropy of the perceptron with `weights`, float64, and
    whether each sample is classified right."""
    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in weights)
    z = np.maximum(np.asarray(x, np.float64) @ w1 + b1, 0) @ w2 + b2
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    return -logp[np.arange(len(y)), y], z.argmax(-1) == y


def numpy_loss(weights, x, y, w=None):
    """Keras' weighted mean: sum(w * loss) / N."""
    losses, _ = numpy_losses(weights, x, y)
    return float((losses if w is None else losses * w).sum() / len(y))


# ---- the hooks: order and arguments as Keras 3 calls them -------------------------------------------

# How Keras 3 (keras/src/trainers, keras/src/callbacks/callback_list.py) passes each
# hook its arguments: "P" positional, "K" logs as a keyword.
KERAS_FORM = {
    "on_train_begin": ("logs", "P"), "on_train_end": ("logs", "P"),
    "on_epoch_begin": ("index", "P"), "on_epoch_end": ("index", "P"),
    "on_train_batch_begin": ("index", "K"), "on_train_batch_end": ("index", "K"),
    "on_test_begin": ("logs", "P"), "on_test_end": ("logs", "P"),
    "on_test_batch_begin": ("index", "K"), "on_test_batch_end": ("index", "K"),
    "on_predict_begin": ("logs", "P"), "on_predict_end": ("logs", "P"),
    "on_predict_batch_begin": ("index", "K"), "on_predict_batch_end": ("index", "K"),
}


class Recorder(cb.Callback):
    """Records every hook: (name, index or None, a copy of logs, how logs came)."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.model_at_begin = self.params_at_begin = None


def _recording(name):
    kind = KERAS_FORM[name][0]

    def hook(self, *args, **kwargs):
        if name in ("on_train_begin", "on_test_begin", "on_predict_begin") and self.model_at_begin is None:
            self.model_at_begin, self.params_at_begin = self.model, self.params
        if kind == "index":
            index, rest = args[0], args[1:]
        else:
            index, rest = None, args
        form = "K" if "logs" in kwargs else "P" if rest else "-"
        logs = kwargs.get("logs", rest[0] if rest else None)
        self.calls.append((name, index, None if logs is None else dict(logs), form))
    return hook


for _name in KERAS_FORM:
    setattr(Recorder, _name, _recording(_name))


def keras_fit_calls(epochs, steps, val_steps=0, validate=(), initial_epoch=0, stop_at=None):
    """The hooks Keras' fit calls, in order (keras/src/backend/*/trainer.py): train
    begin; per epoch: epoch begin, each batch's begin and end, the validation's
    test begin, batches and end on the epochs in `validate` (counted from 1), epoch
    end; train end. `stop_at` = (epoch, batch) where stop_training gets set: the
    batch loop breaks, the validation and epoch end still run, then training ends."""
    calls = [("on_train_begin", None)]
    for epoch in range(initial_epoch, epochs):
        calls.append(("on_epoch_begin", epoch))
        for batch in range(steps):
            calls += [("on_train_batch_begin", batch), ("on_train_batch_end", batch)]
            if stop_at == (epoch, batch):
                break
        if epoch + 1 in validate:
            calls.append(("on_test_begin", None))
            for batch in range(val_steps):
                calls += [("on_test_batch_begin", batch), ("on_test_batch_end", batch)]
            calls.append(("on_test_end", None))
        calls.append(("on_epoch_end", epoch))
        if stop_at is not None and stop_at[0] == epoch:
            break
    calls.append(("on_train_end", None))
    return calls


def assert_keras_forms(calls):
    for name, _, _, form in calls:
        assert form == KERAS_FORM[name][1], f"{name} got its logs {form!r}, Keras passes them {KERAS_FORM[name][1]!r}"


def test_fit_calls_the_hooks_in_keras_order_with_keras_arguments():
    model = make_model()
    x, y = data(10)
    vx, vy = data(5, seed=2)
    rec = Recorder()
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, shuffle=False, callbacks=[rec],
                        validation_data=(vx, vy), validation_batch_size=3, validation_freq=2)
    assert [(n, i) for n, i, _, _ in rec.calls] == keras_fit_calls(3, steps=3, val_steps=2, validate={2})
    assert_keras_forms(rec.calls)
    assert rec.model_at_begin is model
    assert rec.params_at_begin == {"verbose": 0, "epochs": 3, "steps": 3}
    assert model.history is history and isinstance(history, History)
    # the logs: empty at every begin; running means of the samples so far at batch
    # ends (the weights do not move: NumPy's loss of the initial weights is exact)
    weights = model.get_weights()
    losses, right = numpy_losses(weights, x, y)
    vlosses, vright = numpy_losses(weights, vx, vy)
    train_end = [(i, logs) for n, i, logs, _ in rec.calls if n == "on_train_batch_end"]
    for i, logs in train_end:
        seen = min(4 * (i + 1), 10)
        assert list(logs) == ["accuracy", "loss"]
        assert logs["loss"] == pytest.approx(losses[:seen].mean(), rel=1e-5)
        assert logs["accuracy"] == pytest.approx(right[:seen].mean())
    test_end = [(i, logs) for n, i, logs, _ in rec.calls if n == "on_test_batch_end"]
    assert [logs["loss"] for _, logs in test_end] == pytest.approx(
        [vlosses[:3].mean(), vlosses.mean()], rel=1e-5)
    for name, _, logs, _ in rec.calls:
        if name.endswith("_begin"):
            assert logs == {}, f"{name} got {logs}"
    epoch_ends = [logs for n, _, logs, _ in rec.calls if n == "on_epoch_end"]
    assert [sorted(logs) for logs in epoch_ends] == [["accuracy", "loss"],
                                                     ["accuracy", "loss", "val_accuracy", "val_loss"],
                                                     ["accuracy", "loss"]]
    assert list(epoch_ends[1]) == sorted(epoch_ends[1]), "Keras hands out logs with sorted keys"
    assert epoch_ends[1]["val_loss"] == pytest.approx(vlosses.mean(), rel=1e-5)
    assert epoch_ends[1]["val_accuracy"] == pytest.approx(vright.mean())
    test_final = [logs for n, _, logs, _ in rec.calls if n == "on_test_end"]
    assert test_final == [{"accuracy": epoch_ends[1]["val_accuracy"], "loss": epoch_ends[1]["val_loss"]}]
    assert rec.calls[-1][2] == epoch_ends[-1], "on_train_end gets the last epoch's logs"
    assert history.history == {k: [e[k] for e in epoch_ends if k in e]
                               for k in ("accuracy", "loss", "val_accuracy", "val_loss")}


def test_each_hook_gets_its_own_logs_dict_shared_by_the_callbacks_of_that_call():
    seen = []
    first = cb.LambdaCallback(on_epoch_end=lambda e, logs: (seen.append(logs), logs.update(extra=1.0)))
    second = cb.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(dict(logs)))
    model = make_model()
    history = model.fit(*data(8), epochs=2, verbose=0, callbacks=[first, second])
    assert seen[1]["extra"] == 1.0, "the next callback of the same call sees the change, as in Keras"
    assert seen[0] is not seen[2]
    assert history.history["extra"] == [1.0, 1.0], "History comes last and records what it is handed"


def test_on_batch_begin_and_end_are_the_aliases_of_the_train_batch_hooks():
    class Old(cb.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

        def on_batch_begin(self, batch, logs=None):
            self.calls.append(("begin", batch, dict(logs)))

        def on_batch_end(self, batch, logs=None):
            self.calls.append(("end", batch, sorted(logs)))

    old = Old()
    make_model().fit(*data(10), batch_size=4, epochs=1, verbose=0, callbacks=[old],
                     validation_data=data(4, seed=3))
    assert old.calls == [("begin", 0, {}), ("end", 0, ["accuracy", "loss"]), ("begin", 1, {}),
                         ("end", 1, ["accuracy", "loss"]), ("begin", 2, {}), ("end", 2, ["accuracy", "loss"])]


def test_batch_hooks_set_on_an_instance_are_called():
    """The batch loops leave out only hooks that are Callback's own empty ones: a
    hook given to one instance as an attribute is called, with the logs."""
    seen = []
    plain, patched = cb.Callback(), cb.Callback()
    patched.on_train_batch_end = lambda batch, logs=None: seen.append(("train", batch, sorted(logs)))
    patched.on_test_batch_begin = lambda batch, logs=None: seen.append(("test", batch, logs))
    patched.on_predict_batch_end = lambda batch, logs=None: seen.append(("predict", batch, sorted(logs)))
    model = make_model()
    model.fit(*data(6), batch_size=4, epochs=1, verbose=0, callbacks=[plain, patched])
    model.evaluate(*data(4), batch_size=4, verbose=0, callbacks=[plain, patched])
    model.predict(data(3)[0], batch_size=4, verbose=0, callbacks=[patched, plain])
    assert seen == [("train", 0, ["accuracy", "loss"]), ("train", 1, ["accuracy", "loss"]), ("test", 0, {}),
                    ("predict", 0, ["outputs"])]


def test_evaluate_and_predict_call_their_hooks_in_keras_order():
    model = make_model()
    x, y = data(7)
    rec = Recorder()
    got = model.evaluate(x, y, batch_size=3, verbose=0, callbacks=[rec], return_dict=True)
    assert [(n, i) for n, i, _, _ in rec.calls] == (
        [("on_test_begin", None)] + [(h, b) for b in range(3) for h in ("on_test_batch_begin", "on_test_batch_end")]
        + [("on_test_end", None)])
    assert_keras_forms(rec.calls)
    assert rec.params_at_begin == {"verbose": 0, "epochs": 1, "steps": 3}
    assert rec.calls[-1][2] == got and list(got) == ["accuracy", "loss"]
    assert got["loss"] == pytest.approx(numpy_loss(model.get_weights(), x, y), rel=1e-5)

    rec = Recorder()
    out = model.predict(x, batch_size=3, verbose=0, callbacks=[rec])
    assert [(n, i) for n, i, _, _ in rec.calls] == (
        [("on_predict_begin", None)]
        + [(h, b) for b in range(3) for h in ("on_predict_batch_begin", "on_predict_batch_end")]
        + [("on_predict_end", None)])
    assert_keras_forms(rec.calls)
    outputs = [logs["outputs"] for n, _, logs, _ in rec.calls if n == "on_predict_batch_end"]
    np.testing.assert_array_equal(np.concatenate(outputs), out)
    assert [len(o) for o in outputs] == [3, 3, 1]


def test_stop_training_set_in_a_batch_hook_ends_the_epoch_after_its_validation():
    model = make_model()
    rec = Recorder()
    stopper = cb.LambdaCallback(on_train_batch_end=lambda b, logs: setattr(model, "stop_training", b == 1))
    history = model.fit(*data(12), batch_size=4, epochs=5, verbose=0, callbacks=[stopper, rec],
                        validation_data=data(4, seed=3))
    assert [(n, i) for n, i, _, _ in rec.calls] == keras_fit_calls(5, 3, val_steps=1, validate=range(1, 6),
                                                                   stop_at=(0, 1))
    assert history.epoch == [0] and "val_loss" in history.history
    assert model.optimizer.iterations == 2


def test_stop_evaluating_and_stop_predicting_end_their_loops():
    model = make_model()
    x, y = data(9)
    rec = Recorder()
    halt = cb.LambdaCallback(on_test_batch_end=lambda b, logs: setattr(model, "stop_evaluating", True),
                             on_predict_batch_end=lambda b, logs: setattr(model, "stop_predicting", True))
    loss, _ = model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[halt, rec])
    assert loss == pytest.approx(numpy_loss(model.get_weights(), x[:4], y[:4]), rel=1e-5)
    assert model.predict(x, batch_size=4, verbose=0, callbacks=[halt]).shape == (4, CLASSES)


def test_initial_epoch_numbers_the_epochs_on_and_none_run_when_it_reaches_epochs():
    model = make_model()
    rec = Recorder()
    history = model.fit(*data(8), epochs=4, initial_epoch=2, verbose=0, callbacks=[rec])
    assert [(n, i) for n, i, _, _ in rec.calls] == keras_fit_calls(4, 1, initial_epoch=2)
    assert history.epoch == [2, 3]
    rec = Recorder()
    history = model.fit(*data(8), epochs=2, initial_epoch=2, verbose=0, callbacks=[rec])
    assert [(n, i) for n, i, _, _ in rec.calls] == [("on_train_begin", None), ("on_train_end", None)]
    assert rec.calls[-1][2] == {}
    assert history.epoch == [] and history.history == {}


def test_a_history_in_the_callbacks_is_the_one_fit_uses_and_returns():
    mine = History()
    model = make_model()
    returned = model.fit(*data(8), epochs=2, verbose=0, callbacks=[mine])
    assert returned is mine and model.history is mine and mine.epoch == [0, 1]
    assert mine.params == {"verbose": 0, "epochs": 2, "steps": 1}


def test_callbacks_must_be_a_list_of_fastconv_callbacks():
    model = make_model()
    x, y = data(4)
    raises(lambda: model.fit(x, y, verbose=0, callbacks=cb.History()), TypeError, "list")
    raises(lambda: model.fit(x, y, verbose=0, callbacks=[print]), TypeError, "callbacks[0]", "Callback")
    raises(lambda: model.evaluate(x, y, verbose=0, callbacks="x"), TypeError, "callbacks")
    assert model.optimizer.iterations == 0


# ---- a callback's exception and Ctrl-C in a callback --------------------------------------------------


def test_a_callbacks_exception_ends_fit_cleanly():
    model = make_model(optimizer="sgd")

    def boom(epoch, logs):
        if epoch == 1:
            raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(*data(8), batch_size=4, epochs=4, verbose=1, callbacks=[cb.LambdaCallback(on_epoch_end=boom)])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert model.history.epoch == [0], "History comes after the failing callback: epoch 1 is not recorded"
    assert not model.history.interrupted
    assert model.optimizer.iterations == 4
    again = model.fit(*data(8), batch_size=4, epochs=1, verbose=0)
    assert again.epoch == [0] and model.optimizer.iterations == 6


@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="the test runner replaced Python's default SIGINT handler")
def test_ctrl_c_during_a_callback_waits_for_it_and_then_stops_fit(tmp_path):
    """A real SIGINT raised while ModelCheckpoint's epoch end runs: the checkpoint
    is written whole, then fit raises KeyboardInterrupt at its next check."""
    model = make_model(optimizer="adam")
    finished = []

    class Interrupting(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                signal.raise_signal(signal.SIGINT)
                finished.append(epoch)  # still running: the signal is held

    path = tmp_path / "m-{epoch}.fcm"
    with pytest.raises(KeyboardInterrupt):
        model.fit(*data(8), batch_size=4, epochs=5, verbose=0,
                  callbacks=[Interrupting(), cb.ModelCheckpoint(path, monitor="loss")])
    assert finished == [1]
    assert model.history.interrupted and model.history.epoch == [0, 1]
    assert model.optimizer.iterations == 4
    assert sorted(os.listdir(tmp_path)) == ["m-1.fcm", "m-2.fcm"]
    saved = load_model(tmp_path / "m-2.fcm")
    for got, want in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ---- EarlyStopping ----------------------------------------------------------------------------------


def expected_early_stop(values, patience=0, min_delta=0.0, mode="min", baseline=None, start_from_epoch=0):
    """Keras' documented rule, epoch by epoch: an epoch improves if it beats the best
    so far by more than min_delta (the first watched epoch always does); the count of
    epochs since the last improvement restarts only when the improvement also beats
    the baseline; training stops after an epoch (not the first) when the count
    reaches patience. Returns (epochs run, stopped_epoch, best_epoch)."""
    better = (lambda a, b: a + abs(min_delta) < b) if mode == "min" else (lambda a, b: a - abs(min_delta) > b)
    best = best_epoch = None
    wait = 0
    for epoch, value in enumerate(values):
        if epoch < start_from_epoch:
            continue
        if best_epoch is None:
            best_epoch = epoch
        wait += 1
        if best is None or better(value, best):
            best, best_epoch = value, epoch
            if baseline is None or better(value, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1, epoch, best_epoch
    return len(values), 0, best_epoch


SEQUENCES = {
    "falls-then-stalls": [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9],
    "noisy": [3.0, 3.1, 2.9, 2.95, 2.85, 2.86, 2.87, 2.70, 2.71, 2.72, 2.73, 2.74],
    "flat": [1.0] * 12,
}
ES_CASES = [
    {"patience": 0}, {"patience": 2}, {"patience": 3, "min_delta": 0.05}, {"patience": 1, "mode": "max"},
    {"patience": 2, "baseline": 2.8}, {"patience": 1, "start_from_epoch": 4}, {"patience": 4, "min_delta": -0.05},
]


def injecting(monitor, values):
    """A callback (to come before the one under test) that writes values[epoch] into
    the epoch's logs as `monitor`: the logs dict is shared along the call."""
    return cb.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__(monitor, values[epoch]))


@pytest.mark.parametrize("seq", list(SEQUENCES))
@pytest.mark.parametrize("kwargs", ES_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_early_stopping_follows_keras_rule(seq, kwargs):
    values = SEQUENCES[seq]
    model = make_model(optimizer="sgd")
    keep = []
    snap = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: keep.append(model.get_weights()))
    stop = cb.EarlyStopping(monitor="val_metric", restore_best_weights=True,
                            **{"mode": "min", **kwargs})
    history = model.fit(*data(8), batch_size=4, epochs=len(values), verbose=0,
                        callbacks=[injecting("val_metric", values), snap, stop])
    runs, stopped, best = expected_early_stop(values, **{"mode": "min", **kwargs})
    assert history.epoch == list(range(runs))
    assert stop.stopped_epoch == stopped and stop.best_epoch == best
    for got, want in zip(model.get_weights(), keep[best]):
        np.testing.assert_array_equal(got, want, err_msg=f"weights of epoch {best} restored")


def test_early_stopping_auto_mode_reads_the_direction_from_the_name():
    model = make_model(optimizer="sgd")
    rising = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3]
    stop = cb.EarlyStopping(monitor="val_accuracy", patience=1)
    model.fit(*data(8), epochs=6, verbose=0, callbacks=[injecting("val_accuracy", rising), stop])
    assert stop.stopped_epoch == expected_early_stop(rising, patience=1, mode="max")[1] == 3
    stop = cb.EarlyStopping(monitor="val_loss", patience=1)
    model.fit(*data(8), epochs=6, verbose=0, callbacks=[injecting("val_loss", rising), stop])
    assert stop.stopped_epoch == expected_early_stop(rising, patience=1, mode="min")[1] == 1
    stop = cb.EarlyStopping(monitor="val_f1")
    raises(lambda: model.fit(*data(8), epochs=2, verbose=0, callbacks=[injecting("val_f1", rising), stop]),
           ValueError, "val_f1", "mode='max'")
    with pytest.warns(UserWarning, match="unknown"):
        assert cb.EarlyStopping(mode="up").mode == "auto"


def test_early_stopping_without_its_monitor_warns_and_never_stops():
    model = make_model(optimizer="sgd")
    with pytest.warns(UserWarning, match="val_loss.*not available. Available metrics are: accuracy,loss"):
        history = model.fit(*data(8), epochs=3, verbose=0, callbacks=[cb.EarlyStopping(patience=0)])
    assert history.epoch == [0, 1, 2]


def test_early_stopping_says_where_it_stopped_with_verbose(capsys):
    model = make_model(optimizer="sgd")
    values = [3.0, 2.0, 2.5, 2.6]
    model.fit(*data(8), epochs=4, verbose=0,
              callbacks=[injecting("m", values), cb.EarlyStopping("m", patience=1, verbose=1, mode="min",
                                                                   restore_best_weights=True)])
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out and "best epoch: 2." in out


def test_early_stopping_is_reset_by_each_fit():
    model = make_model(optimizer="sgd")
    stop = cb.EarlyStopping("m", patience=0, mode="min")
    model.fit(*data(8), epochs=4, verbose=0, callbacks=[injecting("m", [2.0, 3.0, 3.0, 3.0]), stop])
    assert stop.stopped_epoch == 1
    history = model.fit(*data(8), epochs=4, verbose=0, callbacks=[injecting("m", [9.0, 8.0, 7.0, 6.0]), stop])
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 0


def test_early_stopping_rejects_bad_arguments():
    raises(lambda: cb.EarlyStopping(patience=-1), ValueError, "patience")
    raises(lambda: cb.EarlyStopping(start_from_epoch=1.5), ValueError, "start_from_epoch")
    raises(lambda: cb.EarlyStopping(monitor=None), TypeError, "monitor")


# ---- ModelCheckpoint ----------------------------------------------------------------------------------


def test_model_checkpoint_formats_the_path_from_epoch_and_logs_and_saves_each_epoch(tmp_path):
    model = make_model(optimizer="adam")
    keep = []
    snap = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: keep.append(model.get_weights()))
    pattern = str(tmp_path / "sub" / "w-{epoch:02d}-{val_loss:.3f}.fcm")
    history = model.fit(*data(12), batch_size=4, epochs=3, verbose=0, validation_data=data(6, seed=5),
                        callbacks=[snap, cb.ModelCheckpoint(pattern)])
    names = [f"w-{e + 1:02d}-{v:.3f}.fcm" for e, v in enumerate(history.history["val_loss"])]
    assert sorted(os.listdir(tmp_path / "sub")) == sorted(names), "the directory is made, one file per epoch"
    for epoch, name in enumerate(names):
        saved = load_model(tmp_path / "sub" / name)
        for got, want in zip(saved.get_weights(), keep[epoch]):
            np.testing.assert_array_equal(got, want)
        assert saved.optimizer.get_config() == model.optimizer.get_config()


@pytest.mark.parametrize("mode,values", [("min", [3.0, 2.0, 2.5, 1.0, 1.5]), ("max", [0.1, 0.3, 0.2, 0.3, 0.5]),
                                         ("auto", [3.0, 2.0, 2.5, 1.0, 1.5])])
def test_model_checkpoint_save_best_only_saves_the_improving_epochs(tmp_path, mode, values):
    model = make_model(optimizer="adam")
    keep = []
    snap = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: keep.append(model.get_weights()))
    ckpt = cb.ModelCheckpoint(tmp_path / "e{epoch}.fcm", monitor="val_loss", save_best_only=True, mode=mode)
    model.fit(*data(8), epochs=len(values), verbose=0, callbacks=[injecting("val_loss", values), snap, ckpt])
    better = (lambda a, b: a < b) if mode != "max" else (lambda a, b: a > b)
    improving, best = [], None
    for epoch, value in enumerate(values):
        if best is None or better(value, best):
            improving.append(epoch)
            best = value
    assert sorted(os.listdir(tmp_path)) == sorted(f"e{e + 1}.fcm" for e in improving)
    assert ckpt.best == best
    last = load_model(tmp_path / f"e{improving[-1] + 1}.fcm")
    for got, want in zip(last.get_weights(), keep[improving[-1]]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_one_path_keeps_the_best_model(tmp_path):
    model = make_model(optimizer="adam")
    keep = []
    snap = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: keep.append(model.get_weights()))
    values = [3.0, 1.0, 2.0, 4.0]
    ckpt = cb.ModelCheckpoint(tmp_path / "best.fcm", monitor="m", mode="min", save_best_only=True,
                              initial_value_threshold=5.0)
    model.fit(*data(8), epochs=4, verbose=0, callbacks=[injecting("m", values), snap, ckpt])
    for got, want in zip(load_model(tmp_path / "best.fcm").get_weights(), keep[1]):
        np.testing.assert_array_equal(got, want)
    assert os.listdir(tmp_path) == ["best.fcm"], "no temporary file left behind"


def test_model_checkpoint_threshold_and_verbose_messages(tmp_path, capsys):
    model = make_model(optimizer="sgd")
    ckpt = cb.ModelCheckpoint(tmp_path / "b.fcm", monitor="m", mode="min", save_best_only=True, verbose=1,
                              initial_value_threshold=1.5)
    model.fit(*data(8), epochs=3, verbose=0, callbacks=[injecting("m", [2.0, 1.0, 1.2]), ckpt])
    out = capsys.readouterr().out
    assert "Epoch 1: m did not improve from 1.50000" in out
    assert "Epoch 2: m improved from 1.50000 to 1.00000, saving model to" in out
    assert "Epoch 3: m did not improve from 1.00000" in out


def test_model_checkpoint_save_freq_counts_batches_across_epochs(tmp_path):
    model = make_model(optimizer="sgd")
    model.fit(*data(12), batch_size=4, epochs=3, verbose=0,
              callbacks=[cb.ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.fcm", save_freq=2)])
    # 3 batches per epoch, a save every 2nd batch overall: batches 2, 4, 6, 8 of 9
    overall = [b for b in range(1, 10) if b % 2 == 0]
    want = {f"e{(b - 1) // 3 + 1}-b{(b - 1) % 3 + 1}.fcm" for b in overall}
    assert set(os.listdir(tmp_path)) == want


def test_model_checkpoint_refuses_what_it_cannot_do(tmp_path):
    msg = raises(lambda: cb.ModelCheckpoint(tmp_path / "w.fcm", save_weights_only=True), NotImplementedError,
                 "save_weights_only", "load_model")
    assert "get_weights" in msg
    raises(lambda: cb.ModelCheckpoint(tmp_path / "w.fcm", save_freq="batch"), ValueError, "save_freq")
    raises(lambda: cb.ModelCheckpoint(tmp_path / "w.fcm", save_freq=0), ValueError, "save_freq")
    model = make_model()
    raises(lambda: model.fit(*data(4), verbose=0, callbacks=[cb.ModelCheckpoint(tmp_path / "{nope}.fcm")]),
           KeyError, "Failed to format", "nope")
    (tmp_path / "dir.fcm").mkdir()
    raises(lambda: model.fit(*data(4), verbose=0, callbacks=[cb.ModelCheckpoint(tmp_path / "dir.fcm")]),
           IsADirectoryError, "directory")
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        model.fit(*data(4), verbose=0, callbacks=[cb.ModelCheckpoint(tmp_path / "x.fcm", save_best_only=True)])
    assert (tmp_path / "x.fcm").exists()


# ---- CSVLogger ----------------------------------------------------------------------------------------


def read_csv(path, sep=","):
    with open(path, newline="") as f:
        text = f.read()
    return text, list(csv.reader(io.StringIO(text), delimiter=sep))


def test_csv_logger_writes_sorted_columns_and_the_history_exactly(tmp_path):
    path = tmp_path / "log.csv"
    model = make_model(optimizer="adam")
    history = model.fit(*data(12), batch_size=4, epochs=3, verbose=0, validation_data=data(6, seed=5),
                        callbacks=[cb.CSVLogger(path)])
    text, rows = read_csv(path)
    keys = sorted(history.history)
    assert rows[0] == ["epoch", *keys]
    assert [int(r[0]) for r in rows[1:]] == history.epoch
    for i, row in enumerate(rows[1:]):
        assert [float(v) for v in row[1:]] == [history.history[k][i] for k in keys], "floats written exactly"
    assert text.endswith("\r\n") and text.count("\r\n") == 4, "the csv module's excel line ends, as Keras"


def test_csv_logger_adds_na_validation_columns_when_there_is_no_validation(tmp_path):
    path = tmp_path / "log.csv"
    make_model().fit(*data(8), epochs=2, verbose=0, callbacks=[cb.CSVLogger(path, separator=";")])
    _, rows = read_csv(path, ";")
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[3:] for r in rows[1:]] == [["NA", "NA"], ["NA", "NA"]]


def test_csv_logger_append_keeps_the_rows_and_writes_one_header(tmp_path):
    path = tmp_path / "log.csv"
    model = make_model()
    model.fit(*data(8), epochs=2, verbose=0, callbacks=[cb.CSVLogger(path, append=True)])
    model.fit(*data(8), epochs=3, initial_epoch=2, verbose=0, callbacks=[cb.CSVLogger(path, append=True)])
    _, rows = read_csv(path)
    assert [r[0] for r in rows] == ["epoch", "0", "1", "2"]
    model.fit(*data(8), epochs=1, verbose=0, callbacks=[cb.CSVLogger(path)])
    _, rows = read_csv(path)
    assert [r[0] for r in rows] == ["epoch", "0"], "without append the file starts over"


def test_csv_logger_file_is_whole_after_every_epoch(tmp_path):
    path = tmp_path / "log.csv"
    seen = []
    peek = cb.LambdaCallback(on_train_begin=lambda logs: seen.append(read_csv(path)[1]),
                             on_epoch_end=lambda epoch, logs: seen.append(read_csv(path)[1]))
    make_model().fit(*data(8), epochs=3, verbose=0, callbacks=[cb.CSVLogger(path), peek])
    assert [len(rows) for rows in seen] == [0, 2, 3, 4]
    assert os.listdir(tmp_path) == ["log.csv"]


# ---- LambdaCallback, TerminateOnNaN ------------------------------------------------------------------


def test_lambda_callback_runs_the_functions_it_is_given():
    calls = []
    hooks = cb.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: calls.append(f"batch_end {batch}"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch}"),
        on_train_end=lambda logs: calls.append("train_end"),
        on_test_begin=lambda logs: calls.append("test_begin"))  # through **kwargs, as Keras
    make_model().fit(*data(6), batch_size=4, epochs=1, verbose=0, callbacks=[hooks],
                     validation_data=data(2, seed=4))
    assert calls == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0", "batch_begin 1",
                     "batch_end 1", "test_begin", "epoch_end 0", "train_end"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_terminate_on_nan_stops_after_the_first_bad_batch(bad, capsys):
    model = make_model(optimizer="sgd")
    x, y = data(12)
    x[5] = bad  # in the 2nd batch of 4
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[cb.TerminateOnNaN()])
    assert model.optimizer.iterations == 2 and history.epoch == [0]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    model = make_model(optimizer="sgd")
    raises(lambda: model.fit(x, y, batch_size=4, shuffle=False, verbose=0,
                             callbacks=[cb.TerminateOnNaN(raise_error=True)]),
           RuntimeError, "NaN or Inf loss encountered at batch 1")


# ---- sample and class weights -------------------------------------------------------------------------


def torch_sgd_step(weights, x, y, w, lr):
    """One SGD step of the perceptron in torch (float64) on loss sum(w * CE) / N."""
    params = [torch.tensor(np.asarray(p, np.float64), requires_grad=True) for p in weights]
    w1, b1, w2, b2 = params
    z = torch.relu(torch.from_numpy(np.asarray(x, np.float64)) @ w1 + b1) @ w2 + b2
    ce = torch.nn.functional.cross_entropy(z, torch.from_numpy(np.asarray(y)), reduction="none")
    loss = (ce * torch.from_numpy(np.asarray(w, np.float64))).sum() / len(y)
    loss.backward()
    return [(p - lr * p.grad).detach().numpy() for p in params], loss.item()


def test_sample_weights_weight_each_samples_loss_and_gradient_as_keras(rng):
    model = make_model(optimizer=optimizers.SGD(learning_rate=0.5))
    x, y = data(7)
    w = rng.uniform(0, 3, 7).astype(np.float32)
    w[2] = 0
    start = model.get_weights()
    history = model.fit(x, y, batch_size=7, epochs=1, verbose=0, sample_weight=w)
    want_weights, want_loss = torch_sgd_step(start, x, y, w, 0.5)
    assert history.history["loss"][0] == pytest.approx(want_loss, rel=1e-5)
    for i, (got, want) in enumerate(zip(model.get_weights(), want_weights)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"weight {i}")


def test_class_weights_are_per_sample_weights_of_each_samples_class():
    model = make_model(optimizer=optimizers.SGD(learning_rate=0.5))
    x, y = data(9)
    class_weight = {0: 2.0, 2: 0.25}  # class 1 is missing: weight 1
    per_sample = np.array([class_weight.get(int(c), 1.0) for c in y])
    start = model.get_weights()
    model.fit(x, y, batch_size=9, epochs=1, verbose=0, class_weight=class_weight)
    want_weights, _ = torch_sgd_step(start, x, y, per_sample, 0.5)
    for got, want in zip(model.get_weights(), want_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_class_weights_read_one_hot_labels_by_their_argmax():
    model = make_model(optimizer=optimizers.SGD(learning_rate=0.5))
    model.compile(optimizer=optimizers.SGD(learning_rate=0.5), loss="categorical_crossentropy")
    x, y = data(6)
    start = model.get_weights()
    model.fit(x, np.eye(CLASSES)[y], batch_size=6, verbose=0, class_weight={1: 3.0})
    want_weights, _ = torch_sgd_step(start, x, y, np.where(y == 1, 3.0, 1.0), 0.5)
    for got, want in zip(model.get_weights(), want_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_epoch_loss_is_the_weighted_sum_over_the_epochs_samples_divided_by_their_count(rng):
    """Uneven last batch: the epoch's loss is sum over batches of sum(w * loss), over
    N (Keras' mean of batch losses weighted by batch size); accuracy unweighted."""
    model = make_model()
    x, y = data(10)
    w = rng.uniform(0, 2, 10)
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, sample_weight=w)
    weights = model.get_weights()
    assert history.history["loss"][0] == pytest.approx(numpy_loss(weights, x, y, w), rel=1e-5)
    assert history.history["accuracy"][0] == pytest.approx(numpy_losses(weights, x, y)[1].mean())


def test_evaluate_and_validation_weigh_samples_alike(rng):
    model = make_model()
    x, y = data(9)
    vx, vy = data(7, seed=4)
    w, vw = rng.uniform(0, 2, 9), rng.uniform(0, 2, 7)
    weights = model.get_weights()
    loss, acc = model.evaluate(x, y, batch_size=4, sample_weight=w, verbose=0)
    assert loss == pytest.approx(numpy_loss(weights, x, y, w), rel=1e-5)
    assert acc == pytest.approx(numpy_losses(weights, x, y)[1].mean())
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(vx, vy, vw))
    assert history.history["val_loss"][0] == pytest.approx(numpy_loss(weights, vx, vy, vw), rel=1e-5)


def test_validation_split_takes_the_sample_weights_of_the_held_out_samples(rng):
    model = make_model()
    x, y = data(10)
    w = rng.uniform(0, 2, 10)
    history = model.fit(x, y, epochs=1, verbose=0, sample_weight=w, validation_split=0.3)
    weights = model.get_weights()
    assert history.history["val_loss"][0] == pytest.approx(numpy_loss(weights, x[7:], y[7:], w[7:]), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(numpy_loss(weights, x[:7], y[:7], w[:7]), rel=1e-5)


def test_class_weights_apply_to_training_not_to_validation():
    model = make_model()
    x, y = data(10)
    history = model.fit(x, y, epochs=1, verbose=0, class_weight={0: 5.0}, validation_data=(x, y))
    weights = model.get_weights()
    assert history.history["val_loss"][0] == pytest.approx(numpy_loss(weights, x, y), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(
        numpy_loss(weights, x, y, np.where(y == 0, 5.0, 1.0)), rel=1e-5)
    history = model.fit(x, y, epochs=1, verbose=0, class_weight={0: 5.0}, validation_split=0.4)
    assert history.history["val_loss"][0] == pytest.approx(numpy_loss(weights, x[6:], y[6:]), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(
        numpy_loss(weights, x[:6], y[:6], np.where(y[:6] == 0, 5.0, 1.0)), rel=1e-5)


def test_sample_weights_of_shape_n_by_1_are_taken_and_the_users_array_is_left_alone():
    model = make_model()
    x, y = data(6)
    w = np.linspace(0.5, 2, 6).reshape(6, 1)
    before, x_before = w.copy(), x.copy()
    history = model.fit(x, y, epochs=1, verbose=0, sample_weight=w)
    assert history.history["loss"][0] == pytest.approx(numpy_loss(model.get_weights(), x, y, w[:, 0]), rel=1e-5)
    np.testing.assert_array_equal(w, before)
    np.testing.assert_array_equal(x, x_before)


BAD_WEIGHTS = [
    ({"sample_weight": -np.ones(6)}, ValueError, ["sample_weight", ">= 0"]),
    ({"sample_weight": np.r_[np.ones(5), np.nan]}, ValueError, ["sample_weight", "finite", "index 5"]),
    ({"sample_weight": np.ones(5)}, ValueError, ["6 samples", "sample_weight has 5"]),
    ({"sample_weight": np.ones((6, 2))}, ValueError, ["sample_weight", "(6,)", "(6, 2)"]),
    ({"sample_weight": np.array(["a"] * 6)}, TypeError, ["sample_weight", "dtype"]),
    ({"class_weight": {3: 1.0}}, ValueError, ["class_weight", "key 3", "3 classes"]),
    ({"class_weight": {0: -1.0}}, ValueError, ["class_weight[0]", ">= 0"]),
    ({"class_weight": {0: np.inf}}, ValueError, ["class_weight[0]", "finite"]),
    ({"class_weight": {"cat": 1.0}}, ValueError, ["class_weight", "'cat'"]),
    ({"class_weight": {0: "heavy"}}, TypeError, ["class_weight[0]", "number"]),
    ({"class_weight": [1.0, 2.0, 3.0]}, TypeError, ["class_weight", "dict"]),
    ({"class_weight": {0: 2.0}, "sample_weight": np.ones(6)}, ValueError, ["class_weight", "sample_weight"]),
    ({"validation_data": (np.ones((3, FEATURES)), np.zeros(3), -np.ones(3))}, ValueError,
     ["val_sample_weight", ">= 0"]),
]


@pytest.mark.parametrize("kwargs,exc,words", BAD_WEIGHTS, ids=lambda v: str(v)[:40] if isinstance(v, dict) else "")
def test_bad_weights_raise_before_any_step(kwargs, exc, words):
    model = make_model(optimizer="sgd")
    start = model.get_weights()
    raises(lambda: model.fit(*data(6), verbose=0, **kwargs), exc, *words)
    assert model.optimizer.iterations == 0
    for got, want in zip(model.get_weights(), start):
        np.testing.assert_array_equal(got, want)


def test_evaluate_checks_sample_weights_too():
    model = make_model()
    raises(lambda: model.evaluate(*data(4), sample_weight=np.ones(3), verbose=0), ValueError, "sample_weight")


# ---- iterables of batches and steps -------------------------------------------------------------------


def tagged(n):
    """Inputs whose first feature is the sample's index, so a recorder can name them."""
    x, y = data(n)
    x[:, 0] = np.arange(n)
    return x, y


def record_rows(model, monkeypatch):
    """The sample indices of every batch the first layer sees, and whether training."""
    layer = model.layers[0]
    original = layer.call
    seen = []

    def call(x, training=False):
        seen.append((training, x[:, 0].astype(int).tolist()))
        return original(x, training=training)

    monkeypatch.setattr(layer, "call", call)
    return seen


def test_an_endless_generator_is_cut_by_steps_per_epoch(monkeypatch):
    model = make_model()
    x, y = tagged(40)
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield x[(i * 3) % 40:(i * 3) % 40 + 3], y[(i * 3) % 40:(i * 3) % 40 + 3]
            i += 1

    seen = record_rows(model, monkeypatch)
    rec = Recorder()
    history = model.fit(endless(), steps_per_epoch=4, epochs=3, verbose=0, callbacks=[rec])
    assert len(pulled) == 12 and model.optimizer.iterations == 12
    assert [rows for _, rows in seen] == [list(range(3 * i, 3 * i + 3)) for i in range(12)]
    assert rec.params_at_begin["steps"] == 4
    assert [(n, i) for n, i, _, _ in rec.calls] == keras_fit_calls(3, 4)
    weights = model.get_weights()
    assert history.history["loss"][1] == pytest.approx(numpy_loss(weights, x[12:24], y[12:24]), rel=1e-5)


def test_a_finite_generator_trains_one_pass_then_stops_with_keras_warning(monkeypatch):
    model = make_model()
    x, y = tagged(10)
    batches = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 10, 4))
    with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
        history = model.fit(batches, epochs=3, verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 3
    assert history.history["loss"][0] == pytest.approx(numpy_loss(model.get_weights(), x, y), rel=1e-5)


def test_a_generator_that_runs_out_mid_epoch_ends_that_epoch_and_training():
    model = make_model()
    x, y = tagged(20)
    batches = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 20, 4))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches, steps_per_epoch=3, epochs=4, verbose=0)
    assert history.epoch == [0, 1] and model.optimizer.iterations == 5
    assert history.history["loss"][1] == pytest.approx(numpy_loss(model.get_weights(), x[12:], y[12:]), rel=1e-5)


def test_a_reiterable_object_is_read_afresh_every_epoch(monkeypatch):
    class Batches:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __iter__(self):
            return ((self.x[i:i + 3], self.y[i:i + 3], np.full(len(self.x[i:i + 3]), 2.0))
                    for i in range(0, len(self.x), 3))

    model = make_model()
    x, y = tagged(8)
    seen = record_rows(model, monkeypatch)
    history = model.fit(Batches(x, y), epochs=2, verbose=0)
    assert [rows for _, rows in seen] == [[0, 1, 2], [3, 4, 5], [6, 7]] * 2
    assert history.history["loss"][0] == pytest.approx(numpy_loss(model.get_weights(), x, y, np.full(8, 2.0)),
                                                       rel=1e-5)


def test_steps_per_epoch_over_arrays_continues_through_the_data_across_epochs(monkeypatch):
    """Keras' rule: an epoch of steps_per_epoch batches takes the next batches of
    the current pass; the pass that ends starts over (reshuffled) next epoch, and
    an epoch that asks for more than the pass has left is cut short with a warning."""
    model = make_model()
    x, y = tagged(10)
    seen = record_rows(model, monkeypatch)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(x, y, batch_size=2, steps_per_epoch=2, epochs=4, shuffle=False, verbose=0)
    assert [rows for _, rows in seen] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [0, 1], [2, 3]]
    assert history.epoch == [0, 1, 2, 3]
    seen.clear()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(x, y, batch_size=4, steps_per_epoch=4, epochs=2, shuffle=False, verbose=0)
    assert [rows for _, rows in seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2
    assert history.epoch == [0, 1]
    seen.clear()
    model.fit(x, y, steps_per_epoch=3, epochs=1, shuffle=False, verbose=0)
    assert [rows for _, rows in seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], "batch_size = ceil(10 / 3)"


def test_validation_generator_is_read_once_and_replayed(monkeypatch):
    model = make_model()
    x, y = data(8)
    vx, vy = tagged(7)
    pulled = []

    def val():
        for i in range(0, 7, 3):
            pulled.append(i)
            yield vx[i:i + 3], vy[i:i + 3]

    history = model.fit(x, y, epochs=3, verbose=0, validation_data=val())
    assert pulled == [0, 3, 6]
    want = numpy_loss(model.get_weights(), vx, vy)
    assert history.history["val_loss"] == pytest.approx([want] * 3, rel=1e-5)


def test_validation_steps_take_the_first_batches_of_each_validation(monkeypatch):
    model = make_model()
    x, y = data(4)
    vx, vy = tagged(12)
    seen = record_rows(model, monkeypatch)
    model.fit(x, y, epochs=3, verbose=0, validation_data=(vx, vy), validation_batch_size=4, validation_steps=2)
    assert [rows for training, rows in seen if not training] == [[0, 1, 2, 3], [4, 5, 6, 7]] * 3


def test_validation_steps_take_the_same_first_batches_of_a_validation_generator(monkeypatch):
    """Keras documents that each validation sees the same samples: a one-shot
    generator is read once, up to validation_steps batches, and replayed."""
    model = make_model()
    x, y = data(4)
    vx, vy = tagged(12)
    seen = record_rows(model, monkeypatch)
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield vx[i % 12:i % 12 + 2], vy[i % 12:i % 12 + 2]
            i += 2

    model.fit(x, y, epochs=3, verbose=0, validation_data=endless(), validation_steps=2)
    assert [rows for training, rows in seen if not training] == [[0, 1], [2, 3]] * 3
    assert pulled == [0, 2]


def test_evaluate_and_predict_take_iterables_and_steps():
    model = make_model()
    x, y = data(9)
    w = np.linspace(0, 2, 9)
    weights = model.get_weights()
    loss, _ = model.evaluate(((x[i:i + 4], y[i:i + 4], w[i:i + 4]) for i in range(0, 9, 4)), verbose=0)
    assert loss == pytest.approx(numpy_loss(weights, x, y, w), rel=1e-5)
    loss, _ = model.evaluate(x, y, steps=2, batch_size=3, verbose=0)
    assert loss == pytest.approx(numpy_loss(weights, x[:6], y[:6]), rel=1e-5)
    out = model.predict(iter([x[:4], (x[4:],)]), verbose=0)
    np.testing.assert_array_equal(out, model.predict(x, verbose=0))
    assert model.predict(x, steps=2, batch_size=2, verbose=0).shape == (4, CLASSES)


BAD_ITERABLE_ARGS = [
    ({"y": np.zeros(4)}, ["generator", "`y` should not be passed", "targets"]),
    ({"batch_size": 4}, ["`batch_size` should not be passed"]),
    ({"sample_weight": np.ones(4)}, ["`sample_weight` should not be passed"]),
    ({"validation_split": 0.2}, ["validation_split", "validation_data"]),
    ({"steps_per_epoch": 0}, ["steps_per_epoch", ">= 1"]),
    ({"validation_freq": 0}, ["validation_freq"]),
    ({"validation_freq": "often"}, ["validation_freq", "list or int"]),
    ({"epochs": -1}, ["epochs"]),
    ({"initial_epoch": -1}, ["initial_epoch"]),
]


@pytest.mark.parametrize("kwargs,words", BAD_ITERABLE_ARGS, ids=lambda v: str(v)[:30] if isinstance(v, dict) else "")
def test_arguments_an_iterable_of_batches_refuses_in_keras_words(kwargs, words):
    model = make_model()
    x, y = data(8)
    gen = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 8, 4))
    raises(lambda: model.fit(gen, verbose=0, **kwargs), ValueError, *words)
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("batch,words", [
    ((np.zeros((2, FEATURES)),), ["(x, y)", "batch 1", "tuple of 1"]),
    (np.zeros((2, FEATURES)), ["(x, y)", "batch 1", "ndarray of shape (2, 6)"]),
    ((np.zeros((2, 4)), np.zeros(2)), ["batch 1", "(N, 6)", "(2, 4)"]),
    ((np.zeros((2, FEATURES)), np.zeros(3)), ["batch 1", "2 samples", "y has 3"]),
    ((np.zeros((2, FEATURES)), np.zeros(2), -np.ones(2)), ["batch 1", "sample_weight", ">= 0"]),
    ((np.zeros((0, FEATURES)), np.zeros(0)), ["batch 1", "no samples"]),
])
def test_a_bad_batch_from_an_iterable_is_named_and_the_steps_before_it_stand(batch, words):
    model = make_model(optimizer="sgd")
    x, y = data(4)
    raises(lambda: model.fit(iter([(x, y), batch]), verbose=0), ValueError, *words)
    assert model.optimizer.iterations == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_validation_data_of_the_wrong_form_is_refused():
    model = make_model()
    x, y = data(4)
    raises(lambda: model.fit(x, y, verbose=0, validation_data=(x, y, None, 1)), ValueError,
           "validation_data", "tuple of 4")
    raises(lambda: model.fit(x, y, verbose=0, validation_data=(x,)), ValueError, "validation_data")
    raises(lambda: model.fit(x, y, verbose=0, validation_data=(x, y[:3])), ValueError, "y has 3")


def test_validation_freq_list_and_int_choose_the_epochs():
    model = make_model()
    rec = Recorder()
    history = model.fit(*data(4), epochs=5, verbose=0, validation_data=data(3, seed=2), validation_freq=[1, 4],
                        callbacks=[rec])
    assert [i for n, i, logs, _ in rec.calls if n == "on_epoch_end" and "val_loss" in logs] == [0, 3]
    assert len(history.history["val_loss"]) == 2 and len(history.history["loss"]) == 5
    history = model.fit(*data(4), epochs=5, verbose=0, validation_data=data(3, seed=2), validation_freq=2)
    assert len(history.history["val_loss"]) == 2


def test_no_warning_for_a_plain_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_model().fit(*data(8), epochs=2, verbose=0, validation_split=0.25)


def test_fit_evaluate_and_predict_take_keras_arguments_in_keras_order():
    """Keras 3's signatures (keras/src/trainers/trainer.py), positional order included."""
    S = Sequential
    assert list(inspect.signature(S.fit).parameters)[1:] == [
        "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data",
        "shuffle", "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
        "validation_batch_size", "validation_freq"]
    assert list(inspect.signature(S.evaluate).parameters)[1:] == [
        "x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks", "return_dict"]
    assert list(inspect.signature(S.predict).parameters)[1:] == ["x", "batch_size", "verbose", "steps", "callbacks"]
