"""fastconv's thread pool in real process set-ups: forked and spawned children,
side effects of importing it, threadpoolctl, and a refused thread creation.

Each case runs in a fresh interpreter with a timeout, so a hang fails the test
instead of stalling the run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from reference import clean_env, run_python

HERE = Path(__file__).parent
TIMEOUT = 300


# ---- the fork matrix ---------------------------------------------------------------------

METHODS = ["os.fork", "pool:fork", "executor:fork", "pool:forkserver", "executor:forkserver",
           "pool:spawn", "executor:spawn"]


@pytest.mark.parametrize("method", METHODS)
def test_child_after_threaded_parent_completes_with_full_threads_and_same_results(method):
    """The parent runs every workload on two threads (so its pool has live
    workers), then a child made by `method` runs them again: each completes
    within the timeout, with the parent's thread count and bitwise the
    parent's results (a fixed thread count gives fixed bits)."""
    proc = subprocess.run([sys.executable, str(HERE / "fork_workloads.py"), method],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env(FASTCONV_NUM_THREADS="2"))
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["workers"] >= 1, "the parent never started a worker thread: the test proves nothing"
    for name, (digest, threads) in got["parent"].items():
        child_digest, child_threads = got["child"][name]
        assert threads == child_threads == 2, (name, threads, child_threads)
        assert child_digest == digest, f"{name}: the child's result differs from the parent's"


def test_fork_while_another_thread_runs_a_region():
    """fork() from one Python thread while another is inside a threaded call:
    the fork waits for the region, and the child can run regions of its own."""
    run_python(timeout=TIMEOUT, code="""
        import os, threading
        import numpy as np, fastconv
        fastconv._kernels.parallel_threshold_ns(0)
        x = np.random.default_rng(0).standard_normal((600, 600))
        k = np.ones((9, 9))
        ref = fastconv.correlate2d(x, k)
        stop = False
        def spin():
            while not stop:
                fastconv.correlate2d(x, k)
        t = threading.Thread(target=spin)
        t.start()
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                ok = np.array_equal(fastconv.correlate2d(x, k), ref)
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        stop = True
        t.join()
    """, FASTCONV_NUM_THREADS="2")


# ---- no side effects ---------------------------------------------------------------------


def test_import_changes_no_environment_variable_and_loads_no_openmp():
    proc = run_python(timeout=TIMEOUT, code="""
        import os, json
        before = dict(os.environ)
        import fastconv, numpy as np
        fastconv.conv2d(np.ones((4, 3, 32, 32), np.float32), np.ones((8, 3, 3, 3), np.float32))
        maps = open("/proc/self/maps").read()
        print(json.dumps({"same": dict(os.environ) == before,
                          "omp": [n for n in ("libgomp", "libiomp", "libomp") if n in maps]}))
    """)
    got = json.loads(proc.stdout)
    assert got == {"same": True, "omp": []}, got


@pytest.mark.parametrize("order", ["torch first", "fastconv first"])
def test_torch_threads_and_wait_policy_unchanged_by_fastconv(order):
    """PyTorch's thread count is its own whatever the import order, and
    fastconv.set_num_threads does not move it (nor torch's fastconv's)."""
    torch_alone = run_python("import torch; print(torch.get_num_threads())", timeout=TIMEOUT).stdout.split()
    imports = "import torch, fastconv" if order == "torch first" else "import fastconv, torch"
    proc = run_python(timeout=TIMEOUT, code=f"""
        import os
        {imports}
        print(torch.get_num_threads())
        fastconv.set_num_threads(1)
        print(torch.get_num_threads())
        torch.set_num_threads(1)
        fastconv.set_num_threads(2)
        print(fastconv.get_num_threads(), torch.get_num_threads())
        print(os.environ.get("OMP_WAIT_POLICY", "unset"))
    """)
    lines = proc.stdout.splitlines()
    assert lines[0] == lines[1] == torch_alone[0], (lines, torch_alone)
    assert lines[2] == "2 1", lines
    assert lines[3] == "unset", lines


def test_threadpoolctl_sees_and_limits_fastconv_pool():
    proc = run_python(timeout=TIMEOUT, code="""
        import fastconv
        from threadpoolctl import threadpool_info, threadpool_limits
        info = [i for i in threadpool_info() if i["internal_api"] == "fastconv"]
        print(len(info), info[0]["num_threads"], info[0]["version"] == fastconv.__version__)
        with threadpool_limits(limits=1):
            print(fastconv.get_num_threads())
        print(fastconv.get_num_threads())
    """, FASTCONV_NUM_THREADS="2")
    assert proc.stdout.split() == ["1", "2", "True", "1", "2"], proc.stdout


def test_threadpoolctl_imported_before_fastconv_also_finds_it():
    proc = run_python(timeout=TIMEOUT, code="""
        import threadpoolctl, fastconv
        print([i["num_threads"] for i in threadpoolctl.threadpool_info()
               if i["internal_api"] == "fastconv"])
    """, FASTCONV_NUM_THREADS="2")
    assert proc.stdout.strip() == "[2]", proc.stdout


# ---- refused thread creation -------------------------------------------------------------


def test_refused_thread_creation_is_a_python_exception_and_the_process_survives():
    """Under an address-space limit that leaves no room for a thread's stack,
    the first threaded call raises RuntimeError (nothing computed, no exit
    from inside the C library); a serial call still works afterwards."""
    proc = run_python(timeout=TIMEOUT, code="""
        import resource
        import numpy as np, fastconv, scipy.signal
        fastconv._kernels.parallel_threshold_ns(0)
        fastconv.set_num_threads(2)
        x, k = np.random.rand(300, 300), np.random.rand(5, 5)
        vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + (4 << 20), resource.RLIM_INFINITY))
        try:
            fastconv.convolve2d(x, k)
            print("no error")
        except RuntimeError as e:
            print("RuntimeError", "set_num_threads(1)" in str(e))
        try:
            fastconv.conv2d(np.ones((4, 3, 16, 16), np.float32), np.ones((8, 3, 3, 3), np.float32))
            print("no error")
        except RuntimeError as e:
            print("RuntimeError", "conv2d" in str(e))
        fastconv.set_num_threads(1)
        print(np.allclose(fastconv.convolve2d(x, k), scipy.signal.convolve2d(x, k)))
    """)
    assert proc.stdout.split() == ["RuntimeError", "True", "RuntimeError", "True", "True"], proc.stdout
