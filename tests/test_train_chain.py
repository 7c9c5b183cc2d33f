"""The training step as one sequence of C calls (``_training.Plan.train_step``,
``_nnfront.TrainChain``) against the layer-by-layer step it stands in for.

The reference is the step that runs each layer's ``call`` and ``backward``,
the loss head and ``optimizer.apply`` from Python (itself checked against NumPy,
finite differences and Keras in test_fused, test_models, test_keras_parity):
trained side by side from the same seeds, the weights, Adam's moments, the
iteration count and every logged loss and accuracy must be the same bits. Each
training test also counts the chain's runs, so that a chain which quietly declined
every step (leaving the layer-by-layer step to pass the comparison) fails.
"""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _training, nn
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fastconv.models import Sequential


class Counted:
    """A chain whose runs are counted (the chain itself is a C extension type)."""

    def __init__(self, chain, runs):
        self.chain, self.runs = chain, runs

    def run(self, *args):
        got = self.chain.run(*args)
        self.runs.append(got is not None)
        return got

    def release(self):
        self.chain.release()


@pytest.fixture
def runs(monkeypatch):
    """The chain's runs in the test: True for each step it took, False for each it declined."""
    record: list[bool] = []
    made = nn._train_chain
    monkeypatch.setattr(nn, "_train_chain", lambda *args: Counted(made(*args), record))
    return record


def layer_by_layer(monkeypatch):
    monkeypatch.setattr(_training.Plan, "train_step", lambda *args: None)


def build(layers, seed=5, loss="sparse_categorical_crossentropy", optimizer="adam"):
    fastconv.utils.set_random_seed(seed)
    model = Sequential(layers())
    model.compile(optimizer, loss, ["accuracy"])
    return model


def lecture(conv_activation=None, rate=0.2, use_bias=True):
    return lambda: [Conv2D(6, (3, 3), activation=conv_activation, use_bias=use_bias, input_shape=(12, 12, 1)),
                    MaxPooling2D((2, 2)), Flatten(), Dense(16, activation="relu"), Dropout(rate),
                    Dense(4, activation="softmax")]


def deeper():
    return [Conv2D(5, (3, 3), activation="relu", input_shape=(13, 11, 2)), MaxPooling2D((2, 2)), Flatten(),
            Dense(24, activation="relu", use_bias=False), Dropout(0.5), Dense(9), Dropout(0.1),
            Dense(3, activation="softmax")]


def mlp():
    return [Flatten(input_shape=(12, 12, 1)), Dense(20, activation="relu"), Dropout(0.3),
            Dense(4, activation="softmax")]


def dense_first():
    return [Dense(16, activation="relu", input_shape=(20,)), Dropout(0.25), Dense(3, activation="softmax")]


MODELS = {
    "lecture": (lecture(), (12, 12, 1), 4),
    "lecture-relu-conv": (lecture("relu"), (12, 12, 1), 4),
    "no-dropout-no-bias": (lecture(rate=0.0, use_bias=False), (12, 12, 1), 4),
    "deeper": (deeper, (13, 11, 2), 3),
    "mlp": (mlp, (12, 12, 1), 4),
    "dense-first": (dense_first, (20,), 3),
}


