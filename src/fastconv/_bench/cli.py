"""`fastconv bench`: options, the plain-text report, the JSON file and the speed-up plot."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
from pathlib import Path

import fastconv

from .. import _files
from .._cli import need, output_file
from . import timing, workloads
from .run import (
    AREAS,
    MISMATCH,
    MODES,
    AreaResult,
    Machine,
    Row,
    fmt_share,
    probe_machine,
    run_area,
)


# ---- options -------------------------------------------------------------------
def _names(valid, what: str):
    """argparse type for a comma-separated subset of `valid`."""
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
        bad = [n for n in names if n not in valid]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(map(repr, bad)) or repr(text)}; choose from {','.join(valid)}")
        return names
    return parse


def _thread_list(text: str) -> list[int]:
    try:
        counts = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected a thread count or a list like 1,2, got {text!r}")
    return list(dict.fromkeys(counts))


def add_arguments(p: argparse.ArgumentParser, threads_default: str,
                  areas: tuple[str, ...] | None = tuple(AREAS)) -> None:
    """The measurement options, shared with benchmarks/perf_table.py and latency_table.py;
    `areas` is the default of --areas (None: no --areas option)."""
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="under a minute: smaller batches of the big layers (quick_* in the shape "
                           "tables), 5 repeats of >= 0.05 s")
    size.add_argument("--smoke", action="store_true",
                      help="seconds: tiny shapes, one repeat; checks that everything runs, measures nothing")
    p.add_argument("--threads", type=_thread_list, metavar="N[,N...]",
                   help=f"thread counts, set alike for fastconv, torch and BLAS (default: {threads_default})")
    p.add_argument("--vs", type=_names(workloads.PEERS, "peer"), default=workloads.PEERS,
                   metavar="PEERS", help=f"peers to compare with (default: {','.join(workloads.PEERS)})")
    if areas is not None:
        left_out = [a for a in AREAS if a not in areas]
        p.add_argument("--areas", type=_names(tuple(AREAS), "area"), default=areas, metavar="AREAS",
                       help=f"what to benchmark, comma-separated, of: {', '.join(AREAS)} (default: "
                            + (f"all but {', '.join(left_out)}" if left_out else "all")
                            + "; 'small' is per-call latency: the lecture CNN's predict on one "
                              "image and on 10,000, small drop-in, relu and conv2d calls)")
    p.add_argument("--repeats", type=int, help="interleaved repeats (default 7; --quick 5; --smoke 1)")
    p.add_argument("--min-time", type=float,
                   help="seconds one timed run lasts at least (default 0.2; --quick 0.05)")


def settle(args: argparse.Namespace, p: argparse.ArgumentParser, threads: list[int]) -> None:
    """Fill in mode, repeats, min_time and threads from the options and the mode's defaults."""
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    mode = MODES[args.mode]
    args.repeats = mode.repeats if args.repeats is None else args.repeats
    args.min_time = mode.min_time if args.min_time is None else args.min_time
    args.threads = args.threads or threads
    if args.repeats < 1 or args.min_time < 0:
        p.error("--repeats must be >= 1 and --min-time >= 0")


def mode_note(args) -> str:
    return {"full": "",
            "quick": "quick run: smaller batches of the big layers, fewer and shorter repeats",
            "smoke": "smoke run: tiny shapes, one repeat; checks that everything runs, not a measurement",
            }[args.mode]


def method_note(args) -> str:
    return (f"median (min-max) per call of {args.repeats} interleaved repeat{'s' if args.repeats > 1 else ''}"
            f" of >= {args.min_time:g} s each after warm-up; seed {workloads.SEED}; "
            "every call allocates its output (fastconv's results of 32 MiB and more on blocks it keeps "
            "between calls, see docs/reliability.md)")


