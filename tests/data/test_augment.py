"""Augmentation: strokes stay in the pipeline's box, seeds reproduce, nothing vanishes, no-op when off."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from doodlelab.data import strokes
from doodlelab.data.augment import Augment, augment_image, augment_strokes, augmented

OFF = Augment(0, 0, 0, 0, 0, 0)


def _drawing(seed: int) -> strokes.Strokes:
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 5)
    return strokes.simplify([np.cumsum(rng.normal(0, 20, (12, 2)), axis=0) for _ in range(n)])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_augmented_strokes_are_aligned_and_scaled_like_simplified_ones(seed):
    out = augment_strokes(_drawing(seed), np.random.default_rng(seed), Augment())
    points = np.concatenate(out)
    assert len(out) >= 1 and np.isfinite(points).all()
    assert np.allclose(points.min(axis=0), 0) and np.isclose(points.max(), 255)


def test_same_seed_same_result_and_no_augmentation_is_the_identity():
    d = _drawing(3)
    a = augmented(d, strokes.render(d), np.random.default_rng(1), Augment())
    b = augmented(d, strokes.render(d), np.random.default_rng(1), Augment())
    c = augmented(d, strokes.render(d), np.random.default_rng(2), Augment())
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not OFF.enabled and Augment().enabled
    assert np.array_equal(augmented(d, strokes.render(d), np.random.default_rng(0), OFF), strokes.render(d))


def test_stroke_dropout_never_removes_the_whole_drawing():
    d = _drawing(4)
    for seed in range(20):
        kept = augment_strokes(d, np.random.default_rng(seed), Augment(drop_stroke=0.99))
        assert 1 <= len(kept) <= len(d)


def test_bitmap_augmentation_moves_ink_but_keeps_most_of_it():
    image = strokes.render(_drawing(5))
    moved = augment_image(image, np.random.default_rng(0), Augment(rotate=15, shift=0.05))
    assert moved.shape == image.shape and moved.dtype == np.uint8
    assert not np.array_equal(moved, image)
    assert 0.7 < moved.astype(float).sum() / image.astype(float).sum() < 1.3
    assert np.array_equal(augment_image(image, np.random.default_rng(0), OFF), image)
