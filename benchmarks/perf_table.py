#!/usr/bin/env python
"""Time fastconv against PyTorch on the shapes in benchmarks/shapes/ and write the performance tables.

    python benchmarks/perf_table.py [--quick] [--out docs/performance.md]

For every workload and thread count (1 and 2) the implementations run interleaved: after a warm-up
call, each one's loop count is grown until a timed run lasts --min-time seconds (0.2 s); then every
repeat times each implementation once, round-robin, starting one place later each repeat, so slow
drifts of a shared machine hit all of them alike. Reported: median per call over --repeats (>= 7)
repeats, with min and max. Conv GFLOP/s count 2*N*K*Ho*Wo*C*R*S flops; "% of peak" divides by the
single-thread FP32 FMA throughput probed at the start (fastconv._kernels.probe_fma_gflops) times the
thread count. relu and max_pool2d report GB/s of input read plus output written. Ratios are
fastconv speed / PyTorch speed: above 1 means fastconv is faster.

The Markdown goes to stdout and, with --out, to a file that nobody edits by hand.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import shlex
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from fastconv import _kernels  # noqa: E402
from shapes import CONV_LAYERS, POOL_CASES, RELU_CASES  # noqa: E402

PEAK_TARGET = 0.70   # fraction of FMA peak wanted on L2 and L3
L1_TARGET = 3.0      # L1 speed-up wanted over PyTorch
PEAK_LAYERS = ("L2", "L3")
DISTURBED = 0.10     # others' share of the CPUs above which a row is called disturbed
MISMATCH = 1e-3      # worst relative difference between implementations still called "agree"


# ---- timing --------------------------------------------------------------------
@dataclass
class Timing:
    """Seconds per call over the repeats."""
    median: float
    min: float
    max: float

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


def measure(fns: dict, repeats: int, min_time: float) -> dict[str, Timing]:
    names = list(fns)
    loops = {name: _loops_for(fns[name], min_time) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc.disable()
    try:
        for rep in range(repeats):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(_run(fns[name], loops[name]) / loops[name])
    finally:
        gc.enable()
    return {n: Timing(statistics.median(s), min(s), max(s)) for n, s in samples.items()}


def probe_peak(isa: str, threads: int, seconds: float) -> tuple[float, float]:
    """(single-thread FMA GFLOP/s, sum of `threads` probes run at once) for the sanity line."""
    single = _kernels.probe_fma_gflops(isa, seconds)
    results = [0.0] * threads

    def one(i):
        results[i] = _kernels.probe_fma_gflops(isa, seconds)  # releases the GIL

    pool = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return single, sum(results)


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


def fmt_load(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f}%"


# ---- one workload ----------------------------------------------------------------
@dataclass
class Row:
    """One workload at one thread count: timings of the implementations that ran."""
    name: str
    label: str
    threads: int
    amount: float            # flops or bytes per call
    timings: dict[str, Timing]
    missing: dict[str, str]  # implementation -> why it did not run
    error: float             # worst relative difference between implementations
    others: float | None     # share of the CPUs other processes took while this row ran

    def speed(self, impl: str) -> float | None:
        t = self.timings.get(impl)
        return None if t is None else self.amount / t.median

    def best(self, prefix: str) -> str | None:
        """The fastest implementation whose name starts with `prefix`."""
        names = [n for n in self.timings if n.startswith(prefix)]
        return min(names, key=lambda n: self.timings[n].median) if names else None

    def ratio(self, fc: str | None, peer: str | None) -> float | None:
        if fc is None or peer is None or fc not in self.timings or peer not in self.timings:
            return None
        return self.timings[peer].median / self.timings[fc].median

    def ratio_range(self, fc: str, peer: str) -> tuple[float, float]:
        """(pessimistic, optimistic) ratio from the repeats' extremes: the run-to-run spread."""
        f, p = self.timings[fc], self.timings[peer]
        return p.min / f.max, p.max / f.min


