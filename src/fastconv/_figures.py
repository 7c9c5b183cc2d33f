"""The command line's pictures: the lecture's worked example, the model's votes and the learning
curves (`fastconv demo --figures`, `fastconv train --plot`); `fastconv bench --plot` draws its
speed-ups with the same canvas and writer.

Drawn on `matplotlib.figure.Figure` objects with the Agg canvas attached directly, never through
pyplot, so the caller's backend and pyplot's figure list stay as they were. Files are written
atomically (`_files.atomic_write`), as PNG of a fixed size in pixels unless the name ends in
.svg or .pdf. Each PNG carries a text chunk
``fastconv`` holding JSON: what the picture shows, the numbers drawn, and where each panel's
plotting area lies in the picture (``bbox``: left, top, right, bottom in pixels, from the
top-left corner), so the picture can be checked against its numbers.
"""
from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write

DPI = 100
GRID_SIZE = (1050, 420)    # the worked example's pictures, three panels side by side
VOTES_SIZE = (1000, 560)   # four test images over their class probabilities
CURVES_SIZE = (1000, 420)  # one panel per metric

DEMO_FIGURES = ("01-x-and-o.png", "02-filters.png", "03-feature-maps.png", "04-relu.png",
                "05-pooled.png", "06-votes.png", "07-learning-curves.png")


# ---- the canvas and the file ---------------------------------------------------------------


def new_figure(width_px: int, height_px: int):
    """A Figure of exactly width_px x height_px pixels on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | os.PathLike, about: dict[str, Any], panels: dict[str, tuple]) -> None:
    """Draw `fig` and write it to `path` atomically: as SVG or PDF if the name ends so, else
    as PNG. `panels` maps a panel's name to (axes, facts about it); a PNG's text chunk gets
    `about` and, per panel, the facts and the axes' pixel box."""
    from . import __version__

    buf = io.BytesIO()
    vector = os.fspath(path).lower().rsplit(".", 1)[-1]
    if vector in ("svg", "pdf"):
        fig.savefig(buf, format=vector, metadata={"Title": about.get("title", "")})
    else:
        fig.canvas.draw()
        height = fig.canvas.get_width_height()[1]
        described = {}
        for name, (ax, facts) in panels.items():
            box = ax.get_window_extent()  # display coordinates: origin at the bottom left
            described[name] = {"bbox": [round(box.x0), round(height - box.y1), round(box.x1),
                                        round(height - box.y0)], **facts}
        text = json.dumps({**about, "panels": described}, separators=(",", ":"), allow_nan=False)
        fig.canvas.print_png(buf, metadata={"Software": f"fastconv {__version__}",
                                            "Title": about.get("title", ""), "fastconv": text})
    with atomic_write(path) as f:
        f.write(buf.getvalue())


def _finite(values) -> list[float | None]:
    """Floats for JSON: NaN and infinities become None."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float).ravel()]


# ---- the worked example --------------------------------------------------------------------


def _grid(ax, values: np.ndarray, title: str, fmt: str | None, vmin: float = -1.0, vmax: float = 1.0) -> dict:
    """`values` as grey cells (vmin black, vmax white), each value printed in its cell."""
    ax.imshow(values, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    if fmt:
        size = 12 if max(values.shape) <= 4 else 10 if max(values.shape) <= 9 else 0
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, fmt.format(v + 0.0), ha="center", va="center", fontsize=size,
                    color="black" if v > (vmin + vmax) / 2 else "white")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=11)
    return {"title": title, "shape": list(values.shape), "vmin": vmin, "vmax": vmax,
            "values": [_finite(row) for row in values]}


FILTER_NAMES = ("diagonal", "X", "anti-diagonal")


def _grids(path: Path, title: str, arrays, names, fmt, vmin=-1.0, vmax=1.0) -> None:
    fig = new_figure(*GRID_SIZE)
    fig.suptitle(title, fontsize=12)
    axes = fig.subplots(1, len(arrays))
    panels = {}
    for k, (ax, a, name) in enumerate(zip(np.atleast_1d(axes), arrays, names)):
        panels[f"panel {k + 1}"] = (ax, _grid(ax, np.asarray(a, dtype=float), name, fmt, vmin, vmax))
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.04, top=0.82, wspace=0.15)
    save_figure(fig, path, {"title": title, "figure": path.stem}, panels)


def demo_figures(result: dict, directory: str | os.PathLike) -> list[Path]:
    """Write the lecture's pictures from what `fastconv._demo.run` computed into `directory`
    (which exists): the X and O images, the filters, the feature maps, after ReLU, after
    pooling, the model's votes and the learning curves. Returns the paths written."""
    folder = Path(directory)
    paths = [folder / name for name in DEMO_FIGURES]
    maps = "feature map (convolution / 9), 7x7"
    x_image, o_image = result["xo_examples"]
    images = [(result["image"], "the lecture's 9x9 X", "{:.0f}", -1.0, 1.0),
              (x_image, "an X of the training set", None, 0.0, 1.0),
              (o_image, "an O of the training set", None, 0.0, 1.0)]
    fig = new_figure(*GRID_SIZE)
    fig.suptitle("The pictures: the lecture's X, and an X and an O the CNN learns from", fontsize=12)
    panels = {}
    for k, (ax, (img, name, fmt, lo, hi)) in enumerate(zip(fig.subplots(1, 3), images)):
        panels[f"panel {k + 1}"] = (ax, _grid(ax, np.asarray(img, dtype=float), name, fmt, lo, hi))
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.04, top=0.82, wspace=0.15)
    save_figure(fig, paths[0], {"title": "X and O", "figure": paths[0].stem}, panels)

    names = [f"filter {k + 1}: {n}" for k, n in enumerate(FILTER_NAMES)]
    _grids(paths[1], "The three 3x3 filters", result["filters"], names, "{:.0f}")
    _grids(paths[2], f"Each filter slid over the X: the {maps}", result["maps"],
           [f"filter {k + 1} ({n})" for k, n in enumerate(FILTER_NAMES)], "{:.2f}")
    _grids(paths[3], "After ReLU: negatives set to 0", result["relu"],
           [f"filter {k + 1} ({n})" for k, n in enumerate(FILTER_NAMES)], "{:.2f}")
    _grids(paths[4], "After 2x2 max-pooling, stride 2: 4x4", result["pooled"],
           [f"filter {k + 1} ({n})" for k, n in enumerate(FILTER_NAMES)], "{:.2f}")
    images, labels, probs = result["examples"]
    votes(paths[5], images, labels, probs, result["classes"])
    training_curves(paths[6], result["history"], "The CNN learning X versus O")
    return paths


