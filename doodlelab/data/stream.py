"""A split of the shard cache read on demand through memory maps: drawing i of the split is row
i - start[s] of shard s, so memory holds what a batch touches, whatever the size of the data.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from doodlelab.data import cache, shards, splits, strokes

MAX_OPEN = 1024  # shards kept mapped at once per process (least recently used ones are unmapped)


class ShardedSplit:
    """The drawings of one split across many shards; `take` reads a batch, `strokes_of` one drawing."""

    def __init__(self, parts: list[tuple[Path, dict, int]]) -> None:
        self.parts = parts  # (folder, manifest entry, category index) per shard
        self.starts = np.cumsum([0] + [e["n"] for _, e, _ in parts], dtype=np.int64)  # (shards + 1,)
        self.shard_labels = np.asarray([label for _, _, label in parts], dtype=np.int64)  # (shards,)
        self.size = int(parts[0][1]["sections"]["images"][2][1]) if parts else 28
        self._open: OrderedDict[int, shards.Shard] = OrderedDict()

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getstate__(self) -> dict:  # loader workers map the shards again themselves
        return self.__dict__ | {"_open": OrderedDict()}

    def shard(self, s: int) -> shards.Shard:
        """Shard s, memory-mapped (sizes checked; checksums were verified when the split was opened)."""
        if s in self._open:
            self._open.move_to_end(s)
        else:
            folder, entry, _ = self.parts[s]
            self._open[s] = shards.Shard(folder, entry, verify=False)
            if len(self._open) > MAX_OPEN:
                self._open.popitem(last=False)
        return self._open[s]

    def locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard, row) of drawings `index`: (B,) int -> two (B,) int64 arrays."""
        index = np.asarray(index, dtype=np.int64)
        if len(index) and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"drawing index out of range 0..{len(self) - 1}")
        s = np.searchsorted(self.starts, index, side="right") - 1
        return s, index - self.starts[s]

    def take(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(images (B, S, S) uint8, labels (B,) int64) of drawings `index` (B,), in that order."""
        s, row = self.locate(index)
        images = np.empty((len(s), self.size, self.size), np.uint8)
        labels = np.empty(len(s), np.int64)
        for k in np.unique(s).tolist():
            mine = np.flatnonzero(s == k)
            order = np.argsort(row[mine])  # read each shard front to back
            shard = self.shard(k)
            images[mine[order]] = shard.images[row[mine][order]]
            shard.release()  # memory holds what one batch reads, however many shards an epoch touches
            labels[mine] = self.parts[k][2]
        return images, labels

    def labels_of(self, index: np.ndarray) -> np.ndarray:
        """(B,) int64 labels of drawings `index` (B,), from the shard list alone (no shard is read)."""
        s, _ = self.locate(index)
        return self.shard_labels[s]

    def all_labels(self) -> np.ndarray:
        """(N,) int64 labels of every drawing, from the shard list alone."""
        return np.repeat(self.shard_labels, np.diff(self.starts))

    def strokes_of(self, i: int) -> strokes.Strokes | None:
        """The simplified strokes of drawing i, or None when it is a Google bitmap."""
        return self.strokes_many(np.asarray([i], np.int64))[0]

    def strokes_many(self, index: np.ndarray) -> list[strokes.Strokes | None]:
        """The simplified strokes (copies of the points; None for a Google bitmap) of drawings `index`
        (B,), in that order, each shard read once and released once (a batch's worth: releasing after
        every drawing made each read fault its pages in again)."""
        s, row = self.locate(index)
        out: list[strokes.Strokes | None] = [None] * len(s)
        for k in np.unique(s).tolist():
            shard = self.shard(k)
            for j in np.flatnonzero(s == k).tolist():
                out[j] = shard.strokes_of(int(row[j]))
            shard.release()
        return out

    def point_counts(self) -> np.ndarray:
        """(N,) int64 points of each drawing's simplified strokes (0 for a Google bitmap), from the shards'
        stroke and drawing ends alone (no points are read)."""
        out = []
        for s in range(len(self.parts)):
            shard = self.shard(s)
            stroke_ends = np.concatenate([[0], np.asarray(shard.stroke_ends, np.int64)])
            per_drawing = np.diff(stroke_ends[np.asarray(shard.drawing_ends, np.int64)], prepend=0)
            row = np.asarray(shard.drawing, np.int64)  # drawing of each row, -1 for a Google bitmap
            out.append(np.where(row >= 0, np.append(per_drawing, 0)[row], 0))
            shard.release()
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def blocks(self, size: int) -> np.ndarray:
        """(K, 2) int64 [start, stop) ranges of at most `size` consecutive drawings, never across shards."""
        out = [
            np.stack([np.arange(a, b, size), np.minimum(np.arange(a, b, size) + size, b)], axis=1)
            for a, b in zip(self.starts[:-1].tolist(), self.starts[1:].tolist())
            if b > a
        ]
        return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


class SplitImages:
    """The images of a `ShardedSplit` indexed like an array: `images[idx]` -> (B, S, S) uint8, read from the
    shards on demand (what the generators' trainers index, in place of one array of the whole split)."""

    def __init__(self, split: ShardedSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, slice):
            index = np.arange(*index.indices(len(self)))
        return self.split.take(np.asarray(index, dtype=np.int64))[0]


def open_split(
    split: str,
    names: Sequence[str] | None = None,
    size: int = 28,
    config: splits.SplitConfig = splits.DEFAULT_SPLIT,
    root: Path | None = None,
    cache_root: Path | None = None,
    max_per_category: int = 0,
    verify: bool = True,
) -> ShardedSplit:
    """One split of the cache for streaming (each drawing once, both sources). Categories are built when
    missing; stale, truncated or (with `verify`: one read of every shard) corrupt ones are rebuilt first."""
    return ShardedSplit(
        cache.split_shards(split, names, size, config, root, cache_root, max_per_category, verify)
    )
