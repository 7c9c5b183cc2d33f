"""fastconv.conv2d_backward, relu_backward and max_pool2d_backward against PyTorch
autograd, the slow NumPy adjoints in reference.py and central finite differences,
under every ISA, both layouts and both dtypes; one SGD step through all three;
repeatability across runs and thread counts; untouched inputs; bad arguments."""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import reference as ref
import torch
import torch.nn.functional as F
from _helpers import raises, torch_one_thread  # noqa: F401 - torch_one_thread: autouse
from reference import assert_close
from test_nn import (
    DTYPES,
    LAYOUTS,
    POOL_CASES,
    _conv_spec,
    _pair,
    _spec_id,
    from_layout,
    in_memory,
    make_conv_inputs,
    nchw_to,
    pool_inputs,
    relu_data,
    run_pool,
    to_layout_result,
    weight_to,
)

import fastconv

MASKS = list(itertools.product((True, False), repeat=3))  # MASKS[0] computes everything
# Channels per group around the GEMM tiles (MR x NR from 4x4 scalar up to 8x32 and
# 6x64 AVX-512) and on both sides of the 16 channels per group from which grad_x
# runs as a transposed convolution (at stride 1) instead of GEMM + col2im.
CHANNELS = (1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65)


# ---- conv2d_backward helpers ----------------------------------------------------------


def _mask_id(mask):
    return "mask" + "".join("1" if m else "0" for m in mask)


def _cost(case):
    """Multiply-adds of one pass, an upper bound (output taken as big as the input)."""
    return case["n"] * case["k"] * case["c"] // case["groups"] * case["r"] * case["s"] * case["h"] * case["w"]


def _bwd_spec(gen, same="stride1", max_cost=6e5):
    """test_nn's random conv2d case; half of the time with channel counts per
    group from CHANNELS (and at most 2 images), half of those at stride 1 (so
    both grad_x paths run); unbatched cases have one image (grad_weight sums
    over images); and a random output_mask, everything half of the time."""
    while True:
        case = _conv_spec(gen, same=same)
        if gen.random() < 0.5:
            if case["groups"] == case["c"] > 1:  # stays depthwise
                c = int(gen.choice(CHANNELS))
                case.update(c=c, groups=c, k=c * int(gen.integers(1, 3)))
            else:
                g = int(gen.choice([1, 1, 2]))
                case.update(groups=g, c=g * int(gen.choice(CHANNELS)), k=g * int(gen.choice(CHANNELS)))
            if gen.random() < 0.5:
                case["stride"] = 1
            case["n"] = min(case["n"], 2)
        if case["unbatched"]:
            case["n"] = 1
        if _cost(case) <= max_cost:
            break
    case["bias"] = False  # conv2d_backward takes no bias; grad_bias comes regardless
    case["mask"] = MASKS[0] if gen.random() < 0.5 else MASKS[int(gen.integers(1, 8))]
    return case


def _bwd_cases(seed, count, **kw):
    gen = np.random.default_rng(seed)
    specs = [_bwd_spec(gen, **kw) for _ in range(count)]
    return [pytest.param(c, id=f"{_spec_id(i, c)}-{_mask_id(c['mask'])}") for i, c in enumerate(specs)]


TORCH_CASES = _bwd_cases(6006, 200)
SAME_CASES = _bwd_cases(7007, 40, same="only")  # 'same' at strides 1-3 (TensorFlow's rule)
SLOW_CASES = _bwd_cases(8008, 50)


def _edge(n, c, h, w, k, r, s, stride=1, padding=1, dilation=1, groups=1):
    return dict(n=n, c=c, h=h, w=w, k=k, r=r, s=s, stride=stride, padding=padding, dilation=dilation,
                groups=groups, bias=False, memory="contiguous", unbatched=False, mask=MASKS[0])


# Every CHANNELS count as input and (shifted) as output channels, at stride 1
# (transposed path from 16 on) and stride 2 (GEMM + col2im), then the edges of
# the blocking: pixel depth blocks that cross images, col2im pixel blocks,
# grouped transposed convolutions, 7x7 and 1x1 kernels, padding beyond the
# kernel's reach (the transposed path's zero grid), single output channels.
EDGE_SHAPES = [
    *(_edge(2, c, 7, 8, CHANNELS[(3 * i + 4) % len(CHANNELS)], 3, 3) for i, c in enumerate(CHANNELS)),
    *(_edge(2, CHANNELS[(5 * i + 2) % len(CHANNELS)], 9, 7, k, 3, 3, stride=2, padding=(1, 0))
      for i, k in enumerate(CHANNELS)),
    _edge(3, 4, 21, 21, 9, 3, 3),                                   # 1323 pixels, depth blocks cross images
    _edge(2, 3, 30, 27, 5, 3, 3, stride=(1, 2)),                    # col2im pixel blocks, unequal strides
    _edge(1, 34, 8, 9, 18, 3, 3, padding=2, dilation=2, groups=2),  # 17 per group, transposed, dilated
    _edge(1, 32, 7, 7, 10, 3, 3, groups=2),                         # 16 per group exactly
    _edge(2, 64, 8, 8, 64, 3, 3, groups=64),                        # depthwise 64
    _edge(1, 17, 12, 11, 5, 7, 7, padding=3),                       # 7x7, transposed
    _edge(2, 3, 17, 16, 16, 7, 7, stride=2, padding=3),             # ResNet stem: 7x7 stride 2
    _edge(1, 65, 6, 7, 33, 1, 1, padding=0),                        # 1x1, transposed
    _edge(1, 64, 9, 9, 16, 1, 1, stride=2, padding=0),              # 1x1 stride 2
    _edge(1, 32, 6, 5, 7, 3, 3, padding=3),                         # padding beyond the kernel
    _edge(1, 16, 10, 10, 1, 3, 3, padding=(3, 0), dilation=(1, 3)),  # one output channel
    _edge(2, 33, 9, 8, 31, 2, 2, padding="same"),                   # even kernel 'same'
    _edge(1, 20, 11, 10, 6, 3, 3, stride=3, padding="same", dilation=2),
]
EDGE_CASES = [
    pytest.param(dict(c, layout=layout), id=f"edge{i}-" + _spec_id(i, dict(c, layout=layout)).split("-", 1)[1])
    for i, c in enumerate(EDGE_SHAPES) for layout in LAYOUTS
]


