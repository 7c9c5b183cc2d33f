#!/usr/bin/env python
"""Write the small-work section of docs/performance.md: per-call latency of the lecture CNN's
predict against PyTorch and ONNX Runtime, and of small drop-in, relu and conv2d calls against
NumPy, SciPy and PyTorch, at 1 and 2 threads, with the project's targets marked met / NOT met.

    python benchmarks/latency_table.py [--quick | --smoke] [--threads 1,2] [--out FILE]
                                       [--into docs/performance.md]
    python benchmarks/latency_table.py --from bench.json [--out FILE] [--into FILE]

The measurement is `fastconv bench --areas small`'s (src/fastconv/_bench: the workloads of
small.txt, interleaved timing, the same options); `--from` formats the small rows of a
`fastconv bench --json` file instead of measuring. The Markdown goes to stdout; `--out` writes it
to a file, `--into` replaces the marked small-work section of a file (appending it when the file
has none); both are replaced atomically, and nobody edits them by hand.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastconv._bench import cli, timing, workloads
from fastconv._bench.run import (AREAS, MISMATCH, MODES, Row, ThreadsCase, fmt_share, run_area,
                                 threads_target)
from fastconv._bench.run import threads_cases as run_threads_cases
from fastconv._bench.shapes import SMALL_CASES
from fastconv._cli import output_file
from fastconv._files import atomic_write

BEGIN = "<!-- small-work section: written by benchmarks/latency_table.py -->"
END = "<!-- end of small-work section -->"
DISTURBED = 0.10  # others' share of the CPUs above which a row is called disturbed
SHOW_DISTURBED = 6  # disturbed rows named per target line at most
CASES = {c.name: c for c in SMALL_CASES}
Json = dict[str, Any]  # a row or report as `fastconv bench --json` writes it
Ratio = tuple[float, float, float]  # (median, pessimistic, optimistic)
PEER_NAMES = {"numpy": "NumPy", "scipy": "SciPy", "torch": "PyTorch", "onnxruntime": "ONNX Runtime"}


# ---- rows as the runner's JSON has them --------------------------------------------
def row_dict(r: Row) -> Json:
    """A measured row in the shape of a `fastconv bench --json` row (the fields used here)."""
    return {"area": r.area, "workload": r.name, "shape": r.label, "threads": r.threads,
            "results": cli.results_json(r, None), "max_rel_diff": r.error,
            "others_cpu_share": r.others}


def ratio(row: Json, peer: str) -> Ratio | None:
    """(median, pessimistic, optimistic) peer time / fastconv time, or None if either is
    missing: the median over the repeats of the two times in one repeat (Row.ratio's), the
    medians' ratio for a report without the repeats' times."""
    f, p = row["results"].get("fastconv", {}), row["results"].get(peer, {})
    if "median_s" not in f or "median_s" not in p:
        return None
    mid = timing.paired_ratio(f.get("repeats_s") or [], p.get("repeats_s") or [], f["median_s"],
                              p["median_s"])
    return mid, p["min_s"] / f["max_s"], p["max_s"] / f["min_s"]


# ---- Markdown --------------------------------------------------------------------
def fmt_us(seconds: float) -> str:
    """Microseconds, three significant digits below 1,000, whole ones with separators above."""
    us = seconds * 1e6
    return f"{us:,.0f}" if us >= 1000 else cli._sig3(us)


def cell(row: Json | None, impl: str) -> str:
    if row is None:
        return "—"
    r = row["results"].get(impl)
    if r is None:
        return "—"
    return "missing" if "missing" in r else fmt_us(r["median_s"])


def fmt_ratio(x: Ratio | None) -> str:
    return "n/a" if x is None else f"{x[0]:.2f}×"


def table(rows: list[Json], threads: list[int]) -> list[str]:
    """One line per workload and peer: per thread count, fastconv's and the peer's median µs
    per call and the ratio."""
    by = {(r["workload"], r["threads"]): r for r in rows}
    names = list(dict.fromkeys(r["workload"] for r in rows))
    head = ["workload", "shape", "peer"]
    for n in threads:
        t = f"{n} thread{'s' if n > 1 else ''}"
        head += [f"fastconv µs ({t})", f"peer µs ({t})", f"ratio ({t})"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 3 else "---:"
                                                       for i in range(len(head))) + "|"]
    for name in names:
        case = CASES.get(name)
        shape = next(r["shape"] for r in rows if r["workload"] == name)
        peers = case.peers if case else [p for p in workloads.PEERS
                                         if any(p in r["results"] for r in rows if r["workload"] == name)]
        for peer in peers:
            cells = [name, shape, PEER_NAMES.get(peer, peer)]
            for n in threads:
                row = by.get((name, n))
                cells += [cell(row, "fastconv"), cell(row, peer),
                          fmt_ratio(ratio(row, peer) if row else None)]
            out.append("| " + " | ".join(cells) + " |")
    return out


def _where(row: Json) -> str:
    return f"{row['workload']} at {row['threads']} thread{'s' if row['threads'] > 1 else ''}"


def stalled(rows: list[Json], row: Json, peer: str) -> float | None:
    """The peer's median at 1 thread on `row`'s workload when, at `row`'s thread count above 1,
    the peer took longer than that: a many-image predict has work for every thread, so a peer
    slower on more threads is in a stalled run (ONNX Runtime at 2 threads falls, now and then,
    into runs of about twice its time, both its threads busy, and stays there; seen on AMD EPYC
    Zen 5 before fastconv had run in the process), not at its speed. None otherwise."""
    if row["threads"] <= 1:
        return None
    mine = row["results"].get(peer, {}).get("median_s")
    one = next((r["results"].get(peer, {}).get("median_s") for r in rows
                if r["workload"] == row["workload"] and r["threads"] == 1), None)
    return one if mine and one and mine > one else None


def verdict(what: str, pairs: list[tuple[Json, str]], target: float,
            rows: list[Json] | None = None) -> str:
    """One line: is peer time / fastconv time >= target on every (row, peer), and by how much;
    "(within the run-to-run spread)" when the worst row's slowest and fastest repeats fall on
    both sides of the target. With `rows`, a (row, peer) whose peer is stalled (`stalled`) is
    not counted: the line says so and is not met until a rerun measures it."""
    stalls = [(row, peer, one) for row, peer in pairs
              if rows is not None and (one := stalled(rows, row, peer)) is not None]
    skip = {(id(row), peer) for row, peer, _ in stalls}
    rerun = "".join(
        f" {PEER_NAMES.get(peer, peer)} took longer at {row['threads']} threads than at 1 on "
        f"{row['workload']} ({row['results'][peer]['median_s'] * 1e3:,.1f} against "
        f"{one * 1e3:,.1f} ms): a stalled run of the peer, not counted; rerun."
        for row, peer, one in stalls)
    measured: list[tuple[Json, str, Ratio]] = [
        (row, peer, x) for row, peer in pairs
        if (id(row), peer) not in skip and (x := ratio(row, peer)) is not None]
    if not measured:
        return (f"- {what}: **not established** —{rerun}" if stalls else
                f"- {what}: **not measured** (peer missing or not run)")
    worst_row, _, worst = min(measured, key=lambda m: m[2][0])
    failing = sum(1 for _, _, x in measured if x[0] < target)
    noise = " (within the run-to-run spread)" if worst[1] < target <= worst[2] else ""
    if failing == 0:
        how = f"worst {_where(worst_row)} {worst[0]:.2f}×, {100 * (worst[0] / target - 1):.0f}% above{noise}"
    else:
        how = (f"{failing} of {len(measured)} below; worst {_where(worst_row)} {worst[0]:.2f}×, needs "
               f"{target / worst[0]:.2f}× faster{noise}")
    rows = list({id(row): row for row, _, _ in measured}.values())
    disturbed = [f"{row['workload']} {row['threads']}t" for row in rows
                 if (row.get("others_cpu_share") or 0) > DISTURBED]
    if len(disturbed) > SHOW_DISTURBED:
        disturbed[SHOW_DISTURBED:] = [f"and {len(disturbed) - SHOW_DISTURBED} more of {len(rows)} rows"]
    extra = f" Disturbed by other processes: {', '.join(disturbed)}." if disturbed else ""
    met = "**met**" if failing == 0 and not stalls else "**NOT met**" if failing else "**not established**"
    return f"- {what}: {met} — {how}.{extra}{rerun}"


# Multiply-adds x 2 of one image through the lecture CNN: Conv2D(28, 3x3) on 28x28x1
# (26x26 outputs x 28 filters x 9 taps), Dense(128) on the 13x13x28 = 4,732 pooled
# values, Dense(10); pooling, bias, ReLU and softmax are not multiply-adds.
LECTURE_FLOPS = 2 * (26 * 26 * 28 * 9 + 4732 * 128 + 128 * 10)


def peak_bound(rows: list[Json], peak: float | None, mode: str) -> list[str]:
    """How close the many-image predict rows are to the FMA peak's floor, and what
    share of the peak 2x ONNX Runtime's throughput would take (rows where ONNX Runtime
    stalled left out)."""
    if not peak:
        return []
    parts = []
    for r in rows:
        case = CASES.get(r["workload"])
        ours = r["results"].get("fastconv", {}).get("median_s")
        theirs = r["results"].get("onnxruntime", {}).get("median_s")
        if (case is None or case.op != "predict" or case.in1 <= 1 or not ours or not theirs
                or stalled(rows, r, "onnxruntime")):
            continue
        images = case.size(mode)
        assert isinstance(images, int)
        floor = images * LECTURE_FLOPS / (peak * 1e9 * r["threads"])
        parts.append(f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}: floor "
                     f"{floor * 1e3:,.1f} ms, fastconv at {100 * floor / ours:.0f}% of the peak, 2× "
                     f"ONNX Runtime would need {100 * floor / (theirs / 2):.0f}%")
    if not parts:
        return []
    return [f"- The FMA peak ({peak:.1f} GFLOP/s per thread, measured at the start) bounds predict of many "
            f"images: {LECTURE_FLOPS / 1e6:.2f} MFLOP per image (conv 0.34, Dense(128) 1.21, Dense(10) "
            f"0.003) — " + "; ".join(parts) + "."]


SERIAL_PEERS = ("numpy", "scipy")  # peers whose calls here never use threads


def threads_cases(rows: list[Json]) -> list[ThreadsCase]:
    """fastconv's (median, min, max) seconds per workload at 1 thread and at each count above,
    with a serial peer's where the workload has one, for run.threads_target."""
    def spread(row: Json, impl: str) -> tuple[float, float, float] | None:
        f = row["results"].get(impl, {})
        return (f["median_s"], f["min_s"], f["max_s"]) if "median_s" in f else None

    return run_threads_cases(rows, lambda r: r["workload"], lambda r: r["threads"], spread,
                             SERIAL_PEERS)


