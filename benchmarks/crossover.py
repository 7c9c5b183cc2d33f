"""Measure the direct-vs-FFT crossover behind fastconv's drop-ins, on this machine.

    python benchmarks/crossover.py            # fit the cost model, then check it
    python benchmarks/crossover.py --quick    # fewer repeats

1. Times the direct C kernels (one thread, the ISA in use) on 1-D and 2-D
   shapes with kernels long enough that per-call overhead does not matter, and
   reports seconds per multiply-add for float32 and float64.
2. Times the overlap-save FFT path (numpy.fft, float64, one thread) at several
   block lengths and fits seconds = a * points * log2(block points) + b * points
   by least squares (points: all transformed points, block points: one block's).
3. With those constants (the ones in src/fastconv/_correlate.py are pasted from
   here), sweeps the kernel length for 1-D and 2-D shapes and prints, per
   thread count, the time of both paths, the one the model picks, and whether
   that pick was the faster, so a wrong constant shows up as a wrong pick.

Medians of interleaved repeats; the machine may be shared, so run it twice.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import fastconv
from fastconv import _correlate, _kernels


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def direct_rate(dtype, repeats: int) -> float:
    rng = np.random.default_rng(0)
    shapes = [((1, 1 << 18), (1, 256)), ((1, 1 << 18), (1, 1024)),
              ((512, 512), (9, 9)), ((512, 512), (17, 17))]
    rates = []
    for xs, ks in shapes:
        x = rng.standard_normal(xs).astype(dtype)
        k = rng.standard_normal(ks).astype(dtype)
        out = (xs[0] - ks[0] + 1, xs[1] - ks[1] + 1)
        t = median_time(lambda: _correlate._direct(x, k, (0, 0), out, 0, 0.0), repeats)
        rates.append(t / (out[0] * out[1] * ks[0] * ks[1]))
        print(f"  direct {np.dtype(dtype).name:8s} x{xs} k{ks}: {t * 1e3:8.2f} ms, "
              f"{rates[-1] * 1e12:6.1f} ps/MAC")
    return float(np.median(rates))


def fft_fit(repeats: int) -> tuple[float, float]:
    """Time the overlap-save FFT path at several block lengths (one thread) and fit
    seconds = a * points * log2(block points) + b * points."""
    rng = np.random.default_rng(1)
    cases = [((1, 1 << 18), (1, 301), n) for n in (1024, 4096, 16384)]
    cases += [((1, 1 << 20), (1, 3001), n) for n in (8192, 32768)]
    cases += [((512, 512), (15, 15), n) for n in (64, 128, 256, 529)]
    cases += [((1024, 1024), (31, 31), n) for n in (128, 256, 1080)]
    rows, ts = [], []
    for xs, ks, n in cases:
        x, k = rng.standard_normal(xs), rng.standard_normal(ks)
        out = (xs[0] - ks[0] + 1, xs[1] - ks[1] + 1)
        lengths = (1 if xs[0] == 1 else n, n)
        blocks = tuple(-(-o // (ln - kn + 1)) for o, kn, ln in zip(out, ks, lengths))
        plan = (0.0, blocks, lengths)
        t = median_time(lambda: _correlate._fft(x, k, (0, 0), out, 0, 0.0, plan), repeats)
        points = blocks[0] * blocks[1] * lengths[0] * lengths[1]
        rows.append((points * math.log2(lengths[0] * lengths[1]), points))
        ts.append(t)
        model = _correlate._fft_seconds(blocks, lengths, False, 1)
        print(f"  fft x{xs} k{ks} blocks {blocks} of {lengths}: {t * 1e3:8.2f} ms "
              f"(model now {model * 1e3:8.2f} ms)")
    (a, b), *_ = np.linalg.lstsq(np.array(rows, dtype=float), np.array(ts), rcond=None)
    return float(a), float(b)


def sweep(repeats: int) -> None:
    rng = np.random.default_rng(2)
    cases = [((1, 1_000_000), [(1, m) for m in (31, 63, 127, 301, 1000)]),
             ((1, 20_000), [(1, m) for m in (63, 127, 255, 511)]),
             ((1024, 1024), [(k, k) for k in (5, 7, 9, 11, 13, 15, 19, 31)]),
             ((200, 200), [(k, k) for k in (5, 7, 9, 11, 15, 21)])]
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        _correlate._fft_plan.cache_clear()
        print(f"\nthreads={threads}: mode 'same', float64")
        wrong = 0
        for xs, kernels in cases:
            x = rng.standard_normal(xs)
            for ks in kernels:
                k = rng.standard_normal(ks)
                pad = ((ks[0] - 1) // 2, (ks[1] - 1) // 2)
                plan = _correlate._fft_plan(xs, ks, False, threads)
                td = median_time(lambda: _correlate._direct(x, k, pad, xs, 0, 0.0), repeats)
                tf = median_time(lambda: _correlate._fft(x, k, pad, xs, 0, 0.0, plan), repeats)
                tdm = _correlate._direct_seconds(xs[0] * xs[1] * ks[0] * ks[1],
                                                 np.dtype(np.float64), threads)
                pick_fft = plan[0] < tdm
                right = pick_fft == (tf < td)
                wrong += not right
                verdict = "ok" if right else "WRONG (costs %.0f%%)" % (
                    100 * (max(td, tf) / min(td, tf) - 1))
                print(f"  x{xs} k{ks}: direct {td * 1e3:7.2f} ms (model {tdm * 1e3:7.2f})  "
                      f"fft {tf * 1e3:7.2f} ms (model {plan[0] * 1e3:7.2f}, blocks {plan[2]})  "
                      f"picks {'fft   ' if pick_fft else 'direct'} {verdict}")
        print(f"  {wrong} wrong picks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    print(f"fastconv {fastconv.__version__}, numpy {np.__version__}, ISA {_kernels.current_isa()}")
    fastconv.set_num_threads(1)
    r32 = direct_rate(np.float32, repeats)
    r64 = direct_rate(np.float64, repeats)
    a, b = fft_fit(repeats)
    print(f"\n_DIRECT_S_PER_MAC = {{_F32: {r32:.3g}, _F64: {r64:.3g}}}")
    print(f"_FFT_S_PER_POINT_LOG = {a:.3g}\n_FFT_S_PER_POINT = {b:.3g}")
    print("(now in _correlate.py: "
          f"{_correlate._DIRECT_S_PER_MAC[np.dtype(np.float32)]:.3g}, "
          f"{_correlate._DIRECT_S_PER_MAC[np.dtype(np.float64)]:.3g}, "
          f"{_correlate._FFT_S_PER_POINT_LOG:.3g}, {_correlate._FFT_S_PER_POINT:.3g})")
    sweep(repeats)


if __name__ == "__main__":
    main()
