"""Every registered microkernel, called directly (_kernels.ukernel_run) at the
edges of its tile or vector width -- tile - 1, tile, tile + 1, twice the tile
and a prime in each dimension it has -- against a float64 NumPy reference.
The cases come from the registry (_kernels.ukernels()), so a new .inc line is
tested without editing this file; a kernel of an ISA this CPU lacks is
skipped, saying so."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastconv import _kernels

KERNELS = _kernels.ukernels()
ISAS = _kernels.ISA_NAMES
ACC, BIAS_ROW, BIAS_COL = 1, 2, 4  # FC_GEMM_* flags


def _sizes(tile: int, prime: int = 13) -> list[int]:
    return sorted({max(1, tile - 1), tile, tile + 1, 2 * tile, prime})


def _lanes(k: dict) -> int:
    """The kernel's vector width in elements (4 for scalar code: its unrolling)."""
    width = {"scalar": 16, "avx2": 32, "avx512": 64}[k["isa"]]
    return width // np.dtype(k["dtype"]).itemsize


def _tol(dtype: str) -> float:
    return {"float32": 2e-5, "float64": 1e-12}[dtype]


def _close(got, want, dtype, what):
    tol = _tol(dtype)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol * 10, err_msg=what)


def _close_line(y, n, want, dtype, fill, what):
    """A line kernel's n outputs against `want`, and y[n] still the `fill` it had."""
    _close(y[:n], want, dtype, what)
    assert y[n] == fill, f"{what}: wrote past n"


@pytest.fixture(params=KERNELS, ids=[k["name"] for k in KERNELS])
def kernel(request):
    k = request.param
    if ISAS.index(k["isa"]) > ISAS.index(_kernels.cpu_isa()):
        pytest.skip(f"{k['name']} needs {k['isa']}; this CPU (and OS) give {_kernels.cpu_isa()}")
    return k


def test_every_registered_kernel_against_a_reference(kernel, rng):
    check = CHECKS.get(kernel["kind"].replace("_dilated", ""))
    if check is None and kernel["kind"].startswith("convpool"):
        check = CHECKS["convpool" + ("_wgrad" if kernel["kind"].endswith("_wgrad") else "")]
    assert check is not None, f"no per-kernel test for kind {kernel['kind']!r}: add one here"
    assert check(kernel, rng) > 0


# ---- GEMM-like: M, N, K ------------------------------------------------------------------


def _gemm(k, rng):
    mr, nr = k["tile"]
    dt = k["dtype"]
    cases = 0
    # every row count (a tile runs fewer rows when only some are live); A's rows
    # past m are NaN, which no stored output may see
    for m, n, kc in itertools.product(range(1, mr + 1), _sizes(nr), (1, 7, 16, 17)):
        if n > nr:
            continue  # one call covers one tile: the driver splits larger products
        a = np.full((kc, mr), np.nan, dt)
        a[:, :m] = rng.standard_normal((kc, m))
        b = np.zeros((kc, nr), dt)
        b[:, :n] = rng.standard_normal((kc, n))
        prod = a[:, :m].T.astype(np.float64) @ b[:, :n].astype(np.float64)

        def run(c, ldc, bias, flags, a=a, b=b, kc=kc, m=m, n=n):
            _kernels.ukernel_run(k["index"], (kc, m, n, ldc, flags), [a, b, c, bias])

        cases += _tile_flags(k, rng, prod, (0, ACC, BIAS_ROW, BIAS_COL), run, f"kc={kc}")
    return cases


def _tile_flags(k, rng, prod, all_flags, run, what):
    """One m x n tile of a GEMM-like kernel under each of its flags: C starts
    filled (ACC adds to it), a bias row or column where the flag says; checks
    the tile against prod (float64) and that nothing past column n was written.
    `run(c, ldc, bias, flags)` calls the kernel. Returns the cases run."""
    dt, (m, n) = k["dtype"], prod.shape
    for flags in all_flags:
        ldc = n + 3
        c = np.full((m, ldc), 7.0, dt)
        bias = rng.standard_normal(m if flags == BIAS_ROW else n).astype(dt)
        want = c[:, :n].astype(np.float64) + prod if flags == ACC else prod.copy()
        if flags == BIAS_ROW:
            want += bias[:, None]
        if flags == BIAS_COL:
            want += bias[None, :]
        run(c, ldc, bias if flags & (BIAS_ROW | BIAS_COL) else None, flags)
        label = f"{k['name']} m={m} n={n} {what} flags={flags}"
        _close(c[:, :n], want, dt, label)
        assert (c[:, n:] == 7).all(), f"{label}: wrote past column n"
    return len(all_flags)


