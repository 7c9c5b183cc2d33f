"""fastconv's model layer against Keras itself: the lecture's CNN with weights copied
from a Keras model predicts the same, and one Adam step moves the weights alike; fit
with sample and class weights, validation_freq, initial_epoch, steps_per_epoch and
generators gives Keras' history and weights; the callbacks (their hooks as a recorder
sees them, EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN) act as Keras';
the layer API (weights' shapes and order, names, get_layer, pop, set_weights and its
errors), build-time shape errors and label errors are raised where Keras raises them,
with Keras' messages; an optimizer shared by two models fails as in Keras; and training
resumed after save and load equals uninterrupted training, in Keras and in fastconv.

TensorFlow is not a test dependency (several hundred MB, and CI need not
install it); run these where it is installed, e.g. `pip install tensorflow-cpu`.
"""
from __future__ import annotations

import csv
import functools
import io
import os
import warnings
import zipfile

import numpy as np
import pytest

tf = pytest.importorskip(
    "tensorflow", reason="TensorFlow is not installed: Keras parity runs where it is (not in CI)"
)
keras = tf.keras

from fastconv import callbacks as fcb
from fastconv import optimizers
from fastconv.layers import (
    Activation,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    ReLU,
)
from fastconv.models import Sequential, load_model

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist-5k")


def _digits(n: int) -> np.ndarray:
    from fastconv.datasets import mnist

    if os.path.isdir(DATA):
        (_, _), (x, _) = mnist.load_data(DATA)
        return x[:n].reshape(n, 28, 28, 1).astype("float32") / 255
    return np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)


def _keras_model(dropout: float = 0.2, padding: str = "valid"):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(28, kernel_size=(3, 3), padding=padding),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation=tf.nn.relu),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation=tf.nn.softmax),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _fastconv_model(dropout: float = 0.2, padding: str = "valid"):
    model = Sequential()
    model.add(Conv2D(28, kernel_size=(3, 3), input_shape=(28, 28, 1), padding=padding))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(dropout))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_weights_have_keras_order_and_shapes():
    k, f = _keras_model(), _fastconv_model()
    assert [w.shape for w in f.get_weights()] == [tuple(w.shape) for w in k.get_weights()]
    assert f.count_params() == k.count_params()


@pytest.mark.parametrize("padding", ["valid", "same"])  # both run the fused one-channel kernels
def test_keras_weights_give_keras_predictions(padding):
    k, f = _keras_model(padding=padding), _fastconv_model(padding=padding)
    f.set_weights(k.get_weights())
    x = _digits(200)
    want = k.predict(x, verbose=0)
    got = f.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert (got.argmax(1) == want.argmax(1)).all()


def test_keras_weights_give_keras_loss_and_accuracy():
    k, f = _keras_model(), _fastconv_model()
    f.set_weights(k.get_weights())
    x = _digits(200)
    y = np.arange(200) % 10
    want = k.evaluate(x, y, verbose=0)
    got = f.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_one_adam_step_moves_weights_as_keras(padding):
    """Dropout off, so both take the same deterministic step on one batch."""
    k, f = _keras_model(dropout=0.0, padding=padding), _fastconv_model(dropout=0.0, padding=padding)
    f.set_weights(k.get_weights())
    x = _digits(32)
    y = np.arange(32) % 10
    k_loss = k.train_on_batch(x, y, return_dict=True)["loss"]
    f_loss = f._train_step(x, y)[0]
    assert f_loss == pytest.approx(k_loss, rel=1e-5)
    for i, (got, want) in enumerate(zip(f.get_weights(), k.get_weights())):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6, err_msg=f"weight {i} after one step")


# ---- fit's arguments and the callbacks, against Keras' own fit ------------------------------------------
#
# A smaller CNN than the lecture's (the same kinds of layers), Keras' initial weights
# copied into fastconv, Adam, shuffle=False and no dropout: both runs take the same
# steps, so histories agree to float32 round-off (measured: under 1e-6 relative after
# four epochs) and the tests ask for 1e-5. Stopping epochs, saved epochs, hook
# sequences and file names are compared exactly.

RTOL = 1e-5  # losses and accuracies after several epochs of float32 training
WEIGHT_ATOL = 2e-6  # weights of magnitude below 1 after as many Adam steps


def _labelled(n: int):
    from fastconv.datasets import mnist

    if os.path.isdir(DATA):
        (_, _), (x, y) = mnist.load_data(DATA)
        return x[:n].reshape(n, 28, 28, 1).astype("float32") / 255, y[:n].astype(np.int64)
    gen = np.random.default_rng(1)
    return gen.random((n, 28, 28, 1), dtype=np.float32), gen.integers(0, 10, n)


