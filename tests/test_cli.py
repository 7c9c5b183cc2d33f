"""The model commands of `python -m fastconv` (train, predict, demo, --help) run as a
user runs them: in a subprocess, offline, checked against numbers computed here.

Training is the slow part: one `train --epochs 1` on the shared 5,000 digits
(module fixture, reused by the predict tests) and one `demo --epochs 1`."""
from __future__ import annotations

import gzip
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from reference import CHILD_ADDRESS_LIMIT

MNIST_5K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-5k"
needs_mnist = pytest.mark.skipif(not MNIST_5K.is_dir(), reason=f"shared MNIST subset not at {MNIST_5K}")

# Started before anything else in the child: any attempt to reach the network fails.
NO_NETWORK = """\
import socket

def _refuse(*args, **kwargs):
    raise OSError("network access attempted during an offline test")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


def offline_env(tmp: Path, *front: Path) -> dict[str, str]:
    """The environment of a user with no network, no data cache and no
    FASTCONV_DATA; `front` directories go first on PYTHONPATH."""
    guard = tmp / "offline-site"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(NO_NETWORK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTCONV_")}
    env.update(FASTCONV_OFFLINE="1", XDG_CACHE_HOME=str(tmp / "cache"), MPLCONFIGDIR=str(tmp / "mpl"),
               PYTHONPATH=os.pathsep.join([*map(str, front), str(guard), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return env


def fastconv_cli(*args, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastconv", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout, check=False)


def write_idx_images(path: Path, images: np.ndarray, compress: bool) -> Path:
    """The IDX layout written out here (not with fastconv): magic 0x00000803
    (uint8, 3 dimensions), big-endian sizes, then the pixels."""
    data = struct.pack(">I", 0x803) + struct.pack(">3I", *images.shape) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def read_idx_labels(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    magic, n = struct.unpack(">II", raw[:8])
    assert magic == 0x801
    return np.frombuffer(raw, np.uint8, n, 8)


def read_idx_images(path: Path, count: int) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    magic, _, h, w = struct.unpack(">4I", raw[:16])
    assert magic == 0x803
    return np.frombuffer(raw, np.uint8, count * h * w, 16).reshape(count, h, w)


def prediction_lines(out: str) -> list[tuple[int, int, float]]:
    """`index<TAB>class<TAB>probability` lines of `fastconv predict`."""
    rows = []
    for line in out.splitlines():
        m = re.fullmatch(r"(\d+)\t(\d+)\t([01]\.\d+)", line.strip())
        assert m, f"not a prediction line: {line!r}"
        rows.append((int(m[1]), int(m[2]), float(m[3])))
    return rows


# ---- --help -----------------------------------------------------------------------------------


def test_help_lists_every_command():
    done = fastconv_cli("--help", timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("demo", "train", "predict", "bench", "info"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), f"--help lacks {command}:\n{done.stdout}"


# ---- train, then predict with the saved model ------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`fastconv train --data <shared mnist-5k> --epochs 1 --save F`, once."""
    if not MNIST_5K.is_dir():
        pytest.skip(f"shared MNIST subset not at {MNIST_5K}")
    tmp = tmp_path_factory.mktemp("train")
    model = tmp / "lecture.fcm"
    done = fastconv_cli("train", "--data", MNIST_5K, "--epochs", "1", "--seed", "0", "--verbose", "2",
                        "--save", model, env=offline_env(tmp), cwd=tmp)
    return done, model, tmp


@needs_mnist
def test_train_one_epoch_saves_a_model_and_reports_test_accuracy(trained):
    done, model, _ = trained
    assert done.returncode == 0, done.stderr
    m = re.search(r"test accuracy (\d\.\d+)", done.stdout)
    assert m, done.stdout
    assert float(m[1]) > 0.85, done.stdout  # one epoch on 5,000 digits, all 10,000 test digits
    assert re.search(r"^Epoch 1/1 .*loss: \d\.\d{4}", done.stdout, re.MULTILINE), done.stdout
    assert "607,394" in done.stdout  # the summary of the lecture's model
    assert model.is_file() and f"saved to {model}" in done.stdout


