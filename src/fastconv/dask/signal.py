"""``fastconv.signal.convolve`` and ``correlate`` (``scipy.signal``'s N-d ones) on chunked
Dask arrays, as direct sums over blocks with halos.

in1 is zero-extended as SciPy extends it (by the kernel's size less one before and after
each axis in 'full' mode, its half in 'same' mode), each block gets the halo its outputs'
windows reach from its neighbours, and runs the in-memory direct correlation in 'valid'
mode with the two kernel axes the whole call would use: every output is the same sum of
the same products, added in the same order, as in the in-memory call, so float32,
float64 and integer results are bitwise those of ``fastconv.signal.convolve(...,
method='direct')`` where that call runs fastconv's kernels (complex to float tolerance).
1-D calls that SciPy hands to ``numpy.convolve``/``correlate`` are
``fastconv.dask.convolve``/``correlate``; calls where the kernel is the larger input
(the swaps of 'valid' and 'full' mode), and empty or 0-d inputs, compute in1 and run in
memory.
"""
from __future__ import annotations

import functools

import dask
import dask.array as da
import numpy as np

from .. import _fftconv, _signal_nd
from .. import signal as _signal
from .._correlate import FILL
from . import (
    _as_dask,
    _as_numpy,
    _blocks_with_halo,
    _check_threads,
    _extend_axis,
    _in_memory,
    _merge_small,
    _shape_proxy,
    thread_limit,
)
from . import convolve as _convolve_1d
from . import correlate as _correlate_1d

__all__ = ["convolve", "correlate"]


def _block(block, kernel, *, order, threads):
    with thread_limit(threads):
        return _signal._correlate_nd(block, kernel, "valid", order)


def _direct(op: str, in1, in2, mode, method, threads):
    fn = functools.partial(getattr(_signal, op), method="direct")
    threads = _check_threads(threads, op)
    if method != "direct":
        raise ValueError(
            f"fastconv.dask.signal.{op} sums directly, block by block: method must be "
            f"'direct', got {method!r}"
        )
    x, k = _as_dask(in1), _as_numpy(in2)
    if x.ndim != k.ndim:
        return fn(_shape_proxy(x), k, mode)  # the in-memory ValueError, nothing computed
    if x.ndim == 1 and _signal._np_conv_ok(x, k, mode):  # SciPy's shortcut to NumPy's 1-D functions
        return (_convolve_1d if op == "convolve" else _correlate_1d)(x, k, mode, threads=threads)
    swapped = x.ndim and (_fftconv.swap_needed(mode, x.shape, k.shape)
                          or (mode == "full" and k.size > x.size))
    if x.ndim == 0 or x.size == 0 or k.size == 0 or swapped or (x.ndim == 1 and k.size > x.size):
        return _in_memory(fn, x, k, mode)
    # The in-memory call on an in1 of the kernel's shape checks mode and dtypes as the
    # whole call would, and gives the result dtype.
    dtype = fn(np.zeros(k.shape, dtype=x.dtype), k, mode).dtype
    kernel = k if op == "correlate" else _signal._reverse_and_conj(k)  # SciPy's convolve
    pads, out_shape = _signal_nd.pads_and_shape(mode, x.shape, k.shape)
    order = _signal_nd.axes_order(k.shape, out_shape)
    e = x.astype(dtype)
    for axis, (n, m, before) in enumerate(zip(x.shape, k.shape, pads)):
        e = _extend_axis(e, axis, before, out_shape[axis] + m - 1 - n - before, FILL, dtype.type(0))
    # Output o reads e[o : o + m]: a block gets `before` positions of halo in front and
    # m - 1 - before behind, and yields as many outputs as it has positions, but for the
    # first and last blocks (no halo past e's ends).
    e = e.rechunk(tuple(_merge_small(c, m) for c, m in zip(e.chunks, k.shape)))
    depth, out_chunks = {}, []
    for axis, (m, before) in enumerate(zip(k.shape, pads)):
        depth[axis] = (before, m - 1 - before)
        c = list(e.chunks[axis])
        c[0] -= before
        c[-1] -= m - 1 - before
        out_chunks.append(tuple(c))
    return _blocks_with_halo(e, depth, _block, out_chunks, dtype, kernel=dask.delayed(kernel),
                             order=order, threads=threads)


def correlate(in1, in2, mode="full", method="direct", *, threads=1) -> da.Array:
    """``fastconv.signal.correlate`` (``scipy.signal.correlate``) of a chunked N-d Dask array,
    by direct sums.

    Parameters
    ----------
    in1 : dask.array.Array (or array_like)
        Any rank and chunks; a chunk smaller than the kernel is merged with its neighbour.
    in2 : array_like
        The kernel, of in1's rank, in memory (a Dask array is computed).
    mode : {'full', 'valid', 'same'}, optional
        As in ``scipy.signal.correlate``; checked, with the same errors, before anything runs.
    method : {'direct'}, optional
        Direct sums only (an FFT is not cut into blocks here); any other value raises
        ValueError.
    threads : int or None, optional
        fastconv threads per Dask task (default 1); None keeps the process setting.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype ('same' mode keeps in1's chunks), with the
        values of ``fastconv.signal.correlate(in1, in2, mode, method='direct')``: bitwise
        for float32, float64 and integers where that call runs fastconv's kernels (3-D and
        larger calls under 4,096 products run SciPy's loop), else to float tolerance.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.signal, fastconv.signal
    >>> x = np.arange(120.0).reshape(4, 5, 6)
    >>> k = np.array([[[1.0, -2.0]], [[0.5, 3.0]]])
    >>> y = fastconv.dask.signal.correlate(da.from_array(x, chunks=2), k, "same")
    >>> np.array_equal(y.compute(), fastconv.signal.correlate(x, k, "same", method="direct"))
    True
    """
    return _direct("correlate", in1, in2, mode, method, threads)


def convolve(in1, in2, mode="full", method="direct", *, threads=1) -> da.Array:
    """``fastconv.signal.convolve`` (``scipy.signal.convolve``) of a chunked N-d Dask array,
    by direct sums.

    Parameters
    ----------
    in1 : dask.array.Array (or array_like)
        Any rank and chunks; a chunk smaller than the kernel is merged with its neighbour.
    in2 : array_like
        The kernel, of in1's rank, in memory (a Dask array is computed).
    mode : {'full', 'valid', 'same'}, optional
        As in ``scipy.signal.convolve``; checked, with the same errors, before anything
        runs. In 'valid' mode the inputs swap when `in2` is the larger (convolution
        commutes): in1 is then computed and the call runs in memory.
    method : {'direct'}, optional
        Direct sums only; any other value raises ValueError.
    threads : int or None, optional
        fastconv threads per Dask task (default 1); None keeps the process setting.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, with the values of
        ``fastconv.signal.convolve(in1, in2, mode, method='direct')``, exact as
        :func:`correlate` says.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import fastconv.dask.signal, fastconv.signal
    >>> x = np.arange(64.0).reshape(8, 8)
    >>> k = np.ones((3, 3)) / 9
    >>> y = fastconv.dask.signal.convolve(da.from_array(x, chunks=(3, 5)), k, "valid")
    >>> np.array_equal(y.compute(), fastconv.signal.convolve(x, k, "valid", method="direct"))
    True
    """
    return _direct("convolve", in1, in2, mode, method, threads)
