"""The public Python API (`doodlelab.recognize`, `doodlelab.generate`): the same answers as the models it
wraps, every input form, and one-sentence errors for wrong calls."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from itertools import islice

import numpy as np
import pytest
from PIL import Image

import doodlelab
from doodlelab import api
from doodlelab.classifier.recognizer import Recognizer
from doodlelab.data import strokes
from doodlelab.data.doodle_image import load_doodle
from doodlelab.errors import DataError, DoodleError, UnknownCategoryError
from doodlelab.generative.generator import load

SQUARE = [[[0, 100, 100, 0, 0], [0, 0, 100, 100, 0]]]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


@pytest.fixture(scope="module")
def real_drawings(paired_root) -> list[list]:
    with open(paired_root / "strokes.ndjson") as f:
        return [json.loads(line)["drawing"] for line in islice(f, 0, 400, 50)]


def test_import_is_lazy_and_names_are_public():
    code = "import sys, doodlelab; print('doodlelab.api' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert {"recognize", "generate", "Guess", "DoodleError"} <= set(dir(doodlelab))
    assert doodlelab.recognize is api.recognize and doodlelab.DoodleError is DoodleError
    with pytest.raises(AttributeError, match="no attribute 'recognise'"):
        doodlelab.recognise  # noqa: B018


def test_recognize_real_drawings_as_the_recognizer_does(real_drawings, recognizer):
    one = doodlelab.recognize(real_drawings[0], top=3)
    assert [tuple(g) for g in one] == recognizer.classify([strokes.parse_strokes(real_drawings[0])], 3)[0]
    assert isinstance(one[0], doodlelab.Guess) and one[0].probability >= one[1].probability
    many = doodlelab.recognize(real_drawings, top=2)
    expected = recognizer.classify([strokes.parse_strokes(d) for d in real_drawings], 2)
    assert [[tuple(g) for g in r] for r in many] == expected


def test_raw_canvas_strokes_with_timestamps():
    raw = [[[10.5, 200.25, 200.5, 10.0, 10.5], [20.0, 20.5, 210.0, 210.25, 20.0], [0, 40, 80, 120, 160]]]
    assert doodlelab.recognize(raw, top=1)[0].category == doodlelab.recognize(SQUARE, top=1)[0].category


def test_bitmaps_images_paths_and_arrays(tmp_path, recognizer):
    cats = doodlelab.generate("cat", model="gan", n=3, seed=1)
    expected = [recognizer.top(p, 2) for p in recognizer.probabilities(cats)]
    assert [[tuple(g) for g in r] for r in doodlelab.recognize(cats, top=2)] == expected
    assert [tuple(g) for g in doodlelab.recognize(cats[0], top=2)] == expected[0]
    big = Image.fromarray(255 - np.kron(cats[0], np.ones((9, 9), np.uint8)))  # dark ink on white, 252 px
    big.save(tmp_path / "cat.png")
    from_file = recognizer.top(recognizer.probabilities(load_doodle(tmp_path / "cat.png")[None])[0], 2)
    assert [tuple(g) for g in doodlelab.recognize(str(tmp_path / "cat.png"), top=2)] == from_file
    assert [tuple(g) for g in doodlelab.recognize(tmp_path / "cat.png", top=2)] == from_file
    assert [tuple(g) for g in doodlelab.recognize(big, top=2)] == from_file
    assert [tuple(g) for g in doodlelab.recognize(np.asarray(big), top=2)] == from_file
    rgb = np.repeat(np.asarray(big)[:, :, None], 3, axis=2)
    assert [tuple(g) for g in doodlelab.recognize(rgb, top=2)] == from_file
    mixed = doodlelab.recognize([SQUARE, big, cats[1]], top=1)
    assert [r[0].category for r in mixed] == [
        doodlelab.recognize(SQUARE, top=1)[0].category,
        from_file[0][0],
        expected[1][0][0],
    ]


def test_generate_is_the_shipped_generator_and_deterministic():
    images = doodlelab.generate("hot_air_balloon", model="gan", n=4, seed=3)
    assert images.shape == (4, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, load("gan")("hot air balloon", n=4, seed=3))
    np.testing.assert_array_equal(images, doodlelab.generate("hot air balloon", model="gan", n=4, seed=3))
    assert not np.array_equal(images, doodlelab.generate("hot air balloon", model="gan", n=4, seed=4))


def test_generate_diffusion_few_steps():
    images = doodlelab.generate("cat", n=1, seed=0, steps=5)
    np.testing.assert_array_equal(images, load("diffusion")("cat", n=1, seed=0, steps=5))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: doodlelab.recognize([[0, 1, 2], [0, 1, 2]]), api.InputError, "got one stroke"),
        (lambda: doodlelab.recognize([SQUARE, [[0, 1], [0, 1]]]), api.InputError, "item 1: got one stroke"),
        (lambda: doodlelab.recognize([0, 1, 2]), api.InputError, "got a list of numbers"),
        (lambda: doodlelab.recognize([]), api.InputError, "nothing to recognize"),
        (lambda: doodlelab.recognize({"drawing": SQUARE}), api.InputError, "not dict"),
        (lambda: doodlelab.recognize(None), api.InputError, "not NoneType"),
        (lambda: doodlelab.recognize([[[0, 1], [0, "a"]]]), DataError, "must be numbers"),
        (lambda: doodlelab.recognize([[[0, 1], [0, float("nan")]]]), DataError, "finite"),
        (lambda: doodlelab.recognize([SQUARE, [[[], []]]]), DataError, "item 1: drawing has no points"),
        (lambda: doodlelab.recognize(np.zeros((5, 5, 7))), api.InputError, "(H, W) or (H, W, 3|4)"),
        (lambda: doodlelab.recognize(np.full((40, 40), 255, np.uint8)), DataError, "no ink"),
        (lambda: doodlelab.recognize("no-such-file.png"), FileNotFoundError, "no-such-file"),
        (lambda: doodlelab.recognize(SQUARE, top=0), DataError, "top must be from 1 to 345"),
        (lambda: doodlelab.recognize(SQUARE, top="3"), api.InputError, "top must be an integer"),
        (lambda: doodlelab.generate("catt"), UnknownCategoryError, "did you mean: cat"),
        (lambda: doodlelab.generate(["cat"]), api.InputError, "category must be a category name"),
        (lambda: doodlelab.generate("cat", model="vae"), DataError, "model must be one of diffusion, gan"),
        (lambda: doodlelab.generate("cat", model="gan", n=0), DataError, "n must be an integer from 1"),
        (lambda: doodlelab.generate("cat", model="gan", n=2.0), api.InputError, "n must be an integer"),
        (lambda: doodlelab.generate("cat", model="gan", seed=-1), DataError, "seed must be an integer >= 0"),
        (lambda: doodlelab.generate("cat", steps=0), DataError, "steps must be an integer from 1"),
    ],
)
def test_wrong_calls_raise_one_sentence(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)
    if error is not FileNotFoundError:  # a missing file is Python's own OSError, as `open` raises
        assert isinstance(info.value, DoodleError)


def test_docstring_examples_run():
    failures, tried = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert tried >= 4 and failures == 0