def targets(rows: list[Json], peak: float | None = None, mode: str = "full") -> list[str]:
    """The project's small-work targets, one line each; PyTorch eager on predict for reference;
    with the FMA peak (GFLOP/s per thread), the floor it puts under predict of many images."""
    def pick(test: Callable[[Any], bool], peer: str | None = None) -> list[tuple[Json, str]]:
        out = []
        for r in rows:
            case = CASES.get(r["workload"])
            if case is not None and test(case):
                out += [(r, p) for p in case.peers if peer is None or p == peer]
        return out

    dropins = ("convolve", "correlate", "convolve2d", "correlate2d")
    lines = [
        verdict("predict of one image ≤ ONNX Runtime's latency (ratio ≥ 1.0×) at every thread count",
                pick(lambda c: c.op == "predict" and c.in1 == 1, "onnxruntime"), 1.0),
        verdict("predict of 10,000 images ≥ 2× ONNX Runtime's throughput",
                pick(lambda c: c.op == "predict" and c.in1 > 1, "onnxruntime"), 2.0, rows),
        verdict("drop-ins (convolve, correlate, convolve2d, correlate2d) ≥ 1.0× the original at "
                "every size", pick(lambda c: c.op in dropins), 1.0),
        verdict("fastconv.nn.relu ≥ 1.0× np.maximum(x, 0) at every size",
                pick(lambda c: c.op == "relu", "numpy"), 1.0),
        verdict("fastconv.nn.conv2d of one 28x28 image ≥ 1.0× torch.nn.functional.conv2d",
                pick(lambda c: c.op == "conv2d", "torch"), 1.0),
    ]
    lines.append(threads_target(threads_cases(rows)))
    lines += peak_bound(rows, peak, mode)
    eager = [(r, x) for r, p in pick(lambda c: c.op == "predict", "torch")
             if (x := ratio(r, p)) is not None]
    if eager:
        lines.append("- For reference, PyTorch eager (no target): "
                     + ", ".join(f"{r['workload']} {r['threads']}t {x[0]:.2f}×" for r, x in eager) + ".")
    return lines


