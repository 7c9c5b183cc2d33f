"""fastconv.layers against PyTorch and the TensorFlow rules written out in NumPy:
Conv2D, MaxPooling2D, Flatten, Dense, Dropout and the activation layers; output
shapes, configs and bad hyperparameters."""
from __future__ import annotations

import json

import numpy as np
import pytest
import reference as ref
import torch
from _helpers import raises, torch_one_thread  # noqa: F401 - torch_one_thread: autouse, torch on one thread
from model_reference import (
    built,
    close,
    numpy_max_pool_nhwc,
    t64,
    torch_activation,
    torch_conv_nhwc,
)

import fastconv
from fastconv import utils
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

# ---- Conv2D ------------------------------------------------------------------------------

# (input h, w, c), filters, kernel, strides, padding, dilation, activation, use_bias
CONV_CASES = [
    ((9, 9, 1), 3, (3, 3), (1, 1), "valid", (1, 1), None, True),
    ((10, 7, 3), 4, (3, 2), (2, 1), "same", (1, 1), "relu", True),
    ((11, 12, 2), 5, (3, 3), (3, 2), "same", (1, 1), None, False),
    ((12, 13, 4), 8, (3, 3), (1, 1), "same", (2, 2), "relu", True),
    ((15, 14, 3), 6, (2, 3), (2, 3), "valid", (1, 1), "linear", True),
    ((13, 11, 2), 4, (3, 3), (1, 1), "valid", (2, 3), None, True),
    ((8, 8, 3), 17, (5, 5), (1, 1), "same", (1, 1), "softmax", True),
    ((17, 16, 8), 16, (3, 3), (2, 2), "valid", (1, 1), "relu", False),
    ((6, 7, 1), 2, (4, 4), (3, 3), "same", (1, 1), None, True),
    ((28, 28, 1), 28, (3, 3), (1, 1), "valid", (1, 1), None, True),  # the lecture's layer
]


def _conv_id(case):
    (h, w, c), f, k, s, p, d, act, bias = case
    return f"{h}x{w}x{c}-f{f}-k{k[0]}x{k[1]}-s{s[0]}x{s[1]}-{p}-d{d[0]}x{d[1]}-{act}-{'bias' if bias else 'nobias'}"


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv2d_layer_matches_torch_conv2d(case, rng):
    shape, filters, kernel, strides, padding, dilation, act, use_bias = case
    layer = built(Conv2D(filters, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                         activation=act, use_bias=use_bias), shape)
    assert layer.weights[0].shape == (*kernel, shape[2], filters)
    assert len(layer.weights) == (2 if use_bias else 1)
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    want = torch_activation(torch_conv_nhwc(x, layer.weights[0], layer.weights[1] if use_bias else None,
                                            strides, padding, dilation), act).numpy()
    got = layer(x)
    close(got, want, f"Conv2D {_conv_id(case)}", reduce=kernel[0] * kernel[1] * shape[2])
    assert layer.compute_output_shape(shape) == got.shape[1:]


def test_conv2d_accepts_fastconv_nn_relu_as_activation(rng):
    layer = built(Conv2D(4, 3, activation=fastconv.nn.relu), (6, 6, 2))
    x = rng.standard_normal((2, 6, 6, 2)).astype(np.float32)
    want = torch.relu(torch_conv_nhwc(x, *layer.weights, (1, 1), "valid", (1, 1))).numpy()
    close(layer(x), want, "Conv2D(activation=fastconv.nn.relu)", reduce=18)


# ---- MaxPooling2D ------------------------------------------------------------------------

POOL_CASES = [pytest.param(size, pool, stride, padding,
                           id="{}x{}-pool{}x{}-stride{}-{}".format(*size, *ref._pair(pool), stride, padding),
                           )
              for size in ((7, 8), (6, 5), (9, 9))
              for pool in (2, 3, (2, 3))
              for stride in (None, 1, 2, 3)
              for padding in ("valid", "same")]


