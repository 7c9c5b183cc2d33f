"""Runtime configuration: threads, instruction set, and what this build holds."""
from __future__ import annotations

import os
import warnings
from typing import Any

from . import _kernels, _tuning

MAX_THREADS = _kernels.MAX_THREADS  # the C pool's cap, FC_MAX_THREADS


def get_num_threads() -> int:
    """The number of threads a fastconv call may use.

    Returns
    -------
    int
        ``set_num_threads``'s count, else ``$FASTCONV_NUM_THREADS``, else
        ``$OMP_NUM_THREADS``, else the CPUs this process may run on (its
        affinity mask, capped by a Linux cgroup CPU quota such as a
        container's ``--cpus``: config's ``cpu_quota``); lowered by
        a ``threadpoolctl.threadpool_limits`` block or a
        ``fastconv.dask.thread_limit`` in the calling thread.

    See Also
    --------
    set_num_threads

    Examples
    --------
    >>> import fastconv
    >>> fastconv.get_num_threads() >= 1
    True
    """
    return _kernels.get_num_threads()


def set_num_threads(n: int) -> None:
    """Cap the threads of later fastconv calls.

    Governs fastconv's own thread pool only: PyTorch's, BLAS's and OpenMP's
    threads are left as they are.

    Parameters
    ----------
    n : int
        At least 1; counts above 1024 mean 1024.

    Raises
    ------
    ValueError
        If `n` is below 1.
    TypeError
        If `n` is not an integer.

    Examples
    --------
    >>> import fastconv
    >>> before = fastconv.get_num_threads()
    >>> fastconv.set_num_threads(1)
    >>> fastconv.get_num_threads()
    1
    >>> fastconv.set_num_threads(before)
    """
    import operator

    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _kernels.set_num_threads(min(n, MAX_THREADS))


def _apply_env() -> None:
    """Warn about a $FASTCONV_NUM_THREADS the pool cannot use (the C library reads
    it, and $OMP_NUM_THREADS, itself), then honour $FASTCONV_ISA."""
    _, why = _kernels.env_num_threads()
    if why:
        warnings.warn(why, RuntimeWarning, stacklevel=3)
    _apply_isa_env()


def _apply_isa_env() -> None:
    """Honour $FASTCONV_ISA (the C library caps it too, reading it the same way);
    warn on names it does not know or on a request above what the CPU can run."""
    wanted, why = _kernels.env_isa()
    if why:
        warnings.warn(f"{why}; using {_kernels.cpu_isa()!r}", RuntimeWarning, stacklevel=3)
    if wanted is None:
        return
    got = _kernels.set_isa(wanted)
    if got != wanted:
        warnings.warn(
            f"FASTCONV_ISA={wanted!r} is above what this CPU supports; using {got!r}",
            RuntimeWarning,
            stacklevel=3,
        )


def _thread_pool() -> str:
    if not _kernels.threads_enabled():
        return "none (serial build)"
    return "fastconv's own (POSIX threads)"


# ---- threadpoolctl ------------------------------------------------------------------
# threadpoolctl finds thread pools by the shared libraries a process has loaded;
# fastconv's is libfastconv, described by the controller below. It is registered
# when threadpoolctl is imported (now, if it already is; else by a one-shot
# import hook that removes itself), so fastconv never imports threadpoolctl.


def _register_threadpoolctl(module) -> None:
    if not hasattr(module, "register") or not hasattr(module, "LibController"):
        return  # threadpoolctl < 3.2 has no registry

    class FastconvController(module.LibController):
        user_api = "fastconv"
        internal_api = "fastconv"
        filename_prefixes = ("libfastconv",)
        check_symbols = ("fc_get_num_threads", "fc_set_num_threads", "fc_pool_workers")

        def get_num_threads(self):
            return self.dynlib.fc_get_num_threads()

        def set_num_threads(self, num_threads):
            self.dynlib.fc_set_num_threads(min(int(num_threads), MAX_THREADS))

        def get_version(self):
            from . import __version__

            return __version__

    module.register(FastconvController)


class _ThreadpoolctlHook:
    """A meta-path finder that lets threadpoolctl import as usual, then
    registers fastconv's controller in it, and takes itself off sys.meta_path."""

    def find_spec(self, name, path=None, target=None):
        if name != "threadpoolctl":
            return None
        import sys

        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


class _RegisteringLoader:
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        _register_threadpoolctl(module)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _hook_threadpoolctl() -> None:
    import sys

    if "threadpoolctl" in sys.modules:
        _register_threadpoolctl(sys.modules["threadpoolctl"])
    else:
        sys.meta_path.insert(0, _ThreadpoolctlHook())


