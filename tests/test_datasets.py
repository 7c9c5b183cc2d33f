"""fastconv.datasets: the IDX reader/writer and mnist.load_data against the shared
mnist-5k files, synthetic IDX files, the search order and a download served from
local bytes (no test touches the network or the user's own cache)."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from _helpers import raises

from fastconv.datasets import mnist
from fastconv.datasets.idx import read_idx, write_idx

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist-5k"
TEST_BALANCE = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
IMAGES, LABELS = mnist.IMAGES_MAGIC, mnist.LABELS_MAGIC

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared MNIST subset not found at {SHARED}")


@pytest.fixture(autouse=True)
def no_network_no_user_cache(monkeypatch, tmp_path):
    """Every test runs offline, with an empty private cache and no FASTCONV_DATA;
    a test that wants a download sets its own opener."""
    monkeypatch.delenv("FASTCONV_DATA", raising=False)
    monkeypatch.setenv("FASTCONV_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def refuse(*args, **kwargs):
        pytest.fail("a test tried to open a URL")

    monkeypatch.setattr(mnist, "_urlopen", refuse)


@pytest.fixture(scope="module")
def shared():
    if not SHARED.is_dir():
        pytest.skip(f"shared MNIST subset not found at {SHARED}")
    return mnist.load_data(SHARED)


def make_mnist(directory: Path, n_train: int, n_test: int, gz: bool = True, seed: int = 0) -> None:
    """Write the four files of a tiny random MNIST into `directory`."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{ext}", rng.integers(0, 10, n, np.uint8))


def train_count(path=None) -> int:
    (x_train, _), _ = mnist.load_data(path)
    return len(x_train)


# ---- the shared mnist-5k subset -------------------------------------------------------


def test_load_data_shared_shapes_and_dtypes(shared):
    (x_train, y_train), (x_test, y_test) = shared
    assert x_train.shape == (5000, 28, 28) and y_train.shape == (5000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
        assert a.flags.writeable and a.flags.c_contiguous
    assert x_train.max() == 255 and x_test.max() == 255
    assert y_train.max() == 9 and y_test.max() == 9


def test_load_data_shared_label_balance(shared):
    (_, y_train), (_, y_test) = shared
    assert np.bincount(y_train, minlength=10).tolist() == [500] * 10
    assert np.bincount(y_test, minlength=10).tolist() == TEST_BALANCE
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the official test set's first labels


@needs_shared
def test_shared_files_match_SHA256SUMS():
    lines = (SHARED / "SHA256SUMS").read_text().split("\n")
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    assert sorted(sums) == sorted(f"{name}.gz" for name in mnist.FILES)
    for name, digest in sums.items():
        assert hashlib.sha256((SHARED / name).read_bytes()).hexdigest() == digest, name


@needs_shared
def test_read_idx_of_shared_test_images_is_fast():
    start = time.perf_counter()
    x = read_idx(SHARED / "t10k-images-idx3-ubyte.gz", expected_magic=IMAGES)
    assert x.shape == (10000, 28, 28)
    assert time.perf_counter() - start < 1.0  # ~0.05 s; a Python loop over pixels takes many seconds


@needs_shared
@pytest.mark.parametrize("raw", [["all"], ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]],
                         ids=["all-raw", "mixed-raw-and-gz"])
def test_load_data_raw_matches_gz(shared, tmp_path, raw):
    for name in mnist.FILES:
        if raw == ["all"] or name in raw:
            (tmp_path / name).write_bytes(gzip.decompress((SHARED / f"{name}.gz").read_bytes()))
        else:
            shutil.copy(SHARED / f"{name}.gz", tmp_path)
    got = mnist.load_data(tmp_path)
    for a, b in zip(sum(got, ()), sum(shared, ())):
        np.testing.assert_array_equal(a, b)


def test_load_data_prefers_raw_to_gz_in_one_directory(tmp_path):
    make_mnist(tmp_path, 4, 2, gz=True)
    make_mnist(tmp_path, 3, 2, gz=False)
    assert train_count(tmp_path) == 3


