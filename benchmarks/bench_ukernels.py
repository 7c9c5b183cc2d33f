"""Every registered microkernel alone, one thread, on data that stays in cache:
GFLOP/s for the compute kernels (GEMM tiles, gemv and its sparse rows, correlation,
conv+pool)
against the measured FMA peak of their ISA, GB/s for the memory-bound ones
(relu, adam, max-pool, ...) against the measured copy bandwidth. The kernels
come from the registry (_kernels.ukernels()), so a new .inc line is
benchmarked without editing this file.

    pytest benchmarks/bench_ukernels.py --benchmark-enable   # pytest-benchmark rounds
    python benchmarks/bench_ukernels.py [name-filter]        # a table with the peaks

The call loop runs in C (ukernel_run's repeat), so Python's overhead is spread
over `repeat` calls. Numbers measured while anything else runs mean little.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from fastconv import _kernels

KERNELS = _kernels.ukernels()
ISAS = _kernels.ISA_NAMES


@dataclass
class Work:
    size: str
    s: tuple[Any, ...]
    arrays: list[Any]
    flops: float  # per call (0: memory-bound)
    nbytes: float  # moved per call
    repeat: int


def _work(k: dict) -> Work:
    """A call of kernel k on in-cache data sized for its kind."""
    dt = np.dtype(k["dtype"])
    e = dt.itemsize
    rng = np.random.default_rng(0)

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(dt)

    kind = k["kind"]
    if kind == "fma_probe":  # the peak itself: its GFLOP/s is the 100% the others are read against
        chains, lanes = k["tile"]
        iters = 4096
        return Work(f"{chains} chains x {lanes} lanes", (iters,), [np.zeros(1, np.float32)],
                    2 * chains * lanes * iters, 0, 100)
    if kind == "gemm":
        mr, nr = k["tile"]
        kc = 256
        return Work(f"{mr}x{nr}, kc {kc}", (kc, mr, nr, nr, 0), [r(kc, mr), r(kc, nr), r(mr, nr), None],
                    2 * mr * nr * kc, (kc * (mr + nr) + mr * nr) * e, 2000)
    if kind == "igemm":
        mr, nr = k["tile"]
        ks, kc = 9, 64
        base = r(ks * mr * kc)
        off = np.arange(ks * mr, dtype=np.int64) * kc
        return Work(f"{mr}x{nr}, 9 taps x {kc}", (ks, kc, mr, nr, nr, 0, 1, nr, 0),
                    [base, off, np.zeros(kc, dt), r(ks * kc, nr), r(mr, nr), None],
                    2 * mr * nr * ks * kc, (ks * kc * (mr + nr) + mr * nr) * e, 1000)
    if kind == "gemv":
        nb, kc, mc = 4, 256, 256
        return Work(f"{nb}x{kc} @ {kc}x{mc}", (nb, kc, mc, kc, mc, mc, 0), [r(nb, kc), r(kc, mc), r(nb, mc)],
                    2 * nb * kc * mc, (nb * kc + kc * mc + nb * mc) * e, 200)
    if kind == "gemv_sparse":  # the fused Dense sweep's: 4 samples, 40% of 128 units, 48 features
        nb, units, mc, terms = 4, 128, 48, 51
        idx = np.sort(np.stack([rng.choice(units, terms, replace=False) for _ in range(nb)]), axis=1)
        return Work(f"{nb} rows x {terms} of {units} terms, {mc} cols", (nb, terms, mc, mc, mc, 0),
                    [np.full(nb, terms, np.uintp), idx.astype(np.uint32), r(nb, terms), r(units, mc), r(nb, mc)],
                    2 * nb * terms * mc, (nb * terms * (mc + 2) + nb * mc) * e, 2000)
    if kind in ("correlate", "ndcorrelate"):
        n, kh, kw = 2048, 3, 3
        return Work(f"{n} outputs, 3x3", (n, kh, kw, n + kw), [r(kh, n + kw), r(kh, kw), r(n)],
                    2 * n * kh * kw, (kh * n + n) * e, 500)
    if kind == "ndline":
        n, m = 4096, 5
        return Work(f"{n} x {m} taps", (n, m, 0), [r(m, n), np.arange(m, dtype=np.int64) * n,
                                                    rng.standard_normal(m), r(n)], 2 * n * m, (m + 1) * n * e, 500)
    if kind.startswith("convpool"):
        pw, K = 13, 32
        x = r(4, 2 * pw + 2)
        code = rng.integers(0, 4, pw * K).astype(np.uint8)
        flops = 2 * 4 * pw * K * 9 if not kind.endswith("_wgrad") else 2 * pw * K * 9
        arrays = ([x, r(9 * K), r(K), r(pw * K), code] if not kind.endswith("_wgrad")
                  else [x, r(pw * K), code, r(9 * K), r(K)])
        return Work(f"{pw} pooled px x {K} ch", (2 * pw + 2, pw, K), arrays, flops, (x.size + pw * K) * e, 2000)
    if kind.startswith("conv_"):  # one output row of the lecture's first layer: 26 px x 28 ch
        ow, K = 26, 28
        blocks = -(-K // _kernels.CONV_BLOCK)
        x = r(3, ow + 2)
        ldy = ow if kind.endswith("nchw") else K  # the row's channels a row apart, or its pixels
        return Work(f"{ow} px x {K} ch", (ow + 2, 1, ow, K, ldy),
                    [x, r(blocks * 9 * _kernels.CONV_BLOCK), r(blocks * _kernels.CONV_BLOCK), r(ow * K)],
                    2 * ow * K * 9, (x.size + ow * K) * e, 2000)
    n = (1 << 17) // e  # 128 KiB per array: in L2
    if kind == "relu":
        return Work(f"{n}", (n,), [r(n), r(n)], 0, 2 * n * e, 200)
    if kind == "relu_bwd":
        return Work(f"{n}", (n,), [r(n), r(n), r(n)], 0, 3 * n * e, 200)
    if kind == "relu_nt":  # the streaming stores' case: 32 MiB per array, from and to memory
        big = (32 << 20) // e
        return Work(f"{big}", (big,), [r(big), r(big)], 0, 2 * big * e, 5)
    if kind == "softmax":  # one wide row: the 1,000 classes of an ImageNet head, 8 times
        m = 8000
        return Work(f"{m}", (m,), [r(m), r(m), np.zeros(2)], 0, 2 * m * e, 2000)
    if kind == "adam":
        v = np.abs(r(n))
        return Work(f"{n}", (n, 1e-3, 0.1, 0.001, 1e-7), [r(n), r(n), r(n), v], 0, 7 * n * e, 100)
    if kind == "runsum":
        return Work(f"{n}", (n, 3.0), [rng.standard_normal(n), r(n), r(n), r(n)], 0, (3 * e + 16) * n, 200)
    if kind == "runlines":  # 8 lines of n/8 values, rows not a power of two apart
        lines, per = 8, n // 8
        ld = per + 24
        rows = np.arange(lines, dtype=np.int64) * ld
        return Work(f"{lines} x {per}", (lines, per, 3.0),
                    [rng.standard_normal(lines), r(lines * ld), rows + 5, rows, r(lines * ld), rows],
                    0, 2 * e * n, 200)
    if kind == "ndstore":  # doubles into uint8, the common image store
        return Work(f"{n} into uint8", (_kernels.ELEM_CODES["uint8"], n, 0),
                    [rng.standard_normal(n) * 300, np.zeros(n, np.uint8)], 0, 9 * n, 200)
    if kind == "unpool_code":
        nr, places = 64, 4
        return Work(f"{nr} lanes x {places} places", (nr, nr, places),
                    [r(nr), rng.integers(0, places, nr).astype(np.uint8), r(places, nr),
                     np.arange(places, dtype=np.int64) * nr], 0, (nr * (e + 1) + places * nr * e), 5000)
    if kind.startswith("maxpool"):
        nhwc = "nhwc" in kind or kind == "maxpool_code"
        C, ow = (64, 64) if nhwc else (1, 1024)
        h, w = 2, 2 * ow
        out = np.zeros(ow * C, np.uint8 if kind == "maxpool_code" else np.int64)
        return Work(f"2x2/2, {ow} px x {C} ch", (1, C, h, w, 1, ow, 2, 2, 2, 2, 1, 1, 0, 0, nhwc, 0),
                    [r(h * w * C), r(ow * C), out], 0, (h * w * C + ow * C) * e + out.nbytes, 500)
    if kind == "transpose":  # the Dense(10) head's batch of 32 x 128 features into panel rows
        nj, np_ = 32, 128
        return Work(f"{nj} x {np_}", (np_, nj, np_, nj), [r(nj, np_), r(np_, nj)], 0, 2 * nj * np_ * e, 2000)
    raise ValueError(f"no benchmark workload for kind {kind!r} ({k['name']}): add one here")


def _runner(k: dict) -> tuple[Work, Callable[[], int]]:
    w = _work(k)
    return w, lambda: _kernels.ukernel_run(k["index"], w.s, w.arrays, w.repeat)


def _runnable(k: dict) -> bool:
    return ISAS.index(k["isa"]) <= ISAS.index(_kernels.cpu_isa())


@pytest.mark.parametrize("k", KERNELS, ids=[k["name"] for k in KERNELS])
def test_ukernel(benchmark, k):
    if not _runnable(k):
        pytest.skip(f"{k['name']} needs {k['isa']}; this CPU gives {_kernels.cpu_isa()}")
    w, run = _runner(k)
    benchmark.group = f"ukernel {k['kind']} {k['dtype']}"
    benchmark.extra_info.update(kernel=k["name"], isa=k["isa"], size=w.size, calls=w.repeat,
                                gflop=w.flops * w.repeat / 1e9, gbytes=w.nbytes * w.repeat / 1e9)
    benchmark(run)


def main(argv: list[str]) -> None:
    pattern = argv[0] if argv else ""
    runnable = [isa for isa in ISAS if ISAS.index(isa) <= ISAS.index(_kernels.cpu_isa())]
    fma = {isa: max(_kernels.probe_fma_gflops(isa, 0.3) for _ in range(2)) for isa in runnable}
    copy = _kernels.probe_copy_gbps(1 << 24)
    print("peak f32 FMA GFLOP/s, one thread: " + ", ".join(f"{i} {v:.1f}" for i, v in fma.items()))
    print(f"copy bandwidth (16 MiB buffers, memory): {copy:.1f} GB/s; f64 peaks are half the f32 ones")
    print("compute kernels: share of the FMA peak; memory-bound ones (data in L2): multiple of the copy rate")
    print(f"{'kernel':48} {'size':28} {'rate':>14} {'vs peak':>8}")
    for k in KERNELS:
        if pattern not in k["name"] or not _runnable(k):
            continue
        w, run = _runner(k)
        run()  # warm up
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t0)
        per_call = best / w.repeat
        if w.flops:
            rate = w.flops / per_call / 1e9
            peak = fma[k["isa"]] * (4 / np.dtype(k["dtype"]).itemsize)
            print(f"{k['name']:48} {w.size:28} {rate:8.1f} GFLOP/s {rate / peak:7.0%}")
        else:
            rate = w.nbytes / per_call / 1e9
            print(f"{k['name']:48} {w.size:28} {rate:10.1f} GB/s {rate / copy:7.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
