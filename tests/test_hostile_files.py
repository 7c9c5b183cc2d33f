"""Hostile files: model files and IDX files built to make a reader allocate far
more than they hold (zip bombs, sizes that lie, headers claiming terabytes,
members that are not files, paths that are not files). Each must raise
ValueError naming the file (and the member) while the loading process's peak
RSS grows by less than RSS_BOUND_MB: each case runs in a fresh child process
(`python -c`), which reads its own peak RSS (VmHWM; ``ru_maxrss`` would start
at the test runner's RSS, inherited through fork) before and after the load,
under a timeout and an address-space limit (so a regression fails the test
instead of taking the machine's memory). ``python tests/test_hostile_files.py``
prints the figures as a table (docs/reliability.md).

The bombs inflate to 512 MiB or more, so a reader that inflates before checking
exceeds the bound by far; they are built without ever holding their content:
one compressed block, flushed so it stands alone, repeated.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import stat
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from reference import CHILD_ADDRESS_LIMIT

from fastconv.layers import Dense, Flatten
from fastconv.models import Sequential, load_model

RSS_BOUND_MB = 100
BOMB_MIB = 512       # what each bomb inflates to, at least
TIMEOUT_S = 60

# ---- building ZIP and gzip files by hand -----------------------------------------------------


def deflate(*pieces: tuple[bytes, int]) -> bytes:
    """A raw deflate stream of each (block, repeat) piece in turn, block
    repeated `repeat` times, without making the content: after a full flush
    the compressor forgets everything, so a block compresses to the same bytes
    every time and its output can be repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = []
    for block, repeat in pieces:
        once = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
        out.append(once)
        if repeat > 1:
            again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
            out.append(again * (repeat - 1))
    out.append(c.flush(zlib.Z_FINISH))
    return b"".join(out)


def gzip_of(*pieces: tuple[bytes, int]) -> bytes:
    """A gzip file of the pieces, its trailer (CRC-32, size mod 2**32) true."""
    header = b"\x1f\x8b\x08\x00" + bytes(4) + b"\x02\xff"
    return header + deflate(*pieces) + struct.pack("<2I", crc_of(*pieces), size_of(*pieces) % 2**32)


def crc_of(*pieces: tuple[bytes, int]) -> int:
    crc = 0
    for block, repeat in pieces:
        for _ in range(repeat):
            crc = zlib.crc32(block, crc)
    return crc


def size_of(*pieces: tuple[bytes, int]) -> int:
    return sum(len(block) * repeat for block, repeat in pieces)


def member(name: str, *pieces: tuple[bytes, int], declared: int | None = None,
           crc: int | None = None, method: int = zipfile.ZIP_DEFLATED, mode: int = 0o100644) -> dict:
    """A ZIP member whose content is `pieces`, declaring `declared` bytes and
    `crc` (the truth by default); `mode` is the Unix file type and permissions."""
    if method == zipfile.ZIP_DEFLATED:
        data = deflate(*pieces)
    elif method == zipfile.ZIP_BZIP2:
        import bz2
        data = bz2.compress(b"".join(block * repeat for block, repeat in pieces))
    else:
        data = b"".join(block * repeat for block, repeat in pieces)
    return {"name": name.encode(), "data": data, "method": method,
            "size": size_of(*pieces) if declared is None else declared,
            "crc": crc_of(*pieces) if crc is None else crc, "mode": mode}


def write_zip(path: Path, members: list[dict]) -> Path:
    """A ZIP file of `members`, headers written as told (sizes, CRCs, modes)."""
    out, central = bytearray(), bytearray()
    for m in members:
        offset = len(out)
        fields = (20, 0, m["method"], 0, 0x21, m["crc"], len(m["data"]), m["size"], len(m["name"]), 0)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields) + m["name"] + m["data"]
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 0x031E, *fields, 0, 0, 0,
                               m["mode"] << 16, offset) + m["name"]
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                      len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


# ---- a small, valid model to start from --------------------------------------------------------


def model_members() -> tuple[bytes, list[bytes]]:
    """config.json and the .npy weights of a small Dense model, as save writes them."""
    model = Sequential([Flatten(input_shape=(4, 4, 1)), Dense(3)])
    config = {"format": "fastconv-model", "version": 1, "model": model.get_config(),
              "compile": None, "weights": [list(w.shape) for w in model.get_weights()]}
    weights = []
    for w in model.get_weights():
        npy = io.BytesIO()
        np.save(npy, w)
        weights.append(npy.getvalue())
    return json.dumps(config).encode(), weights


