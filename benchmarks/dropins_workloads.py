"""The drop-in workloads (shapes/dropins.txt) and one zero-argument callable per
implementation, shared by bench_dropins.py and dropins_table.py so both time
exactly the same calls. Every call allocates its own result, as a user's does."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import signal as sps

import fastconv

SEED = 0


@dataclass(frozen=True)
class DropinCase:
    name: str
    kind: str      # "1d" or "2d"
    dtype: str
    size: str      # "1000000" or "1024x1024"
    kernel: str    # "31" or "7x7"
    modes: str     # "valid,same,full"
    quick_size: str
    description: str

    @staticmethod
    def _dims(text: str) -> tuple[int, ...]:
        return tuple(int(v) for v in text.split("x"))

    def shape(self, quick: bool) -> tuple[int, ...]:
        return self._dims(self.quick_size if quick else self.size)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return self._dims(self.kernel)

    @property
    def mode_list(self) -> list[str]:
        return self.modes.split(",")

    def ops(self) -> list[tuple[str, Callable, Callable]]:
        """(name, fastconv function, reference function) pairs."""
        if self.kind == "1d":
            return [("np.convolve", fastconv.convolve, np.convolve),
                    ("np.correlate", fastconv.correlate, np.correlate)]
        return [("convolve2d", fastconv.convolve2d, sps.convolve2d),
                ("correlate2d", fastconv.correlate2d, sps.correlate2d)]

    @property
    def reference(self) -> str:
        return "numpy" if self.kind == "1d" else "scipy"

    def label(self, quick: bool) -> str:
        size = "x".join(map(str, self.shape(quick)))
        return f"{self.dtype} {size} * {self.kernel}"


def _read(path: Path) -> list[dict[str, str]]:
    """Rows of the whitespace table whose column names sit on its ``# name ...`` line."""
    columns: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("# name"):
            columns = line[1:].split()
        elif line.strip() and not line.startswith("#"):
            rows.append(dict(zip(columns, line.split(None, len(columns) - 1))))
    return rows


CASES = [DropinCase(**row) for row in _read(Path(__file__).with_name("shapes") / "dropins.txt")]


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
