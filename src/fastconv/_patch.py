"""Run code that calls NumPy's and SciPy's convolutions on fastconv, unchanged:
`patch()` puts fastconv's drop-ins in the originals' places, in their public
modules and in the modules their own packages call them from; `unpatch()` puts
the originals back.

Each replacement is one line of `REPLACEMENTS`. A name whose module is not
imported yet waits for its import (an entry on `sys.meta_path` runs the
replacement right after the module's own code); one whose package is not
installed is skipped. One lock serialises patch, unpatch and that import
hook; a call racing with them finds either the original or fastconv's
function at the attribute, and both give the same results.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

from . import _originals

__all__ = ["REPLACEMENTS", "patch", "patched", "patched_names", "unpatch"]

# Modules that call numpy.convolve/correlate by their own attribute (np.polymul
# and np.poly through `NX.convolve`): NumPy 2's name, then NumPy 1.x's. Only
# modules already imported are looked at, and only their own attributes, so
# NumPy 2's deprecated numpy.core shim is neither imported nor warned about.
_NUMPY_NUMERIC = ("numpy._core.numeric", "numpy.core.numeric")
_SIGNALTOOLS = ("scipy.signal._signaltools",)
# scipy.ndimage's filters call one another by _filters' attributes (gaussian_filter
# calls gaussian_filter1d, which calls correlate1d; sobel, laplace and
# gaussian_laplace call them too).
_NDIMAGE_FILTERS = ("scipy.ndimage._filters",)

# The original's qualified name -> (fastconv's function as "module:attribute",
# the modules besides the public one where the original's own package looks
# it up). Adding a drop-in is one line here.
REPLACEMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "numpy.convolve": ("fastconv.numpy_compat:convolve", _NUMPY_NUMERIC),
    "numpy.correlate": ("fastconv.numpy_compat:correlate", _NUMPY_NUMERIC),
    "scipy.signal.convolve2d": ("fastconv.signal:convolve2d", _SIGNALTOOLS),
    "scipy.signal.correlate2d": ("fastconv.signal:correlate2d", _SIGNALTOOLS),
    "scipy.ndimage.correlate": ("fastconv.ndimage:correlate", _NDIMAGE_FILTERS),
    "scipy.ndimage.convolve": ("fastconv.ndimage:convolve", _NDIMAGE_FILTERS),
    "scipy.ndimage.correlate1d": ("fastconv.ndimage:correlate1d", _NDIMAGE_FILTERS),
    "scipy.ndimage.convolve1d": ("fastconv.ndimage:convolve1d", _NDIMAGE_FILTERS),
    "scipy.ndimage.gaussian_filter": ("fastconv.ndimage:gaussian_filter", _NDIMAGE_FILTERS),
    "scipy.ndimage.gaussian_filter1d": ("fastconv.ndimage:gaussian_filter1d", _NDIMAGE_FILTERS),
    "scipy.ndimage.uniform_filter": ("fastconv.ndimage:uniform_filter", _NDIMAGE_FILTERS),
    "scipy.ndimage.uniform_filter1d": ("fastconv.ndimage:uniform_filter1d", _NDIMAGE_FILTERS),
    # scipy.signal's N-d family. Inside SciPy, convolve and correlate call each
    # other, fftconvolve and choose_conv_method through _signaltools' attributes,
    # wiener and deconvolve call them there too, and _wavelets imports convolve.
    # choose_conv_method is not replaced: fastconv's makes SciPy's decision, and
    # with measure=True SciPy's times the convolve of _signaltools, fastconv's.
    "scipy.signal.convolve": ("fastconv.signal:convolve", (*_SIGNALTOOLS, "scipy.signal._wavelets")),
    "scipy.signal.correlate": ("fastconv.signal:correlate", _SIGNALTOOLS),
    "scipy.signal.fftconvolve": ("fastconv.signal:fftconvolve", _SIGNALTOOLS),
    "scipy.signal.oaconvolve": ("fastconv.signal:oaconvolve", _SIGNALTOOLS),
}

Names = str | Iterable[str] | None

# Serialises patch, unpatch and the import hook. Nothing is imported while it is
# held (another thread's import may be waiting for it); reentrant all the same.
_lock = threading.RLock()
# qualname -> [(module, attribute, the value replaced, the replacement)]
_replaced: dict[str, list[tuple[ModuleType, str, Any, Callable[..., Any]]]] = {}
# public module not imported yet -> {qualname: replacement} to apply on its import
_pending: dict[str, dict[str, Callable[..., Any]]] = {}


def _split(qualname: str) -> tuple[str, str]:
    module, _, attr = qualname.rpartition(".")
    return module, attr


def _select(names: Names) -> list[str]:
    """The qualified names `names` stands for, checked against the table."""
    if names is None:
        return list(REPLACEMENTS)
    if isinstance(names, str):
        names = [names]
    chosen: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"names must be strings such as 'numpy.convolve', got {name!r}")
        if name not in chosen:
            chosen.append(name)
    unknown = [name for name in chosen if name not in REPLACEMENTS]
    if unknown:
        raise ValueError(
            f"unknown name{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"fastconv replaces {', '.join(REPLACEMENTS)}"
        )
    return chosen


def _replacement(qualname: str) -> Callable[..., Any]:
    module, _, attr = REPLACEMENTS[qualname][0].partition(":")
    return getattr(importlib.import_module(module), attr)


def _installed(module: str) -> bool:
    """Whether `module`'s top-level package is imported or importable (found,
    not run); a None in sys.modules, which blocks the import, counts as absent."""
    top = module.partition(".")[0]
    return sys.modules.get(top) is not None or importlib.util.find_spec(top) is not None


def _is_or_wraps(value: Any, original: Any) -> bool:
    """`value` is `original`, or a function `original` wraps (its `__wrapped__`
    chain, as SciPy's array-API dispatch wrappers have around the function
    their own module calls)."""
    f, depth = original, 0
    while f is not None and depth < 32:
        if value is f:
            return True
        f, depth = getattr(f, "__wrapped__", None), depth + 1
    return False


def _apply(qualname: str, func: Callable[..., Any]) -> None:
    """Replace `qualname`'s original with `func` in its public module and its
    homes, where imported and holding the original. Under the lock."""
    public, attr = _split(qualname)
    modules: list[ModuleType] = []
    for name in (public, *REPLACEMENTS[qualname][1]):
        module = sys.modules.get(name)
        if module is not None and all(module is not m for m in modules):
            modules.append(module)
    values = [vars(m).get(attr) for m in modules]
    found = next((v for v in values if v is not None and v is not func), None)
    if found is None:
        return
    _originals.remember(qualname, found)  # before anything is replaced; first record wins
    original = _originals.original(qualname)
    done = []
    for module, value in zip(modules, values):
        if value is not None and value is not func and _is_or_wraps(value, original):
            setattr(module, attr, func)
            done.append((module, attr, value, func))
    if done:
        _replaced[qualname] = done


def _restore(qualname: str) -> None:
    """Put back what `_apply` replaced, where fastconv's function is still
    there. Under the lock."""
    for module, attr, previous, func in _replaced.pop(qualname, ()):
        if vars(module).get(attr) is func:
            setattr(module, attr, previous)


def _ready(name: str) -> ModuleType | None:
    """sys.modules[name] once its import has finished, else None."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if module is None or getattr(spec, "_initializing", False):
        return None
    return module


