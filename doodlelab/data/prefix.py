"""Partial drawings: a drawing cut at a share of its drawing time, as the canvas holds it while a person is
still drawing. Time is the real timestamps when the drawing has them, else approximated by ink length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from doodlelab.data.strokes import Strokes


def ink_clock(strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per stroke, the ink drawn before each of its points: (n,) arrays, cumulative over the drawing.

    Pen-up travel between strokes costs nothing: only the length of the lines drawn counts.
    """
    clocks, before = [], 0.0
    for stroke in strokes:
        steps = np.linalg.norm(np.diff(stroke, axis=0), axis=1) if len(stroke) > 1 else np.zeros(0)
        clock = before + np.concatenate([[0.0], np.cumsum(steps)])
        clocks.append(clock)
        before = float(clock[-1])
    return clocks


def cut(strokes: Sequence[np.ndarray], clocks: Sequence[np.ndarray], until: float) -> Strokes:
    """The strokes drawn up to time `until` on the given per-point clocks (non-decreasing across the
    drawing): whole strokes before it, the stroke in progress cut between two points by linear
    interpolation, nothing after it. Always at least the first point of the first stroke."""
    out: Strokes = []
    for stroke, clock in zip(strokes, clocks):
        if len(stroke) == 0:
            continue
        if clock[0] > until or (out and clock[0] >= until):
            break
        if clock[-1] <= until:
            out.append(np.asarray(stroke, dtype=np.float64))
            continue
        j = int(np.searchsorted(clock, until, side="right"))  # points [0, j) are drawn; 1 <= j < n
        span = clock[j] - clock[j - 1]
        w = (until - clock[j - 1]) / span if span > 0 else 0.0
        tip = stroke[j - 1] + w * (stroke[j] - stroke[j - 1])
        out.append(np.vstack([stroke[:j], tip[None]]).astype(np.float64))
        break
    if not out:
        first = next(np.asarray(s[:1], dtype=np.float64) for s in strokes if len(s))
        out.append(first)
    return out


def ink_prefix(strokes: Sequence[np.ndarray], fraction: float) -> Strokes:
    """The first `fraction` (0..1) of the drawing's ink, in stroke order; the last kept stroke is cut
    mid-way. fraction 1 returns every stroke unchanged."""
    clocks = ink_clock(strokes)
    total = float(clocks[-1][-1]) if clocks else 0.0
    return cut(strokes, clocks, fraction * total)


def time_prefix(strokes: Sequence[np.ndarray], times: Sequence[np.ndarray], fraction: float) -> Strokes:
    """What the canvas held at `fraction` (0..1) of the time from the first point to the last, given
    each point's timestamp (ms, as in the raw format). Pauses between strokes count, as they do for a
    person watching."""
    stamps = [np.asarray(t, dtype=np.float64) for t in times]
    start = min(float(t[0]) for t in stamps if len(t))
    end = max(float(t[-1]) for t in stamps if len(t))
    return cut(strokes, stamps, start + fraction * (end - start))


def random_prefix(strokes: Sequence[np.ndarray], rng: np.random.Generator, low: float) -> Strokes:
    """An ink prefix at a share drawn uniformly from [low, 1]: a training drawing as it looked part way."""
    return ink_prefix(strokes, float(rng.uniform(low, 1.0)))
