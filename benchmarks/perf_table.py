#!/usr/bin/env python
"""Write docs/performance.md: fastconv's benchmark areas at 1 and 2 threads as Markdown tables,
with the project's targets marked met / NOT met.

    python benchmarks/perf_table.py [--quick | --smoke] [--out docs/performance.md]

The measurement is `fastconv bench`'s (src/fastconv/_bench): the same workloads, interleaved
timing, FMA-peak and copy-bandwidth probes and options. This script only adds the Markdown, the
targets and the load accounting of the whole run. The Markdown goes to stdout and, with --out,
to a file that nobody edits by hand.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from fastconv._bench import cli, timing, workloads
from fastconv._files import atomic_write
from latency_table import keep_small_section
from model_table import keep_model_section
from fastconv._bench.run import (AREAS, MISMATCH, MODES, AreaResult, Machine, Row, Spread, ThreadsCase,
                                 fmt_share, probe_machine, run_area, threads_target)
from fastconv._bench.run import threads_cases as run_threads_cases

PEAK_TARGET = 0.70   # fraction of FMA peak wanted on L2 and L3
L1_TARGET = 3.0      # L1 speed-up wanted over PyTorch
L4_TARGET = 1.5      # L4 speed-up wanted over PyTorch
PEAK_LAYERS = ("L2", "L3")
DISTURBED = 0.10     # others' share of the CPUs above which a row is called disturbed
LAYOUT_PAIRS = (("fastconv NCHW", "torch NCHW", "NCHW ÷ NCHW"),
                ("fastconv NHWC", "torch channels_last", "NHWC ÷ channels_last"))


# ---- Markdown --------------------------------------------------------------------
def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}×"


def fmt_err(e: float) -> str:
    return f"{e:.0e}" + (" **DISAGREE**" if e > MISMATCH else "")


def fmt_cell(row: Row, impl: str, unit: str | None) -> str:
    """Rate (or time, for an area without one), median (slowest–fastest repeat)."""
    if impl in row.missing:
        return "missing"
    t = row.timings.get(impl)
    if t is None:
        return "—"
    if unit is None:
        return cli.fmt_time(t).replace("-", "–")
    med, lo, hi = t.rate(row.amount / 1e9)
    return f"{med:.1f} ({lo:.1f}–{hi:.1f})"


def short(impl: str) -> str:
    """The layout part of an implementation's name: 'torch channels_last' -> 'channels_last'."""
    return impl.partition(" ")[2]


