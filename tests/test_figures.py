"""The pictures of `fastconv demo --figures`, `train --plot` and `bench --plot`, read back from
the PNG files with Pillow and checked against numbers computed here: the lecture's feature maps
by a direct loop (the shade of every cell), the model's votes as printed on stdout (the height of
every bar), learning curves of known values (the place of every marker).

Where a panel lies in a picture comes from the picture's own "fastconv" text chunk (its pixel
box); what it must show comes from here. A picture that draws the wrong numbers, or places or
scales them wrongly, fails."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from test_cli import (
    MNIST_5K,
    fastconv_cli,
    lecture_worked_example,
    needs_mnist,
    offline_env,
)

TAB_BLUE = (31, 119, 180)     # matplotlib's tab:blue: training curves, vote bars
TAB_ORANGE = (255, 127, 14)   # tab:orange: validation curves

DEMO_SIZES = {"01-x-and-o.png": (1050, 420), "02-filters.png": (1050, 420),
              "03-feature-maps.png": (1050, 420), "04-relu.png": (1050, 420),
              "05-pooled.png": (1050, 420), "06-votes.png": (1000, 560),
              "07-learning-curves.png": (1000, 420)}


def read_png(path: Path) -> tuple[np.ndarray, dict]:
    """(RGB pixels (H, W, 3) uint8, the "fastconv" text chunk as JSON) of a PNG file."""
    with Image.open(path) as im:
        assert im.format == "PNG", f"{path}: {im.format}"
        im.load()
        meta = json.loads(im.text["fastconv"])
        return np.asarray(im.convert("RGB")), meta


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])


def colour_mask(rgb: np.ndarray, colour: tuple[int, int, int], tol: int = 30) -> np.ndarray:
    return (np.abs(rgb.astype(int) - np.array(colour)) <= tol).all(axis=-1)


def cell_shades(rgb: np.ndarray, bbox, shape) -> np.ndarray:
    """The mean luminance of a patch near the top-left corner of every cell of a grid drawn
    in `bbox`: away from the value printed in the cell's middle and from the cell's edges."""
    left, top, right, bottom = bbox
    rows, cols = shape
    ch, cw = (bottom - top) / rows, (right - left) / cols
    shades = np.empty(shape)
    for i in range(rows):
        for j in range(cols):
            y0, x0 = top + i * ch, left + j * cw
            patch = rgb[int(y0 + 0.1 * ch):math.ceil(y0 + 0.22 * ch),
                        int(x0 + 0.1 * cw):math.ceil(x0 + 0.22 * cw)]
            shades[i, j] = luminance(patch).mean()
    return shades


def assert_shades_order_like(shades: np.ndarray, values: np.ndarray, what: str) -> None:
    """Larger value, lighter cell (by at least 2 grey levels); equal values, equal shades."""
    v, s = values.ravel(), shades.ravel()
    for a in range(len(v)):
        for b in range(len(v)):
            if v[a] < v[b] - 1e-6:
                assert s[a] < s[b] - 2, (f"{what}: cell {divmod(a, values.shape[1])} = {v[a]:.3f} is "
                                         f"shaded {s[a]:.1f}, cell {divmod(b, values.shape[1])} = "
                                         f"{v[b]:.3f} {s[b]:.1f}")
            elif abs(v[a] - v[b]) <= 1e-6:
                assert abs(s[a] - s[b]) <= 2, f"{what}: equal values {v[a]:.3f}, shades {s[a]:.1f}, {s[b]:.1f}"


def markers(rgb: np.ndarray, bbox, colour) -> list[tuple[float, float]]:
    """Centres (x, y in pixels) of the filled markers of one colour inside `bbox`: the
    colour's pixels, eroded so the thin lines joining the markers vanish, in connected blobs."""
    left, top, right, bottom = bbox
    mask = colour_mask(rgb[top:bottom, left:right], colour)
    mask = ndimage.binary_erosion(mask, np.ones((5, 5), bool))
    labels, n = ndimage.label(mask)
    centres = ndimage.center_of_mass(mask, labels, range(1, n + 1))
    return sorted((left + x, top + y) for y, x in centres)


