"""Speed-up table of fastconv.signal.convolve against scipy.signal.convolve (N-d).

    python benchmarks/signal_table.py [--repeats 5] [--threads 1 2] [--quick] [--out FILE] [--json FILE]

Shapes: src/fastconv/_bench/signal.txt (the 1-D and 2-D shapes of docs/dropins.md, 256x256
images with 64x64 kernels, 3-D volumes), float64 and float32, every mode listed
there, `method` as listed: 'auto' decides as SciPy's choose_conv_method, so both
sides run the same algorithm class (the column `method` says which); 'direct'
rows time SciPy's own N-d loop.

Method: as dropins_table.py. For each thread count, fastconv gets n threads and
threadpoolctl limits every BLAS/OpenMP pool to n (SciPy's FFT runs its default
single worker, fastconv's takes n). Each call is first checked against SciPy,
then the two are timed alternately (interleaved), `repeats` rounds of at least
0.1 s each; cells are median SciPy time / median fastconv time (above 1:
fastconv is faster), with the share of all CPU time other processes took
meanwhile (a case above --busy is measured again, up to --tries times).
"""
from __future__ import annotations

from dataclasses import dataclass

import fastconv.signal
import numpy as np
from fastconv._bench.shapes import read_table
from scipy import signal as sps

from dropins_table import measure_least_disturbed, measure_all, parse_args, report

SEED = 0


@dataclass(frozen=True)
class SignalCase:
    name: str
    dtype: str
    size: str
    kernel: str
    modes: str
    method: str
    quick_size: str
    quick_kernel: str
    description: str

    def shapes(self, quick: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
        dims = (lambda text: tuple(int(v) for v in text.split("x")))
        return (dims(self.quick_size), dims(self.quick_kernel)) if quick else \
            (dims(self.size), dims(self.kernel))


def _call(fn, args):
    return lambda: fn(*args)


CASES = [SignalCase(**row) for row in read_table("signal.txt")]


def run(threads: int, repeats: int, quick: bool, busy: float, tries: int) -> list[dict]:
    results = []
    rng = np.random.default_rng(SEED)
    for case in CASES:
        s1, s2 = case.shapes(quick)
        x = rng.standard_normal(s1).astype(case.dtype)
        k = rng.standard_normal(s2).astype(case.dtype)
        for mode in case.modes.split(","):
            args = (x, k, mode, case.method)
            fast, ref = _call(fastconv.signal.convolve, args), _call(sps.convolve, args)
            want = ref()
            got = fast()
            assert got.shape == want.shape and got.dtype == want.dtype, (case.name, mode)
            err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))
            limit = 1e-4 if case.dtype == "float32" else 1e-10
            assert err <= limit, f"{case.name} {mode}: relative error {err:.3g}"
            chosen = case.method if case.method != "auto" else sps.choose_conv_method(x, k, mode)
            best = measure_least_disturbed(fast, ref, repeats, tries, busy)
            r = dict(best, case=case.name, threads=threads, mode=mode, method=case.method,
                     chosen=chosen, dtype=case.dtype, shapes=f"{'x'.join(map(str, s1))} * "
                     f"{'x'.join(map(str, s2))}")
            results.append(r)
            share = "?" if r["others_cpu"] is None else f"{100 * r['others_cpu']:.0f}%"
            print(f"  [{threads}T] {case.name:6s} {r['shapes']:24s} {mode:5s} {case.method:6s}"
                  f" ({chosen:6s}) fastconv {r['fastconv'][0] * 1e3:9.3f} ms  scipy "
                  f"{r['reference'][0] * 1e3:9.3f} ms  {r['speedup']:6.2f}x  others' CPU {share}",
                  flush=True)
    return results


def markdown(results: list[dict], threads: int) -> str:
    out = [(f"| {threads} thread{'s' if threads > 1 else ''}: convolve | dtype | mode | method "
            "(runs) | fastconv ms | SciPy ms | speed-up |"),
           "|---|---|---|---|---:|---:|---:|"]
    for r in results:
        if r["threads"] != threads:
            continue
        f, s = r["fastconv"], r["reference"]
        share = "" if r.get("others_cpu") is None else f" [{100 * r['others_cpu']:.0f}%]"
        out.append(f"| {r['shapes']} | {r['dtype']} | {r['mode']} | {r['method']} ({r['chosen']}) | "
                   f"{f[0] * 1e3:.3g} ({f[1] * 1e3:.3g}-{f[2] * 1e3:.3g}) | "
                   f"{s[0] * 1e3:.3g} ({s[1] * 1e3:.3g}-{s[2] * 1e3:.3g}) | "
                   f"{r['speedup']:.2f}x{share} |")
    return "\n".join(out)


def main() -> None:
    args = parse_args(__doc__, "quick shapes, 2 repeats")
    head, results = measure_all(args, run)
    body = [line for n in args.threads for line in (markdown(results, n), "")]
    report(args, head, results,
           ("Speed-up: median SciPy time / median fastconv time (> 1: fastconv is faster); "
            "'auto' runs what SciPy's choose_conv_method picks (in brackets) on both sides."),
           body, "Slowest relative case: {shapes} {mode} {method}")

if __name__ == "__main__":
    main()