def conv_padding(case):
    """The case's zero padding as ((top, bottom), (left, right)), 'same' by
    TensorFlow's rule."""
    (sh, sw), (dh, dw) = _pair(case["stride"]), _pair(case["dilation"])
    if case["padding"] == "same":
        return (ref.tf_same_padding(case["h"], case["r"], sh, dh)[0],
                ref.tf_same_padding(case["w"], case["s"], sw, dw)[0])
    ph, pw = (0, 0) if case["padding"] == "valid" else _pair(case["padding"])
    return (ph, ph), (pw, pw)


def conv_out_hw(case):
    (sh, sw), (dh, dw) = _pair(case["stride"]), _pair(case["dilation"])
    (pt, pb), (pl, pr) = conv_padding(case)
    return ((case["h"] + pt + pb - dh * (case["r"] - 1) - 1) // sh + 1,
            (case["w"] + pl + pr - dw * (case["s"] - 1) - 1) // sw + 1)


def conv_backward_inputs(case, dtype, rng):
    """(grad_out, x, weight) in the case's layout and memory form, and the same
    values as NCHW arrays for the references."""
    (x, w, _), (x0, w0, _) = make_conv_inputs(case, dtype, rng)
    g0 = rng.standard_normal((case["n"], case["k"], *conv_out_hw(case))).astype(dtype)
    g = in_memory(nchw_to(case["layout"], g0), case["memory"])
    return (g[0] if case["unbatched"] else g, x, w), (g0, x0, w0)


def run_conv_backward(case, g, x, w, **kw):
    kw.setdefault("output_mask", case["mask"])
    return fastconv.conv2d_backward(g, x, w, stride=case["stride"], padding=case["padding"],
                                    dilation=case["dilation"], groups=case["groups"],
                                    layout=case["layout"], **kw)


def torch_conv2d_grads(g0, x0, w0, case):
    """(grad_x, grad_weight, grad_bias) of sum(conv2d(x, w, b) * g0) by torch
    autograd in float64, NCHW. 'same' is torch's own at stride 1; at larger
    strides x is padded by TensorFlow's rule (F.pad) before a 'valid' conv."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(case["k"], dtype=torch.float64, requires_grad=True)
    xin, padding = x, case["padding"]
    if padding == "same" and _pair(case["stride"]) != (1, 1):
        (pt, pb), (pl, pr) = conv_padding(case)
        xin, padding = F.pad(x, (pl, pr, pt, pb)), 0
    with warnings.catch_warnings():  # 'same' with even kernels: torch pads a copy, and says so
        warnings.simplefilter("ignore", UserWarning)
        y = F.conv2d(xin, w, b, stride=case["stride"], padding=padding, dilation=case["dilation"],
                     groups=case["groups"])
    grads = torch.autograd.grad(y, (x, w, b), torch.from_numpy(np.asarray(g0, dtype=np.float64)))
    return tuple(t.numpy() for t in grads)


def check_conv_grads(got, want, case, dtype, isa, what):
    """got: conv2d_backward's triple in the case's layout; want: NCHW float64.
    Masked-out results must be None. Rounding grows with the reduction length:
    K/groups*R*S products per grad_x element, N*Ho*Wo per grad_weight/grad_bias."""
    assert isinstance(got, tuple) and len(got) == 3, f"conv2d_backward returned {type(got).__name__}"
    oh, ow = conv_out_hw(case)
    pixels = case["n"] * oh * ow
    wx, ww, wb = want
    expected = {
        "grad_x": (to_layout_result(case, wx), case["k"] // case["groups"] * case["r"] * case["s"]),
        "grad_weight": (weight_to(case["layout"], ww), pixels),
        "grad_bias": (wb, pixels),
    }
    ctx = (f"{what}, {case['layout']}, x {(case['n'], case['c'], case['h'], case['w'])} NCHW, "
           f"weight {(case['k'], case['c'] // case['groups'], case['r'], case['s'])}, stride {case['stride']}, "
           f"padding {case['padding']!r}, dilation {case['dilation']}, groups {case['groups']}, "
           f"{'unbatched, ' if case['unbatched'] else ''}{_mask_id(case['mask'])}")
    for (name, (value, reduce)), result, wanted in zip(expected.items(), got, case["mask"]):
        if not wanted:
            assert result is None, f"conv2d_backward [{isa}, {ctx}]: {name} is masked out but returned"
            continue
        assert_close(result, value, op=f"conv2d_backward {name}", isa=isa, dtype=dtype, reduce=reduce,
                     context=ctx)


# ---- conv2d_backward against torch and the slow adjoint ---------------------------------


@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_matches_torch(isa, dtype, case, rng):
    (g, x, w), (g0, x0, w0) = conv_backward_inputs(case, dtype, rng)
    got = run_conv_backward(case, g, x, w)
    check_conv_grads(got, torch_conv2d_grads(g0, x0, w0, case), case, dtype, isa, "vs torch")


@pytest.mark.parametrize("case", SAME_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_same_matches_torch_with_tf_padding(isa, dtype, case, rng):
    """'same' at any stride: torch's 'same' at stride 1, else F.pad by
    TensorFlow's rule (the odd pad at the bottom/right) and a 'valid' conv."""
    (g, x, w), (g0, x0, w0) = conv_backward_inputs(case, dtype, rng)
    got = run_conv_backward(case, g, x, w)
    check_conv_grads(got, torch_conv2d_grads(g0, x0, w0, case), case, dtype, isa,
                     f"'same' vs torch, pads {conv_padding(case)}")


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_tile_edges_match_torch(isa, dtype, case, rng):
    (g, x, w), (g0, x0, w0) = conv_backward_inputs(case, dtype, rng)
    got = run_conv_backward(case, g, x, w)
    check_conv_grads(got, torch_conv2d_grads(g0, x0, w0, case), case, dtype, isa, "vs torch")


@pytest.mark.parametrize("case", SLOW_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_matches_slow(isa, dtype, case, rng):
    (g, x, w), (g0, x0, w0) = conv_backward_inputs(case, dtype, rng)
    got = run_conv_backward(case, g, x, w)
    want = ref.conv2d_backward(g0, x0, w0, case["stride"], conv_padding(case), case["dilation"],
                               case["groups"])
    check_conv_grads(got, want, case, dtype, isa, "vs slow")


# One case per grad_x path: transposed convolution (32 channels, stride 1) and
# GEMM + col2im (3 channels per group, strides (2, 1)).
MASK_SHAPES = {
    "transposed": _edge(2, 32, 6, 7, 20, 3, 3),
    "col2im": _edge(2, 6, 7, 9, 4, 3, 2, stride=(2, 1), padding=(0, 2), groups=2),
}


@pytest.mark.parametrize("mask", MASKS, ids=_mask_id)
@pytest.mark.parametrize("path", MASK_SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_conv2d_backward_output_mask_matches_torch(isa, layout, path, mask, unbatched, rng):
    """Every output_mask: the wanted results as torch's, the others None; as a
    list of 0/1 too."""
    case = dict(MASK_SHAPES[path], layout=layout, mask=mask, unbatched=unbatched,
                n=1 if unbatched else MASK_SHAPES[path]["n"])
    (g, x, w), (g0, x0, w0) = conv_backward_inputs(case, np.float32, rng)
    want = torch_conv2d_grads(g0, x0, w0, case)
    check_conv_grads(run_conv_backward(case, g, x, w), want, case, np.float32, isa, path)
    got = run_conv_backward(case, g, x, w, output_mask=[int(m) for m in mask])
    check_conv_grads(got, want, case, np.float32, isa, path + ", mask as a list of ints")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["batch0", "k0", "c0", "h0w0_padded", "k0_unbatched"])
def test_conv2d_backward_empty_matches_slow(dtype, layout, shape):
    """No images, no output channels, no input channels, and an empty image made
    non-empty by padding: the empty results have the right shapes and the rest
    are zeros (grad_bias: grad_out summed)."""
    n, c, k, h, r, pad = {"batch0": (0, 3, 2, 5, 3, 0), "k0": (2, 3, 0, 5, 3, 0), "c0": (2, 0, 3, 5, 3, 0),
                          "h0w0_padded": (1, 2, 3, 0, 1, 1), "k0_unbatched": (1, 3, 0, 4, 2, 1)}[shape]
    case = _edge(n, c, h, h, k, r, r, padding=pad)
    case.update(layout=layout, unbatched=shape.endswith("unbatched"))
    oh, ow = conv_out_hw(case)
    g0 = np.arange(n * k * oh * ow, dtype=dtype).reshape(n, k, oh, ow)
    x0, w0 = np.ones((n, c, h, h), dtype), np.ones((k, c, r, r), dtype)
    want = (np.zeros(x0.shape), np.zeros(w0.shape), g0.sum(axis=(0, 2, 3), dtype=np.float64))
    if min(n, c, k, h) > 0:
        want = ref.conv2d_backward(g0, x0, w0, 1, pad)
    g, x = nchw_to(layout, g0), nchw_to(layout, x0)
    if case["unbatched"]:
        g, x = g[0], x[0]
    got = fastconv.conv2d_backward(g, x, weight_to(layout, w0), padding=pad, layout=layout)
    check_conv_grads(got, want, case, dtype, "default", shape)


def test_conv2d_backward_list_inputs_match_torch(rng):
    """Array-likes: nested lists are float64."""
    case = _edge(1, 2, 5, 4, 3, 2, 2, padding=1, stride=(1, 2))
    case["layout"] = "NCHW"
    _, (g0, x0, w0) = conv_backward_inputs(case, np.float64, rng)
    got = fastconv.conv2d_backward(g0.tolist(), x0.tolist(), w0.tolist(), stride=[1, 2], padding=[1, 1])
    check_conv_grads(got, torch_conv2d_grads(g0, x0, w0, case), case, np.float64, "default", "lists")


@pytest.mark.parametrize("case", TORCH_CASES[:25] + SAME_CASES[:10])
def test_reference_conv2d_backward_matches_torch(case, rng):
    """The slow adjoint itself (so a failure above is fastconv's)."""
    _, (g0, x0, w0) = conv_backward_inputs(case, np.float64, rng)
    want = torch_conv2d_grads(g0, x0, w0, case)
    got = ref.conv2d_backward(g0, x0, w0, case["stride"], conv_padding(case), case["dilation"], case["groups"])
    pixels = g0.shape[0] * g0.shape[2] * g0.shape[3]
    for name, a, b, reduce in zip(("grad_x", "grad_weight", "grad_bias"), got, want,
                                  (case["k"] * case["r"] * case["s"], pixels, pixels)):
        assert_close(a, b, op=f"reference conv2d_backward {name}", isa="-", dtype=np.float64, reduce=reduce)


# ---- finite differences (float64, independent of torch) ---------------------------------


def central_differences(f, a, eps):
    """d f / d a by (f(a + eps e_i) - f(a - eps e_i)) / (2 eps) for every element
    of `a`, in a's shape (a may be any view; it is copied)."""
    a = np.array(a, dtype=np.float64, order="C")
    grad = np.empty_like(a)
    flat, gflat = a.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f(a)
        flat[i] = keep - eps
        down = f(a)
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return grad


def _fd(n, c, h, w, k, r, s, stride, padding, dilation, groups, layout, unbatched=False):
    return dict(_edge(n, c, h, w, k, r, s, stride, padding, dilation, groups), layout=layout,
                unbatched=unbatched)


FD_CONV = {
    "3x3-p1": _fd(2, 2, 5, 6, 3, 3, 3, 1, 1, 1, 1, "NCHW"),
    "s2x1-p2x0-d1x2": _fd(2, 2, 6, 7, 3, 3, 2, (2, 1), (2, 0), (1, 2), 1, "NHWC"),
    "same-s2-even": _fd(1, 2, 7, 6, 2, 2, 3, 2, "same", 1, 1, "NCHW"),
    "same-s3x2-d2": _fd(1, 3, 8, 7, 2, 3, 3, (3, 2), "same", 2, 1, "NHWC"),
    "groups2-s2": _fd(2, 4, 6, 6, 6, 3, 3, 2, 1, 1, 2, "NCHW"),
    "depthwise-p3": _fd(1, 3, 4, 5, 6, 3, 3, 1, 3, 1, 3, "NHWC"),
    "transposed-c16": _fd(1, 16, 4, 4, 2, 3, 3, 1, 1, 1, 1, "NCHW"),
    "transposed-p3-unbatched": _fd(1, 16, 3, 4, 2, 3, 3, 1, 3, 1, 1, "NHWC", unbatched=True),
    "1x1-s2-unbatched": _fd(1, 3, 5, 5, 4, 1, 1, 2, 1, 1, 1, "NCHW", unbatched=True),
    "7x7-valid": _fd(1, 1, 8, 9, 2, 7, 7, 1, "valid", 1, 1, "NHWC"),
}


@pytest.mark.parametrize("name", FD_CONV)
def test_conv2d_backward_matches_finite_differences(isa, name, rng):
    """L = sum(conv2d(x, w, b) * G) for a fixed random G: every element of
    grad_x, grad_weight and grad_bias against central differences of L through
    fastconv.conv2d. L is linear in each argument, so the differences are exact
    up to rounding (eps = 1e-3 keeps that at ~1e-12)."""
    case = FD_CONV[name]
    (g, x, w), _ = conv_backward_inputs(case, np.float64, rng)
    b = rng.standard_normal(case["k"])
    opts = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
                groups=case["groups"], layout=case["layout"])
    loss = lambda xx, ww, bb: float(np.sum(fastconv.conv2d(xx, ww, bb, **opts) * g))
    want = (central_differences(lambda a: loss(a, w, b), x, 1e-3),
            central_differences(lambda a: loss(x, a, b), w, 1e-3),
            central_differences(lambda a: loss(x, w, a), b, 1e-3))
    got = fastconv.conv2d_backward(g, x, w, **opts)
    for what, a, want_a in zip(("grad_x", "grad_weight", "grad_bias"), got, want):
        assert_close(a, want_a, op=f"conv2d_backward {what}", isa=isa, dtype=np.float64, rtol=1e-8,
                     atol=1e-8, context=f"vs finite differences, {name}, x {x.shape}, weight {w.shape}")


FD_POOL = {  # kernel, stride, padding, dilation, ceil_mode, layout, x shape (NCHW), unbatched
    "k3-s1-p1-overlapping": ((3, 3), 1, 1, 1, False, "NCHW", (2, 2, 6, 7), False),
    "k3x2-s2x1-p1x0-ceil": ((3, 2), (2, 1), (1, 0), 1, True, "NHWC", (1, 3, 7, 6), False),
    "k2-ceil-partial-unbatched": (2, None, 0, 1, True, "NCHW", (1, 2, 5, 7), True),
    "k4-s3-p2-ceil": (4, 3, 2, 1, True, "NHWC", (2, 2, 9, 8), False),
    "k3-s1-p1-d2-overlapping": (3, 1, 1, 2, False, "NCHW", (2, 2, 7, 8), False),
    "k2x3-s2-p1-d3x2-ceil": ((2, 3), 2, 1, (3, 2), True, "NHWC", (1, 3, 8, 9), False),
}


@pytest.mark.parametrize("name", FD_POOL)
def test_max_pool2d_backward_matches_finite_differences(isa, name, rng):
    """L = sum(max_pool2d(x) * G) with x's values distinct and 0.5 apart, so
    steps of 1e-2 never change which element wins a window: L is linear there."""
    kernel, stride, padding, dilation, ceil_mode, layout, shape, unbatched = FD_POOL[name]
    x = nchw_to(layout, rng.permutation(math.prod(shape)).reshape(shape) * 0.5)
    if unbatched:
        x = x[0]
    opts = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode, layout=layout)
    y, idx = fastconv.max_pool2d(x, return_indices=True, **opts)
    g = rng.standard_normal(y.shape)
    want = central_differences(lambda a: float(np.sum(fastconv.max_pool2d(a, **opts) * g)), x, 1e-2)
    got = fastconv.max_pool2d_backward(g, x, idx, **opts)
    assert_close(got, want, op="max_pool2d_backward", isa=isa, dtype=np.float64, rtol=1e-10, atol=1e-10,
                 context=f"vs finite differences, {name}, x {x.shape}")


