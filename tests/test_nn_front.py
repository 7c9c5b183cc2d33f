"""fastconv.nn's front doors (src/fastconv/_nnfront.pyx) against the general
path and PyTorch.

The front doors take the common call (contiguous, aligned, native ndarrays of
one float dtype; Python ints and tuples as options) straight to the kernels
and return None for everything else, which the general path then checks,
converts and runs. So: whatever a front door takes gives the general path's
bits (the general path is reached by passing x as an ndarray subclass, which
only it accepts and reads as a plain ndarray) and PyTorch's values; whatever the general path refuses, the
front door leaves to it (None), so the errors keep their wording; and arrays
the kernels must not read in place (misaligned, strided, byte-swapped,
subclasses) are left to the general path too.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastconv import _kernels, _nnfront, nn
from fastconv._checks import layout_is_nhwc, same_dtype

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def misaligned(a: np.ndarray) -> np.ndarray:
    buf = np.empty(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


class Sub(np.ndarray):
    """An ndarray subclass: the front doors leave it to the general path, which
    reads it as a plain ndarray (np.asarray) with the same values."""


def general(fn, x, *args, **kwargs):
    """fn's general path: x as a subclass view, which only the general path takes."""
    return fn(x.view(Sub), *args, **kwargs)


def general_raises(fn, x, *args, **kwargs) -> bool:
    try:
        general(fn, x, *args, **kwargs)
    except (TypeError, ValueError):
        return True
    return False


# ---- conv2d: the front door's geometry is the general path's ---------------------------

# Each argument is valid most of the time and, now and then, something the
# front doors must leave to the general path (valid or not there).
BAD_INT = st.sampled_from([-1, 0, True, 2**31, 2**70, np.int64(2), 1.0, None, "1"])
BAD_PAIR = st.one_of(BAD_INT, st.tuples(BAD_INT, st.integers(1, 2)), st.lists(st.integers(1, 2), max_size=3),
                     st.tuples(st.integers(1, 2)), st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)))


def rarely(draw, good, bad):
    """Mostly a draw from `good`; about one time in sixteen from `bad`."""
    return draw(bad) if draw(st.sampled_from(15 * [False] + [True])) else draw(good)


def small_pair(lo, hi):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


