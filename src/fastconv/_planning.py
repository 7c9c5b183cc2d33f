"""Choices made before an op computes: plan-only mode, what `fastconv.explain` runs an
op under (the C drivers plan and return without computing, and where a Python path
would start computing -- an FFT, the slow twin, the original NumPy/SciPy function --
it raises Planned instead), and paths forced by tests, which the planners consult."""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from ._kernels import COSTS, Planned, plan_only

__all__ = ["COSTS", "FORCIBLE", "Planned", "forced", "forced_path", "stop"]

# The ops whose path a test may force, and the paths each takes:
#   conv2d_backward_input  conv2d_backward's grad_x (the C planner's choice:
#                          a transposed convolution or GEMM + col2im)
#   correlate              the drop-ins' engine (_correlate.py): "slow" sends
#                          every dtype to the exact slow twin
FORCIBLE: dict[str, tuple[str, ...]] = {
    "conv2d_backward_input": ("col2im", "transposed-conv"),
    "correlate": ("slow",),
}

# op -> forced path, for the current context only: a thread (or task) started
# elsewhere sees nothing forced, so concurrent tests do not leak into each other
_forced: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("fastconv_forced",
                                                                                default=None)


@contextlib.contextmanager
def forced(op: str, path: str) -> Iterator[None]:
    """Within the block, in this thread or task only, `op` (a key of FORCIBLE)
    runs `path` (one of its values) whatever its planner would choose.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> from fastconv._planning import forced
    >>> x, w = np.ones((1, 16, 4, 4)), np.ones((2, 16, 3, 3))
    >>> gy = fastconv.conv2d(x, w)
    >>> with forced("conv2d_backward_input", "col2im"):
    ...     fastconv.explain(fastconv.conv2d_backward, gy, x, w,
    ...                      output_mask=(True, False, False)).algorithm
    'gemm-col2im'
    """
    paths = FORCIBLE.get(op)
    if paths is None:
        raise ValueError(f"forced: op must be one of {sorted(FORCIBLE)}, got {op!r}")
    if path not in paths:
        raise ValueError(f"forced: {op} takes path {', '.join(map(repr, paths))}, got {path!r}")
    token = _forced.set({**(_forced.get() or {}), op: path})
    try:
        yield
    finally:
        _forced.reset(token)


def forced_path(op: str) -> str:
    """The path forced for `op` in this context, or "auto" (the planner chooses)."""
    paths = _forced.get()
    return "auto" if paths is None else paths.get(op, "auto")


def stop(algorithm: str, kernel: str | None = None, reason: str = "", *, threads: int = 1,
         dtype: Any = None, **blocking: Any) -> None:
    """In plan-only mode, raise Planned saying this path would run `algorithm`
    (on `kernel`, on `threads` threads, in `dtype`, with `blocking`); otherwise
    do nothing (one C call)."""
    if plan_only():
        raise Planned({"algorithm": algorithm, "kernel": kernel, "reason": reason,
                       "threads": threads, "dtype": None if dtype is None else str(dtype),
                       "blocking": blocking, "path": "general path (Python)"})

