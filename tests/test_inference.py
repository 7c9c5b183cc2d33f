"""The model's one-call inference pass (fastconv._inference, csrc/ops/forward-template.h)
and the softmax kernel it ends with (csrc/ops/softmax-template.h).

The pass must give the layer-by-layer bits for every model it takes (the
layers run one by one when it is switched off), match an independent float64
NumPy forward, follow weight changes at once, and leave every model it cannot
run to the layers."""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import reference

import fastconv
from fastconv import _inference, _kernels, _nnfront, activations
from fastconv.layers import (
    Activation,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
    ReLU,
)
from fastconv.models import Sequential


def _layerwise(model, x):
    """The model's output with the one-call pass off: its layers one by one."""
    plans, model._plans = model._plans, _NoPlans()
    try:
        return model._forward(x, training=False)
    finally:
        model._plans = plans


class _NoPlans(dict):
    """A plan cache that always answers 'no plan'."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return None


def _lecture():
    return Sequential([Conv2D(28, (3, 3), input_shape=(28, 28, 1)), MaxPooling2D((2, 2)), Flatten(),
                       Dense(128, activation="relu"), Dropout(0.2), Dense(10, activation="softmax")])


def _randomise(model, rng):
    """Weights with non-zero biases, so a dropped bias would show."""
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3
                               for w in layer.get_weights()])


MODELS = {
    "lecture": lambda: _lecture(),
    "conv relu, pool, dense linear": lambda: Sequential([
        Conv2D(6, (3, 3), activation="relu", input_shape=(12, 10, 3)), MaxPooling2D((2, 2)), Flatten(),
        Dense(7)]),
    "conv same strided dilated, then conv": lambda: Sequential([
        Conv2D(5, (3, 3), strides=(2, 1), padding="same", input_shape=(11, 9, 2)),
        Conv2D(4, (2, 3), dilation_rate=(1, 2), activation="relu"), Flatten(), Dense(3, activation="softmax")]),
    "pool as the last layers": lambda: Sequential([
        Conv2D(4, (3, 3), input_shape=(9, 9, 1)), MaxPooling2D((3, 3))]),
    "pool alone, strided": lambda: Sequential([
        MaxPooling2D((3, 2), strides=(2, 2), input_shape=(9, 8, 3)), Flatten(), Dense(4, activation="relu")]),
    "dense on images, activation layers": lambda: Sequential([
        Dense(6, input_shape=(5, 4, 3)), ReLU(), Activation("softmax"), Flatten(), Dense(2)]),
    "no bias": lambda: Sequential([
        Conv2D(3, (3, 3), use_bias=False, input_shape=(8, 8, 2)), MaxPooling2D((2, 2)), Flatten(),
        Dense(4, use_bias=False, activation="softmax")]),
    "softmax over channels": lambda: Sequential([
        Conv2D(5, (3, 3), activation="softmax", input_shape=(7, 7, 1)), Flatten(), Dense(3)]),
}


def _numpy_forward(model, x):
    """An independent float64 forward of the layers in MODELS."""
    h = x.astype(np.float64)
    for layer in model.layers:
        kind = type(layer)
        if kind is Conv2D:
            w = layer.get_weights()
            b = w[1] if layer.use_bias else None
            hh, ww = h.shape[1:3]
            if layer.padding == "same":
                pad = (reference.tf_same_padding(hh, layer.kernel_size[0], layer.strides[0],
                                                 layer.dilation_rate[0])[0],
                       reference.tf_same_padding(ww, layer.kernel_size[1], layer.strides[1],
                                                 layer.dilation_rate[1])[0])
            else:
                pad = 0
            y = reference.conv2d(h.transpose(0, 3, 1, 2), w[0].transpose(3, 2, 0, 1), b,
                                 layer.strides, pad, layer.dilation_rate)
            h = _activate(y.transpose(0, 2, 3, 1), layer.activation)
        elif kind is MaxPooling2D:
            y, _ = reference.max_pool2d(h.transpose(0, 3, 1, 2), layer.pool_size, layer.strides)
            h = y.transpose(0, 2, 3, 1)
        elif kind is Flatten:
            h = h.reshape(len(h), -1)
        elif kind is Dense:
            w = layer.get_weights()
            h = h @ w[0].astype(np.float64) + (w[1] if layer.use_bias else 0)
            h = _activate(h, layer.activation)
        elif kind in (Activation, ReLU):
            h = _activate(h, layer.activation)
    return h


def _activate(h, act):
    if act is activations.relu:
        return np.maximum(h, 0)
    if act is activations.softmax:
        e = np.exp(h - h.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return h


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_call_pass_gives_the_layers_bits(name, threads, rng, restore_threads):
    fastconv.set_num_threads(threads)
    model = MODELS[name]()
    _randomise(model, rng)
    x = rng.standard_normal((41, *model.input_shape)).astype(np.float32)
    assert _inference.forward_plan(model, x) is not None, "the pass should take this model"
    want = _layerwise(model, x)
    for n in (1, 2, 7, 8, 9, 41):
        got = model.predict(x[:n], verbose=0)
        assert got.dtype == np.float32 and got.shape == want[:n].shape
        np.testing.assert_array_equal(got, want[:n], err_msg=f"{name}: batch of {n}")
    np.testing.assert_allclose(want, _numpy_forward(model, x), rtol=2e-4, atol=2e-5)


def test_predict_in_batches_uses_the_pass_and_matches(rng):
    model = _lecture()
    _randomise(model, rng)
    x = rng.standard_normal((70, 28, 28, 1)).astype(np.float32)
    got = model.predict(x, batch_size=16, verbose=0)
    np.testing.assert_array_equal(got, _layerwise(model, x))
    assert next(iter(model._plans.values())).ops == ("conv2d+maxpool", "dense", "dense")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_many_batches_shared_among_threads_give_each_batchs_bits(name, threads, rng,
                                                                 restore_threads):
    """predict of many in-memory batches runs them across the threads, each
    batch on one thread (fc_*_forward_batches): the outputs are the batches'
    own, one at a time through the layers, bit for bit. Batches of 9 and 13
    are enough batches of more rows than the small-batch kernel takes for the
    pass to pack the dense kernels once (FC_FORWARD_PACK_MIN_BATCHES), with a
    last batch below (103 = 11 * 9 + 4) and above (7 * 13 + 12) that kernel's."""
    fastconv.set_num_threads(threads)
    model = MODELS[name]()
    _randomise(model, rng)
    x = rng.standard_normal((103, *model.input_shape)).astype(np.float32)
    assert _kernels.COSTS["FC_FORWARD_PACK_MIN_BATCHES"] <= 8
    assert _kernels.COSTS["FC_DENSE_GEMV_MAX_BATCH"] < 9
    for batch in (1, 7, 9, 13, 32, 103, 500):
        want = np.concatenate([_layerwise(model, x[i:i + batch]) for i in range(0, len(x), batch)])
        got = model.predict(x, batch_size=batch, verbose=0)
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: batches of {batch}")
        plan = next(iter(model._plans.values()))
        np.testing.assert_array_equal(plan.run(x, batch), want, err_msg=f"{name}: run({batch})")


