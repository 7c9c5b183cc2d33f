"""fastconv.models: Sequential against PyTorch (forward, whole-model gradients,
evaluate) and finite differences, the fused softmax cross-entropy against the
unfused chain; fit's batches, shuffling, validation, history, progress output and
errors; Ctrl-C; save and load_model, with malformed files. Nothing is checked
against fastconv itself, except where that is the property under test
(reproducibility, a save/load round trip, fused versus unfused loss gradient).

The real-data test trains the lecture's CNN for one epoch on the shared 5,000 MNIST
digits; the rest uses models small enough to run in milliseconds."""
from __future__ import annotations

import copy
import io
import json
import math
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _helpers import members_of, raises, torch_one_thread, write_zip  # noqa: F401 - torch_one_thread: autouse, torch on one thread
from model_reference import (
    ARCHS,
    INPUT_SHAPE,
    capture_grads,
    close,
    make_model,
    model_inputs,
    t64,
    torch_forward,
)

from fastconv import _inference, _training, losses, models, optimizers, utils
from fastconv.callbacks import Callback
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fastconv.models import History, Sequential, load_model

MNIST_5K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-5k"


# ---- gradients of a whole model -------------------------------------------------------------

LOSS_CASES = {
    "sparse-probabilities": ("sparse_categorical_crossentropy", None),
    "sparse-from_logits": (losses.SparseCategoricalCrossentropy(from_logits=True), "linear"),
    "categorical-probabilities": ("categorical_crossentropy", None),
    "categorical-from_logits": (losses.CategoricalCrossentropy(from_logits=True), "linear"),
}


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("loss_case", list(LOSS_CASES))
def test_model_gradients_match_torch_autograd(arch, loss_case, monkeypatch):
    loss, last = LOSS_CASES[loss_case]
    model = make_model(arch, last_activation=last)
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    classes = model.output_shape[-1]
    x, labels = model_inputs(classes=classes)
    y = labels if loss_case.startswith("sparse") else np.eye(classes, dtype=np.float32)[labels]
    seen = capture_grads(model, monkeypatch)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    assert len(seen) == 1
    weights = [t64(w).requires_grad_() for w in model.get_weights()]
    logits, _ = torch_forward(arch, weights, x, last_activation="linear")
    want_loss = F.cross_entropy(logits, torch.from_numpy(labels))
    want_loss.backward()
    assert history.history["loss"][0] == pytest.approx(want_loss.item(), rel=1e-5)
    for i, (g, w) in enumerate(zip(seen[0], weights)):
        close(g, w.grad.numpy(), f"{arch} {loss_case}: d loss / d weight {i}", reduce=len(x) * 100)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_model_gradient_matches_central_finite_differences(arch, monkeypatch):
    """float32 all the way: step 1e-2 (the loss is smooth in the last layer's
    weights; rounding in the loss is ~1e-6, so the difference is good to ~1e-4),
    and a smaller one for a conv weight, whose effect crosses ReLU and pooling."""
    model = make_model(arch)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = model_inputs(n=8, classes=model.output_shape[-1])
    seen = capture_grads(model, monkeypatch)
    model.fit(x, y, batch_size=len(x), shuffle=False, verbose=0)
    grads = seen[0]
    base = model.get_weights()

    def loss_at(i, index, delta):
        ws = [w.copy() for w in base]
        ws[i][index] += delta
        model.set_weights(ws)
        return model.evaluate(x, y, batch_size=len(x), verbose=0)

    for i, h, rtol in ((len(base) - 2, 1e-2, 1e-2), (len(base) - 1, 1e-2, 1e-2), (0, 3e-3, 5e-2), (1, 3e-3, 5e-2)):
        index = np.unravel_index(np.argmax(np.abs(grads[i])), grads[i].shape)
        fd = (loss_at(i, index, h) - loss_at(i, index, -h)) / (2 * h)
        g = float(grads[i][index])
        assert abs(fd - g) <= rtol * abs(g) + 2e-4, (
            f"{arch}: weight {i}{index}: backward {g:.6g}, central difference {fd:.6g} (step {h})")
    model.set_weights(base)


def test_fused_softmax_cross_entropy_equals_the_unfused_chain(monkeypatch):
    """A softmax output with a probability loss is differentiated from the logits in
    one step; forcing the chain (loss gradient, then softmax's Jacobian) must give
    the same weight gradients on moderate inputs."""
    grads = {}
    for fused in (True, False):
        model = make_model("lecture")
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        if not fused:  # no head rule: the loss of the probabilities, then softmax's Jacobian
            monkeypatch.setattr(_training, "HEADS", [])
        x, y = model_inputs()
        seen = capture_grads(model, monkeypatch)
        model.fit(x, y, batch_size=len(x), shuffle=False, verbose=0)
        grads[fused] = seen[0]
    for i, (a, b) in enumerate(zip(grads[True], grads[False])):
        close(a, b.astype(np.float64), f"fused vs unfused softmax+CE, weight {i}", reduce=100)


# ---- Sequential: the lecture's model -------------------------------------------------------------


def lecture_model(classes=10):
    model = Sequential()
    model.add(Conv2D(28, kernel_size=(3, 3), input_shape=(28, 28, 1)))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(0.2))
    model.add(Dense(classes, activation="softmax"))
    return model


def test_lecture_model_weights_in_keras_order_and_shapes():
    model = lecture_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 3, 1, 28), (28,), (4732, 128), (128,), (128, 10), (10,)]
    assert model.count_params() == 607_394 == sum(math.prod(s) for s in shapes)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.output_shape == (10,)


