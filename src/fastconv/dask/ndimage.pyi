from collections.abc import Sequence
from typing import TypeAlias

import dask.array as da
import numpy.typing as npt

from ..ndimage import _Axes, _Mode

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

_Big: TypeAlias = da.Array | npt.ArrayLike
_Small: TypeAlias = npt.ArrayLike | da.Array
_Output: TypeAlias = npt.DTypeLike | None

def correlate(
    input: _Big,
    weights: _Small,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int | Sequence[int] = ...,
    *,
    axes: _Axes = ...,
    threads: int | None = ...,
) -> da.Array: ...
def convolve(
    input: _Big,
    weights: _Small,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int | Sequence[int] = ...,
    *,
    axes: _Axes = ...,
    threads: int | None = ...,
) -> da.Array: ...
def correlate1d(
    input: _Big,
    weights: _Small,
    axis: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
def convolve1d(
    input: _Big,
    weights: _Small,
    axis: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
def gaussian_filter(
    input: _Big,
    sigma: float | Sequence[float],
    order: int | Sequence[int] = ...,
    output: _Output = ...,
    mode: _Mode | Sequence[_Mode] = ...,
    cval: float = ...,
    truncate: float = ...,
    *,
    radius: int | Sequence[int] | None = ...,
    axes: _Axes = ...,
    threads: int | None = ...,
) -> da.Array: ...
def gaussian_filter1d(
    input: _Big,
    sigma: float,
    axis: int = ...,
    order: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    truncate: float = ...,
    *,
    radius: int | None = ...,
    threads: int | None = ...,
) -> da.Array: ...
def uniform_filter(
    input: _Big,
    size: int | Sequence[int] = ...,
    output: _Output = ...,
    mode: _Mode | Sequence[_Mode] = ...,
    cval: float = ...,
    origin: int | Sequence[int] = ...,
    *,
    axes: _Axes = ...,
    threads: int | None = ...,
) -> da.Array: ...
def uniform_filter1d(
    input: _Big,
    size: int,
    axis: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
