"""fastconv on Dask arrays: the drop-ins over overlapping blocks, the deep-learning ops and
``Sequential.predict`` over batch chunks, with one fastconv thread per Dask thread.

Every function takes a Dask array (or anything ``dask.array.asarray`` takes) where the
in-memory function takes its big input, and returns a lazy Dask array. The small inputs
(kernels, weights, bias, the model) are NumPy arrays or objects; a Dask array there is
computed first. Each enters the graph once, as one key, so a distributed cluster sends
it to each worker once rather than with every chunk.

How a block is computed, and why the results equal the in-memory ones:

- ``convolve2d``/``correlate2d``: in1 is extended by the boundary rule (`fillvalue`,
  wrap or mirror: ``fastconv.slow.boundary_index``, the C kernels' rules) into an array
  that covers every output's window, the extension merged into the edge chunks; each
  block then gets the kernel's halo from its neighbours (``dask.array.overlap.overlap``,
  asymmetric depth: the rows and columns before and after an output that its window
  reaches) and runs the in-memory function in 'valid' mode. An output is thus the same
  sum of the same products as in the in-memory call. 'same' mode keeps in1's chunks.
- ``convolve``/``correlate``: the same halo; the first and last blocks run mode 'full'
  on data that ends where `a` ends, so NumPy's edge rule (only the overlapping terms
  are summed) holds there as in memory.
- ``fastconv.dask.signal.convolve``/``correlate`` (``scipy.signal``'s N-d functions):
  zero extension as SciPy's, the halo on every axis, each block the in-memory direct
  N-d correlation in 'valid' mode on the whole call's kernel axes (``signal.py`` here).
- ``fastconv.dask.ndimage.*`` (``scipy.ndimage``'s filters): each block gets the halo
  its windows reach and runs the in-memory filter, whose `mode` applies at the array's
  own edges as in memory; 'wrap' takes its halo from the opposite end (``ndimage.py``).
- ``conv2d``: batch chunks as they are, the channel axis in one chunk; spatial chunks
  are cut at multiples of the stride in the zero-padded input and get the halo of the
  dilated kernel, each block running ``fastconv.conv2d`` with padding 0.
- ``relu`` works on any chunks (and ``fastconv.relu``, a ufunc, maps over a Dask array
  by itself); ``max_pool2d`` on batch and channel chunks (its spatial axes are put in
  one chunk); ``predict`` on batch chunks.

Exact or to float tolerance: the drop-ins sum directly at every kernel size (the FFT
only with ``method='fft'``), the direct kernels sum each output's products in one fixed
order whatever the image size or position, and integers are exact, so float32, float64
and integer results are bitwise equal to the in-memory call's; so is ``predict`` (each
layer, Dense included, sums an output in one order whatever the batch). Complex and
float16 inputs agree to float tolerance: a small block may be summed in NumPy's order
(the drop-ins' small-call path), the whole array in the kernels'.

Threads: each task runs with ``threads`` (default 1) fastconv threads, a limit of the
calling thread's own (``thread_limit``): the Dask threads do not add up to threads x
cores, nothing else in the process changes, and the thread's previous limit is restored
after the task. ``threads=None`` leaves the limit alone.
"""
from __future__ import annotations

import contextlib

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastconv.dask needs dask[array,distributed]: "
        "pip install 'fastconv[dask]'"
    ) from err

from .. import _kernels, nn, numpy_compat
from .. import signal as _signal  # `signal` is this package's submodule
from .._checks import as_float_array, flag, layout_is_nhwc, positive_int, same_dtype
from .._config import MAX_THREADS
from .._correlate import FILL
from .._ufunc import relu as _relu
from ..slow import boundary_index

__all__ = [
    "conv2d",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "max_pool2d",
    "ndimage",
    "predict",
    "relu",
    "signal",
    "thread_limit",
]


# ---- threads ------------------------------------------------------------------------------

@contextlib.contextmanager
def thread_limit(threads):
    """Run the body with `threads` fastconv threads in the calling thread only.

    fastconv uses the smaller of its process-wide count (``set_num_threads``) and a
    limit of the calling thread's own; this sets that limit for this thread and
    restores the previous one on exit. Other threads, and the process-wide count,
    are untouched, so tasks running at once on several Dask threads do not
    interfere.

    Parameters
    ----------
    threads : int or None
        The limit, >= 1 (above 1024 means 1024); None does nothing.

    Yields
    ------
    None

    Raises
    ------
    ValueError
        If `threads` is below 1.
    TypeError
        If `threads` is neither an integer nor None.

    Examples
    --------
    >>> import fastconv, fastconv.dask
    >>> with fastconv.dask.thread_limit(1):
    ...     fastconv.get_num_threads()
    1
    """
    if threads is None:
        yield
        return
    n = positive_int(threads, "threads", "thread_limit")
    saved = _kernels.local_thread_limit(min(n, MAX_THREADS))
    try:
        yield
    finally:
        _kernels.local_thread_limit(saved)


def _check_threads(threads, op: str):
    return None if threads is None else positive_int(threads, "threads", op)


# ---- inputs -------------------------------------------------------------------------------


def _as_dask(x) -> da.Array:
    return x if isinstance(x, da.Array) else da.asarray(x)


def _as_numpy(v) -> np.ndarray:
    """A small input (kernel, weight, bias) in memory; a Dask array is computed."""
    if dask.is_dask_collection(v):
        v = v.compute()
    return np.asarray(v)


def _shape_proxy(x: da.Array) -> np.ndarray:
    """A zero-strided array with x's shape and dtype, for the in-memory argument checks."""
    return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)


def _in_memory(fn, x: da.Array, *args):
    """fn on the whole of x, computed now: for inputs that are empty or smaller than
    the kernel, where the in-memory rules (swaps, errors, empty results) apply as they are."""
    return da.from_array(fn(np.asarray(x.compute()), *args))


# ---- chunk arithmetic ---------------------------------------------------------------------


def _merge_small(chunks, minimum: int) -> tuple[int, ...]:
    """Chunks along one axis, neighbours merged until each holds at least `minimum`
    (as ``dask.array.overlap`` wants); the total must."""
    out: list[int] = []
    for c in chunks:
        if out and out[-1] < minimum:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < minimum:
        last = out.pop()
        out[-1] += last
    return tuple(out)


def _stride_chunks(chunks, step: int, minimum: int, last_minimum: int) -> tuple[int, ...]:
    """Chunks whose inner boundaries are multiples of `step` (each boundary of `chunks`
    moved down to one), each at least `minimum`, the last at least `last_minimum`."""
    total = sum(chunks)
    edges = sorted({b - b % step for b in np.cumsum(chunks)[:-1].tolist()} - {0})
    sizes = np.diff([0, *edges, total]).tolist()
    out: list[int] = []
    for c in sizes:  # merging two chunks drops a boundary: the rest stay multiples of step
        if out and out[-1] < minimum:
            out[-1] += c
        else:
            out.append(c)
    while len(out) > 1 and out[-1] < max(minimum, last_minimum):
        last = out.pop()
        out[-1] += last
    return tuple(out)


