"""The MNIST handwritten digits as uint8 NumPy arrays, read from local IDX files or downloaded once."""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Union

import numpy as np

from .._files import user_cache_dir
from .idx import read_idx

__all__ = ["FILES", "MIRRORS", "OFFICIAL_SHA256", "DatasetNotFoundError", "cache_dir", "load_data"]

StrPath = Union[str, "os.PathLike[str]"]

#: The four file names, as published with MNIST (each also read as ``name.gz``).
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
#: SHA-256 of the official ``.gz`` files: what a download is checked against.
#: Local files are not checked against them, so a subset or another count reads.
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
#: Where a download comes from, tried in this order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
IMAGES_MAGIC = 0x00000803  # uint8, 3-D
LABELS_MAGIC = 0x00000801  # uint8, 1-D
_TIMEOUT = 30.0            # seconds per connect or read, not for the whole file
_MAX_DOWNLOAD = 64 << 20   # the official files total 11 MB; stop a runaway response early
_urlopen = urllib.request.urlopen  # the one door to the network; tests replace it


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is in none of the places searched and could not be downloaded.

    A :class:`FileNotFoundError`, whose message lists every place searched and
    says where to put the files.

    Examples
    --------
    >>> import tempfile
    >>> from fastconv.datasets import mnist
    >>> try:
    ...     mnist.load_data(path=tempfile.mkdtemp())
    ... except mnist.DatasetNotFoundError as err:
    ...     print(str(err).splitlines()[0])  # doctest: +ELLIPSIS
    MNIST not found. Looked for train-images-idx3-ubyte, ... (each raw or .gz) in:
    """


def cache_dir() -> Path:
    """The user cache, where :func:`load_data` looks last and downloads to.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/fastconv/mnist`` if ``XDG_CACHE_HOME`` is an absolute
        path, else ``~/.cache/fastconv/mnist``. It may not exist yet.

    Examples
    --------
    >>> from fastconv.datasets import mnist
    >>> mnist.cache_dir().parts[-2:]
    ('fastconv', 'mnist')
    """
    return user_cache_dir() / "mnist"


def load_data(path: StrPath | None = None) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, like Keras' ``mnist.load_data``.

    Parameters
    ----------
    path : str or path-like, optional
        A directory holding the four IDX files ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each raw or gzipped (``.gz``). When given,
        no other place is searched and nothing is downloaded.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples of numpy.ndarray
        Writable uint8 arrays: images of shape (N, 28, 28) with pixels 0..255,
        labels of shape (N,) with digits 0..9. N is read from the files.

    Raises
    ------
    DatasetNotFoundError
        (a FileNotFoundError) if the files are nowhere and cannot be downloaded;
        the message lists every place searched and how to provide the files.
    ValueError
        If a file is not a valid IDX file of the expected kind (the message names
        it), image and label counts differ, or a download fails its SHA-256 check.

    Notes
    -----
    Without `path` the files are searched in ``$FASTCONV_DATA/mnist``, then
    ``$FASTCONV_DATA``, then the user cache (:func:`cache_dir`). If none holds all
    four, the missing official ``.gz`` files are downloaded into the user cache and
    verified against their official SHA-256 digests; ``FASTCONV_OFFLINE=1``
    forbids the download. Local files are validated structurally (magic number,
    dimensions, exact length), not by checksum, so any image count is accepted.
    Where a directory holds both ``name`` and ``name.gz``, the raw file is read.

    Examples
    --------
    Four small IDX files written with :func:`fastconv.datasets.idx.write_idx`
    and read back (``mnist.load_data()`` without `path` reads the real MNIST):

    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastconv.datasets import mnist
    >>> from fastconv.datasets.idx import write_idx
    >>> folder = tempfile.mkdtemp()
    >>> for name, n in (("train", 3), ("t10k", 2)):
    ...     write_idx(os.path.join(folder, f"{name}-images-idx3-ubyte.gz"),
    ...               np.zeros((n, 28, 28), np.uint8))
    ...     write_idx(os.path.join(folder, f"{name}-labels-idx1-ubyte"),
    ...               np.arange(n, dtype=np.uint8))
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data(path=folder)
    >>> x_train.shape, x_train.dtype, y_test
    ((3, 28, 28), dtype('uint8'), array([0, 1], dtype=uint8))
    """
    places = _places(path)
    looked = []
    for label, directory in places:
        found, missing = _find(directory)
        if not missing:
            return _load(found)
        looked.append(_where(label, directory, missing, found))
    if path is not None:
        raise DatasetNotFoundError(_not_found(
            looked, f"Put the four files (raw or .gz) in {places[0][1]}, or call load_data() "
            "without `path` to search $FASTCONV_DATA and the user cache and download if needed."))
    if not os.environ.get("FASTCONV_DATA"):
        looked.insert(0, "  - $FASTCONV_DATA: not set")
    cache = cache_dir()
    advice = (f"Put the four files (raw or .gz) in {cache}, or set FASTCONV_DATA=DIR with the "
              "files in DIR/mnist or DIR, or call mnist.load_data(path=DIR)")
    if _offline():
        raise DatasetNotFoundError(_not_found(
            looked, f"Downloading is disabled (FASTCONV_OFFLINE={os.environ['FASTCONV_OFFLINE']}). "
            f"{advice}; or unset FASTCONV_OFFLINE to download them (11 MB) from {MIRRORS[0]}."))
    _download([name for name in FILES if name not in _find(cache)[0]], cache, looked, advice)
    return _load(_find(cache)[0])


