"""`fastconv bench` end to end on tiny shapes (--smoke): the JSON it writes, --plot without
matplotlib, a missing peer, and the drop-in area once fastconv has the drop-in functions."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv.__main__ import main
from fastconv._bench import workloads

AREAS = ("conv2d", "conv2d_backward", "relu", "max_pool2d", "dense")


def _rows(report: dict, area: str) -> list[dict]:
    return [r for r in report["rows"] if r["area"] == area]


def test_bench_smoke_writes_json_with_every_area(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "fastconv", "bench", "--smoke", "--threads", "1", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke run" in done.stdout and "FMA peak" in done.stdout

    report = json.loads(out.read_text())
    for key in ("versions", "cpu", "environment", "isa", "threads", "fma_peak_gflops_per_thread",
                "fma_peak_gflops", "copy_gbps", "areas", "rows", "mode", "repeats"):
        assert key in report, key
    assert report["environment"] == workloads.run_settings()  # the child inherits this environment
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
    assert {r["workload"] for r in _rows(report, "dense")} == {
        f"d{m}_{p}" for m in (128, 10) for p in ("fwd", "gx", "gk")}
    dropins = report["areas"]["dropins"]
    assert dropins["available"] == hasattr(fastconv, "convolve")
    assert dropins["available"] or "fastconv.convolve" in dropins["reason"]


def test_cpu_model_names_the_settings_that_choose_other_code(monkeypatch):
    """A table measured with an ISA capped (fastconv's, oneDNN's, OpenBLAS's) says so beside the
    CPU's name; without any such variable, the name alone."""
    for name in workloads.RUN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    plain = workloads.cpu_model()
    assert "run with" not in plain and workloads.run_settings() == {}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("UNRELATED_SETTING", "1")
    assert workloads.run_settings() == {"OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert workloads.cpu_model() == plain + "; run with OPENBLAS_CORETYPE=Haswell, ONEDNN_MAX_CPU_ISA=AVX2"


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


# ---- the small-work area -----------------------------------------------------------------
LATENCY_TABLE = Path(__file__).resolve().parents[1] / "benchmarks" / "latency_table.py"


@pytest.fixture(scope="module")
def small_json(tmp_path_factory):
    """`fastconv bench --smoke --threads 1,2 --areas small --json FILE`: (FILE, its stdout)."""
    out = tmp_path_factory.mktemp("small") / "bench.json"
    cmd = [sys.executable, "-m", "fastconv", "bench", "--smoke", "--threads", "1,2", "--areas", "small",
           "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


def test_bench_small_area_runs_every_case_against_its_peers(small_json):
    """`--smoke --areas small` measures every row of small.txt at each thread count, fastconv
    and each of the case's peers timed (the test extra installs them all), results agreeing."""
    from fastconv._bench.shapes import SMALL_CASES

    out, stdout = small_json
    assert "small work: per-call latency" in stdout
    report = json.loads(out.read_text())
    assert report["threads"] == [1, 2]
    assert report["areas"]["small"]["available"] and report["versions"]["onnxruntime"] != "not installed"
    assert sorted((r["workload"], r["threads"]) for r in _rows(report, "small")) == sorted(
        (c.name, n) for c in SMALL_CASES for n in (1, 2))
    rows = {r["workload"]: r for r in _rows(report, "small") if r["threads"] == 2}
    assert {"predict_1", "predict_10k", "convolve_10x3", "correlate_10kx31", "convolve2d_4x4",
            "correlate2d_64x64", "relu_10", "relu_100k", "conv2d_1x28x28"} <= set(rows)
    for case in SMALL_CASES:
        row = rows[case.name]
        timed = {n for n, r in row["results"].items() if "median_s" in r}
        assert timed == {"fastconv", *case.peers}, (case.name, row["results"])
        assert set(row["speedup"]) == set(case.peers) and row["max_rel_diff"] < 1e-3, row
    assert rows["predict_10k"]["shape"].startswith("lecture CNN predict, 64 images")


def test_bench_small_area_reports_missing_onnxruntime(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    out = tmp_path / "bench.json"
    assert main(["bench", "--smoke", "--threads", "1", "--areas", "small", "--json", str(out)]) == 0
    predict = [r for r in _rows(json.loads(out.read_text()), "small") if r["workload"].startswith("predict")]
    assert predict
    for row in predict:
        assert "onnxruntime is not installed" in row["results"]["onnxruntime"]["missing"]
        assert "pip install onnxruntime onnx" in row["results"]["onnxruntime"]["missing"]
        assert set(row["speedup"]) == {"torch"}


def _trained_lecture_model():
    """The bench's lecture model after one short epoch on drawn X's and O's, so its outputs are
    confident (random weights give near-uniform probabilities, where a swapped class goes unseen)."""
    from fastconv._bench import workloads
    from fastconv._demo import make_xo
    from fastconv.utils import set_random_seed

    set_random_seed(0)
    model = workloads.lecture_model(seed=0)
    x, y = make_xo(512, seed=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[..., None], y, epochs=2, verbose=0)
    return model


def test_torch_twin_and_onnx_model_predict_what_fastconv_predicts():
    """The peers of the predict rows compute the same function: the torch twin (weights moved
    from Keras' layout, first dense kernel reordered from (h, w, c) to (c, h, w)) and its ONNX
    export under ONNX Runtime give fastconv's probabilities on unseen images."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from fastconv._bench import workloads

    model = _trained_lecture_model()
    x = workloads.lecture_images(200, seed=2)
    want = model.predict(x, verbose=0)
    assert want.shape == (200, 10) and np.median(want.max(axis=1)) > 0.9  # confident outputs
    x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    twin = workloads.torch_twin(model, torch)
    got = twin(torch.from_numpy(x_nchw)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert (got.argmax(1) == want.argmax(1)).all()

    session = workloads.ort_session(ort, workloads.export_onnx(twin, torch), 1)
    (got_ort,) = session.run(["y"], {"x": x_nchw})
    np.testing.assert_allclose(got_ort, want, rtol=1e-4, atol=1e-6)
    assert (got_ort.argmax(1) == want.argmax(1)).all()

    # the test can fail: flattening in torch's (c, h, w) order with the kernel left in Keras'
    # (h, w, c) order changes the probabilities
    with torch.no_grad():
        hk = model.layers[3].get_weights()[0]
        twin[3].weight.copy_(torch.from_numpy(np.ascontiguousarray(hk.T)))
    wrong = twin(torch.from_numpy(x_nchw)).numpy()
    assert np.abs(wrong - want).max() > 0.1


def test_torch_twin_refuses_another_model():
    torch = pytest.importorskip("torch")
    from fastconv._bench import workloads
    from fastconv.layers import Dense
    from fastconv.models import Sequential

    with pytest.raises(ValueError, match=r"torch_twin: model must have the layers .*got \['Dense'\]"):
        workloads.torch_twin(Sequential([Dense(2, input_shape=(3,))]), torch)
    model = workloads.lecture_model()
    model.layers[0].padding = "same"
    with pytest.raises(ValueError, match=r"set otherwise than the lecture's: Conv2D .*'same'"):
        workloads.torch_twin(model, torch)


def test_latency_table_writes_the_section_and_replaces_it_in_place(small_json, tmp_path):
    """benchmarks/latency_table.py --from a bench JSON: the section (a line per workload and
    peer, the targets) to --out, and in place of the old section in --into, the rest of that
    file (perf_table.py's tables, model_table.py's section) kept."""
    bench, _ = small_json
    doc = tmp_path / "performance.md"
    model = "<!-- model section: written by benchmarks/model_table.py -->\nmodel\n<!-- end of model section -->\n"
    doc.write_text("# fastconv performance\n\ntables\n\n"
                   "<!-- small-work section: written by benchmarks/latency_table.py -->\nplaceholder\n"
                   "<!-- end of small-work section -->\n\n" + model)
    out = tmp_path / "small.md"
    done = subprocess.run([sys.executable, str(LATENCY_TABLE), "--from", str(bench), "--out", str(out),
                           "--into", str(doc)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    section = out.read_text()
    assert section.startswith("<!-- small-work section") and section.endswith("<!-- end of small-work section -->\n")
    lines = section.splitlines()
    assert sum(line.startswith("| predict_1 |") for line in lines) == 2  # PyTorch, ONNX Runtime
    assert sum(line.startswith("| relu_100k |") for line in lines) == 2  # NumPy, PyTorch
    assert sum(line.startswith("| convolve2d_64x64 | ") and "| SciPy |" in line for line in lines) == 1
    assert "ratio (2 threads)" in section and "Smoke run" in section
    for target in ("predict of one image ≤ ONNX Runtime's latency", "predict of 10,000 images ≥ 2×",
                   "drop-ins (convolve, correlate, convolve2d, correlate2d) ≥ 1.0×",
                   "fastconv.nn.relu ≥ 1.0× np.maximum(x, 0)", "fastconv.nn.conv2d of one 28x28 image",
                   "fastconv on more threads never slower than on 1"):
        line = next(x for x in lines if x.startswith(f"- {target}"))
        assert any(v in line for v in ("**met**", "**NOT met**", "**not established**",
                                       "**not measured** (one repeat a row")), line
    text = doc.read_text()
    assert text == "# fastconv performance\n\ntables\n\n" + section + "\n" + model


def _latency_table():
    spec = importlib.util.spec_from_file_location("latency_table", LATENCY_TABLE)
    latency_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(latency_table)
    return latency_table


def test_latency_table_does_not_count_a_stalled_peer():
    """A peer slower at 2 threads than at 1 on the many-image predict is in a stalled run: its
    ratio there is not counted and the target is not established until a rerun; a peer that
    speeds up with threads counts as usual."""
    lt = _latency_table()

    def row(threads, ours, theirs):
        return {"workload": "predict_10k", "threads": threads, "max_rel_diff": 0.0,
                "others_cpu_share": 0.0,
                "results": {"fastconv": {"median_s": ours, "min_s": ours, "max_s": ours},
                            "onnxruntime": {"median_s": theirs, "min_s": theirs, "max_s": theirs}}}

    one, two = row(1, 0.060, 0.130), row(2, 0.031, 0.070)
    assert lt.stalled([one, two], two, "onnxruntime") is None
    line = lt.verdict("predict", [(one, "onnxruntime"), (two, "onnxruntime")], 2.0, [one, two])
    assert line.startswith("- predict: **met** — worst predict_10k at 1 thread 2.17×"), line

    stall = row(2, 0.031, 0.137)  # ONNX Runtime slower on 2 threads than on 1: 4.4x would flatter
    assert lt.stalled([one, stall], stall, "onnxruntime") == 0.130
    assert lt.stalled([one, stall], one, "onnxruntime") is None
    line = lt.verdict("predict", [(one, "onnxruntime"), (stall, "onnxruntime")], 2.0, [one, stall])
    assert line.startswith("- predict: **not established** — worst predict_10k at 1 thread 2.17×"), line
    assert "took longer at 2 threads than at 1 on predict_10k (137.0 against 130.0 ms)" in line
    assert "4.42" not in line
    line = lt.verdict("predict", [(stall, "onnxruntime")], 2.0, [one, stall])
    assert line.startswith("- predict: **not established** — ONNX Runtime took longer"), line
    bound = lt.peak_bound([one, stall], 260.0, "full")[0]
    assert "1 thread: floor" in bound and "2 threads" not in bound, bound
    slow = row(1, 0.070, 0.130)  # a failing row still fails, whatever else stalled
    line = lt.verdict("predict", [(slow, "onnxruntime"), (stall, "onnxruntime")], 2.0, [slow, stall])
    assert line.startswith("- predict: **NOT met** — 1 of 1 below"), line


def test_threads_target_tells_slower_from_noise():
    """A workload is slower on 2 threads only when every 2-thread repeat is slower than every
    1-thread one, after the drift a serial peer in the same rows shows; overlapping repeats
    are noise (named, not failed); one repeat is not judged."""
    from fastconv._bench.run import ThreadsCase as Case, threads_target

    faster = Case("conv2d L2", 2, (2.0, 1.9, 2.1), (1.0, 0.9, 1.1))
    noisy = Case("convolve_10x3", 2, (1.00, 0.95, 1.05), (1.02, 0.97, 1.08))
    slower = Case("predict_1", 2, (1.00, 0.95, 1.05), (1.30, 1.20, 1.40))
    line = threads_target([faster, noisy])
    assert "**met** — worst convolve_10x3 at 2 threads 0.98× (within the run-to-run spread)." in line, line
    assert "**met** — worst conv2d L2 at 2 threads 2.00×." in threads_target([faster])
    line = threads_target([faster, noisy, slower])
    assert "**NOT met** — 1 of 3 slower in every repeat: predict_1 2t 0.77×." in line, line
    # the machine 5% slower when the 2-thread rows ran: NumPy (serial) slowed as much as fastconv
    drift = Case("relu_10", 2, (0.194, 0.193, 0.195), (0.204, 0.203, 0.205),
                 (0.459, 0.458, 0.460), (0.482, 0.481, 0.483))
    assert "**NOT met**" in threads_target([Case(*[getattr(drift, f) for f in ("name", "threads", "one", "many")])])
    line = threads_target([drift])
    assert "**met** — worst relu_10 at 2 threads 1.00× (within the run-to-run spread)." in line, line
    # fastconv 30% slower where the serial peer's time held: slower, drift or not
    lost = Case("relu_10", 2, (0.194, 0.193, 0.195), (0.252, 0.250, 0.254),
                (0.459, 0.458, 0.460), (0.460, 0.459, 0.461))
    assert "**NOT met** — 1 of 1 slower in every repeat: relu_10 2t 0.77×." in threads_target([lost])
    once = Case("predict_1", 2, (1.0, 1.0, 1.0), (1.3, 1.3, 1.3))
    assert "**not measured** (one repeat a row" in threads_target([once])
    assert "**not measured** (no workload ran" in threads_target([])


def test_threads_cases_pair_each_count_with_its_one_thread_row():
    """Both tables build their cases with run.threads_cases: each n-thread row of a workload
    fastconv ran at 1 thread, with the first serial peer timed in both rows; a workload with
    no 1-thread fastconv time gives none."""
    from fastconv._bench.run import ThreadsCase as Case, threads_cases

    def row(name, threads, **libs):
        return {"name": name, "threads": threads, "libs": libs}

    rows = [row("a", 1, fastconv=(1.0, 0.9, 1.1), scipy=(3.0, 2.9, 3.1)),
            row("a", 2, fastconv=(0.6, 0.5, 0.7), numpy=(2.0, 1.9, 2.1), scipy=(3.3, 3.2, 3.4)),
            row("b", 1, numpy=(1.0, 1.0, 1.0)),
            row("b", 2, fastconv=(0.5, 0.5, 0.5)),
            row("c", 1, fastconv=(1.0, 1.0, 1.0), numpy=(2.0, 2.0, 2.0)),
            row("c", 2, fastconv=(1.1, 1.1, 1.1))]
    cases = threads_cases(rows, lambda r: r["name"], lambda r: r["threads"],
                          lambda r, lib: r["libs"].get(lib), ("numpy", "scipy"))
    assert cases == [Case("a", 2, (1.0, 0.9, 1.1), (0.6, 0.5, 0.7), (3.0, 2.9, 3.1), (3.3, 3.2, 3.4)),
                     Case("c", 2, (1.0, 1.0, 1.0), (1.1, 1.1, 1.1))]


def test_perf_table_keeps_the_small_work_section():
    spec = importlib.util.spec_from_file_location("latency_table", LATENCY_TABLE)
    latency_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(latency_table)
    section = f"{latency_table.BEGIN}\n## Small work\n{latency_table.END}"
    old = f"# old tables\n\n{section}\n"
    assert latency_table.keep_small_section(old, "# new tables\n") == f"# new tables\n\n{section}\n"
    assert latency_table.keep_small_section("# old, none\n", "# new\n") == "# new\n"


def test_ratio_pairs_the_times_of_each_round():
    """A ratio is the median over the rounds of peer time / fastconv time in the same
    round: a slow spell that hits both sides of one round moves it little, where the
    medians' ratio would follow it; without the rounds' times, the medians' ratio."""
    from fastconv._bench.run import Row
    from fastconv._bench.timing import Timing

    def timing(samples):
        s = sorted(samples)
        return Timing(s[len(s) // 2], s[0], s[-1], 1, tuple(samples))

    fc = [1.0, 1.0, 2.0, 2.0, 2.0]  # three rounds in a spell twice as slow
    peer = [1.1, 1.1, 2.2, 2.2, 1.1]  # the peer's last round out of it
    row = Row("conv2d", "w", "w", 1, None, {"fastconv x": timing(fc), "torch x": timing(peer)}, {}, 0.0, None)
    paired = sorted(p / f for p, f in zip(peer, fc))[2]
    assert row.ratio("fastconv x", "torch x") == pytest.approx(paired) == pytest.approx(1.1)
    assert (sorted(peer)[2] / sorted(fc)[2]) == pytest.approx(0.55)  # what the medians would say
    medians = {"fastconv x": Timing(2.0, 1.0, 3.0), "torch x": Timing(3.0, 2.0, 4.0)}
    bare = Row("conv2d", "w", "w", 1, None, medians, {}, 0.0, None)
    assert bare.ratio("fastconv x", "torch x") == pytest.approx(1.5)


def test_latency_table_pairs_the_times_of_each_round():
    """The small-work table's ratio is Row.ratio's: the median over the rounds of the
    two times in one round, the medians' ratio for a report without the rounds' times."""
    lt = _latency_table()
    fc = {"median_s": 2.0, "min_s": 1.0, "max_s": 2.0, "repeats_s": [1.0, 1.0, 2.0, 2.0, 2.0]}
    peer = {"median_s": 1.1, "min_s": 1.1, "max_s": 2.2, "repeats_s": [1.1, 1.1, 2.2, 2.2, 1.1]}
    got = lt.ratio({"results": {"fastconv": fc, "torch": peer}}, "torch")
    assert got[0] == pytest.approx(1.1) and got[1:] == pytest.approx((1.1 / 2.0, 2.2 / 1.0))
    bare = {k: v for k, v in fc.items() if k != "repeats_s"}
    assert lt.ratio({"results": {"fastconv": bare, "torch": peer}}, "torch")[0] == pytest.approx(0.55)
