"""Deep-learning ops on NumPy arrays: conv2d, relu, max_pool2d (PyTorch semantics)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _kernels
from ._checks import (
    as_float_array,
    check_ndim,
    check_size,
    kernel_target,
    layout_is_nhwc,
    output_array,
    pair,
    positive_int,
    same_dtype,
)

__all__ = ["conv2d", "relu", "max_pool2d"]


def _conv_padding(padding: Any, size: tuple[int, int], kernel: tuple[int, int],
                  stride: tuple[int, int], dilation: tuple[int, int]):
    """(pad_top, pad_left, oh, ow) for int, pair, 'valid' or 'same' padding."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            # TensorFlow's rule: output = ceil(input / stride), the odd pad at the end;
            # for stride 1 this is PyTorch's padding='same'.
            starts, outs = [], []
            for n, k, s, d in zip(size, kernel, stride, dilation):
                o = -(-n // s)
                total = max((o - 1) * s + (k - 1) * d + 1 - n, 0)
                starts.append(total // 2)
                outs.append(o)
            return starts[0], starts[1], outs[0], outs[1]
        else:
            raise ValueError(
                f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
            )
    ph, pw = pair(padding, "padding", "conv2d", minimum=0)
    outs = []
    for n, k, s, d, p in zip(size, kernel, stride, dilation, (ph, pw)):
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            raise ValueError(
                f"conv2d: kernel {kernel} with dilation {dilation} spans {span} but the padded "
                f"input is only {n + 2 * p} (input {size}, padding {(ph, pw)})"
            )
        outs.append((n + 2 * p - span) // s + 1)
    return ph, pw, outs[0], outs[1]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           layout="NCHW", out=None):
    """2-D convolution (cross-correlation) of a batch of images, as
    ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, float32 or float64
        (N, C, H, W) for ``layout="NCHW"``, (N, H, W, C) for ``"NHWC"``; a 3-D
        array is one unbatched image.
    weight : array_like, same dtype
        (K, C/groups, R, S) for NCHW, (R, S, C/groups, K) for NHWC (Keras' layout).
    bias : array_like of shape (K,), optional
    stride, dilation : int or pair of ints, >= 1
    padding : int, pair of ints, "valid" or "same"
        Zero padding. "same" gives ``ceil(H / stride)`` outputs, the odd pad at the
        end (TensorFlow's rule; equal to PyTorch's for stride 1).
    groups : int
        Splits channels into groups convolved separately; must divide C and K.
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional
        Receives the result; exact shape and dtype, writable.

    Returns
    -------
    ndarray of shape (N, K, Ho, Wo) or (N, Ho, Wo, K), the dtype of `x`.

    Notes
    -----
    Runs the packed-GEMM kernels in ``csrc/ops/conv2d.c`` with the ISA picked
    at import (see ``fastconv.show_config()``), threaded over images, groups
    and pixel blocks, with the GIL released.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> fastconv.conv2d(x, np.ones((1, 1, 2, 2)))[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])
    """
    op = "conv2d"
    nhwc = layout_is_nhwc(layout, op)
    x = as_float_array(x, "x", op)
    weight = as_float_array(weight, "weight", op)
    b = None if bias is None else as_float_array(bias, "bias", op)
    same_dtype(op, x, weight=weight, bias=b)
    check_ndim(x, "x", op, (3, 4), f"4-D ({layout}) or 3-D (one image)")
    check_ndim(weight, "weight", op, (4,), "4-D " + ("(R, S, C/groups, K)" if nhwc else "(K, C/groups, R, S)"))
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    sh, sw = pair(stride, "stride", op)
    dh, dw = pair(dilation, "dilation", op)
    groups = positive_int(groups, "groups", op)
    if nhwc:
        n, h, w, c = x.shape
        r, s, cg, k = weight.shape
    else:
        n, c, h, w = x.shape
        k, cg, r, s = weight.shape
    if r < 1 or s < 1:
        raise ValueError(f"{op}: weight of shape {weight.shape} has an empty kernel")
    if cg * groups != c:
        raise ValueError(
            f"{op}: x of shape {x.shape} has {c} channels but weight of shape {weight.shape} "
            f"with groups={groups} expects {cg * groups}"
        )
    if k % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide the {k} output channels of weight {weight.shape}"
        )
    if b is not None and b.shape != (k,):
        raise ValueError(f"{op}: bias must have shape ({k},), got {b.shape}")
    pt, pl, oh, ow = _conv_padding(padding, (h, w), (r, s), (sh, sw), (dh, dw))
    shape = (n, oh, ow, k) if nhwc else (n, k, oh, ow)
    check_size(x.shape, x.dtype.itemsize, "x", op)
    y = output_array(out, shape[1:] if unbatched else shape, x.dtype, op)
    if unbatched:
        y = y[None]
    if y.size:
        if c == 0:  # no input channels: only the bias remains
            y[...] = 0 if b is None else (b if nhwc else b[:, None, None])
        else:
            target = kernel_target(y, x, weight, *(() if b is None else (b,)))
            _kernels.conv2d(
                np.ascontiguousarray(x).reshape(-1),
                np.ascontiguousarray(weight).reshape(-1),
                None if b is None else np.ascontiguousarray(b),
                target.reshape(-1),
                (n, c, h, w, k, r, s, oh, ow),
                (sh, sw, dh, dw, pt, pl, groups),
                nhwc,
            )
            if target is not y:
                y[...] = target
    if out is not None:
        return out
    return y[0] if unbatched else y


def relu(x, out=None):
    """Rectified linear unit, ``max(x, 0)`` elementwise; NaN stays NaN.

    Parameters
    ----------
    x : array_like, float32 or float64, any shape and strides
    out : ndarray, optional
        Same shape and dtype as `x`, writable; ``out=x`` works in place.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.relu(np.array([-1.5, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    op = "relu"
    x = as_float_array(x, "x", op)
    y = output_array(out, x.shape, x.dtype, op)
    if y.size == 0:
        return y
    in_place = y is x or (
        y.flags.c_contiguous and x.flags.c_contiguous
        and y.__array_interface__["data"][0] == x.__array_interface__["data"][0]
    )
    if in_place and y.flags.c_contiguous:
        flat = y.reshape(-1)
        _kernels.relu(flat, flat)
        return y
    target = kernel_target(y, x)
    _kernels.relu(np.ascontiguousarray(x).reshape(-1), target.reshape(-1))
    if target is not y:
        y[...] = target
    return y


def _pool_out(n: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape (dilation 1)."""
    o = (n + 2 * p - (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, *, layout="NCHW",
               return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, float32 or float64
        (N, C, H, W) for NCHW, (N, H, W, C) for NHWC; 3-D for one unbatched image.
    kernel_size : int or pair
    stride : int or pair, optional
        Defaults to `kernel_size`.
    padding : int or pair
        Implicit -inf padding, at most half the kernel size (as in PyTorch).
    ceil_mode : bool
        Round the output size up, so a partial window at the end counts.
    return_indices : bool
        Also return the int64 flat position ``h * W + w`` of each maximum
        within its plane, for ``max_pool2d_backward``.

    Notes
    -----
    A window holding NaN yields NaN. Ties go to the first maximum in
    row-major window order.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    op = "max_pool2d"
    nhwc = layout_is_nhwc(layout, op)
    x = as_float_array(x, "x", op)
    check_ndim(x, "x", op, (3, 4), f"4-D ({layout}) or 3-D (one image)")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    kh, kw = pair(kernel_size, "kernel_size", op)
    sh, sw = (kh, kw) if stride is None else pair(stride, "stride", op)
    ph, pw = pair(padding, "padding", op, minimum=0)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            f"{op}: padding {(ph, pw)} must be at most half of kernel_size {(kh, kw)}"
        )
    if nhwc:
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    if min(c, h, w) == 0:
        raise ValueError(
            f"{op}: x of shape {x.shape} ({layout}) needs non-zero channels, height and width"
        )
    oh, ow = _pool_out(h, kh, sh, ph, bool(ceil_mode)), _pool_out(w, kw, sw, pw, bool(ceil_mode))
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{op}: kernel_size {(kh, kw)} with padding {(ph, pw)} does not fit input of "
            f"shape {x.shape} (output would be {oh}x{ow})"
        )
    shape = (n, oh, ow, c) if nhwc else (n, c, oh, ow)
    check_size(x.shape, x.dtype.itemsize, "x", op)
    y = output_array(None, shape, x.dtype, op)
    idx = np.empty(shape, dtype=np.int64) if return_indices else None
    _kernels.max_pool2d(
        np.ascontiguousarray(x).reshape(-1), y.reshape(-1),
        None if idx is None else idx.reshape(-1),
        (n, c, h, w, oh, ow), (kh, kw, sh, sw, ph, pw), nhwc,
    )
    if unbatched:
        y = y[0]
        idx = None if idx is None else idx[0]
    return (y, idx) if return_indices else y