def _offline() -> bool:
    return os.environ.get("FASTCONV_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _places(path: StrPath | None) -> list[tuple[str, Path]]:
    if path is not None:
        return [("path", Path(path).expanduser())]
    places = []
    data = os.environ.get("FASTCONV_DATA")
    if data:
        root = Path(data).expanduser()
        places += [("$FASTCONV_DATA/mnist", root / "mnist"), ("$FASTCONV_DATA", root)]
    places.append(("user cache", cache_dir()))
    return places


def _find(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """The files present in `directory` (raw preferred to .gz) and the names missing."""
    found, missing = {}, []
    for name in FILES:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def _where(label: str, directory: Path, missing: list[str], found: dict[str, Path]) -> str:
    if not directory.is_dir():
        why = "no such directory"
    elif not found:
        why = "none of the files"
    else:
        why = "missing " + ", ".join(missing)
    return f"  - {label}: {directory} ({why})"


def _not_found(looked: list[str], advice: str) -> str:
    return ("MNIST not found. Looked for " + ", ".join(FILES) + " (each raw or .gz) in:\n"
            + "\n".join(looked) + "\n" + advice)


def _load(files: dict[str, Path]) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    split = []
    for prefix in ("train", "t10k"):
        images_file, labels_file = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
        images = read_idx(images_file, expected_magic=IMAGES_MAGIC)
        labels = read_idx(labels_file, expected_magic=LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(
                f"{images_file} holds {len(images)} images but {labels_file} holds {len(labels)} labels; "
                "the counts must agree"
            )
        split.append((images, labels))
    return split[0], split[1]


def _download(names: list[str], cache: Path, looked: list[str], advice: str) -> None:
    """Fetch the official .gz of each name into `cache`, trying the mirrors in turn."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetNotFoundError(_not_found(
            looked, f"Cannot create the user cache {cache}: {exc}\n{advice}.")) from exc
    for name in names:
        gz = f"{name}.gz"
        failures, bad_digest = [], False
        for mirror in MIRRORS:
            url = mirror + gz
            print(f"fastconv: downloading {url}", file=sys.stderr)
            try:
                _fetch(url, cache / gz, OFFICIAL_SHA256[gz])
                break
            except (OSError, http.client.HTTPException, ValueError) as exc:
                bad_digest |= isinstance(exc, ValueError)
                failures.append(f"  - {url}: {exc}")
        else:
            if bad_digest:  # a mirror served wrong bytes: say so loudly, not as "not found"
                raise ValueError(f"Downloading {gz} failed verification; nothing was kept:\n"
                                 + "\n".join(failures))
            raise DatasetNotFoundError(_not_found(
                looked, "Downloading failed:\n" + "\n".join(failures) + f"\n{advice}."))


def _fetch(url: str, dest: Path, sha256: str) -> None:
    """Download `url` to `dest` through a temporary file beside it, renamed into
    place only once its SHA-256 equals `sha256`; deleted otherwise."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest, size = hashlib.sha256(), 0
        request = urllib.request.Request(url, headers={"User-Agent": "fastconv"})
        with os.fdopen(fd, "wb") as out, _urlopen(request, timeout=_TIMEOUT) as response:
            while chunk := response.read(1 << 20):
                size += len(chunk)
                if size > _MAX_DOWNLOAD:
                    raise ValueError(f"response is larger than {_MAX_DOWNLOAD} bytes; not an MNIST file")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(f"SHA-256 mismatch: expected {sha256}, got {digest.hexdigest()} ({size} bytes)")
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a cache file reads like any other
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
