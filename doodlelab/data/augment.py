"""Training-time augmentation: a random prefix (the drawing part way), affine, stroke dropout and jitter on
strokes before the one pipeline renders them, and the same affine on Google bitmaps (which have no strokes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from doodlelab.data import strokes as pipeline
from doodlelab.data.prefix import random_prefix


@dataclass(frozen=True)
class Augment:
    """Strength of each random transform; all zero means no augmentation."""

    rotate: float = 12.0  # maximum rotation, degrees
    stretch: float = 0.15  # maximum relative stretch of x against y (anisotropic scale)
    shear: float = 0.15  # maximum shear factor
    drop_stroke: float = 0.1  # probability of dropping each stroke (never the whole drawing)
    jitter: float = 1.5  # standard deviation of noise on every point, in units of the 0..255 box
    shift: float = 0.06  # bitmaps only: maximum translation, as a fraction of the image side
    prefix: float = 0.0  # probability of cutting a stroke drawing to its first u of ink, u ~ U(prefix_min, 1)
    prefix_min: float = 0.15  # the smallest share of the ink a prefix keeps

    @property
    def enabled(self) -> bool:
        return any(
            (self.rotate, self.stretch, self.shear, self.drop_stroke, self.jitter, self.shift, self.prefix)
        )


def random_affine(rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """A (2, 2) matrix: rotation @ shear @ stretch, each drawn uniformly within its bound."""
    theta = math.radians(rng.uniform(-aug.rotate, aug.rotate))
    c, s = math.cos(theta), math.sin(theta)
    k = rng.uniform(-aug.shear, aug.shear)
    r = math.exp(rng.uniform(-aug.stretch, aug.stretch))
    return np.array([[c, -s], [s, c]]) @ np.array([[1.0, k], [0.0, 1.0]]) @ np.diag([r, 1.0 / r])


def augment_strokes(drawing: pipeline.Strokes, rng: np.random.Generator, aug: Augment) -> pipeline.Strokes:
    """Simplified strokes -> randomly transformed strokes, re-aligned and scaled to the 0..255 box.

    The affine image of a simplified polyline is still a simplified polyline, so only the align-and-scale
    steps of `strokes.simplify` are repeated (no resampling or RDP needed). With probability `aug.prefix`
    the drawing is first cut to a prefix of its ink (whole strokes dropped from the end, the last kept
    stroke cut mid-way), which the same steps then scale to fill the box, as the live canvas would be.
    """
    if aug.prefix and rng.random() < aug.prefix:
        drawing = random_prefix(drawing, rng, aug.prefix_min)
    keep = rng.random(len(drawing)) >= aug.drop_stroke
    if not keep.any():
        keep[int(np.argmax([len(s) for s in drawing]))] = True
    matrix = random_affine(rng, aug)
    out = []
    for stroke, kept in zip(drawing, keep):
        if kept:
            moved = stroke @ matrix.T
            out.append(moved + rng.normal(0.0, aug.jitter, moved.shape) if aug.jitter else moved)
    points = np.concatenate(out)
    origin = points.min(axis=0)
    extent = float((points.max(axis=0) - origin).max())
    scale = pipeline.SIMPLIFIED_MAX / extent if extent > 0 else 1.0
    return [(s - origin) * scale for s in out]


def augment_image(image: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """(S, S) uint8 bitmap -> the same affine (about the centre) plus a small shift, bilinear."""
    side = image.shape[0]
    inverse = np.linalg.inv(random_affine(rng, aug))
    shift = rng.uniform(-aug.shift, aug.shift, 2) * side
    centre = np.array([side / 2, side / 2])
    offset = centre - inverse @ (centre + shift)  # output pixel p samples input inverse @ p + offset
    coeffs = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    moved = Image.fromarray(image).transform(
        (side, side), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(moved)


def augmented(
    drawing: pipeline.Strokes | None, image: np.ndarray, rng: np.random.Generator, aug: Augment
) -> np.ndarray:
    """One training image: rendered from augmented strokes when there are strokes, else the bitmap
    transformed. (S, S) uint8."""
    if drawing is not None:
        return pipeline.render(augment_strokes(drawing, rng, aug), image.shape[0])
    return augment_image(image, rng, aug)