def _settle() -> None:
    """Apply what waits for a module that got imported without the hook seeing
    it (imported by another thread just as the hook went in), and put the hook
    in `sys.meta_path` exactly while something waits. Under the lock."""
    for public in list(_pending):
        if _ready(public) is not None:
            for qualname, func in _pending.pop(public).items():
                _apply(qualname, func)
    installed = any(f is _hook for f in sys.meta_path)
    if _pending and not installed:
        sys.meta_path.insert(0, _hook)
    elif installed and not _pending:
        # A new list rather than remove(): another thread's import may be
        # iterating the old one, and removing an entry in place would make it
        # skip the finder after ours.
        sys.meta_path = [f for f in sys.meta_path if f is not _hook]


class _PatchingLoader(importlib.abc.Loader):
    """The real loader of a module fastconv waits for: the module runs as
    usual, then gets its replacements. Anything else goes to the real loader,
    which the module and its spec get back before the module runs."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._loader.exec_module(module)
        with _lock:
            for qualname, func in _pending.pop(module.__name__, {}).items():
                _apply(qualname, func)
            _settle()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _ImportHook(importlib.abc.MetaPathFinder):
    """First on `sys.meta_path` while a module fastconv patches is not imported
    yet: finds that module with the finders after it and wraps its loader."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _pending:
            return None
        meta_path = sys.meta_path
        try:
            after = meta_path[meta_path.index(self) + 1:]
        except ValueError:
            return None
        for finder in after:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader)
        return spec  # a loader without exec_module: _settle applies after the import


