"""Property tests (hypothesis): conv2d, max_pool2d and their gradients against the
slow NumPy references in tests/reference.py, on shapes, strides, options and
memory layouts drawn at random, under every ISA."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastconv
import reference as ref
from reference import assert_close

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def conv_case(draw):
    groups = draw(st.integers(1, 3))
    c, k = groups * draw(st.integers(1, 5)), groups * draw(st.integers(1, 9))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw, dh, dw = (draw(st.integers(1, 3)) for _ in range(4))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, dh * (r - 1) + 1 - 2 * ph), 14))
    w = draw(st.integers(max(1, dw * (s - 1) + 1 - 2 * pw), 14))
    n = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    strided = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return dict(n=n, c=c, k=k, h=h, w=w, r=r, s=s, stride=(sh, sw), dilation=(dh, dw), padding=(ph, pw),
                groups=groups, dtype=dtype, layout=layout, strided=strided, seed=seed)


def _arrays(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"])).astype(case["dtype"])
    wt = rng.standard_normal((case["k"], case["c"] // case["groups"], case["r"], case["s"])).astype(case["dtype"])
    b = rng.standard_normal(case["k"]).astype(case["dtype"])
    return x, wt, b


def _to_layout(case, x, wt):
    if case["layout"] == "NHWC":
        x, wt = x.transpose(0, 2, 3, 1), wt.transpose(2, 3, 1, 0)
    else:
        x, wt = x.copy(), wt.copy()
    if case["strided"]:  # same values, non-contiguous memory: every other element of a wider array
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)
        wide[..., ::2] = x
        x = wide[..., ::2]
    return x, wt


def _from_layout(case, y):
    return y.transpose(0, 3, 1, 2) if case["layout"] == "NHWC" else y


@SETTINGS
@given(case=conv_case())
def test_conv2d_matches_slow_for_random_options(isa, case):
    x, wt, b = _arrays(case)
    opts = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    want = ref.conv2d(x, wt, b, **opts)
    xl, wl = _to_layout(case, x, wt)
    got = _from_layout(case, fastconv.conv2d(xl, wl, b, layout=case["layout"], **opts))
    assert_close(got, want, op="conv2d", isa=isa, dtype=case["dtype"],
                 reduce=case["c"] // case["groups"] * case["r"] * case["s"], context=str(case))


@SETTINGS
@given(case=conv_case())
def test_conv2d_backward_matches_slow_for_random_options(isa, case):
    x, wt, _ = _arrays(case)
    opts = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    gy = np.random.default_rng(case["seed"] + 1).standard_normal(ref.conv2d(x, wt, **opts).shape).astype(case["dtype"])
    want_x, want_w, want_b = ref.conv2d_backward(gy, x, wt, **opts)
    xl, wl = _to_layout(case, x, wt)
    gyl = gy.transpose(0, 2, 3, 1) if case["layout"] == "NHWC" else gy
    gx, gw, gb = fastconv.conv2d_backward(gyl, xl, wl, layout=case["layout"], **opts)
    if case["layout"] == "NHWC":
        gx, gw = gx.transpose(0, 3, 1, 2), gw.transpose(3, 2, 0, 1)
    kg = case["k"] // case["groups"]
    pixels = gy.shape[0] * gy.shape[2] * gy.shape[3]
    assert_close(gx, want_x, op="conv2d_backward grad_x", isa=isa, dtype=case["dtype"],
                 reduce=kg * case["r"] * case["s"], context=str(case))
    assert_close(gw, want_w, op="conv2d_backward grad_weight", isa=isa, dtype=case["dtype"], reduce=pixels,
                 context=str(case))
    assert_close(gb, want_b, op="conv2d_backward grad_bias", isa=isa, dtype=case["dtype"], reduce=pixels,
                 context=str(case))


@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 15))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 40))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 20)), h, w), kernel=(kh, kw), stride=(sh, sw),
                padding=(ph, pw), dilation=(dh, dw), ceil_mode=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                layout=draw(st.sampled_from(["NCHW", "NHWC"])), ties=draw(st.booleans()),
                seed=draw(st.integers(0, 2**31 - 1)))


@SETTINGS
@given(case=pool_case())
def test_max_pool2d_and_backward_match_slow_for_random_options(isa, case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["shape"])
    if case["ties"]:
        x = np.round(x)  # many equal values: the first maximum must win
    x = x.astype(case["dtype"])
    opts = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
                ceil_mode=case["ceil_mode"])
    xl = x.transpose(0, 2, 3, 1) if case["layout"] == "NHWC" else x
    covered = all(
        ref.pool_windows_covered(n, k, s, p, d, ref.pool_out_size(n, k, s, p, case["ceil_mode"], d))
        for n, k, s, p, d in zip(case["shape"][2:], case["kernel"], case["stride"], case["padding"],
                                 case["dilation"]))
    if not covered:  # a window of padding only (dilation > 1, tiny input): refused
        with pytest.raises(ValueError, match="padding only"):
            fastconv.max_pool2d(xl, case["kernel"], layout=case["layout"], **opts)
        return
    want, want_idx = ref.max_pool2d(x, case["kernel"], **opts)
    got, idx = fastconv.max_pool2d(xl, case["kernel"], layout=case["layout"], return_indices=True, **opts)
    if case["layout"] == "NHWC":
        got, idx = got.transpose(0, 3, 1, 2), idx.transpose(0, 3, 1, 2)
    assert_close(got, want, op="max_pool2d", isa=isa, dtype=case["dtype"], exact=True, context=str(case))
    np.testing.assert_array_equal(idx, want_idx, err_msg=f"max_pool2d indices [{isa}] {case}")
    gy = rng.standard_normal(want.shape).astype(case["dtype"])
    gyl = gy.transpose(0, 2, 3, 1) if case["layout"] == "NHWC" else gy
    idxl = idx.transpose(0, 2, 3, 1) if case["layout"] == "NHWC" else idx
    gx = fastconv.max_pool2d_backward(gyl, xl, idxl, case["kernel"], layout=case["layout"], **opts)
    if case["layout"] == "NHWC":
        gx = gx.transpose(0, 3, 1, 2)
    assert_close(gx, ref.max_pool2d_backward(gy, want_idx, x.shape), op="max_pool2d_backward", isa=isa,
                 dtype=case["dtype"], context=str(case))