def _pair():
    """A Keras CNN and a fastconv one with the Keras one's initial weights."""
    keras.utils.set_random_seed(11)
    k = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(6, kernel_size=(3, 3)),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    k.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f = Sequential([Conv2D(6, kernel_size=(3, 3), input_shape=(28, 28, 1)), MaxPooling2D(pool_size=(2, 2)),
                    Flatten(), Dense(16, activation="relu"), Dense(10, activation="softmax")])
    f.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f.set_weights(k.get_weights())
    return k, f


def _same_history(got, want, what=""):
    assert got.epoch == want.epoch, f"{what}: epochs {got.epoch} vs Keras {want.epoch}"
    assert sorted(got.history) == sorted(want.history), f"{what}: keys"
    for key, values in want.history.items():
        np.testing.assert_allclose(got.history[key], values, rtol=RTOL, err_msg=f"{what}: {key}")


def _same_weights(got, want, what=""):
    for i, (g, w) in enumerate(zip(got.get_weights(), want.get_weights())):
        np.testing.assert_allclose(g, w, rtol=0, atol=WEIGHT_ATOL, err_msg=f"{what}: weight {i}")


def _both(k_callbacks=(), f_callbacks=(), **fit):
    """The same fit (`fit` its arguments) in Keras and fastconv, each with its
    callbacks; returns (keras model, keras history, fastconv model, fastconv history)."""
    k, f = _pair()
    kh = k.fit(**fit, callbacks=list(k_callbacks))
    fh = f.fit(**fit, callbacks=list(f_callbacks))
    return k, kh, f, fh


def test_sample_weights_give_keras_history_and_weights():
    x, y = _labelled(96)
    w = np.random.default_rng(0).uniform(0, 2, 96).astype("float32")
    w[5] = 0
    k, kh, f, fh = _both(x=x[:64], y=y[:64], batch_size=16, epochs=4, shuffle=False, verbose=0,
                         sample_weight=w[:64], validation_data=(x[64:], y[64:], w[64:]))
    _same_history(fh, kh, "sample_weight")
    _same_weights(f, k, "sample_weight")
    np.testing.assert_allclose(f.evaluate(x, y, sample_weight=w, verbose=0),
                               k.evaluate(x, y, sample_weight=w, verbose=0), rtol=RTOL)


def test_class_weights_give_keras_history_and_weights():
    """Class weights weigh the training samples only, not those validation_split holds out."""
    x, y = _labelled(80)
    k, kh, f, fh = _both(x=x, y=y, batch_size=20, epochs=3, shuffle=False, verbose=0,
                         class_weight={0: 3.0, 1: 0.5, 7: 0.0}, validation_split=0.25)
    _same_history(fh, kh, "class_weight")
    _same_weights(f, k, "class_weight")


def test_validation_freq_initial_epoch_and_validation_batch_size_as_keras():
    x, y = _labelled(64)
    _, kh, _, fh = _both(x=x[:48], y=y[:48], batch_size=12, epochs=5, initial_epoch=1, shuffle=False, verbose=0,
                         validation_data=(x[48:], y[48:]), validation_freq=[2, 5], validation_batch_size=5)
    _same_history(fh, kh, "validation_freq=[2, 5]")
    _, kh, _, fh = _both(x=x[:48], y=y[:48], batch_size=12, epochs=4, shuffle=False, verbose=0,
                         validation_data=(x[48:], y[48:]), validation_freq=2, validation_steps=2,
                         validation_batch_size=4)
    _same_history(fh, kh, "validation_freq=2, validation_steps=2")