CONFIG, WEIGHTS = model_members()


def trained_model_members() -> tuple[bytes, list[bytes]]:
    """config.json and every other member (weights, then the optimizer's slots) of
    the small model after one Adam step, as save writes them: version 2."""
    model = Sequential([Flatten(input_shape=(4, 4, 1)), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.ones((2, 4, 4, 1), np.float32), [0, 1], verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "m.fcm")
        zf = zipfile.ZipFile(io.BytesIO((Path(tmp) / "m.fcm").read_bytes()))
    with zf:
        names = sorted(name for name in zf.namelist() if name != "config.json")
        return zf.read("config.json"), [(name, zf.read(name)) for name in names]


CONFIG2, MEMBERS2 = trained_model_members()
MIB = 1 << 20
SPACES, ZEROS = b" " * MIB, bytes(MIB)


def model_file(path: Path, *, config: dict | None = None, weight0: dict | None = None) -> Path:
    """The small model with config.json or weights/0000.npy replaced."""
    members = [config or member("config.json", (CONFIG, 1)),
               weight0 or member("weights/0000.npy", (WEIGHTS[0], 1)),
               member("weights/0001.npy", (WEIGHTS[1], 1))]
    return write_zip(path, members)


def trained_model_file(path: Path, *, slot0: dict | None = None, config: bytes | None = None) -> Path:
    """The small trained model with optimizer/0000.npy (the Dense kernel's
    momentum, (16, 3)) or config.json replaced."""
    members = [member("config.json", (config or CONFIG2, 1))]
    for name, data in MEMBERS2:
        members.append(slot0 if name == "optimizer/0000.npy" and slot0 else member(name, (data, 1)))
    return write_zip(path, members)


def npy_header(shape, descr="<f4", version=1) -> bytes:
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    (np.lib.format.write_array_header_1_0 if version == 1 else np.lib.format.write_array_header_2_0)(
        buf, header)
    return buf.getvalue()


# ---- the cases: name -> (build(tmp_path) -> path, loader, words the message must hold) --------

def _config_inflates_past_declared(tmp: Path) -> Path:
    pieces = ((CONFIG, 1), (SPACES, BOMB_MIB))  # valid JSON, then half a GiB of spaces
    return model_file(tmp / "m.fcm", config=member("config.json", *pieces, declared=len(CONFIG),
                                                   crc=zlib.crc32(CONFIG)))


def _config_declares_over_its_cap(tmp: Path) -> Path:
    return model_file(tmp / "m.fcm", config=member("config.json", (CONFIG, 1), (SPACES, BOMB_MIB)))


def _weight_inflates_past_declared(tmp: Path) -> Path:
    w = WEIGHTS[0]
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", (w, 1), (ZEROS, BOMB_MIB),
                                                    declared=len(w), crc=zlib.crc32(w)))


def _weight_declares_more_than_its_shape(tmp: Path) -> Path:
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", (WEIGHTS[0], 1), (ZEROS, BOMB_MIB)))


def _weight_header_shape_differs(tmp: Path) -> Path:
    # a header alone, asking for 4 x 2**36 float32 (1 TiB); the config needs (16, 3)
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", (npy_header((4, 2**36)), 1)))


def _weight_header_claims_4_gib(tmp: Path) -> Path:
    head = b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFFF)
    pieces = ((head, 1), (SPACES, BOMB_MIB))
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", *pieces,
                                                    declared=len(WEIGHTS[0]), crc=0))


def _weight_shorter_than_declared(tmp: Path) -> Path:
    w = WEIGHTS[0]
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", (w[:len(w) // 2], 1),
                                                    declared=len(w), crc=zlib.crc32(w)))


def _weight_is_a_symlink(tmp: Path) -> Path:
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", (WEIGHTS[0], 1),
                                                    mode=stat.S_IFLNK | 0o777))


def _weight_compressed_with_bzip2(tmp: Path) -> Path:
    return model_file(tmp / "m.fcm", weight0=member("weights/0000.npy", (WEIGHTS[0], 1),
                                                    method=zipfile.ZIP_BZIP2))


def _slot(tmp: Path, *pieces, **kw) -> Path:
    return trained_model_file(tmp / "m.fcm", slot0=member("optimizer/0000.npy", *pieces, **kw))


def _slot_inflates_past_declared(tmp: Path) -> Path:
    s = dict(MEMBERS2)["optimizer/0000.npy"]
    return _slot(tmp, (s, 1), (ZEROS, BOMB_MIB), declared=len(s), crc=zlib.crc32(s))