@pytest.mark.parametrize("threads", [1, 2])
def test_lecture_model_over_many_batches_keeps_the_bits_and_matches_numpy(threads, rng,
                                                                          restore_threads):
    """The lecture's model over enough batches of 32 for the pass to pack its dense
    kernels once: each batch's bits as the layers give them, and NumPy's float64
    forward within float32 rounding."""
    fastconv.set_num_threads(threads)
    model = _lecture()
    _randomise(model, rng)
    x = rng.standard_normal((700, 28, 28, 1)).astype(np.float32)
    want = np.concatenate([_layerwise(model, x[i:i + 32]) for i in range(0, len(x), 32)])
    got = model.predict(x, batch_size=32, verbose=0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, _numpy_forward(model, x), rtol=2e-4, atol=2e-5)


class _SpyPlan:
    """A plan that records the samples of each call of run and runs the real one."""

    def __init__(self, plan, calls):
        self.plan, self.calls, self.macs = plan, calls, plan.macs

    def run(self, x, batch=0):
        self.calls.append(len(x))
        return self.plan.run(x, batch)


@pytest.mark.parametrize("threads", [1, 2])
def test_predict_without_a_bar_calls_the_pass_per_share_of_work(threads, rng, monkeypatch,
                                                                 restore_threads):
    """Without a bar and with float32 samples (views, no cast copy), predict runs
    as few calls of the pass as _PREDICT_CALL_MACS per thread allows (each call
    packs the dense kernels); with a bar, or samples to cast, the groups of 2,048
    samples a thread (at small batches) stay. Every way, each batch's bits are
    those of the batch alone through the layers."""
    from fastconv import models
    fastconv.set_num_threads(threads)
    model = _lecture()
    _randomise(model, rng)
    x = rng.standard_normal((6000, 28, 28, 1)).astype(np.float32)
    want = np.concatenate([_layerwise(model, x[i:i + 8]) for i in range(0, len(x), 8)])
    plan = _inference.forward_plan(model, x[:1])
    assert plan.macs == 26 * 26 * 28 * 9 + 13 * 13 * 28 * 128 + 128 * 10, "the lecture's multiply-adds"
    calls = []
    monkeypatch.setattr(_inference, "forward_plan", lambda m, xb: _SpyPlan(plan, calls))
    monkeypatch.setattr(models, "_PREDICT_CALL_MACS", plan.macs * 2500)  # 312 batches of 8 a thread
    per_call = 312 * 8 * threads
    np.testing.assert_array_equal(model.predict(x, batch_size=8, verbose=0), want)
    assert calls == [per_call] * (6000 // per_call) + ([6000 % per_call] if 6000 % per_call else [])
    small = 2048 * threads  # 256 batches of 8 a thread
    for how in ({"verbose": 1}, {"verbose": 0, "cast": True}):
        calls.clear()
        xs = x.astype(np.float64) if how.pop("cast", False) else x
        np.testing.assert_array_equal(model.predict(xs, batch_size=8, **how), want)
        assert calls == [small] * (6000 // small) + [6000 % small], how
    calls.clear()
    monkeypatch.setattr(models, "_PREDICT_CALL_MACS", 1)  # less than the usual groups: those stay
    np.testing.assert_array_equal(model.predict(x, batch_size=8, verbose=0), want)
    assert calls == [small] * (6000 // small) + [6000 % small]


def test_predict_over_batches_reports_every_batch(rng, capsys):
    model = _lecture()
    _randomise(model, rng)
    x = (rng.random((70, 28, 28)) * 255).astype(np.uint8)  # cast per group, (N, H, W) taken as one channel
    got = model.predict(x, batch_size=8, verbose=1)
    assert "9/9" in capsys.readouterr().out
    np.testing.assert_array_equal(got, _layerwise(model, x[..., None].astype(np.float32)))
    seen = []

    class Count(fastconv.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append(len(logs["outputs"]))

    np.testing.assert_array_equal(model.predict(x, batch_size=8, verbose=0, callbacks=[Count()]), got)
    assert seen == [8] * 8 + [6], "with callbacks, a batch at a time"


def test_weights_changed_after_a_call_are_used(rng):
    model = _lecture()
    x = rng.standard_normal((3, 28, 28, 1)).astype(np.float32)
    before = model.predict(x, verbose=0)
    _randomise(model, rng)
    after = model.predict(x, verbose=0)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, _layerwise(model, x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(3), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), _layerwise(model, x))


def test_adding_and_removing_layers_makes_a_new_plan(rng):
    model = Sequential([Dense(4, input_shape=(3,)), Dense(2)])
    x = rng.standard_normal((5, 3)).astype(np.float32)
    assert model.predict(x, verbose=0).shape == (5, 2)
    model.pop()
    np.testing.assert_array_equal(model.predict(x, verbose=0), _layerwise(model, x))
    assert model.predict(x, verbose=0).shape == (5, 4)
    model.add(Dense(6, activation="softmax"))
    got = model.predict(x, verbose=0)
    assert got.shape == (5, 6)
    np.testing.assert_array_equal(got, _layerwise(model, x))


def test_a_copied_model_runs_its_own_weights(rng):
    model = _lecture()
    x = rng.standard_normal((4, 28, 28, 1)).astype(np.float32)
    first = model.predict(x, verbose=0)
    twin = copy.deepcopy(model)
    _randomise(twin, rng)
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), _layerwise(twin, x))
    assert not np.array_equal(twin.predict(x, verbose=0), first)


class _Doubled(Dense):
    """A user's subclass that changes call: the pass must not run Dense's step for it."""

    def call(self, x, training=False):
        return 2 * super().call(x, training)


@pytest.mark.parametrize("make", [
    lambda: Sequential([Dense(3, input_shape=(4,)), _Doubled(2)]),
    lambda: Sequential([MaxPooling2D((2, 2), padding="same", input_shape=(5, 5, 1)), Flatten(), Dense(2)]),
], ids=["subclass", "same pooling"])
def test_models_the_pass_does_not_take_run_their_layers(make, rng):
    model = make()
    x = rng.standard_normal((3, *model.input_shape)).astype(np.float32)
    assert _inference.forward_plan(model, x) is None
    got = model.predict(x, verbose=0)
    if isinstance(model.layers[-1], _Doubled):
        dense, doubled = model.layers
        k0, b0 = dense.get_weights()
        k1, b1 = doubled.get_weights()
        np.testing.assert_allclose(got, 2 * ((x @ k0 + b0) @ k1 + b1), rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, _layerwise(model, x))


def test_threads_predicting_at_once_agree(rng):
    model = _lecture()
    _randomise(model, rng)
    xs = [rng.standard_normal((n, 28, 28, 1)).astype(np.float32) for n in (1, 3, 33, 5, 2, 40)]
    want = [_layerwise(model, x) for x in xs]
    errors = []

    def work(i):
        try:
            for _ in range(20):
                np.testing.assert_array_equal(model.predict(xs[i], verbose=0), want[i])
        except AssertionError as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_plan_refuses_steps_that_do_not_chain():
    dense = (3, 0, None, None, None, None, 1, 4, 5, None)
    with pytest.raises(ValueError, match="do not chain"):
        _nnfront.ForwardPlan([dense, (3, 0, None, None, None, None, 1, 6, 2, None)], (4,), (2,), "float32")
    with pytest.raises(ValueError, match="steps"):
        _nnfront.ForwardPlan([], (4,), (2,), "float32")


def test_plan_declines_inputs_it_was_not_made_for(rng):
    model = Sequential([Dense(2, input_shape=(3,))])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    plan = _inference.forward_plan(model, x)
    assert plan.run(x) is not None
    assert plan.run(x.astype(np.float64)) is None
    assert plan.run(x[:, :2].copy()) is None
    assert plan.run(x[::2]) is None


# ---- softmax ---------------------------------------------------------------------


def _softmax64(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (32, 10), (3, 4, 17), (5000, 3), (2, 70000)])
def test_softmax_kernel_matches_numpy(shape, dtype, rng, restore_threads):
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    keep = x.copy()
    got = activations.softmax.forward(x)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(x, keep)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, _softmax64(x), rtol=tol, atol=tol * 1e-3)
    np.testing.assert_allclose(got.sum(axis=-1), 1, rtol=4 * tol)


def test_softmax_rows_do_not_depend_on_their_neighbours_or_threads(rng, restore_threads):
    x = rng.standard_normal((3000, 11)).astype(np.float32)
    fastconv.set_num_threads(1)
    one = activations.softmax.forward(x)
    fastconv.set_num_threads(2)
    two = activations.softmax.forward(x)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(activations.softmax.forward(x[17:18]), one[17:18])


def test_softmax_special_values():
    x = np.array([[0.0, np.nan, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 0.0], [1e30, -1e30, 0.0],
                  [-np.inf, -np.inf, -np.inf]], dtype=np.float32)
    got = activations.softmax.forward(x)
    with np.errstate(invalid="ignore"):
        want = _softmax64(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-6)
