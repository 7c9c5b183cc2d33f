"""Deep-learning ops on NumPy arrays: conv2d, relu, max_pool2d, dense and their gradients (PyTorch semantics)."""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _kernels, _nnfront, _planning
from ._checks import (
    as_float_array,
    c_aligned,
    check_ndim,
    check_size,
    flag,
    kernel_target,
    layout_is_nhwc,
    output_array,
    pair,
    positive_int,
    same_dtype,
)
from ._ufunc import relu  # a numpy.ufunc, built in _ufunc.pyx

__all__ = [
    "AdamStep",
    "conv2d",
    "conv2d_backward",
    "dense",
    "dense_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "relu",
    "relu_backward",
    "softmax",
]


def _conv_padding(padding: Any, size: tuple[int, int], kernel: tuple[int, int],
                  stride: tuple[int, int], dilation: tuple[int, int], op: str = "conv2d"):
    """(pad_top, pad_left, oh, ow) for int, pair, 'valid' or 'same' padding."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            # TensorFlow's rule; for stride 1 this is PyTorch's padding='same'.
            (top, _, oh), (left, _, ow) = (_kernels.same_padding(n, k, s, d, op)
                                           for n, k, s, d in zip(size, kernel, stride, dilation))
            return top, left, oh, ow
        else:
            raise ValueError(
                f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
            )
    ph, pw = pair(padding, "padding", op, minimum=0)
    outs = []
    for n, k, s, d, p in zip(size, kernel, stride, dilation, (ph, pw)):
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            raise ValueError(
                f"{op}: kernel {kernel} with dilation {dilation} spans {span} but the padded "
                f"input is only {n + 2 * p} (input {size}, padding {(ph, pw)})"
            )
        outs.append((n + 2 * p - span) // s + 1)
    return ph, pw, outs[0], outs[1]


class _ConvGeometry(NamedTuple):
    """Sizes of one conv2d call, in the order the C kernels take them."""

    dims: tuple[int, ...]  # n, c, h, w, k, r, s, oh, ow
    opts: tuple[int, ...]  # stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, groups
    out_shape: tuple[int, ...]  # of y, in the call's layout


def _conv_geometry(op: str, x: np.ndarray, weight: np.ndarray, stride: Any, padding: Any,
                   dilation: Any, groups: Any, nhwc: bool) -> _ConvGeometry:
    """Check x (3-D or 4-D) and weight against each other and the options."""
    layout = "NHWC" if nhwc else "NCHW"
    check_ndim(x, "x", op, (3, 4), f"4-D ({layout}) or 3-D (one image)")
    check_ndim(weight, "weight", op, (4,),
               "4-D " + ("(R, S, C/groups, K)" if nhwc else "(K, C/groups, R, S)"))
    xs = x.shape if x.ndim == 4 else (1, *x.shape)
    sh, sw = pair(stride, "stride", op)
    dh, dw = pair(dilation, "dilation", op)
    groups = positive_int(groups, "groups", op)
    if nhwc:
        n, h, w, c = xs
        r, s, cg, k = weight.shape
    else:
        n, c, h, w = xs
        k, cg, r, s = weight.shape
    if r < 1 or s < 1:
        raise ValueError(f"{op}: weight of shape {weight.shape} has an empty kernel")
    if cg * groups != c:
        raise ValueError(
            f"{op}: x of shape {x.shape} has {c} channels but weight of shape {weight.shape} "
            f"with groups={groups} expects {cg * groups} (layout={'NHWC' if nhwc else 'NCHW'!r}: "
            f"weight is {'(R, S, C/groups, K)' if nhwc else '(K, C/groups, R, S)'})"
        )
    if k % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide the {k} output channels of weight {weight.shape}"
        )
    pt, pl, oh, ow = _conv_padding(padding, (h, w), (r, s), (sh, sw), (dh, dw), op)
    check_size(xs, x.dtype.itemsize, "x", op)
    shape = (n, oh, ow, k) if nhwc else (n, k, oh, ow)
    return _ConvGeometry((n, c, h, w, k, r, s, oh, ow), (sh, sw, dh, dw, pt, pl, groups), shape)


def _conv2d_args(x, weight, bias, stride, padding, dilation, groups, layout):
    """conv2d's argument checks: (x, weight, bias, geometry, nhwc), arrays as
    float arrays of one dtype (x still 3-D for one image)."""
    op = "conv2d"
    nhwc = layout_is_nhwc(layout, op)
    x = as_float_array(x, "x", op)
    weight = as_float_array(weight, "weight", op)
    b = None if bias is None else as_float_array(bias, "bias", op)
    same_dtype(op, x, weight=weight, bias=b)
    g = _conv_geometry(op, x, weight, stride, padding, dilation, groups, nhwc)
    k = g.dims[4]
    if b is not None and b.shape != (k,):
        raise ValueError(f"{op}: bias must have shape ({k},), got {b.shape}")
    return x, weight, b, g, nhwc


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
    ndarray
        Of shape (N, K, Ho, Wo) for NCHW or (N, Ho, Wo, K) for NHWC ((K, Ho, Wo)
        or (Ho, Wo, K) for one image), the dtype of `x`; `out` if given.

    Raises
    ------
    TypeError
        If `x` is not float32 or float64, or `weight`, `bias` or `out` has
        another dtype than `x`.
    ValueError
        For a wrong number of dimensions, channels that do not match the
        weight's, `groups` not dividing them, a kernel larger than the padded
        input, a non-positive stride or dilation, a bias or `out` of the wrong
        shape, an unknown layout or padding, or sizes too large to index. The
        message names the argument and the shapes.

    Notes
    -----
    Runs the C driver in ``csrc/ops/conv2d-template.h`` with the ISA picked at
    import (see ``fastconv.show_config()``), with the GIL released: an indirect
    GEMM (the input read in place through row pointers, no im2col) for NHWC and
    for NCHW from depth C/groups * R * S of 64 on, below it a packed GEMM
    (im2col panels in L1); threaded over images, groups and pixel blocks. 3x3
    filters with stride 1, 'valid' or 'same' (padding 0 or 1), on one input
    channel (NHWC) or 1 to 7 (NCHW) run a direct kernel (an output row a
    call) under AVX2 and AVX-512, with the GEMM's bits.
    ``fastconv.explain(fastconv.conv2d, ...)`` says which a call runs.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> fastconv.conv2d(x, np.ones((1, 1, 2, 2)))[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])
    """
    # the common case (an out too) at C speed (_nnfront.pyx), else None
    y = _nnfront.conv2d(x, weight, bias, stride, padding, dilation, groups, layout, out)
    if y is not None:
        return y
    op = "conv2d"
    x, weight, b, g, nhwc = _conv2d_args(x, weight, bias, stride, padding, dilation, groups,
                                         layout)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    c = g.dims[1]
    y = output_array(out, g.out_shape[1:] if unbatched else g.out_shape, x.dtype, op)
    if unbatched:
        y = y[None]
    if y.size:
        if c == 0:  # no input channels: only the bias remains
            y[...] = 0 if b is None else (b if nhwc else b[:, None, None])
        else:
            target = kernel_target(y, x, weight, *(() if b is None else (b,)))
            _kernels.conv2d(
                c_aligned(x).reshape(-1),
                c_aligned(weight).reshape(-1),
                None if b is None else c_aligned(b),
                target.reshape(-1),
                g.dims,
                g.opts,
                nhwc,
            )
            if target is not y:
                y[...] = target
    if out is not None:
        return out
    return y[0] if unbatched else y


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: (n + 2p - d(k - 1) - 1) / s + 1, rounded
    down, or up with `ceil_mode` unless the last window would then start in the
    right padding."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _pool_axis_covered(n: int, k: int, s: int, p: int, d: int, outs: int) -> bool:
    """Whether every window along one axis holds an input position. PyTorch's
    size rules (padding <= kernel / 2, the last window starting inside) make it
    so whenever d <= n: a window starting in the padding first reaches the
    input at start mod d < n. A larger dilation can step over the whole input."""
    if d <= n:
        return True
    for o in range(min(outs, -(-p // s))):  # the windows starting in the padding
        start = o * s - p
        j = -(start // d)  # first tap at or after 0
        if j >= k or start + j * d >= n:
            return False
    return True


class _PoolGeometry(NamedTuple):
    """Sizes of one max_pool2d call, in the order the C kernels take them."""

    dims: tuple[int, ...]  # n, c, h, w, oh, ow
    opts: tuple[int, ...]  # kernel_h, kernel_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left
    out_shape: tuple[int, ...]  # of y (batched), in the call's layout


def _pool_geometry(op: str, x: np.ndarray, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: Any, nhwc: bool) -> _PoolGeometry:
    """Check the options and x (3-D or 4-D) as PyTorch does; the output size."""
    layout = "NHWC" if nhwc else "NCHW"
    check_ndim(x, "x", op, (3, 4), f"4-D ({layout}) or 3-D (one image)")
    kh, kw = pair(kernel_size, "kernel_size", op, single=True)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) or (
            isinstance(stride, np.ndarray) and stride.shape == (0,)):
        sh, sw = kh, kw  # PyTorch's default, also for an empty sequence
    else:
        sh, sw = pair(stride, "stride", op, single=True)
    ph, pw = pair(padding, "padding", op, minimum=0, single=True)
    dh, dw = pair(dilation, "dilation", op, single=True)
    ceil_mode = flag(ceil_mode, "ceil_mode", op)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            f"{op}: padding {(ph, pw)} must be at most half of kernel_size {(kh, kw)}"
        )
    xs = x.shape if x.ndim == 4 else (1, *x.shape)
    if nhwc:
        n, h, w, c = xs
    else:
        n, c, h, w = xs
    if min(c, h, w) == 0:
        raise ValueError(
            f"{op}: x of shape {x.shape} ({layout}) needs non-zero channels, height and width"
        )
    oh, ow = _pool_out(h, kh, sh, ph, dh, ceil_mode), _pool_out(w, kw, sw, pw, dw, ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{op}: kernel_size {(kh, kw)} with dilation {(dh, dw)} and padding {(ph, pw)} "
            f"does not fit input of shape {x.shape} (output would be {oh}x{ow})"
        )
    if not (_pool_axis_covered(h, kh, sh, ph, dh, oh) and _pool_axis_covered(w, kw, sw, pw, dw, ow)):
        raise ValueError(
            f"{op}: kernel_size {(kh, kw)} with dilation {(dh, dw)} and padding {(ph, pw)} "
            f"gives a window of padding only on input of shape {x.shape}; its maximum and "
            f"index would not exist (PyTorch returns -inf and an index outside the input)"
        )
    check_size(xs, x.dtype.itemsize, "x", op)
    shape = (n, oh, ow, c) if nhwc else (n, c, oh, ow)
    return _PoolGeometry((n, c, h, w, oh, ow), (kh, kw, sh, sw, dh, dw, ph, pw), shape)


def _max_pool2d_args(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     layout):
    """max_pool2d's argument checks: (x as a float array, geometry, nhwc, return_indices)."""
    op = "max_pool2d"
    nhwc = layout_is_nhwc(layout, op)
    return_indices = flag(return_indices, "return_indices", op)
    x = as_float_array(x, "x", op)
    g = _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode, nhwc)
    return x, g, nhwc, return_indices


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCHW"):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, float32 or float64
        (N, C, H, W) for NCHW, (N, H, W, C) for NHWC; 3-D for one unbatched image.
    kernel_size : int or sequence of one or two ints
    stride : int or sequence of one or two ints, optional
        Defaults to `kernel_size` (also when an empty sequence).
    padding : int or sequence of one or two ints
        Implicit -inf padding on each side, at most half the kernel size (as in
        PyTorch, whatever the dilation).
    dilation : int or sequence of one or two ints
        Spacing between window elements: a window of ``kernel_size`` taps
        spans ``dilation * (kernel_size - 1) + 1`` input positions.
    ceil_mode : bool
        Round the output size up, so a partial window at the end counts (the
        last window must still start inside the input or the left padding).
    return_indices : bool
        Also return the int64 flat position ``h * W + w`` of each maximum
        within its plane, for ``max_pool2d_backward``.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with `return_indices`
        (N, C, Ho, Wo) or (N, Ho, Wo, C) in the dtype of `x`, with
        ``Ho = (H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1``
        rounded down (or up with `ceil_mode`), and likewise Wo.

    Raises
    ------
    TypeError
        For a dtype other than float32/float64, a non-integer size, or a
        `ceil_mode` / `return_indices` that is not a bool.
    ValueError
        For sizes below 1 (padding below 0), padding over half the kernel, an
        output smaller than 1x1, or (possible only with dilation) a window
        that covers padding only, where PyTorch returns -inf with an index
        outside the input.

    Notes
    -----
    A window holding NaN yields NaN. Ties go to the first maximum in
    row-major window order. Runs the SIMD kernels of ``csrc/ops/maxpool2d-template.h``
    (dilated windows have kernels of their own), threaded over planes or
    rows, with the GIL released.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    >>> fastconv.max_pool2d(np.arange(25.0).reshape(1, 1, 5, 5), 2, 1, 0, 3)[0, 0]
    array([[18., 19.],
           [23., 24.]])
    """
    y = _nnfront.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                            layout)
    if y is not None:  # the common case at C speed (_nnfront.pyx)
        return y
    x, g, nhwc, return_indices = _max_pool2d_args(x, kernel_size, stride, padding, dilation,
                                                  ceil_mode, return_indices, layout)
    unbatched = x.ndim == 3
    y = output_array(None, g.out_shape, x.dtype, "max_pool2d")
    idx = np.empty(g.out_shape, dtype=np.int64) if return_indices else None
    _kernels.max_pool2d(
        c_aligned(x).reshape(-1), y.reshape(-1),
        None if idx is None else idx.reshape(-1), g.dims, g.opts, nhwc,
    )
    if unbatched:
        y = y[0]
        idx = None if idx is None else idx[0]
    return (y, idx) if return_indices else y


# ---- gradients ---------------------------------------------------------------------------


def _same_shape(op: str, name: str, arr: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    if arr.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {arr.shape}, expected {tuple(shape)} ({what})")


def _output_mask(op: str, output_mask: Any) -> tuple[bool, bool, bool]:
    """A backward op's output_mask: three truth values (grad_x, the weight's, the bias')."""
    try:
        if isinstance(output_mask, (str, bytes)):
            raise TypeError
        want_x, want_w, want_b = (bool(f) for f in output_mask)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: output_mask must be three bools, got {output_mask!r}") from None
    return want_x, want_w, want_b


def _conv2d_backward_args(grad_out, x, weight, stride, padding, dilation, groups, layout,
                          output_mask):
    """conv2d_backward's argument checks: (grad_out, x, weight, geometry, nhwc, the
    three output_mask flags); x and grad_out still 3-D for one image."""
    op = "conv2d_backward"
    # the common case's arrays and options, checked at C speed (_nnfront.pyx), else None
    front = _nnfront.conv2d_backward_geometry(grad_out, x, weight, stride, padding, dilation,
                                              groups, layout)
    if front is None:
        nhwc = layout_is_nhwc(layout, op)
        gy = as_float_array(grad_out, "grad_out", op)
        x = as_float_array(x, "x", op)
        weight = as_float_array(weight, "weight", op)
        same_dtype(op, x, grad_out=gy, weight=weight)
    else:
        nhwc, gy = layout == "NHWC", grad_out
    want_x, want_w, want_b = _output_mask(op, output_mask)
    unbatched = x.ndim == 3
    if front is None:
        g = _conv_geometry(op, x, weight, stride, padding, dilation, groups, nhwc)
        _same_shape(op, "grad_out", gy, g.out_shape[1:] if unbatched else g.out_shape,
                    "conv2d's result for x and weight")
    else:
        g = _ConvGeometry(*front)
    return gy, x, weight, g, nhwc, (want_x, want_w, want_b)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    layout="NCHW", output_mask=(True, True, True)):
    """Gradients of ``conv2d(x, weight, bias, ...)`` given ``grad_out`` = dL/dy.

    Parameters
    ----------
    grad_out : array_like
        dL/dy, the shape of conv2d's result for these arguments.
    x, weight, stride, padding, dilation, groups, layout
        As passed to `conv2d`.
    output_mask : three bools, optional
        Which of (grad_x, grad_weight, grad_bias) to compute; the others are
        returned as None and cost nothing (the first layer needs no grad_x).

    Returns
    -------
    grad_x, grad_weight, grad_bias : ndarray or None
        Shaped like x, weight and (K,); the dtype of x. These are the gradients
        PyTorch's autograd gives; None where `output_mask` says so.

    Raises
    ------
    TypeError
        For dtypes other than float32 and float64, or arguments of different
        dtypes.
    ValueError
        For the cases :func:`conv2d` refuses, a `grad_out` whose shape is not
        that of conv2d's result, or an `output_mask` that is not three bools.

    Notes
    -----
    grad_x comes from one C call (``csrc/ops/conv2d-backward-template.h``), whose
    planner picks the algorithm: for stride 1, 16 or more input channels per
    group and finite weights, a transposed convolution on the forward kernels
    (the weights flipped and channel-swapped into scratch); else a GEMM of the
    weights with grad_out, scattered back by col2im (which adds only real
    terms, so an inf or NaN weight reaches only the pixels its tap touches).
    grad_weight is a GEMM over the pixels of all images (the same file),
    each thread summing its own share, added in a
    fixed order: bitwise reproducible at a fixed thread count; a gradient
    larger than half the L2 instead gives each thread its own rows of it over
    all pixels (the 1-thread bits at any thread count). grad_bias is
    ``grad_out`` summed over images and pixels, each channel in one fixed
    order (the same bits at any thread count), on fastconv's threads.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> gx, gw, gb = fastconv.conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    gy, x, weight, g, nhwc, (want_x, want_w, want_b) = _conv2d_backward_args(
        grad_out, x, weight, stride, padding, dilation, groups, layout, output_mask)
    _n, c, _h, _w, k, r, s, _oh, _ow = g.dims
    groups = g.opts[6]
    unbatched = x.ndim == 3
    if unbatched:
        x, gy = x[None], gy[None]
    gy = c_aligned(gy)
    grad_b = None
    if want_b and gy.size and c:  # in C on fastconv's threads (BLAS's would spin on)
        grad_b = np.empty(k, dtype=gy.dtype)
        _kernels.conv2d_backward_bias(gy.reshape(-1), grad_b, g.dims, g.opts, nhwc)
    elif want_b:  # nothing to sum, or no input channels (sizes the C driver refuses)
        grad_b = gy.sum(axis=(0, 1, 2) if nhwc else (0, 2, 3), dtype=gy.dtype)

    grad_w = None
    if want_w:
        cg = c // groups
        shape_w = (r, s, cg, k) if nhwc else (k, cg, r, s)
        if math.prod(shape_w):  # the kernel writes every value, in the layout's order
            grad_w = _nnfront.empty(shape_w, x.dtype)
            _kernels.conv2d_backward_weight(c_aligned(x).reshape(-1), gy.reshape(-1),
                                            grad_w.reshape(-1), g.dims, g.opts, nhwc)
        else:  # an empty gradient
            grad_w = np.zeros(shape_w, dtype=x.dtype)

    grad_x = None
    if want_x:
        if x.size and k and gy.size:  # the C planner picks the algorithm; tests may force one
            grad_x = _nnfront.empty(x.shape, x.dtype)
            _kernels.conv2d_backward_input(gy.reshape(-1), c_aligned(weight).reshape(-1),
                                           grad_x.reshape(-1), g.dims, g.opts, nhwc,
                                           _planning.forced_path("conv2d_backward_input"))
        else:
            grad_x = np.zeros(x.shape, dtype=x.dtype)
        if unbatched:
            grad_x = grad_x[0]
    return grad_x, grad_w, grad_b


def _relu_backward_args(grad_out, x):
    """relu_backward's argument checks: (grad_out, x) as float arrays of one shape and dtype."""
    op = "relu_backward"
    gy = as_float_array(grad_out, "grad_out", op)
    x = as_float_array(x, "x", op)
    same_dtype(op, x, grad_out=gy)
    _same_shape(op, "grad_out", gy, x.shape, "the shape of x")
    return gy, x


def relu_backward(grad_out, x):
    """Gradient of `relu`: 0 where ``x <= 0``, else ``grad_out`` (NaN in x passes
    the gradient, as PyTorch's ``threshold_backward`` does).

    Parameters
    ----------
    grad_out : array_like, float32 or float64
        dL/dy for ``y = relu(x)``.
    x : array_like, the same shape and dtype
        The input `relu` was given.

    Returns
    -------
    ndarray
        dL/dx, the shape and dtype of `x`.

    Raises
    ------
    TypeError
        For dtypes other than float32 and float64, or two different dtypes.
    ValueError
        If `grad_out` and `x` differ in shape.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.relu_backward(np.array([5.0, 6.0, 7.0]), np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 7.])
    """
    gy, x = _relu_backward_args(grad_out, x)
    gx = np.empty(x.shape, dtype=x.dtype)
    if gx.size:
        _kernels.relu_backward(c_aligned(gy).reshape(-1),
                               c_aligned(x).reshape(-1), gx.reshape(-1))
    return gx


def _max_pool2d_backward_args(grad_out, x, indices, kernel_size, stride, padding, dilation,
                              ceil_mode, layout):
    """max_pool2d_backward's argument checks: (grad_out, x, indices, geometry, nhwc)."""
    op = "max_pool2d_backward"
    nhwc = layout_is_nhwc(layout, op)
    gy = as_float_array(grad_out, "grad_out", op)
    x = as_float_array(x, "x", op)
    same_dtype(op, x, grad_out=gy)
    ix = np.asarray(indices)
    if ix.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (as max_pool2d returns), got {ix.dtype}")
    unbatched = x.ndim == 3
    g = _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode, nhwc)
    out_shape = g.out_shape[1:] if unbatched else g.out_shape
    _same_shape(op, "grad_out", gy, out_shape, "max_pool2d's result for x")
    _same_shape(op, "indices", ix, out_shape, "max_pool2d's result for x")
    return gy, x, ix, g, nhwc


