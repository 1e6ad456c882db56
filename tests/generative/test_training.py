"""The shared training loop's batch choice: plain and same-label-paired batches, reproducible by step."""

from __future__ import annotations

import numpy as np

from doodlelab.generative import training


def test_paired_batches_pair_two_different_drawings_of_one_label():
    labels = np.random.default_rng(0).integers(0, 7, 500)
    labels[labels == 6] = 5
    labels[np.flatnonzero(labels == 5)[1:]] = 4  # label 5: a single drawing, so it can only pair itself
    seen = set()
    for step in range(40):
        idx = training.paired_batch_indices(labels, 16, seed=1, step=step)
        first, second = idx[:8], idx[8:]
        assert len(idx) == 16 and np.array_equal(labels[first], labels[second])
        alone = labels[first] == 5
        assert np.all((first != second) | alone)  # never one drawing twice, unless it is its label's only
        np.testing.assert_array_equal(idx, training.paired_batch_indices(labels, 16, seed=1, step=step))
        seen.update(second.tolist())
    assert len(seen) > 200  # partners are drawn from the whole label, not a fixed one per drawing
    other = training.paired_batch_indices(labels, 16, seed=2, step=0)
    assert not np.array_equal(other, training.paired_batch_indices(labels, 16, seed=1, step=0))


def test_plain_batches_cover_the_data_once_per_pass():
    per_pass = [training.batch_indices(100, 10, seed=0, step=s) for s in range(10)]
    assert sorted(np.concatenate(per_pass).tolist()) == list(range(100))
    assert not np.array_equal(training.batch_indices(100, 10, 0, 10), per_pass[0])  # the next pass reshuffles
