"""scripts/early_ensemble.py: the probability average of two models, replayed in time, on hand-made
probabilities where each model is right where the other is not."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab.classifier import early


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("early_ensemble")


def test_the_average_keeps_what_each_model_knows_best(script):
    f, c = len(early.SHARES), 3
    labels = np.array([0, 1])
    shipped = np.full((2, f, c), 0.1)
    prefix = np.full((2, f, c), 0.1)
    shipped[:, :, 2] = 0.8  # confidently wrong on every partial drawing, confidently right when finished
    shipped[np.arange(2), -1] = 0.1
    shipped[np.arange(2), -1, labels] = 0.8
    prefix[np.arange(2), :, labels] = 0.5  # mildly right all along, ...
    prefix[1, -1] = [0.5, 0.4, 0.1]  # ... except drawing 1 finished
    reports = script.mixtures(shipped, prefix, labels, [0.0, 0.3, 1.0])
    assert reports[1.0] == early.report(shipped, labels) and reports[0.0] == early.report(prefix, labels)
    assert reports[1.0]["top1_at"]["50%"] == 0 and reports[1.0]["top1_at"]["100%"] == 1
    assert reports[0.0]["top1_at"]["50%"] == 1 and reports[0.0]["top1_at"]["100%"] == 0.5
    mixed = reports[0.3]["top1_at"]  # early: 0.3·0.8 + 0.7·0.1 < 0.3·0.1 + 0.7·0.5; late: shipped outvotes
    assert mixed["50%"] == 1 and mixed["100%"] == 1