def test_steps_per_epoch_over_arrays_as_keras():
    """Epochs of 3 batches out of 5: Keras continues through the data and starts a
    new pass when one ends (the epoch that runs out is cut short, with a warning)."""
    x, y = _labelled(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k, kh, f, fh = _both(x=x, y=y, batch_size=8, steps_per_epoch=3, epochs=4, shuffle=False, verbose=0)
    _same_history(fh, kh, "steps_per_epoch")
    _same_weights(f, k, "steps_per_epoch")


def _batches(x, y, w=None, size=8, endless=False):
    while True:
        for i in range(0, len(x), size):
            yield (x[i:i + size], y[i:i + size]) if w is None else (x[i:i + size], y[i:i + size], w[i:i + size])
        if not endless:
            return


def test_generators_with_steps_as_keras():
    """Endless generators: steps_per_epoch batches per epoch, continuing; each
    validation sees the same validation_steps batches (Keras documents it so, and
    replays the two batches it peeked at)."""
    x, y = _labelled(72)
    w = np.random.default_rng(2).uniform(0.5, 1.5, 72).astype("float32")
    k, f = _pair()
    kh = k.fit(_batches(x[:48], y[:48], w[:48], endless=True), steps_per_epoch=4, epochs=3, verbose=0,
               validation_data=_batches(x[48:], y[48:], endless=True), validation_steps=2)
    fh = f.fit(_batches(x[:48], y[:48], w[:48], endless=True), steps_per_epoch=4, epochs=3, verbose=0,
               validation_data=_batches(x[48:], y[48:], endless=True), validation_steps=2)
    _same_history(fh, kh, "generators")
    _same_weights(f, k, "generators")
    np.testing.assert_allclose(f.evaluate(_batches(x, y, w), verbose=0), k.evaluate(_batches(x, y, w), verbose=0),
                               rtol=RTOL)
    np.testing.assert_allclose(f.predict(_batches(x, y), verbose=0), k.predict(_batches(x, y), verbose=0),
                               rtol=0, atol=1e-5)


def test_arguments_a_generator_refuses_are_keras_ones():
    x, y = _labelled(16)
    for name, value in (("y", y), ("sample_weight", np.ones(16))):
        k, f = _pair()
        with pytest.raises(ValueError, match="should not be passed") as kinfo:
            k.fit(_batches(x, y), verbose=0, **{name: value})
        with pytest.raises(ValueError, match="should not be passed") as finfo:
            f.fit(_batches(x, y), verbose=0, **{name: value})
        assert f"`{name}" in str(kinfo.value) and f"`{name}`" in str(finfo.value)
    k, f = _pair()
    with pytest.raises(ValueError, match="class_weight"):
        k.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(16), verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        f.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(16), verbose=0)


# ---- the hooks, as a recorder sees them in Keras and in fastconv ---------------------------------------

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_batch_begin", "on_batch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end")


def _recorder(base):
    """A callback class deriving from `base` that records every hook it is called
    with: (hook, its other arguments, the logs' keys, how the logs came, the logs)."""

    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.calls = []
            self.params_at_begin = None

    def make(name):
        def hook(self, *args, **kwargs):
            if self.params_at_begin is None:
                self.params_at_begin = dict(self.params or {})
            logs = kwargs["logs"] if "logs" in kwargs else args[-1] if args and isinstance(args[-1], dict) else None
            index = [a for a in args if not isinstance(a, dict)]
            form = "kw" if "logs" in kwargs else "pos" if logs is not None else "none"
            keys = None if logs is None else list(logs)
            values = None if logs is None else {k: v for k, v in logs.items() if k != "outputs"}
            self.calls.append((name, tuple(index), keys, form, values))
        return hook

    for name in HOOKS:
        setattr(Recorder, name, make(name))
    return Recorder


KerasRecorder, FastconvRecorder = _recorder(keras.callbacks.Callback), _recorder(fcb.Callback)


def _same_calls(got, want, what):
    assert [c[:4] for c in got] == [c[:4] for c in want], f"{what}: hooks, indices, logs keys or forms differ"
    for g, w in zip(got, want):
        if w[4]:
            np.testing.assert_allclose([g[4][k] for k in w[4]], list(w[4].values()), rtol=RTOL,
                                       err_msg=f"{what}: logs of {w[0]}{w[1]}")


def test_hooks_are_called_as_keras_calls_them_in_fit_evaluate_and_predict():
    x, y = _labelled(50)
    kr, fr = KerasRecorder(), FastconvRecorder()
    k, _, f, _ = _both([kr], [fr], x=x[:30], y=y[:30], batch_size=8, epochs=3, shuffle=False, verbose=0,
                       validation_data=(x[30:], y[30:]), validation_freq=[1, 3])
    _same_calls(fr.calls, kr.calls, "fit")
    assert fr.params_at_begin == kr.params_at_begin
    for method, args in (("evaluate", (x, y)), ("predict", (x,))):
        kr, fr = KerasRecorder(), FastconvRecorder()
        getattr(k, method)(*args, batch_size=16, verbose=0, callbacks=[kr])
        getattr(f, method)(*args, batch_size=16, verbose=0, callbacks=[fr])
        _same_calls(fr.calls, kr.calls, method)
        assert fr.params_at_begin == kr.params_at_begin, method


def test_stop_training_from_a_batch_hook_ends_fit_as_in_keras():
    x, y = _labelled(40)

    def stopper(base):
        class Stop(base):
            def on_train_batch_end(self, batch, logs=None):
                if batch == 1:
                    self.model.stop_training = True
        return Stop()

    kr, fr = KerasRecorder(), FastconvRecorder()
    _, kh, _, fh = _both([stopper(keras.callbacks.Callback), kr], [stopper(fcb.Callback), fr],
                         x=x[:32], y=y[:32], batch_size=8, epochs=4, shuffle=False, verbose=0,
                         validation_data=(x[32:], y[32:]))
    _same_calls(fr.calls, kr.calls, "stop_training")
    _same_history(fh, kh, "stop_training")


