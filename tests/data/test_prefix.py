"""Partial drawings: ink and time prefixes keep whole strokes, cut the last one on its line, grow with the
share, and prefix augmentation scales them like the live canvas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doodlelab.data import strokes
from doodlelab.data.augment import Augment, augment_strokes
from doodlelab.data.prefix import ink_clock, ink_prefix, random_prefix, time_prefix


def _drawing(seed: int) -> strokes.Strokes:
    rng = np.random.default_rng(seed)
    return strokes.simplify(
        [np.cumsum(rng.normal(0, 20, (rng.integers(2, 12), 2)), axis=0) for _ in range(rng.integers(1, 6))]
    )


def _ink(drawing) -> float:
    return float(ink_clock(drawing)[-1][-1])


def test_the_whole_share_is_the_drawing_itself():
    d = _drawing(1)
    whole = ink_prefix(d, 1.0)
    assert len(whole) == len(d) and all(np.array_equal(a, b) for a, b in zip(whole, d))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 0.99))
def test_an_ink_prefix_keeps_whole_strokes_and_cuts_the_last_on_its_line(seed, share):
    d = _drawing(seed)
    p = ink_prefix(d, share)
    assert np.isclose(_ink(p), share * _ink(d), rtol=1e-9, atol=1e-6)
    for a, b in zip(p[:-1], d):  # every stroke but the last kept is whole
        assert np.array_equal(a, b)
    last, source = p[-1], d[len(p) - 1]
    assert np.array_equal(last[:-1], source[: len(last) - 1])
    # the tip lies on the segment of the source stroke that follows the kept points
    j = len(last) - 1
    if j < len(source):
        a, b, tip = source[j - 1], source[j], last[-1]
        assert np.isclose(np.linalg.norm(tip - a) + np.linalg.norm(b - tip), np.linalg.norm(b - a))


def test_prefixes_grow_with_the_share():
    d = _drawing(7)
    inks = [_ink(ink_prefix(d, s)) for s in np.linspace(0.05, 1, 20)]
    assert all(a <= b + 1e-9 for a, b in zip(inks, inks[1:])) and np.isclose(inks[-1], _ink(d))


def test_a_time_prefix_counts_the_pause_between_strokes():
    first = np.array([[0.0, 0.0], [100.0, 0.0]])
    second = np.array([[0.0, 50.0], [100.0, 50.0]])
    times = [np.array([0.0, 100.0]), np.array([900.0, 1000.0])]  # a long pause between the strokes
    during_pause = time_prefix([first, second], times, 0.5)  # t = 500 ms
    assert len(during_pause) == 1 and np.array_equal(during_pause[0], first)
    assert np.allclose(time_prefix([first, second], times, 0.05)[0], [[0, 0], [50, 0]])  # t = 50 ms
    assert np.allclose(time_prefix([first, second], times, 0.95)[1], [[0, 50], [50, 50]])  # t = 950 ms
    # by ink, the same 50% ends exactly after the first stroke
    assert np.array_equal(ink_prefix([first, second], 0.5)[0], first)


def test_random_prefixes_keep_at_least_their_share():
    d = _drawing(3)
    for seed in range(30):
        assert _ink(random_prefix(d, np.random.default_rng(seed), 0.4)) >= 0.4 * _ink(d) - 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_prefix_augmentation_cuts_and_fills_the_box_and_is_off_by_default(seed):
    d = _drawing(seed + 20)
    no_affine = Augment(0, 0, 0, 0, 0, 0, prefix=1.0, prefix_min=0.2)
    cut = augment_strokes(d, np.random.default_rng(seed), no_affine)
    rng = np.random.default_rng(seed)
    assert rng.random() < 1.0
    expected = ink_prefix(d, rng.uniform(0.2, 1.0))  # the same draws: the prefix, then scaled to the box
    points = np.concatenate(expected)
    scale = 255 / np.ptp(points, axis=0).max()
    assert len(cut) == len(expected) <= len(d)
    assert all(np.allclose(c, (e - points.min(axis=0)) * scale) for c, e in zip(cut, expected))
    assert np.isclose(np.concatenate(cut).max(), 255)
    # prefix 0 draws no random number for it: the augmentation of earlier runs is unchanged
    plain = Augment()
    a = augment_strokes(d, np.random.default_rng(seed), plain)
    b = augment_strokes(d, np.random.default_rng(seed), Augment(prefix=0.0))
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and not plain.prefix
