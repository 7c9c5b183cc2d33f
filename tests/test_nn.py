"""fastconv.conv2d, relu and max_pool2d against PyTorch and the slow NumPy
references in reference.py, under every ISA, both layouts and both dtypes."""
from __future__ import annotations

import concurrent.futures
import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fastconv
import reference as ref
from reference import assert_close, assert_indices_equal

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
LAYOUTS = ("NCHW", "NHWC")
MEMORY = ("contiguous", "transposed", "strided", "reversed")


# ---- helpers -----------------------------------------------------------------


def in_memory(a: np.ndarray, how: str) -> np.ndarray:
    """The same values as `a`, laid out as `how` says: C order, reversed axis
    order (a transposed view), every other element of a NaN-filled buffer (so
    reading a gap shows up as NaN), or negative strides."""
    if how == "contiguous":
        return np.ascontiguousarray(a)
    if how == "transposed":
        return np.ascontiguousarray(a.transpose()).transpose()
    if how == "strided":
        base = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan, dtype=a.dtype)
        base[..., ::2] = a
        return base[..., ::2]
    if how == "reversed":
        flip = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[flip])[flip]
    raise AssertionError(how)


def nchw_to(layout, x):
    return x.transpose(0, 2, 3, 1) if layout == "NHWC" else x


def nchw_to_back(layout, y):
    """A 4-D result in `layout` -> NCHW."""
    return y.transpose(0, 3, 1, 2) if layout == "NHWC" else y


def weight_to(layout, w):
    """(K, C/g, R, S) -> (R, S, C/g, K) for NHWC (Keras' kernel layout)."""
    return w.transpose(2, 3, 1, 0) if layout == "NHWC" else w


def torch_conv2d(x, w, b, stride, padding, dilation, groups):
    with warnings.catch_warnings():  # 'same' with even kernels: torch pads a copy, and says so
        warnings.simplefilter("ignore", UserWarning)
        t = F.conv2d(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(w)),
                     None if b is None else torch.from_numpy(b), stride=stride, padding=padding,
                     dilation=dilation, groups=groups)
    return t.numpy()


# ---- conv2d cases -----------------------------------------------------------------
# Case lists are drawn once from a fixed seed; the data of each test comes from the
# per-test `rng` fixture.


def _spec_id(i, c):
    pad = c["padding"]
    pad = pad if isinstance(pad, str) else "p" + (f"{pad[0]}x{pad[1]}" if isinstance(pad, tuple) else str(pad))
    st = c["stride"] if isinstance(c["stride"], int) else f"{c['stride'][0]}x{c['stride'][1]}"
    dl = c["dilation"] if isinstance(c["dilation"], int) else f"{c['dilation'][0]}x{c['dilation'][1]}"
    g = "dw" if c["groups"] == c["c"] and c["groups"] > 1 else str(c["groups"])
    return (f"case{i}-{c['layout']}-n{c['n']}c{c['c']}h{c['h']}w{c['w']}k{c['k']}-{c['r']}x{c['s']}"
            f"-s{st}-d{dl}-g{g}-{pad}{'-bias' if c['bias'] else ''}-{c['memory']}"
            f"{'-unbatched' if c['unbatched'] else ''}")


def _maybe_int(gen, a, b):
    return a if a == b and gen.random() < 0.5 else (a, b)


def _conv_spec(gen, *, same="stride1"):
    """One random conv2d case. same: 'stride1' ('same' padding only at stride 1,
    what PyTorch accepts), 'never', or 'only' (always 'same', any stride)."""
    if gen.random() < 0.2:  # depthwise
        c = int(gen.integers(1, 7))
        groups, k = c, c * int(gen.integers(1, 3))
    else:
        groups = int(gen.choice([1, 1, 1, 2, 3]))
        c, k = groups * int(gen.integers(1, 5)), groups * int(gen.integers(1, 5))
    r = int(gen.choice([1, 2, 3, 3, 5, 7]))
    s = r if gen.random() < 0.6 else int(gen.choice([1, 2, 3, 5, 7]))
    sh, sw = int(gen.integers(1, 4)), int(gen.integers(1, 4))
    dh, dw = int(gen.choice([1, 1, 2, 3])), int(gen.choice([1, 1, 2, 3]))
    if r > 3:
        dh = min(dh, 2)
    if s > 3:
        dw = min(dw, 2)
    kind = gen.choice(["int", "pair", "valid", "same"])
    if same == "only":
        kind = "same"
    elif kind == "same" and same == "never":
        kind = "pair"
    if kind == "same" and same == "stride1":
        sh = sw = 1
    if kind == "int":
        ph = pw = int(gen.integers(0, 4))
        padding = ph
    elif kind == "pair":
        ph, pw = int(gen.integers(0, 4)), int(gen.integers(0, 4))
        padding = (ph, pw)
    else:
        ph = pw = 0
        padding = str(kind)
    if kind == "same":
        h, w = int(gen.integers(1, 12)), int(gen.integers(1, 12))
    else:
        h = max(1, dh * (r - 1) + 1 - 2 * ph) + int(gen.integers(0, 7))
        w = max(1, dw * (s - 1) + 1 - 2 * pw) + int(gen.integers(0, 7))
    return dict(
        n=int(gen.integers(1, 4)), c=c, h=h, w=w, k=k, r=r, s=s, groups=groups,
        stride=_maybe_int(gen, sh, sw), dilation=_maybe_int(gen, dh, dw), padding=padding,
        bias=bool(gen.random() < 0.5), layout=str(gen.choice(LAYOUTS)),
        memory=str(gen.choice(MEMORY)), unbatched=bool(gen.random() < 0.08),
    )


def _cases(seed, count, **kw):
    gen = np.random.default_rng(seed)
    specs = [_conv_spec(gen, **kw) for _ in range(count)]
    return [pytest.param(c, id=_spec_id(i, c)) for i, c in enumerate(specs)]


TORCH_CASES = _cases(1001, 150)
SLOW_CASES = _cases(2002, 80, same="never")
SAME_CASES = _cases(3003, 30, same="only")


def _mid(n, c, h, w, k, r, s, stride, padding, dilation, groups):
    return dict(n=n, c=c, h=h, w=w, k=k, r=r, s=s, stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=True, memory="contiguous", unbatched=False)


