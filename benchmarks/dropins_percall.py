"""Per-call cost of the drop-ins against the originals, where it matters most:
small inputs, every dtype, layout and argument form a pipeline may pass.

    python benchmarks/dropins_percall.py [--repeats 9] [--out FILE]

The forms: contiguous and strided arrays (a view of every other element);
Python lists (1-D); scipy.signal's N-d correlate and convolve of 2-D arrays
(method='direct'); scipy.ndimage's filters on contiguous images, one channel
of an RGB image, and with ``output=np.float32``.

For each case (op, dtype, layout, size) the original and fastconv are timed
interleaved (`fastconv bench`'s timing.measure: `repeats` rounds, each a loop of
the call lasting >= 20 ms), and the cell is median original time / median
fastconv time (above 1: fastconv is faster). One thread for both (threadpoolctl
limits BLAS, fastconv.set_num_threads(1)), so the ratio is per-call cost and
kernel speed, not parallelism. The last line counts the cells below 1.0; a
drop-in must have none beyond noise. The sizes are the float64 rows of the
`small` bench area (src/fastconv/_bench/small.txt), which this extends to every
dtype and layout.
"""
from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np
from scipy import ndimage, signal
from threadpoolctl import threadpool_limits

import fastconv
import fastconv.ndimage
import fastconv.signal
from fastconv._bench import timing, workloads
from fastconv._bench.shapes import SMALL_CASES
from fastconv._files import atomic_write

ONE_D = {"np.convolve": (fastconv.convolve, np.convolve),
         "np.correlate": (fastconv.correlate, np.correlate)}
TWO_D = {"convolve2d": (fastconv.convolve2d, signal.convolve2d),
         "correlate2d": (fastconv.correlate2d, signal.correlate2d),
         "signal.convolve": (partial(fastconv.signal.convolve, method="direct"),
                             partial(signal.convolve, method="direct")),
         "signal.correlate": (partial(fastconv.signal.correlate, method="direct"),
                              partial(signal.correlate, method="direct"))}
# ndimage filters as (fastconv's, SciPy's, the second argument for an image of ndim dimensions)
NDIMAGE = {"nd.correlate": (fastconv.ndimage.correlate, ndimage.correlate,
                            lambda nd: np.linspace(-1.0, 1.0, 3 ** nd).reshape((3,) * nd)),
           "nd.correlate1d": (fastconv.ndimage.correlate1d, ndimage.correlate1d, lambda nd: [1.0, 2.0, 1.0]),
           "nd.gaussian_filter": (fastconv.ndimage.gaussian_filter, ndimage.gaussian_filter, lambda nd: 1.0),
           "nd.uniform_filter": (fastconv.ndimage.uniform_filter, ndimage.uniform_filter, lambda nd: 3)}
SIZES_ND = [(10,), (100,), (8, 8), (16, 16), (64, 64)]
# (signal length, taps) and (image side, kernel side), as in the small area's table
SIZES_1D = [(c.in1, c.kernel) for c in SMALL_CASES if c.op == "convolve"]
SIZES_2D = [(c.in1[0], c.kernel[0]) for c in SMALL_CASES if c.op == "convolve2d"]
ROUND_S = 0.02
DTYPES_1D = ["float64", "float32", "complex128", "int64", "int16", "bool", "float16"]
DTYPES_2D = ["float64", "float32", "complex128", "int64", "int16"]
DTYPES_ND = ["float64", "float32", "uint8", "int16", "bool", "complex128"]
LAYOUTS = ["contiguous", "strided"]
LAYOUTS_1D = LAYOUTS + ["list"]
FORMS_ND = ["contiguous", "channel", "output=float32"]


def make(rng, shape, dtype, layout):
    a = rng.standard_normal(shape) * 4
    a = a.astype(dtype) if np.dtype(dtype).kind != "b" else a > 0
    if layout == "strided":
        big = np.empty(tuple(2 * s for s in np.shape(a)), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in np.shape(a))]
        view[...] = a
        return view
    if layout == "channel":  # one channel of an RGB image
        rgb = np.zeros((*np.shape(a), 3), dtype=a.dtype)
        rgb[..., 1] = a
        return rgb[..., 1]
    if layout == "list":
        return a.tolist()
    return a


def ratio(fast, ref, repeats: int) -> tuple[float, float, float]:
    """(median ref / median fast, median fast s, median ref s), interleaved."""
    t = timing.measure({"fastconv": fast, "original": ref}, repeats, ROUND_S)
    fm, rm = t["fastconv"].median, t["original"].median
    return rm / fm, fm, rm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    info = workloads.machine_info()
    lines = [(f"fastconv {info['fastconv']}, NumPy {info['numpy']}, SciPy {info['scipy']}, "
              f"ISA {info['isa']}, 1 thread; CPU: {info['cpu']}"), ""]
    rng = np.random.default_rng(0)
    slower = []
    fastconv.set_num_threads(1)
    with threadpool_limits(1):
        for title, ops, sizes, dtypes, shape, layouts in (
                ("1-D: signal x taps", ONE_D, SIZES_1D, DTYPES_1D, lambda n: n, LAYOUTS_1D),
                ("2-D: image x kernel", TWO_D, SIZES_2D, DTYPES_2D, lambda n: (n, n), LAYOUTS)):
            heads = [f"{n}x{m}" for n, m in sizes]
            lines += [f"| {title} | " + " | ".join(heads) + " |",
                      "|---|" + "---:|" * len(heads)]
            for op, (fast, ref) in ops.items():
                for dtype in dtypes:
                    for layout in layouts:
                        cells = []
                        for n, m in sizes:
                            x = make(rng, shape(n), dtype, layout)
                            k = make(rng, shape(m), dtype, "list" if layout == "list" else "contiguous")
                            # the functions themselves, bound: no wrapper's cost in the ratio
                            r, _, _ = ratio(partial(fast, x, k), partial(ref, x, k), args.repeats)
                            cells.append(f"{r:.2f}x")
                            if r < 1.0:
                                slower.append(f"{op} {dtype} {layout} {n}x{m}: {r:.2f}x")
                        lines.append(f"| {op} {dtype} {layout} | " + " | ".join(cells) + " |")
            lines.append("")
        heads = ["x".join(map(str, s)) for s in SIZES_ND]
        lines += ["| ndimage: image, 3-tap filters | " + " | ".join(heads) + " |",
                  "|---|" + "---:|" * len(heads)]
        for op, (fast, ref, second) in NDIMAGE.items():
            for dtype in DTYPES_ND:
                for form in FORMS_ND:
                    if dtype == "complex128" and form == "output=float32":
                        continue  # SciPy promotes the output to complex, with a warning
                    cells = []
                    for size in SIZES_ND:
                        x = make(rng, size, dtype, "channel" if form == "channel" else "contiguous")
                        kw = {"output": np.float32} if form == "output=float32" else {}
                        r, _, _ = ratio(partial(fast, x, second(len(size)), **kw),
                                        partial(ref, x, second(len(size)), **kw), args.repeats)
                        cells.append(f"{r:.2f}x")
                        if r < 1.0:
                            slower.append(f"{op} {dtype} {form} {heads[SIZES_ND.index(size)]}: {r:.2f}x")
                    lines.append(f"| {op} {dtype} {form} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(f"cells below 1.0x: {len(slower)}" + (": " + "; ".join(slower) if slower else ""))
    text = "\n".join(lines)
    print(text)
    if args.out:
        with atomic_write(args.out) as f:
            f.write((text + "\n").encode())


if __name__ == "__main__":
    main()
