from typing import Literal, TypeAlias

import dask.array as da
import numpy.typing as npt

__all__ = ["convolve", "correlate"]

_Mode: TypeAlias = Literal["full", "valid", "same"]
_Big: TypeAlias = da.Array | npt.ArrayLike
_Small: TypeAlias = npt.ArrayLike | da.Array

def convolve(
    in1: _Big,
    in2: _Small,
    mode: _Mode = ...,
    method: Literal["direct"] = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
def correlate(
    in1: _Big,
    in2: _Small,
    mode: _Mode = ...,
    method: Literal["direct"] = ...,
    *,
    threads: int | None = ...,
) -> da.Array: ...
