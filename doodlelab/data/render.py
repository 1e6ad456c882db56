"""The pipeline's last step: simplified strokes -> a bitmap drawn as Google drew the dataset's numpy_bitmap
(Pillow lines with round joints on a supersampled canvas, then block means).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

# Geometry of Google's renderer: strokes in a 256 box, lines 16 wide, 16 units of padding per side
# plus half a line width, so the full canvas spans 256 + 2 * 16 + 16 = 304 units.
CANVAS = 256.0
LINE_WIDTH = 16.0
PADDING = 16.0


def render(strokes: Sequence[np.ndarray], size: int = 28, supersample: int | None = None) -> np.ndarray:
    """Simplified strokes -> (size, size) uint8 bitmap, 0 background and 255 ink, like numpy_bitmap.

    Lines are 16 units wide with round caps and joins on a 256 box, centred on the drawing's bounding
    box inside 24 units of margin; drawn `supersample` times larger, then box-downsampled, which gives
    the area-coverage antialiasing of Google's renderer.
    """
    if size < 1:
        raise ValueError("size must be positive")
    k = supersample or max(2, math.ceil(280 / size))
    side = size * k
    scale = side / (CANVAS + 2 * PADDING + LINE_WIDTH)
    margin = PADDING + LINE_WIDTH / 2
    points = np.concatenate(strokes)
    offset = (CANVAS - (points.min(axis=0) + points.max(axis=0))) / 2  # centre the bounding box
    width = LINE_WIDTH * scale
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image).draw  # Pillow's drawing core: the primitives ImageDraw's methods call
    ink = draw.draw_ink(255)
    r = width / 2
    for stroke in strokes:
        xy = (stroke + offset + margin) * scale
        coords = [tuple(p) for p in xy.tolist()]
        if len(coords) > 1:
            _polyline(draw, ink, coords, max(1, round(width)))
        for x, y in (coords[0], coords[-1]):  # round caps (and dots for one-point strokes)
            draw.draw_ellipse((x - r, y - r, x + r, y + r), ink, 1)
    # the mean of each k x k block: sum k rows at a time (contiguous adds), then k columns
    rows = np.asarray(image).reshape(size, k, side).sum(axis=1, dtype=np.uint32)  # (size, side)
    sums = rows.reshape(size, size, k).sum(axis=2)  # (size, size)
    return np.round(sums / (k * k)).astype(np.uint8)


def _polyline(draw, ink: int, coords: list[tuple[float, float]], width: int) -> None:
    """Pixels of Pillow's `ImageDraw.line(coords, width=width, joint="curve")` (as in Pillow 13), drawn with
    the same primitives and float arithmetic, minus its per-joint Python overhead: the segments, then at
    each bend a pie slice rounding the joint and, for lines wider than 8, thin lines closing the gaps."""
    draw.draw_lines(coords, ink, width)
    if width <= 4:
        return
    # heading of each segment, in degrees clockwise from "up" (Pillow's convention)
    headings = [math.degrees(math.atan2(b[0] - a[0], a[1] - b[1])) % 360 for a, b in zip(coords, coords[1:])]
    reach = width / 2 - 1

    def towards(point: tuple[float, float], angle: float) -> tuple[float, float]:
        angle -= 90
        dx, dy = reach * math.cos(math.radians(angle)), reach * math.sin(math.radians(angle))
        return (
            point[0] + (math.floor(dx) if dx > 0 else math.ceil(dx)),
            point[1] + (math.floor(dy) if dy > 0 else math.ceil(dy)),
        )

    for point, a0, a1 in zip(coords[1:-1], headings, headings[1:]):
        if a0 == a1:  # straight on: no joint
            continue
        flipped = (a1 > a0 and a1 - 180 > a0) or (a1 < a0 and a1 + 180 > a0)
        start, end = (a1 + 90, a0 + 90) if flipped else (a0 - 90, a1 - 90)
        box = (
            (point[0] - width / 2 + 1, point[1] - width / 2 + 1),
            (point[0] + width / 2 - 1, point[1] + width / 2 - 1),
        )
        draw.draw_pieslice(box, start - 90, end - 90, ink, 1)
        if width > 8:
            turn = 90 if flipped else -90
            draw.draw_lines([towards(point, a0 + turn), point, towards(point, a1 + turn)], ink, 3)
