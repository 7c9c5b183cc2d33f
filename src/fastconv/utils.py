"""Reproducibility: one random generator behind initialisers, dropout and shuffling."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed fastconv's generator (weights, dropout masks, shuffling), as
    ``keras.utils.set_random_seed`` does for Keras; NumPy's global seed too."""
    global _rng
    import operator

    seed = operator.index(seed)
    _rng = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)


def rng(seed: int | None = None) -> np.random.Generator:
    """A generator for `seed`, or the shared one (what `set_random_seed` seeds)."""
    return _rng if seed is None else np.random.default_rng(seed)
