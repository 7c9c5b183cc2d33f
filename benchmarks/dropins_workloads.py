"""The drop-in workloads (the ``table`` rows of src/fastconv/_bench/dropins.txt) and one
zero-argument callable per implementation, shared by bench_dropins.py and dropins_table.py
so both time exactly the same calls. Every call allocates its own result, as a user's does."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import signal as sps

import fastconv
from fastconv._bench import shapes

SEED = 0


def _dims(v) -> str:
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


@dataclass(frozen=True)
class DropinCase:
    """A ``table`` row of fastconv/_bench/dropins.txt, sizes as written ("1000000", "1024x1024")."""
    name: str
    kind: str      # "1d" or "2d"
    functions: str  # "convolve,correlate" or "convolve2d,correlate2d"
    dtype: str
    size: str      # "1000000" or "1024x1024"
    kernel: str    # "31" or "7x7"
    modes: str     # "valid,same,full"
    quick_size: str
    description: str

    @classmethod
    def of(cls, row: shapes.DropinCase) -> DropinCase:
        return cls(row.name, "1d" if row.peer == "numpy" else "2d", row.functions, row.dtype,
                   _dims(row.in1), _dims(row.in2), row.modes, _dims(row.quick_in1), row.description)

    @staticmethod
    def _shape(text: str) -> tuple[int, ...]:
        return tuple(int(v) for v in text.split("x"))

    def shape(self, quick: bool) -> tuple[int, ...]:
        return self._shape(self.quick_size if quick else self.size)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return self._shape(self.kernel)

    @property
    def mode_list(self) -> list[str]:
        return self.modes.split(",")

    def ops(self) -> list[tuple[str, Callable, Callable]]:
        """(name, fastconv function, reference function) for each of the row's functions."""
        ref = np if self.kind == "1d" else sps
        return [(f"np.{f}" if self.kind == "1d" else f, getattr(fastconv, f), getattr(ref, f))
                for f in self.functions.split(",")]

    @property
    def reference(self) -> str:
        return "numpy" if self.kind == "1d" else "scipy"

    def label(self, quick: bool) -> str:
        size = "x".join(map(str, self.shape(quick)))
        return f"{self.dtype} {size} * {self.kernel}"


CASES = [DropinCase.of(row) for row in shapes.DROPIN_TABLE_CASES]


def calls(case: DropinCase, op: str, mode: str, quick: bool, seed: int = SEED):
    """{"fastconv": fn, reference name: fn} for one op and mode; inputs made once."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case.shape(quick)).astype(case.dtype)
    k = rng.standard_normal(case.kernel_shape).astype(case.dtype)
    fast, ref = {name: (f, r) for name, f, r in case.ops()}[op]
    return {"fastconv": lambda: fast(x, k, mode), case.reference: lambda: ref(x, k, mode)}


def rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want|, after checking shape and dtype agree."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape,
                                                                got.dtype, want.dtype)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))


TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