def _extend_axis(x: da.Array, axis: int, before: int, after: int, boundary: int, fill):
    """x with `before` and `after` positions added along `axis` by the boundary rule
    (`after` < 0 drops that many), the added ones merged into the end chunks."""
    n = x.shape[axis]
    if after < 0:
        x = x[(slice(None),) * axis + (slice(0, n + after),)]
    parts = []
    for g in (np.arange(-before, 0), np.arange(n, n + max(after, 0))):
        if not len(g):
            parts.append(None)
        elif boundary == FILL:
            shape = x.shape[:axis] + (len(g),) + x.shape[axis + 1:]
            chunks = x.chunks[:axis] + ((len(g),),) + x.chunks[axis + 1:]
            parts.append(da.full(shape, fill, dtype=x.dtype, chunks=chunks))
        else:
            parts.append(da.take(x, boundary_index(g, n, boundary), axis=axis))
    if parts[0] is None and parts[1] is None:
        return x
    chunks = list(x.chunks[axis])
    chunks[0] += before
    chunks[-1] += max(after, 0)
    joined = da.concatenate([p for p in (parts[0], x, parts[1]) if p is not None], axis=axis)
    return joined.rechunk({axis: tuple(chunks)})


def _blocks_with_halo(e: da.Array, depth: dict[int, tuple[int, int]], block_fn, out_chunks,
                      dtype, **kwargs) -> da.Array:
    """block_fn on each block of e together with the `depth` (before, after) positions of
    its neighbours along each axis (none past e's ends); its results have `out_chunks`."""
    depth = {ax: depth.get(ax, (0, 0)) for ax in range(e.ndim)}
    if any(b or a for b, a in depth.values()):
        e = da.overlap.overlap(e, depth=depth, boundary="none", allow_rechunk=False)
    meta = np.empty((0,) * len(out_chunks), dtype=dtype)
    return da.map_blocks(block_fn, e, chunks=tuple(out_chunks), dtype=dtype, meta=meta, **kwargs)


# ---- the drop-ins: 2-D ----------------------------------------------------------------------


def _correlate2d_block(block, kernel, *, flip, threads):
    fn = _signal.convolve2d if flip else _signal.correlate2d
    with thread_limit(threads):
        return fn(block, kernel, "valid")


