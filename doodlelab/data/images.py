"""Untrusted image files -> 28x28 digits prepared the way MNIST was: crop, fit a 20x20 box, centre of mass.

Used by `doodlelab predict --model digits` and by the web app for uploads, so both see the same pixels.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from doodlelab.data.limits import MAX_PIXELS  # refuse larger images before decoding them
from doodlelab.errors import DataError

FIELD = 28  # MNIST images are 28x28 ...
BOX = 20  # ... with the digit scaled so its longer side is 20 pixels
MIN_CONTRAST = 0.1  # ink must differ from the background by 10% of the grey range
NOISE_FLOOR = 0.1  # after normalising the ink to [0, 1], weaker pixels count as background

ImageSource = str | os.PathLike | bytes | BinaryIO


class ImageError(DataError):
    """An input that cannot be turned into a digit; the message names the file."""


class NotAnImageError(ImageError):
    """The data is not an image in a format Pillow can decode."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than MAX_PIXELS."""


class BlankImageError(ImageError):
    """The image has no ink: empty, or one flat colour."""


def _name(source: ImageSource) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "name", None) if not isinstance(source, bytes) else None


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and decode an image (first frame), refusing non-images and images over `max_pixels`.

    The size is checked from the header, before any pixel is decoded; EXIF rotation is applied.
    Missing or unreadable files raise OSError (FileNotFoundError, ...), as `open` does.
    """
    name = _name(source)
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own, lower limit
            im = Image.open(data)
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"image is too large (over {max_pixels / 1e6:g} megapixels)", name) from None
    except UnidentifiedImageError:
        raise NotAnImageError("not an image (or not a format Pillow can read)", name) from None
    width, height = im.size
    if width * height > max_pixels:
        im.close()
        message = f"image is too large ({width}x{height} pixels, over {max_pixels / 1e6:g} megapixels)"
        raise ImageTooLargeError(message, name)
    try:
        im.load()
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt image data
        raise NotAnImageError(f"cannot decode image ({exc})", name) from None
    return im


def to_gray(im: Image.Image) -> np.ndarray:
    """Grey levels (H, W) float32 in [0, 1], 1 = white; transparent parts are composited onto white."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16/32-bit: stretch to [0, 1]
        arr = np.asarray(im.convert("F"), dtype=np.float32)
        low, high = float(arr.min()), float(arr.max())
        return (arr - low) / (high - low) if high > low else np.zeros_like(arr)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im.convert("RGBA"))
    return np.asarray(im.convert("L"), dtype=np.float32) / 255


def ink_from_gray(gray: np.ndarray, name: str | None = None) -> np.ndarray:
    """Ink strength (H, W) float32 in [0, 1], 1 = strongest ink, 0 = background, whatever the polarity.

    The background is the median of the border pixels: light means dark-on-light ink, dark means
    light-on-dark. Raises BlankImageError when no pixel differs enough from the background.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = (background - gray) if background > 0.5 else (gray - background)
    contrast = float(ink.max()) if ink.size else 0.0
    if contrast < MIN_CONTRAST:
        raise BlankImageError("image is blank (no ink that differs from the background)", name)
    ink = np.clip(ink / contrast, 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    return ink


def crop_and_fit(ink: np.ndarray, mask: np.ndarray, side: int, resample: Image.Resampling) -> np.ndarray:
    """Crop `ink` (H, W) float to the bounding box of `mask` and resize it, keeping the aspect ratio,
    so that its longer side is `side` pixels."""
    rows, cols = np.nonzero(mask)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, resample))


def mnist_layout(ink: np.ndarray) -> np.ndarray:
    """MNIST's normalisation of an ink map (H, W) -> (28, 28) uint8, 0 = background, 255 = ink.

    Crop to the ink's bounding box, scale (keeping the aspect ratio, antialiased) so the longer side
    is 20 pixels, and paste into a 28x28 field so that the centre of mass lands at pixel (14, 14).
    """
    small = crop_and_fit(ink, ink > 0, BOX, Image.Resampling.LANCZOS)
    small = np.clip(small, 0.0, None)
    small = small / small.max() if small.max() > 0 else small  # thin strokes fade when shrunk: restore
    h, w = small.shape
    ys, xs = np.indices(small.shape)
    total = small.sum()
    cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    top = int(np.clip(round(FIELD / 2 - cy), 0, FIELD - h))
    left = int(np.clip(round(FIELD / 2 - cx), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + h, left : left + w] = small
    return np.round(np.clip(field, 0.0, 1.0) * 255).astype(np.uint8)


def load_digit(source: ImageSource, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image file, file object or bytes -> (28, 28) uint8 digit in MNIST's layout (ink bright)."""
    with open_image(source, max_pixels) as im:
        gray = to_gray(im)
    return mnist_layout(ink_from_gray(gray, _name(source)))