# ---- EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN ---------------------------------------------

SEQUENCES = {
    "falls-then-stalls": [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 2.5, 2.6, 2.7],
    "noisy": [3.0, 3.1, 2.9, 2.95, 2.85, 2.86, 2.87, 2.70, 2.71, 2.72],
    "flat": [1.0] * 10,
}
ES_CASES = [{"patience": 0}, {"patience": 2}, {"patience": 3, "min_delta": 0.05}, {"patience": 1, "mode": "max"},
            {"patience": 2, "baseline": 2.8}, {"patience": 1, "start_from_epoch": 4},
            {"patience": 4, "min_delta": -0.05}]


def _injecting(base, monitor, values):
    """A callback that writes values[epoch] into the epoch's logs (Keras and fastconv
    both hand one logs dict along the callbacks of a call)."""
    class Inject(base):
        def on_epoch_end(self, epoch, logs=None):
            logs[monitor] = values[epoch]
    return Inject()


def _small_pair():
    """A one-layer model for the tests where only the callbacks' bookkeeping matters."""
    keras.utils.set_random_seed(3)
    k = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3, activation="softmax")])
    k.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f = Sequential([Dense(3, activation="softmax", input_shape=(6,))])
    f.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    f.set_weights(k.get_weights())
    gen = np.random.default_rng(4)
    return k, f, gen.standard_normal((16, 6)).astype("float32"), gen.integers(0, 3, 16)


def test_early_stopping_stops_where_keras_stops_on_every_rule():
    k, f, x, y = _small_pair()
    start = k.get_weights()
    for seq, values in SEQUENCES.items():
        for case in ES_CASES:
            what = f"{seq} {case}"
            args = {"monitor": "val_metric", "mode": "min", "restore_best_weights": True, **case}
            kes, fes = keras.callbacks.EarlyStopping(**args), fcb.EarlyStopping(**args)
            k.set_weights(start)
            f.set_weights(start)
            kh = k.fit(x, y, batch_size=8, epochs=len(values), verbose=0, shuffle=False,
                       callbacks=[_injecting(keras.callbacks.Callback, "val_metric", values), kes])
            fh = f.fit(x, y, batch_size=8, epochs=len(values), verbose=0, shuffle=False,
                       callbacks=[_injecting(fcb.Callback, "val_metric", values), fes])
            assert fh.epoch == kh.epoch, what
            assert (fes.stopped_epoch, fes.best_epoch, fes.wait) == (kes.stopped_epoch, kes.best_epoch, kes.wait), what
            _same_weights(f, k, what)


def test_early_stopping_on_val_loss_restores_keras_best_weights():
    x, y = _labelled(64)
    args = {"monitor": "val_loss", "patience": 1, "min_delta": 0.02, "restore_best_weights": True}
    kes, fes = keras.callbacks.EarlyStopping(**args), fcb.EarlyStopping(**args)
    k, kh, f, fh = _both([kes], [fes], x=x[:48], y=y[:48], batch_size=12, epochs=12, shuffle=False, verbose=0,
                         validation_data=(x[48:], y[48:]))
    _same_history(fh, kh, "EarlyStopping(val_loss)")
    assert (fes.stopped_epoch, fes.best_epoch) == (kes.stopped_epoch, kes.best_epoch)
    _same_weights(f, k, "restored")


def test_model_checkpoint_saves_the_epochs_and_names_keras_saves(tmp_path):
    x, y = _labelled(48)
    name = "ckpt-{epoch:02d}-{val_loss:.3f}.keras"  # Keras wants the .keras suffix; fastconv takes any name
    _both([keras.callbacks.ModelCheckpoint(str(tmp_path / "k" / name))],
          [fcb.ModelCheckpoint(tmp_path / "f" / name)],
          x=x[:32], y=y[:32], batch_size=8, epochs=3, shuffle=False, verbose=0, validation_data=(x[32:], y[32:]))
    assert sorted(os.listdir(tmp_path / "f")) == sorted(os.listdir(tmp_path / "k"))
    k, f, xs, ys = _small_pair()
    values = [3.0, 2.0, 2.5, 1.0, 1.5, 1.0, 0.5]
    for mode, sign in (("min", 1), ("max", -1)):
        seq = [sign * v for v in values]
        for folder, model, base, ckpt in (("k" + mode, k, keras.callbacks.Callback, keras.callbacks.ModelCheckpoint),
                                          ("f" + mode, f, fcb.Callback, fcb.ModelCheckpoint)):
            model.fit(xs, ys, epochs=len(seq), verbose=0, callbacks=[
                _injecting(base, "val_m", seq),
                ckpt(str(tmp_path / folder / "e{epoch}.keras"), monitor="val_m", mode=mode, save_best_only=True,
                     initial_value_threshold=sign * 2.8)])
        assert sorted(os.listdir(tmp_path / ("f" + mode))) == sorted(os.listdir(tmp_path / ("k" + mode))), mode
    for folder, model, ckpt in (("kb", k, keras.callbacks.ModelCheckpoint), ("fb", f, fcb.ModelCheckpoint)):
        model.fit(xs, ys, batch_size=4, epochs=3, verbose=0, callbacks=[
            ckpt(str(tmp_path / folder / "e{epoch}-b{batch}.keras"), save_freq=3)])
    assert sorted(os.listdir(tmp_path / "fb")) == sorted(os.listdir(tmp_path / "kb"))