def _correlate2d(op: str, in1, in2, mode, boundary, fillvalue, flip: bool, threads):
    fn = _signal.convolve2d if flip else _signal.correlate2d
    threads = _check_threads(threads, op)
    x, k = _as_dask(in1), _as_numpy(in2)
    if not x.ndim == k.ndim == 2:
        raise ValueError(
            f"{op} inputs must both be 2-D arrays, got in1 of shape {x.shape} "
            f"and in2 of shape {k.shape}"
        )
    if x.size == 0 or k.size == 0 or _signal._swap_needed(mode, x.shape, k.shape):
        return _in_memory(fn, x, k, mode, boundary, fillvalue)
    # The in-memory function on an in1 of the kernel's shape checks mode, boundary,
    # dtypes and fillvalue as the whole call would, and gives the result dtype.
    dtype = fn(np.zeros(k.shape, dtype=x.dtype), k, mode, boundary, fillvalue).dtype
    bcode = _signal._boundary_code(boundary)
    fill = _signal._fill_scalar(fillvalue, dtype) if bcode == FILL else None
    code = _signal._mode_code(mode)
    pads = []  # (before, after) per axis, in the in-memory call's convention
    for n in k.shape:
        before = (0, n // 2 if flip else (n - 1) // 2, n - 1)[code]
        pads.append((before, (0, n - 1 - before, n - 1)[code]))
    e = x.astype(dtype)
    for axis, (before, after) in enumerate(pads):
        e = _extend_axis(e, axis, before, after, bcode, fill)
    # Output o reads e[o : o + n]: a block gets `before` positions of halo in front,
    # n - 1 - before behind, and yields as many outputs as it has positions, but for
    # the first and last blocks (no halo past e's ends).
    e = e.rechunk(tuple(_merge_small(c, n) for c, n in zip(e.chunks, k.shape)))
    depth, out_chunks = {}, []
    for axis, (n, (before, _)) in enumerate(zip(k.shape, pads)):
        depth[axis] = (before, n - 1 - before)
        c = list(e.chunks[axis])
        c[0] -= before
        c[-1] -= n - 1 - before
        out_chunks.append(tuple(c))
    return _blocks_with_halo(e, depth, _correlate2d_block, out_chunks, dtype,
                             kernel=dask.delayed(k), flip=flip, threads=threads)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, threads=1):
    """``fastconv.correlate2d`` (``scipy.signal.correlate2d``) of a chunked 2-D Dask array.

    Parameters
    ----------
    in1 : dask.array.Array (or array_like), 2-D
        Any chunks; a chunk smaller than the kernel is merged with its neighbour.
    in2 : array_like, 2-D
        The kernel, in memory (a Dask array is computed).
    mode : {'full', 'valid', 'same'}, optional
    boundary : {'fill', 'wrap', 'symm'}, optional
    fillvalue : scalar, optional
        As in :func:`fastconv.correlate2d`; checked, with the same errors, before
        anything runs.
    threads : int or None, optional
        fastconv threads per Dask task (default 1); None keeps the process setting.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype; 'same' mode keeps in1's chunks. Values
        are bitwise those of the in-memory call where both run the direct kernels
        (integers; float32/float64 kernels of up to 32 taps), else equal to float
        tolerance (see the module notes). In 'valid' mode with `in2` the larger, and for
        empty inputs, in1 is computed and the in-memory function called.

    Raises
    ------
    ValueError, TypeError
        Where :func:`fastconv.correlate2d` raises them for these shapes, dtypes and
        options, or for a `threads` that is not a positive integer or None.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv, fastconv.dask
    >>> x = np.arange(48.0).reshape(6, 8)
    >>> k = np.array([[1.0, 2.0], [0.5, -1.0]])
    >>> y = fastconv.dask.correlate2d(da.from_array(x, chunks=3), k, "same", "symm")
    >>> np.array_equal(y.compute(), fastconv.correlate2d(x, k, "same", "symm"))
    True
    """
    return _correlate2d("correlate2d", in1, in2, mode, boundary, fillvalue, False, threads)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, threads=1):
    """``fastconv.convolve2d`` (``scipy.signal.convolve2d``) of a chunked 2-D Dask array.

    Parameters
    ----------
    in1 : dask.array.Array (or array_like), 2-D
    in2 : array_like, 2-D
    mode : {'full', 'valid', 'same'}, optional
    boundary : {'fill', 'wrap', 'symm'}, optional
    fillvalue : scalar, optional
    threads : int or None, optional
        As in :func:`correlate2d`.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, exact as :func:`correlate2d` says.

    Raises
    ------
    ValueError, TypeError
        Where :func:`fastconv.convolve2d` raises them, or for a bad `threads`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv, fastconv.dask
    >>> x = np.arange(48.0).reshape(6, 8)
    >>> k = np.array([[1.0, 2.0], [0.5, -1.0]])
    >>> y = fastconv.dask.convolve2d(da.from_array(x, chunks=3), k, "full", "wrap")
    >>> np.array_equal(y.compute(), fastconv.convolve2d(x, k, "full", "wrap"))
    True
    """
    return _correlate2d("convolve2d", in1, in2, mode, boundary, fillvalue, True, threads)


# ---- the drop-ins: 1-D ----------------------------------------------------------------------


def _correlate1d_block(block, kernel, *, flip, mode, before, threads, block_info=None):
    fn = numpy_compat.convolve if flip else numpy_compat.correlate
    where = block_info[None]
    first = where["chunk-location"][0] == 0
    last = where["chunk-location"][0] == where["num-chunks"][0] - 1
    with thread_limit(threads):
        if first and last:
            return fn(block, kernel, mode)
        if not (first or last):
            return fn(block, kernel, "valid")
        # An end block: 'full' on data that ends where `a` does sums only the
        # overlapping terms there, as NumPy (and the in-memory call) do.
        start = len(kernel) - 1 - (before if first else 0)
        return fn(block, kernel, "full")[start:start + where["chunk-shape"][0]]


