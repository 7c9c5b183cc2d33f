"""Plan-only mode, what `fastconv.explain` runs an op under: the C drivers plan and
return without computing, and where a Python path would start computing (an FFT,
the slow twin, the original NumPy/SciPy function) it raises Planned instead."""
from __future__ import annotations

from typing import Any

from ._kernels import Planned, plan_only

__all__ = ["Planned", "stop"]


def stop(algorithm: str, kernel: str | None = None, reason: str = "", *, threads: int = 1,
         dtype: Any = None, **blocking: Any) -> None:
    """In plan-only mode, raise Planned saying this path would run `algorithm`
    (on `kernel`, on `threads` threads, in `dtype`, with `blocking`); otherwise
    do nothing (one C call)."""
    if plan_only():
        raise Planned({"algorithm": algorithm, "kernel": kernel, "reason": reason,
                       "threads": threads, "dtype": None if dtype is None else str(dtype),
                       "blocking": blocking, "path": "general path (Python)"})

