"""fastconv.optimizers against Keras' update rules written out in NumPy (and
torch.optim where the rules agree), on a toy quadratic."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from _helpers import raises, torch_one_thread  # noqa: F401 - torch_one_thread: autouse, torch on one thread
from model_reference import close, make_model, t64

from fastconv import optimizers

# ---- optimizers: Keras' update rules written out ----------------------------------------------

A = np.array([0.5, 2.0, 8.0, 0.1])   # curvatures of the toy quadratic 1/2 sum(a (p - c)^2)
C = np.array([1.0, -2.0, 0.5, 3.0])
P0 = np.array([0.0, 0.5, -1.0, 2.0])


def quadratic_grad(p):
    return A * (p - C)


def run_fastconv(opt, steps, p0=P0, grad=quadratic_grad):
    p = p0.astype(np.float32).copy()
    for _ in range(steps):
        opt.apply([p], [grad(p.astype(np.float64)).astype(np.float32)])
    return p


def keras_sgd(steps, lr=0.01, momentum=0.0, nesterov=False, p0=P0, grad=quadratic_grad):
    """keras.optimizers.SGD: m = momentum m - lr g; p += momentum m - lr g
    (nesterov) or p += m; plain p -= lr g without momentum."""
    p, m = p0.astype(np.float64).copy(), np.zeros_like(p0, dtype=np.float64)
    for _ in range(steps):
        g = grad(p)
        if momentum == 0:
            p = p - lr * g
            continue
        m = momentum * m - lr * g
        p = p + (momentum * m - lr * g if nesterov else m)
    return p


def keras_adam(steps, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, p0=P0, grad=quadratic_grad):
    """keras.optimizers.Adam: alpha = lr sqrt(1 - b2^t) / (1 - b1^t);
    m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); p -= alpha m / (sqrt(v) + eps)."""
    p = p0.astype(np.float64).copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t in range(1, steps + 1):
        g = grad(p)
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        p = p - alpha * m / (np.sqrt(v) + eps)
    return p


def keras_rmsprop(steps, lr=0.001, rho=0.9, eps=1e-7, p0=P0, grad=quadratic_grad):
    """keras.optimizers.RMSprop (Keras 3 and TensorFlow's ApplyRMSProp):
    v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)."""
    p, v = p0.astype(np.float64).copy(), np.zeros_like(p0, dtype=np.float64)
    for _ in range(steps):
        g = grad(p)
        v = rho * v + (1 - rho) * g * g
        p = p - lr * g / np.sqrt(v + eps)
    return p


def close_params(got, want, start, what):
    """Positions after some steps: the displacement from `start` to ~1e-5 relative."""
    close(got.astype(np.float64) - start, want - start, what, dtype=np.float64, rtol=2e-5, atol=2e-7)


@pytest.mark.parametrize("kwargs", [dict(), dict(learning_rate=0.1), dict(learning_rate=0.05, momentum=0.9),
                                    dict(learning_rate=0.05, momentum=0.5, nesterov=True),
                                    dict(momentum=0.9, nesterov=True)],
                         ids=["defaults", "lr0.1", "momentum", "nesterov", "nesterov-default-lr"])
def test_sgd_follows_the_keras_update_rule(kwargs):
    want = keras_sgd(7, lr=kwargs.get("learning_rate", 0.01), momentum=kwargs.get("momentum", 0.0),
                     nesterov=kwargs.get("nesterov", False))
    close_params(run_fastconv(optimizers.SGD(**kwargs), 7), want, P0, f"SGD {kwargs}")


@pytest.mark.parametrize("kwargs", [dict(), dict(learning_rate=0.1), dict(learning_rate=0.02, beta_1=0.5, beta_2=0.9,
                                                                           epsilon=1e-3)],
                         ids=["defaults", "lr0.1", "custom"])
def test_adam_follows_the_keras_update_rule(kwargs):
    want = keras_adam(10, lr=kwargs.get("learning_rate", 0.001), b1=kwargs.get("beta_1", 0.9),
                      b2=kwargs.get("beta_2", 0.999), eps=kwargs.get("epsilon", 1e-7))
    close_params(run_fastconv(optimizers.Adam(**kwargs), 10), want, P0, f"Adam {kwargs}")


def test_adam_epsilon_sits_outside_the_bias_correction_as_keras():
    """With tiny gradients eps dominates, and where it sits matters: Keras adds eps
    to sqrt(v) (uncorrected), torch to sqrt(v_hat); the first step differs by ~30x."""
    def tiny(p):
        return np.full_like(p, 1e-9)
    want = keras_adam(1, p0=np.zeros(4), grad=tiny)
    got = run_fastconv(optimizers.Adam(), 1, p0=np.zeros(4), grad=tiny)
    close(got, want, "Adam first step with gradient 1e-9")


def test_adam_matches_torch_optim_adam_where_equivalent():
    """torch's eps sits beside sqrt(v_hat), Keras' beside sqrt(v): with gradients of
    order one that difference is far below float32 rounding."""
    lr = 0.05
    p_t = t64(P0).requires_grad_()
    opt_t = torch.optim.Adam([p_t], lr=lr, betas=(0.9, 0.999), eps=1e-7)
    for _ in range(12):
        opt_t.zero_grad()
        (0.5 * (t64(A) * (p_t - t64(C)) ** 2).sum()).backward()
        opt_t.step()
    got = run_fastconv(optimizers.Adam(learning_rate=lr), 12)
    close_params(got, p_t.detach().numpy(), P0, "Adam vs torch.optim.Adam")


def test_sgd_momentum_matches_torch_optim_sgd():
    """torch's SGD with momentum is Keras' rule in other variables (b = -m / lr)."""
    lr, mom = 0.05, 0.8
    p_t = t64(P0).requires_grad_()
    opt_t = torch.optim.SGD([p_t], lr=lr, momentum=mom)
    for _ in range(9):
        opt_t.zero_grad()
        (0.5 * (t64(A) * (p_t - t64(C)) ** 2).sum()).backward()
        opt_t.step()
    close_params(run_fastconv(optimizers.SGD(learning_rate=lr, momentum=mom), 9), p_t.detach().numpy(), P0,
                 "SGD momentum vs torch.optim.SGD")


def test_rmsprop_follows_the_keras_update_rule_on_gradients_of_order_one():
    """Gradients >= 3, so v >> eps and where eps sits does not show (see below)."""
    def steep(p):
        return np.array([4.0, 2.0, 8.0, 3.0]) * (p - C)
    close_params(run_fastconv(optimizers.RMSprop(), 8, grad=steep), keras_rmsprop(8, grad=steep), P0,
                 "RMSprop defaults")
    close_params(run_fastconv(optimizers.RMSprop(learning_rate=0.01, rho=0.5), 8, grad=steep),
                 keras_rmsprop(8, lr=0.01, rho=0.5, grad=steep), P0, "RMSprop lr=0.01 rho=0.5")


def test_rmsprop_epsilon_sits_inside_the_square_root_as_keras():
    def small(p):
        return np.full_like(p, 1e-4)
    want = keras_rmsprop(3, p0=np.ones(4), grad=small)
    got = run_fastconv(optimizers.RMSprop(), 3, p0=np.ones(4), grad=small)
    close_params(got, want, np.ones(4), "RMSprop with gradient 1e-4")


@pytest.mark.parametrize("name,cls,config", [
    ("adam", optimizers.Adam, dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
    ("Adam", optimizers.Adam, dict(learning_rate=0.001)),
    ("sgd", optimizers.SGD, dict(learning_rate=0.01, momentum=0.0, nesterov=False)),
    ("rmsprop", optimizers.RMSprop, dict(learning_rate=0.001, rho=0.9, epsilon=1e-7)),
])
def test_optimizer_strings_give_keras_defaults(name, cls, config):
    opt = optimizers.get(name)
    assert type(opt) is cls
    got = opt.get_config()
    for key, value in config.items():
        assert got[key] == pytest.approx(value, rel=1e-12), f"{name}: {key}"
    model = make_model("lecture")
    model.compile(optimizer=name, loss="sparse_categorical_crossentropy")
    assert type(model.optimizer) is cls


def test_adam_string_behaves_as_keras_default_adam():
    close_params(run_fastconv(optimizers.get("adam"), 5), keras_adam(5), P0, "'adam'")


def test_compile_defaults_to_rmsprop_as_keras():
    model = make_model("lecture")
    model.compile(loss="sparse_categorical_crossentropy")
    assert type(model.optimizer) is optimizers.RMSprop


@pytest.mark.parametrize("make,word", [(lambda: optimizers.get("adagrad-ish"), "optimizer"),
                                       (lambda: optimizers.Adam(learning_rate=0), "learning_rate"),
                                       (lambda: optimizers.SGD(learning_rate=-1.0), "learning_rate"),
                                       (lambda: optimizers.SGD(momentum=1.5), "momentum")],
                         ids=["unknown-name", "adam-lr-0", "sgd-lr-negative", "sgd-momentum"])
def test_bad_optimizer_arguments_raise_value_error(make, word):
    raises(make, ValueError, word)


def test_optimizer_state_is_per_weight():
    """Two weights stepped together move as each would alone."""
    opt = optimizers.Adam(learning_rate=0.1)
    p1, p2 = P0.astype(np.float32).copy(), (P0[::-1] * 2).astype(np.float32).copy()
    for _ in range(5):
        opt.apply([p1, p2], [quadratic_grad(p1.astype(np.float64)).astype(np.float32),
                             quadratic_grad(p2.astype(np.float64)).astype(np.float32)])
    close_params(p1, keras_adam(5, lr=0.1), P0, "Adam, first of two weights")
    close_params(p2, keras_adam(5, lr=0.1, p0=P0[::-1] * 2), P0[::-1] * 2, "Adam, second of two weights")


def test_adam_steps_every_kind_of_weight_in_one_apply():
    """Weights the one-call path takes (contiguous float32 and float64) and those it
    leaves to the per-weight path (a Fortran-order weight, a float64 gradient for
    a float32 weight, a strided view), stepped together: each as Keras' rule."""
    rng = np.random.default_rng(0)
    starts = [rng.standard_normal(4), rng.standard_normal((3, 2)), rng.standard_normal((3, 4)),
              rng.standard_normal(5), rng.standard_normal(8)]
    base = [starts[0].astype(np.float32), starts[1].astype(np.float64),
            np.asfortranarray(starts[2].astype(np.float32)), starts[3].astype(np.float32),
            np.zeros(16, np.float32)]
    base[4][::2] = starts[4]
    params = base[:4] + [base[4][::2]]  # a view: every other element of a buffer
    opt = optimizers.Adam(learning_rate=0.05)
    for _ in range(6):
        # the gradient of sum(p^2); float64 for weights 1 (its own dtype) and 3 (not its dtype)
        grads = [(2.0 * p.astype(np.float64)).astype(np.float64 if i in (1, 3) else np.float32)
                 for i, p in enumerate(params)]
        opt.apply(params, grads)
    for i, (p, start) in enumerate(zip(params, starts)):
        want = keras_adam(6, lr=0.05, p0=start.reshape(-1), grad=lambda q: 2.0 * q).reshape(start.shape)
        close_params(p, want, start, f"Adam, weight {i} of a mixed apply")
    assert np.all(base[4][1::2] == 0)  # the view's gaps left alone


