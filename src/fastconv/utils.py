"""Reproducibility: one random generator behind initialisers, dropout and shuffling."""
from __future__ import annotations

import numpy as np

__all__ = ["rng", "set_random_seed"]

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed fastconv's generator, as ``keras.utils.set_random_seed`` seeds Keras'.

    The generator draws initial weights, dropout masks and the order ``fit``
    shuffles the samples in; NumPy's global generator is seeded too.

    Parameters
    ----------
    seed : int
        Any integer; NumPy's global seed is ``seed % 2**32``.

    Raises
    ------
    TypeError
        If `seed` is not an integer.

    Examples
    --------
    >>> from fastconv import utils
    >>> utils.set_random_seed(0)
    >>> a = utils.rng().random()
    >>> utils.set_random_seed(0)
    >>> a == utils.rng().random()
    True
    """
    global _rng
    import operator

    seed = operator.index(seed)
    _rng = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)


def rng(seed: int | None = None) -> np.random.Generator:
    """The generator for `seed`, or fastconv's shared one.

    Parameters
    ----------
    seed : int, optional
        A seed of the caller's own: a new generator seeded with it. Default:
        the shared generator that :func:`set_random_seed` seeds.

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> from fastconv import utils
    >>> bool(utils.rng(7).random() == utils.rng(7).random())
    True
    """
    return _rng if seed is None else np.random.default_rng(seed)