@pytest.mark.parametrize("size,pool,stride,padding", POOL_CASES)
def test_max_pooling2d_matches_tensorflow_rule_in_numpy(size, pool, stride, padding, rng):
    pool2 = ref._pair(pool)
    strides = pool2 if stride is None else ref._pair(stride)
    layer = MaxPooling2D(pool_size=pool, strides=stride, padding=padding)
    x = rng.standard_normal((2, *size, 3)).astype(np.float32)
    want, arg = numpy_max_pool_nhwc(x, pool2, strides, padding)
    got = layer(x, training=True)
    close(got, want, f"MaxPooling2D {size} pool={pool} stride={stride} {padding}", exact=True)
    assert layer.compute_output_shape((*size, 3)) == got.shape[1:]
    # backward: each output's gradient lands on the input pixel that won its window
    g = rng.standard_normal(got.shape).astype(np.float32)
    want_gx = np.zeros(x.shape)
    n_i, i_i, j_i, c_i = np.indices(got.shape)
    np.add.at(want_gx, (n_i, arg[..., 0], arg[..., 1], c_i), g)
    layer.need_input_grad = True
    close(layer.backward(g), want_gx, f"MaxPooling2D backward {size} pool={pool} stride={stride} {padding}")


def test_max_pooling2d_same_stride_1_in_a_model_feeds_dense_the_shape_it_was_built_for(rng):
    model = Sequential([Conv2D(2, 3, padding="same", input_shape=(6, 6, 1)),
                        MaxPooling2D(2, strides=1, padding="same"), Flatten(), Dense(3)])
    assert model.layers[-1].weights[0].shape == (6 * 6 * 2, 3)  # built from compute_output_shape
    assert model.predict(rng.standard_normal((2, 6, 6, 1)), verbose=0).shape == (2, 3)


def test_max_pooling2d_same_pads_with_minus_infinity_not_zero():
    """All-negative input: a zero pad would win the edge windows."""
    x = -np.arange(1, 1 + 5 * 5, dtype=np.float32).reshape(1, 5, 5, 1)
    got = MaxPooling2D(2, padding="same")(x)
    want, _ = numpy_max_pool_nhwc(x, (2, 2), (2, 2), "same")
    assert got.shape == (1, 3, 3, 1)
    close(got, want, "MaxPooling2D same, negative input", exact=True)
    assert (got < 0).all()


# ---- Flatten, Dense, Dropout, Activation --------------------------------------------------