# ---- votes ---------------------------------------------------------------------------------


def votes(path: str | os.PathLike, images, labels, probs, classes) -> None:
    """Each image over a bar chart of the model's probabilities per class (the votes)."""
    n = len(images)
    fig = new_figure(*VOTES_SIZE)
    fig.suptitle("The model's votes: its probability for each class, on images it never saw",
                 fontsize=12)
    axes = fig.subplots(2, n, squeeze=False, gridspec_kw={"height_ratios": (1, 1.2)})
    panels = {}
    top = 1.18  # room for the labels over a bar of 100%
    for i in range(n):
        p = np.asarray(probs[i], dtype=float)
        guess = int(p.argmax())
        ax = axes[0, i]
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"says {classes[guess]}, is {classes[int(labels[i])]}", fontsize=10)
        ax = axes[1, i]
        bars = ax.bar(range(len(p)), p, width=0.6, color="tab:blue")
        ax.bar_label(bars, labels=[f"{v:.1%}" for v in p], fontsize=9)
        ax.set_xlim(-0.5, len(p) - 0.5)
        ax.set_ylim(0, top)
        ax.set_xticks(range(len(p)), list(classes))
        ax.set_yticks([0, 0.5, 1], ["0", "50%", "100%"])
        if i == 0:
            ax.set_ylabel("probability")
        ax.set_xlabel("class")
        panels[f"votes {i + 1}"] = (ax, {"probabilities": _finite(p), "ylim": [0, top],
                                         "xlim": [-0.5, len(p) - 0.5], "classes": list(classes),
                                         "label": classes[int(labels[i])]})
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.09, top=0.88, hspace=0.35, wspace=0.35)
    save_figure(fig, path, {"title": "votes", "figure": Path(path).stem}, panels)


# ---- learning curves -----------------------------------------------------------------------


def training_curves(path: str | os.PathLike, history: dict[str, list[float]], title: str) -> None:
    """One panel per metric of `history` (Keras' History.history: "loss", "accuracy", ...):
    the value after each epoch, with the "val_" metric beside it when there is validation.
    Each value is a marker (circles: training; squares: validation) joined by lines."""
    metrics = [k for k in history if not k.startswith("val_")]
    epochs = max((len(v) for v in history.values()), default=0)
    fig = new_figure(*CURVES_SIZE)
    fig.suptitle(f"{title}: {epochs} epoch{'s' if epochs != 1 else ''}", fontsize=12)
    axes = fig.subplots(1, max(len(metrics), 1), squeeze=False)[0]
    panels = {}
    x = np.arange(1, epochs + 1)
    for ax, metric in zip(axes, metrics):
        series = {metric: history[metric]}
        if f"val_{metric}" in history:
            series[f"val_{metric}"] = history[f"val_{metric}"]
        finite = [v for vals in series.values() for v in vals if math.isfinite(v)]
        bounded = metric in ("accuracy", "acc")
        hi = 1.0 if bounded or not finite else max(max(finite), 0.0) or 1.0
        lo = 0.0 if bounded or not finite else min(min(finite), 0.0)
        ylim = [lo, hi + 0.08 * (hi - lo)]
        for name, vals in series.items():
            ys = np.array([v if math.isfinite(v) else np.nan for v in vals], dtype=float)
            val = name.startswith("val_")
            ax.plot(x[:len(ys)], ys, color="tab:orange" if val else "tab:blue", linewidth=1.2,
                    marker="s" if val else "o", markersize=9, label="validation" if val else "training")
        ax.set_xlim(0.5, epochs + 0.5)
        ax.set_ylim(*ylim)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric, fontsize=11)
        ax.grid(True, alpha=0.3)
        panels[metric] = (ax, {"xlim": [0.5, epochs + 0.5], "ylim": ylim,
                               "series": {k: _finite(v) for k, v in series.items()}})
    handles, labels = axes[0].get_legend_handles_labels() if metrics else ([], [])
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.92), ncol=len(handles),
                   fontsize=10, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.80, wspace=0.25)
    save_figure(fig, path, {"title": title, "figure": "learning-curves", "epochs": epochs}, panels)