def max_pool2d_backward(grad_out, x, indices, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, layout="NCHW"):
    """Gradient of `max_pool2d` given ``grad_out`` and the ``indices`` it returned.

    Each output's gradient goes to the one input position its index names
    (summed where overlapping windows chose the same input), as PyTorch does.

    Parameters
    ----------
    grad_out : array_like, the dtype of `x`
        dL/dy, the shape of max_pool2d's result for `x` and these options.
    x : array_like, float32 or float64
        The forward's input (its shape and dtype are what is used).
    indices : array_like of integers
        What ``max_pool2d(..., return_indices=True)`` returned.
    kernel_size, stride, padding, dilation, ceil_mode, layout
        The forward's options, checked as `max_pool2d` checks them.

    Returns
    -------
    ndarray
        dL/dx, the shape and dtype of `x`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    >>> fastconv.max_pool2d_backward(np.ones_like(y), x, idx, 2)[0, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [0., 1., 0., 1.]])
    """
    gx = _nnfront.max_pool2d_backward(grad_out, x, indices, kernel_size, stride, padding, dilation,
                                      ceil_mode, layout)
    if gx is not None:  # the common case at C speed (_nnfront.pyx)
        return gx
    gy, x, ix, g, nhwc = _max_pool2d_backward_args(grad_out, x, indices, kernel_size, stride,
                                                   padding, dilation, ceil_mode, layout)
    gx = _nnfront.empty(x.shape, x.dtype)
    _kernels.max_pool2d_backward(
        c_aligned(gy).reshape(-1),
        c_aligned(ix, dtype=np.int64).reshape(-1),
        gx.reshape(-1), g.dims, g.opts, nhwc,
    )
    return gx


