from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["convolve", "correlate"]

_Mode = Literal["valid", "same", "full", 0, 1, 2]
_Method = Literal["direct", "fft", "auto"]

def convolve(
    a: npt.ArrayLike, v: npt.ArrayLike, mode: _Mode = ..., *, method: _Method = ...
) -> npt.NDArray[Any]: ...
def correlate(
    a: npt.ArrayLike, v: npt.ArrayLike, mode: _Mode = ..., *, method: _Method = ...
) -> npt.NDArray[Any]: ...
