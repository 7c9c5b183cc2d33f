"""What a Keras user reaches for around the layers, without TensorFlow: layer and
model weights (live arrays, copies, all-or-nothing set_weights), names, get_layer
and pop, build-time shape errors, and labels that do not fit the loss.

References are independent of fastconv: NumPy products for layer outputs, the
output-size formulas written out here, and Keras' messages quoted from Keras 3.15
(tests/test_keras_parity.py checks them against Keras itself where TensorFlow is
installed).
"""
from __future__ import annotations

import doctest
import functools
import math

import numpy as np
import pytest

from fastconv import (
    activations,
    initializers,
    layers,
    losses,
    models,
    utils,
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


def test_add_refuses_a_duplicate_name_with_keras_message():
    model = Sequential([Dense(2, input_shape=(3,), name="a")])
    raises(lambda: model.add(Dense(2, name="a")), ValueError,
           "All layers added to a Sequential model should have unique names. Name 'a' is already")
    assert [layer.name for layer in model.layers] == ["a"]


# ---- layers, get_layer, pop ---------------------------------------------------------------------


def small_model():
    return Sequential([Conv2D(3, 3, input_shape=(8, 8, 1), name="c"), MaxPooling2D(2, name="p"),
                       Flatten(name="f"), Dense(4, activation="relu", name="h"), Dense(2, name="o")])


def test_layers_is_a_copy():
    model = small_model()
    model.layers.append(Dense(9))
    model.layers.clear()
    assert [layer.name for layer in model.layers] == ["c", "p", "f", "h", "o"]


def test_get_layer_by_name_and_index_with_keras_errors():
    model = small_model()
    assert model.get_layer("h") is model.layers[3]
    assert model.get_layer(index=0) is model.layers[0] and model.get_layer(index=-1).name == "o"
    raises(lambda: model.get_layer("nope"), ValueError,
           "No such layer: nope. Existing layers are: ['c', 'p', 'f', 'h', 'o'].")
    raises(lambda: model.get_layer(index=5), ValueError,
           "Was asked to retrieve layer at index 5 but model only has 5 layers.")
    raises(lambda: model.get_layer(), ValueError, "Provide either a layer name or layer index at `get_layer`.")
    raises(lambda: model.get_layer("h", 1), ValueError,
           "Provide only a layer name or a layer index. Received: index=1, name=h.")
    raises(lambda: model.get_layer(index="1"), TypeError, "index")


def test_pop_returns_the_last_layer_and_the_model_predicts_with_the_rest(rng):
    model = small_model()
    x = rng.standard_normal((4, 8, 8, 1)).astype(np.float32)
    popped = model.pop()
    assert popped.name == "o" and model.output_shape == (4,) and len(model.weights) == 4
    # the rest by hand: relu(flatten(maxpool(conv(x))) @ kernel + bias), from the layers' own outputs
    features = model.get_layer("f")(model.get_layer("p")(model.get_layer("c")(x)))
    h = model.get_layer("h")
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np.maximum(dense_ref(features, h.kernel, h.bias), 0), rtol=1e-5, atol=1e-5)
    model.add(Dense(7, name="new"))
    assert model.output_shape == (7,) and model.predict(x, verbose=0).shape == (4, 7)
    for _ in range(5):
        model.pop()
    raises(model.pop, IndexError, "no layers")


# ---- model set_weights --------------------------------------------------------------------------


def test_model_set_weights_is_all_or_nothing_naming_the_layer_and_both_shapes():
    model = small_model()
    before = model.get_weights()
    bad = [w + 1 for w in before]
    bad[2] = np.zeros((4,), np.float32)  # the 'h' kernel is (27, 4): 3 x 3 x 3 features in
    raises(lambda: model.set_weights(bad), ValueError, "Layer h weight shape (27, 4) is not compatible "
           "with provided weight shape (4,)", "weight 2, h/kernel", "nothing was changed")
    bad = [w + 1 for w in before]
    bad[-1] = [["x", "y"]]
    with pytest.raises(ValueError):
        model.set_weights(bad)
    raises(lambda: model.set_weights(before[:-1]), ValueError,
           "with a weight list of length 5, but the layer was expecting 6 weights")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_set_weights_from_its_own_arrays_in_another_order():
    """Arrays that are the model's own weights (live) are read before any is written."""
    model = Sequential([Dense(3, input_shape=(3,)), Dense(3)])
    k0, b0, k1, b1 = model.get_weights()
    model.set_weights([model.weights[2], model.weights[3], model.weights[0], model.weights[1]])
    for got, want in zip(model.get_weights(), [k1, b1, k0, b0]):
        np.testing.assert_array_equal(got, want)


