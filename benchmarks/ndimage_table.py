"""Speed-up table of fastconv.ndimage against scipy.ndimage, for docs/dropins.md.

    python benchmarks/ndimage_table.py [--repeats 5] [--threads 1 2] [--quick] [--out FILE] [--json FILE]

Workloads: correlate on a 1024x1024 float64 image with 3x3 and 5x5 kernels
('reflect'), and on a 128x128x128 float32 volume with 3x3x3; gaussian_filter on
1024x1024 float32 and float64 with sigma 1, 2 and 5; uniform_filter on 1024x1024
float64 and uint8 with size 3, 9 and 31; and, per call, small images (16x16 to
256x256), where the calls' Python overheads weigh most; and "patched": SciPy's own
filters that call the replaced ones (sobel, prewitt, laplace, gaussian_laplace,
gaussian_gradient_magnitude, gaussian_filter with a mode per axis) on 16x16, 128x128 and
1024x1024 images, run under fastconv.patch() against SciPy unpatched. --quick shrinks the
large shapes (256x256, 32^3) to check that the script runs.

Method (as benchmarks/dropins_table.py): for each thread count, fastconv gets n
threads and threadpoolctl limits every BLAS/OpenMP pool to n; each call is first
checked against SciPy (the same bits, or float32 correlate within 1e-5 of the
result's scale), then fastconv and SciPy are timed alternately, `repeats` rounds
of >= 0.1 s each. Cells are median SciPy time / median fastconv time (above 1:
fastconv is faster); the detail table gives the medians with min and max and the
share of CPU time other processes took meanwhile (a case above --busy is measured
again, up to --tries times, keeping the least disturbed run). Fixed seed.
"""
from __future__ import annotations

import contextlib

import fastconv
import fastconv.ndimage as fndi
import numpy as np
import scipy.ndimage as sndi
from fastconv._bench import workloads

from dropins_table import measure_least_disturbed, measure_all, parse_args, report, tables


def cases(quick: bool) -> list[tuple[str, str, str, object, tuple, dict]]:
    """(table, row, column, function name, args, kwargs) of every workload."""
    rng = np.random.default_rng(workloads.SEED)
    side, cube = (256, 32) if quick else (1024, 128)
    big = f"{side}x{side}"
    img64 = rng.random((side, side))
    img32 = img64.astype(np.float32)
    img8 = rng.integers(0, 256, (side, side), dtype=np.uint8)
    vol32 = rng.random((cube, cube, cube), dtype=np.float32)
    out = []
    for k in (3, 5):
        w = rng.random((k, k))
        out.append(("large", f"correlate float64 {big}", f"{k}x{k}", "correlate", (img64, w),
                    {"mode": "reflect"}))
    out.append(("large", f"correlate float32 {cube}^3", "3x3x3", "correlate",
                (vol32, rng.random((3, 3, 3))), {"mode": "reflect"}))
    for img, dt in ((img32, "float32"), (img64, "float64")):
        for sigma in (1, 2, 5):
            out.append(("large", f"gaussian_filter {dt} {big}", f"sigma {sigma}",
                        "gaussian_filter", (img, sigma), {}))
    for img, dt in ((img64, "float64"), (img8, "uint8")):
        for size in (3, 9, 31):
            out.append(("large", f"uniform_filter {dt} {big}", f"size {size}", "uniform_filter",
                        (img, size), {}))
    for n in (16, 64, 256):
        small = rng.random((n, n))
        small8 = (small * 255).astype(np.uint8)
        col = f"{n}x{n}"
        out += [("small", "correlate float64 3x3", col, "correlate", (small, rng.random((3, 3))), {}),
                ("small", "correlate1d float64 3 taps", col, "correlate1d", (small, [1.0, 2.0, 1.0]), {}),
                ("small", "gaussian_filter float64 sigma 1", col, "gaussian_filter", (small, 1), {}),
                ("small", "uniform_filter uint8 size 3", col, "uniform_filter", (small8, 3), {})]
    for n in (16, 128, side):
        img8 = rng.integers(0, 256, (n, n), dtype=np.uint8)
        img32 = rng.random((n, n), dtype=np.float32)
        col = f"{n}x{n}"
        out += [("patched", "sobel uint8", col, "scipy.sobel", (img8,), {}),
                ("patched", "prewitt uint8 axis 0", col, "scipy.prewitt", (img8, 0), {}),
                ("patched", "laplace uint8", col, "scipy.laplace", (img8,), {}),
                ("patched", "gaussian_laplace uint8 sigma 2", col, "scipy.gaussian_laplace",
                 (img8, 2.0), {}),
                ("patched", "gaussian_gradient_magnitude float32 sigma 2", col,
                 "scipy.gaussian_gradient_magnitude", (img32, 2.0), {}),
                ("patched", "gaussian_filter uint8 modes (nearest, wrap)", col, "scipy.gaussian_filter",
                 (img8, 1.5), {"mode": ("nearest", "wrap")})]
    return out


