"""Slow, independent NumPy references for fastconv's deep-learning ops (NCHW
only; tests transpose NHWC in and out), the one comparison helper, and the
tests' way of running code in a fresh interpreter.

Nothing here calls fastconv: the references are written from the PyTorch
definitions with zero padding and one einsum per kernel offset (conv2d and its
adjoint, conv2d_backward) or a plain loop over output windows (max_pool2d),
computed in float64.
"""
from __future__ import annotations

import bisect
import math
import os
import subprocess
import sys
import textwrap

import numpy as np

# ---- argument forms ----------------------------------------------------------


def _pair(v):
    if isinstance(v, (tuple, list)):
        a, b = v
        return int(a), int(b)
    return int(v), int(v)


def _explicit_padding(padding):
    """int -> ((p, p), (p, p)); (ph, pw) -> ((ph, ph), (pw, pw));
    ((top, bottom), (left, right)) stays."""
    if isinstance(padding, (tuple, list)) and isinstance(padding[0], (tuple, list)):
        (t, b), (l, r) = padding
        return (int(t), int(b)), (int(l), int(r))
    ph, pw = _pair(padding)
    return (ph, ph), (pw, pw)


# ---- conv2d ------------------------------------------------------------------


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation, NCHW, weight (K, C/groups, R, S); float64 result.

    `padding` is an int, a pair (symmetric) or ((top, bottom), (left, right)).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    assert cg * groups == c and k % groups == 0
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    (pt, pb), (pl, pr) = _explicit_padding(padding)
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    hp, wp = xp.shape[2:]
    oh = (hp - dh * (r - 1) - 1) // sh + 1
    ow = (wp - dw * (s - 1) - 1) // sw + 1
    assert oh >= 1 and ow >= 1, "kernel larger than the padded input"
    kg = k // groups
    y = np.zeros((n, k, oh, ow))
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * kg:(g + 1) * kg]
        for i in range(r):
            for j in range(s):
                # the input pixels that kernel tap (i, j) sees, one per output pixel
                win = xg[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh,
                         j * dw:j * dw + (ow - 1) * sw + 1:sw]
                y[:, g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nkhw", win, wg[:, :, i, j])
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return y


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """The adjoint of `conv2d` above: (grad_x, grad_weight, grad_bias) of
    sum(conv2d(x, weight, bias) * grad_out), float64, NCHW; `padding` as there.

    Each kernel tap (i, j) pairs grad_out with the input pixels the tap saw in
    the forward pass: their product summed over images and pixels is that tap's
    weight gradient, and grad_out times the tap's weights is added back onto
    those pixels (then the padding is cut off).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    gy = np.asarray(grad_out, dtype=np.float64)
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    assert cg * groups == c and k % groups == 0
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    (pt, pb), (pl, pr) = _explicit_padding(padding)
    hp, wp = h + pt + pb, wd + pl + pr
    oh = (hp - dh * (r - 1) - 1) // sh + 1
    ow = (wp - dw * (s - 1) - 1) // sw + 1
    assert gy.shape == (n, k, oh, ow), f"grad_out {gy.shape}, conv2d gives {(n, k, oh, ow)}"
    xp = np.zeros((n, c, hp, wp))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    kg = k // groups
    for g in range(groups):
        cs, ks = slice(g * cg, (g + 1) * cg), slice(g * kg, (g + 1) * kg)
        for i in range(r):
            for j in range(s):
                rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
                cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
                gw[ks, :, i, j] = np.einsum("nkhw,nchw->kc", gy[:, ks], xp[:, cs, rows, cols])
                gxp[:, cs, rows, cols] += np.einsum("nkhw,kc->nchw", gy[:, ks], w[ks, :, i, j])
    return gxp[:, :, pt:pt + h, pl:pl + wd], gw, gy.sum(axis=(0, 2, 3))


def tf_same_padding(size, kernel, stride, dilation):
    """TensorFlow's 'same': ((before, after), out) for one spatial dimension."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return (total // 2, total - total // 2), out


# ---- relu --------------------------------------------------------------------


def relu(x):
    """max(x, 0) with NaN propagating (np.maximum's semantics)."""
    x = np.asarray(x)
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def relu_backward(grad_out, x):
    """grad_out where not (x <= 0), else 0: NaN in x passes the gradient and a
    NaN gradient where x <= 0 gives 0 (PyTorch's threshold_backward)."""
    x, g = np.asarray(x), np.asarray(grad_out)
    with np.errstate(invalid="ignore"):
        return np.where(x <= 0, np.zeros((), dtype=g.dtype), g)


# ---- max_pool2d --------------------------------------------------------------


def pool_out_size(size, kernel, stride, pad, ceil_mode, dilation=1):
    """PyTorch's output length: floor or ceil of (size + 2 pad - dilation (kernel - 1)
    - 1) / stride + 1, less one if ceil mode would start the last window in the
    right padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _taps_inside(start, kernel, dilation, size):
    """Positions start + i * dilation (i < kernel) inside [0, size), as a range
    (bisected, so a kernel of 2**40 taps costs nothing)."""
    taps = range(start, start + dilation * (kernel - 1) + 1, dilation)
    return taps[bisect.bisect_left(taps, 0):bisect.bisect_left(taps, size)]


def _single_or_pair(v):
    """PyTorch's pooling forms: an int, or a sequence of one or two ints."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        return int(v[0]), int(v[0])
    return _pair(v)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """NCHW max pooling as PyTorch: (values float64, indices int64).

    Window (oy, ox) reads rows oy * stride - padding + i * dilation, likewise
    columns, clipped to the input (the -inf padding can never win: an all -inf
    window reports its first in-bounds element, as PyTorch does; a window of
    padding only is an error). Ties go to the first maximum in row-major window
    order; a window with NaN gives NaN and the index of its last NaN. Indices
    are h * W + w in the plane.
    """
    x = np.asarray(x, dtype=np.float64)
    n, c, h, w = x.shape
    kh, kw = _single_or_pair(kernel_size)
    sh, sw = (kh, kw) if stride is None or stride == () else _single_or_pair(stride)
    ph, pw = _single_or_pair(padding)
    dh, dw = _single_or_pair(dilation)
    oh = pool_out_size(h, kh, sh, ph, ceil_mode, dh)
    ow = pool_out_size(w, kw, sw, pw, ceil_mode, dw)
    y = np.empty((n, c, oh, ow))
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    plane_pos = np.arange(h * w).reshape(h, w)
    for oy in range(oh):
        rows = np.array(_taps_inside(oy * sh - ph, kh, dh, h))
        for ox in range(ow):
            cols = np.array(_taps_inside(ox * sw - pw, kw, dw, w))
            assert rows.size and cols.size, f"window ({oy}, {ox}) holds padding only"
            vals = x[:, :, rows[:, None], cols[None, :]].reshape(n, c, -1)  # row-major window order
            pos = plane_pos[rows[:, None], cols[None, :]].reshape(-1)
            isnan = np.isnan(vals)
            first_max = np.argmax(np.where(isnan, -np.inf, vals), axis=-1)
            last_nan = isnan.shape[-1] - 1 - np.argmax(isnan[..., ::-1], axis=-1)
            has_nan = isnan.any(axis=-1)
            at = np.where(has_nan, last_nan, first_max)
            y[:, :, oy, ox] = np.where(has_nan, np.nan,
                                       np.take_along_axis(vals, at[..., None], -1)[..., 0])
            idx[:, :, oy, ox] = pos[at]
    return y, idx


def pool_windows_covered(size, kernel, stride, pad, dilation, outs):
    """Whether each of `outs` windows along an axis holds an input position."""
    return all(len(_taps_inside(o * stride - pad, kernel, dilation, size)) for o in range(outs))


def max_pool2d_backward(grad_out, indices, x_shape):
    """NCHW: each output's gradient added at the plane position its index
    names (summed where overlapping windows chose the same input); float64."""
    n, c, h, w = x_shape
    gy = np.asarray(grad_out, dtype=np.float64)
    idx = np.asarray(indices)
    assert gy.shape == idx.shape and gy.shape[:2] == (n, c)
    gx = np.zeros((n, c, h * w))
    ni, ci = np.indices(gy.shape)[:2]
    np.add.at(gx, (ni.reshape(-1), ci.reshape(-1), idx.reshape(-1)), gy.reshape(-1))
    return gx.reshape(n, c, h, w)


# ---- the comparison helper ---------------------------------------------------

TOLERANCE = {
    # dtype: (rtol, atol per unit of |result| scale per sqrt(reduction length))
    np.dtype(np.float32): (1e-4, 1e-6),
    np.dtype(np.float64): (1e-10, 1e-13),
}


def assert_close(got, want, *, op, isa, dtype=None, reduce=1, exact=False, context="", rtol=None,
                 atol=None, tolerance=None, c_contiguous=False):
    """Check that `got` is an ndarray of `want`'s shape and of `dtype` (default:
    `want`'s), with c_contiguous=True C-contiguous if `want` is, and that its
    values equal `want`:

    - integer, bool and object results: every value equal;
    - exact=True: bit-for-bit equal values after rounding `want` to `dtype`;
    - else NaN exactly where `want` has NaN, infinities equal, and
      |got - want| <= atol + rtol |want| with (rtol, atol_unit) from `tolerance`
      (a table by dtype; default TOLERANCE) and atol = atol_unit * max|want| *
      sqrt(reduce), `reduce` being the number of products summed per result
      (rounding grows with it);
    - rtol= / atol= (absolute) replace those, for comparisons whose error is
      not rounding alone (finite differences).

    Complex and long double values are compared in complex long double. On
    failure the message names op, ISA, dtype, shapes, the worst error and where
    it occurred.
    """
    want = np.asarray(want)
    dtype = want.dtype if dtype is None else np.dtype(dtype)
    head = f"{op} [isa={isa}, dtype={dtype}{', ' + context if context else ''}]"
    assert isinstance(got, np.ndarray), f"{head}: result is {type(got).__name__}, not an ndarray"
    assert got.shape == want.shape, f"{head}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == dtype, f"{head}: dtype {got.dtype}, expected {dtype}"
    assert not c_contiguous or got.flags.c_contiguous or not want.flags.c_contiguous, (
        f"{head}: result is not C-contiguous, the reference's is")
    if got.size == 0:
        return
    if dtype.kind not in "fc":
        diff = got != want
        if np.any(diff):
            at = np.unravel_index(np.argmax(diff), want.shape)
            raise AssertionError(
                f"{head}: {int(np.sum(diff))} of {want.size} values differ; first at {at}: "
                f"got {got[at]!r}, expected {want[at]!r}; shape {want.shape}"
            )
        return
    narrow = dtype.kind == "f" and dtype.itemsize <= 8 and want.dtype.kind != "c" and want.dtype.itemsize <= 8
    wide = np.float64 if narrow else np.clongdouble
    g = got.astype(wide)
    wnt = want.astype(dtype).astype(wide) if exact else want.astype(wide)
    nan_g, nan_w = np.isnan(g), np.isnan(wnt)
    if not np.array_equal(nan_g, nan_w):
        at = np.unravel_index(np.argmax(nan_g != nan_w), g.shape)
        raise AssertionError(
            f"{head}: NaN pattern differs ({int(nan_g.sum())} NaN in result, "
            f"{int(nan_w.sum())} expected); first difference at {at}: got {got[at]!r}, "
            f"expected {want[at]!r}; shape {got.shape}"
        )
    ok = ~nan_w
    if exact:
        rtol, atol = 0.0, 0.0
    else:
        default_rtol, unit = (TOLERANCE if tolerance is None else tolerance)[dtype]
        finite = np.abs(wnt[ok & np.isfinite(wnt)])
        scale = float(finite.max()) if finite.size else 0.0
        rtol = default_rtol if rtol is None else rtol
        atol = unit * max(scale, np.finfo(np.float64).tiny) * math.sqrt(max(reduce, 1)) if atol is None else atol
    with np.errstate(invalid="ignore"):
        err = np.where(ok, np.abs(g - wnt), 0.0)
        err = np.where(ok & (g == wnt), 0.0, err)  # equal infinities
        excess = err - (atol + rtol * np.abs(np.where(ok, wnt, 0.0)))
    if np.any(excess > 0):
        at = np.unravel_index(np.argmax(excess), g.shape)
        bad = int((excess > 0).sum())
        raise AssertionError(
            f"{head}: {bad} of {got.size} values out of tolerance (rtol={rtol:g}, "
            f"atol={float(atol):.3g}); worst at {at}: got {got[at]!r}, expected {want[at]!r}, "
            f"|error| {float(err[at]):.3g}; shape {got.shape}"
        )


def assert_indices_equal(got, want, *, op, isa, dtype, context=""):
    """Indices: int64 ndarray of the expected shape, every element equal."""
    want = np.asarray(want)
    head = f"{op} indices [isa={isa}, dtype={np.dtype(dtype)}{', ' + context if context else ''}]"
    assert isinstance(got, np.ndarray), f"{head}: {type(got).__name__}, not an ndarray"
    assert got.shape == want.shape, f"{head}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == np.int64, f"{head}: dtype {got.dtype}, expected int64"
    diff = got != want
    if diff.any():
        at = np.unravel_index(np.argmax(diff), got.shape)
        raise AssertionError(
            f"{head}: {int(diff.sum())} of {got.size} differ; first at {at}: "
            f"got {got[at]}, expected {want[at]}; shape {got.shape}"
        )


# Python source for a test's child process: caps the child's address space at
# its size now plus 2 GiB (where the platform allows), so an allocation that a
# bound failed to stop raises MemoryError instead of exhausting the machine.
# Needs `resource` imported.
CHILD_ADDRESS_LIMIT = r"""
try:
    with open("/proc/self/status") as status:
        vm = [int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:")][0]
    resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), resource.RLIM_INFINITY))
except OSError:
    pass
"""


# ---- a fresh interpreter ----------------------------------------------------------


def clean_env(**extra: str) -> dict:
    """This process's environment without fastconv's or any OpenMP runtime's
    variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FASTCONV_", "OMP_", "GOMP_", "KMP_"))}
    env.update(extra)
    return env


def run_python(code: str, *, timeout: float = 120, **env_vars: str) -> subprocess.CompletedProcess:
    """Run `python -c code` (dedented) in a fresh interpreter with only the given
    fastconv / OpenMP variables set; fails the test on a non-zero exit."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=clean_env(**env_vars),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc
