"""Files fastconv writes for the user (model.save, write_idx) are replaced
atomically: a failure leaves the old file, concurrent writers leave one complete
file, permission bits and symlinks are kept, and no temporary file outlives its
writer's process. Each result is checked by reading the file back with the
public loaders and comparing with the arrays that were written."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv import _files
from fastconv.datasets.idx import read_idx, write_idx
from fastconv.layers import Dense
from fastconv.models import Sequential, load_model


def _model(seed: int) -> Sequential:
    fastconv.utils.set_random_seed(seed)
    model = Sequential([Dense(3, input_shape=(4,))])
    model.predict(np.zeros((1, 4), np.float32), verbose=0)  # builds the weights
    return model


def _same_weights(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.fcm"
    good = _model(0)
    good.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", broken)
    with pytest.raises(OSError, match="No space"):
        _model(1).save(path)
    assert path.read_bytes() == before
    assert _same_weights(load_model(path), good)
    assert _leftovers(tmp_path) == []


def test_a_failed_write_idx_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x-idx1-ubyte.gz"
    write_idx(path, np.arange(10, dtype=np.uint8))
    before = path.read_bytes()
    monkeypatch.setattr("gzip.GzipFile.write", lambda self, data: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        write_idx(path, np.arange(20, dtype=np.uint8))
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_permission_bits_and_symlinks_are_kept(tmp_path):
    real = tmp_path / "real.fcm"
    _model(0).save(real)
    os.chmod(real, 0o600)
    link = tmp_path / "link.fcm"
    link.symlink_to(real)
    new = _model(1)
    new.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600
    assert _same_weights(load_model(real), new)


def test_a_new_file_gets_the_mode_open_would_give(tmp_path):
    path = tmp_path / "fresh.fcm"
    _model(0).save(path)
    with open(tmp_path / "reference", "wb"):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(tmp_path / "reference").st_mode)


def test_a_missing_directory_fails_before_writing(tmp_path):
    with pytest.raises(FileNotFoundError):
        _model(0).save(tmp_path / "no-such-dir" / "m.fcm")


def _race_threads(models, path: Path, saves: int) -> list:
    """Each model saved `saves` times to `path` from a thread of its own, all at
    once; the exceptions raised."""
    errors = []

    def save(m):
        try:
            for _ in range(saves):
                m.save(path)
        except Exception as exc:  # noqa: BLE001 - any failure fails the caller's test
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_concurrent_saves_from_threads_leave_one_complete_model(tmp_path):
    path = tmp_path / "shared.fcm"
    models = [_model(seed) for seed in range(24)]
    assert _race_threads(models, path, saves=4) == []
    loaded = load_model(path)
    assert any(_same_weights(loaded, m) for m in models)
    assert _leftovers(tmp_path) == []


def test_concurrent_saves_from_processes_leave_one_complete_model(tmp_path):
    path = tmp_path / "shared.fcm"
    script = textwrap.dedent(f"""
        import sys
        import fastconv
        from fastconv.layers import Dense
        from fastconv.models import Sequential
        fastconv.utils.set_random_seed(int(sys.argv[1]))
        m = Sequential([Dense(3, input_shape=(4,))])
        import numpy as np
        m.predict(np.zeros((1, 4), np.float32), verbose=0)
        for _ in range(20):
            m.save({str(path)!r})
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(seed)]) for seed in range(6)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    loaded = load_model(path)
    assert any(_same_weights(loaded, _model(seed)) for seed in range(6))
    assert _leftovers(tmp_path) == []


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "m.fcm"
    # a writer killed with SIGKILL mid-write: its temporary, named with its pid
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    stale = tmp_path / f".m.fcm.{proc.pid}.abc123.tmp"
    stale.write_bytes(b"half a zip")
    alive = tmp_path / f".m.fcm.{os.getpid()}.def456.tmp"  # a live writer's: kept
    alive.write_bytes(b"in progress")
    _model(0).save(path)
    assert not stale.exists() and alive.exists()
    alive.unlink()
    assert _same_weights(load_model(path), _model(0))


def test_write_idx_round_trips_through_the_atomic_writer(tmp_path):
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
        write_idx(tmp_path / name, data)
        np.testing.assert_array_equal(read_idx(tmp_path / name), data)
    assert _leftovers(tmp_path) == []


def test_atomic_write_exposes_no_partial_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with _files.atomic_write(path) as f:
        f.write(b"new contents")
        assert path.read_bytes() == b"old"  # not replaced before the block ends
    assert path.read_bytes() == b"new contents"


# ---- many races, and writers killed at random points --------------------------------------


def _big_model(seed: int) -> Sequential:
    """~4 MB of weights: a save takes milliseconds, so a kill lands inside one."""
    fastconv.utils.set_random_seed(seed)
    model = Sequential([Dense(1024, input_shape=(1024,))])
    model.predict(np.zeros((1, 1024), np.float32), verbose=0)
    return model


def _fork(fn) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)
    return pid


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_one_hundred_races_of_threads_and_processes_each_leave_a_loadable_model(tmp_path):
    """50 races of 4 threads and 50 of 3 forked processes, each saving its own
    model twice to one fresh path: every end state is one complete model of
    the racers', and no temporary is left."""
    models = [_model(seed) for seed in range(4)]
    for trial in range(100):
        path = tmp_path / f"race{trial}.fcm"
        if trial % 2 == 0:
            errors = _race_threads(models, path, saves=2)
            assert errors == [], (trial, errors)
        else:
            pids = [_fork(lambda m=m, path=path: [m.save(path) for _ in range(2)]) for m in models[:3]]
            for pid in pids:
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0, (trial, status)
        loaded = load_model(path)
        assert any(_same_weights(loaded, m) for m in models), trial
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_writer_killed_at_random_points_never_costs_the_old_file(tmp_path):
    """A forked writer saving a 4 MB model in a loop is SIGKILLed after a
    random delay, 20 times: the file at the path always loads as the old model
    or as the writer's, and the next save removes the dead writer's temporary."""
    import signal
    import time

    rng = np.random.default_rng(5)
    path = tmp_path / "m.fcm"
    old, new = _big_model(0), _big_model(1)
    old.save(path)
    mid_save = 0
    for trial in range(20):
        pid = _fork(lambda: [new.save(path) for _ in range(1000)])
        time.sleep(float(rng.uniform(0.0, 0.08)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        mid_save += bool(_leftovers(tmp_path))  # killed inside a save: its temporary is there
        loaded = load_model(path)
        assert _same_weights(loaded, old) or _same_weights(loaded, new), trial
        old.save(path)
        assert _leftovers(tmp_path) == [], trial
        assert _same_weights(load_model(path), old)
    assert mid_save >= 5, f"only {mid_save} of 20 kills landed inside a save: the test proves little"