def to_data(point, panel) -> tuple[float, float]:
    """A pixel position as (x, y) on a panel's axes, from its box and limits."""
    (px, py), (left, top, right, bottom) = point, panel["bbox"]
    (x0, x1), (y0, y1) = panel["xlim"], panel["ylim"]
    return (x0 + (px - left) / (right - left) * (x1 - x0), y1 - (py - top) / (bottom - top) * (y1 - y0))


def assert_curve(rgb, panel, colour, values, what) -> None:
    """One marker per epoch, at (epoch, value), within a pixel and a half."""
    found = [to_data(p, panel) for p in markers(rgb, panel["bbox"], colour)]
    want = [(e + 1, v) for e, v in enumerate(values) if math.isfinite(v)]
    assert len(found) == len(want), f"{what}: {len(found)} markers for {len(want)} values: {found}"
    (x0, x1), (y0, y1) = panel["xlim"], panel["ylim"]
    left, top, right, bottom = panel["bbox"]
    for (fx, fy), (wx, wy) in zip(found, want):
        assert abs(fx - wx) <= 1.5 * (x1 - x0) / (right - left), f"{what}: marker at epoch {fx:.2f}, not {wx}"
        assert abs(fy - wy) <= 1.5 * (y1 - y0) / (bottom - top), f"{what}: epoch {wx} at {fy:.4f}, not {wy:.4f}"


# ---- fastconv demo --figures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_pictures(tmp_path_factory):
    """`fastconv demo --epochs 2 --figures DIR`, DIR not there yet, once, offline."""
    tmp = tmp_path_factory.mktemp("demo-figures")
    folder = tmp / "figures"
    done = fastconv_cli("demo", "--epochs", "2", "--figures", folder, env=offline_env(tmp), cwd=tmp)
    assert done.returncode == 0, done.stderr
    return done, folder


def test_demo_figures_are_pngs_of_the_documented_sizes(demo_pictures):
    done, folder = demo_pictures
    assert sorted(p.name for p in folder.iterdir()) == sorted(DEMO_SIZES)  # no temporary files left
    for name, size in DEMO_SIZES.items():
        with Image.open(folder / name) as im:
            im.verify()
        with Image.open(folder / name) as im:
            assert (im.format, im.size) == ("PNG", size), name
            im.load()
    assert f"Wrote 7 pictures to {folder}" in done.stdout


@pytest.mark.parametrize("name, key", [("02-filters.png", "filters"), ("03-feature-maps.png", "maps"),
                                       ("04-relu.png", "relu"), ("05-pooled.png", "pooled")])
def test_demo_grid_cells_are_shaded_in_the_order_of_the_lectures_values(demo_pictures, name, key):
    _, folder = demo_pictures
    maps, pooled = lecture_worked_example()
    filters = [np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]), np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]]),
               np.array([[-1, -1, 1], [-1, 1, -1], [1, -1, -1]])]
    want = {"filters": filters, "maps": maps, "relu": [np.maximum(m, 0) for m in maps], "pooled": pooled}[key]
    rgb, meta = read_png(folder / name)
    panels = [meta["panels"][f"panel {k + 1}"] for k in range(3)]
    for k, (panel, values) in enumerate(zip(panels, want)):
        assert panel["shape"] == list(values.shape)
        np.testing.assert_allclose(panel["values"], values, atol=1e-6, err_msg=f"{name} panel {k + 1}")
        shades = cell_shades(rgb, panel["bbox"], values.shape)
        assert_shades_order_like(shades, values, f"{name} panel {k + 1}")
    # one grey scale for the three panels: the same value, the same shade in each
    shades = [cell_shades(rgb, p["bbox"], v.shape) for p, v in zip(panels, want)]
    for value in np.unique(np.round(np.concatenate([v.ravel() for v in want]), 6)):
        seen = np.concatenate([s[np.isclose(v, value)] for s, v in zip(shades, want)])
        assert np.ptp(seen) <= 2, f"{name}: value {value} shaded {seen.min():.1f} to {seen.max():.1f}"


