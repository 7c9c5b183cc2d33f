"""The default thread count under a Linux cgroup CPU quota (a container's
`--cpus`, a Kubernetes CPU limit): fc_cgroup_cpus reads the process's cgroup,
the hierarchy's mount and the quota files, and the pool starts no more threads
than the quota's CPUs. Made-up trees under tmp_path stand for /proc and
/sys/fs/cgroup (fc_cgroup_cpus_at); the expected counts follow from the quota
files written (quota / period rounded up, the smallest along the path). A real
cgroup is made where this process may (root, a writable cpu controller).
The memory limit (`--memory`; fc_cgroup_memory) is read the same way, and the
kept large blocks take their default limit from it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv import _kernels

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="cgroups are Linux's; elsewhere the count is 0 by definition")

V2_MOUNT = "35 25 0:30 {root} {point} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n"
V1_MOUNT = ("33 25 0:29 {root} {point} rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup "
            "rw,{controllers}\n")
OTHER_MOUNTS = ("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                "25 22 0:24 / /sys/fs/cgroup ro,nosuid shared:8 - tmpfs tmpfs ro,mode=755\n")


def tree(tmp: Path, cgroup: str, mounts: str, files: dict[str, str]) -> str:
    """A made-up root: proc/self/cgroup and mountinfo, and the given files."""
    (tmp / "proc/self").mkdir(parents=True, exist_ok=True)
    (tmp / "proc/self/cgroup").write_text(cgroup)
    (tmp / "proc/self/mountinfo").write_text(OTHER_MOUNTS + mounts)
    for path, text in files.items():
        (tmp / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path.lstrip("/")).write_text(text)
    return str(tmp)


def v2(tmp, own, levels, root="/", point="/sys/fs/cgroup"):
    """cgroup v2: `levels` maps folders below the mount point to cpu.max."""
    files = {f"{point}/{d}/cpu.max".replace("//", "/"): text for d, text in levels.items()}
    return tree(tmp, f"0::{own}\n", V2_MOUNT.format(root=root, point=point), files)


def v1(tmp, own, levels, controllers="cpu,cpuacct", point="/sys/fs/cgroup/cpu,cpuacct"):
    """cgroup v1: `levels` maps folders to (cfs_quota_us, cfs_period_us)."""
    files = {}
    for d, (quota, period) in levels.items():
        files[f"{point}/{d}/cpu.cfs_quota_us".replace("//", "/")] = f"{quota}\n"
        files[f"{point}/{d}/cpu.cfs_period_us".replace("//", "/")] = f"{period}\n"
    cgroup = f"12:pids:/x\n4:{controllers}:{own}\n3:cpuset:/y\n1:name=systemd:{own}\n"
    return tree(tmp, cgroup, V1_MOUNT.format(root="/", point=point, controllers=controllers), files)


@pytest.mark.parametrize("levels, want", [
    ({"a/b": "150000 100000\n"}, 2),                       # 1.5 CPUs: rounded up
    ({"a/b": "100000 100000\n"}, 1),
    ({"a/b": "max 100000\n"}, 0),                          # no quota
    ({"a/b": "max 100000\n", "a": "50000 100000\n"}, 1),   # a parent's quota binds too
    ({"a/b": "400000 100000\n", "a": "250000 100000\n", "": "800000 100000\n"}, 3),
    ({"a/b": "50000 100000\n", "a": "max 100000\n"}, 1),
    ({"a/b": "1\n"}, 0),                                   # no period: unreadable, none
    ({"a/b": "garbage\n"}, 0),
    ({"a/b": ""}, 0),
    ({"a/b": "150000 0\n"}, 0),
    ({"a/b": "-5 100000\n"}, 0),
    ({"a/b": "999999999999 1\n"}, _kernels.MAX_THREADS),  # capped at the pool's limit
    ({}, 0),                                               # no files at all
])
def test_cgroup_v2_quota_is_the_smallest_along_the_path(tmp_path, levels, want):
    assert _kernels.cgroup_cpus(v2(tmp_path, "/a/b", levels)) == want


@pytest.mark.parametrize("levels, want", [
    ({"docker/abc": (-1, 100000)}, 0),
    ({"docker/abc": (200000, 100000)}, 2),
    ({"docker/abc": (250000, 100000), "docker": (-1, 100000)}, 3),
    ({"docker/abc": (-1, 100000), "docker": (100000, 100000)}, 1),
    ({"docker/abc": (300000, 0)}, 0),
])
def test_cgroup_v1_cfs_quota_is_read_from_the_cpu_hierarchy(tmp_path, levels, want):
    assert _kernels.cgroup_cpus(v1(tmp_path, "/docker/abc", levels)) == want


@pytest.mark.parametrize("controllers, want", [
    ("cpu,cpuacct", 2), ("cpuacct,cpu", 2), ("cpu", 2),
    ("cpuacct", 0), ("cpuset", 0),  # no cpu controller there: not the quota's hierarchy
])
def test_cgroup_v1_only_the_hierarchy_with_the_cpu_controller(tmp_path, controllers, want):
    point = f"/sys/fs/cgroup/{controllers}"
    root = v1(tmp_path, "/c", {"c": (200000, 100000)}, controllers=controllers, point=point)
    assert _kernels.cgroup_cpus(root) == want


def test_cgroup_v1_mounts_of_other_controllers_are_passed_over(tmp_path):
    """cpuacct and cpuset mounted separately, before the cpu one: the quota is
    read from the mount whose controllers include cpu itself."""
    mounts = "".join(V1_MOUNT.format(root="/", point=f"/sys/fs/cgroup/{c}", controllers=c)
                     for c in ("cpuacct", "cpuset", "cpu"))
    files = {}
    for c, quota in (("cpuacct", 100000), ("cpuset", 100000), ("cpu", 300000)):
        files[f"/sys/fs/cgroup/{c}/c/cpu.cfs_quota_us"] = f"{quota}\n"
        files[f"/sys/fs/cgroup/{c}/c/cpu.cfs_period_us"] = "100000\n"
    root = tree(tmp_path, "6:cpuacct:/c\n5:cpuset:/c\n4:cpu:/c\n", mounts, files)
    assert _kernels.cgroup_cpus(root) == 3


def test_hybrid_systems_take_the_smaller_of_both_hierarchies(tmp_path):
    cgroup = "4:cpu,cpuacct:/job\n0::/job\n"
    mounts = (V1_MOUNT.format(root="/", point="/sys/fs/cgroup/cpu,cpuacct", controllers="cpu,cpuacct")
              + V2_MOUNT.format(root="/", point="/sys/fs/cgroup/unified"))
    for v1_quota, v2_max, want in ((300000, "200000 100000", 2), (100000, "max 100000", 1),
                                   (-1, "400000 100000", 4), (-1, "max 100000", 0)):
        root = tree(tmp_path, cgroup, mounts, {
            "/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us": f"{v1_quota}\n",
            "/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us": "100000\n",
            "/sys/fs/cgroup/unified/job/cpu.max": v2_max + "\n"})
        assert _kernels.cgroup_cpus(root) == want, (v1_quota, v2_max)


def test_a_mount_showing_part_of_the_hierarchy(tmp_path):
    """A container's cgroup namespace or a bind mount: mountinfo gives the
    hierarchy path the mount point stands for; the process's path is read
    below it. A path outside it (or only sharing a prefix of its name) gives 0."""
    levels = {"c1": "200000 100000\n", "": "300000 100000\n"}
    assert _kernels.cgroup_cpus(v2(tmp_path / "a", "/kubepods/pod1/c1", levels,
                                   root="/kubepods/pod1")) == 2
    assert _kernels.cgroup_cpus(v2(tmp_path / "b", "/", {"": "300000 100000\n"})) == 3
    assert _kernels.cgroup_cpus(v2(tmp_path / "c", "/elsewhere/c1", levels,
                                   root="/kubepods/pod1")) == 0
    assert _kernels.cgroup_cpus(v2(tmp_path / "d", "/kubepods/pod10/c1", levels,
                                   root="/kubepods/pod1")) == 0


def test_escaped_mount_points_and_odd_files(tmp_path):
    """Mount points with octal escapes (\\040 for a space); over-long and
    malformed lines in /proc/self/cgroup and mountinfo are skipped."""
    point = "/sys/fs/my cgroup"
    files = {f"{point}/j/cpu.max": "200000 100000\n"}
    mount = V2_MOUNT.format(root="/", point="/sys/fs/my\\040cgroup")
    junk = "x" * 10000 + "\n" + "no colons here\n" + "7:only-one-colon\n"
    root = tree(tmp_path / "a", junk + "0::/j\n", "garbage line\n" + "1 2 3\n" + mount, files)
    assert _kernels.cgroup_cpus(root) == 2
    no_newline = tree(tmp_path / "b", "0::/j", mount.rstrip("\n"), files)
    assert _kernels.cgroup_cpus(no_newline) == 2
    assert _kernels.cgroup_cpus(tmp_path / "does-not-exist") == 0
    assert _kernels.cgroup_cpus(tree(tmp_path / "c", "", "", {})) == 0


def _cgroup_mounts():
    """(mount point, "cgroup" or "cgroup2", its controllers) of this process's
    cgroup mounts, from /proc/self/mountinfo."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        fstype, _, options = fields[1].split()[:3]
        if fstype in ("cgroup", "cgroup2"):
            yield Path(fields[0].split()[4].replace("\\040", " ")), fstype, options.split(",")


