# The compiled front doors of fastconv.ndimage: each returns the result of a
# common call, or None for the general path in ndimage.py.
from typing import Any

import numpy as np

MODES: dict[str, int]  # fc_boundary codes by SciPy's mode names
channels_first_from: int  # correlate: arrays this large move one-tap channels in front

def correlate(input: Any, weights: Any, output: Any, mode: Any, cval: Any, origin: Any, axes: Any,
              convolution: bool) -> np.ndarray | None: ...
def correlate1d(input: Any, weights: Any, axis: Any, output: Any, mode: Any, cval: Any, origin: Any,
                convolution: bool) -> np.ndarray | None: ...
def uniform_filter1d(input: Any, size: Any, axis: Any, output: Any, mode: Any, cval: Any,
                     origin: Any) -> np.ndarray | None: ...
def separable(input: Any, output: Any, mode: Any, cval: Any,
              passes: list[tuple[np.ndarray | None, int, int] | None]) -> np.ndarray | None: ...
