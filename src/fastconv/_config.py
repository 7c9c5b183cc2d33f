"""Runtime configuration: threads, instruction set, and what this build holds."""
from __future__ import annotations

import os
import platform
import warnings

from . import _kernels

ISAS = ("scalar", "avx2", "avx512")


def get_num_threads() -> int:
    """Threads a fastconv call may use (``FASTCONV_NUM_THREADS``, ``OMP_NUM_THREADS``,
    ``set_num_threads`` and ``threadpoolctl`` limits all apply)."""
    return _kernels.get_num_threads()


def set_num_threads(n: int) -> None:
    """Cap the threads of later fastconv calls at `n` (>= 1)."""
    import operator

    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _kernels.set_num_threads(n)


def _apply_env() -> None:
    """Apply $FASTCONV_NUM_THREADS as set_num_threads would, then $FASTCONV_ISA."""
    threads = os.environ.get("FASTCONV_NUM_THREADS", "").strip()
    if threads:
        try:
            set_num_threads(int(threads))
        except ValueError:
            warnings.warn(
                f"FASTCONV_NUM_THREADS={threads!r} is not a positive integer; ignored",
                RuntimeWarning,
                stacklevel=3,
            )
    _apply_isa_env()


def _apply_isa_env() -> None:
    """Honour $FASTCONV_ISA (the C side caps it too); warn on names we do not know
    or on a request above what the CPU can run."""
    wanted = os.environ.get("FASTCONV_ISA", "").strip().lower()
    if not wanted:
        return
    if wanted not in ISAS:
        warnings.warn(
            f"FASTCONV_ISA={wanted!r} is not one of {', '.join(ISAS)}; using {_kernels.cpu_isa()!r}",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    got = _kernels.set_isa(wanted)
    if got != wanted:
        warnings.warn(
            f"FASTCONV_ISA={wanted!r} is above what this CPU supports; using {got!r}",
            RuntimeWarning,
            stacklevel=3,
        )


def _openmp_runtime() -> str:
    if not _kernels.openmp_enabled():
        return "none (serial build)"
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "openmp"]
        if libs:
            return ", ".join(f"{i['internal_api']} ({os.path.basename(i['filepath'])})" for i in libs)
    except ImportError:
        pass
    return "OpenMP"


def config() -> dict:
    """The build and runtime configuration as a dict (what ``show_config`` prints)."""
    from . import __version__

    info = _kernels.build_info()
    return {
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "isa": _kernels.current_isa(),
        "cpu_isa": _kernels.cpu_isa(),
        "compiled_isas": list(_kernels.compiled_isas()),
        "openmp": _openmp_runtime(),
        "num_threads": get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "compiler": info["compiler"],
        "cflags": info["cflags"].strip(),
    }


def show_config() -> None:
    """Print version, ISA in use and compiled, OpenMP runtime and threads, compiler."""
    for key, value in config().items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:>14}: {value}")
