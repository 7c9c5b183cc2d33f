"""The ``fastconv`` command line: ``demo``, ``train``, ``predict``, ``bench``, ``tune``, ``info``."""
from __future__ import annotations

import argparse
import sys


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    import fastconv

    fastconv.show_config()
    if args.example:
        x = [5.0, 3.0, 2.0, 5.0, 9.0, 7.0]
        y = fastconv.conv2d(np.array(x).reshape(1, 1, 1, 6), np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3))
        print(f"\nconv2d({x}, [1, 2, 3]) = {y.ravel().tolist()}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from ._bench import cli

    return cli.main(args, args.parser)


def _tune(args: argparse.Namespace) -> int:
    from . import _tuning

    if args.clear:
        path = _tuning.cache_file()
        path.unlink(missing_ok=True)
        print(f"removed {path}; the static choice runs from the next start")
        return 0
    print(f"tuning for {_tuning.cpu_identity()} at {_kernels_threads()} threads")
    choices = _tuning.tune(repeats=args.repeats, min_time=args.min_time, report=print)
    if args.dry_run:
        print(f"{len(choices)} tuned choices (not saved: --dry-run)")
        return 0
    path = _tuning.save(choices)
    _tuning.load(path)
    print(f"saved {len(choices)} tuned choices to {path}" +
          ("" if _tuning.enabled() else " (FASTCONV_TUNE=off: they are not used)"))
    return 0


def _kernels_threads() -> int:
    import fastconv

    return fastconv.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastconv", description=__doc__)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastconv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="print the build and runtime configuration")
    p_info.add_argument("--example", action="store_true", help="also run the lecture's 1-D example")
    p_info.set_defaults(func=_info)
    from ._bench import cli as bench_cli

    p_bench = sub.add_parser(
        "bench", help="time fastconv against NumPy, SciPy, PyTorch and ONNX Runtime on this machine",
        description="Time fastconv's conv2d (forward and backward), relu, max_pool2d and drop-ins "
                    "against NumPy, SciPy and PyTorch, with this machine's measured FMA peak and "
                    "copy bandwidth. The 'small' area times per-call latency: the lecture CNN's "
                    "predict on one image and on 10,000 against its PyTorch twin and ONNX Runtime, "
                    "and the drop-ins, relu and conv2d from 10 elements up. Peers that are not "
                    "installed are reported as missing.")
    bench_cli.configure(p_bench)
    p_bench.set_defaults(func=_bench, parser=p_bench)
    p_tune = sub.add_parser(
        "tune", help="time the kernels' register tiles on this CPU and keep the fastest",
        description="Time every register tile of the dispatch table on the products of the lecture "
                    "model's dense layers and of the benchmark's conv2d layers, at the current "
                    "thread count, and save the tiles that beat the static choice by more than 3%% "
                    "(in the median and in four rounds of five) to a file in the user cache, which `import fastconv` loads (FASTCONV_TUNE=off "
                    "ignores it). Every tile gives the same results. Takes about a minute.")
    p_tune.add_argument("--repeats", type=int, default=5, help="rounds of timing per tile (default 5)")
    p_tune.add_argument("--min-time", type=float, default=0.02,
                        help="seconds per timed loop, at least (default 0.02)")
    p_tune.add_argument("--dry-run", action="store_true", help="measure and print, save nothing")
    p_tune.add_argument("--clear", action="store_true", help="remove this CPU's tuning file")
    p_tune.set_defaults(func=_tune)
    from . import _cli

    _cli.configure(sub)
    args = parser.parse_args(argv)  # bad values and output paths: usage, one line, exit 2
    try:
        return args.func(args)
    except BrokenPipeError:  # `fastconv predict ... | head`: stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except _cli.MissingExtra as err:  # checked before any work: one line, what to install,
        print(f"fastconv {args.command}: error: {err}", file=sys.stderr)
        return 2  # and argparse's status for a command refused before it began
    except KeyboardInterrupt:  # Ctrl-C where a command has no more to say (train has)
        print(f"fastconv {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, MemoryError) as err:
        # what fastconv documents for bad files and values, and what the system raises
        # for missing or unreadable ones: a message, not a traceback (kept for bugs)
        what = str(err) or type(err).__name__
        if isinstance(err, OSError) and err.filename and err.strerror:
            what = f"{err.filename}: {err.strerror}"
        elif isinstance(err, MemoryError):
            what = f"out of memory ({what})"
        print(f"fastconv {args.command}: error: {what}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
