"""fastconv.dask on a LocalCluster of 1 and 2 worker processes (and the threaded
scheduler), for docs/dask.md: throughput and scaling efficiency.

    python benchmarks/dask_table.py [--size 16384] [--chunk 2048] [--images 1000000]
                                    [--image-chunk 20000] [--repeats 2] [--out docs/dask.md]

Workloads:
- image: a size x size float32 image (16384: 1 GiB) in chunk x chunk blocks, generated
  by dask.array.random and persisted in the workers' memory, then correlated with a
  7x7 float32 kernel, mode 'same', boundary 'symm' (fastconv.dask.correlate2d); timed
  from submitting the graph to the result being in the workers' memory (persist + wait),
  so neither the generation nor a transfer to the client is counted.
- inference: the lecture's CNN (examples/mnist_cnn.py; untrained weights, seeded: the
  arithmetic is that of a trained model) on `images` 28x28x1 float32 images generated
  lazily per chunk of `image-chunk` images by dask.array.random; fastconv.dask.predict,
  batch 32, and the predicted class counted (bincount of argmax), so only ten numbers come
  back. Timed end to end, generation included; the generation alone is timed too.

Each worker process has one thread and runs fastconv with 1 thread (the default of
fastconv.dask); distributed starts workers with one BLAS thread. "threads" is the threaded
scheduler in this process with 2 threads (BLAS limited to 1 thread by threadpoolctl).
"in memory" is one fastconv call in this process with 1 thread (BLAS 1 thread), for the
cost of going through Dask. Scaling efficiency = time(1 worker) / (2 x time(2 workers)).
Best of `repeats` runs, with the share of CPU time other processes took meanwhile
(from /proc/stat via psutil, minus this process and its workers): the machine is shared,
so a run with a large share is marked as possibly disturbed.
"""
from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import dask
import dask.array as da
import distributed
import numpy as np
import psutil
from threadpoolctl import threadpool_limits

import fastconv
import fastconv.dask as fcd
from fastconv import _demo
from fastconv._bench import workloads
from fastconv._files import atomic_write
from fastconv.models import Sequential

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- dask_table.py: begin -->", "<!-- dask_table.py: end -->"
DISTURBED = 0.10  # other processes' share of all CPU time above which a run is marked


class OtherLoad:
    """Share of all CPUs' time used by processes other than this one and its children
    (the workers) since construction."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        cpu = psutil.cpu_times()
        me = psutil.Process()
        own = 0.0
        for p in [me, *me.children(recursive=True)]:
            try:
                t = p.cpu_times()
                own += t.user + t.system
            except psutil.Error:
                pass
        return sum(cpu), cpu.idle + getattr(cpu, "iowait", 0.0), own

    def share(self) -> float:
        end = self._sample()
        total, idle, own = (e - s for e, s in zip(end, self.start))
        return min(max((total - idle - own) / total, 0.0), 1.0) if total > 0 else 0.0


def timed(fn, repeats: int):
    """Best of `repeats` runs of fn(): (seconds, other processes' share in that run, all times)."""
    runs = []
    for _ in range(repeats):
        load = OtherLoad()
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0, load.share()))
    best = min(runs)
    return best[0], best[1], [r[0] for r in runs]


def lecture_model() -> Sequential:
    fastconv.utils.set_random_seed(0)
    return _demo.lecture_model(10)


def image_graphs(args):
    x = da.random.default_rng(1).random((args.size, args.size), dtype=np.float32,
                                        chunks=args.chunk)
    k = np.random.default_rng(2).random((7, 7), dtype=np.float32)
    return x, k


def images_graph(args):
    return da.random.default_rng(3).random((args.images, 28, 28, 1), dtype=np.float32,
                                           chunks=(args.image_chunk, 28, 28, 1))


