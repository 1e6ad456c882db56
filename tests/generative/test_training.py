"""The shared training loop's batch choice: plain and same-label-paired batches, reproducible by step."""

from __future__ import annotations

import numpy as np

from doodlelab.generative import training
from tests.classifier.conftest import shapes_data  # noqa: F401


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


def test_bucketed_batches_cover_the_data_once_per_pass_with_less_padding():
    lengths = np.random.default_rng(0).integers(3, 129, 640)
    steps = range(40)  # one pass: 640 drawings in batches of 16
    plain = [training.batch_indices(640, 16, 0, s) for s in steps]
    bucketed = [training.bucketed_indices(lengths, 16, 0, s, pool=8) for s in steps]
    assert sorted(np.concatenate(bucketed).tolist()) == list(range(640))  # each drawing once
    for step in (0, 13):
        np.testing.assert_array_equal(bucketed[step], training.bucketed_indices(lengths, 16, 0, step, 8))
        np.testing.assert_array_equal(plain[step], training.bucketed_indices(lengths, 16, 0, step, 1))

    # the positions computed (longest drawing of each batch) against the points there are
    def padding(batches):
        return sum(len(b) * lengths[b].max() for b in batches) / lengths.sum()

    assert padding(bucketed) < 1.25 < 1.6 < padding(plain)
    first_pool = [lengths[b].max() for b in bucketed[:8]]
    assert sorted(first_pool) != first_pool  # the pool's batches come in a drawn order, not short to long
    assert not np.array_equal(training.bucketed_indices(lengths, 16, 1, 0, 8), bucketed[0])


def test_generators_stream_the_training_split_from_the_shards(shapes_data):  # noqa: F811
    # The generators read the same sharded cache as the classifier, a batch at a time: the same drawings
    # and labels as the whole split in memory, and `--max-per-category` bounds them.
    from doodlelab.data import cache as cache_module
    from doodlelab.data import stream
    from doodlelab.generative.config import GANConfig
    from tests.classifier.conftest import SHAPES

    data, cache = shapes_data
    config = GANConfig(categories=SHAPES, batch_size=16)
    images, labels = training.load_images(config, data / "quickdraw", cache)
    whole, whole_labels = cache_module.load_split(
        "train", list(SHAPES), 28, root=data / "quickdraw", cache_root=cache
    )
    assert isinstance(images, stream.SplitImages) and len(images) == len(whole)
    assert np.array_equal(labels, whole_labels)
    idx = np.random.default_rng(0).permutation(len(whole))[:50]
    assert np.array_equal(images[idx], whole[idx]) and np.array_equal(images[3:9], whole[3:9])
    few = GANConfig(categories=SHAPES, batch_size=16, max_per_category=10)
    assert len(training.load_images(few, data / "quickdraw", cache)[0]) < len(whole)