def check(name: str, got: np.ndarray, want: np.ndarray) -> None:
    """SciPy's bits, or (float32 N-d correlate) a direct float32 sum's rounding."""
    assert got.dtype == want.dtype and got.shape == want.shape, name
    if got.dtype == np.float32 and name == "correlate":
        scale = float(np.abs(want).max())
        assert np.abs(got.astype(np.float64) - want).max() <= 1e-5 * scale, name
    else:
        assert np.array_equal(got, want), f"{name}: not SciPy's values"


def _call(func, args: tuple, kwargs: dict):
    return lambda: func(*args, **kwargs)


def run(threads: int, repeats: int, quick: bool, busy: float, tries: int) -> list[dict]:
    results = []
    for table, row, column, name, args, kwargs in cases(quick):
        fast_in = contextlib.nullcontext
        if name.startswith("scipy."):  # SciPy's own filter, run on fastconv's under the patch
            name, fast_in = name[len("scipy."):], fastconv.patched
            fast = _call(getattr(sndi, name), args, kwargs)
        else:
            fast = _call(getattr(fndi, name), args, kwargs)
        ref = _call(getattr(sndi, name), args, kwargs)
        with fast_in():
            got = fast()
        check(name, got, ref())
        best = measure_least_disturbed(fast, ref, repeats, tries, busy, fast_in)
        best.update(table=table, row=row, column=column, threads=threads)
        results.append(best)
        share = "?" if best["others_cpu"] is None else f"{100 * best['others_cpu']:.0f}%"
        print(f"  [{threads}T] {row:34s} {column:8s} fastconv {best['fastconv'][0] * 1e3:9.3f} ms  "
              f"scipy {best['reference'][0] * 1e3:9.3f} ms  {best['speedup']:6.2f}x  "
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
    out = [f"| {threads} thread{'s' if threads > 1 else ''}: {table} | " + " | ".join(cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for row in rows:
        vals = []
        for col in cols:
            r = cell.get((row, col))
            if r is None:
                vals.append("-")
            elif key == "speedup":
                vals.append(f"{r['speedup']:.2f}x")
            else:
                f, ref, share = r["fastconv"], r["reference"], r.get("others_cpu")
                vals.append(f"{f[0] * 1e3:.3g} ({f[1] * 1e3:.3g}-{f[2] * 1e3:.3g}) / "
                            f"{ref[0] * 1e3:.3g} ({ref[1] * 1e3:.3g}-{ref[2] * 1e3:.3g})"
                            + ("" if share is None else f" [{100 * share:.0f}%]"))
        out.append(f"| {row} | " + " | ".join(vals) + " |")
    return "\n".join(out)


def main() -> None:
    args = parse_args(__doc__, "small shapes, 2 repeats")
    head, results = measure_all(args, run)
    names = ("large", "small", "patched")
    body = tables(markdown, results, names, args.threads, "speedup")
    body += [("Median ms (min-max), fastconv / SciPy [share of all CPU time other processes "
              "took meanwhile]:"), ""]
    body += tables(markdown, results, names, args.threads, "ms")
    report(args, head, results,
           "Speed-up: median scipy.ndimage time / median fastconv.ndimage time (> 1: fastconv is faster).",
           body, "Slowest relative case: {row} {column}")

if __name__ == "__main__":
    main()
