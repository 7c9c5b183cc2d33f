from collections.abc import Sequence
from typing import Any, Literal, SupportsIndex, TypeAlias, overload

import numpy.typing as npt

__all__ = [
    "choose_conv_method",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "fftconvolve",
    "oaconvolve",
]

_Mode: TypeAlias = Literal["full", "valid", "same"]
_Boundary: TypeAlias = Literal["fill", "pad", "wrap", "circular", "symm", "symmetric"]
_Method: TypeAlias = Literal["direct", "fft", "auto"]

def convolve2d(
    in1: npt.ArrayLike,
    in2: npt.ArrayLike,
    mode: _Mode = ...,
    boundary: _Boundary = ...,
    fillvalue: Any = ...,
    *,
    method: _Method = ...,
) -> npt.NDArray[Any]: ...
def correlate2d(
    in1: npt.ArrayLike,
    in2: npt.ArrayLike,
    mode: _Mode = ...,
    boundary: _Boundary = ...,
    fillvalue: Any = ...,
    *,
    method: _Method = ...,
) -> npt.NDArray[Any]: ...
def convolve(
    in1: npt.ArrayLike,
    in2: npt.ArrayLike,
    mode: _Mode = ...,
    method: _Method = ...,
) -> Any: ...
def correlate(
    in1: npt.ArrayLike,
    in2: npt.ArrayLike,
    mode: _Mode = ...,
    method: _Method = ...,
) -> Any: ...
@overload
def choose_conv_method(
    in1: npt.ArrayLike, in2: npt.ArrayLike, mode: _Mode = ..., measure: Literal[False] = ...
) -> Literal["direct", "fft"]: ...
@overload
def choose_conv_method(
    in1: npt.ArrayLike, in2: npt.ArrayLike, mode: _Mode = ..., *, measure: Literal[True]
) -> tuple[Literal["direct", "fft"], dict[str, float]]: ...
@overload
def choose_conv_method(
    in1: npt.ArrayLike, in2: npt.ArrayLike, mode: _Mode, measure: Literal[True]
) -> tuple[Literal["direct", "fft"], dict[str, float]]: ...
@overload
def choose_conv_method(
    in1: npt.ArrayLike, in2: npt.ArrayLike, mode: _Mode = ..., measure: bool = ...
) -> Literal["direct", "fft"] | tuple[Literal["direct", "fft"], dict[str, float]]: ...
def fftconvolve(
    in1: npt.ArrayLike,
    in2: npt.ArrayLike,
    mode: _Mode = ...,
    axes: SupportsIndex | Sequence[SupportsIndex] | None = ...,
) -> Any: ...
def oaconvolve(
    in1: npt.ArrayLike,
    in2: npt.ArrayLike,
    mode: _Mode = ...,
    axes: SupportsIndex | Sequence[SupportsIndex] | None = ...,
) -> Any: ...
