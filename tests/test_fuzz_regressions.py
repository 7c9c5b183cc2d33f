"""What the fuzz target (tools/fuzz.py) found, kept: each exact input from
tests/fuzz-findings replayed through the target with every finding reported
(strict), and each bug reproduced directly, without the target.

Fixed: a NaN or inf weight made conv2d_backward's grad_x NaN at pixels that
weight's tap never reaches (nn.py took the transposed-convolution path, which
multiplies its zero padding by the weights).

Fixed: load_model let exceptions other than its documented ValueError escape
from malformed files (AttributeError, RecursionError, NotImplementedError,
OSError, RuntimeError, tokenize.TokenError); it now raises ValueError for each."""
from __future__ import annotations

import importlib.util
import io
import json
import struct
import tokenize
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fastconv
import reference as ref
from fastconv.layers import Dense, Flatten
from fastconv.models import Sequential, load_model

_path = Path(__file__).parent.parent / "tools" / "fuzz.py"
_spec = importlib.util.spec_from_file_location("fastconv_fuzz", _path)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)
fuzz.setup()

FINDINGS = Path(__file__).parent / "fuzz-findings"


# file name in tests/fuzz-findings -> (branch it must decode to, marks)
INPUTS = {
    "conv2d_backward-nonfinite-weight": ("conv2d_backward", ()),
    "load_model-model-not-object": ("load_model", ()),
    "load_model-deep-json": ("load_model", ()),
    "load_model-zip-method": ("load_model", ()),
    "load_model-zip-version": ("load_model", ()),
    "load_model-zip-flag-bits": ("load_model", ()),
    "load_model-zip-bad-offset": ("load_model", ()),
    "load_model-zip-encrypted": ("load_model", ()),
}


def test_every_saved_finding_is_listed():
    assert sorted(p.name for p in FINDINGS.iterdir()) == sorted(INPUTS)


@pytest.mark.parametrize("name", [pytest.param(n, marks=m) for n, (_, m) in INPUTS.items()])
def test_fuzz_finding_replays_clean(name, monkeypatch):
    data = (FINDINGS / name).read_bytes()
    assert fuzz.op_name(data) == INPUTS[name][0], "the target decodes this input differently now"
    monkeypatch.setattr(fuzz, "STRICT", True)
    fuzz.TestOneInput(data)


# ---- the same bugs, reproduced directly ------------------------------------------------


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_backward_nonfinite_weight_matches_reference(dtype, layout, rng):
    """16 channels and stride 1 take the transposed-convolution path."""
    x = rng.standard_normal((2, 16, 9, 10)).astype(dtype)
    w = rng.standard_normal((5, 16, 2, 4)).astype(dtype)
    w[1, 4, 1, 1], w[3, 10, 0, 1] = np.nan, np.inf
    gy = rng.standard_normal((2, 5, 9, 6)).astype(dtype)  # padding 1, dilation 2
    want_x, want_w, _ = ref.conv2d_backward(gy, x, w, 1, 1, 2, 1)
    if layout == "NHWC":
        gx, gw, _ = fastconv.conv2d_backward(gy.transpose(0, 2, 3, 1), x.transpose(0, 2, 3, 1),
                                             w.transpose(2, 3, 1, 0), 1, 1, 2, 1, layout="NHWC")
        gx, gw = gx.transpose(0, 3, 1, 2), gw.transpose(3, 2, 0, 1)
    else:
        gx, gw, _ = fastconv.conv2d_backward(gy, x, w, 1, 1, 2, 1)
    assert 0 < np.isnan(want_x).sum() < want_x.size  # the test means something
    ref.assert_close(gx, want_x, op="conv2d_backward grad_x", isa="default", dtype=dtype, reduce=40,
                     context=f"NaN and inf weights, {layout}")
    ref.assert_close(gw, want_w, op="conv2d_backward grad_weight", isa="default", dtype=dtype, reduce=108,
                     context=f"NaN and inf weights, {layout}")


def _model_file() -> bytes:
    model = Sequential()
    model.add(Flatten(input_shape=(2, 2, 1)))
    model.add(Dense(3))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        config = {"format": "fastconv-model", "version": 1, "model": model.get_config(), "compile": None,
                  "weights": [list(w.shape) for w in model.get_weights()]}
        zf.writestr("config.json", json.dumps(config))
        for i, w in enumerate(model.get_weights()):
            npy = io.BytesIO()
            np.save(npy, w)
            zf.writestr(f"weights/{i:04d}.npy", npy.getvalue())
    return buf.getvalue()


def _replace(blob: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for n in src.namelist():
            dst.writestr(n, data if n == name else src.read(n))
    return out.getvalue()


def _patch(blob: bytes, at: int, fmt: str, value: int) -> bytes:
    b = bytearray(blob)
    struct.pack_into(fmt, b, at, value)
    return bytes(b)


def _central_entry(blob: bytes, name: str) -> int:
    """Offset of `name`'s central-directory header."""
    i = blob.index(b"PK\x01\x02")
    while blob[i + 46:i + 46 + struct.unpack_from("<H", blob, i + 28)[0]] != name.encode():
        i = blob.index(b"PK\x01\x02", i + 4)
    return i


def _npy_header_unterminated() -> bytes:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _eocd_offset_past_end(blob: bytes) -> bytes:
    eocd = blob.rindex(b"PK\x05\x06")
    return _patch(blob, eocd + 16, "<I", struct.unpack_from("<I", blob, eocd + 16)[0] + 1000)


MALFORMED = {
    "model-not-object": (AttributeError, lambda b: _replace(b, "config.json", json.dumps(
        {"format": "fastconv-model", "version": 1, "model": None, "weights": []}).encode())),
    "deep-json": (RecursionError, lambda b: _replace(b, "config.json", b"[" * 50_000 + b"]" * 50_000)),
    "zip-method": (NotImplementedError, lambda b: _patch(b, _central_entry(b, "config.json") + 10, "<H", 99)),
    "zip-encrypted": (RuntimeError, lambda b: _patch(b, _central_entry(b, "config.json") + 8, "<H", 1)),
    "zip-offsets-before-start": (OSError, _eocd_offset_past_end),
    "npy-header-not-literal": (tokenize.TokenError, lambda b: _replace(b, "weights/0000.npy", _npy_header_unterminated())),
}


def test_model_file_for_malformed_cases_loads(tmp_path):
    path = tmp_path / "ok.fcm"
    path.write_bytes(_model_file())
    assert load_model(path).input_shape == (2, 2, 1)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_load_model_malformed_file_raises_valueerror(case, tmp_path):
    """Each case used to let MALFORMED[case][0] escape; now a ValueError naming the file."""
    path = tmp_path / "bad.fcm"
    path.write_bytes(MALFORMED[case][1](_model_file()))
    with pytest.raises(ValueError, match="load_model: .*bad.fcm"):
        load_model(path)
