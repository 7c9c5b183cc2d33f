"""Replacing a user's file safely: never a half-written file where a good one was.

`atomic_write(path)` hands out a binary file object for a temporary file in the
target's own directory (so the final rename stays on one file system) and, only
once the block ends without an exception, syncs it to disk, gives it the
target's permission bits (a new file gets the ones ``open()`` would give),
renames it over the target and syncs the directory. On any failure the
temporary file is removed and the target is untouched. A symlink is followed:
the file it points to is replaced and the link stays. Concurrent writers each
have their own temporary file, so the target ends as one complete file.

A writer killed outright (SIGKILL, power loss) leaves its temporary file
behind; its name carries the writer's process id, and the next write to the
same target removes those of processes that no longer exist.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Union

StrPath = Union[str, "os.PathLike[str]"]

_SUFFIX = ".tmp"


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for a
    moment, in every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _remove_stale(directory: Path, name: str) -> None:
    """Temporary files of earlier writers of `name` whose process is gone."""
    prefix = f".{name}."
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(_SUFFIX)):
            continue
        pid_text = entry.name[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        except OSError:
            pass  # alive, or not ours to signal: leave it


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: StrPath) -> Iterator[BinaryIO]:
    """Write `path` atomically: ``with atomic_write(p) as f: f.write(...)``.

    Raises what creating the temporary file raises (FileNotFoundError for a
    missing directory, PermissionError) before anything is written.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    _remove_stale(directory, target.name)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.{os.getpid()}.",
                               suffix=_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_directory(directory)


def why_unwritable(path: StrPath) -> str | None:
    """Why `atomic_write(path)` would fail at once ("it is a directory", "directory
    'out' does not exist", ...), or None: for a command to check its output files
    before long work, not after it."""
    given = os.fspath(path)
    if not given:
        return "the path is empty"
    target = Path(os.path.realpath(given))
    where = str(target.parent) if os.path.islink(given) else (os.path.dirname(given) or ".")
    if target.is_dir():
        return "it is a directory"
    if not target.parent.exists():
        return f"directory {where!r} does not exist"
    if not target.parent.is_dir():
        return f"{where!r} is not a directory"
    if not os.access(target.parent, os.W_OK | os.X_OK):
        return f"no permission to create files in {where!r}"
    return None



def user_cache_dir() -> Path:
    """fastconv's folder in the user cache (`fastconv._config.user_cache`) as a Path."""
    from ._config import user_cache

    return Path(user_cache())