def _slot_declares_more_than_its_shape(tmp: Path) -> Path:
    return _slot(tmp, (dict(MEMBERS2)["optimizer/0000.npy"], 1), (ZEROS, BOMB_MIB))


def _slot_header_shape_differs(tmp: Path) -> Path:
    return _slot(tmp, (npy_header((4, 2**36)), 1))


def _state_claims_weight_2_62(tmp: Path) -> Path:
    config = json.loads(CONFIG2)
    config["optimizer_state"]["weights"] = [2**62]
    return trained_model_file(tmp / "m.fcm", config=json.dumps(config).encode())


def _fifo(tmp: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp / "pipe.fcm")
    return tmp / "pipe.fcm"


def _dev_zero(tmp: Path) -> Path:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this platform")
    return Path("/dev/zero")


def _directory(tmp: Path) -> Path:
    (tmp / "dir.fcm").mkdir()
    return tmp / "dir.fcm"


def _zip_lists_200000_empty_members(tmp: Path) -> Path:
    path = tmp / "m.fcm"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(200_000):
            zf.writestr(f"e{i}", b"")
    return path


def _zip_directory_of_long_names(tmp: Path) -> Path:
    path = tmp / "m.fcm"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(64):
            zf.writestr(f"{i:02d}" + "n" * 30_000, b"")
    return path


IDX_HEADER = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**31, 28, 28)  # 2**31 images: 1.6 TB


def _idx_gz_claims_2_31_images_holds_1_mib(tmp: Path) -> Path:
    data = np.random.default_rng(0).integers(0, 256, MIB, dtype=np.uint8).tobytes()
    (tmp / "images-idx3-ubyte.gz").write_bytes(gzip_of((IDX_HEADER, 1), (data, 1)))
    return tmp / "images-idx3-ubyte.gz"


def _idx_gz_of_1_mib_inflating_to_1_gib(tmp: Path) -> Path:
    # the file is about 1 MB; it inflates to 1 GiB of zeros, still far short of its claim
    (tmp / "images-idx3-ubyte.gz").write_bytes(gzip_of((IDX_HEADER, 1), (ZEROS, 1024)))
    return tmp / "images-idx3-ubyte.gz"


def _idx_raw_claims_2_31_images_holds_1_mib(tmp: Path) -> Path:
    (tmp / "images-idx3-ubyte").write_bytes(IDX_HEADER + ZEROS)
    return tmp / "images-idx3-ubyte"


CASES = {
    "config-inflates-past-its-declared-size": (_config_inflates_past_declared, "model",
                                               ["config.json", "more than the"]),
    "config-declares-more-than-1-MiB": (_config_declares_over_its_cap, "model",
                                        ["config.json", "1048576 allowed"]),
    "weight-inflates-past-its-declared-size": (_weight_inflates_past_declared, "model",
                                               ["weights/0000.npy", "more than the"]),
    "weight-declares-more-than-its-shape": (_weight_declares_more_than_its_shape, "model",
                                            ["weights/0000.npy", "allowed"]),
    "weight-header-shape-differs-from-config": (_weight_header_shape_differs, "model",
                                                ["weights/0000.npy", "(4, 68719476736)", "(16, 3)"]),
    "weight-header-claims-4-GiB": (_weight_header_claims_4_gib, "model",
                                   ["weights/0000.npy", "4294967295"]),
    "weight-shorter-than-declared": (_weight_shorter_than_declared, "model",
                                     ["weights/0000.npy", "not the 320 it declares"]),
    "weight-member-is-a-symlink": (_weight_is_a_symlink, "model",
                                   ["weights/0000.npy", "symbolic link"]),
    "weight-compressed-with-bzip2": (_weight_compressed_with_bzip2, "model",
                                     ["weights/0000.npy", "compression method 12"]),
    "optimizer-slot-inflates-past-its-declared-size": (_slot_inflates_past_declared, "model",
                                                       ["optimizer/0000.npy", "more than the"]),
    "optimizer-slot-declares-more-than-its-shape": (_slot_declares_more_than_its_shape, "model",
                                                    ["optimizer/0000.npy", "allowed"]),
    "optimizer-slot-header-shape-differs-from-config": (_slot_header_shape_differs, "model",
                                                        ["optimizer/0000.npy", "(4, 68719476736)", "(16, 3)"]),
    "optimizer-state-claims-weight-2**62": (_state_claims_weight_2_62, "model",
                                            ["bad optimizer state", "4611686018427387904"]),
    "model-path-is-dev-zero": (_dev_zero, "model", ["character device"]),
    "model-path-is-a-fifo": (_fifo, "model", ["FIFO"]),
    "model-path-is-a-directory": (_directory, "model", ["directory"]),
    "zip-lists-200000-empty-members": (_zip_lists_200000_empty_members, "model",
                                       ["200000 members", "4096"]),
    "zip-directory-of-64-30-KB-names": (_zip_directory_of_long_names, "model",
                                        ["directory takes", "1048576"]),
    "idx-gz-claims-2**31-images-holds-1-MiB": (_idx_gz_claims_2_31_images_holds_1_mib, "idx",
                                               ["truncated", "1683627180032"]),
    "idx-gz-of-1-MB-inflating-to-1-GiB": (_idx_gz_of_1_mib_inflating_to_1_gib, "idx",
                                          ["truncated", "1683627180032"]),
    "idx-gz-of-1-MB-inflating-to-1-GiB-unseekable": (_idx_gz_of_1_mib_inflating_to_1_gib, "idx-stream",
                                                     ["truncated", "1683627180032"]),
    "idx-raw-claims-2**31-images-holds-1-MiB": (_idx_raw_claims_2_31_images_holds_1_mib, "idx",
                                                ["truncated", "1683627180032"]),
}