def test_demo_x_and_o_picture_shows_the_lectures_x(demo_pictures):
    _, folder = demo_pictures
    rgb, meta = read_png(folder / "01-x-and-o.png")
    x = -np.ones((9, 9))
    for i in range(1, 8):
        x[i, i] = x[i, 8 - i] = 1
    panel = meta["panels"]["panel 1"]
    shades = cell_shades(rgb, panel["bbox"], (9, 9))
    assert (shades[x == 1] > 240).all() and (shades[x == -1] < 15).all(), np.round(shades)
    for k in (2, 3):  # the generated X and O: 28x28 grey cells as their values (0 black, 1 white)
        panel = meta["panels"][f"panel {k}"]
        values = np.array(panel["values"])
        assert values.shape == (28, 28) and values.min() >= 0 and values.max() <= 1
        shades = cell_shades(rgb, panel["bbox"], (28, 28))
        np.testing.assert_allclose(shades, 255 * values, atol=6, err_msg=f"panel {k}")


def test_demo_vote_bars_are_as_tall_as_the_printed_probabilities(demo_pictures):
    done, folder = demo_pictures
    said = re.findall(r"^Image (\d): the model says ([XO]) \((\d+\.\d)%\), it is ([XO])$", done.stdout, re.MULTILINE)
    assert [int(s[0]) for s in said] == [1, 2, 3, 4], done.stdout
    rgb, meta = read_png(folder / "06-votes.png")
    for i, guess, percent, _ in said:
        panel = meta["panels"][f"votes {i}"]
        assert panel["classes"] == ["X", "O"]
        p_guess = float(percent) / 100
        want = {guess: p_guess, ("O" if guess == "X" else "X"): 1 - p_guess}
        left, top, right, bottom = panel["bbox"]
        (x0, x1), (_, y1) = panel["xlim"], panel["ylim"]
        heights = {}
        for k, cls in enumerate(panel["classes"]):
            col = round(left + (k - x0) / (x1 - x0) * (right - left))
            heights[cls] = colour_mask(rgb[top:bottom, col - 2:col + 3], TAB_BLUE).all(axis=1).sum()
        for cls, p in want.items():
            expected = p / y1 * (bottom - top)
            assert abs(heights[cls] - expected) <= 2.5, f"image {i}, {cls}: bar {heights[cls]} px, p {p:.3f} -> {expected:.1f} px"
        assert heights[guess] > heights[min(want, key=want.get)] or p_guess == 0.5


def test_demo_learning_curves_mark_each_epochs_printed_loss_and_accuracy(demo_pictures):
    done, folder = demo_pictures
    epochs = re.findall(r"^Epoch (\d)/2 .*loss: (\d\.\d{4}) - accuracy: (\d\.\d{4})", done.stdout, re.MULTILINE)
    assert [int(e[0]) for e in epochs] == [1, 2], done.stdout
    rgb, meta = read_png(folder / "07-learning-curves.png")
    assert meta["epochs"] == 2 and set(meta["panels"]) == {"loss", "accuracy"}
    for col, metric in ((1, "loss"), (2, "accuracy")):
        assert_curve(rgb, meta["panels"][metric], TAB_BLUE, [float(e[col]) for e in epochs], metric)


# ---- learning curves of known values ------------------------------------------------------------


KNOWN_HISTORY = {"loss": [2.0, 1.2, 0.9, 0.5, 0.6], "accuracy": [0.30, 0.55, 0.70, 0.85, 0.80],
                 "val_loss": [2.2, 1.5, 1.4, 0.8, 1.0], "val_accuracy": [0.15, 0.40, 0.52, 0.65, 0.62]}


