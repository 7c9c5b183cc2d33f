"""The model commands of the ``fastconv`` command line: ``train``, ``predict``, ``demo``."""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time

import numpy as np

from ._files import why_unwritable

# ---- argument types: a bad value is refused while parsing, before any work ----------------


def _int_at_least(minimum: int, wanted: str):
    """An argparse type: an integer >= minimum, else the message 'expected {wanted}'."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


positive_int = _int_at_least(1, "a positive integer")
seed = _int_at_least(0, "an integer >= 0")  # a random seed, as NumPy's generators take


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1), as Keras' validation_split."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def output_file(text: str) -> str:
    """argparse type: a file the command will write, checked now rather than
    after the work: its directory exists and takes new files."""
    problem = why_unwritable(text)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {problem}")
    return text


def output_dir(text: str) -> str:
    """argparse type: a directory the command will write files into, checked now: it is a
    writable directory, or it can be made (its parent exists and takes new entries)."""
    if not text:
        raise argparse.ArgumentTypeError("cannot write into '': the path is empty")
    if os.path.isdir(text):
        if not os.access(text, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"cannot write into {text!r}: no permission to create files in it")
        return text
    if os.path.exists(text):
        raise argparse.ArgumentTypeError(f"cannot write into {text!r}: it is not a directory")
    problem = why_unwritable(text.rstrip(os.sep) or text)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot create directory {text!r}: {problem}")
    return text


class MissingExtra(Exception):
    """An option needs an optional package that is not installed (the message says which
    `pip install "fastconv[extra]"` brings it)."""


_EXTRAS = {"matplotlib": ("matplotlib", "plot"), "PIL": ("Pillow", "image")}


def need(module: str, what: str) -> None:
    """Raise MissingExtra, saying what to install, unless `module` imports."""
    try:
        importlib.import_module(module)
    except ImportError as err:
        package, extra = _EXTRAS[module]
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MissingExtra(f"{what} needs {package}, which is not installed ({why}); "
                           f'pip install "fastconv[{extra}]"') from None


def configure(sub: argparse._SubParsersAction) -> None:
    """Add the train, predict and demo subcommands to `sub`."""
    p = sub.add_parser("demo", help="the image-classification lecture end to end, offline",
                       description="The lecture's worked example (a 9x9 X, three filters, ReLU, "
                                   "pooling), its 1-D example, and its CNN trained on generated "
                                   "X-versus-O images. Needs no download.")
    p.add_argument("--figures", metavar="DIR", type=output_dir,
                   help="also draw the lecture's pictures into DIR as PNG files (made if missing): "
                        "the X and O images, the filters, the feature maps with their values, after "
                        "ReLU, after pooling, the model's votes and its learning curves (needs "
                        'matplotlib: pip install "fastconv[plot]")')
    p.add_argument("--epochs", type=positive_int, default=3, help="training epochs (default 3)")
    p.add_argument("--seed", type=seed, default=0, help="random seed, >= 0 (default 0)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("train", help="train the lecture's CNN on MNIST",
                       description="Train the lecture's CNN (Conv2D(28, 3x3), MaxPooling2D, "
                                   "Flatten, Dense(128, relu), Dropout(0.2), Dense(10, softmax)) "
                                   "with Adam on MNIST and report the test accuracy. Ctrl-C stops "
                                   "it: it says how many epochs were completed, saves nothing and "
                                   "exits with status 130.")
    p.add_argument("--data", metavar="DIR", help="folder with the four MNIST IDX files (default: "
                   "$FASTCONV_DATA/mnist, the user cache, else a verified download)")
    p.add_argument("--epochs", type=positive_int, default=10, help="epochs (default 10, as the lecture)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="batch size (default 32)")
    p.add_argument("--save", metavar="FILE", type=output_file,
                   help="save the trained model to FILE (replaced only once training and the "
                        "test have completed; never after Ctrl-C)")
    p.add_argument("--plot", metavar="FILE", type=output_file,
                   help="draw loss and accuracy per epoch (validation's too, with "
                        "--validation-split) into FILE as PNG once training has completed (needs "
                        'matplotlib: pip install "fastconv[plot]")')
    p.add_argument("--validation-split", metavar="FRACTION", type=fraction, default=0.0,
                   help="hold out this fraction of the training images (the last ones, as Keras) "
                        "to report val_loss and val_accuracy each epoch (default 0)")
    p.add_argument("--seed", type=seed, default=None, help="random seed (>= 0) for a reproducible run")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="as Keras' fit")
    p.set_defaults(func=_train)

    p = sub.add_parser("predict", help="classify images with a saved model",
                       description="Print, for each image, a line `index<TAB>class<TAB>probability` "
                                   "(or JSON with --json). IMAGES is one IDX file (gzip or raw), one "
                                   ".npy array (N, H, W) or (N, H, W, C), or image files Pillow reads "
                                   '(PNG, JPEG, ...; needs Pillow: pip install "fastconv[image]"), '
                                   "told apart by their contents, not their names. uint8 pixels are "
                                   "scaled to [0, 1], as `fastconv train` trains. The model learnt "
                                   "MNIST's light digits on black: an image whose border is bright "
                                   "gets a warning suggesting --invert.")
    p.add_argument("model", metavar="FILE", help="a model written by `fastconv train --save` "
                   "or Sequential.save")
    p.add_argument("images", metavar="IMAGES", nargs="+", help="the images")
    p.add_argument("--batch-size", type=positive_int, default=256, help="batch size (default 256)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per line and image (JSON Lines): "
                        '{"image": index, "file": path, "class": k, "probability": p_k, '
                        '"probabilities": [p_0, ...]}')
    p.add_argument("--resize", action="store_true",
                   help="bring image files of another size to the model's (28x28) as MNIST's digits "
                        "were made: the digit scaled into a 20x20 box, aspect kept, centred by its "
                        "centre of mass; a note on stderr says so. Without it such images are refused")
    p.add_argument("--invert", action="store_true",
                   help="invert the pixels first (p -> 1 - p on the [0, 1] scale), for dark digits "
                        "on a light ground such as ink on paper")
    p.set_defaults(func=_predict)


def _demo(args: argparse.Namespace) -> int:
    from . import _demo

    if args.figures is not None:
        need("matplotlib", "--figures")
        os.makedirs(args.figures, exist_ok=True)
    _demo.run(figures=args.figures, epochs=args.epochs, seed=args.seed)
    return 0


def _train(args: argparse.Namespace) -> int:
    from . import utils
    from ._demo import lecture_model
    from .datasets import mnist

    if args.plot is not None:
        need("matplotlib", "--plot")
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
    try:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                            verbose=args.verbose, validation_split=args.validation_split)
        took = time.perf_counter() - start
        loss, acc = model.evaluate(x_test, y_test, verbose=0)
    except KeyboardInterrupt:
        # fit leaves the model as after its last complete step; still, a model the user
        # stopped is not the one --save asked for, so nothing is written
        history = getattr(model, "history", None)  # None: fit was still checking its arguments
        epochs = len(history.epoch) if history is not None else 0
        fitted = int(len(x_train) * (1 - args.validation_split)) if args.validation_split else len(x_train)
        steps = math.ceil(fitted / args.batch_size)
        extra = model.optimizer.iterations - epochs * steps
        where = (", during the test evaluation" if epochs == args.epochs else
                 f" and {extra} of {steps} steps of epoch {epochs + 1}" if extra else "")
        unwritten = " or ".join(f for f in (args.save, args.plot) if f)
        kept = f"; nothing was saved to {unwritten}" if unwritten else ""
        print(f"fastconv train: interrupted after {epochs} of {args.epochs} epochs{where}{kept}",
              file=sys.stderr)
        return 130
    fitted = int(len(x_train) * (1 - args.validation_split)) if args.validation_split else len(x_train)
    held = f" ({len(x_train) - fitted} more held out for validation)" if fitted < len(x_train) else ""
    print(f"trained on {fitted} images{held} for {args.epochs} epochs in {took:.1f} s; "
          f"test accuracy {acc:.4f}, loss {loss:.4f} ({len(x_test)} images)")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    if args.plot:
        from . import _figures

        _figures.training_curves(args.plot, history.history, "The lecture's CNN on MNIST")
        print(f"plotted to {args.plot}")
    return 0


_NPY_MAGIC = b"\x93NUMPY"
_GZIP_MAGIC = b"\x1f\x8b"


def _file_kind(path: str) -> str:
    """'npy', 'idx' (gzip, or raw: two zero bytes, a known type code, at least one dimension)
    or 'image', by the contents."""
    from ._bounded import open_regular
    from .datasets.idx import IDX_DTYPES

    with open_regular(path) as f:
        head = f.read(len(_NPY_MAGIC))
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_GZIP_MAGIC) or (len(head) >= 4 and head[:2] == b"\0\0"
                                        and head[2] in IDX_DTYPES and head[3] > 0):
        return "idx"
    return "image"  # Pillow tells whether it is one


def _load_array(path: str, kind: str) -> np.ndarray:
    """The array of one IDX or .npy file."""
    from .datasets.idx import read_idx

    if kind == "idx":
        return read_idx(path)
    try:  # mapped first: a header declaring more than the file holds allocates nothing
        return np.array(np.load(path, mmap_mode="r", allow_pickle=False))
    except (ValueError, EOFError) as err:
        raise ValueError(f"{path}: unreadable .npy file ({err})") from None


def _warn(message: str) -> None:
    print(f"fastconv predict: {message}", file=sys.stderr)


def _image_files(args: argparse.Namespace, size: tuple[int, int] | None) -> np.ndarray:
    """The image files as float32 (N, H, W) in [0, 1]: inverted with --invert, a warning for
    those that look inverted without it; brought to `size` with --resize, refused otherwise."""
    from . import _images

    images = []
    for path in args.images:
        try:
            image = _images.read_gray(path).astype(np.float32) / 255
        except _images.UnidentifiedImage:
            if path.lower().endswith(".npy"):
                raise ValueError(f"{path}: not a NumPy .npy file (no .npy header), nor an image "
                                 "file Pillow reads") from None
            raise
        if args.invert:
            image = 1 - image
        elif _images.looks_inverted(image):
            _warn(f"warning: {path} looks like a dark digit on a light ground (its border is "
                  "bright; MNIST's digits are light on black): --invert inverts it")
        if size is not None and image.shape != size:
            h, w = image.shape
            if not args.resize:
                raise ValueError(f"{path} is {w}x{h} pixels; the model takes {size[1]}x{size[0]}: "
                                 "--resize scales the digit into it as MNIST's were")
            image = _images.to_mnist(image, size)
            _warn(f"note: {path} is {w}x{h} pixels: resized to {size[1]}x{size[0]} (the digit "
                  "scaled into a 20x20 box, aspect kept, centred by its mass, as MNIST's)")
        images.append(image)
    if len({im.shape for im in images}) != 1:
        raise ValueError("the images differ in size: " + ", ".join(
            f"{p} is {im.shape[1]}x{im.shape[0]}" for p, im in zip(args.images, images)))
    return np.stack(images)


def _invert_array(images: np.ndarray, name: str, invert: bool) -> np.ndarray:
    """An IDX or .npy array (uint8 already scaled to [0, 1]) inverted with --invert, or a
    warning if its images look inverted (frames (N, H, W) or (N, H, W, 1), pixels in [0, 1])."""
    from . import _images

    frames = images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images
    lo, hi = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
    if invert:
        if lo < 0 or hi > 1:
            raise ValueError(f"{name}: --invert takes pixels in [0, 1] (or uint8), this array "
                             f"holds values from {lo:g} to {hi:g}")
        return 1 - images.astype(np.float32) if images.dtype.kind == "b" else 1 - images
    if frames.ndim == 3 and lo >= 0 and hi <= 1:
        bright = np.flatnonzero(_images.border_mean(frames) > 0.5)
        if len(bright):
            which = ", ".join(map(str, bright[:5])) + (", ..." if len(bright) > 5 else "")
            _warn(f"warning: {len(bright)} of {len(frames)} images in {name} look like dark digits "
                  f"on a light ground (bright borders; MNIST's digits are light on black; images "
                  f"{which}): --invert inverts them")
    return images


def _predict(args: argparse.Namespace) -> int:
    from .models import load_model

    kinds = [_file_kind(p) for p in args.images]
    if len(kinds) > 1 or kinds[0] == "image":
        for p, kind in zip(args.images, kinds):
            if kind != "image":
                raise ValueError(f"{p} is {'an IDX' if kind == 'idx' else 'a .npy'} file: give one "
                                 "IDX or .npy file alone, or image files only")
        need("PIL", "reading image files")
    model = load_model(args.model)  # ValueError naming the file for anything malformed
    want = tuple(model.input_shape)
    size = want[:2] if len(want) == 2 or (len(want) == 3 and want[-1] == 1) else None
    name = args.images[0] if len(args.images) == 1 else f"{args.images[0]} ..."
    if kinds[0] == "image":
        images = _image_files(args, size)
        files = list(args.images)
    else:
        images = _load_array(args.images[0], kinds[0])
        if images.dtype.kind not in "biuf":
            raise ValueError(f"{name}: images must hold real numbers, got dtype {images.dtype}")
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255
        if images.shape == want or (want[-1] == 1 and images.shape == want[:-1]):  # one image
            images = images[None]
        files = [args.images[0]] * (len(images) if images.ndim else 0)
    if images.ndim == 0 or len(images) == 0 or images.size == 0:
        raise ValueError(f"{name}: no images in it (array of shape {images.shape})")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise ValueError(f"{name}: images with NaN or infinite pixels cannot be classified")
    if kinds[0] != "image":
        images = _invert_array(images, name, args.invert)
    try:
        probs = model.predict(images, batch_size=args.batch_size, verbose=0)
    except ValueError as err:
        hint = "; --resize applies to image files only" if args.resize and kinds[0] != "image" else ""
        raise ValueError(f"{name}: {err}{hint}") from None
    for i, p in enumerate(probs.reshape(len(probs), -1)):
        k = int(p.argmax())
        if args.json:
            print(json.dumps({"image": i, "file": files[i], "class": k, "probability": float(f"{p[k]:.6g}"),
                              "probabilities": [float(f"{v:.6g}") for v in p]}))
        else:
            print(f"{i}\t{k}\t{p[k]:.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m fastconv")