@needs_mnist
@pytest.mark.parametrize("compress", [False, True], ids=["raw-idx", "gzip-idx"])
def test_predict_prints_one_line_per_image_of_an_idx_file(trained, compress):
    _, model, tmp = trained
    images = read_idx_images(MNIST_5K / "t10k-images-idx3-ubyte.gz", 40)
    labels = read_idx_labels(MNIST_5K / "t10k-labels-idx1-ubyte.gz")[:40]
    idx = write_idx_images(tmp / f"digits-{compress}.idx{'.gz' if compress else ''}", images, compress)
    done = fastconv_cli("predict", model, idx, env=offline_env(tmp), timeout=120)
    assert done.returncode == 0, done.stderr
    rows = prediction_lines(done.stdout)
    assert [i for i, _, _ in rows] == list(range(40))
    classes = np.array([k for _, k, _ in rows])
    assert ((0 <= classes) & (classes <= 9)).all()
    assert all(0.1 <= p <= 1.0 for _, _, p in rows)  # the top probability of ten classes
    assert (classes == labels).mean() >= 0.75, f"predicted {classes.tolist()}, labels {labels.tolist()}"


@needs_mnist
@pytest.mark.parametrize("form", ["28x28", "28x28x1", "1x28x28"])
def test_predict_one_image_from_a_npy_file(trained, form):
    _, model, tmp = trained
    image = read_idx_images(MNIST_5K / "t10k-images-idx3-ubyte.gz", 1)[0]
    shape = {"28x28": (28, 28), "28x28x1": (28, 28, 1), "1x28x28": (1, 28, 28)}[form]
    path = tmp / f"one-{form}.npy"
    np.save(path, image.reshape(shape))
    done = fastconv_cli("predict", model, path, env=offline_env(tmp), timeout=120)
    assert done.returncode == 0, done.stderr
    rows = prediction_lines(done.stdout)
    assert len(rows) == 1 and rows[0][0] == 0 and 0 <= rows[0][1] <= 9


@needs_mnist
def test_predict_rejects_images_of_the_wrong_size_with_a_message(trained):
    _, model, tmp = trained
    path = tmp / "small.npy"
    np.save(path, np.zeros((2, 20, 20), np.uint8))
    done = fastconv_cli("predict", model, path, env=offline_env(tmp), timeout=120)
    assert done.returncode != 0
    assert "(2, 20, 20" in done.stderr and "28, 28, 1" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_predict_with_a_file_that_is_not_a_model_prints_a_message_not_a_traceback(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a model\n")
    done = fastconv_cli("predict", bogus, bogus, env=offline_env(tmp_path), timeout=120)
    assert done.returncode != 0
    assert "not a fastconv model" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_train_without_data_prints_where_to_put_it_not_a_traceback(tmp_path):
    done = fastconv_cli("train", "--data", tmp_path / "nowhere", "--epochs", "1", env=offline_env(tmp_path),
                        timeout=120)
    assert done.returncode != 0
    assert "MNIST not found" in done.stderr and str(tmp_path / "nowhere") in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


# ---- demo -------------------------------------------------------------------------------------------


def lecture_worked_example():
    """The lecture's 9x9 X, its three filters, feature maps (correlation / 9), ReLU
    and 2x2 max-pooling with stride 2 (7 -> 4: the last window hangs over the edge)."""
    image = -np.ones((9, 9))
    for i in range(1, 8):
        image[i, i] = image[i, 8 - i] = 1
    filters = [np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]),
               np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]]),
               np.array([[-1, -1, 1], [-1, 1, -1], [1, -1, -1]])]
    maps, pooled = [], []
    for f in filters:
        m = np.array([[(image[i:i + 3, j:j + 3] * f).sum() / 9 for j in range(7)] for i in range(7)])
        r = np.maximum(m, 0)
        p = np.array([[r[i:i + 2, j:j + 2].max() for j in range(0, 7, 2)] for i in range(0, 7, 2)])
        maps.append(m)
        pooled.append(p)
    return maps, pooled


def grid_lines(a):
    return [" ".join(f"{v:5.2f}" for v in row) for row in a]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """`fastconv demo --epochs 1`, once, with the network blocked (its pictures:
    tests/test_figures.py)."""
    tmp = tmp_path_factory.mktemp("demo")
    done = fastconv_cli("demo", "--epochs", "1", env=offline_env(tmp), cwd=tmp)
    return done