def _correlate1d(op: str, a, v, mode, flip: bool, threads):
    fn = numpy_compat.convolve if flip else numpy_compat.correlate
    threads = _check_threads(threads, op)
    if not flip:  # numpy.correlate checks the mode first, numpy.convolve after the sizes
        numpy_compat._mode_code(mode)
    x, k = _as_dask(a), _as_numpy(v)
    if flip:  # numpy.convolve takes a scalar as one element
        x, k = (x.reshape(1) if x.ndim == 0 else x), np.array(k, copy=None, ndmin=1)
    for name, arr in (("a", x), ("v", k)):
        if arr.ndim != 1:
            raise ValueError(f"{op}: {name} must be 1-D, got an array of shape {arr.shape}")
    if x.shape[0] == 0 or k.size == 0 or k.shape[0] > x.shape[0]:
        return _in_memory(fn, x, k, mode)
    code = numpy_compat._mode_code(mode)
    dtype = fn(np.zeros(k.shape, dtype=x.dtype), k, mode).dtype  # checks as the whole call
    m = k.shape[0]
    before = (0, m // 2, m - 1)[code]
    after = (0, m - 1 - before, m - 1)[code]
    x = x.rechunk((_merge_small(x.chunks[0], m),))
    out = list(x.chunks[0])
    out[-1] += before + after - (m - 1)  # 'valid' loses m - 1 outputs, 'full' gains them
    return _blocks_with_halo(x, {0: (before, m - 1 - before)}, _correlate1d_block, [tuple(out)],
                             dtype, kernel=dask.delayed(k), flip=flip, mode=mode, before=before,
                             threads=threads)


def correlate(a, v, mode="valid", *, threads=1):
    """``fastconv.correlate`` (``numpy.correlate``) of a chunked 1-D Dask array.

    Parameters
    ----------
    a : dask.array.Array (or array_like), 1-D
    v : array_like, 1-D
        In memory (a Dask array is computed).
    mode : {'valid', 'same', 'full'} or {0, 1, 2}, optional
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype; exact as :func:`correlate2d` says.
        When `v` is longer than `a`, `a` is computed and the in-memory function called.

    Raises
    ------
    ValueError, TypeError
        Where :func:`fastconv.correlate` raises them, or for a bad `threads`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv.dask
    >>> a = da.from_array(np.array([5, 3, 2, 5, 9, 7]), chunks=3)
    >>> fastconv.dask.correlate(a, [1, 2, 3]).compute()
    array([17, 22, 39, 44])
    """
    return _correlate1d("correlate", a, v, mode, False, threads)


def convolve(a, v, mode="full", *, threads=1):
    """``fastconv.convolve`` (``numpy.convolve``) of a chunked 1-D Dask array.

    Parameters
    ----------
    a : dask.array.Array (or array_like), 1-D
    v : array_like, 1-D
    mode : {'full', 'same', 'valid'} or {2, 1, 0}, optional
    threads : int or None, optional
        As in :func:`correlate`.

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype.

    Raises
    ------
    ValueError, TypeError
        Where :func:`fastconv.convolve` raises them, or for a bad `threads`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv.dask
    >>> a = da.from_array(np.array([1.0, 2.0, 3.0, 4.0]), chunks=2)
    >>> fastconv.dask.convolve(a, [0.0, 1.0, 0.5]).compute()
    array([0. , 1. , 2.5, 4. , 5.5, 2. ])
    """
    return _correlate1d("convolve", a, v, mode, True, threads)


# ---- deep-learning ops ------------------------------------------------------------------------


def _relu_block(block, *, threads):
    with thread_limit(threads):
        return nn.relu(block)


def relu(x, *, threads=1):
    """``fastconv.relu`` of a Dask array of any shape and chunks, blockwise, each task
    with `threads` fastconv threads.

    ``fastconv.relu(x)`` itself also returns a lazy Dask array for a Dask `x` (the ufunc
    dispatches through Dask's ``__array_ufunc__``), but leaves each task's thread count
    as it is.

    Parameters
    ----------
    x : dask.array.Array (or array_like), float32 or float64
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The shape, chunks and dtype of `x`.

    Raises
    ------
    TypeError
        For dtypes other than float32 and float64.
    ValueError
        For a `threads` below 1.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv.dask
    >>> fastconv.dask.relu(da.from_array(np.array([-1.5, 0.0, 2.0]), chunks=2)).compute()
    array([0., 0., 2.])
    """
    threads = _check_threads(threads, "relu")
    x = _as_dask(x)
    dtype = _relu(np.empty(0, dtype=x.dtype)).dtype  # the ufunc's TypeError for other dtypes
    return x.map_blocks(_relu_block, dtype=dtype, meta=np.empty((0,) * x.ndim, dtype=dtype),
                        threads=threads)


def _spatial_axes(nhwc: bool) -> tuple[int, int, int]:
    """(height, width, channel) axes of a 4-D array in the layout."""
    return (1, 2, 3) if nhwc else (2, 3, 1)


def _conv2d_block(block, weight, bias, *, stride, padding, dilation, groups, layout, threads):
    with thread_limit(threads):
        return nn.conv2d(block, weight, bias, stride, padding, dilation, groups, layout=layout)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, layout="NCHW",
           threads=1):
    """``fastconv.conv2d`` of a Dask array of images, chunked along the batch and,
    optionally, the spatial axes.

    Parameters
    ----------
    x : dask.array.Array (or array_like)
        (N, C, H, W) for NCHW, (N, H, W, C) for NHWC; 3-D for one image. Batch chunks
        stay as they are; the channel axis is put in one chunk (each output sums over
        all channels).
    weight, bias, stride, padding, dilation, groups, layout
        As in ``fastconv.conv2d`` (weight and bias in memory; Dask arrays are computed).
        Checked, with the same errors, before anything runs.
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array
        The in-memory result's shape and dtype, batch chunks kept, output channels in
        one chunk.

    Raises
    ------
    ValueError, TypeError
        Where :func:`fastconv.conv2d` raises them for these shapes, dtypes and
        options, or for a bad `threads`.

    Notes
    -----
    Spatial chunks work with any stride, padding and dilation: the input is
    zero-padded as the in-memory call pads it, cut at multiples of the stride (a
    rechunk when the chunks are not already there, a no-op for stride 1) and each
    block gets the ``(R - 1) * dilation + 1 - stride`` rows and columns after it
    from its neighbours; blocks run with padding 0. Chunks too small for the halo are
    merged with their neighbours.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv, fastconv.dask
    >>> x = np.arange(32.0).reshape(2, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2))
    >>> y = fastconv.dask.conv2d(da.from_array(x, chunks=(1, 1, 4, 4)), w)
    >>> np.array_equal(y.compute(), fastconv.conv2d(x, w))
    True
    """
    op = "conv2d"
    nhwc = layout_is_nhwc(layout, op)
    threads = _check_threads(threads, op)
    x = _as_dask(x)
    proxy = as_float_array(_shape_proxy(x), "x", op)
    w = as_float_array(_as_numpy(weight), "weight", op)
    b = None if bias is None else as_float_array(_as_numpy(bias), "bias", op)
    same_dtype(op, proxy, weight=w, bias=b)
    g = nn._conv_geometry(op, proxy, w, stride, padding, dilation, groups, nhwc)
    _n, _c, h, wd, k, r, s, oh, ow = g.dims
    sh, sw, dh, dw, pt, pl, groups = g.opts
    if b is not None and b.shape != (k,):
        raise ValueError(f"{op}: bias must have shape ({k},), got {b.shape}")
    unbatched = x.ndim == 3
    x = (x[None] if unbatched else x).astype(proxy.dtype)
    hax, wax, cax = _spatial_axes(nhwc)
    x = x.rechunk({cax: -1})
    kw = {"weight": dask.delayed(w), "bias": None if b is None else dask.delayed(b),
          "groups": groups, "layout": layout, "threads": threads}
    out_chunks = list(x.chunks)
    out_chunks[cax] = (k,)
    one_tile = len(x.chunks[hax]) == 1 and len(x.chunks[wax]) == 1
    if one_tile or x.size == 0 or oh == 0 or ow == 0:
        x = x.rechunk({hax: -1, wax: -1})
        out_chunks[hax], out_chunks[wax] = (oh,), (ow,)
        y = _blocks_with_halo(x, {}, _conv2d_block, out_chunks, x.dtype, stride=stride,
                              padding=padding, dilation=dilation, **kw)
        return y[0] if unbatched else y
    e, depth = x, {}
    for ax, size, taps, step, dil, before, outs in ((hax, h, r, sh, dh, pt, oh),
                                                    (wax, wd, s, sw, dw, pl, ow)):
        span = (taps - 1) * dil + 1
        used = (outs - 1) * step + span  # padded positions any output reads
        e = _extend_axis(e, ax, before, used - size - before, FILL, 0)
        halo = max(span - step, 0)
        chunks = _stride_chunks(e.chunks[ax], step, max(halo, 1), span)
        e = e.rechunk({ax: chunks})
        out_chunks[ax] = tuple(ci // step for ci in chunks[:-1]) + (outs - (used - chunks[-1]) // step,)
        depth[ax] = (0, halo)
    y = _blocks_with_halo(e, depth, _conv2d_block, out_chunks, x.dtype, stride=(sh, sw),
                          padding=0, dilation=(dh, dw), **kw)
    return y[0] if unbatched else y


def _pool_block(block, *, kernel_size, stride, padding, dilation, ceil_mode, layout, return_indices,
                threads):
    with thread_limit(threads):
        return nn.max_pool2d(block, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                             layout=layout)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCHW", threads=1):
    """``fastconv.max_pool2d`` of a Dask array of images chunked along the batch (and
    channel) axis.

    The spatial axes are put in one chunk (a rechunk if they were split); batch and
    channel chunks are kept.

    Parameters
    ----------
    x : dask.array.Array (or array_like)
        (N, C, H, W) for NCHW, (N, H, W, C) for NHWC; 3-D for one image.
    kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout
        As in :func:`fastconv.max_pool2d`, checked before anything runs.
    threads : int or None, optional
        fastconv threads per Dask task (default 1).

    Returns
    -------
    dask.array.Array or (dask.array.Array, dask.array.Array)
        The in-memory result's shape and dtype, batch and channel chunks kept;
        with ``return_indices=True``, ``(y, indices)``: two Dask arrays from the
        same tasks (compute them together, e.g. ``dask.compute(y, indices)``, to
        pool once).

    Raises
    ------
    ValueError, TypeError
        Where :func:`fastconv.max_pool2d` raises them, or for a bad `threads`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv.dask
    >>> x = da.from_array(np.arange(32.0).reshape(2, 1, 4, 4), chunks=(1, 1, 4, 4))
    >>> fastconv.dask.max_pool2d(x, 2).compute()[1, 0]
    array([[21., 23.],
           [29., 31.]])
    """
    op = "max_pool2d"
    nhwc = layout_is_nhwc(layout, op)
    threads = _check_threads(threads, op)
    x = _as_dask(x)
    proxy = as_float_array(_shape_proxy(x), "x", op)
    return_indices = flag(return_indices, "return_indices", op)
    g = nn._pool_geometry(op, proxy, kernel_size, stride, padding, dilation, ceil_mode, nhwc)
    unbatched = x.ndim == 3
    x = (x[None] if unbatched else x).astype(proxy.dtype)
    hax, wax, _ = _spatial_axes(nhwc)
    x = x.rechunk({hax: -1, wax: -1})
    chunks = list(x.chunks)
    chunks[hax], chunks[wax] = (g.out_shape[hax],), (g.out_shape[wax],)
    kw = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
          "dilation": dilation, "ceil_mode": ceil_mode, "layout": layout, "threads": threads}
    meta = np.empty((0,) * 4, dtype=x.dtype)
    if not return_indices:
        y = x.map_blocks(_pool_block, chunks=chunks, dtype=x.dtype, meta=meta,
                         return_indices=False, **kw)
        return y[0] if unbatched else y
    # One task per block returns (y, indices); two light tasks split the pair.
    both = x.map_blocks(_pool_block, chunks=chunks, dtype=x.dtype, meta=meta,
                        return_indices=True, **kw)
    y = both.map_blocks(_item, 0, dtype=x.dtype, meta=meta)
    idx = both.map_blocks(_item, 1, dtype=np.int64, meta=np.empty((0,) * 4, dtype=np.int64))
    return (y[0], idx[0]) if unbatched else (y, idx)


