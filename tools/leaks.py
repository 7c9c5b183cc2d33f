"""Call every public function many times (error paths included) and report how
much the process's resident memory and Python's object count grow.

    python tools/leaks.py [--calls 100000]

A leak of even 16 bytes per call shows as ~1.6 MB per 100,000 calls; the
table lists RSS growth after a warm-up, per function, and the number of live
Python objects before and after. Exit status 1 if any function grew the RSS by
10 MB or more.
"""
from __future__ import annotations

import argparse
import gc
import sys

import numpy as np

import fastconv


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = fastconv.conv2d(x, w, b, padding=1)
    p, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    a, v = rng.standard_normal(200), rng.standard_normal(7)
    img, ker = rng.standard_normal((20, 20)), rng.standard_normal((3, 3))

    def bad(fn, *args, **kw):
        def call():
            try:
                fn(*args, **kw)
            except (ValueError, TypeError):
                pass
        return call

    return {
        "conv2d": lambda: fastconv.conv2d(x, w, b, padding=1),
        "conv2d NHWC": lambda: fastconv.conv2d(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), layout="NHWC"),
        "conv2d_backward": lambda: fastconv.conv2d_backward(y, x, w, padding=1),
        "relu": lambda: fastconv.relu(x),
        "relu_backward": lambda: fastconv.relu_backward(x, x),
        "max_pool2d": lambda: fastconv.max_pool2d(x, 2, return_indices=True),
        "max_pool2d_backward": lambda: fastconv.max_pool2d_backward(p, x, idx, 2),
        "convolve": lambda: fastconv.convolve(a, v),
        "correlate": lambda: fastconv.correlate(a, v, "same"),
        "convolve2d": lambda: fastconv.convolve2d(img, ker, boundary="wrap"),
        "correlate2d": lambda: fastconv.correlate2d(img, ker, mode="same"),
        "conv2d error": bad(fastconv.conv2d, x, w[:, :2]),
        "max_pool2d error": bad(fastconv.max_pool2d, x, 2, padding=3),
        "pool_backward bad index": bad(fastconv.max_pool2d_backward, p, x, idx + 10**6, 2),
        "convolve error": bad(fastconv.convolve, [], v),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    args = ap.parse_args()
    worst = 0
    print(f"{'function':26s} {'calls':>8s} {'RSS growth':>12s} {'objects before/after':>22s}")
    for name, fn in cases().items():
        for _ in range(min(2000, args.calls)):  # warm-up: caches, allocator pools
            fn()
        gc.collect()
        objects, rss = len(gc.get_objects()), rss_bytes()
        for _ in range(args.calls):
            fn()
        gc.collect()
        grown = rss_bytes() - rss
        worst = max(worst, grown)
        print(f"{name:26s} {args.calls:8d} {grown / 2**20:9.2f} MiB {objects:>10d}/{len(gc.get_objects()):<10d}")
    print(f"largest growth {worst / 2**20:.2f} MiB")
    return 1 if worst >= 10 * 2**20 else 0


if __name__ == "__main__":
    sys.exit(main())
