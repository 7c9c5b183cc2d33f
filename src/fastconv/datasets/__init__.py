"""Datasets as NumPy arrays, as in ``keras.datasets``: ``from fastconv.datasets import mnist``."""
from __future__ import annotations

from . import mnist

__all__ = ["mnist"]
