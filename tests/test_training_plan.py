"""The model layer's explicit training plan (fastconv._training): the rule
table's steps, a new layer trained through the generic step, a new rule, the
plan dropped when the model changes, the optimizer's fused-update protocol, and
the layers reaching the kernels only through fastconv.nn."""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import fastconv
from fastconv import _training, nn, utils
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D
from fastconv.models import Sequential
from fastconv.optimizers import SGD, Adam, RMSprop

SRC = Path(fastconv.__file__).resolve().parent


def lecture(classes=4, shape=(12, 12, 1)):
    utils.set_random_seed(5)
    return Sequential([Conv2D(6, 3, input_shape=shape), MaxPooling2D(2), Flatten(),
                       Dense(16, activation="relu"), Dropout(0.2), Dense(classes, activation="softmax")])


def test_the_rule_table_makes_the_lectures_steps():
    model = lecture()
    model.compile("adam", "sparse_categorical_crossentropy")
    plan = model._plan()
    assert plan.ops == ("conv2d+maxpool", "flatten", "dense", "dropout", "dense")
    assert isinstance(plan.head, _training.SoftmaxCrossEntropy)
    assert [layer for step in plan.steps for layer in step.layers] == model.layers
    model.compile("adam", fastconv.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert type(model._plan().head) is _training.LossHead  # logits: nothing to fuse


def test_the_plan_is_dropped_when_the_model_changes():
    model = lecture()
    model.compile("sgd", "sparse_categorical_crossentropy")
    first = model._plan()
    assert model._plan() is first
    model.add(Dense(3, activation="softmax"))
    second = model._plan()
    assert second is not first and second.ops[-1] == "dense"
    model.pop()
    assert model._plan() is not second and model._plan().ops == first.ops
    third = model._plan()
    model.compile("adam", "sparse_categorical_crossentropy")
    assert model._plan() is not third


def test_conv_pool_is_not_fused_as_the_last_two_layers():
    model = Sequential([Conv2D(2, 3, input_shape=(8, 8, 1)), MaxPooling2D(2)])
    assert model._plan().ops == ("conv2d", "maxpooling2d")


# ---- a new layer: one class, trained through the generic step --------------------------------


class Scale(Layer):
    """y = x * w, one trainable weight per feature (a layer fastconv does not have)."""

    def weight_shapes(self, input_shape):
        return [(int(input_shape[-1]),)]

    def build(self, input_shape):
        self._weights = [np.ones(self.weight_shapes(input_shape)[0], np.float32)]
        self.grads = [None]
        super().build(input_shape)

    def call(self, x, training=False):
        if training:
            self._cache = x
        return x * self._weights[0]

    def backward(self, grad):
        x, self._cache = self._cache, None
        self.grads = [(grad * x).reshape(-1, x.shape[-1]).sum(axis=0)]
        return grad * self._weights[0] if self.need_input_grad else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def test_a_new_layer_trains_through_the_generic_step(rng):
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    utils.set_random_seed(0)
    model = Sequential([Dense(4, input_shape=(5,)), Scale(), Dense(3, activation="softmax")])
    model.compile(SGD(learning_rate=0.5), "sparse_categorical_crossentropy")
    assert model._plan().ops == ("dense", "scale", "dense")
    w0, v0, s0 = (w.copy() for w in model.get_weights()[:3])
    k1, b1 = model.get_weights()[3:]
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    # one SGD step, by hand in float64
    x64 = x.astype(np.float64)
    h = x64 @ w0 + v0
    u = h * s0
    z = u @ k1 + b1
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    gz = (p - np.eye(3)[y]) / len(x)
    gu = gz @ k1.T
    gs = (gu * h).sum(0)
    gh = gu * s0
    want = [w0 - 0.5 * x64.T @ gh, v0 - 0.5 * gh.sum(0), s0 - 0.5 * gs, k1 - 0.5 * u.T @ gz, b1 - 0.5 * gz.sum(0)]
    for got, ref in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert (model.get_weights()[2] != s0).all()  # the new layer's weight did train


def test_a_new_rule_runs_its_step(monkeypatch, rng):
    calls = []

    class Counted(_training.LayerStep):
        __slots__ = ()

        def forward(self, x, training):
            calls.append(training)
            return super().forward(x, training)

    monkeypatch.setattr(_training, "RULES", [_training.Rule((Flatten,), lambda layers, i: True, Counted),
                                             *_training.RULES])
    model = lecture()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(rng.random((8, 12, 12, 1)).astype(np.float32), rng.integers(0, 4, 8), batch_size=4, verbose=0)
    assert calls == [True, True]


def test_a_layer_with_its_own_call_gets_the_generic_step():
    model = lecture()
    conv = model.layers[0]
    conv.call = lambda x, training=False: Conv2D.call(conv, x, training)
    assert model._plan().ops[:2] == ("conv2d", "maxpooling2d")


# ---- the optimizer's fused-update protocol ------------------------------------------------------


def test_fused_update_changes_nothing_and_apply_skips_what_it_is_told(rng):
    p = rng.standard_normal((4, 3)).astype(np.float32)
    q = rng.standard_normal(3).astype(np.float32)
    opt = Adam(learning_rate=0.1)
    opt.build([p, q])
    before = [a.copy() for a in (p, q, *opt._slots[id(p)])]
    step = opt.fused_update(p)
    again = opt.fused_update(p)
    assert isinstance(step, nn.AdamStep) and step == again  # the same step, asked twice
    assert step.momentum is opt._slots[id(p)][0] and step.alpha == pytest.approx(0.1 * np.sqrt(1 - 0.999) / 0.1)
    assert all(np.array_equal(a, b) for a, b in zip(before, (p, q, *opt._slots[id(p)])))
    assert opt.iterations == 0
    gq = rng.standard_normal(3).astype(np.float32)
    opt.apply([p, q], [None, gq], skip=[p])
    assert np.array_equal(p, before[0]) and not np.array_equal(q, before[1])
    assert opt.iterations == 1
    with pytest.raises(ValueError, match="no gradient"):
        opt.apply([p, q], [None, gq])
    with pytest.raises(ValueError, match="not one of params"):
        opt.apply([q], [gq], skip=[p])
    for other in (SGD(momentum=0.9), RMSprop()):
        other.build([p])
        assert other.fused_update(p) is None


@pytest.mark.parametrize("n", [1, 5, 32])
def test_the_fused_adam_step_is_the_optimizers_own_bit_for_bit(rng, n):
    x = rng.standard_normal((n, 40)).astype(np.float32)
    gy = rng.standard_normal((n, 7)).astype(np.float32)
    kernel = rng.standard_normal((40, 7)).astype(np.float32)
    fused_kernel, plain_kernel = kernel.copy(), kernel.copy()
    fused, plain = Adam(learning_rate=0.01), Adam(learning_rate=0.01)
    fused.build([fused_kernel])
    plain.build([plain_kernel])
    for _ in range(3):
        nn.dense_backward(gy, x, fused_kernel, output_mask=(False, False, False),
                          adam=fused.fused_update(fused_kernel))
        fused.apply([fused_kernel], [None], skip=[fused_kernel])
        _, g, _ = nn.dense_backward(gy, x, plain_kernel, output_mask=(False, True, False))
        plain.apply([plain_kernel], [g])
    assert np.array_equal(fused_kernel, plain_kernel)
    for a, b in zip(fused._slots[id(fused_kernel)], plain._slots[id(plain_kernel)]):
        assert np.array_equal(a, b)


# ---- the layers reach the kernels only through fastconv.nn ------------------------------------


@pytest.mark.parametrize("module", ["layers", "models", "optimizers", "activations", "losses", "_training"])
def test_the_model_layer_does_not_import_the_kernels(module):
    tree = ast.parse((SRC / f"{module}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or ""} | {f"{node.module or ''}.{a.name}" for a in node.names}
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    low_level = {name for name in imported if name.split(".")[-1] in ("_kernels", "_nnfront")}
    assert not low_level, f"fastconv/{module}.py imports {sorted(low_level)}: go through fastconv.nn"


# ---- the sparse cross-entropy head in one C call ---------------------------------------------


def xent_reference(z, labels, w):
    """Loss terms summed, and the gradient, in float64 NumPy from the formulas."""
    z64 = z.astype(np.float64).reshape(-1, z.shape[-1])
    lab = labels.reshape(-1).astype(np.int64)
    shifted = z64 - z64.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    rows = np.arange(len(z64))
    w64 = np.ones(len(z64)) if w is None else w.astype(np.float64)
    g = np.exp(logp)
    g[rows, lab] -= 1
    return -(logp[rows, lab] * w64).sum(), (g * w64[:, None] / len(z64)).reshape(z.shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_dtype", [np.uint8, np.int32, np.int64, np.uint64])
@pytest.mark.parametrize("column", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_xent_matches_a_float64_reference(dtype, label_dtype, column, weighted):
    rng = np.random.default_rng(3)
    z = (rng.standard_normal((37, 10)) * 4).astype(dtype)
    labels = rng.integers(0, 10, 37).astype(label_dtype)
    w = rng.random(37).astype(dtype) if weighted else None
    probs = nn.softmax(z)
    got = nn._softmax_xent(z, labels[:, None] if column else labels, w, probs)
    assert got is not None
    total, grad, correct = got
    want_total, want_grad = xent_reference(z, labels, w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad.dtype == dtype and grad.shape == z.shape
    np.testing.assert_allclose(total, want_total, rtol=tol)
    np.testing.assert_allclose(grad, want_grad, rtol=tol, atol=tol / 37)
    assert correct == int((probs.argmax(-1) == labels.astype(np.int64)).sum())


def test_softmax_xent_counts_as_numpy_argmax_with_ties_and_nan():
    z = np.zeros((5, 4), np.float32)
    labels = np.array([0, 1, 2, 3, 0])
    probs = np.array([[0.5, 0.5, 0, 0],        # a tie: the first maximum, 0
                      [0.5, 0.5, 0, 0],        # not 1
                      [0.1, np.nan, 0.9, 0],   # NaN wins: 1, not 2
                      [np.nan, 0, 0, np.nan],  # the first NaN: 0, not 3
                      [np.nan, 0.2, 0.3, 0]], np.float32)
    _, _, correct = nn._softmax_xent(z, labels, None, probs)
    assert correct == int((probs.argmax(-1) == labels).sum()) == 2


@pytest.mark.parametrize("bad", [-1, 4, 2**63])
def test_softmax_xent_declines_a_label_out_of_range(bad):
    z = np.zeros((3, 4), np.float32)
    labels = np.array([0, bad, 1], np.uint64 if bad == 2**63 else np.int64)
    assert nn._softmax_xent(z, labels, None, None) is None
    # the head then goes to the loss, which words the error
    last = SimpleNamespace(preactivation=z)  # a softmax layer's logits
    head = _training.SoftmaxCrossEntropy(fastconv.losses.SparseCategoricalCrossentropy(), last)
    with pytest.raises(ValueError, match="outside the valid range"):
        head(labels, nn.softmax(z), None)


def test_softmax_xent_of_an_nd_output_counts_nothing():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    labels = rng.integers(0, 5, (2, 3, 4))
    total, grad, correct = nn._softmax_xent(z, labels, None, nn.softmax(z))
    want_total, want_grad = xent_reference(z, labels, None)
    np.testing.assert_allclose(total, want_total, rtol=1e-5)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)
    assert correct is None
    assert nn._softmax_xent(z, labels[..., :3], None, None) is None  # shapes that do not agree


def test_softmax_xent_gives_the_same_bits_at_any_thread_count(restore_threads):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((6000, 10)).astype(np.float32)  # several blocks of rows
    labels = rng.integers(0, 10, 6000)
    probs = nn.softmax(z)
    results = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        results.append(nn._softmax_xent(z, labels, None, probs))
    (t1, g1, c1), (t2, g2, c2) = results
    assert t1 == t2 and c1 == c2 and np.array_equal(g1, g2)
    np.testing.assert_allclose(t1, xent_reference(z, labels, None)[0], rtol=1e-9)


def test_fit_with_the_head_kernel_logs_what_the_numpy_formulas_give(monkeypatch):
    """The head's loss and count against the loss's NumPy formulas and Sequential's
    own count (the kernel switched off): the same accuracy, the loss within rounding."""
    logs = {}
    for kernel in (True, False):
        model = lecture()
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
        if not kernel:
            monkeypatch.setattr(nn, "_softmax_xent", lambda *a: None)
        rng = np.random.default_rng(6)
        x = rng.random((96, 12, 12, 1)).astype(np.float32)
        y = rng.integers(0, 4, 96).astype(np.uint8)
        seen = []
        cb = fastconv.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(dict(logs)))
        utils.set_random_seed(7)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
        logs[kernel] = seen
    assert [s["accuracy"] for s in logs[True]] == [s["accuracy"] for s in logs[False]]
    np.testing.assert_allclose([s["loss"] for s in logs[True]], [s["loss"] for s in logs[False]], rtol=1e-5)
