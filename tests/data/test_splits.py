"""Splits: deterministic, exactly stratified, and one split per drawing identity."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab.data import splits


def test_assign_splits_is_deterministic_and_stratified():
    ids = [f"cat#{i}" for i in range(1000)]
    a = splits.assign_splits(ids)
    assert np.array_equal(a, splits.assign_splits(list(reversed(ids)))[::-1])  # order does not matter
    assert splits.split_counts(a) == {"train": 800, "val": 100, "test": 100}
    b = splits.assign_splits(ids, splits.SplitConfig(seed=1))
    assert not np.array_equal(a, b) and splits.split_counts(b) == splits.split_counts(a)


def test_duplicate_identities_share_a_split():
    ids = [f"cat#{i}" for i in range(200)] * 2  # the same drawings from two sources
    codes = splits.assign_splits(ids)
    assert np.array_equal(codes[:200], codes[200:])
    assert splits.split_counts(codes[:200]) == {"train": 160, "val": 20, "test": 20}


def test_identity_prefers_qd_index():
    assert splits.identity("cat", 7, "123") == splits.identity("cat", 7, None) == "cat#7"
    assert splits.identity("cat", None, "123") == splits.identity("cat", -1, "123") == "key:123"
    with pytest.raises(ValueError):
        splits.identity("cat")


def test_link_to_bitmaps_finds_the_same_drawing_only():
    rng = np.random.default_rng(0)
    bitmaps = (rng.random((50, 784)) > 0.8).astype(np.uint8) * 255
    rendered = bitmaps[[3, 17]].astype(np.int64) + rng.integers(0, 3, size=(2, 784))  # nearly equal
    strangers = (rng.random((2, 784)) > 0.8).astype(np.uint8) * 255
    found = splits.link_to_bitmaps(np.concatenate([rendered, strangers]), bitmaps)
    assert found.tolist() == [3, 17, -1, -1]


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError):
        splits.SplitConfig(val_fraction=0.6, test_fraction=0.5)