def test_relu_backward_matches_finite_differences(isa, rng):
    """x at least 0.1 away from the kink at 0; steps of 1e-3."""
    x = rng.standard_normal((3, 37))
    x += np.where(x < 0, -0.1, 0.1)
    g = rng.standard_normal(x.shape)
    want = central_differences(lambda a: float(np.sum(fastconv.relu(a) * g)), x, 1e-3)
    assert_close(fastconv.relu_backward(g, x), want, op="relu_backward", isa=isa, dtype=np.float64,
                 rtol=1e-10, atol=1e-10, context="vs finite differences")


# ---- one SGD step through conv -> relu -> max_pool -> sum of squares ---------------------


def _loss_and_grads(params, layout):
    """Forward and backward with fastconv's ops only: the loss and d loss / d
    (x, weight, bias)."""
    x, w, b = params
    y = fastconv.conv2d(x, w, b, padding=1, layout=layout)
    a = fastconv.relu(y)
    p, idx = fastconv.max_pool2d(a, 2, return_indices=True, layout=layout)
    ga = fastconv.max_pool2d_backward(2 * p, a, idx, 2, layout=layout)
    gy = fastconv.relu_backward(ga, y)
    return float(np.sum(p * p)), fastconv.conv2d_backward(gy, x, w, padding=1, layout=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sgd_step_changes_loss_as_first_order_predicts(isa, layout, rng):
    """A step of -lr * grad on x, weight and bias changes the loss by
    -lr * ||grad||^2 to first order; lr is chosen to move the loss by ~1e-4 of
    itself, where the second-order term is far below the 0.1 % allowed."""
    params = (nchw_to(layout, rng.standard_normal((2, 3, 8, 8))),
              weight_to(layout, rng.standard_normal((4, 3, 3, 3))), rng.standard_normal(4))
    loss, grads = _loss_and_grads(params, layout)
    assert all(gr is not None and gr.shape == p.shape for gr, p in zip(grads, params))
    sq = sum(float(np.sum(gr * gr)) for gr in grads)
    assert loss > 0 and sq > 0
    lr = 1e-4 * loss / sq
    stepped = tuple(p - lr * gr for p, gr in zip(params, grads))
    new_loss, _ = _loss_and_grads(stepped, layout)
    change, predicted = new_loss - loss, -lr * sq
    assert change < 0, f"[{isa}, {layout}] loss rose from {loss!r} to {new_loss!r}"
    assert abs(change - predicted) <= 1e-3 * abs(predicted), (
        f"[{isa}, {layout}] loss changed by {change!r}, first order predicts {predicted!r} "
        f"(ratio {change / predicted:.6f}, loss {loss!r}, lr {lr:.3g}, ||grad||^2 {sq!r})")


# ---- max_pool2d_backward ------------------------------------------------------------------


def _pool_reduce(case):
    """How many windows can pick one input: 1 (exact sums) when they do not overlap.
    Along an axis an input is tap j of at most one window per j, and lies in at
    most ceil(span / stride) windows."""
    kh, kw = _pair(case["kernel"])
    sh, sw = (kh, kw) if case["stride"] is None else _pair(case["stride"])
    dh, dw = _pair(case["dilation"])
    return (min(kh, math.ceil((dh * (kh - 1) + 1) / sh))
            * min(kw, math.ceil((dw * (kw - 1) + 1) / sw)))


def pool_backward_inputs(case, dtype, rng):
    """(grad_out, x, indices) for fastconv in the case's layout and memory form
    (indices from fastconv's forward), and NCHW x and grad_out."""
    x, x0 = pool_inputs(case, dtype, rng)
    _, idx = run_pool(case, x, return_indices=True)
    g0 = rng.standard_normal(from_layout(case, idx).shape).astype(dtype)
    g = in_memory(nchw_to(case["layout"], g0), case["memory"])
    if case["memory"] != "strided":  # in_memory's strided form is a NaN-filled float buffer
        idx = in_memory(idx, case["memory"])
    return (g[0] if case["unbatched"] else g, x, idx), (g0, x0)


def run_pool_backward(case, g, x, idx):
    """fastconv.max_pool2d_backward with the case's options, positional in PyTorch's order."""
    return fastconv.max_pool2d_backward(g, x, idx, case["kernel"], case["stride"], case["padding"],
                                        case["dilation"], case["ceil_mode"], layout=case["layout"])


def pool_result(case, gx_nchw):
    gx = nchw_to(case["layout"], gx_nchw)
    return gx[0] if case["unbatched"] else gx


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_matches_torch(isa, dtype, case, rng):
    """test_nn's pooling cases (overlapping windows, ceil_mode, padding, ties, NaN,
    -inf, both layouts, non-contiguous, unbatched): torch autograd's gradient,
    exactly where windows do not overlap."""
    (g, x, idx), (g0, x0) = pool_backward_inputs(case, dtype, rng)
    t = torch.tensor(x0, requires_grad=True)
    y = F.max_pool2d(t, case["kernel"], case["stride"], case["padding"], case["dilation"],
                     ceil_mode=case["ceil_mode"])
    y.backward(torch.from_numpy(g0))
    reduce = _pool_reduce(case)
    assert_close(run_pool_backward(case, g, x, idx), pool_result(case, t.grad.numpy()),
                 op="max_pool2d_backward", isa=isa, dtype=dtype, reduce=reduce, exact=reduce == 1,
                 context=f"vs torch, x {x.shape}, {case['data']}")


@pytest.mark.parametrize("case", POOL_CASES[::2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_matches_slow(isa, dtype, case, rng):
    """Indices from the slow forward, scattered by the slow adjoint."""
    (g, x, _), (g0, x0) = pool_backward_inputs(case, dtype, rng)
    _, idx0 = ref.max_pool2d(x0, case["kernel"], case["stride"], case["padding"], case["dilation"],
                             case["ceil_mode"])
    idx = nchw_to(case["layout"], idx0)
    got = run_pool_backward(case, g, x, idx[0] if case["unbatched"] else idx)
    want = ref.max_pool2d_backward(g0, idx0, x0.shape)
    reduce = _pool_reduce(case)
    assert_close(got, pool_result(case, want), op="max_pool2d_backward", isa=isa, dtype=dtype,
                 reduce=reduce, exact=reduce == 1, context=f"vs slow, x {x.shape}, {case['data']}")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.uint16, np.int64])
def test_max_pool2d_backward_ties_nan_overlap_match_torch(isa, dtype, layout, index_dtype):
    """Hand-made plane: ties, NaN, all -inf windows and 3x3 windows at stride 1,
    so one input collects several gradients; any integer dtype for indices."""
    nan, inf = np.nan, np.inf
    plane = np.array([
        [1, nan, 3, 3, -inf, -inf],
        [nan, 2, 3, 3, -inf, -inf],
        [0, 0, nan, 5, 7, 7],
        [0, 0, 5, nan, 7, 7],
        [9, 9, 9, 9, 9, 9],
    ], dtype=dtype)
    x0 = np.stack([plane, -plane[::-1]])[None]  # (1, 2, 5, 6)
    g0 = np.arange(1, 1 + 2 * 5 * 6, dtype=dtype).reshape(1, 2, 5, 6) / 8
    t = torch.tensor(x0, requires_grad=True)
    F.max_pool2d(t, 3, 1, 1).backward(torch.from_numpy(g0))
    x = nchw_to(layout, x0)
    _, idx = fastconv.max_pool2d(x, 3, 1, 1, layout=layout, return_indices=True)
    got = fastconv.max_pool2d_backward(nchw_to(layout, g0), x, idx.astype(index_dtype), 3, 1, 1, layout=layout)
    assert_close(got, nchw_to(layout, t.grad.numpy()), op="max_pool2d_backward", isa=isa, dtype=dtype,
                 reduce=9, context=f"hand-made plane, indices {np.dtype(index_dtype)}")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool2d_backward_positional_order_matches_torch(isa, layout, rng):
    """max_pool2d_backward(grad_out, x, indices, kernel_size, stride, padding,
    dilation, ceil_mode) in torch's positional order: torch autograd's gradient."""
    x0 = rng.permutation(2 * 3 * 9 * 10).reshape(2, 3, 9, 10) * 0.5  # distinct: no ties
    t = torch.tensor(x0, requires_grad=True)
    y = F.max_pool2d(t, (3, 2), 2, 1, (2, 3), True)
    g0 = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(g0))
    x = nchw_to(layout, x0)
    _, idx = fastconv.max_pool2d(x, (3, 2), 2, 1, (2, 3), True, True, layout=layout)
    got = fastconv.max_pool2d_backward(nchw_to(layout, g0), x, idx, (3, 2), 2, 1, (2, 3), True, layout=layout)
    assert_close(got, nchw_to(layout, t.grad.numpy()), op="max_pool2d_backward", isa=isa, dtype=np.float64,
                 reduce=4, context="positional, dilation (2, 3), ceil_mode")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_empty_batch_matches_slow(dtype, layout):
    x = nchw_to(layout, np.zeros((0, 2, 5, 4), dtype))
    y, idx = fastconv.max_pool2d(x, 2, ceil_mode=True, layout=layout, return_indices=True)
    got = fastconv.max_pool2d_backward(y, x, idx, 2, ceil_mode=True, layout=layout)
    assert_close(got, x, op="max_pool2d_backward", isa="default", dtype=dtype, exact=True, context="batch 0")


