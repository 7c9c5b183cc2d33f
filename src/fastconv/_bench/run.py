"""The benchmark areas (a registry: one entry per op family) and the loop that measures them.

An area names its workloads (from the shape tables), the function that builds one callable per
implementation, and what its rate means (GFLOP/s against the FMA peak, GB/s against the copy
bandwidth, or none). Adding an area is one `Area(...)` line in `AREAS`; an area whose fastconv
functions do not exist in this build is reported as not available, not as an error.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import timing, workloads
from .shapes import (
    CONV_LAYERS,
    DENSE_CASES,
    DROPIN_CASES,
    FAMILY_CASES,
    POOL_CASES,
    RELU_CASES,
    SMALL_CASES,
)

MISMATCH = 1e-3  # worst relative difference between implementations still called "agree"


@dataclass(frozen=True)
class Mode:
    """How long a run of each size ("full", "quick", "smoke") measures."""
    repeats: int          # interleaved repeats
    min_time: float       # seconds one timed run lasts at least
    fma_tries: int        # short FMA probes, the best of which is the peak
    copy_bytes: int       # size of each buffer of the copy probe
    copy_seconds: float


MODES = {
    "full": Mode(repeats=7, min_time=0.2, fma_tries=25, copy_bytes=1 << 28, copy_seconds=0.3),
    "quick": Mode(repeats=5, min_time=0.05, fma_tries=10, copy_bytes=1 << 27, copy_seconds=0.1),
    # Copies of under ~16 MiB are dominated by page faults in the probe: no use even to check.
    "smoke": Mode(repeats=1, min_time=0.0, fma_tries=2, copy_bytes=1 << 24, copy_seconds=0.02),
}


@dataclass(frozen=True)
class Area:
    name: str
    title: str
    cases: list
    build: Callable  # (case, size, names) -> {impl name: workloads.Impl}
    impls: tuple[str, ...]
    unit: str | None = None  # "GFLOP/s" (% of FMA peak), "GB/s" (% of copy bandwidth), or None
    amount: Callable[[Any, Any], float] | None = None  # flops or bytes per call
    unavailable: Callable[[], str] = lambda: ""  # why this build cannot run it, or ""
    # seconds of untimed calls before each timed run of a case (timing.measure's settle): where
    # a peer's threads spin on the cores after its calls
    settle: Callable[[Any], float] = lambda case: 0.0


AREAS = {a.name: a for a in (
    Area("conv2d", "conv2d forward, float32", CONV_LAYERS, workloads.conv2d_impls,
         workloads.LAYOUT_IMPLS, "GFLOP/s", lambda c, n: c.flops(n)),
    Area("conv2d_backward", "conv2d backward (grad_x + grad_weight), float32",
         [c for c in CONV_LAYERS if c.backward], workloads.conv2d_backward_impls,
         workloads.LAYOUT_IMPLS, "GFLOP/s", lambda c, n: 2 * c.flops(n)),
    Area("relu", "relu, float32", RELU_CASES, workloads.relu_impls, workloads.RELU_IMPLS,
         "GB/s", lambda c, n: c.amount(n)),
    Area("dense", "dense products of the lecture CNN's training step, float32", DENSE_CASES,
         workloads.dense_impls, workloads.DENSE_IMPLS, "GFLOP/s", lambda c, n: c.flops(n),
         settle=lambda case: workloads.SETTLE_BLAS),
    Area("max_pool2d", "max_pool2d, float32", POOL_CASES, workloads.pool_impls,
         workloads.POOL_IMPLS, "GB/s", lambda c, n: c.amount(n)),
    Area("dropins", "drop-ins against NumPy and SciPy, float64", DROPIN_CASES,
         workloads.dropin_impls, workloads.DROPIN_IMPLS,
         unavailable=lambda: workloads.dropins_missing(DROPIN_CASES)),
    Area("ndimage", "fastconv.ndimage against scipy.ndimage",
         [c for c in FAMILY_CASES if c.area == "ndimage"], workloads.family_impls,
         ("fastconv", "scipy")),
    Area("signal", "fastconv.signal's N-d family against scipy.signal",
         [c for c in FAMILY_CASES if c.area == "signal"], workloads.family_impls,
         ("fastconv", "scipy")),
    Area("small", "small work: per-call latency (the lecture CNN's predict, drop-ins, relu, conv2d)",
         SMALL_CASES, workloads.small_impls, workloads.SMALL_IMPLS,
         settle=lambda case: workloads.SETTLE_PREDICT if case.op == "predict" else 0.0),
)}


@dataclass
class Row:
    """One workload at one thread count: timings of the implementations that ran."""
    area: str
    name: str
    label: str
    threads: int
    amount: float | None     # flops or bytes per call
    timings: dict[str, timing.Timing]
    missing: dict[str, str]  # implementation -> why it did not run
    error: float             # worst relative difference between implementations
    others: float | None     # share of the CPUs other processes took while this row ran

    def speed(self, impl: str | None) -> float | None:
        """amount per second at the median."""
        t = self.timings.get(impl) if impl else None
        return None if t is None or self.amount is None else self.amount / t.median

    def best(self, lib: str) -> str | None:
        """The fastest implementation of library `lib`."""
        names = [n for n in self.timings if workloads.library(n) == lib]
        return min(names, key=lambda n: self.timings[n].median) if names else None

    def ratio(self, fc: str | None, peer: str | None) -> float | None:
        """peer time / fastconv time (timing.paired_ratio): above 1 fastconv is faster."""
        if fc not in self.timings or peer not in self.timings:
            return None
        f, p = self.timings[fc], self.timings[peer]
        return timing.paired_ratio(f.samples, p.samples, f.median, p.median)

    def ratio_range(self, fc: str, peer: str) -> tuple[float, float]:
        """(pessimistic, optimistic) ratio from the repeats' extremes: the run-to-run spread."""
        f, p = self.timings[fc], self.timings[peer]
        return p.min / f.max, p.max / f.min

    def peers(self) -> list[str]:
        """Peer libraries with a timing, in column order."""
        libs = [workloads.library(n) for n in self.timings]
        return [lib for i, lib in enumerate(libs) if lib != "fastconv" and lib not in libs[:i]]

    def speedups(self) -> dict[str, float]:
        """{peer library: its best time / fastconv's best time}."""
        fc = self.best("fastconv")
        return {lib: self.ratio(fc, self.best(lib)) for lib in self.peers() if fc}