def measure_on(scheduler, args, model) -> dict:
    """Both workloads on one scheduler: a distributed Client or the string 'threads'."""
    out = {}
    compute = (lambda *a: dask.compute(*a, scheduler="threads", num_workers=2)) \
        if scheduler == "threads" else (lambda *a: scheduler.compute(list(a), sync=True))
    x, k = image_graphs(args)
    if scheduler == "threads":
        (x,) = dask.persist(x, scheduler="threads", num_workers=2)

        def correlate():
            (y,) = dask.persist(fcd.correlate2d(x, k, "same", "symm"), scheduler="threads",
                                num_workers=2)
            del y
    else:
        x = scheduler.persist(x)
        distributed.wait(x)

        def correlate():
            y = scheduler.persist(fcd.correlate2d(x, k, "same", "symm"))
            distributed.wait(y)
            del y
    out["image"] = timed(correlate, args.repeats)
    x = None  # the image's blocks can go before the inference workload
    imgs = images_graph(args)
    counts = da.bincount(fcd.predict(model, imgs).argmax(axis=1), minlength=10)
    got = []
    out["inference"] = timed(lambda: got.append(compute(counts)[0]), args.repeats)
    out["generation"] = timed(lambda: compute(imgs.sum()), 1)
    out["class_counts"] = got[-1].tolist()
    out["images"] = args.images
    return out


def measure_in_memory(args, model) -> dict:
    """One fastconv call in this process, 1 thread: the image (as one NumPy array) and
    predict over the first image chunk (scaled to all images)."""
    out = {}
    with threadpool_limits(1):
        x = np.random.default_rng(1).random((args.size, args.size), dtype=np.float32)
        k = np.random.default_rng(2).random((7, 7), dtype=np.float32)
        saved = fastconv.get_num_threads()
        fastconv.set_num_threads(1)
        try:
            out["image"] = timed(lambda: fastconv.correlate2d(x, k, "same", "symm"), args.repeats)
            x = None  # the image can go before the inference workload
            imgs = np.random.default_rng(3).random((args.image_chunk, 28, 28, 1), dtype=np.float32)
            s, share, runs = timed(lambda: model.predict(imgs, verbose=0), args.repeats)
            scale = args.images / args.image_chunk
            out["inference"] = (s * scale, share, [r * scale for r in runs])
            out["images"] = args.images
        finally:
            fastconv.set_num_threads(saved)
    return out


# distributed starts workers with MALLOC_TRIM_THRESHOLD_=65536 (and one BLAS/OpenMP thread).
# Setting that variable fixes glibc's mmap threshold at 128 KiB, so every batch's conv and
# dense buffers are mapped and unmapped afresh (page faults, ~4x slower inference here);
# docs/dask.md recommends dropping it for fastconv work, which the main rows do.
DEFAULT_ENV = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
FASTCONV_ENV = {k: v for k, v in DEFAULT_ENV.items() if k != "MALLOC_TRIM_THRESHOLD_"}


def cluster(n_workers: int, env: dict):
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None)


def fmt_time(entry) -> str:
    s, share, _ = entry
    flag = " (possibly disturbed)" if share > DISTURBED else ""
    return f"{s:.2f} s, others {100 * share:.0f}%{flag}"