@st.composite
def conv_call(draw):
    """Arguments of a conv2d or conv2d_backward call."""
    layout = rarely(draw, st.sampled_from(["NCHW", "NHWC"]), st.sampled_from(["nchw", None, b"NCHW"]))
    groups = rarely(draw, st.integers(1, 3), BAD_INT)
    g = groups if type(groups) is int and 1 <= groups <= 3 else 1
    c, k = g * rarely(draw, st.integers(1, 3), st.just(0)), g * rarely(draw, st.integers(1, 4), st.just(0))
    k += rarely(draw, st.just(0), st.just(1))  # (output channels groups does not divide)
    r, s = rarely(draw, st.integers(1, 4), st.just(0)), draw(st.integers(1, 4))
    h, w = rarely(draw, st.integers(1, 9), st.just(0)), draw(st.integers(1, 9))
    n = rarely(draw, st.integers(1, 2), st.just(0))
    unbatched = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    wdtype = rarely(draw, st.just(dtype), st.sampled_from([np.float32, np.float64, np.int64]))
    stride = rarely(draw, small_pair(1, 3), BAD_PAIR)
    dilation = rarely(draw, small_pair(1, 2), BAD_PAIR)
    padding = rarely(draw, st.one_of(small_pair(0, 2), st.sampled_from(["valid", "same"])),
                     st.one_of(BAD_PAIR, st.sampled_from(["full", "SAME"])))
    xs = (c, h, w) if layout != "NHWC" else (h, w, c)
    x = np.ones(xs if unbatched else (n, *xs), dtype=dtype)
    ws = (k, c // g, r, s) if layout != "NHWC" else (r, s, c // g, k)
    weight = np.ones(ws, dtype=wdtype)
    return x, weight, stride, padding, dilation, groups, layout


@SETTINGS
@given(conv_call())
def test_conv2d_front_geometry_is_the_general_paths(call):
    x, weight, stride, padding, dilation, groups, layout = call
    try:
        nhwc = layout_is_nhwc(layout, "conv2d")
        same_dtype("conv2d", x, weight=weight)
        g = nn._conv_geometry("conv2d", x, weight, stride, padding, dilation, groups, nhwc)
    except (TypeError, ValueError):
        g = None
    out_shape = g.out_shape[1:] if g is not None and x.ndim == 3 else g.out_shape if g else (1,)
    if np.prod(out_shape, dtype=float) > 1 << 24:
        # an option as large as 2**31 the general path accepts (its output would be
        # too large to make here): the front doors leave it to the general path
        assert _nnfront.conv2d(x, weight, None, stride, padding, dilation, groups, layout) is None
        return
    gy = np.ones(out_shape, dtype=x.dtype)
    front = _nnfront.conv2d_backward_geometry(gy, x, weight, stride, padding, dilation, groups, layout)
    if front is None:
        return  # the general path's to run (or refuse)
    assert g is not None, "the front door took a call the general path refuses"
    assert front == tuple(g)
    y = _nnfront.conv2d(x, weight, None, stride, padding, dilation, groups, layout)
    assert y is not None and y.shape == out_shape and y.dtype == x.dtype


# ---- conv2d: results ---------------------------------------------------------------------

CONV_CASES = [  # (n or None for one image, c, h, w, k, r, s, stride, padding, dilation, groups)
    (1, 1, 28, 28, 28, 3, 3, 1, 0, 1, 1),  # the lecture's layer on one image
    (None, 1, 28, 28, 28, 3, 3, 1, 0, 1, 1),
    (2, 3, 11, 13, 8, 3, 3, (2, 1), (1, 2), 1, 1),
    (3, 4, 9, 9, 6, 3, 2, 1, "same", (2, 1), 2),
    (1, 6, 10, 7, 6, 3, 3, 2, "same", 1, 3),
    (2, 2, 7, 8, 4, 2, 2, 1, "valid", 2, 1),
    (1, 32, 6, 6, 20, 3, 3, 1, 1, 1, 1),  # deep: the indirect GEMM
    (None, 5, 5, 5, 5, 5, 5, 1, 2, 1, 5),
]


# PyTorch has no 'same' padding with strides: those cases' forward is checked
# against the general path only, and their gradients are left out
TORCH_CASES = [c for c in CONV_CASES if not (c[8] == "same" and c[7] != 1)]


def torch_conv(x_nchw, w_nchw, b, stride, padding, dilation, groups):
    with warnings.catch_warnings():  # 'same' with even kernels: torch pads a copy, and says so
        warnings.simplefilter("ignore", UserWarning)
        return F.conv2d(torch.from_numpy(x_nchw), torch.from_numpy(w_nchw),
                        None if b is None else torch.from_numpy(b), stride=stride,
                        padding=0 if padding == "valid" else padding, dilation=dilation,
                        groups=groups).numpy()


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_front_door_matches_general_path_and_torch(isa, dtype, with_bias, layout, case, rng):
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    x = rng.standard_normal((n or 1, c, h, w)).astype(dtype)
    wt = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype) if with_bias else None
    want = torch_conv(x, wt, b, stride, padding, dilation, groups) if case in TORCH_CASES else None
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1) if layout == "NHWC" else x)
    wl = np.ascontiguousarray(wt.transpose(2, 3, 1, 0) if layout == "NHWC" else wt)
    if n is None:
        xl = xl[0]
    opts = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "layout": layout}
    front = _nnfront.conv2d(xl, wl, b, stride, padding, dilation, groups, layout)
    assert front is not None, "the common case must take the front door"
    got = nn.conv2d(xl, wl, b, **opts)
    slow = general(nn.conv2d, xl, wl, b, **opts)
    assert got.shape == slow.shape and got.dtype == slow.dtype == dtype
    np.testing.assert_array_equal(got, slow)
    np.testing.assert_array_equal(front, slow)
    if want is not None:
        if n is None:
            want = want[0]
        if layout == "NHWC":
            want = np.moveaxis(want, -3, -1)
        tol = 1e-4 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * c * r * s)


def conv_args(dtype=np.float32):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((1, 2, 6, 6)).astype(dtype), rng.standard_normal((3, 2, 3, 3)).astype(dtype),
            rng.standard_normal(3).astype(dtype))


@pytest.mark.parametrize("how", ["misaligned", "strided", "fortran", "byteswapped", "subclass", "list",
                                 "bias_strided", "weight_misaligned"])
