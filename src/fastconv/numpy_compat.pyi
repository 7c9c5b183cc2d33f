from typing import Any, Literal

import numpy as np
import numpy.typing as npt

_Mode = Literal["valid", "same", "full", 0, 1, 2]

def convolve(a: npt.ArrayLike, v: npt.ArrayLike, mode: _Mode = ...) -> npt.NDArray[Any]: ...
def correlate(a: npt.ArrayLike, v: npt.ArrayLike, mode: _Mode = ...) -> npt.NDArray[Any]: ...