def test_lecture_model_initialisers_are_keras_defaults():
    """Glorot uniform kernels (limit sqrt(6 / (fan_in + fan_out)), fans of a conv
    kernel times its receptive field) and zero biases."""
    utils.set_random_seed(3)
    ws = lecture_model().get_weights()
    for kernel, fan_in, fan_out in ((ws[0], 9, 9 * 28), (ws[2], 4732, 128), (ws[4], 128, 10)):
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.95 * limit                  # spread over the whole range
        assert abs(kernel.std() - limit / math.sqrt(3)) < 0.1 * limit  # uniform's spread
    for bias in ws[1::2]:
        assert not bias.any()


def test_summary_lists_layers_output_shapes_and_parameter_counts(capsys):
    model = lecture_model()
    model.summary()
    out = capsys.readouterr().out
    rows = [
        ("conv2d", "Conv2D", "(None, 26, 26, 28)", "280"),
        ("max_pooling2d", "MaxPooling2D", "(None, 13, 13, 28)", "0"),
        ("flatten", "Flatten", "(None, 4732)", "0"),
        ("dense", "Dense", "(None, 128)", "605,824"),
        ("dropout", "Dropout", "(None, 128)", "0"),
        ("dense", "Dense", "(None, 10)", "1,290"),
    ]
    lines = [line for line in out.splitlines() if "(None" in line]
    assert len(lines) == len(rows), out
    for line, (_, cls, shape, params), layer in zip(lines, rows, model.layers):
        assert f"{layer.name} ({cls})" in line and shape in line and line.rstrip().endswith(params), line
    assert re.search(r"Total params: 607,394\b", out), out
    assert re.search(r"Trainable params: 607,394\b", out), out
    seen = []
    model.summary(print_fn=seen.append)
    assert "\n".join(seen).strip() == out.strip()


def test_set_weights_validates_count_and_shapes_before_changing_anything():
    model = lecture_model()
    before = model.get_weights()
    raises(lambda: model.set_weights(before[:-1]), ValueError, "6", "5")
    bad = [w.copy() for w in before]
    bad[0] = np.zeros((3, 3, 28, 1), np.float32)
    bad[2] = bad[2] + 1
    raises(lambda: model.set_weights(bad), ValueError, "(3, 3, 1, 28)", "(3, 3, 28, 1)")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)   # nothing written on failure
    new = [np.full(w.shape, i, dtype=np.float64) for i, w in enumerate(before)]
    model.set_weights(new)
    for w, n in zip(model.get_weights(), new):
        assert w.dtype == np.float32
        np.testing.assert_array_equal(w, n)


def test_get_weights_returns_copies():
    model = lecture_model()
    ws = model.get_weights()
    ws[0][...] = 7
    assert not (model.get_weights()[0] == 7).any()


def test_model_forward_matches_torch(rng):
    model = make_model("same-strided")
    x = rng.standard_normal((11, *INPUT_SHAPE)).astype(np.float32)
    _, want = torch_forward("same-strided", model.get_weights(), x)
    want = want.detach().numpy()
    close(model.predict(x, verbose=0), want, "Sequential.predict", reduce=100)
    close(model.predict(x, batch_size=4, verbose=0), want, "Sequential.predict batch 4", reduce=100)
    close(model(x), want, "Sequential.__call__", reduce=100)


def test_evaluate_matches_torch_loss_and_accuracy(rng):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=37, classes=5)
    logits, probs = torch_forward("lecture", model.get_weights(), x)
    want_loss = F.cross_entropy(logits, torch.from_numpy(y)).item()
    want_acc = float((probs.argmax(-1).numpy() == y).mean())
    loss, acc = model.evaluate(x, y, batch_size=5, verbose=0)  # uneven batches: a per-sample mean
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert acc == pytest.approx(want_acc)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": pytest.approx(loss, rel=1e-6),
                                                                  "accuracy": pytest.approx(acc)}
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(want_loss, rel=1e-5)  # a scalar without metrics


def record_batches(model, monkeypatch):
    """Wrap the first layer's call: the rows (identified by x[:, 0, 0, 0]) of every
    batch, and whether it was a training call."""
    layer = model.layers[0]
    original = layer.call
    seen = []

    def call(x, training=False):  # (a layer with its own call is not fused: this one runs)
        seen.append((training, x[:, 0, 0, 0].astype(np.int64).tolist()))
        return original(x, training=training)

    monkeypatch.setattr(layer, "call", call)
    return seen


def tagged_inputs(n, classes=5):
    """Inputs whose first pixel is the sample's index, so batches can be traced."""
    x, y = model_inputs(n=n, classes=classes)
    x[:, 0, 0, 0] = np.arange(n)
    return x, y


def count_steps(model, monkeypatch):
    steps = []
    original = model.optimizer.apply
    monkeypatch.setattr(model.optimizer, "apply", lambda p, g, **kw: (steps.append(1), original(p, g, **kw)))
    return steps


def test_fit_batch_size_defaults_to_32_and_shuffles_every_epoch(monkeypatch):
    model = make_model("lecture")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = tagged_inputs(100)
    seen = record_batches(model, monkeypatch)
    steps = count_steps(model, monkeypatch)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert len(steps) == 2 * math.ceil(100 / 32)
    train = [rows for training, rows in seen if training]
    assert [len(r) for r in train] == [32, 32, 32, 4] * 2
    epochs = [sum(train[:4], []), sum(train[4:], [])]
    for order in epochs:
        assert sorted(order) == list(range(100))
    assert epochs[0] != list(range(100)) and epochs[0] != epochs[1], "not shuffled each epoch"
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1]
    assert set(history.history) == {"loss", "accuracy"}
    assert all(len(v) == 2 for v in history.history.values())