# The child: limits its address space to what it has plus 2 GiB (Linux), notes
# its peak RSS, loads, and reports the exception, the peak RSS growth in MB and
# the seconds taken as one JSON line.
CHILD = r"""
import io, json, resource, sys, time
import numpy as np
from fastconv.datasets.idx import read_idx
from fastconv.models import load_model
kind, path = sys.argv[1], sys.argv[2]
""" + CHILD_ADDRESS_LIMIT + r"""
class Unseekable(io.RawIOBase):
    def __init__(self, data): self.buf = io.BytesIO(data)
    def readable(self): return True
    def readinto(self, b): return self.buf.readinto(b)

def peak_rss():
    # this process's peak RSS in bytes: VmHWM where /proc has it (ru_maxrss there
    # also counts the RSS of the process that forked this one, the test runner),
    # else ru_maxrss (bytes on macOS, KiB elsewhere)
    try:
        with open("/proc/self/status") as status:
            return [int(line.split()[1]) << 10 for line in status if line.startswith("VmHWM:")][0]
    except (OSError, IndexError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss << 10

before = peak_rss()
start = time.perf_counter()
try:
    if kind == "model":
        load_model(path)
    elif kind == "idx":
        read_idx(path)
    else:
        with open(path, "rb") as f:
            stream = io.BufferedReader(Unseekable(f.read()))
        before = peak_rss()
        start = time.perf_counter()
        read_idx(stream)
    exc, msg = None, ""
except BaseException as err:
    exc, msg = type(err).__name__, str(err)
seconds = time.perf_counter() - start
peak = peak_rss()
print(json.dumps({"exc": exc, "msg": msg, "rss_growth_mb": (peak - before) / 2**20,
                  "rss_peak_mb": peak / 2**20, "seconds": seconds}))
"""


