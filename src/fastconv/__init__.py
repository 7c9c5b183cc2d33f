"""fastconv: fast convolution, ReLU and max-pooling for NumPy arrays, and drop-in
replacements for numpy.convolve/correlate and scipy.signal.convolve2d/correlate2d,
which `fastconv.patch()` can put in NumPy's and SciPy's own modules.

``import fastconv`` loads the array functions and their kernels only; the model
layer (``fastconv.models``, ``layers``, ``optimizers``, ...), ``fastconv.datasets``,
``fastconv.dask`` and ``patch()`` are imported on first use (PEP 562), so
``fastconv.models.Sequential`` works after a plain ``import fastconv``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from . import _tuning
from ._config import (
    _apply_env,
    _hook_threadpoolctl,
    config,
    get_num_threads,
    set_num_threads,
    show_config,
)
from ._explain import Plan, explain
from .nn import (
    conv2d,
    conv2d_backward,
    max_pool2d,
    max_pool2d_backward,
    relu,
    relu_backward,
)
from .numpy_compat import convolve, correlate
from .signal import convolve2d, correlate2d

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from typing import Any

    from . import activations as activations
    from . import callbacks as callbacks
    from . import datasets as datasets
    from . import initializers as initializers
    from . import layers as layers
    from . import losses as losses
    from . import models as models
    from . import ndimage as ndimage
    from . import optimizers as optimizers
    from . import utils as utils
    from ._patch import patch as patch
    from ._patch import patched as patched
    from ._patch import patched_names as patched_names
    from ._patch import unpatch as unpatch

_apply_env()
_hook_threadpoolctl()
_tuning.load_at_start()  # this CPU's tuned tile choices, unless FASTCONV_TUNE=off
del _apply_env, _hook_threadpoolctl, TYPE_CHECKING

__all__ = [
    "Plan",
    "__version__",
    "config",
    "conv2d",
    "conv2d_backward",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "explain",
    "get_num_threads",
    "max_pool2d",
    "max_pool2d_backward",
    "patch",
    "patched",
    "patched_names",
    "relu",
    "relu_backward",
    "set_num_threads",
    "show_config",
    "unpatch",
]

# ---- imported on first use ----------------------------------------------------------
# Functions that live in a module import fastconv does not need: name -> module.
_LAZY_FUNCTIONS = {
    "patch": "._patch",
    "unpatch": "._patch",
    "patched": "._patch",
    "patched_names": "._patch",
}
# Public submodules that need an optional dependency: listed by dir() only where
# that dependency is installed (so tools that walk dir() never trip on it).
_NEEDS = {"dask": "dask"}


_submodule_names: frozenset[str] | None = None


def _submodules() -> frozenset[str]:
    """The public submodules: this package's .py files and subpackages (looked up once)."""
    global _submodule_names
    if _submodule_names is None:
        import os

        names = set()
        for directory in __path__:
            try:
                entries = os.listdir(directory)
            except OSError:
                continue
            for entry in entries:
                stem, ext = os.path.splitext(entry)
                if entry.startswith("_") or not stem.isidentifier():
                    continue
                if ext == ".py" or (not ext and os.path.isfile(os.path.join(directory, entry, "__init__.py"))):
                    names.add(stem)
        _submodule_names = frozenset(names)
    return _submodule_names


def __getattr__(name: str) -> Any:
    """`patch` and friends, and any public submodule (``fastconv.models``,
    ``fastconv.datasets``, ...), imported when first asked for."""
    from importlib import import_module

    if name in _LAZY_FUNCTIONS:
        value = getattr(import_module(_LAZY_FUNCTIONS[name], __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and name in _submodules():
        return import_module(f".{name}", __name__)  # binds it here as well
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    from importlib.util import find_spec

    names = set(globals()) | set(_LAZY_FUNCTIONS)
    for name in _submodules():
        needs = _NEEDS.get(name)
        if needs is None or name in globals() or find_spec(needs) is not None:
            names.add(name)
    return sorted(names)