def test_fit_shuffle_false_keeps_the_order_and_batch_size_is_honoured(monkeypatch):
    model = make_model("lecture")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = tagged_inputs(50)
    seen = record_batches(model, monkeypatch)
    steps = count_steps(model, monkeypatch)
    model.fit(x, y, batch_size=20, epochs=2, shuffle=False, verbose=0)
    assert len(steps) == 6
    assert [rows for _, rows in seen] == [list(range(0, 20)), list(range(20, 40)), list(range(40, 50))] * 2


def test_history_loss_and_accuracy_are_per_sample_means_of_the_epoch():
    """With a learning rate too small to move a float32 weight, the epoch's loss and
    accuracy must equal the torch loss and accuracy of the whole set (uneven last
    batch: a mean of batch means would differ)."""
    model = make_model("lecture")
    model.compile(optimizer=optimizers.SGD(learning_rate=1e-30), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = model_inputs(n=70, classes=5)
    logits, probs = torch_forward("lecture", model.get_weights(), x)
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(F.cross_entropy(logits, torch.from_numpy(y)).item(), rel=1e-5)
    assert history.history["accuracy"][0] == pytest.approx(float((probs.argmax(-1).numpy() == y).mean()))


def test_validation_split_holds_out_the_last_samples_before_shuffling(monkeypatch):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = tagged_inputs(50)
    seen = record_batches(model, monkeypatch)
    history = model.fit(x, y, validation_split=0.3, epochs=2, batch_size=8, verbose=0)
    cut = int(50 * (1 - 0.3))  # Keras: floor(N * (1 - split))
    trained = sorted({i for training, rows in seen if training for i in rows})
    validated = sorted({i for training, rows in seen if not training for i in rows})
    assert trained == list(range(cut)) and validated == list(range(cut, 50))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.history.values())
    logits, probs = torch_forward("lecture", model.get_weights(), x[cut:])
    assert history.history["val_loss"][-1] == pytest.approx(
        F.cross_entropy(logits, torch.from_numpy(y[cut:])).item(), rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(float((probs.argmax(-1).numpy() == y[cut:]).mean()))


def test_validation_data_is_evaluated_after_every_epoch(monkeypatch):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=40, classes=5)
    vx, vy = model_inputs(n=13, seed=7, classes=5)
    steps = count_steps(model, monkeypatch)
    history = model.fit(x, y, validation_data=(vx, vy), validation_split=0.5, epochs=3, verbose=0)
    assert len(steps) == 3 * 2, "validation_data must override validation_split (train on all 40)"
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["val_loss"]) == 3
    assert len(set(history.history["val_loss"])) == 3, "validation not repeated after each epoch"
    logits, probs = torch_forward("lecture", model.get_weights(), vx)
    assert history.history["val_loss"][-1] == pytest.approx(F.cross_entropy(logits, torch.from_numpy(vy)).item(),
                                                            rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(float((probs.argmax(-1).numpy() == vy).mean()))


def test_validation_split_out_of_range_raises():
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = model_inputs()
    raises(lambda: model.fit(x, y, validation_split=1.0, verbose=0), ValueError, "validation_split")


def _train_twice(seed, shuffle, dropout=0.5):
    results = []
    for _ in range(2):
        utils.set_random_seed(seed)
        model = Sequential([Conv2D(3, 3, input_shape=INPUT_SHAPE), MaxPooling2D(), Flatten(),
                            Dense(8, activation="relu"), Dropout(dropout), Dense(5, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        x, y = model_inputs(n=40, classes=5)
        history = model.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0)
        results.append((model.get_weights(), history.history))
    return results


@pytest.mark.parametrize("shuffle", [True, False])
def test_set_random_seed_makes_training_reproducible(shuffle):
    (w1, h1), (w2, h2) = _train_twice(11, shuffle)
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    (w3, _), _ = _train_twice(12, shuffle)
    assert not np.array_equal(w1[0], w3[0])


def test_shuffle_false_without_dropout_gives_identical_runs_from_the_same_weights():
    runs = []
    for _ in range(2):
        model = make_model("lecture", seed=4)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x, y = model_inputs(n=30)
        model.fit(x, y, epochs=2, batch_size=7, shuffle=False, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_verbose_0_prints_nothing(capsys):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=20)
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_verbose_2_prints_one_line_per_epoch(capsys):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=20)
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=2)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3, out
    for epoch, line in enumerate(lines):
        assert line.startswith(f"Epoch {epoch + 1}/3"), line
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert re.search(rf"\b{key}: {history.history[key][epoch]:.4f}\b", line), (key, line)
    assert "\r" not in out


def test_verbose_1_shows_a_tqdm_progress_bar_with_loss_and_accuracy(capsys):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=70)
    model.fit(x, y, epochs=2, batch_size=32)  # verbose defaults to 'auto' = 1
    out, _ = capsys.readouterr()
    for epoch in (1, 2):
        assert re.search(rf"Epoch {epoch}/2.*3/3 .*loss=\d\.\d{{4}}.*accuracy=\d\.\d{{4}}", out), out


def test_uint8_input_is_cast_not_scaled(rng):
    model = make_model("lecture")
    x8 = rng.integers(0, 256, (5, *INPUT_SHAPE), dtype=np.uint8)
    _, want = torch_forward("lecture", model.get_weights(), x8.astype(np.float64))
    close(model.predict(x8, verbose=0), want.detach().numpy(), "predict(uint8)", reduce=100)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x8, np.arange(5) % 5, verbose=0)  # accepted by fit too