def test_demo_runs_offline(demo_run):
    done = demo_run
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "downloading" not in done.stderr.lower()


def test_demo_prints_the_lectures_worked_example(demo_run):
    done = demo_run
    out = done.stdout
    assert "0.78 -0.11  0.11  0.33  0.56 -0.11  0.33" in out  # the lecture's first feature-map row
    maps, pooled = lecture_worked_example()
    assert grid_lines(maps[0])[0].strip() == "0.78 -0.11  0.11  0.33  0.56 -0.11  0.33"
    lines = [line.strip() for line in out.splitlines()]
    for k in range(3):
        for what, block in (("feature map", maps[k]), ("pooled", pooled[k])):
            want = [line.strip() for line in grid_lines(block)]
            hits = [i for i in range(len(lines)) if lines[i:i + len(want)] == want]
            assert hits, f"filter {k + 1}: the {what} rows\n" + "\n".join(want) + f"\nare not in the output:\n{out}"
    assert pooled[0][0].tolist() == pytest.approx([1.0, 1 / 3, 5 / 9, 1 / 3])
    assert "[17.0, 22.0, 39.0, 44.0]" in out  # the 1-D example


def test_demo_trains_the_lectures_cnn_and_reports_accuracy(demo_run):
    done = demo_run
    m = re.search(r"accuracy on (\d+) unseen images: (\d+(?:\.\d+)?)%", done.stdout)
    assert m, done.stdout
    assert int(m[1]) > 0 and float(m[2]) > 80, m[0]  # X versus O: one epoch is plenty
    assert re.search(r"^Epoch 1/1 .*loss: \d\.\d{4} - accuracy: \d\.\d{4}", done.stdout, re.MULTILINE)


def stub_packages(tmp: Path, *names: str) -> Path:
    """A folder to put first on PYTHONPATH in which importing each of `names` fails, as
    where the package is not installed."""
    stub = tmp / "stub"
    for name in names:
        (stub / name).mkdir(parents=True, exist_ok=True)
        (stub / name / "__init__.py").write_text(f'raise ImportError("No module named {name!r} (stub)")\n')
    return stub


