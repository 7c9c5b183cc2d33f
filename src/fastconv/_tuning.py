"""The autotuner: which register tile each product runs on this CPU.

The planners of conv2d's indirect GEMM and of the dense layer's GEMM choose a
tile from the dispatch table by a static rule (the least padded work, near-ties
to the widest tile). That rule was set on one CPU; another (two FMA ports, a
larger L2) may run another tile faster. ``fastconv tune`` (`tune`) times
every tile of the table on the products that given calls plan, interleaved,
median of repeats, and keeps a tile only where it beats the static choice by
more than `MARGIN` in the median and in four rounds of five. The choices go
to a file in the user cache, one per CPU model and fastconv version, which
``import fastconv`` loads (`load_at_start`).

Products no file speaks for are tuned at first use: the first time a process
plans a large enough product, the C planner times every tile on a slice of it
(about two milliseconds, at most 64 products per process; fc_tune_learning in
fastconv.h) by the same rule with the wider margin `LEARN_MARGIN`, twice (a
slice only stands for the call: one tap of it, on one thread), and keeps the
choice for the process.
``FASTCONV_TUNE=off`` turns both off, so the static choice runs, the same on
every run.

A tile changes how outputs are grouped into registers, never how one output
is summed (the tap and depth blocks do not depend on the tile), so a tuned
choice gives the static choice's bits; the tests hold every tile to that.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _kernels

if TYPE_CHECKING:
    from pathlib import Path

# (import fastconv loads this module: json, pathlib and the rest are imported
# where they are used, and only where a tuning file exists)

__all__ = ["LEARN_MARGIN", "MARGIN", "Choice", "cache_file", "default_calls", "enabled", "load", "load_at_start",
           "save", "tune"]

FORMAT = "fastconv-tuning"
MARGIN = _kernels.TUNE_MARGIN  # a tile must beat the static choice by more than this to be kept
LEARN_MARGIN = _kernels.TUNE_LEARN_MARGIN  # the same at first use, on a slice of the product
MAX_FILE_BYTES = 1 << 20
MAX_CHOICES = 4096   # the C table's bound
_MAX_SIZE = 1 << 40  # rows, cols and depth in a file are at most this

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Choice(NamedTuple):
    """One product's tile: the product (site, isa, dtype, rows, cols, depth),
    the chosen variant (index into the ISA's tile list) and tile, and the
    medians that chose it (microseconds per call)."""

    site: str
    isa: str
    dtype: str
    rows: int
    cols: int
    depth: int
    variant: int
    tile: tuple[int, int]
    static_us: float
    tuned_us: float

    def key(self) -> tuple[Any, ...]:
        return (self.site, self.isa, self.dtype, self.rows, self.cols, self.depth, self.variant)

    def __str__(self) -> str:
        gain = self.static_us / self.tuned_us if self.tuned_us > 0 else math.nan
        return (f"{self.site} {self.dtype} {self.rows}x{self.cols}x{self.depth} ({self.isa}): tile "
                f"{self.tile[0]}x{self.tile[1]}, {self.tuned_us:.1f} us against {self.static_us:.1f} "
                f"us static ({gain:.2f}x)")


# ---- where the choices live ---------------------------------------------------------


def enabled() -> bool:
    """False when ``FASTCONV_TUNE`` is 'off' (or '0', 'false', 'no'): then the
    static choice runs and no file is read."""
    return os.environ.get("FASTCONV_TUNE", "").strip().lower() not in ("off", "0", "false", "no")


def cpu_identity() -> str:
    """The CPU the choices are for: its name, family, model and stepping, and
    the caches one core sees ('AMD EPYC (family 26, model 2, stepping 1); L1d
    48 KiB, L2 1 MiB, L3 32 MiB')."""
    from ._config import _caches, cpu_name

    return f"{cpu_name()}; {_caches()}"


def _cache_path() -> str:
    """cache_file() as a string, with nothing but os (import fastconv calls it)."""
    import hashlib

    from . import __version__
    from ._config import user_cache

    digest = hashlib.sha256(f"{cpu_identity()} {__version__}".encode()).hexdigest()[:16]
    return os.path.join(user_cache(), "tuning", f"{digest}.json")


def cache_file() -> Path:
    """The tuning file for this CPU and fastconv version, in the user cache
    (``$XDG_CACHE_HOME/fastconv/tuning`` or ``~/.cache/fastconv/tuning``),
    named by a hash of `cpu_identity()` and the version."""
    from pathlib import Path

    return Path(_cache_path())


def save(choices: Sequence[Choice], path: str | os.PathLike[str] | None = None) -> Path:
    """Write `choices` to `path` (by default `cache_file()`) atomically; the
    directory is made if missing. Returns the path."""
    import json
    from pathlib import Path

    from . import __version__
    from ._files import atomic_write

    target = Path(path) if path is not None else cache_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "fastconv": __version__, "cpu": cpu_identity(),
           "threads": _kernels.get_num_threads(),
           "choices": [{**c._asdict(), "tile": list(c.tile)} for c in choices]}
    with atomic_write(target) as f:
        f.write(json.dumps(doc, indent=1).encode())
    return target


def _read(path: Path) -> list[Choice]:
    """The file's choices for this CPU and version; ValueError for a file that
    is not one (too large, not JSON, another format, CPU or version, a bad entry)."""
    import json

    from . import __version__

    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > MAX_FILE_BYTES:
            raise ValueError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        raw = f.read(MAX_FILE_BYTES + 1)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a fastconv tuning file")
    if doc.get("fastconv") != __version__ or doc.get("cpu") != cpu_identity():
        raise ValueError(f"{path}: made for another CPU or fastconv version")
    entries = doc.get("choices")
    if not isinstance(entries, list) or len(entries) > MAX_CHOICES:
        raise ValueError(f"{path}: 'choices' must be a list of at most {MAX_CHOICES}")
    return [_entry(e, path) for e in entries]


def _entry(e: Any, path: Path) -> Choice:
    def size(name: str) -> int:
        v = e.get(name)
        if type(v) is not int or not 1 <= v <= _MAX_SIZE:
            raise ValueError(f"{path}: a choice's {name} must be an integer in [1, {_MAX_SIZE}]")
        return v

    if not isinstance(e, dict):
        raise ValueError(f"{path}: a choice must be an object")  # noqa: TRY004 (a bad file)
    site, isa, dtype, tile = e.get("site"), e.get("isa"), e.get("dtype"), e.get("tile")
    if (site not in _kernels.TUNE_SITES or isa not in _kernels.ISA_NAMES
            or dtype not in ("float32", "float64")):
        raise ValueError(f"{path}: a choice names an unknown site, ISA or dtype")
    variant = e.get("variant")
    if type(variant) is not int or not 0 <= variant < 8:
        raise ValueError(f"{path}: a choice's variant must be an integer in [0, 8)")
    if (not isinstance(tile, list) or len(tile) != 2
            or not all(type(v) is int and 0 < v < 1024 for v in tile)):
        raise ValueError(f"{path}: a choice's tile must be two small positive integers")
    times: list[float] = []
    for name in ("static_us", "tuned_us"):
        v: Any = e.get(name)
        if type(v) not in (int, float) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{path}: a choice's {name} must be a non-negative number")
        times.append(float(v))
    return Choice(site, isa, dtype, size("rows"), size("cols"), size("depth"), variant,
                  (tile[0], tile[1]), times[0], times[1])


def load(path: str | os.PathLike[str] | None = None) -> list[Choice]:
    """Load the choices of `path` (by default `cache_file()`) into the planners
    and return them. A choice whose variant is not the same tile in this build's
    table (the file of another build) is left out. Raises ValueError for a file
    that is not a tuning file of this CPU and version, OSError where it cannot
    be read."""
    from pathlib import Path

    choices = _read(Path(path) if path is not None else cache_file())
    kept = [c for c in choices if _is_current_tile(c)]
    _kernels.tune_load([c.key() for c in kept])
    return kept


def _is_current_tile(c: Choice) -> bool:
    if c.isa != _kernels.current_isa():
        return False  # the tile list of another ISA: not checkable here, and not used
    tiles = _kernels.igemm_tiles(c.dtype)
    return c.variant < len(tiles) and tuple(tiles[c.variant]) == c.tile


_loaded: list[Choice] = []  # what load_at_start loaded, for fastconv info


def load_at_start() -> None:
    """``import fastconv``: load this CPU's tuning file if there is one and
    tuning is on. A file that cannot be used is reported once as a warning
    and ignored (the static choice runs)."""
    global _loaded
    if not enabled():
        return
    _kernels.tune_learning(True)
    path = _cache_path()
    if not os.path.exists(path):
        return
    try:
        _loaded = load(path)
    except (OSError, ValueError) as err:
        warnings.warn(f"fastconv: ignoring the tuning file ({err}); `fastconv tune` writes a new one",
                      RuntimeWarning, stacklevel=2)


def status() -> str:
    """One line for ``fastconv info``: off, none, or how many choices from where."""
    if not enabled():
        return "off (FASTCONV_TUNE=off: the static choice)"
    n = _kernels.tune_count()
    learned = _kernels.tune_learned()
    changed = sum(1 for c in learned if c[6] != c[7])
    first = (f"{len(learned)} products timed at first use in this process, {changed} on another tile"
             if learned else "large products are timed at first use")
    if not n:
        return f"no tuning file (`fastconv tune` makes one); {first}"
    return f"{n} tuned tile choices from {cache_file()}; {first}"

# ---- measuring ---------------------------------------------------------------------


def tune(calls: Iterable[Call] | None = None, *, repeats: int = 5, min_time: float = 0.02,
         report: Callable[[str], None] | None = None) -> list[Choice]:
    """Time every tile of the table on the products `calls` plan and return the
    choices that beat the static one by more than `MARGIN`.

    Parameters
    ----------
    calls : iterable of (function, args, kwargs), optional
        Calls to tune for, e.g. ``(fastconv.conv2d, (x, w), {"padding": 1})``;
        by default `default_calls()`. Each is run once to find its products,
        then each product's tiles are timed round-robin, `repeats` times, each
        time a loop of calls lasting at least `min_time` seconds, at the
        current thread count.
    report : callable, optional
        Receives a line per product as it is done.

    Returns
    -------
    list of Choice
        Not loaded or saved: see `save` and `load`.
    """
    found: list[Choice] = []
    done: set[tuple[Any, ...]] = set()  # products timed (two calls may plan the same one)
    _kernels.tune_load([])  # time against the static choice
    learning = _kernels.tune_learning(False)  # and whole calls only
    try:
        for fn, args, kwargs in (default_calls() if calls is None else calls):
            def run(fn: Callable[..., Any] = fn, args: tuple[Any, ...] = args,
                    kwargs: dict[str, Any] = kwargs) -> Any:
                return fn(*args, **kwargs)

            _kernels.tune_seen(True)
            run()
            isa = _kernels.current_isa()
            for product in _kernels.tune_seen(True):
                if product[1] != isa or product[:6] in done:
                    continue
                done.add(product[:6])
                choice = _tune_product(product, run, repeats, min_time)
                if report is not None:
                    site, _, dtype, rows, cols, depth, _ = product
                    report(str(choice) if choice is not None else
                           f"{site} {dtype} {rows}x{cols}x{depth} ({isa}): the static tile is best")
                if choice is not None:
                    found.append(choice)
    finally:
        _kernels.tune_force(None)
        _kernels.tune_load([c.key() for c in _loaded])
        _kernels.tune_learning(learning)
    return found


def _tune_product(product: tuple[Any, ...], run: Callable[[], Any], repeats: int,
                  min_time: float) -> Choice | None:
    """Times every tile on `product` (its last field the static variant), the
    benchmarks' interleaved way, and returns the fastest if it beats the static
    one by more than MARGIN."""
    from ._bench import timing

    site, isa, dtype, rows, cols, depth, fixed = product
    tiles = _kernels.igemm_tiles(dtype)

    def forced(v: int) -> Callable[[], Any]:
        def call() -> Any:
            _kernels.tune_force((site, isa, dtype, rows, cols, depth, v))
            return run()
        return call

    try:
        times = timing.measure({v: forced(v) for v in range(len(tiles))}, repeats, min_time)
    finally:
        _kernels.tune_force(None)
    # the C planner's rule for first use: faster by MARGIN in the median and in at
    # least 4 rounds of 5 (each round times every tile in turn, so a busy moment
    # hurts them alike)
    best = _kernels.tune_pick([list(times[v].samples) for v in range(len(tiles))], fixed)
    if best == fixed:
        return None
    return Choice(site, isa, dtype, rows, cols, depth, best, tuple(tiles[best]),  # type: ignore[arg-type]
                  times[fixed].median * 1e6, times[best].median * 1e6)


def default_calls(seed: int = 0) -> list[Call]:
    """What ``fastconv tune`` tunes for: the lecture model's dense products
    (batch 32) and the conv2d layers of the benchmark (float32, both layouts,
    the batch sizes of ``fastconv bench``)."""
    from . import nn

    rng = np.random.default_rng(seed)

    def a(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    calls: list[Call] = []
    for units, features in ((128, 4732), (10, 128)):  # the lecture's two Dense layers
        y = np.empty((32, units), np.float32)
        calls.append((_kernels.dense, (a(32, features), a(features, units), a(units), y), {}))
    layers = (((32, 64, 56, 56), 64, 3, 1, 1), ((8, 256, 14, 14), 256, 3, 1, 1),
              ((32, 3, 224, 224), 64, 7, 3, 2))
    for (n, c, h, width), k, r, pad, stride in layers:
        x = a(n, c, h, width)
        wt = a(k, c, r, r)
        calls.append((nn.conv2d, (x, wt), {"padding": pad, "stride": stride}))
        calls.append((nn.conv2d, (np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
                                  np.ascontiguousarray(wt.transpose(2, 3, 1, 0))),
                      {"padding": pad, "stride": stride, "layout": "NHWC"}))
    return calls
