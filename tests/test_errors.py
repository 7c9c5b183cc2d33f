"""Bad input to conv2d, relu and max_pool2d raises ValueError or TypeError (never a
crash, never a silent answer) with a message that names the offending argument."""
from __future__ import annotations

import numpy as np
import pytest
from _helpers import raises

import fastconv

X = np.zeros((1, 3, 5, 5))          # NCHW
W = np.zeros((4, 3, 3, 3))          # (K, C, R, S)
X_NHWC = np.zeros((1, 5, 5, 3))
W_NHWC = np.zeros((3, 3, 3, 4))     # (R, S, C, K)
P = np.zeros((1, 2, 6, 6))          # pooling input


def conv(**kw):
    args = dict(x=X, weight=W)
    args.update(kw)
    return lambda: fastconv.conv2d(**args)


def pool(*args, x=P, **kw):
    return lambda: fastconv.max_pool2d(x, *args, **kw)


def read_only(shape, dtype=np.float64):
    a = np.zeros(shape, dtype)
    a.flags.writeable = False
    return a


# ---- wrong number of dimensions -------------------------------------------------------

NDIM_CASES = {
    "conv2d-x-1d": (conv(x=np.zeros(5)), "x"),
    "conv2d-x-2d": (conv(x=np.zeros((5, 5))), "x"),
    "conv2d-x-5d": (conv(x=np.zeros((1, 1, 3, 5, 5))), "x"),
    "conv2d-weight-3d": (conv(weight=np.zeros((4, 3, 3))), "weight"),
    "conv2d-weight-5d": (conv(weight=np.zeros((4, 3, 3, 3, 1))), "weight"),
    "conv2d-x-0d": (conv(x=np.float64(1.0)), "x"),
    "max_pool2d-x-2d": (pool(2, x=np.zeros((6, 6))), "x"),
    "max_pool2d-x-5d": (pool(2, x=np.zeros((1, 1, 2, 6, 6))), "x"),
    "max_pool2d-x-1d": (pool(2, x=np.zeros(6)), "x"),
}


@pytest.mark.parametrize("name", NDIM_CASES)
def test_wrong_ndim_raises_valueerror(name):
    call, arg = NDIM_CASES[name]
    raises(call, ValueError, arg)


# ---- dtypes ----------------------------------------------------------------------------

BAD_DTYPES = {
    "int64": lambda s: np.zeros(s, np.int64),
    "int32": lambda s: np.zeros(s, np.int32),
    "uint8": lambda s: np.zeros(s, np.uint8),
    "bool": lambda s: np.zeros(s, bool),
    "object": lambda s: np.full(s, 1.0, dtype=object),
    "str": lambda s: np.full(s, "a"),
    "complex128": lambda s: np.zeros(s, np.complex128),
    "float16": lambda s: np.zeros(s, np.float16),
    "longdouble": lambda s: np.zeros(s, np.longdouble),
}


def _dtype_calls(make):
    return {
        "conv2d-x": (lambda: fastconv.conv2d(make(X.shape), W), "x"),
        "conv2d-weight": (lambda: fastconv.conv2d(X, make(W.shape)), "weight"),
        "conv2d-bias": (lambda: fastconv.conv2d(X, W, make((4,))), "bias"),
        "relu-x": (lambda: fastconv.relu(make((7,))), "x"),
        "max_pool2d-x": (lambda: fastconv.max_pool2d(make(P.shape), 2), "x"),
    }


@pytest.mark.parametrize("where", list(_dtype_calls(None)))
@pytest.mark.parametrize("dtype", list(BAD_DTYPES))
def test_unsupported_dtype_raises_typeerror_naming_float32_float64(dtype, where):
    call, arg = _dtype_calls(BAD_DTYPES[dtype])[where]
    raises(call, TypeError, arg, "float32", "float64")


@pytest.mark.parametrize("where", ["weight", "bias"])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_mismatched_dtypes_raise_typeerror(x_dtype, where):
    other = np.float64 if x_dtype == np.float32 else np.float32
    x = X.astype(x_dtype)
    w = W.astype(other if where == "weight" else x_dtype)
    b = np.zeros(4, other if where == "bias" else x_dtype)
    raises(lambda: fastconv.conv2d(x, w, b), TypeError, where)


# ---- shapes and hyperparameters ----------------------------------------------------------

