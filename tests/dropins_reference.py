"""Shared helpers for the drop-in tests (test_numpy_compat.py, test_signal.py):
the one comparison helper, random inputs of every dtype and layout, and a
check that two calls fail with the same exception type.

The references are NumPy and SciPy themselves; nothing here calls fastconv.
"""
from __future__ import annotations

import numpy as np

# Result tolerances, relative to the largest finite |value| of the reference:
# float16 is summed in float32 and rounded once; float32 ~1e-5; float64 ~1e-12.
TOLERANCE = {"e": 2e-3, "f": 1e-5, "F": 1e-5, "d": 1e-12, "D": 1e-12, "g": 1e-12, "G": 1e-12}


def assert_same_result(got, want, *, op: str, isa: str, case: str) -> None:
    """`got` must be an ndarray with `want`'s shape and dtype; integer, bool and
    object values must be equal, floating and complex ones within TOLERANCE of
    the result's scale, with NaN exactly where `want` has NaN (and infinities
    equal). On failure the message names the op, the ISA, the case, the worst
    error and where it occurred."""
    head = f"{op} [isa={isa}; {case}]"
    assert isinstance(got, np.ndarray), f"{head}: returned {type(got).__name__}, not ndarray"
    assert got.shape == want.shape, f"{head}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == want.dtype, f"{head}: dtype {got.dtype}, expected {want.dtype}"
    assert got.flags.c_contiguous or not want.flags.c_contiguous, (
        f"{head}: result is not C-contiguous, the reference's is")
    if want.size == 0:
        return
    if want.dtype.kind not in "fc":
        diff = got != want
        if np.any(diff):
            at = np.unravel_index(np.argmax(diff), want.shape)
            raise AssertionError(
                f"{head}: {int(np.sum(diff))} of {want.size} values differ; first at {at}: "
                f"got {got[at]!r}, expected {want[at]!r}; shape {want.shape}"
            )
        return
    wide = np.clongdouble
    g, w = got.astype(wide), want.astype(wide)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if not np.array_equal(nan_g, nan_w):
        at = np.unravel_index(np.argmax(nan_g != nan_w), want.shape)
        raise AssertionError(
            f"{head}: NaN pattern differs ({int(nan_g.sum())} NaN, expected "
            f"{int(nan_w.sum())}); first at {at}: got {got[at]!r}, expected {want[at]!r}"
        )
    inf_w = np.isinf(w) & ~nan_w
    if np.any(inf_w) and not np.array_equal(g[inf_w], w[inf_w]):
        raise AssertionError(f"{head}: infinities differ from the reference")
    finite = ~nan_w & ~inf_w
    if not np.any(finite):
        return
    scale = float(np.abs(w[finite]).max())
    tol = TOLERANCE[want.dtype.char] * max(scale, np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore"):  # inf - inf where the reference is not finite
        err = np.where(finite, np.abs(g - w), 0).astype(np.longdouble)
    if np.any(err > tol) or np.any(~np.isfinite(g[finite])):
        at = np.unravel_index(np.argmax(np.where(np.isfinite(err), err, np.inf)), want.shape)
        raise AssertionError(
            f"{head}: {int(np.sum(err > tol))} of {want.size} values beyond {tol:.3g} "
            f"({TOLERANCE[want.dtype.char]:g} x scale {scale:.3g}); worst at {at}: got "
            f"{got[at]!r}, expected {want[at]!r}, |error| {float(err[at]):.3g}; shape {want.shape}"
        )


def assert_same_exception(fast_call, ref_call, *, op: str, case: str) -> None:
    """Both calls must raise, and with the same exception type."""
    try:
        ref_call()
    except Exception as e:  # noqa: BLE001 - any exception the reference raises
        ref_exc = e
    else:
        raise AssertionError(f"{op} [{case}]: the reference did not raise; fix the test")
    try:
        fast_call()
    except Exception as e:  # noqa: BLE001
        assert type(e) is type(ref_exc), (
            f"{op} [{case}]: raised {type(e).__name__}({e}), the reference "
            f"{type(ref_exc).__name__}({ref_exc})"
        )
    else:
        raise AssertionError(
            f"{op} [{case}]: did not raise; the reference raised "
            f"{type(ref_exc).__name__}({ref_exc})"
        )


def assert_same_behaviour(fast_call, ref_call, *, op: str, case: str) -> None:
    """Either both calls raise the same exception type, or both return the same
    result (assert_same_result)."""
    try:
        want = ref_call()
    except Exception:  # noqa: BLE001
        assert_same_exception(fast_call, ref_call, op=op, case=case)
        return
    assert_same_result(fast_call(), want, op=op, isa="default", case=case)


def random_array(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Values of `dtype`: full-range or small integers (so both the exact-float64
    and the wrap-around paths run), normal floats, complex with both parts."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if rng.random() < 0.5:
            return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        return rng.integers(max(info.min, -9), 10, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


LAYOUTS = ("contiguous", "strided", "reversed", "fortran", "list")


def with_layout(rng: np.random.Generator, arr: np.ndarray, layout: str):
    """The same values as a strided view, a reversed view, a Fortran-order copy
    or a nested list (object dtypes stay arrays)."""
    if layout == "strided":
        big = np.empty(tuple(2 * n for n in arr.shape), dtype=arr.dtype)
        view = big[tuple(slice(None, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view
    if layout == "reversed":
        rev = arr[tuple(slice(None, None, -1) for _ in arr.shape)].copy()
        return rev[tuple(slice(None, None, -1) for _ in arr.shape)]
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "list" and arr.size and arr.dtype.kind in "biuf" and arr.dtype.itemsize <= 8:
        return arr.tolist() if arr.dtype in (np.int64, np.float64, np.bool_) else arr
    return arr