def test_images_without_the_channel_axis_are_accepted_for_one_channel(rng):
    model = make_model("lecture", input_shape=(12, 11, 1))
    x = rng.standard_normal((4, 12, 11)).astype(np.float32)
    _, want = torch_forward("lecture", model.get_weights(), x[..., None])
    close(model.predict(x, verbose=0), want.detach().numpy(), "predict((N, H, W))", reduce=100)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.arange(4) % 5, verbose=0)
    assert len(model.evaluate(x, np.arange(4) % 5, verbose=0)) == 2
    lecture = lecture_model()
    digits = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(lecture.predict(digits, verbose=0),
                                  lecture.predict(digits.reshape(3, 28, 28, 1).astype(np.float32), verbose=0))


@pytest.mark.parametrize("shape", [(3, 9, 10, 3), (3, 10, 9, 2), (3, 9, 10), (3, 180), (9, 10, 2)],
                         ids=["channels", "transposed", "no-channel-axis", "flat", "no-batch-axis"])
def test_wrong_input_shapes_raise_value_error_naming_the_shapes(shape):
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.zeros(shape, np.float32)
    for call in (lambda: model.predict(x, verbose=0), lambda: model.fit(x, np.zeros(len(x), int), verbose=0),
                 lambda: model.evaluate(x, np.zeros(len(x), int), verbose=0)):
        msg = raises(call, ValueError)
        assert str(shape) in msg and "9, 10, 2" in msg, msg


def test_fit_evaluate_with_mismatched_sample_counts_raise():
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = model_inputs(n=6)
    raises(lambda: model.fit(x, y[:5], verbose=0), ValueError, "6", "5")
    raises(lambda: model.evaluate(x, y[:4], verbose=0), ValueError, "6", "4")


def test_fit_and_evaluate_before_compile_raise():
    model = make_model("lecture")
    x, y = model_inputs()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(x, y, verbose=0)


def test_add_rejects_non_layers_and_duplicate_names():
    model = Sequential()
    raises(lambda: model.add("dense"), TypeError, "str")
    model.add(Dense(3, input_shape=(4,), name="head"))
    raises(lambda: model.add(Dense(2, name="head")), ValueError, "head")


def test_predict_of_zero_images_has_the_output_shape():
    model = make_model("lecture")
    assert model.predict(np.zeros((0, *INPUT_SHAPE), np.float32), verbose=0).shape == (0, 5)


def compiled(arch="lecture"):
    model = make_model(arch)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("optimizer", [
    lambda: "adam",
    lambda: optimizers.RMSprop(learning_rate=0.01, rho=0.8),
    lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
], ids=["adam", "rmsprop", "sgd-momentum"])
def test_a_copy_of_a_trained_model_trains_on_from_where_the_original_stands(how, optimizer):
    """A deep copy or a pickle round trip of a compiled, trained model is another model
    with the same optimizer state: training it gives the bits that training the original
    the same way gives, and leaves the original alone (its optimizer once knew its
    weights by id, so the copy's fit raised "Unknown variable")."""
    model = make_model("lecture", seed=3)
    model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=24)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    before = model.get_weights()
    utils.set_random_seed(5)
    twin_history = twin.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # training the copy left the original alone
    utils.set_random_seed(5)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    assert twin_history == history
    assert twin.optimizer.iterations == model.optimizer.iterations == 9
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[0], before[0])


def test_fit_on_no_samples_is_a_value_error_naming_the_shape():
    """Keras raises ValueError for an empty training set; so does fit, before anything
    is built or trained (it used to fail with UnboundLocalError after setting up)."""
    model = compiled()
    before = model.get_weights()
    raises(lambda: model.fit(np.zeros((0, *INPUT_SHAPE), np.float32), np.zeros(0, np.int64), verbose=0),
           ValueError, "no training data", "(0, 9, 10, 2)")
    assert model.optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


@pytest.mark.parametrize("n, split", [(1, 0.5), (3, 0.9), (4, 1e-17)])
def test_validation_split_that_leaves_a_set_empty_is_a_value_error(n, split):
    """As Keras' train_validation_split: too few samples for both sets is an error,
    not an empty training set (UnboundLocalError) or an empty validation set."""
    x, y = model_inputs(n=n)
    raises(lambda: compiled().fit(x, y, validation_split=split, verbose=0), ValueError,
           f"{n} samples", "validation_split")


def test_fit_with_empty_validation_data_fails_before_training():
    x, y = model_inputs(n=8)
    model = compiled()
    raises(lambda: model.fit(x, y, validation_data=(x[:0], y[:0]), verbose=0), ValueError,
           "validation_data", "no samples")
    assert model.optimizer.iterations == 0


def test_evaluate_on_no_samples_is_a_value_error():
    """Not a loss and accuracy of 0 made up for no data."""
    raises(lambda: compiled().evaluate(np.zeros((0, *INPUT_SHAPE), np.float32), np.zeros(0, np.int64), verbose=0),
           ValueError, "evaluate", "no data", "(0, 9, 10, 2)")


def test_predict_of_zero_images_before_the_model_is_built():
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(3, activation="softmax")])
    out = model.predict(np.zeros((0, 6, 6, 1), np.float32), verbose=1)
    assert out.shape == (0, 3) and out.dtype == np.float32


def test_model_without_input_shape_builds_on_first_data(rng):
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(3, activation="softmax")])
    x = rng.standard_normal((2, 6, 6, 1)).astype(np.float32)
    out = model.predict(x, verbose=0)
    assert out.shape == (2, 3)
    close(out.sum(-1), np.ones(2), "softmax rows")