@needs_shared
def test_read_idx_file_object_matches_path():
    by_path = read_idx(SHARED / "t10k-labels-idx1-ubyte.gz")
    with open(SHARED / "t10k-labels-idx1-ubyte.gz", "rb") as f:
        np.testing.assert_array_equal(read_idx(f), by_path)
    raw = gzip.decompress((SHARED / "t10k-labels-idx1-ubyte.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(io.BytesIO(raw)), by_path)


# ---- any count, any IDX type ----------------------------------------------------------


@pytest.mark.parametrize("n_train,n_test", [(3, 3), (1, 2), (0, 0)])
def test_load_data_accepts_any_image_count(tmp_path, n_train, n_test):
    make_mnist(tmp_path, n_train, n_test)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path)
    assert x_train.shape == (n_train, 28, 28) and y_train.shape == (n_train,)
    assert x_test.shape == (n_test, 28, 28) and y_test.shape == (n_test,)


@pytest.mark.parametrize("shape", [(5,), (3, 28, 28), (2, 3, 4, 5), (0, 7)], ids=str)
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64", ">i4", "<f8"])
@pytest.mark.parametrize("ext", ["", ".gz"], ids=["raw", "gz"])
def test_write_idx_then_read_idx_roundtrips(tmp_path, rng, shape, dtype, ext):
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / f"a{ext}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.shape == a.shape and b.dtype == a.dtype.newbyteorder("=") and b.dtype.isnative
    assert b.flags.writeable
    np.testing.assert_array_equal(a, b)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if ext else b"\x00\x00")


def test_read_idx_header_is_big_endian():
    data = bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    np.testing.assert_array_equal(read_idx(io.BytesIO(data)), np.array([[0x0102, -2]], np.int16))


@pytest.mark.parametrize("bad,exc", [(np.zeros(3, bool), TypeError), (np.zeros(3, np.complex64), TypeError),
                                     (np.zeros(3, np.uint16), TypeError), (np.uint8(3), ValueError)],
                         ids=["bool", "complex64", "uint16", "0-d"])
def test_write_idx_rejects_what_idx_cannot_hold(tmp_path, bad, exc):
    raises(lambda: write_idx(tmp_path / "x", bad), exc, "write_idx")


# ---- broken files: ValueError naming the file -----------------------------------------


def corrupt_truncated(p: Path):
    p.write_bytes(p.read_bytes()[:-1])


def corrupt_oversized(p: Path):
    p.write_bytes(p.read_bytes() + b"\x00")


def corrupt_header_only(p: Path):
    p.write_bytes(p.read_bytes()[:10])


def corrupt_magic(p: Path):
    p.write_bytes(b"\x12\x34" + p.read_bytes()[2:])


def corrupt_type_code(p: Path):
    p.write_bytes(b"\x00\x00\x0A" + p.read_bytes()[3:])


def corrupt_labels_as_images(p: Path):
    write_idx(p, np.zeros(3, np.uint8))


def corrupt_float_images(p: Path):
    write_idx(p, np.zeros((3, 28, 28), np.float32))


BROKEN = {
    corrupt_truncated: ["truncated", "2352", "2351"],
    corrupt_oversized: ["oversized", "2352"],
    corrupt_header_only: ["truncated IDX header", "needs 16 bytes, file has 10"],
    corrupt_magic: ["not an IDX file", "0x12340803"],
    corrupt_type_code: ["not an IDX file", "0x00000A03"],
    corrupt_labels_as_images: ["wrong IDX magic", "0x00000801", "0x00000803"],
    corrupt_float_images: ["wrong IDX magic", "float32"],
}


@pytest.mark.parametrize("corrupt,words", [pytest.param(f, w, id=f.__name__.removeprefix("corrupt_"))
                                           for f, w in BROKEN.items()])
def test_load_data_broken_raw_images_raise_valueerror_naming_file(tmp_path, corrupt, words):
    make_mnist(tmp_path, 3, 3, gz=False)
    bad = tmp_path / "train-images-idx3-ubyte"
    corrupt(bad)
    raises(lambda: mnist.load_data(tmp_path), ValueError, str(bad), *words)


@pytest.mark.parametrize("corrupt", [corrupt_truncated, corrupt_oversized, corrupt_magic],
                         ids=lambda f: f.__name__.removeprefix("corrupt_"))
def test_load_data_broken_payload_inside_gzip_raises_valueerror(tmp_path, corrupt):
    make_mnist(tmp_path, 3, 3, gz=False)
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    corrupt(raw)
    gz = raw.with_name(raw.name + ".gz")
    gz.write_bytes(gzip.compress(raw.read_bytes()))
    raw.unlink()
    raises(lambda: mnist.load_data(tmp_path), ValueError, str(gz))


