"""Per-call cost of the drop-ins against the originals, where it matters most:
small inputs, every dtype and layout a pipeline may pass.

    python benchmarks/dropins_percall.py [--repeats 9] [--out FILE]

For each case (op, dtype, layout, size) the original and fastconv are timed
alternately, `repeats` rounds of a loop of about 20 ms each, and the cell is
median original time / median fastconv time (above 1: fastconv is faster).
One thread for both (threadpoolctl limits BLAS, fastconv.set_num_threads(1)),
so the ratio is per-call cost and kernel speed, not parallelism. The last
line counts the cells below 1.0; a drop-in must have none beyond noise.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import signal
from threadpoolctl import threadpool_limits

import fastconv
from fastconv._bench import workloads

ONE_D = {"np.convolve": (fastconv.convolve, np.convolve),
         "np.correlate": (fastconv.correlate, np.correlate)}
TWO_D = {"convolve2d": (fastconv.convolve2d, signal.convolve2d),
         "correlate2d": (fastconv.correlate2d, signal.correlate2d)}
SIZES_1D = [(10, 3), (100, 3), (1000, 3), (10_000, 3), (10, 31), (100, 31), (1000, 31),
            (10_000, 31)]
SIZES_2D = [(4, 3), (8, 3), (16, 3), (32, 3), (64, 3)]
DTYPES_1D = ["float64", "float32", "complex128", "int64", "int16", "bool", "float16"]
DTYPES_2D = ["float64", "float32", "complex128", "int64", "int16"]
LAYOUTS = ["contiguous", "strided"]


def make(rng, shape, dtype, layout):
    a = rng.standard_normal(shape) * 4
    a = a.astype(dtype) if np.dtype(dtype).kind != "b" else a > 0
    if layout == "strided":
        big = np.empty(tuple(2 * s for s in np.shape(a)), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in np.shape(a))]
        view[...] = a
        return view
    return a


def seconds_per_call(fn, loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - t0) / loops


def ratio(fast, ref, repeats: int) -> tuple[float, float, float]:
    """(median ref / median fast, median fast s, median ref s), interleaved."""
    once = seconds_per_call(ref, 1)
    loops = max(1, int(0.02 / max(once, 1e-7)))
    f, r = [], []
    for _ in range(repeats):
        f.append(seconds_per_call(fast, loops))
        r.append(seconds_per_call(ref, loops))
    fm, rm = float(np.median(f)), float(np.median(r))
    return rm / fm, fm, rm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    info = workloads.machine_info()
    lines = [f"fastconv {info['fastconv']}, NumPy {info['numpy']}, SciPy {info['scipy']}, "
             f"ISA {info['isa']}, 1 thread; CPU: {info['cpu']}", ""]
    rng = np.random.default_rng(0)
    slower = []
    fastconv.set_num_threads(1)
    with threadpool_limits(1):
        for title, ops, sizes, dtypes, shape in (
                ("1-D: signal x taps", ONE_D, SIZES_1D, DTYPES_1D, lambda n: n),
                ("2-D: image x kernel", TWO_D, SIZES_2D, DTYPES_2D, lambda n: (n, n))):
            heads = [f"{n}x{m}" for n, m in sizes]
            lines += [f"| {title} | " + " | ".join(heads) + " |",
                      "|---|" + "---:|" * len(heads)]
            for op, (fast, ref) in ops.items():
                for dtype in dtypes:
                    for layout in LAYOUTS:
                        cells = []
                        for n, m in sizes:
                            x = make(rng, shape(n), dtype, layout)
                            k = make(rng, shape(m), dtype, "contiguous")
                            r, _, _ = ratio(lambda: fast(x, k), lambda: ref(x, k), args.repeats)
                            cells.append(f"{r:.2f}x")
                            if r < 1.0:
                                slower.append(f"{op} {dtype} {layout} {n}x{m}: {r:.2f}x")
                        lines.append(f"| {op} {dtype} {layout} | " + " | ".join(cells) + " |")
            lines.append("")
    lines.append(f"cells below 1.0x: {len(slower)}" + (": " + "; ".join(slower) if slower else ""))
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