def section(report: Json, rows: list[Json], command: str) -> str:
    """The marked Markdown section: how it was measured, the table, the targets."""
    v = report["versions"]
    threads = sorted({r["threads"] for r in rows})
    git = f", git {report['git']}" if report.get("git") else ""
    shares = [r["others_cpu_share"] for r in rows if r.get("others_cpu_share") is not None]
    busiest = max(shares) if shares else None
    disagree = [f"{r['workload']} {r['threads']}t ({r['max_rel_diff']:.0e})" for r in rows
                if r["max_rel_diff"] > MISMATCH]
    note = {"quick": " **Quick run: fewer images for predict (quick_in1 of small.txt), fewer and "
                     "shorter repeats.**",
            "smoke": " **Smoke run: tiny shapes, one repeat; not a measurement.**"}.get(report["mode"], "")
    date = dt.datetime.fromisoformat(report["date"]).strftime("%Y-%m-%d %H:%M UTC")
    repeats = f"{report['repeats']} repeat{'s' if report['repeats'] > 1 else ''}"
    batch = ", ".join(sorted({str(c.kernel) for c in SMALL_CASES if c.op == "predict"}))
    lines = [BEGIN, "## Small work: per-call latency", "",
             f"<!-- Generated by benchmarks/latency_table.py; do not edit by hand, rerun: {command} -->",
             "",
             f"- date: {date}; command: `{command}`{note}",
             f"- machine: {report['cpu']}",
             (f"- versions: fastconv {v['fastconv']}{git}, NumPy {v['numpy']}, SciPy {v['scipy']}, "
              f"PyTorch {v['torch']}, ONNX Runtime {v.get('onnxruntime', '?')} (model exported with "
              f"torch.onnx, onnx {v.get('onnx', '?')}), Python {v['python']}"),
             (f"- method: threads {', '.join(map(str, threads))} set alike for fastconv, PyTorch and "
              "BLAS, and ONNX Runtime's intra_op_num_threads (inter_op 1, sequential execution); "
              f"implementations interleaved round-robin; median per call of {repeats}, each a "
              f"loop of the call lasting ≥ {report['min_time_s']:g} s, after warm-up; "
              + ("" if report["mode"] == "smoke" else
                 f"predict's timed loops each follow {workloads.SETTLE_PREDICT:g} s of untimed calls "
                 "of the same implementation (the peers' threads spin on the cores after their "
                 "calls); ")
              + "every call allocates its output; ratio = peer time ÷ fastconv time in the same "
              "round, the median over the rounds (> 1: fastconv faster)"),
             ("- predict: the lecture CNN (Conv2D(28, 3×3) → MaxPooling2D → Flatten → Dense(128, "
              "relu) → Dropout(0.2) → Dense(10, softmax)) as fastconv.models.Sequential, "
              f"`model.predict(x, batch_size={batch}, verbose=0)`, against its torch.nn.Sequential "
              "twin with the same weights (eager, no autograd) and that twin exported to ONNX "
              f"(`session.run`), all in batches of {batch}, on 28×28 drawn images; outputs checked "
              "equal before timing"),
             (f"- machine load: other processes took up to {fmt_share(busiest)} of the CPUs while "
              f"a row ran (rows above {100 * DISTURBED:.0f}% are named under the targets)"), ""]
    lines += table(rows, threads) + [""]
    if disagree:
        lines += [f"**Results disagree** (max rel. diff > {MISMATCH:g}): {', '.join(disagree)}.", ""]
    lines += ["Targets (medians):", "", *targets(rows, report.get("fma_peak_gflops_per_thread"), report["mode"]), END]
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    """`text` with its marked small-work section replaced by `body` (a whole section, markers
    included), or with `body` appended when it has none."""
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        return pre + body + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + body + "\n"