# ---- plain text ----------------------------------------------------------------
def text_table(header: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i < right_from else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def _sig3(v: float) -> str:
    """Three significant digits, keeping trailing zeros: 16.0, 2.10, 746."""
    digits = max(0, 2 - math.floor(math.log10(v))) if v > 0 else 2
    return f"{v:.{digits}f}"


def fmt_time(t: timing.Timing) -> str:
    scale, unit = next((s, u) for s, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))
                       if t.median >= s or u == "ns")
    return f"{_sig3(t.median / scale)} ({_sig3(t.min / scale)}-{_sig3(t.max / scale)}) {unit}"


def columns(res: AreaResult) -> tuple[list[str], list[str]]:
    """(implementations, peer libraries) that appear in the area's rows, in registry order."""
    impls = [n for n in res.area.impls if any(n in r.timings or n in r.missing for r in res.rows)]
    peers = [lib for lib in dict.fromkeys(workloads.library(n) for n in impls) if lib != "fastconv"]
    return impls, peers


def percent_of(machine: Machine, row: Row, unit: str | None) -> float | None:
    ref, speed = machine.reference(unit, row.threads), row.speed(row.best("fastconv"))
    return None if ref is None or speed is None else 100 * speed / 1e9 / ref


def area_text(res: AreaResult, machine: Machine) -> list[str]:
    area = res.area
    if res.reason:
        return [f"{area.title}: not available: {res.reason}", ""]
    impls, peers = columns(res)
    unit = area.unit
    ref_name = {"GFLOP/s": "% peak", "GB/s": "% copy bw"}.get(unit)
    header = ["workload", "threads", *impls, *(f"vs {p}" for p in peers)]
    header += [f"fastconv {unit}", ref_name] if unit else []
    header.append("others' CPU")
    rows = []
    for r in res.rows:
        cells = [r.name, str(r.threads)]
        cells += [fmt_time(r.timings[n]) if n in r.timings else "missing" if n in r.missing else "-"
                  for n in impls]
        ups = r.speedups()
        cells += ["-" if ups.get(p) is None else f"{ups[p]:.2f}x" for p in peers]
        if unit:
            speed, pct = r.speed(r.best("fastconv")), percent_of(machine, r, unit)
            cells += ["-" if speed is None else f"{speed / 1e9:.1f}", "-" if pct is None else f"{pct:.0f}%"]
        cells.append(fmt_share(r.others) + (" DISAGREE" if r.error > MISMATCH else ""))
        rows.append(cells)
    out = [(f"{area.title}: time per call, median (min-max); vs X = X's best time / fastconv's best "
           "(> 1: fastconv faster)"), *text_table(header, rows, right_from=2)]
    out += [f"  {name}: {label}" for name, label in dict.fromkeys((r.name, r.label) for r in res.rows)]
    out += [f"  {n}: missing: {why}" for n, why in dict.fromkeys(
        (n, why) for r in res.rows for n, why in r.missing.items())]
    out += [f"  {r.name} at {r.threads} thread(s): results DISAGREE, max rel. diff {r.error:.1e} "
            f"> {MISMATCH:g}" for r in res.rows if r.error > MISMATCH]
    return out + [""]


