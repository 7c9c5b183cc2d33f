"""Digits from image files for `fastconv predict`: read with Pillow within fixed bounds, checked
for a dark-on-light ground, and on request brought to MNIST's form (28x28, light digit on black).

An image file is untrusted input: before Pillow decodes a pixel, the path must be a regular file
of at most `MAX_IMAGE_BYTES` and its header must claim at most `MAX_IMAGE_PIXELS` pixels (a small
PNG or JPEG can claim billions). Decoding then costs a few bytes per claimed pixel at most.
EPS files are not read: Pillow hands them to Ghostscript, an outside program.
Every failure is a ValueError whose message names the file.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

from ._bounded import open_regular

MAX_IMAGE_BYTES = 64 << 20     # a photo of a digit is a few MB
MAX_IMAGE_PIXELS = 40_000_000  # above a 48-megapixel phone's photo it is refused (RGBA: 160 MB)
_NOT_READ = {"EPS"}            # formats Pillow decodes by running another program

# MNIST's digits fill a 20x20 box (aspect kept) centred by their centre of mass in 28x28.
MNIST_BOX = 20 / 28


class UnidentifiedImage(ValueError):
    """The file is in no format Pillow reads."""


def read_gray(path: str) -> np.ndarray:
    """The image in `path` as grayscale uint8 (H, W): the first frame, turned upright as its
    EXIF orientation says; transparent parts on white, as viewers show them."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.init()
    formats = [f for f in Image.ID if f not in _NOT_READ]
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_IMAGE_BYTES:
            raise ValueError(f"{path}: {size:,} bytes, more than the {MAX_IMAGE_BYTES:,} an image "
                             "file may have here")
        too_many = f"more than the {MAX_IMAGE_PIXELS:,} read here"
        try:
            with warnings.catch_warnings():  # Pillow's own, higher bound: ours applies below
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(f, formats=formats)
        except UnidentifiedImageError:
            raise UnidentifiedImage(f"cannot identify image file {path!r} (not an image format "
                                    "Pillow reads, nor IDX or .npy)") from None
        except Image.DecompressionBombError as err:  # beyond twice Pillow's bound
            claimed = re.search(r"\((\d+) pixels\)", str(err))
            count = f"{int(claimed[1]):,}" if claimed else "too many"
            raise ValueError(f"{path}: its header claims {count} pixels, {too_many}") from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise ValueError(f"{path}: unreadable image header ({err})") from None
        with im:
            width, height = im.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ValueError(f"{path}: its header claims {width}x{height} pixels, {too_many}")
            if width * height == 0:
                raise ValueError(f"{path}: an empty image ({width}x{height} pixels)")
            try:
                return _gray(ImageOps.exif_transpose(im) or im)
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                    Image.DecompressionBombError) as err:
                # what Pillow's decoders raise for truncated or corrupt data
                raise ValueError(f"{path}: cannot decode the {im.format} image "
                                 f"({err or type(err).__name__})") from None


def _gray(im) -> np.ndarray:
    from PIL import Image

    if im.mode.startswith("I;16"):  # 16-bit grayscale: keep the range, not the low byte
        return (np.asarray(im, dtype=np.uint16) // 257).astype(np.uint8)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im)
    return np.asarray(im.convert("L"), dtype=np.uint8)


def border_mean(images: np.ndarray) -> np.ndarray | float:
    """The mean of each image's outermost rows and columns (1/14 of the shorter side, at least
    1): the ground its digit is drawn on. `images` (..., H, W) with pixels in [0, 1]."""
    h, w = images.shape[-2:]
    k = max(1, round(min(h, w) / 14))
    if 2 * k >= min(h, w):
        return images.mean(axis=(-2, -1))
    ring = images.sum(axis=(-2, -1), dtype=np.float64) - images[..., k:-k, k:-k].sum(axis=(-2, -1), dtype=np.float64)
    return ring / (h * w - (h - 2 * k) * (w - 2 * k))


def looks_inverted(image: np.ndarray) -> bool:
    """True if `image` (H, W), pixels in [0, 1], looks like a dark digit on a light ground:
    its border is bright, where an MNIST digit's border is black."""
    return bool(border_mean(image) > 0.5)


def to_mnist(image: np.ndarray, size: tuple[int, int] = (28, 28)) -> np.ndarray:
    """`image` (H, W), a light digit on a dark ground with pixels in [0, 1], as MNIST's digits
    are made: the ground (the border's median) taken to 0 and the brightest pixel to 1, the
    digit's bounding box scaled to fit 20/28 of the frame with its aspect kept, then placed with
    its centre of mass where MNIST's are: at pixel (14, 14) of 28x28. float32 `size` image in [0, 1]. A blank image is
    scaled whole."""
    from PIL import Image

    h, w = image.shape
    k = max(1, round(min(h, w) / 14))
    ground = float(np.median(np.concatenate([image[:k].ravel(), image[-k:].ravel(),
                                             image[:, :k].ravel(), image[:, -k:].ravel()])))
    top = float(image.max())
    out_h, out_w = size
    if top - ground < 1e-3:  # blank: nothing to centre
        scaled = Image.fromarray(image.astype(np.float32)).resize((out_w, out_h), Image.Resampling.BOX)
        return np.clip(np.asarray(scaled, dtype=np.float32), 0, 1)
    digit = np.clip((image - ground) / (top - ground), 0, 1).astype(np.float32)
    rows, cols = np.nonzero(digit > 0.2)
    digit = digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    dh, dw = digit.shape
    scale = min(MNIST_BOX * out_h / dh, MNIST_BOX * out_w / dw)
    new_h, new_w = max(1, round(dh * scale)), max(1, round(dw * scale))
    box = Image.fromarray(digit).resize((new_w, new_h), Image.Resampling.LANCZOS)
    box = np.clip(np.asarray(box, dtype=np.float32), 0, 1)
    mass = box.sum()
    cy = (box.sum(axis=1) @ np.arange(new_h)) / mass if mass > 0 else (new_h - 1) / 2
    cx = (box.sum(axis=0) @ np.arange(new_w)) / mass if mass > 0 else (new_w - 1) / 2
    # MNIST's centres of mass sit at (14, 14) in pixel indices (mean over its test set: 13.99, 14.01)
    y0 = int(np.clip(round(out_h / 2 - cy), 0, out_h - new_h))
    x0 = int(np.clip(round(out_w / 2 - cx), 0, out_w - new_w))
    out = np.zeros(size, dtype=np.float32)
    out[y0:y0 + new_h, x0:x0 + new_w] = box
    return out