@pytest.mark.parametrize("dtype, floor", [(np.float32, 2.0**-100), (np.float64, 2.0**-996)])
def test_adam_moment_floor_is_the_same_in_numpy_and_in_c(dtype, floor):
    """A strided weight takes the NumPy formula, a contiguous one the C kernel: with
    moments decaying across the floor (zero gradients), both store the same moments,
    0 below the floor, and step the weights to the same bits."""
    rng = np.random.default_rng(3)
    n = 64
    start = rng.standard_normal(n).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    grad[:48] = 0
    m0 = rng.standard_normal(n).astype(dtype) * dtype(1e-3)
    m0[:16] = floor * rng.uniform(0.5, 1.5, 16)   # straddle the floor after one decay
    m0[16:32] = floor * rng.uniform(8, 12, 16)    # 0.1 m near the smallest normal
    m0[32:48] = np.finfo(dtype).tiny * 3          # below the floor already
    v0 = rng.random(n).astype(dtype) * dtype(1e-6)
    v0[40:48] = floor * rng.uniform(0.5, 1.5, 8)
    contiguous = start.copy()
    buffer = np.zeros(2 * n, dtype)
    buffer[::2] = start
    strided = buffer[::2]
    opt = optimizers.Adam()
    opt.build([contiguous, strided])
    for p in (contiguous, strided):
        m, v = opt._state(p)
        m[...], v[...] = m0, v0
    opt.apply([contiguous, strided], [grad, grad.copy()])
    (mc, vc), (ms, vs) = opt._state(contiguous), opt._state(strided)
    m_want = m0 + (grad - m0) * dtype(1 - 0.9)
    assert np.count_nonzero((np.abs(m_want) < floor) & (m_want != 0)) >= 20
    assert np.count_nonzero(np.abs(m_want[:16]) >= floor) >= 1
    m_want[np.abs(m_want) < floor] = 0
    np.testing.assert_array_equal(mc, m_want)
    np.testing.assert_array_equal(ms, m_want)
    np.testing.assert_array_equal(vs, vc)
    assert np.all(vc[40:48][v0[40:48] * dtype(0.999) < floor] == 0)
    np.testing.assert_array_equal(strided, contiguous)


