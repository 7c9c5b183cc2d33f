"""set_num_threads from one Python thread while others compute: no crash, and
every result equals the serial one -- bitwise where the result does not depend
on the thread count (conv2d, relu, max_pool2d, the drop-ins, which sum each
output directly in one order), within rounding where it does (conv2d_backward's
weight gradient sums per-thread shares)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastconv
from fastconv import _kernels, nn
from reference import assert_close

THREAD_COUNTS = (1, 2, 3, 4, 1, 8, 2)


def _jobs(rng):
    """(name, call, exact, reduce): inputs that take a few milliseconds each."""
    x = rng.standard_normal((4, 16, 34, 30)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    xh, wh = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    x1 = rng.standard_normal((2, 1, 60, 60))  # shallow: the im2col path, float64
    w1 = rng.standard_normal((8, 1, 3, 3))
    gy = rng.standard_normal((4, 32, 32, 28)).astype(np.float32)
    pool_in = rng.standard_normal((4, 32, 64, 62)).astype(np.float32)
    img, ker = rng.standard_normal((300, 260)), rng.standard_normal((3, 3))
    sig, taps = rng.standard_normal(30_000), rng.standard_normal(2_000)
    return [
        ("conv2d", lambda: fastconv.conv2d(x, w, b, padding=(0, 1)), True, 144),
        ("conv2d NHWC", lambda: fastconv.conv2d(xh, wh, b, stride=2, layout="NHWC"), True, 144),
        ("conv2d shallow float64", lambda: fastconv.conv2d(x1, w1, padding="same"), True, 9),
        ("conv2d_backward", lambda: fastconv.conv2d_backward(gy, x, w), False, 4 * 32 * 28),
        ("relu", lambda: fastconv.relu(pool_in), True, 1),
        ("max_pool2d", lambda: fastconv.max_pool2d(pool_in, 3, 2, 1, return_indices=True), True, 1),
        ("correlate2d", lambda: fastconv.correlate2d(img, ker, "same", "symm"), True, 9),
        ("convolve", lambda: fastconv.convolve(sig, taps), True, 2_000),  # direct: one order
    ]


def _as_tuple(r):
    return tuple(a for a in r if a is not None) if isinstance(r, tuple) else (r,)


def test_set_num_threads_while_other_threads_compute(rng, restore_threads):
    jobs = _jobs(rng)
    fastconv.set_num_threads(1)
    serial = {name: _as_tuple(call()) for name, call, _, _ in jobs}

    stop = threading.Event()
    changes = [0]  # set_num_threads calls made so far (read by the workers, written by one thread)

    def race():
        i = 0
        while not stop.is_set():
            fastconv.set_num_threads(THREAD_COUNTS[i % len(THREAD_COUNTS)])
            changes[0] += 1
            i += 1
            time.sleep(1e-4)  # lets the workers have the GIL between changes

    raced, failures = [0], []

    def work(offset):
        try:
            for rep in range(10):
                for name, call, exact, reduce in jobs[offset:] + jobs[:offset]:
                    before = changes[0]
                    got = _as_tuple(call())
                    raced[0] += changes[0] != before
                    for g, want in zip(got, serial[name]):
                        if exact:
                            assert g.dtype == want.dtype and g.shape == want.shape
                            assert g.tobytes() == want.tobytes(), f"{name}: differs from the serial result"
                        else:
                            assert_close(g, want, op=name, isa="default", dtype=want.dtype, reduce=reduce,
                                         context="set_num_threads racing")
        except BaseException as err:  # reported from the main thread
            failures.append(err)

    racer = threading.Thread(target=race)
    workers = [threading.Thread(target=work, args=(i * 3,)) for i in range(3)]
    racer.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    racer.join()
    if failures:
        raise failures[0]
    calls = 3 * 10 * len(jobs)
    # the race must really have happened: the thread count changed during most calls
    assert raced[0] > calls // 2, f"only {raced[0]} of {calls} calls saw set_num_threads run meanwhile"
    assert fastconv.get_num_threads() >= 1


@pytest.mark.parametrize("spin_ns, hold_ns", [(0, 0), (0, 2_000_000), (50_000, 0), (1_000, 2_000_000)])
def test_pool_wake_while_other_threads_compute(rng, restore_threads, spin_ns, hold_ns):
    """The training loop's hint between steps (an empty region that wakes the
    workers), with or without a hold of their spin, from one Python thread while
    others compute, the thread count changing, the workers spinning or not: no
    hang, and every result is the serial one."""
    jobs = [j for j in _jobs(rng) if j[2]]  # the exact ones
    fastconv.set_num_threads(1)
    serial = {name: _as_tuple(call()) for name, call, _, _ in jobs}
    old_spin = _kernels.pool_spin_ns(spin_ns)
    stop, failures, hints = threading.Event(), [], [0]

    def hint():
        i = 0
        while not stop.is_set():
            if i % 50 == 0:
                fastconv.set_num_threads(THREAD_COUNTS[i // 50 % len(THREAD_COUNTS)])
            _kernels.pool_wake(hold_ns if i % 3 else 0)
            hints[0] += 1
            i += 1

    def work():
        # at least 3 rounds, and on until the hinter has given 100 hints (it shares
        # the GIL with these threads, so how many it gets in 3 rounds depends on the
        # machine's load); a minute at most
        deadline = time.monotonic() + 60
        try:
            rounds = 0
            while rounds < 3 or (hints[0] <= 100 and time.monotonic() < deadline):
                rounds += 1
                for name, call, _, _ in jobs:
                    for g, want in zip(_as_tuple(call()), serial[name]):
                        assert g.tobytes() == want.tobytes(), f"{name}: differs from the serial result"
        except BaseException as err:
            failures.append(err)

    try:
        hinter = threading.Thread(target=hint)
        workers = [threading.Thread(target=work) for _ in range(2)]
        hinter.start()
        for t in workers:
            t.start()
        for t in workers:
            t.join(timeout=120)
        stop.set()
        hinter.join(timeout=60)
        assert not hinter.is_alive() and not any(t.is_alive() for t in workers), "a thread hung"
    finally:
        stop.set()
        _kernels.pool_spin_ns(old_spin)
    if failures:
        raise failures[0]
    assert hints[0] > 100, f"only {hints[0]} hints were given"


def test_pool_wake_starts_no_threads():
    """A hint before any threaded call (or at one thread) starts no workers."""
    code = ("import fastconv\nfrom fastconv import _kernels\nfastconv.set_num_threads(2)\n"
            "_kernels.pool_wake(10**6)\nassert _kernels.pool_workers() == 0, _kernels.pool_workers()\n"
            "fastconv.set_num_threads(1)\n_kernels.pool_wake()\nassert _kernels.pool_workers() == 0\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def _fused_weight_gradient(rng):
    """The fused conv + max-pool's weight and bias gradients on its banded path
    (a shape no special kernel takes), as a call returning bytes."""
    x = rng.standard_normal((8, 30, 30, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    plan = nn._conv2d_maxpool_plan(x, w, 1, 1, 1, 1, (2, 2))
    _, codes = nn._conv2d_maxpool(plan, x, w, None, return_codes=True)
    gy = rng.standard_normal(codes.shape).astype(np.float32)

    def call():
        gw, gb = nn._conv2d_maxpool_backward(plan, gy, x, codes, w.shape, True)
        return gw.tobytes() + gb.tobytes()
    return call


def _conv2d_weight_gradient(rng):
    x = rng.standard_normal((8, 16, 30, 30)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((8, 32, 30, 30)).astype(np.float32)
    return lambda: fastconv.conv2d_backward(gy, x, w, padding=1)[1].tobytes()


@pytest.mark.parametrize("op", [_conv2d_weight_gradient, _fused_weight_gradient],
                         ids=["conv2d_backward", "conv2d+maxpool"])
@pytest.mark.parametrize("threads", [2, 3])
def test_weight_gradient_keeps_its_bits_whichever_thread_runs_what(rng, restore_threads, threads, op):
    """conv2d_backward's weight gradient, and the fused conv + max-pool's on its
    banded path, sum their tasks in chunks claimed by whichever thread is free,
    each chunk into its own partial: with a Python thread keeping a core busy (so
    the pool's threads run late by turns and the others take over their chunks),
    every call gives the same bits."""
    call = op(rng)
    fastconv.set_num_threads(threads)
    first = call()
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sum(i * i for i in range(20_000))

    spinner = threading.Thread(target=busy)
    spinner.start()
    try:
        differ = sum(call() != first for _ in range(40))
    finally:
        stop.set()
        spinner.join()
    assert differ == 0, f"{differ} of 40 calls at {threads} threads gave other bits"
