from contextlib import AbstractContextManager
from typing import Any, Literal, TypeAlias, overload

import dask.array as da
import numpy.typing as npt

from ..models import Sequential
from . import ndimage as ndimage
from . import signal as signal

__all__ = [
    "conv2d",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "max_pool2d",
    "predict",
    "relu",
    "ndimage",
    "signal",
    "thread_limit",
]

_Mode = Literal["full", "valid", "same"]
_Mode1d = Literal["full", "valid", "same", 0, 1, 2]
_Boundary = Literal["fill", "pad", "wrap", "circular", "symm", "symmetric"]
_IntPair = int | tuple[int, int]
_IntSeq: TypeAlias = int | tuple[int] | tuple[int, int] | list[int]  # pooling: one int broadcasts
_Layout = Literal["NCHW", "NHWC"]
_Big = da.Array | npt.ArrayLike
_Small = npt.ArrayLike | da.Array

def thread_limit(threads: int | None) -> AbstractContextManager[None]: ...
def convolve2d(
    in1: _Big,
    in2: _Small,
    mode: _Mode = ...,
    boundary: _Boundary = ...,
    fillvalue: Any = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
def correlate2d(
    in1: _Big,
    in2: _Small,
    mode: _Mode = ...,
    boundary: _Boundary = ...,
    fillvalue: Any = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
def convolve(a: _Big, v: _Small, mode: _Mode1d = ..., *, threads: int | None = ...) -> da.Array: ...
def correlate(a: _Big, v: _Small, mode: _Mode1d = ..., *, threads: int | None = ...) -> da.Array: ...
def conv2d(
    x: _Big,
    weight: _Small,
    bias: _Small | None = ...,
    stride: _IntPair = ...,
    padding: _IntPair | Literal["valid", "same"] = ...,
    dilation: _IntPair = ...,
    groups: int = ...,
    *,
    layout: _Layout = ...,
    threads: int | None = ...,
) -> da.Array: ...
def relu(x: _Big, *, threads: int | None = ...) -> da.Array: ...
@overload
def max_pool2d(
    x: _Big,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None = ...,
    padding: _IntSeq = ...,
    dilation: _IntSeq = ...,
    ceil_mode: bool = ...,
    return_indices: Literal[False] = ...,
    *,
    layout: _Layout = ...,
    threads: int | None = ...,
) -> da.Array: ...
@overload
def max_pool2d(
    x: _Big,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None,
    padding: _IntSeq,
    dilation: _IntSeq,
    ceil_mode: bool,
    return_indices: Literal[True],
    *,
    layout: _Layout = ...,
    threads: int | None = ...,
) -> tuple[da.Array, da.Array]: ...
@overload
def max_pool2d(
    x: _Big,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None = ...,
    padding: _IntSeq = ...,
    dilation: _IntSeq = ...,
    ceil_mode: bool = ...,
    *,
    return_indices: Literal[True],
    layout: _Layout = ...,
    threads: int | None = ...,
) -> tuple[da.Array, da.Array]: ...
def predict(
    model: Sequential, x: _Big, batch_size: int | None = ..., *, threads: int | None = ...
) -> da.Array: ...
