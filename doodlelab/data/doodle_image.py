"""Images of doodles (canvas exports, scans, photos of paper sketches) -> 28x28 bitmaps in Google's layout:
find the ink whatever its polarity, crop to it, thin it to centre lines, and redraw those lines with the
dataset's line width, centred and padded exactly as `strokes.render` does.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from doodlelab.data import strokes as pipeline
from doodlelab.data.images import (
    MAX_PIXELS,
    ImageSource,
    _name,
    crop_and_fit,
    ink_from_gray,
    open_image,
    to_gray,
)

WORK_SIDE = 256  # the ink's longer side is resampled to this many pixels before thinning
INK_THRESHOLD = 0.35  # share of the strongest ink above which a pixel is part of a line


def _neighbours(m: np.ndarray) -> list[np.ndarray]:
    """P2..P9 of Zhang-Suen (clockwise from north) for every pixel of a 0/1 array padded by one."""
    p = np.pad(m, 1)
    h, w = m.shape
    at = lambda dy, dx: p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]  # noqa: E731
    return [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1), at(-1, -1)]


def thin(mask: np.ndarray, max_iterations: int = 200) -> np.ndarray:
    """Zhang-Suen thinning (Zhang & Suen 1984): (H, W) bool -> one-pixel-wide centre lines, bool."""
    m = mask.astype(np.uint8)
    for _ in range(max_iterations):
        changed = False
        for step in (0, 1):
            p2, p3, p4, p5, p6, p7, p8, p9 = _neighbours(m)
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            transitions = sum(((a == 0) & (b == 1)).astype(np.uint8) for a, b in zip(ring, ring[1:]))
            count = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (m == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if remove.any():
                m[remove] = 0
                changed = True
        if not changed:
            break
    return m.astype(bool)


def _disk(radius: float) -> list[tuple[int, int]]:
    r = int(np.ceil(radius))
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= radius**2]


def redraw(skeleton: np.ndarray, size: int = 28) -> np.ndarray:
    """Centre lines (H, W) bool, longer side spanning the drawing -> (size, size) uint8 bitmap with lines
    16 units wide on the 256 box, centred with Google's margins (same geometry as `strokes.render`)."""
    k = max(2, int(np.ceil(280 / size)))
    side = size * k
    scale = side / (pipeline.CANVAS + 2 * pipeline.PADDING + pipeline.LINE_WIDTH)
    ys, xs = np.nonzero(skeleton)
    points = np.column_stack([xs, ys]).astype(np.float64)
    origin = points.min(axis=0)
    extent = float((points.max(axis=0) - origin).max())
    box = (points - origin) * (pipeline.SIMPLIFIED_MAX / extent if extent > 0 else 1.0)
    offset = (pipeline.CANVAS - (box.min(axis=0) + box.max(axis=0))) / 2
    xy = np.round((box + offset + pipeline.PADDING + pipeline.LINE_WIDTH / 2) * scale).astype(int)
    xy = np.clip(xy, 0, side - 1)
    canvas = np.zeros((side, side), dtype=bool)
    canvas[xy[:, 1], xy[:, 0]] = True
    radius = pipeline.LINE_WIDTH * scale / 2
    r = int(np.ceil(radius))
    padded = np.pad(canvas, r)
    ink = np.zeros_like(canvas)
    for dy, dx in _disk(radius):  # dilate the centre lines by a disk: round caps and joins
        ink |= padded[r + dy : r + dy + side, r + dx : r + dx + side]
    big = ink.astype(np.float32).reshape(size, k, size, k) * 255.0
    return np.round(big.mean(axis=(1, 3))).astype(np.uint8)


def doodle_from_ink(ink: np.ndarray, size: int = 28) -> np.ndarray:
    """Ink map (H, W) float in [0, 1] -> (size, size) uint8 in Google's numpy_bitmap layout."""
    work = crop_and_fit(ink, ink >= INK_THRESHOLD, WORK_SIDE, Image.Resampling.BILINEAR)
    lines = np.pad(work >= INK_THRESHOLD, 1)
    skeleton = thin(lines)
    if not skeleton.any():
        skeleton = lines
    return redraw(skeleton, size)


def load_doodle(source: ImageSource, size: int = 28, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image file, file object or bytes -> (size, size) uint8 doodle (0 background, 255 ink)."""
    with open_image(source, max_pixels) as im:
        gray = to_gray(im)
    return doodle_from_ink(ink_from_gray(gray, _name(source)), size)