def softmax(x, axis=-1):
    """Softmax along `axis`, computed stably (the maximum is subtracted first).

    Parameters
    ----------
    x : array_like, float32 or float64
    axis : int, optional
        The axis that sums to one; the last by default.

    Returns
    -------
    ndarray
        The shape and dtype of `x`.

    Raises
    ------
    TypeError
        If `x` is not float32 or float64.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.nn.softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """
    x = as_float_array(x, "x", "softmax")
    if x.size == 0:
        return x.copy()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


# ---- conv2d fused with the max-pool after it (private: the model layer's fast path) ------


class _ConvPoolPlan(NamedTuple):
    conv: _ConvGeometry
    pdims: tuple[int, ...]
    popts: tuple[int, ...]
    out_shape: tuple[int, ...]


def _conv2d_maxpool_plan(x: np.ndarray, weight: np.ndarray, stride: Any, padding: Any,
                         dilation: Any, groups: int, pool: tuple[int, int]) -> _ConvPoolPlan | None:
    """Geometry of NHWC ``max_pool2d(conv2d(x, weight, ...), pool)`` (stride = pool, no
    padding) for the fused kernel, or None where it does not apply (then the caller
    runs the two ops)."""
    g = _conv_geometry("conv2d", x, weight, stride, padding, dilation, groups, True)
    n, c, _h, _w, k, _r, _s, oh, ow = g.dims
    kh, kw = pool
    ph, pw = oh // kh, ow // kw
    if x.ndim != 4 or n == 0 or c == 0 or ph == 0 or pw == 0 or kh * kw > 256:
        return None  # (window codes are bytes)
    return _ConvPoolPlan(g, (n, k, oh, ow, ph, pw), (kh, kw, kh, kw, 1, 1, 0, 0), (n, ph, pw, k))


