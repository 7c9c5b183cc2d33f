"""Read and write IDX files (the MNIST container format), plain or gzip-compressed."""
from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from typing import IO, Protocol, Union

import numpy as np

from .._files import atomic_write

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]

StrPath = Union[str, "os.PathLike[str]"]


class _Reader(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


# IDX layout: magic = two zero bytes, a type code, the number of dimensions; then
# one big-endian uint32 per dimension; then the values, big-endian, C order.
#: The IDX type codes (the magic number's third byte) and the dtypes they store.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


_CODES = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22  # payloads are read in 4 MiB pieces, so a lying header cannot make us allocate much
# Deflate encodes at most 258 bytes in 2 bits: no gzip stream inflates to more
# than 1032 times its own size. A header claiming more than that is refused
# before anything is inflated.
DEFLATE_MAX_RATIO = 1032


def _describe(magic: int) -> str:
    code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    dtype = IDX_DTYPES.get(code)
    kind = dtype.name if dtype is not None else f"unknown type 0x{code:02X}"
    return f"0x{magic:08X} ({kind}, {ndim}-D)"


def _read_header(stream: _Reader, n: int, name: str, offset: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise ValueError(
            f"{name}: truncated IDX header: needs {offset + n} bytes, file has {offset + len(data)}")
    return data


def _read_payload(stream: _Reader, n_bytes: int) -> bytearray:
    """Up to n_bytes + 1 bytes (one more tells an oversized file), in chunks."""
    buf = bytearray()
    while len(buf) <= n_bytes:
        chunk = stream.read(min(_CHUNK, n_bytes + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_stream(stream: _Reader, name: str, expected_magic: int | None,
                 available: int | None = None, gz_bytes: int | None = None) -> np.ndarray:
    """The array `stream` holds. `available`: the most bytes it can hold (the
    file's size, or what its gzip stream of `gz_bytes` bytes can inflate to),
    when known; a header claiming more is refused before the payload is read."""
    head = _read_header(stream, 4, name, 0)
    magic = int.from_bytes(head, "big")
    code, ndim = head[2], head[3]
    if head[:2] != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{name}: not an IDX file: magic number 0x{magic:08X}; expected 0x0000TTNN with "
            f"type code TT in {', '.join(f'0x{c:02X}' for c in IDX_DTYPES)} and NN >= 1 dimensions"
        )
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{name}: wrong IDX magic number {_describe(magic)}; expected {_describe(expected_magic)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(_read_header(stream, 4 * ndim, name, 4), ">u4"))
    dtype = IDX_DTYPES[code]
    n_bytes = dtype.itemsize
    for d in dims:
        n_bytes *= d
    header_bytes = 4 + 4 * ndim
    if available is not None and n_bytes > available - header_bytes:
        got = (f"{available - header_bytes}" if gz_bytes is None else
               f"at most {available - header_bytes} (a gzip stream of {gz_bytes} bytes inflates "
               f"to at most {DEFLATE_MAX_RATIO} times that)")
        raise ValueError(
            f"{name}: truncated IDX file: header says shape {dims} of {dtype.name} "
            f"= {n_bytes} payload bytes, file has {got}"
        )
    payload = _read_payload(stream, n_bytes)
    if len(payload) != n_bytes:
        problem = "truncated" if len(payload) < n_bytes else "oversized"
        got = f"{len(payload)}" if len(payload) < n_bytes else f"more than {n_bytes}"
        raise ValueError(
            f"{name}: {problem} IDX file: header says shape {dims} of {dtype.name} "
            f"= {n_bytes} payload bytes, file has {got}"
        )
    # A bytearray makes the result writable without another copy; wider types
    # are converted once from big-endian to the machine's byte order.
    arr = np.frombuffer(payload, dtype=dtype).reshape(dims)
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def read_idx(source: StrPath | IO[bytes], *, expected_magic: int | None = None) -> np.ndarray:
    """Read one IDX file into a NumPy array.

    Parameters
    ----------
    source : str, path-like or binary file object
        The file to read. Gzip compression is recognised by its magic bytes, so
        ``name.gz`` and ``name`` are read alike whatever they are called.
    expected_magic : int, optional
        If given, the file's magic number must equal it, e.g. ``0x00000803`` for
        MNIST images (uint8, 3-D) or ``0x00000801`` for MNIST labels (uint8, 1-D).

    Returns
    -------
    numpy.ndarray
        A writable, C-contiguous array in native byte order with the shape and
        dtype the header declares (uint8, int8, int16, int32, float32 or float64).

    Raises
    ------
    ValueError
        If the magic number, the header or the gzip stream is invalid, or the
        payload is shorter or longer than the header says. The message names the
        file and the sizes.
    TypeError
        If `source` is neither a path nor a binary file object.
    OSError
        If the file cannot be opened or read.

    Notes
    -----
    The header's shape is believed only as far as the file can hold it: a
    payload larger than the rest of a regular file (or an in-memory buffer),
    or than its gzip stream can inflate to (1032 times the compressed size, the
    most deflate can reach), is refused before anything is read or inflated.
    Otherwise the payload is read in 4 MiB chunks up to the header's size plus
    one byte, so memory grows with the data really there, not with the claim.

    Examples
    --------
    >>> import io, numpy as np
    >>> from fastconv.datasets.idx import read_idx
    >>> buf = io.BytesIO(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(buf)
    array([7, 8, 9], dtype=uint8)
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fsdecode(source)
        with open(source, "rb") as f:
            return _read_maybe_gzip(f, name, expected_magic)
    if not hasattr(source, "read"):
        raise TypeError(f"read_idx: source must be a path or a binary file object, got {type(source).__name__}")
    name = str(getattr(source, "name", None) or "<IDX stream>")
    return _read_maybe_gzip(source, name, expected_magic)


def _remaining(f: IO[bytes]) -> int | None:
    """Bytes from f's position to its end, if f is an in-memory buffer or a
    plain open regular file; None for anything else (a pipe, a device, a
    decompressing reader, a user's own file-like object)."""
    if isinstance(f, (io.BufferedReader, io.BufferedRandom, io.FileIO)):
        try:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
        except (OSError, ValueError):
            return None
    elif not isinstance(f, io.BytesIO):
        return None
    pos = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(pos)
    return max(end - pos, 0)


def _read_maybe_gzip(f: IO[bytes], name: str, expected_magic: int | None) -> np.ndarray:
    """The array in f, gzip-compressed or not. The header is believed only as
    far as the file can hold it (its size, or for gzip 1032 times its size);
    beyond that the payload is read in chunks, so memory grows with the data
    really there, never with what the header claims."""
    if not f.seekable():
        f = io.BytesIO(f.read())  # we peek at the first bytes, then start over
    available = _remaining(f)
    start = f.read(2)
    f.seek(-len(start), io.SEEK_CUR)
    if start != _GZIP_MAGIC:
        return _read_stream(f, name, expected_magic, available)
    inflated = None if available is None else available * DEFLATE_MAX_RATIO
    try:
        with gzip.GzipFile(fileobj=f, mode="rb") as gz:
            return _read_stream(gz, name, expected_magic, inflated, available)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"{name}: invalid gzip stream: {exc}") from None


def write_idx(path: StrPath, array: np.ndarray) -> None:
    """Write an array as an IDX file, gzip-compressed if `path` ends with ``.gz``.

    Parameters
    ----------
    path : str or path-like
        Where to write. An existing file is replaced atomically (a complete
        new file or the old one, whatever happens during the write).
    array : array_like
        At least one dimension, each below 2**32; dtype uint8, int8, int16,
        int32, float32 or float64 (any byte order).

    Raises
    ------
    TypeError
        If the dtype has no IDX type code.
    ValueError
        If the array has no dimensions, more than 255, or one of 2**32 or more.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from fastconv.datasets.idx import read_idx, write_idx
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
    >>> write_idx(p, np.array([7, 8, 9], np.uint8))
    >>> read_idx(p)
    array([7, 8, 9], dtype=uint8)
    """
    arr = np.asarray(array)
    code = _CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"write_idx: array has dtype {arr.dtype}; IDX stores uint8, int8, int16, int32, "
            "float32 or float64"
        )
    if not 1 <= arr.ndim <= 255 or any(d >= 1 << 32 for d in arr.shape):
        raise ValueError(
            f"write_idx: array has shape {arr.shape}; IDX needs 1 to 255 dimensions, each below 2**32"
        )
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    payload = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    with atomic_write(path) as raw:
        if os.fsdecode(path).endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                f.write(header)
                f.write(payload)
        else:
            raw.write(header)
            raw.write(payload)
