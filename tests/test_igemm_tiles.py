"""Every registered indirect-GEMM tile, run alone (the tuner's force), at the
edges of its own tile: rows and columns of tile - 1, tile, tile + 1, twice the
tile and a prime, against a float64 reference, under every ISA the CPU has.
The static rule picks some tiles only for some shapes (a borrowed narrower
tile hardly ever), so without forcing them a tile's edge cases could go
untested."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv
from fastconv import _kernels

import reference
from _helpers import forced_tile


def _tiles_and_threads(isa, dtype):
    """Every tile of the ISA's table forced in turn, each at 1 and 2 threads: yields
    (mr, nr, threads)."""
    for variant, (mr, nr) in enumerate(_kernels.igemm_tiles(dtype)):
        with forced_tile(isa, dtype, variant):
            for threads in (1, 2):
                fastconv.set_num_threads(threads)
                yield mr, nr, threads


def _sizes(tile: int) -> list[int]:
    return sorted({max(1, tile - 1), tile, tile + 1, 2 * tile, 13})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_tile_at_its_edges(dtype, isa, rng, restore_threads):
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    tiles = _kernels.igemm_tiles(dtype)
    assert tiles, "the table lists its tiles"
    checked = 0
    for variant, (mr, nr) in enumerate(tiles):
        with forced_tile(isa, dtype, variant):
            for rows in _sizes(mr):
                for cols in _sizes(nr):
                    # rows output pixels (one column of an image), cols filters, 3x1 taps
                    # of 7 channels: conv2d's product is rows x cols, 21 deep
                    x = rng.standard_normal((1, rows + 2, 1, 7)).astype(dtype)
                    w = rng.standard_normal((3, 1, 7, cols)).astype(dtype)
                    b = rng.standard_normal(cols).astype(dtype)
                    _kernels.tune_seen(True)
                    got = fastconv.conv2d(x, w, b, layout="NHWC")
                    assert [p[3:5] for p in _kernels.tune_seen(True)] == [(rows, cols)]
                    ran = _kernels.last_plan()
                    assert ran["tile"] == (mr, nr) and "tuned_tile" in ran["flags"], ran
                    want = sum(x[0, i:i + rows, 0, :].astype(np.float64) @ w[i, 0].astype(np.float64)
                               for i in range(3)) + b
                    np.testing.assert_allclose(got[0, :, 0, :], want, rtol=tol, atol=tol * 10,
                                               err_msg=f"tile {mr}x{nr} ({isa}) at {rows}x{cols}")
                    checked += 1
    assert checked == sum(len(_sizes(mr)) * len(_sizes(nr)) for mr, nr in tiles)


# (n, h, w, c, k, r, stride, padding, groups): output images whose pixels leave
# every tile's last row panel part empty, deep enough for the panels to run on
# across images (merged kernel rows, 1x1, stride 2, two groups, one image row)
BATCH_PANELS = [
    (3, 7, 7, 128, 96, 3, 1, 1, 1),
    (5, 9, 9, 64, 80, 3, 1, 0, 1),
    (4, 13, 13, 128, 130, 1, 1, 0, 1),
    (3, 11, 11, 64, 64, 3, 2, 1, 1),
    (2, 5, 5, 128, 128, 3, 1, 1, 2),
    (7, 1, 9, 64, 64, 1, 1, 0, 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", BATCH_PANELS, ids=lambda c: "-".join(map(str, c)))
def test_panels_across_images_give_each_image_its_own_bits(case, dtype, isa, rng, restore_threads):
    """Pixel panels that hold the end of one image and the start of the next sum
    each output as the image alone does (n = 1 never runs on across images), to
    the bit, on every tile and at 1 and 2 threads; and the batch is the float64
    reference's."""
    n, h, w, c, k, r, stride, padding, groups = case
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    wt = rng.standard_normal((r, r, c // groups, k)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    want = reference.conv2d(x.transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1), b, stride, padding,
                            groups=groups).transpose(0, 2, 3, 1)
    for mr, nr, threads in _tiles_and_threads(isa, dtype):
        got = fastconv.conv2d(x, wt, b, stride, padding, groups=groups, layout="NHWC")
        ran = _kernels.last_plan()
        what = f"tile {mr}x{nr} ({isa}), {threads} threads"
        if (got.shape[1] * got.shape[2]) % mr:
            assert "batch_panels" in ran["flags"], f"{what}: {ran}"
        for i in range(n):
            alone = fastconv.conv2d(x[i:i + 1], wt, b, stride, padding, groups=groups,
                                    layout="NHWC")
            assert "batch_panels" not in _kernels.last_plan()["flags"]
            np.testing.assert_array_equal(got[i:i + 1], alone, err_msg=f"{what}, image {i}")
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10, err_msg=what)