def _csv_rows(path):
    with open(path, newline="") as fh:
        text = fh.read()
    return text, list(csv.reader(io.StringIO(text)))


def test_csv_logger_writes_keras_columns_rows_and_line_ends(tmp_path):
    x, y = _labelled(48)
    for validation in (True, False):
        kp, fp = tmp_path / f"k{validation}.csv", tmp_path / f"f{validation}.csv"
        extra = {"validation_data": (x[32:], y[32:])} if validation else {}
        _both([keras.callbacks.CSVLogger(str(kp))], [fcb.CSVLogger(fp)],
              x=x[:32], y=y[:32], batch_size=8, epochs=3, shuffle=False, verbose=0, **extra)
        ktext, krows = _csv_rows(kp)
        ftext, frows = _csv_rows(fp)
        assert frows[0] == krows[0] and [r[0] for r in frows] == [r[0] for r in krows]
        assert ftext.count("\r\n") == ktext.count("\r\n") == len(krows)
        for fr, kr in zip(frows[1:], krows[1:]):
            assert [v == "NA" for v in fr] == [v == "NA" for v in kr]
            np.testing.assert_allclose([float(v) for v in fr[1:] if v != "NA"],
                                       [float(v) for v in kr[1:] if v != "NA"], rtol=RTOL)
    k, f, xs, ys = _small_pair()
    for model, logger, path in ((k, keras.callbacks.CSVLogger, tmp_path / "ka.csv"),
                                (f, fcb.CSVLogger, tmp_path / "fa.csv")):
        model.fit(xs, ys, epochs=2, verbose=0, callbacks=[logger(str(path), separator=";", append=True)])
        model.fit(xs, ys, epochs=3, initial_epoch=2, verbose=0,
                  callbacks=[logger(str(path), separator=";", append=True)])
    kt, ft = _csv_rows(tmp_path / "ka.csv")[0], _csv_rows(tmp_path / "fa.csv")[0]
    assert [line.split(";")[0] for line in ft.split("\r\n")] == [line.split(";")[0] for line in kt.split("\r\n")]


def test_terminate_on_nan_stops_at_the_batch_keras_stops_at(capsys):
    k, f, x, y = _small_pair()
    x = x.copy()
    x[9] = np.nan
    kh = k.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    fh = f.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[fcb.TerminateOnNaN()])
    assert fh.epoch == kh.epoch
    assert f.optimizer.iterations == int(k.optimizer.iterations)
    out = capsys.readouterr().out
    assert out.count("Batch 2: Invalid loss, terminating training") == 2, out


# ---- the layer API against Keras 3 -----------------------------------------------------------


