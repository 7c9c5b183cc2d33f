"""The autotuner (fastconv/_tuning.py, csrc/ops/tuning.c): every tile it may
pick gives the static choice's bits, its file is written atomically, read
within bounds and only for this CPU and version, and FASTCONV_TUNE=off gives
the static choice."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import reference
from _helpers import igemm_table, pick_tile
from reference import run_python

import fastconv
from fastconv import _kernels, _tuning


@pytest.fixture(autouse=True)
def no_tuned_choices():
    """Each test starts from the static choice (whatever tuning file this user
    has) and leaves the choices loaded at start in place."""
    _kernels.tune_load([])
    yield
    _kernels.tune_force(None)
    _kernels.tune_load([c.key() for c in _tuning._loaded])


def _force_all(dtype, variant):
    """Every product this thread plans runs tile `variant`."""
    _kernels.tune_force(("conv2d", _kernels.current_isa(), dtype, -1, 1, 1, variant))


CONV_CASES = [  # (x NCHW shape, k, r, stride, padding): deep enough for the indirect GEMM
    ((2, 64, 13, 11), 37, 3, 1, 1),
    ((1, 256, 9, 9), 70, 3, 2, 1),
    ((3, 16, 20, 9), 33, 5, 1, 2),
    ((1, 256, 9, 9), 40, 5, 1, 2),  # 25 taps of 256 channels: more than one pass of taps
]


def test_a_case_runs_its_taps_in_several_passes():
    """The cases above must include one whose taps do not fit one pass, where a
    tap block that followed the tile would give each tile other bits."""
    shape, k, r, _, padding = CONV_CASES[-1]
    plan = fastconv.explain(fastconv.conv2d, np.ones(shape, np.float32),
                            np.ones((k, shape[1], r, r), np.float32), padding=padding)
    assert plan.algorithm == "igemm" and plan.blocking["tap block"] < r * r, plan


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[0])))
def test_every_conv2d_tile_gives_the_same_bits(case, layout, dtype, isa, rng, restore_threads):
    shape, k, r, stride, padding = case
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((k, shape[1], r, r)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    if layout == "NHWC":
        x, w = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(w.transpose(2, 3, 1, 0))
    want = reference.conv2d(*(  # the independent reference, in NCHW
        (x, w) if layout == "NCHW" else (x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1))), b, stride, padding)
    tiles = _kernels.igemm_tiles(dtype)
    assert tiles, "the table lists its tiles"
    static = fastconv.conv2d(x, w, b, stride, padding, layout=layout)
    got_want = static if layout == "NCHW" else static.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got_want, want, rtol=1e-4 if dtype == "float32" else 1e-11,
                               atol=1e-3 if dtype == "float32" else 1e-10)
    try:
        for variant in range(len(tiles)):
            _force_all(dtype, variant)
            np.testing.assert_array_equal(fastconv.conv2d(x, w, b, stride, padding, layout=layout), static,
                                          err_msg=f"tile {tiles[variant]} ({isa})")
    finally:
        _kernels.tune_force(None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n, k, m", [(32, 4732, 128), (9, 300, 10), (70, 257, 33)])
def test_every_dense_tile_gives_the_same_bits(n, k, m, dtype, isa, rng):
    x, w = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    y = np.empty((n, m), dtype)
    _kernels.dense(x, w, b, y)
    np.testing.assert_allclose(y, x.astype(np.float64) @ w + b, rtol=1e-4, atol=1e-3)
    static = y.copy()
    try:
        for variant in range(len(_kernels.igemm_tiles(dtype))):
            _force_all(dtype, variant)
            _kernels.dense(x, w, b, y)
            np.testing.assert_array_equal(y, static, err_msg=f"variant {variant} ({isa})")
    finally:
        _kernels.tune_force(None)


def test_the_planners_report_their_products_and_follow_a_choice(rng):
    x = rng.standard_normal((2, 9, 9, 64)).astype(np.float32)
    w = rng.standard_normal((3, 3, 64, 40)).astype(np.float32)
    _kernels.tune_seen(True)
    fastconv.conv2d(x, w, padding=1, layout="NHWC")
    (product,) = _kernels.tune_seen(True)
    assert product == ("conv2d", _kernels.current_isa(), "float32", 81, 40, 576, 0)
    assert _kernels.tune_variant("conv2d", "float32", 81, 40, 576) == -1
    try:
        _kernels.tune_load([(*product[:6], 1)])
        assert _kernels.tune_count() == 1
        assert _kernels.tune_variant("conv2d", "float32", 81, 40, 576) == 1
        assert _kernels.tune_variant("conv2d", "float32", 81, 40, 577) == -1
        assert _kernels.tune_variant("dense", "float32", 81, 40, 576) == -1
    finally:
        _kernels.tune_load([])


def _static_tile(dtype, rows, cols):
    """The static rule, modelled from the registry: least padded work times the
    tile's cost; within FC_TILE_TIE_PERMILLE of the least, the first listed."""
    return pick_tile(igemm_table(dtype), rows, cols, _kernels.COSTS["FC_TILE_TIE_PERMILLE"] / 1000)[0]