# ---- Ctrl-C --------------------------------------------------------------------------------------


def test_ctrl_c_in_fit_raises_keeps_the_completed_steps_and_history(monkeypatch):
    """KeyboardInterrupt raised from a layer's call on the 3rd batch of epoch 2: fit
    raises it, as Keras does, with epoch 1 in `model.history` and `interrupted` set;
    the weights are those of a run that stopped after epoch 1 plus two batches, and
    still work. (Real SIGINTs at random moments: tests/test_interrupt.py.)"""
    x, y = model_inputs(n=100, classes=5)
    start = make_model("lecture", seed=5).get_weights()
    model = make_model("lecture")
    model.set_weights(start)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    calls = {"n": 0}
    layer = model.layers[3]
    original = layer.call

    def call(h, training=False):
        if training:
            calls["n"] += 1
            if calls["n"] == 4 + 3:  # epoch 1 has ceil(100/32) = 4 batches
                raise KeyboardInterrupt
        return original(h, training=training)

    monkeypatch.setattr(layer, "call", call)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, shuffle=False, verbose=0)
    history = model.history
    assert history.interrupted
    assert history.epoch == [0]
    assert all(len(v) == 1 for v in history.history.values())
    assert model.optimizer.iterations == 4 + 2

    twin = make_model("lecture")
    twin.set_weights(start)
    twin.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    twin.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert twin.history.history == history.history
    twin.fit(x[:64], y[:64], epochs=1, shuffle=False, verbose=0)
    for i, (a, b) in enumerate(zip(model.get_weights(), twin.get_weights())):
        np.testing.assert_array_equal(a, b, err_msg=f"weight {i}")
    assert not np.array_equal(model.get_weights()[0], start[0])
    # still usable: predicts as torch does with these weights, and trains on
    _, want = torch_forward("lecture", model.get_weights(), x)
    close(model.predict(x, verbose=0), want.detach().numpy(), "predict after Ctrl-C", reduce=100)
    monkeypatch.setattr(layer, "call", original)
    again = model.fit(x, y, epochs=1, verbose=0)
    assert not again.interrupted and len(again.history["loss"]) == 1


# ---- the model learns: real digits --------------------------------------------------------------