def keras_raises(call, *args, **kwargs):
    """The exception Keras raises from call(*args, **kwargs), or None."""
    try:
        call(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 -- whatever Keras raises is the reference
        return err
    return None


def fastconv_raises(call, *args, **kwargs):
    """The ValueError fastconv raises from call(*args, **kwargs), or None."""
    try:
        call(*args, **kwargs)
    except ValueError as err:
        return err
    return None


LAYER_PAIRS = [  # (fastconv layer, Keras layer, input shape without the batch axis)
    (lambda: Conv2D(5, 3), lambda: keras.layers.Conv2D(5, 3), (9, 8, 2)),
    (lambda: Conv2D(8, 3, padding="same"), lambda: keras.layers.Conv2D(8, 3, padding="same"), (12, 11, 1)),
    (lambda: Conv2D(4, (3, 2), strides=2, padding="same", use_bias=False),
     lambda: keras.layers.Conv2D(4, (3, 2), strides=2, padding="same", use_bias=False), (9, 8, 3)),
    (lambda: Conv2D(6, 3, dilation_rate=2, groups=2, activation="relu"),
     lambda: keras.layers.Conv2D(6, 3, dilation_rate=2, groups=2, activation="relu"), (11, 10, 4)),
    (lambda: MaxPooling2D(3, strides=2, padding="same"),
     lambda: keras.layers.MaxPooling2D(3, strides=2, padding="same"), (9, 8, 3)),
    (lambda: Dense(7, activation="softmax"), lambda: keras.layers.Dense(7, activation="softmax"), (5,)),
    (lambda: Dense(3, use_bias=False), lambda: keras.layers.Dense(3, use_bias=False), (4, 6)),
]


@pytest.mark.parametrize("case", range(len(LAYER_PAIRS)))
def test_layer_weights_have_keras_shapes_order_and_count(case):
    make_f, make_k, shape = LAYER_PAIRS[case]
    f, k = make_f(), make_k()
    f.build(shape)
    k.build((None, *shape))
    assert [w.shape for w in f.weights] == [tuple(w.shape) for w in k.weights]
    assert [w.shape for w in f.trainable_weights] == [tuple(w.shape) for w in k.trainable_weights]
    assert f._weight_names() == [w.name for w in k.weights]
    assert f.count_params() == k.count_params()
    assert (None, *f.compute_output_shape(shape)) == tuple(k.compute_output_shape((None, *shape)))
    if hasattr(k, "kernel"):
        assert f.kernel.shape == tuple(k.kernel.shape)
        assert (f.bias is None) == (k.bias is None)
    for attr in ("input_shape", "output_shape"):  # Keras 3 layers have neither
        assert not hasattr(k, attr)


@pytest.mark.parametrize("case", range(len(LAYER_PAIRS)))
def test_layer_set_weights_from_keras_gives_keras_outputs(case, rng):
    make_f, make_k, shape = LAYER_PAIRS[case]
    f, k = make_f(), make_k()
    k.build((None, *shape))
    k.set_weights([rng.uniform(-0.5, 0.5, tuple(w.shape)).astype(np.float32) for w in k.weights])
    f.build(shape)
    f.set_weights(k.get_weights())
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    np.testing.assert_allclose(f(x), np.asarray(k(x)), rtol=1e-5, atol=1e-5)


def test_default_names_are_numbered_as_keras(monkeypatch):
    keras.backend.clear_session()
    monkeypatch.setattr(Layer, "_count", {})
    ks = [keras.layers.Conv2D(2, 3), keras.layers.Conv2D(2, 3), keras.layers.MaxPooling2D(), keras.layers.Dense(2),
          keras.layers.Dense(2), keras.layers.ReLU(), keras.layers.Flatten(), keras.layers.Dropout(0.1),
          keras.layers.Activation("relu")]
    fs = [Conv2D(2, 3), Conv2D(2, 3), MaxPooling2D(), Dense(2), Dense(2), ReLU(), Flatten(), Dropout(0.1),
          Activation("relu")]
    assert [layer.name for layer in fs] == [layer.name for layer in ks]


def named_models():
    k = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])
    f = Sequential([Dense(3, input_shape=(4,), name="a"), Dense(2, name="b")])
    return k, f


@pytest.mark.parametrize("args", [{"name": "nope"}, {"index": 2}, {"index": -3}, {},
                                  {"name": "a", "index": 1}], ids=str)
def test_get_layer_errors_are_keras_messages(args):
    k, f = named_models()
    want, got = keras_raises(k.get_layer, **args), fastconv_raises(f.get_layer, **args)
    assert want is not None and got is not None
    if type(want) is IndexError:  # Keras indexes its list unchecked below -len: fastconv says why
        assert args["index"] < 0 and "Was asked to retrieve layer at index -3 but model only has 2" in str(got)
        return
    assert type(want) is ValueError and str(got) == str(want)
    assert f.get_layer(index=-2).name == k.get_layer(index=-2).name == "a"


def test_get_layer_and_pop_as_keras():
    k, f = named_models()
    assert [layer.name for layer in f.layers] == [layer.name for layer in k.layers]
    assert f.get_layer("b").units == k.get_layer("b").units and f.get_layer(index=0).name == "a"
    assert f.pop().name == k.pop().name == "b"
    assert (None, *f.output_shape) == k.output_shape
    assert [w.shape for w in f.weights] == [tuple(w.shape) for w in k.weights]


def test_set_weights_mismatches_raise_as_keras_and_change_nothing():
    k, f = named_models()
    f.set_weights(k.get_weights())
    good = k.get_weights()
    short = good[:-1]
    want = keras_raises(k.set_weights, short)
    got = fastconv_raises(f.set_weights, short)
    assert str(got) == str(want).replace(f"'{k.name}'", f"'{f.name}'")
    wrong = good[:-1] + [np.zeros(5, np.float32)]
    want = keras_raises(k.set_weights, wrong)
    got = fastconv_raises(f.set_weights, wrong)
    tail = str(want).split(" weight shape ", 1)[1]  # "(2,) is not compatible with provided weight shape (5,)."
    assert type(want) is ValueError and tail.rstrip(".") in str(got) and "Layer b" in str(got)
    for a, b in zip(f.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)
    layer_f, layer_k = f.get_layer("a"), k.get_layer("a")
    assert str(fastconv_raises(layer_f.set_weights, [good[0]])) == str(keras_raises(layer_k.set_weights, [good[0]]))