def test_conv2d_front_door_leaves_other_memory_to_the_general_path(how):
    x, w, b = conv_args(np.float64)
    want = nn.conv2d(x, w, b, padding=1)
    if how == "misaligned":
        x = misaligned(x)
    elif how == "strided":
        wide = np.zeros(x.shape[:-1] + (12,))
        wide[..., ::2] = x
        x = wide[..., ::2]
    elif how == "fortran":
        x = np.asfortranarray(x)
    elif how == "byteswapped":
        x = x.astype(x.dtype.newbyteorder())
    elif how == "subclass":
        x = x.view(type("Sub", (np.ndarray,), {}))
    elif how == "list":
        x = x.tolist()
    elif how == "bias_strided":
        b = np.repeat(b, 2)[::2]
    elif how == "weight_misaligned":
        w = misaligned(w)
    assert _nnfront.conv2d(x, w, b, 1, 1, 1, 1, "NCHW") is None
    got = nn.conv2d(x, w, b, padding=1)
    assert type(got) is np.ndarray and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("bad", [
    {"stride": 0}, {"stride": True}, {"stride": (1, 1, 1)}, {"padding": -1}, {"padding": "full"},
    {"dilation": 0}, {"groups": 2}, {"groups": 0}, {"layout": "nchw"}, {"padding": 5 * [1]},
])
def test_conv2d_errors_keep_the_general_paths_words(bad):
    x, w, b = conv_args()
    opts = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "layout": "NCHW"}
    opts.update(bad)
    assert _nnfront.conv2d(x, w, b, opts["stride"], opts["padding"], opts["dilation"], opts["groups"],
                           opts["layout"]) is None
    with pytest.raises((TypeError, ValueError), match="conv2d: "):
        nn.conv2d(x, w, b, **opts)


def test_conv2d_errors_on_arrays_keep_the_general_paths_words():
    x, w, _b = conv_args()
    with pytest.raises(TypeError, match="conv2d: weight has dtype float64 but x has dtype float32"):
        nn.conv2d(x, w.astype(np.float64))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(3,\), got \(4,\)"):
        nn.conv2d(x, w, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="conv2d: x of shape .* has 2 channels but weight"):
        nn.conv2d(x, w[:, :1])
    # a torch-layout weight passed with layout="NHWC": the message says the layout's order
    with pytest.raises(ValueError, match=r"layout='NHWC': weight is \(R, S, C/groups, K\)"):
        nn.conv2d(np.zeros((1, 8, 8, 4), np.float32), np.zeros((6, 4, 3, 3), np.float32), layout="NHWC")
    with pytest.raises(ValueError, match=r"conv2d: kernel \(3, 3\) with dilation \(4, 4\) spans 9"):
        nn.conv2d(x, w, dilation=4)
    with pytest.raises(TypeError, match="conv2d: x has dtype int64"):
        nn.conv2d(x.astype(np.int64), w)


# ---- conv2d_backward ---------------------------------------------------------------------


@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_front_geometry_matches_general_path_and_torch(dtype, layout, case, rng):
    n, c, h, w, k, r, s, stride, padding, dilation, groups = case
    x = rng.standard_normal((n or 1, c, h, w))
    wt = rng.standard_normal((k, c // groups, r, s))
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(wt).requires_grad_()
    tb = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ty = F.conv2d(tx, tw, tb, stride=stride, padding=0 if padding == "valid" else padding,
                      dilation=dilation, groups=groups)
    gy = rng.standard_normal(ty.shape)
    ty.backward(torch.from_numpy(gy))
    to = (lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1).astype(dtype))) if layout == "NHWC" else (
        lambda a: a.astype(dtype))
    xl, gyl = to(x), to(gy)
    wl = np.ascontiguousarray((wt.transpose(2, 3, 1, 0) if layout == "NHWC" else wt).astype(dtype))
    if n is None:
        xl, gyl = xl[0], gyl[0]
    opts = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "layout": layout}
    assert _nnfront.conv2d_backward_geometry(gyl, xl, wl, stride, padding, dilation, groups, layout)
    got = nn.conv2d_backward(gyl, xl, wl, **opts)
    slow = nn.conv2d_backward(gyl, xl.view(Sub), wl, **opts)
    wants = [tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()]
    if layout == "NHWC":
        wants[0], wants[1] = wants[0].transpose(0, 2, 3, 1), wants[1].transpose(2, 3, 1, 0)
    if n is None:
        wants[0] = wants[0][0]
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for a, b_, want in zip(got, slow, wants):
        np.testing.assert_array_equal(a, b_)
        np.testing.assert_allclose(a, want, rtol=tol, atol=tol * 10 * max(1.0, np.abs(want).max()))