# ---- relu_backward --------------------------------------------------------------------------

RELU_SIZES = [*range(1, 40), 63, 64, 65, 127, 128, 129, 1000]


def relu_backward_data(n, dtype, rng):
    """x with NaN, +-inf, -0.0 and zeros; a gradient with its own NaN and +-inf."""
    x = relu_data(n, dtype, rng)
    g = relu_data(n, dtype, rng)
    return g, x


@pytest.mark.parametrize("n", RELU_SIZES, ids=[f"n{n}" for n in RELU_SIZES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_matches_torch(isa, dtype, n, rng):
    """torch passes the gradient where not (x <= 0): NaN in x passes it, and a
    NaN gradient where x <= 0 becomes 0."""
    g, x = relu_backward_data(n, dtype, rng)
    t = torch.tensor(x, requires_grad=True)
    F.relu(t).backward(torch.from_numpy(g))
    got = fastconv.relu_backward(g, x)
    assert_close(got, t.grad.numpy(), op="relu_backward", isa=isa, dtype=dtype, exact=True,
                 context=f"vs torch, n={n}")
    assert_close(got, ref.relu_backward(g, x), op="relu_backward", isa=isa, dtype=dtype, exact=True,
                 context=f"vs slow, n={n}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["transposed", "strided", "reversed"])
@pytest.mark.parametrize("shape", [(4, 5, 6), (70, 3), (1, 129), (2, 3, 4, 5)])
def test_relu_backward_noncontiguous_matches_slow(isa, dtype, how, shape, rng):
    g, x = (in_memory(a.reshape(shape), how) for a in relu_backward_data(math.prod(shape), dtype, rng))
    assert_close(fastconv.relu_backward(g, x), ref.relu_backward(g, x), op="relu_backward", isa=isa,
                 dtype=dtype, exact=True, context=how)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), ()])