_hook = _ImportHook()


def patch(names: Names = None) -> None:
    """Replace NumPy's and SciPy's convolutions with fastconv's, in place.

    Code that calls ``numpy.convolve``, ``scipy.signal.convolve2d`` and the
    others, including NumPy's and SciPy's own functions built on them, runs
    on fastconv from then on, unchanged, until :func:`unpatch`.

    Parameters
    ----------
    names : str or iterable of str, optional
        Qualified names of the originals to replace, such as
        ``"numpy.convolve"``; default: all of them (``numpy.convolve``,
        ``numpy.correlate``, ``scipy.signal.convolve2d``,
        ``scipy.signal.correlate2d``; ``scipy.signal.convolve``,
        ``scipy.signal.correlate``, ``scipy.signal.fftconvolve``,
        ``scipy.signal.oaconvolve``; ``scipy.ndimage.correlate``,
        ``scipy.ndimage.convolve``, ``scipy.ndimage.correlate1d``,
        ``scipy.ndimage.convolve1d``, ``scipy.ndimage.gaussian_filter``,
        ``scipy.ndimage.gaussian_filter1d``, ``scipy.ndimage.uniform_filter``,
        ``scipy.ndimage.uniform_filter1d``).

    Raises
    ------
    ValueError
        A name fastconv has no replacement for (the message lists those it has).
    TypeError
        A name that is not a string.

    Notes
    -----
    Each original is replaced by fastconv's function object itself (no wrapper,
    no per-call cost), in its public module (``numpy``, ``scipy.signal``,
    ``scipy.ndimage``) and in the module its own package calls it from
    (``numpy._core.numeric``, or ``numpy.core.numeric`` on NumPy 1.x, where
    ``numpy.polymul`` finds ``convolve``; ``scipy.signal._signaltools``, and
    ``scipy.signal._wavelets`` for ``convolve``; ``scipy.ndimage._filters``,
    where ``sobel`` finds ``correlate1d``), only where the attribute still holds
    the original: one that someone else replaced is left alone.
    A module not imported yet is patched as soon as it is imported; one whose
    package is not installed is skipped. Patching a name twice is patching it
    once. The originals are recorded before anything is replaced, and the
    drop-ins hand the inputs they do not compute (object dtype, for instance)
    to those records, never back to themselves. Thread-safe: a call running
    meanwhile gets either the original or fastconv's function, with the same
    results.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.patch("numpy.convolve")
    >>> np.convolve is fastconv.convolve
    True
    >>> np.polymul([1, 2], [1, 3])  # NumPy's own code, now on fastconv
    array([1, 5, 6])
    >>> fastconv.unpatch()
    >>> np.convolve is fastconv.convolve
    False
    """
    chosen = _select(names)
    funcs = {q: _replacement(q) for q in chosen}  # imports fastconv's modules, outside the lock
    waiting = []
    for qualname in chosen:
        public, _ = _split(qualname)
        if sys.modules.get(public) is not None:
            importlib.import_module(public)  # returns once another thread's import of it is done
        elif _installed(public):
            waiting.append(qualname)
    with _lock:
        for qualname in chosen:
            public, _ = _split(qualname)
            if qualname in _replaced or qualname in _pending.get(public, {}):
                continue
            if _ready(public) is not None:
                _apply(qualname, funcs[qualname])
            elif qualname in waiting or sys.modules.get(public) is not None:
                _pending.setdefault(public, {})[qualname] = funcs[qualname]
        _settle()
    # A module another thread began importing before the hook went in: wait for
    # that import to finish (outside the lock, which its import may need), then apply.
    late = [public for public in list(_pending) if sys.modules.get(public) is not None]
    if late:
        for public in late:
            importlib.import_module(public)
        with _lock:
            _settle()