# (n, h, w, c, k): 3x3 filters, padding 1, stride 1 ("same") in NHWC, where border tiles
# compute less than row-major pixel tiles: inner rows along the row, the first and last
# columns down the column, rows and columns not multiples of any tile, one image and several
BORDER = [
    (2, 14, 14, 32, 40),
    (1, 9, 8, 16, 64),
    (3, 11, 17, 8, 33),
    (1, 56, 5, 4, 24),
    (1, 26, 26, 8, 40),  # 24 inner pixels a row: whole tiles for every tile of the tables
]


def _signed_zero_biases(rng, k, dtype):
    """A bias with +0 in its first place, which border tiles take, and the same bias
    with -0 there, which makes conv2d take the pixel tiles (border tiles keep the bits
    of +0 only): equal sums, so the two calls' outputs must be equal to the bit."""
    plus = rng.standard_normal(k).astype(dtype)
    plus[0] = 0.0
    minus = plus.copy()
    minus[0] = -0.0
    return plus, minus


def _plan_flags(x, wt, b):
    fastconv.conv2d(x, wt, b, 1, 1, layout="NHWC")
    return _kernels.last_plan()["flags"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", BORDER, ids=lambda c: "-".join(map(str, c)))
def test_border_tiles_skip_only_zeros(case, dtype, isa, rng, restore_threads):
    """Border tiles (the padding's taps skipped) give the bits of the pixel tiles on
    every tile at 1 and 2 threads: a bias with -0 in it makes conv2d take the pixel
    tiles, and +0 in its place the border tiles, whose outputs are equal to the bit
    (no output is an exact zero); both are the float64 reference's. (Where a tile
    would pad more in border tiles than it skips, both calls take the pixel tiles.)"""
    n, h, w, c, k = case
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    wt = rng.standard_normal((3, 3, c, k)).astype(dtype)
    plus, minus = _signed_zero_biases(rng, k, dtype)
    want = reference.conv2d(x.transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1), plus, 1, 1).transpose(0, 2, 3, 1)
    for mr, nr, threads in _tiles_and_threads(isa, dtype):
        what = f"tile {mr}x{nr} ({isa}), {threads} threads"
        got = fastconv.conv2d(x, wt, plus, 1, 1, layout="NHWC")
        pixels = fastconv.conv2d(x, wt, minus, 1, 1, layout="NHWC")
        assert "border_tiles" not in _kernels.last_plan()["flags"], what
        np.testing.assert_array_equal(got, pixels, err_msg=what)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10, err_msg=what)


