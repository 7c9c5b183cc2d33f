"""`fastconv bench` end to end on tiny shapes (--smoke): the JSON it writes, --plot without
matplotlib, a missing peer, and the drop-in area once fastconv has the drop-in functions."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv.__main__ import main

AREAS = ("conv2d", "conv2d_backward", "relu", "max_pool2d")


def _rows(report: dict, area: str) -> list[dict]:
    return [r for r in report["rows"] if r["area"] == area]


def test_bench_smoke_writes_json_with_every_area(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "fastconv", "bench", "--smoke", "--threads", "1", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke run" in done.stdout and "FMA peak" in done.stdout

    report = json.loads(out.read_text())
    for key in ("versions", "cpu", "isa", "threads", "fma_peak_gflops_per_thread", "fma_peak_gflops",
                "copy_gbps", "areas", "rows", "mode", "repeats"):
        assert key in report, key
    assert report["mode"] == "smoke" and report["threads"] == [1]
    assert set(report["versions"]) >= {"fastconv", "numpy", "scipy", "torch", "python"}
    assert report["fma_peak_gflops_per_thread"] > 0 and report["copy_gbps"]["1"] > 0
    for area in AREAS:
        assert report["areas"][area]["available"], area
        rows = _rows(report, area)
        assert rows, area
        for row in rows:
            assert row["threads"] == 1 and row["rate"] > 0 and row["max_rel_diff"] < 1e-3
            timed = [r for r in row["results"].values() if "median_s" in r]
            assert timed and all(0 < r["min_s"] <= r["median_s"] <= r["max_s"] for r in timed)
    assert {r["workload"] for r in _rows(report, "conv2d")} == {"L1", "L2", "L3", "L4"}
    assert {r["workload"] for r in _rows(report, "conv2d_backward")} == {"L1", "L2"}
    dropins = report["areas"]["dropins"]
    assert dropins["available"] == hasattr(fastconv, "convolve")
    assert dropins["available"] or "fastconv.convolve" in dropins["reason"]


def test_bench_plot_without_matplotlib_says_so_before_any_work(monkeypatch, tmp_path, capsys):
    """One line naming the extra to install, exit status 2 (1 means results disagree), no
    benchmark header (no work)."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    plot = tmp_path / "speedups.png"
    assert main(["bench", "--smoke", "--plot", str(plot)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("fastconv bench: error: --plot needs matplotlib, which is not installed")
    assert err.endswith('pip install "fastconv[plot]"\n') and err.count("\n") == 1, err
    assert out == "" and not plot.exists()


def test_bench_plot_draws_the_speedups(tmp_path):
    plot = tmp_path / "speedups.png"
    assert main(["bench", "--smoke", "--threads", "1", "--areas", "relu", "--vs", "numpy",
                 "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_reports_missing_torch(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    out = tmp_path / "bench.json"
    assert main(["bench", "--smoke", "--threads", "1", "--areas", "relu,max_pool2d",
                 "--vs", "numpy,torch", "--json", str(out)]) == 0
    assert "missing" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["versions"]["torch"] == "not installed"
    for row in report["rows"]:
        torch_results = {n: r for n, r in row["results"].items() if n.startswith("torch")}
        assert torch_results and all("torch is not installed" in r["missing"] for r in torch_results.values())
        assert row["results"]["numpy"]["median_s"] > 0 and set(row["speedup"]) == {"numpy"}


def test_bench_dropins_area_runs_once_fastconv_has_them(monkeypatch, tmp_path):
    scipy_signal = pytest.importorskip("scipy.signal")
    for name, stand_in in (("convolve", np.convolve), ("correlate", np.correlate),
                           ("convolve2d", scipy_signal.convolve2d),
                           ("correlate2d", scipy_signal.correlate2d)):
        if not hasattr(fastconv, name):
            monkeypatch.setattr(fastconv, name, stand_in, raising=False)
    out = tmp_path / "bench.json"
    assert main(["bench", "--smoke", "--threads", "1", "--areas", "dropins", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["areas"]["dropins"]["available"]
    peers = {r["workload"]: set(r["speedup"]) for r in report["rows"]}
    assert peers["corr1d"] == {"numpy"} and peers["conv2d"] == {"scipy"}
    assert all(r["max_rel_diff"] < 1e-9 for r in report["rows"])


@pytest.mark.parametrize("argv, message", [
    (["--areas", "conv3d"], "unknown area 'conv3d'"),
    (["--vs", "tensorflow"], "unknown peer 'tensorflow'"),
    (["--threads", "0"], "expected a thread count"),
    (["--quick", "--smoke"], "not allowed with argument"),
])
def test_bench_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err