@pytest.mark.parametrize("damage", ["cut-stream", "flip-byte", "bad-crc"])
def test_load_data_invalid_gzip_stream_raises_valueerror(tmp_path, damage):
    make_mnist(tmp_path, 3, 3, gz=True)
    gz = tmp_path / "train-images-idx3-ubyte.gz"
    data = bytearray(gz.read_bytes())
    if damage == "cut-stream":
        data = data[: len(data) // 2]
    elif damage == "flip-byte":
        data[len(data) // 2] ^= 0xFF
    else:
        data[-8] ^= 0xFF  # CRC-32 in the trailer
    gz.write_bytes(bytes(data))
    raises(lambda: mnist.load_data(tmp_path), ValueError, str(gz))


@pytest.mark.parametrize("prefix", ["train", "t10k"])
def test_load_data_image_label_count_mismatch_raises(tmp_path, prefix):
    make_mnist(tmp_path, 3, 3)
    labels = tmp_path / f"{prefix}-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(2, np.uint8))
    raises(lambda: mnist.load_data(tmp_path), ValueError,
           str(tmp_path / f"{prefix}-images-idx3-ubyte.gz"), str(labels), "3 images", "2 labels")


def test_read_idx_names_a_stream_without_name():
    raises(lambda: read_idx(io.BytesIO(b"\x00\x00\x08")), ValueError, "<IDX stream>", "truncated")
    raises(lambda: read_idx(b"\x00\x00\x08\x01"), TypeError, "read_idx")


# ---- where load_data looks ------------------------------------------------------------


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Distinct tiny datasets: path=3, $FASTCONV_DATA/mnist=4, $FASTCONV_DATA=5, cache=6 images."""
    data = tmp_path / "data"
    make_mnist(tmp_path / "explicit", 3, 1)
    make_mnist(data / "mnist", 4, 1)
    make_mnist(data, 5, 1, gz=False)
    make_mnist(mnist.cache_dir(), 6, 1)
    monkeypatch.setenv("FASTCONV_DATA", str(data))
    return tmp_path


def test_load_data_path_wins_over_env_and_cache(places):
    assert train_count(places / "explicit") == 3
    assert train_count(str(places / "explicit")) == 3


def test_load_data_env_mnist_subdir_wins_over_env_root_and_cache(places):
    assert train_count() == 4


def test_load_data_env_root_used_without_mnist_subdir(places):
    shutil.rmtree(places / "data" / "mnist")
    assert train_count() == 5


def test_load_data_cache_used_when_env_dirs_lack_files(places, monkeypatch):
    monkeypatch.setenv("FASTCONV_DATA", str(places / "nowhere"))
    assert train_count() == 6
    monkeypatch.delenv("FASTCONV_DATA")
    assert train_count() == 6


def test_load_data_incomplete_directory_is_skipped(places):
    (places / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert train_count() == 5


def test_cache_dir_follows_xdg_then_home(monkeypatch, tmp_path):
    assert mnist.cache_dir() == tmp_path / "xdg-cache" / "fastconv" / "mnist"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for xdg in ("", "relative/path"):  # the XDG spec says to ignore relative paths
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        assert mnist.cache_dir() == tmp_path / "home" / ".cache" / "fastconv" / "mnist"


def test_load_data_explicit_path_without_files_does_not_fall_back(places):
    empty = places / "empty"
    empty.mkdir()
    msg = raises(lambda: mnist.load_data(empty), mnist.DatasetNotFoundError, str(empty), "none of the files")
    assert str(places / "data") not in msg  # only the given path was searched


def test_load_data_offline_without_files_lists_every_place(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "mnist").mkdir(parents=True)
    write_idx(data / "mnist" / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    monkeypatch.setenv("FASTCONV_DATA", str(data))
    msg = raises(mnist.load_data, FileNotFoundError, *mnist.FILES,
                 f"$FASTCONV_DATA/mnist: {data / 'mnist'} (missing train-labels-idx1-ubyte",
                 f"$FASTCONV_DATA: {data} (none of the files)",
                 f"user cache: {mnist.cache_dir()} (no such directory)",
                 "FASTCONV_OFFLINE=1", "set FASTCONV_DATA=DIR", "path=DIR")
    assert not mnist.cache_dir().exists()  # offline: not even the cache directory is created
    monkeypatch.delenv("FASTCONV_DATA")
    raises(mnist.load_data, mnist.DatasetNotFoundError, "$FASTCONV_DATA: not set", str(mnist.cache_dir()))


@pytest.mark.parametrize("value,offline", [("1", True), ("true", True), ("YES", True), ("0", False),
                                           ("", False), ("false", False), ("off", False)])
def test_fastconv_offline_values(monkeypatch, value, offline):
    monkeypatch.setenv("FASTCONV_OFFLINE", value)
    assert mnist._offline() is offline


# ---- downloading, served from local bytes ----------------------------------------------


class FakeOpener:
    """Stands in for urllib.request.urlopen: serves `files` by URL base name, or
    raises what `fail` maps a mirror prefix to; records each URL asked for."""

    def __init__(self, files: dict[str, bytes], fail: dict[str, Exception] | None = None):
        self.files, self.fail, self.urls = files, fail or {}, []

    def __call__(self, request, timeout=None):
        assert timeout is not None and 0 < timeout <= 120, f"urlopen called with timeout={timeout!r}"
        url = request.full_url
        self.urls.append(url)
        for mirror, exc in self.fail.items():
            if url.startswith(mirror):
                raise exc
        return io.BytesIO(self.files[url.rsplit("/", 1)[1]])


@pytest.fixture
def online(monkeypatch):
    """Allow downloads and return a function that installs a FakeOpener serving the
    shared files; with trust=True their digests replace the official ones."""
    if not SHARED.is_dir():
        pytest.skip(f"shared MNIST subset not found at {SHARED}")
    monkeypatch.setenv("FASTCONV_OFFLINE", "0")
    files = {f"{name}.gz": (SHARED / f"{name}.gz").read_bytes() for name in mnist.FILES}

    def install(trust: bool = True, fail=None) -> FakeOpener:
        if trust:
            monkeypatch.setattr(mnist, "OFFICIAL_SHA256",
                                {k: hashlib.sha256(v).hexdigest() for k, v in files.items()})
        opener = FakeOpener(files, fail)
        monkeypatch.setattr(mnist, "_urlopen", opener)
        return opener

    return install


def test_download_with_matching_digest_is_cached_and_reused(online, shared):
    opener = online()
    got = mnist.load_data()
    for a, b in zip(sum(got, ()), sum(shared, ())):
        np.testing.assert_array_equal(a, b)
    cache = mnist.cache_dir()
    assert sorted(os.listdir(cache)) == sorted(f"{name}.gz" for name in mnist.FILES)  # no temp files left
    assert opener.urls == [mnist.MIRRORS[0] + f"{name}.gz" for name in mnist.FILES]
    mnist.load_data()
    assert len(opener.urls) == 4  # the second call reads the cache


def test_download_with_wrong_digest_raises_and_keeps_nothing(online):
    opener = online(trust=False)  # the shared files are not the official ones
    raises(mnist.load_data, ValueError, "SHA-256 mismatch", mnist.OFFICIAL_SHA256["train-images-idx3-ubyte.gz"],
           *(mirror + "train-images-idx3-ubyte.gz" for mirror in mnist.MIRRORS))
    assert len(opener.urls) == len(mnist.MIRRORS)  # every mirror tried, then it stopped
    assert os.listdir(mnist.cache_dir()) == []


def test_download_falls_back_to_next_mirror(online):
    opener = online(fail={mnist.MIRRORS[0]: urllib.error.URLError("connection refused")})
    (x_train, _), _ = mnist.load_data()
    assert len(x_train) == 5000
    assert sum(url.startswith(mnist.MIRRORS[1]) for url in opener.urls) == 4


def test_download_fetches_only_files_missing_from_cache(online):
    make_mnist(mnist.cache_dir(), 3, 2, gz=False)
    (mnist.cache_dir() / "t10k-images-idx3-ubyte").unlink()
    (mnist.cache_dir() / "t10k-labels-idx1-ubyte").unlink()
    opener = online()
    (x_train, _), (x_test, _) = mnist.load_data()
    assert [url.rsplit("/", 1)[1] for url in opener.urls] == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert len(x_train) == 3 and len(x_test) == 10000


def test_download_network_failure_raises_not_found_listing_urls(online):
    errors = {mirror: urllib.error.URLError("no route to host") for mirror in mnist.MIRRORS}
    online(fail=errors)
    raises(mnist.load_data, mnist.DatasetNotFoundError, "Downloading failed", "no route to host",
           *(mirror + "train-images-idx3-ubyte.gz" for mirror in mnist.MIRRORS), str(mnist.cache_dir()))
    assert os.listdir(mnist.cache_dir()) == []


def test_download_interrupted_mid_file_keeps_nothing(online, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise TimeoutError("read timed out")
            return super().read(1000)

    opener = online()
    monkeypatch.setattr(mnist, "_urlopen", lambda req, timeout=None: Broken(opener.files["train-images-idx3-ubyte.gz"]))
    raises(mnist.load_data, mnist.DatasetNotFoundError, "read timed out")
    assert os.listdir(mnist.cache_dir()) == []