@dataclass
class AreaResult:
    area: Area
    reason: str = ""  # why it did not run ("" if it did)
    rows: list[Row] = field(default_factory=list)


@dataclass
class Machine:
    """Versions, CPU, ISA and the measured FMA peak and copy bandwidth."""
    info: dict[str, str]
    fma_per_thread: float
    fma_concurrent: float  # max(threads) probes at once
    copy_gbps: dict[int, float]  # threads -> GB/s
    copy_bytes: int

    def peak(self, threads: int) -> float:
        return self.fma_per_thread * threads

    def reference(self, unit: str | None, threads: int) -> float | None:
        """What a rate in `unit` is a percentage of."""
        return {"GFLOP/s": self.peak(threads), "GB/s": self.copy_gbps.get(threads)}.get(unit)


def probe_machine(threads: list[int], mode: str) -> Machine:
    m = MODES[mode]
    info = workloads.machine_info()
    fma1 = timing.probe_fma(info["isa"], m.fma_tries)
    concurrent = timing.probe_fma_concurrent(info["isa"], max(threads), m.fma_tries)
    copy = {}
    for n in threads:
        with workloads.num_threads(n):
            copy[n] = timing.probe_copy(m.copy_bytes, m.copy_seconds)
    return Machine(info, fma1, concurrent, copy, m.copy_bytes)


def wanted_impls(area: Area, peers) -> tuple[str, ...]:
    return tuple(n for n in area.impls if workloads.library(n) in ("fastconv", *peers))


def run_area(area: Area, peers, threads: list[int], mode: str, repeats: int, min_time: float,
             progress: bool = True) -> AreaResult:
    """Measure every workload of `area` at every thread count; with `progress`, a line per row
    goes to stderr."""
    reason = area.unavailable()
    if reason:
        return AreaResult(area, reason)
    result = AreaResult(area)
    names = wanted_impls(area, peers)
    for case in area.cases:
        size = case.size(mode)
        impls = area.build(case, size, names)  # before num_threads, which sets an imported torch
        missing = {n: i.missing for n, i in impls.items() if i.fn is None}
        amount = area.amount(case, size) if area.amount else None
        for n in threads:
            t0, load = time.perf_counter(), timing.OtherLoad()
            with workloads.num_threads(n):
                here = {name: impl.at(n) for name, impl in impls.items()}
                ready = {name: i.fn for name, i in here.items() if i.fn is not None}
                error = workloads.worst_rel_error(here)
                settle = area.settle(case) if mode != "smoke" else 0.0
                timings = timing.measure(ready, repeats, min_time, settle) if ready else {}
            row = Row(area.name, case.name, case.label(size), n, amount, timings, missing, error,
                      load.share())
            result.rows.append(row)
            if progress:
                flag = "  RESULTS DISAGREE" if error > MISMATCH else ""
                print(f"  {area.name} {case.name}, {n} thread{'s' if n > 1 else ''}: "
                      f"{time.perf_counter() - t0:.1f} s, other processes took "
                      f"{fmt_share(row.others)} of the CPUs{flag}", file=sys.stderr, flush=True)
        del impls, here, ready
    return result


