"""Results of BIG_MIN_BYTES (32 MiB) and more live on libfastconv's large
blocks, and a freed one is kept for the next call of about its size: the
values against independent references (NumPy, a direct sum) whether the block
is new or reused (its old contents never show), the arrays NumPy's own in
every way a user sees (they own their data, resize, pickle, copy), NumPy's
allocation handler set back after each call, the limit, threads and fork."""
from __future__ import annotations

import os
import pickle
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _kernels, _nnfront, numpy_compat
import reference as ref

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import get_handler_name

BIG = _kernels.BIG_MIN_BYTES
HANDLER = "fastconv_big_blocks"


@pytest.fixture(autouse=True)
def _fresh_blocks():
    """Each test starts and ends with nothing kept and the default limit."""
    limit = _kernels.big_keep()
    _kernels.big_release()
    yield
    _kernels.big_keep(limit)
    _kernels.big_release()


def _signal(seed, n=BIG // 8 + 1000):
    return np.random.default_rng(seed).standard_normal(n)


def _conv1x1(x, w):
    """conv2d's result for a 1x1 kernel, NHWC, as a matrix product."""
    return (x.reshape(-1, x.shape[-1]) @ w.reshape(w.shape[-2], w.shape[-1])).reshape(*x.shape[:-1], -1)


def test_a_large_result_is_on_a_kept_block_and_numpys_own_array():
    a = _signal(0)
    y = numpy_compat.convolve(a, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(y, np.convolve(a, [1.0, 2.0, 3.0]), rtol=1e-12, atol=1e-12)
    assert get_handler_name(y) == HANDLER
    assert y.flags.owndata and y.base is None and y.flags.c_contiguous and y.flags.writeable
    assert y.ctypes.data % 64 == 0
    assert get_handler_name() != HANDLER  # NumPy's handler set back
    assert get_handler_name(np.empty(BIG // 8 + 10)) != HANDLER
    small = numpy_compat.convolve(a[:1000], [1.0, 2.0, 3.0])
    assert get_handler_name(small) != HANDLER  # below the size: NumPy's allocation
    back = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(back, y)
    c = y.copy()
    np.testing.assert_array_equal(c, y)
    y.resize(10, refcheck=False)  # NumPy's realloc through the handler
    np.testing.assert_array_equal(y, c[:10])
    y.resize(BIG // 8 + 5000, refcheck=False)
    np.testing.assert_array_equal(y[:10], c[:10])
    assert not y[10:].any()  # NumPy zeroes what resize adds


def test_a_reused_block_shows_none_of_its_old_values():
    a, b = _signal(1), _signal(2)
    k = [0.5, -1.0, 0.25]
    y = numpy_compat.convolve(a, k)
    expected_a = np.convolve(a, k)
    np.testing.assert_allclose(y, expected_a, rtol=1e-12, atol=1e-12)
    address = y.ctypes.data
    del y
    assert _kernels.big_kept() >= BIG  # kept, not unmapped
    z = numpy_compat.convolve(b, k)  # the same size: the kept block again
    assert z.ctypes.data == address and _kernels.big_kept() == 0
    np.testing.assert_allclose(z, np.convolve(b, k), rtol=1e-12, atol=1e-12)


def test_conv2d_and_max_pool2d_results_on_kept_blocks():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 1024, 1024, 3)).astype(np.float32)
    w = rng.standard_normal((1, 1, 3, 9)).astype(np.float32)
    expected = _conv1x1(x, w)
    for _ in range(3):  # new, then reused twice
        y = fastconv.conv2d(x, w, layout="NHWC")
        assert get_handler_name(y) == HANDLER
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
        del y
    big = rng.standard_normal((1, 9, 1024, 1024)).astype(np.float32)
    p = fastconv.max_pool2d(big, 1)  # a 1x1 pool is the input itself
    assert get_handler_name(p) == HANDLER
    np.testing.assert_array_equal(p, big)


def test_conv2d_backward_grad_x_on_a_kept_block():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 1024, 1024, 9)).astype(np.float32)
    w = rng.standard_normal((1, 1, 9, 3)).astype(np.float32)
    gy = rng.standard_normal((1, 1024, 1024, 3)).astype(np.float32)
    expected = (gy.reshape(-1, 3) @ w.reshape(9, 3).T).reshape(x.shape)  # 1x1: gy times w^T
    for _ in range(2):
        gx, _, _ = fastconv.conv2d_backward(gy, x, w, layout="NHWC", output_mask=(True, False, False))
        assert get_handler_name(gx) == HANDLER
        np.testing.assert_allclose(gx, expected, rtol=1e-5, atol=1e-5)
        del gx


@pytest.mark.parametrize("dtype, c", [(np.float32, 1024), (np.float64, 512)])
def test_weights_of_large_layers_are_packed_on_kept_blocks(dtype, c):
    """A layer whose weights are BIG bytes or more packs them (NCHW forward),
    flips them (the input gradient) and sums its weight gradient's partials in
    scratch of that size: on a kept block, so a call made again maps and faults
    in nothing; values against the float64 references on the new block and on
    the reused one (its old contents never show)."""
    rng = np.random.default_rng(11)
    k, hw = 1024, 4
    x = rng.standard_normal((1, c, hw, hw)).astype(dtype)
    gy = rng.standard_normal((1, k, hw, hw)).astype(dtype)
    tol = dict(rtol=2e-4, atol=2e-3) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for seed in (0, 1):  # the second call's scratch is the first's kept block
        w = rng.standard_normal((k, c, 3, 3)).astype(dtype) * 0.05
        assert w.nbytes >= BIG
        y = fastconv.conv2d(x, w, padding=1)
        np.testing.assert_allclose(y, ref.conv2d(x, w, padding=1), **tol)
        if seed == 0:
            assert _kernels.big_kept() >= w.nbytes  # the packed weights' block, kept
        gx, gw, _ = fastconv.conv2d_backward(gy, x, w, padding=1, output_mask=(True, True, False))
        gx_expected, gw_expected, _ = ref.conv2d_backward(gy, x, w, padding=1)
        np.testing.assert_allclose(gx, gx_expected, **tol)
        np.testing.assert_allclose(gw, gw_expected, **tol)
        del y, gx, gw


def test_limit_zero_keeps_nothing_and_release_gives_back():
    a = _signal(4)
    _kernels.big_keep(0)
    y = numpy_compat.convolve(a, [1.0, 1.0])
    del y
    assert _kernels.big_kept() == 0
    _kernels.big_keep(1 << 30)
    y = numpy_compat.convolve(a, [1.0, 1.0])
    del y
    kept = _kernels.big_kept()
    assert kept >= a.nbytes
    assert _kernels.big_release() == kept and _kernels.big_kept() == 0


def test_threads_allocating_and_freeing_large_results_at_once():
    k = [1.0, -2.0, 1.0]
    inputs = [_signal(10 + i, BIG // 8 + 1000 + 512 * i) for i in range(4)]
    expected = [np.convolve(a, k) for a in inputs]
    errors = []

    def work(i):
        try:
            for _ in range(3):
                y = numpy_compat.convolve(inputs[i], k)
                np.testing.assert_allclose(y, expected[i], rtol=1e-12, atol=1e-12)
                del y
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_uses_and_frees_kept_blocks():
    a = _signal(5)
    k = [2.0, 1.0]
    y = numpy_compat.convolve(a, k)
    del y  # kept in the parent, inherited by the child
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(r)
            ok = True
            for seed in (6, 7):
                b = _signal(seed)
                z = numpy_compat.convolve(b, k)
                ok &= bool(np.allclose(z, np.convolve(b, k), rtol=1e-12, atol=1e-12))
                del z
            os.write(w, b"ok" if ok else b"no")
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        said = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and said == b"ok"
    z = numpy_compat.convolve(a, k)  # the parent's kept block still serves
    np.testing.assert_allclose(z, np.convolve(a, k), rtol=1e-12, atol=1e-12)


def test_sizes_just_below_the_threshold_stay_numpys():
    n = BIG // 8 - 2  # the result has BIG // 8 - 1 doubles: below
    y = numpy_compat.convolve(np.ones(n), [1.0, 1.0])
    assert y.nbytes < BIG and get_handler_name(y) != HANDLER
    y = numpy_compat.convolve(np.ones(n + 1), [1.0, 1.0])
    assert y.nbytes == BIG and get_handler_name(y) == HANDLER
    np.testing.assert_array_equal(y[1:-1], 2.0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("extra", [-1, 0])
def test_the_threshold_by_bytes_for_every_width(dtype, extra):
    item = np.dtype(dtype).itemsize
    n = BIG // item + extra  # BIG bytes exactly, or one element fewer
    for shape in [(n,), (1, n, 1)]:
        a = _nnfront.empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert (get_handler_name(a) == HANDLER) == (a.nbytes >= BIG)
    assert get_handler_name(_nnfront.empty((0, BIG), dtype)) != HANDLER  # empty: NumPy's
