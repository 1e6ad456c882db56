"""The Fréchet distance against a direct computation, and the balanced real sample."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

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
