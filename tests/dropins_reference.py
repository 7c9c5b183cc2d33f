"""Shared helpers for the drop-in tests (test_numpy_compat.py, test_signal.py):
their tolerance for reference.assert_close, and checks that two calls fail with
the same exception type or behave the same. (Their random inputs come from
_helpers.py's array zoo.)

The references are NumPy and SciPy themselves; nothing here calls fastconv.
"""
from __future__ import annotations

import numpy as np
from reference import assert_close

# How reference.assert_close holds a drop-in to NumPy or SciPy (`**DROPIN`): a
# C-contiguous result where theirs is, and a tolerance with no relative part, an
# absolute one relative to the largest finite |value| of the reference: float16 is
# summed in float32 and rounded once; float32 ~1e-5; float64 ~1e-12.
DROPIN_TOLERANCE = {np.dtype(char): (0.0, unit) for char, unit in
                    {"e": 2e-3, "f": 1e-5, "F": 1e-5, "d": 1e-12, "D": 1e-12, "g": 1e-12, "G": 1e-12}.items()}
DROPIN = {"tolerance": DROPIN_TOLERANCE, "c_contiguous": True}


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
    result (reference.assert_close with DROPIN)."""
    try:
        want = ref_call()
    except Exception:  # noqa: BLE001
        assert_same_exception(fast_call, ref_call, op=op, case=case)
        return
    assert_close(fast_call(), want, op=op, isa="default", context=case, **DROPIN)
