"""Training batches: each epoch visits blocks of consecutive drawings in a seeded order and shuffles
drawings within a bounded window of blocks; every rank takes its share of each global batch and every
loader worker its own batches, so a run is reproducible and resumes exactly from any step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from doodlelab.data.augment import Augment, augmented

BLOCK = 64  # consecutive drawings read together (one category, one shard): the unit of the epoch order


def stratified_order(groups: np.ndarray | None, k: int, seed: int, epoch: int) -> np.ndarray:
    """A seeded order of k blocks (K,) int64 in which each group's blocks are evenly spread: the j-th of a
    group's n blocks (in a random order) gets the key (j + u) / n, with one u ~ U(0, 1) per group, and
    blocks are sorted by key (systematic sampling: any stretch of 1/n of the epoch holds one of the group's
    blocks). Without groups, a plain random permutation."""
    rng = np.random.default_rng([seed, epoch])
    if groups is None:
        return rng.permutation(k)
    groups = np.asarray(groups)
    shuffled = rng.permutation(k)
    _, inverse, counts = np.unique(groups[shuffled], return_inverse=True, return_counts=True)
    within = np.empty(k, np.int64)  # rank of each shuffled block among its group's blocks
    by_group = np.argsort(inverse, kind="stable")
    starts = np.cumsum(counts) - counts
    within[by_group] = np.arange(k) - np.repeat(starts, counts)
    keys = (within + rng.random(len(counts))[inverse]) / counts[inverse]
    return shuffled[np.argsort(keys, kind="stable")]


class EpochPlan:
    """The order of one epoch over a split of `n` drawings given as blocks (K, 2) [start, stop).

    Blocks are ordered by (seed, epoch), stratified by `groups` (K,) (the category of each block): each
    group's blocks are spread evenly over the epoch, so every stretch of the order holds the categories in
    proportion (a plain permutation leaves whole categories out of a window). Consecutive runs of blocks
    holding about `window` drawings are shuffled together (the bounded shuffle buffer: only indices, a
    window at a time). Global batch b is positions [b * B, (b + 1) * B) of that order, B = per_rank * world;
    rank r takes the r-th slice.
    """

    def __init__(
        self,
        blocks: np.ndarray,
        per_rank: int,
        world: int,
        seed: int,
        epoch: int,
        window: int = 262_144,
        groups: np.ndarray | None = None,
    ) -> None:
        self.seed, self.epoch, self.per_rank, self.world = seed, epoch, per_rank, world
        self.blocks = blocks[stratified_order(groups, len(blocks), seed, epoch)]
        lengths = self.blocks[:, 1] - self.blocks[:, 0]
        per_window = max(1, window // BLOCK)
        firsts = np.arange(0, len(self.blocks), per_window)
        self.window_blocks = np.append(firsts, len(self.blocks))  # (W + 1,) block bounds of each window
        sizes = np.add.reduceat(lengths, firsts) if len(firsts) else np.zeros(0, np.int64)
        self.window_ends = np.cumsum(sizes)  # (W,) position after each window
        self.n = int(self.window_ends[-1]) if len(sizes) else 0
        self.steps = self.n // (per_rank * world)  # the ragged end is dropped: every step is a full batch
        self._window: tuple[int, np.ndarray] | None = None

    def window(self, w: int) -> np.ndarray:
        """Drawing indices of window w in shuffled order, (size of window,) int64."""
        if self._window is None or self._window[0] != w:
            spans = self.blocks[self.window_blocks[w] : self.window_blocks[w + 1]]
            ids = np.concatenate([np.arange(a, b) for a, b in spans.tolist()])
            shuffle = np.random.default_rng([self.seed, self.epoch, w, 2]).permutation(len(ids))
            self._window = (w, ids[shuffle])
        return self._window[1]

    def positions(self, start: int, stop: int) -> np.ndarray:
        """Drawing indices at positions [start, stop) of the epoch order."""
        out, w = [], int(np.searchsorted(self.window_ends, start, side="right"))
        while start < stop:
            first = int(self.window_ends[w - 1]) if w > 0 else 0
            end = min(stop, int(self.window_ends[w]))
            out.append(self.window(w)[start - first : end - first])
            start, w = end, w + 1
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def batch(self, b: int, rank: int = 0) -> np.ndarray:
        """This rank's drawings of global batch b: (per_rank,) int64."""
        start = (b * self.world + rank) * self.per_rank
        return self.positions(start, start + self.per_rank)


class AugmentedBatches(Dataset):
    """Item k is this rank's share of global batch `first + k` of an epoch: (images (B, S, S) uint8,
    labels (B,) int64), augmented. `data` is a `stream.ShardedSplit` or an in-memory `cache.SplitArrays`."""

    def __init__(self, data, plan: EpochPlan, aug: Augment, rank: int = 0, first: int = 0) -> None:
        self.data, self.plan, self.aug, self.rank, self.first = data, plan, aug, rank, first

    def __len__(self) -> int:
        return self.plan.steps - self.first

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.first + k
        index = self.plan.batch(b, self.rank)
        images, labels = self.data.take(index)
        if self.aug.enabled:
            rng = np.random.default_rng([self.plan.seed, self.plan.epoch, b, 1, self.rank])
            drawings = self.data.strokes_many(index)
            images = np.stack([augmented(d, image, rng, self.aug) for d, image in zip(drawings, images)])
        return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)