def test_flatten_uses_channels_last_row_major_order_as_keras(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    layer = Flatten()
    got = layer(x, training=True)
    assert got.shape == (2, 60) == (2, *layer.compute_output_shape((3, 4, 5)))
    for n in range(2):
        for i in range(3):
            for j in range(4):
                for c in range(5):
                    assert got[n, (i * 4 + j) * 5 + c] == x[n, i, j, c]
    layer.need_input_grad = True
    g = rng.standard_normal(got.shape).astype(np.float32)
    close(layer.backward(g), g.reshape(x.shape), "Flatten backward", exact=True)


@pytest.mark.parametrize("activation", [None, "linear", "relu", "softmax"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_matches_x_at_w_plus_b(activation, use_bias, rng):
    layer = built(Dense(7, activation=activation, use_bias=use_bias), (13,))
    assert layer.weights[0].shape == (13, 7)
    x = rng.standard_normal((5, 13)).astype(np.float32)
    z = t64(x) @ t64(layer.weights[0]) + (t64(layer.weights[1]) if use_bias else 0)
    close(layer(x), torch_activation(z, activation).numpy(), f"Dense {activation} bias={use_bias}", reduce=13)


def test_dense_on_3d_input_acts_on_the_last_axis(rng):
    layer = built(Dense(4), (6, 9))
    x = rng.standard_normal((2, 6, 9)).astype(np.float32)
    want = np.einsum("ntf,fu->ntu", x.astype(np.float64), layer.weights[0]) + layer.weights[1]
    got = layer(x)
    close(got, want, "Dense on (N, T, F)", reduce=9)
    assert layer.compute_output_shape((6, 9)) == got.shape[1:]


def test_dense_accepts_fastconv_nn_callables(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    for fn, name in ((fastconv.nn.relu, "relu"), (fastconv.nn.softmax, "softmax")):
        layer = built(Dense(3, activation=fn), (5,))
        z = t64(x) @ t64(layer.weights[0]) + t64(layer.weights[1])
        close(layer(x), torch_activation(z, name).numpy(), f"Dense(activation=fastconv.nn.{name})", reduce=5)


def test_dropout_is_the_identity_at_inference(rng):
    x = rng.standard_normal((50, 20)).astype(np.float32)
    layer = Dropout(0.5)
    close(layer(x), x, "Dropout(training=False)", exact=True)
    close(layer(x, training=False), x, "Dropout(training=False)", exact=True)


def test_dropout_zeroes_rate_and_scales_the_rest_by_inverse_keep(rng):
    rate = 0.3
    utils.set_random_seed(1234)
    layer = Dropout(rate)
    x = rng.uniform(0.5, 1.5, (400, 250)).astype(np.float32)
    y = layer(x, training=True)
    dropped = y == 0
    # 100,000 Bernoulli(0.3) draws: the fraction is 0.3 +- 0.0015 (1 sigma)
    assert abs(dropped.mean() - rate) < 0.01, f"dropped fraction {dropped.mean():.4f}, expected {rate}"
    close(y[~dropped], x[~dropped] / (1 - rate), "Dropout kept values")
    # independent across positions: each row and each column sees about the same rate
    assert abs(dropped.mean(axis=0) - rate).max() < 0.15 and abs(dropped.mean(axis=1) - rate).max() < 0.15
    layer.need_input_grad = True
    g = rng.standard_normal(x.shape).astype(np.float32)
    gx = layer.backward(g)
    close(gx, np.where(dropped, 0.0, g / (1 - rate)), "Dropout backward (same mask)")


def test_dropout_masks_are_reproducible_with_set_random_seed():
    x = np.ones((64, 64), dtype=np.float32)
    masks = []
    for _ in range(2):
        utils.set_random_seed(99)
        masks.append(Dropout(0.5)(x, training=True))
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], Dropout(0.5)(x, training=True)), "a second draw repeated the mask"


def documented_dropout_mask(n, seed, rate, scale, dtype):
    """The mask fastconv.nn's dropout kernel documents, in NumPy uint64 arithmetic:
    words splitmix64(seed + (j + 1) * golden), element 2j the low 32 bits of word j and
    2j + 1 the high; kept where the top 24 bits are >= ceil(float32(rate) * 2**24)."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(1, (n + 1) // 2 + 1, dtype=np.uint64) * golden)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    words = np.stack([z & np.uint64(0xFFFFFFFF), z >> np.uint64(32)], axis=1).reshape(-1)[:n]
    threshold = np.ceil(float(np.float32(rate)) * 2.0**24)
    keep = (words >> np.uint64(8)).astype(np.float64) >= threshold
    return np.where(keep, dtype(scale), dtype(0)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 7, 4096, 300_001])
def test_dropout_kernel_draws_the_documented_stream(restore_threads, dtype, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    if n >= 3:
        x[:3] = [np.inf, -0.0, np.nan]  # x * 0 where dropped: NaN, -0.0, NaN
    seed, rate = int(rng.integers(0, 2**63)) * 2 + 1, 0.2
    want_mask = documented_dropout_mask(n, seed, rate, 1 / (1 - rate), dtype)
    for threads in (1, 2):  # chunks on two threads: the same bits
        fastconv.set_num_threads(threads)
        before = x.copy()
        y, mask = fastconv.nn._dropout(x, seed, rate)
        np.testing.assert_array_equal(x, before)  # the input is left alone
        assert y.dtype == mask.dtype == dtype and y.shape == mask.shape == x.shape
        np.testing.assert_array_equal(mask, want_mask)
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(y, x * want_mask)  # inf * 0 is NaN, as x * mask
    if n > 1000:  # the dropped fraction: Binomial(n, 0.2), well inside 6 sigma
        assert abs((want_mask == 0).mean() - rate) < 6 * np.sqrt(rate * (1 - rate) / n)


def test_dropout_kernel_takes_views_and_other_dtypes():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    view_y, view_mask = fastconv.nn._dropout(x[:, ::2], 11, 0.5)
    copy_y, copy_mask = fastconv.nn._dropout(np.ascontiguousarray(x[:, ::2]), 11, 0.5)
    np.testing.assert_array_equal(view_mask, copy_mask)
    np.testing.assert_array_equal(view_y, copy_y)
    half_y, _ = fastconv.nn._dropout(x.astype(np.float16), 11, 0.5)
    assert half_y.dtype == np.float16
    np.testing.assert_array_equal(half_y, fastconv.nn._dropout(x, 11, 0.5)[0].astype(np.float16))
    int_y, _ = fastconv.nn._dropout(np.arange(6), 3, 0.5)
    assert int_y.dtype == np.float32
    empty_y, empty_mask = fastconv.nn._dropout(np.zeros((0, 3), np.float32), 3, 0.5)
    assert empty_y.shape == empty_mask.shape == (0, 3)


def test_dropout_rate_zero_is_the_identity_while_training(rng):
    x = rng.standard_normal((8, 9)).astype(np.float32)
    close(Dropout(0.0)(x, training=True), x, "Dropout(0) training", exact=True)


@pytest.mark.parametrize("layer,name", [(ReLU(), "relu"), (Activation("relu"), "relu"),
                                        (Activation("softmax"), "softmax"), (Activation("linear"), "linear"),
                                        (Activation(fastconv.nn.relu), "relu")],
                         ids=["ReLU", "Activation-relu", "Activation-softmax", "Activation-linear",
                              "Activation-fastconv.nn.relu"])
def test_activation_layers_match_torch(layer, name, rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    close(layer(x, training=True), torch_activation(t64(x), name).numpy(), f"{type(layer).__name__} {name}")
    assert layer.compute_output_shape((4, 5, 6)) == (4, 5, 6)
    # backward: the vector-Jacobian product torch computes
    g = rng.standard_normal(x.shape)
    xt = t64(x).requires_grad_()
    torch_activation(xt, name).backward(t64(g))
    layer.need_input_grad = True
    close(layer.backward(g.astype(np.float32)), xt.grad.numpy(), f"{type(layer).__name__} {name} backward")


# ---- shapes, configs, bad hyperparameters ----------------------------------------------------

SHAPE_CASES = [
    (lambda: Conv2D(5, 3), (10, 9, 2)),
    (lambda: Conv2D(5, (3, 2), strides=2, padding="same"), (11, 9, 2)),
    (lambda: Conv2D(5, (3, 3), strides=(3, 1), padding="valid", use_bias=False), (11, 10, 1)),
    (lambda: Conv2D(2, 3, dilation_rate=2), (12, 12, 3)),
    (lambda: Conv2D(2, 3, dilation_rate=(2, 1), padding="same"), (7, 8, 3)),
    (lambda: MaxPooling2D(), (9, 8, 4)),
    (lambda: MaxPooling2D(3, strides=2, padding="same"), (9, 8, 4)),
    (lambda: MaxPooling2D((2, 3), strides=(1, 2), padding="valid"), (7, 9, 1)),
    (lambda: Flatten(), (3, 4, 5)),
    (lambda: Dense(6), (11,)),
    (lambda: Dropout(0.25), (4, 4, 2)),
    (lambda: Activation("softmax"), (7,)),
    (lambda: ReLU(), (3, 2)),
]


@pytest.mark.parametrize("make,shape", SHAPE_CASES, ids=[f"case{i}" for i in range(len(SHAPE_CASES))])
def test_compute_output_shape_equals_the_actual_output_shape(make, shape, rng):
    layer = make()
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    for training in (False, True):
        out = layer(x, training=training)
        assert out.shape == (2, *layer.compute_output_shape(shape)), f"{layer!r} on {shape}"


CONFIG_CASES = [
    lambda: Conv2D(5, (3, 2), strides=(2, 1), padding="same", dilation_rate=(1, 1), activation="relu",
                   use_bias=False, input_shape=(10, 9, 2), name="my_conv"),
    lambda: Conv2D(4, 3, dilation_rate=2, activation="softmax"),
    lambda: MaxPooling2D((3, 2), strides=(1, 2), padding="same"),
    lambda: Flatten(),
    lambda: Dense(6, activation="softmax", input_shape=(11,)),
    lambda: Dense(3, use_bias=False, activation=fastconv.nn.relu),
    lambda: Dropout(0.4),
    lambda: Activation("relu"),
    lambda: ReLU(),
]


@pytest.mark.parametrize("make", CONFIG_CASES, ids=[f"case{i}" for i in range(len(CONFIG_CASES))])
def test_get_config_round_trips_through_the_layer_class(make, rng):
    layer = make()
    config = layer.get_config()
    json.dumps(config)  # plain JSON, what save() writes
    clone = type(layer)(**config)
    assert clone.get_config() == config
    shape = layer.input_shape or {"Conv2D": (8, 9, 2), "MaxPooling2D": (8, 9, 2), "Dense": (5,)}.get(
        type(layer).__name__, (4, 3, 2))
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    built(layer, shape)
    clone.build(shape)
    for mine, theirs in zip(clone.weights, layer.weights):
        mine[...] = theirs
    np.testing.assert_array_equal(clone(x), layer(x))


BAD_HYPERPARAMETERS = {
    "Conv2D-filters-0": (lambda: Conv2D(0, 3), "filters"),
    "Conv2D-filters-negative": (lambda: Conv2D(-4, 3), "filters"),
    "Conv2D-kernel_size-0": (lambda: Conv2D(4, (3, 0)), "kernel_size"),
    "Conv2D-kernel_size-3d": (lambda: Conv2D(4, (3, 3, 3)), "kernel_size"),
    "Conv2D-strides-0": (lambda: Conv2D(4, 3, strides=0), "strides"),
    "Conv2D-padding-full": (lambda: Conv2D(4, 3, padding="full"), "padding"),
    "Conv2D-dilation_rate-0": (lambda: Conv2D(4, 3, dilation_rate=(1, 0)), "dilation_rate"),
    "Conv2D-activation-unknown": (lambda: Conv2D(4, 3, activation="tanh-ish"), "activation"),
    "Conv2D-groups": (lambda: Conv2D(6, 3, groups=4), "groups"),
    "Conv2D-data_format": (lambda: Conv2D(6, 3, data_format="channels_first"), "data_format"),
    "MaxPooling2D-pool_size-0": (lambda: MaxPooling2D(0), "pool_size"),
    "MaxPooling2D-strides-0": (lambda: MaxPooling2D(2, strides=(1, 0)), "strides"),
    "MaxPooling2D-padding": (lambda: MaxPooling2D(2, padding="causal"), "padding"),
    "Dense-units-0": (lambda: Dense(0), "units"),
    "Dense-units-negative": (lambda: Dense(-3), "units"),
    "Dense-activation": (lambda: Dense(3, activation="swishy"), "activation"),
    "Dropout-rate-1": (lambda: Dropout(1.0), "rate"),
    "Dropout-rate-negative": (lambda: Dropout(-0.1), "rate"),
    "Dropout-rate-above-1": (lambda: Dropout(1.5), "rate"),
    "Activation-unknown": (lambda: Activation("gelu-ish"), "activation"),
}


@pytest.mark.parametrize("case", list(BAD_HYPERPARAMETERS))
def test_bad_hyperparameters_raise_value_error_naming_them(case):
    make, name = BAD_HYPERPARAMETERS[case]
    raises(make, ValueError, name)


@pytest.mark.parametrize("make,name", [(lambda: Conv2D(2.5, 3), "filters"), (lambda: Dense("8"), "units"),
                                       (lambda: Conv2D(4, 3.0), "kernel_size"),
                                       (lambda: MaxPooling2D(pool_size=None, strides=2), "pool_size")],
                         ids=["Conv2D-filters-float", "Dense-units-str", "Conv2D-kernel_size-float",
                              "MaxPooling2D-pool_size-None"])
def test_hyperparameters_of_the_wrong_type_raise_naming_them(make, name):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert name in str(info.value)


def test_layers_reject_wrong_input_rank_naming_the_shape():
    conv = built(Conv2D(2, 3), (5, 5, 1))
    raises(lambda: conv(np.zeros((4, 5, 5))), ValueError, "(4, 5, 5)")
    raises(lambda: MaxPooling2D()(np.zeros((4, 5, 5))), ValueError, "(4, 5, 5)")
    raises(lambda: Conv2D(2, 3)(np.zeros((4, 5, 5))), ValueError, "input_shape", "expected ndim=4", "(4, 5, 5)")
    dense = built(Dense(2), (6,))
    raises(lambda: dense(np.zeros((3, 7))), ValueError, "(3, 7)")