# (n, h, w, c, k): border tiles over several weight panels on every tile, the packed weights
# small (a few KiB to a few hundred) and, for the last, past half of a 2 MiB L2 (1.4 MiB in
# float32, twice that in float64)
PANELS = [(2, 14, 14, 32, 40), (3, 9, 11, 16, 72), (1, 26, 26, 160, 256)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_border_tiles_run_every_panel_on_a_tile_where_the_weights_fit(dtype, isa, rng,
                                                                     restore_threads):
    """Border tiles take a tile by every weight panel in turn where the packed weights
    fit half the L2 (the input rows then read once), and a panel at a time over the
    images where they do not: on every tile at 1 and 2 threads, the plan says which
    ran, and both orders give the pixel tiles' bits and the float64 reference's values."""
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    l2 = _kernels.cpu_caches()["l2"]
    half_l2 = (l2 if l2 > 0 else 1 << 20) // 2  # the planner's own default where unknown
    size = np.dtype(dtype).itemsize
    seen = set()
    for n, h, w, c, k in PANELS:
        x = rng.standard_normal((n, h, w, c)).astype(dtype)
        wt = rng.standard_normal((3, 3, c, k)).astype(dtype)
        plus, minus = _signed_zero_biases(rng, k, dtype)
        want = reference.conv2d(x.transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1), plus, 1,
                                1).transpose(0, 2, 3, 1)
        atol = tol * 10 * max(1.0, np.sqrt(9 * c / 144))  # rounding grows as the depth's root
        for mr, nr, threads in _tiles_and_threads(isa, dtype):
            what = f"{(n, h, w, c, k)} on tile {mr}x{nr} ({isa}), {threads} threads"
            got = np.full(want.shape, np.nan, dtype)  # no output left unwritten
            fastconv.conv2d(x, wt, plus, 1, 1, layout="NHWC", out=got)
            flags = _kernels.last_plan()["flags"]
            if "border_tiles" not in flags:  # pads more than it skips on this tile
                continue
            npad = -(-k // nr) * nr
            inside = npad > nr and 9 * c * npad * size <= half_l2
            assert ("panels_inside" in flags) == inside, (what, flags)
            seen.add(inside)
            pixels = fastconv.conv2d(x, wt, minus, 1, 1, layout="NHWC")
            assert "border_tiles" not in _kernels.last_plan()["flags"], what
            np.testing.assert_array_equal(got, pixels, err_msg=what)
            np.testing.assert_allclose(got, want, rtol=tol, atol=atol, err_msg=what)
    big = 9 * PANELS[-1][3] * PANELS[-1][4] * size
    assert seen == ({True, False} if big > half_l2 else {True}), seen  # both orders ran


# tiles that skip the padding's taps: a layer (x's shape, filters) that takes them, and
# what explain says of them. 16 channels: border tiles on every ISA's tiles (a tap of
# fewer channels on the portable 4x8 tile takes the padded copy instead); 9 c k weights
# not a multiple of 64, so the last one falls past the finiteness scan's blocks
SKIPPING = {"border_tiles": ((2, 14, 14, 16), 38, "border tiles: the padding's taps skipped"),
            "position_tiles": ((12, 7, 7, 60), 40,
                               "position tiles: a tile's rows are images at one output pixel")}


@pytest.mark.parametrize("flag", sorted(SKIPPING))
def test_tiles_that_skip_need_finite_weights(flag, rng, restore_threads):
    """An inf or NaN weight times the padding's zero is NaN, as the reference has it, so
    such weights (and a bias with -0) take the pixel tiles, and explain says so: NaN
    lands where the float64 reference puts it."""
    shape, k, phrase = SKIPPING[flag]
    x = rng.standard_normal(shape).astype(np.float32)
    wt = rng.standard_normal((3, 3, shape[-1], k)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    assert flag in _plan_flags(x, wt, b)
    said = str(fastconv.explain(fastconv.conv2d, x, wt, b, 1, 1, layout="NHWC"))
    assert phrase in said, said
    # the first tap: the padding of row 0 and column 0 meets it; the last weight (past
    # the scan's whole blocks of 64 where 9 c k is not a multiple of 64): the last row's
    for bad, at in [(np.inf, (0, 0, 3, 5)), (-np.inf, (0, 0, 3, 5)), (np.nan, (0, 0, 3, 5)),
                    (np.inf, (2, 2, shape[-1] - 1, k - 1))]:
        w2 = wt.copy()
        w2[at] = bad
        got = fastconv.conv2d(x, w2, b, 1, 1, layout="NHWC")
        assert flag not in _kernels.last_plan()["flags"]
        want = reference.conv2d(x.transpose(0, 3, 1, 2), w2.transpose(3, 2, 0, 1), b, 1,
                                1).transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=str(bad))
        row, col = (0, 0) if at[0] == 0 else (-1, -1)
        assert np.isnan(got[:, row, :, at[3]]).all() and np.isnan(got[:, :, col, at[3]]).all()
        plan = fastconv.explain(fastconv.conv2d, x, w2, b, 1, 1, layout="NHWC")
        assert "pixel tiles, not border tiles or position tiles" in str(plan), plan
        assert flag not in plan.blocking.get("flags", ()), plan  # what ran
    minus = b.copy()
    minus[3] = -0.0  # a bias with -0: the same fallback, said the same way
    plan = fastconv.explain(fastconv.conv2d, x, wt, minus, 1, 1, layout="NHWC")
    fastconv.conv2d(x, wt, minus, 1, 1, layout="NHWC")
    assert flag not in _kernels.last_plan()["flags"]
    assert "pixel tiles, not border tiles or position tiles" in str(plan), plan
    assert flag not in plan.blocking.get("flags", ()), plan


# (n, h, w, c, k, r, stride, padding): small images of deep taps, where tiles of images at
# one output pixel skip the padding's taps: 3x3 and 5x5 filters, stride 1 and 2, batches
# that fill every tile's rows and some that leave the last tile's rows part empty
POSITIONS = [(12, 7, 7, 64, 40, 3, 1, 1), (12, 4, 5, 40, 70, 3, 1, 1), (12, 6, 6, 32, 33, 5, 2, 2),
             (13, 5, 5, 40, 36, 5, 1, 2)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_position_tiles_skip_only_zeros(layout, dtype, isa, rng, restore_threads):
    """Tiles of images at one output pixel (each tile's taps exactly its pixel's, the
    padding's skipped) give the bits of the other tiles on every tile at 1 and 2
    threads: a bias with -0 in it makes conv2d take tiles that skip nothing, and +0 in
    its place the position tiles, whose outputs are equal to the bit; both are the
    float64 reference's. The plan says which ran (NCHW runs them on channels-last
    copies); every case runs them on some tile."""
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    nchw = layout == "NCHW"
    for n, h, w, c, k, r, stride, pad in POSITIONS:
        x = rng.standard_normal((n, h, w, c)).astype(dtype)
        wt = rng.standard_normal((r, r, c, k)).astype(dtype)
        plus, minus = _signed_zero_biases(rng, k, dtype)
        want = reference.conv2d(x.transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1), plus, stride,
                                pad)
        atol = tol * 10 * max(1.0, np.sqrt(r * r * c / 144))  # rounding grows as the depth's root
        if nchw:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
            wt = np.ascontiguousarray(wt.transpose(3, 2, 0, 1))
        else:
            want = want.transpose(0, 2, 3, 1)
        ran = 0
        for mr, nr, threads in _tiles_and_threads(isa, dtype):
            what = f"{(n, h, w, c, k, r, stride, pad)} {layout} tile {mr}x{nr} ({isa}), {threads} threads"
            got = np.full(want.shape, np.nan, dtype)  # no output left unwritten
            fastconv.conv2d(x, wt, plus, stride, pad, layout=layout, out=got)
            ran += "position_tiles" in _kernels.last_plan()["flags"]
            others = fastconv.conv2d(x, wt, minus, stride, pad, layout=layout)
            assert "position_tiles" not in _kernels.last_plan()["flags"], what
            np.testing.assert_array_equal(got, others, err_msg=what)
            np.testing.assert_allclose(got, want, rtol=tol, atol=atol, err_msg=what)
        assert ran, f"{(n, h, w, c, k, r, stride, pad)} {layout} ({isa}): no tile took position tiles"


def test_position_tiles_on_nchw_chunks(rng, restore_threads):
    """NCHW runs position tiles on channels-last copies of chunks of images: a batch of
    several chunks gives the NHWC call's bits and the float64 reference's values at 1
    and 2 threads; a chunk with fewer tiles a pixel than threads (their images' copies
    shared between the threads) takes the other tiles, with the same bits."""
    x = rng.standard_normal((48, 512, 7, 7)).astype(np.float32)  # several chunks at any L2
    wt = rng.standard_normal((40, 512, 3, 3)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    want = reference.conv2d(x, wt, b, 1, 1)
    xh, wh = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(wt.transpose(2, 3, 1, 0))
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        got = fastconv.conv2d(x, wt, b, 1, 1)
        flags = _kernels.last_plan()["flags"]
        assert "channels_last_copy" in flags and "position_tiles" in flags, flags
        nhwc = fastconv.conv2d(xh, wh, b, 1, 1, layout="NHWC")
        assert "position_tiles" in _kernels.last_plan()["flags"]
        np.testing.assert_array_equal(got, nhwc.transpose(0, 3, 1, 2))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-3)
    x = rng.standard_normal((6, 64, 7, 7)).astype(np.float32)  # one tile a pixel
    wt = rng.standard_normal((64, 64, 5, 5)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    runs = {}
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        runs[threads] = fastconv.conv2d(x, wt, b, 2, 2)
        ran = _kernels.last_plan()
        assert ("position_tiles" in ran["flags"]) == (ran["threads"] == 1), ran
    np.testing.assert_array_equal(runs[1], runs[2])
    np.testing.assert_allclose(runs[1], reference.conv2d(x, wt, b, 2, 2), rtol=1e-5, atol=1e-3)


def _panel_channels(dtype):
    """Input channels of a group whose 3x3 filters, as many as the channels, outgrow
    half of this CPU's L2 (panel tasks' condition): the smallest multiple of 32."""
    l2 = _kernels.cpu_caches()["l2"] or 1 << 20
    c = 32
    while 9 * c * c * np.dtype(dtype).itemsize <= l2 // 2:
        c += 32
    return c


# (n, h, w, stride, groups, extra output channels): a batch of at most 256 output pixels
# by weights past half the L2: whole panels and a part one, stride 2, two groups
FEW_PIXELS = [(2, 5, 5, 1, 1, 0), (1, 7, 6, 2, 1, 13), (1, 6, 6, 1, 2, 8)]


def _panel_case(case, dtype, layout, rng):
    """x, weight (the layout's), bias, the batch (more than 256 output pixels: pixel
    blocks) whose first images are x, and the float64 reference of x's output."""
    n, h, w, stride, groups, extra = case
    cg = _panel_channels(dtype)
    c, k = groups * cg, groups * (cg + extra)
    batch = rng.standard_normal((24, h, w, c)).astype(dtype)
    wt = (rng.standard_normal((3, 3, cg, k)) / np.sqrt(9 * cg)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    want = reference.conv2d(batch[:n].transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1), b, stride, 1,
                            groups=groups)
    if layout == "NCHW":
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        wt = np.ascontiguousarray(wt.transpose(3, 2, 0, 1))
    else:
        want = want.transpose(0, 2, 3, 1)
    return batch[:n], wt, b, batch, want


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("case", FEW_PIXELS, ids=lambda c: "-".join(map(str, c)))
def test_panel_tasks_give_the_bits_of_pixel_blocks(case, layout, dtype, isa, rng, restore_threads):
    """Few pixels by weights past half the L2 run as weight panels over every pixel
    (each weight read once, a slice at a time copied from the caller's): the bits of
    the same images in a batch too large for them, which runs pixel blocks, on every
    tile at 1 and 2 threads; and the float64 reference's values. NCHW runs them on a
    channels-last copy, its weights packed."""
    n, _, _, stride, groups, _ = case
    x, wt, b, batch, want = _panel_case(case, dtype, layout, rng)
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    for mr, nr, threads in _tiles_and_threads(isa, dtype):
        what = f"{case} {layout} tile {mr}x{nr} ({isa}), {threads} threads"
        got = fastconv.conv2d(x, wt, b, stride, 1, groups=groups, layout=layout)
        assert "panel_tasks" in _kernels.last_plan()["flags"], what
        many = fastconv.conv2d(batch, wt, b, stride, 1, groups=groups, layout=layout)
        assert "panel_tasks" not in _kernels.last_plan()["flags"], what
        np.testing.assert_array_equal(got, many[:n], err_msg=what)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10, err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_input_gradient_of_few_pixels_runs_panel_tasks(layout, dtype, rng, restore_threads):
    """The input gradient's transposed convolution of a layer of few pixels and many
    weights runs panel tasks on the flipped weights: the gradient of the images in a
    batch that runs pixel blocks, to the bit, and the float64 reference's."""
    x, wt, _, batch, _ = _panel_case((2, 5, 5, 1, 1, 13), dtype, layout, rng)
    nchw = layout == "NCHW"
    out_shape = ((batch.shape[0], wt.shape[0]) + batch.shape[2:] if nchw
                 else batch.shape[:3] + (wt.shape[3],))
    gy_batch = rng.standard_normal(out_shape).astype(dtype)
    gy = gy_batch[:2]
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        plan = str(fastconv.explain(fastconv.conv2d_backward, gy, x, wt, 1, 1, layout=layout))
        assert "panel_tasks" in plan, plan
        gx = fastconv.conv2d_backward(gy, x, wt, 1, 1, layout=layout)[0]
        gx_batch = fastconv.conv2d_backward(gy_batch, batch, wt, 1, 1, layout=layout)[0]
        np.testing.assert_array_equal(gx, gx_batch[:2], err_msg=f"{threads} threads")
        to_nchw = (lambda a: a) if nchw else (lambda a: a.transpose(0, 3, 1, 2))
        w_nchw = wt if nchw else wt.transpose(3, 2, 0, 1)
        want = reference.conv2d_backward(to_nchw(gy), to_nchw(x), w_nchw, 1, 1)[0]
        np.testing.assert_allclose(to_nchw(gx), want, rtol=tol, atol=tol * 10,
                                   err_msg=f"{threads} threads")


# (n, h, w, c, k, (r, s), stride, padding, dilation): NHWC layers whose taps of few
# channels run on a copy of the input's rows with their horizontal padding (one row
# pointer per kernel row) where the tile is narrow: 3x3 padded by two (one channel: by
# one it runs the direct kernel) and 'same', the 7x7 stride-2 stem,
# 'same' with an even kernel (the odd pad at the end), a padding wider than the kernel's
# reach, dilation in height, a stride that leaves input columns unread, and images of
# over 2 MB of copy each, which go through the copy in several chunks
PADDED = [
    (3, 14, 13, 1, 20, (3, 3), 1, 2, 1),
    (2, 30, 30, 3, 16, (7, 7), 2, 3, 1),
    (2, 11, 12, 2, 9, (4, 4), 1, "same", 1),
    (1, 9, 10, 4, 24, (3, 3), 1, 4, 1),
    (2, 16, 15, 1, 8, (3, 3), 1, 1, (2, 1)),
    (2, 17, 19, 3, 5, (5, 5), 3, 2, 1),
    (3, 300, 300, 3, 4, (3, 3), 1, 1, 1),
    (2, 12, 12, 8, 16, (3, 3), 1, 1, 1),
]


def _same_pads(n, k, stride, dil):
    """TensorFlow's 'same' padding of one axis: (before, after)."""
    span = (k - 1) * dil + 1
    total = max((-(-n // stride) - 1) * stride + span - n, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", PADDED, ids=lambda c: "-".join(map(str, c)))
def test_padded_copy_gives_the_bits_of_an_input_padded_beforehand(case, dtype, isa, rng,
                                                                   restore_threads):
    """A padded layer run through the padded copy gives, bit for bit, what the same
    layer gives on an input the caller padded with zeros (which runs without the copy),
    at 1 and 2 threads, also where a weight is inf or NaN (0 times it is NaN in both);
    both are the float64 reference's. The copy is taken exactly where the plan's rule
    says: channels times the tile's columns at most FC_PAD_MERGE_MAX_WIDTH (for float32
    under AVX-512, FC_PAD_MERGE_MAX_WIDTH_AVX512)."""
    n, h, w, c, k, (r, s), stride, padding, dil = case
    dh, dw = (dil, dil) if isinstance(dil, int) else dil
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    wt = rng.standard_normal((r, s, c, k)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    if padding == "same":
        (top, bottom), (left, right) = _same_pads(h, r, stride, dh), _same_pads(w, s, stride, dw)
    else:
        top = bottom = left = right = padding
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    want = reference.conv2d(xp.transpose(0, 3, 1, 2).astype(np.float64),
                            wt.transpose(3, 2, 0, 1).astype(np.float64), b, stride, 0,
                            (dh, dw)).transpose(0, 2, 3, 1)
    wide = isa == "avx512" and dtype == "float32"
    limit = _kernels.COSTS["FC_PAD_MERGE_MAX_WIDTH_AVX512" if wide else "FC_PAD_MERGE_MAX_WIDTH"]
    for weights in ("finite", "inf and NaN"):
        w2 = wt.copy()
        if weights != "finite":
            w2[0, 0, 0, 0], w2[r - 1, s - 1, c - 1, k - 1] = np.inf, np.nan
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            got = fastconv.conv2d(x, w2, b, stride, padding, (dh, dw), layout="NHWC")
            plan = _kernels.last_plan()
            copied = c * plan["tile"][1] <= limit
            assert ("padded_copy" in plan["flags"]) == copied, plan
            assert copied <= ("merge_rows" in plan["flags"]), plan
            said = str(fastconv.explain(fastconv.conv2d, x, w2, b, stride, padding, (dh, dw),
                                        layout="NHWC"))
            assert ("rows copied with their padding" in said) == copied, said
            before = fastconv.conv2d(xp, w2, b, stride, 0, (dh, dw), layout="NHWC")
            assert "padded_copy" not in _kernels.last_plan()["flags"]
            what = f"{weights} weights, {threads} threads, {plan['kernel']}"
            bits = np.uint32 if dtype == "float32" else np.uint64
            np.testing.assert_array_equal(got.view(bits), before.view(bits), err_msg=what)
            if weights == "finite":
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10, err_msg=what)


# (n, c, h, w, k, (r, s), stride, padding, dilation, groups): NCHW layers deep enough for
# the indirect GEMM, which runs them channels-last on copies of chunks of images where an
# image's input and output copies fit the L2: 'same' 3x3 (border tiles), images of 512 KiB
# of copies each (several chunks, the last one short, wherever the L2 is 1 or 2 MiB), one
# input channel (read in place), one output channel (written in place), two groups,
# stride and dilation, and images of 3 MiB of copies each, which are read in place
NCHW_COPY = [
    (3, 32, 14, 14, 40, (3, 3), 1, 1, 1, 1),
    (9, 64, 32, 32, 64, (3, 3), 1, 1, 1, 1),
    (3, 1, 20, 21, 16, (9, 9), 1, 4, 1, 1),
    (3, 64, 10, 11, 1, (3, 3), 1, 1, 1, 1),
    (2, 32, 12, 12, 48, (3, 3), 1, 1, 1, 2),
    (2, 16, 17, 19, 24, (3, 3), 2, 2, 2, 1),
    (1, 64, 64, 64, 128, (3, 3), 1, 1, 1, 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", NCHW_COPY, ids=lambda c: "-".join(map(str, c)))
def test_nchw_layers_give_the_bits_of_the_nhwc_call(case, dtype, isa, rng, restore_threads):
    """An NCHW layer gives, bit for bit, the NHWC call's result transposed, at 1 and 2
    threads, with finite weights (border tiles where NHWC has them), an inf and a NaN
    weight, and a bias holding -0 (both pixel tiles); so does the input gradient, a
    transposed convolution. The channels-last copies are taken exactly where an image's
    input and output fit the L2, and explain says so."""
    n, c, h, w, k, (r, s), stride, padding, dil, groups = case
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    bits = np.uint32 if dtype == "float32" else np.uint64
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    b[0] = 0.0  # and -0 in its place below: equal sums, but no border tiles
    args = (stride, padding, dil, groups)
    xh, wh = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(wt.transpose(2, 3, 1, 0))
    oh, ow = fastconv.conv2d(x[:1], wt, None, *args).shape[2:]
    size = np.dtype(dtype).itemsize
    copied = (h * w * c + oh * ow * k) * size <= _kernels.cpu_caches()["l2"]
    want = reference.conv2d(x.astype(np.float64), wt.astype(np.float64), b, stride, padding, dil, groups)
    minus = b.copy()
    minus[0] = -0.0
    for weights in ("finite", "inf and NaN", "-0 in the bias"):
        w2, wh2, b2 = wt.copy(), wh.copy(), minus if weights == "-0 in the bias" else b
        if weights == "inf and NaN":
            w2[0, 0, 0, 0], w2[k - 1, c // groups - 1, r - 1, s - 1] = np.inf, np.nan
            wh2 = np.ascontiguousarray(w2.transpose(2, 3, 1, 0))
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            what = f"{weights} weights, {threads} threads"
            got = fastconv.conv2d(x, w2, b2, *args)
            plan = _kernels.last_plan()
            assert ("channels_last_copy" in plan["flags"]) == copied, (what, plan)
            said = str(fastconv.explain(fastconv.conv2d, x, w2, b2, *args))
            assert ("run channels-last" in said) == copied, said
            nhwc = fastconv.conv2d(xh, wh2, b2, *args, layout="NHWC").transpose(0, 3, 1, 2)
            if copied:
                np.testing.assert_array_equal(got.view(bits), np.ascontiguousarray(nhwc).view(bits),
                                              err_msg=what)
            if weights != "inf and NaN":
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10, err_msg=what)
            else:
                np.testing.assert_array_equal(np.isnan(got), np.isnan(nhwc), err_msg=what)
    gy = rng.standard_normal((n, k, oh, ow)).astype(dtype)
    gyh = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        gx = fastconv.nn.conv2d_backward(gy, x, wt, *args, output_mask=(True, False, False))[0]
        ran = _kernels.last_plan()
        gxh = fastconv.nn.conv2d_backward(gyh, xh, wh, *args, layout="NHWC",
                                          output_mask=(True, False, False))[0]
        gxh = np.ascontiguousarray(gxh.transpose(0, 3, 1, 2))
        what = f"input gradient, {threads} threads, {ran['algorithm']} {ran['flags']}"
        if stride == 1 and ran["algorithm"] == "transposed-conv (igemm)":  # the forward's sizes
            assert ("channels_last_copy" in ran["flags"]) == copied, what
        if "channels_last_copy" in ran["flags"]:
            np.testing.assert_array_equal(gx.view(bits), gxh.view(bits), err_msg=what)
        else:
            np.testing.assert_allclose(gx, gxh, rtol=tol, atol=tol * 10, err_msg=what)


# (n, h, w, k): 3x3; every output channel block shape of the special kernels (a last
# block of 1 to 32 channels, several blocks), rows of one to many pixel groups (NCHW:
# chunks of 16 or 32 pixels, a row of three and a part)
DIRECT = [(2, 28, 28, 28), (1, 5, 9, 40), (3, 7, 6, 1), (1, 3, 3, 65), (2, 9, 30, 17),
          (1, 6, 70, 20)]


@pytest.mark.parametrize("pad", [0, 1])
@pytest.mark.parametrize("layout, c", [("NHWC", 1), ("NCHW", 1), ("NCHW", 3), ("NCHW", 7)])
@pytest.mark.parametrize("case", DIRECT, ids=lambda c: "-".join(map(str, c)))
def test_direct_kernels_keep_the_gemms_bits(case, layout, c, pad, isa, rng, restore_threads):
    """conv2d by 3x3 filters, 'valid' or 'same', of one input channel (NHWC) or 1 to 7
    (NCHW) runs the ISA's special direct kernel for the layout where the registry has
    one (conv.inc), the GEMM elsewhere (the indirect GEMM for NHWC, the packed GEMM for
    NCHW); either way each output is the GEMM's bits: those of the same layer padded
    by two, which the GEMM computes, from the same taps (the padding's zeros included)
    in the same order, at 1 and 2 threads, with and without a bias, and the float64
    reference's values."""
    n, h, w, k = case
    nhwc = layout == "NHWC"
    kind = "conv_c1" if nhwc else "conv_nchw"
    gemm = "igemm" if nhwc else "packed-gemm"
    has_direct = any(u["kind"] == kind and u["isa"] == isa and u["dtype"] == "float32"
                     for u in _kernels.ukernels(isa))
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((k, c, 3, 3)).astype(np.float32)
    xs, ws = (x.transpose(0, 2, 3, 1).copy(), wt.transpose(2, 3, 1, 0).copy()) if nhwc else (x, wt)

    def ours(y):  # NCHW view of a result in the layout
        return y.transpose(0, 3, 1, 2) if nhwc else y

    inner = slice(2 - pad, -(2 - pad))  # the padded-by-two layer's outputs that are these
    for b in (rng.standard_normal(k).astype(np.float32), None):
        want = reference.conv2d(x.astype(np.float64), wt.astype(np.float64), b, 1, pad)
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            what = f"{case} {layout} c={c} pad {pad} ({isa}), bias {b is not None}, {threads} threads"
            ho, wo = h - 2 + 2 * pad, w - 2 + 2 * pad
            got = np.full((n, ho, wo, k) if nhwc else (n, k, ho, wo), np.nan, np.float32)  # none left unwritten
            fastconv.conv2d(xs, ws, b, 1, pad, layout=layout, out=got)
            ran = _kernels.last_plan()
            assert ran["algorithm"] == ("direct" if has_direct else gemm), (what, ran)
            padded = fastconv.conv2d(xs, ws, b, 1, 2, layout=layout)
            assert _kernels.last_plan()["algorithm"] == gemm, what
            np.testing.assert_array_equal(ours(got).view(np.uint32),
                                          ours(padded)[:, :, inner, inner].view(np.uint32), err_msg=what)
            np.testing.assert_allclose(ours(got), want, rtol=1e-5, atol=1e-5, err_msg=what)
    said = str(fastconv.explain(fastconv.conv2d, xs, ws, None, 1, pad, layout=layout))
    assert ("direct kernel" in said) == has_direct, said
