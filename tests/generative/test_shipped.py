"""The shipped generators: they load from the package, draw what their card promises, and differ by seed
(no collapse to one drawing per category)."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab import modelfile
from doodlelab.generative.generator import MODELS, load, shipped


@pytest.fixture(scope="module", params=MODELS)
def generator(request):
    if not shipped(request.param).is_file():
        pytest.fail(f"no shipped {request.param} weights at {shipped(request.param)}")
    return load(request.param)


def test_card_documents_data_training_and_evaluation(generator):
    card = modelfile.load_card(generator.path)
    assert card["attribution"] == "Quick, Draw! dataset, Google Inc., CC BY 4.0"
    assert len(card["classes"]) == 345 and card["dtype"] == "float16"
    assert card["steps_trained"] == generator.config.steps
    evaluation = card["evaluation"]
    assert evaluation["categories"] == 345
    assert evaluation["samples"] == 345 * evaluation["samples_per_category"]
    for key in ("recognizability", "classifier_accuracy_real_test", "frechet_distance", "frechet_ratio"):
        assert np.isfinite(evaluation[key])


@pytest.mark.parametrize("category", ["cat", "bicycle", "The Eiffel Tower"])
def test_seeds_give_different_doodles_and_repeat(generator, category):
    a = generator(category, n=8, seed=1, steps=10)
    assert a.shape == (8, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, generator(category, n=8, seed=1, steps=10))
    b = generator(category, n=8, seed=2, steps=10)
    assert not np.array_equal(a, b)
    flat = np.concatenate([a, b]).reshape(16, -1).astype(np.float64)
    distances = np.abs(flat[:, None] - flat[None]).mean(-1)[np.triu_indices(16, 1)]
    assert distances.min() > 2.0  # no two of 16 samples are (nearly) the same drawing
    ink = flat.mean(1)
    assert (ink > 3).all() and (ink < 128).all()  # line drawings: some ink, mostly background


def test_categories_differ(generator):
    cats, trees = generator("cat", n=16, seed=0, steps=10), generator("tree", n=16, seed=0, steps=10)
    assert not np.array_equal(cats, trees)
