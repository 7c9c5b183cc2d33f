"""fastconv.nn.dense and dense_backward against NumPy in float64 (and central
differences), under every ISA: shapes through the matrix-vector path (up to 8
rows) and the tiled GEMM, N-d and 1-D inputs, non-contiguous inputs, out=,
the dtype kept, bad input; and the fused Adam step against Adam's formula."""
from __future__ import annotations

import numpy as np
import pytest
from _helpers import raises

import fastconv
from fastconv import _kernels, nn

DTYPES = [np.float32, np.float64]
# (batch, in_features, out_features): 1 and 8 rows take the matrix-vector path,
# 9 and more the GEMM; odd sizes cross the tiles' edges; (9, 65, 13) and (9, 300,
# 260) run batch x units, the kernel read in place but for a last part panel,
# 260 units in more than one chunk of units; 4,200 units or features put B's
# rows too far apart to read in place (a depth block spans more than an L2),
# so its panels are packed: the kernel's in (9, 300, 4200), x's in the kernel
# gradient of (300, 4200, 10)
SHAPES = [(1, 7, 5), (1, 300, 33), (3, 17, 10), (8, 64, 9), (9, 65, 13), (32, 200, 128), (300, 37, 70),
          (9, 300, 260), (9, 300, 4200), (300, 4200, 10)]


def _bound(x, kernel, dtype, bias=None):
    """|error| allowed per output: the sum's terms' magnitudes times k*eps."""
    k = kernel.shape[0]
    scale = np.abs(x.astype(np.float64)) @ np.abs(kernel.astype(np.float64))
    if bias is not None:
        scale = scale + np.abs(bias.astype(np.float64))
    return (k + 2) * np.finfo(dtype).eps * scale + np.finfo(dtype).tiny