# Channel counts per group around the microkernel tiles (GEMM MR x NR = 4x8 / 4x4
# scalar, 6x16 / 6x8 AVX2, 8x32 / 8x16 AVX-512; indirect GEMM adds 6x64 AVX-512),
# reduction depths on both sides of the indirect-GEMM threshold (C/groups*R*S = 64)
# and past one packed block, single-channel deep kernels, more pixels than one
# block, a pointer table too big to share, and kernels whose taps take several
# cache-sized passes, so every edge path runs.
MID_SHAPES = [
    _mid(2, 33, 13, 13, 31, 3, 3, 1, 1, 1, 1),    # depth 297 > KC, 31 = 32 - 1
    _mid(1, 17, 11, 9, 17, 3, 3, 1, 1, 1, 1),     # 17 = 16 + 1
    _mid(1, 8, 16, 16, 32, 1, 1, 1, 0, 1, 1),     # whole tiles
    _mid(2, 16, 9, 9, 16, 3, 3, 1, 1, 1, 16),     # depthwise
    _mid(1, 5, 17, 19, 7, 7, 7, 1, 3, 1, 1),      # 7x7, depth 245
    _mid(1, 64, 8, 8, 33, 3, 3, 1, 1, 1, 1),      # depth 576: several KC blocks
    _mid(1, 6, 10, 10, 6, 5, 5, 2, 2, 1, 2),
    _mid(3, 9, 7, 7, 15, 3, 3, 2, 1, 1, 1),       # 15 = 16 - 1
    _mid(1, 4, 12, 12, 65, 1, 1, 1, 0, 1, 1),     # 65 = 2 * 32 + 1
    _mid(1, 12, 15, 15, 9, 3, 3, 1, 2, 2, 3),     # grouped, dilated
    _mid(2, 7, 23, 5, 5, 3, 3, 1, 1, 1, 1),       # narrow rows: many runs per panel
    _mid(1, 3, 6, 40, 47, 3, 3, 1, 1, 1, 1),
    _mid(1, 32, 6, 6, 128, 3, 3, 1, 1, 1, 4),     # 32 per group, depth 72
    _mid(1, 10, 9, 9, 10, 3, 3, 1, 1, 1, 2),      # 5 per group
    _mid(2, 6, 8, 8, 12, 2, 2, 1, 0, 1, 2),       # 6 per group
    _mid(1, 9, 8, 8, 9, 3, 3, 1, 1, 1, 1),        # 9 = 8 + 1
    _mid(1, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1),        # 4, 49 pixels
    _mid(1, 20, 11, 11, 7, 3, 3, (1, 2), (1, 0), (2, 1), 1),
    _mid(1, 3, 37, 41, 5, 3, 3, 1, 1, 1, 1),      # 1517 pixels: several pixel blocks
    _mid(2, 4, 30, 30, 8, 5, 5, 1, 2, 1, 1),      # 900 pixels, 8 channels
    _mid(1, 7, 9, 9, 17, 3, 3, 1, 1, 1, 1),       # depth 63: just below the threshold
    _mid(2, 16, 5, 7, 100, 2, 2, 1, 0, 1, 1),     # depth 64 exactly; 100 = 64 + 36
    _mid(1, 8, 9, 9, 64, 3, 3, 1, 1, 1, 1),       # 64 channels
    _mid(1, 8, 7, 7, 63, 3, 3, 1, 1, 1, 1),       # 63
    _mid(1, 16, 6, 6, 130, 3, 3, 1, 1, 1, 1),     # 130 = 2 * 64 + 2
    _mid(1, 16, 5, 5, 96, 3, 3, 2, 1, 1, 1),      # 96 = 3 * 32
    _mid(2, 1, 20, 20, 5, 9, 9, 1, 4, 1, 1),      # one channel, depth 81
    _mid(1, 4, 16, 16, 8, 9, 9, 1, 4, 1, 4),      # depthwise, depth 81
    _mid(1, 2, 300, 300, 3, 7, 7, 1, 3, 1, 1),    # 90000 pixels x 49 taps of pointers
    _mid(1, 128, 9, 9, 33, 7, 7, 1, 3, 1, 1),     # 128 x 49 taps: several tap passes
    _mid(1, 800, 4, 4, 8, 3, 3, 1, 1, 1, 1),      # 800 channels: one tap per pass
]
MID_CASES = [
    pytest.param(dict(c, layout=layout),
                 id=f"mid{i}-{layout}-n{c['n']}c{c['c']}h{c['h']}w{c['w']}k{c['k']}-{c['r']}x{c['s']}-g{c['groups']}")
    for i, c in enumerate(MID_SHAPES) for layout in LAYOUTS
]


