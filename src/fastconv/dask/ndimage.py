"""``fastconv.ndimage`` (``scipy.ndimage``'s convolution filters) on chunked Dask arrays.

Each block gets, from its neighbours, the halo its outputs' windows reach (half the
kernel plus the origin's shift, per filtered axis) and runs the in-memory filter;
``dask.array.map_overlap`` then trims the halo. At the array's own edges a block
holds the true edge, so the filter's `mode` applies there as it does to the whole
array; 'wrap' (and 'grid-wrap') takes its halo from the opposite end instead
(``boundary='periodic'``), as ``dask_image.ndfilters`` does. The arguments are
those of ``dask_image.ndfilters`` where it has the function, plus the in-memory
ones it lacks (`output` as a dtype, `axes`, `radius`) and `threads`.

Exact: every output is the same sum of the same products as in the in-memory call
(the filters add each output's terms in one order wherever it lies), so results
are bitwise those of ``fastconv.ndimage`` on the whole array, with two exceptions
equal to rounding: ``uniform_filter``/``uniform_filter1d``, whose running sums (as
SciPy's) start afresh at each block's edge, and float32 N-d
``correlate``/``convolve``, whose small blocks may run SciPy's own loop (a
double-precision sum) where the whole array runs the float32 kernels.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np

from .. import ndimage as _nd
from . import _as_dask, _as_numpy, _check_threads, thread_limit

__all__ = [
    "convolve",
    "convolve1d",
    "correlate",
    "correlate1d",
    "gaussian_filter",
    "gaussian_filter1d",
    "uniform_filter",
    "uniform_filter1d",
]

_WRAPS = ("wrap", "grid-wrap")


def _per_axis(value: Any, n: int) -> list[Any]:
    """A scalar for every axis, or a sequence of one per axis (the in-memory call
    has already checked the length)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value] * n
    return list(value)


def _normal_axes(axes: Any, ndim: int) -> list[int]:
    if axes is None:
        return list(range(ndim))
    seq = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    return [int(a) % ndim for a in seq]


def _block(block: np.ndarray, *, fn: Callable[..., np.ndarray], threads: int | None,
           **kwargs: Any) -> np.ndarray:
    with thread_limit(threads):
        return fn(block, **kwargs)


def _result_dtype(op: str, fn: Callable[..., np.ndarray], x: da.Array, output: Any,
                  kwargs: dict[str, Any]) -> np.dtype:
    """The result's dtype, after every argument check the whole call would make: the
    in-memory call on a one-element array of x's rank and dtype (nothing of x is
    computed). An output array is refused: a lazy result cannot fill one."""
    if isinstance(output, np.ndarray):
        raise TypeError(f"fastconv.dask.ndimage.{op}: output must be None or a dtype: a Dask "
                        f"result is lazy and cannot fill an array, got an array of shape {output.shape}")
    return fn(np.zeros((1,) * x.ndim, dtype=x.dtype), output=output, **kwargs).dtype


def _filter(op: str, x: da.Array, fn: Callable[..., np.ndarray], kwargs: dict[str, Any],
            depth: dict[int, int], modes: dict[int, str], dtype: np.dtype, threads: Any) -> da.Array:
    """fn(block, **kwargs) over x's blocks with `depth` positions of halo per axis, into
    `dtype` (from `_result_dtype`); `modes` names each filtered axis's mode (a wrapped
    axis takes a periodic halo and runs in mode 'constant', whose values never reach
    a kept output)."""
    threads = _check_threads(threads, op)
    if x.size == 0:
        return x.astype(dtype)
    boundary = {axis: "none" for axis in range(x.ndim)}
    wrapped = [axis for axis, mode in modes.items() if isinstance(mode, str) and mode in _WRAPS]
    for axis in wrapped:
        boundary[axis] = "periodic"
    if wrapped:
        kwargs = dict(kwargs, mode=_unwrapped(kwargs["mode"]))
    depth = {axis: depth.get(axis, 0) for axis in range(x.ndim)}
    return da.map_overlap(
        functools.partial(_block, fn=fn, threads=threads, output=dtype, **kwargs),
        x, depth=depth, boundary=boundary, trim=True, dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype=dtype), allow_rechunk=True,
    )


def _unwrapped(mode: Any) -> Any:
    """`mode` with 'constant' for 'wrap' and 'grid-wrap' (one mode, or one per axis): a
    wrapped axis's halo already holds the opposite end, and the constant never reaches
    an output that is kept."""
    if isinstance(mode, str):
        return "constant" if mode in _WRAPS else mode
    return ["constant" if isinstance(m, str) and m in _WRAPS else m for m in mode]