def test_conv2d_backward_errors_keep_the_general_paths_words():
    x, w, _ = conv_args()
    gy = np.ones((1, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_out has shape \(1, 3, 5, 5\), expected"):
        nn.conv2d_backward(np.ones((1, 3, 5, 5), np.float32), x, w)
    with pytest.raises(ValueError, match="conv2d_backward: output_mask must be three bools"):
        nn.conv2d_backward(gy, x, w, output_mask=(True, True))
    with pytest.raises(TypeError, match="conv2d_backward: grad_out has dtype float64 but x"):
        nn.conv2d_backward(gy.astype(np.float64), x, w)
    gx, gw, gb = nn.conv2d_backward(gy, x, w, output_mask=(False, True, False))
    assert gx is None and gb is None and gw.shape == w.shape


# ---- max_pool2d and its gradient -----------------------------------------------------------

BAD_POOL = st.one_of(BAD_PAIR, st.just(()), st.tuples(st.integers(1, 3)).map(list), st.just([2, 2]))


@st.composite
def pool_call(draw):
    """Arguments of a max_pool2d or max_pool2d_backward call."""
    layout = rarely(draw, st.sampled_from(["NCHW", "NHWC"]), st.sampled_from(["nhwc", None]))
    ndim = rarely(draw, st.sampled_from([3, 4]), st.sampled_from([2, 5]))
    shape = tuple(rarely(draw, st.integers(1, 12), st.just(0)) for _ in range(ndim))
    dtype = rarely(draw, st.sampled_from([np.float32, np.float64]), st.just(np.float16))
    x = np.random.default_rng(draw(st.integers(0, 99))).standard_normal(shape).astype(dtype)
    if x.size and draw(st.integers(0, 4)) == 0:
        x.flat[draw(st.integers(0, x.size - 1))] = np.nan
    one_or_two = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3)),
                           st.tuples(st.integers(1, 3), st.integers(1, 4)))
    kernel = rarely(draw, one_or_two, BAD_POOL)
    stride = rarely(draw, st.one_of(st.none(), one_or_two), BAD_POOL)
    padding = rarely(draw, st.one_of(st.integers(0, 1), st.tuples(st.integers(0, 1), st.integers(0, 2))),
                     BAD_POOL)
    dilation = rarely(draw, st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 3), st.integers(1, 2))),
                      BAD_POOL)
    ceil_mode = rarely(draw, st.booleans(), st.sampled_from([np.bool_(True), 0, None]))
    return x, kernel, stride, padding, dilation, ceil_mode, layout