def _operands(rng, dtype, *shapes):
    """Standard normal arrays of these shapes in `dtype`."""
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def _check(got, want, bound, what):
    err = np.abs(got.astype(np.float64) - want)
    assert (err <= bound).all(), f"{what}: max error {err.max():.3g}, allowed {bound.max():.3g}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_dense_matches_numpy(isa, restore_threads, dtype, shape, rng):
    n, k, m = shape
    x, kernel, bias = _operands(rng, dtype, (n, k), (k, m), (m,))
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        for b in (bias, None):
            y = nn.dense(x, kernel, b)
            assert y.dtype == dtype and y.shape == (n, m)
            want = x.astype(np.float64) @ kernel.astype(np.float64) + (0 if b is None else b.astype(np.float64))
            _check(y, want, _bound(x, kernel, dtype, b), f"dense {shape} {np.dtype(dtype).name}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_shapes_reach_the_batch_by_units_part_panel(isa, dtype):
    """SHAPES keep the batch x units product's packed part panel (units not a
    whole number of the tile's columns) under test at every ISA."""
    plans = [_kernels.dense_plan(n, k, m, dtype == np.float32) for n, k, m in SHAPES]
    assert any(p["algorithm"] == "dense-blocked" and m % p["tile"][1]
               for p, (n, k, m) in zip(plans, SHAPES)), plans


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_is_the_same_at_every_thread_count(restore_threads, dtype, rng):
    x = rng.standard_normal((40, 300)).astype(dtype)
    kernel = rng.standard_normal((300, 130)).astype(dtype)
    fastconv.set_num_threads(1)
    one = nn.dense(x, kernel)
    fastconv.set_num_threads(2)
    assert np.array_equal(nn.dense(x, kernel), one)


def test_dense_acts_on_the_last_axis(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    kernel = rng.standard_normal((6, 5))
    bias = rng.standard_normal(5)
    y = nn.dense(x, kernel, bias)
    assert y.shape == (2, 3, 4, 5)
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-12, atol=1e-12)
    one = nn.dense(x[0, 0, 0], kernel, bias)  # a single sample, 1-D
    assert one.shape == (5,)
    np.testing.assert_allclose(one, x[0, 0, 0] @ kernel + bias, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("how", ["transposed", "strided", "fortran", "list"])
def test_dense_takes_non_contiguous_inputs(how, rng):
    x = rng.standard_normal((11, 20)).astype(np.float32)
    kernel = rng.standard_normal((20, 9)).astype(np.float32)
    want = x.astype(np.float64) @ kernel.astype(np.float64)
    if how == "transposed":
        xs, ks = np.ascontiguousarray(x.T).T, np.ascontiguousarray(kernel.T).T
    elif how == "strided":
        big = np.zeros((22, 40), np.float32)
        big[::2, ::2] = x
        xs, ks = big[::2, ::2], kernel[:, :]
    elif how == "fortran":
        xs, ks = np.asfortranarray(x), np.asfortranarray(kernel)
    else:
        xs, ks = x.tolist(), kernel.astype(np.float64).tolist()  # lists are float64
        want = np.array(xs) @ np.array(ks)
    y = nn.dense(xs, ks)
    _check(y, want, _bound(np.asarray(xs), np.asarray(ks), y.dtype), how)


def test_dense_out(rng):
    x = rng.standard_normal((10, 6))
    kernel = rng.standard_normal((6, 6))
    want = x @ kernel
    out = np.empty((10, 6))
    assert nn.dense(x, kernel, out=out) is out
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    # a strided out, and out overlapping x (the result is made aside, then copied)
    big = np.zeros((10, 12))
    nn.dense(x, kernel, out=big[:, ::2])
    np.testing.assert_allclose(big[:, ::2], want, rtol=1e-12, atol=1e-12)
    assert (big[:, 1::2] == 0).all()
    xx = x.copy()
    nn.dense(xx, kernel, out=xx)
    np.testing.assert_allclose(xx, want, rtol=1e-12, atol=1e-12)


def test_dense_empty_shapes_match_numpy():
    for n, k, m in ((0, 3, 4), (2, 0, 3), (2, 3, 0), (0, 0, 0)):
        x, kernel, bias = np.ones((n, k)), np.ones((k, m)), np.arange(m, dtype=float)
        np.testing.assert_array_equal(nn.dense(x, kernel, bias), x @ kernel + bias)
        gy = np.ones((n, m))
        gx, gk, gb = nn.dense_backward(gy, x, kernel)
        np.testing.assert_array_equal(gx, gy @ kernel.T)
        np.testing.assert_array_equal(gk, x.T @ gy)
        np.testing.assert_array_equal(gb, gy.sum(axis=0))


def test_dense_bad_input():
    x, kernel = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    raises(lambda: nn.dense(x.astype(int), kernel), TypeError, "x", "int64", "float32")
    raises(lambda: nn.dense(x, kernel.astype(np.float64)), TypeError, "kernel", "float64", "float32")
    raises(lambda: nn.dense(x, kernel, np.ones(4)), TypeError, "bias", "float64")
    raises(lambda: nn.dense(x, np.ones(3, np.float32)), ValueError, "kernel", "(3,)", "2-D")
    raises(lambda: nn.dense(np.ones((2, 5), np.float32), kernel), ValueError, "x", "(2, 5)", "(3, 4)")
    raises(lambda: nn.dense(np.float32(1), kernel), ValueError, "x", "scalar")
    raises(lambda: nn.dense(x, kernel, np.ones(3, np.float32)), ValueError, "bias", "(4,)", "(3,)")
    raises(lambda: nn.dense(x, kernel, out=np.empty((2, 3), np.float32)), ValueError, "out", "(2, 3)", "(2, 4)")
    raises(lambda: nn.dense(x, kernel, out=np.empty((2, 4))), ValueError, "out", "float64")
    ro = np.empty((2, 4), np.float32)
    ro.flags.writeable = False
    raises(lambda: nn.dense(x, kernel, out=ro), ValueError, "out", "read-only")


# ---- dense_backward ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_dense_backward_matches_numpy(isa, restore_threads, dtype, shape, rng):
    n, k, m = shape
    x, kernel, gy = _operands(rng, dtype, (n, k), (k, m), (n, m))
    x64, k64, gy64 = x.astype(np.float64), kernel.astype(np.float64), gy.astype(np.float64)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        gx, gk, gb = nn.dense_backward(gy, x, kernel)
        assert gx.dtype == gk.dtype == gb.dtype == dtype
        _check(gx, gy64 @ k64.T, _bound(gy, kernel.T, dtype), "grad_x")
        _check(gk, x64.T @ gy64, _bound(x.T, gy, dtype), "grad_kernel")
        _check(gb, gy64.sum(axis=0), (n + 2) * np.finfo(dtype).eps * np.abs(gy64).sum(axis=0), "grad_bias")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 128, 10), (3, 17, 10), (300, 37, 70), (9, 65, 1),
                                   (40, 5, 300), (33, 300, 2)], ids=str)
