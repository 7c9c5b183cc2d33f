"""The ``fastconv`` command line: ``demo``, ``train``, ``predict``, ``bench``, ``info``."""
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