def assert_one_line_naming_the_extra(done, command: str, option: str, package: str, extra: str) -> None:
    """Refused before any work: exit status 2, as for a bad argument, and one line."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"fastconv {command}: error: {option} needs {package}, which is not installed")
    assert lines[0].endswith(f'pip install "fastconv[{extra}]"'), lines[0]


def test_demo_figures_without_matplotlib_refuse_before_any_work(tmp_path):
    """One line saying which extra to install, exit status 2, and nothing else: no worked
    example printed, no training, no folder made."""
    figures = tmp_path / "figures"
    done = fastconv_cli("demo", "--epochs", "1", "--figures", figures,
                        env=offline_env(tmp_path, stub_packages(tmp_path, "matplotlib")), cwd=tmp_path)
    assert_one_line_naming_the_extra(done, "demo", "--figures", "matplotlib", "plot")
    assert done.stdout == "" and not figures.exists()


def test_train_plot_without_matplotlib_refuses_before_any_work(random_mnist, tmp_path):
    plot = tmp_path / "curves.png"
    done = fastconv_cli("train", "--data", random_mnist, "--epochs", "1", "--plot", plot,
                        env=offline_env(tmp_path, stub_packages(tmp_path, "matplotlib")), cwd=tmp_path)
    assert_one_line_naming_the_extra(done, "train", "--plot", "matplotlib", "plot")
    assert done.stdout == "" and not plot.exists()


def test_predict_on_image_files_without_pillow_names_the_extra(untrained_model, tmp_path):
    from PIL import Image

    png = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(png)
    done = fastconv_cli("predict", untrained_model, png,
                        env=offline_env(tmp_path, stub_packages(tmp_path, "PIL")), cwd=tmp_path)
    assert_one_line_naming_the_extra(done, "predict", "reading image files", "Pillow", "image")
    assert done.stdout == ""


def test_without_matplotlib_and_pillow_fastconv_imports_and_predicts_npy(untrained_model, tmp_path):
    """The extras are optional: every module imports without them, and commands that do not
    need them work."""
    code = ("import fastconv, fastconv.models, fastconv._cli, fastconv._figures, fastconv._images, "
            "fastconv._bench.cli, fastconv.__main__; print('imported')")
    env = offline_env(tmp_path, stub_packages(tmp_path, "matplotlib", "PIL"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.uint8))
    done = fastconv_cli("predict", untrained_model, tmp_path / "x.npy", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [i for i, _, _ in prediction_lines(done.stdout)] == [0, 1]


# ---- bad arguments ----------------------------------------------------------------------------------


def write_idx_labels(path: Path, labels: np.ndarray) -> Path:
    path.write_bytes(gzip.compress(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()))
    return path


@pytest.fixture(scope="module")
def random_mnist(tmp_path_factory) -> Path:
    """MNIST's four files holding random digits: 2,000 to train on (63 steps of 32 an
    epoch, a fraction of a second), 100 to test on."""
    folder = tmp_path_factory.mktemp("random-mnist")
    gen = np.random.default_rng(5)
    for prefix, n in (("train", 2000), ("t10k", 100)):
        write_idx_images(folder / f"{prefix}-images-idx3-ubyte.gz", gen.integers(0, 256, (n, 28, 28)), True)
        write_idx_labels(folder / f"{prefix}-labels-idx1-ubyte.gz", gen.integers(0, 10, n))
    return folder


BAD_ARGUMENTS = {
    "train-batch-size-0": (["train", "--batch-size", "0", "--epochs", "1"], "--batch-size", "'0'"),
    "train-epochs-minus-1": (["train", "--epochs", "-1"], "--epochs", "'-1'"),
    "train-seed-minus-1": (["train", "--seed", "-1", "--epochs", "1"], "--seed", "'-1'"),
    "train-save-into-missing-dir": (["train", "--epochs", "1", "--save", "{tmp}/missing/lecture.fcm"],
                                    "--save", "does not exist"),
    "train-save-onto-a-dir": (["train", "--epochs", "1", "--save", "{tmp}"], "--save", "is a directory"),
    "demo-seed-minus-1": (["demo", "--epochs", "1", "--seed", "-1"], "--seed", "'-1'"),
    "demo-epochs-0": (["demo", "--epochs", "0"], "--epochs", "'0'"),
    "demo-figures-under-missing-dir": (["demo", "--epochs", "1", "--figures", "{tmp}/missing/figures"],
                                       "--figures", "does not exist"),
    "demo-figures-onto-a-file": (["demo", "--epochs", "1", "--figures", "{tmp}/a-file"], "--figures",
                                 "it is not a directory"),
    "train-plot-into-missing-dir": (["train", "--epochs", "1", "--plot", "{tmp}/missing/curves.png"], "--plot",
                                    "does not exist"),
    "train-plot-onto-a-dir": (["train", "--epochs", "1", "--plot", "{tmp}"], "--plot", "is a directory"),
    "train-validation-split-1": (["train", "--epochs", "1", "--validation-split", "1"], "--validation-split",
                                 "'1'"),
    "bench-json-into-missing-dir": (["bench", "--smoke", "--json", "{tmp}/missing/bench.json"], "--json",
                                    "does not exist"),
    "bench-plot-into-missing-dir": (["bench", "--smoke", "--plot", "{tmp}/missing/bench.png"], "--plot",
                                    "does not exist"),
    "predict-batch-size-0": (["predict", "--batch-size", "0", "{tmp}/m.fcm", "{tmp}/x.npy"], "--batch-size",
                             "'0'"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_argument_is_refused_before_any_work_in_one_line(case, random_mnist, tmp_path):
    """argparse's exit status 2, its usage and one error line naming the option and
    the problem; no traceback, and nothing on stdout: no summary, worked example or
    benchmark header, so no work began (each command would print one at once)."""
    args, option, problem = BAD_ARGUMENTS[case]
    args = [a.format(tmp=tmp_path) for a in args]
    (tmp_path / "a-file").write_text("not a directory\n")
    if args[0] == "train":
        args += ["--data", str(random_mnist)]
    done = fastconv_cli(*args, env=offline_env(tmp_path), cwd=tmp_path, timeout=300)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"fastconv {args[0]}: error: argument {option}: ") and problem in last, done.stderr
    assert done.stdout == "", done.stdout
    assert not (tmp_path / "missing").exists()


# ---- Ctrl-C ---------------------------------------------------------------------------------------------


def test_ctrl_c_in_train_exits_130_says_what_was_completed_and_keeps_the_old_save_file(random_mnist, tmp_path):
    """SIGINT once epoch 1 has been reported: exit status 130, one line on stderr
    saying how far training got, no "trained ..." report, and the file --save names
    is left byte for byte as it was (no temporary file beside it either)."""
    old = tmp_path / "lecture.fcm"
    old.write_bytes(b"an earlier model, to be kept\n")
    env = {**offline_env(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "fastconv", "train", "--data", str(random_mnist),
                             "--epochs", "40", "--verbose", "2", "--seed", "0", "--save", str(old)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    watchdog = threading.Timer(300, proc.kill)  # bounds the wait for epoch 1's line
    watchdog.start()
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Epoch 1/40"):
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + out
    assert any(line.startswith("Epoch 1/40") for line in lines), f"epoch 1 never reported:\n{out}\n{err}"
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err, err
    message = err.strip().splitlines()
    assert len(message) == 1, err
    m = re.fullmatch(rf"fastconv train: interrupted after (\d+) of 40 epochs( and \d+ of 63 steps of "
                     rf"epoch \d+)?; nothing was saved to {re.escape(str(old))}", message[0])
    assert m and 1 <= int(m[1]) < 40, message[0]
    assert "trained on" not in out and "saved to" not in out, out
    assert old.read_bytes() == b"an earlier model, to be kept\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".lecture.fcm")) == []



def test_train_interrupted_before_its_first_step_says_so(monkeypatch, capsys, tmp_path):
    """In process: Ctrl-C while fit still checks its arguments (no history yet)."""
    from fastconv import __main__
    from fastconv.datasets import mnist
    from fastconv.models import Sequential

    digits = (np.zeros((64, 28, 28), np.uint8), np.zeros(64, np.uint8))
    monkeypatch.setattr(mnist, "load_data", lambda path=None: (digits, digits))

    def fit(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Sequential, "fit", fit)
    save = tmp_path / "lecture.fcm"
    assert __main__.main(["train", "--epochs", "3", "--verbose", "0", "--save", str(save)]) == 130
    assert capsys.readouterr().err == f"fastconv train: interrupted after 0 of 3 epochs; nothing was saved to {save}\n"
    assert not save.exists()

# ---- bad files, and the entry point's rule --------------------------------------------------------------


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory) -> Path:
    """The lecture's model as `fastconv train` saves it, before any training."""
    from fastconv._demo import lecture_model

    model = lecture_model(10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("model") / "lecture.fcm"
    model.save(path)
    return path


def _write_bad_file(tmp: Path, case: str) -> list[Path]:
    """The file(s) of a bad `predict` input."""
    if case == "empty.npy":
        np.save(tmp / case, np.zeros((0, 28, 28), np.uint8))
    elif case == "complex.npy":
        np.save(tmp / case, np.ones((2, 28, 28), np.complex64))
    elif case == "strings.npy":
        np.save(tmp / case, np.full((1, 28, 28), "7"))
    elif case == "nan.npy":
        np.save(tmp / case, np.full((1, 28, 28), np.nan, np.float32))
    elif case == "truncated.npy":
        np.save(tmp / case, np.zeros((5, 28, 28), np.uint8))
        (tmp / case).write_bytes((tmp / case).read_bytes()[:300])
    elif case == "not-really.npy":
        (tmp / case).write_text("1 2 3\n")
    elif case == "header-only.jpg":  # a JPEG's first bytes (magic 0xFFD8FFE0), then nothing usable
        (tmp / case).write_bytes(bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(60))
    elif case == "missing.npy":
        pass
    elif case == "a.png+b.npy":
        from PIL import Image

        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp / "a.png")
        np.save(tmp / "b.npy", np.zeros((1, 28, 28), np.uint8))
        return [tmp / "a.png", tmp / "b.npy"]
    return [tmp / case]