@SETTINGS
@given(pool_call())
def test_max_pool2d_front_door_takes_only_what_the_general_path_computes(call):
    x, kernel, stride, padding, dilation, ceil_mode, layout = call
    args = (kernel, stride, padding, dilation, ceil_mode)
    front = _nnfront.max_pool2d(x, *args, True, layout)
    if general_raises(nn.max_pool2d, x, *args, True, layout=layout):
        assert front is None, "the front door took a call the general path refuses"
        return
    if front is None:
        return
    y, idx = front
    gy, gidx = general(nn.max_pool2d, x, *args, True, layout=layout)
    assert y.shape == gy.shape and y.dtype == gy.dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, gy)
    np.testing.assert_array_equal(idx, gidx)
    grad = np.arange(y.size, dtype=y.dtype).reshape(y.shape)
    gx = _nnfront.max_pool2d_backward(grad, x, idx, *args, layout)
    assert gx is not None
    np.testing.assert_array_equal(gx, nn.max_pool2d_backward(grad, x.view(Sub), idx, *args, layout=layout))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [  # shape (NCHW), kernel, stride, padding, dilation, ceil_mode
    ((1, 28, 26, 26), 2, None, 0, 1, False),  # the lecture's pooling on one image
    ((28, 26, 26), 2, None, 0, 1, False),
    ((2, 3, 9, 11), 3, 2, 1, 1, True),
    ((1, 4, 10, 9), (3, 2), (2, 1), (1, 0), (2, 3), False),
    ((2, 17, 5, 33), (1,), (2,), 0, 1, True),
    ((1, 2, 5, 6), 2, 2, 1, 1, True),  # ceil_mode's last window would start in the padding: dropped
])
def test_max_pool2d_front_door_matches_torch(dtype, layout, case, rng):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[::7] = x.flat[3]  # ties
    x.flat[5] = np.nan
    t = torch.from_numpy(x if x.ndim == 4 else x[None])
    ty, tidx = F.max_pool2d(t, kernel, stride if stride is not None else None, padding, dilation,
                            ceil_mode, return_indices=True)
    gy = rng.standard_normal(ty.shape).astype(dtype)
    to = (lambda a: np.ascontiguousarray(np.moveaxis(a, -3, -1))) if layout == "NHWC" else (lambda a: a)
    xl = to(x)
    want_y, want_i = ty.numpy(), tidx.numpy()
    if x.ndim == 3:
        want_y, want_i, gy = want_y[0], want_i[0], gy[0]
    assert _nnfront.max_pool2d(xl, kernel, stride, padding, dilation, ceil_mode, True, layout) is not None
    y, idx = nn.max_pool2d(xl, kernel, stride, padding, dilation, ceil_mode, True, layout=layout)
    np.testing.assert_array_equal(y, to(want_y))
    np.testing.assert_array_equal(idx, to(want_i))
    np.testing.assert_array_equal(nn.max_pool2d(xl, kernel, stride, padding, dilation, ceil_mode,
                                                layout=layout), to(want_y))
    gyl = to(gy)
    want_gx = torch.ops.aten.max_pool2d_with_indices_backward(
        torch.from_numpy(gy if gy.ndim == 4 else gy[None]), t, list(np.broadcast_to(kernel, 2)),
        list(np.broadcast_to(stride if stride is not None else kernel, 2)), list(np.broadcast_to(padding, 2)),
        list(np.broadcast_to(dilation, 2)), ceil_mode, tidx).numpy()
    if x.ndim == 3:
        want_gx = want_gx[0]
    got = nn.max_pool2d_backward(gyl, xl, idx, kernel, stride, padding, dilation, ceil_mode, layout=layout)
    np.testing.assert_array_equal(got, to(want_gx))


def test_max_pool2d_backward_bad_indices_still_raise():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y, idx = nn.max_pool2d(x, 2, return_indices=True)
    bad = idx.copy()
    bad[0, 0, 0, 0] = 16
    assert _nnfront.max_pool2d_backward(np.ones_like(y), x, bad, 2, None, 0, 1, False, "NCHW") is None
    with pytest.raises(ValueError, match=r"max_pool2d_backward: indices hold positions outside \[0, 16\)"):
        nn.max_pool2d_backward(np.ones_like(y), x, bad, 2)
    with pytest.raises(ValueError, match=r"max_pool2d_backward: grad_out has shape \(1, 1, 3, 3\)"):
        nn.max_pool2d_backward(np.ones((1, 1, 3, 3)), x, idx, 2)
    with pytest.raises(TypeError, match="max_pool2d_backward: indices must be integers"):
        nn.max_pool2d_backward(np.ones_like(y), x, idx.astype(np.float64), 2)


@pytest.mark.parametrize("how", ["misaligned", "strided", "byteswapped", "int32_indices"])
def test_max_pool2d_front_door_leaves_other_memory_to_the_general_path(how):
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6))
    y, idx = nn.max_pool2d(x, 2, return_indices=True)
    gy = np.ones_like(y)
    want = nn.max_pool2d_backward(gy, x, idx, 2)
    if how == "misaligned":
        x, gy, idx = misaligned(x), misaligned(gy), misaligned(idx)
    elif how == "strided":
        wide = np.zeros(x.shape[:-1] + (12,))
        wide[..., ::2] = x
        x = wide[..., ::2]
    elif how == "byteswapped":
        x, gy = x.astype(">f8"), gy.astype(">f8")
    else:
        idx = idx.astype(np.int32)
    if how != "int32_indices":
        assert _nnfront.max_pool2d(x, 2, None, 0, 1, False, True, "NCHW") is None
        got_y, got_i = nn.max_pool2d(x, 2, return_indices=True)
        np.testing.assert_array_equal(got_y, y)
        np.testing.assert_array_equal(got_i, idx)
    if how != "strided":  # (x itself may be strided for the gradient: only its shape is read)
        assert _nnfront.max_pool2d_backward(gy, x, idx, 2, None, 0, 1, False, "NCHW") is None
    np.testing.assert_array_equal(nn.max_pool2d_backward(gy, x, idx, 2), want)


