from typing import Any, Literal, NamedTuple, TypeAlias, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "AdamStep",
    "conv2d",
    "conv2d_backward",
    "dense",
    "dense_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "relu",
    "relu_backward",
    "softmax",
]

_Float = np.float32 | np.float64
_IntPair = int | tuple[int, int]
_IntSeq: TypeAlias = int | tuple[int] | tuple[int, int] | list[int]  # pooling: one int broadcasts
_Layout = Literal["NCHW", "NHWC"]

def conv2d(
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    bias: npt.ArrayLike | None = ...,
    stride: _IntPair = ...,
    padding: _IntPair | Literal["valid", "same"] = ...,
    dilation: _IntPair = ...,
    groups: int = ...,
    *,
    layout: _Layout = ...,
    out: npt.NDArray[_Float] | None = ...,
) -> npt.NDArray[_Float]: ...
relu: np.ufunc  # fastconv.relu(x, /, out=None, *, where=True, casting=..., order=..., dtype=...)
@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None = ...,
    padding: _IntSeq = ...,
    dilation: _IntSeq = ...,
    ceil_mode: bool = ...,
    return_indices: Literal[False] = ...,
    *,
    layout: _Layout = ...,
) -> npt.NDArray[_Float]: ...
@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None,
    padding: _IntSeq,
    dilation: _IntSeq,
    ceil_mode: bool,
    return_indices: Literal[True],
    *,
    layout: _Layout = ...,
) -> tuple[npt.NDArray[_Float], npt.NDArray[np.int64]]: ...
@overload
def max_pool2d(
    x: npt.ArrayLike,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None = ...,
    padding: _IntSeq = ...,
    dilation: _IntSeq = ...,
    ceil_mode: bool = ...,
    *,
    return_indices: Literal[True],
    layout: _Layout = ...,
) -> tuple[npt.NDArray[_Float], npt.NDArray[np.int64]]: ...
def conv2d_backward(
    grad_out: npt.ArrayLike,
    x: npt.ArrayLike,
    weight: npt.ArrayLike,
    stride: _IntPair = ...,
    padding: _IntPair | Literal["valid", "same"] = ...,
    dilation: _IntPair = ...,
    groups: int = ...,
    *,
    layout: _Layout = ...,
    output_mask: tuple[bool, bool, bool] = ...,
) -> tuple[npt.NDArray[_Float] | None, npt.NDArray[_Float] | None, npt.NDArray[_Float] | None]: ...
def relu_backward(grad_out: npt.ArrayLike, x: npt.ArrayLike) -> npt.NDArray[_Float]: ...
def max_pool2d_backward(
    grad_out: npt.ArrayLike,
    x: npt.ArrayLike,
    indices: npt.ArrayLike,
    kernel_size: _IntSeq,
    stride: _IntSeq | tuple[()] | None = ...,
    padding: _IntSeq = ...,
    dilation: _IntSeq = ...,
    ceil_mode: bool = ...,
    *,
    layout: _Layout = ...,
) -> npt.NDArray[_Float]: ...
def softmax(x: npt.ArrayLike, axis: int = ...) -> npt.NDArray[_Float]: ...

class AdamStep(NamedTuple):
    momentum: npt.NDArray[_Float]
    velocity: npt.NDArray[_Float]
    alpha: float
    beta_1: float
    beta_2: float
    epsilon: float

def dense(
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    bias: npt.ArrayLike | None = ...,
    *,
    out: npt.NDArray[_Float] | None = ...,
) -> npt.NDArray[_Float]: ...
def dense_backward(
    grad_out: npt.ArrayLike,
    x: npt.ArrayLike,
    kernel: npt.ArrayLike,
    *,
    output_mask: tuple[bool, bool, bool] = ...,
    out: tuple[npt.NDArray[_Float] | None, npt.NDArray[_Float] | None, npt.NDArray[_Float] | None]
    | None = ...,
    adam: AdamStep | tuple[npt.NDArray[_Float], npt.NDArray[_Float], float, float, float, float] | None = ...,
) -> tuple[npt.NDArray[_Float] | None, npt.NDArray[_Float] | None, npt.NDArray[_Float] | None]: ...

# private helpers of the model layer (fastconv.layers, activations, optimizers, _training)
def _zeros_line_aligned(shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]: ...
def _line_aligned(a: npt.NDArray[Any]) -> npt.NDArray[Any]: ...
def _dense(x2: npt.NDArray[_Float], kernel: npt.NDArray[_Float], bias: npt.NDArray[_Float] | None,
           y: npt.NDArray[_Float]) -> None: ...
def _dense_backward(gy2: npt.NDArray[_Float], x2: npt.NDArray[_Float], kernel: npt.NDArray[_Float],
                    gx: npt.NDArray[_Float] | None, gk: npt.NDArray[_Float] | None,
                    adam: AdamStep | None) -> None: ...
def _relu_backward(grad: npt.NDArray[_Float], x: npt.NDArray[_Float]) -> npt.NDArray[_Float]: ...
def _softmax(x: npt.NDArray[_Float]) -> npt.NDArray[_Float] | None: ...
def _dropout(x: npt.NDArray[Any], seed: int, rate: float) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]: ...
def _softmax_xent(z: npt.NDArray[_Float], labels: npt.NDArray[Any], w: npt.NDArray[_Float] | None,
                  probs: npt.NDArray[_Float] | None) -> tuple[float, npt.NDArray[_Float], int | None] | None: ...
def _adam_update(p: npt.NDArray[_Float], g: npt.NDArray[_Float], m: npt.NDArray[_Float],
                 v: npt.NDArray[_Float], alpha: float, beta_1: float, beta_2: float,
                 epsilon: float) -> None: ...
def _adam_update_many(ps: list[npt.NDArray[_Float]], gs: list[Any], states: list[list[npt.NDArray[_Float]]],
                      alpha: float, beta_1: float, beta_2: float, epsilon: float) -> list[int]: ...
def _same_padding(n: int, k: int, s: int, d: int, op: str) -> tuple[int, int, int]: ...