def area_tables(res: AreaResult, machine: Machine) -> list[str]:
    area, unit = res.area, res.area.unit
    head = [f"## {area.title}", ""]
    if res.reason:
        return head + [f"Not available: {res.reason}.", ""]
    impls, peers = cli.columns(res)
    if area.name.startswith("conv2d"):
        flops = ("GFLOP/s (flops = 2·N·K·Ho·Wo·C·R·S"
                 + (" for each of grad_x and grad_weight" if "backward" in area.name else "")
                 + ": every tap counted, the padding's too, so a kernel that skips the padding's "
                   "taps can show more than 100% of the FMA peak)")
    else:
        flops = "GFLOP/s (flops = 2·rows·columns·depth of the product)"
    what = {"GFLOP/s": flops, "GB/s": "GB/s (input read + output written)", None: "time per call"}[unit]
    rates = [[r.name, r.label, str(r.threads), *(fmt_cell(r, i, unit) for i in impls),
              fmt_share(r.others)] for r in res.rows]
    out = head + [f"{what}, median (slowest–fastest repeat). \"others' CPU\" is the share of the "
                  "machine's CPU time other processes took while the row ran: well above 0% means "
                  "that row was disturbed.", ""]
    out += table(["workload", "shape", "threads", *impls, "others' CPU"], rates)

    pairs = [p for p in LAYOUT_PAIRS if p[0] in impls and p[1] in impls]
    ref = {"GFLOP/s": "FMA peak", "GB/s": "copy bandwidth"}.get(unit)
    summary = []
    for r in res.rows:
        fc = r.best("fastconv")
        cells = [r.name, str(r.threads)]
        if unit:
            cells.append(f"{short(fc)} {r.speed(fc) / 1e9:.1f}".strip())
        for lib in peers:
            best = r.best(lib)
            if unit:
                cells.append("n/a" if best is None else f"{short(best)} {r.speed(best) / 1e9:.1f}".strip())
            cells.append(fmt_ratio(r.ratio(fc, best)))
        cells += [fmt_ratio(r.ratio(f, p)) for f, p, _ in pairs]
        if ref:
            base = machine.reference(unit, r.threads)
            cells += ["n/a" if r.best(lib) is None else f"{100 * r.speed(r.best(lib)) / 1e9 / base:.0f}%"
                      for lib in ("fastconv", *peers)]
        summary.append(cells + [fmt_err(r.error)])
    header = ["workload", "threads"] + ([f"fastconv best {unit}"] if unit else [])
    for lib in peers:
        header += ([f"{lib} best {unit}"] if unit else []) + [f"fastconv ÷ {lib}"]
    header += [name for _, _, name in pairs]
    header += [f"{lib} % {ref}" for lib in ("fastconv", *peers)] if ref else []
    out += [f"Best layout of each library (by median), the ratio fastconv ÷ peer (peer time ÷ "
            f"fastconv time in the same round, the median over the rounds; > 1: fastconv faster)"
            + (", the same ratio layout for layout" if pairs else "")
            + ({"GFLOP/s": f", and the share of the FP32 FMA peak ({machine.fma_per_thread:.1f} "
                           "GFLOP/s per thread × threads)",
                "GB/s": ", and the share of the streaming-copy bandwidth at that thread count "
                        f"({', '.join(f'{g:.1f} GB/s at {n}' for n, g in machine.copy_gbps.items())})",
                None: ""}[unit]) + ".", ""]
    return out + table(header + ["max rel. diff"], summary)