def test_the_one_call_adam_path_leaves_what_it_cannot_write():
    from fastconv import nn
    p = np.ones(4, np.float32)
    frozen = np.ones(4, np.float32)
    frozen.flags.writeable = False
    g = np.full(4, 0.5, np.float32)
    states = [[np.zeros(4, np.float32), np.zeros(4, np.float32)] for _ in range(3)]
    left = nn._adam_update_many([p, frozen, p.copy()], [g, g, g[:3]], states, 0.1, 0.9, 0.999, 1e-7)
    assert left == [1, 2]  # read-only; a gradient of another size
    assert np.all(frozen == 1) and not np.any(states[1][0]) and not np.any(states[2][0])
    np.testing.assert_allclose(p, 1 - 0.1 * 0.05 / (np.sqrt(0.001 * 0.25) + 1e-7), rtol=1e-6)


def test_a_copied_optimizer_keeps_its_slots_for_the_copied_weights():
    p = np.array([1.0, -2.0, 3.0], np.float32)
    opt = optimizers.Adam(learning_rate=0.1)
    opt.apply([p], [np.array([0.5, 0.5, -1.0], np.float32)])
    p2, opt2 = copy.deepcopy((p, opt))
    g = np.array([0.25, -1.0, 2.0], np.float32)
    opt.apply([p], [g])
    opt2.apply([p2], [g])
    np.testing.assert_array_equal(p2, p)
    for a, b in zip(opt2._state(p2), opt._state(p)):
        np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(a, b)
    raises(lambda: opt2.apply([p], [g]), ValueError, "Unknown variable")  # the original's p is not its weight