def _writable_cpu_cgroup() -> tuple[Path, str, str] | None:
    """(parent folder, quota file name, quota text for one CPU) of a cgroup
    hierarchy with the cpu controller that this process may make cgroups in."""
    if os.geteuid() != 0:
        return None
    for point, fstype, options in _cgroup_mounts():
        if fstype == "cgroup" and "cpu" in options:
            candidate = (point, "cpu.cfs_quota_us", "100000")
        elif fstype == "cgroup2" and "cpu" in (point / "cgroup.subtree_control").read_text().split():
            candidate = (point, "cpu.max", "100000 100000")
        else:
            continue
        if os.access(candidate[0], os.W_OK):
            return candidate
    return None


def test_a_real_cgroup_with_a_one_cpu_quota_caps_the_default_thread_count():
    """A child process moved into a cgroup limited to one CPU starts with one
    thread (two with $FASTCONV_NUM_THREADS=2, which stands as asked)."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU in the affinity mask: a one-CPU quota changes nothing to see")
    found = _writable_cpu_cgroup()
    if found is None:
        pytest.skip("making a cgroup needs root and a writable cpu controller (not a missing package)")
    parent, quota_file, one_cpu = found
    group = parent / f"fastconv-test-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    try:
        (group / quota_file).write_text(one_cpu)
        code = textwrap.dedent(f"""
            import os
            with open({str(group / "cgroup.procs")!r}, "w") as f:
                f.write(str(os.getpid()))
            import fastconv
            from fastconv import _kernels
            print(_kernels.cgroup_cpus(), fastconv.get_num_threads())
        """)
        env = {k: v for k, v in os.environ.items()
               if k not in ("FASTCONV_NUM_THREADS", "OMP_NUM_THREADS")}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=120, check=True).stdout.split()
        assert out == ["1", "1"], out
        out = subprocess.run([sys.executable, "-c", code], env={**env, "FASTCONV_NUM_THREADS": "2"},
                             capture_output=True, text=True, timeout=120, check=True).stdout.split()
        assert out == ["1", "2"], out
    finally:
        group.rmdir()


def test_random_bytes_in_every_file_give_a_count_and_no_crash(tmp_path):
    """Whatever the files hold (random bytes, long lines, no newlines, NULs,
    fields that look almost right), the reader returns a count in [0,
    MAX_THREADS] (the suite also runs under AddressSanitizer)."""
    rng = np.random.default_rng(7)
    pieces = [b"0::/", b"4:cpu,cpuacct:/", b"cgroup2", b"cgroup", b" - ", b"cpu", b"/", b"\\040",
              b"max ", b"100000", b"-1", b"\n", b" ", b":", b",", b"\x00", b"9" * 30, b"a" * 5000]
    for trial in range(300):
        root = tmp_path / str(trial)

        def blob():
            if rng.random() < 0.3:
                return rng.bytes(int(rng.integers(0, 300)))
            return b"".join(pieces[i] for i in rng.integers(0, len(pieces), int(rng.integers(0, 40))))

        (root / "proc/self").mkdir(parents=True)
        (root / "proc/self/cgroup").write_bytes(blob() + b"\n0::/a/b\n4:cpu:/a/b\n" + blob())
        mounts = (b"35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n" if trial % 2 else
                  b"33 25 0:29 / /sys/fs/cgroup rw - cgroup cgroup rw,cpu\n")
        (root / "proc/self/mountinfo").write_bytes(blob() + b"\n" + mounts + blob())
        for d in ("sys/fs/cgroup", "sys/fs/cgroup/a", "sys/fs/cgroup/a/b"):
            (root / d).mkdir(parents=True, exist_ok=True)
            for name in ("cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us"):
                if rng.random() < 0.7:
                    (root / d / name).write_bytes(blob())
        got = _kernels.cgroup_cpus(root)
        assert 0 <= got <= _kernels.MAX_THREADS


def v2_memory(tmp, own, levels, root="/", point="/sys/fs/cgroup"):
    """cgroup v2: `levels` maps folders below the mount point to memory.max."""
    files = {f"{point}/{d}/memory.max".replace("//", "/"): text for d, text in levels.items()}
    return tree(tmp, f"0::{own}\n", V2_MOUNT.format(root=root, point=point), files)


@pytest.mark.parametrize("levels, want", [
    ({"a/b": "2147483648\n"}, 2 << 30),
    ({"a/b": "max\n"}, 0),                                   # no limit
    ({"a/b": "max\n", "a": "1073741824\n"}, 1 << 30),      # a parent's limit binds too
    ({"a/b": "3000000000\n", "a": "4000000000\n", "": "max\n"}, 3_000_000_000),
    ({"a/b": "garbage\n"}, 0),
    ({"a/b": ""}, 0),
    ({"a/b": "-5\n"}, 0),
    ({}, 0),
])
def test_cgroup_v2_memory_limit_is_the_smallest_along_the_path(tmp_path, levels, want):
    assert _kernels.cgroup_memory(v2_memory(tmp_path, "/a/b", levels)) == want


@pytest.mark.parametrize("controllers, limit, want", [
    ("memory", "536870912", 512 << 20),
    ("memory", "9223372036854771712", 0),  # v1's "no limit": the largest page-aligned int64
    ("cpu,cpuacct", "536870912", 0),       # not the memory controller's hierarchy
])
def test_cgroup_v1_memory_limit_is_read_from_the_memory_hierarchy(tmp_path, controllers, limit, want):
    point = f"/sys/fs/cgroup/{controllers}"
    root = tree(tmp_path, f"9:{controllers}:/docker/abc\n1:name=systemd:/docker/abc\n",
                V1_MOUNT.format(root="/", point=point, controllers=controllers),
                {f"{point}/docker/abc/memory.limit_in_bytes": limit + "\n"})
    assert _kernels.cgroup_memory(root) == want


def test_hybrid_systems_take_the_smaller_memory_limit(tmp_path):
    cgroup = "9:memory:/job\n0::/job\n"
    mounts = (V1_MOUNT.format(root="/", point="/sys/fs/cgroup/memory", controllers="memory")
              + V2_MOUNT.format(root="/", point="/sys/fs/cgroup/unified"))
    for v1_limit, v2_max, want in (("1073741824", "536870912", 512 << 20),
                                   ("536870912", "max", 512 << 20),
                                   ("9223372036854771712", "max", 0)):
        root = tree(tmp_path, cgroup, mounts, {
            "/sys/fs/cgroup/memory/job/memory.limit_in_bytes": v1_limit + "\n",
            "/sys/fs/cgroup/unified/job/memory.max": v2_max + "\n"})
        assert _kernels.cgroup_memory(root) == want, (v1_limit, v2_max)


def test_the_kept_blocks_default_limit_heeds_the_memory_limit():
    """A fresh process's default limit of kept large blocks: an eighth of the
    physical memory (os.sysconf) or of this process's cgroup memory limit, the
    smaller, at most 4 GiB."""
    code = ("import os\nfrom fastconv import _kernels\n"
            "print(_kernels.big_keep(), _kernels.cgroup_memory(), "
            "os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    limit, cgroup, physical = map(int, out)
    want = min(physical // 8, *([cgroup // 8] if cgroup else []), 4 << 30)
    assert limit == want, (limit, cgroup, physical)


def test_random_bytes_in_the_memory_files_give_a_size_and_no_crash(tmp_path):
    rng = np.random.default_rng(8)
    pieces = [b"max", b"9" * 30, b"1073741824", b"-1", b"\n", b" ", b"\x00", b"a" * 5000]
    for trial in range(200):
        root = tmp_path / str(trial)
        (root / "proc/self").mkdir(parents=True)
        (root / "proc/self/cgroup").write_bytes(b"0::/a/b\n9:memory:/a/b\n")
        mounts = (b"35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n" if trial % 2 else
                  b"33 25 0:29 / /sys/fs/cgroup rw - cgroup cgroup rw,memory\n")
        (root / "proc/self/mountinfo").write_bytes(mounts)
        for d in ("sys/fs/cgroup", "sys/fs/cgroup/a", "sys/fs/cgroup/a/b"):
            (root / d).mkdir(parents=True, exist_ok=True)
            for name in ("memory.max", "memory.limit_in_bytes"):
                if rng.random() < 0.7:
                    blob = (rng.bytes(int(rng.integers(0, 300))) if rng.random() < 0.3 else
                            b"".join(pieces[i] for i in rng.integers(0, len(pieces), int(rng.integers(0, 6)))))
                    (root / d / name).write_bytes(blob)
        assert 0 <= _kernels.cgroup_memory(root) < 1 << 62


def _writable_memory_cgroup() -> tuple[Path, str] | None:
    """(this process's own cgroup folder in a hierarchy with the memory
    controller, the limit file's name), where this process may make cgroups in it."""
    if os.geteuid() != 0:
        return None
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        num, controllers, path = line.split(":", 2)
        own["v2" if num == "0" and not controllers else controllers] = path
    for point, fstype, options in _cgroup_mounts():
        if fstype == "cgroup" and "memory" in options:
            key = next((k for k in own if "memory" in k.split(",")), None)
            candidate = (point / own[key].lstrip("/"), "memory.limit_in_bytes") if key else None
        elif fstype == "cgroup2" and "v2" in own:
            folder = point / own["v2"].lstrip("/")
            controls = folder / "cgroup.subtree_control"
            ok = controls.exists() and "memory" in controls.read_text().split()
            candidate = (folder, "memory.max") if ok else None
        else:
            continue
        if candidate and os.access(candidate[0], os.W_OK):
            return candidate
    return None


def test_a_real_cgroup_memory_limit_sets_the_kept_blocks_default():
    """A child process moved into a cgroup (below this process's own) limited
    to 1 GiB reads that limit and keeps at most 128 MiB of large blocks."""
    found = _writable_memory_cgroup()
    if found is None:
        pytest.skip("making a cgroup needs root and a writable memory controller (not a missing package)")
    parent, limit_file = found
    group = parent / f"fastconv-test-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    try:
        (group / limit_file).write_text(str(1 << 30))
        code = textwrap.dedent(f"""
            import os
            with open({str(group / "cgroup.procs")!r}, "w") as f:
                f.write(str(os.getpid()))
            from fastconv import _kernels
            print(_kernels.cgroup_memory(), _kernels.big_keep())
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, check=True).stdout.split()
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        assert out == [str(1 << 30), str(min(1 << 27, physical // 8))], out
    finally:
        group.rmdir()