def run_workload(name, label, amount, impls, threads, args) -> Row:
    ready = {n: i.fn for n, i in impls.items() if i.fn is not None}
    missing = {n: i.missing for n, i in impls.items() if i.fn is None}
    t0, load = time.perf_counter(), OtherLoad()
    with workloads.num_threads(threads):
        error = workloads.worst_rel_error(impls)
        timings = measure(ready, args.repeats, args.min_time)
    others = load.share()
    flag = "  RESULTS DISAGREE" if error > MISMATCH else ""
    print(f"  {name:5} {threads} thread(s): {time.perf_counter() - t0:5.1f} s, other processes "
          f"took {fmt_load(others)} of the CPUs{flag}", file=sys.stderr, flush=True)
    return Row(name, label, threads, amount, timings, missing, error, others)


# ---- Markdown --------------------------------------------------------------------
def fmt_rate(row: Row, impl: str) -> str:
    if impl in row.missing:
        return "n/a"
    med, lo, hi = row.timings[impl].rate(row.amount / 1e9)
    return f"{med:.1f} ({lo:.1f}–{hi:.1f})"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}×"


def fmt_err(e: float) -> str:
    return f"{e:.0e}" + (" **DISAGREE**" if e > MISMATCH else "")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def short(impl: str | None) -> str:
    return "—" if impl is None else impl.replace("fastconv ", "").replace("torch ", "")


def conv_tables(rows: list[Row], peak1: float) -> list[str]:
    rates = [[r.name, r.label, str(r.threads), *(fmt_rate(r, i) for i in workloads.LAYOUT_IMPLS),
              fmt_load(r.others)] for r in rows]
    summary = []
    for r in rows:
        fc, pt = r.best("fastconv"), r.best("torch")
        peak = peak1 * r.threads
        pct = lambda impl: "n/a" if impl is None else f"{100 * r.speed(impl) / 1e9 / peak:.0f}%"  # noqa: E731
        summary.append([
            r.name, str(r.threads),
            f"{short(fc)} {r.speed(fc) / 1e9:.1f}", "n/a" if pt is None else f"{short(pt)} {r.speed(pt) / 1e9:.1f}",
            fmt_ratio(r.ratio(fc, pt)),
            fmt_ratio(r.ratio("fastconv NCHW", "torch NCHW")),
            fmt_ratio(r.ratio("fastconv NHWC", "torch channels_last")),
            pct(fc), pct(pt), fmt_err(r.error),
        ])
    return (["## conv2d, float32", "",
             "GFLOP/s, median (slowest–fastest repeat); flops = 2·N·K·Ho·Wo·C·R·S. \"others' CPU\" is "
             "the share of the machine's CPU time other processes took while the row ran: well above "
             "0% means that row was disturbed.", ""]
            + table(["layer", "shape", "threads", *workloads.LAYOUT_IMPLS, "others' CPU"], rates)
            + [f"Best layout of each library, the ratio fastconv ÷ PyTorch (> 1: fastconv faster), "
               f"the same ratio layout for layout (NCHW vs NCHW, NHWC vs channels_last), and the "
               f"share of the FP32 FMA peak ({peak1:.1f} GFLOP/s per thread × threads).", ""]
            + table(["layer", "threads", "fastconv best GFLOP/s", "torch best GFLOP/s",
                     "fastconv ÷ torch", "NCHW ÷ NCHW", "NHWC ÷ channels_last",
                     "fastconv % peak", "torch % peak", "max rel. diff"], summary))


def memory_tables(title: str, rows: list[Row], impls: tuple[str, ...]) -> list[str]:
    rates = [[r.label, str(r.threads), *(fmt_rate(r, i) for i in impls)] for r in rows]
    header = ["shape", "threads", *impls]
    cols = []
    for r in rows:
        fc, pt = r.best("fastconv"), r.best("torch")
        row = [fmt_ratio(r.ratio(fc, pt))]
        if len(impls) > 2:
            row += [fmt_ratio(r.ratio("fastconv NCHW", "torch NCHW")),
                    fmt_ratio(r.ratio("fastconv NHWC", "torch channels_last"))]
        cols.append(row + [fmt_err(r.error), fmt_load(r.others)])
    extra = ["fastconv ÷ torch (best)"] + (["NCHW ÷ NCHW", "NHWC ÷ channels_last"] if len(impls) > 2 else [])
    return ([f"## {title}", "", "GB/s (input read + output written), median (slowest–fastest repeat), "
             "and the ratio fastconv ÷ PyTorch (> 1: fastconv faster).", ""]
            + table(header + extra + ["max rel. diff", "others' CPU"],
                    [a + b for a, b in zip(rates, cols)]))


