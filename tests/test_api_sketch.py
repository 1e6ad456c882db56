"""The public Python API of the stroke model (`doodlelab.sketch`, `doodlelab.complete`, `generate(...,
model="sketch")`): the shipped model's own answers in the dataset's JSON form, the input kept exactly,
and one-sentence errors for wrong calls."""

from __future__ import annotations

import math

import numpy as np
import pytest

import doodlelab
from doodlelab import api
from doodlelab.data import strokes
from doodlelab.errors import DataError, DoodleError, UnknownCategoryError
from doodlelab.generative.sketch_sample import load

RAW_HOUSE = [  # a house drawn on a canvas: float coordinates with timestamps
    [[100.5, 100.25, 300.75, 300.5, 100.5], [400.0, 200.5, 200.25, 400.5, 400.0], [0, 90, 180, 270, 360]],
    [[100.5, 200.25, 300.75], [200.5, 80.5, 200.25], [500, 600, 700]],
]


@pytest.fixture(scope="module")
def sketcher():
    return load("sketch")


def test_sketch_returns_the_models_drawings_in_the_simplified_json_form(sketcher):
    cats = doodlelab.sketch("Cat", n=3, seed=5)  # categories are case-insensitive, as in `generate`
    expected = sketcher.generate("cat", 3, 5)
    assert cats == [
        [[s[:, 0].astype(int).tolist(), s[:, 1].astype(int).tolist()] for s in d] for d in expected
    ]
    assert all(type(v) is int and 0 <= v <= 255 for d in cats for s in d for xy in s for v in xy)
    assert doodlelab.sketch("cat", n=3, seed=5) == cats and doodlelab.sketch("cat", n=3, seed=6) != cats
    assert strokes.is_simplified(strokes.parse_strokes(cats[0]))  # every tool reads them as simplified
    unguided = doodlelab.sketch("cat", n=3, seed=5, guidance=0, temperature=0.9)
    assert unguided == [strokes.to_json(d) for d in sketcher.generate("cat", 3, 5, 0.9, None, 0.0)]
    assert len(doodlelab.sketch(None, n=1)) == 1  # no category: the unconditional model


def test_generate_with_the_stroke_model_renders_its_drawings_through_the_pipeline():
    bitmaps = doodlelab.generate("cat", model="sketch", n=2, seed=1)
    drawings = doodlelab.sketch("cat", n=2, seed=1)
    assert bitmaps.shape == (2, 28, 28) and bitmaps.dtype == np.uint8
    for bitmap, drawing in zip(bitmaps, drawings):
        assert np.array_equal(bitmap, strokes.rasterize(strokes.parse_strokes(drawing), 28))


def test_complete_keeps_the_input_exactly_and_adds_strokes_in_its_frame(sketcher):
    done = doodlelab.complete(RAW_HOUSE, category="house", n=3, seed=2)
    assert len(done) == 3 and len({str(d) for d in done}) == 3  # three different completions
    for drawing in done:
        assert drawing[: len(RAW_HOUSE)] == RAW_HOUSE  # timestamps and float coordinates as given
        new = drawing[len(RAW_HOUSE) :]
        assert new and all(len(s) == 2 for s in new)
        points = np.concatenate(strokes.parse_strokes(new))
        assert points.min() > -200 and points.max() < 700  # near the house, not in the 0..255 box
    parsed = strokes.parse_strokes(RAW_HOUSE)
    expected = sketcher.complete(parsed, True, "house", 3, 2)
    assert [d[len(RAW_HOUSE) :] for d in done] == [strokes.to_json(e) for e in expected]
    doodlelab.recognize(done[0])  # the whole drawing reads back


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: doodlelab.sketch("dgo"), UnknownCategoryError, "dog"),
        (lambda: doodlelab.sketch("cat", n=0), DataError, "n must be from 1 to 64"),
        (lambda: doodlelab.sketch("cat", n=65), DataError, "n must be from 1 to 64"),
        (lambda: doodlelab.sketch("cat", n=2.0), api.InputError, "n must be an integer"),
        (lambda: doodlelab.sketch("cat", seed=-1), DataError, "seed"),
        (lambda: doodlelab.sketch(7), api.InputError, "category must be"),
        (lambda: doodlelab.sketch("cat", temperature=0), DoodleError, "temperature"),
        (lambda: doodlelab.sketch("cat", temperature=math.nan), DoodleError, "temperature"),
        (lambda: doodlelab.sketch("cat", guidance=11), DoodleError, "guidance"),
        (lambda: doodlelab.sketch("cat", guidance="2"), api.InputError, "guidance must be a number"),
        (lambda: doodlelab.generate("cat", model="sketch", steps=10), DataError, "diffusion"),
        (lambda: doodlelab.generate("cat", model="sketch", n=65), DataError, "n must be from 1 to 64"),
        (lambda: doodlelab.complete(RAW_HOUSE[0]), api.InputError, "one stroke"),
        (lambda: doodlelab.complete({"drawing": RAW_HOUSE}), api.InputError, "expected a drawing"),
        (lambda: doodlelab.complete([[[1, 2], [3]]]), DataError, "equal length"),
        (lambda: doodlelab.complete(RAW_HOUSE, n=65), DataError, "n must be from 1 to 64"),
    ],
)
def test_wrong_calls_raise_one_sentence(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert words in message and "\n" not in message