def assert_same_training(a, b, history_a, history_b):
    assert a.optimizer.iterations == b.optimizer.iterations
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    for wa, wb in zip(a.trainable_weights, b.trainable_weights, strict=True):
        for ma, mb in zip(a.optimizer._slots[id(wa)], b.optimizer._slots[id(wb)], strict=True):
            np.testing.assert_array_equal(ma, mb)
    assert history_a.history == history_b.history  # floats compared exactly


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch_size", [16, 1, 70])
@pytest.mark.parametrize("name", list(MODELS))
def test_the_chain_trains_to_the_layer_by_layer_bits(isa, rng, restore_threads, monkeypatch, runs, name,
                                                     batch_size, threads):
    fastconv.set_num_threads(threads)
    layers, shape, classes = MODELS[name]
    x = rng.standard_normal((70, *shape)).astype(np.float32)
    y = rng.integers(0, classes, 70)
    chain = build(layers)
    history_chain = chain.fit(x, y, batch_size=batch_size, epochs=2, verbose=0)
    steps = 2 * -(-70 // batch_size)
    # the optimizer's first step builds it layer by layer; the chain takes the rest
    assert runs.count(True) == steps - 1 and False not in runs
    layer_by_layer(monkeypatch)
    plain = build(layers)
    history_plain = plain.fit(x, y, batch_size=batch_size, epochs=2, verbose=0)
    assert_same_training(chain, plain, history_chain, history_plain)
    np.testing.assert_array_equal(chain.predict(x, verbose=0), plain.predict(x, verbose=0))


def test_the_chain_reads_the_weights_and_the_dropout_rate_as_they_are_now(rng, monkeypatch, runs):
    x = rng.random((48, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 48)
    models = []
    for chain_on in (True, False):
        if not chain_on:
            layer_by_layer(monkeypatch)
        model = build(lecture())
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        weights = model.get_weights()
        model.set_weights([w * 0.5 for w in weights])
        model.layers[4].rate = 0.6
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        models.append(model)
    assert runs.count(True) == 5
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_weighted_samples_train_to_the_layer_by_layer_bits(isa, rng, monkeypatch, runs, weighting):
    x = rng.random((50, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 50)
    kwargs = ({"sample_weight": rng.random(50) * 3} if weighting == "sample_weight"
              else {"class_weight": {0: 0.5, 1: 2.0, 2: 1.0, 3: 0.25}})
    chain = build(lecture())
    history_chain = chain.fit(x, y, batch_size=16, epochs=2, verbose=0, **kwargs)
    assert runs.count(True) == 7 and False not in runs
    layer_by_layer(monkeypatch)
    plain = build(lecture())
    history_plain = plain.fit(x, y, batch_size=16, epochs=2, verbose=0, **kwargs)
    assert_same_training(chain, plain, history_chain, history_plain)


def test_one_hot_labels_train_as_their_class_indices(isa, rng, monkeypatch, runs):
    """A categorical cross-entropy with exactly one-hot rows takes the sparse
    loss's kernel: the chain gives the layer-by-layer bits, and both give the
    bits of the same model trained on the class indices with the sparse loss."""
    x = rng.random((40, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    one_hot = np.eye(4, dtype=np.float32)[y]
    chain = build(lecture(), loss="categorical_crossentropy")
    history_chain = chain.fit(x, one_hot, batch_size=16, epochs=2, verbose=0)
    assert runs.count(True) == 5 and False not in runs
    sparse = build(lecture())
    history_sparse = sparse.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert_same_training(chain, sparse, history_chain, history_sparse)
    layer_by_layer(monkeypatch)
    plain = build(lecture(), loss="categorical_crossentropy")
    history_plain = plain.fit(x, one_hot, batch_size=16, epochs=2, verbose=0)
    assert_same_training(chain, plain, history_chain, history_plain)


ROWS = [
    ([[0, 1, 0], [1, 0, 0]], [1, 0]),
    ([[0, 1, 1], [0, 0, 0]], None),         # two ones in a row, none in the other
    ([[1, 1, 0], [1, 0, 0]], None),         # two ones in a row, each row's largest a 1
    ([[0, 2, 0], [1, 0, 0]], None),         # not a 1
    ([[-1, 1, 1], [1, 0, 0]], None),
    ([[0.0, 0.9, 0.1], [1, 0, 0]], None),   # soft labels
    ([[0, np.nan, 0], [1, 0, 0]], None),
]


def representable(rows, dtype):
    a = np.asarray(rows, dtype=float)
    kind = np.dtype(dtype).kind
    if kind == "f":
        return True
    if np.isnan(a).any() or (a % 1).any() or (kind in "ub" and a.min() < 0):
        return False
    return kind != "b" or a.max() <= 1


@pytest.mark.parametrize("rows, expected, dtype", [
    (rows, expected, dtype) for dtype in (np.float32, np.float64, np.int64, np.uint8, np.bool_)
    for rows, expected in ROWS if representable(rows, dtype)
])
def test_class_indices_of_exactly_one_hot_rows(rows, expected, dtype):
    from fastconv.losses import CategoricalCrossentropy

    class Custom(CategoricalCrossentropy):  # a subclass may compute another loss
        pass

    y = np.asarray(rows, dtype=dtype)
    got = _training.class_indices(CategoricalCrossentropy(), y, y.shape)
    assert (got is None) if expected is None else got.tolist() == expected
    assert _training.class_indices(Custom(), y, y.shape) is None
    assert _training.class_indices(CategoricalCrossentropy(), y, (2, 4)) is None


@pytest.mark.parametrize("case", ["sgd", "soft labels", "frozen layer", "spy on a layer", "spy on the optimizer"])
def test_what_the_chain_does_not_take_runs_layer_by_layer(rng, monkeypatch, runs, case):
    x = rng.random((40, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    model = build(lecture(), optimizer="sgd" if case == "sgd" else "adam",
                  loss="categorical_crossentropy" if case == "soft labels" else "sparse_categorical_crossentropy")
    if case == "soft labels":
        y = np.eye(4, dtype=np.float32)[y] * 0.9 + 0.025
    elif case == "frozen layer":
        model.layers[3].trainable = False
    calls = []
    if case == "spy on a layer":
        dense = model.layers[3]
        dense.call = lambda x, training=False: (calls.append(1), type(dense).call(dense, x, training))[1]
    elif case == "spy on the optimizer":
        original = model.optimizer.apply
        model.optimizer.apply = lambda *a, **k: (calls.append(1), original(*a, **k))[1]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert True not in runs
    if case.startswith("spy"):
        assert len(calls) == 5


def test_a_class_level_spy_turns_the_chain_off(rng, monkeypatch, runs):
    x = rng.random((32, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    model = build(lecture())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert runs.count(True) == 3
    calls = []
    original = Dense.backward
    monkeypatch.setattr(Dense, "backward", lambda self, *a, **k: (calls.append(1), original(self, *a, **k))[1])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert runs.count(True) == 3 and len(calls) == 2 * 4


@pytest.mark.parametrize("label", [4, -1])
def test_a_label_out_of_range_is_declined_before_anything_is_drawn_or_changed(rng, runs, label):
    x = rng.random((16, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    model = build(lecture())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert runs == [True]
    before = [w.copy() for w in model.get_weights()]
    iterations = model.optimizer.iterations
    state = fastconv.utils.rng().bit_generator.state  # the Dropout's seeds come from it
    bad = y[:8].copy()
    bad[3] = label
    assert model._plan().train_step(x[:8], bad, None, model.optimizer) is None
    assert runs == [True, False]
    assert fastconv.utils.rng().bit_generator.state == state
    assert model.optimizer.iterations == iterations
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=str(label)):  # and fit words it, as ever
        model.fit(x[:8], bad, epochs=1, verbose=0)


def test_the_chain_leaves_the_inputs_alone(rng, runs):
    x = rng.random((24, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 24)
    x0, y0 = x.copy(), y.copy()
    model = build(lecture())
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    assert runs.count(True) == 5
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_a_copied_model_copies_its_chain_with_its_layers(rng, runs):
    x = rng.random((32, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    model = build(lecture())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    twin = copy.deepcopy(model)
    (chain,) = twin._plan()._chains.values()
    _, (steps, shape) = chain.chain.__reduce__()  # (the counting wrapper's chain, copied)
    assert shape == (12, 12, 1)
    assert [step[3] for step in steps] == [twin.layers[i] for i in (0, 2, 3, 4, 5)]


def test_the_chain_keeps_its_buffers_during_fit_only(rng, runs):
    x = rng.random((40, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    model = build(lecture())
    kept = []

    class Watch(fastconv.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            chains = [c for c in model._plan()._chains.values() if c is not None]
            kept.append(sum(c.chain.kept_bytes for c in chains))

    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[Watch()])
    assert runs.count(True) == 9
    # from the chain's first step on, its buffers stay (8 samples x 6 x 5 x 5 pooled
    # features at least) until fit returns
    assert kept[0] == 0 and all(k >= 8 * 150 * 4 for k in kept[1:])
    (chain,) = model._plan()._chains.values()
    assert chain.chain.kept_bytes == 0


def test_two_models_trained_on_two_threads_at_once_get_their_sequential_bits(rng, runs):
    x = rng.random((64, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 64)

    def trained(seed):
        fastconv.utils.set_random_seed(seed)  # the initial weights
        layers = lecture()()
        layers[4] = Dropout(0.2, seed=seed)  # a generator of its own: the two threads draw apart
        model = Sequential(layers)
        model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
        return model

    alone = [trained(s) for s in (1, 2)]
    for model in alone:
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    together = [trained(s) for s in (1, 2)]
    threads = [threading.Thread(target=m.fit, args=(x, y), kwargs=dict(batch_size=8, epochs=2, verbose=0,
                                                                       shuffle=False)) for m in together]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs.count(True) == 4 * 15 and False not in runs
    for a, b in zip(alone, together):
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)


def test_steps_that_do_not_chain_are_refused():
    from fastconv import _nnfront
    dense, last = Dense(4), Dense(3, activation="softmax")
    dense.build((6,))
    last.build((4,))

    def spec(kind, act, layer, k=0, m=0):
        return (kind, act, True, layer, None, None, None, None, k, m)

    good = [spec(1, 1, dense, 6, 4), spec(1, 2, last, 4, 3)]
    assert _nnfront.TrainChain(good, (6,)).in_shape == (6,)
    refused = {
        "no steps": ([], (6,)),
        "input of another width": (good, (7,)),
        "a dense step of another depth": ([spec(1, 1, dense, 5, 4), spec(1, 2, last, 4, 3)], (6,)),
        "ends without a softmax": ([spec(1, 1, dense, 6, 4), spec(1, 0, last, 4, 3)], (6,)),
        "a softmax before the end": ([spec(1, 2, dense, 6, 4), spec(1, 2, last, 4, 3)], (6,)),
        "a step of no units": ([spec(1, 1, dense, 6, 0), spec(1, 2, last, 0, 3)], (6,)),
    }
    for what, (steps, shape) in refused.items():
        with pytest.raises(ValueError, match="TrainChain"):
            _nnfront.TrainChain(steps, shape)
            pytest.fail(what)