BAD_FILES = {
    "empty.npy": "no images", "complex.npy": "complex64", "strings.npy": "real numbers",
    "nan.npy": "NaN", "truncated.npy": "unreadable .npy", "not-really.npy": "not a NumPy .npy file",
    "header-only.jpg": "cannot identify image file", "missing.npy": "No such file",
    "a.png+b.npy": "b.npy is a .npy file",
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_predict_on_a_bad_file_prints_one_line_naming_it(case, untrained_model, tmp_path):
    paths = _write_bad_file(tmp_path, case)
    done = fastconv_cli("predict", untrained_model, *paths, env=offline_env(tmp_path), cwd=tmp_path, timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastconv predict: error: "), done.stderr
    assert paths[-1].name in lines[0] and BAD_FILES[case] in lines[0], lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_predict_reads_any_image_file_pillow_reads(fmt, untrained_model, tmp_path):
    """A JPEG is told from an IDX file by its contents, as a PNG is, whatever the name."""
    from PIL import Image

    gen = np.random.default_rng(3)
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"digit{i}.{fmt}")
        Image.fromarray(gen.integers(0, 256, (28, 28)).astype(np.uint8)).save(paths[-1])
    done = fastconv_cli("predict", untrained_model, *paths, env=offline_env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert [i for i, _, _ in prediction_lines(done.stdout)] == [0, 1]


def test_ctrl_c_elsewhere_exits_130_and_real_bugs_keep_their_traceback(monkeypatch, capsys):
    """The entry point's rule, in process: KeyboardInterrupt -> one line and 130;
    ValueError/OSError -> one line and 1; anything else (a bug) propagates."""
    from fastconv import __main__, _cli

    def raising(exc):
        def command(args):
            raise exc
        return command

    monkeypatch.setattr(_cli, "_predict", raising(KeyboardInterrupt()))
    assert __main__.main(["predict", "m.fcm", "x.npy"]) == 130
    assert capsys.readouterr().err == "fastconv predict: interrupted\n"
    monkeypatch.setattr(_cli, "_predict", raising(ValueError("x.npy: no images in it")))
    assert __main__.main(["predict", "m.fcm", "x.npy"]) == 1
    assert capsys.readouterr().err == "fastconv predict: error: x.npy: no images in it\n"
    monkeypatch.setattr(_cli, "_predict", raising(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        __main__.main(["predict", "m.fcm", "x.npy"])


def test_version_flag_prints_the_installed_version():
    import importlib.metadata
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "fastconv", "--version"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fastconv {importlib.metadata.version('fastconv')}"


# ---- predict on image files: real digits written with Pillow ------------------------------------------


def mnist_digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` digits of the shared test set (uint8 (n, 28, 28)) and their labels."""
    return (read_idx_images(MNIST_5K / "t10k-images-idx3-ubyte.gz", n),
            read_idx_labels(MNIST_5K / "t10k-labels-idx1-ubyte.gz")[:n])


def save_images(folder: Path, images, suffix: str, **options) -> list[Path]:
    """Each image (uint8 array) as its own file, written by Pillow."""
    from PIL import Image

    folder.mkdir(exist_ok=True)
    paths = [folder / f"digit{i:02d}{suffix}" for i in range(len(images))]
    for path, image in zip(paths, images):
        Image.fromarray(image).save(path, format={".jpg": "JPEG"}.get(suffix, "PNG"), **options)
    return paths


def classes_of(done) -> np.ndarray:
    assert done.returncode == 0, done.stderr
    return np.array([k for _, k, _ in prediction_lines(done.stdout)])


def one_error_line(done) -> str:
    """The single `fastconv predict: error: ...` line of a refused call (exit 1, nothing on stdout)."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == "", done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastconv predict: error: "), done.stderr
    return lines[0]


N_DIGITS = 30


@needs_mnist
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_predict_reads_real_digits_from_png_and_jpeg_files(trained, suffix, tmp_path):
    _, model, _ = trained
    images, labels = mnist_digits(N_DIGITS)
    paths = save_images(tmp_path / "digits", images, suffix, **({"quality": 95} if suffix == ".jpg" else {}))
    done = fastconv_cli("predict", model, *paths, env=offline_env(tmp_path), timeout=120)
    classes = classes_of(done)
    assert done.stderr == ""  # light digits on black, 28x28: nothing to warn about
    assert (classes == labels).mean() >= 0.75, f"predicted {classes.tolist()}, labels {labels.tolist()}"
    if suffix == ".png":  # lossless: the same pixels as the array, so the same answers
        np.save(tmp_path / "digits.npy", images)
        assert (classes == classes_of(fastconv_cli("predict", model, tmp_path / "digits.npy",
                                                   env=offline_env(tmp_path), timeout=120))).all()


@needs_mnist
def test_predict_json_prints_one_object_per_image(trained, tmp_path):
    _, model, _ = trained
    paths = save_images(tmp_path / "digits", mnist_digits(5)[0], ".png")
    done = fastconv_cli("predict", "--json", model, *paths, env=offline_env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["image"] for r in rows] == list(range(5))
    assert [r["file"] for r in rows] == [str(p) for p in paths]
    for r in rows:
        probs = np.array(r["probabilities"])
        assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-4 and (probs >= 0).all()
        assert r["class"] == int(probs.argmax()) and r["probability"] == probs.max()
    plain = fastconv_cli("predict", model, *paths, env=offline_env(tmp_path), timeout=120)
    assert [r["class"] for r in rows] == classes_of(plain).tolist()


def upscaled(images: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BICUBIC))
                     for im in images])


def off_centre(images: np.ndarray) -> np.ndarray:
    """Each digit three times as large in the upper right of a 200x150 canvas of dark grey."""
    canvas = np.full((len(images), 150, 200), 30, np.uint8)
    canvas[:, 8:92, 110:194] = np.maximum(30, upscaled(images, 84))
    return canvas


@needs_mnist
def test_predict_refuses_a_112x112_digit_and_offers_resize(trained, tmp_path):
    _, model, _ = trained
    (path,) = save_images(tmp_path / "big", upscaled(mnist_digits(1)[0], 112), ".png")
    line = one_error_line(fastconv_cli("predict", model, path, env=offline_env(tmp_path), timeout=120))
    assert f"{path} is 112x112 pixels" in line and "28x28" in line and "--resize" in line, line


@needs_mnist
@pytest.mark.parametrize("layout", ["112x112", "off-centre-200x150"])
def test_predict_resize_brings_larger_digits_to_mnist_form(trained, layout, tmp_path):
    """Scaled into a 20x20 box and centred by mass, as MNIST's digits: the model recognises
    them about as well as the originals; a note per image says it was resized."""
    _, model, _ = trained
    images, labels = mnist_digits(N_DIGITS)
    big = upscaled(images, 112) if layout == "112x112" else off_centre(images)
    paths = save_images(tmp_path / "big", big, ".png")
    done = fastconv_cli("predict", "--resize", model, *paths, env=offline_env(tmp_path), timeout=120)
    classes = classes_of(done)
    assert (classes == labels).mean() >= 0.75, f"predicted {classes.tolist()}, labels {labels.tolist()}"
    notes = done.stderr.strip().splitlines()
    h, w = big.shape[1:]
    assert notes == [f"fastconv predict: note: {p} is {w}x{h} pixels: resized to 28x28 (the digit scaled into "
                     "a 20x20 box, aspect kept, centred by its mass, as MNIST's)" for p in paths], done.stderr


@needs_mnist
def test_predict_warns_about_dark_digits_on_light_ground_and_invert_fixes_them(trained, tmp_path):
    _, model, _ = trained
    images, labels = mnist_digits(N_DIGITS)
    paths = save_images(tmp_path / "ink", 255 - images, ".png")
    plain = fastconv_cli("predict", model, *paths, env=offline_env(tmp_path), timeout=120)
    warned = plain.stderr.strip().splitlines()
    assert len(warned) == N_DIGITS and all(
        line.startswith(f"fastconv predict: warning: {p} looks like a dark digit on a light ground")
        and line.endswith("--invert inverts it") for line, p in zip(warned, paths)), plain.stderr
    fixed = fastconv_cli("predict", "--invert", model, *paths, env=offline_env(tmp_path), timeout=120)
    assert fixed.stderr == ""
    right_plain, right_fixed = (classes_of(plain) == labels).mean(), (classes_of(fixed) == labels).mean()
    assert right_fixed >= 0.75 and right_fixed > right_plain + 0.3, (right_plain, right_fixed)


@needs_mnist
def test_predict_warns_about_inverted_digits_in_a_npy_file_and_inverts_them(trained, tmp_path):
    _, model, _ = trained
    images, labels = mnist_digits(N_DIGITS)
    np.save(tmp_path / "ink.npy", 255 - images)
    plain = fastconv_cli("predict", model, tmp_path / "ink.npy", env=offline_env(tmp_path), timeout=120)
    assert plain.returncode == 0 and re.fullmatch(
        rf"fastconv predict: warning: {N_DIGITS} of {N_DIGITS} images in .*ink\.npy look like dark digits on a "
        r"light ground \(.*\): --invert inverts them\n", plain.stderr), plain.stderr
    fixed = fastconv_cli("predict", "--invert", model, tmp_path / "ink.npy", env=offline_env(tmp_path), timeout=120)
    assert fixed.stderr == "" and (classes_of(fixed) == labels).mean() >= 0.75


@needs_mnist
def test_predict_tells_files_apart_by_content_not_name(trained, tmp_path):
    """A PNG named .npy is read as a PNG, an IDX file named .png as IDX."""
    _, model, _ = trained
    images, _ = mnist_digits(3)
    (png,) = save_images(tmp_path / "png", images[:1], ".png")
    misnamed = png.rename(tmp_path / "digit.npy")
    idx = write_idx_images(tmp_path / "digits.png", images, compress=False)
    np.save(tmp_path / "digits.npy", images)
    want = classes_of(fastconv_cli("predict", model, tmp_path / "digits.npy", env=offline_env(tmp_path)))
    assert (classes_of(fastconv_cli("predict", model, idx, env=offline_env(tmp_path))) == want).all()
    assert classes_of(fastconv_cli("predict", model, misnamed, env=offline_env(tmp_path))).tolist() == want[:1].tolist()


def png_bytes(width: int, height: int, idat: bytes) -> bytes:
    """A grayscale 8-bit PNG with this header and image data, written out here (not with Pillow)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _write_bad_image(folder: Path, case: str) -> Path:
    from PIL import Image

    path = folder / case
    if case == "noise.png":  # garbage bytes with an image's name
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif case == "truncated.png":  # a real digit's PNG cut in the middle of its image data
        Image.fromarray(mnist_digits(1)[0][0]).save(path)
        path.write_bytes(path.read_bytes()[:150])
    elif case == "huge-header.png":  # claims 10^10 pixels in 60 bytes
        path.write_bytes(png_bytes(100_000, 100_000, zlib.compress(b"\0" * 64)))
    elif case == "bomb.png":  # a valid 7000x7000 black image: 49 MB of pixels in 49 KB
        rows = zlib.compressobj(9)
        data = b"".join(rows.compress(b"\0" * 7001) for _ in range(7000)) + rows.flush()
        path.write_bytes(png_bytes(7000, 7000, data))
    elif case == "oversized.png":  # 65 MiB (sparse: no disk used)
        with open(path, "wb") as f:
            f.write(png_bytes(28, 28, zlib.compress(b"\0" * 29 * 28)))
            f.truncate(65 << 20)
    elif case == "a-directory.png":
        path.mkdir()
    return path


BAD_IMAGES = {
    "noise.png": "cannot identify image file", "truncated.png": "cannot decode the PNG image",
    "huge-header.png": "claims 10,000,000,000 pixels, more than the 40,000,000 read here",
    "bomb.png": "claims 7000x7000 pixels, more than the 40,000,000 read here",
    "oversized.png": "68,157,440 bytes, more than the 67,108,864", "a-directory.png": "is a directory",
}


@needs_mnist
@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_predict_refuses_a_bad_image_file_in_one_line_before_decoding_it(case, untrained_model, tmp_path):
    """Run with the child's address space capped at its size plus 2 GiB: a 10^10-pixel image
    decoded anyway would fail with MemoryError, not with the message checked here."""
    path = _write_bad_image(tmp_path, case)
    code = ("import resource, sys\n" + CHILD_ADDRESS_LIMIT
            + "from fastconv.__main__ import main\nsys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", code, "predict", str(untrained_model), str(path)],
                          capture_output=True, text=True, env=offline_env(tmp_path), timeout=120, check=False)
    line = one_error_line(done)
    assert str(path) in line and BAD_IMAGES[case] in line, line
