"""Digit images of any size and polarity -> MNIST layout; non-images, huge and blank images are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from doodlelab.data.images import (
    BlankImageError,
    ImageTooLargeError,
    NotAnImageError,
    ink_from_gray,
    load_digit,
    mnist_layout,
    open_image,
    to_gray,
)
from doodlelab.errors import DataError, DoodleError


def stroke_image(size=(120, 90), dark_on_light=True, mode="L") -> Image.Image:
    """A thick diagonal bar off-centre in a larger canvas, as a user might draw it."""
    ink = np.zeros(size[::-1], np.float32)
    for t in np.linspace(0, 1, 200):
        y, x = int(20 + 50 * t), int(30 + 40 * t)
        ink[y - 4 : y + 4, x - 4 : x + 4] = 1.0
    gray = 1.0 - ink if dark_on_light else ink
    return Image.fromarray(np.round(gray * 255).astype(np.uint8)).convert(mode)


def to_bytes(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def test_output_follows_the_mnist_layout():
    digit = load_digit(to_bytes(stroke_image()))
    assert digit.shape == (28, 28) and digit.dtype == np.uint8 and digit.max() == 255
    rows, cols = np.nonzero(digit)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 in (20, 21)  # the 20-pixel box, + antialiasing
    ys, xs = np.indices(digit.shape)
    weight = digit.astype(float)
    assert (ys * weight).sum() / weight.sum() == pytest.approx(14, abs=0.5)  # centre of mass at (14, 14)
    assert (xs * weight).sum() / weight.sum() == pytest.approx(14, abs=0.5)
    assert digit[0].max() == digit[-1].max() == digit[:, 0].max() == digit[:, -1].max() == 0


def test_both_polarities_give_the_same_digit():
    dark = load_digit(to_bytes(stroke_image(dark_on_light=True)))
    light = load_digit(to_bytes(stroke_image(dark_on_light=False)))
    np.testing.assert_array_equal(dark, light)


@pytest.mark.parametrize("mode", ["RGB", "P", "1", "I;16", "CMYK"])
def test_image_modes_and_formats(mode, tmp_path):
    reference = load_digit(to_bytes(stroke_image()))
    im = stroke_image(mode=mode)
    path = tmp_path / "digit.png"
    (im.convert("RGB") if mode == "CMYK" else im).save(path)
    digit = load_digit(path)
    assert np.abs(digit.astype(int) - reference).mean() < 8  # 1-bit and 16-bit differ only slightly
    jpeg = tmp_path / "digit.jpg"
    stroke_image().convert("RGB").save(jpeg, quality=90)
    assert np.abs(load_digit(jpeg).astype(int) - reference).mean() < 8


def test_transparent_background_is_composited_on_white():
    ink = np.asarray(stroke_image(dark_on_light=False))
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., 3] = ink  # black strokes on a fully transparent canvas (a typical web drawing)
    digit = load_digit(to_bytes(Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(digit, load_digit(to_bytes(stroke_image())))


def test_huge_images_are_refused_before_decoding(tmp_path, png_header_only):
    with pytest.raises(ImageTooLargeError, match="too large"):
        load_digit(png_header_only(20000, 20000))  # 400 MP: Pillow's own bomb check fires first
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(8000, 6000))  # 48 MP: over our 40 MP limit
    with pytest.raises(ImageTooLargeError, match="8000x6000") as info:
        load_digit(path)
    assert str(path) in str(info.value)
    with pytest.raises(ImageTooLargeError):
        open_image(to_bytes(stroke_image()), max_pixels=100)


def test_non_images_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not an image\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path in (text, empty):
        with pytest.raises(NotAnImageError, match="not an image"):
            load_digit(path)
    truncated = to_bytes(stroke_image())[:60]
    with pytest.raises(NotAnImageError):
        load_digit(truncated)
    with pytest.raises(FileNotFoundError):
        load_digit(tmp_path / "missing.png")


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_images_are_refused(value):
    flat = Image.new("L", (50, 40), value)
    with pytest.raises(BlankImageError, match="blank"):
        load_digit(to_bytes(flat))
    faint = np.full((40, 50), 200, np.uint8)
    faint[10:20, 10:20] = 195  # 2% contrast: noise, not ink
    with pytest.raises(BlankImageError):
        load_digit(to_bytes(Image.fromarray(faint)))


def test_errors_are_doodle_errors():
    for cls in (BlankImageError, NotAnImageError, ImageTooLargeError):
        assert issubclass(cls, DataError) and issubclass(cls, DoodleError)


def test_gray_and_ink_helpers():
    gray = to_gray(Image.new("LA", (4, 3), (0, 0)))  # fully transparent black -> white
    np.testing.assert_allclose(gray, 1.0)
    gray = np.ones((10, 10), np.float32)
    gray[3:6, 4:7] = 0.2
    ink = ink_from_gray(gray)
    assert ink.max() == 1.0 and ink[0, 0] == 0.0 and ink[4, 5] == 1.0
    digit = mnist_layout(ink)
    assert digit.shape == (28, 28) and digit.max() == 255


def test_wide_and_tall_strokes_keep_their_aspect_ratio():
    ink = np.zeros((30, 300), np.float32)
    ink[10:20, :] = 1.0  # a horizontal bar 30 times wider than tall
    digit = mnist_layout(ink)
    rows, cols = np.nonzero(digit)
    assert np.ptp(cols) + 1 == 20 and np.ptp(rows) + 1 <= 2
