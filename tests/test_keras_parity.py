"""fastconv's model layer against Keras itself: the lecture's CNN with weights copied
from a Keras model predicts the same, and one Adam step moves the weights alike; the
layer API (weights' shapes and order, names, get_layer, pop, set_weights and its
errors), build-time shape errors and label errors raised where Keras raises them with
Keras' messages, an optimizer shared by two models failing as in Keras, and training
resumed after save and load equal to uninterrupted training, in Keras and in fastconv.

TensorFlow is not a test dependency (several hundred MB, and CI need not
install it); run these where it is installed, e.g. `pip install tensorflow-cpu`.
"""
from __future__ import annotations

import functools
import io
import os
import zipfile

import numpy as np
import pytest

tf = pytest.importorskip(
    "tensorflow", reason="TensorFlow is not installed: Keras parity runs where it is (not in CI)"
)
keras = tf.keras

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