def make_conv_inputs(case, dtype, rng):
    """(x, weight, bias) in the case's layout and memory form, plus the same
    values as NCHW arrays for the references."""
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"])).astype(dtype)
    w = rng.standard_normal((case["k"], case["c"] // case["groups"], case["r"], case["s"])).astype(dtype)
    b = rng.standard_normal(case["k"]).astype(dtype) if case["bias"] else None
    xl = in_memory(nchw_to(case["layout"], x), case["memory"])
    wl = in_memory(weight_to(case["layout"], w), case["memory"])
    bl = None if b is None else in_memory(b, case["memory"])
    if case["unbatched"]:
        xl = xl[0]
    return (xl, wl, bl), (x, w, b)


def run_fastconv_conv(case, x, w, b, padding=None):
    return fastconv.conv2d(x, w, b, stride=case["stride"],
                           padding=case["padding"] if padding is None else padding,
                           dilation=case["dilation"], groups=case["groups"], layout=case["layout"])


def to_layout_result(case, y_nchw):
    y = nchw_to(case["layout"], y_nchw)
    return y[0] if case["unbatched"] else y


def reduce_len(case):
    return case["c"] // case["groups"] * case["r"] * case["s"]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


# ---- conv2d ------------------------------------------------------------------------


@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_matches_torch(isa, dtype, case, rng):
    (x, w, b), (x0, w0, b0) = make_conv_inputs(case, dtype, rng)
    got = run_fastconv_conv(case, x, w, b)
    want = torch_conv2d(x0, w0, b0, case["stride"], case["padding"], case["dilation"], case["groups"])
    assert_close(got, to_layout_result(case, want), op="conv2d", isa=isa, dtype=dtype,
                 reduce=reduce_len(case), context=f"vs torch, x {x.shape}, weight {w.shape}")


@pytest.mark.parametrize("case", SLOW_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_matches_slow(isa, dtype, case, rng):
    (x, w, b), (x0, w0, b0) = make_conv_inputs(case, dtype, rng)
    got = run_fastconv_conv(case, x, w, b)
    pad = 0 if case["padding"] == "valid" else case["padding"]
    want = ref.conv2d(x0, w0, b0, case["stride"], pad, case["dilation"], case["groups"])
    assert_close(got, to_layout_result(case, want), op="conv2d", isa=isa, dtype=dtype,
                 reduce=reduce_len(case), context=f"vs slow, x {x.shape}, weight {w.shape}")


@pytest.mark.parametrize("case", SAME_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_same_matches_slow_with_tf_padding(isa, dtype, case, rng):
    """'same' at any stride: out = ceil(H / stride), the odd pad at the bottom/right
    (TensorFlow's rule), checked against explicit asymmetric padding."""
    (x, w, b), (x0, w0, b0) = make_conv_inputs(case, dtype, rng)
    got = run_fastconv_conv(case, x, w, b)
    (sh, sw), (dh, dw) = _pair(case["stride"]), _pair(case["dilation"])
    pad_h, oh = ref.tf_same_padding(case["h"], case["r"], sh, dh)
    pad_w, ow = ref.tf_same_padding(case["w"], case["s"], sw, dw)
    want = ref.conv2d(x0, w0, b0, (sh, sw), (pad_h, pad_w), (dh, dw), case["groups"])
    assert want.shape[2:] == (oh, ow)
    assert_close(got, to_layout_result(case, want), op="conv2d", isa=isa, dtype=dtype,
                 reduce=reduce_len(case), context=f"'same' vs slow, x {x.shape}, pads {pad_h, pad_w}")


@pytest.mark.parametrize("case", MID_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_tile_edges_match_torch(isa, dtype, case, rng):
    (x, w, b), (x0, w0, b0) = make_conv_inputs(case, dtype, rng)
    got = run_fastconv_conv(case, x, w, b)
    want = torch_conv2d(x0, w0, b0, case["stride"], case["padding"], case["dilation"], case["groups"])
    assert_close(got, to_layout_result(case, want), op="conv2d", isa=isa, dtype=dtype,
                 reduce=reduce_len(case), context=f"vs torch, x {x.shape}, weight {w.shape}")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("where", ["fresh", "strided", "aliases_x"])
def test_conv2d_out_matches_torch(isa, dtype, layout, where, rng):
    """out= receives the result (and is returned), wherever it lives, even on top
    of x (a 1x1 conv with K == C has out's shape equal to x's)."""
    x0 = rng.standard_normal((2, 5, 6, 7)).astype(dtype)
    w0 = rng.standard_normal((5, 5, 1, 1)).astype(dtype)
    want = nchw_to(layout, torch_conv2d(x0, w0, None, 1, 0, 1, 1))
    x = np.ascontiguousarray(nchw_to(layout, x0))
    if where == "fresh":
        out = np.empty(want.shape, dtype)
    elif where == "strided":
        out = np.full(want.shape[:-1] + (2 * want.shape[-1],), np.nan, dtype)[..., ::2]
    else:
        out = x
    got = fastconv.conv2d(x, weight_to(layout, w0), out=out, layout=layout)
    assert got is out
    assert_close(out, want, op="conv2d", isa=isa, dtype=dtype, reduce=5, context=f"out={where}")


def test_conv2d_list_input_matches_torch(rng):
    """Array-likes: nested lists are float64, so a float64 weight goes with them."""
    x0 = rng.standard_normal((1, 2, 5, 4))
    w0 = rng.standard_normal((3, 2, 2, 2))
    got = fastconv.conv2d(x0.tolist(), w0.tolist(), [0.5, -1.0, 2.0], padding=1)
    want = torch_conv2d(x0, w0, np.array([0.5, -1.0, 2.0]), 1, 1, 1, 1)
    assert_close(got, want, op="conv2d", isa="default", dtype=np.float64, reduce=8, context="lists")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["batch0", "k0", "c0_bias", "h0w0_padded_bias"])
def test_conv2d_empty_matches_slow(dtype, layout, shape):
    """Empty batch, no output channels, no input channels (bias only), and an
    empty image made non-empty by padding (zeros plus bias)."""
    n, c, k, h, r, pad = {"batch0": (0, 3, 2, 5, 3, 0), "k0": (2, 3, 0, 5, 3, 0),
                          "c0_bias": (2, 0, 3, 5, 3, 0), "h0w0_padded_bias": (1, 2, 3, 0, 1, 1)}[shape]
    x0 = np.ones((n, c, h, h), dtype)
    w0 = np.ones((k, c, r, r), dtype)
    b0 = np.arange(k, dtype=dtype) + 1 if shape.endswith("bias") else None
    oh = h + 2 * pad - r + 1
    want = np.zeros((n, k, oh, oh)) + (0 if b0 is None else b0[None, :, None, None])
    if n and c:
        want = ref.conv2d(x0, w0, b0, 1, pad)
    got = fastconv.conv2d(nchw_to(layout, x0), weight_to(layout, w0), b0, padding=pad, layout=layout)
    assert_close(got, nchw_to(layout, want), op="conv2d", isa="default", dtype=dtype, context=shape)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_nan_inf_inputs_match_slow(isa, dtype, layout, rng):
    """NaN and +-inf in x reach exactly the outputs whose windows hold them
    (zero padding and tile padding must not create or hide any)."""
    x0 = rng.standard_normal((2, 5, 9, 11)).astype(dtype)
    x0[rng.random(x0.shape) < 0.02] = np.nan
    x0[rng.random(x0.shape) < 0.01] = np.inf
    x0[rng.random(x0.shape) < 0.01] = -np.inf
    w0 = rng.standard_normal((7, 5, 3, 3)).astype(dtype)
    b0 = rng.standard_normal(7).astype(dtype)
    got = fastconv.conv2d(nchw_to(layout, x0), weight_to(layout, w0), b0, padding=(1, 2), stride=(1, 2),
                          layout=layout)
    with np.errstate(invalid="ignore"):
        want = ref.conv2d(x0, w0, b0, (1, 2), (1, 2))
    assert np.isnan(want).any() and np.isfinite(want).any()
    assert_close(got, nchw_to(layout, want), op="conv2d", isa=isa, dtype=dtype, reduce=45,
                 context="NaN/inf in x")


@pytest.mark.parametrize("op", ["conv2d", "relu", "max_pool2d"])
def test_byteswapped_float64_matches_slow(op):
    x0 = np.arange(-12.0, 12.0).reshape(1, 2, 3, 4)
    x = x0.astype(">f8")
    if op == "conv2d":
        w0 = np.ones((1, 2, 2, 2))
        got, want = fastconv.conv2d(x, w0.astype(">f8")), ref.conv2d(x0, w0)
    elif op == "relu":
        got, want = fastconv.relu(x), ref.relu(x0)
    else:
        got, want = fastconv.max_pool2d(x, 2), ref.max_pool2d(x0, 2)[0]
    np.testing.assert_allclose(got, want)


# ---- the lecture's worked example ---------------------------------------------------------

LECTURE_FILTERS = np.array([
    [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],   # diagonal
    [[1, -1, 1], [-1, 1, -1], [1, -1, 1]],     # the X
    [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]],   # anti-diagonal
], dtype=np.float64)


def lecture_image():
    """The lecture's 9x9 'X': +1 on both diagonals of the inner 7x7, -1 elsewhere
    (the border is all -1; that is what gives 0.78 = 7/9 in the corner)."""
    img = -np.ones((9, 9))
    for i in range(1, 8):
        img[i, i] = img[i, 8 - i] = 1
    return img


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_lecture_example_matches_lecture_numbers(isa, dtype, layout):
    img = lecture_image().astype(dtype)
    filt = LECTURE_FILTERS.astype(dtype)[:, None]            # (3, 1, 3, 3)
    x = nchw_to(layout, img[None, None])
    fmap = fastconv.conv2d(x, weight_to(layout, filt), layout=layout) / dtype(9)
    fmap_nchw = fmap.transpose(0, 3, 1, 2) if layout == "NHWC" else fmap
    assert fmap_nchw.shape == (1, 3, 7, 7)
    np.testing.assert_allclose(fmap_nchw[0, 0, 0], [0.78, -0.11, 0.11, 0.33, 0.56, -0.11, 0.33],
                               atol=0.005, err_msg=f"filter 1, first row [{isa}, {layout}]")
    want = ref.conv2d(img[None, None], filt) / 9
    assert_close(fmap_nchw, want, op="conv2d", isa=isa, dtype=dtype, reduce=9, context="lecture")
    # the symmetry the lecture shows
    np.testing.assert_array_equal(want[0, 2], want[0, 0][:, ::-1])
    assert want[0, 1, 3, 3] == 1.0
    np.testing.assert_allclose(fmap_nchw[0, 2], fmap_nchw[0, 0][:, ::-1], atol=1e-6)
    np.testing.assert_allclose(fmap_nchw[0, 1, 3, 3], 1.0, atol=1e-6)

    rect = fastconv.relu(fmap)
    rect_nchw = rect.transpose(0, 3, 1, 2) if layout == "NHWC" else rect
    assert_close(rect_nchw, np.maximum(want, 0), op="relu", isa=isa, dtype=dtype, reduce=9)
    assert (rect >= 0).all() and ((rect == 0) == (fmap <= 0)).all()

    pooled = fastconv.max_pool2d(rect, 2, stride=2, ceil_mode=True, layout=layout)
    pooled_nchw = pooled.transpose(0, 3, 1, 2) if layout == "NHWC" else pooled
    assert pooled_nchw.shape == (1, 3, 4, 4)
    np.testing.assert_allclose(
        pooled_nchw[0, 0],
        [[1, .33, .56, .33], [.33, 1, .33, .56], [.56, .33, 1, .11], [.33, .56, .11, .78]],
        atol=0.005, err_msg=f"filter 1 pooled [{isa}, {layout}]")
    want_pool, _ = ref.max_pool2d(np.maximum(want, 0), 2, 2, 0, ceil_mode=True)
    assert_close(pooled_nchw, want_pool, op="max_pool2d", isa=isa, dtype=dtype, reduce=9,
                 context="lecture")


# ---- relu ---------------------------------------------------------------------------

RELU_SIZES = [*range(1, 71), 1000003]


def relu_data(n, dtype, rng):
    """Normal values sprinkled with NaN, +-inf, -0.0 and exact zeros."""
    x = rng.standard_normal(n).astype(dtype)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-30], dtype=dtype)
    pick = rng.random(n) < 0.1
    x[pick] = rng.choice(specials, size=int(pick.sum()))
    return x


@pytest.mark.parametrize("n", RELU_SIZES, ids=[f"n{n}" for n in RELU_SIZES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_matches_numpy(isa, dtype, n, rng):
    x = relu_data(n, dtype, rng)
    if n >= 3:
        x[n // 2] = np.nan  # always at least one NaN
    got = fastconv.relu(x)
    assert_close(got, ref.relu(x), op="relu", isa=isa, dtype=dtype, exact=True, context=f"n={n}")


@pytest.mark.parametrize("n", [1, 7, 8, 9, 16, 33, 64, 65, 1000003])
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_in_place_matches_numpy(isa, dtype, n, rng):
    x = relu_data(n, dtype, rng)
    want = ref.relu(x)
    got = fastconv.relu(x, out=x)
    assert got is x
    assert_close(x, want, op="relu", isa=isa, dtype=dtype, exact=True, context="out=x")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["transposed", "strided", "reversed"])
def test_relu_in_place_noncontiguous_matches_numpy(isa, dtype, how, rng):
    x = in_memory(relu_data(5 * 37, dtype, rng).reshape(5, 37), how)
    want = ref.relu(x)
    got = fastconv.relu(x, out=x)
    assert got is x
    assert_close(x, want, op="relu", isa=isa, dtype=dtype, exact=True, context=f"out=x, {how}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_how", ["contiguous", "transposed", "strided", "reversed"])
def test_relu_out_separate_matches_numpy(isa, dtype, out_how, rng):
    x = relu_data(3 * 41, dtype, rng).reshape(3, 41)
    x_before = x.copy()
    out = in_memory(np.full_like(x, 7), out_how)
    got = fastconv.relu(x, out=out)
    assert got is out
    assert_close(out, ref.relu(x_before), op="relu", isa=isa, dtype=dtype, exact=True, context=f"out {out_how}")
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_out_overlapping_input_matches_numpy(isa, dtype, rng):
    """out shifted one element against x in the same buffer: the result is
    relu of x as it was before the call (NumPy's rule for overlapping out)."""
    buf = relu_data(101, dtype, rng)
    x, out = buf[:-1], buf[1:]
    want = ref.relu(x.copy())
    fastconv.relu(x, out=out)
    assert_close(out, want, op="relu", isa=isa, dtype=dtype, exact=True, context="overlapping out")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["transposed", "strided", "reversed"])
@pytest.mark.parametrize("shape", [(4, 5, 6), (70, 3), (1, 129)])
def test_relu_noncontiguous_matches_numpy(isa, dtype, how, shape, rng):
    x = in_memory(relu_data(math.prod(shape), dtype, rng).reshape(shape), how)
    assert_close(fastconv.relu(x), ref.relu(x), op="relu", isa=isa, dtype=dtype, exact=True,
                 context=how)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (0, 0)])
