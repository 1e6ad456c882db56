"""Metrics: checked on hand-made cases and against scikit-learn; calibration recovers a known temperature."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import top_k_accuracy_score

from doodlelab.classifier import metrics


def test_top_k_and_map_at_3_on_a_hand_made_case():
    probs = np.array(
        [[0.5, 0.3, 0.2, 0.0], [0.1, 0.6, 0.3, 0.0], [0.2, 0.3, 0.4, 0.1], [0.7, 0.15, 0.1, 0.05]]
    )
    labels = np.array([0, 2, 0, 3])  # ranks 1, 2, 3 and 4
    assert metrics.top_k(probs, 3)[1].tolist() == [1, 2, 0]
    assert metrics.top_k_accuracy(probs, labels, 1) == 0.25
    assert metrics.map_at_3(probs, labels) == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)


def test_top_k_accuracy_matches_scikit_learn():
    rng = np.random.default_rng(0)
    probs = metrics.softmax(rng.normal(size=(500, 20)))
    labels = rng.integers(0, 20, 500)
    for k in (1, 3, 5):
        assert metrics.top_k_accuracy(probs, labels, k) == pytest.approx(
            top_k_accuracy_score(labels, probs, k=k, labels=np.arange(20))
        )


def test_expected_calibration_error_is_zero_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(1)
    n = 20000
    confidence = rng.uniform(0.3, 1.0, n)
    correct = rng.random(n) < confidence  # right exactly as often as claimed
    probs = np.zeros((n, 2))
    probs[:, 0], probs[:, 1] = confidence, 1 - confidence
    labels = np.where(correct, 0, 1)
    assert metrics.expected_calibration_error(probs, labels) < 0.02
    sure = np.column_stack([np.full(n, 0.99), np.full(n, 0.01)])
    assert metrics.expected_calibration_error(sure, labels) > 0.25


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, size=(20000, 10))
    true_t = 2.5
    p = metrics.softmax(logits, true_t)
    labels = (p.cumsum(axis=1) < rng.random((len(p), 1))).sum(axis=1)
    t = metrics.fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.05)
    assert metrics.nll(logits, labels, t) < metrics.nll(logits, labels, 1.0)


def test_report_lists_per_category_accuracy_and_the_most_confused_pairs():
    names = ["cat", "dog", "cow"]
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 1, 2])
    report = metrics.report(np.eye(3)[predicted], labels, names)
    assert report["top1"] == round(4 / 6, 4) and report["categories"] == 3
    assert report["per_category"]["cat"] == {"accuracy": round(1 / 3, 4), "n": 3}
    assert report["most_confused"] == [{"true": "cat", "predicted": "dog", "count": 2}]