def _origin_depth(sizes: Sequence[int], origins: Sequence[int]) -> list[int]:
    """Halo per axis for windows of `sizes` shifted by `origins` (dask_image's rule)."""
    return [int(s) // 2 + abs(int(o)) for s, o in zip(sizes, origins)]


def _nd_call(op: str, x: Any, weights: Any, output: Any, mode: str, cval: float, origin: Any,
             axes: Any, threads: Any) -> da.Array:
    fn = getattr(_nd, op)
    w = _as_numpy(weights)
    x = _as_dask(x)
    kwargs: dict[str, Any] = {"weights": w, "mode": mode, "cval": cval, "origin": origin}
    if axes is not None:
        kwargs["axes"] = axes
    dtype = _result_dtype(op, fn, x, output, kwargs)
    filtered = _normal_axes(axes, x.ndim)
    origins = _per_axis(origin, len(filtered))
    depth = dict(zip(filtered, _origin_depth(w.shape, origins)))
    return _filter(op, x, fn, kwargs, depth, dict.fromkeys(filtered, mode), dtype, threads)


def _one_axis_call(op: str, x: Any, axis: int, size: int, kwargs: dict[str, Any], output: Any,
                   threads: Any) -> da.Array:
    fn = getattr(_nd, op)
    x = _as_dask(x)
    kwargs = dict(kwargs, axis=axis)
    dtype = _result_dtype(op, fn, x, output, kwargs)
    ax = int(axis) % x.ndim
    origin = int(kwargs.get("origin", 0))
    return _filter(op, x, fn, kwargs, {ax: size // 2 + abs(origin)}, {ax: kwargs["mode"]},
                   dtype, threads)


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
              threads=1) -> da.Array:
    """``fastconv.ndimage.correlate`` (``scipy.ndimage.correlate``) of a chunked Dask array.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks (a chunk thinner than the halo is merged by Dask).
    weights : array_like
        The kernel, in memory (a Dask array is computed).
    output : dtype, optional
        The result's dtype, as the in-memory `output`; an array is refused (TypeError).
    mode, cval, origin, axes
        As in ``fastconv.ndimage.correlate``, checked with the same errors before
        anything runs.
    threads : int or None, optional
        fastconv threads per Dask task (default 1); None keeps the process setting.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.arange(100.0).reshape(10, 10)
    >>> k = np.array([[1.0, 2.0, 1.0]]) / 4
    >>> y = fastconv.dask.ndimage.correlate(da.from_array(x, chunks=4), k, mode="wrap")
    >>> np.array_equal(y.compute(), fastconv.ndimage.correlate(x, k, mode="wrap"))
    True
    """
    return _nd_call("correlate", input, weights, output, mode, cval, origin, axes, threads)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
             threads=1) -> da.Array:
    """``fastconv.ndimage.convolve`` (``scipy.ndimage.convolve``) of a chunked Dask array.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    weights : array_like
        The kernel, in memory (a Dask array is computed).
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, origin, axes
        As in ``fastconv.ndimage.convolve``.
    threads : int or None, optional
        fastconv threads per Dask task (default 1); None keeps the process setting.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.arange(64.0).reshape(8, 8)
    >>> k = np.ones((3, 3)) / 9
    >>> y = fastconv.dask.ndimage.convolve(da.from_array(x, chunks=3), k, mode="nearest")
    >>> np.array_equal(y.compute(), fastconv.ndimage.convolve(x, k, mode="nearest"))
    True
    """
    return _nd_call("convolve", input, weights, output, mode, cval, origin, axes, threads)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
                threads=1) -> da.Array:
    """``fastconv.ndimage.correlate1d`` of a chunked Dask array along `axis`.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    weights : array_like
        The 1-D kernel.
    axis : int, optional
        The axis filtered (default the last).
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, origin
        As in ``fastconv.ndimage.correlate1d``.
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.arange(30.0).reshape(3, 10)
    >>> y = fastconv.dask.ndimage.correlate1d(da.from_array(x, chunks=(2, 3)), [1.0, -1.0], axis=1)
    >>> np.array_equal(y.compute(), fastconv.ndimage.correlate1d(x, [1.0, -1.0], axis=1))
    True
    """
    w = np.asarray(_as_numpy(weights))
    kwargs = {"weights": w, "mode": mode, "cval": cval, "origin": origin}
    return _one_axis_call("correlate1d", input, axis, max(w.size, 1), kwargs, output, threads)


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
               threads=1) -> da.Array:
    """``fastconv.ndimage.convolve1d`` of a chunked Dask array along `axis`.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    weights : array_like
        The 1-D kernel.
    axis : int, optional
        The axis filtered (default the last).
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, origin
        As in ``fastconv.ndimage.convolve1d``.
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.arange(20.0)
    >>> y = fastconv.dask.ndimage.convolve1d(da.from_array(x, chunks=6), [1.0, 2.0, 3.0], mode="mirror")
    >>> np.array_equal(y.compute(), fastconv.ndimage.convolve1d(x, [1.0, 2.0, 3.0], mode="mirror"))
    True
    """
    w = np.asarray(_as_numpy(weights))
    kwargs = {"weights": w, "mode": mode, "cval": cval, "origin": origin}
    return _one_axis_call("convolve1d", input, axis, max(w.size, 1), kwargs, output, threads)


def _gaussian_radius(sigma: float, truncate: float, radius: Any) -> int:
    """SciPy's half-width of a Gaussian kernel: `radius`, else int(truncate * sigma + 0.5)."""
    if radius is not None:
        return int(radius)
    return int(float(truncate) * float(sigma) + 0.5)


