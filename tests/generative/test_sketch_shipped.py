"""The shipped stroke model: its card documents data, training, the evaluation and the sampling settings it
was evaluated with (the defaults), and it draws varied, recognizable doodles for a fixed seed."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab import modelfile
from doodlelab.data import strokes as pipeline
from doodlelab.generative.evaluate import Judge
from doodlelab.generative.sketch_config import SHIPPED
from doodlelab.generative.sketch_sample import load

EASY = ["circle", "sun", "star", "house", "tree"]


@pytest.fixture(scope="module")
def sketcher():
    if not SHIPPED.is_file():
        pytest.fail(f"no shipped stroke model at {SHIPPED}")
    return load("sketch")


def test_card_documents_data_training_evaluation_and_sampling(sketcher):
    card = modelfile.load_card(SHIPPED)
    assert card["attribution"] == "Quick, Draw! dataset, Google Inc., CC BY 4.0"
    assert len(card["classes"]) == 345 and card["dtype"] == "float16"
    assert card["steps_trained"] == card["config"]["steps"] and card["config"]["head"] == "mixture"
    evaluation = card["evaluation"]
    assert evaluation["categories"] == 345 and evaluation["split"] == "test"
    assert evaluation["samples"] == 345 * evaluation["samples_per_category"]
    assert evaluation["classifier"] == "judge.safetensors"  # the frozen yardstick of every generator
    # the figures were measured with the settings the model samples with by default
    assert evaluation["sampling"] == dict(
        zip(("temperature", "top_p", "guidance"), sketcher.sampling(None, None))
    )
    completion = evaluation["completion"]
    assert completion["drawings"] == evaluation["samples"]
    for key in ("recognizability", "frechet_ratio", "variety_median"):
        assert np.isfinite(evaluation[key])
    assert len(card["per_category_recognizability"]) == 345


def test_seeds_repeat_and_differ_and_doodles_are_simplified(sketcher):
    first, again, other = (sketcher.generate("cat", 4, seed=s) for s in (1, 1, 2))
    as_lists = [[[s.tolist() for s in d] for d in ds] for ds in (first, again, other)]
    assert as_lists[0] == as_lists[1] != as_lists[2]
    for drawing in first:
        points = np.concatenate(drawing)
        assert np.all(points == np.round(points)) and points.min() == 0 and points.max() == 255


def test_guided_doodles_of_easy_categories_are_recognized():
    """8 doodles of each of five simple categories (seed 0): the judge names most of them with guidance,
    fewer without it."""
    sketcher, judge = load("sketch"), Judge()
    targets = np.repeat([judge.classes.index(c) for c in EASY], 8)

    def named(guidance: float) -> float:
        images = [
            pipeline.render(d) for c in EASY for d in sketcher.generate(c, 8, seed=0, guidance=guidance)
        ]
        return float((judge.run(np.stack(images))[0] == targets).mean())

    guided, plain = named(2.0), named(0.0)
    assert guided >= 0.6 and guided > plain, (guided, plain)
