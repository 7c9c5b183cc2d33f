from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy.typing as npt

_Mode: TypeAlias = Literal["reflect", "constant", "nearest", "mirror", "wrap", "grid-constant",
                           "grid-mirror", "grid-wrap"]
_Output: TypeAlias = npt.NDArray[Any] | npt.DTypeLike | None
_Axes: TypeAlias = int | Sequence[int] | None

def correlate(
    input: npt.ArrayLike,
    weights: npt.ArrayLike,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int | Sequence[int] = ...,
    *,
    axes: _Axes = ...,
) -> npt.NDArray[Any]: ...
def convolve(
    input: npt.ArrayLike,
    weights: npt.ArrayLike,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int | Sequence[int] = ...,
    *,
    axes: _Axes = ...,
) -> npt.NDArray[Any]: ...
def correlate1d(
    input: npt.ArrayLike,
    weights: npt.ArrayLike,
    axis: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int = ...,
) -> npt.NDArray[Any]: ...
def convolve1d(
    input: npt.ArrayLike,
    weights: npt.ArrayLike,
    axis: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int = ...,
) -> npt.NDArray[Any]: ...
def uniform_filter1d(
    input: npt.ArrayLike,
    size: int,
    axis: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    origin: int = ...,
) -> npt.NDArray[Any]: ...
def uniform_filter(
    input: npt.ArrayLike,
    size: int | Sequence[int] = ...,
    output: _Output = ...,
    mode: _Mode | Sequence[_Mode] = ...,
    cval: float = ...,
    origin: int | Sequence[int] = ...,
    *,
    axes: _Axes = ...,
) -> npt.NDArray[Any]: ...
def gaussian_filter1d(
    input: npt.ArrayLike,
    sigma: float,
    axis: int = ...,
    order: int = ...,
    output: _Output = ...,
    mode: _Mode = ...,
    cval: float = ...,
    truncate: float = ...,
    *,
    radius: int | None = ...,
) -> npt.NDArray[Any]: ...
def gaussian_filter(
    input: npt.ArrayLike,
    sigma: float | Sequence[float],
    order: int | Sequence[int] = ...,
    output: _Output = ...,
    mode: _Mode | Sequence[_Mode] = ...,
    cval: float = ...,
    truncate: float = ...,
    *,
    radius: int | Sequence[int] | None = ...,
    axes: _Axes = ...,
) -> npt.NDArray[Any]: ...

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d", "gaussian_filter",
           "gaussian_filter1d", "uniform_filter", "uniform_filter1d"]
