"""Speed-up table of the drop-ins against NumPy and SciPy, for docs/dropins.md.

    python benchmarks/dropins_table.py [--repeats 5] [--threads 1 2] [--quick] [--out FILE] [--json FILE]

Shapes: the `table` rows of src/fastconv/_bench/dropins.txt (np.convolve and
np.correlate on a 1,000,000-sample float64 signal with 3-, 31- and 301-tap kernels
in every mode;
scipy.signal.convolve2d and correlate2d on 1024x1024 float64 and float32 images
with 3x3, 7x7 and 31x31 kernels, modes 'same', 'valid', 'full').

Method: for each thread count, fastconv gets n threads (workloads.num_threads)
and threadpoolctl limits every BLAS/OpenMP pool to n. Each call is first checked
against the reference, then fastconv and the reference are timed alternately
(interleaved), `repeats` rounds; a round runs the call in a loop grown until it
lasts >= 0.1 s and records seconds per call. Cells are median reference time /
median fastconv time (above 1: fastconv is faster); the detail table gives the
medians with min and max, and the share of all CPU time that other processes
took while the case ran (from /proc/stat); a case with more than --busy (10%)
is measured again, up to --tries (4) times, keeping the least disturbed run.
Fixed seed. On a shared machine other work slows the 2-thread column most.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
from fastconv._bench import workloads
from fastconv._bench.timing import OtherLoad
from fastconv._files import atomic_write, why_unwritable
from threadpoolctl import threadpool_limits

import dropins_workloads as dw

MIN_ROUND_S = 0.1


def header(threads) -> str:
    info = workloads.machine_info()
    return "\n".join([
        f"fastconv {info['fastconv']} (git {info['git']}, kernels built {info['kernels_built']}), "
        f"NumPy {info['numpy']}, SciPy {info['scipy']}, Python {info['python']}",
        f"ISA {info['isa']} (compiled: {info['compiled_isas']}), pool {info['thread_pool']}; "
        f"threads measured: {', '.join(map(str, threads))}",
        f"CPU: {info['cpu']}",
        f"date: {time.strftime('%Y-%m-%d %H:%M')}, load average {load()}",
    ])


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def loops_for(fn) -> int:
    """Calls per round so that a round lasts >= MIN_ROUND_S."""
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    return max(1, int(MIN_ROUND_S / max(once, 1e-7)) + 1) if once < MIN_ROUND_S else 1


def round_time(fn, loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - t0) / loops


def measure(fast, ref, repeats: int, fast_in=contextlib.nullcontext) -> dict:
    """Interleaved rounds of fastconv and the reference; seconds per call. Each
    round of fastconv's runs inside the context `fast_in()` (fastconv.patched:
    the original's own code on the replacements, entered once a round)."""
    with fast_in():
        lf = loops_for(fast)
    lr = loops_for(ref)
    tf, tr = [], []
    for _ in range(repeats):
        with fast_in():
            tf.append(round_time(fast, lf))
        tr.append(round_time(ref, lr))
    return {"fastconv": [float(np.median(tf)), min(tf), max(tf)],
            "reference": [float(np.median(tr)), min(tr), max(tr)],
            "speedup": float(np.median(tr) / np.median(tf))}


def measure_least_disturbed(fast, ref, repeats: int, tries: int, busy: float,
                            fast_in=contextlib.nullcontext) -> dict:
    """measure(), again while other processes took more than `busy` of all CPU time
    (up to `tries` attempts in all); the least disturbed attempt, with that share
    as "others_cpu"."""
    best = None
    for _ in range(tries):
        others = OtherLoad()
        r = measure(fast, ref, repeats, fast_in)
        r["others_cpu"] = others.share()
        if best is None or (r["others_cpu"] or 0) < (best["others_cpu"] or 0):
            best = r
        if (r["others_cpu"] or 0) <= busy:
            break
    return best


def run(threads: int, repeats: int, quick: bool, busy: float, tries: int) -> list[dict]:
    """Every case at one thread count. A case during which other processes took
    more than `busy` of all CPU time is measured again (up to `tries` times in
    all); the least disturbed attempt is kept and its share reported."""
    results = []
    for case in dw.CASES:
        for op, _, _ in case.ops():
            for mode in case.mode_list:
                fns = dw.calls(case, op, mode, quick)
                fast, ref = fns["fastconv"], fns[case.reference]
                err = dw.rel_error(fast(), ref())
                assert err <= dw.TOLERANCE[case.dtype], f"{case.name} {op} {mode}: error {err:.3g}"
                r = measure_least_disturbed(fast, ref, repeats, tries, busy)
                # the full-size shapes share a column per kernel; the per-call rows
                # (other sizes) get a column of their own
                column = case.kernel if case.size in ("1000000", "1024x1024") else \
                    f"{case.size} * {case.kernel}"
                r.update(table=case.kind, row=f"{op} {case.dtype} {mode}", column=column,
                         threads=threads, case=case.name)
                results.append(r)
                share = "?" if r["others_cpu"] is None else f"{100 * r['others_cpu']:.0f}%"
                print(f"  [{threads}T] {r['row']:28s} {case.kernel:6s} fastconv "
                      f"{r['fastconv'][0] * 1e3:9.3f} ms  {case.reference} "
                      f"{r['reference'][0] * 1e3:9.3f} ms  {r['speedup']:6.1f}x  "
                      f"others' CPU {share}", flush=True)
    return results