# build-time errors: every small geometry, raised by both or by neither


def keras_build(*layers_, shape):
    return keras.Sequential([keras.Input(shape), *layers_])


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_build_errors_where_keras_raises(padding):
    for n in range(1, 6):
        for k in (1, 2, 3, 5):
            for s in (1, 3):
                for d in (1, 2):
                    if s > 1 and d > 1:  # Keras refuses the pair when constructed; fastconv computes it
                        continue
                    shape = (n, n + 1, 1)
                    options = {"strides": s, "dilation_rate": d, "padding": padding}
                    want = keras_raises(keras_build, keras.layers.Conv2D(2, k, **options), shape=shape)
                    got = fastconv_raises(Sequential, [Conv2D(2, k, **options, input_shape=shape)])
                    where = f"n={n} k={k} s={s} d={d} {padding}"
                    assert (want is None) == (got is None), f"{where}: Keras {want!r}, fastconv {got!r}"
                    if want is not None:
                        sentence = "Computed output size would be zero or negative."
                        assert sentence in str(want) and sentence in str(got), where
                        assert f"`inputs shape=(None, {n}, {n + 1}, 1)`" in str(got)
                        assert f"`kernel shape={(k, k, 1, 2)}`" in str(got) and "inputs shape=(None" in str(want)
                    else:
                        out = keras_build(keras.layers.Conv2D(2, k, **options), shape=shape).output_shape
                        f = Sequential([Conv2D(2, k, **options, input_shape=shape)])
                        assert (None, *f.output_shape) == out, where


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_max_pooling2d_build_errors_where_keras_raises(padding):
    for n in range(1, 6):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3):
                shape = (n, n, 2)
                want = keras_raises(keras_build, keras.layers.MaxPooling2D(k, strides=s, padding=padding),
                                    shape=shape)
                model = Sequential([Conv2D(2, 1, input_shape=shape, name="first")])
                got = fastconv_raises(functools.partial(model.add, MaxPooling2D(k, strides=s, padding=padding)))
                where = f"n={n} k={k} s={s} {padding}"
                assert (want is None) == (got is None), f"{where}: Keras {want!r}, fastconv {got!r}"
                if want is not None:
                    for words in ("Computed output size would be zero or negative. Received:",
                                  "`padding=" + padding + "`"):
                        assert words in str(want) and words in str(got), where


def test_image_layers_on_flat_inputs_fail_where_keras_fails():
    for layer_k, layer_f in ((keras.layers.Conv2D(2, 3), Conv2D(2, 3)),
                             (keras.layers.MaxPooling2D(), MaxPooling2D())):
        want = keras_raises(keras_build, layer_k, shape=(9,))
        got = fastconv_raises(Sequential, [Dense(9, input_shape=(4,)), layer_f])
        assert want is not None and got is not None
        for words in ("is incompatible with the layer: expected", "found ndim=2. Full shape received: (None, 9)"):
            assert words in str(want) and words in str(got)


# labels against the loss


def label_models(loss):
    keras.utils.set_random_seed(0)
    k = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    k.compile("adam", loss)
    f = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    f.compile("adam", loss)
    f.set_weights(k.get_weights())
    return k, f


