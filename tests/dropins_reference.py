"""Shared helpers for the drop-in tests (test_numpy_compat.py, test_signal.py):
the one comparison helper and a check that two calls fail with the same
exception type. (Their random inputs come from _helpers.py's array zoo.)

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
