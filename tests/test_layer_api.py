"""What a Keras user reaches for around the layers, without TensorFlow: layer and
model weights (live arrays, copies, all-or-nothing set_weights), names, get_layer
and pop, build-time shape errors, labels that do not fit the loss, an optimizer
bound to one model, and the optimizer's state in the model file (training
resumed after load_model equals uninterrupted training, bitwise; older files
load; malformed state members are refused).

References are independent of fastconv: NumPy products for layer outputs, the
output-size formulas written out here, Keras' messages quoted from Keras 3.15
(tests/test_keras_parity.py checks them against Keras itself where TensorFlow is
installed), and, for resumed training, the same run left uninterrupted.
"""
from __future__ import annotations

import doctest
import functools
import io
import json
import math
import pickle
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _helpers import members_of, raises, write_zip

from fastconv import (
    activations,
    initializers,
    layers,
    losses,
    models,
    optimizers,
    utils,
)
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D, ReLU
from fastconv.models import Sequential, load_model


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


def test_trainable_and_non_trainable_weights_follow_the_trainable_flag():
    model = Sequential([Dense(4, input_shape=(3,), trainable=False), Dense(2)])
    frozen, live = model.layers
    assert model.trainable_weights == live.weights and frozen.trainable_weights == []
    assert [w is v for w, v in zip(model.non_trainable_weights, frozen.weights)] == [True, True]
    assert [w.shape for w in model.weights] == [(3, 4), (4,), (4, 2), (2,)]
    model.compile("adam", "sparse_categorical_crossentropy")
    before = frozen.get_weights()
    model.fit(np.ones((8, 3), np.float32), np.arange(8) % 2, verbose=0)
    for a, b in zip(before, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [id(v) for v in model.optimizer._variables] == [id(w) for w in live.weights]  # trainable only


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


# ---- an optimizer belongs to one model ----------------------------------------------------------


def test_an_optimizer_trained_on_one_model_refuses_another_as_keras():
    """Keras 3 lets a second model compile with the optimizer and raises at its
    first step; nothing of the second model or the optimizer changes."""
    opt = optimizers.Adam()
    a, b = classifier("sparse_categorical_crossentropy"), classifier("sparse_categorical_crossentropy")
    a.compile(opt, "sparse_categorical_crossentropy")
    b.compile(opt, "sparse_categorical_crossentropy")  # allowed, as in Keras
    a.fit(X6, INDICES, verbose=0)
    assert opt.iterations == 1
    before = b.get_weights()
    raises(lambda: b.fit(X6, INDICES, verbose=0), ValueError,
           f"Unknown variable: <Variable path=sequential/{b.layers[0].name}/kernel, shape=(4, 3), "
           "dtype=float32>. This optimizer can only be called for the variables it was originally built "
           "with. When working with a new set of variables, you should recreate a new optimizer instance.")
    for x, y in zip(before, b.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert opt.iterations == 1
    a.fit(X6, INDICES, verbose=0)  # its own model goes on
    assert opt.iterations == 2
    p = np.zeros(3, np.float32)
    raises(lambda: opt.apply([p], [p]), ValueError, "Unknown variable")


def test_an_optimizer_shared_before_any_step_binds_to_the_first_model_trained():
    opt = optimizers.SGD(momentum=0.5)
    a, b = classifier("sparse_categorical_crossentropy"), classifier("sparse_categorical_crossentropy")
    a.compile(opt, "sparse_categorical_crossentropy")
    b.compile(opt, "sparse_categorical_crossentropy")
    b.fit(X6, INDICES, verbose=0)
    raises(lambda: a.fit(X6, INDICES, verbose=0), ValueError, "Unknown variable")


# ---- the optimizer's state in the model file: resumed training ---------------------------------

GEN = np.random.default_rng(11)
XR = GEN.random((80, 10, 10, 1), dtype=np.float32)
YR = GEN.integers(0, 5, 80)


def resumable(optimizer):
    return Sequential([Conv2D(4, 3, input_shape=(10, 10, 1), activation="relu"), MaxPooling2D(2),
                       Flatten(), Dense(16, activation="relu"), Dropout(0.3),
                       Dense(5, activation="softmax")]), optimizer


OPTIMIZERS = {
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "sgd-nesterov": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "sgd-plain": lambda: optimizers.SGD(learning_rate=0.05),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.01),
}


def train(optimizer, epochs):
    utils.set_random_seed(5)  # the initial weights, the shuffles and the dropout masks
    model, opt = resumable(optimizer())
    model.compile(opt, "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(XR, YR, batch_size=16, epochs=epochs, verbose=0)
    return model, history.history


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_resumed_after_load_model_equals_uninterrupted_training(name, tmp_path):
    """fit 2 epochs == fit 1, save, load, fit 1: bitwise (same process, same threads;
    shuffling and dropout draw from the shared generator, which loading leaves alone)."""
    whole, whole_history = train(OPTIMIZERS[name], 2)
    half, half_history = train(OPTIMIZERS[name], 1)
    half.save(tmp_path / "half.fcm")
    resumed = load_model(tmp_path / "half.fcm")
    assert resumed.optimizer.iterations == half.optimizer.iterations == 5
    for w_half, w_resumed in zip(half.weights, resumed.weights):
        for a, b in zip(half.optimizer._slots[id(w_half)], resumed.optimizer._slots[id(w_resumed)]):
            np.testing.assert_array_equal(a, b)
    second = resumed.fit(XR, YR, batch_size=16, epochs=1, verbose=0).history
    for i, (a, b) in enumerate(zip(whole.get_weights(), resumed.get_weights())):
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: weight {i}")
    assert [half_history["loss"][0], second["loss"][0]] == whole_history["loss"]
    assert resumed.optimizer.iterations == whole.optimizer.iterations == 10


def test_a_fresh_optimizer_after_load_would_not_resume_exactly(tmp_path):
    """Guard for the test above: without the saved state the runs part."""
    whole, _ = train(OPTIMIZERS["adam"], 2)
    half, _ = train(OPTIMIZERS["adam"], 1)
    half.save(tmp_path / "half.fcm")
    fresh = load_model(tmp_path / "half.fcm", compile=False)
    fresh.compile(optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
    fresh.fit(XR, YR, batch_size=16, epochs=1, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(whole.get_weights(), fresh.get_weights()))


def test_loading_draws_no_random_numbers(tmp_path):
    model, _ = train(OPTIMIZERS["adam"], 1)
    model.save(tmp_path / "m.fcm")
    utils.set_random_seed(9)
    want = utils.rng().random(4)
    utils.set_random_seed(9)
    load_model(tmp_path / "m.fcm")
    np.testing.assert_array_equal(utils.rng().random(4), want)


def test_the_file_lists_the_state_and_holds_one_npy_per_slot(tmp_path):
    model, _ = train(OPTIMIZERS["adam"], 1)
    model.save(tmp_path / "m.fcm")
    with zipfile.ZipFile(tmp_path / "m.fcm") as zf:
        config = json.loads(zf.read("config.json"))
        names = sorted(zf.namelist())
        slots = [np.load(io.BytesIO(zf.read(f"optimizer/{k:04d}.npy")), allow_pickle=False)
                 for k in range(12)]
    assert config["version"] == 2
    assert config["optimizer_state"] == {"iterations": 5, "slots": ["momentum", "velocity"],
                                         "weights": [0, 1, 2, 3, 4, 5]}
    assert names == ["config.json"] + [f"optimizer/{k:04d}.npy" for k in range(12)] + \
        [f"weights/{i:04d}.npy" for i in range(6)]
    for i, w in enumerate(model.weights):  # weight by weight, momentum then velocity (Keras' order)
        m, v = model.optimizer._slots[id(w)]
        np.testing.assert_array_equal(slots[2 * i], m)
        np.testing.assert_array_equal(slots[2 * i + 1], v)


def test_state_after_pop_and_add_keeps_the_binding_across_save_and_load(tmp_path):
    """Trained, then a layer replaced: the optimizer knows the kept weights only;
    the loaded model refuses to train the new layer with it, as the original does."""
    model, _ = train(OPTIMIZERS["adam"], 1)
    model.pop()
    model.add(Dense(5, activation="softmax", name="replaced"))
    raises(lambda: model.fit(XR, YR, verbose=0), ValueError, "Unknown variable", "replaced/kernel")
    model.save(tmp_path / "m.fcm")
    loaded = load_model(tmp_path / "m.fcm")
    raises(lambda: loaded.fit(XR, YR, verbose=0), ValueError, "Unknown variable", "replaced/kernel")
    assert loaded.optimizer.iterations == 5
    with zipfile.ZipFile(tmp_path / "m.fcm") as zf:
        assert json.loads(zf.read("config.json"))["optimizer_state"]["weights"] == [0, 1, 2, 3]


# ---- older files, malformed state -------------------------------------------------------------


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_a_version_1_file_loads_with_a_fresh_optimizer(tmp_path, rng):
    """Version 1 (no optimizer state), written here as its format description says."""
    model, _ = train(OPTIMIZERS["adam"], 1)
    config = {"format": "fastconv-model", "version": 1, "model": model.get_config(),
              "compile": {"optimizer": model.optimizer.get_config(),
                          "loss": model.loss.get_config(), "metrics": ["accuracy"]},
              "weights": [list(w.shape) for w in model.weights]}
    members = {"config.json": json.dumps(config).encode()}
    members.update({f"weights/{i:04d}.npy": npy(w) for i, w in enumerate(model.get_weights())})
    loaded = load_model(write_zip(tmp_path / "v1.fcm", members))
    assert type(loaded.optimizer) is optimizers.Adam and not loaded.optimizer.built
    assert loaded.optimizer.iterations == 0 and loaded.optimizer.learning_rate == 0.01
    x = rng.random((3, 10, 10, 1), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(XR, YR, verbose=0)
    assert loaded.optimizer.iterations == 3


def _state(change):
    def mutate(config):
        change(config["optimizer_state"])
    return mutate


def _config(change):
    def apply(members):
        config = json.loads(members["config.json"])
        change(config)
        return {**members, "config.json": json.dumps(config).encode()}
    return apply


class _CreatesFile:
    """Unpickling this opens (creates) a file: a stand-in for any code a pickle can run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


BAD_STATE = {
    "state-not-a-dict": (_config(lambda c: c.update(optimizer_state=[1, 2])), "exactly"),
    "state-extra-key": (_config(_state(lambda s: s.update(code="os.system"))), "exactly"),
    "iterations-negative": (_config(_state(lambda s: s.update(iterations=-1))), "iterations"),
    "iterations-bool": (_config(_state(lambda s: s.update(iterations=True))), "iterations"),
    "iterations-float": (_config(_state(lambda s: s.update(iterations=5.0))), "iterations"),
    "iterations-huge": (_config(_state(lambda s: s.update(iterations=2**70))), "iterations"),
    "slots-of-another-optimizer": (_config(_state(lambda s: s.update(slots=["velocity"]))), "slots"),
    "slots-for-sgd-config": (_config(lambda c: c["compile"].update(
        optimizer={"class_name": "SGD", "learning_rate": 0.1, "momentum": 0.5})), "SGD"),
    "weight-index-out-of-range": (_config(_state(lambda s: s.update(weights=[0, 1, 2, 3, 4, 6]))), "weights"),
    "weight-index-huge": (_config(_state(lambda s: s.update(weights=[10**12]))), "weights"),
    "weight-indices-unsorted": (_config(_state(lambda s: s.update(weights=[1, 0, 2, 3, 4, 5]))), "weights"),
    "weight-indices-repeated": (_config(_state(lambda s: s.update(weights=[0, 0, 2, 3, 4, 5]))), "weights"),
    "weight-index-bool": (_config(_state(lambda s: s.update(weights=[False]))), "weights"),
    "weights-not-a-list": (_config(_state(lambda s: s.update(weights="0-5"))), "weights"),
    "slot-member-missing": (lambda m: {k: v for k, v in m.items() if k != "optimizer/0007.npy"},
                            "optimizer/0007.npy"),
    "slot-member-wrong-shape": (lambda m: {**m, "optimizer/0004.npy": npy(np.zeros((16, 16), np.float32))},
                                "optimizer/0004.npy"),
    "slot-member-integer": (lambda m: {**m, "optimizer/0001.npy": npy(np.zeros((3, 3, 1, 4), np.int32))},
                            "optimizer/0001.npy"),
    "slot-member-oversized": (lambda m: {**m, "optimizer/0001.npy": npy(np.zeros((3, 3, 1, 4), np.float32)) + bytes(1 << 20)},
                              "optimizer/0001.npy"),
    "slot-member-not-npy": (lambda m: {**m, "optimizer/0003.npy": b"\x93NUMPY rubbish"}, "optimizer/0003.npy"),
    "slot-member-pickle": (lambda m: {**m, "optimizer/0002.npy": pickle.dumps(_CreatesFile(m["_pwned"]))},
                           "optimizer/0002.npy"),
    "slot-member-object-array": (lambda m: {**m, "optimizer/0001.npy": npy(
        np.array([_CreatesFile(m["_pwned"])] * 4, dtype=object), allow_pickle=True)}, "optimizer/0001.npy"),
}


@pytest.mark.parametrize("case", list(BAD_STATE))
def test_load_model_refuses_a_malformed_optimizer_state_naming_file_and_member(case, tmp_path):
    model, _ = train(OPTIMIZERS["adam"], 1)
    model.save(tmp_path / "good.fcm")
    change, word = BAD_STATE[case]
    members = {**members_of(tmp_path / "good.fcm"), "_pwned": tmp_path / "pwned"}
    members = change(members)
    members.pop("_pwned")
    bad = write_zip(tmp_path / f"{case}.fcm", members)
    msg = raises(lambda: load_model(bad), ValueError, str(bad), word)
    assert not (tmp_path / "pwned").exists(), "loading ran code from the file"
    if not case.startswith("slot-member"):
        assert "optimizer state" in msg
    load_model(bad, compile=False)  # the state is not read without compile


def test_max_bytes_counts_the_optimizer_state_only_when_compiling(tmp_path):
    model, _ = train(OPTIMIZERS["adam"], 1)
    model.save(tmp_path / "m.fcm")
    weights = sum(w.nbytes for w in model.weights)
    load_model(tmp_path / "m.fcm", compile=False, max_bytes=weights)
    raises(lambda: load_model(tmp_path / "m.fcm", max_bytes=3 * weights - 1), ValueError,
           f"its weights and optimizer state take {3 * weights:,} bytes, more than max_bytes")
    assert load_model(tmp_path / "m.fcm", max_bytes=3 * weights).optimizer.iterations == 5


# ---- the Examples sections run --------------------------------------------------------------


@pytest.mark.parametrize("module", [layers, models, optimizers, losses, activations, initializers],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the examples' mkdtemp() folders
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_public_annotations_pass_mypy_strict(tmp_path):
    """tests/typing_model_api.py uses the layers, models, optimizers, losses,
    activations and initializers as a user would; mypy --strict must accept it."""
    mypy = pytest.importorskip("mypy.api", reason="mypy is in the test extra: pip install -e .[test]")
    here = Path(__file__).resolve().parent
    out, err, status = mypy.run(["--strict", "--cache-dir", str(tmp_path), str(here / "typing_model_api.py")])
    assert status == 0, out + err


def test_the_model_format_document_describes_version_2():
    text = (Path(__file__).resolve().parents[1] / "docs" / "model-format.md").read_text()
    assert re.search(r"\(version 2\)", text) and "optimizer_state" in text and "optimizer/0000.npy" in text
