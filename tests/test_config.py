"""Runtime control: thread count (setter, environment, threadpoolctl), the ISA
(FASTCONV_ISA), show_config() and the `fastconv info` command."""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastconv
from fastconv import _config, _kernels
from fastconv._kernels import ISA_NAMES as ISAS
from reference import clean_env, run_python


# What a fresh process reports: ISA in use, the CPU's best, threads, and every
# warning raised while importing fastconv (as JSON on the last line of stdout).
PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastconv
from fastconv import _kernels
print(json.dumps({"isa": _kernels.current_isa(), "cpu": _kernels.cpu_isa(),
                  "threads": fastconv.get_num_threads(),
                  "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}))
"""


def probe(**env_vars) -> dict:
    return json.loads(run_python(PROBE, **env_vars).stdout.strip().splitlines()[-1])


# ---- threads -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_num_threads_then_get_returns_it(n, restore_threads):
    fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == n


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_below_one_raises_valueerror(n, restore_threads):
    before = fastconv.get_num_threads()
    with pytest.raises(ValueError, match=r"\bn\b"):
        fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before


@pytest.mark.parametrize("n", [1.5, "2", None])
def test_set_num_threads_non_int_raises_typeerror(n, restore_threads):
    with pytest.raises(TypeError):
        fastconv.set_num_threads(n)


def test_fastconv_num_threads_env_is_honoured():
    assert probe(FASTCONV_NUM_THREADS="1")["threads"] == 1
    # read as $OMP_NUM_THREADS is (blanks, a nested list's outer level), and not warned about
    got = probe(FASTCONV_NUM_THREADS=" 3,2 ")
    assert got["threads"] == 3 and not got["warnings"], got


def test_omp_num_threads_env_is_honoured():
    assert probe(OMP_NUM_THREADS="1")["threads"] == 1
    assert probe(OMP_NUM_THREADS="3,2")["threads"] == 3  # OpenMP's nested list: the outer level


def test_fastconv_num_threads_wins_over_omp_num_threads():
    assert probe(FASTCONV_NUM_THREADS="3", OMP_NUM_THREADS="1")["threads"] == 3


def test_huge_thread_count_from_env_or_setter_is_capped_not_an_error(restore_threads):
    got = probe(FASTCONV_NUM_THREADS=str(2**31))
    assert got["threads"] == _config.MAX_THREADS and not got["warnings"], got
    fastconv.set_num_threads(2**70)
    assert fastconv.get_num_threads() == _config.MAX_THREADS


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_invalid_fastconv_num_threads_warns_and_is_ignored(value):
    got = probe(FASTCONV_NUM_THREADS=value, OMP_NUM_THREADS="1")
    assert got["threads"] == 1, got
    assert any("FASTCONV_NUM_THREADS" in w for w in got["warnings"]), got


def test_default_threads_is_cpu_count():
    want = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not _kernels.threads_enabled():
        want = 1
    assert probe()["threads"] == want


def test_threadpool_limits_caps_fastconv_inside_block(restore_threads):
    fastconv.set_num_threads(2)
    with threadpool_limits(limits=1, user_api="fastconv"):
        assert fastconv.get_num_threads() == 1
        # and the kernels still give the right answer under the limit
        x = np.arange(-8.0, 8.0)
        np.testing.assert_array_equal(fastconv.relu(x), np.maximum(x, 0))
    assert fastconv.get_num_threads() == 2


def test_threadpool_limits_in_fresh_process():
    code = ("import fastconv\nfrom threadpoolctl import threadpool_limits\n"
            "with threadpool_limits(limits=1, user_api='fastconv'):\n    print(fastconv.get_num_threads())\n")
    assert run_python(code).stdout.split() == ["1"]


# ---- ISA ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wanted", ISAS)
def test_fastconv_isa_env_selects_and_caps(wanted):
    """FASTCONV_ISA picks that ISA, or the CPU's best if the CPU has less (with a
    warning saying so); never anything higher."""
    got = probe(FASTCONV_ISA=wanted)
    best = got["cpu"]
    expected = ISAS[min(ISAS.index(wanted), ISAS.index(best))]
    assert got["isa"] == expected, got
    assert probe(FASTCONV_ISA=f" {wanted.upper()} ")["isa"] == expected  # blanks and case ignored
    runtime_warnings = [w for w in got["warnings"] if w.startswith("RuntimeWarning")]
    if expected != wanted:
        assert any("FASTCONV_ISA" in w and wanted in w for w in runtime_warnings), got
    else:
        assert not runtime_warnings, got


def test_fastconv_isa_env_unknown_name_warns_and_uses_best():
    got = probe(FASTCONV_ISA="avx9000")
    assert got["isa"] == got["cpu"]
    assert any(w.startswith("RuntimeWarning") and "FASTCONV_ISA" in w and "avx9000" in w
               for w in got["warnings"]), got


def test_default_isa_is_cpu_best():
    got = probe()
    assert got["isa"] == got["cpu"] and not got["warnings"], got


def test_fastconv_isa_above_cpu_warns_python_layer(monkeypatch):
    """The warning path for a request above the CPU, run against a stand-in for
    the binding that behaves like an AVX2-only machine."""

    class AVX2Only:
        @staticmethod
        def cpu_isa():
            return "avx2"

        @staticmethod
        def set_isa(name):
            return ISAS[min(ISAS.index(name), 1)]

        env_isa = staticmethod(_kernels.env_isa)

    monkeypatch.setattr(_config, "_kernels", AVX2Only)
    monkeypatch.setenv("FASTCONV_ISA", "avx512")
    with pytest.warns(RuntimeWarning, match="FASTCONV_ISA.*avx512.*avx2"):
        _config._apply_isa_env()


def test_set_isa_never_goes_above_cpu():
    previous = _kernels.current_isa()
    try:
        for name in ISAS:
            got = _kernels.set_isa(name)
            assert ISAS.index(got) == min(ISAS.index(name), ISAS.index(_kernels.cpu_isa()))
            assert _kernels.current_isa() == got
    finally:
        _kernels.set_isa(previous)


# ---- show_config and `fastconv info` ---------------------------------------------------


def parse_config(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            out[key.strip().lower()] = value.strip()
    return out


def find(cfg: dict, pattern: str) -> str:
    keys = [k for k in cfg if re.search(pattern, k)]
    assert keys, f"no line matching {pattern!r} in {sorted(cfg)}"
    return cfg[keys[0]]


def check_config_text(text: str, *, isa: str, threads: int):
    cfg = parse_config(text)
    assert cfg.get("version") == importlib.metadata.version("fastconv") == fastconv.__version__, cfg
    assert cfg.get("isa") == isa, cfg
    compiled = find(cfg, r"compiled")
    for name in ("scalar", *_kernels.compiled_isas(), isa):
        assert re.search(rf"\b{name}\b", compiled), compiled
    pool = find(cfg, r"thread_pool")
    assert pool and ("none" in pool.lower()) != _kernels.threads_enabled(), pool
    assert find(cfg, r"^num_threads$") == str(threads), cfg
    assert find(cfg, r"^compiler$"), cfg


def test_show_config_prints_version_isa_pool_threads_compiler(isa, capsys, restore_threads):
    fastconv.set_num_threads(1)
    fastconv.show_config()
    check_config_text(capsys.readouterr().out, isa=isa, threads=1)


def test_python_m_fastconv_info_exits_zero():
    env = clean_env(FASTCONV_ISA="scalar", FASTCONV_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "fastconv", "info"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    check_config_text(proc.stdout, isa="scalar", threads=1)


def test_fastconv_info_example_prints_lecture_1d_result():
    proc = subprocess.run([sys.executable, "-m", "fastconv", "info", "--example"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "[17.0, 22.0, 39.0, 44.0]" in proc.stdout, proc.stdout


def test_fastconv_without_command_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "fastconv"], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "info" in proc.stderr


def test_config_dict_matches_runtime(isa):
    cfg = fastconv.config()
    assert cfg["isa"] == isa
    assert cfg["num_threads"] == fastconv.get_num_threads()
    assert cfg["cpu_quota"] is None or cfg["cpu_quota"] >= 1
    assert cfg["memory_limit"] == (_kernels.cgroup_memory() or None)
    assert cfg["large_blocks"]["limit"] == _kernels.big_keep()
    assert 0 <= cfg["large_blocks"]["kept"] <= cfg["large_blocks"]["limit"]
    assert cfg["version"] == fastconv.__version__
    assert "scalar" in cfg["compiled_isas"]


def _sysfs_caches() -> dict[str, int]:
    """Cache sizes of cpu0 as Linux's sysfs lists them (an independent reading)."""
    found: dict[str, int] = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        level = (index / "level").read_text().strip()
        kind = (index / "type").read_text().strip()
        size = (index / "size").read_text().strip()
        if kind in ("Data", "Unified") and level in "123":
            units = {"K": 1 << 10, "M": 1 << 20}
            found.setdefault("l1d" if level == "1" else f"l{level}",
                             int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size))
    return found


def test_cache_sizes_are_the_ones_linux_reports():
    listed = Path("/sys/devices/system/cpu/cpu0/cache/index0/size")
    if not listed.exists():
        pytest.skip("no /sys cache listing on this system (not Linux, or a container hiding it)")
    caches = _kernels.cpu_caches()
    want = _sysfs_caches()
    assert want, "sysfs lists no data or unified cache"
    for key, size in want.items():
        assert caches[key] == size, f"{key}: CPUID says {caches[key]}, sysfs {size}"
    assert "L1d" in fastconv.config()["caches"]


def test_the_last_level_cache_counted_is_the_l3_at_most_16_mib_per_cpu():
    """A pass over memory counts on the L3, but on no more than 16 MiB of it per CPU
    online: a VM on a many-core socket is told of the whole socket's L3."""
    caches = _kernels.cpu_caches()
    cpus = os.sysconf("SC_NPROCESSORS_ONLN")
    assert caches["llc"] == min(caches["l3"], cpus * (16 << 20))
    counted = "(counted: " in fastconv.config()["caches"]
    assert counted == (0 < caches["llc"] < caches["l3"])
