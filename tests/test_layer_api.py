"""The Keras 3 layer API, without TensorFlow: kernel and bias (the live arrays),
weights and trainable_weights, get_weights copies, set_weights that checks
everything before changing anything, count_params, names numbered as Keras
numbers them; the Examples sections of the layer modules run.

References are independent of fastconv: NumPy products for layer outputs and
Keras' messages quoted from Keras 3.15 (tests/test_keras_parity.py checks them
against Keras itself where TensorFlow is installed).
"""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from fastconv import (
    activations,
    initializers,
    layers,
)
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D, ReLU
from fastconv.models import Sequential


def raises(call, exc, *words):
    """call() raises exc whose message holds every one of `words` verbatim; the message."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for word in words:
        assert word in msg, f"{exc.__name__} message lacks {word!r}: {msg!r}"
    return msg


def dense_ref(x, kernel, bias):
    return np.asarray(x, np.float64) @ np.asarray(kernel, np.float64) + bias


# ---- layer weights ---------------------------------------------------------------------------


def test_kernel_and_bias_are_the_arrays_the_layer_computes_with(rng):
    layer = Dense(3)
    layer.build((4,))
    assert layer.kernel is layer.weights[0] and layer.bias is layer.weights[1]
    layer.kernel[...] = rng.standard_normal((4, 3))
    layer.bias[...] = [1, 2, 3]
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(x), dense_ref(x, layer.kernel, layer.bias), rtol=1e-5, atol=1e-5)
    copies = layer.get_weights()
    copies[0][...] = 0
    assert layer.kernel.any(), "get_weights must return copies"
    listing = layer.weights
    listing.clear()
    assert len(layer.weights) == 2, "weights is a new list on every access"


def test_kernel_before_build_raises_and_bias_is_none_without_use_bias():
    raises(lambda: Conv2D(2, 3).kernel, AttributeError, "You must build the layer before accessing `kernel`")
    raises(lambda: Dense(2).bias, AttributeError, "build")
    layer = Dense(2, use_bias=False)
    layer.build((3,))
    assert layer.bias is None and [w.shape for w in layer.weights] == [(3, 2)]


def test_weights_are_in_keras_order_and_shapes():
    conv = Conv2D(6, (3, 2), groups=2)
    conv.build((9, 9, 4))
    assert [w.shape for w in conv.weights] == [(3, 2, 2, 6), (6,)]
    assert conv.count_params() == 3 * 2 * 2 * 6 + 6
    assert MaxPooling2D().weights == [] and Flatten().get_weights() == []


def test_count_params_before_build_raises_as_keras():
    raises(lambda: Dense(3).count_params(), ValueError,
           "You tried to call `count_params` on layer 'dense", "isn't built")
    raises(lambda: Sequential([Dense(3)]).count_params(), ValueError, "isn't built")


def test_layer_set_weights_checks_everything_before_changing_anything():
    layer = Conv2D(2, 3)
    layer.build((5, 5, 1))
    before = layer.get_weights()
    raises(lambda: layer.set_weights([np.zeros((3, 3, 1, 2))]), ValueError,
           f"on layer '{layer.name}' with a weight list of length 1, but the layer was expecting 2 weights")
    raises(lambda: layer.set_weights([np.zeros((3, 3, 1, 2)), np.zeros(3)]), ValueError,
           f"Layer {layer.name} weight shape (2,) is not compatible with provided weight shape (3,)")
    raises(lambda: layer.set_weights([np.ones((3, 3, 1, 2)), np.array(["a", "b"])]), ValueError, "dtype")
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    new = [np.full((3, 3, 1, 2), 0.5), np.array([1.0, -1.0])]
    kept = [a.copy() for a in new]
    layer.set_weights(new)
    for w, n, k in zip(layer.get_weights(), new, kept):
        assert w.dtype == np.float32
        np.testing.assert_array_equal(w, n)
        np.testing.assert_array_equal(n, k)  # the caller's arrays are not modified
        assert n.dtype == np.float64


# ---- names --------------------------------------------------------------------------------------


def test_default_names_are_numbered_per_class_as_keras(monkeypatch):
    monkeypatch.setattr(Layer, "_count", {})
    made = [Conv2D(2, 3), Conv2D(2, 3), MaxPooling2D(), Dense(2), Dense(2), Dense(2), ReLU(), Flatten(),
            Dropout(0.1), layers.Activation("relu")]
    assert [layer.name for layer in made] == ["conv2d", "conv2d_1", "max_pooling2d", "dense", "dense_1",
                                              "dense_2", "re_lu", "flatten", "dropout", "activation"]


# ---- the Examples sections run --------------------------------------------------------------


@pytest.mark.parametrize("module", [layers, activations, initializers], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