VALUE_CASES = {
    # channels
    "conv2d-channel-mismatch": (conv(weight=np.zeros((4, 2, 3, 3))), ["weight", "channels"]),
    "conv2d-channel-mismatch-nhwc": (
        lambda: fastconv.conv2d(X_NHWC, np.zeros((3, 3, 2, 4)), layout="NHWC"), ["weight", "channels"]),
    "conv2d-groups-not-dividing-c": (conv(weight=np.zeros((4, 1, 3, 3)), groups=2), ["groups"]),
    "conv2d-groups-not-dividing-k": (
        lambda: fastconv.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2), ["groups"]),
    "conv2d-groups-zero": (conv(groups=0), ["groups"]),
    "conv2d-groups-negative": (conv(groups=-3), ["groups"]),
    "conv2d-empty-kernel": (conv(weight=np.zeros((4, 3, 0, 3))), ["weight"]),
    # kernel larger than the padded input
    "conv2d-kernel-too-big": (conv(x=np.zeros((1, 3, 2, 2))), ["kernel"]),
    "conv2d-kernel-too-big-dilated": (conv(dilation=3), ["kernel"]),
    "conv2d-kernel-too-big-one-axis": (conv(x=np.zeros((1, 3, 9, 2)), padding=(0, 0)), ["kernel"]),
    # stride, dilation, padding
    "conv2d-stride-0": (conv(stride=0), ["stride"]),
    "conv2d-stride-negative": (conv(stride=-1), ["stride"]),
    "conv2d-stride-pair-0": (conv(stride=(1, 0)), ["stride"]),
    "conv2d-stride-triple": (conv(stride=(1, 1, 1)), ["stride"]),
    "conv2d-dilation-0": (conv(dilation=0), ["dilation"]),
    "conv2d-dilation-pair-negative": (conv(dilation=(-2, 1)), ["dilation"]),
    "conv2d-padding-negative": (conv(padding=-1), ["padding"]),
    "conv2d-padding-pair-negative": (conv(padding=(0, -1)), ["padding"]),
    "conv2d-padding-single": (conv(padding=(1,)), ["padding"]),
    "conv2d-padding-full": (conv(padding="full"), ["padding"]),
    "conv2d-padding-SAME": (conv(padding="SAME"), ["padding"]),
    "conv2d-padding-empty-string": (conv(padding=""), ["padding"]),
    "conv2d-layout-bad": (conv(layout="NWHC"), ["layout"]),
    "conv2d-layout-lowercase": (conv(layout="nchw"), ["layout"]),
    "conv2d-layout-none": (conv(layout=None), ["layout"]),
    # bias
    "conv2d-bias-short": (conv(bias=np.zeros(3)), ["bias"]),
    "conv2d-bias-2d": (conv(bias=np.zeros((4, 1))), ["bias"]),
    "conv2d-bias-0d": (conv(bias=np.float64(0.0)), ["bias"]),
    # out=
    "conv2d-out-shape": (conv(out=np.zeros((1, 4, 3, 4))), ["out"]),
    "conv2d-out-unbatched-shape": (
        lambda: fastconv.conv2d(X[0], W, out=np.zeros((1, 4, 3, 3))), ["out"]),
    "conv2d-out-nchw-shape-with-nhwc": (
        lambda: fastconv.conv2d(X_NHWC, W_NHWC, layout="NHWC", out=np.zeros((1, 4, 3, 3))), ["out"]),
    "conv2d-bias-short-nhwc": (lambda: fastconv.conv2d(X_NHWC, W_NHWC, np.zeros(3), layout="NHWC"), ["bias"]),
    "conv2d-out-dtype": (conv(out=np.zeros((1, 4, 3, 3), np.float32)), ["out"]),
    "conv2d-out-read-only": (conv(out=read_only((1, 4, 3, 3))), ["out"]),
    # max_pool2d
    "max_pool2d-kernel-0": (pool(0), ["kernel_size"]),
    "max_pool2d-kernel-negative": (pool((2, -1)), ["kernel_size"]),
    "max_pool2d-stride-0": (pool(2, 0), ["stride"]),
    "max_pool2d-stride-pair-0": (pool(2, (0, 1)), ["stride"]),
    "max_pool2d-padding-negative": (pool(2, 2, -1), ["padding"]),
    "max_pool2d-padding-over-half": (pool(3, 1, 2), ["padding"]),
    "max_pool2d-padding-over-half-k2": (pool(2, 1, 2), ["padding"]),
    "max_pool2d-padding-over-half-one-axis": (pool((2, 4), 1, (1, 3)), ["padding"]),
    "max_pool2d-kernel-too-big": (pool(7), ["kernel_size"]),
    "max_pool2d-kernel-too-big-nhwc": (pool(7, x=np.zeros((1, 6, 6, 2)), layout="NHWC"), ["kernel_size"]),
    "max_pool2d-layout-bad": (pool(2, layout="CHWN"), ["layout"]),
    "max_pool2d-kernel-triple": (pool((2, 2, 2)), ["kernel_size"]),
    "max_pool2d-kernel-empty": (pool(()), ["kernel_size"]),
    "max_pool2d-padding-empty": (pool(2, None, ()), ["padding"]),
    "max_pool2d-dilation-0": (pool(2, dilation=0), ["dilation"]),
    "max_pool2d-dilation-0-positional": (pool(2, 2, 0, 0), ["dilation"]),
    "max_pool2d-dilation-negative-one-axis": (pool(2, dilation=(1, -1)), ["dilation"]),
    "max_pool2d-dilation-empty": (pool(2, dilation=()), ["dilation"]),
    "max_pool2d-dilation-triple": (pool(2, dilation=(1, 1, 1)), ["dilation"]),
    # PyTorch's limit is half the kernel size, whatever the dilation
    "max_pool2d-padding-over-half-dilated": (pool(3, 1, 2, 2), ["padding"]),
    "max_pool2d-dilated-kernel-too-big": (pool(3, dilation=3), ["kernel_size", "dilation"]),
    "max_pool2d-dilated-kernel-too-big-ceil": (pool(3, 1, 0, 3, True), ["kernel_size", "dilation"]),
    # kernel 2, padding 1, dilation 7 on 6x6: the one window reads rows -1 and 6
    "max_pool2d-window-of-padding-only": (pool(2, 1, 1, 7), ["padding", "dilation"]),
    "max_pool2d-window-of-padding-only-nhwc": (pool((1, 2), 1, (0, 1), (1, 7), x=np.zeros((1, 6, 6, 2)),
                                                    layout="NHWC"), ["padding", "dilation"]),
}