def test_grad_kernel_is_the_same_either_way_round(isa, restore_threads, dtype, shape, rng):
    """dense_backward computes grad_kernel as gy^T @ x transposed where x^T @ gy would
    pad more (a few units): bit for bit the fused Adam sweep's grad_kernel, which is
    always x^T @ gy, and within the float64 bound of NumPy's."""
    n, k, m = shape
    x, kernel, gy = _operands(rng, dtype, (n, k), (k, m), (n, m))
    plan = {s.op: s for s in fastconv.explain(nn.dense_backward, gy, x, kernel).steps}
    turned = "transposed_out" in plan["grad_kernel"].blocking.get("flags", ())
    if shape == (32, 128, 10) and isa != "scalar" and dtype == np.float32:
        assert turned, plan["grad_kernel"]  # the lecture's Dense(10): 10 units in 32 columns
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        _, gk, _ = nn.dense_backward(gy, x, kernel, output_mask=(False, True, False))
        mom, vel = np.zeros_like(kernel), np.ones_like(kernel)
        _, fused, _ = nn.dense_backward(gy, x, kernel.copy(), output_mask=(False, True, False),
                                        adam=nn.AdamStep(mom, vel, 1e-3, 0.9, 0.999, 1e-7))
        assert np.array_equal(gk, fused), f"{shape}, turned={turned}, {threads} threads"
        _check(gk, x.astype(np.float64).T @ gy.astype(np.float64), _bound(x.T, gy, dtype),
               "grad_kernel")


def test_dense_backward_matches_central_differences(rng):
    x = rng.standard_normal((4, 5))
    kernel = rng.standard_normal((5, 3))
    bias = rng.standard_normal(3)
    c = rng.standard_normal((4, 3))  # L = sum(c * dense(x, kernel, bias))

    def loss(x_, k_, b_):
        return float((c * nn.dense(x_, k_, b_)).sum())

    gx, gk, gb = nn.dense_backward(c, x, kernel)
    h = 1e-6
    for arr, grad, at in ((x, gx, (2, 3)), (kernel, gk, (4, 1)), (bias, gb, (2,))):
        plus, minus = arr.copy(), arr.copy()
        plus[at] += h
        minus[at] -= h
        args = {id(x): 0, id(kernel): 1, id(bias): 2}[id(arr)]
        a_plus = [x, kernel, bias]
        a_minus = [x, kernel, bias]
        a_plus[args], a_minus[args] = plus, minus
        fd = (loss(*a_plus) - loss(*a_minus)) / (2 * h)
        assert abs(fd - grad[at]) < 1e-6 * max(1.0, abs(fd))