def header_text(args, machine: Machine) -> list[str]:
    info = machine.info
    git = f"git {info['git']}, " if info["git"] else ""
    peak = ", ".join(f"{machine.peak(n):.1f} at {n}" for n in args.threads)
    copy = ", ".join(f"{machine.copy_gbps[n]:.1f} GB/s at {n} thread{'s' if n > 1 else ''}"
                     for n in args.threads)
    usable = workloads.available_cpus()
    over = [n for n in args.threads if n > usable]
    lines = [f"fastconv bench{': ' + mode_note(args) if mode_note(args) else ''}",
             (f"versions   fastconv {info['fastconv']} ({git}kernels built {info['kernels_built']}), "
             f"numpy {info['numpy']}, scipy {info['scipy']}, torch {info['torch']}, "
             f"onnxruntime {info['onnxruntime']}, threadpoolctl {info['threadpoolctl']}, "
             f"python {info['python']}"),
             f"CPU        {info['cpu']}",
             f"ISA        {info['isa']} (compiled: {info['compiled_isas']}), pool {info['thread_pool']}",
             f"threads    {', '.join(map(str, args.threads))}, set alike for fastconv, torch and BLAS"
             + (f" (more than the {usable} usable CPUs: oversubscribed)" if over else ""),
             (f"FMA peak   {machine.fma_per_thread:.1f} GFLOP/s FP32 per thread (best of "
             f"{MODES[args.mode].fma_tries} short {info['isa']} probes) "
             f"x threads: {peak}; {max(args.threads)} probes at once gave {machine.fma_concurrent:.1f}"),
             f"copy       {copy} (streaming copy, read + write, {machine.copy_bytes >> 20} MiB buffers)",
             (f"method     {method_note(args)}; \"others' CPU\": the share of all CPU time other "
             "processes took while a row ran (well above 0%: that row was disturbed)")]
    load = timing.load_average()
    if load is not None:
        lines.append(f"load       load average {load:.2f} at start "
                     "(a shared machine: read the min-max spread before the medians)")
    return lines + [""]


# ---- JSON ----------------------------------------------------------------------
def results_json(r: Row, unit: str | None) -> dict:
    """A row's "results": each implementation's times (and rate, given a unit),
    or why it is missing."""
    results = {}
    for n, t in r.timings.items():
        results[n] = {"median_s": t.median, "min_s": t.min, "max_s": t.max, "loops": t.loops,
                      "repeats_s": list(t.samples)}
        if unit and r.amount is not None:
            results[n]["rate"] = r.amount / t.median / 1e9
    results.update({n: {"missing": why} for n, why in r.missing.items()})
    return results


def row_json(r: Row, machine: Machine, unit: str | None) -> dict:
    results = results_json(r, unit)
    fc = r.best("fastconv")
    return {"area": r.area, "workload": r.name, "shape": r.label, "threads": r.threads,
            "amount": r.amount, "unit": unit, "results": results, "fastconv_best": fc,
            "speedup": r.speedups(),
            "rate": None if r.speed(fc) is None else r.speed(fc) / 1e9,
            "percent_of_reference": percent_of(machine, r, unit),
            "max_rel_diff": r.error, "others_cpu_share": r.others}


def report_json(args, machine: Machine, results: list[AreaResult], started: dt.datetime) -> dict:
    info = machine.info
    return {
        "schema": "fastconv-bench/1",
        "date": started.isoformat(timespec="seconds"),
        "command": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
        "mode": args.mode, "repeats": args.repeats, "min_time_s": args.min_time,
        "threads": args.threads, "peers": list(args.vs), "seed": workloads.SEED,
        "versions": {k: info[k] for k in workloads.versions()},
        "cpu": info["cpu"], "environment": workloads.run_settings(),
        "isa": info["isa"], "compiled_isas": info["compiled_isas"].split(", "),
        "thread_pool": info["thread_pool"], "compiler": info["compiler"], "git": info["git"],
        "kernels_built": info["kernels_built"],
        "fma_peak_gflops_per_thread": machine.fma_per_thread,
        "fma_peak_gflops": {str(n): machine.peak(n) for n in args.threads},
        "fma_concurrent_gflops": machine.fma_concurrent,
        "copy_gbps": {str(n): gbps for n, gbps in machine.copy_gbps.items()},
        "copy_bytes": machine.copy_bytes,
        "areas": {res.area.name: {"title": res.area.title, "available": not res.reason,
                                  "reason": res.reason, "unit": res.area.unit} for res in results},
        "rows": [row_json(r, machine, res.area.unit) for res in results for r in res.rows],
    }


