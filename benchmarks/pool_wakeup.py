"""The thread pool's costs: wake-up latency, and what its idle spinning does to
a training step and to NumPy's BLAS threads.

    python benchmarks/pool_wakeup.py [--repeats 7]

1. One region on 2 threads whose shares are empty or busy-wait 2 or 20 us,
   back to back, and 20 us after a 200 us pause (the workers asleep or not,
   by the spin time), for fastconv's pool and for libgomp with
   OMP_WAIT_POLICY=passive and active (a tiny OpenMP library compiled here
   with the system's C compiler, each policy in its own process, since
   libgomp reads it once). The ideal is the share's time.
2. The lecture's training step (batch 32, mnist-5k) at 1 and 2 threads, per
   spin time of the pool.
3. The time of a NumPy matmul (BLAS threads) alone, and alternating with a
   fastconv call, per spin time: the pool's spinning must not slow BLAS.
4. The drop-ins on a busy machine: `correlate` 10^6 x 31 'full' and
   `correlate2d` 1024x1024 x 3x3 'same' at 1 and 2 threads while another
   process keeps one core busy (a region's second thread may then wait for
   the scheduler).

Medians of interleaved repeats; the machine is named in the header.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import fastconv
from fastconv import _kernels
from fastconv._bench.workloads import cpu_model

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "mnist-5k"
SPINS_NS = (0, 20_000, 50_000, 200_000)

OMP_PROBE = r"""
#include <omp.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static void busy(double ns) { double t0 = now(); while (now() - t0 < ns) {} }
double omp_region_ns(int team, long count, double work_ns, double gap_ns) {
#pragma omp parallel num_threads(team)
  busy(work_ns);
  double spent = 0;
  for (long i = 0; i < count; i++) {
    if (gap_ns > 0) busy(gap_ns);
    double t0 = now();
#pragma omp parallel num_threads(team)
    busy(work_ns);
    spent += now() - t0;
  }
  return spent / count;
}
"""

# (work per thread, pause before each region), ns
REGIONS = ((0, 0), (2_000, 0), (20_000, 0), (20_000, 200_000))


def fastconv_region_ns(work_ns: int, gap_ns: int, count: int) -> float:
    """Mean ns of one 2-thread region whose shares each busy-wait work_ns;
    gap_ns > 0 waits that long (busy, on this thread) before each region,
    outside the timing."""
    if gap_ns <= 0:
        return _kernels.probe_region_ns(2, count, work_ns)
    spent = 0.0
    for _ in range(count):
        t0 = time.perf_counter_ns()
        while time.perf_counter_ns() - t0 < gap_ns:
            pass
        spent += _kernels.probe_region_ns(2, 1, work_ns)
    return spent / count


def libgomp_region_ns(policy: str, count: int) -> list[float] | None:
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp, "p.c"), Path(tmp, "libp.so")
        src.write_text(OMP_PROBE)
        cc = os.environ.get("CC", "cc")
        if subprocess.run([cc, "-O2", "-fopenmp", "-shared", "-fPIC", str(src), "-o", str(lib)],
                          capture_output=True).returncode != 0:
            return None
        code = textwrap.dedent(f"""
            import ctypes
            lib = ctypes.CDLL({str(lib)!r})
            lib.omp_region_ns.restype = ctypes.c_double
            f = lib.omp_region_ns
            for work, gap in {REGIONS!r}:
                n = {count} if gap == 0 else {count} // 10
                print(f(2, n, ctypes.c_double(work), ctypes.c_double(gap)))
        """)
        env = dict(os.environ, OMP_WAIT_POLICY=policy)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        return [float(v) for v in out.stdout.split()] if out.returncode == 0 else None


def training_step_ms(threads: int, spin_ns: int, steps: int) -> float:
    from fastconv import _demo
    from fastconv.datasets import mnist

    (x, y), _ = mnist.load_data(DATA)
    x = x[:32 * steps].reshape(-1, 28, 28, 1).astype(np.float32) / 255
    y = y[:32 * steps]
    fastconv.set_num_threads(threads)
    _kernels.pool_spin_ns(spin_ns)
    fastconv.utils.set_random_seed(0)
    model = _demo.lecture_model(10)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model._train_step(x[:32], y[:32])  # warm-up
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        model._train_step(x[32 * i:32 * (i + 1)], y[32 * i:32 * (i + 1)])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def alternating_ms(spin_ns: int | None, rounds: int) -> float:
    """A 384x384 float64 matmul (BLAS threads), then (unless spin_ns is None)
    a 2-thread fastconv correlate2d of 256x256 by 5x5: ms per matmul, the
    matmuls alone timed."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((384, 384)), rng.standard_normal((384, 384))
    x, k = rng.standard_normal((256, 256)), rng.standard_normal((5, 5))
    fastconv.set_num_threads(2)
    if spin_ns is not None:
        _kernels.pool_spin_ns(spin_ns)
    spent = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        a @ b
        spent += time.perf_counter() - t0
        if spin_ns is not None:
            fastconv.correlate2d(x, k)
    return spent / rounds * 1e3