def test_learning_curves_put_one_marker_per_epoch_at_each_value(tmp_path):
    from fastconv import _figures

    path = tmp_path / "curves.png"
    _figures.training_curves(path, KNOWN_HISTORY, "known values")
    rgb, meta = read_png(path)
    assert rgb.shape == (420, 1000, 3) and meta["epochs"] == 5
    for metric in ("loss", "accuracy"):
        panel = meta["panels"][metric]
        assert_curve(rgb, panel, TAB_BLUE, KNOWN_HISTORY[metric], metric)
        assert_curve(rgb, panel, TAB_ORANGE, KNOWN_HISTORY[f"val_{metric}"], f"val_{metric}")


def test_learning_curves_catch_a_wrong_value(tmp_path):
    """The check above can fail: a curve drawn from other values does not pass it."""
    from fastconv import _figures

    path = tmp_path / "curves.png"
    _figures.training_curves(path, {**KNOWN_HISTORY, "loss": [2.0, 1.2, 0.7, 0.5, 0.6]}, "one value off")
    rgb, meta = read_png(path)
    with pytest.raises(AssertionError, match="epoch 3"):
        assert_curve(rgb, meta["panels"]["loss"], TAB_BLUE, KNOWN_HISTORY["loss"], "loss")


def test_learning_curves_leave_out_values_that_are_not_finite(tmp_path):
    from fastconv import _figures

    history = {"loss": [1.0, math.nan, 0.5, math.inf], "accuracy": [0.5, 0.6, 0.7, 0.8]}
    path = tmp_path / "curves.png"
    _figures.training_curves(path, history, "diverged")
    rgb, meta = read_png(path)
    assert meta["panels"]["loss"]["series"]["loss"] == [1.0, None, 0.5, None]
    assert_curve(rgb, meta["panels"]["loss"], TAB_BLUE, history["loss"], "loss")
    assert_curve(rgb, meta["panels"]["accuracy"], TAB_BLUE, history["accuracy"], "accuracy")


@pytest.mark.parametrize("suffix, magic", [("svg", b"<?xml"), ("pdf", b"%PDF-")])
def test_a_plot_named_svg_or_pdf_is_written_as_such(tmp_path, suffix, magic):
    from fastconv import _figures

    path = tmp_path / f"curves.{suffix}"
    _figures.training_curves(path, KNOWN_HISTORY, "vector")
    assert path.read_bytes().startswith(magic)


