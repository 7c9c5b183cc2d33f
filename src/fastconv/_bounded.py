"""Reading untrusted files with memory bounded by what the file really holds.

Three tools for readers of files that may lie (`load_model`, the IDX reader):

- `open_regular(path)` opens a path only if it is a regular file, and says so
  before reading a byte: a FIFO, a device such as ``/dev/zero``, a directory or
  a socket would otherwise be read until memory runs out, or block.
- `ZipMember` inflates one member of a ZIP archive through a stream capped at
  the size the archive declares for it: a few chunks at a time, never more
  than that size plus one byte (which proves the member holds more than it
  declares). Every lie is a ValueError naming the member: more data than
  declared, less, a broken CRC, a member that is a symlink or directory, a
  compression method other than stored or deflated, an encrypted member, a
  member larger than the caller allows.
- `check_zip_directory` reads an archive's end records and refuses a central
  directory of more entries or bytes than a model file needs, before
  `zipfile` turns every entry into Python objects.
- `read_npy_header` reads a ``.npy`` header (at most `NPY_HEADER_MAX` bytes)
  so that the array's shape and dtype can be checked before the array is
  allocated.
"""
from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

__all__ = ["open_regular", "check_zip_directory", "ZipMember", "read_npy_header", "NPY_HEADER_MAX",
           "CHUNK", "ZIP_MAX_ENTRIES", "ZIP_MAX_DIRECTORY"]