def test_the_model_layer_keeps_weights_and_moments_line_aligned(tmp_path):
    """Weights the layers build (and those built to load a file into) and the slots an
    optimizer makes start a 64-byte line, whatever NumPy's allocator gives (16 bytes
    into a line for arrays this large); they are zeros of the right shape and dtype."""
    from fastconv import _demo
    from fastconv.models import load_model
    model = _demo.lecture_model(10)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((40, 28, 28, 1)).astype(np.float32)
    model.fit(x, np.arange(40) % 10, batch_size=20, verbose=0)
    weights = [w for layer in model.layers for w in layer.weights]
    assert max(w.size for w in weights) == 4732 * 128
    for w in weights:
        assert w.ctypes.data % 64 == 0 and w.flags.c_contiguous and w.flags.writeable
        for slot in model.optimizer._state(w):
            assert slot.ctypes.data % 64 == 0 and slot.shape == w.shape and slot.dtype == w.dtype
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    for a, b in zip(weights, (w for layer in loaded.layers for w in layer.weights)):
        assert b.ctypes.data % 64 == 0 and np.array_equal(a, b)
        for saved, slot in zip(model.optimizer._state(a), loaded.optimizer._state(b)):
            assert slot.ctypes.data % 64 == 0 and np.array_equal(saved, slot)  # training resumes
    opt = optimizers.Adam()
    opt.build([np.ones((3, 5), np.float64), np.ones(0, np.float32)])
    for v in opt._variables:
        for slot in opt._state(v):
            assert slot.shape == v.shape and slot.dtype == v.dtype and not slot.any()
            assert slot.size == 0 or slot.ctypes.data % 64 == 0  # (an empty array has no data)