def run_child(kind: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, check=False,
                          text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_raises_valueerror_in_bounded_memory(case, tmp_path):
    build, kind, words = CASES[case]
    path = build(tmp_path)
    got = run_child(kind, path)
    assert got["rss_growth_mb"] < RSS_BOUND_MB, f"{case}: peak RSS grew {got['rss_growth_mb']:.0f} MB"
    assert got["exc"] == "ValueError", f"{case}: {got['exc']}: {got['msg']}"
    name = str(path) if kind != "idx-stream" else "<IDX stream>"
    for word in [name, *words]:
        assert word in got["msg"], f"{case}: {word!r} not in {got['msg']!r}"


def test_the_bombs_hold_what_they_claim(tmp_path):
    """Guard for the tests above: the bombs are real (512 MiB behind a config
    that declares 190-odd bytes; 1 GiB behind a 1 MB gzip file)."""
    path = _config_inflates_past_declared(tmp_path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("config.json")
    assert info.file_size == len(CONFIG) < 1024
    start = info.header_offset + 30 + len(info.filename)  # the members have no extra field
    raw = path.read_bytes()[start:start + info.compress_size]
    inflater, total = zlib.decompressobj(-15), 0
    while raw:
        total += len(inflater.decompress(raw, 64 * MIB))
        raw = inflater.unconsumed_tail
    assert total == len(CONFIG) + BOMB_MIB * MIB
    gz = _idx_gz_of_1_mib_inflating_to_1_gib(tmp_path)
    assert gz.stat().st_size < 2 * MIB
    with gzip.open(gz) as f:  # the whole stream inflates, its CRC and size check out
        total = sum(len(chunk) for chunk in iter(lambda: f.read(64 * MIB), b""))
    assert total == len(IDX_HEADER) + 1024 * MIB


def test_the_trained_model_file_loads_and_its_first_slot_is_the_kernel_momentum(tmp_path):
    """Guard for the optimizer cases above: unchanged, the file they start from loads."""
    path = trained_model_file(tmp_path / "m.fcm")
    model = load_model(path)
    assert model.optimizer.iterations == 1
    momentum = model.optimizer._slots[id(model.layers[1].kernel)][0]
    assert momentum.shape == (16, 3) and momentum.any()
    got = run_child("model", path)
    assert got["exc"] is None and got["rss_growth_mb"] < RSS_BOUND_MB, got


# ---- a legitimate, larger model; max_bytes ------------------------------------------------------


@pytest.fixture(scope="module")
def large_model(tmp_path_factory):
    """A 4,096 x 1,024 Dense model: 16 MiB of float32 weights."""
    model = Sequential([Dense(1024, input_shape=(4096,))])
    model.set_weights([np.random.default_rng(1).standard_normal(w.shape).astype(np.float32)
                       for w in model.get_weights()])
    path = tmp_path_factory.mktemp("large") / "large.fcm"
    model.save(path)
    return model, path, sum(w.nbytes for w in model.get_weights())


def test_a_legitimate_larger_model_loads_in_memory_near_its_size(large_model):
    model, path, nbytes = large_model
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    got = run_child("model", path)
    assert got["exc"] is None, got["msg"]
    # the weights, allocated as zeros (no initialiser runs) and read into place in chunks
    assert got["rss_growth_mb"] < nbytes / 2**20 + 16, got


def test_max_bytes_refuses_a_model_larger_than_it_before_reading_weights(large_model):
    model, path, nbytes = large_model
    with pytest.raises(ValueError, match=rf"{path}.*{nbytes:,} bytes.*max_bytes={nbytes - 1:,}"):
        load_model(path, max_bytes=nbytes - 1)
    assert load_model(path, max_bytes=nbytes).count_params() == model.count_params()


def test_the_default_max_bytes_is_4_gib_and_refuses_a_config_declaring_more(tmp_path):
    # a config for Dense(2**20) on 2**10 inputs: 4 GiB + 4 MiB of weights; the file holds none
    layer = Dense(3).get_config() | {"units": 2**20, "input_shape": [2**10]}
    config = {"format": "fastconv-model", "version": 1,
              "model": {"name": "big", "layers": [{"class_name": "Dense", "config": layer}]},
              "compile": None, "weights": [[2**10, 2**20], [2**20]]}
    path = write_zip(tmp_path / "big.fcm", [member("config.json", (json.dumps(config).encode(), 1))])
    got = run_child("model", path)
    assert got["exc"] == "ValueError" and "max_bytes=4,294,967,296" in got["msg"], got
    assert got["rss_growth_mb"] < RSS_BOUND_MB


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), ("4GB", TypeError), (1.5, TypeError),
                                      (True, TypeError)])
def test_max_bytes_must_be_a_non_negative_int(large_model, bad, exc):
    with pytest.raises(exc, match="max_bytes"):
        load_model(large_model[1], max_bytes=bad)


def main() -> None:
    """Print the table of docs/reliability.md: each case's exception, peak RSS
    (and its growth during the load) and time, measured as the tests measure them."""

    def row(case, got, tmp):
        exc = f"`{got['exc']}`: " if got["exc"] else "none (loads); "
        msg = got["msg"].replace(tmp, "TMP").replace("|", "\\|")
        return (f"| {case} | {exc}{msg} | {got['rss_peak_mb']:.0f} MB (+{got['rss_growth_mb']:.1f}) "
                f"| {got['seconds'] * 1000:.0f} ms |")

    rows = ["| case | exception | peak RSS (growth during the load) | time |", "|---|---|---|---|"]
    for case, (build, kind, _) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = build(Path(tmp))
            except pytest.skip.Exception as why:
                rows.append(f"| {case} | skipped: {why} | | |")
                continue
            rows.append(row(case, run_child(kind, path), tmp))
    with tempfile.TemporaryDirectory() as tmp:
        model = Sequential([Dense(1024, input_shape=(4096,))])
        model.save(Path(tmp) / "large.fcm")
        rows.append(row("legitimate model, 16 MiB of weights", run_child("model", Path(tmp) / "large.fcm"), tmp))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
