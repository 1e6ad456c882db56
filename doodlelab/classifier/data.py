"""Training batches: each epoch shuffles with its own seed and renders freshly augmented drawings, so a
run is reproducible whatever the number of loader processes and resumes bit for bit from any epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from doodlelab.data.augment import Augment, augmented
from doodlelab.data.cache import SplitArrays


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  ) -> list[np.ndarray]:
    """Indices of one epoch, shuffled by (seed, epoch), this rank's share, cut into full batches."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = n // world
    mine = order[rank * per_rank : (rank + 1) * per_rank]
    n_batches = len(mine) // batch_size  # drop the ragged end: every step sees a full batch
    return [mine[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]


class AugmentedBatches(Dataset):
    """Item b is batch b of an epoch: (images (B, S, S) uint8, labels (B,) int64), augmented."""

    def __init__(self, data: SplitArrays, batches: list[np.ndarray], aug: Augment, seed: int,
                 epoch: int) -> None:
        self.data, self.batches, self.aug, self.seed, self.epoch = data, batches, aug, seed, epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.batches[b]
        images = self.data.images[index]
        if self.aug.enabled:
            rng = np.random.default_rng([self.seed, self.epoch, b, 1])
            images = np.stack([augmented(self.data.strokes_of(int(i)), self.data.images[i], rng, self.aug)
                               for i in index])
        return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(self.data.labels[index])
