"""Misaligned inputs and outputs never reach the C kernels.

An array at an address that is not a multiple of its item size (np.frombuffer
at an odd offset; pickle-5 buffers, as Dask ships blocks between processes)
is undefined behaviour to load from in C: UBSan reported it in the f64
correlate kernel through fastconv.dask. Every public call must hand the
kernels aligned copies. The test wraps each array entry point of the binding
and fails if any argument it receives is misaligned (and each of fastconv.nn's
front doors, _nnfront.pyx, if it takes a call with one), and checks the results
against the same call on aligned copies. fastconv.relu is a numpy.ufunc, not a
binding entry point: NumPy hands its loops aligned data (a misaligned operand
goes through NumPy's buffers), so only its results are checked here.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _kernels, _nnfront, nn
from fastconv.layers import Conv2D, Dense, Flatten, MaxPooling2D
from fastconv.models import Sequential

ENTRY_POINTS = ["conv2d", "conv2d_backward_weight", "conv2d_backward_input", "relu_backward",
                "max_pool2d", "max_pool2d_backward", "adam_update", "correlate1d", "correlate2d",
                "dense", "dense_backward", "dense_backward_adam", "conv2d_maxpool",
                "conv2d_maxpool_backward_weight"]


def misaligned(a: np.ndarray) -> np.ndarray:
    """A writable copy of `a` one byte past an aligned address."""
    a = np.asarray(a)
    buf = np.empty(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned and out.flags.writeable
    return out


# fastconv.nn's front doors (_nnfront.pyx) and, for each, the argument the kernel
# does not read (max_pool2d_backward takes only x's shape and dtype)
FRONT_DOORS = {"conv2d": None, "max_pool2d": None, "max_pool2d_backward": 1, "conv2d_maxpool": None,
               "dense": None, "dense_backward_adam": None, "dropout": None, "softmax_xent": None}


@pytest.fixture
def checked(monkeypatch):
    """Every binding entry point refuses misaligned arrays (a test failure), and
    every front door that takes a call (returns a result, not None) was given
    aligned arrays; `seen` lists the entry points that ran the kernels."""
    seen = []
    for name in ENTRY_POINTS:
        fn = getattr(_kernels, name)

        def wrapper(*args, _fn=fn, _name=name):
            for i, arg in enumerate(args):
                if isinstance(arg, np.ndarray):
                    assert arg.flags.aligned, f"{_name}: argument {i} reached C misaligned"
            seen.append(_name)
            return _fn(*args)

        monkeypatch.setattr(_kernels, name, wrapper)
    for name, unread in FRONT_DOORS.items():
        fn = getattr(_nnfront, name)

        def front(*args, _fn=fn, _name=name, _unread=unread):
            out = _fn(*args)
            if out is not None:
                for i, arg in enumerate(args):
                    if isinstance(arg, np.ndarray) and i != _unread:
                        assert arg.flags.aligned, f"_nnfront.{_name}: took argument {i} misaligned"
                seen.append(_name)
            return out

        monkeypatch.setattr(_nnfront, name, front)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_ops_copy_misaligned_inputs(checked, rng, dtype):
    x = rng.standard_normal((2, 3, 9, 9)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    mx, mw, mb = misaligned(x), misaligned(w), misaligned(b)
    np.testing.assert_array_equal(nn.conv2d(mx, mw, mb, padding=1), nn.conv2d(x, w, b, padding=1))
    y = nn.conv2d(x, w, b, padding=1)
    gy = rng.standard_normal(y.shape).astype(dtype)
    for got, want in zip(nn.conv2d_backward(misaligned(gy), mx, mw, padding=1),
                         nn.conv2d_backward(gy, x, w, padding=1)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(nn.relu(mx), nn.relu(x))
    out = misaligned(np.empty_like(x))
    nn.relu(x, out=out)
    np.testing.assert_array_equal(out, nn.relu(x))
    np.testing.assert_array_equal(nn.relu_backward(misaligned(x), mx), nn.relu_backward(x, x))
    p, i = nn.max_pool2d(mx, 2, return_indices=True)
    p2, i2 = nn.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(p, p2)
    gp = rng.standard_normal(p.shape).astype(dtype)
    np.testing.assert_array_equal(nn.max_pool2d_backward(misaligned(gp), mx, misaligned(i), 2),
                                  nn.max_pool2d_backward(gp, x, i2, 2))
    assert {"conv2d", "max_pool2d", "max_pool2d_backward"} <= set(checked)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int32])
def test_dropins_copy_misaligned_inputs(rng, dtype):
    """The drop-ins' front doors (_dropins.pyx) hand the kernels arrays that
    NumPy's PyArray_FromAny made aligned (tools/sanitize.sh runs this under
    UBSan, which reports a misaligned load); the results equal the aligned
    call's bit for bit. Sizes lie above the front doors' small-call limit
    (4,096 products), where nothing is handed to NumPy or SciPy."""
    a = (rng.standard_normal((40, 133)) * 9).astype(dtype)
    k = (rng.standard_normal((3, 4)) * 9).astype(dtype)
    for boundary in ("fill", "wrap", "symm"):
        np.testing.assert_array_equal(
            fastconv.correlate2d(misaligned(a), misaligned(k), "same", boundary),
            fastconv.correlate2d(a, k, "same", boundary))
    v, t = a[0].copy(), (rng.standard_normal(40) * 9).astype(dtype)
    np.testing.assert_array_equal(fastconv.convolve(misaligned(v), misaligned(t)), fastconv.convolve(v, t))
    np.testing.assert_array_equal(fastconv.correlate(misaligned(v), misaligned(t), "same"),
                                  fastconv.correlate(v, t, "same"))


def test_model_layer_copies_misaligned_inputs(checked, rng):
    fastconv.utils.set_random_seed(0)
    model = Sequential([Conv2D(4, 3, input_shape=(10, 10, 1)), MaxPooling2D(2), Flatten(),
                        Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x = rng.random((16, 10, 10, 1)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    want = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(misaligned(x), verbose=0), want)
    model.fit(misaligned(x), y, epochs=1, batch_size=8, verbose=0)
    assert {"conv2d_maxpool", "dense", "dense_backward_adam"} <= set(checked)