def keep_small_section(old: str, new: str) -> str:
    """`new` (docs/performance.md as benchmarks/perf_table.py rewrites it) with the small-work
    section of `old`, if it had one, carried over at the end."""
    if BEGIN not in old or END not in old:
        return new
    return replace_section(new, BEGIN + old.split(BEGIN, 1)[1].split(END, 1)[0] + END)


# ---- main -------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = [n for n in workloads.THREADS if n <= workloads.available_cpus()]
    cli.add_arguments(p, ",".join(map(str, default)) + " (those of 1,2 this machine has)",
                      areas=None)
    p.add_argument("--from", dest="source", type=Path, metavar="BENCH_JSON",
                   help="format the small rows of this `fastconv bench --json` file instead of measuring")
    p.add_argument("--out", type=output_file, help="write the section here")
    p.add_argument("--into", type=output_file, metavar="FILE",
                   help="replace the small-work section of FILE (e.g. docs/performance.md)")
    args = p.parse_args(argv)
    cli.settle(args, p, default)
    return args


def measure(args: argparse.Namespace) -> tuple[Json, list[Json]]:
    """Run the small area; the report fields the section uses, and its rows."""
    started = dt.datetime.now(dt.timezone.utc)
    info = workloads.machine_info()
    res = run_area(AREAS["small"], args.vs, args.threads, args.mode, args.repeats, args.min_time)
    if res.reason:
        raise SystemExit(f"latency_table.py: the small area cannot run: {res.reason}")
    peak = timing.probe_fma(info["isa"], MODES[args.mode].fma_tries)
    report = {"date": started.isoformat(timespec="seconds"), "cpu": info["cpu"], "git": info["git"],
              "versions": {k: info[k] for k in workloads.versions()}, "mode": args.mode,
              "repeats": args.repeats, "min_time_s": args.min_time, "fma_peak_gflops_per_thread": peak}
    return report, [row_dict(r) for r in res.rows]


