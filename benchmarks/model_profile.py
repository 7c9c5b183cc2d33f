"""Where a training step of the lecture's CNN goes, layer by layer.

Runs the steps of the model's training plan (``fastconv._training``, what
``Sequential.fit`` runs: Conv2D+MaxPooling2D as one kernel, Dense's backward
with Adam's step when the optimizer offers it) by hand on batches of mnist-5k
and prints the median wall time of each part, then the whole ``fit`` step for
comparison: fit runs the same kernels as one sequence of C calls per step
(``Plan.train_step``), without the Python between the parts, so it takes less
than their sum.

    python benchmarks/model_profile.py [--threads 1] [--steps 400] [--rounds 10]

The last lines time fit's step both ways in one process, epochs alternating
(``--rounds`` of each, medians): as one sequence of C calls, and layer by
layer (``Plan.train_step`` declining), to the same bits.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import fastconv
from fastconv.datasets import mnist
from fastconv import _demo
from fastconv import _training
from fastconv._training import DenseStep
from fastconv.models import Sequential

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist-5k"


def lecture_model() -> Sequential:
    model = _demo.lecture_model(10)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    fastconv.set_num_threads(args.threads)
    (x, y), _ = mnist.load_data(args.data)
    x = (x / 255).astype(np.float32)[..., None]
    fastconv.utils.set_random_seed(0)
    model = lecture_model()
    model.fit(x[:320], y[:320], epochs=1, verbose=0)  # build and warm up
    opt = model.optimizer
    plan = model._plan()  # the steps fit runs (fastconv._training)
    times: dict[str, list[float]] = {}

    def timed(name, fn, *a, **k):
        t = time.perf_counter()
        out = fn(*a, **k)
        times.setdefault(name, []).append(time.perf_counter() - t)
        return out

    def label(step):
        names = " + ".join(layer.name for layer in step.layers)
        return f"{names} ({step.name})"

    for i in range(args.steps):
        lo = (i * 32) % (len(x) - 32)
        xb, yb = x[lo:lo + 32], y[lo:lo + 32]
        h = xb
        for step in plan.steps:
            h = timed(f"{label(step)} forward", step.forward, h, True)
        loss, g, pre, _ = timed("loss and its gradient", plan.head, yb, h, None)
        skip: list = []
        for k, step in enumerate(reversed(plan.steps)):
            extra = " + Adam on its kernel" if isinstance(step, DenseStep) and opt.fused_update(step.layer.kernel) is not None else ""
            g = timed(f"{label(step)} backward{extra}", step.backward, g, opt, skip, pre and k == 0)
        params = [w for layer in model.layers for w in layer.weights]
        grads = [w for layer in model.layers for w in layer.grads]
        timed("optimizer (the other weights)", opt.apply, params, grads, skip=skip)
    total = 0.0
    print(f"threads {args.threads}, median over {args.steps} steps (ms):")
    for name, ts in times.items():
        med = statistics.median(ts) * 1e3
        total += med
        print(f"  {name:45s} {med:7.3f}")
    print(f"  {'sum of the parts':45s} {total:7.3f}")
    steps = -(-len(x) // 32)
    chain = _training.Plan.train_step
    ways = {"fit, per step, one C sequence": chain, "fit, per step, layer by layer": lambda *a: None}
    per_step: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for r in range(args.rounds):
            for name in (list(ways) if r % 2 == 0 else list(ways)[::-1]):
                _training.Plan.train_step = ways[name]  # type: ignore[method-assign]
                start = time.perf_counter()
                model.fit(x, y, epochs=1, verbose=0)
                per_step[name].append((time.perf_counter() - start) / steps * 1e3)
    finally:
        _training.Plan.train_step = chain  # type: ignore[method-assign]
    for name, ts in per_step.items():
        print(f"  {name:45s} {statistics.median(ts):7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
