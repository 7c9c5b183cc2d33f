"""The drop-ins beside NumPy and SciPy on the `table` workloads of src/fastconv/_bench/dropins.txt.

Groups are one call (op, shape, mode) at one thread count, fastconv and the
reference side by side:

    pytest benchmarks/bench_dropins.py --benchmark-enable     # about 4 minutes (SciPy's 31x31)
    pytest benchmarks/bench_dropins.py --benchmark-enable -k "S3 and same"

With ``--benchmark-disable`` (the default) each row runs once on the small
``quick_size`` and fastconv's result is checked against the reference.
"""
from __future__ import annotations

import pytest

import dropins_workloads as dw
from fastconv._bench import workloads

# (case, op, mode, implementation): fastconv and the one library it stands in for
PARAMS = [(case, op, mode, impl) for case in dw.CASES for op, _, _ in case.ops()
          for mode in case.mode_list for impl in ("fastconv", case.reference)]


@pytest.mark.parametrize("threads", workloads.THREADS, ids=workloads.threads_id, indirect=True)
@pytest.mark.parametrize("case, op, mode, impl", PARAMS,
                         ids=[f"{c.name}-{op}-{mode}-{impl}" for c, op, mode, impl in PARAMS])
def test_dropin(benchmark, case, op, mode, impl, threads):
    quick = benchmark.disabled
    fns = dw.calls(case, op, mode, quick)
    benchmark.group = f"{op} {case.label(quick)} {mode}, {threads} thread(s)"
    benchmark.extra_info.update(op=op, impl=impl, threads=threads, mode=mode, case=case.name)
    y = benchmark(fns[impl])
    if impl == "fastconv":
        assert dw.rel_error(y, fns[case.reference]()) <= dw.TOLERANCE[case.dtype]
