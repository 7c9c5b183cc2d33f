"""The engine behind convolve, correlate, convolve2d and correlate2d: one
correlation with SciPy's boundary rules, computed by the C kernels, by FFT or by
the exact slow twin, whichever the dtype and the size call for.

    y[r, c] = sum_ij X(r - pad[0] + i, c - pad[1] + j) * k[i, j]

X is the input extended by the boundary rule; no conjugation, no flipping (the
public functions do those). Inputs arrive already in the result dtype.

Paths, by result dtype:
- float32, float64: direct SIMD kernels (csrc/ops/correlate2d.c), or FFT when
  the cost model below predicts it is faster and every input is finite (a NaN
  or inf would spread over the whole FFT result, not just its neighbourhood);
- complex64, complex128: FFT, or the real kernels on real and imaginary parts
  (two passes for a real kernel, four otherwise);
- float16: the float32 path, rounded back (NumPy also sums float16 in float32);
- bool and integers: the float64 kernels when every partial sum is an integer
  below 2**53 (so float64 is exact), converted back with wrap-around; otherwise
  the slow twin, exact in uint64. Never FFT;
- long double, complex long double: the slow twin.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import _kernels, slow
from .slow import FILL, SYMM, WRAP

__all__ = ["correlate", "FILL", "WRAP", "SYMM"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
_F16 = np.dtype(np.float16)

# ---- cost model ---------------------------------------------------------------
# Measured on the development machine (AMD EPYC Zen 4, 2 cores, AVX-512) with
# `python benchmarks/crossover.py`; see docs/dropins.md. Seconds per unit:
_DIRECT_S_PER_MAC = {_F32: 0.51e-10, _F64: 0.96e-10}  # one thread, AVX-512, large kernels
_DIRECT_ISA_SLOWDOWN = {"avx512": 1.0, "avx2": 1.6, "scalar": 6.0}
_THREAD_EFFICIENCY = 0.9  # speed-up per extra thread, direct kernels only (numpy.fft is serial)
_FFT_S_PER_POINT_LOG = 2.6e-10  # forward input + kernel, inverse result, real FFTs, float64
_FFT_S_PER_POINT = 6.0e-9       # padding copies, the spectrum product, slicing
_FFT_COMPLEX_FACTOR = 2.0       # complex transforms of the same length


def _direct_seconds(macs: float, dtype: np.dtype, threads: int) -> float:
    real = _F32 if dtype in (_F32, _C64) else _F64
    per_mac = _DIRECT_S_PER_MAC[real] * _DIRECT_ISA_SLOWDOWN.get(_kernels.current_isa(), 1.0)
    return macs * per_mac / (1.0 + _THREAD_EFFICIENCY * (threads - 1))


def _fft_seconds(points: int, complex_: bool) -> float:
    s = points * (_FFT_S_PER_POINT_LOG * math.log2(max(points, 2)) + _FFT_S_PER_POINT)
    return s * (_FFT_COMPLEX_FACTOR if complex_ else 1.0)


@functools.lru_cache(maxsize=512)
def fast_len(n: int) -> int:
    """The smallest 2**a 3**b 5**c 7**d >= n: lengths numpy.fft transforms fastest."""
    if n <= 8:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p7 = 1
    while p7 < best:
        p5 = p7
        while p5 < best:
            p3 = p5
            while p3 < best:
                p = p3
                while p < n:
                    p *= 2
                best = min(best, p)
                p3 *= 3
            p5 *= 5
        p7 *= 7
    return best


def _fft_plan(xshape, kshape, pad, out_shape, boundary):
    """(transform lengths, offset q0) for the FFT path: the result is
    F[q0 + r, q1 + c] of the circular convolution F of the (extended) input with
    the flipped kernel, at lengths long enough that no wanted entry aliases."""
    lengths, q0 = [], []
    for ax in (0, 1):
        n, kn, o = xshape[ax], kshape[ax], out_shape[ax]
        if boundary == FILL:  # x itself, zero-extended by the transform
            q = kn - 1 - pad[ax]
            full = n + kn - 1
            lengths.append(max(full - q, q + o, 1))
        else:  # an explicit window of the extended input, valid part only
            q = kn - 1
            lengths.append(o + kn - 1)
        q0.append(q)
    return [fast_len(n) for n in lengths], q0


# ---- paths ----------------------------------------------------------------------


def _direct(x, k, pad, out_shape, boundary, fill):
    """C kernels; x, k real float32 or float64 of one dtype, 2-D."""
    if x.size and (x.strides[1] != x.itemsize or x.strides[0] < 0
                   or x.strides[0] % x.itemsize or not x.flags.aligned):
        x = np.ascontiguousarray(x)
    k = np.ascontiguousarray(k)
    y = np.empty(out_shape, dtype=x.dtype)
    if x.shape[0] == 1 and k.shape[0] == 1 and pad[0] == 0 and boundary == FILL and fill == 0:
        _kernels.correlate1d(np.ascontiguousarray(x[0]), k[0], y[0], pad[1])
    else:
        _kernels.correlate2d(x, k, y, pad[0], pad[1], boundary, float(fill))
    return y


def _direct_complex(x, k, pad, out_shape, boundary, fill):
    """(a + ib) * (c + id) as real correlations: two passes when the kernel is
    real, four otherwise."""
    fill = complex(fill)
    xr, xi = np.ascontiguousarray(x.real), np.ascontiguousarray(x.imag)
    kr, ki = k.real, k.imag
    re = _direct(xr, kr, pad, out_shape, boundary, fill.real)
    im = _direct(xi, kr, pad, out_shape, boundary, fill.imag)
    if np.any(ki):
        re -= _direct(xi, ki, pad, out_shape, boundary, fill.imag)
        im += _direct(xr, ki, pad, out_shape, boundary, fill.real)
    y = np.empty(out_shape, dtype=x.dtype)
    y.real, y.imag = re, im
    return y


def _fft(x, k, pad, out_shape, boundary, fill):
    """numpy.fft in float64 (complex128 for complex), cast back to x's dtype."""
    cplx = x.dtype.kind == "c"
    work = np.complex128 if cplx else np.float64
    (oh, ow), (kh, kw) = out_shape, k.shape
    lengths, q0 = _fft_plan(x.shape, k.shape, pad, out_shape, boundary)
    if boundary == FILL:
        src = x.astype(work)
        if fill != 0:  # X = (x - fill) zero-extended, plus fill everywhere
            src -= fill
    else:
        src = slow.extend(x, np.arange(oh + kh - 1), np.arange(ow + kw - 1), boundary, fill)
        src = src.astype(work, copy=False)
    axes = tuple(ax for ax in (0, 1) if lengths[ax] > 1)
    s = [lengths[ax] for ax in axes]
    kf = k[::-1, ::-1].astype(work)
    if cplx:
        f = np.fft.ifftn(np.fft.fftn(src, s, axes) * np.fft.fftn(kf, s, axes), s, axes)
    else:
        f = np.fft.irfftn(np.fft.rfftn(src, s, axes) * np.fft.rfftn(kf, s, axes), s, axes)
    if boundary == FILL:
        full = (x.shape[0] + kh - 1, x.shape[1] + kw - 1)
    else:
        full = src.shape
    y = np.zeros(out_shape, dtype=x.dtype)
    r0, r1 = max(0, -q0[0]), min(oh, full[0] - q0[0])
    c0, c1 = max(0, -q0[1]), min(ow, full[1] - q0[1])
    if r1 > r0 and c1 > c0:
        y[r0:r1, c0:c1] = f[q0[0] + r0:q0[0] + r1, q0[1] + c0:q0[1] + c1]
    if boundary == FILL and fill != 0:
        y += fill * k.sum(dtype=work)
    return y


