"""Train and run the lecture's CNN with fastconv, PyTorch and Keras on the same
machine, data and settings, and write the table to docs/performance-model.md.

The model: Conv2D(28, 3x3) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu)
-> Dropout(0.2) -> Dense(10, softmax); Adam (lr 1e-3, eps 1e-7), batch 32,
sparse cross-entropy, shuffled each epoch, on the 5,000 real MNIST training
digits of ../shared/data/mnist-5k, evaluated on its 10,000 test digits.
Each library runs in its own process with the same thread count (every
library's pools, BLAS included, limited alike), interleaved over repeats;
the table gives the median. Training time covers `fit` only (no imports, no
data loading); inference is `predict` over the 10,000 test digits at batch 32
(Keras' default).

    python benchmarks/model_table.py [--keras-python PATH] [--threads 1,2]
                                     [--repeats 3] [--epochs 10] [--out docs/performance-model.md]

Keras needs a Python with TensorFlow and threadpoolctl (`--keras-python`, e.g. a
venv made with `pip install tensorflow-cpu threadpoolctl`); without it the Keras
column says "missing".
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from fastconv._bench.workloads import cpu_model
from fastconv._files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "mnist-5k"

# One worker script, run as `python -c WORKER lib threads epochs seed data`; prints one JSON line.
WORKER = textwrap.dedent(r'''
    import gzip, json, os, sys, time
    lib, threads, epochs, seed, data, tile = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                              sys.argv[5], int(sys.argv[6]))
    import numpy as np

    def idx(name):
        raw = gzip.open(os.path.join(data, name + ".gz")).read()
        nd = raw[3]
        dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
        return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)

    x_train = idx("train-images-idx3-ubyte").reshape(-1, 28, 28, 1).astype("float32") / 255
    y_train = idx("train-labels-idx1-ubyte").astype("int64")
    x_train, y_train = np.tile(x_train, (tile, 1, 1, 1)), np.tile(y_train, tile)  # --tile
    x_test = idx("t10k-images-idx3-ubyte").reshape(-1, 28, 28, 1).astype("float32") / 255
    y_test = idx("t10k-labels-idx1-ubyte").astype("int64")
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    out = {"lib": lib, "threads": threads}

    if lib == "fastconv":
        import fastconv
        from fastconv.models import Sequential
        from fastconv.layers import Conv2D, MaxPooling2D, Flatten, Dense, Dropout
        fastconv.set_num_threads(threads)
        fastconv.utils.set_random_seed(seed)
        model = Sequential()
        model.add(Conv2D(28, kernel_size=(3, 3), input_shape=(28, 28, 1)))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Flatten())
        model.add(Dense(128, activation="relu"))
        model.add(Dropout(0.2))
        model.add(Dense(10, activation="softmax"))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        t = time.perf_counter(); model.fit(x_train, y_train, epochs=epochs, verbose=0); out["train_s"] = time.perf_counter() - t
        t = time.perf_counter(); p = model.predict(x_test, verbose=0); out["predict_s"] = time.perf_counter() - t
        out["version"] = fastconv.__version__
    elif lib == "keras":
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        keras = tf.keras
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(28, kernel_size=(3, 3)),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation=tf.nn.relu),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation=tf.nn.softmax)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        t = time.perf_counter(); model.fit(x_train, y_train, epochs=epochs, verbose=0); out["train_s"] = time.perf_counter() - t
        t = time.perf_counter(); p = model.predict(x_test, verbose=0); out["predict_s"] = time.perf_counter() - t
        out["version"] = "TensorFlow " + tf.__version__ + ", Keras " + keras.__version__
    elif lib == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        g = np.random.default_rng(seed)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 28, 3), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
            torch.nn.Linear(28 * 13 * 13, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2),
            torch.nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        xt = torch.from_numpy(x_train.transpose(0, 3, 1, 2).copy()); yt = torch.from_numpy(y_train)
        loss_fn = torch.nn.CrossEntropyLoss()
        t = time.perf_counter()
        model.train()
        for epoch in range(epochs):
            order = torch.from_numpy(g.permutation(len(xt)))
            for i in range(0, len(xt), 32):
                b = order[i:i + 32]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xt[b]), yt[b])
                loss.backward()
                opt.step()
        out["train_s"] = time.perf_counter() - t
        model.eval()
        xe = torch.from_numpy(x_test.transpose(0, 3, 1, 2).copy())
        t = time.perf_counter()
        with torch.no_grad():
            p = torch.cat([torch.softmax(model(xe[i:i + 32]), 1) for i in range(0, len(xe), 32)]).numpy()
        out["predict_s"] = time.perf_counter() - t
        out["version"] = "PyTorch " + torch.__version__
    out["accuracy"] = float((p.argmax(1) == y_test).mean())
    print(json.dumps(out))
''')


def _public_args(argv: list[str]) -> str:
    """The command line as written into the docs: the Keras interpreter's path is
    this machine's, so it is shown as a placeholder."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--keras-python":
            out[i + 1] = "TF_VENV/bin/python"
    return shlex.join(out)  # (an empty --summary '' stays visible)