def _igemm(k, rng):
    mr, nr = k["tile"]
    dt = k["dtype"]
    cases = 0
    # every row count: a tile runs fewer rows when only some are live; B packed
    # (ldb = NR) or read in place from a wider matrix (ldb > NR), its columns
    # from n on NaN: nothing of them may reach the stored columns
    for m, n, (ks, kc, stride, a_offset), extra in itertools.product(
            range(1, mr + 1), _sizes(nr), [(1, 1, 1, 0), (3, 7, 1, 0), (2, 17, 3, 5), (9, 4, 1, 0)],
            (0, 3)):
        if n > nr:
            continue
        ldb = nr + extra
        rows = rng.standard_normal((ks, mr, kc * stride)).astype(dt)
        base = np.concatenate([np.zeros(5, dt), rows.ravel()])
        starts = 5 + np.arange(ks * mr, dtype=np.int64) * kc * stride - a_offset
        pad = np.zeros((ks, mr), bool)
        pad[:, m:] = True
        pad[rng.random((ks, mr)) < 0.15] = True  # padding taps: the zero row
        offsets = np.where(pad.ravel(), -1, starts)
        zero = np.zeros((kc - 1) * stride + 1, dt)
        b = np.full((ks * kc, ldb), np.nan, dt)
        b[:, :n] = rng.standard_normal((ks * kc, n))
        A = np.where(pad[:, :, None], 0.0, rows[:, :, ::stride].astype(np.float64))  # (ks, mr, kc)
        prod = np.einsum("tip,tpj->ij", A, b[:, :n].reshape(ks, kc, n).astype(np.float64))[:m]

        def run(c, ldc, bias, flags, ks=ks, kc=kc, m=m, n=n, a_offset=a_offset, stride=stride,
                base=base, offsets=offsets, zero=zero, b=b, ldb=ldb):
            _kernels.ukernel_run(k["index"], (ks, kc, m, n, ldc, a_offset, stride, ldb, flags),
                                 [base, offsets, zero, b, c, bias])

        cases += _tile_flags(k, rng, prod, (0, ACC, BIAS_COL), run,
                             f"ks={ks} kc={kc} stride={stride} ldb={ldb}")
    return cases


def _gemv(k, rng):
    dt = k["dtype"]
    lanes = _lanes(k)
    cases = 0
    for nb, kc, mc in itertools.product(range(1, 5), (1, 7, 17), _sizes(lanes) + _sizes(4 * lanes, 67)):
        x = rng.standard_normal((nb, kc + 1)).astype(dt)
        w = rng.standard_normal((kc, mc + 3)).astype(dt)
        prod = x[:, :kc].astype(np.float64) @ w[:, :mc].astype(np.float64)
        for flags in (0, ACC):
            y = np.full((nb, mc + 1), 2.0, dt)
            want = prod + (2.0 if flags else 0.0)
            _kernels.ukernel_run(k["index"], (nb, kc, mc, kc + 1, mc + 3, mc + 1, flags), [x, w, y])
            what = f"{k['name']} nb={nb} kc={kc} mc={mc} flags={flags}"
            _close(y[:, :mc], want, dt, what)
            assert (y[:, mc:] == 2).all(), f"{what}: wrote past column mc"
            cases += 1
    return cases


def _gemv_sparse(k, rng):
    """Rows given by their nonzero terms: against float64, and bit for bit against
    the same ISA's GEMV over the whole rows, zeros (+0 and -0) included, as the
    dense backward relies on; with a repeated and an unordered index, the sum in
    list order."""
    dt = k["dtype"]
    lanes = _lanes(k)
    gemv = next(g for g in KERNELS if g["kind"] == "gemv" and g["isa"] == k["isa"] and g["dtype"] == dt)
    cases = 0
    for nb, kc, mc in itertools.product(range(1, 5), (1, 7, 40), _sizes(lanes) + _sizes(8 * lanes, 131)):
        w = rng.standard_normal((kc, mc + 3)).astype(dt)
        x = rng.standard_normal((nb, kc)).astype(dt)
        x[rng.random((nb, kc)) < 0.6] = 0.0
        x[:, ::3] *= -1  # -0.0 among the zeros
        if nb > 1:
            x[1] = 0  # a row with no terms
        L = kc + 2
        nnz = np.zeros(nb, np.uintp)
        idx = np.zeros((nb, L), np.uint32)
        val = np.zeros((nb, L), dt)
        for r in range(nb):
            (terms,) = np.nonzero(x[r])
            nnz[r] = len(terms)
            idx[r, :len(terms)], val[r, :len(terms)] = terms, x[r, terms]
        for flags in (0, ACC):
            y = np.full((nb, mc + 1), 2.0, dt)
            _kernels.ukernel_run(k["index"], (nb, L, mc, mc + 3, mc + 1, flags), [nnz, idx, val, w, y])
            what = f"{k['name']} nb={nb} kc={kc} mc={mc} flags={flags}"
            _close(y[:, :mc], x.astype(np.float64) @ w[:, :mc] + (2.0 if flags else 0.0), dt, what)
            assert (y[:, mc:] == 2).all(), f"{what}: wrote past column mc"
            dense = np.full((nb, mc + 1), 2.0, dt)
            _kernels.ukernel_run(gemv["index"], (nb, kc, mc, kc, mc + 3, mc + 1, flags), [x, w, dense])
            assert y.tobytes() == dense.tobytes(), f"{what}: not the GEMV's bits"
            cases += 1
    # the terms in list order, an index twice: ((0 + a w1) + b w0) + c w1
    w = rng.standard_normal((2, lanes + 1)).astype(dt)
    nnz, idx, val = np.array([3], np.uintp), np.array([[1, 0, 1]], np.uint32), np.array([[0.5, -2.0, 3.0]], dt)
    y = np.zeros((1, lanes + 1), dt)
    _kernels.ukernel_run(k["index"], (1, 3, lanes + 1, lanes + 1, lanes + 1, 0), [nnz, idx, val, w, y])
    _close(y[0], 3.5 * w[1].astype(np.float64) - 2.0 * w[0], dt, f"{k['name']} repeated index")
    return cases + 1


# ---- elementwise: length -----------------------------------------------------------------


def _lengths(k) -> list[int]:
    lanes = _lanes(k)
    return sorted({0, *_sizes(lanes), *_sizes(4 * lanes, 67), *_sizes(8 * lanes, 131)})