def test_relu_empty_matches_numpy(isa, dtype, shape):
    x = np.empty(shape, dtype)
    assert_close(fastconv.relu(x), ref.relu(x), op="relu", isa=isa, dtype=dtype, exact=True)
    out = np.empty(shape, dtype)
    assert fastconv.relu(x, out=out) is out


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_matches_torch(isa, dtype, rng):
    x = relu_data(1000, dtype, rng).reshape(10, 100)
    want = F.relu(torch.from_numpy(x)).numpy()
    assert_close(fastconv.relu(x), want, op="relu", isa=isa, dtype=dtype, exact=True, context="vs torch")


def test_relu_list_and_scalar_match_numpy():
    assert_close(fastconv.relu([-1.5, 0.0, 2.0, float("nan")]), np.array([0.0, 0.0, 2.0, np.nan]),
                 op="relu", isa="default", dtype=np.float64, exact=True, context="list")
    got = fastconv.relu(np.float32(-3.0))
    assert np.shape(got) == () and got.dtype == np.float32 and got == 0


# ---- max_pool2d ---------------------------------------------------------------------


def _pool_spec(gen, dilated=False):
    """One random pooling case; `dilated` draws dilations 1-3 per axis (after the
    other draws, so the cases without it stay as they were) and sizes the input
    for the dilated span, redrawing where a window would cover padding only."""
    kh, kw = int(gen.integers(1, 5)), int(gen.integers(1, 5))
    kernel = _maybe_int(gen, kh, kw)
    choice = gen.random()
    if choice < 0.3:
        stride, (sh, sw) = None, (kh, kw)
    else:
        sh, sw = int(gen.integers(1, 4)), int(gen.integers(1, 4))
        stride = _maybe_int(gen, sh, sw)
    ph, pw = int(gen.integers(0, kh // 2 + 1)), int(gen.integers(0, kw // 2 + 1))
    padding = _maybe_int(gen, ph, pw)
    h = max(1, kh - 2 * ph) + int(gen.integers(0, 7))
    w = max(1, kw - 2 * pw) + int(gen.integers(0, 7))
    case = dict(n=int(gen.integers(1, 3)), c=int(gen.integers(1, 5)), h=h, w=w, kernel=kernel,
                stride=stride, padding=padding, dilation=1, ceil_mode=bool(gen.random() < 0.5),
                data=str(gen.choice(["normal", "ties", "nan", "inf"])),
                layout=str(gen.choice(LAYOUTS)), memory=str(gen.choice(MEMORY)),
                unbatched=bool(gen.random() < 0.15))
    if dilated:
        while True:
            dh, dw = int(gen.integers(1, 4)), int(gen.integers(1, 4))
            h = max(1, dh * (kh - 1) + 1 - 2 * ph) + int(gen.integers(0, 7))
            w = max(1, dw * (kw - 1) + 1 - 2 * pw) + int(gen.integers(0, 7))
            oh = ref.pool_out_size(h, kh, sh, ph, case["ceil_mode"], dh)
            ow = ref.pool_out_size(w, kw, sw, pw, case["ceil_mode"], dw)
            if (ref.pool_windows_covered(h, kh, sh, ph, dh, oh)
                    and ref.pool_windows_covered(w, kw, sw, pw, dw, ow)):
                break
        case.update(h=h, w=w, dilation=_maybe_int(gen, dh, dw))
    return case


def _pool_id(i, c):
    f = lambda v: "None" if v is None else (f"{v[0]}x{v[1]}" if isinstance(v, tuple) else str(v))
    dil = "" if c["dilation"] == 1 else f"-d{f(c['dilation'])}"
    return (f"case{i}-{c['layout']}-n{c['n']}c{c['c']}h{c['h']}w{c['w']}-k{f(c['kernel'])}"
            f"-s{f(c['stride'])}-p{f(c['padding'])}{dil}{'-ceil' if c['ceil_mode'] else ''}-{c['data']}"
            f"-{c['memory']}{'-unbatched' if c['unbatched'] else ''}")


def _pool_cases(seed, count, dilated=False):
    gen = np.random.default_rng(seed)
    specs = [_pool_spec(gen, dilated) for _ in range(count)]
    return [pytest.param(c, id=("dilated-" if dilated else "") + _pool_id(i, c))
            for i, c in enumerate(specs)]


POOL_CASES = _pool_cases(4004, 60) + _pool_cases(6006, 40, dilated=True)


def _wide_pool_cases(seed, dilated=False):
    """Rows of many outputs, so the SIMD row kernels (8 or 16 outputs per pass)
    run whole passes and every tail length: output widths around 8, 16, 32."""
    gen = np.random.default_rng(seed)
    out = []
    for i, ow in enumerate([7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 64, 65]):
        c = _pool_spec(gen, dilated)
        kw = c["kernel"][1] if isinstance(c["kernel"], tuple) else c["kernel"]
        pw = c["padding"][1] if isinstance(c["padding"], tuple) else c["padding"]
        dw = c["dilation"][1] if isinstance(c["dilation"], tuple) else c["dilation"]
        st = c["stride"]
        sw = kw if st is None else (st[1] if isinstance(st, tuple) else st)
        c["w"] = max(1, (ow - 1) * sw + dw * (kw - 1) + 1 - 2 * pw)
        c["ceil_mode"] = False
        c["data"] = ("normal", "ties", "nan", "inf")[i % 4]
        c["layout"] = "NCHW" if i % 3 else "NHWC"
        assert ref.pool_windows_covered(c["w"], kw, sw, pw, dw, ow)
        out.append(pytest.param(c, id=f"wide-ow{ow}-" + ("dilated-" if dilated else "") + _pool_id(i, c)))
    return out


POOL_CASES += _wide_pool_cases(5005) + _wide_pool_cases(7007, dilated=True)


def pool_data(case, dtype, rng):
    shape = (case["n"], case["c"], case["h"], case["w"])
    kind = case["data"]
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.15] = np.nan
    elif kind == "inf":
        x[rng.random(shape) < 0.5] = -np.inf
        x[rng.random(shape) < 0.05] = np.inf
    return x


def run_pool(case, x, **kw):
    """fastconv.max_pool2d with the case's options, positional in PyTorch's order."""
    return fastconv.max_pool2d(x, case["kernel"], case["stride"], case["padding"], case["dilation"],
                               case["ceil_mode"], layout=case["layout"], **kw)


def pool_inputs(case, dtype, rng):
    x0 = pool_data(case, dtype, rng)
    if case["unbatched"]:
        x0 = x0[:1]
    x = in_memory(nchw_to(case["layout"], x0), case["memory"])
    return (x[0] if case["unbatched"] else x), x0


def from_layout(case, y):
    """fastconv result -> NCHW with a batch axis."""
    y = y[None] if case["unbatched"] else y
    return y.transpose(0, 3, 1, 2) if case["layout"] == "NHWC" else y


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_matches_torch(isa, dtype, case, rng):
    x, x0 = pool_inputs(case, dtype, rng)
    t = torch.from_numpy(x0)
    stride = case["stride"] if case["stride"] is not None else None
    want, want_idx = F.max_pool2d(t, case["kernel"], stride, case["padding"], case["dilation"],
                                  ceil_mode=case["ceil_mode"], return_indices=True)
    ctx = f"vs torch, x {x.shape}"
    if case["layout"] == "NHWC":  # values from torch's channels-last kernel too
        want_cl = F.max_pool2d(t.contiguous(memory_format=torch.channels_last), case["kernel"], stride,
                               case["padding"], case["dilation"], ceil_mode=case["ceil_mode"])
        assert_close(want_cl.numpy(), want.numpy(), op="torch channels_last", isa="-", dtype=dtype, exact=True)
    y = run_pool(case, x)
    y2, idx = run_pool(case, x, return_indices=True)
    assert_close(from_layout(case, y), want.numpy(), op="max_pool2d", isa=isa, dtype=dtype, exact=True,
                 context=ctx)
    assert_close(from_layout(case, y2), want.numpy(), op="max_pool2d", isa=isa, dtype=dtype, exact=True,
                 context=ctx + ", return_indices")
    assert_indices_equal(from_layout(case, idx), want_idx.numpy(), op="max_pool2d", isa=isa, dtype=dtype,
                         context=ctx)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_matches_slow(isa, dtype, case, rng):
    x, x0 = pool_inputs(case, dtype, rng)
    want, want_idx = ref.max_pool2d(x0, case["kernel"], case["stride"], case["padding"], case["dilation"],
                                    case["ceil_mode"])
    y = run_pool(case, x)
    y2, idx = run_pool(case, x, return_indices=True)
    ctx = f"vs slow, x {x.shape}"
    assert_close(from_layout(case, y), want, op="max_pool2d", isa=isa, dtype=dtype, exact=True, context=ctx)
    assert_close(from_layout(case, y2), want, op="max_pool2d", isa=isa, dtype=dtype, exact=True, context=ctx)
    assert_indices_equal(from_layout(case, idx), want_idx, op="max_pool2d", isa=isa, dtype=dtype, context=ctx)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_rules_match_torch(dtype, layout):
    """Hand-made windows: NaN propagates and the last NaN gives the index; ties
    give the first maximum; an all -inf window gives its first element."""
    nan, inf = np.nan, np.inf
    plane = np.array([
        [1, nan, 3, 3, -inf, -inf],
        [nan, 2, 3, 3, -inf, -inf],
        [0, 0, nan, 5, 7, 7],
        [0, 0, 5, nan, 7, 7],
    ], dtype=dtype)
    x0 = plane[None, None]
    want, want_idx = F.max_pool2d(torch.from_numpy(x0), 2, return_indices=True)
    assert np.isnan(want.numpy()[0, 0, 0, 0]) and want_idx[0, 0, 0, 0] == 6  # last NaN of the window
    y, idx = fastconv.max_pool2d(nchw_to(layout, x0), 2, layout=layout, return_indices=True)
    if layout == "NHWC":
        y, idx = y.transpose(0, 3, 1, 2), idx.transpose(0, 3, 1, 2)
    assert_close(y, want.numpy(), op="max_pool2d", isa="default", dtype=dtype, exact=True)
    assert_indices_equal(idx, want_idx.numpy(), op="max_pool2d", isa="default", dtype=dtype)


# ---- the signature: PyTorch's positional order and argument forms -----------------------

SIGNATURE_CALLS = {  # arguments after x, passed alike to fastconv and torch
    "k3-s2-p1-d1-positional": ((3, 2, 1, 1), {}),
    "k3-s2-p1-d2-ceil-positional": ((3, 2, 1, 2, True), {}),
    "k3-s2-p1-d2-ceil-indices-positional": ((3, 2, 1, 2, True, True), {}),
    "indices-false-positional": ((2, None, 0, 1, False, False), {}),
    "stride-one-tuple": ((3,), {"stride": (2,)}),
    "stride-empty-tuple": ((3,), {"stride": ()}),
    "stride-empty-list": ((3,), {"stride": []}),
    "kernel-one-tuple": (((3,),), {}),
    "kernel-one-list-padding-one-tuple": (([3],), {"padding": (1,)}),
    "dilation-one-tuple": ((3,), {"dilation": (2,)}),
    "pairs-by-keyword": (((2, 3),), {"stride": (1, 2), "padding": (1, 1), "dilation": (3, 2), "ceil_mode": True}),
    "numpy-ints": ((np.int64(3),), {"stride": np.int64(2), "dilation": np.int64(2)}),
}


@pytest.mark.parametrize("name", SIGNATURE_CALLS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool2d_signature_matches_torch(name, layout, rng):
    """fastconv.max_pool2d(x, *args, **kw) gives torch's F.max_pool2d(x, *args, **kw):
    the positional order kernel_size, stride, padding, dilation, ceil_mode,
    return_indices, and one-element sequences and empty strides read as torch reads them."""
    args, kw = SIGNATURE_CALLS[name]
    x0 = rng.standard_normal((2, 3, 8, 8))
    want = F.max_pool2d(torch.from_numpy(x0), *args, **kw)
    got = fastconv.max_pool2d(nchw_to(layout, x0), *args, layout=layout, **kw)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == 2, f"{name}: expected (y, indices), got {type(got)}"
        assert_indices_equal(nchw_to_back(layout, got[1]), want[1].numpy(), op="max_pool2d", isa="default",
                             dtype=np.float64, context=name)
        got, want = got[0], want[0]
    assert isinstance(got, np.ndarray), f"{name}: expected an array, got {type(got)}"
    assert_close(nchw_to_back(layout, got), want.numpy(), op="max_pool2d", isa="default", dtype=np.float64,
                 exact=True, context=name)


def test_max_pool2d_fifth_argument_is_dilation_as_in_torch(rng):
    """max_pool2d(x, 3, 2, 1, 1) on 8x8 is kernel 3, stride 2, padding 1 and dilation 1:
    4x4 as torch gives (read as ceil_mode=True it would be 5x5)."""
    x = rng.standard_normal((1, 2, 8, 8))
    got = fastconv.max_pool2d(x, 3, 2, 1, 1)
    want = F.max_pool2d(torch.from_numpy(x), 3, 2, 1, 1)
    assert got.shape == tuple(want.shape) == (1, 2, 4, 4)
    assert_close(got, want.numpy(), op="max_pool2d", isa="default", dtype=np.float64, exact=True)


def test_max_pool2d_numpy_bool_matches_torch_bool(rng):
    """NumPy's bools pass where a bool is asked (torch wants Python's own)."""
    x = rng.standard_normal((1, 2, 7, 7))
    y, idx = fastconv.max_pool2d(x, 2, ceil_mode=np.True_, return_indices=np.True_)
    want, want_idx = F.max_pool2d(torch.from_numpy(x), 2, ceil_mode=True, return_indices=True)
    assert_close(y, want.numpy(), op="max_pool2d", isa="default", dtype=np.float64, exact=True)
    assert_indices_equal(idx, want_idx.numpy(), op="max_pool2d", isa="default", dtype=np.float64)


def test_max_pool2d_numpy_array_sizes_match_torch_ints(rng):
    """NumPy arrays as sizes (torch takes none): a 0-d array is its int, a 1-element
    array is used for both axes, an empty stride means kernel_size."""
    x = rng.standard_normal((1, 2, 9, 8))
    got = fastconv.max_pool2d(x, np.array(3), np.array([]), np.array([1]), np.array([2, 1]))
    want = F.max_pool2d(torch.from_numpy(x), 3, 3, 1, (2, 1))
    assert_close(got, want.numpy(), op="max_pool2d", isa="default", dtype=np.float64, exact=True,
                 context="array sizes")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool2d_one_tap_axis_ignores_its_dilation(isa, layout, rng):
    """An axis of kernel size 1 reads one element whatever its dilation (2**62 here):
    torch's result at dilation 1 on that axis."""
    x0 = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    want, want_idx = F.max_pool2d(torch.from_numpy(x0), (1, 3), (2, 1), (0, 1), (1, 2), return_indices=True)
    y, idx = fastconv.max_pool2d(nchw_to(layout, x0), (1, 3), (2, 1), (0, 1), (2**62, 2), False, True,
                                 layout=layout)
    assert_close(nchw_to_back(layout, y), want.numpy(), op="max_pool2d", isa=isa, dtype=np.float32, exact=True,
                 context="kernel (1, 3), dilation (2**62, 2)")
    assert_indices_equal(nchw_to_back(layout, idx), want_idx.numpy(), op="max_pool2d", isa=isa,
                         dtype=np.float32)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_dilated_nan_rules_match_torch(isa, dtype, layout):
    """Dilated windows skip the elements between their taps: a NaN or a larger
    value there must not count; a NaN on a tap propagates (last NaN's index)."""
    nan = np.nan
    plane = np.array([
        [1, 99, 2, nan, 3, 0],
        [99, 99, 99, 99, 99, 99],
        [4, 99, nan, 99, 5, 1],
        [99, nan, 99, 99, 99, 99],
        [0, 99, 7, 99, -1, 2],
    ], dtype=dtype)
    x0 = np.stack([plane, -plane])[None]
    want, want_idx = F.max_pool2d(torch.from_numpy(x0), 2, 1, 0, 2, return_indices=True)
    y, idx = fastconv.max_pool2d(nchw_to(layout, x0), 2, 1, 0, 2, False, True, layout=layout)
    assert_close(nchw_to_back(layout, y), want.numpy(), op="max_pool2d", isa=isa, dtype=dtype, exact=True,
                 context="dilation 2")
    assert_indices_equal(nchw_to_back(layout, idx), want_idx.numpy(), op="max_pool2d", isa=isa, dtype=dtype,
                         context="dilation 2")


HUGE_KERNEL_SCRIPT = """
import json, sys, numpy as np, fastconv
x = np.array(json.loads(sys.argv[1]), dtype=np.float32)
y, idx = fastconv.max_pool2d(x, (1, 2**40), padding=(0, 2**39), return_indices=True)
print(json.dumps([y.tolist(), idx.tolist(), fastconv._kernels.current_isa()]))
"""


def test_max_pool2d_huge_padded_kernel_matches_slow(isa):
    """A window far wider than the row (legal: padding <= kernel/2) costs only the
    elements it covers. Run in a child process, as it could otherwise never return."""
    x0 = np.array([[[[3, -1, 2, 7], [0, 5, 5, -2], [np.nan, 1, 1, 9], [-4, -4, -3, -4]]]], np.float32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTCONV_")}
    env["FASTCONV_ISA"] = isa
    try:
        proc = subprocess.run([sys.executable, "-c", HUGE_KERNEL_SCRIPT, json.dumps(x0.tolist())], env=env,
                              capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"max_pool2d [{isa}] with kernel (1, 2**40) did not return within 5 s")
    assert proc.returncode == 0, proc.stderr
    y, idx, used = json.loads(proc.stdout)
    assert used == isa
    want, want_idx = ref.max_pool2d(x0, (1, 2**40), None, (0, 2**39))
    assert_close(np.array(y, np.float32), want, op="max_pool2d", isa=isa, dtype=np.float32, exact=True,
                 context="kernel (1, 2**40)")
    assert_indices_equal(np.array(idx, np.int64), want_idx, op="max_pool2d", isa=isa, dtype=np.float32)


@pytest.mark.parametrize("width", [2**12, 2**20])
def test_max_pool2d_wide_padded_kernel_matches_slow(isa, width):
    """Windows much wider than the row but within the SIMD kernels' int32 range:
    only the columns inside the row may be read, the rest is padding."""
    x0 = np.array([[[[3, -1, 2, 7, 4], [0, 5, 5, -2, 1], [np.nan, 1, 1, 9, 0]]]], np.float32)
    x0 = np.concatenate([x0, -x0], axis=1)
    y, idx = fastconv.max_pool2d(x0, (2, width), (1, 3), (1, width // 2), return_indices=True)
    want, want_idx = ref.max_pool2d(x0, (2, width), (1, 3), (1, width // 2))
    assert_close(y, want, op="max_pool2d", isa=isa, dtype=np.float32, exact=True,
                 context=f"kernel (2, {width})")
    assert_indices_equal(idx, want_idx, op="max_pool2d", isa=isa, dtype=np.float32)


# ---- guards: inputs untouched, threads, repeatability ---------------------------------

GUARD_CONV = dict(n=2, c=12, h=17, w=15, k=20, r=3, s=3, stride=1, padding=1, dilation=1, groups=2,
                  bias=True, memory="strided", unbatched=False)


def _all_ops(layout, dtype, rng):
    """(name, callable) for every op on inputs big enough to use several threads."""
    case = dict(GUARD_CONV, layout=layout)
    (x, w, b), _ = make_conv_inputs(case, dtype, rng)
    xr = in_memory(relu_data(7 * 42859, dtype, rng).reshape(7, 42859), "strided")
    xp = in_memory(nchw_to(layout, rng.standard_normal((4, 16, 33, 31)).astype(dtype)), "transposed")
    return {
        "conv2d": (lambda: run_fastconv_conv(case, x, w, b), (x, w, b)),
        "relu": (lambda: fastconv.relu(xr), (xr,)),
        "max_pool2d": (lambda: fastconv.max_pool2d(xp, 3, 2, 1, ceil_mode=True, layout=layout,
                                                   return_indices=True), (xp,)),
        "max_pool2d_values": (lambda: fastconv.max_pool2d(xp, 3, 2, 1, layout=layout), (xp,)),
        "max_pool2d_dilated": (lambda: fastconv.max_pool2d(xp, (3, 2), 2, 1, (2, 3), True, True,
                                                           layout=layout), (xp,)),
    }


OPS = ["conv2d", "relu", "max_pool2d", "max_pool2d_values", "max_pool2d_dilated"]


def _results(r):
    return r if isinstance(r, tuple) else (r,)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_inputs_unchanged(isa, dtype, layout, op, rng):
    fn, inputs = _all_ops(layout, dtype, rng)[op]
    before = [a.copy() for a in inputs]
    fn()
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{op} [{isa}, {layout}] modified an input")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_thread_equals_two_threads(isa, dtype, layout, op, rng, restore_threads):
    fn, _ = _all_ops(layout, dtype, rng)[op]
    fastconv.set_num_threads(1)
    assert fastconv.get_num_threads() == 1
    one = _results(fn())
    fastconv.set_num_threads(2)
    two = _results(fn())
    for a, b in zip(one, two):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), f"{op} [{isa}, {layout}, {dtype}]: 1 and 2 threads differ"


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_calls_bitwise_identical(isa, dtype, layout, op, rng):
    fn, _ = _all_ops(layout, dtype, rng)[op]
    first = _results(fn())
    for _ in range(2):
        for a, b in zip(first, _results(fn())):
            assert a.tobytes() == b.tobytes(), f"{op} [{isa}, {layout}, {dtype}]: repeated call differs"


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_from_python_threads_matches_torch(dtype, rng):
    """Several Python threads calling at once (the GIL is released in the kernels)."""
    xs = [rng.standard_normal((2, 8, 20, 20)).astype(dtype) for _ in range(8)]
    w = rng.standard_normal((16, 8, 3, 3)).astype(dtype)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: fastconv.conv2d(x, w, padding=1), xs))
    for x, y in zip(xs, got):
        assert_close(y, torch_conv2d(x, w, None, 1, 1, 1, 1), op="conv2d", isa="default", dtype=dtype,
                     reduce=72, context="python threads")


# ---- the references themselves, against torch (so a failure above is fastconv's) ------


@pytest.mark.parametrize("case", TORCH_CASES[:20])
def test_reference_conv2d_matches_torch(case, rng):
    if case["padding"] == "same":
        pad = tuple(ref.tf_same_padding(n, k, 1, d)[0] for n, k, d in
                    zip((case["h"], case["w"]), (case["r"], case["s"]), _pair(case["dilation"])))
    else:
        pad = 0 if case["padding"] == "valid" else case["padding"]
    _, (x0, w0, b0) = make_conv_inputs(case, np.float64, rng)
    want = torch_conv2d(x0, w0, b0, case["stride"], case["padding"], case["dilation"], case["groups"])
    got = ref.conv2d(x0, w0, b0, case["stride"], pad, case["dilation"], case["groups"])
    assert_close(got, want, op="reference conv2d", isa="-", dtype=np.float64, reduce=reduce_len(case))


@pytest.mark.parametrize("case", POOL_CASES[:20] + POOL_CASES[60:80])
def test_reference_max_pool2d_matches_torch(case, rng):
    x0 = pool_data(case, np.float64, rng)
    want, want_idx = F.max_pool2d(torch.from_numpy(x0), case["kernel"], case["stride"], case["padding"],
                                  case["dilation"], ceil_mode=case["ceil_mode"], return_indices=True)
    got, idx = ref.max_pool2d(x0, case["kernel"], case["stride"], case["padding"], case["dilation"],
                              case["ceil_mode"])
    assert_close(got, want.numpy(), op="reference max_pool2d", isa="-", dtype=np.float64, exact=True)
    assert_indices_equal(idx, want_idx.numpy(), op="reference max_pool2d", isa="-", dtype=np.float64)


def test_docstring_examples():
    """The examples in fastconv.nn's docstrings (max_pool2d's dilated one among them)."""
    import doctest

    from fastconv import nn

    result = doctest.testmod(nn)
    assert result.attempted > 0 and result.failed == 0