def config() -> dict[str, Any]:
    """The build and runtime configuration, as :func:`show_config` prints it.

    Returns
    -------
    dict
        ``version``, ``python``, ``machine``; ``isa`` (the instruction set in
        use: ``"scalar"``, ``"avx2"`` or ``"avx512"``), ``cpu_isa`` (the best
        this CPU and OS support), ``compiled_isas`` (a list); ``caches``
        (the L1 data, L2 and L3 cache sizes one core sees, as CPUID reports
        them; "unknown" where it does not); ``thread_pool``, ``num_threads``,
        ``cpu_quota`` (the CPUs a Linux cgroup CPU quota grants this process,
        rounded up, which caps the default thread count; None where none is
        set), ``memory_limit`` (the bytes a Linux cgroup memory limit grants
        it; None where none is set); ``large_blocks``, the bytes of large
        blocks kept for reuse now and at most (results and scratch of 32 MiB
        and more live on them; by default at most an eighth of the physical memory
        or of ``memory_limit``, the smaller, and 4 GiB; see
        docs/reliability.md);
        ``compiler`` and ``cflags`` of the C kernels; ``tuning``, whether tuned
        tile choices are loaded (``fastconv tune``) and from where; ``kernels``,
        the microkernel in each slot of the dispatch table in use (a dict: slot
        -> C name, followed by ``(cost c)`` for an indirect-GEMM tile borrowed
        from a lower ISA), built from the registries in ``csrc/ukernels/*.inc``.

    Examples
    --------
    >>> import fastconv
    >>> info = fastconv.config()
    >>> info["version"] == fastconv.__version__
    True
    >>> info["isa"] in info["compiled_isas"]
    True
    """
    import platform

    from . import __version__

    info = _kernels.build_info()
    return {
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "isa": _kernels.current_isa(),
        "cpu_isa": _kernels.cpu_isa(),
        "compiled_isas": list(_kernels.compiled_isas()),
        "caches": _caches(),
        "thread_pool": _thread_pool(),
        "num_threads": get_num_threads(),
        "cpu_quota": _kernels.cgroup_cpus() or None,
        "memory_limit": _kernels.cgroup_memory() or None,
        "large_blocks": {"kept": _kernels.big_kept(), "limit": _kernels.big_keep()},
        "compiler": info["compiler"],
        "cflags": info["cflags"].strip(),
        "tuning": _tuning.status(),
        "kernels": table_kernels(),
    }


def table_kernels(isa: str | None = None) -> dict[str, str]:
    """The microkernel in each slot of `isa`'s dispatch table (default: the
    one in use), slot -> C name, by op and then dtype; an indirect-GEMM tile
    borrowed from a lower ISA has its cost appended."""
    out: dict[str, str] = {}
    for k in _kernels.ukernels(isa):
        if k["slot"] is not None:
            cost = f" (cost {k['cost']:g})" if k["cost"] != 1 else ""
            out[k["slot"]] = k["name"] + cost
    return {slot: out[slot] for slot in sorted(out, key=lambda s: (s[4:].split("[")[0], s[:3], s))}


def user_cache() -> str:
    """fastconv's folder in the user cache: ``$XDG_CACHE_HOME/fastconv`` if
    ``XDG_CACHE_HOME`` is an absolute path (XDG says to ignore relative ones),
    else ``~/.cache/fastconv``. It may not exist yet."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastconv")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def virtual_machine() -> bool:
    """Whether the CPU says it runs under a hypervisor (x86 'hypervisor' flag)."""
    return "hypervisor" in _cpuinfo().get("flags", "").split()


def cpu_name() -> str:
    """The CPU's name with its family, model and stepping where the system says
    them ('AMD EPYC (family 26, model 2, stepping 1)'); else the platform's
    processor or machine name."""
    fields = _cpuinfo()
    name = fields.get("model name")
    if not name:
        import platform

        name = platform.processor() or platform.machine()
    ids = [f"{k.replace('cpu ', '')} {fields[k]}" for k in ("cpu family", "model", "stepping")
           if k in fields]
    return f"{name} ({', '.join(ids)})" if ids else name


def _caches() -> str:
    """'L1d 48 KiB, L2 1 MiB, L3 32 MiB' from the kernels' CPUID reading, and the part
    of a larger L3 the kernels count on (a VM told of a whole socket's L3)."""
    def size(n: int) -> str:
        if n <= 0:
            return "unknown"
        for unit, shift in (("MiB", 20), ("KiB", 10)):
            if n >= 1 << shift and n % (1 << shift) == 0:
                return f"{n >> shift} {unit}"
        return f"{n} B"
    found = _kernels.cpu_caches()
    counted = f" (counted: {size(found['llc'])})" if 0 < found["llc"] < found["l3"] else ""
    return f"L1d {size(found['l1d'])}, L2 {size(found['l2'])}, L3 {size(found['l3'])}{counted}"


def show_config() -> None:
    """Print the version, the instruction set in use and those compiled, the
    thread pool and its thread count, the compiler (``fastconv info``), and
    then the microkernel in each slot of the dispatch table in use with how
    many kernels are registered in all.

    Examples
    --------
    >>> import fastconv
    >>> fastconv.show_config()  # doctest: +ELLIPSIS
           version: ...
            python: ...
           machine: ...
               isa: ...
    """
    cfg = config()
    table = cfg.pop("kernels")
    for key, value in cfg.items():
        if isinstance(value, list):
            value = ", ".join(value)
        elif key == "memory_limit" and value is not None:
            value = f"{value / (1 << 20):.0f} MiB (a cgroup's)"
        elif key == "large_blocks":
            value = (f"{value['kept'] / (1 << 20):.0f} MiB kept for reuse, at most "
                     f"{value['limit'] / (1 << 20):.0f} MiB (results and scratch of 32 MiB and more)")
        print(f"{key:>14}: {value}")
    registered = _kernels.ukernels()
    print(f"\nkernels of the {cfg['isa']} table ({len(table)} slots; {len(registered)} kernels "
          f"registered, {len({k['name'] for k in registered} - {n.split()[0] for n in table.values()})} "
          "of them not in this table):")
    width = max(map(len, table), default=0)
    for slot, name in table.items():
        print(f"  {slot:<{width}}  {name}")
