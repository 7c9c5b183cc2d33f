"""The benchmark runner behind ``fastconv bench``: fastconv against NumPy, SciPy and PyTorch.

shapes.py and the .txt tables next to it hold the workloads; workloads.py builds one callable per
implementation; timing.py times them interleaved and probes the machine; run.py holds the
registry of areas and measures them; cli.py prints, writes JSON and plots. benchmarks/perf_table.py
and the pytest-benchmark modules in benchmarks/ use the same pieces. NumPy is the only requirement;
SciPy, PyTorch, threadpoolctl and matplotlib are used when installed.
"""