# ---- build-time shape errors ------------------------------------------------------------------


def conv_out(n, k, s, d, padding):
    """Keras' (TensorFlow's) output size along one axis."""
    return math.ceil(n / s) if padding == "same" else math.floor((n - d * (k - 1) - 1) / s) + 1


def pool_out(n, k, s, padding):
    return math.ceil(n / s) if padding == "same" else math.floor((n - k) / s) + 1


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_raises_at_add_exactly_where_the_output_would_be_empty(padding, rng):
    for n in range(1, 7):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for d in (1, 2):
                    want = conv_out(n, k, s, d, padding)
                    model = Sequential()
                    layer = Conv2D(2, k, strides=s, dilation_rate=d, padding=padding, input_shape=(n, n + 1, 1))
                    add = functools.partial(model.add, layer)
                    if want <= 0 or conv_out(n + 1, k, s, d, padding) <= 0:
                        msg = raises(add, ValueError, "Computed output size would be zero or negative. "
                                     f"Received `inputs shape=(None, {n}, {n + 1}, 1)`, "
                                     f"`kernel shape=({k}, {k}, 1, 2)`, `dilation_rate=({d}, {d})`, "
                                     f"`strides=({s}, {s})`, `padding={padding}`.")
                        assert msg.startswith("conv2d"), msg
                        assert model.layers == []
                        continue
                    add()
                    assert model.output_shape == (want, conv_out(n + 1, k, s, d, padding), 2)
                    out = model.predict(rng.standard_normal((1, n, n + 1, 1)), verbose=0)
                    assert out.shape == (1, *model.output_shape)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_max_pooling2d_raises_at_add_exactly_where_the_output_would_be_empty(padding, rng):
    for n in range(1, 6):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3):
                model = Sequential([Conv2D(2, 1, input_shape=(n, n, 2))])
                add = functools.partial(model.add, MaxPooling2D(k, strides=s, padding=padding))
                want = pool_out(n, k, s, padding)
                if want <= 0:
                    raises(add, ValueError, "Computed output size would be zero or negative. Received: "
                           f"`inputs.shape=(None, {n}, {n}, 2)`, `pool_size=({k}, {k})`, "
                           f"`strides=({s}, {s})`, `padding={padding}`.")
                    assert len(model.layers) == 1
                    model.predict(np.zeros((1, n, n, 2)), verbose=0)  # still usable
                    continue
                add()
                assert model.output_shape == (want, want, 2)
                assert model.predict(rng.standard_normal((2, n, n, 2)), verbose=0).shape == (2, want, want, 2)


def test_a_chain_that_shrinks_to_nothing_raises_at_the_layer_that_empties_it():
    model = Sequential([Conv2D(2, 3, input_shape=(5, 5, 1)), Conv2D(2, 3)])
    raises(lambda: model.add(Conv2D(2, 3)), ValueError, "inputs shape=(None, 1, 1, 2)",
           "kernel shape=(3, 3, 2, 2)")
    assert model.output_shape == (1, 1, 2)


def test_image_layers_on_flat_inputs_raise_keras_input_spec_errors():
    model = Sequential([Dense(9, input_shape=(4,))])
    raises(lambda: model.add(Conv2D(2, 3)), ValueError, "Input 0 of layer", "expected ndim=4, found ndim=2",
           "Full shape received: (None, 9)")
    raises(lambda: model.add(MaxPooling2D()), ValueError, "expected ndim=4, found ndim=2")
    assert len(model.layers) == 1


def test_a_model_without_input_shape_raises_the_build_error_on_first_data():
    model = Sequential([Conv2D(2, 5)])
    raises(lambda: model.predict(np.zeros((1, 3, 3, 1)), verbose=0), ValueError,
           "Computed output size would be zero or negative")


