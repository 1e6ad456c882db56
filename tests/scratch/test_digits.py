"""The shipped digit weights: present, documented, small, and accurate on the official test set."""

from __future__ import annotations

import json

import numpy as np

from doodlelab.data.mnist import load_mnist
from doodlelab.scratch.digits import WEIGHTS, DigitClassifier, shipped
from doodlelab.scratch.model_io import MNIST_PROVENANCE, card_path

from .conftest import needs_mnist


def test_shipped_weights_and_card():
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size < 3_000_000
    card = json.loads(card_path(WEIGHTS).read_text())
    assert card["classes"] == [str(d) for d in range(10)] and card["data"] == MNIST_PROVENANCE
    assert card["metrics"]["test_accuracy"] >= 0.982 and card["training"]["seconds"] <= 300
    assert shipped() is shipped()  # loaded once


@needs_mnist
def test_shipped_weights_reach_98_2_percent_on_the_official_test_set():
    data = load_mnist()
    probs = shipped().predict_proba(data.x_test)
    assert probs.shape == (10000, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (probs.argmax(axis=1) == data.y_test).mean() >= 0.982


def test_top_k_is_sorted_and_single_images_work():
    classifier = DigitClassifier.load()
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 13:15] = 255  # a vertical bar: a "1"
    top = classifier.top(digit, k=10)
    assert [c for c, _ in top][0] == "1" and len(top) == 10
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-5
    assert classifier.predict_proba(digit).shape == (10,)