def _item(pair, i):
    return pair[i]


# ---- model inference ----------------------------------------------------------------------------


def _predict_block(block, model, *, batch_size, threads):
    with thread_limit(threads):
        return model.predict(block, batch_size=batch_size, verbose=0)


def predict(model, x, batch_size=None, *, threads=1):
    """``model.predict(x)`` for a Dask array of images chunked along the batch axis.

    Parameters
    ----------
    model : fastconv.models.Sequential
        Built here if it is not yet (so every worker gets the same weights); it enters
        the graph once, as one key: a distributed cluster sends it to each worker once
        per computation, not with every chunk. Calls share it, which is safe:
        inference keeps no state in the layers.
    x : dask.array.Array (or array_like)
        (N, ...) as ``model.predict`` takes it; the other axes are put in one chunk.
    batch_size : int, optional
        Passed to ``model.predict`` within each chunk (32).
    threads : int or None, optional
        fastconv threads per Dask task (default 1); the whole model runs on fastconv's
        kernels, so this covers it.

    Returns
    -------
    dask.array.Array
        ``(N, *model.output_shape)``, float32, x's batch chunks. Bitwise equal to
        the in-memory ``model.predict``: every layer sums an output in one order
        whatever the batch grouping.

    Raises
    ------
    RuntimeError
        If the model has no layers.
    ValueError
        For an `x` the model cannot take, a `batch_size` or `threads` below 1.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastconv.dask
    >>> from fastconv.models import Sequential
    >>> from fastconv.layers import Dense
    >>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    >>> fastconv.dask.predict(model, da.ones((10, 4), chunks=5)).shape
    (10, 3)
    """
    op = "predict"
    threads = _check_threads(threads, op)
    batch_size = None if batch_size is None else positive_int(batch_size, "batch_size", op)
    x = model._fit_input(_as_dask(x), op)
    if not model.layers:
        raise RuntimeError(f"{op}: the model has no layers")
    model._ensure_built(np.empty((0, *x.shape[1:]), dtype=np.float32))
    x = x.rechunk({ax: -1 for ax in range(1, x.ndim)})
    out_shape = tuple(model.output_shape)
    chunks = (x.chunks[0], *((d,) for d in out_shape))
    dtype = np.dtype(np.float32)
    return da.map_blocks(_predict_block, x, dask.delayed(model), chunks=chunks, dtype=dtype,
                         meta=np.empty((0,) * len(chunks), dtype=dtype),
                         drop_axis=list(range(len(chunks), x.ndim)) if x.ndim > len(chunks) else None,
                         new_axis=list(range(x.ndim, len(chunks))) if len(chunks) > x.ndim else None,
                         batch_size=batch_size, threads=threads)


# fastconv.dask.signal: scipy.signal's N-d convolve and correlate, and fastconv.dask.ndimage:
# scipy.ndimage's filters (their names are the in-memory modules', so each stays a module
# of its own).
from . import ndimage, signal