# ---- the model layer's fused conv2d + max-pool -------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [  # n, h, w, c, k, r, s, pool
    (1, 28, 28, 1, 28, 3, 3, (2, 2)),  # the lecture's layers on one image (the direct C=1 kernel)
    (3, 11, 9, 5, 7, 3, 2, (2, 3)),
])
def test_conv2d_maxpool_front_door_matches_the_binding(dtype, case, rng):
    n, h, w, c, k, r, s, pool = case
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    wt = rng.standard_normal((r, s, c, k)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    plan = nn._conv2d_maxpool_plan(x, wt, 1, "valid", 1, 1, pool)
    args = (plan.conv.dims, plan.conv.opts, plan.pdims, plan.popts)
    front = _nnfront.conv2d_maxpool(x, wt, b, *args, True)
    assert front is not None
    y, codes = front
    y_bind = np.empty(plan.out_shape, dtype)
    codes_bind = np.empty(plan.out_shape, np.uint8)
    _kernels.conv2d_maxpool(x.reshape(-1), wt.reshape(-1), b, y_bind.reshape(-1), codes_bind.reshape(-1),
                            *args)
    assert y.dtype == dtype and codes.dtype == np.uint8 and y.shape == plan.out_shape
    np.testing.assert_array_equal(y, y_bind)
    np.testing.assert_array_equal(codes, codes_bind)
    y2, none = _nnfront.conv2d_maxpool(x, wt, None, *args, False)
    assert none is None and y2.shape == plan.out_shape
    # arrays the kernel must not read in place, or that do not fit the plan: the binding's path
    for bad in [(misaligned(x), wt, b), (x, misaligned(wt), b), (x, wt, b[:-1]), (x[:, :-1], wt, b),
                (x, wt.astype(np.float32 if dtype == np.float64 else np.float64), b), (x.tolist(), wt, b)]:
        assert _nnfront.conv2d_maxpool(*bad, *args, True) is None


# ---- dense and dense_backward --------------------------------------------------------------

DENSE_CASES = [((32, 20), (20, 7)), ((1, 9), (9, 3)), ((9,), (9, 4)), ((2, 3, 5), (5, 6)),
               ((40, 300), (300, 33))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("shapes", DENSE_CASES, ids=str)
def test_dense_front_door_matches_general_path_and_numpy(dtype, with_bias, shapes, rng):
    x = rng.standard_normal(shapes[0]).astype(dtype)
    w = rng.standard_normal(shapes[1]).astype(dtype)
    b = rng.standard_normal(w.shape[1]).astype(dtype) if with_bias else None
    front = _nnfront.dense(x, w, b)
    assert front is not None and type(front) is np.ndarray and front.dtype == dtype
    np.testing.assert_array_equal(front, general(nn.dense, x, w, b))
    want = x.astype(np.float64) @ w.astype(np.float64) + (0 if b is None else b)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(front, want, rtol=tol, atol=tol * np.sqrt(w.shape[0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", [(True, True, True), (True, False, False), (False, True, True),
                                  (False, False, True), (False, False, False)], ids=str)
@pytest.mark.parametrize("shapes", [s for s in DENSE_CASES if len(s[0]) == 2], ids=str)
def test_dense_backward_front_door_matches_general_path_and_numpy(dtype, mask, shapes, rng):
    x = rng.standard_normal(shapes[0]).astype(dtype)
    w = rng.standard_normal(shapes[1]).astype(dtype)
    gy = rng.standard_normal((x.shape[0], w.shape[1])).astype(dtype)
    front = _nnfront.dense_backward(gy, x, w, mask)
    assert front is not None
    general_ = general(nn.dense_backward, gy, x, w, output_mask=mask)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, w, gy))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for got, gen, want, on in zip(front, general_, (gy64 @ w64.T, x64.T @ gy64, gy64.sum(0)), mask):
        if not on:
            assert got is None and gen is None
            continue
        assert type(got) is np.ndarray and got.dtype == dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, gen)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 30)