CHUNK = 1 << 20           # bytes inflated or read per step
NPY_HEADER_MAX = 10_000   # numpy.load's own limit on a header's length

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (skipped), name length, extra length
_LOCAL_MAGIC = b"PK\x03\x04"
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFLNK: "a symbolic link"}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for binary reading, if it is a regular file (symlinks
    followed); ValueError naming the path and what it is otherwise. The check
    is made on the opened descriptor, and opening does not wait for a FIFO's
    writer, so nothing can slip in between and nothing blocks. OSError (no
    such file, no permission) is left to the caller."""
    nonblock = getattr(os, "O_NONBLOCK", 0)  # POSIX: open a FIFO without waiting for a writer
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{os.fsdecode(path)} is {_kind(mode)}, not a regular file")
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class ZipMember:
    """One member of an open ZIP archive, read through a capped stream.

    `fp` is the archive's binary file (seekable), `info` the member's
    `zipfile.ZipInfo`, `where` how messages name it (e.g. "model.fcm:
    config.json"), `max_size` the most bytes the caller accepts. Nothing is
    read until `read`; members may be read one after another from one `fp`.
    Call `finish()` after the last `read`: it proves the member ends exactly
    at its declared size and checks the CRC.
    """

    def __init__(self, fp: BinaryIO, info: zipfile.ZipInfo, where: str, max_size: int):
        self.where, self.size = where, info.file_size
        if info.is_dir() or (stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG)
                             and info.create_system == 3):
            what = "a directory" if info.is_dir() else _kind(info.external_attr >> 16)
            raise ValueError(f"{where} is {what}, not a regular file")
        if info.flag_bits & 0x1:
            raise ValueError(f"{where} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{where} uses compression method {info.compress_type}; "
                             "only stored (0) and deflated (8) are read")
        if info.file_size > max_size:
            raise ValueError(f"{where} declares {info.file_size} bytes, more than the "
                             f"{max_size} allowed for it")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise ValueError(f"{where} is stored uncompressed but declares {info.file_size} "
                             f"bytes in {info.compress_size}")
        fp.seek(info.header_offset)
        head = fp.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != _LOCAL_MAGIC:
            raise ValueError(f"{where}: no local file header at offset {info.header_offset}")
        name_len, extra_len = _LOCAL_HEADER.unpack(head)[1:]
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if fp.read(name_len) != info.orig_filename.encode(encoding):
            raise ValueError(f"{where}: the local header names another file")
        self._fp = fp
        self._pos = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        self._left_in = info.compress_size   # compressed bytes not yet read from fp
        self._left_out = info.file_size      # declared bytes not yet handed out
        self._pending = b""                  # read from fp, not yet inflated
        self._crc = 0
        self._crc_expected = info.CRC
        self._inflater = (zlib.decompressobj(-zlib.MAX_WBITS)
                          if info.compress_type == zipfile.ZIP_DEFLATED else None)

    def _raw(self, limit: int = CHUNK) -> bytes:
        """The next piece of the member's bytes as stored (at most `limit`)."""
        if self._left_in == 0:
            return b""
        self._fp.seek(self._pos)
        data = self._fp.read(min(limit, self._left_in))
        if not data:
            raise ValueError(f"{self.where}: the file ends inside this member "
                             f"({self._left_in} of its bytes missing)")
        self._pos += len(data)
        self._left_in -= len(data)
        return data

    def _produce(self, limit: int) -> bytes:
        """1 to `limit` bytes of content; ValueError if the member ends first."""
        if self._inflater is None:  # stored: the bytes themselves (sizes checked equal)
            return self._raw(limit)
        while True:
            if not self._pending and not self._inflater.eof:
                self._pending = self._raw()
                if not self._pending:
                    raise ValueError(f"{self.where}: the compressed data ends after "
                                     f"{self.size - self._left_out} of its declared {self.size} bytes")
            data = self._inflater.decompress(self._pending, limit)
            self._pending = self._inflater.unconsumed_tail
            if data:
                return data
            if self._inflater.eof:
                raise ValueError(f"{self.where}: inflates to {self.size - self._left_out} bytes, "
                                 f"not the {self.size} it declares")

    def read(self, n: int) -> bytes:
        """The next `n` bytes of the member (fewer only where its declared size
        ends), inflated CHUNK bytes at most at a time."""
        parts = []
        n = min(n, self._left_out)
        while n > 0:
            data = self._produce(min(n, CHUNK))
            self._crc = zlib.crc32(data, self._crc)
            self._left_out -= len(data)
            n -= len(data)
            parts.append(data)
        return b"".join(parts)

    def readinto(self, buffer) -> int:
        """Fill `buffer` (a writable bytes-like object) from the member, a chunk
        at a time; returns the bytes written (fewer only at the declared end)."""
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._left_out:
            data = self.read(min(CHUNK, len(view) - done))
            view[done:done + len(data)] = data
            done += len(data)
        return done

    def finish(self) -> None:
        """The member must end here: every declared byte read, the compressed
        stream ending with no byte left over, the CRC right."""
        if self._left_out:
            raise ValueError(f"{self.where}: {self._left_out} of its {self.size} declared bytes "
                             "were not read")
        if self._inflater is not None:
            while not self._inflater.eof:
                if not self._pending:
                    self._pending = self._raw()
                    if not self._pending:
                        raise ValueError(f"{self.where}: the compressed stream does not end")
                if self._inflater.decompress(self._pending, 1):
                    raise ValueError(f"{self.where}: inflates to more than the {self.size} "
                                     "bytes it declares")
                self._pending = self._inflater.unconsumed_tail
            if self._pending or self._inflater.unused_data or self._left_in:
                raise ValueError(f"{self.where}: bytes follow the end of its compressed stream")
        if self._crc != self._crc_expected:
            raise ValueError(f"{self.where}: CRC-32 mismatch (the data is corrupt)")

    def read_all(self) -> bytes:
        data = self.read(self.size)
        self.finish()
        return data


def read_npy_header(stream, where: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Shape, Fortran order, dtype and header length in bytes of the ``.npy``
    array `stream` starts with (format 1.0 or 2.0; the header at most
    NPY_HEADER_MAX bytes long), reading nothing past the header."""
    magic = stream.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise ValueError(f"{where} is not a .npy array (no NumPy magic string)")
    major = magic[6]
    if major not in (1, 2):
        raise ValueError(f"{where}: .npy format version {major}.{magic[7]}; "
                         "only 1.0 and 2.0 are read")
    raw_len = stream.read(2 if major == 1 else 4)
    header_len = int.from_bytes(raw_len, "little")
    if len(raw_len) != (2 if major == 1 else 4):
        raise ValueError(f"{where}: the .npy header is cut short")
    if header_len > NPY_HEADER_MAX:
        raise ValueError(f"{where}: its .npy header claims {header_len} bytes; "
                         f"at most {NPY_HEADER_MAX} are read")
    header = stream.read(header_len)
    if len(header) != header_len:
        raise ValueError(f"{where}: the .npy header is cut short")
    parse = (np.lib.format.read_array_header_1_0 if major == 1
             else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = parse(io.BytesIO(raw_len + header))
    return tuple(shape), bool(fortran), dtype, 8 + len(raw_len) + header_len


# ---- the ZIP directory ------------------------------------------------------------------

ZIP_MAX_ENTRIES = 4096            # a model file holds its config and one member per weight
ZIP_MAX_DIRECTORY = 1 << 20       # bytes of central directory
_EOCD = struct.Struct("<4s4H2LH")          # end of central directory record
_EOCD_MAGIC = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")   # zip64 end of central directory locator
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record


def check_zip_directory(f: BinaryIO, name: str, max_entries: int = ZIP_MAX_ENTRIES,
                        max_bytes: int = ZIP_MAX_DIRECTORY) -> None:
    """Refuse, before `zipfile` parses it, a central directory of more than
    `max_entries` entries or `max_bytes` bytes (`zipfile` makes Python objects
    for every entry: memory in proportion to the directory, not to what the
    reader needs). Reads only the end records; an archive without them is
    left for `zipfile` to refuse. ValueError naming `name`."""
    size = f.seek(0, os.SEEK_END)
    tail_len = min(size, _EOCD.size + 0xFFFF)  # the record and the longest comment
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = len(tail) - _EOCD.size  # no comment: where zipfile looks first
    if at < 0:
        return
    if tail[at:at + 4] != _EOCD_MAGIC:
        at = tail.rfind(_EOCD_MAGIC)
        if at < 0 or at + _EOCD.size > len(tail):
            return
    _, _, _, _, entries, dir_bytes, _, _ = _EOCD.unpack_from(tail, at)
    if (entries == 0xFFFF or dir_bytes == 0xFFFFFFFF) and at >= _ZIP64_LOCATOR.size:
        magic, _, record_at, _ = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
        if magic == b"PK\x06\x07" and 0 <= record_at <= size - _ZIP64_EOCD.size:
            f.seek(record_at)
            record = f.read(_ZIP64_EOCD.size)
            if record[:4] == b"PK\x06\x06":
                entries, dir_bytes = _ZIP64_EOCD.unpack(record)[7:9]
    if entries > max_entries:
        raise ValueError(f"{name}: the archive lists {entries} members, more than the "
                         f"{max_entries} a model file may have")
    if dir_bytes > max_bytes:
        raise ValueError(f"{name}: the archive's directory takes {dir_bytes} bytes, more than "
                         f"the {max_bytes} a model file may need")