# ---- targets (from the issue) --------------------------------------------------------
def _mark(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def _disturbed(rows: list[Row]) -> str:
    names = [f"{r.name} {r.threads}t" for r in rows if r.others is not None and r.others > DISTURBED]
    return f" Disturbed by other processes: {', '.join(names)}." if names else ""


def ratio_target(what: str, rows: list[Row], target: float) -> str:
    """One line: is fastconv_best / torch_best >= target on every row, and by how much."""
    pairs = [(r, r.best("fastconv"), r.best("torch")) for r in rows]
    pairs = [(r, fc, pt, r.ratio(fc, pt)) for r, fc, pt in pairs if r.ratio(fc, pt) is not None]
    if not pairs:
        return f"- {what}: **not measured** (PyTorch missing)"
    worst_r, fc, pt, worst = min(pairs, key=lambda p: p[3])
    failing = sum(1 for p in pairs if p[3] < target)
    every = ", ".join(f"{r.name} {r.threads}t {x:.2f}×" for r, _, _, x in pairs)
    lo, hi = worst_r.ratio_range(fc, pt)
    noise = " (within the run-to-run spread)" if lo < target <= hi else ""
    where = f"{worst_r.name} at {worst_r.threads} thread{'s' if worst_r.threads > 1 else ''}"
    if failing == 0:
        how = f"worst {where} {worst:.2f}×, {100 * (worst / target - 1):.0f}% above{noise}"
    else:
        how = (f"{failing} of {len(pairs)} below; worst {where} {worst:.2f}×, needs "
               f"{target / worst:.2f}× faster{noise}")
    return f"- {what}: {_mark(failing == 0)} — {how}. [{every}]{_disturbed(rows)}"


def peak_target(rows: list[Row], peak1: float) -> str:
    vals = []
    for r in rows:
        fc = r.best("fastconv")
        vals.append((r, r.speed(fc) / 1e9 / (peak1 * r.threads), r.amount / r.timings[fc].min / 1e9 / (peak1 * r.threads)))
    worst_r, worst, worst_best = min(vals, key=lambda v: v[1])
    ok = all(v >= PEAK_TARGET for _, v, _ in vals)
    every = ", ".join(f"{r.name} {r.threads}t {100 * v:.0f}%" for r, v, _ in vals)
    where = f"{worst_r.name} at {worst_r.threads} thread{'s' if worst_r.threads > 1 else ''} {100 * worst:.0f}%"
    noise = " (within the run-to-run spread)" if worst < PEAK_TARGET <= worst_best else ""
    how = (f"worst {where}, {100 * (worst - PEAK_TARGET):.0f} points above" if ok else
           f"worst {where}, {100 * (PEAK_TARGET - worst):.0f} points short{noise}")
    return (f"- fastconv conv2d ≥ {100 * PEAK_TARGET:.0f}% of FP32 FMA peak on "
            f"{' and '.join(PEAK_LAYERS)}: {_mark(ok)} — {how}. [{every}]{_disturbed(rows)}")


# ---- main -------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small batches (quick_* in shapes/), 3 repeats of 0.05 s: checks the script, "
                        "not the speed")
    p.add_argument("--out", type=Path, help="also write the Markdown here (e.g. docs/performance.md)")
    p.add_argument("--repeats", type=int, help="interleaved repeats (default 7; 3 with --quick)")
    p.add_argument("--min-time", type=float, help="seconds one timed run lasts (default 0.2; 0.05 with --quick)")
    args = p.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.min_time = args.min_time or (0.05 if args.quick else 0.2)
    if args.repeats < 1 or args.min_time <= 0:
        p.error("--repeats must be >= 1 and --min-time > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    info = workloads.machine_info()
    load_start, run_load = os.getloadavg()[0], OtherLoad()
    thread_counts = [n for n in workloads.THREADS if n <= workloads.available_cpus()]
    isa = info["isa"]
    peak1, peak_concurrent = probe_peak(isa, max(thread_counts), 0.5 if not args.quick else 0.1)
    print(f"FP32 FMA peak ({isa}): {peak1:.1f} GFLOP/s per thread; {max(thread_counts)} threads at once: "
          f"{peak_concurrent:.1f}", file=sys.stderr, flush=True)
    if workloads.TORCH_MISSING:
        print(workloads.TORCH_MISSING, file=sys.stderr)

    conv_rows, relu_rows, pool_rows = [], [], []
    for layer in CONV_LAYERS:
        batch = layer.batch(args.quick)
        for n in thread_counts:
            conv_rows.append(run_workload(layer.name, layer.label(batch), layer.flops(batch),
                                          workloads.conv2d_impls(layer, batch), n, args))
    for case in RELU_CASES:
        size = case.size(args.quick)
        for n in thread_counts:
            relu_rows.append(run_workload(case.name, case.label(size), case.bytes_moved(size),
                                          workloads.relu_impls(size), n, args))
    for case in POOL_CASES:
        batch = case.batch(args.quick)
        for n in thread_counts:
            pool_rows.append(run_workload(case.name, case.label(batch), case.bytes_moved(batch),
                                          workloads.pool_impls(case, batch), n, args))
    elapsed = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()

    command = " ".join(shlex.quote(a) for a in ["python", *sys.argv]) if argv is None else \
        " ".join(shlex.quote(a) for a in ["python", "benchmarks/perf_table.py", *argv])
    md = ["# fastconv performance", "",
          f"<!-- Generated by benchmarks/perf_table.py; do not edit by hand, rerun: {command} -->", ""]
    if args.quick:
        md += ["**Quick run: small batches and few repeats, to check the script; not a measurement.**", ""]
    md += table(["", ""], [
        ["date", started.strftime("%Y-%m-%d %H:%M UTC")],
        ["command", f"`{command}` ({elapsed / 60:.1f} min)"],
        ["machine", info["cpu"]],
        ["fastconv", f"{info['fastconv']} (git {info['git']}, kernels built {info['kernels_built']}), ISA {isa} (compiled: "
                     f"{info['compiled_isas']}), OpenMP {info['openmp']}, {info['compiler']}"],
        ["versions", f"Python {info['python']}, NumPy {info['numpy']}, SciPy {info['scipy']}, "
                     f"PyTorch {info['torch']}"],
        ["FP32 FMA peak", f"{peak1:.1f} GFLOP/s per thread ({isa} probe at the start); % of peak uses "
                          f"that × threads; {max(thread_counts)} probes at once gave {peak_concurrent:.1f}"],
        ["method", f"threads {', '.join(map(str, thread_counts))} set alike for fastconv and PyTorch; "
                   f"implementations interleaved round-robin; median (min–max) of {args.repeats} repeats "
                   f"of ≥ {args.min_time:g} s each after warm-up; every call allocates its output"],
        ["machine load", f"other processes took {fmt_load(run_load.share())} of all CPU time during the "
                         f"run; load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"],
    ])
    if workloads.TORCH_MISSING:
        md += [f"*{workloads.TORCH_MISSING}*", ""]
    md += conv_tables(conv_rows, peak1)
    md += memory_tables("relu, float32", relu_rows, workloads.RELU_IMPLS)
    md += memory_tables("max_pool2d 2×2, float32", pool_rows, workloads.LAYOUT_IMPLS)
    md += ["## Targets", "",
           "Medians, best layout of each library against the other's best; \"disturbed\" rows ran while "
           f"other processes took more than {100 * DISTURBED:.0f}% of the CPUs.", "",
           ratio_target("conv2d ≥ 1.0× PyTorch on every shape and thread count", conv_rows, 1.0),
           peak_target([r for r in conv_rows if r.name in PEAK_LAYERS], peak1),
           ratio_target(f"L1 ≥ {L1_TARGET:g}× PyTorch", [r for r in conv_rows if r.name == "L1"], L1_TARGET),
           ratio_target("relu and max_pool2d ≥ PyTorch", relu_rows + pool_rows, 1.0),
           ""]
    text = "\n".join(md)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    disagree = [r for r in conv_rows + relu_rows + pool_rows if r.error > MISMATCH]
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
