"""Slow, exact twins of the drop-ins' engine: NumPy-only correlation for the dtypes
and sizes the C kernels do not cover (wide integers, long double), and the
reference the tests hold the fast paths to.

Integers are summed in uint64 (two's complement), so every result is the exact
sum wrapped modulo 2**64 and then to the result dtype: NumPy's and SciPy's
overflow behaviour, whatever order they add in.
"""
from __future__ import annotations

import numpy as np

FILL, WRAP, SYMM = 0, 1, 2


def boundary_index(g: np.ndarray, n: int, boundary: int) -> np.ndarray:
    """Map positions `g` of the extended input to indices into [0, n), or to `n`
    (the fill value's slot) for FILL outside the input. SYMM mirrors with the
    edge repeated (d c b a | a b c d | d c b a) as often as needed, WRAP is
    periodic: SciPy's reflect_symm_index and circular_wrap_index."""
    g = np.asarray(g, dtype=np.int64)
    if boundary == WRAP:
        return g % n
    if boundary == SYMM:
        k = np.where(g >= 0, g, -(g + 1)) % (2 * n)
        return np.where(k >= n, 2 * n - k - 1, k)
    return np.where((g >= 0) & (g < n), g, n)


def extend(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, boundary: int, fill) -> np.ndarray:
    """The 2-D input `x` seen through the boundary rule at positions rows x cols."""
    h, w = x.shape
    if boundary == FILL:
        padded = np.empty((h + 1, w + 1), dtype=x.dtype)
        padded[:h, :w] = x
        padded[h, :] = fill
        padded[:, w] = fill
        x = padded
    return x[np.ix_(boundary_index(rows, h, boundary), boundary_index(cols, w, boundary))]


def correlate2d(x: np.ndarray, k: np.ndarray, pad: tuple[int, int], out_shape: tuple[int, int],
                boundary: int = FILL, fill=0) -> np.ndarray:
    """y[r, c] = sum_ij X(r - pad[0] + i, c - pad[1] + j) * k[i, j] for y of `out_shape`,
    X being `x` extended by the boundary rule (FILL with `fill`, WRAP, SYMM). No
    conjugation, no flipping. `x` and `k` are 2-D arrays of the result dtype; the
    result has that dtype. Exact for integers and bool (wrap-around), NumPy's own
    arithmetic for floating and complex types."""
    dtype = x.dtype
    (oh, ow), (kh, kw) = out_shape, k.shape
    if oh == 0 or ow == 0 or kh == 0 or kw == 0:
        return np.zeros(out_shape, dtype=dtype)
    window = extend(x, np.arange(oh + kh - 1) - pad[0], np.arange(ow + kw - 1) - pad[1],
                    boundary, fill)
    if dtype.kind in "biu":
        # int64 and uint64 share their bits; uint64 arithmetic wraps by definition.
        wide = np.uint64 if dtype.kind == "u" else np.int64
        window = window.astype(wide).view(np.uint64)
        k = k.astype(wide).view(np.uint64)
    elif dtype == np.float16:  # summed in float32, as NumPy's float16 dot does
        window, k = window.astype(np.float32), k.astype(np.float32)
    acc = np.zeros((oh, ow), dtype=window.dtype)
    if kh * kw <= oh * ow:  # few taps: one whole-image multiply-add per tap
        for i in range(kh):
            for j in range(kw):
                acc += window[i:i + oh, j:j + ow] * k[i, j]
    else:  # few outputs: one dot product per output row
        views = np.lib.stride_tricks.sliding_window_view(window, (kh, kw))
        for r in range(oh):
            acc[r] = np.tensordot(views[r], k, axes=([1, 2], [0, 1]))
    if dtype.kind == "b":
        return acc != 0
    if dtype.kind in "iu":
        return acc.view(np.int64).astype(dtype) if dtype.kind == "i" else acc.astype(dtype)
    return acc.astype(dtype, copy=False)