def _conv2d_maxpool(plan: _ConvPoolPlan, x: np.ndarray, weight: np.ndarray,
                    bias: np.ndarray | None, return_codes: bool):
    """``max_pool2d(conv2d(x, weight, bias, layout="NHWC"), pool)`` without the conv
    output going to memory (csrc/ops/conv2d-pool-template.h); the same values as the
    two calls. With `return_codes`, also each output's window code (uint8): the
    place of its maximum in its pool window, ``dy * pool_w + dx``, naming the
    element max_pool2d's index names (1 byte per output instead of 8). Arrays
    C-contiguous, one dtype."""
    front = _nnfront.conv2d_maxpool(x, weight, bias, plan.conv.dims, plan.conv.opts, plan.pdims,
                                    plan.popts, return_codes)
    if front is not None:  # (at C speed: _nnfront.pyx)
        return front
    y = np.empty(plan.out_shape, dtype=x.dtype)
    codes = np.empty(plan.out_shape, dtype=np.uint8) if return_codes else None
    _kernels.conv2d_maxpool(x.reshape(-1), weight.reshape(-1), bias, y.reshape(-1),
                            None if codes is None else codes.reshape(-1), plan.conv.dims,
                            plan.conv.opts, plan.pdims, plan.popts)
    return y, codes


def _conv2d_maxpool_backward(plan: _ConvPoolPlan, grad_out: np.ndarray, x: np.ndarray,
                             codes: np.ndarray, weight_shape: tuple[int, ...], bias: bool):
    """conv2d's (grad_weight, grad_bias or None) from the gradient of the fused op's
    output and its window codes; equal to max_pool2d_backward then conv2d_backward."""
    if codes.dtype != np.uint8 or codes.shape != plan.out_shape:
        raise ValueError(f"conv2d_maxpool_backward: codes must be the uint8 array of shape "
                         f"{plan.out_shape} the forward gave, got {codes.dtype} {codes.shape}")
    gw = np.empty(weight_shape, dtype=x.dtype)
    gb = np.empty(plan.conv.dims[4], dtype=x.dtype) if bias else None
    _kernels.conv2d_maxpool_backward_weight(
        x.reshape(-1), c_aligned(grad_out, dtype=x.dtype).reshape(-1),
        c_aligned(codes).reshape(-1), gw.reshape(-1), gb, plan.conv.dims, plan.conv.opts, plan.pdims,
        plan.popts)
    return gw, gb


# ---- dense (fully connected) -----------------------------------------------------------------


class AdamStep(NamedTuple):
    """One Adam step for `dense_backward` to apply to the kernel as it computes
    the kernel's gradient (what ``fastconv.optimizers.Adam.fused_update`` gives).

    Parameters
    ----------
    momentum, velocity : ndarray
        The first and second moments, the kernel's shape and dtype, C-contiguous
        and writable: updated in place.
    alpha : float
        The step size with Adam's bias correction for this step t,
        ``learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)``.
    beta_1, beta_2, epsilon : float
        Adam's decays and epsilon.

    Notes
    -----
    Each element takes ``m += (g - m) * (1 - beta_1)``, ``v += (g*g - v) * (1 -
    beta_2)`` (a moment below 2**-100 in float32, 2**-996 in float64, stored as 0) and
    ``p -= alpha * m / (sqrt(v) + epsilon)``, the operations of
    `fastconv.optimizers.Adam` in its order, from its own gradient alone.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> x, kernel = np.ones((2, 3)), np.zeros((3, 2))
    >>> alpha = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)  # learning rate 0.1, first step
    >>> step = nn.AdamStep(np.zeros((3, 2)), np.zeros((3, 2)), alpha, 0.9, 0.999, 1e-7)
    >>> _ = nn.dense_backward(np.ones((2, 2)), x, kernel, adam=step)
    >>> kernel.round(6)  # Adam's first step: the learning rate against the gradient's sign
    array([[-0.1, -0.1],
           [-0.1, -0.1],
           [-0.1, -0.1]])
    """

    momentum: np.ndarray
    velocity: np.ndarray
    alpha: float
    beta_1: float
    beta_2: float
    epsilon: float