def test_dense_backward_nd_mask_and_out(rng):
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    kernel = rng.standard_normal((6, 4)).astype(np.float32)
    gy = rng.standard_normal((2, 3, 4)).astype(np.float32)
    gx, gk, gb = nn.dense_backward(gy, x, kernel)
    assert gx.shape == (2, 3, 6) and gk.shape == (6, 4) and gb.shape == (4,)
    x2, gy2 = x.reshape(6, 6).astype(np.float64), gy.reshape(6, 4).astype(np.float64)
    np.testing.assert_allclose(gx.reshape(6, 6), gy2 @ kernel.T.astype(np.float64), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gk, x2.T @ gy2, rtol=1e-5, atol=1e-5)
    assert nn.dense_backward(gy, x, kernel, output_mask=(False, True, False))[::2] == (None, None)
    only_x = nn.dense_backward(gy, x, kernel, output_mask=(True, False, False))
    assert only_x[1] is None and only_x[2] is None and np.array_equal(only_x[0], gx)
    bufs = (np.empty_like(gx), np.empty_like(gk), np.empty_like(gb))
    got = nn.dense_backward(gy, x, kernel, out=bufs)
    assert all(g is b for g, b in zip(got, bufs))
    for g, want in zip(got, (gx, gk, gb)):
        assert np.array_equal(g, want)


def test_dense_backward_bad_input():
    x, kernel = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    gy = np.ones((2, 4), np.float32)
    raises(lambda: nn.dense_backward(gy[:, :3], x, kernel), ValueError, "grad_out", "(2, 3)", "(2, 4)")
    raises(lambda: nn.dense_backward(gy.astype(np.float64), x, kernel), TypeError, "grad_out", "float64")
    raises(lambda: nn.dense_backward(gy, x, kernel, output_mask="yes"), ValueError, "output_mask")
    raises(lambda: nn.dense_backward(gy, x, kernel, out=np.empty(3)), ValueError, "out")
    raises(lambda: nn.dense_backward(gy, x, kernel, out=(None, np.empty((4, 3), np.float32), None)),
           ValueError, "out", "(4, 3)", "(3, 4)")
    m, v = np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)
    step = nn.AdamStep(m, v, 0.1, 0.9, 0.999, 1e-7)
    raises(lambda: nn.dense_backward(gy, x, np.asfortranarray(kernel), adam=step), ValueError, "kernel",
           "in place")
    raises(lambda: nn.dense_backward(gy, x, kernel.tolist(), adam=step), TypeError, "kernel", "list")
    bad = nn.AdamStep(np.zeros((4, 3), np.float32), v, 0.1, 0.9, 0.999, 1e-7)
    raises(lambda: nn.dense_backward(gy, x, kernel, adam=bad), ValueError, "adam.momentum", "(4, 3)", "(3, 4)")


