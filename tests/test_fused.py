"""The model layer's fast paths against independent references, under every ISA:

- the dense layer's products (``_kernels.dense``/``dense_backward``, which Dense
  runs instead of BLAS) against float64 NumPy matmul;
- conv2d fused with the max-pool after it (``nn._conv2d_maxpool`` and its
  backward, which a Conv2D followed by a MaxPooling2D runs) against the
  separate ops, and their gradients against a slow float64 einsum;
- a Sequential model trained with the fused pair, and with Adam applied inside
  the Dense kernel-gradient product, against the same model with each fusion
  switched off.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import fastconv
from fastconv import _explain, _inference, _kernels, _nnfront, _training, nn
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fastconv.models import Sequential
import fastconv.optimizers

TOL = {np.float32: 2e-5, np.float64: 1e-12}


# ---- dense ------------------------------------------------------------------------------

DENSE_SHAPES = [
    (32, 4732, 128),  # the lecture's Dense(128) on 13x13x28 features
    (32, 128, 10),    # and its output layer
    (1, 1, 1),
    (7, 13, 5),       # nothing a multiple of a tile
    (33, 300, 65),    # one past the tiles
    (300, 70, 3),     # batch past the packed column chunk
    (5, 600, 9),      # depth past one block
    (1, 4732, 128),   # predict on one image: the small-batch kernel
    (3, 513, 70),     # small batch, partial depth block, partial column chunk
    (8, 1000, 200),   # the largest small batch: two passes of four rows
    (9, 40, 33),      # the smallest batch past it
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_dense_products_match_numpy(isa, rng, restore_threads, shape, dtype):
    n, k, m = shape
    x, w = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)
    b, gy = rng.standard_normal(m).astype(dtype), rng.standard_normal((n, m)).astype(dtype)
    originals = [a.copy() for a in (x, w, b, gy)]
    X, W, B, G = (a.astype(np.float64) for a in (x, w, b, gy))
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        y = np.full((n, m), np.nan, dtype)
        _kernels.dense(x, w, b, y)
        gx, gw = np.full((n, k), np.nan, dtype), np.full((k, m), np.nan, dtype)
        _kernels.dense_backward(gy, x, w, gx, gw)
        for got, want in ((y, X @ W + B), (gx, G @ W.T), (gw, X.T @ G)):
            scale = np.abs(want).max() + 1
            np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * scale * np.sqrt(k + n))
        y2 = np.empty_like(y)
        _kernels.dense(x, w, None, y2)
        np.testing.assert_allclose(y2, X @ W, rtol=0, atol=TOL[dtype] * (np.abs(X @ W).max() + 1) * np.sqrt(k))
    for a, orig in zip((x, w, b, gy), originals):
        np.testing.assert_array_equal(a, orig)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, m", [(4732, 128), (128, 10), (300, 65), (513, 17), (1, 1)])
def test_dense_rows_do_not_depend_on_the_batch(isa, rng, restore_threads, dtype, k, m):
    """Batches of 1 to 8 rows (the small-batch kernel) give, bit for bit, the
    rows a batch of 40 (the GEMM) gives: predict's promise that results do not
    depend on the batch size."""
    x = rng.standard_normal((40, k)).astype(dtype)
    w, b = rng.standard_normal((k, m)).astype(dtype), rng.standard_normal(m).astype(dtype)
    whole = np.empty((40, m), dtype)
    _kernels.dense(x, w, b, whole)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        for n in range(1, 10):
            for start in (0, 40 - n):
                y = np.full((n, m), np.nan, dtype)
                _kernels.dense(np.ascontiguousarray(x[start:start + n]), w, b, y)
                np.testing.assert_array_equal(y, whole[start:start + n],
                                              err_msg=f"rows {start}..{start + n} at {threads} threads")


def test_dense_backward_outputs_are_optional(rng):
    x, w, gy = (rng.standard_normal(s).astype(np.float32) for s in ((4, 6), (6, 3), (4, 3)))
    gw = np.empty((6, 3), np.float32)
    _kernels.dense_backward(gy, x, w, None, gw)
    np.testing.assert_allclose(gw, x.T @ gy, rtol=1e-5, atol=1e-5)
    gx = np.empty((4, 6), np.float32)
    _kernels.dense_backward(gy, x, w, gx, None)
    np.testing.assert_allclose(gx, gy @ w.T, rtol=1e-5, atol=1e-5)


def test_dense_empty_sizes():
    y = np.full((3, 2), np.nan)
    _kernels.dense(np.empty((3, 0)), np.empty((0, 2)), np.array([1.0, 2.0]), y)
    np.testing.assert_array_equal(y, [[1, 2]] * 3)
    gw = np.full((4, 2), np.nan)
    _kernels.dense_backward(np.empty((0, 2)), np.empty((0, 4)), np.ones((4, 2)), np.empty((0, 4)), gw)
    np.testing.assert_array_equal(gw, 0)


@pytest.mark.parametrize("call, match", [
    (lambda: _kernels.dense(np.ones((2, 3)), np.ones((4, 5)), None, np.empty((2, 5))), "rows"),
    (lambda: _kernels.dense(np.ones((2, 3)), np.ones((3, 5)), None, np.empty((2, 4))), "out has shape"),
    (lambda: _kernels.dense(np.ones((2, 3)), np.ones((3, 5)), np.ones(4), np.empty((2, 5))), "bias"),
    (lambda: _kernels.dense_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones((3, 5)), None, None),
     "grad_output"),
    (lambda: _kernels.dense_backward(np.ones((2, 5)), np.ones((2, 3)), np.ones((3, 5)),
                                     np.empty((3, 2)), None), "grad_input"),
    (lambda: _kernels.dense_backward(np.ones((2, 5)), np.ones((2, 3)), np.ones((3, 5)), None,
                                     np.empty((5, 3))), "grad_weight"),
])
def test_dense_shape_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- conv2d + max-pool ------------------------------------------------------------------

# (n, h, w, c, k, r, s, stride, padding, dilation, groups, pool)
CONV_POOL = [
    (32, 28, 28, 1, 28, 3, 3, 1, 0, 1, 1, (2, 2)),  # the lecture's layer
    (2, 9, 9, 3, 5, 3, 3, 1, 1, 1, 1, (2, 2)),
    (3, 17, 13, 4, 6, 3, 2, 2, "same", 1, 2, (3, 2)),
    (1, 8, 8, 2, 40, 1, 1, 1, 0, 1, 1, (2, 2)),
    (2, 20, 20, 16, 70, 3, 3, 1, 1, 2, 1, (2, 2)),
    (1, 5, 5, 1, 1, 5, 5, 1, 0, 1, 1, (1, 1)),
    (2, 40, 31, 3, 8, 3, 3, 1, 0, 1, 1, (3, 3)),  # odd leftovers past the last window
    # one channel, 3x3, 2x2 pool (direct kernels on AVX2 and AVX-512): more than 32 filters,
    # a leftover conv row and column, a single pooled pixel
    (3, 11, 16, 1, 70, 3, 3, 1, 0, 1, 1, (2, 2)),
    (2, 4, 4, 1, 5, 3, 3, 1, 0, 1, 1, (2, 2)),
    # the last 16 filters or fewer go several pooled pixels at a time (13 a row:
    # groups of 4 + 3 + 3 + 3; 10: 4 + 3 + 3; 5: 3 + 2)
    (2, 28, 28, 1, 16, 3, 3, 1, 0, 1, 1, (2, 2)),
    (2, 12, 22, 1, 48, 3, 3, 1, 0, 1, 1, (2, 2)),
    (1, 12, 11, 1, 9, 3, 3, 1, 0, 1, 1, (2, 2)),
    # ... and 'same' (their input rows copied with their padding): the lecture's size,
    # odd sizes (a padded row or column past the last window), one pooled row
    (2, 28, 28, 1, 28, 3, 3, 1, "same", 1, 1, (2, 2)),
    (3, 11, 16, 1, 70, 3, 3, 1, 1, 1, 1, (2, 2)),
    (2, 13, 12, 1, 33, 3, 3, 1, "same", 1, 1, (2, 2)),
    (1, 2, 7, 1, 5, 3, 3, 1, 1, 1, 1, (2, 2)),
]


def _slow_weight_grad(x, gz, r, s, stride, pt, pl, dil, groups):
    """gw (r, s, c/groups, k) of an NHWC convolution, in float64 from the definition."""
    n, h, w, c = x.shape
    _, oh, ow, k = gz.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, r * dil), (pl, s * dil), (0, 0)))
    cg, kg = c // groups, k // groups
    gw = np.zeros((r, s, cg, k))
    for i in range(r):
        for j in range(s):
            patch = xp[:, i * dil:i * dil + oh * stride:stride, j * dil:j * dil + ow * stride:stride]
            for g in range(groups):
                gw[i, j, :, g * kg:(g + 1) * kg] = np.einsum(
                    "nhwc,nhwk->ck", patch[..., g * cg:(g + 1) * cg], gz[..., g * kg:(g + 1) * kg])
    return gw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_POOL, ids=lambda c: "-".join(map(str, c)))
def test_conv2d_maxpool_matches_separate_ops(isa, rng, restore_threads, case, dtype):
    n, h, w, c, k, r, s, stride, padding, dil, groups, pool = case
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    wt = rng.standard_normal((r, s, c // groups, k)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    plan = nn._conv2d_maxpool_plan(x, wt, stride, padding, dil, groups, pool)
    assert plan is not None
    z = nn.conv2d(x, wt, b, stride, padding, dil, groups, layout="NHWC")
    y_ref, idx_ref = nn.max_pool2d(z, pool, layout="NHWC", return_indices=True)
    gy = rng.standard_normal(y_ref.shape).astype(dtype)
    gz = nn.max_pool2d_backward(gy, z, idx_ref, pool, layout="NHWC")
    pt = plan.conv.opts[4]
    pl = plan.conv.opts[5]
    gw_ref = _slow_weight_grad(x, gz, r, s, stride, pt, pl, dil, groups)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        y, codes = nn._conv2d_maxpool(plan, x, wt, b, return_codes=True)
        # the same conv kernels feed the pool: identical values, and each code names
        # the element max_pool2d's index names
        np.testing.assert_array_equal(y, y_ref)
        assert codes.dtype == np.uint8
        np.testing.assert_array_equal(_codes_from_indices(idx_ref, z.shape[2], pool), codes)
        y2, none = nn._conv2d_maxpool(plan, x, wt, None, return_codes=False)
        assert none is None
        np.testing.assert_allclose(y2, nn.max_pool2d(z - b, pool, layout="NHWC"),
                                   rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
        gw, gb = nn._conv2d_maxpool_backward(plan, gy, x, codes, wt.shape, True)
        scale = np.abs(gw_ref).max() + 1
        np.testing.assert_allclose(gw, gw_ref, rtol=0, atol=TOL[dtype] * scale * 10)
        np.testing.assert_allclose(gb, gy.astype(np.float64).sum(axis=(0, 1, 2)),
                                   rtol=0, atol=TOL[dtype] * 10 * np.sqrt(gy.size))
        gw2, gb2 = nn._conv2d_maxpool_backward(plan, gy, x, codes, wt.shape, False)
        assert gb2 is None
        np.testing.assert_array_equal(gw2, gw)


def _codes_from_indices(idx, width, pool):
    """max_pool2d's flat positions (h * width + w in the conv output plane) as places
    within each output's window, dy * pool_w + dx."""
    kh, kw = pool
    oy = np.arange(idx.shape[1])[None, :, None, None]
    ox = np.arange(idx.shape[2])[None, None, :, None]
    return ((idx // width - oy * kh) * kw + idx % width - ox * kw).astype(np.uint8)


def test_conv2d_maxpool_backward_rejects_foreign_codes(rng):
    x = rng.standard_normal((2, 10, 10, 1)).astype(np.float32)
    wt = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    plan = nn._conv2d_maxpool_plan(x, wt, 1, 0, 1, 1, (2, 2))
    y, codes = nn._conv2d_maxpool(plan, x, wt, None, return_codes=True)
    bad = codes.copy()
    bad[1, 3, 3, 2] = 4  # a 2x2 window has places 0..3
    with pytest.raises(ValueError, match="codes outside"):
        nn._conv2d_maxpool_backward(plan, np.ones_like(y), x, bad, wt.shape, True)
    # int64 positions (max_pool2d's indices) are not codes: refused, not cast
    with pytest.raises(ValueError, match="uint8"):
        nn._conv2d_maxpool_backward(plan, np.ones_like(y), x, codes.astype(np.int64), wt.shape, True)


def test_conv2d_maxpool_plan_declines_what_it_cannot_fuse(rng):
    x = rng.standard_normal((1, 3, 3, 1)).astype(np.float32)
    wt = rng.standard_normal((3, 3, 1, 2)).astype(np.float32)
    assert nn._conv2d_maxpool_plan(x, wt, 1, 0, 1, 1, (2, 2)) is None  # 1x1 output: no window


# ---- the model: fused vs unfused --------------------------------------------------------


def _fused_layers(model):
    """Indices of the layers whose Conv2D + MaxPooling2D step ran the fused kernel
    in the model's last forward pass (not the one-call inference pass)."""
    out, i = set(), 0
    for step in model._plan().steps:
        if isinstance(step, _training.ConvPoolStep) and step.fused:
            out.add(i)
        i += len(step.layers)
    return out


def _lecture(conv_activation=None):
    fastconv.utils.set_random_seed(3)
    model = Sequential([
        Conv2D(6, (3, 3), activation=conv_activation, input_shape=(12, 12, 1)),
        MaxPooling2D((2, 2)), Flatten(), Dense(16, activation="relu"), Dropout(0.2),
        Dense(4, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


@pytest.mark.parametrize("conv_activation", [None, "relu"])
def test_model_with_fused_conv_pool_trains_as_the_unfused_model(rng, monkeypatch, conv_activation):
    x = rng.random((70, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 70)
    fused = _lecture(conv_activation)
    history_fused = fused.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert fused._plan().ops[0] == "conv2d+maxpool"
    assert _fused_layers(fused) == {0}  # the pair did run fused (the last predict-free step)
    monkeypatch.setattr(_training, "conv_pool_plan", lambda *args: None)
    plain = _lecture(conv_activation)
    history_plain = plain.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert _fused_layers(plain) == set()
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(history_fused.history["loss"], history_plain.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(fused.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_adam_inside_the_dense_kernel_gradient_equals_the_optimizers_own_pass(rng, monkeypatch):
    x = rng.random((70, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 70)
    fused = _lecture()
    calls = []
    original = fastconv.optimizers.Adam.fused_update
    monkeypatch.setattr(fastconv.optimizers.Adam, "fused_update",
                        lambda self, p: calls.append(p.shape) or original(self, p))
    fused.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert calls and set(calls) == {(150, 16), (16, 4)}  # both Dense kernels, every step
    assert len(calls) == 2 * 10
    monkeypatch.setattr(fastconv.optimizers.Adam, "fused_update", lambda self, p: None)
    plain = _lecture()
    plain.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert fused.optimizer.iterations == plain.optimizer.iterations == 10


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(32, 4732, 128), (5, 300, 600), (7, 50, 3)],
                         ids=lambda s: "x".join(map(str, s)))
def test_dense_adam_input_gradient_by_nonzero_terms_has_the_gemms_bits(isa, rng, restore_threads,
                                                                       shape, dtype, threads):
    """A ReLU's and Dropout's gradient is mostly zeros, and the fused sweep then
    computes gx from gy's nonzero terms alone: the GEMM's bits (dense_backward's,
    zeros' signs included), float64 NumPy's values; and where the kernel holds an
    infinity or a NaN, the NaNs that 0 * inf gives the GEMM too."""
    fastconv.set_num_threads(threads)
    n, k, m = shape
    x = rng.standard_normal((n, k)).astype(dtype)
    # 40% nonzero, as the lecture's (36-43%), or less where the ISA's limit is lower,
    # at random places; the zeros +0 or -0
    share = min(40, _explain.dense_sparse_limit(isa) - 5) / 100
    keep = np.zeros(n * m, bool)
    keep[rng.permutation(n * m)[:int(share * n * m)]] = True
    gy = np.where(keep.reshape(n, m), rng.standard_normal((n, m)), 0.0).astype(dtype)
    gy[(gy == 0) & (rng.random((n, m)) < 0.5)] = -0.0
    assert 0 < np.count_nonzero(gy) * 100 <= _explain.dense_sparse_limit(isa) * gy.size
    for bad in (None, np.inf, np.nan):
        w = rng.standard_normal((k, m)).astype(dtype) * 0.1
        if bad is not None:
            w[k // 2, np.argmin(np.count_nonzero(gy, axis=0))] = bad
        gx = np.empty((n, k), dtype)
        _kernels.dense_backward(gy, x, w, gx, None)
        fused = np.empty((n, k), dtype)
        _kernels.dense_backward_adam(gy, x, w.copy(), fused, None, np.zeros_like(w), np.zeros_like(w),
                                     0.001, 0.9, 0.999, 1e-7)
        assert fused.tobytes() == gx.tobytes(), (bad, np.argwhere(fused != gx)[:5])
        with np.errstate(invalid="ignore"):
            want = gy.astype(np.float64) @ w.T.astype(np.float64)
        np.testing.assert_allclose(fused, want, rtol=TOL[dtype], atol=TOL[dtype] * 10)
        if bad is not None:
            assert np.isnan(fused[:, k // 2]).any()  # 0 * inf or NaN, as the GEMM gives


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_dense_adam_front_door_gives_the_memoryview_paths_bits(rng, dtype):
    """The model layer's Dense backward with Adam through the front door and
    through the general binding: the same kernel, the same bits; the front door
    declines (None, nothing written) what it does not take."""
    n, k, m = 9, 37, 21
    gy, x = rng.standard_normal((n, m)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    start = [rng.standard_normal((k, m)).astype(dtype), rng.random((k, m)).astype(dtype) * 0.1,
             rng.random((k, m)).astype(dtype) * 0.01]
    runs = []
    for front in (True, False):
        w, mom, vel = (a.copy() for a in start)
        gx, gw = np.empty((n, k), dtype), np.empty((k, m), dtype)
        args = (gy, x, w, gx, gw, mom, vel, 0.01, 0.9, 0.999, 1e-7)
        if front:
            assert _nnfront.dense_backward_adam(*args) == 0
        else:
            _kernels.dense_backward_adam(*args)
        runs.append((w, mom, vel, gx, gw))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    w = start[0].copy()
    w.flags.writeable = False
    mom = start[1].copy()
    assert _nnfront.dense_backward_adam(gy, x, w, None, None, mom, start[2].copy(), 0.01, 0.9, 0.999, 1e-7) is None
    assert _nnfront.dense_backward_adam(gy.astype(np.float16), x, start[0].copy(), None, None, mom,
                                        start[2].copy(), 0.01, 0.9, 0.999, 1e-7) is None
    np.testing.assert_array_equal(mom, start[1])


def test_fusion_skips_a_conv_that_needs_its_input_gradient(rng):
    fastconv.utils.set_random_seed(0)
    model = Sequential([
        Conv2D(4, 3, input_shape=(10, 10, 1)), Conv2D(3, 3), MaxPooling2D(2), Flatten(),
        Dense(2, activation="softmax"),
    ])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = rng.random((8, 10, 10, 1)).astype(np.float32), rng.integers(0, 2, 8)
    model.fit(x, y, epochs=1, verbose=0)
    assert model._plan().ops[:2] == ("conv2d", "conv2d+maxpool")
    assert _fused_layers(model) == set()  # the second conv feeds the first one's gradient
    # inference needs no gradient: the layer-by-layer path and the one-call pass
    # both fuse the second conv
    model._plans[(x.shape[1:], x.dtype)] = None  # no one-call pass
    model.predict(x, verbose=0)
    assert _fused_layers(model) == {1}
    model._plans.clear()
    assert _inference.forward_plan(model, x).ops == ("conv2d", "conv2d+maxpool", "dense")


# ---- the Adam step ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_step_is_numpys_arithmetic_bit_for_bit(isa, rng, restore_threads, dtype):
    """Every ISA's Adam kernel does the scalar kernel's IEEE operations in the same order
    (no FMA contraction), so it equals the same formula in NumPy exactly, moments below
    the floor (2**-100 in float32, 2**-996 in float64) stored as +0 included."""
    n = 70_001  # SIMD body, a masked/scalar tail, and two threaded chunks
    p, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    m, v = rng.standard_normal(n).astype(dtype), rng.random(n).astype(dtype)
    alpha, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    a, c1, c2, e = (dtype(t) for t in (alpha, 1 - b1, 1 - b2, eps))
    floor = dtype(2.0**-100 if dtype == np.float32 else 2.0**-996)
    tiny = np.finfo(dtype).tiny
    # moments that decay across the floor (a zero gradient), sit just above or below
    # it, or already sit among the subnormals
    g[:400] = 0
    m[:100] *= floor * 5
    m[100:200] = tiny * dtype(0.5)
    v[200:300] *= floor
    m[300:350] = floor * dtype(1.05)   # decays to 0.945 floor: flushed
    m[350:400] = -floor * dtype(1.2)   # decays to -1.08 floor: kept
    m_ref = m + (g - m) * c1
    v_ref = v + (g * g - v) * c2
    assert np.count_nonzero((m_ref != 0) & (np.abs(m_ref) < floor)) >= 150
    assert np.count_nonzero(np.abs(m_ref[350:400]) >= floor) == 50
    assert np.count_nonzero((v_ref != 0) & (np.abs(v_ref) < floor)) >= 90
    m_ref[np.abs(m_ref) < floor] = 0  # flushed to +0
    v_ref[np.abs(v_ref) < floor] = 0
    p_ref = p - a * m_ref / (np.sqrt(v_ref) + e)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        pp, mm, vv = p.copy(), m.copy(), v.copy()
        _kernels.adam_update(pp, g, mm, vv, alpha, b1, b2, eps)
        np.testing.assert_array_equal(mm, m_ref)
        np.testing.assert_array_equal(vv, v_ref)
        np.testing.assert_array_equal(pp, p_ref)