@pytest.mark.parametrize("hw, k", [((56, 56), 64), ((224, 224), 64), ((14, 14), 256), ((28, 28), 28),
                                   ((26, 26), 28), ((5, 7), 40), ((1, 1), 10), ((9, 9), 65)])
def test_the_static_tile_is_the_least_padded_work_with_near_ties_to_the_first_listed(isa, hw, k, rng):
    # (56, 56) by 64: 6x64 pads 2 of 3136 rows where 8x32 pads none; a pass over
    # the rows per 64 columns instead of per 32 wins (costs.def)
    x = rng.standard_normal((1, *hw, 16)).astype(np.float32)
    w = rng.standard_normal((1, 1, 16, k)).astype(np.float32)
    _kernels.tune_seen(True)
    fastconv.conv2d(x, w, layout="NHWC")
    (product,) = _kernels.tune_seen(True)
    assert product[1] == isa and product[6] == _static_tile("float32", hw[0] * hw[1], k), product


def test_explain_says_why_the_tile(rng):
    x = rng.standard_normal((2, 9, 9, 64)).astype(np.float32)
    w = rng.standard_normal((3, 3, 64, 40)).astype(np.float32)
    static = fastconv.explain(fastconv.conv2d, x, w, padding=1, layout="NHWC")
    assert "least padded work" in str(static) and "tuned_tile" not in static.blocking["flags"]
    tiles = _kernels.igemm_tiles("float32")
    if len(tiles) < 2:
        return  # one tile (scalar or avx2 table): there is nothing to choose
    other = next(v for v, t in enumerate(tiles) if t != static.tile)
    try:
        _kernels.tune_load([("conv2d", _kernels.current_isa(), "float32", 81, 40, 576, other)])
        tuned = fastconv.explain(fastconv.conv2d, x, w, padding=1, layout="NHWC")
    finally:
        _kernels.tune_load([])
    assert tuned.tile == tiles[other] and "the autotuner's choice" in str(tuned), str(tuned)


def test_load_refuses_bad_tables():
    with pytest.raises(ValueError, match="refused"):
        _kernels.tune_load([("conv2d", "scalar", "float32", 1, 1, 1, 9)])
    with pytest.raises(ValueError, match="refused"):
        _kernels.tune_load([("dense", "scalar", "float32", i + 1, 1, 1, 0) for i in range(4097)])
    with pytest.raises(ValueError, match="no tile variant"):
        _kernels.tune_force(("dense", "scalar", "float32", 1, 1, 1, -2))
    assert _kernels.tune_count() == 0


def _choice(**changes):
    """A choice of the table's last tile (the only one where a table has one,
    as AVX2's float32 table does)."""
    tiles = _kernels.igemm_tiles("float32")
    base = {"site": "dense", "isa": _kernels.current_isa(), "dtype": "float32", "rows": 128, "cols": 32,
            "depth": 4732, "variant": len(tiles) - 1, "tile": list(tiles[-1]),
            "static_us": 240.0, "tuned_us": 200.0}
    return {**base, **changes}


def _write(path, entries, **doc):
    body = {"format": _tuning.FORMAT, "fastconv": fastconv.__version__, "cpu": _tuning.cpu_identity(),
            "threads": 1, "choices": entries, **doc}
    path.write_text(json.dumps(body))
    return path


def test_save_and_load_round_trip(tmp_path):
    choice = _tuning._entry(_choice(), tmp_path)
    path = _tuning.save([choice], tmp_path / "t.json")
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary left
    try:
        assert _tuning.load(path) == [choice]
        assert _kernels.tune_variant("dense", "float32", 128, 32, 4732) == choice.variant
    finally:
        _kernels.tune_load([])


@pytest.mark.parametrize("doc, words", [
    ({"format": "other"}, "not a fastconv tuning file"),
    ({"fastconv": "0.0.0"}, "another CPU or fastconv version"),
    ({"cpu": "another"}, "another CPU or fastconv version"),
    ({"choices": {"a": 1}}, "must be a list"),
])
def test_load_refuses_files_of_another_kind(tmp_path, doc, words):
    with pytest.raises(ValueError, match=words):
        _tuning.load(_write(tmp_path / "t.json", [_choice()], **doc))
    assert _kernels.tune_count() == 0


