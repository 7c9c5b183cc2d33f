"""fastconv: fast convolution, ReLU and max-pooling for NumPy arrays."""
from __future__ import annotations

__version__ = "0.1.0"

from ._config import config, get_num_threads, set_num_threads, show_config
from ._config import _apply_env
from .nn import conv2d, max_pool2d, relu

_apply_env()
del _apply_env

__all__ = [
    "__version__",
    "conv2d",
    "relu",
    "max_pool2d",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "config",
]
