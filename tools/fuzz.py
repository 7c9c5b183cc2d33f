#!/usr/bin/env python3
"""Fuzz the Python API with atheris: fuzzer bytes become shapes, strides, options,
dtypes, views, out= arrays and model files for every public function.

    python tools/fuzz.py --minutes 10              # atheris (pip install atheris)
    python tools/fuzz.py --replay FILE...          # run saved inputs, no atheris needed
    tools/fuzz.sh 10                               # the same run with the corpus set up

An input passes when the call returns a correct result or raises ValueError,
TypeError or MemoryError (load_model: ValueError, as docs/model-format.md
says) and leaves its input arrays as they were. Anything else is a finding and
is raised as an exception, which atheris records as a crash: another exception
type, a crash, a hang (libFuzzer's -timeout), an input modified, a result that
differs from the slow references (tests/reference.py for the deep-learning
ops, NumPy and SciPy themselves for the drop-ins), a valid call refused or an
invalid one accepted. Arrays stay small (dims are clipped, nothing near 64 MB)
except in the "huge" branch, whose zero-stride views and giant parameters must
be refused before anything is allocated.
"""
from __future__ import annotations

import atexit
import importlib.util
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tools" / "fuzz-corpus"


def _load_reference():
    spec = importlib.util.spec_from_file_location("fastconv_fuzz_reference", ROOT / "tests" / "reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ref = _load_reference()
fastconv = None  # imported in setup(), under atheris' instrumentation when fuzzing


class Finding(AssertionError):
    """A contract the input broke: wrong answer, wrong exception, modified input."""


ACCEPTED = (ValueError, TypeError, MemoryError)

# Findings already reported whose fix belongs to code this target does not own,
# by (exception type, fastconv function it escaped from): counted and passed
# over so that a long run can find the next thing; FASTCONV_FUZZ_STRICT=1 makes
# them findings again. Empty: load_model's escapes (AttributeError,
# RecursionError, NotImplementedError, OSError, RuntimeError, TokenError), listed
# here during the first runs, were fixed in models.py (5d5fa7f).
KNOWN_OPEN: set[tuple[str, str]] = set()
STRICT = os.environ.get("FASTCONV_FUZZ_STRICT", "") not in ("", "0")
known_seen: dict[tuple[str, str], int] = {}


def known_open(err: BaseException) -> bool:
    """Whether `err` is one of KNOWN_OPEN (and we are not strict); counts it."""
    import traceback

    frames = [f for f in traceback.extract_tb(err.__traceback__) if "fastconv" in Path(f.filename).parts]
    if STRICT or not frames:
        return False
    key = (type(err).__name__, frames[-1].name)
    if key not in KNOWN_OPEN:
        return False
    known_seen[key] = n = known_seen.get(key, 0) + 1
    if n & (n - 1) == 0 and n >= 1 << 6 or n == 1:  # the log keeps a running count (libFuzzer exits without atexit)
        print(f"known open finding, passed over: {key[0]} from {key[1]}: {n} inputs so far", file=sys.stderr)
    return True


# ---- turning bytes into decisions -------------------------------------------------------


class Bytes:
    """Reads decisions from the fuzzer's bytes; zeros once they run out, so every
    input, however short, decodes to some call."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def int(self, lo: int, hi: int) -> int:
        """lo..hi inclusive."""
        span = hi - lo + 1
        v = self.byte()
        if span > 256:
            v = v << 8 | self.byte()
        return lo + v % span

    def pick(self, options):
        return options[self.int(0, len(options) - 1)]

    def chance(self, in_256: int) -> bool:
        """True in about in_256 of 256 cases; False once the bytes run out."""
        return self.byte() > 255 - in_256

    def rest(self) -> bytes:
        out, self.pos = self.data[self.pos:], len(self.data)
        return out


FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
WRONG_DTYPES = ("int32", "int64", "uint8", "float16", "complex64", "bool", "object", "longdouble",
                "U3", "datetime64[s]")


def values(rd: Bytes, shape, dtype) -> np.ndarray:
    """An array of `shape` and `dtype` from a seed in the bytes; sometimes with NaN,
    inf, -0.0 or extreme values dropped in."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(rd.int(0, 65535))
    scale = rd.pick((1.0, 1.0, 1e-3, 1e3))
    specials = rd.chance(24)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        wide = rd.chance(64)
        lo, hi = (info.min, info.max) if wide else (max(info.min, -9), min(info.max, 9))
        return rng.integers(lo, hi, size=shape, dtype=dtype, endpoint=True)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "US":
        return np.full(shape, "ab", dtype=dtype)
    if dtype.kind == "M":
        return np.full(shape, np.datetime64(0, "s"))
    if dtype.kind == "m":
        return rng.integers(-5, 5, size=shape).astype(dtype)
    a = np.asarray(rng.standard_normal(shape) * scale)
    if dtype.kind == "c":
        a = a + 1j * rng.standard_normal(shape) * scale
    if specials and a.size:
        for _ in range(rd.int(1, 3)):
            # complex: no infinities, whose products NumPy and C99 leave to the formula used
            a.flat[rng.integers(a.size)] = rd.pick((np.nan, np.inf, -np.inf, -0.0, 0.0) if dtype.kind != "c"
                                                   else (np.nan, -0.0, 0.0))
    return np.asarray(a.astype(dtype))


def view(rd: Bytes, a: np.ndarray, allow_list: bool = True):
    """(arg, expected, owner): `a`'s values as a contiguous, Fortran, strided,
    reversed, permuted, read-only or broadcast array (or a nested list), the
    values the call should see, and the buffer that must stay unchanged."""
    form = rd.int(0, 9)
    if form == 1 and a.ndim:  # (asfortranarray makes 0-d arrays 1-d)
        arg = np.asfortranarray(a)
        return arg, a, arg
    if form == 2 and a.ndim:
        buf = np.zeros(tuple(2 * d + 1 for d in a.shape), dtype=a.dtype)
        arg = buf[tuple(slice(1, None, 2) for _ in a.shape)]
        arg[...] = a
        return arg, a, buf
    if form == 3 and a.ndim:
        ax = rd.int(0, a.ndim - 1)
        buf = np.ascontiguousarray(np.flip(a, ax))
        return np.flip(buf, ax), a, buf
    if form == 4 and a.ndim > 1:
        perm = np.random.default_rng(rd.byte()).permutation(a.ndim)
        buf = np.ascontiguousarray(a.transpose(perm))
        return buf.transpose(np.argsort(perm)), a, buf
    if form == 5:
        arg = a.copy()
        arg.flags.writeable = False
        return arg, a, arg
    if form == 6 and a.ndim and a.shape[ax := rd.int(0, a.ndim - 1)] > 0:
        buf = np.ascontiguousarray(a.take([0], axis=ax))
        arg = np.broadcast_to(buf, a.shape)
        return arg, np.array(arg), buf
    if form == 7 and allow_list and a.dtype == np.float64 and 0 < a.size <= 64 and a.ndim:
        return a.tolist(), a, None
    arg = a.copy()
    return arg, a, arg


class Inputs:
    """Snapshots of the buffers a call must not modify."""

    def __init__(self):
        self.saved = []

    def keep(self, owner):
        if isinstance(owner, np.ndarray) and owner.dtype != object:
            self.saved.append((owner, owner.tobytes()))

    def check(self, op: str, skip=()):
        for owner, before in self.saved:
            if not any(owner is s for s in skip) and owner.tobytes() != before:
                raise Finding(f"{op} modified an input of shape {owner.shape}")


def param(rd: Bytes, lo: int, hi: int, minimum: int = 1, pairs: bool = True, single: bool = False):
    """(argument, meaning): an int or pair in lo..hi in one of the accepted forms,
    or now and then (1 in 20) a bad one, whose meaning is None: it must be refused.
    With `single`, a sequence of one int is accepted too (as PyTorch's pooling does)."""
    a, b = rd.int(lo, hi), rd.int(lo, hi)
    if rd.chance(13):
        arg = rd.pick((minimum - 1, -3, 2**64, 1.0 * a, True, "2", None, (a, b, 1), (a, 1.5), (minimum - 1, b),
                       [a], (a, None)))
        return arg, ((a, a) if single and arg == [a] else None)
    form = rd.int(0, 7) if pairs else 0
    if single and form == 5:
        return (a,), (a, a)
    if form == 1:
        return np.int64(a), (a, a)
    if form == 2:
        return (a, b), (a, b)
    if form == 3:
        return [a, b], (a, b)
    if form == 4:
        return np.array([a, b]), (a, b)
    return a, (a, a)


def check_close(got, want, op: str, dtype, reduce=1, exact=False):
    try:
        ref.assert_close(got, want, op=op, isa=fastconv._kernels.current_isa(), dtype=dtype,
                         reduce=reduce, exact=exact)
    except AssertionError as err:
        raise Finding(str(err)) from None


def must_succeed(op: str, fn):
    try:
        return fn()
    except ACCEPTED as err:
        raise Finding(f"{op} refused a valid call: {type(err).__name__}: {err}") from None


def expect_refused(op: str, why: str, fn):
    try:
        fn()
    except ACCEPTED:
        return
    raise Finding(f"{op} accepted a bad call ({why})")


# ---- deep-learning ops -----------------------------------------------------------------


def float_dtype(rd: Bytes):
    """(dtype, ok): mostly float32/float64 (sometimes byte-swapped), else a wrong one."""
    k = rd.int(0, 15)
    if k < 13:
        return FLOATS[k % 2], True
    if k == 13:
        return FLOATS[rd.int(0, 1)].newbyteorder(">"), True
    return np.dtype(rd.pick(WRONG_DTYPES)), False


def conv_case(rd: Bytes, backward: bool):
    """Draw a conv2d call; returns the pieces and whether every part is valid."""
    big = rd.chance(20)
    groups = rd.int(1, 3)
    # big: deep enough (C/groups x R x S >= 64) for the indirect-GEMM kernels
    cg, kg = (rd.int(4, 24), rd.int(1, 24)) if big else (rd.int(0, 4), rd.int(0, 4))
    c, k = cg * groups, kg * groups
    r, s = rd.int(0, 4) if rd.chance(8) else rd.int(1, 4), rd.int(1, 4)
    n = rd.int(0, 2) if big else rd.int(0, 3)
    h, w = (rd.int(0, 24), rd.int(0, 24)) if big else (rd.int(0, 12), rd.int(0, 12))
    if rd.chance(16):
        c += rd.pick((1, -1)) if c else 1  # channel mismatch
    stride, st = param(rd, 1, 3)
    dilation, dil = param(rd, 1, 3)
    pform = rd.int(0, 9)
    padding, pad = param(rd, 0, 3, minimum=0)
    if pform == 8:
        padding = pad = "same"
    elif pform == 9:
        padding = pad = rd.pick(("valid", "VALID", "full"))
    layout = rd.pick(("NCHW", "NHWC") * 4 + ("nchw",))
    dtype, ok = float_dtype(rd)
    wdtype = dtype if not rd.chance(12) else np.dtype(rd.pick(("float32", "float64", "int64")))
    unbatched = rd.chance(40)
    xs = (c, h, w) if layout != "NHWC" else (h, w, c)
    x0 = values(rd, xs if unbatched else (n, *xs), dtype)
    w_nchw_shape = (k, cg, r, s)
    w0 = values(rd, w_nchw_shape if layout != "NHWC" else (r, s, cg, k), wdtype)
    bias_form = rd.int(0, 5)
    b0 = None if bias_form < 3 or backward else values(rd, (k if bias_form < 5 else k + 1,), wdtype)

    # validity, by the API's rules
    bad = []
    if not ok or wdtype.newbyteorder("=") != dtype.newbyteorder("="):
        bad.append("dtype")
    if layout not in ("NCHW", "NHWC"):
        bad.append("layout")
    if st is None or dil is None or pad is None or pad in ("VALID", "full"):
        bad.append("option form")
    if r < 1 or c != cg * groups:
        bad.append("shapes")
    if b0 is not None and b0.shape != (k,):
        bad.append("bias shape")
    oh = ow = 0
    padding_ref = 0
    if not bad:
        if pad == "same":
            (pt_pb, oh), (pl_pr, ow) = (ref.tf_same_padding(h, r, st[0], dil[0]),
                                        ref.tf_same_padding(w, s, st[1], dil[1]))
            padding_ref = (pt_pb, pl_pr)
        else:
            p = (0, 0) if pad == "valid" else pad
            padding_ref = p
            spans = (dil[0] * (r - 1) + 1, dil[1] * (s - 1) + 1)
            if h + 2 * p[0] < spans[0] or w + 2 * p[1] < spans[1]:
                bad.append("kernel larger than padded input")
            else:
                oh, ow = (h + 2 * p[0] - spans[0]) // st[0] + 1, (w + 2 * p[1] - spans[1]) // st[1] + 1
    return dict(x0=x0, w0=w0, b0=b0, stride=stride, dilation=dilation, padding=padding, layout=layout,
                groups=groups, unbatched=unbatched, dtype=dtype.newbyteorder("="), st=st, dil=dil,
                padding_ref=padding_ref, n=n, k=k, cg=cg, r=r, s=s, oh=oh, ow=ow, bad=bad)


def to_nchw(a, layout, unbatched, is_weight=False):
    a = np.asarray(a, dtype=np.float64)
    if is_weight:
        return a.transpose(3, 2, 0, 1) if layout == "NHWC" else a
    if unbatched:
        a = a[None]
    return a.transpose(0, 3, 1, 2) if layout == "NHWC" else a


def from_nchw(a, layout, unbatched):
    if layout == "NHWC":
        a = a.transpose(0, 2, 3, 1)
    return a[0] if unbatched else a


def fuzz_conv2d(rd: Bytes):
    cs = conv_case(rd, backward=False)
    inputs = Inputs()
    x, x_exp, xo = view(rd, cs["x0"])
    w, w_exp, wo = view(rd, cs["w0"])
    inputs.keep(xo), inputs.keep(wo)
    b = b_exp = None
    if cs["b0"] is not None:
        b, b_exp, bo = view(rd, cs["b0"])
        inputs.keep(bo)
    k, oh, ow = cs["k"], cs["oh"], cs["ow"]
    out_shape = (k, oh, ow) if cs["layout"] != "NHWC" else (oh, ow, k)
    if not cs["unbatched"]:
        out_shape = (cs["n"], *out_shape)
    out, out_buf, out_form = None, None, rd.int(0, 7)
    if out_form in (1, 2) and not cs["bad"]:
        out_buf = np.full(tuple(2 * d + 1 for d in out_shape), 7.0, dtype=cs["dtype"])
        out = out_buf[tuple(slice(1, None, 2) for _ in out_shape)] if out_form == 2 else \
            out_buf[tuple(slice(0, d) for d in out_shape)]
    elif out_form == 3:
        out = np.zeros(out_shape + (1,), dtype=cs["dtype"])
    elif out_form == 4:
        out = np.zeros(out_shape, dtype=np.float16)
    elif out_form == 5:
        out = np.zeros(out_shape, dtype=cs["dtype"])
        out.flags.writeable = False
    bad = cs["bad"] + (["out"] if out_form in (3, 4, 5) else [])
    call = lambda: fastconv.conv2d(x, w, b, cs["stride"], cs["padding"], cs["dilation"], cs["groups"],
                                   layout=cs["layout"], out=out)
    if bad:
        expect_refused("conv2d", ", ".join(bad), call)
        inputs.check("conv2d")
        return
    y = must_succeed("conv2d", call)
    inputs.check("conv2d")
    if out is not None:
        if y is not out:
            raise Finding("conv2d(out=...) did not return out")
        if out_form == 2:
            rest = out_buf.copy()
            rest[tuple(slice(1, None, 2) for _ in out_shape)] = 7.0
            if not np.all(rest == 7.0):
                raise Finding("conv2d wrote outside the out= view")
    if y.dtype != cs["dtype"] or y.shape != out_shape:
        raise Finding(f"conv2d returned {y.dtype} {y.shape}, expected {cs['dtype']} {out_shape}")
    if y.size and y.size * cs["cg"] * cs["r"] * cs["s"] <= 2_000_000:
        want = ref.conv2d(to_nchw(x_exp, cs["layout"], cs["unbatched"]),
                          to_nchw(w_exp, cs["layout"], False, True), b_exp, cs["st"],
                          cs["padding_ref"], cs["dil"], cs["groups"])
        check_close(y, from_nchw(want, cs["layout"], cs["unbatched"]), "conv2d", cs["dtype"],
                    reduce=cs["cg"] * cs["r"] * cs["s"])


def fuzz_conv2d_backward(rd: Bytes):
    cs = conv_case(rd, backward=True)
    inputs = Inputs()
    x, x_exp, xo = view(rd, cs["x0"])
    w, w_exp, wo = view(rd, cs["w0"])
    inputs.keep(xo), inputs.keep(wo)
    n, k, oh, ow = cs["n"], cs["k"], cs["oh"], cs["ow"]
    gshape = (k, oh, ow) if cs["layout"] != "NHWC" else (oh, ow, k)
    if not cs["unbatched"]:
        gshape = (n, *gshape)
    bad = list(cs["bad"])
    if rd.chance(16):
        gshape = gshape[:-1] + (gshape[-1] + 1,)
        bad.append("grad_out shape")
    gy0 = values(rd, gshape, cs["dtype"])
    gy, gy_exp, go = view(rd, gy0)
    inputs.keep(go)
    mask_form = rd.int(0, 9)
    mask = [(True, True, True), (False, True, True), (True, False, False), (False, False, True),
            [1, 0, 1], np.array([True, True, False]), "yes", (True, True), None, (True,) * 3][mask_form]
    if mask_form in (6, 7, 8):
        bad.append("output_mask")
    call = lambda: fastconv.conv2d_backward(gy, x, w, cs["stride"], cs["padding"], cs["dilation"],
                                            cs["groups"], layout=cs["layout"], output_mask=mask)
    if bad:
        expect_refused("conv2d_backward", ", ".join(bad), call)
        inputs.check("conv2d_backward")
        return
    got = must_succeed("conv2d_backward", call)
    inputs.check("conv2d_backward")
    work = n * k * oh * ow * cs["cg"] * cs["r"] * cs["s"]
    if work > 2_000_000:
        return
    lay, unb = cs["layout"], cs["unbatched"]
    x64, w64 = to_nchw(x_exp, lay, unb), to_nchw(w_exp, lay, False, True)
    if oh * ow:
        gx, gw, gb = ref.conv2d_backward(to_nchw(gy_exp, lay, unb), x64, w64, cs["st"], cs["padding_ref"],
                                         cs["dil"], cs["groups"])
    else:  # 'same' on an empty image: nothing flows back
        gx, gw, gb = np.zeros(x64.shape), np.zeros(w64.shape), np.zeros(k)
    wants = (from_nchw(gx, lay, unb), gw.transpose(2, 3, 1, 0) if lay == "NHWC" else gw, gb)
    reduces = (k // cs["groups"] * cs["r"] * cs["s"], max(1, n) * oh * ow, max(1, n) * oh * ow)
    for name, m, g, want, red in zip(("grad_x", "grad_weight", "grad_bias"), mask, got, wants, reduces):
        if not m:
            if g is not None:
                raise Finding(f"conv2d_backward returned {name} though output_mask={mask!r}")
            continue
        check_close(g, want, f"conv2d_backward {name}", cs["dtype"], reduce=red)


def fuzz_relu(rd: Bytes, backward: bool):
    op = "relu_backward" if backward else "relu"
    shape = tuple(rd.int(0, 7) for _ in range(rd.int(0, 4)))
    if rd.chance(10):
        shape = (rd.int(1000, 40000),)
    dtype, ok = float_dtype(rd)
    x0 = values(rd, shape, dtype)
    inputs = Inputs()
    x, x_exp, xo = view(rd, x0)
    inputs.keep(xo)
    dtype = dtype.newbyteorder("=")
    bad = [] if ok else ["dtype"]
    if backward:
        gshape = shape if not rd.chance(16) else shape + (1,)
        gdt = dtype if ok and not rd.chance(12) else np.dtype(rd.pick(("float32", "float64", "int8")))
        if gshape != shape:
            bad.append("grad_out shape")
        if gdt != dtype:
            bad.append("grad_out dtype")
        g, g_exp, go = view(rd, values(rd, gshape, gdt))
        inputs.keep(go)
        call = lambda: fastconv.relu_backward(g, x)
        out, skip = None, ()
    else:
        out_form, skip = rd.int(0, 7), ()
        out = None
        if ok and out_form == 1 and isinstance(x, np.ndarray) and x.flags.writeable and x.dtype.isnative:
            out, skip = x, (xo,)  # in place
        elif ok and out_form == 2:
            out = np.full(shape, 7.0, dtype=dtype)
        elif ok and out_form == 3 and len(shape) and shape[0] > 1 and x0.flags.c_contiguous:
            # out overlapping x, one row further on
            buf = np.ascontiguousarray(x0, dtype=dtype)
            buf = np.concatenate([buf, buf[:1]])
            x, out, skip = buf[:-1], buf[1:], (buf,)
            x_exp = x.copy()
        elif out_form == 4:  # relu is a ufunc: x broadcasts into a larger out, if it can
            out = np.zeros(shape + (2,), dtype=dtype)
            if not _broadcasts_to(shape, out.shape):
                bad.append("out shape")
        elif out_form == 5 and ok:  # the other float dtype: cast by casting='same_kind'
            out = np.zeros(shape, dtype=np.float32 if dtype == np.float64 else np.float64)
        elif out_form == 6 and ok:  # float -> int is not 'same_kind'
            out = np.zeros(shape, dtype=np.int64)
            bad.append("out dtype")
        call = lambda: fastconv.relu(x, out=out)
    if bad:
        expect_refused(op, ", ".join(bad), call)
        inputs.check(op)
        return
    y = must_succeed(op, call)
    inputs.check(op, skip=skip)
    if out is not None and y is not out:
        raise Finding("relu(out=...) did not return out")
    if not backward and out is None and not shape:  # a ufunc returns a NumPy scalar for 0-d input
        if not isinstance(y, np.generic):
            raise Finding(f"relu of a 0-d input returned {type(y).__name__}, not a NumPy scalar")
        y = np.asarray(y)
    want = ref.relu_backward(np.asarray(g_exp, dtype), x_exp) if backward else ref.relu(np.asarray(x_exp, dtype))
    if out is not None:
        want, dtype = np.broadcast_to(want, out.shape).astype(out.dtype), out.dtype
    check_close(y, want, op, dtype, exact=True)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def pool_case(rd: Bytes):
    layout = rd.pick(("NCHW", "NHWC") * 4 + ("NHW",))
    n, c = rd.int(0, 3), rd.int(0, 5) if rd.chance(16) else rd.int(1, 5)
    big = rd.chance(20)
    h, w = (rd.int(1, 60), rd.int(1, 60)) if big else (rd.int(0, 12) if rd.chance(16) else rd.int(1, 12),
                                                      rd.int(1, 12))
    kernel, ker = param(rd, 1, 4, single=True)
    stride, st = (None, None) if rd.chance(96) else param(rd, 1, 4, single=True)
    padding, pad = param(rd, 0, 2, minimum=0, single=True)
    dilation, dil = (1, (1, 1)) if rd.chance(128) else param(rd, 1, 3, single=True)
    ceil_mode = rd.pick((False, True) * 4 + (np.True_, 0, 1, "no"))
    unbatched = rd.chance(40)
    dtype, ok = float_dtype(rd)
    xs = (c, h, w) if layout != "NHWC" else (h, w, c)
    x0 = values(rd, xs if unbatched else (n, *xs), dtype)
    bad = [] if ok else ["dtype"]
    if layout not in ("NCHW", "NHWC"):
        bad.append("layout")
    if ker is None or pad is None or dil is None or (stride is not None and st is None):
        bad.append("option form")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        bad.append("ceil_mode not a bool")
    oh = ow = 0
    if not bad:
        st = ker if stride is None else st
        if pad[0] > ker[0] // 2 or pad[1] > ker[1] // 2:
            bad.append("padding more than half the kernel")
        elif min(c, h, w) == 0:
            bad.append("empty plane")
        else:
            oh = ref.pool_out_size(h, ker[0], st[0], pad[0], bool(ceil_mode), dil[0])
            ow = ref.pool_out_size(w, ker[1], st[1], pad[1], bool(ceil_mode), dil[1])
            if oh < 1 or ow < 1:
                bad.append("kernel does not fit")
            elif not (ref.pool_windows_covered(h, ker[0], st[0], pad[0], dil[0], oh)
                      and ref.pool_windows_covered(w, ker[1], st[1], pad[1], dil[1], ow)):
                bad.append("a window of padding only")
    return dict(x0=x0, kernel=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                layout=layout, unbatched=unbatched, dtype=dtype.newbyteorder("="), ker=ker, st=st, pad=pad,
                dil=dil, n=n, c=c, h=h, w=w, oh=oh, ow=ow, bad=bad)


def fuzz_max_pool2d(rd: Bytes, backward: bool):
    op = "max_pool2d_backward" if backward else "max_pool2d"
    cs = pool_case(rd)
    inputs = Inputs()
    x, x_exp, xo = view(rd, cs["x0"])
    inputs.keep(xo)
    lay, unb = cs["layout"], cs["unbatched"]
    opts = dict(stride=cs["stride"], padding=cs["padding"], dilation=cs["dilation"], ceil_mode=cs["ceil_mode"],
                layout=lay)
    if not backward:
        ri = rd.chance(128)
        call = lambda: fastconv.max_pool2d(x, cs["kernel"], return_indices=ri, **opts)
        if cs["bad"]:
            expect_refused(op, ", ".join(cs["bad"]), call)
            inputs.check(op)
            return
        got = must_succeed(op, call)
        inputs.check(op)
        if cs["oh"] * cs["ow"] > 400 or cs["n"] == 0 and not unb:
            return
        y, idx = ref.max_pool2d(to_nchw(x_exp, lay, unb), cs["ker"], cs["st"], cs["pad"], cs["dil"],
                                bool(cs["ceil_mode"]))
        check_close(got[0] if ri else got, from_nchw(y, lay, unb), op, cs["dtype"], exact=True)
        if ri:
            try:
                ref.assert_indices_equal(got[1], from_nchw(idx, lay, unb), op=op, isa="-", dtype=cs["dtype"])
            except AssertionError as err:
                raise Finding(str(err)) from None
        return
    # backward: indices from the forward (valid) or damaged
    if cs["bad"]:
        gy = np.zeros((1, 1, 1, 1), dtype=cs["dtype"])
        expect_refused(op, ", ".join(cs["bad"]),
                       lambda: fastconv.max_pool2d_backward(gy, x, gy.astype(np.int64), cs["kernel"], **opts))
        inputs.check(op)
        return
    if cs["oh"] * cs["ow"] > 400 or cs["n"] == 0 and not unb:
        return
    _, idx_nchw = ref.max_pool2d(to_nchw(x_exp, lay, unb), cs["ker"], cs["st"], cs["pad"], cs["dil"],
                                 bool(cs["ceil_mode"]))
    idx0 = from_nchw(idx_nchw, lay, unb)
    bad = []
    damage = rd.int(0, 9)
    if damage == 1 and idx0.size:
        idx0 = idx0.copy()
        idx0.flat[rd.int(0, idx0.size - 1)] = rd.pick((-1, cs["h"] * cs["w"], 2**40, -2**63))
    elif damage == 2 and idx0.size:
        idx0 = idx0.copy()
        idx0.flat[rd.int(0, idx0.size - 1)] = rd.int(0, cs["h"] * cs["w"] - 1)  # in plane, any window
    elif damage == 3:
        idx0 = idx0.astype(rd.pick((np.int32, np.uint16, np.float64)))
        if idx0.dtype.kind == "f":
            bad.append("float indices")
    elif damage == 4:
        idx0 = idx0[..., :-1]
        bad.append("indices shape")
    gy0 = values(rd, idx_nchw.shape if not unb else idx_nchw.shape[1:], cs["dtype"])
    if lay == "NHWC":
        gy0 = np.ascontiguousarray(np.moveaxis(gy0, -3, -1))
    gy, gy_exp, go = view(rd, gy0)
    ix, ix_exp, io_ = view(rd, idx0, allow_list=False)
    inputs.keep(go), inputs.keep(io_)
    if ix_exp.dtype.kind in "iu" and ix_exp.size and not (0 <= ix_exp.min() and ix_exp.max() < cs["h"] * cs["w"]):
        bad.append("index outside the plane")  # (judged on the values passed: a broadcast view may hide one)
    call = lambda: fastconv.max_pool2d_backward(gy, x, ix, cs["kernel"], **opts)
    if bad:
        expect_refused(op, ", ".join(bad), call)
        inputs.check(op)
        return
    got = must_succeed(op, call)
    inputs.check(op)
    want = ref.max_pool2d_backward(to_nchw(gy_exp, lay, unb), to_nchw(ix_exp, lay, unb).astype(np.int64),
                                   to_nchw(x_exp, lay, unb).shape)
    check_close(got, from_nchw(want, lay, unb), op, cs["dtype"], reduce=4)


# ---- drop-ins: compared with NumPy and SciPy themselves -----------------------------------

DROPIN_DTYPES = ("float64", "float32", "int64", "int32", "uint8", "int8", "uint64", "bool", "float16",
                 "complex128", "complex64", "longdouble", "object", "timedelta64[s]", "U2", ">f8")
RTOL = {"f": {2: 1e-2, 4: 1e-5, 8: 1e-11}, "c": {8: 1e-5, 16: 1e-11}}


def _kind(err: BaseException) -> str:
    for cls in ACCEPTED:
        if isinstance(err, cls):
            return cls.__name__
    return type(err).__name__


def same_as(op: str, got_fn, want_fn, describe: str, bound=lambda: 0.0):
    """Run both; the same exception kind, or the same dtype, shape and values
    (floats within rtol of the larger of the result's scale and `bound()`,
    a bound on the sum of |products|, so cancellation does not fail a test)."""
    try:
        want = want_fn()
        want_err = None
    except Exception as err:  # noqa: BLE001 - the reference's own exception, to compare kinds
        want, want_err = None, err
    try:
        got = got_fn()
    except Exception as err:  # noqa: BLE001 - any type the reference raises too is right
        if want_err is None:
            if isinstance(err, MemoryError):
                return
            raise Finding(f"{op} raised {type(err).__name__}({err}) where the reference returns "
                          f"{want.dtype} {want.shape}; {describe}") from None
        if _kind(err) != _kind(want_err) and not isinstance(err, MemoryError):
            raise Finding(f"{op} raised {type(err).__name__}({err}) where the reference raises "
                          f"{type(want_err).__name__}({want_err}); {describe}") from None
        return
    if want_err is not None:
        raise Finding(f"{op} returned where the reference raises {type(want_err).__name__}"
                      f"({want_err}); {describe}")
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype or got.shape != want.shape:
        raise Finding(f"{op} gave {got.dtype} {got.shape}, the reference {want.dtype} {want.shape}; {describe}")
    kind = want.dtype.kind
    if kind in "fc":
        rtol = RTOL[kind].get(want.dtype.itemsize, 1e-11)
        if kind == "c":  # which part of a non-finite complex is NaN depends on the formula used
            if not np.array_equal(np.isfinite(got), np.isfinite(want)):
                raise Finding(f"{op}: non-finite results differ from the reference; {describe}")
            got, want = got[np.isfinite(want)], want[np.isfinite(want)]
        # complex: real and imaginary parts compared as separate values
        g, w = (np.stack([x.real, x.imag]).astype(np.longdouble) for x in (got, want))
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            raise Finding(f"{op}: NaN pattern differs from the reference; {describe}")
        fin = np.isfinite(w)
        if not np.array_equal(np.isfinite(g), fin) or not np.array_equal(g[np.isinf(w)], w[np.isinf(w)]):
            raise Finding(f"{op}: infinities differ from the reference; {describe}")
        scale = max(float(np.max(np.abs(w[fin]), initial=0.0)), bound())
        err = np.abs(g[fin] - w[fin])
        if err.size and float(np.max(err)) > rtol * max(scale, 1e-300) * 4:
            raise Finding(f"{op}: max error {float(np.max(err)):.3g} vs result scale {scale:.3g} "
                          f"(rtol {rtol:g}); {describe}")
    elif not all(g == w or (g != g and w != w) for g, w in zip(got.ravel().tolist(), want.ravel().tolist())):
        raise Finding(f"{op}: values differ from the reference; {describe}")  # (NaN equals NaN here)


def magnitude_bound(a, v, fill=0) -> float:
    """max|a or fill| * sum|v| over finite values: no output sums more."""
    try:
        aa = np.abs(np.asarray(a, dtype=np.complex128)).ravel()
        vv = np.abs(np.asarray(v, dtype=np.complex128)).ravel()
        top = max(float(np.max(aa[np.isfinite(aa)], initial=0.0)), abs(complex(np.ravel(fill)[0])))
        return top * float(np.sum(vv[np.isfinite(vv)]))
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0


def dropin_array(rd: Bytes, shape, dtype, inputs: Inputs):
    arr, exp, owner = view(rd, values(rd, shape, dtype))
    inputs.keep(owner)
    return arr


def fuzz_1d(rd: Bytes, op: str):
    inputs = Inputs()
    big = rd.chance(24)
    n = rd.int(0, 3000) if big else rd.int(0, 20)
    m = rd.int(0, 600) if big else rd.int(0, 20)
    d1, d2 = rd.pick(DROPIN_DTYPES), rd.pick(DROPIN_DTYPES) if rd.chance(64) else None
    shapes = [(n,), (m,)]
    if rd.chance(12):
        shapes[rd.int(0, 1)] = rd.pick(((), (2, 3), (1, 1)))
    a = dropin_array(rd, shapes[0], d1, inputs)
    v = dropin_array(rd, shapes[1], d2 or d1, inputs)
    mode = rd.pick(("full", "same", "valid", 0, 1, 2, np.int64(2), "ful", 3, -1, None, 1.0, True, b"same"))
    fast, slow = (fastconv.convolve, np.convolve) if op == "convolve" else (fastconv.correlate, np.correlate)
    args = (mode,) if not rd.chance(32) else ()
    describe = f"a {d1} {shapes[0]}, v {d2 or d1} {shapes[1]}, mode={mode!r}"
    same_as(op, lambda: fast(a, v, *args), lambda: slow(a, v, *args), describe,
            lambda: magnitude_bound(a, v))
    inputs.check(op)


def fuzz_2d(rd: Bytes, op: str):
    import scipy.signal

    inputs = Inputs()
    big = rd.chance(20)
    s1 = (rd.int(0, 120), rd.int(0, 120)) if big else (rd.int(0, 9), rd.int(0, 9))
    s2 = (rd.int(0, 25), rd.int(0, 25)) if big else (rd.int(0, 5), rd.int(0, 5))
    if rd.chance(12):
        s1 = rd.pick(((3,), (2, 2, 2), ()))
    d1, d2 = rd.pick(DROPIN_DTYPES), rd.pick(DROPIN_DTYPES) if rd.chance(64) else None
    in1 = dropin_array(rd, s1, d1, inputs)
    in2 = dropin_array(rd, s2, d2 or d1, inputs)
    mode = rd.pick(("full", "same", "valid", "full", "same", "valid", "ful", 1))
    boundary = rd.pick(("fill", "wrap", "symm", "fill", "wrap", "symm", "pad", "circular", "symmetric",
                        "reflect", "zeros", None))
    fillvalue = rd.pick((0, 0, 0, 1.5, -2, 1 + 2j, np.float32(3), np.array([4]), [5], [], "a", None,
                         2**70, np.nan))
    fast = getattr(fastconv, op)
    slow = getattr(scipy.signal, op)
    describe = f"in1 {d1} {s1}, in2 {d2 or d1} {s2}, {mode!r}, {boundary!r}, fillvalue={fillvalue!r}"
    call = lambda: fast(in1, in2, mode, boundary, fillvalue)
    if boundary not in ("fill", "pad") and (0 in np.shape(in1) or 0 in np.shape(in2)):
        # SciPy dies of SIGFPE on wrap/symm with an empty input; fastconv refuses or computes
        try:
            call()
        except ACCEPTED:
            pass
    else:
        same_as(op, call, lambda: slow(in1, in2, mode, boundary, fillvalue), describe,
                lambda: max(magnitude_bound(in1, in2, fillvalue), magnitude_bound(in2, in1, fillvalue)))
    inputs.check(op)


# ---- model files -----------------------------------------------------------------------

_TMP_DIR: Path | None = None
_MODEL_BYTES: bytes | None = None


def _tmp() -> Path:
    """A scratch directory for model files, made on first use and removed when
    the process exits."""
    global _TMP_DIR
    if _TMP_DIR is None:
        _TMP_DIR = Path(tempfile.mkdtemp(prefix="fastconv-fuzz-"))
        atexit.register(shutil.rmtree, _TMP_DIR, True)
    return _TMP_DIR


def model_bytes() -> bytes:
    """A small valid model file, the base the load_model branch mutates: the one
    committed in the seed corpus (after its 3 decision bytes), so that saved
    inputs replay exactly whatever Sequential.save writes today."""
    global _MODEL_BYTES
    if _MODEL_BYTES is None:
        _MODEL_BYTES = (CORPUS / "load_model-valid-file").read_bytes()[3:]
    return _MODEL_BYTES


def fresh_model_bytes() -> bytes:
    """What Sequential.save writes for a small CNN (for --make-seeds), zip
    timestamps fixed so the same model gives the same bytes."""
    from fastconv.layers import Conv2D, Dense, Flatten, MaxPooling2D

    fastconv.utils.set_random_seed(0)
    m = fastconv.models.Sequential()
    m.add(Conv2D(2, kernel_size=(3, 3), input_shape=(6, 6, 1), activation="relu"))
    m.add(MaxPooling2D(pool_size=(2, 2)))
    m.add(Flatten())
    m.add(Dense(3, activation="softmax"))
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = _tmp() / "base.fcm"
    m.save(path)
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), src.read(name),
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _mutate_json(rd: Bytes, node, depth=0):
    """Replace one node of a JSON value (chosen by the bytes) with something odd."""
    odd = rd.int(0, 13)
    if isinstance(node, (dict, list)) and node and rd.chance(170):
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        key = keys[rd.int(0, len(keys) - 1)]
        node[key] = _mutate_json(rd, node[key], depth + 1)
        return node
    return [None, -1, 0, 2**40, 10**30, -2**63, 1.5, float("nan"), "x", [], {}, [[[[1]]]], True,
            [node, node]][odd]


def fuzz_load_model(rd: Bytes):
    how = rd.int(0, 3)
    base = model_bytes()
    if how == 0:  # raw bytes
        blob = rd.rest()
    elif how == 1:  # the valid file with bytes overwritten, cut or appended
        blob = bytearray(base)
        for _ in range(rd.int(1, 4)):
            pos = rd.int(0, len(blob) - 1)
            blob[pos] = rd.byte()
        if rd.chance(64):
            blob = blob[:rd.int(0, len(blob))]
        blob = bytes(blob) + (rd.rest() if rd.chance(32) else b"")
    else:  # rebuilt zip: JSON config and weight members altered, stored uncompressed or deflated
        with zipfile.ZipFile(io.BytesIO(base)) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        config = json.loads(members["config.json"])
        for _ in range(rd.int(1, 3)):
            config = _mutate_json(rd, config)
        members["config.json"] = json.dumps(config).encode()
        if rd.chance(4):  # deep nesting, well within the 1 MiB limit on config.json
            members["config.json"] = b"[" * 50_000 + b"]" * 50_000
        names = sorted(n for n in members if n.startswith("weights/"))
        if how == 3 and names:
            name = names[rd.int(0, len(names) - 1)]
            shape = rd.pick(((2,), (3, 3, 1, 2), (2**31, 2**31), (2**62, 4), (0,), (10**6,), (1,)))
            dtype = np.dtype(rd.pick(("<f4", "<f8", ">f8", "<i4", "|O", "<c8")))
            buf = io.BytesIO()  # a header only, then whatever bytes are left: no large arrays made here
            np.lib.format.write_array_header_1_0(
                buf, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": rd.chance(32),
                      "shape": shape})
            members[name] = buf.getvalue() + rd.rest()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=rd.pick((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        blob = out.getvalue()
    path = _tmp() / "fuzzed.fcm"
    path.write_bytes(blob)
    try:
        model = fastconv.models.load_model(path)
    except ValueError:  # the documented error, also for a file asking too much memory
        return
    except Exception as err:  # noqa: BLE001 - anything else is a finding unless already reported
        if known_open(err):
            return
        raise
    shape = tuple(model.input_shape)
    if all(isinstance(d, int) and d > 0 for d in shape) and int(np.prod(shape)) <= 4096 \
            and model.count_params() <= 1_000_000:
        x = values(rd, (2, *shape), np.float32)
        try:
            model.predict(x, verbose=0)
        except ValueError:
            pass


# ---- huge sizes: must be refused before anything is allocated ----------------------------


def _huge_view(shape, dtype=np.float64):
    return np.broadcast_to(np.zeros((), dtype), shape)


def fuzz_huge(rd: Bytes):
    e = rd.int(36, 70)  # every array these need is >= 2**36 elements: malloc refuses at once
    big = 2**e
    dt = rd.pick((np.float32, np.float64))
    small = np.ones((1, 1, 3, 3), dt)
    cases = [
        lambda: fastconv.conv2d(_huge_view((big, 1, 4, 4), dt), np.ones((1, 1, 1, 1), dt)),
        lambda: fastconv.conv2d(_huge_view((1, 1, big, 2**20), dt), np.ones((1, 1, 1, 1), dt)),
        lambda: fastconv.conv2d(small, _huge_view((big, 1, 1, 1), dt)),
        lambda: fastconv.conv2d(small, np.ones((1, 1, 1, 1), dt), padding=big),
        lambda: fastconv.conv2d(small, np.ones((1, 1, 2, 2), dt), padding=big, dilation=big),
        lambda: fastconv.conv2d(small, np.ones((1, 1, 1, 1), dt), stride=big),
        lambda: fastconv.conv2d(_huge_view((1, 2**20, 2**20, 3), dt), _huge_view((1, 1, 3, big), dt),
                                layout="NHWC"),
        lambda: fastconv.conv2d_backward(_huge_view((1, 1, big, 2**20), dt), _huge_view((1, 1, big, 2**20), dt),
                                         np.ones((1, 1, 1, 1), dt)),
        lambda: fastconv.relu(_huge_view((big, 2**20), dt)),
        lambda: fastconv.relu_backward(_huge_view((big, 2**20), dt), _huge_view((big, 2**20), dt)),
        lambda: fastconv.max_pool2d(_huge_view((1, big, 2**20, 2), dt), 1),
        lambda: fastconv.max_pool2d(small, big, padding=big // 2),
        lambda: fastconv.max_pool2d(small, 2, stride=big),
        lambda: fastconv.convolve(_huge_view((big,), dt), np.ones(3, dt)),
        lambda: fastconv.correlate(_huge_view((big,), dt), _huge_view((big // 2,), dt), "full"),
        lambda: fastconv.convolve2d(_huge_view((big, 2**20), dt), np.ones((2, 2), dt)),
        lambda: fastconv.correlate2d(np.ones((3, 3), dt), _huge_view((big, 2**20), dt), "valid"),
    ]
    i = rd.int(0, len(cases) - 1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        got = cases[i]()
    except ACCEPTED:
        got = None
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    if grown > 1 << 20:
        raise Finding(f"huge case {i} (2**{e}) grew the peak RSS by {grown >> 10} MiB")
    if got is not None and np.asarray(got[0] if isinstance(got, tuple) else got).nbytes > 1 << 30:
        raise Finding(f"huge case {i} (2**{e}) returned a result of more than 1 GiB")


# ---- the entry point ------------------------------------------------------------------

OPS = (
    ("conv2d", fuzz_conv2d),
    ("conv2d_backward", fuzz_conv2d_backward),
    ("relu", lambda rd: fuzz_relu(rd, False)),
    ("relu_backward", lambda rd: fuzz_relu(rd, True)),
    ("max_pool2d", lambda rd: fuzz_max_pool2d(rd, False)),
    ("max_pool2d_backward", lambda rd: fuzz_max_pool2d(rd, True)),
    ("convolve", lambda rd: fuzz_1d(rd, "convolve")),
    ("correlate", lambda rd: fuzz_1d(rd, "correlate")),
    ("convolve2d", lambda rd: fuzz_2d(rd, "convolve2d")),
    ("correlate2d", lambda rd: fuzz_2d(rd, "correlate2d")),
    ("load_model", fuzz_load_model),
    ("huge", fuzz_huge),
)


def setup() -> None:
    global fastconv
    import fastconv as fc

    fastconv = fc


def TestOneInput(data: bytes) -> None:  # noqa: N802 - atheris' name for the entry point
    """Decode one input into one call (with a thread count, ISA and threading
    threshold drawn too) and check its outcome; raise on a finding."""
    rd = Bytes(data)
    name, fn = OPS[rd.byte() % len(OPS)]
    k = fastconv._kernels
    threads, isa, threshold = fastconv.get_num_threads(), k.current_isa(), k.parallel_threshold_ns(-1)
    settings = rd.byte()
    try:
        fastconv.set_num_threads(1 + settings % 3)
        if settings & 4:
            k.parallel_threshold_ns(0)  # threaded paths even for small shapes
        k.set_isa(k.ISA_NAMES[(settings >> 3) % len(k.ISA_NAMES)])  # capped at what the CPU runs
        with np.errstate(all="ignore"):
            fn(rd)
    finally:
        fastconv.set_num_threads(threads)
        k.parallel_threshold_ns(threshold)
        k.set_isa(isa)


def op_name(data: bytes) -> str:
    return OPS[data[0] % len(OPS)][0] if data else OPS[0][0]


def instrument(atheris) -> None:
    """Coverage for every function and method defined in fastconv's Python modules,
    and in this one (so inputs that reach new kinds of call are kept too)."""
    import inspect

    done = set()
    for name, mod in list(sys.modules.items()):
        if name not in ("fastconv", __name__) and not name.startswith("fastconv."):
            continue
        for obj in vars(mod).values():
            members = vars(obj).values() if inspect.isclass(obj) else (obj,)
            for fn in members:
                fn = getattr(fn, "__func__", fn)  # staticmethod, classmethod
                if inspect.isfunction(fn) and fn.__module__ == name and id(fn) not in done:
                    done.add(id(fn))
                    atheris.instrument_func(fn)


def make_seeds(directory: Path) -> None:
    """The committed seeds: four short inputs per branch, and for load_model's
    raw-bytes branch a valid model file."""
    setup()
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for i, (name, _) in enumerate(OPS):
        for j in range(4):
            data = bytes([i, j]) + rng.integers(0, 256, 126, dtype=np.uint8).tobytes()
            (directory / f"{name}-{j}").write_bytes(data)
    load = [name for name, _ in OPS].index("load_model")
    (directory / "load_model-valid-file").write_bytes(bytes([load, 0, 0]) + fresh_model_bytes())


def report_known() -> None:
    for (kind, where), count in sorted(known_seen.items()):
        print(f"known open finding, passed over: {kind} from {where}: {count} inputs", file=sys.stderr)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Other arguments go to libFuzzer (e.g. -timeout=10, corpus dirs).")
    ap.add_argument("--minutes", type=float, help="stop after this many minutes (libFuzzer -max_total_time)")
    ap.add_argument("--replay", nargs="+", metavar="FILE", help="run these inputs once each, without atheris")
    ap.add_argument("--make-seeds", metavar="DIR", help="write the seed corpus to DIR")
    args, rest = ap.parse_known_args()
    import atexit

    atexit.register(report_known)
    if args.make_seeds:
        make_seeds(Path(args.make_seeds))
        return 0
    if args.replay:
        setup()
        for path in args.replay:
            print(f"{path} ({op_name(Path(path).read_bytes())})", flush=True)
            TestOneInput(Path(path).read_bytes())
        return 0
    import atheris

    setup()
    # Instrument fastconv's functions in place: an editable install imports through
    # its own loader, which atheris.instrument_imports cannot hook.
    instrument(atheris)
    if args.minutes:
        rest.append(f"-max_total_time={int(args.minutes * 60)}")
    atheris.Setup([sys.argv[0], *rest], TestOneInput)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