@pytest.mark.parametrize("how", ["misaligned", "strided", "fortran", "byteswapped", "subclass", "list",
                                 "kernel_misaligned", "bias_strided", "mixed_dtypes", "wrong_features",
                                 "bias_length", "kernel_1d", "scalar_x", "empty"])
def test_dense_front_door_leaves_the_rest_to_the_general_path(how):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    raises = how in ("mixed_dtypes", "wrong_features", "bias_length", "kernel_1d", "scalar_x")
    want = None if raises else nn.dense(x, w, b)
    if how == "misaligned":
        x = misaligned(x)
    elif how == "strided":
        x = np.repeat(x, 2, axis=1)[:, ::2]
    elif how == "fortran":
        x = np.asfortranarray(x)
    elif how == "byteswapped":
        x = x.astype(x.dtype.newbyteorder())
    elif how == "subclass":
        x = x.view(Sub)
    elif how == "list":
        x = x.tolist()
    elif how == "kernel_misaligned":
        w = misaligned(w)
    elif how == "bias_strided":
        b = np.repeat(b, 2)[::2]
    elif how == "mixed_dtypes":
        w = w.astype(np.float32)
    elif how == "wrong_features":
        x = x[:, :4].copy()
    elif how == "bias_length":
        b = b[:3].copy()
    elif how == "kernel_1d":
        w = w[:, 0].copy()
    elif how == "scalar_x":
        x = np.float64(1.0)
    elif how == "empty":
        x = x[:0]
        want = np.zeros((0, 4))
    assert _nnfront.dense(x, w, b) is None
    if raises:
        with pytest.raises((TypeError, ValueError), match="dense: "):
            nn.dense(x, w, b)
        return
    got = nn.dense(x, w, b)
    assert type(got) is np.ndarray and got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("how", ["mask_list", "mask_ints", "mask_two", "x_3d", "grad_out_shape",
                                 "grad_out_strided", "grad_out_float32"])
def test_dense_backward_front_door_leaves_the_rest_to_the_general_path(how):
    rng = np.random.default_rng(2)
    x, w, gy = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal((6, 4))
    mask = (True, True, True)
    raises = how in ("mask_two", "grad_out_shape", "grad_out_float32")
    if how == "mask_list":
        mask = [True, True, True]
    elif how == "mask_ints":
        mask = (1, 1, 1)
    elif how == "mask_two":
        mask = (True, True)
    elif how == "x_3d":
        x, gy = x.reshape(2, 3, 5), gy.reshape(2, 3, 4)
    elif how == "grad_out_shape":
        gy = gy[:5].copy()
    elif how == "grad_out_strided":
        gy = np.repeat(gy, 2, axis=1)[:, ::2]
    elif how == "grad_out_float32":
        gy = gy.astype(np.float32)
    assert _nnfront.dense_backward(gy, x, w, mask) is None
    if raises:
        with pytest.raises((TypeError, ValueError), match="dense_backward: "):
            nn.dense_backward(gy, x, w, output_mask=mask)
        return
    got = nn.dense_backward(gy, x, w, output_mask=mask)
    x2, gy2 = x.reshape(-1, 5), np.ascontiguousarray(gy).reshape(-1, 4)
    for g, want in zip(got, (gy2 @ w.T, x2.T @ gy2, gy2.sum(0))):
        np.testing.assert_allclose(g.reshape(want.shape), want, rtol=1e-12, atol=1e-12)


# ---- out=: the front doors write a common-case out directly ---------------------------------