@pytest.mark.parametrize("bad", [
    {"site": "relu"}, {"isa": "sse9"}, {"dtype": "int8"}, {"rows": 0}, {"rows": 1.5}, {"depth": 1 << 41},
    {"variant": 8}, {"variant": True}, {"tile": [8]}, {"static_us": float("nan")}, {"tuned_us": -1},
])
def test_load_refuses_bad_choices(tmp_path, bad):
    with pytest.raises(ValueError, match="choice"):
        _tuning.load(_write(tmp_path / "t.json", [_choice(**bad)]))


def test_load_bounds_the_file_before_reading_it(tmp_path):
    path = tmp_path / "t.json"
    with open(path, "wb") as f:
        f.truncate(_tuning.MAX_FILE_BYTES + 1)
    with pytest.raises(ValueError, match="larger than"):
        _tuning.load(path)
    path.write_bytes(b"{" * 100000)
    with pytest.raises(ValueError, match="not JSON"):
        _tuning.load(path)


def test_a_choice_for_another_tile_list_is_left_out(tmp_path):
    tiles = _kernels.igemm_tiles("float32")
    wrong = [tiles[0][0] + 1, tiles[0][1]]
    kept = _tuning.load(_write(tmp_path / "t.json", [_choice(variant=0, tile=wrong), _choice(rows=64)]))
    try:
        assert [c.rows for c in kept] == [64] and _kernels.tune_count() == 1
    finally:
        _kernels.tune_load([])


def test_tune_measures_and_chooses_among_the_tiles():
    x = np.ones((12, 64), np.float32)  # above the GEMV's batches
    w, y = np.ones((64, 20), np.float32), np.empty((12, 20), np.float32)
    lines = []
    choices = _tuning.tune([(_kernels.dense, (x, w, None, y), {})], repeats=1, min_time=0.001,
                           report=lines.append)
    # the forward's product: 12 rows by 20 units over 64 features (batch x units, as it pads
    # less than 20 units by 12 rows)
    assert _kernels.dense_plan(12, 64, 20, True)["algorithm"] == "dense-blocked"
    assert len(lines) == 1 and "dense float32 12x20x64" in lines[0]
    assert _kernels.tune_count() == 0  # tune loads nothing itself
    for c in choices:
        assert c.tuned_us < c.static_us * (1 - _tuning.MARGIN)
        assert tuple(_kernels.igemm_tiles(c.dtype)[c.variant]) == c.tile


def _child_report(env):
    code = ("import fastconv; from fastconv import _kernels; "
            "print(_kernels.tune_count()); print(fastconv.config()['tuning'])")
    return run_python(code, **env).stdout.splitlines()


def test_the_file_is_loaded_at_start_unless_tuning_is_off(tmp_path):
    # the children run this process's ISA: the choice is one of its table's tiles
    env = {"XDG_CACHE_HOME": str(tmp_path), "FASTCONV_ISA": _kernels.current_isa()}
    code = ("from fastconv import _tuning, _kernels; import json, sys; "
            "c = _tuning._entry(json.loads(sys.argv[1]), None); _tuning.save([c])")
    run_python(code.replace("sys.argv[1]", repr(json.dumps(_choice()))), **env)
    count, status = _child_report(env)
    assert count == "1" and "1 tuned tile choices from" in status
    count, status = _child_report({**env, "FASTCONV_TUNE": "off"})
    assert count == "0" and status.startswith("off")


