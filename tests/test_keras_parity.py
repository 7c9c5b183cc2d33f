"""fastconv's model layer against Keras itself: the lecture's CNN with weights copied
from a Keras model predicts the same, and one Adam step moves the weights alike.

TensorFlow is not a test dependency (several hundred MB, and CI need not
install it); run these where it is installed, e.g. `pip install tensorflow-cpu`.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip(
    "tensorflow", reason="TensorFlow is not installed: Keras parity runs where it is (not in CI)"
)
keras = tf.keras

from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D  # noqa: E402
from fastconv.models import Sequential  # noqa: E402

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
