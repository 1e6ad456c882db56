"""Simplified strokes <-> pen-move tokens for the stroke model: Sketch-RNN's stroke-5 rows (Ha & Eck 2017)
with the offsets on an integer grid, and the training drawings of a split with stroke-level augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from doodlelab.data import stream
from doodlelab.data import strokes as pipeline
from doodlelab.data.augment import Augment, augment_strokes
from doodlelab.data.categories import categories, category_index

# Pen state after a point: stroke-5's one-hot (p1, p2, p3) as one index. START begins every sequence.
PEN_DOWN, PEN_UP, PEN_END, PEN_START = 0, 1, 2, 3
IGNORE = -100  # target of padding rows (torch's cross-entropy skips it)


def to_grid(drawing: Sequence[np.ndarray], grid_size: int) -> list[np.ndarray]:
    """Strokes in the 0..255 box -> integer grid positions round(p · G / 255), each stroke without repeated
    points (at least one kept). [(n_i, 2)] float -> [(m_i, 2)] int64."""
    out = []
    for stroke in drawing:
        scaled = np.asarray(stroke, np.float64) * grid_size / pipeline.SIMPLIFIED_MAX
        cells = np.round(scaled).astype(np.int64)
        if len(cells) > 1:
            cells = np.concatenate([cells[:1], cells[1:][np.any(cells[1:] != cells[:-1], axis=1)]])
        out.append(cells)
    return out


def encode(cells: Sequence[np.ndarray], start: tuple[int, int] = (0, 0), end: bool = True) -> np.ndarray:
    """Grid strokes -> stroke-5 rows (T, 3) int64 of (dx, dy, pen), one per point: the offset from the
    previous point (the first from `start`) and the pen after the point (eq. 1 of Ha & Eck 2017, with the
    one-hot (p1, p2, p3) as PEN_DOWN, PEN_UP, PEN_END). `end=False` leaves the last point PEN_UP (a prefix
    to be continued)."""
    points = np.concatenate(cells)
    pen = np.full(len(points), PEN_DOWN, np.int64)
    pen[np.cumsum([len(c) for c in cells]) - 1] = PEN_UP
    if end:
        pen[-1] = PEN_END
    offsets = np.diff(points, axis=0, prepend=np.asarray([start], np.int64))
    return np.column_stack([offsets, pen])


def decode(rows: np.ndarray, start: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
    """Stroke-5 rows (T, 3) -> grid strokes [(n_i, 2)] int64, stopping after the first PEN_END row."""
    rows = np.asarray(rows, np.int64)
    ends = np.flatnonzero(rows[:, 2] == PEN_END)
    rows = rows[: ends[0] + 1] if len(ends) else rows
    points = np.cumsum(rows[:, :2], axis=0) + np.asarray(start, np.int64)
    breaks = np.flatnonzero(rows[:, 2] != PEN_DOWN) + 1
    return [p for p in np.split(points, breaks) if len(p)]


def from_grid(cells: Sequence[np.ndarray], grid_size: int) -> list[np.ndarray]:
    """Grid strokes -> strokes in the units of the 0..255 box (floats), the inverse of `to_grid`."""
    return [np.asarray(c, np.float64) * pipeline.SIMPLIFIED_MAX / grid_size for c in cells]


def positions(rows: np.ndarray, start: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Where the pen is after each row: (T, 3) -> (T, 2) int64 grid positions."""
    return np.cumsum(np.asarray(rows, np.int64)[:, :2], axis=0) + np.asarray(start, np.int64)


class SketchSet:
    """The stroke drawings of one split, streamed from the shard cache (memory holds the labels and the
    drawings a batch reads, whatever the size of the data), with model-local labels."""

    def __init__(
        self,
        split: str,
        names: Sequence[str],
        grid_size: int,
        max_len: int,
        root: Path | None = None,
        cache_root: Path | None = None,
        max_per_category: int = 0,
    ) -> None:
        self.data = stream.open_split(
            split, list(names), root=root, cache_root=cache_root, max_per_category=max_per_category
        )
        self.grid_size, self.max_len = grid_size, max_len
        points = self.data.point_counts()
        # drawings with more than max_len points are left out, as Sketch-RNN did (counted before the grid
        # merges repeated points, so a drawing just over the bound may be left out that would have fit)
        self.items = np.flatnonzero((points > 0) & (points <= max_len))
        local = np.full(len(categories()), -1, np.int64)
        local[[category_index(n) for n in names]] = np.arange(len(names))
        self.labels = local[self.data.labels_of(self.items)]
        self.left_out = int(((points > 0) & (points > max_len)).sum())
        self.lengths = points[self.items]  # points per drawing (an upper bound of its rows), for bucketing

    def __len__(self) -> int:
        return len(self.items)

    def rows(
        self, index: int, rng: np.random.Generator | None = None, aug: Augment | None = None
    ) -> np.ndarray:
        """Stroke-5 rows (T, 3) of drawing `index`, augmented when `rng` and `aug` are given."""
        return self.rows_many([index], [rng], aug)[0]

    def rows_many(
        self,
        index: Sequence[int],
        rngs: Sequence[np.random.Generator | None] | None = None,
        aug: Augment | None = None,
    ) -> list[np.ndarray]:
        """`rows` of each of drawings `index`, the i-th augmented with rngs[i]; the strokes of a batch are
        read shard by shard (`stream.ShardedSplit.strokes_many`)."""
        drawings = self.data.strokes_many(self.items[np.asarray(index, np.int64)])
        out = []
        for drawing, rng in zip(drawings, rngs or [None] * len(drawings)):
            if rng is not None and aug is not None and aug.enabled:
                drawing = augment_strokes(drawing, rng, aug)
            out.append(encode(to_grid(drawing, self.grid_size))[: self.max_len])
        return out


def augmentation(rotate: float, stretch: float) -> Augment:
    """Only a small rotation and anisotropic scale (no stroke dropout, jitter or prefix cut: the model
    learns whole, clean drawings), re-aligned to the box by `augment_strokes`."""
    return Augment(rotate=rotate, stretch=stretch, shear=0.0, drop_stroke=0.0, jitter=0.0, shift=0.0)


def batch(rows: Sequence[np.ndarray], labels: np.ndarray, grid_size: int) -> dict[str, np.ndarray]:
    """Teacher-forcing arrays of B drawings, padded to the longest T:

    inputs (B, T, 3) the previous row (a START row first: offset 0, pen PEN_START), offsets shifted to
    0..2G as embedding indices; where (B, T, 2) the pen position before each row, clipped to 0..G;
    targets (B, T, 3) the rows to predict, IGNORE on padding; labels (B,)."""
    size, g = max(len(r) for r in rows), grid_size
    inputs = np.zeros((len(rows), size, 3), np.int64)
    inputs[:, :, :2], inputs[:, :, 2] = g, PEN_END
    where = np.zeros((len(rows), size, 2), np.int64)
    targets = np.full((len(rows), size, 3), IGNORE, np.int64)
    for i, r in enumerate(rows):
        n = len(r)
        inputs[i, 0] = (g, g, PEN_START)
        inputs[i, 1:n, :2], inputs[i, 1:n, 2] = r[:-1, :2] + g, r[:-1, 2]
        where[i, 1:n] = np.clip(positions(r)[:-1], 0, g)
        targets[i, :n, :2], targets[i, :n, 2] = r[:, :2] + g, r[:, 2]
    return {"inputs": inputs, "where": where, "targets": targets, "labels": np.asarray(labels, np.int64)}