def _dense_args(op: str, x: Any, kernel: Any) -> tuple[np.ndarray, np.ndarray]:
    """x and kernel as float arrays of one dtype, kernel 2-D, x (..., in_features)."""
    x = as_float_array(x, "x", op)
    kernel = as_float_array(kernel, "kernel", op)
    same_dtype(op, x, kernel=kernel)
    check_ndim(kernel, "kernel", op, (2,), "2-D (in_features, out_features)")
    if x.ndim == 0:
        raise ValueError(f"{op}: x must have a feature axis, (..., {kernel.shape[0]}), got a scalar")
    if x.shape[-1] != kernel.shape[0]:
        raise ValueError(f"{op}: x of shape {x.shape} has {x.shape[-1]} features but kernel of "
                         f"shape {kernel.shape} takes {kernel.shape[0]}")
    return x, kernel


def _rows(x: np.ndarray) -> np.ndarray:
    """x (..., k) as a C-contiguous, aligned (rows, k) array (a view when it can be)."""
    return c_aligned(x.reshape(math.prod(x.shape[:-1]), x.shape[-1]))


def dense(x, kernel, bias=None, *, out=None):
    """Fully connected layer, ``x @ kernel + bias``, as ``keras.layers.Dense``
    without its activation (``torch.nn.functional.linear`` with the weight
    transposed).

    Parameters
    ----------
    x : array_like, float32 or float64
        (..., in_features): the product acts on the last axis (a 1-D x is one sample).
    kernel : array_like, the dtype of `x`
        (in_features, out_features), Keras' layout.
    bias : array_like of shape (out_features,), the dtype of `x`, optional
    out : ndarray, optional
        Receives the result; exact shape and dtype, writable (it may overlap
        the inputs: the result is then made aside and copied in).

    Returns
    -------
    ndarray
        (..., out_features), the dtype of `x`; `out` if given.

    Raises
    ------
    TypeError
        If `x` is not float32 or float64, or `kernel`, `bias` or `out` has
        another dtype than `x`.
    ValueError
        For a kernel that is not 2-D, a scalar `x`, a feature count of `x` that
        is not the kernel's rows, a bias or `out` of the wrong shape, or a
        read-only `out`. The message names the argument and the shapes.

    Notes
    -----
    Runs fastconv's GEMM microkernels (``csrc/ops/dense-template.h``) with the GIL
    released: up to 8 rows of `x` take a matrix-vector path (the kernel read in
    place); more the tiled GEMM, as batch x units tiles (`x` and the kernel
    read in place, a depth block at a time) or units x batch tiles (the kernel
    read in place, the batch packed), whichever pads less work, threaded over
    the units or over fixed ranges of the features. Each output is summed the
    same way on every path, so the result is the same bits whichever runs and
    at any thread count. Non-contiguous inputs are copied first.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> nn.dense(np.array([[1.0, 2.0, 3.0]]), np.ones((3, 2)), np.array([0.5, -1.0]))
    array([[6.5, 5. ]])
    """
    y = _nnfront.dense(x, kernel, bias, out)  # the common case at C speed (_nnfront.pyx), else None
    if y is not None:
        return y
    x, kernel, b, y = _dense_forward_args(x, kernel, bias, out)
    m = kernel.shape[1]
    target = kernel_target(y, x, kernel, *(() if b is None else (b,)))
    _kernels.dense(_rows(x), c_aligned(kernel), None if b is None else c_aligned(b),
                   target.reshape(math.prod(x.shape[:-1]), m))
    if target is not y:
        y[...] = target
    return y