@pytest.mark.skipif(not MNIST_5K.is_dir(), reason=f"shared MNIST subset not at {MNIST_5K}")
def test_lecture_model_learns_mnist_5k_in_one_epoch():
    """One epoch on the 5,000 shared training digits (~1-2 s on a quiet 2-core
    machine): over 85% on the first 2,000 official test digits, and the test
    loss falls from ~2.3 to well under 1."""
    from fastconv.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data(MNIST_5K)
    assert x_train.shape == (5000, 28, 28) and x_train.dtype == np.uint8
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test[:2000].reshape(-1, 28, 28, 1).astype("float32") / 255
    y_test = y_test[:2000]
    utils.set_random_seed(0)
    model = lecture_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss0, _ = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    history = model.fit(x=x_train, y=y_train, epochs=1, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    assert loss0 > 2.0
    assert acc > 0.85, f"test accuracy {acc:.4f} after one epoch (train: {history.history})"
    assert loss < 0.6 and history.history["loss"][0] < 1.0, (loss, history.history)
    probe = model.predict(x_test[:20].reshape(20, 28, 28, 1), verbose=0)
    assert probe.shape == (20, 10)
    close(probe.sum(-1), np.ones(20), "predicted probabilities sum to 1")


# ---- save / load_model ----------------------------------------------------------------------------


def saved_model(tmp_path, compile_args=None):
    model = Sequential([Conv2D(3, (3, 2), strides=(1, 2), padding="same", activation="relu",
                               input_shape=INPUT_SHAPE),
                        MaxPooling2D(3, strides=2, padding="same"), Flatten(),
                        Dense(6, activation="relu"), Dropout(0.3), Dense(4, activation="softmax")])
    gen = np.random.default_rng(8)
    model.set_weights([gen.uniform(-0.5, 0.5, w.shape) for w in model.get_weights()])
    if compile_args is not False:
        model.compile(**(compile_args or dict(optimizer=optimizers.Adam(learning_rate=0.003, beta_1=0.8),
                                              loss="sparse_categorical_crossentropy", metrics=["accuracy"])))
    path = tmp_path / "model.fcm"
    model.save(path)
    return model, path


def test_save_load_round_trip_predicts_identically_with_the_same_compile_settings(tmp_path, rng):
    model, path = saved_model(tmp_path)
    loaded = load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = rng.standard_normal((7, *INPUT_SHAPE)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.optimizer) is optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert type(loaded.loss) is type(model.loss) and loaded.loss.from_logits == model.loss.from_logits
    assert loaded.metrics == ["accuracy"]
    y = np.arange(7) % 4
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    loaded.fit(x, y, epochs=1, verbose=0)  # ready to train on
    assert load_model(str(path)).count_params() == model.count_params()  # str paths too


def test_save_load_keeps_other_compile_settings(tmp_path):
    _, path = saved_model(tmp_path, dict(optimizer=optimizers.SGD(learning_rate=0.2, momentum=0.5, nesterov=True),
                                         loss=losses.CategoricalCrossentropy(from_logits=True)))
    loaded = load_model(path)
    assert type(loaded.optimizer) is optimizers.SGD
    assert loaded.optimizer.get_config()["momentum"] == 0.5 and loaded.optimizer.get_config()["nesterov"] is True
    assert isinstance(loaded.loss, losses.CategoricalCrossentropy) and loaded.loss.from_logits
    assert loaded.metrics == []


def test_an_uncompiled_model_loads_uncompiled(tmp_path):
    _, path = saved_model(tmp_path, compile_args=False)
    loaded = load_model(path)
    assert loaded.optimizer is None and loaded.loss is None
    with pytest.raises(RuntimeError, match="compile"):
        loaded.fit(np.zeros((1, *INPUT_SHAPE)), [0], verbose=0)


def test_the_saved_file_is_a_zip_of_json_and_npy_without_pickle(tmp_path):
    model, path = saved_model(tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        config = json.loads(zf.read("config.json"))
        for i, w in enumerate(model.get_weights()):
            arr = np.load(io.BytesIO(zf.read(f"weights/{i:04d}.npy")), allow_pickle=False)
            np.testing.assert_array_equal(arr, w)
    assert sorted(names) == ["config.json"] + [f"weights/{i:04d}.npy" for i in range(len(model.get_weights()))]
    assert config["format"] == "fastconv-model" and config["version"] == 2
    assert config["optimizer_state"] is None  # compiled, never trained: a fresh optimizer on load


# malformed files: each a mutation of a good file's members


def with_config(members, change):
    config = json.loads(members["config.json"])
    change(config)
    return {**members, "config.json": json.dumps(config).encode()}


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


class _CreatesFile:
    """Unpickling this opens (creates) a file: a stand-in for any code a pickle can run."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _set(key, value):
    def change(config):
        config[key] = value
    return change


def _layer0(key, value):
    def change(config):
        config["model"]["layers"][0][key] = value
    return change


MALFORMED = {
    "config-not-json": lambda m, tmp: {**m, "config.json": b"{not json"},
    "config-not-utf8": lambda m, tmp: {**m, "config.json": b"\xff\xfe\x00{"},
    "config-json-list": lambda m, tmp: {**m, "config.json": b"[1, 2, 3]"},
    "no-config": lambda m, tmp: {k: v for k, v in m.items() if k != "config.json"},
    "wrong-format": lambda m, tmp: with_config(m, _set("format", "keras")),
    "no-format": lambda m, tmp: with_config(m, lambda c: c.pop("format")),
    "wrong-version": lambda m, tmp: with_config(m, _set("version", 3)),
    "version-as-bool": lambda m, tmp: with_config(m, _set("version", True)),
    "version-as-string": lambda m, tmp: with_config(m, _set("version", "1")),
    "unknown-layer-class": lambda m, tmp: with_config(m, _layer0("class_name", "Lambda")),
    "layer-class-dunder": lambda m, tmp: with_config(m, _layer0("class_name", "__class__")),
    "layer-config-not-a-dict": lambda m, tmp: with_config(m, _layer0("config", "os.system('true')")),
    "layer-unknown-argument": lambda m, tmp: with_config(
        m, lambda c: c["model"]["layers"][0]["config"].update(function="os.system")),
    "layer-bad-activation": lambda m, tmp: with_config(
        m, lambda c: c["model"]["layers"][0]["config"].update(activation="builtins.eval")),
    "layers-not-a-list": lambda m, tmp: with_config(m, lambda c: c["model"].update(layers=7)),
    "no-model": lambda m, tmp: with_config(m, lambda c: c.pop("model")),
    "no-input-shape": lambda m, tmp: with_config(m, lambda c: c["model"]["layers"][0]["config"].pop("input_shape")),
    "weight-missing": lambda m, tmp: {k: v for k, v in m.items() if k != "weights/0002.npy"},
    "weight-count-fewer": lambda m, tmp: with_config(
        {k: v for k, v in m.items() if k != "weights/0005.npy"}, lambda c: c["weights"].pop()),
    "weight-count-more": lambda m, tmp: with_config(
        {**m, "weights/0006.npy": npy(np.zeros(3, np.float32))}, lambda c: c["weights"].append([3])),
    "weight-shape-mismatch": lambda m, tmp: {**m, "weights/0002.npy": npy(np.zeros((5, 6), np.float32))},
    "weight-shape-declared-wrong": lambda m, tmp: with_config(
        {**m, "weights/0000.npy": npy(np.zeros((2, 3, 2, 3), np.float32))},
        lambda c: c["weights"].__setitem__(0, [2, 3, 2, 3])),
    "weight-integer-dtype": lambda m, tmp: {**m, "weights/0001.npy": npy(np.zeros(3, np.int64))},
    "weight-not-npy": lambda m, tmp: {**m, "weights/0001.npy": b"\x93NUMPY garbage"},
    "weight-oversized": lambda m, tmp: {**m, "weights/0001.npy": npy(np.zeros(3, np.float32)) + bytes(1 << 20)},
    "weight-pickled-object-array": lambda m, tmp: {
        **m, "weights/0001.npy": npy(np.array([_CreatesFile(tmp / "pwned"), 0, 0], dtype=object), allow_pickle=True)},
    "weight-raw-pickle": lambda m, tmp: {**m, "weights/0001.npy": pickle.dumps(_CreatesFile(tmp / "pwned"))},
    "config-pickle": lambda m, tmp: {**m, "config.json": pickle.dumps(_CreatesFile(tmp / "pwned"))},
    "config-oversized": lambda m, tmp: {**m, "config.json": m["config.json"][:-1] + b" " * (2 << 20) + b"}"},
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_load_model_rejects_malformed_files_with_value_error(case, tmp_path):
    _, good = saved_model(tmp_path)
    members = members_of(good)
    bad = write_zip(tmp_path / f"{case}.fcm", MALFORMED[case](members, tmp_path))
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        load_model(bad)
    assert not (tmp_path / "pwned").exists(), "loading ran code from the file"


def test_the_pickle_payload_used_above_is_live(tmp_path):
    """Guard for the test above: the payload does create its file when unpickled."""
    target = tmp_path / "armed"
    pickle.loads(pickle.dumps(_CreatesFile(target))).close()
    assert target.exists()


def test_load_model_rejects_a_file_that_is_not_a_zip(tmp_path):
    for name, data in (("text.fcm", b"hello, world\n"), ("empty.fcm", b""), ("npy.fcm", npy(np.zeros(3)))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match="not a fastconv model"):
            load_model(path)


def test_load_model_of_a_missing_file_raises(tmp_path):
    with pytest.raises((ValueError, FileNotFoundError)):
        load_model(tmp_path / "nothing-here.fcm")


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.5, 0.8, 0.99, "minus-1", "minus-22"])
def test_load_model_rejects_truncated_files(keep, tmp_path):
    _, good = saved_model(tmp_path)
    data = good.read_bytes()
    n = {"minus-1": len(data) - 1, "minus-22": len(data) - 22}.get(keep) or int(len(data) * keep)
    cut = tmp_path / "cut.fcm"
    cut.write_bytes(data[:n])
    with pytest.raises(ValueError):
        load_model(cut)


def test_load_model_rejects_corrupted_compressed_bytes(tmp_path):
    _, good = saved_model(tmp_path)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("config.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 20:start + 60] = bytes(40)   # zero 40 bytes inside the deflate stream
    bad = tmp_path / "corrupt.fcm"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        load_model(bad)


def test_load_model_rejects_absurd_weight_shapes_without_allocating(tmp_path):
    big = 1 << 20
    config = {"format": "fastconv-model", "version": 1,
              "model": {"name": "huge", "layers": [{"class_name": "Dense",
                                                    "config": {"units": big, "input_shape": [big]}}]},
              "compile": None, "weights": [[big, big], [big]]}
    bad = write_zip(tmp_path / "huge.fcm", {"config.json": json.dumps(config)})
    with pytest.raises(ValueError):
        load_model(bad)


# ---- what Keras users write -----------------------------------------------------------------


def test_dense_takes_an_int_input_shape_as_a_1d_shape():
    """Keras 3 refuses `input_shape=4` ("Cannot convert '4' to a shape"); fastconv
    takes it as (4,), the shape such tutorials mean."""
    utils.set_random_seed(0)
    model = Sequential([Dense(2, input_shape=4)])
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    kernel, bias = model.get_weights()
    assert kernel.shape == (4, 2)
    np.testing.assert_allclose(model.predict(x, verbose=0), x.astype(np.float64) @ kernel + bias,
                               rtol=1e-5, atol=1e-6)


def test_compile_with_a_metrics_string_names_the_list_it_wants():
    model = Sequential([Dense(2, input_shape=(4,))])
    with pytest.raises(ValueError, match=r"metrics must be a list.*'accuracy'"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics="accuracy")


def test_one_hot_labels_with_the_sparse_loss_say_so_and_change_nothing():
    utils.set_random_seed(0)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    y = np.eye(3)[[0, 1, 2, 1, 0, 2]]
    with pytest.raises(ValueError, match=r"shape \(6, 3\).*one-hot.*categorical_crossentropy"):
        model.fit(np.ones((6, 4), np.float32), y, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations == 0


def test_load_model_compile_false_gives_the_uncompiled_model(tmp_path):
    utils.set_random_seed(0)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.save(tmp_path / "m.fcm")
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    bare = load_model(tmp_path / "m.fcm", compile=False)
    assert bare.optimizer is None and bare.loss is None
    np.testing.assert_array_equal(bare.predict(x, verbose=0), model.predict(x, verbose=0))
    assert load_model(tmp_path / "m.fcm").optimizer is not None


def test_predict_rows_do_not_depend_on_the_batch_or_the_path(rng):
    """predict of one image, of a few (the small-batch Dense kernel, the direct
    path for one batch) and of many (the batch loop, the GEMM) give every image
    the same bits; a model that returns its input's memory still returns a copy."""
    model = lecture_model()
    x = rng.random((70, 28, 28, 1), dtype=np.float32)
    whole = model.predict(x, batch_size=70, verbose=0)
    looped = model.predict(x, verbose=0)  # batches of 32: the loop
    np.testing.assert_array_equal(looped, whole)
    for n in (1, 2, 5, 8, 9, 32):
        np.testing.assert_array_equal(model.predict(x[:n], verbose=0), whole[:n], err_msg=f"batch {n}")
        np.testing.assert_array_equal(model.predict(x[-n:], verbose=1), whole[-n:], err_msg=f"batch {n}")
    flat = Sequential([Flatten(input_shape=(2, 2))])
    images = np.ones((3, 2, 2), np.float32)
    out = flat.predict(images, verbose=0)
    out[...] = 7
    assert np.all(images == 1)


def _record_pool_wakes(monkeypatch) -> tuple[list[str], list[int]]:
    """nn._pool_wake replaced by a recorder: ("wake" in the calls list, its hold)."""
    from fastconv import nn

    calls: list[str] = []
    holds: list[int] = []

    def wake(hold_ns=0):
        calls.append("wake")
        holds.append(hold_ns)

    monkeypatch.setattr(nn, "_pool_wake", wake)
    return calls, holds


def test_fit_restarts_the_pools_spin_around_every_step(monkeypatch):
    """The pool's workers sleep once their spin runs out; fit restarts it as each step
    begins and as it ends, holding it for twice the last step's time (at most 5 ms),
    so neither a step's serial parts nor the Python between two steps leave a region
    waiting for a wake-up."""
    calls, holds = _record_pool_wakes(monkeypatch)
    step = Sequential._train_step

    def spy(self, *args, **kwargs):
        calls.append("step")
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Sequential, "_train_step", spy)
    model = Sequential([Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((10, 4)).astype(np.float32), rng.integers(0, 3, 10),
              batch_size=4, epochs=2, verbose=0)
    assert calls == ["wake", "step", "wake"] * 6
    for epoch in (holds[:6], holds[6:]):  # three steps an epoch
        assert epoch[0] == 0, holds  # no step of the epoch timed yet
        assert all(type(h) is int and 0 < h <= 5_000_000 for h in epoch[1:]), holds
        assert epoch[2] == epoch[1] and epoch[4] == epoch[3], holds  # as a step ends, as the next begins


class _PerBatch(Callback):
    """A callback that does something per test batch: evaluate then runs its
    batches one at a time."""

    def __init__(self):
        super().__init__()
        self.ends = 0

    def on_test_batch_end(self, batch, logs=None):
        self.ends += 1


class _PlanSpy:
    """The inference plan `forward_plan` makes, its run calls recorded."""

    def __init__(self, plan, calls):
        self.plan, self.calls = plan, calls

    def run(self, x, batch=0):
        self.calls.append(("run", len(x), batch))
        return self.plan.run(x, batch)


def _spy_on_plans(monkeypatch, calls):
    make = _inference.forward_plan
    monkeypatch.setattr(_inference, "forward_plan", lambda model, x: _PlanSpy(make(model, x), calls))


@pytest.mark.parametrize("per_batch", [True, False])
def test_evaluate_restarts_the_pools_spin_around_every_batch(monkeypatch, per_batch):
    """evaluate's batches (and fit's validation passes, the same loop) hint the pool
    as fit's steps do: as each batch begins and as it ends, holding the spin for twice
    the last batch's time (at most 5 ms); run a group per call (no callback doing
    anything per batch), around each group's call."""
    calls, holds = _record_pool_wakes(monkeypatch)
    forward = Sequential._forward

    def spy(self, *args, **kwargs):
        calls.append("forward")
        return forward(self, *args, **kwargs)

    model = Sequential([Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 4)).astype(np.float32), rng.integers(0, 3, 10)
    model.evaluate(x, y, batch_size=4, verbose=0)  # built
    calls.clear(), holds.clear()
    monkeypatch.setattr(Sequential, "_forward", spy)
    monkeypatch.setattr(models, "_group_samples", lambda batch: batch)  # a batch per group
    if not per_batch:
        _spy_on_plans(monkeypatch, calls)
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[_PerBatch()] if per_batch else None)
    if per_batch:
        assert calls == ["wake", "forward", "wake"] * 3, calls
    else:
        assert calls == ["wake", ("run", 4, 4), "wake"] * 2 + ["wake", ("run", 2, 4), "wake"], calls
    assert holds[0] == 0, holds  # no batch timed yet
    assert all(type(h) is int and 0 < h <= 5_000_000 for h in holds[1:]), holds
    assert holds[2] == holds[1] and holds[4] == holds[3], holds  # as a batch ends, as the next begins


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("group", [None, 3])
def test_evaluate_in_groups_of_batches_gives_the_batch_at_a_time_bits(monkeypatch, weighted, group):
    """Without a callback doing something per batch, evaluate (and fit's validation)
    runs a group of batches per call of the one-call inference pass; the losses and
    the accuracy are those of the batches run one at a time, bit for bit, whatever
    the groups (the default, and 3 batches a group: several groups, the last one
    short). The losses are checked against PyTorch too."""
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs(n=100, classes=5)
    w = np.random.default_rng(3).uniform(0, 2, len(x)).astype(np.float32) if weighted else None
    if group is not None:
        monkeypatch.setattr(models, "_group_samples", lambda batch: group * batch)
    runs = []
    _spy_on_plans(monkeypatch, runs)
    per_batch = _PerBatch()
    want = model.evaluate(x, y, batch_size=7, sample_weight=w, verbose=0, callbacks=[per_batch])
    assert per_batch.ends == 15 and all(r[2] == 0 for r in runs), runs  # one batch a call
    runs.clear()
    got = model.evaluate(x, y, batch_size=7, sample_weight=w, verbose=0)
    assert got == want  # bitwise: the same floats
    assert [r[1] for r in runs] == ([100] if group is None else [21] * 4 + [16]), runs
    assert all(r[2] == 7 for r in runs), runs
    logits, probs = torch_forward("lecture", model.get_weights(), x)
    losses = F.cross_entropy(logits, torch.from_numpy(y), reduction="none").numpy()
    assert got[0] == pytest.approx(float(np.mean(losses * (1 if w is None else w))), rel=1e-5)
    assert got[1] == pytest.approx(float((probs.argmax(-1).numpy() == y).mean()))
    runs.clear()
    history = model.fit(x[:10], y[:10], validation_data=(x, y, w) if weighted else (x, y),
                        validation_batch_size=7, epochs=1, verbose=0)
    assert len(runs) == (1 if group is None else 5), runs  # fit's validation: the same pass
    val = model.evaluate(x, y, batch_size=7, sample_weight=w, verbose=0, callbacks=[_PerBatch()])
    assert history.history["val_loss"] == [val[0]] and history.history["val_accuracy"] == [val[1]]