# ---- plot ----------------------------------------------------------------------
def speedup_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a log axis from `lo` to `hi`: 1, 2, 5 times powers of ten, finer steps
    when that gives fewer than three (a narrow range would otherwise show no tick at all)."""
    ticks: list[float] = []
    for subs in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [s * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                 for s in subs if lo <= s * 10.0 ** e <= hi]
        if len(ticks) >= 3:
            break
    return ticks


def area_peers(res: AreaResult, name: str) -> list[str]:
    """The peer libraries a workload of the area is compared with (a drop-in case names its
    one peer, a small-work case its few; the other areas' workloads have every peer of the
    area)."""
    case = next((c for c in res.area.cases if c.name == name), None)
    peers = getattr(case, "peers", None) or [p for p in [getattr(case, "peer", None)] if p]
    libs = dict.fromkeys(workloads.library(n) for n in res.area.impls)
    return list(peers) if peers else [lib for lib in libs if lib != "fastconv"]


def slot_status(row: Row | None, lib: str, peers) -> str:
    """Why a peer has no speed-up in a row: "not installed", "not run (--vs)" or "no result"
    (it ran, fastconv's side did not)."""
    if row is not None and any(workloads.library(n) == lib for n in row.missing):
        return "not installed"
    if lib not in peers:
        return "not run (--vs)"
    return "no result"


CROWDED = 12  # workloads in a panel above which their names are slanted


def plot(path: Path, args, machine: Machine, results: list[AreaResult], started: dt.datetime) -> None:
    """One panel per area: fastconv's speed-up over each peer per workload, one bar per peer and
    thread count (one hue per peer, darker for the first thread count). A peer without a
    speed-up gets a hatched outline up to 1x marked "not installed", "not run" (left out by
    --vs) or "no result", never a blank gap. Drawn on an Agg canvas, not pyplot."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from .._figures import new_figure, save_figure

    panels = [res for res in results if res.rows or res.reason]
    # many workloads in a panel (the small area's 32): their names slanted, and room for them
    crowded = any(len({r.name for r in res.rows}) > CROWDED for res in panels)
    below = 100 if crowded else 0
    fig = new_figure(1080, 150 + (340 + below) * max(len(panels), 1))
    axes = fig.subplots(max(len(panels), 1), 1, squeeze=False)[:, 0]
    palette = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896"]
    described = {}
    for ax, res in zip(axes, panels):
        if res.reason:
            ax.text(0.5, 0.5, f"{res.area.title}: not available: {res.reason}", ha="center",
                    va="center", wrap=True, fontsize=9)
            ax.set_axis_off()
            described[res.area.name] = (ax, {"title": res.area.title, "reason": res.reason})
            continue
        names = list(dict.fromkeys(r.name for r in res.rows))
        libs = [lib for lib in dict.fromkeys(workloads.library(n) for n in res.area.impls) if lib != "fastconv"]
        series = {}  # (lib, threads) -> (colour, label)
        for lib in libs:
            hue = workloads.PEERS.index(lib) if lib in workloads.PEERS else len(workloads.PEERS)
            for n in args.threads:
                series[lib, n] = (palette[(2 * hue + min(args.threads.index(n), 1)) % len(palette)],
                                  f"vs {lib}, {n} thread{'s' if n > 1 else ''}")
        values, drawn = [1.0], {label: {} for _, label in series.values()}
        for i, name in enumerate(names):
            here = [(lib, n) for lib, n in series if lib in area_peers(res, name)]
            width = 0.8 / max(len(here), 1)
            for j, (lib, n) in enumerate(here):
                color, label = series[lib, n]
                row = next((r for r in res.rows if r.name == name and r.threads == n), None)
                up = row.speedups().get(lib) if row is not None else None
                x = i - 0.4 + (j + 0.5) * width
                if up:
                    bars = ax.bar([x], [up], width, color=color)
                    ax.bar_label(bars, fmt="%.2f", fontsize=5 if len(names) > CROWDED else 7)
                    values.append(up)
                    drawn[label][name] = up
                else:
                    status = slot_status(row, lib, args.vs)
                    ax.bar([x], [1.0], width, fill=False, hatch="///", edgecolor=color, linewidth=0.8)
                    ax.text(x, 1.04, status, rotation=90, ha="center", va="bottom", fontsize=7,
                            color="dimgray")
                    drawn[label][name] = status
        handles = []
        for color, label in series.values():
            cells = drawn[label]
            if not cells:
                continue
            statuses = sorted({v for v in cells.values() if isinstance(v, str)})
            ran = any(not isinstance(v, str) for v in cells.values())
            handles.append(Patch(facecolor=color, label=label) if ran else
                           Patch(fill=False, hatch="///", edgecolor=color, label=f"{label}: {', '.join(statuses)}"))
        drawn = {label: cells for label, cells in drawn.items() if cells}
        lo, hi = min(values) / 1.6, max(values) * 2.2  # room for the labels over bars and outlines
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.yaxis.set_major_locator(FixedLocator(speedup_ticks(lo, hi)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.axhline(1.0, color="black", linewidth=0.8)
        if len(names) > CROWDED:
            ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        else:
            ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_xlabel("workload (shapes in the text report)")
        ax.set_ylabel("fastconv speed-up")
        ax.set_title(res.area.title, fontsize=10)
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        described[res.area.name] = (ax, {"title": res.area.title, "speedups": drawn})
    if not panels:
        axes[0].text(0.5, 0.5, "no area ran: nothing to compare", ha="center", va="center")
        axes[0].set_axis_off()
    lines = ["fastconv speed-up = peer's best time / fastconv's best (> 1: fastconv faster)",
             (f"{machine.info['cpu'].split(' (')[0]}, ISA {machine.info['isa']}, threads "
             f"{','.join(map(str, args.threads))}, fastconv {machine.info['fastconv']}, "
             f"{started.strftime('%Y-%m-%d %H:%M UTC')}")]
    if workloads.run_settings_text():
        lines.append(workloads.run_settings_text())
    if mode_note(args):
        lines.append(mode_note(args).split(":")[0])
    fig.suptitle("\n".join(lines), fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.78, top=1 - (40 + 15 * len(lines)) / fig.bbox.height,
                        bottom=(55 + below) / fig.bbox.height,
                        hspace=0.3 + (100 + below) / fig.bbox.height)
    save_figure(fig, path, {"title": "fastconv bench speed-ups", "figure": "bench"}, described)


# ---- the command -----------------------------------------------------------------
def configure(p: argparse.ArgumentParser) -> None:
    add_arguments(p, "fastconv.get_num_threads()")
    p.add_argument("--json", type=output_file, metavar="FILE",
                   help="also write every number, the versions and the machine to FILE as JSON")
    p.add_argument("--plot", type=output_file, metavar="FILE",
                   help="also draw the speed-ups as a bar chart into FILE (PNG; SVG or PDF if it "
                        "ends so), peers that did not run marked as such (needs matplotlib: "
                        'pip install "fastconv[plot]")')


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    settle(args, parser, [fastconv.get_num_threads()])
    if args.plot is not None:
        need("matplotlib", "--plot")  # before the work: MissingExtra, one line
    started = dt.datetime.now(dt.timezone.utc)
    machine = probe_machine(args.threads, args.mode)
    print("\n".join(header_text(args, machine)), flush=True)
    results = []
    for name in args.areas:
        res = run_area(AREAS[name], args.vs, args.threads, args.mode, args.repeats, args.min_time)
        results.append(res)
        print("\n".join(area_text(res, machine)), flush=True)
    elapsed = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    print(f"done in {elapsed:.0f} s")
    if args.json is not None:
        with _files.atomic_write(args.json) as f:
            f.write((json.dumps(report_json(args, machine, results, started), indent=1) + "\n").encode())
        print(f"wrote {args.json}")
    if args.plot is not None:
        plot(args.plot, args, machine, results, started)
        print(f"wrote {args.plot}")
    return 1 if any(r.error > MISMATCH for res in results for r in res.rows) else 0
