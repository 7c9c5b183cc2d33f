"""Argument checking shared by the public functions: one place for the rules
and the wording of errors, which quote the argument and what was received."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_MAX_BYTES = (1 << 63) - 1


_MAX_INT = 1 << 62  # larger sizes cannot be real; keeps C's int64 arithmetic exact


def as_float_array(a: Any, name: str, op: str) -> np.ndarray:
    """`a` as an ndarray of float32 or float64 (copied only from a non-native
    byte order), else TypeError."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{op}: {name} has dtype {arr.dtype}; supported dtypes are float32 and float64"
        )
    return arr


def same_dtype(op: str, ref: np.ndarray, **arrays: np.ndarray | None) -> None:
    for name, arr in arrays.items():
        if arr is not None and arr.dtype != ref.dtype:
            raise TypeError(
                f"{op}: {name} has dtype {arr.dtype} but x has dtype {ref.dtype}; "
                "pass arrays of one dtype (float32 or float64)"
            )


def positive_int(v: Any, name: str, op: str, minimum: int = 1) -> int:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int, got {v!r}") from None
    if i < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    if i > _MAX_INT:
        raise ValueError(f"{op}: {name}={v!r} is too large (at most 2**62)")
    return i


def pair(v: Any, name: str, op: str, minimum: int = 1, *, single: bool = False) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a pair; with `single`, a
    sequence of one int too, used for both (as PyTorch's pooling takes it)."""
    if isinstance(v, (tuple, list)) or (isinstance(v, np.ndarray) and v.ndim):
        if single and len(v) == 1:
            i = positive_int(v[0], name, op, minimum)
            return (i, i)
        if len(v) != 2:
            what = "an int or a sequence of one or two ints" if single else "an int or a pair of ints"
            raise ValueError(f"{op}: {name} must be {what}, got {v!r}")
        return (positive_int(v[0], name, op, minimum), positive_int(v[1], name, op, minimum))
    i = positive_int(v, name, op, minimum)
    return (i, i)


def flag(v: Any, name: str, op: str) -> bool:
    """A bool (Python's or NumPy's), else TypeError: a string such as "no" or a
    number must not pass as a truth value."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {v!r} of type {type(v).__name__}")
    return bool(v)


def layout_is_nhwc(layout: Any, op: str) -> bool:
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"{op}: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    return layout == "NHWC"


def check_ndim(arr: np.ndarray, name: str, op: str, ndims: tuple[int, ...], what: str) -> None:
    if arr.ndim not in ndims:
        raise ValueError(f"{op}: {name} must be {what}, got an array of shape {arr.shape}")


def check_size(shape: tuple[int, ...], itemsize: int, name: str, op: str) -> None:
    """Refuse shapes whose byte size overflows before anything is allocated."""
    total = itemsize
    for d in shape:
        total *= int(d)
    if total > _MAX_BYTES:
        raise ValueError(f"{op}: {name} of shape {shape} would need {total} bytes, too large")


def output_array(out: Any, shape: tuple[int, ...], dtype: np.dtype, op: str) -> np.ndarray:
    """A fresh C-contiguous result, or `out` after checking shape, dtype, writability."""
    if out is None:
        check_size(shape, dtype.itemsize, "the result", op)
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(
            f"{op}: out has shape {out.shape} and dtype {out.dtype}; "
            f"expected shape {tuple(shape)} and dtype {dtype}"
        )
    if not out.flags.writeable:
        raise ValueError(f"{op}: out is read-only")
    return out


def c_aligned(a: Any, dtype: Any = None) -> np.ndarray:
    """`a` as a C-contiguous array aligned for its dtype, copied only when it is not:
    what the C kernels read. (A buffer at an odd address, e.g. from np.frombuffer at
    an offset or a pickle-5 buffer shipped by Dask, is undefined behaviour to load
    from in C, and UBSan reports it.)"""
    if (type(a) is np.ndarray and a.flags.c_contiguous and a.flags.aligned
            and (dtype is None or a.dtype == dtype)):
        return a  # the common case, without np.require's argument handling
    return np.require(a, dtype=dtype, requirements=("C", "A"))


def kernel_target(out: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    """Where a kernel may write: `out` itself when it is C-contiguous, aligned and
    shares no memory with an input, else a fresh scratch array (copied back after)."""
    if (out.flags.c_contiguous and out.flags.aligned
            and not any(np.may_share_memory(out, a) for a in inputs)):
        return out
    return np.empty(out.shape, dtype=out.dtype)