def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *,
                    radius=None, axes=None, threads=1) -> da.Array:
    """``fastconv.ndimage.gaussian_filter`` (``scipy.ndimage.gaussian_filter``) of a chunked
    Dask array.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    sigma : float or sequence of float
        Standard deviation per filtered axis.
    order : int or sequence of int, optional
        Derivative order per axis.
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, truncate, radius, axes
        As in ``fastconv.ndimage.gaussian_filter`` (`mode` may be one per axis).
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.random.default_rng(0).random((40, 30))
    >>> y = fastconv.dask.ndimage.gaussian_filter(da.from_array(x, chunks=16), 2.0)
    >>> np.array_equal(y.compute(), fastconv.ndimage.gaussian_filter(x, 2.0))
    True
    """
    x = _as_dask(input)
    kwargs: dict[str, Any] = {"sigma": sigma, "order": order, "mode": mode, "cval": cval,
                              "truncate": truncate, "radius": radius}
    if axes is not None:
        kwargs["axes"] = axes
    dtype = _result_dtype("gaussian_filter", _nd.gaussian_filter, x, output, kwargs)
    filtered = _normal_axes(axes, x.ndim)
    n = len(filtered)
    sigmas, radii = _per_axis(sigma, n), _per_axis(radius, n)
    depth = {a: _gaussian_radius(s, truncate, r) for a, s, r in zip(filtered, sigmas, radii)
             if float(s) > 1e-15}
    modes = dict(zip(filtered, _per_axis(mode, n)))
    return _filter("gaussian_filter", x, _nd.gaussian_filter, kwargs, depth, modes, dtype, threads)


def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None, threads=1) -> da.Array:
    """``fastconv.ndimage.gaussian_filter1d`` of a chunked Dask array along `axis`.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    sigma : float
        Standard deviation.
    axis : int, optional
        The axis filtered (default the last).
    order : int, optional
        Derivative order.
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, truncate, radius
        As in ``fastconv.ndimage.gaussian_filter1d``.
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.random.default_rng(1).random(50)
    >>> y = fastconv.dask.ndimage.gaussian_filter1d(da.from_array(x, chunks=12), 1.5, order=1)
    >>> np.array_equal(y.compute(), fastconv.ndimage.gaussian_filter1d(x, 1.5, order=1))
    True
    """
    kwargs = {"sigma": sigma, "order": order, "mode": mode, "cval": cval, "truncate": truncate,
              "radius": radius}
    size = 2 * _gaussian_radius(sigma, truncate, radius) + 1
    return _one_axis_call("gaussian_filter1d", input, axis, size, kwargs, output, threads)


def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None,
                   threads=1) -> da.Array:
    """``fastconv.ndimage.uniform_filter`` (``scipy.ndimage.uniform_filter``) of a chunked
    Dask array.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    size : int or sequence of int, optional
        The window's size per filtered axis.
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, origin, axes
        As in ``fastconv.ndimage.uniform_filter`` (`mode` may be one per axis).
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.arange(144, dtype=np.uint8).reshape(12, 12)
    >>> y = fastconv.dask.ndimage.uniform_filter(da.from_array(x, chunks=5), 4)
    >>> np.array_equal(y.compute(), fastconv.ndimage.uniform_filter(x, 4))
    True
    """
    x = _as_dask(input)
    kwargs: dict[str, Any] = {"size": size, "mode": mode, "cval": cval, "origin": origin}
    if axes is not None:
        kwargs["axes"] = axes
    dtype = _result_dtype("uniform_filter", _nd.uniform_filter, x, output, kwargs)
    filtered = _normal_axes(axes, x.ndim)
    n = len(filtered)
    depth = dict(zip(filtered, _origin_depth(_per_axis(size, n), _per_axis(origin, n))))
    modes = dict(zip(filtered, _per_axis(mode, n)))
    return _filter("uniform_filter", x, _nd.uniform_filter, kwargs, depth, modes, dtype, threads)


def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *,
                     threads=1) -> da.Array:
    """``fastconv.ndimage.uniform_filter1d`` of a chunked Dask array along `axis`.

    Parameters
    ----------
    input : dask.array.Array (or array_like)
        Any rank and chunks.
    size : int
        The window's size.
    axis : int, optional
        The axis filtered (default the last).
    output : dtype, optional
        The result's dtype; an array is refused (TypeError).
    mode, cval, origin
        As in ``fastconv.ndimage.uniform_filter1d``.
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with input's chunks.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.ndimage, fastconv.ndimage
    >>> x = np.arange(40.0)
    >>> y = fastconv.dask.ndimage.uniform_filter1d(da.from_array(x, chunks=7), 5, mode="wrap")
    >>> np.array_equal(y.compute(), fastconv.ndimage.uniform_filter1d(x, 5, mode="wrap"))
    True
    """
    kwargs = {"size": size, "mode": mode, "cval": cval, "origin": origin}
    return _one_axis_call("uniform_filter1d", input, axis, max(int(size), 1), kwargs, output,
                          threads)