def _exact_in_float64(x, k, boundary, fill) -> bool:
    """True when every partial sum of integer products stays below 2**53 in
    magnitude, so float64 arithmetic (any order, with FMA) is exact."""
    peak = 0
    if x.size:
        peak = max(abs(int(x.max())), abs(int(x.min())))
    if boundary == FILL:
        peak = max(peak, abs(int(fill)))
    k_sum = float(np.abs(k.astype(np.float64)).sum())
    return peak * k_sum < 2.0**53


def _from_exact(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "b":
        return y != 0
    return y.astype(np.int64).astype(dtype)  # int64 -> narrower wraps, as NumPy's sums do


def _finite(*arrays) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)


def correlate(x, k, pad, out_shape, boundary=FILL, fill=0):
    """The correlation above for 1-D (pad and out_shape ints) or 2-D inputs.

    x, k: arrays of one native numeric dtype, the result's; k non-empty. `fill`
    is a scalar of that dtype, used with boundary FILL. Returns a new array.
    """
    if x.ndim == 1:
        y = correlate(x[None, :], k[None, :], (0, pad), (1, out_shape), boundary, fill)
        return y[0]
    dtype = x.dtype
    oh, ow = out_shape
    kh, kw = k.shape
    if oh == 0 or ow == 0 or kh == 0 or kw == 0:
        return np.zeros(out_shape, dtype=dtype)
    if dtype == _F16:
        y = correlate(x.astype(_F32), k.astype(_F32), pad, out_shape, boundary, _F32.type(fill))
        return y.astype(_F16)
    if dtype in (_F32, _F64, _C64, _C128):
        macs = oh * ow * kh * kw
        if dtype.kind == "c":
            macs *= 4 if np.any(k.imag) else 2
        lengths, _ = _fft_plan(x.shape, k.shape, pad, out_shape, boundary)
        threads = _kernels.get_num_threads()
        if (_fft_seconds(lengths[0] * lengths[1], dtype.kind == "c")
                < _direct_seconds(macs, dtype, threads)
                and _finite(x, k, fill)):
            return _fft(x, k, pad, out_shape, boundary, fill)
        if dtype.kind == "c":
            return _direct_complex(x, k, pad, out_shape, boundary, fill)
        return _direct(x, k, pad, out_shape, boundary, fill)
    if dtype.kind in "biu" and _exact_in_float64(x, k, boundary, fill):
        y = _direct(x.astype(_F64), k.astype(_F64), pad, out_shape, boundary, float(fill))
        return _from_exact(y, dtype)
    return slow.correlate2d(x, k, pad, out_shape, boundary, fill)