def markdown(results, table: str, threads: int, key: str) -> str:
    rows, cols = [], []
    for r in results:
        if r["table"] == table and r["threads"] == threads:
            rows += [r["row"]] if r["row"] not in rows else []
            cols += [r["column"]] if r["column"] not in cols else []
    cell = {(r["row"], r["column"]): r for r in results
            if r["table"] == table and r["threads"] == threads}
    what = "signal x taps" if table == "1d" else "image * kernel"
    out = [f"| {threads} thread{'s' if threads > 1 else ''}: {what} | " + " | ".join(cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for row in rows:
        vals = []
        for col in cols:
            r = cell.get((row, col))
            if r is None:  # this row's dtype is not measured at that size
                vals.append("-")
            elif key == "speedup":
                vals.append(f"{r['speedup']:.1f}x")
            else:
                f, ref = r["fastconv"], r["reference"]
                share = r.get("others_cpu")
                vals.append(f"{f[0] * 1e3:.3g} ({f[1] * 1e3:.3g}-{f[2] * 1e3:.3g}) / "
                            f"{ref[0] * 1e3:.3g} ({ref[1] * 1e3:.3g}-{ref[2] * 1e3:.3g})"
                            + ("" if share is None else f" [{100 * share:.0f}%]"))
        out.append(f"| {row} | " + " | ".join(vals) + " |")
    return "\n".join(out)


def parse_args(doc: str, quick_help: str) -> argparse.Namespace:
    """The command line the table scripts share; an unwritable --out or --json is
    refused before anything is measured."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=list(workloads.THREADS))
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", type=Path, help="write the markdown tables here")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--busy", type=float, default=0.10,
                        help="re-measure a case when other processes took more than this share "
                             "of all CPU time meanwhile (default 0.10)")
    parser.add_argument("--tries", type=int, default=4, help="attempts per case at most (default 4)")
    args = parser.parse_args()
    for path in (args.out, args.json):
        problem = path is not None and why_unwritable(path)
        if problem:
            parser.error(f"cannot write {path}: {problem}")
    return args


def measure_all(args: argparse.Namespace, run) -> tuple[str, list[dict]]:
    """The header (printed at once) and run(threads, repeats, quick, busy, tries)'s
    results for each thread count, with fastconv and every BLAS/OpenMP pool at it."""
    head = header(args.threads)
    print(head, flush=True)
    repeats, tries = (2, 1) if args.quick else (args.repeats, args.tries)
    results = []
    for threads in args.threads:
        with workloads.num_threads(threads), threadpool_limits(limits=threads):
            results += run(threads, repeats, args.quick, args.busy, tries)
    return head, results


def tables(markdown, results, names, threads, key: str) -> list[str]:
    """markdown(results, name, n, key) for each table name and thread count, a blank
    line after each."""
    return [line for name in names for n in threads for line in (markdown(results, name, n, key), "")]


def report(args: argparse.Namespace, head: str, results: list[dict], intro: str, body: list[str],
           slowest: str) -> None:
    """The header block, `intro`, the tables of `body` and the slowest case (`slowest`
    with the worst result's fields), printed and written to --out and --json
    (replaced atomically)."""
    worst = min(results, key=lambda r: r["speedup"])
    lines = ["```", head, f"load average after: {load()}", "```", "", intro, "", *body,
             slowest.format(**worst) + f" at {worst['threads']} thread(s): {worst['speedup']:.2f}x."]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        with atomic_write(args.out) as f:
            f.write((text + "\n").encode())
    if args.json:
        with atomic_write(args.json) as f:
            f.write(json.dumps({"header": head, "results": results}, indent=1).encode())


def main() -> None:
    args = parse_args(__doc__, "quick_size shapes, 2 repeats")
    head, results = measure_all(args, run)
    body = tables(markdown, results, ("1d", "2d"), args.threads, "speedup")
    body += [("Median ms (min-max), fastconv / reference [share of all CPU time other processes "
              "took meanwhile]:"), ""]
    body += tables(markdown, results, ("1d", "2d"), args.threads, "ms")
    report(args, head, results,
           "Speed-up: median reference time / median fastconv time (> 1: fastconv is faster).",
           body, "Slowest relative case: {row} {column}")


if __name__ == "__main__":
    main()