def table(results: dict, args) -> str:
    """One row per run; the default-environment run predicts --default-env-images images."""
    px = args.size * args.size
    flops = 2 * 49 * px
    rows = [("| run | image: time | Mpixel/s | GFLOP/s | efficiency | inference: time | images/s | "
            "efficiency | generation alone |"),
            "|---|---|---|---|---|---|---|---|---|"]
    t1 = {w: results["1 worker"][w][0] for w in ("image", "inference")}
    for name, r in results.items():
        eff = {}
        for w in ("image", "inference"):
            eff[w] = f"{100 * t1[w] / (2 * r[w][0]):.0f}%" if name == "2 workers" else ""
        gen = fmt_time(r["generation"]) if "generation" in r else "-"
        rows.append(
            f"| {name} | {fmt_time(r['image'])} | {px / r['image'][0] / 1e6:.0f} | "
            f"{flops / r['image'][0] / 1e9:.1f} | {eff['image']} | {fmt_time(r['inference'])} | "
            f"{r['images'] / r['inference'][0]:,.0f} | {eff['inference']} | {gen} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=16384)
    ap.add_argument("--chunk", type=int, default=2048)
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--image-chunk", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--default-env-images", type=int, default=100_000,
                    help="images for the run in distributed's default worker environment")
    ap.add_argument("--out", default=str(ROOT / "docs" / "dask.md"))
    args = ap.parse_args()
    start = time.perf_counter()
    info = workloads.machine_info()
    load_start = " ".join(f"{v:.2f}" for v in os.getloadavg())
    model = lecture_model()
    results = {}
    for n in (1, 2):
        name = f"{n} worker" + ("s" if n > 1 else "")
        with cluster(n, FASTCONV_ENV) as c, distributed.Client(c) as client:
            results[name] = measure_on(client, args, model)
        print(name, results[name], flush=True)
    default = argparse.Namespace(**{**vars(args), "images": args.default_env_images})
    with cluster(1, DEFAULT_ENV) as c, distributed.Client(c) as client:
        results["1 worker, default env"] = measure_on(client, default, model)
    print("default env:", results["1 worker, default env"], flush=True)
    with threadpool_limits(1, user_api="blas"):
        results["threads (2)"] = measure_on("threads", args, model)
    print("threads:", results["threads (2)"], flush=True)
    results["in memory, 1 thread"] = measure_in_memory(args, model)
    print("in memory:", results["in memory, 1 thread"], flush=True)
    counts = {tuple(r["class_counts"]) for r in results.values()
              if "class_counts" in r and r["images"] == args.images}
    command = "python benchmarks/dask_table.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k != "out" and v != ap.get_default(k))
    section = "\n".join([
        BEGIN,
        "<!-- Generated by benchmarks/dask_table.py; do not edit by hand. -->",
        "",
        (f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; command: `{command}`; "
        f"took {time.perf_counter() - start:.0f} s"),
        f"- machine: {info['cpu']}; load average at start {load_start}, at end "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
        + " ('others' is the share of all CPU time other processes took during the best run: "
        "well above 0% means that figure was disturbed)",
        (f"- versions: fastconv {info['fastconv']} (git {info['git']}, kernels built "
        f"{info['kernels_built']}), NumPy {info['numpy']}, dask {dask.__version__}, distributed "
        f"{distributed.__version__}, Python {info['python']}; ISA {info['isa']}, pool {info['thread_pool']}"),
        (f"- image: {args.size}x{args.size} float32 ({args.size * args.size * 4 / 2**30:.2f} GiB) in "
        f"{args.chunk}x{args.chunk} chunks, correlate2d with a 7x7 kernel, 'same', 'symm' "
        f"(GFLOP/s counts 2 x 49 per pixel)"),
        (f"- inference: {args.images:,} generated 28x28x1 images in chunks of {args.image_chunk:,}, "
        f"the lecture's CNN, batch 32; predicted classes identical on every run: "
        f"{'yes' if len(counts) == 1 else 'NO'}"),
        (f"- best of {args.repeats} runs; efficiency = time on 1 worker / (2 x time); "
        "'threads (2)' is the threaded scheduler in one process with 2 threads; "
        "'in memory' is one fastconv call with 1 thread (inference: predict over "
        f"{args.image_chunk:,} images, scaled)"),
        ("- worker environment: distributed's `pre-spawn-environ` without `MALLOC_TRIM_THRESHOLD_` "
        f"({FASTCONV_ENV}), as recommended above; '1 worker, default env' keeps distributed's "
        f"default ({DEFAULT_ENV}) and predicts {args.default_env_images:,} images"),
        "",
        table(results, args),
        END,
    ])
    print(section)
    path = Path(args.out)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: section, text, flags=re.DOTALL)
    else:
        text = text + ("\n" if text else "") + section + "\n"
    with atomic_write(path) as f:
        f.write(text.encode())
    print("wrote", path)


if __name__ == "__main__":
    main()