def _adam_reference(p, g, m, v, alpha, b1, b2, eps):
    """Adam's formula in float64 (no flushing: the test's moments stay normal)."""
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    return p - alpha * m / (np.sqrt(v) + eps), m, v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 40, 7), (5, 30, 26), (33, 100, 50), (0, 6, 5)], ids=str)
def test_dense_backward_with_adam_matches_the_formula(isa, restore_threads, dtype, shape, rng):
    n, k, m = shape
    x = rng.standard_normal((n, k)).astype(dtype)
    kernel = rng.standard_normal((k, m)).astype(dtype)
    gy = rng.standard_normal((n, m)).astype(dtype)
    mom = (rng.standard_normal((k, m)) * 0.1).astype(dtype)
    vel = (rng.random((k, m)) * 0.1 + 0.01).astype(dtype)
    alpha, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    g64 = x.astype(np.float64).T @ gy.astype(np.float64)
    want_p, want_m, want_v = _adam_reference(kernel.astype(np.float64), g64, mom.astype(np.float64),
                                             vel.astype(np.float64), alpha, b1, b2, eps)
    want_gx = gy.astype(np.float64) @ kernel.astype(np.float64).T  # from the kernel before the step
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        p, mm, vv = kernel.copy(), mom.copy(), vel.copy()
        gx, gk, gb = nn.dense_backward(gy, x, p, output_mask=(True, True, False),
                                       adam=nn.AdamStep(mm, vv, alpha, b1, b2, eps))
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(gx, want_gx, rtol=tol, atol=tol * np.sqrt(max(m, 1)))
        np.testing.assert_allclose(gk, g64, rtol=tol, atol=tol * np.sqrt(max(n, 1)))
        np.testing.assert_allclose(mm, want_m, rtol=tol, atol=tol)
        np.testing.assert_allclose(vv, want_v, rtol=tol, atol=tol)
        np.testing.assert_allclose(p, want_p, rtol=tol, atol=tol)
        assert gb is None
        # without grad_kernel, the same step
        p2, m2, v2 = kernel.copy(), mom.copy(), vel.copy()
        gx2, gk2, _ = nn.dense_backward(gy, x, p2, output_mask=(True, False, False),
                                        adam=(m2, v2, alpha, b1, b2, eps))
        assert gk2 is None
        assert np.array_equal(p2, p) and np.array_equal(m2, mm) and np.array_equal(v2, vv)
        assert np.array_equal(gx2, gx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_adam_sweep_takes_every_row_group_once_at_any_thread_count(restore_threads, dtype, rng):
    """The fused sweep shares its row groups out in one range per thread, each thread
    going on to the others' ranges: every group is stepped exactly once, so the
    kernel, the moments and grad_x are the same bits at 1, 2 and 3 threads (a group
    stepped twice, or skipped, would differ)."""
    n, k, m = 9, 1000, 33  # 42 groups of 24 rows: ranges of 21 and 14
    x, kernel, gy = _operands(rng, dtype, (n, k), (k, m), (n, m))
    results = []
    for threads in (1, 2, 3):
        fastconv.set_num_threads(threads)
        p, mom, vel = kernel.copy(), np.zeros_like(kernel), np.full_like(kernel, 0.01)
        for _ in range(2):
            gx, gk, _ = nn.dense_backward(gy, x, p, output_mask=(True, True, False),
                                          adam=nn.AdamStep(mom, vel, 1e-3, 0.9, 0.999, 1e-7))
        results.append((p, mom, vel, gx, gk))
    for got in results[1:]:
        for a, b in zip(results[0], got):
            assert np.array_equal(a, b)
    _check(results[0][4], x.astype(np.float64).T @ gy.astype(np.float64), _bound(x.T, gy, dtype),
           "grad_kernel")
    assert not np.array_equal(results[0][0], kernel)  # the kernel moved


def _at_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """A writable copy of `a` starting `offset` bytes past a 64-byte boundary."""
    buf = np.empty(a.nbytes + 128, np.uint8)
    start = -buf.ctypes.data % 64 + offset
    out = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_and_its_adam_sweep_do_not_depend_on_where_a_line_starts(isa, restore_threads, dtype,
                                                                        rng):
    """The model layer keeps its weights and moments line-aligned (faster loads);
    NumPy's arrays start 16 bytes into a line. The forward and the backward with
    Adam give the same bits either way (and at 8, 32 and 48 bytes in), at 1 and
    2 threads, on the lecture's Dense(128) shape and one with part panels."""
    for n, k, m in [(32, 4732, 128), (9, 300, 260)]:
        x, kernel, gy = _operands(rng, dtype, (n, k), (k, m), (n, m))
        gy[rng.random(gy.shape) < 0.6] = 0  # ReLU and Dropout zeros: gx by gy's terms
        mom = (rng.standard_normal((k, m)) * 0.01).astype(dtype)
        vel = (rng.random((k, m)) * 0.01).astype(dtype)
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            results = []
            for offset in (0, 8, 16, 32, 48):
                p, mm, vv = (_at_offset(a, offset) for a in (kernel, mom, vel))
                xo = _at_offset(x, offset)
                y = nn.dense(xo, p)
                gx, gk, _ = nn.dense_backward(_at_offset(gy, offset), xo, p, output_mask=(True, True, False),
                                              adam=nn.AdamStep(mm, vv, 1e-3, 0.9, 0.999, 1e-7))
                results.append((y, gx, gk, p, mm, vv))
            for got in results[1:]:
                for a, b in zip(results[0], got):
                    assert np.array_equal(a, b)
        _check(results[0][0], x.astype(np.float64) @ kernel.astype(np.float64),
               _bound(x, kernel, dtype), "dense")