def test_a_damaged_file_is_ignored_with_a_warning(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    path = run_python("from fastconv import _tuning; print(_tuning.cache_file())", **env).stdout.strip()
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write('{"format": "fastconv-tuning", "choi')
    result = run_python("import warnings; warnings.simplefilter('always'); import fastconv; "
                        "from fastconv import _kernels; print(_kernels.tune_count())", **env)
    assert result.stdout.strip() == "0"
    assert "ignoring the tuning file" in result.stderr


def test_the_cli_tunes_saves_and_clears(tmp_path, monkeypatch, capsys):
    from fastconv.__main__ import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    x, w, y = np.ones((16, 32), np.float32), np.ones((32, 8), np.float32), np.empty((16, 8), np.float32)
    monkeypatch.setattr(_tuning, "default_calls", lambda: [(_kernels.dense, (x, w, None, y), {})])
    try:
        assert main(["tune", "--repeats", "1", "--min-time", "0.001"]) == 0
        out = capsys.readouterr().out
        assert "tuning for" in out and "dense float32 8x16x32" in out and "saved" in out
        assert _tuning.cache_file().exists()
        assert main(["tune", "--clear"]) == 0
        assert not _tuning.cache_file().exists()
    finally:
        _kernels.tune_load([])


# ---- first-use tuning ----------------------------------------------------------------

_LEARN = """
import json
import numpy as np
import fastconv
from fastconv import _kernels

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 64, 24, 24), dtype=np.float32)  # 576 x 64 x 576: above the bound
w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
small = rng.standard_normal((1, 32, 5, 5), dtype=np.float32)
_kernels.tune_seen(True)
y = fastconv.conv2d(x, w, padding=1)
products = _kernels.tune_seen(True)
learned = _kernels.tune_learned()
plan = fastconv.explain(fastconv.conv2d, x, w, padding=1)
fastconv.conv2d(x, w, padding=1)
fastconv.conv2d(small, w[:, :32], padding=1)  # 25 x 64 x 288: too small to time
was = _kernels.tune_learning(False)
static = fastconv.conv2d(x, w, padding=1)
print(json.dumps({"on": was, "products": products, "learned": learned,
                  "after": _kernels.tune_learned(), "tile": plan.tile,
                  "flags": plan.blocking["flags"], "tiles": _kernels.igemm_tiles("float32"),
                  "same": bool(np.array_equal(y, static))}))
"""


def test_a_large_product_is_timed_once_at_first_use_and_keeps_the_bits():
    r = json.loads(run_python(_LEARN).stdout)
    assert r["on"], "first-use tuning is on by default"
    (product,) = [tuple(p) for p in r["products"]]
    if len(r["tiles"]) < 2:
        assert r["learned"] == [], "one tile: nothing to time"
        return
    (learned,) = [tuple(e) for e in r["learned"]]
    assert learned[:6] == product[:6] and learned[7] == product[6]  # the static variant it beat or kept
    assert r["after"] == r["learned"], "timed once; small products are not timed"
    assert tuple(r["tile"]) == tuple(r["tiles"][learned[6]])  # explain names the learned tile
    assert ("tuned_tile" in r["flags"]) == (learned[6] != learned[7])
    assert r["same"], "the learned tile gives the static tile's bits"


def test_first_use_tuning_is_off_with_fastconv_tune_off():
    r = json.loads(run_python(_LEARN, FASTCONV_TUNE="off").stdout)
    assert not r["on"] and r["learned"] == [] and r["after"] == []
    assert "tuned_tile" not in r["flags"] and r["same"]


def test_first_use_tuning_is_bounded():
    code = """
    import numpy as np
    from fastconv import _kernels
    w = np.ones((2048, 128), np.float32)
    for batch in range(32, 32 + 80):  # 80 dense products of 128 x batch x 2048
        x = np.ones((batch, 2048), np.float32)
        _kernels.dense(x, w, None, np.empty((batch, 128), np.float32))
    print(len(_kernels.tune_learned()))
    """
    if len(_kernels.igemm_tiles("float32")) < 2:
        pytest.skip(f"the {_kernels.current_isa()} table has one float32 tile: nothing to time")
    assert run_python(code).stdout.strip() == "64"


def test_tune_times_whole_calls_with_first_use_off():
    x = np.ones((40, 2048), np.float32)  # 128 x 40 x 2048: a product first use would time
    w, y = np.ones((2048, 128), np.float32), np.empty((40, 128), np.float32)
    before = _kernels.tune_learned()
    seen = []
    _tuning.tune([(_kernels.dense, (x, w, None, y), {})], repeats=1, min_time=0.001,
                 report=seen.append)
    assert len(seen) == 1 and "dense float32 128x40x2048" in seen[0]
    assert _kernels.tune_learned() == before and _kernels.tune_learning() is _tuning.enabled()


def test_tune_and_first_use_share_one_rule():
    """fastconv tune decides by the C planner's rule (fc_tune_pick): a median
    (the mean of the middle two for an even count) faster by MARGIN, and wins in
    four rounds of five."""
    static = [1.0] * 4
    assert _kernels.tune_pick([static, [0.98, 0.90, 0.98, 0.90]], 0) == 1  # median 0.94
    assert _kernels.tune_pick([static, [0.98, 0.99, 0.98, 0.99]], 0) == 0  # 1.5% faster
    assert _kernels.tune_pick([static, [0.8, 0.8, 1.01, 1.01]], 0) == 0    # median 0.905, 2 wins of 4
    assert _kernels.tune_pick([[2.0] * 4, static, [0.5] * 4], 1) == 2
    # first use, on a slice of the product: 10% faster, as fastconv.h says
    assert _tuning.LEARN_MARGIN == _kernels.TUNE_LEARN_MARGIN == 0.10
    faster = [static, [0.92, 0.92, 0.92, 0.92]]
    assert _kernels.tune_pick(faster, 0) == 1
    assert _kernels.tune_pick(faster, 0, _tuning.LEARN_MARGIN) == 0
    assert _kernels.tune_pick([static, [0.88] * 4], 0, _tuning.LEARN_MARGIN) == 1
    with pytest.raises(ValueError, match="same number of rounds"):
        _kernels.tune_pick([static, [1.0]], 0)