def _outputs(n, dt):
    """Output places for n values (guard values before and after) starting on a
    64-byte boundary and 1, half a line and a line less one value past one:
    the streaming lines store from the first boundary on."""
    item = np.dtype(dt).itemsize
    per = 64 // item
    for off in sorted({0, 1, per // 2, per - 1}):
        buf = np.full(n + 3 * per + 2, 9.0, dt)
        yield off, buf, ((-buf.ctypes.data) % 64) // item + per + off


def _relu(k, rng):
    dt = k["dtype"]
    cases = 0
    for n in _lengths(k):
        x = rng.standard_normal(n + 1).astype(dt)
        for off, buf, start in _outputs(n, dt):
            _kernels.ukernel_run(k["index"], (n,), [x, buf[start:start + n + 1]])
            y = buf[start:start + n]
            np.testing.assert_array_equal(y, np.maximum(x[:n], 0), err_msg=f"{k['name']} n={n} +{off}")
            assert buf[start - 1] == 9 and buf[start + n] == 9, f"{k['name']} n={n} +{off}: wrote outside"
            cases += 1
    return cases


def _relu_bwd(k, rng):
    dt = k["dtype"]
    cases = 0
    for n in _lengths(k):
        g = rng.standard_normal(n + 1).astype(dt)
        x = rng.standard_normal(n + 1).astype(dt)
        for off, buf, start in _outputs(n, dt):
            _kernels.ukernel_run(k["index"], (n,), [g, x, buf[start:start + n + 1]])
            z = buf[start:start + n]
            np.testing.assert_array_equal(z, np.where(x[:n] > 0, g[:n], 0), err_msg=f"{k['name']} n={n} +{off}")
            assert buf[start - 1] == 9 and buf[start + n] == 9, f"{k['name']} n={n} +{off}: wrote outside"
            cases += 1
    return cases


def _softmax_row(k, x, y=None):
    """The softmax row kernel on x (into y, else a fresh array with a guard value
    past the row): (y[:n], the sum it returned, *top), y's guard checked."""
    n = len(x)
    own = y is None
    if own:
        y = np.full(n + 1, 9.0, x.dtype)
    out = np.full(2, np.nan)
    _kernels.ukernel_run(k["index"], (n,), [x, y, out])
    if own:
        assert y[n] == 9, f"{k['name']} n={n}: wrote past n"
    return y[:n], out[0], out[1]


def _softmax(k, rng):
    """e = exp(x - max) within an ulp of float64's exp of the dtype's x - max,
    rounded to the dtype (NumPy's exp in float64 as the reference); their sum
    returned; y = e / sum; the max; denormal and zero results; in place; NaN,
    inf and -inf rows as the portable rule gives them."""
    dt = np.dtype(k["dtype"])
    ulps = 1 if dt == np.float32 else 2  # float64: libm's exp and NumPy's may differ by an ulp
    cases = 0
    for n in sorted({1, 2, 3, *_lengths(k), 100, 1000}):
        if n == 0:
            continue
        for scale in (1.0, 20.0, 80.0):
            x = (rng.standard_normal(n) * scale).astype(dt)
            y, total, top = _softmax_row(k, x)
            assert top == x.max(), f"{k['name']} n={n}: top {top}, want {x.max()}"
            e = np.exp((x - x.max()).astype(np.float64)).astype(dt)  # x - max in the dtype
            np.testing.assert_allclose(total, e.astype(np.float64).sum(), rtol=1e-6 if dt == np.float32
                                       else 1e-13)
            want = (e.astype(np.float64) / total).astype(dt)
            np.testing.assert_array_max_ulp(y, want, maxulp=ulps)
            mine = x.copy()
            got, _, _ = _softmax_row(k, mine, mine)  # y may be x
            np.testing.assert_array_equal(got, y, err_msg=f"{k['name']} n={n} in place")
            cases += 1
    # a sweep of x - max over the whole range where the dtype's exp is not 0 or 1,
    # denormal results included, and past it (0)
    span = 110 if dt == np.float32 else 750
    d = -np.concatenate([np.linspace(0, span, 20011), np.geomspace(1e-9, 1, 997)]).astype(dt)
    y, total, _ = _softmax_row(k, d)  # the max is 0: e = y * total, to the division's rounding
    e = np.exp(d.astype(np.float64)).astype(dt)
    np.testing.assert_array_max_ulp(y, (e.astype(np.float64) / total).astype(dt), maxulp=ulps)
    specials = {
        "a NaN": [0.0, np.nan, 1.0, 2.0] * 5, "+inf": [np.inf, 0.0, 1.0] * 6,
        "-inf": [-np.inf, 0.0, 0.0, 3.0] * 5, "all -inf": [-np.inf] * 19, "huge": [1e30, -1e30, 0.0] * 7}
    for name, row in specials.items():
        x = np.array(row, dt)
        y, total, top = _softmax_row(k, x)
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp((x - np.float64(top)).astype(dt).astype(np.float64)).astype(dt)
            want = (e.astype(np.float64) / e.astype(np.float64).sum()).astype(dt)
        what = f"{k['name']}: a row with {name}"
        if name == "a NaN":
            assert np.isnan(top) and np.isnan(y).all() and np.isnan(total), what
        else:
            assert top == x.max(), what
            np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=what)
            np.testing.assert_array_max_ulp(y[~np.isnan(y)], want[~np.isnan(want)], maxulp=ulps)
            assert np.isnan(total) == np.isnan(want).any(), what
        cases += 1
    return cases


def _adam(k, rng):
    dt = k["dtype"]
    a, c1, c2, eps = 1e-3, 0.1, 0.001, 1e-7
    for n in _lengths(k):
        p, g, m = (rng.standard_normal(n + 1).astype(dt) for _ in range(3))
        v = rng.random(n + 1).astype(dt)
        p0, m0, v0 = p.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
        _kernels.ukernel_run(k["index"], (n, a, c1, c2, eps), [p, g, m, v])
        g64 = g.astype(np.float64)
        m1 = m0 + (g64 - m0) * c1
        v1 = v0 + (g64 * g64 - v0) * c2
        p1 = p0 - a * m1 / (np.sqrt(v1) + eps)
        for got, want, name in ((m, m1, "m"), (v, v1, "v"), (p, p1, "p")):
            _close(got[:n], want[:n], dt, f"{k['name']} n={n} {name}")
        assert (p[n], m[n], v[n]) == (p0[n], m0[n], v0[n]), f"{k['name']} n={n}: wrote past n"
    return len(_lengths(k))


# ---- correlation: outputs, kernel height and width ---------------------------------------


def _correlate(k, rng):
    dt = k["dtype"]
    nr = k["tile"][1] if k["tile"] else _lanes(k)
    cases = 0
    for n, kh, kw in itertools.product(_sizes(nr) + _sizes(_lanes(k)), (1, 2, 3), (1, 2, 5, 8, 9)):
        ldx = n + kw + 2
        x = rng.standard_normal((kh, ldx)).astype(dt)
        w = rng.standard_normal((kh, kw)).astype(dt)
        if k["kind"] == "ndcorrelate":
            w[rng.random((kh, kw)) < 0.2] = 0  # SciPy's order skips zero weights
        y = np.full(n + 1, 0.5, dt)
        want = sum(x[i, t:t + n].astype(np.float64) * w[i, t] for i in range(kh) for t in range(kw))
        if k["kind"] == "ndcorrelate":
            want = want + 0.5  # it accumulates into y
        _kernels.ukernel_run(k["index"], (n, kh, kw, ldx), [x, w, y])
        _close_line(y, n, want, dt, 0.5, f"{k['name']} n={n} kh={kh} kw={kw}")
        cases += 1
    return cases


def _ndline(k, rng):
    dt = k["dtype"]
    cases = 0
    for n, m, sym in itertools.product(_lengths(k), (1, 2, 3, 5), (0, 1, -1)):
        if sym and m % 2 == 0:
            continue  # symmetry needs a centre tap
        rows = rng.standard_normal((m, n + 1)).astype(dt)
        w = rng.standard_normal(m)
        if sym:
            w = (w + sym * w[::-1]) / 2
        y = np.full(n + 1, 4.0, dt)
        offsets = np.arange(m, dtype=np.int64) * (n + 1)
        _kernels.ukernel_run(k["index"], (n, m, sym), [rows, offsets, w, y])
        want = (rows[:, :n].astype(np.float64) * w[:, None]).sum(axis=0)
        _close_line(y, n, want, dt, 4, f"{k['name']} n={n} m={m} sym={sym}")
        cases += 1
    return cases


def _runsum(k, rng):
    dt = k["dtype"]
    for n in _lengths(k):
        acc = rng.standard_normal(n + 1)
        x_in, x_out = (rng.standard_normal(n + 1).astype(dt) for _ in range(2))
        y = np.full(n + 1, 4.0, dt)
        want = acc[:n] + x_in[:n].astype(np.float64) - x_out[:n]
        _kernels.ukernel_run(k["index"], (n, 3.0), [acc, x_in, x_out, y])
        _close(acc[:n], want, "float64", f"{k['name']} n={n} acc")
        _close_line(y, n, want / 3.0, dt, 4, f"{k['name']} n={n} y")
    return len(_lengths(k))


def _ndstore(k, rng):
    """Doubles stored into each element type as SciPy's C loops store them:
    scipy.ndimage.correlate1d with the one weight 1.0 stores its sums (the
    values themselves) so, and scipy.ndimage.correlate (NI_Correlate) with its
    `safe` unsigned store; values past every integer range, at the bounds,
    fractions of both signs, NaN and infinities."""
    import scipy.ndimage as sndi

    special = np.array([np.nan, np.inf, -np.inf, -0.5, -0.999, -1.0, -1.5, 0.5, 255.5, 256.0,
                        -129.0, 32767.9, 65535.99, -32769.0, 2.0**31 - 0.5, 2.0**31, -2.0**31,
                        -2.0**31 - 1, 2.0**32 + 7, 2.0**63, 2.0**63 + 4096, -2.0**63, 2.0**64,
                        -2.0**64, 1e30, -1e30, -3.0, -2.0**62])
    count = 0
    for name, code in _kernels.ELEM_CODES.items():
        for n in _lengths(k):
            d = rng.standard_normal(n + 1) * 10.0 ** rng.integers(0, 20, n + 1)
            d[: min(n, len(special))] = special[: min(n, len(special))]
            rng.shuffle(d[:n])
            for safe in (0, 1):
                y = np.full(n + 1, 7, name)
                _kernels.ukernel_run(k["index"], (code, n, safe), [d, y])
                if safe:
                    want = sndi.correlate(d[:n], np.ones(1), output=np.dtype(name))
                else:
                    want = sndi.correlate1d(d[:n], [1.0], output=np.dtype(name))
                assert y[:n].tobytes() == want.tobytes(), f"{k['name']} {name} n={n} safe={safe}"
                assert y[n] == 7, f"{k['name']} {name} n={n} wrote past the end"
                count += 1
    return count


def _runlines(k, rng):
    """Up to FC_RUNLINES_MAX lines at once (whole SIMD groups and the lines
    left over), each read at its own offsets and alignment: every line's
    running sum in order and each mean one division in double, then the cast
    (NI_UniformFilter1D's loop), against NumPy's elementwise IEEE arithmetic
    a step at a time."""
    dt = k["dtype"]
    cases = 0
    for lines, n in itertools.product(range(1, 9), [n for n in _lengths(k) if n >= 1]):
        ld = n + 13
        x = (rng.standard_normal((lines, ld)) * 10.0 ** rng.integers(-3, 4, (lines, 1))).astype(dt)
        rows = np.arange(lines, dtype=np.int64) * ld
        shift = np.arange(lines, dtype=np.int64) % 4
        at_in, at_out = rows + 5 + shift, rows + (3 * shift) % 5
        acc = rng.standard_normal(lines) * 100
        y = np.full((lines, n + 3), 4.0, dt)
        at_y = np.arange(lines, dtype=np.int64) * (n + 3) + shift % 2
        flat = x.reshape(-1)
        got_acc = acc.copy()
        _kernels.ukernel_run(k["index"], (lines, n, 7.0), [got_acc, x, at_in, at_out, y, at_y])
        a = acc.copy()
        want = np.empty((lines, n))
        for i in range(n):
            a = a + (flat[at_in + i].astype(np.float64) - flat[at_out + i].astype(np.float64))
            want[:, i] = a / 7.0
        tag = f"{k['name']} lines={lines} n={n}"
        assert got_acc.tobytes() == a.tobytes(), f"{tag} acc"
        for line in range(lines):
            o = int(at_y[line] - line * (n + 3))
            got = y[line]
            assert got[o:o + n].tobytes() == want[line].astype(dt).tobytes(), f"{tag} line {line}"
            assert (np.delete(got, np.s_[o:o + n]) == 4.0).all(), f"{tag} line {line} wrote outside"
        cases += 1
    return cases


# ---- max-pool: window, output width, channels --------------------------------------------


def _pool_ref(img, kh, kw, sh, sw, dh, dw, pt, pl, oy, ow):
    """(ow, C) maxima and flat positions of output row oy of an (h, w, C) image."""
    h, w, C = img.shape
    y = np.empty((ow, C))
    at = np.empty((ow, C), np.int64)
    for ox in range(ow):
        taps = [(iy, ix) for i in range(kh) for j in range(kw)
                if 0 <= (iy := oy * sh - pt + i * dh) < h and 0 <= (ix := ox * sw - pl + j * dw) < w]
        vals = np.stack([img[iy, ix] for iy, ix in taps])
        best = vals.argmax(axis=0)
        y[ox] = vals.max(axis=0)
        at[ox] = [taps[b][0] * w + taps[b][1] for b in best]
    return y, at


def _pool_cases(k):
    dilated = k["kind"].endswith("_dilated") or k["kind"] == "maxpool_code"
    lanes = _lanes(k)
    # channels: around one vector, and over several (kernels may take up to 4 vectors a
    # pass, fewer when they keep positions: a last pass of one to four)
    channels = [1] if k["kind"].startswith("maxpool_row") else sorted({*_sizes(lanes), 2 * lanes + 3, 3 * lanes + 4, 4 * lanes + 1})
    for (kh, kw), C, ow in itertools.product([(1, 1), (2, 2), (3, 2), (5, 3)], channels, _sizes(lanes, 7)):
        for sh, sw, dh, dw, pt, pl in [(kh, kw, 1, 1, 0, 0), (1, 2, 1, 1, kh // 2, kw // 2),
                                       (2, 1, 2, 3, 0, kw // 2)]:
            if (dh, dw) != (1, 1) and not dilated:
                continue
            if k["kind"] == "maxpool_code" and (pt or pl):
                continue  # code kernels: windows inside the image
            yield kh, kw, C, ow, sh, sw, dh, dw, pt, pl


def _maxpool(k, rng):
    dt = k["dtype"]
    nhwc = "nhwc" in k["kind"] or k["kind"] == "maxpool_code"
    code = k["kind"] == "maxpool_code"
    cases = 0
    for kh, kw, C, ow, sh, sw, dh, dw, pt, pl in _pool_cases(k):
        w = (ow - 1) * sw + (kw - 1) * dw + 1 - pl
        oh = 2
        h = (oh - 1) * sh + (kh - 1) * dh + 1 - pt
        img = rng.permutation(h * w * C).reshape(h, w, C).astype(dt) - h * w * C / 2  # no ties
        plane = img if nhwc else img[:, :, 0]
        for oy in range(oh):
            want, at = _pool_ref(img, kh, kw, sh, sw, dh, dw, pt, pl, oy, ow)
            y = np.full(ow * C + 1, 5.5, dt)
            idx = np.zeros(ow * C, np.uint8 if code else np.int64)
            params = (1, C, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, nhwc, oy)
            _kernels.ukernel_run(k["index"], params, [np.ascontiguousarray(plane), y, idx])
            what = f"{k['name']} k={kh}x{kw} C={C} ow={ow} s={sh},{sw} d={dh},{dw} pad={pt},{pl} oy={oy}"
            np.testing.assert_array_equal(y[:-1].reshape(ow, C), want, err_msg=what)
            assert y[-1] == 5.5, f"{what}: wrote past the row"
            if code:
                iy, ix = np.divmod(at, w)
                want_code = (iy - oy * sh) * kw + (ix - np.arange(ow)[:, None] * sw)
                np.testing.assert_array_equal(idx.reshape(ow, C), want_code, err_msg=what)
            else:
                np.testing.assert_array_equal(idx.reshape(ow, C), at, err_msg=what)
                # without positions (a kernel may take another path): the same values
                y[:] = 5.5
                _kernels.ukernel_run(k["index"], params, [np.ascontiguousarray(plane), y, None])
                np.testing.assert_array_equal(y[:-1].reshape(ow, C), want, err_msg=f"{what}, no positions")
                assert y[-1] == 5.5, f"{what}, no positions: wrote past the row"
            cases += 1
    return cases


def _unpool(k, rng):
    dt = k["dtype"]
    lanes = _lanes(k)
    cases = 0
    for nr, places in itertools.product(_sizes(lanes) + _sizes(4 * lanes, 67), (1, 4, 9)):
        for n in sorted({1, nr // 2 or 1, nr}):
            g = rng.standard_normal(nr).astype(dt)
            code = rng.integers(0, places, nr).astype(np.uint8)
            dst = np.full((places, nr + 1), 8.0, dt)
            offsets = np.arange(places, dtype=np.int64) * (nr + 1)
            _kernels.ukernel_run(k["index"], (n, nr, places), [g, code, dst, offsets])
            want = np.where((np.arange(places)[:, None] == code) & (np.arange(nr) < n), g, 0.0)
            what = f"{k['name']} n={n} nr={nr} places={places}"
            np.testing.assert_array_equal(dst[:, :nr], want, err_msg=what)
            assert (dst[:, nr] == 8).all(), f"{what}: wrote past nr"
            cases += 1
    return cases


# ---- special conv+pool: pooled width, channels -------------------------------------------


def _conv_pool_ref(x, w, bias, pw):
    """One pooled row of max_pool2d(2x2)(conv2d 3x3, one channel): (pw, K) values and codes."""
    K = w.shape[-1]
    conv = np.empty((2, 2 * pw, K))
    for r, c in itertools.product(range(2), range(2 * pw)):
        conv[r, c] = bias + sum(x[r + dy, c + dx] * w[dy, dx, 0] for dy in range(3) for dx in range(3))
    win = conv.reshape(2, pw, 2, K).transpose(1, 0, 2, 3).reshape(pw, 4, K)
    return win.max(axis=1), win.argmax(axis=1), conv


def _convpool_rows(dt, rng):
    """(pooled width, channels, row stride, the four input rows) at the sizes the
    special conv+pool kernels are tested at."""
    # channels: every block shape of the AVX-512 kernels (16 and 32 lanes) and the
    # AVX2 ones (24, 16 and 8 lanes, the last block's live lanes 1 to 8)
    channels = sorted(set(_sizes(16) + _sizes(32, 47) + [1, 7, 8, 9, 23, 24, 25, 28]))
    for pw, K in itertools.product([1, *_sizes(4, 5), 13], channels):
        ldx = 2 * pw + 2 + 3
        yield pw, K, ldx, rng.standard_normal((4, ldx)).astype(dt)


def _convpool(k, rng):
    dt = k["dtype"]
    cases = 0
    for pw, K, ldx, x in _convpool_rows(dt, rng):
        w = rng.standard_normal((3, 3, 1, K)).astype(dt)
        bias = rng.standard_normal(K).astype(dt)
        y = np.full(pw * K + 1, 6.0, dt)
        code = np.zeros(pw * K, np.uint8)
        _kernels.ukernel_run(k["index"], (ldx, pw, K), [x, w, bias, y, code])
        want, want_code, conv = _conv_pool_ref(x.astype(np.float64), w.astype(np.float64), bias, pw)
        what = f"{k['name']} pw={pw} K={K}"
        _close(y[:-1].reshape(pw, K), want, dt, what)
        assert y[-1] == 6, f"{what}: wrote past the row"
        near = np.sort(conv.reshape(2, pw, 2, K).transpose(1, 0, 2, 3).reshape(pw, 4, K), axis=1)
        clear = near[:, -1] - near[:, -2] > 1e-3  # codes where the winner is not a near tie
        np.testing.assert_array_equal(code.reshape(pw, K)[clear], want_code[clear], err_msg=what)
        _convpool_same_without_codes(k, (ldx, pw, K), x, w, bias, y, what)
        cases += 1
    # signed zeros (ties, the first of which wins: +0 and -0 compare equal) and NaNs and
    # infinities (a NaN wins): without codes the values are still those of the rule
    specials = {"zeros": (np.array([0.0, -0.0]), np.array([0.0, -0.0])),
                "nans": (np.array([np.nan, np.inf, -np.inf, 1.0, -2.0, 0.5, 3.0, -1.0]),
                         np.array([0.25, -0.5]))}
    for (pw, K, ldx, x), (kind, (xs, bs)) in itertools.product(_convpool_rows(dt, rng), specials.items()):
        x = rng.choice(xs, x.shape).astype(dt)
        w = rng.choice(np.array([1.0, -1.0, 0.5, -0.0]), (3, 3, 1, K)).astype(dt)
        bias = rng.choice(bs, K).astype(dt)
        y = np.full(pw * K + 1, 6.0, dt)
        code = np.zeros(pw * K, np.uint8)
        _kernels.ukernel_run(k["index"], (ldx, pw, K), [x, w, bias, y, code])
        _convpool_same_without_codes(k, (ldx, pw, K), x, w, bias, y, f"{k['name']} {kind} pw={pw} K={K}")
        cases += 1
    return cases


def _convpool_same_without_codes(k, sizes, x, w, bias, y, what):
    """The kernel without codes gives the values it gives with them, bit for bit."""
    y2 = np.full_like(y, 7.0)
    _kernels.ukernel_run(k["index"], sizes, [x, w, bias, y2, None])
    bits = np.uint32 if y.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(y2[:-1].view(bits), y[:-1].view(bits), err_msg=f"{what}: without codes")
    assert y2[-1] == 7, f"{what}: wrote past the row without codes"


def _convpool_wgrad(k, rng):
    dt = k["dtype"]
    cases = 0
    for pw, K, ldx, x in _convpool_rows(dt, rng):
        g = rng.standard_normal((pw, K)).astype(dt)
        code = rng.integers(0, 4, (pw, K)).astype(np.uint8)
        gw = np.full(9 * K, 0.25, dt)
        gb = np.full(K + 1, 0.5, dt)
        top = _kernels.ukernel_run(k["index"], (ldx, pw, K), [x, g, code, gw, gb])
        want_w = np.full((3, 3, K), 0.25)
        for ox, c in itertools.product(range(pw), range(K)):
            dy, dx = divmod(int(code[ox, c]), 2)
            want_w[:, :, c] += g[ox, c] * x[dy:dy + 3, 2 * ox + dx:2 * ox + dx + 3].astype(np.float64)
        what = f"{k['name']} pw={pw} K={K}"
        _close(gw, want_w.ravel(), dt, what + " gw")
        _close(gb[:K], 0.5 + g.astype(np.float64).sum(axis=0), dt, what + " gb")
        assert gb[K] == 0.5, f"{what}: wrote past gb"
        assert top == code.max(), what
        cases += 1
    return cases


# ---- the FMA-throughput probes: steps -----------------------------------------------------


def _fma_probe(k, rng):
    """The probe's value: lane 0 of the sum of its chains, chain i running
    acc = acc * 0.999999 + 1e-7 in float32 from i for `iters` steps (the
    registry's chains are the count the kernel must keep independent), each
    step one fused multiply-add or a rounded product then a rounded sum (the
    portable kernel's compiler may contract it or not)."""
    chains, _lanes = k["tile"]
    m, a = np.float32(0.999999), np.float32(1e-7)
    cases = 0
    for iters in (0, 1, 7, 100, 1000):
        fused = separate = np.arange(chains, dtype=np.float32)
        for _ in range(iters):
            fused = (fused.astype(np.float64) * m + a).astype(np.float32)  # the product is exact in float64
            separate = separate * m + a
        out = np.full(1, np.nan, np.float32)
        _kernels.ukernel_run(k["index"], (iters,), [out])
        got = float(out[0])
        err = min(abs(got - float(fused.astype(np.float64).sum())),
                  abs(got - float(separate.astype(np.float64).sum())))
        assert err <= 1e-5 * max(1.0, abs(got)), f"{k['name']} iters={iters}: {got} off by {err}"
        cases += 1
    return cases


# ---- transposes: values copied -------------------------------------------------------------


def _transpose(k, rng):
    """dst[p, j] = src[j, p] for every size class the kernels block by (8x8,
    4x4 and the scalar edges), in strided rows, bit for bit (signed zeros,
    infinities and NaN payloads copied, not computed); nothing written past the
    nj columns of dst's np rows."""
    dt = np.dtype(k["dtype"])
    bits = np.uint32 if dt == np.float32 else np.uint64
    cases = 0
    for np_, nj in ((1, 1), (3, 5), (4, 4), (8, 8), (9, 7), (13, 10), (128, 10), (10, 128),
                    (17, 33), (32, 128), (64, 64)):
        lds, ldd = np_ + 3, nj + 5
        src = rng.standard_normal((nj, lds)).astype(dt)
        flat = src.reshape(-1)
        flat[rng.integers(0, flat.size, 4)] = [np.inf, -np.inf, -0.0, np.nan]
        flat.view(bits)[rng.integers(0, flat.size)] = 0x7FF4000000000001 if dt == np.float64 else 0x7FA00001
        dst = np.full((np_, ldd), 7.5, dt)
        _kernels.ukernel_run(k["index"], (np_, nj, lds, ldd), [src, dst])
        what = f"{k['name']} np={np_} nj={nj}"
        np.testing.assert_array_equal(dst[:, :nj].view(bits), src[:, :np_].T.view(bits), err_msg=what)
        assert (dst[:, nj:] == 7.5).all(), f"{what}: wrote past the columns"
        cases += 1
    return cases


def _conv_pack(w, K):
    """(3, 3, c, K) weights packed as the special conv kernels read them (ukernel.h):
    blocks of CONV_BLOCK channels, each its 9c taps' weights in turn ((ci, dy, dx)
    order), zero past K."""
    block = _kernels.CONV_BLOCK
    blocks = -(-K // block)
    taps = 9 * w.shape[2]
    wide = np.zeros((taps, blocks * block), w.dtype)
    wide[:, :K] = w.transpose(2, 0, 1, 3).reshape(taps, K)
    return np.ascontiguousarray(wide.reshape(taps, blocks, block).transpose(1, 0, 2)).reshape(-1)


def _conv(k, rng):
    """A special conv kernel's output row (3x3; NHWC of one input channel, or NCHW of
    1 to 7 for the nchw kernels, channel ci's three rows from row 3 ci) against a
    float64 direct sum, with and without a bias, nothing written between the pixels
    (NHWC) or channels (NCHW) ldy apart, nor past the row."""
    dt = k["dtype"]
    block = _kernels.CONV_BLOCK
    nchw = k["kind"].endswith("nchw")
    cases = 0
    # channels: every block width (the last block's live lanes 1 to 32) and several
    # blocks; pixels: rows shorter and longer than a kernel's pixels a step (3 to 12
    # pixels NHWC; NCHW chunks of one or two vectors of 8 or 16, a last one of 1 to 16)
    channels = sorted(set(range(1, 10)) | {15, 16, 17, 23, 24, 25, 28, 31, 32, 33, 40, 64, 65})
    widths = [1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 24, 26, 31, 32, 33, 47, 50]
    for ow, K, biased in itertools.product(widths, channels, (True, False)):
        c = 1 + (ow + K) % 7 if nchw else 1  # input channels: 1 to 7 over the cases
        ldx = ow + 2 + 3
        x = rng.standard_normal((3 * c, ldx)).astype(dt)
        w = rng.standard_normal((3, 3, c, K)).astype(dt)
        bias = rng.standard_normal(K).astype(dt)
        padded = np.zeros(-(-K // block) * block, dt)
        padded[:K] = bias
        outer, inner = (K, ow) if nchw else (ow, K)
        ldy = inner + 2
        y = np.full(outer * ldy + 1, 6.0, dt)
        _kernels.ukernel_run(k["index"], (ldx, c, ow, K, ldy), [x, _conv_pack(w, K), padded if biased else None, y])
        x64, w64 = x.astype(np.float64).reshape(c, 3, ldx), w.astype(np.float64)
        want = np.zeros((ow, K)) + (bias.astype(np.float64) if biased else 0.0)
        for ci, dy, dx in itertools.product(range(c), range(3), range(3)):
            want += x64[ci, dy, dx:dx + ow, None] * w64[dy, dx, ci]
        what = f"{k['name']} ow={ow} c={c} K={K} bias={biased}"
        rows = y[:-1].reshape(outer, ldy)
        _close(rows[:, :inner], want.T if nchw else want, dt, what)
        assert (rows[:, inner:] == 6).all(), f"{what}: wrote between the rows ldy apart"
        assert y[-1] == 6, f"{what}: wrote past the row"
        cases += 1
    return cases


CHECKS = {
    "fma_probe": _fma_probe,
    "gemm": _gemm, "igemm": _igemm, "gemv": _gemv, "gemv_sparse": _gemv_sparse,
    "relu": _relu, "relu_nt": _relu, "relu_bwd": _relu_bwd, "softmax": _softmax, "adam": _adam,
    "correlate": _correlate, "ndcorrelate": _correlate, "ndline": _ndline, "runsum": _runsum,
    "runlines": _runlines, "ndstore": _ndstore,
    "maxpool_row": _maxpool, "maxpool_nhwc": _maxpool, "maxpool_code": _maxpool, "unpool_code": _unpool,
    "convpool": _convpool, "convpool_wgrad": _convpool_wgrad, "conv_c1": _conv, "conv_nchw": _conv,
    "transpose": _transpose,
}


# ---- the registry and the tables ---------------------------------------------------------


@pytest.mark.parametrize("isa", _kernels.compiled_isas())
def test_each_table_holds_the_best_registered_line_for_each_slot(isa):
    """BLIS's rule: a slot holds the line of the highest ISA up to the table's
    (the scalar one if no other), and every indirect-GEMM line of the best ISA
    with lines is offered, then the borrowable lower ones."""
    if ISAS.index(isa) > ISAS.index(_kernels.cpu_isa()):
        pytest.skip(f"this CPU lacks {isa}")
    rank = ISAS.index
    kernels = _kernels.ukernels(isa)
    for k in kernels:
        if rank(k["isa"]) > rank(isa):
            assert k["slot"] is None, k
    singles = [k for k in kernels if k["kind"] not in ("igemm",) and not k["kind"].startswith("conv")]
    for (kind, dtype), group in itertools.groupby(sorted(singles, key=lambda k: (k["kind"], k["dtype"])),
                                                  key=lambda k: (k["kind"], k["dtype"])):
        group = list(group)
        best = max((k for k in group if rank(k["isa"]) <= rank(isa)), key=lambda k: rank(k["isa"]))
        assert [k["name"] for k in group if k["slot"]] == [best["name"]], (kind, dtype)
    for dtype in ("float32", "float64"):
        lines = [k for k in kernels if k["kind"] == "igemm" and k["dtype"] == dtype
                 and rank(k["isa"]) <= rank(isa)]
        top = max(rank(k["isa"]) for k in lines)
        own = [k["name"] for k in lines if rank(k["isa"]) == top]
        lent = [k["name"] for k in sorted((k for k in lines if rank(k["isa"]) < top and k["borrow"] > 0),
                                          key=lambda k: -rank(k["isa"]))]
        got = sorted((k for k in lines if k["slot"]), key=lambda k: int(k["slot"].split("[")[1][:-1]))
        assert [k["name"] for k in got] == own + lent, dtype
        assert [k["cost"] for k in got] == [1.0] * len(own) + [k["borrow"] for k in lines
                                                              if k["name"] in lent]
        if isa == _kernels.current_isa():  # the planner's list is the table's
            assert [k["tile"] for k in got] == _kernels.igemm_tiles(dtype)


def test_show_config_lists_the_table_in_use(capsys):
    import fastconv

    fastconv.show_config()
    out = capsys.readouterr().out
    section = out.split(f"kernels of the {_kernels.current_isa()} table")[1]
    for k in _kernels.ukernels():
        assert (k["name"] in section) == (k["slot"] is not None), k["name"]
        if k["slot"]:
            assert f"{k['slot']} " in section