# ---- targets --------------------------------------------------------
def _mark(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def _where(r: Row) -> str:
    return f"{r.name} at {r.threads} thread{'s' if r.threads > 1 else ''}"


def _disturbed(rows: list[Row]) -> str:
    names = [f"{r.name} {r.threads}t" for r in rows if r.others is not None and r.others > DISTURBED]
    return f" Disturbed by other processes: {', '.join(names)}." if names else ""


def ratio_target(what: str, rows: list[Row], target: float, peer: str = "torch") -> str:
    """One line: is fastconv_best / peer_best >= target on every row, and by how much."""
    pairs = [(r, r.best("fastconv"), r.best(peer)) for r in rows]
    pairs = [(r, fc, pt, r.ratio(fc, pt)) for r, fc, pt in pairs if r.ratio(fc, pt) is not None]
    if not pairs:
        return f"- {what}: **not measured** ({peer} missing or area not run)"
    worst_r, fc, pt, worst = min(pairs, key=lambda p: p[3])
    failing = sum(1 for p in pairs if p[3] < target)
    every = ", ".join(f"{r.name} {r.threads}t {x:.2f}×" for r, _, _, x in pairs)
    lo, hi = worst_r.ratio_range(fc, pt)
    noise = " (within the run-to-run spread)" if lo < target <= hi else ""
    if failing == 0:
        how = f"worst {_where(worst_r)} {worst:.2f}×, {100 * (worst / target - 1):.0f}% above{noise}"
    else:
        how = (f"{failing} of {len(pairs)} below; worst {_where(worst_r)} {worst:.2f}×, needs "
               f"{target / worst:.2f}× faster{noise}")
    return f"- {what}: {_mark(failing == 0)} — {how}. [{every}]{_disturbed(rows)}"


def peak_target(rows: list[Row], machine: Machine) -> str:
    what = f"fastconv conv2d ≥ {100 * PEAK_TARGET:.0f}% of FP32 FMA peak on {' and '.join(PEAK_LAYERS)}"
    if not rows:
        return f"- {what}: **not measured**"
    vals = []
    for r in rows:
        fc, peak = r.best("fastconv"), machine.peak(r.threads)
        vals.append((r, r.speed(fc) / 1e9 / peak, r.amount / r.timings[fc].min / 1e9 / peak))
    worst_r, worst, worst_best = min(vals, key=lambda v: v[1])
    ok = all(v >= PEAK_TARGET for _, v, _ in vals)
    every = ", ".join(f"{r.name} {r.threads}t {100 * v:.0f}%" for r, v, _ in vals)
    noise = " (within the run-to-run spread)" if worst < PEAK_TARGET <= worst_best else ""
    how = (f"worst {_where(worst_r)} {100 * worst:.0f}%, {100 * (worst - PEAK_TARGET):.0f} points above"
           if ok else f"worst {_where(worst_r)} {100 * worst:.0f}%, "
                      f"{100 * (PEAK_TARGET - worst):.0f} points short{noise}")
    return f"- {what}: {_mark(ok)} — {how}. [{every}]{_disturbed(rows)}"


def targets(results: dict[str, AreaResult], machine: Machine) -> list[str]:
    rows = {name: res.rows for name, res in results.items()}
    conv, back = rows.get("conv2d", []), rows.get("conv2d_backward", [])
    return ["## Targets", "",
            "Ratios as in the tables (the median over the rounds of the two times in one round), "
            "best layout of each library against the other's best; \"disturbed\" rows ran "
            f"while other processes took more than {100 * DISTURBED:.0f}% of the CPUs.", "",
            ratio_target("conv2d ≥ 1.0× PyTorch on every shape and thread count", conv, 1.0),
            peak_target([r for r in conv if r.name in PEAK_LAYERS], machine),
            ratio_target(f"L1 ≥ {L1_TARGET:g}× PyTorch", [r for r in conv if r.name == "L1"], L1_TARGET),
            ratio_target(f"L4 ≥ {L4_TARGET:g}× PyTorch", [r for r in conv if r.name == "L4"], L4_TARGET),
            ratio_target("conv2d backward (grad_x + grad_weight) ≥ 1.0× PyTorch autograd", back, 1.0),
            ratio_target("relu and max_pool2d ≥ PyTorch",
                         rows.get("relu", []) + rows.get("max_pool2d", []), 1.0),
            ratio_target("Dense products of the lecture's training step ≥ 1.0× NumPy's matmul",
                         rows.get("dense", []), 1.0, "numpy"),
            threads_target(threads_cases([r for area in rows.values() for r in area])),
            ""]


def threads_cases(rows: list[Row]) -> list[ThreadsCase]:
    """fastconv's fastest layout per workload at 1 thread and at each count above (median, min,
    max seconds), with SciPy's where the row has it (its calls never use threads; NumPy's
    matmul does), for run.threads_target; areas' workload names kept apart."""
    def spread(r: Row, lib: str) -> Spread | None:
        impl = r.best(lib)
        t = r.timings[impl] if impl else None
        return (t.median, t.min, t.max) if t else None

    return run_threads_cases(rows, lambda r: f"{r.area} {r.name}", lambda r: r.threads, spread,
                             ("scipy",))


# ---- main -------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = [n for n in workloads.THREADS if n <= workloads.available_cpus()]
    # the small area has a section of its own, from latency_table.py
    cli.add_arguments(p, ",".join(map(str, default)) + " (those of 1,2 this machine has)",
                      areas=tuple(a for a in AREAS if a != "small"))
    p.add_argument("--out", type=Path, help="also write the Markdown here (e.g. docs/performance.md)")
    args = p.parse_args(argv)
    cli.settle(args, p, default)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    load_start, run_load = timing.load_average(), timing.OtherLoad()
    machine = probe_machine(args.threads, args.mode)
    info = machine.info
    print(f"FP32 FMA peak ({info['isa']}): {machine.fma_per_thread:.1f} GFLOP/s per thread; "
          f"{max(args.threads)} threads at once: {machine.fma_concurrent:.1f}", file=sys.stderr, flush=True)
    results = {name: run_area(AREAS[name], args.vs, args.threads, args.mode, args.repeats, args.min_time)
               for name in args.areas}
    elapsed = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()

    settings = workloads.run_settings()
    command = shlex.join([*(f"{k}={v}" for k, v in settings.items()), "python",
                          "benchmarks/perf_table.py", *(sys.argv[1:] if argv is None else argv)])
    git = f"git {info['git']}, " if info["git"] else ""
    load_end = timing.load_average()
    md = ["# fastconv performance", "",
          f"<!-- Generated by benchmarks/perf_table.py; do not edit by hand, rerun: {command} -->", ""]
    if cli.mode_note(args):
        md += [f"**{cli.mode_note(args).capitalize()}.**", ""]
    if settings:
        md += [f"**Measured with {', '.join(f'`{k}={v}`' for k, v in settings.items())}**: settings "
               "that make fastconv or a peer run other code than this machine's default (other "
               "instruction sets or thread counts), so the tables are this CPU running that code, "
               "not the CPU such settings may stand in for (`FASTCONV_ISA=avx2` with oneDNN and "
               "OpenBLAS capped alike for an AVX2-only CPU, whose own clock, caches and FMA units "
               "differ).", ""]
    md += table(["", ""], [
        ["date", started.strftime("%Y-%m-%d %H:%M UTC")],
        ["command", f"`{command}` ({elapsed / 60:.1f} min)"],
        ["machine", info["cpu"]],
        ["fastconv", f"{info['fastconv']} ({git}kernels built {info['kernels_built']}), ISA {info['isa']} "
                     f"(compiled: {info['compiled_isas']}), pool {info['thread_pool']}, {info['compiler']}"],
        ["versions", f"Python {info['python']}, NumPy {info['numpy']}, SciPy {info['scipy']}, "
                     f"PyTorch {info['torch']}, threadpoolctl {info['threadpoolctl']}"],
        ["FP32 FMA peak", f"{machine.fma_per_thread:.1f} GFLOP/s per thread (best of "
                          f"{MODES[args.mode].fma_tries} short {info['isa']} probes at the start); % of "
                          f"peak uses that × threads; {max(args.threads)} probes at once gave "
                          f"{machine.fma_concurrent:.1f}"],
        ["copy bandwidth", ", ".join(f"{g:.1f} GB/s at {n} thread{'s' if n > 1 else ''}"
                                     for n, g in machine.copy_gbps.items())
         + f" (streaming copy of {machine.copy_bytes >> 20} MiB, read + write)"],
        ["method", f"threads {', '.join(map(str, args.threads))} set alike for fastconv, PyTorch and "
                   f"BLAS; implementations interleaved round-robin; {cli.method_note(args)}"
                   + ("" if args.mode == "smoke" else
                      f"; the dense rows' timed runs each follow {workloads.SETTLE_BLAS:g} s of untimed "
                      "calls of the same implementation (OpenBLAS's threads spin on the cores after "
                      "its calls)")],
        ["machine load", f"other processes took {fmt_share(run_load.share())} of all CPU time during "
                         "the run; load average "
                         + ("?" if load_start is None else f"{load_start:.2f} at start, {load_end:.2f} at end")],
    ])
    for res in results.values():
        md += area_tables(res, machine)
    md += targets(results, machine)
    text = "\n".join(md)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        old = args.out.read_text() if args.out.exists() else ""
        # latency_table.py's and model_table.py's sections stay; a run stopped halfway leaves the
        # old file whole
        with atomic_write(args.out) as f:
            f.write(keep_model_section(old, keep_small_section(old, text)).encode())
        print(f"wrote {args.out}", file=sys.stderr)
    disagree = [r for res in results.values() for r in res.rows if r.error > MISMATCH]
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