def busy_ms(threads: int, calls: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal(10**6), rng.standard_normal(31)
    x, k = rng.standard_normal((1024, 1024)), rng.standard_normal((3, 3))
    fastconv.set_num_threads(threads)
    out = []
    for fn in (lambda: fastconv.correlate(a, v, "full"), lambda: fastconv.correlate2d(x, k, "same")):
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out.append(statistics.median(times) * 1e3)
    return out[0], out[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    saved_spin, saved_threads = _kernels.pool_spin_ns(-1), fastconv.get_num_threads()
    print(f"CPU {cpu_model()}; fastconv {fastconv.__version__}, ISA {_kernels.current_isa()}, "
          f"numpy {np.__version__}; medians of {args.repeats} interleaved repeats")

    print("\n1. one 2-thread region, ns: shares of 0, 2 us, 20 us back to back | 20 us after a 200 us pause")
    rows: dict[str, list[list[float]]] = {}
    for _ in range(args.repeats):
        for spin in SPINS_NS:
            _kernels.pool_spin_ns(spin)
            rows.setdefault(f"fastconv pool, spin {spin // 1000} us", []).append(
                [fastconv_region_ns(w, g, 2000 if g == 0 else 200) for w, g in REGIONS])
        for policy in ("passive", "active"):
            r = libgomp_region_ns(policy, 2000)
            if r is not None:
                rows.setdefault(f"libgomp OMP_WAIT_POLICY={policy}", []).append(r)
    for name, reps in rows.items():
        med = [statistics.median(c) for c in zip(*reps)]
        print(f"  {name:<36} " + " ".join(f"{v:>9,.0f}" for v in med[:3]) + f" | {med[3]:>9,.0f}")

    print("\n2. lecture training step, ms (1 thread | 2 threads)")
    step: dict[tuple[int, int], list[float]] = {}
    for _ in range(args.repeats):
        for spin in SPINS_NS:
            for threads in (1, 2):
                step.setdefault((spin, threads), []).append(training_step_ms(threads, spin, args.steps))
    for spin in SPINS_NS:
        one, two = (statistics.median(step[(spin, t)]) for t in (1, 2))
        print(f"  spin {spin // 1000:>5} us   {one:6.3f} | {two:6.3f}   (2 threads / 1: {two / one:.2f})")

    print("\n3. matmul 384^2 (ms each), alone and alternating with 2-thread correlate2d 256^2 x 5^2")
    alt: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        alt.setdefault("alone", []).append(alternating_ms(None, 200))
        for spin in SPINS_NS:
            alt.setdefault(f"alternating, spin {spin // 1000} us", []).append(alternating_ms(spin, 200))
    for name, reps in alt.items():
        print(f"  {name:<24} {statistics.median(reps):7.3f}")

    print("\n4. one other process busy: correlate 1-D | correlate2d, ms (median of 15 calls)")
    _kernels.pool_spin_ns(saved_spin)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy: dict[int, list[tuple[float, float]]] = {}
        for _ in range(args.repeats):
            for threads in (1, 2):
                busy.setdefault(threads, []).append(busy_ms(threads, 15))
    finally:
        hog.kill()
        hog.wait()
    for threads, reps in busy.items():
        one, two = (statistics.median(c) for c in zip(*reps))
        print(f"  {threads} thread{'s' if threads > 1 else ' '}  {one:7.2f} | {two:7.2f}")

    _kernels.pool_spin_ns(saved_spin)
    fastconv.set_num_threads(saved_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
