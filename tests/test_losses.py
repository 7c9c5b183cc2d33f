"""fastconv.losses against PyTorch: values and gradients (from probabilities or
logits), Keras' clipping, label checks, names; the cross-entropy gradient from the
logits against the chain through fastconv.activations.softmax."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _helpers import raises, torch_one_thread  # noqa: F401 - torch_one_thread: autouse, torch on one thread
from model_reference import close, make_model, model_inputs, t64

from fastconv import activations, losses


def test_fused_and_unfused_softmax_gradients_match_torch_on_logits(rng):
    z = rng.normal(0, 2, (16, 10)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    zt = t64(z).requires_grad_()
    F.cross_entropy(zt, torch.from_numpy(y)).backward()
    loss = losses.SparseCategoricalCrossentropy()
    p = activations.softmax.forward(z)
    unfused = activations.softmax.backward(loss.gradient(y, p), z, p)
    fused = loss.gradient_from_logits(y, z)
    close(fused, zt.grad.numpy(), "CE gradient from logits")
    close(unfused, zt.grad.numpy(), "CE gradient through softmax")


# ---- losses ------------------------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_matches_torch(from_logits, rng):
    z = rng.normal(0, 2, (20, 7))
    y = rng.integers(0, 7, 20)
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    zt = t64(z).requires_grad_()
    if from_logits:
        out, want = zt, F.cross_entropy(zt, torch.from_numpy(y))
    else:
        # Keras divides the output by its sum before the log (a softmax's sum is 1)
        out = torch.softmax(zt, -1).detach().requires_grad_()
        want = F.nll_loss(torch.log(out / out.sum(-1, keepdim=True)), torch.from_numpy(y))
    want.backward()
    o = out.detach().numpy().astype(np.float32)
    assert loss.value(y, o) == pytest.approx(want.item(), rel=1e-5)
    close(loss.gradient(y, o), out.grad.numpy(), f"sparse CE gradient from_logits={from_logits}")
    # labels as a column, and as floats holding whole numbers, are accepted as Keras does
    assert loss.value(y.reshape(-1, 1), o) == pytest.approx(want.item(), rel=1e-5)
    assert loss.value(y.astype(np.float32), o) == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("soft", [False, True], ids=["one-hot", "soft-labels"])
def test_categorical_crossentropy_matches_torch(from_logits, soft, rng):
    z = rng.normal(0, 2, (12, 6))
    labels = rng.integers(0, 6, 12)
    t = rng.dirichlet(np.ones(6), 12) if soft else np.eye(6)[labels]
    loss = losses.CategoricalCrossentropy(from_logits=from_logits)
    zt = t64(z).requires_grad_()
    if from_logits:
        out, want = zt, F.cross_entropy(zt, t64(t))
    else:
        out = torch.softmax(zt, -1).detach().requires_grad_()
        want = -(t64(t) * torch.log(out / out.sum(-1, keepdim=True))).sum(-1).mean()
    want.backward()
    o = out.detach().numpy().astype(np.float32)
    assert loss.value(t.astype(np.float32), o) == pytest.approx(want.item(), rel=1e-5)
    close(loss.gradient(t.astype(np.float32), o), out.grad.numpy(), f"categorical CE gradient soft={soft}")


def test_probability_loss_clips_at_keras_epsilon():
    """Keras clips probabilities to [1e-7, 1 - 1e-7]: a zero on the true class costs
    -log(1e-7), not infinity."""
    p = np.array([[0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    got = losses.SparseCategoricalCrossentropy().value(np.array([0, 1]), p)
    assert got == pytest.approx((-math.log(1e-7) - math.log(0.5)) / 2, rel=1e-5)
    one_hot = np.eye(2, dtype=np.float32)[[0, 1]]
    assert losses.CategoricalCrossentropy().value(one_hot, p) == pytest.approx(got, rel=1e-6)


@pytest.mark.parametrize("labels", [[0, 1, 5], [0, -1, 2], [0.0, 1.5, 2.0]], ids=["too-large", "negative", "fraction"])
def test_sparse_labels_out_of_range_raise_value_error(labels):
    p = np.full((3, 5), 0.2, dtype=np.float32)
    loss = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match="label"):
        loss.value(np.array(labels), p)
    with pytest.raises(ValueError, match="label"):
        loss.gradient(np.array(labels), p)


def test_categorical_labels_of_the_wrong_width_raise_value_error():
    p = np.full((3, 5), 0.2, dtype=np.float32)
    raises(lambda: losses.CategoricalCrossentropy().value(np.eye(4)[:3], p), ValueError, "(3, 4)")


def test_fit_with_labels_out_of_range_raises_and_keeps_the_weights():
    model = make_model("lecture")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = model_inputs()
    y[3] = 5  # five classes: 0..4
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        model.fit(x, y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_losses_by_name():
    assert isinstance(losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy)
    raises(lambda: losses.get("mse-ish"), ValueError, "loss")