def _dense_forward_args(x: Any, kernel: Any, bias: Any, out: Any
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """dense's checks: x, kernel, bias (or None) and the output array."""
    op = "dense"
    x, kernel = _dense_args(op, x, kernel)
    b = None if bias is None else as_float_array(bias, "bias", op)
    same_dtype(op, x, bias=b)
    m = kernel.shape[1]
    if b is not None and b.shape != (m,):
        raise ValueError(f"{op}: bias must have shape ({m},) for a kernel of shape {kernel.shape}, "
                         f"got {b.shape}")
    return x, kernel, b, output_array(out, (*x.shape[:-1], m), x.dtype, op)


def _out_triple(out: Any, op: str) -> tuple[Any, Any, Any]:
    if out is None:
        return None, None, None
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise ValueError(f"{op}: out must be None or a tuple (grad_x, grad_kernel, grad_bias) "
                         f"of arrays or None, got {out!r}")
    return out[0], out[1], out[2]


def _inplace_operand(op: str, name: str, arr: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array updated in place: exactly `shape` and `dtype`, C-contiguous, aligned, writable."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray (updated in place), got {type(arr).__name__}")
    if arr.shape != shape or arr.dtype != dtype:
        raise ValueError(f"{op}: {name} has shape {arr.shape} and dtype {arr.dtype}; expected shape "
                         f"{shape} and dtype {dtype}")
    if not (arr.flags.c_contiguous and arr.flags.aligned and arr.flags.writeable):
        raise ValueError(f"{op}: {name} is updated in place, so it must be C-contiguous, aligned and "
                         "writable")
    return arr


def _dense_backward_args(grad_out: Any, x: Any, kernel: Any, output_mask: Any, out: Any, adam: Any
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[bool, bool, bool],
                                    tuple[Any, Any, Any], AdamStep | None]:
    """dense_backward's checks: grad_out, x, kernel (with `adam`, the array itself, checked
    for the update in place), the output mask, the out triple and the Adam step."""
    op = "dense_backward"
    kernel_in = kernel
    if adam is not None and not isinstance(kernel, np.ndarray):
        raise TypeError(f"{op}: with adam, kernel must be a numpy.ndarray (updated in place), got "
                        f"{type(kernel).__name__}")
    x, kernel = _dense_args(op, x, kernel)
    gy = as_float_array(grad_out, "grad_out", op)
    same_dtype(op, x, grad_out=gy)
    k, m = kernel.shape
    _same_shape(op, "grad_out", gy, (*x.shape[:-1], m), "dense's result for x and kernel")
    want_x, want_k, want_b = _output_mask(op, output_mask)
    out_x, out_k, out_b = _out_triple(out, op)
    if adam is not None:
        if not isinstance(adam, AdamStep):
            adam = AdamStep(*adam)
        kernel = _inplace_operand(op, "kernel", kernel_in, (k, m), x.dtype)
        _inplace_operand(op, "adam.momentum", adam.momentum, (k, m), x.dtype)
        _inplace_operand(op, "adam.velocity", adam.velocity, (k, m), x.dtype)
    return gy, x, kernel, (want_x, want_k, want_b), (out_x, out_k, out_b), adam


def dense_backward(grad_out, x, kernel, *, output_mask=(True, True, True), out=None, adam=None):
    """Gradients of ``dense(x, kernel, bias)`` given ``grad_out`` = dL/dy.

    Parameters
    ----------
    grad_out : array_like, the dtype of `x`
        dL/dy, (..., out_features): the shape of dense's result.
    x, kernel : array_like
        As passed to `dense`: x (..., in_features) float32 or float64, kernel
        (in_features, out_features) of the same dtype.
    output_mask : three bools, optional
        Which of (grad_x, grad_kernel, grad_bias) to compute; the others are
        returned as None and cost nothing (a model's first layer needs no grad_x).
    out : tuple of three ndarray or None, optional
        Arrays to receive (grad_x, grad_kernel, grad_bias), exact shape and
        dtype (None: a new array), e.g. a gradient buffer reused every step.
    adam : AdamStep, optional
        Apply one Adam step to `kernel`, in place, in the same sweep over its
        rows that computes its gradient (the kernel is then read and written
        once). `kernel` must then be a C-contiguous, aligned, writable ndarray,
        and the moments too; grad_x is computed from the kernel before the step,
        and grad_kernel, if asked for, is the gradient the step used.

    Returns
    -------
    grad_x, grad_kernel, grad_bias : ndarray or None
        Shaped like x, kernel and (out_features,); the dtype of `x`.
        ``grad_x = grad_out @ kernel.T``, ``grad_kernel = x.T @ grad_out`` and
        ``grad_bias = grad_out.sum(axis=0)`` over all leading axes.

    Raises
    ------
    TypeError
        For dtypes other than float32 and float64, arrays of different dtypes,
        or an `adam` whose moments are not arrays.
    ValueError
        For the cases :func:`dense` refuses, a `grad_out` whose shape is not
        dense's result, an `output_mask` that is not three bools, `out` arrays
        of the wrong shape or dtype, or (with `adam`) a kernel or moments that
        cannot be updated in place.

    Notes
    -----
    Both products run on the GEMM microkernels of :func:`dense` with the GIL
    released; grad_kernel sums over the batch in a fixed order (the same bits
    at any thread count). The Adam step is
    :class:`fastconv.optimizers.Adam`'s arithmetic, element by element. With
    `adam`, where few of grad_out's terms are nonzero (a ReLU's and Dropout's
    gradients: at most half under AVX-512 where the CPU runs its 512-bit
    multiply-adds at its AVX2 rate, a fifth where at twice it), grad_x is
    summed over the nonzero terms only, with the same bits as the full product
    (a zero term changes no sum; where the kernel holds inf or NaN, the full
    product runs, so 0 * inf still gives NaN); :func:`fastconv.explain` says
    which it takes.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv import nn
    >>> x, kernel = np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    >>> gx, gk, gb = nn.dense_backward(np.ones((1, 3)), x, kernel)
    >>> gx, gb
    (array([[3., 2.]]), array([1., 1., 1.]))
    >>> gk
    array([[1., 1., 1.],
           [2., 2., 2.]])
    """
    if adam is None:  # the common case (outs too) at C speed (_nnfront.pyx), else None
        front = _nnfront.dense_backward(grad_out, x, kernel, output_mask, out)
        if front is not None:
            return front
    gy, x, kernel, (want_x, want_k, want_b), (out_x, out_k, out_b), adam = _dense_backward_args(
        grad_out, x, kernel, output_mask, out, adam)
    op = "dense_backward"
    k, m = kernel.shape
    gx = output_array(out_x, x.shape, x.dtype, op) if want_x else None
    gk = output_array(out_k, (k, m), x.dtype, op) if want_k else None
    gb = output_array(out_b, (m,), x.dtype, op) if want_b else None
    x2, gy2 = _rows(x), _rows(gy)
    n = len(x2)
    tx = None if gx is None else kernel_target(gx, x, kernel, gy)
    tk = None if gk is None else kernel_target(gk, x, kernel, gy)
    _dense_backward(gy2, x2, kernel, None if tx is None else tx.reshape(n, k), tk, adam)
    if tx is not None and m == 0:
        tx[...] = 0  # no units: nothing flows back
    if gb is not None:
        np.sum(gy2, axis=0, out=gb)
    for target, result in ((tx, gx), (tk, gk)):
        if target is not result:
            result[...] = target
    return gx, gk, gb


# ---- private helpers of the model layer (arrays it made: C-contiguous, aligned, one dtype) ---

_LINE = 64  # bytes: a cache line, and an AVX-512 vector


def _zeros_line_aligned(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Zeros of `shape` and `dtype` whose first element starts a cache line.

    NumPy's large arrays start 16 bytes into a line (the allocator's header in
    front of the mapped pages), so every 64-byte vector the kernels load from
    one spans two lines. The model layer's weights and Adam's moments, read and
    written in place each step, are made line-aligned instead: the lecture's
    Dense(128) forward and backward-with-Adam take 3-6% less time on them (Intel
    Xeon, Emerald Rapids, C harness, alternating calls). Results do not depend
    on it: the kernels compute the same bits at any alignment."""
    dt = np.dtype(dtype)
    nbytes = math.prod(shape) * dt.itemsize
    buf = np.zeros(nbytes + _LINE, np.uint8)
    start = -buf.ctypes.data % _LINE
    return buf[start:start + nbytes].view(dt).reshape(shape)


def _line_aligned(a: np.ndarray) -> np.ndarray:
    """`a` itself where it is C-contiguous and starts a cache line, else a copy that does
    (`_zeros_line_aligned`)."""
    if a.flags.c_contiguous and a.ctypes.data % _LINE == 0:
        return a
    out = _zeros_line_aligned(a.shape, a.dtype)
    out[...] = a
    return out


def _dense(x2: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, y: np.ndarray) -> None:
    """`dense` of (rows, k) x into y (rows, m), without the argument checks."""
    if _nnfront.dense(x2, kernel, bias, y) is None:
        _kernels.dense(x2, kernel, bias, y)


def _dense_backward(gy2: np.ndarray, x2: np.ndarray, kernel: np.ndarray, gx: np.ndarray | None,
                    gk: np.ndarray | None, adam: AdamStep | None) -> None:
    """`dense_backward`'s products of (rows, m) gy2 and (rows, k) x2 into gx (rows,
    k) and gk (k, m) (either may be None), with `adam`'s step on the kernel if
    given; without the argument checks."""
    if adam is None:
        _kernels.dense_backward(gy2, x2, kernel, gx, gk)
    else:
        st = _nnfront.dense_backward_adam(gy2, x2, kernel, gx, gk, *adam)
        if st is None:
            _kernels.dense_backward_adam(gy2, x2, kernel, gx, gk, *adam)
        elif st:  # it ran and failed: the kernel may have stepped part of it
            _kernels.check_status(st, "dense_backward_adam", (x2.shape, kernel.shape))


def _relu_backward(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`relu_backward` of two arrays of one shape and dtype, without the checks."""
    gx = np.empty_like(x)
    _kernels.relu_backward(grad.reshape(-1), x.reshape(-1), gx.reshape(-1))
    return gx


