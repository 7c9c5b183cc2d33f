"""Repeated calls, error paths included, do not grow memory or the object count
(a short run of tools/leaks.py; the 100,000-call figures are in docs/reliability.md)."""
from __future__ import annotations

import gc
import importlib.util
import tempfile
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("leaks", Path(__file__).parent.parent / "tools" / "leaks.py")
leaks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(leaks)
CASES = leaks.cases()


@pytest.mark.parametrize("name", list(CASES))
def test_repeated_calls_do_not_grow_memory(name):
    fn = CASES[name]
    for _ in range(3000):  # warm-up: allocator pools, caches, the first heap growth
        fn()
    gc.collect()
    objects, rss = len(gc.get_objects()), leaks.rss_bytes()
    for _ in range(20000):
        fn()
    gc.collect()
    # 20,000 calls leaking even 64 bytes each would add 1.2 MiB, and one object
    # in 200 calls 100 objects (12 more were seen once in about 30 runs of this
    # file, the other runs adding none: not a leak of the calls')
    assert leaks.rss_bytes() - rss < 1 << 20, f"{name}: RSS grew by {leaks.rss_bytes() - rss} bytes"
    assert len(gc.get_objects()) <= objects + 100, f"{name}: live objects {objects} -> {len(gc.get_objects())}"



# The model layer, loaders and CLI (in-process), as many calls as
# `tools/leaks.py --calls 500` makes (at least 100 each): about 4 s in all.
_WORKDIR = tempfile.TemporaryDirectory(prefix="fastconv-leaks-")
MODEL_CASES = leaks.model_cases(Path(_WORKDIR.name), mnist_5k=False)


@pytest.mark.parametrize("name", list(MODEL_CASES))
def test_model_layer_loaders_and_cli_do_not_grow_memory(name):
    fn, share = MODEL_CASES[name]
    start = time.perf_counter()
    for _ in range(3000):  # warm-up, at most 0.3 s: caches (pathlib's interned names), pools
        fn()
        if time.perf_counter() - start > 0.3:
            break
    gc.collect()
    objects, rss = len(gc.get_objects()), leaks.rss_bytes()
    for _ in range(max(100, int(500 * share))):
        fn()
    gc.collect()
    assert leaks.rss_bytes() - rss < 1 << 20, f"{name}: RSS grew by {leaks.rss_bytes() - rss} bytes"
    assert len(gc.get_objects()) <= objects + 10, f"{name}: live objects {objects} -> {len(gc.get_objects())}"


def test_a_threads_kept_scratch_goes_with_the_thread():
    """A thread that runs a product keeps its scratch (about 600 KB for this one) for
    its next call, and gives it back when it ends: 300 short-lived threads leave
    the resident size where one left it (kept blocks would add about 180 MB)."""
    import threading

    import numpy as np

    from fastconv import nn
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4732), dtype=np.float32)
    w = rng.standard_normal((4732, 128), dtype=np.float32)
    gy = rng.standard_normal((32, 128), dtype=np.float32)
    gx = np.empty_like(x)

    def run():
        nn.dense_backward(gy, x, w, output_mask=(True, False, False), out=(gx, None, None))

    def in_a_thread():
        t = threading.Thread(target=run)
        t.start()
        t.join()

    for _ in range(20):  # warm-up: the thread stacks' and the heap's first growth
        in_a_thread()
    gc.collect()
    rss = leaks.rss_bytes()
    for _ in range(300):
        in_a_thread()
    gc.collect()
    assert leaks.rss_bytes() - rss < 16 << 20, f"RSS grew by {leaks.rss_bytes() - rss} bytes"
