"""The threaded calls of the fork matrix (tests/test_fork.py), as a script.

``python fork_workloads.py METHOD`` runs every workload in this process on
fastconv's threads, then again in a child made by METHOD (``os.fork``, or a
``multiprocessing`` start method through a Pool or a ProcessPoolExecutor), and
prints one JSON line: per workload, the digest of the parent's and the child's
result and the thread count each saw. A child that hangs is the caller's
timeout to catch.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import fastconv
from fastconv import layers, models


def _data():
    rng = np.random.default_rng(7)
    return {
        "image": rng.standard_normal((1000, 1000)),
        "taps": rng.standard_normal((5, 5)),
        "signal": rng.standard_normal(20000),
        "long_kernel": rng.standard_normal(500),
        "batch": rng.standard_normal((16, 8, 40, 40)).astype(np.float32),
        "filters": rng.standard_normal((16, 8, 3, 3)).astype(np.float32),
        "digits": rng.random((256, 28, 28, 1)).astype(np.float32),
        "labels": rng.integers(0, 10, 256),
    }


def _model():
    fastconv.utils.set_random_seed(3)
    model = models.Sequential([
        layers.Conv2D(8, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(d):
    model = _model()
    model.fit(d["digits"], d["labels"], batch_size=32, epochs=1, shuffle=False, verbose=0)
    return np.concatenate([w.ravel() for w in model.get_weights()])


WORKLOADS = {
    "direct drop-in": lambda d: fastconv.convolve2d(d["image"], d["taps"]),
    "fft drop-in": lambda d: fastconv.convolve(d["signal"], d["long_kernel"], method="fft"),
    "conv2d": lambda d: fastconv.conv2d(d["batch"], d["filters"], padding=1),
    "model.predict": lambda d: _model().predict(d["digits"], verbose=0),
    "model.fit": _fit,
}


def run_all() -> dict:
    """Every workload here: {name: [digest, threads]}."""
    fastconv._kernels.parallel_threshold_ns(0)  # threads for every call, however small
    d = _data()
    out = {}
    for name, fn in WORKLOADS.items():
        y = np.ascontiguousarray(fn(d))
        out[name] = [hashlib.sha256(y.tobytes()).hexdigest(), fastconv.get_num_threads()]
    return out


def _in_child(method: str) -> dict:
    if method == "os.fork":
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.write(w, json.dumps(run_all()).encode())
            finally:
                os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        os.waitpid(pid, 0)
        return json.loads(b"".join(chunks))
    kind, start = method.split(":")
    ctx = mp.get_context(start)
    if kind == "pool":
        with ctx.Pool(1) as pool:
            return pool.apply(run_all)
    with ProcessPoolExecutor(1, mp_context=ctx) as ex:
        return ex.submit(run_all).result()


if __name__ == "__main__":
    method = sys.argv[1]
    parent = run_all()
    child = _in_child(method)
    print(json.dumps({"parent": parent, "child": child, "workers": fastconv._kernels.pool_workers()}))
