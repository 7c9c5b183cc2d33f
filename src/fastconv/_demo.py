"""`fastconv demo`: the image-classification lecture, end to end, offline.

1. The lecture's worked example: a 9x9 "X", three 3x3 filters, the feature
   maps (convolution / 9), ReLU, and 2x2 max-pooling.
2. The lecture's 1-D example, [5, 3, 2, 5, 9, 7] slid under [1, 2, 3].
3. The lecture's CNN (Conv2D(28, 3x3) -> MaxPooling2D -> Flatten -> Dense(128,
   relu) -> Dropout(0.2) -> Dense(softmax)) trained with Adam on generated X-vs-O
   images (shifted, scaled, noisy, varied strokes: the lecture's own task), then
   its accuracy on unseen images and a few predictions.
"""
from __future__ import annotations

import time

import numpy as np

from . import nn

LECTURE_FILTERS = np.array([
    [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],  # diagonal
    [[1, -1, 1], [-1, 1, -1], [1, -1, 1]],    # the X itself
    [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]],  # anti-diagonal
], dtype=np.float32)
CLASSES = ("X", "O")


def lecture_image() -> np.ndarray:
    """The lecture's 9x9 picture of an X: +1 on both diagonals of the inner 7x7, -1 elsewhere."""
    img = -np.ones((9, 9), dtype=np.float32)
    for i in range(1, 8):
        img[i, i] = img[i, 8 - i] = 1
    return img


def worked_example() -> dict[str, np.ndarray]:
    """Feature maps, ReLU maps and pooled maps of the lecture's example (NCHW)."""
    x = lecture_image()[None, None]
    w = LECTURE_FILTERS[:, None]
    maps = nn.conv2d(x, w) / 9.0
    rect = nn.relu(maps)
    pooled = nn.max_pool2d(rect, 2, stride=2, ceil_mode=True)
    return {"image": x[0, 0], "filters": LECTURE_FILTERS, "maps": maps[0], "relu": rect[0],
            "pooled": pooled[0]}


def _grid(a: np.ndarray, fmt: str = "{:5.2f}") -> str:
    return "\n".join("  " + " ".join(fmt.format(v) for v in row) for row in a)


def _picture(img: np.ndarray) -> str:
    """An image as text: darker characters for larger values."""
    ramp = " .:-=+*#%@"
    lo, hi = float(img.min()), float(img.max())
    scale = (len(ramp) - 1) / (hi - lo) if hi > lo else 0.0
    return "\n".join("  " + "".join(ramp[int((v - lo) * scale)] * 2 for v in row) for row in img)


# ---- the X-vs-O data set ---------------------------------------------------------------------


def make_xo(n: int, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` images (size x size, float32 in [0, 1]) of hand-drawn-like X's (label 0)
    and O's (label 1): random centre, size, stroke width, slant and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, size, size), dtype=np.float32)
    labels = rng.integers(0, 2, n)
    for i in range(n):
        r = rng.uniform(0.22, 0.38) * size              # half the extent of the shape
        cy, cx = rng.uniform(r + 1, size - r - 1, 2)    # shifted anywhere it fits
        width = rng.uniform(0.8, 2.2)                   # stroke thickness
        dy, dx = yy - cy, xx - cx
        if labels[i] == 0:  # X: two strokes through the centre at random slants
            a1, a2 = rng.uniform(np.pi / 4 - 0.35, np.pi / 4 + 0.35, 2) * (1, -1)
            d = np.minimum(np.abs(dx * np.sin(a1) - dy * np.cos(a1)), np.abs(dx * np.sin(a2) - dy * np.cos(a2)))
            d = np.where(np.maximum(np.abs(dx), np.abs(dy)) <= r, d, np.inf)
        else:  # O: an ellipse outline
            ry = r * rng.uniform(0.75, 1.0)
            d = np.abs(np.sqrt((dx / r) ** 2 + (dy / ry) ** 2) - 1) * min(r, ry)
        img = np.clip(1.2 - d / width, 0, 1) * rng.uniform(0.7, 1.0)
        img += rng.normal(0, 0.08, img.shape)           # sensor noise
        images[i] = np.clip(img, 0, 1)
    return images, labels


def lecture_model(n_classes: int, input_shape=(28, 28, 1), seed: int | None = None):
    """The lecture's Keras CNN, built from fastconv.layers."""
    from .layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from .models import Sequential

    model = Sequential()
    model.add(Conv2D(28, kernel_size=(3, 3), input_shape=input_shape, seed=seed))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu", seed=seed))
    model.add(Dropout(0.2))
    model.add(Dense(n_classes, activation="softmax", seed=seed))
    return model


def run(figures: str | None = None, epochs: int = 3, n_train: int = 2000, seed: int = 0) -> dict:
    """Print the lecture end to end; return what was computed. With `figures` (an existing
    directory), also draw it there as PNG files (`fastconv._figures.demo_figures`)."""
    from . import utils

    out = worked_example()
    print("== 1. The lecture's worked example: a 9x9 picture of an X")
    print(_picture(out["image"]))
    names = ("diagonal", "X", "anti-diagonal")
    for k, name in enumerate(names):
        print(f"\nFilter {k + 1} ({name}):")
        print(_grid(out["filters"][k], "{:3.0f}"))
        print("Feature map (convolution / 9), 7x7:")
        print(_grid(out["maps"][k]))
        print("After ReLU (negatives to 0):")
        print(_grid(out["relu"][k]))
        print("After 2x2 max-pooling, stride 2, 4x4:")
        print(_grid(out["pooled"][k]))

    print("\n== 2. The 1-D example: [5, 3, 2, 5, 9, 7] under the filter [1, 2, 3]")
    signal = np.array([5, 3, 2, 5, 9, 7], dtype=np.float64)
    slid = nn.conv2d(signal.reshape(1, 1, 1, 6), np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3))
    print("  ", slid.ravel().tolist(), "(5*1 + 3*2 + 2*3 = 17, ...)")

    print(f"\n== 3. The lecture's CNN learns X versus O ({n_train} generated training images)")
    utils.set_random_seed(seed)
    x, y = make_xo(n_train + 500, seed=seed)
    x_train, y_train, x_test, y_test = x[:n_train, ..., None], y[:n_train], x[n_train:, ..., None], y[n_train:]
    model = lecture_model(len(CLASSES))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=2)
    took = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Trained {epochs} epochs in {took:.1f} s; accuracy on {len(x_test)} unseen images: "
          f"{acc:.1%} (loss {loss:.3f})")
    probs = model.predict(x_test[:4], verbose=0)
    for i in range(4):
        guess = int(probs[i].argmax())
        print(f"\nImage {i + 1}: the model says {CLASSES[guess]} ({probs[i, guess]:.1%}), "
              f"it is {CLASSES[y_test[i]]}")
        print(_picture(x_test[i, ::2, ::2, 0]))
    # the first X and the first O the model learnt from
    xo = tuple(x_train[int(np.flatnonzero(y_train == label)[0]), :, :, 0] for label in range(len(CLASSES)))
    result = {**out, "history": history.history, "accuracy": acc, "model": model, "classes": CLASSES,
              "examples": (x_test[:4, ..., 0], y_test[:4], probs), "xo_examples": xo}
    if figures:
        from . import _figures

        paths = _figures.demo_figures(result, figures)
        print(f"\nWrote {len(paths)} pictures to {figures}: " + ", ".join(p.name for p in paths))
    return result