def _softmax(x: np.ndarray) -> np.ndarray | None:
    """Softmax over the last axis by the C kernel the one-call inference pass runs
    (csrc/ops/softmax-template.h), or None where it does not take `x`."""
    return _nnfront.softmax(x)


def _dropout(x: np.ndarray, seed: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(x * mask, mask) for dropout in training, by the C kernel
    (csrc/ops/dropout-template.h): the mask is 1 / (1 - rate) where an element
    is kept and 0 where it is dropped, each element kept when its word of the
    stream of `seed` (a 64-bit int) says so, with probability 1 - rate in
    steps of 2**-24. Float32 and float64 keep their dtype; any other input is
    computed in float32, and a float result given x's dtype."""
    scale = 1.0 / (1.0 - rate)
    got = _nnfront.dropout(x, seed, rate, scale)
    if got is not None:
        return got  # type: ignore[no-any-return]
    work = np.float64 if x.dtype == np.float64 else np.float32
    xc = np.ascontiguousarray(x, dtype=work)
    if xc.size == 0:
        y, mask = xc.copy(), np.empty_like(xc)
    else:
        got = _nnfront.dropout(xc, seed, rate, scale)
        if got is None:
            raise MemoryError(f"dropout: no memory for the result of shape {x.shape}")
        y, mask = got
    if x.dtype.kind == "f" and x.dtype != work:
        y, mask = y.astype(x.dtype), mask.astype(x.dtype)
    return y, mask


def _softmax_xent(z: np.ndarray, labels: np.ndarray, w: np.ndarray | None,
                  probs: np.ndarray | None) -> tuple[float, np.ndarray, int | None] | None:
    """The sparse cross-entropy head of a softmax from its logits in one C call
    (csrc/ops/softmax-template.h): (the rows' weighted loss terms summed, the
    gradient with respect to `z`, the count of rows whose `probs` argmax is the
    label, or None), or None where the kernel does not take the arguments or a
    label is out of range."""
    return _nnfront.softmax_xent(z, labels, w, probs)


def _adam_update(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, alpha: float,
                 beta_1: float, beta_2: float, epsilon: float) -> None:
    """One Adam step of p in place (`AdamStep`'s arithmetic), 1-D arrays of one dtype."""
    _kernels.adam_update(p, g, m, v, alpha, beta_1, beta_2, epsilon)


def _adam_update_many(ps: list[np.ndarray], gs: list[Any], states: list[list[np.ndarray]],
                      alpha: float, beta_1: float, beta_2: float, epsilon: float) -> list[int]:
    """`_adam_update` of each weight ps[i] from gs[i] with its moments states[i] =
    [m, v], in one call, where all four are C-contiguous, aligned arrays of one
    float dtype and size (the weight and moments writable); returns the indices
    of the others, left unchanged."""
    return _nnfront.adam_update_many(ps, gs, states, alpha, beta_1, beta_2, epsilon)  # type: ignore[no-any-return]


def _train_chain(steps: list[tuple[Any, ...]], sample_shape: tuple[int, ...]) -> Any:
    """The model layer's training step as one sequence of C calls
    (``_nnfront.TrainChain``, made by ``_training.train_chain``); ValueError where
    the steps do not chain."""
    return _nnfront.TrainChain(steps, sample_shape)


def _check_status(status: int, op: str, shapes: Any) -> None:
    """Raises the exception a kernel's non-zero `status` stands for, naming `op`
    and the arguments' `shapes`."""
    _kernels.check_status(status, op, shapes)


def _pool_wake(hold_ns: int = 0) -> None:
    """Tells the thread pool a threaded call is coming soon (``fit`` as each step
    begins and ends, ``evaluate`` as each batch does): its sleeping workers wake and spin, so the step's regions do
    not wait for a wake-up, and keep spinning for `hold_ns` from now even past
    their spin time (at most 0.1 s). Returns at once."""
    _kernels.pool_wake(hold_ns)


def _same_padding(n: int, k: int, s: int, d: int, op: str) -> tuple[int, int, int]:
    """TensorFlow's 'same' padding of an axis of n: (pad before, total pad, output size)."""
    return _kernels.same_padding(n, k, s, d, op)
