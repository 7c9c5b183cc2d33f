"""Call every public function many times (error paths included) and report how
much the process's resident memory and Python's object count grow.

    python tools/leaks.py [--calls 100000] [--only array|model] [--rounds 1]

A leak of even 16 bytes per call shows as ~1.6 MB per 100,000 calls; the
table lists RSS growth after a warm-up, per function, and the number of live
Python objects before and after. The model layer, the loaders and the CLI run
in-process; the CLI (which builds its parsers on every call) gets a tenth of
--calls and mnist.load_data on the 5,000-image subset (2.5 MB of gzip per
call) a hundredth, as their rows say. --rounds repeats each measurement, to
tell a one-off heap growth from a leak. Exit status 1 if any function grew the
RSS by 10 MB or more.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

import fastconv

MNIST_5K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-5k"


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


def model_cases(workdir: Path, mnist_5k: bool = True):
    """The model layer, loaders and CLI: name -> (call, share of --calls).
    A small CNN (Conv2D, MaxPooling2D, Flatten, Dense) on 32 images of 12x12;
    files go to `workdir`; the CLI's output goes to a buffer."""
    from fastconv import utils
    from fastconv.__main__ import main as cli
    from fastconv.datasets import mnist
    from fastconv.datasets.idx import read_idx, write_idx
    from fastconv.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from fastconv.models import Sequential, load_model

    utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = Sequential()
    model.add(Conv2D(4, kernel_size=(3, 3), input_shape=(12, 12, 1), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.random((32, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    saved, bad = workdir / "model.fcm", workdir / "bad.fcm"
    model.save(saved)
    bad.write_bytes(saved.read_bytes()[:200])  # truncated: not a readable zip
    images = workdir / "images.npy"
    np.save(images, (x[:8, :, :, 0] * 255).astype(np.uint8))
    digits = (rng.random((100, 28, 28)) * 255).astype(np.uint8)
    small = workdir / "mnist-100"
    small.mkdir(exist_ok=True)
    for prefix in ("train", "t10k"):  # the four files, gzipped, 100 images each
        write_idx(small / f"{prefix}-images-idx3-ubyte.gz", digits)
        write_idx(small / f"{prefix}-labels-idx1-ubyte.gz", (digits[:, 0, 0] % 10).astype(np.uint8))
    sink = io.StringIO()

    def quiet(fn):
        def call():
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                fn()
            sink.seek(0)
            sink.truncate()
        return call

    def fails(fn, *args):
        def call():
            if fn(*args) != 1:
                raise AssertionError(f"{fn.__name__}{args}: expected exit status 1")
        return call

    def expect(exc, fn, *args):
        def call():
            try:
                fn(*args)
            except exc:
                pass
        return call

    def round_trip():
        model.save(workdir / "copy.fcm")
        load_model(workdir / "copy.fcm")

    found = {
        "Sequential.predict": (lambda: model.predict(x, verbose=0), 1),
        "Sequential.evaluate": (lambda: model.evaluate(x, y, verbose=0), 1),
        "Sequential.fit (1 step)": (lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0), 1),
        "save + load_model": (round_trip, 1),
        "read_idx (100 images, gz)": (lambda: read_idx(small / "t10k-images-idx3-ubyte.gz"), 1),
        "mnist.load_data (100)": (lambda: mnist.load_data(small), 1),
        "CLI predict (in-process)": (quiet(lambda: cli(["predict", str(saved), str(images)])), 0.1),
        "load_model error": (expect(ValueError, load_model, bad), 1),
        "load_data missing path": (expect(mnist.DatasetNotFoundError, mnist.load_data, workdir / "none"), 1),
        "CLI predict error": (quiet(fails(cli, ["predict", str(bad), str(images)])), 0.1),
    }
    if mnist_5k and MNIST_5K.is_dir():
        found["mnist.load_data (mnist-5k)"] = (lambda: mnist.load_data(MNIST_5K), 0.01)
    return found


def measure(name: str, fn, calls: int) -> int:
    """Warm up, call `fn` `calls` times, print one table row; the RSS growth."""
    for _ in range(min(2000, max(10, calls // 10))):  # warm-up: caches, allocator pools
        fn()
    gc.collect()
    objects, rss = len(gc.get_objects()), rss_bytes()
    for _ in range(calls):
        fn()
    gc.collect()
    grown = rss_bytes() - rss
    print(f"{name:28s} {calls:8d} {grown / 2**20:9.2f} MiB {objects:>10d}/{len(gc.get_objects()):<10d}",
          flush=True)
    return grown


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--only", choices=("array", "model"), help="one of the two tables")
    ap.add_argument("--rounds", type=int, default=1, help="measurements per function (default 1)")
    args = ap.parse_args()
    worst = 0
    print(f"{'function':28s} {'calls':>8s} {'RSS growth':>12s} {'objects before/after':>22s}")
    if args.only != "model":
        for name, fn in cases().items():
            for _ in range(args.rounds):
                worst = max(worst, measure(name, fn, args.calls))
    if args.only != "array":
        with tempfile.TemporaryDirectory() as tmp:
            for name, (fn, share) in model_cases(Path(tmp)).items():
                for _ in range(args.rounds):
                    worst = max(worst, measure(name, fn, max(1, int(args.calls * share))))
    print(f"largest growth {worst / 2**20:.2f} MiB")
    return 1 if worst >= 10 * 2**20 else 0


if __name__ == "__main__":
    sys.exit(main())
