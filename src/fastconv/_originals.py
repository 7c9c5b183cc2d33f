"""The NumPy and SciPy functions fastconv's drop-ins stand in for, as they were
before `fastconv.patch()` replaced any of them.

The drop-ins hand some inputs to the original (dtypes without a fast path, such
as object or long double). Once the original's module attribute may point at
fastconv itself, they must reach the function that was there first: `patch()`
records it here before it replaces anything, and `original()` prefers that
record to the module attribute.
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from ._kernels import Planned
from ._kernels import plan_only as _plan_only

_lock = threading.Lock()
_saved: dict[str, Callable[..., Any]] = {}
_found: dict[str, Callable[..., Any]] = {}  # installed(): lookups made once


def remember(qualname: str, func: Callable[..., Any]) -> None:
    """Record `func` as the original behind `qualname` (first record wins)."""
    with _lock:
        _saved.setdefault(qualname, func)


def installed(qualname: str) -> Callable[..., Any] | None:
    """`original(qualname)`, or None when its package is not installed. Found
    once, then kept: the original object never changes (the record `patch()`
    keeps is the one that was there first)."""
    if _plan_only():
        return _planned_original(qualname)
    return found(qualname)


def found(qualname: str) -> Callable[..., Any] | None:
    """`installed(qualname)` for a caller that has checked plan-only mode itself
    (the front doors, at C speed)."""
    func = _found.get(qualname)
    if func is None:
        try:
            func = _lookup(qualname)
        except ImportError:
            return None
        _found[qualname] = func
    return func


def original(qualname: str) -> Callable[..., Any]:
    """The original function `qualname` ("numpy.convolve", "scipy.signal.convolve2d",
    ...): the one `patch()` recorded, else the module's attribute. Raises
    ImportError when its module is not installed."""
    if _plan_only():
        return _planned_original(qualname)
    return _lookup(qualname)


def _lookup(qualname: str) -> Callable[..., Any]:
    """`original(qualname)` whatever the mode (never a plan-only stand-in: kept)."""
    func = _saved.get(qualname)
    if func is not None:
        return func
    module, _, attr = qualname.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _planned_original(qualname: str) -> Callable[..., Any]:
    """In plan-only mode (fastconv.explain): a stand-in for the original that
    says it would run instead of running it."""
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        raise Planned({"algorithm": "original", "kernel": qualname, "path": "general path (Python)",
                       "reason": f"no fast path for these arguments: {qualname} itself"})
    return stand_in
