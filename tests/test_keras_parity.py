"""fastconv's model layer against Keras itself: the lecture's CNN with weights copied
from a Keras model predicts the same, and one Adam step moves the weights alike; fit
with sample and class weights, validation_freq, initial_epoch, steps_per_epoch and
generators gives Keras' history and weights; the callbacks (their hooks as a recorder
sees them, EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN) act as Keras'.

TensorFlow is not a test dependency (several hundred MB, and CI need not
install it); run these where it is installed, e.g. `pip install tensorflow-cpu`.
"""
from __future__ import annotations

import csv
import io
import os
import warnings

import numpy as np
import pytest

tf = pytest.importorskip(
    "tensorflow", reason="TensorFlow is not installed: Keras parity runs where it is (not in CI)"
)
keras = tf.keras

from fastconv import callbacks as fcb
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fastconv.models import Sequential

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist-5k")


def _digits(n: int) -> np.ndarray:
    from fastconv.datasets import mnist

    if os.path.isdir(DATA):
        (_, _), (x, _) = mnist.load_data(DATA)
        return x[:n].reshape(n, 28, 28, 1).astype("float32") / 255
    return np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)


def _keras_model(dropout: float = 0.2):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(28, kernel_size=(3, 3)),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation=tf.nn.relu),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation=tf.nn.softmax),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _fastconv_model(dropout: float = 0.2):
    model = Sequential()
    model.add(Conv2D(28, kernel_size=(3, 3), input_shape=(28, 28, 1)))
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


def test_keras_weights_give_keras_predictions():
    k, f = _keras_model(), _fastconv_model()
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


def test_one_adam_step_moves_weights_as_keras():
    """Dropout off, so both take the same deterministic step on one batch."""
    k, f = _keras_model(dropout=0.0), _fastconv_model(dropout=0.0)
    f.set_weights(k.get_weights())
    x = _digits(32)
    y = np.arange(32) % 10
    k_loss = k.train_on_batch(x, y, return_dict=True)["loss"]
    f_loss, _ = f._train_step(x, y)
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
