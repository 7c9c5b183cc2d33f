# The compiled front doors of fastconv.nn (src/fastconv/_nnfront.pyx): each
# returns the public function's result for the common case, else None.
from typing import Any

from typing_extensions import disjoint_base

def conv2d(x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
           layout: Any) -> Any: ...
def conv2d_backward_geometry(
    grad_out: Any, x: Any, weight: Any, stride: Any, padding: Any, dilation: Any, groups: Any, layout: Any
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None: ...
def max_pool2d(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any,
               return_indices: Any, layout: Any) -> Any: ...
def max_pool2d_backward(grad_out: Any, x: Any, indices: Any, kernel_size: Any, stride: Any, padding: Any,
                        dilation: Any, ceil_mode: Any, layout: Any) -> Any: ...
def conv2d_maxpool(x: Any, weight: Any, bias: Any, cdims: tuple[int, ...], copts: tuple[int, ...],
                   pdims: tuple[int, ...], popts: tuple[int, ...], return_codes: bool) -> Any: ...
def softmax(x: Any) -> Any: ...

@disjoint_base
class ForwardPlan:
    """A Sequential model's inference pass as one C call (see _inference.py)."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    def __new__(cls, steps: list[tuple[Any, ...]], in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                dtype: str) -> ForwardPlan: ...
    @property
    def ops(self) -> tuple[str, ...]: ...
    def run(self, x: Any, batch: int = ...) -> Any: ...