@pytest.mark.parametrize("name", VALUE_CASES)
def test_bad_argument_raises_valueerror(name):
    call, words = VALUE_CASES[name]
    raises(call, ValueError, *words)


TYPE_CASES = {
    "conv2d-stride-float": (conv(stride=1.5), "stride"),
    "conv2d-stride-str": (conv(stride="2"), "stride"),
    "conv2d-stride-bool": (conv(stride=True), "stride"),
    "conv2d-dilation-float": (conv(dilation=2.0), "dilation"),
    "conv2d-padding-float": (conv(padding=1.5), "padding"),
    "conv2d-padding-none": (conv(padding=None), "padding"),
    "conv2d-groups-float": (conv(groups=1.0), "groups"),
    "conv2d-out-list": (conv(out=[[0.0]]), "out"),
    "max_pool2d-kernel-float": (pool(2.5), "kernel_size"),
    "max_pool2d-stride-float": (pool(2, 1.5), "stride"),
    "max_pool2d-padding-none": (pool(2, 2, None), "padding"),
    "max_pool2d-dilation-float": (pool(2, dilation=1.5), "dilation"),
    "max_pool2d-dilation-none": (pool(2, dilation=None), "dilation"),
    # bools as PyTorch takes them: not a string (truthy), not a number, not None
    "max_pool2d-ceil_mode-str": (pool(2, ceil_mode="no"), "ceil_mode"),
    "max_pool2d-ceil_mode-str-positional": (pool(2, 2, 0, 1, "no"), "ceil_mode"),
    "max_pool2d-ceil_mode-int": (pool(2, ceil_mode=1), "ceil_mode"),
    "max_pool2d-ceil_mode-none": (pool(2, ceil_mode=None), "ceil_mode"),
    "max_pool2d-return_indices-str": (pool(2, return_indices="no"), "return_indices"),
    "max_pool2d-return_indices-int-positional": (pool(2, 2, 0, 1, False, 1), "return_indices"),
}


@pytest.mark.parametrize("name", TYPE_CASES)
def test_bad_argument_type_raises_typeerror(name):
    call, word = TYPE_CASES[name]
    raises(call, TypeError, word)


# relu is a numpy.ufunc: a bad out= gets the exception, message included, that NumPy's
# own unary ufuncs raise (np.negative here).
UFUNC_OUT_CASES = {
    "relu-out-shape": lambda: (np.zeros(5), np.zeros(6)),
    "relu-out-transposed-shape": lambda: (np.zeros((2, 3)), np.zeros((3, 2))),
    "relu-out-int-dtype": lambda: (np.zeros(5), np.zeros(5, np.int64)),
    "relu-out-read-only": lambda: (np.zeros(5), read_only(5)),
    "relu-out-read-only-empty": lambda: (np.zeros(0), read_only(0)),
    "relu-out-list": lambda: (np.zeros(2), [0.0, 0.0]),
    "relu-out-tuple-of-two": lambda: (np.zeros(2), (np.zeros(2), np.zeros(2))),
}