def unpatch(names: Names = None) -> None:
    """Put back the originals :func:`patch` replaced.

    Parameters
    ----------
    names : str or iterable of str, optional
        Qualified names as for :func:`patch`; default: all of them. A name
        not patched is ignored.

    Raises
    ------
    ValueError
        A name fastconv has no replacement for.
    TypeError
        A name that is not a string.

    Notes
    -----
    Each attribute gets back the object it held before, where fastconv's
    function is still there (one that someone else replaced after
    :func:`patch` is left alone). Names waiting for their module's import
    are dropped, and the import hook leaves ``sys.meta_path`` when nothing
    waits. With nothing patched, it does nothing.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> original = np.correlate
    >>> fastconv.patch(["numpy.convolve", "numpy.correlate"])
    >>> fastconv.unpatch("numpy.correlate")
    >>> fastconv.patched_names()
    ['numpy.convolve']
    >>> fastconv.unpatch()
    >>> np.correlate is original
    True
    """
    chosen = _select(names)
    with _lock:
        for qualname in chosen:
            _restore(qualname)
            public, _ = _split(qualname)
            waiting = _pending.get(public)
            if waiting is not None:
                waiting.pop(qualname, None)
                if not waiting:
                    del _pending[public]
        _settle()


def patched_names() -> list[str]:
    """The originals fastconv replaces now, sorted.

    Returns
    -------
    list of str
        Qualified names, as :func:`patch` takes them: those replaced in at
        least one module, and those waiting for their module to be imported
        (replaced the moment it is).

    Examples
    --------
    >>> import fastconv
    >>> fastconv.patched_names()
    []
    >>> with fastconv.patched("numpy.correlate"):
    ...     fastconv.patched_names()
    ['numpy.correlate']
    """
    with _lock:
        _settle()
        waiting = {q for names in _pending.values() for q in names}
        return sorted(waiting.union(_replaced))


@contextlib.contextmanager
def patched(names: Names = None) -> Iterator[None]:
    """Patch inside a ``with`` block, then restore the state before it.

    Parameters
    ----------
    names : str or iterable of str, optional
        As for :func:`patch`; default: all of them.

    Yields
    ------
    None
        Inside the block the names are patched.

    Raises
    ------
    ValueError
        A name fastconv has no replacement for, before anything is patched.
    TypeError
        A name that is not a string.

    Notes
    -----
    On exit, the names that were patched on entry are patched again and the
    others unpatched, whatever the block did in between, so blocks nest.
    Patching is process-wide: the other threads see it too. Also usable as a
    decorator.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> with fastconv.patched():
    ...     np.convolve is fastconv.convolve
    True
    >>> np.convolve is fastconv.convolve
    False
    """
    _select(names)  # a bad name raises before anything is recorded or patched
    before = set(patched_names())
    patch(names)
    try:
        yield
    finally:
        now = set(patched_names())
        unpatch(now - before)
        patch(before - now)