def fmt_share(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f}%"


Spread = tuple[float, float, float]  # seconds per call: median, fastest and slowest repeat


@dataclass(frozen=True)
class ThreadsCase:
    """One workload for threads_target: fastconv's seconds at 1 thread and at `threads`, and a
    serial peer's (one that never uses threads, e.g. NumPy's convolve) at both, or None."""
    name: str
    threads: int
    one: Spread
    many: Spread
    serial_one: Spread | None = None
    serial_many: Spread | None = None


def threads_cases(rows: list[Any], key: Callable[[Any], str], threads: Callable[[Any], int],
                  spread: Callable[[Any, str], Spread | None],
                  serial_peers: Sequence[str] = ()) -> list[ThreadsCase]:
    """The cases for threads_target from a table's rows, whatever their form: `key` names a
    row's workload, `threads` its thread count, ``spread(row, lib)`` gives that library's
    (median, min, max) seconds in the row or None. Each workload that fastconv ran at 1 thread
    gives a case per count above, with the first of `serial_peers` timed in both rows."""
    one = {key(r): (r, s) for r in rows if threads(r) == 1 and (s := spread(r, "fastconv"))}
    cases = []
    for r in rows:
        many = spread(r, "fastconv")
        if threads(r) <= 1 or key(r) not in one or many is None:
            continue
        first, at_one = one[key(r)]
        serial = next(((a, b) for p in serial_peers
                       if (a := spread(first, p)) and (b := spread(r, p))), (None, None))
        cases.append(ThreadsCase(key(r), threads(r), at_one, many, *serial))
    return cases


def threads_target(cases: list[ThreadsCase]) -> str:
    """The target line "fastconv on more threads never slower than on one". A thread count's
    rows run at another time than the 1-thread rows, so the machine's speed may have drifted
    in between; a serial peer timed in the same rows measures that drift, and fastconv's
    change is divided by the peer's. A workload is slower only when that holds in every
    repeat (fastconv's fastest n-thread repeat against its slowest 1-thread one, the peer's
    the other way round; below the work threshold both counts run on one thread and differ by
    noise alone). The line names the worst median ratio (1-thread time ÷ n-thread time, after
    the drift; ≥ 1: faster on more threads). Rows of a single repeat (a smoke run) have no
    spread: they are not judged."""
    what = ("- fastconv on more threads never slower than on 1 (time at 1 thread ÷ time at n, "
            "divided by a serial peer's where the row has one)")
    if not cases:
        return f"{what}: **not measured** (no workload ran at 1 thread and at more)"
    if all(c.one[1] == c.one[2] or c.many[1] == c.many[2] for c in cases):
        return f"{what}: **not measured** (one repeat a row: no spread to tell noise from slower)"
    speed = []
    for c in cases:
        median, best = c.one[0] / c.many[0], c.one[2] / c.many[1]  # best: slowest 1 vs fastest n
        if c.serial_one and c.serial_many:  # the peer's 1-thread time ÷ its n-thread time
            median /= c.serial_one[0] / c.serial_many[0]
            best /= c.serial_one[1] / c.serial_many[2]
        spread = c.one[1] < c.one[2] and c.many[1] < c.many[2]
        speed.append((c.name, c.threads, median, spread and best < 1))
    name, n, worst, _ = min(speed, key=lambda s: s[2])
    slower = [f"{s[0]} {s[1]}t {s[2]:.2f}×" for s in speed if s[3]]
    if slower:
        return (f"{what}: **NOT met** — {len(slower)} of {len(speed)} slower in every repeat: "
                f"{', '.join(slower)}.")
    noise = " (within the run-to-run spread)" if worst < 1 else ""
    return f"{what}: **met** — worst {name} at {n} threads {worst:.2f}×{noise}."