@pytest.mark.parametrize("name", UFUNC_OUT_CASES)
def test_relu_bad_out_raises_as_numpy_ufuncs(name):
    x, out = UFUNC_OUT_CASES[name]()
    with pytest.raises((ValueError, TypeError)) as want:
        np.negative(x, out=out)
    with pytest.raises((ValueError, TypeError)) as got:
        fastconv.relu(x, out=out)
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value).replace("'negative'", "'relu'")


def test_errors_leave_out_and_inputs_untouched():
    x = np.arange(75.0).reshape(1, 3, 5, 5)
    w = np.ones((4, 3, 3, 3))
    out = np.full((1, 4, 3, 3), 7.0, np.float32)
    with pytest.raises(ValueError):
        fastconv.conv2d(x, w, out=out)
    np.testing.assert_array_equal(out, 7.0)
    np.testing.assert_array_equal(x, np.arange(75.0).reshape(1, 3, 5, 5))


# ---- sizes that cannot be allocated or overflow 64 bits ------------------------------------
# Huge arrays are zero-stride broadcast views (tiny memory); results of 2**57 bytes
# or more exceed any address space, so they can only fail, and must fail at once.


def _huge(shape, dtype=np.float64):
    return np.broadcast_to(np.zeros((), dtype), shape)


HUGE = (2**20, 1, 2**20, 2**16)    # 2**56 elements: 512 PiB as float64

HUGE_CASES = {
    "conv2d-x-view": lambda: fastconv.conv2d(_huge(HUGE), np.ones((1, 1, 1, 1))),
    "conv2d-x-view-nhwc": lambda: fastconv.conv2d(_huge((2**16, 2**16, 2**16, 2**10), np.float32),
                                                  np.ones((1, 1, 2**10, 1), np.float32), layout="NHWC"),
    "conv2d-weight-view": lambda: fastconv.conv2d(X, _huge((2**50, 3, 1, 1))),
    "conv2d-output-padding": lambda: fastconv.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)),
                                                     padding=2**28),
    "conv2d-output-overflows-int64": lambda: fastconv.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)),
                                                             padding=2**40),
    "conv2d-dilation-2**62": lambda: fastconv.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 2, 2)),
                                                     dilation=2**62, padding=2**62),
    "conv2d-stride-2**62": lambda: fastconv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 1, 1)),
                                                   stride=2**62),
    "relu-view": lambda: fastconv.relu(_huge(HUGE)),
    "max_pool2d-view": lambda: fastconv.max_pool2d(_huge(HUGE), 1),
    "max_pool2d-view-nhwc": lambda: fastconv.max_pool2d(_huge(HUGE), (1, 2), layout="NHWC"),
    "max_pool2d-kernel-2**62": lambda: fastconv.max_pool2d(np.ones((1, 1, 1, 1)), 2**62, padding=2**61),
    "max_pool2d-stride-2**62": lambda: fastconv.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=2**62),
}


@pytest.mark.parametrize("name", HUGE_CASES)
def test_huge_sizes_raise_before_allocating(name):
    with pytest.raises((ValueError, MemoryError)):
        HUGE_CASES[name]()


BEYOND_INT64 = {
    "conv2d-stride-2**64": (conv(stride=2**64), "stride"),
    "conv2d-dilation-2**64": (lambda: fastconv.conv2d(X, np.zeros((4, 3, 1, 1)), dilation=2**64), "dilation"),
    "conv2d-padding-2**64": (conv(padding=2**64), "padding"),
    "max_pool2d-stride-2**64": (pool(2, 2**64), "stride"),
    "max_pool2d-kernel-2**64": (pool(2**64, padding=2**63), "kernel_size"),
    "max_pool2d-dilation-2**64": (pool(2, dilation=2**64), "dilation"),
    "max_pool2d-dilation-2**62": (pool(2, dilation=2**62), "dilation"),
}


@pytest.mark.parametrize("name", list(BEYOND_INT64))
def test_parameter_beyond_int64_raises_valueerror(name):
    call, word = BEYOND_INT64[name]
    raises(call, ValueError, word)


# ---- empty planes --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)], ids=["h0w0", "h0w3", "h3w0"])
def test_max_pool2d_empty_plane_with_padding_raises_valueerror(shape, layout):
    h, w = shape
    x = np.zeros((1, 2, h, w)) if layout == "NCHW" else np.zeros((1, h, w, 2))
    raises(lambda: fastconv.max_pool2d(x, 2, padding=1, layout=layout, return_indices=True), ValueError, "x")
