"""The Fréchet distance against a direct computation, the variety measure, and the balanced real sample."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from doodlelab.generative import evaluate
from doodlelab.generative.evaluate import balanced_sample, frechet_distance


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6))
    b = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 1.0
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(a, a + 2.0) == pytest.approx(6 * 4.0, rel=1e-6)  # only the means differ


def test_balanced_sample_takes_up_to_n_per_label():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    idx = balanced_sample(labels, 5, [0, 1, 2], seed=0)
    assert np.bincount(labels[idx]).tolist() == [5, 3, 5]
    assert np.array_equal(idx, balanced_sample(labels, 5, [0, 1, 2], seed=0))


def test_nearest_neighbour_distance_against_a_loop():
    f = np.random.default_rng(1).normal(size=(9, 4))
    nearest = [min(np.linalg.norm(f[i] - f[j]) for j in range(9) if j != i) for i in range(9)]
    assert evaluate.nearest_neighbour_distance(f) == pytest.approx(np.median(nearest))


def test_variety_is_near_one_for_the_same_distribution_and_flags_a_collapsed_majority():
    rng = np.random.default_rng(2)
    real, same = rng.normal(size=(32, 8)), rng.normal(size=(16, 8))
    one = np.repeat(rng.normal(size=(1, 8)), 12, 0) + 0.01 * rng.normal(size=(12, 8))
    collapsed = np.concatenate([one, rng.normal(size=(4, 8)) * 5])  # 3/4 one drawing, 4 far-off outliers
    fake_y = real_y = np.repeat([0, 1], 16)  # as many samples as real drawings per category
    fake = np.concatenate([same, collapsed])
    out = evaluate.variety(fake, fake_y, real, real_y, [0, 1], ["same", "collapsed"])
    assert out["same"] == pytest.approx(1.0, abs=0.3)
    assert out["collapsed"] < 0.05
    # The mean pairwise distance, by contrast, is inflated by the outliers and would not flag it.
    pairwise = np.sqrt(((collapsed[:, None] - collapsed[None]) ** 2).sum(-1)).mean()
    assert pairwise > np.sqrt(((real[16:, None] - real[None, 16:]) ** 2).sum(-1)).mean()