def load(path: Path) -> tuple[Json, list[Json]]:
    """The report and small rows of a `fastconv bench --json` file."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"latency_table.py: cannot read {path}: {exc}") from None
    rows = [r for r in report.get("rows", []) if r.get("area") == "small"]
    if not rows:
        raise SystemExit(f"latency_table.py: {path} has no rows of the small area "
                         "(run: fastconv bench --areas small --threads 1,2 --json FILE)")
    return report, rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.source is not None:
        report, rows = load(args.source)
        bench = list(report.get("command", ["fastconv"]))[1:]
        bench = [Path(a).name if i and bench[i - 1] == "--json" else a for i, a in enumerate(bench)]
        command = (f"fastconv {shlex.join(bench)}; "
                   f"python benchmarks/latency_table.py --from {args.source.name}")
    else:
        load_start = timing.load_average()
        report, rows = measure(args)
        command = shlex.join(["python", "benchmarks/latency_table.py",
                              *(sys.argv[1:] if argv is None else argv)])
        if load_start is not None:
            print(f"load average {load_start:.2f} at start, {timing.load_average():.2f} at end",
                  file=sys.stderr)
    text = section(report, rows, command)
    print(text)
    if args.out:
        with atomic_write(args.out) as f:
            f.write((text + "\n").encode())
        print(f"wrote {args.out}", file=sys.stderr)
    if args.into:
        old = Path(args.into).read_text() if Path(args.into).exists() else ""
        with atomic_write(args.into) as f:
            f.write(replace_section(old, text).encode())
        print(f"wrote the small-work section of {args.into}", file=sys.stderr)
    return 1 if any(r["max_rel_diff"] > MISMATCH for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