def run_one(python: str, lib: str, threads: int, epochs: int, seed: int, tile: int = 1) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "FASTCONV_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run([python, "-c", WORKER, lib, str(threads), str(epochs), str(seed), str(DATA),
                           str(tile)],
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keras-python", help="a Python with TensorFlow installed")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3, help="runs per library (seeds 0, 1, ...)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--tile", type=int, default=1,
                    help="train on the 5,000 digits repeated this many times (12: a 60,000-image "
                         "epoch, MNIST's full size, whose time the targets then judge)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance-model.md"))
    ap.add_argument("--summary", default=str(ROOT / "docs" / "performance.md"),
                    help="also put the table into this file's model section ('' to skip)")
    args = ap.parse_args()
    libs = {"fastconv": sys.executable, "torch": sys.executable}
    if args.keras_python:
        libs["keras"] = args.keras_python
    threads = [int(t) for t in args.threads.split(",")]
    results: dict[tuple[str, int], list[dict]] = {}
    start_load = load_average()
    for t in threads:
        for rep in range(args.repeats):  # interleaved: one run of each library per round
            for lib, python in libs.items():
                r = run_one(python, lib, t, args.epochs, seed=rep, tile=args.tile)
                results.setdefault((lib, t), []).append(r)
                print(f"threads {t} seed {rep} {lib:9s} train {r['train_s']:7.2f} s  "
                      f"predict {r['predict_s']:6.3f} s  accuracy {r['accuracy']:.4f}", flush=True)
    header = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `python benchmarks/model_table.py {_public_args(sys.argv[1:])}`",
        f"- machine: {cpu_model()}; load average at start {start_load}, at end {load_average()}",
        f"- versions: " + "; ".join(sorted({f'{lib}: {rs[0]["version"]}' for (lib, _), rs in results.items()})),
        f"- task: {args.epochs} epoch{'s' if args.epochs > 1 else ''}, batch 32, Adam, on "
        + (f"the 5,000 training digits of mnist-5k repeated {args.tile} times ({5000 * args.tile:,} "
           "images an epoch); " if args.tile > 1 else "the 5,000 training digits of mnist-5k; ") +
        f"predict over its 10,000 test digits at batch 32; {args.repeats} runs (seeds 0..{args.repeats - 1}) "
        "per library, interleaved; medians (min-max)",
    ]
    table = [
        "| threads | library | train (s) | predict (s) | test accuracy (mean of runs) | fastconv speed-up, train | fastconv speed-up, predict |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for t in threads:
        fc = results[("fastconv", t)]
        fc_train = statistics.median(r["train_s"] for r in fc)
        fc_pred = statistics.median(r["predict_s"] for r in fc)
        for lib in libs:
            rs = results[(lib, t)]
            tr = [r["train_s"] for r in rs]
            pr = [r["predict_s"] for r in rs]
            acc = statistics.mean(r["accuracy"] for r in rs)
            su_t = statistics.median(tr) / fc_train
            su_p = statistics.median(pr) / fc_pred
            table.append(
                f"| {t} | {lib} | {statistics.median(tr):.2f} ({min(tr):.2f}-{max(tr):.2f}) | "
                f"{statistics.median(pr):.3f} ({min(pr):.3f}-{max(pr):.3f}) | {acc:.4f} | "
                f"{'' if lib == 'fastconv' else f'{su_t:.2f}x'} | {'' if lib == 'fastconv' else f'{su_p:.2f}x'} |")
            if lib != "fastconv":
                verdicts.append(f"- {t} thread(s), vs {lib}: training {su_t:.2f}x faster "
                                f"({'met' if su_t >= 3 else 'NOT met'}: target >= 3x); inference "
                                f"{su_p:.2f}x ({'met' if su_p > 1 else 'NOT met'}: target > 1x)")
                if args.tile == 12 and t == 2:
                    verdicts.append(f"- 2 threads, vs {lib}: a 60,000-image epoch {su_t:.2f}x faster "
                                    f"({'met' if su_t >= 5 else 'NOT met'}: target >= 5x)")
        if args.tile == 12 and t == 2:
            epoch = fc_train / args.epochs
            verdicts.append(f"- 2 threads: fastconv's 60,000-image epoch {epoch:.2f} s "
                            f"({'met' if epoch <= 2.5 else 'NOT met'}: target <= 2.5 s)")
        accs = [r["accuracy"] for r in fc]
        verdicts.append(f"- {t} thread(s): fastconv mean test accuracy over {len(accs)} seeds "
                        f"{statistics.mean(accs):.4f} ({', '.join(f'{a:.4f}' for a in accs)}) "
                        f"({'met' if statistics.mean(accs) >= 0.945 else 'NOT met'}: target >= 0.945)")
    if "keras" not in libs:
        verdicts.append("- Keras: missing (run with --keras-python pointing at a Python with TensorFlow)")
    title = ("a 60,000-image epoch" if args.tile == 12 else "training and inference")
    lines = [f"# The lecture's CNN: {title}, fastconv vs PyTorch vs Keras", "",
             "<!-- Generated by benchmarks/model_table.py; do not edit by hand. -->", "",
             *header, "", *table, "", "Targets:", "", *verdicts, "",
             "Where a training step's time goes, part by part: "
             "`python benchmarks/model_profile.py --threads 1` (or 2).", ""]
    with atomic_write(args.out) as f:
        f.write("\n".join(lines).encode())
    print("\n".join(lines))
    if args.summary:
        put_model_section(Path(args.summary), header + [""] + table + [""] + verdicts, Path(args.out))
    return 0


MODEL_BEGIN = "<!-- model section: written by benchmarks/model_table.py -->"
MODEL_END = "<!-- end of model section -->"


def put_model_section(path: Path, body: list[str], full: Path) -> None:
    """Replace (or append) the marked model section of `path` (docs/performance.md)
    with `body`, this run's header, table and verdicts."""
    section = "\n".join([MODEL_BEGIN, "## The lecture's CNN: training and inference", "",
                         f"From [{full.name}]({full.name}), which has the details:", "", *body,
                         MODEL_END])
    text = path.read_text() if path.exists() else ""
    if MODEL_BEGIN in text and MODEL_END in text:
        pre, rest = text.split(MODEL_BEGIN, 1)
        text = pre + section + rest.split(MODEL_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with atomic_write(path) as f:
        f.write(text.encode())


def keep_model_section(old: str, new: str) -> str:
    """`new` (docs/performance.md as benchmarks/perf_table.py rewrites it) with the
    model section of `old`, if it had one, carried over at the end."""
    if MODEL_BEGIN not in old or MODEL_END not in old:
        return new
    return new + "\n\n" + MODEL_BEGIN + old.split(MODEL_BEGIN, 1)[1].split(MODEL_END, 1)[0] + MODEL_END + "\n"


if __name__ == "__main__":
    sys.exit(main())