def test_drawing_leaves_the_backend_and_pyplot_alone(tmp_path):
    """Figure + Agg canvas: the process's backend is what it was and pyplot is never imported."""
    code = f"""
import sys, matplotlib
matplotlib.use("svg")
from fastconv import _figures
_figures.training_curves({str(tmp_path / 'c.png')!r}, {{"loss": [1.0, 0.5]}}, "t")
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=offline_env(tmp_path), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "False"]
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- fastconv bench --plot ------------------------------------------------------------------------


def test_bench_plot_labels_its_axes_and_marks_peers_that_did_not_run(tmp_path, monkeypatch):
    """Torch blocked (not installed), NumPy timed, SciPy left out by --vs (not run): bars for
    NumPy, a marked outline for the others, a legend naming each, y-ticks labelled "...x"."""
    from fastconv import _figures
    from fastconv.__main__ import main

    monkeypatch.setitem(sys.modules, "torch", None)
    figures = []
    save = _figures.save_figure

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(_figures, "save_figure", keep)
    path = tmp_path / "speedups.png"
    assert main(["bench", "--smoke", "--threads", "1", "--areas", "relu,dropins", "--vs", "numpy,torch",
                 "--plot", str(path)]) == 0
    rgb, meta = read_png(path)
    assert rgb.shape[1] == 1080
    (fig,) = figures
    relu = next(ax for ax in fig.axes if ax.get_title() == "relu, float32")
    assert relu.get_xlabel() and relu.get_ylabel() == "fastconv speed-up"
    ticks = [t.get_text() for t in relu.get_yticklabels()]
    assert len(ticks) >= 2 and all(re.fullmatch(r"[\d.]+x", t) for t in ticks), ticks
    legend = [t.get_text() for t in relu.get_legend().get_texts()]
    assert legend == ["vs numpy, 1 thread", "vs torch, 1 thread: not installed"], legend
    assert "not installed" in [t.get_text() for t in relu.texts]
    speedups = meta["panels"]["relu"]["speedups"]
    assert speedups["vs torch, 1 thread"] == {"relu": "not installed"}
    assert speedups["vs numpy, 1 thread"]["relu"] > 0
    dropins = meta["panels"]["dropins"]["speedups"]
    assert set(dropins["vs scipy, 1 thread"].values()) == {"not run (--vs)"}, dropins
    dropins_ax = next(ax for ax in fig.axes if ax.get_title().startswith("drop-ins"))
    assert any(t.get_text() == "vs scipy, 1 thread: not run (--vs)" for t in dropins_ax.get_legend().get_texts())


@pytest.mark.parametrize("lo, hi", [(0.5, 20.0), (1.1, 1.9), (0.02, 900.0), (2.6, 3.4)])
def test_bench_speedup_ticks_give_at_least_two_labels_in_any_range(lo, hi):
    from fastconv._bench.cli import speedup_ticks

    ticks = speedup_ticks(lo / 1.6, hi * 2.2)  # the plot's margins around its values
    assert len(ticks) >= 2 and all(lo / 1.6 <= t <= hi * 2.2 for t in ticks), ticks


# ---- fastconv train --plot -----------------------------------------------------------------------


def epoch_values(out: str, epochs: int) -> dict[str, list[float]]:
    """Per-epoch metrics as `fit` printed them ("Epoch 2/3 - ... - loss: 0.2777 - ...")."""
    lines = re.findall(rf"^Epoch (\d+)/{epochs} (.*)$", out, re.MULTILINE)
    assert [int(e) for e, _ in lines] == list(range(1, epochs + 1)), out
    values: dict[str, list[float]] = {}
    for _, rest in lines:
        for key, value in re.findall(r"(\w+): (\d+\.\d{4})", rest):
            values.setdefault(key, []).append(float(value))
    return values


@needs_mnist
@pytest.mark.parametrize("split", [None, "0.2"], ids=["no-validation", "validation"])
def test_train_plot_marks_each_epochs_printed_values(tmp_path, split):
    """Three epochs on the shared digits: a marker per epoch at the loss and accuracy `fit`
    printed; with --validation-split the validation markers too (drawn last, so never
    hidden: the training markers are checked where nothing is drawn over them)."""
    plot = tmp_path / "curves.png"
    args = ["train", "--data", MNIST_5K, "--epochs", "3", "--seed", "0", "--verbose", "2", "--plot", plot]
    done = fastconv_cli(*args, *(["--validation-split", split] if split else []), env=offline_env(tmp_path),
                        cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"plotted to {plot}" in done.stdout
    printed = epoch_values(done.stdout, 3)
    rgb, meta = read_png(plot)
    assert rgb.shape == (420, 1000, 3) and meta["epochs"] == 3
    for metric in ("loss", "accuracy"):
        panel = meta["panels"][metric]
        np.testing.assert_allclose(panel["series"][metric], printed[metric], atol=5e-5)
        if split:
            assert "4000 images (1000 more held out for validation)" in done.stdout
            np.testing.assert_allclose(panel["series"][f"val_{metric}"], printed[f"val_{metric}"], atol=5e-5)
            assert_curve(rgb, panel, TAB_ORANGE, printed[f"val_{metric}"], f"val_{metric}")
        else:
            assert set(panel["series"]) == {metric}
            assert_curve(rgb, panel, TAB_BLUE, printed[metric], metric)
