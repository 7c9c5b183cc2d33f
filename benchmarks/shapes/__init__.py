"""The benchmarked shapes, read from the .txt tables next to this file (edit those, not this)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _read(filename: str) -> list[dict[str, str]]:
    """Rows of a whitespace table whose column names sit on the ``# name ...`` comment line;
    the last column (the description) keeps its spaces."""
    columns: list[str] = []
    rows = []
    for line in (HERE / filename).read_text().splitlines():
        if line.startswith("# name"):
            columns = line[1:].split()
        elif line.strip() and not line.startswith("#"):
            if not columns:
                raise ValueError(f"{filename}: data before the '# name ...' header line")
            values = line.split(None, len(columns) - 1)
            if len(values) != len(columns):
                raise ValueError(f"{filename}: expected {len(columns)} columns, got {line!r}")
            rows.append(dict(zip(columns, values)))
    return rows


def _ints(row: dict[str, str], skip=("name", "description")) -> dict:
    return {k: (v if k in skip else int(v)) for k, v in row.items()}


@dataclass(frozen=True)
class ConvLayer:
    name: str
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    stride: int
    padding: int
    quick_N: int
    description: str

    def batch(self, quick: bool) -> int:
        return self.quick_N if quick else self.N

    @property
    def out_hw(self) -> tuple[int, int]:
        return ((self.H + 2 * self.padding - self.R) // self.stride + 1,
                (self.W + 2 * self.padding - self.S) // self.stride + 1)

    def flops(self, batch: int) -> int:
        """2 x multiply-adds: 2*N*K*Ho*Wo*C*R*S."""
        oh, ow = self.out_hw
        return 2 * batch * self.K * oh * ow * self.C * self.R * self.S

    def label(self, batch: int) -> str:
        pad = "valid" if self.padding == 0 else f"pad {self.padding}"
        st = f", stride {self.stride}" if self.stride != 1 else ""
        return (f"x ({batch},{self.C},{self.H},{self.W}), {self.K} filters "
                f"{self.R}x{self.S}, {pad}{st}")


@dataclass(frozen=True)
class ReluCase:
    name: str
    n_elems: int
    quick_n_elems: int
    description: str

    def size(self, quick: bool) -> int:
        return self.quick_n_elems if quick else self.n_elems

    @staticmethod
    def bytes_moved(n_elems: int) -> int:
        """float32 read once and written once."""
        return 8 * n_elems

    def label(self, n_elems: int) -> str:
        return f"{n_elems:,} float32"


@dataclass(frozen=True)
class PoolCase:
    name: str
    N: int
    C: int
    H: int
    W: int
    pool: int
    quick_N: int
    description: str

    def batch(self, quick: bool) -> int:
        return self.quick_N if quick else self.N

    @property
    def out_hw(self) -> tuple[int, int]:
        return self.H // self.pool, self.W // self.pool

    def bytes_moved(self, batch: int) -> int:
        """float32 input read once, output written once."""
        oh, ow = self.out_hw
        return 4 * batch * self.C * (self.H * self.W + oh * ow)

    def label(self, batch: int) -> str:
        return f"({batch},{self.C},{self.H},{self.W}) float32, {self.pool}x{self.pool}"


CONV_LAYERS = [ConvLayer(**_ints(r)) for r in _read("conv2d.txt")]
RELU_CASES = [ReluCase(**_ints(r)) for r in _read("relu.txt")]
POOL_CASES = [PoolCase(**_ints(r)) for r in _read("max_pool2d.txt")]
