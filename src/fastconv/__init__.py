"""fastconv: fast convolution, ReLU and max-pooling for NumPy arrays, and drop-in
replacements for numpy.convolve/correlate and scipy.signal.convolve2d/correlate2d,
which `fastconv.patch()` can put in NumPy's and SciPy's own modules."""
from __future__ import annotations

__version__ = "0.1.0"

from ._config import config, get_num_threads, set_num_threads, show_config
from ._config import _apply_env, _hook_threadpoolctl
from . import activations, initializers, layers, losses, models, optimizers, utils  # noqa: F401
from . import ndimage  # noqa: F401
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
from ._patch import patch, patched, patched_names, unpatch

_apply_env()
_hook_threadpoolctl()
del _apply_env, _hook_threadpoolctl

__all__ = [
    "__version__",
    "convolve",
    "correlate",
    "convolve2d",
    "correlate2d",
    "patch",
    "unpatch",
    "patched",
    "patched_names",
    "conv2d",
    "relu",
    "max_pool2d",
    "conv2d_backward",
    "relu_backward",
    "max_pool2d_backward",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "config",
]
