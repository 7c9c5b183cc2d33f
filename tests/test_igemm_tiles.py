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


def _sizes(tile: int) -> list[int]:
    return sorted({max(1, tile - 1), tile, tile + 1, 2 * tile, 13})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_tile_at_its_edges(dtype, isa, rng, restore_threads):
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    tiles = _kernels.igemm_tiles(dtype)
    assert tiles, "the table lists its tiles"
    checked = 0
    for variant, (mr, nr) in enumerate(tiles):
        _kernels.tune_force(("conv2d", isa, dtype, -1, 1, 1, variant))
        try:
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
        finally:
            _kernels.tune_force(None)
    assert checked == sum(len(_sizes(mr)) * len(_sizes(nr)) for mr, nr in tiles)
