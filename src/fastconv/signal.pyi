from typing import Any, Literal

import numpy.typing as npt

__all__ = ["convolve2d", "correlate2d"]

_Mode = Literal["full", "valid", "same"]
_Boundary = Literal["fill", "pad", "wrap", "circular", "symm", "symmetric"]
_Method = Literal["direct", "fft", "auto"]

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
