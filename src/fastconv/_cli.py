"""The model commands of the ``fastconv`` command line: ``train``, ``predict``, ``demo``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._files import why_unwritable

# ---- argument types: a bad value is refused while parsing, before any work ----------------


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def seed(text: str) -> int:
    """argparse type: a random seed, an integer >= 0 (as NumPy's generators take)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def output_file(text: str) -> str:
    """argparse type: a file the command will write, checked now rather than
    after the work: its directory exists and takes new files."""
    problem = why_unwritable(text)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {problem}")
    return text


def configure(sub: argparse._SubParsersAction) -> None:
    """Add the train, predict and demo subcommands to `sub`."""
    p = sub.add_parser("demo", help="the image-classification lecture end to end, offline",
                       description="The lecture's worked example (a 9x9 X, three filters, ReLU, "
                                   "pooling), its 1-D example, and its CNN trained on generated "
                                   "X-versus-O images. Needs no download.")
    p.add_argument("--plot", metavar="FILE", type=output_file, help="also draw filters, feature "
                   "maps and the training curve into FILE (needs matplotlib)")
    p.add_argument("--epochs", type=positive_int, default=3, help="training epochs (default 3)")
    p.add_argument("--seed", type=seed, default=0, help="random seed, >= 0 (default 0)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("train", help="train the lecture's CNN on MNIST",
                       description="Train the lecture's CNN (Conv2D(28, 3x3), MaxPooling2D, "
                                   "Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax)) "
                                   "with Adam on MNIST and report the test accuracy.")
    p.add_argument("--data", metavar="DIR", help="folder with the four MNIST IDX files (default: "
                   "$FASTCONV_DATA/mnist, the user cache, else a verified download)")
    p.add_argument("--epochs", type=positive_int, default=10, help="epochs (default 10, as the lecture)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size (default 32)")
    p.add_argument("--save", metavar="FILE", type=output_file,
                   help="save the trained model to FILE")
    p.add_argument("--seed", type=seed, default=None, help="random seed (>= 0) for a reproducible run")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="as Keras' fit")
    p.set_defaults(func=_train)

    p = sub.add_parser("predict", help="classify images with a saved model",
                       description="Print the predicted class and its probability for each "
                                   "image. IMAGES is an IDX file (gzip or raw), a .npy array "
                                   "(N, H, W) or (N, H, W, C), or PNG files (needs Pillow). uint8 "
                                   "pixels are scaled to [0, 1], as `fastconv train` trains.")
    p.add_argument("model", metavar="FILE", help="a model written by `fastconv train --save` "
                   "or Sequential.save")
    p.add_argument("images", metavar="IMAGES", nargs="+", help="the images")
    p.add_argument("--batch-size", type=positive_int, default=256, help="batch size (default 256)")
    p.set_defaults(func=_predict)


def _demo(args: argparse.Namespace) -> int:
    from . import _demo

    _demo.run(plot=args.plot, epochs=args.epochs, seed=args.seed)
    return 0


def _train(args: argparse.Namespace) -> int:
    from . import utils
    from ._demo import lecture_model
    from .datasets import mnist

    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(args.data)
    except (mnist.DatasetNotFoundError, ValueError) as err:
        raise SystemExit(f"fastconv train: {err}") from None
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    if args.seed is not None:
        utils.set_random_seed(args.seed)
    model = lecture_model(10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if args.verbose:
        model.summary()
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    took = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"trained on {len(x_train)} images for {args.epochs} epochs in {took:.1f} s; "
          f"test accuracy {acc:.4f}, loss {loss:.4f} ({len(x_test)} images)")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return 0


def _load_images(paths: list[str]) -> np.ndarray:
    from .datasets.idx import read_idx

    if len(paths) == 1 and not paths[0].lower().endswith(".png"):
        path = paths[0]
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        return read_idx(path)
    try:
        from PIL import Image
    except ImportError:
        raise SystemExit("reading PNG images needs Pillow: pip install pillow") from None
    images = []
    for p in paths:
        if not p.lower().endswith(".png"):
            raise SystemExit(f"{p}: give one IDX or .npy file, or PNG files")
        images.append(np.asarray(Image.open(p).convert("L")))
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise SystemExit(f"the PNG images differ in size: {sorted(shapes)}")
    return np.stack(images)


def _predict(args: argparse.Namespace) -> int:
    from .models import load_model

    try:
        model = load_model(args.model)
        images = _load_images(args.images)
    except (ValueError, OSError) as err:
        raise SystemExit(f"fastconv predict: {err}") from None
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255
    want = tuple(model.input_shape)
    if images.shape == want or (want[-1] == 1 and images.shape == want[:-1]):  # one image
        images = images[None]
    try:
        probs = model.predict(images, batch_size=args.batch_size, verbose=0)
    except ValueError as err:
        raise SystemExit(f"{Path(args.images[0]).name}: {err}") from None
    for i, p in enumerate(probs.reshape(len(probs), -1)):
        k = int(p.argmax())
        print(f"{i}\t{k}\t{p[k]:.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m fastconv")