def test_relu_backward_empty_and_scalar_match_slow(dtype, shape):
    x = np.full(shape, -2.0, dtype)
    g = np.full(shape, 5.0, dtype)
    assert_close(fastconv.relu_backward(g, x), ref.relu_backward(g, x), op="relu_backward", isa="default",
                 dtype=dtype, exact=True, context=f"shape {shape}")
    assert_close(fastconv.relu_backward(g, -x), g, op="relu_backward", isa="default", dtype=dtype, exact=True)


def test_relu_backward_lists_match_slow():
    got = fastconv.relu_backward([5.0, 6.0, 7.0, 8.0], [-1.0, 0.0, 2.0, float("nan")])
    assert_close(got, np.array([0.0, 0.0, 7.0, 8.0]), op="relu_backward", isa="default", dtype=np.float64,
                 exact=True, context="lists")


# ---- guards: inputs untouched, repeatability, threads -------------------------------------

# Big enough to use two threads in every kernel (grad_weight over pixel blocks,
# col2im over images, the transposed conv, relu chunks, pooling planes).
GUARD_CONV = {
    "transposed": _edge(4, 24, 18, 18, 32, 3, 3),
    "col2im": _edge(4, 12, 19, 17, 20, 3, 3, stride=2, groups=2),
}


def _backward_ops(layout, dtype, rng):
    """name -> (call, inputs, [(result name, reduce)]) on non-contiguous inputs."""
    ops = {}
    for path, shape in GUARD_CONV.items():
        case = dict(shape, layout=layout, memory="strided" if path == "col2im" else "transposed")
        (g, x, w), _ = conv_backward_inputs(case, dtype, rng)
        oh, ow = conv_out_hw(case)
        reduces = [("grad_x", case["k"] // case["groups"] * 9), ("grad_weight", case["n"] * oh * ow),
                   ("grad_bias", case["n"] * oh * ow)]
        ops[f"conv2d_backward_{path}"] = (
            lambda case=case, g=g, x=x, w=w: run_conv_backward(case, g, x, w), (g, x, w), reduces)
    case = dict(n=4, c=16, h=33, w=31, kernel=3, stride=2, padding=1, dilation=1, ceil_mode=True,
                data="nan", layout=layout, memory="reversed", unbatched=False)
    (g, x, idx), _ = pool_backward_inputs(case, dtype, rng)
    ops["max_pool2d_backward"] = (lambda: run_pool_backward(case, g, x, idx), (g, x, idx), [("grad_x", 4)])
    gr, xr = (in_memory(a.reshape(6, 50000), "strided") for a in relu_backward_data(300000, dtype, rng))
    ops["relu_backward"] = (lambda: fastconv.relu_backward(gr, xr), (gr, xr), [("grad_x", 1)])
    return ops


OPS = ["conv2d_backward_transposed", "conv2d_backward_col2im", "max_pool2d_backward", "relu_backward"]


def _results(r):
    return r if isinstance(r, tuple) else (r,)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_inputs_unchanged(isa, dtype, layout, op, rng):
    """Inputs keep their values, and results are fresh, writable arrays."""
    fn, inputs, _ = _backward_ops(layout, dtype, rng)[op]
    before = [a.copy() for a in inputs]
    results = _results(fn())
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{op} [{isa}, {layout}] modified an input")
    for r in results:
        assert r.flags.writeable, f"{op} [{isa}, {layout}] returned a read-only array"
        assert not any(np.may_share_memory(r, a) for a in inputs), (
            f"{op} [{isa}, {layout}] returned a view of an input")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_repeated_calls_bitwise_identical(isa, dtype, layout, op, threads, rng, restore_threads):
    fastconv.set_num_threads(threads)
    fn, _, names = _backward_ops(layout, dtype, rng)[op]
    first = _results(fn())
    for _ in range(2):
        for (name, _), a, b in zip(names, first, _results(fn())):
            assert a.tobytes() == b.tobytes(), (
                f"{op} {name} [{isa}, {layout}, {np.dtype(dtype)}, {threads} threads]: repeated call differs")


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_one_thread_matches_two_threads(isa, dtype, layout, op, rng, restore_threads):
    """Within rounding for conv2d_backward (grad_weight adds per-chunk partial
    sums); bitwise for relu and pooling, whose sums keep one order."""
    fn, _, names = _backward_ops(layout, dtype, rng)[op]
    fastconv.set_num_threads(1)
    assert fastconv.get_num_threads() == 1
    one = _results(fn())
    fastconv.set_num_threads(2)
    two = _results(fn())
    for (name, reduce), a, b in zip(names, one, two):
        assert_close(b, a, op=f"{op} {name}", isa=isa, dtype=dtype, reduce=reduce,
                     exact=not op.startswith("conv2d"), context=f"2 threads vs 1, {layout}")


@pytest.mark.parametrize("shape", [(1, 512, 5, 512, 1), (2, 510, 4, 600, 2)],
                         ids=["c512_k512", "groups2_c255_k300"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_grad_weight_over_the_l2_splits_its_rows_with_one_threads_bits(
        isa, dtype, layout, shape, rng, restore_threads):
    """A weight gradient larger than half the L2 (megabytes here) runs its rows
    across the threads, each over all pixels, instead of partial sums per chunk
    of pixels: at 2 threads the plan says split_output, and the result is the
    1-thread result bit for bit and torch's float64 gradient within rounding
    (groups, and a depth per group that is no multiple of the tile's rows)."""
    n, c, hw, k, groups = shape
    x0 = rng.standard_normal((n, c, hw, hw)).astype(dtype)
    w0 = rng.standard_normal((k, c // groups, 3, 3)).astype(dtype)
    g0 = rng.standard_normal((n, k, hw, hw)).astype(dtype)
    x, w, g = nchw_to(layout, x0), weight_to(layout, w0), nchw_to(layout, g0)
    kw = dict(padding=1, groups=groups, layout=layout, output_mask=(False, True, False))
    got = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        plan = fastconv.explain(fastconv.conv2d_backward, g, x, w, **kw)
        flags = plan.blocking.get("flags", ())
        assert ("split_output" in flags) == (threads == 2), (threads, flags)
        got.append(fastconv.conv2d_backward(g, x, w, **kw)[1])
    assert got[1].tobytes() == got[0].tobytes(), f"grad_weight [{isa}, {layout}]: 2 threads vs 1"
    xt = torch.tensor(x0, dtype=torch.float64)
    wt = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(xt, wt, padding=1, groups=groups)
    (want,) = torch.autograd.grad(y, (wt,), torch.tensor(g0, dtype=torch.float64))
    assert_close(got[1], weight_to(layout, want.numpy()), op="conv2d_backward grad_weight", isa=isa,
                 dtype=dtype, reduce=n * hw * hw, context=f"split rows, {layout}, groups {groups}")


@pytest.mark.parametrize("shape", [(2, 5, 7, 9), (3, 17, 33, 37), (1, 40, 40, 40), (4, 16, 1, 1)])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_grad_bias_is_the_float64_sum_at_any_thread_count(isa, dtype, layout, shape, rng,
                                                                  restore_threads):
    """grad_bias is grad_out summed over images and pixels (shapes past a 16-lane
    block and a 1,024-value run, channels not a multiple of 16), each channel in
    one order: the same bits at 1 and 2 threads, within rounding of the float64 sum."""
    n, k, oh, ow = shape
    x = rng.standard_normal((n, 3, oh + 2, ow + 2)).astype(dtype)
    w = rng.standard_normal((k, 3, 3, 3)).astype(dtype)
    gy = (rng.standard_normal(shape) + 3.0).astype(dtype)  # a mean: cancellation would hide errors
    axes = (0, 2, 3)
    if layout == "NHWC":
        x, w, gy = x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), gy.transpose(0, 2, 3, 1)
        axes = (0, 1, 2)
    got = []
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        got.append(fastconv.conv2d_backward(gy, x, w, layout=layout,
                                            output_mask=(False, False, True))[2])
    assert got[0].dtype == dtype and got[0].shape == (k,)
    assert got[0].tobytes() == got[1].tobytes(), f"grad_bias [{isa}, {layout}]: 1 vs 2 threads"
    want = gy.astype(np.float64).sum(axis=axes)
    scale = np.abs(gy.astype(np.float64)).sum(axis=axes)
    tol = 64 * np.finfo(dtype).eps * scale  # a 16-lane run: 64 values per lane in T
    assert np.all(np.abs(got[0] - want) <= tol), (
        f"grad_bias [{isa}, {layout}, {np.dtype(dtype)}]: off the float64 sum by "
        f"{np.max(np.abs(got[0] - want) / scale):.2e} of the absolute sum")


# ---- bad arguments -----------------------------------------------------------------------

X = np.zeros((2, 3, 6, 6))          # NCHW
W = np.zeros((5, 3, 3, 3))          # (K, C, R, S)
GY = np.zeros((2, 5, 4, 4))
X_NHWC, W_NHWC = X.transpose(0, 2, 3, 1), W.transpose(2, 3, 1, 0)
P = np.arange(2 * 2 * 6 * 6, dtype=np.float64).reshape(2, 2, 6, 6)
P_Y, P_IDX = fastconv.max_pool2d(P, 2, return_indices=True)


def conv_bwd(**kw):
    args = dict(grad_out=GY, x=X, weight=W)
    args.update(kw)
    return lambda: fastconv.conv2d_backward(**args)


def pool_bwd(**kw):
    args = dict(grad_out=P_Y, x=P, indices=P_IDX, kernel_size=2)
    args.update(kw)
    return lambda: fastconv.max_pool2d_backward(**args)


def relu_bwd(**kw):
    args = dict(grad_out=np.ones((3, 4)), x=np.ones((3, 4)))
    args.update(kw)
    return lambda: fastconv.relu_backward(**args)


BAD_CALLS = {
    "conv2d_backward-grad_out-height": (conv_bwd(grad_out=np.zeros((2, 5, 5, 4))), ValueError, "grad_out"),
    "conv2d_backward-grad_out-channels": (conv_bwd(grad_out=np.zeros((2, 4, 4, 4))), ValueError, "grad_out"),
    "conv2d_backward-grad_out-batch": (conv_bwd(grad_out=np.zeros((1, 5, 4, 4))), ValueError, "grad_out"),
    "conv2d_backward-grad_out-4d-for-unbatched": (conv_bwd(x=X[0]), ValueError, "grad_out"),
    "conv2d_backward-grad_out-3d-for-batched": (conv_bwd(grad_out=GY[0]), ValueError, "grad_out"),
    "conv2d_backward-grad_out-nchw-for-nhwc": (conv_bwd(x=X_NHWC, weight=W_NHWC, layout="NHWC"), ValueError,
                                               "grad_out"),
    "conv2d_backward-grad_out-for-stride1-at-stride2": (conv_bwd(stride=2), ValueError, "grad_out"),
    "conv2d_backward-grad_out-float32": (conv_bwd(grad_out=GY.astype(np.float32)), TypeError, "grad_out"),
    "conv2d_backward-weight-float32": (conv_bwd(weight=W.astype(np.float32)), TypeError, "weight"),
    "conv2d_backward-x-float32": (conv_bwd(x=X.astype(np.float32)), TypeError, "grad_out", "x"),
    "conv2d_backward-grad_out-int": (conv_bwd(grad_out=GY.astype(np.int64)), TypeError, "grad_out"),
    "conv2d_backward-x-int": (conv_bwd(x=X.astype(np.int32)), TypeError, "x"),
    "conv2d_backward-x-2d": (conv_bwd(x=X[0, 0]), ValueError, "x"),
    "conv2d_backward-weight-3d": (conv_bwd(weight=W[0]), ValueError, "weight"),
    "conv2d_backward-weight-channels": (conv_bwd(weight=W[:, :2]), ValueError, "weight"),
    "conv2d_backward-groups": (conv_bwd(groups=2), ValueError, "groups"),
    "conv2d_backward-stride-0": (conv_bwd(stride=0), ValueError, "stride"),
    "conv2d_backward-padding-negative": (conv_bwd(padding=-1), ValueError, "padding"),
    "conv2d_backward-padding-word": (conv_bwd(padding="full"), ValueError, "padding"),
    "conv2d_backward-layout": (conv_bwd(layout="CHWN"), ValueError, "layout"),
    "conv2d_backward-output_mask-two": (conv_bwd(output_mask=(True, True)), ValueError, "output_mask"),
    "conv2d_backward-output_mask-four": (conv_bwd(output_mask=(True,) * 4), ValueError, "output_mask"),
    "conv2d_backward-output_mask-None": (conv_bwd(output_mask=None), ValueError, "output_mask"),
    "conv2d_backward-output_mask-int": (conv_bwd(output_mask=7), ValueError, "output_mask"),
    "conv2d_backward-output_mask-arrays": (conv_bwd(output_mask=np.ones((3, 2), bool)), ValueError,
                                           "output_mask"),
    "relu_backward-grad_out-shape": (relu_bwd(grad_out=np.ones((4, 3))), ValueError, "grad_out"),
    "relu_backward-grad_out-broadcastable": (relu_bwd(grad_out=np.ones((1, 4))), ValueError, "grad_out"),
    "relu_backward-grad_out-float32": (relu_bwd(grad_out=np.ones((3, 4), np.float32)), TypeError, "grad_out"),
    "relu_backward-x-int": (relu_bwd(x=np.ones((3, 4), np.int64)), TypeError, "x"),
    "relu_backward-grad_out-complex": (relu_bwd(grad_out=np.ones((3, 4), complex)), TypeError, "grad_out"),
    "max_pool2d_backward-indices-float": (pool_bwd(indices=P_IDX.astype(np.float64)), TypeError, "indices"),
    "max_pool2d_backward-indices-bool": (pool_bwd(indices=P_IDX > 0), TypeError, "indices"),
    "max_pool2d_backward-indices-None": (pool_bwd(indices=None), TypeError, "indices"),
    "max_pool2d_backward-indices-shape": (pool_bwd(indices=P_IDX[:, :, :2]), ValueError, "indices"),
    "max_pool2d_backward-grad_out-shape": (pool_bwd(grad_out=P_Y[:1]), ValueError, "grad_out"),
    "max_pool2d_backward-grad_out-other-kernel": (pool_bwd(kernel_size=3), ValueError, "grad_out"),
    "max_pool2d_backward-grad_out-float32": (pool_bwd(grad_out=P_Y.astype(np.float32)), TypeError, "grad_out"),
    "max_pool2d_backward-x-int": (pool_bwd(x=P.astype(np.int64)), TypeError, "x"),
    "max_pool2d_backward-padding": (pool_bwd(padding=2), ValueError, "padding"),
    "max_pool2d_backward-dilation-0": (pool_bwd(dilation=0), ValueError, "dilation"),
    "max_pool2d_backward-grad_out-other-dilation": (pool_bwd(dilation=2), ValueError, "grad_out"),
    "max_pool2d_backward-ceil_mode-str": (pool_bwd(ceil_mode="yes"), TypeError, "ceil_mode"),
    "max_pool2d_backward-ceil_mode-int": (pool_bwd(ceil_mode=0), TypeError, "ceil_mode"),
    "max_pool2d_backward-layout": (pool_bwd(layout="nchw"), ValueError, "layout"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_backward_bad_argument_raises(name):
    call, exc, *words = BAD_CALLS[name]
    raises(call, exc, *words)


@pytest.mark.parametrize("mask", ["abc", "110", "011"])
def test_conv2d_backward_string_output_mask_raises(mask):
    """A string is not three bools: '011' must not quietly compute grad_x."""
    raises(conv_bwd(output_mask=mask), ValueError, "output_mask")


OUT_OF_RANGE = {
    "minus-one": (np.int64, -1),
    "plane-size": (np.int64, 36),
    "last-of-batch": (np.int64, 2 * 2 * 36 - 1),
    "2**62": (np.int64, 2**62),
    "int64-min": (np.int64, np.iinfo(np.int64).min),
    "uint64-max": (np.uint64, np.iinfo(np.uint64).max),
    "uint64-2**63": (np.uint64, 2**63),
    "int32-min": (np.int32, np.iinfo(np.int32).min),
}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool2d_backward_out_of_range_indices_raise(isa, layout, where, value):
    """An index outside its 6x6 plane raises ValueError naming indices, wherever
    it sits; nothing is written outside grad_x; inputs are left as they were;
    the next good call is right."""
    index_dtype, bad = OUT_OF_RANGE[value]
    x = nchw_to(layout, P)
    _, idx = fastconv.max_pool2d(x, 2, layout=layout, return_indices=True)
    g = np.ones(idx.shape)
    idx = idx.astype(index_dtype)
    at = {"first": 0, "middle": idx.size // 2, "last": idx.size - 1}[where]
    idx.reshape(-1)[at] = bad
    before = [a.copy() for a in (g, x, idx)]
    raises(lambda: fastconv.max_pool2d_backward(g, x, idx, 2, layout=layout), ValueError, "indices")
    for a, b in zip((g, x, idx), before):
        np.testing.assert_array_equal(a, b)
    _, good = fastconv.max_pool2d(x, 2, layout=layout, return_indices=True)
    want = ref.max_pool2d_backward(np.ones(P_Y.shape), ref.max_pool2d(P, 2)[1], P.shape)
    assert_close(fastconv.max_pool2d_backward(g, x, good, 2, layout=layout), nchw_to(layout, want),
                 op="max_pool2d_backward", isa=isa, dtype=np.float64, exact=True, context="after a bad call")


# Both grad_x paths on every edge case, whatever the rule would pick: the
# transposed convolution below 16 channels per group and at strides above 1
# (zero-interleaved on the grid), GEMM + col2im from 16 on; the plan confirms
# the path that ran.
@pytest.mark.parametrize("input_grad_path", ["col2im", "transposed-conv"], indirect=True)
@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_forced_input_grad_path_matches_torch(isa, dtype, case, input_grad_path,
                                                              rng):
    case = dict(case, mask=(True, False, False))
    (g, x, w), (g0, x0, w0) = conv_backward_inputs(case, dtype, rng)
    got = run_conv_backward(case, g, x, w)
    check_conv_grads(got, torch_conv2d_grads(g0, x0, w0, case), case, dtype, isa,
                     f"vs torch, grad_x forced to {input_grad_path}")
    ran = fastconv._kernels.last_plan()
    want = "gemm-col2im" if input_grad_path == "col2im" else "transposed-conv"
    assert ran["algorithm"].startswith(want) and "forced" in ran["flags"], ran
