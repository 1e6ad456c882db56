"""The shipped generators: they load from the package, draw what their card promises, and differ by seed
(no collapse to one drawing per category)."""

from __future__ import annotations

import numpy as np
import pytest

from doodlelab import modelfile
from doodlelab.errors import DoodleError
from doodlelab.generative import evaluate
from doodlelab.generative.generator import MODELS, DoodleGenerator, load, shipped

COLLAPSED_BEFORE = ("star", "face", "door", "line", "boomerang")  # one drawing each from the old GAN


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


def fast(generator, steps: int) -> dict:
    """Fewer sampling steps for a diffusion model; the GAN draws in one pass and refuses a step count."""
    return {"steps": steps} if generator.kind == "diffusion" else {}


@pytest.mark.parametrize("category", ["cat", "bicycle", "The Eiffel Tower"])
def test_seeds_give_different_doodles_and_repeat(generator, category):
    a = generator(category, n=8, seed=1, **fast(generator, 10))
    assert a.shape == (8, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, generator(category, n=8, seed=1, **fast(generator, 10)))
    b = generator(category, n=8, seed=2, **fast(generator, 10))
    assert not np.array_equal(a, b)
    flat = np.concatenate([a, b]).reshape(16, -1).astype(np.float64)
    distances = np.abs(flat[:, None] - flat[None]).mean(-1)[np.triu_indices(16, 1)]
    assert distances.min() > 2.0  # no two of 16 samples are (nearly) the same drawing
    ink = flat.mean(1)
    assert (ink > 3).all() and (ink < 128).all()  # line drawings: some ink, mostly background


def test_categories_differ(generator):
    cats = generator("cat", n=16, seed=0, **fast(generator, 10))
    trees = generator("tree", n=16, seed=0, **fast(generator, 10))
    assert not np.array_equal(cats, trees)


@pytest.fixture(scope="module")
def judged_real():
    """(the evaluation's classifier, features of 16 real test drawings of each COLLAPSED_BEFORE category)."""
    from doodlelab.data import cache

    try:
        images, labels = cache.load_split("test", list(COLLAPSED_BEFORE))
    except (DoodleError, OSError) as exc:  # no Quick, Draw! data on this machine
        pytest.skip(f"no Quick, Draw! data ({exc})")
    judge = evaluate.Judge()
    wanted = [judge.classes.index(c) for c in COLLAPSED_BEFORE]
    picks = np.concatenate([np.flatnonzero(labels == c)[:16] for c in wanted])
    if len(picks) < 16 * len(wanted):
        pytest.skip("too few real test drawings of these categories")
    return judge, judge.run(images[picks])[1], labels[picks]


@pytest.mark.parametrize("model", MODELS)
def test_no_category_collapses_to_one_drawing(model, judged_real):
    """Samples of a category are about as far from their nearest fellow as real drawings are (variety),
    for the categories the GAN shipped before the pair head drew as one drawing each."""
    judge, real_f, real_y = judged_real
    generator = load(model)
    wanted = [judge.classes.index(c) for c in COLLAPSED_BEFORE]
    fake = np.concatenate([generator(c, n=16, seed=0, **fast(generator, 25)) for c in COLLAPSED_BEFORE])
    varied = evaluate.variety(
        judge.run(fake)[1], np.repeat(wanted, 16), real_f, real_y, wanted, list(COLLAPSED_BEFORE)
    )
    assert min(varied.values()) > 0.5, varied


def test_the_shipped_diffusion_models_defaults_draw_recognizable_doodles():
    """With the settings its card was evaluated with (w, interval, eta, 50 DDIM steps; the defaults), the
    classifier names most samples of every 20th category as intended: the card's figure, in small."""
    judge = evaluate.Judge()  # the shipped classifier: no data needed
    generator, names = load("diffusion"), judge.classes[::20]
    fake = np.concatenate([generator(c, n=4, seed=1) for c in names])
    named = judge.run(fake)[0] == np.repeat([judge.classes.index(c) for c in names], 4)
    card = modelfile.load_card(generator.path)["evaluation"]
    assert named.mean() >= card["classifier_accuracy_real_test"] - 0.1, named.mean()


def test_the_shipped_diffusion_model_samples_through_its_onnx_export(float32_torch):
    """The export beside the shipped weights is theirs (a stale one would silently fall back to PyTorch),
    and the card's evaluation names the engine and the guidance interval it was measured with."""
    pytest.importorskip("onnxruntime")
    generator = load("diffusion")
    assert generator.engine == "onnx"
    sampling = modelfile.load_card(generator.path)["evaluation"]["sampling"]
    assert sampling["engine"] == "onnx" and sampling["guidance"] == generator.config.guidance
    assert tuple(sampling["guidance_interval"]) == generator.config.guidance_interval
    assert sampling["eta"] == generator.config.eta and sampling["steps"] == 50
    a = generator("cat", n=4, seed=5, **fast(generator, 10))
    b = DoodleGenerator(generator.path, engine="torch")("cat", n=4, seed=5, steps=10)
    assert np.abs(a.astype(int) - b).max() <= 1 and (a != b).mean() < 0.01