LABEL_CASES = {
    "categorical-with-indices": ("categorical_crossentropy", np.arange(8) % 3,
                                 "Arguments `target` and `output` must have the same rank (ndim)."),
    "categorical-with-an-index-column": ("categorical_crossentropy", (np.arange(8) % 3)[:, None],
                                         "Arguments `target` and `output` must have the same shape."),
    "sparse-with-one-hot": ("sparse_categorical_crossentropy", np.eye(3)[np.arange(8) % 3],
                            "Argument `output` must have rank (ndim) `target.ndim - 1`."),
    "sparse-label-3-of-3-classes": ("sparse_categorical_crossentropy", np.array([0, 1, 2, 0, 1, 3, 0, 1]),
                                    "Received a label value of 3 which is outside the valid range of [0, 3)."),
    "sparse-label-negative": ("sparse_categorical_crossentropy", np.array([0, 1, -1, 0, 1, 2, 0, 1]),
                              "Received a label value of -1 which is outside the valid range of [0, 3)."),
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_labels_that_do_not_fit_the_loss_raise_keras_messages(case):
    loss, y, sentence = LABEL_CASES[case]
    k, f = label_models(loss)
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    want = keras_raises(k.fit, x, y, verbose=0, shuffle=False)
    before = f.get_weights()
    got = fastconv_raises(f.fit, x, y, verbose=0)
    assert want is not None and sentence in str(want), str(want)[-600:]
    assert got is not None and sentence in str(got), str(got)
    for a, b in zip(before, f.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_optimizer_used_by_another_model_fails_as_in_keras():
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    y = np.arange(8) % 3
    results = {}
    k1, f1 = label_models("sparse_categorical_crossentropy")
    k2, f2 = label_models("sparse_categorical_crossentropy")
    k_opt, f_opt = keras.optimizers.Adam(), optimizers.Adam()
    for first, second, opt in ((k1, k2, k_opt), (f1, f2, f_opt)):
        first.compile(opt, "sparse_categorical_crossentropy")
        second.compile(opt, "sparse_categorical_crossentropy")  # both allow this
        first.fit(x, y, verbose=0)
        results[type(first).__module__.split(".")[0]] = keras_raises(second.fit, x, y, verbose=0)
    sentence = ("This optimizer can only be called for the variables it was originally built with. When "
                "working with a new set of variables, you should recreate a new optimizer instance.")
    for lib, err in results.items():
        assert type(err) is ValueError and "Unknown variable" in str(err) and sentence in str(err), lib


# the optimizer's state: resumed training, in Keras and in fastconv

GEN = np.random.default_rng(3)
XR = GEN.random((64, 10, 10, 1), dtype=np.float32)
YR = GEN.integers(0, 5, 64)


def resumable_pair():
    keras.utils.set_random_seed(1)
    k = keras.Sequential([keras.Input((10, 10, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                          keras.layers.Dense(16, activation="relu"), keras.layers.Dense(5, activation="softmax")])
    k.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    f = Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)), MaxPooling2D(2), Flatten(),
                    Dense(16, activation="relu"), Dense(5, activation="softmax")])
    f.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    f.set_weights(k.get_weights())
    return k, f


def test_resumed_training_equals_uninterrupted_training_in_keras_and_in_fastconv(tmp_path):
    """Keras and fastconv each: fit 2 epochs == fit 1, save, load, fit 1, bitwise
    (shuffle off: Keras' shuffling is not reproducible across a reload). And the
    two libraries' trajectories agree to float32 rounding."""
    fit = {"batch_size": 16, "shuffle": False, "verbose": 0}
    k_whole, f_whole = resumable_pair()
    k_whole.fit(XR, YR, epochs=2, **fit)
    f_whole.fit(XR, YR, epochs=2, **fit)
    k_half, f_half = resumable_pair()
    k_half.fit(XR, YR, epochs=1, **fit)
    f_half.fit(XR, YR, epochs=1, **fit)
    k_half.save(tmp_path / "half.keras")
    f_half.save(tmp_path / "half.fcm")
    k_resumed, f_resumed = keras.models.load_model(tmp_path / "half.keras"), load_model(tmp_path / "half.fcm")
    assert int(k_resumed.optimizer.iterations.numpy()) == f_resumed.optimizer.iterations == 4
    k_resumed.fit(XR, YR, epochs=1, **fit)
    f_resumed.fit(XR, YR, epochs=1, **fit)
    for i, (kw, kr, fw, fr) in enumerate(zip(k_whole.get_weights(), k_resumed.get_weights(),
                                             f_whole.get_weights(), f_resumed.get_weights())):
        np.testing.assert_array_equal(kr, kw, err_msg=f"Keras, weight {i}")
        np.testing.assert_array_equal(fr, fw, err_msg=f"fastconv, weight {i}")
        np.testing.assert_allclose(fw, kw, rtol=0, atol=2e-4, err_msg=f"fastconv vs Keras, weight {i}")


def test_saved_slots_are_keras_optimizer_variables_in_keras_order(tmp_path):
    """After the same steps, the file's optimizer/NNNN.npy members are Keras'
    optimizer.variables after iteration and learning_rate, in that order."""
    k, f = resumable_pair()
    k.fit(XR, YR, epochs=1, batch_size=16, shuffle=False, verbose=0)
    f.fit(XR, YR, epochs=1, batch_size=16, shuffle=False, verbose=0)
    f.save(tmp_path / "m.fcm")
    k_slots = [v for v in k.optimizer.variables if v.path.split("/")[-1] not in ("iteration", "learning_rate")]
    with zipfile.ZipFile(tmp_path / "m.fcm") as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("optimizer/"))
        assert len(names) == len(k_slots) == 2 * len(f.weights)
        for name, kv in zip(names, k_slots):
            got = np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
            want = np.asarray(kv.numpy())
            assert got.shape == want.shape, (name, kv.path)
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6, err_msg=f"{name} vs {kv.path}")