def _out_calls(dtype, rng):
    """(name, front door call with out, public call with out, out maker) for each op taking out=."""
    x = rng.standard_normal((6, 5)).astype(dtype)
    w = rng.standard_normal((5, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    gy = rng.standard_normal((6, 4)).astype(dtype)
    img = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    k = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    return [
        ("dense", (6, 4), lambda o, x=x: _nnfront.dense(x, w, b, o), lambda o, x=x: nn.dense(x, w, b, out=o),
         lambda: general(nn.dense, x, w, b)),
        ("dense_backward", (5, 4),
         lambda o: _nnfront.dense_backward(gy, x, w, (False, True, False), (None, o, None)),
         lambda o: nn.dense_backward(gy, x, w, output_mask=(False, True, False), out=(None, o, None))[1],
         lambda: general(nn.dense_backward, gy, x, w, output_mask=(False, True, False))[1]),
        ("dense_backward", (6, 5),
         lambda o: _nnfront.dense_backward(gy, x, w, (True, False, True), (o, None, None)),
         lambda o: nn.dense_backward(gy, x, w, output_mask=(True, False, True), out=(o, None, None))[0],
         lambda: general(nn.dense_backward, gy, x, w, output_mask=(True, False, True))[0]),
        ("dense_backward", (4,),
         lambda o: _nnfront.dense_backward(gy, x, w, (False, False, True), (None, None, o)),
         lambda o: nn.dense_backward(gy, x, w, output_mask=(False, False, True), out=(None, None, o))[2],
         lambda: general(nn.dense_backward, gy, x, w, output_mask=(False, False, True))[2]),
        ("conv2d", (2, 4, 7, 7),
         lambda o: _nnfront.conv2d(img, k, b, 1, 0, 1, 1, "NCHW", o),
         lambda o: nn.conv2d(img, k, b, out=o), lambda: general(nn.conv2d, img, k, b)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_front_doors_write_out_with_the_general_paths_bits(dtype, rng):
    for name, shape, front, public, want in _out_calls(dtype, rng):
        out = np.full(shape, np.nan, dtype)
        got = front(out)
        result = got[[g is out for g in got].index(True)] if type(got) is tuple else got
        assert result is out, name
        np.testing.assert_array_equal(out, want(), err_msg=name)
        out2 = np.full(shape, np.nan, dtype)
        assert public(out2) is out2
        np.testing.assert_array_equal(out2, want(), err_msg=name)


@pytest.mark.parametrize("how", ["strided", "fortran", "misaligned", "subclass", "readonly", "wrong_shape",
                                 "wrong_dtype", "byteswapped", "list"])
def test_out_front_doors_leave_other_outs_to_the_general_path(how, rng):
    raises = how in ("readonly", "wrong_shape", "wrong_dtype", "byteswapped", "list")
    for name, shape, front, public, want in _out_calls(np.float64, rng):
        out = np.zeros(shape)
        if how == "strided":
            out = np.zeros((*shape[:-1], 2 * shape[-1]))[..., ::2]
        elif how == "fortran":
            out = np.asfortranarray(out) if out.ndim > 1 else np.zeros(2 * shape[0])[::2]
        elif how == "misaligned":
            out = misaligned(out)
        elif how == "subclass":
            out = out.view(Sub)
        elif how == "readonly":
            out.flags.writeable = False
        elif how == "wrong_shape":
            out = np.zeros((*shape[:-1], shape[-1] + 1))
        elif how == "wrong_dtype":
            out = out.astype(np.float32)
        elif how == "byteswapped":
            out = out.astype(out.dtype.newbyteorder())
        elif how == "list":
            out = out.tolist()
        assert front(out) is None, (name, how)
        if raises:
            with pytest.raises((TypeError, ValueError), match=f"{name}: "):
                public(out)
            continue
        assert public(out) is out
        np.testing.assert_array_equal(out, want(), err_msg=f"{name} {how}")


def test_out_front_doors_leave_an_out_sharing_an_inputs_memory_to_the_general_path(rng):
    """An out overlapping an input: the general path computes aside and copies in,
    so the inputs are read whole before out is written."""
    x = rng.standard_normal((6, 4))
    w = rng.standard_normal((4, 4))
    want = x @ w
    assert _nnfront.dense(x, w, None, x) is None
    assert nn.dense(x, w, out=x) is x
    np.testing.assert_allclose(x, want, rtol=1e-12, atol=1e-12)
    gy, x2 = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    want_k = x2.T @ gy
    assert _nnfront.dense_backward(gy, x2, w, (False, True, False), (None, gy, None)) is None
    assert nn.dense_backward(gy, x2, w, output_mask=(False, True, False), out=(None, gy, None))[1] is gy
    np.testing.assert_allclose(gy, want_k, rtol=1e-12, atol=1e-12)
    img = rng.standard_normal((1, 1, 6, 6))
    k = rng.standard_normal((1, 1, 1, 1))
    want_c = img * k[0, 0, 0, 0]
    assert _nnfront.conv2d(img, k, None, 1, 0, 1, 1, "NCHW", img) is None
    assert nn.conv2d(img, k, out=img) is img
    np.testing.assert_allclose(img, want_c, rtol=1e-12, atol=1e-12)