def test_ints_are_accepted_where_keras_takes_them(rng):
    utils.set_random_seed(4)
    a = Sequential([Conv2D(3, kernel_size=3, strides=2, input_shape=(9, 9, 2)),
                    MaxPooling2D(pool_size=2, strides=1), Flatten(), Dense(2)])
    b = Sequential([Conv2D(3, kernel_size=(3, 3), strides=(2, 2), input_shape=(9, 9, 2)),
                    MaxPooling2D(pool_size=(2, 2), strides=(1, 1)), Flatten(), Dense(2)])
    b.set_weights(a.get_weights())
    x = rng.standard_normal((3, 9, 9, 2))
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))
    assert Sequential([Dense(2, input_shape=784)]).input_shape == (784,)
    for bad in ((28, None, 1), (0, 4), "28", (2.5,), (True,)):
        raises(functools.partial(Dense, 2, input_shape=bad), ValueError, "input_shape")


# ---- labels versus the loss --------------------------------------------------------------------


def classifier(loss, classes=3):
    utils.set_random_seed(0)
    model = Sequential([Dense(classes, activation="softmax", input_shape=(4,))])
    model.compile("adam", loss)
    return model


def assert_untouched(model, before):
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


X6 = np.ones((6, 4), np.float32)
INDICES = np.array([0, 1, 2, 1, 0, 2])


@pytest.mark.parametrize("op", ["fit", "evaluate"])
def test_categorical_loss_with_class_indices_says_so_as_keras(op):
    model = classifier("categorical_crossentropy")
    before = model.get_weights()
    call = lambda y: lambda: getattr(model, op)(X6, y, verbose=0)
    raises(call(INDICES), ValueError, "Arguments `target` and `output` must have the same rank (ndim). "
           "Received: target.shape=(6,), output.shape=(6, 3)", "sparse_categorical_crossentropy")
    raises(call(INDICES[:, None]), ValueError, "Arguments `target` and `output` must have the same shape. "
           "Received: target.shape=(6, 1), output.shape=(6, 3)", "sparse_categorical_crossentropy")
    raises(call(np.eye(4)[INDICES]), ValueError, "target.shape=(6, 4), output.shape=(6, 3)")
    raises(call(np.eye(3)[:3]), ValueError, "x has 6 samples but y has 3")
    assert_untouched(model, before)


@pytest.mark.parametrize("op", ["fit", "evaluate"])
def test_sparse_loss_with_one_hot_labels_says_so_as_keras(op):
    model = classifier("sparse_categorical_crossentropy")
    before = model.get_weights()
    raises(lambda: getattr(model, op)(X6, np.eye(3)[INDICES], verbose=0), ValueError,
           "Argument `output` must have rank (ndim) `target.ndim - 1`. Received: target.shape=(6, 3), "
           "output.shape=(6, 3)", "looks one-hot", "categorical_crossentropy")
    assert_untouched(model, before)
    getattr(model, op)(X6, INDICES[:, None], verbose=0)  # a column of indices is fine, as in Keras


@pytest.mark.parametrize("bad, first", [(3, 3), (-1, -1), (7, 7)])
def test_a_label_outside_the_output_units_stops_fit_before_the_first_step(bad, first):
    """Keras raises at the batch holding it, after the steps before it; fastconv
    checks every label first, so nothing changes."""
    model = classifier("sparse_categorical_crossentropy")
    before = model.get_weights()
    y = np.arange(64) % 3
    y[-1] = bad  # in the last batch
    x = np.ones((64, 4), np.float32)
    raises(lambda: model.fit(x, y, batch_size=8, shuffle=False, verbose=0), ValueError,
           f"Received a label value of {first} which is outside the valid range of [0, 3).",
           "1 of the 64 labels", "3 units")
    assert_untouched(model, before)
    raises(lambda: model.evaluate(x, y, verbose=0), ValueError, "outside the valid range of [0, 3)")
    raises(lambda: model.fit(x, y * 0 + 0.5, verbose=0), ValueError, "whole numbers")


def test_the_loss_checks_labels_called_directly_too():
    p = np.full((2, 3), 1 / 3, np.float32)
    raises(lambda: losses.CategoricalCrossentropy().value(np.array([3, 1]), p), ValueError,
           "same rank", "target.shape=(2,), output.shape=(2, 3)")
    raises(lambda: losses.SparseCategoricalCrossentropy().gradient(np.array([0, 3]), p), ValueError,
           "label value of 3")


# ---- the Examples sections run --------------------------------------------------------------


@pytest.mark.parametrize("module", [layers, models, losses, activations, initializers], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
