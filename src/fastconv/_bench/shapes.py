"""The benchmarked shapes, read from the .txt tables next to this file (edit those, not this).

Every case answers the same three questions, so the runner treats them alike:
``size(mode)`` (the batch, length or image size of a "full", "quick" or "smoke" run),
``label(size)`` (the shape in words); the flop or byte counts behind the rates are methods
(``flops``, ``amount``) that the area registry in run.py picks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = ("full", "quick", "smoke")


def read_table(filename: str) -> list[dict[str, str]]:
    """Rows of a whitespace table next to this file whose column names sit on the ``# name ...``
    comment line; the last column (the description) keeps its spaces. (The benchmarks/ scripts
    read their tables here too.)"""
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


def _typed(row: dict[str, str], text=("name", "description", "function", "mode")) -> dict:
    """Numbers as int, HxW sizes as tuples, yes/no as bool; the named text columns as they are."""
    out: dict = {}
    for k, v in row.items():
        if k in text:
            out[k] = v
        elif v in ("yes", "no"):
            out[k] = v == "yes"
        elif "x" in v:
            out[k] = tuple(int(d) for d in v.split("x"))
        else:
            out[k] = int(v)
    return out


def _pick(mode: str, full, quick, smoke):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return {"full": full, "quick": quick, "smoke": smoke}[mode]


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
    smoke_N: int
    backward: bool
    description: str

    def size(self, mode: str) -> int:
        """The batch."""
        return _pick(mode, self.N, self.quick_N, self.smoke_N)

    @property
    def out_hw(self) -> tuple[int, int]:
        return ((self.H + 2 * self.padding - self.R) // self.stride + 1,
                (self.W + 2 * self.padding - self.S) // self.stride + 1)

    def flops(self, batch: int) -> int:
        """2 x multiply-adds of the forward pass: 2*N*K*Ho*Wo*C*R*S."""
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
    smoke_n_elems: int
    description: str

    def size(self, mode: str) -> int:
        return _pick(mode, self.n_elems, self.quick_n_elems, self.smoke_n_elems)

    @staticmethod
    def amount(n_elems: int) -> int:
        """Bytes moved: float32 read once and written once."""
        return 8 * n_elems

    def label(self, n_elems: int) -> str:
        return f"{n_elems:,} float32"


@dataclass(frozen=True)
class DenseCase:
    name: str
    batch: int
    in_features: int
    out_features: int
    product: str  # forward, grad_x or grad_kernel
    smoke_batch: int
    description: str

    def size(self, mode: str) -> int:
        """The batch."""
        return _pick(mode, self.batch, self.batch, self.smoke_batch)

    def flops(self, batch: int) -> int:
        return 2 * batch * self.in_features * self.out_features

    def label(self, batch: int) -> str:
        b, k, m = batch, self.in_features, self.out_features
        return {"forward": f"x ({b},{k}) @ kernel ({k},{m})",
                "grad_x": f"grad_out ({b},{m}) @ kernel.T ({m},{k})",
                "grad_kernel": f"x.T ({k},{b}) @ grad_out ({b},{m})"}[self.product] + ", float32"


@dataclass(frozen=True)
class PoolCase:
    name: str
    N: int
    C: int
    H: int
    W: int
    pool: int
    quick_N: int
    smoke_N: int
    description: str

    def size(self, mode: str) -> int:
        """The batch."""
        return _pick(mode, self.N, self.quick_N, self.smoke_N)

    @property
    def out_hw(self) -> tuple[int, int]:
        return self.H // self.pool, self.W // self.pool

    def amount(self, batch: int) -> int:
        """Bytes moved: float32 input read once, output written once."""
        oh, ow = self.out_hw
        return 4 * batch * self.C * (self.H * self.W + oh * ow)

    def label(self, batch: int) -> str:
        return f"({batch},{self.C},{self.H},{self.W}) float32, {self.pool}x{self.pool}"


@dataclass(frozen=True)
class DropinCase:
    """A row of dropins.txt: each of `functions` in each of `modes` (comma lists); `report`
    says who times it ("bench": the ``fastconv bench`` area, "table": benchmarks/)."""
    name: str
    functions: str
    dtype: str
    in1: int | tuple[int, int]
    in2: int | tuple[int, int]
    modes: str
    quick_in1: int | tuple[int, int]
    smoke_in1: int | tuple[int, int]
    report: str
    description: str

    @property
    def function(self) -> str:
        """The one function of a ``bench`` row."""
        return self._one(self.functions, "function")

    @property
    def mode(self) -> str:
        """The one mode of a ``bench`` row."""
        return self._one(self.modes, "mode")

    def _one(self, values: str, what: str) -> str:
        if "," in values:
            raise ValueError(f"dropins.txt: row {self.name!r} has several {what}s: {values}")
        return values

    @property
    def peer(self) -> str:
        """The library fastconv.<function> stands in for."""
        return "numpy" if self.functions.split(",")[0] in ("convolve", "correlate") else "scipy"

    def size(self, mode: str) -> int | tuple[int, int]:
        size: int | tuple[int, int] = _pick(mode, self.in1, self.quick_in1, self.smoke_in1)
        return size

    def label(self, in1: int | tuple[int, int]) -> str:
        def dims(s: int | tuple[int, int]) -> str:
            return "x".join(map(str, s)) if isinstance(s, tuple) else str(s)
        return f"{self.function} {dims(in1)} * {dims(self.in2)} {self.dtype}, mode '{self.mode}'"


@dataclass(frozen=True)
class FamilyCase:
    """fastconv.<area>.<function> against scipy.<area>.<function> (area: ndimage or signal)."""
    name: str
    area: str
    function: str
    dtype: str
    in1: tuple[int, ...]
    kernel: str
    param: str
    quick_in1: tuple[int, ...]
    smoke_in1: tuple[int, ...]
    description: str

    @property
    def peer(self) -> str:
        return "scipy"

    @property
    def kernel_shape(self) -> tuple[int, ...] | None:
        return None if self.kernel == "-" else tuple(int(d) for d in self.kernel.split("x"))

    @property
    def kwargs(self) -> dict[str, float | str]:
        """The call's keyword (``sigma=2`` -> {'sigma': 2.0}, ``method=direct`` ->
        {'method': 'direct'}), or none."""
        if self.param == "-":
            return {}
        key, _, value = self.param.partition("=")
        if not value.lstrip("-").replace(".", "", 1).isdigit():
            return {key: value}
        return {key: float(value) if "." in value or key == "sigma" else int(value)}

    def size(self, mode: str):
        return _pick(mode, self.in1, self.quick_in1, self.smoke_in1)

    def label(self, in1) -> str:
        what = ", ".join(p for p in (self.kernel, self.param) if p != "-")
        return f"{self.area}.{self.function} {'x'.join(map(str, in1))} {self.dtype}, {what}"


# What each small-work op is compared with.
SMALL_PEERS = {"predict": ("torch", "onnxruntime"), "convolve": ("numpy",), "correlate": ("numpy",),
               "convolve2d": ("scipy",), "correlate2d": ("scipy",), "relu": ("numpy", "torch"),
               "conv2d": ("torch",)}


@dataclass(frozen=True)
class SmallCase:
    """One small call: fastconv.<op> (or the lecture model's predict) against its originals
    and peers."""
    name: str
    op: str
    in1: int | tuple[int, ...]
    in2: str
    quick_in1: int | tuple[int, ...]
    smoke_in1: int | tuple[int, ...]
    description: str

    def __post_init__(self) -> None:
        if self.op not in SMALL_PEERS:
            raise ValueError(f"small.txt: unknown op {self.op!r} in row {self.name!r}; "
                             f"expected one of {', '.join(SMALL_PEERS)}")

    @property
    def peers(self) -> tuple[str, ...]:
        """The libraries this call is compared with."""
        return SMALL_PEERS[self.op]

    @property
    def kernel(self) -> int | tuple[int, ...] | None:
        """in2 as a number (taps, predict's batch), a shape (HxW, KxRxS) or None ('-')."""
        if self.in2 == "-":
            return None
        dims = tuple(int(d) for d in self.in2.split("x"))
        return dims if len(dims) > 1 else dims[0]

    def size(self, mode: str) -> int | tuple[int, ...]:
        size: int | tuple[int, ...] = _pick(mode, self.in1, self.quick_in1, self.smoke_in1)
        return size

    def label(self, in1: int | tuple[int, ...]) -> str:
        dims = "x".join(map(str, in1)) if isinstance(in1, tuple) else f"{in1:,}"
        if self.op == "predict":
            many = in1 != 1
            return (f"lecture CNN predict, {dims} image{'s' if many else ''} 28x28x1 float32"
                    + (f", batch {self.kernel}" if many else ""))
        if self.op == "relu":
            return f"relu {dims} float32"
        if self.op == "conv2d":
            k, _, rs = self.in2.partition("x")
            return f"conv2d x (1,1,{dims.replace('x', ',')}), {k} filters {rs}, valid, float32"
        mode = "valid" if self.op == "correlate" else "full"
        return f"{self.op} {dims} * {self.in2} float64, mode '{mode}'"


CONV_LAYERS = [ConvLayer(**_typed(r)) for r in read_table("conv2d.txt")]
RELU_CASES = [ReluCase(**_typed(r)) for r in read_table("relu.txt")]
DENSE_CASES = [DenseCase(**_typed(r, text=("name", "description", "product"))) for r in read_table("dense.txt")]
POOL_CASES = [PoolCase(**_typed(r)) for r in read_table("max_pool2d.txt")]
_DROPINS = [DropinCase(**_typed(r, text=("name", "description", "functions", "dtype", "modes",
                                           "report")))
            for r in read_table("dropins.txt")]
DROPIN_CASES = [c for c in _DROPINS if c.report == "bench"]
DROPIN_TABLE_CASES = [c for c in _DROPINS if c.report == "table"]
FAMILY_CASES = [FamilyCase(**_typed(r, text=("name", "description", "function", "area", "dtype",
                                              "kernel", "param")))
                for r in read_table("family.txt")]
SMALL_CASES = [SmallCase(**_typed(r, text=("name", "op", "in2", "description")))
               for r in read_table("small.txt")]
