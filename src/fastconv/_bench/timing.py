"""Interleaved timing, the machine's measured FMA peak and copy bandwidth, and how busy the
machine was meanwhile.

How `measure` times: each implementation's loop count is grown until one run lasts `min_time`
seconds (these runs are the warm-up); then every repeat times each implementation once,
round-robin, starting one place later each repeat, so slow drifts of a shared machine hit all of
them alike. It returns the median per call over the repeats, with the slowest and fastest repeat
and every repeat's time.
"""
from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastconv import _kernels


@dataclass
class Timing:
    """Seconds per call over the repeats, the calls per repeat, and each repeat's
    seconds per call in order (repeat r of every implementation ran in the same round)."""
    median: float
    min: float
    max: float
    loops: int = 1
    samples: tuple[float, ...] = ()

    def rate(self, amount: float) -> tuple[float, float, float]:
        """amount/s at the median, the slowest and the fastest repeat."""
        return amount / self.median, amount / self.max, amount / self.min


def _run(fn, loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return time.perf_counter() - t0


def _loops_for(fn, min_time: float) -> int:
    """Grow the loop count until one run lasts min_time; these runs double as warm-up."""
    fn()
    loops = 1
    while True:
        t = _run(fn, loops)
        if t >= min_time:
            return loops
        loops = max(loops + 1, min(loops * 10, int(loops * 1.2 * min_time / max(t, 1e-9))))


K = TypeVar("K")


def measure(fns: dict[K, Callable[[], Any]], repeats: int, min_time: float,
            settle: float = 0.0) -> dict[K, Timing]:
    """{name: Timing} of the zero-argument callables `fns`, interleaved (see the module doc).

    With `settle` > 0, each timed run follows `settle` seconds of untimed calls of the same
    callable, so it is not timed while the previous one's library still occupies the cores
    (OpenBLAS's threads spin for over 0.1 s after a call: fastconv's two-thread dense forward
    took 300-400 us in that time against 135 us after it, AMD EPYC Zen 5)."""
    names = list(fns)
    loops = {name: _loops_for(fns[name], min_time) for name in names}
    samples: dict[K, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for rep in range(repeats):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                if settle > 0:
                    end = time.perf_counter() + settle
                    while time.perf_counter() < end:
                        fns[name]()
                samples[name].append(_run(fns[name], loops[name]) / loops[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {n: Timing(statistics.median(s), min(s), max(s), loops[n], tuple(s)) for n, s in samples.items()}


def paired_ratio(fc: Sequence[float], peer: Sequence[float], fc_median: float,
                 peer_median: float) -> float:
    """peer time / fastconv time, above 1 fastconv is faster: the median over the
    repeats of the two times in the same round (each round runs every implementation
    once, one after the other), so that a slow spell of a shared machine weighs on
    both sides of a ratio rather than on one side's median; the medians' ratio where
    the repeats' times were not kept."""
    if fc and len(fc) == len(peer):
        return statistics.median(p / f for p, f in zip(peer, fc))
    return peer_median / fc_median


FMA_PROBE_SECONDS = 0.01


def probe_fma(isa: str, tries: int) -> float:
    """Single-thread FP32 FMA throughput of `isa`, GFLOP/s; the peak of n threads is n times it.
    The best of many short probes: on a shared machine a long probe is always interrupted
    (measured under load: 0.5 s probes gave 82-88, the best of 25 10-ms probes 117)."""
    return max(_kernels.probe_fma_gflops(isa, FMA_PROBE_SECONDS) for _ in range(max(tries, 1)))


def probe_fma_concurrent(isa: str, threads: int, tries: int) -> float:
    """Sum of `threads` probes run at once (each the best of `tries`): checks that the cores
    really are n (no SMT siblings, no throttling) behind "peak = single-thread probe x threads"."""
    results = [0.0] * threads

    def one(i):
        results[i] = probe_fma(isa, tries)  # the probe releases the GIL

    pool = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(results)


def probe_copy(n_bytes: int, seconds: float) -> float:
    """Streaming-copy bandwidth (read + write) with fastconv's current thread count, GB/s."""
    return _kernels.probe_copy_gbps(n_bytes, seconds)


class OtherLoad:
    """Share of all CPUs' time taken by other processes (and by the hypervisor as steal) since
    construction, from /proc/stat minus this process's own CPU time; None where unreadable."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        t = os.times()
        own = (t.user + t.system) * os.sysconf("SC_CLK_TCK")
        return sum(v), v[3] + v[4], own  # total, idle + iowait, ours (all in clock ticks)

    def share(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        total, idle, own = (e - s for e, s in zip(end, self.start))
        return min(max((total - idle - own) / total, 0.0), 1.0)


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None
