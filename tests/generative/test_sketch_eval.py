"""`doodlelab evaluate generator --model sketch`: the yardstick on renderings of the strokes, completion at
half the ink (prefix, completed with and without the category, whole drawing), and flags of the other kind
of model refused in one line (the tiny stroke model on the synthetic shapes, judged by the shipped model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doodlelab.cli.main import main
from doodlelab.data import strokes as pipeline
from doodlelab.data.prefix import ink_clock
from doodlelab.generative.sketch_eval import half_ink
from tests.generative.test_sketch import sketch_run  # noqa: F401


def ink(drawing) -> float:
    return float(ink_clock(drawing)[-1][-1])


def test_half_ink_keeps_the_stroke_order_and_cuts_the_last_stroke():
    drawing = [np.array([[0.0, 0], [100, 0]]), np.array([[0.0, 50], [0, 150], [100, 150]])]  # ink 100 + 200
    prefix = half_ink(drawing)
    assert len(prefix) == 2 and np.array_equal(prefix[0], drawing[0])
    assert np.array_equal(prefix[1], [[0, 50], [0, 100]])  # 50 of the second stroke's 200: 150 of 300
    assert ink(prefix) == ink(drawing) / 2


@pytest.fixture
def shapes_env(sketch_run, monkeypatch):  # noqa: F811
    out, data, cache = sketch_run
    monkeypatch.setenv("DOODLELAB_DATA", str(data))
    monkeypatch.setenv("DOODLELAB_CACHE", str(cache))
    return out / "sketch.safetensors"


def test_evaluate_reports_the_yardstick_and_completion(shapes_env, capsys):
    pytest.importorskip("onnxruntime")
    from doodlelab.data import cache
    from doodlelab.data.categories import categories
    from doodlelab.generative.evaluate import Judge, balanced_sample

    code = main(["evaluate", "generator", "--model", str(shapes_env), "--per-category", "3", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["samples"] == 12 and report["categories"] == 4 and report["temperature"] > 0
    assert 0 <= report["recognizability"] <= 1 and report["frechet_ratio"] > 0
    completion = report["completion"]
    assert completion["drawings"] == 12 and completion["split"] == "test"
    for key in ("prefix", "completed_with_category", "completed_without_category", "whole_drawing"):
        assert 0 <= completion[f"{key}_top1"] <= 1
    # the prefix and whole-drawing figures are the judge's on the drawings the evaluation picks: recompute
    official = list(categories())
    names = ["circle", "line", "square", "triangle"]
    split = cache.load_split_arrays("test", names)
    strokes = np.flatnonzero(split.drawing >= 0)
    picks = strokes[balanced_sample(split.labels[strokes], 3, [official.index(n) for n in names], 0)]
    judge = Judge()
    target = np.array([judge.classes.index(official[int(split.labels[i])]) for i in picks])
    for key, cut in (("whole_drawing", lambda d: d), ("prefix", half_ink)):
        images = np.stack([pipeline.render(cut(split.strokes_of(i))) for i in picks])
        assert completion[f"{key}_top1"] == float((judge.run(images)[0] == target).mean())
    code = main(["evaluate", "generator", "--model", str(shapes_env), "--per-category", "3"])
    out, _ = capsys.readouterr()
    assert code == 0 and "completion at half the ink (12 test drawings)" in out


@pytest.mark.parametrize(
    "args, words",
    [
        (["evaluate", "generator", "--steps", "5"], "--steps: a diffusion setting"),
        (
            ["generate", "--category", "circle", "--eta", "0.5", "--out", "x.ndjson"],
            "--eta: a diffusion",
        ),
        (
            ["evaluate", "generator", "--model", "gan", "--temperature", "1"],
            "--temperature: a setting of the",
        ),
        (
            ["generate", "--model", "diffusion", "--category", "cat", "--top-p", "0.5", "--out", "x.npy"],
            "--top-p",
        ),
    ],
)
def test_flags_of_the_other_kind_of_model_exit_2_with_one_line(
    shapes_env, capsys, tmp_path, monkeypatch, args, words
):
    monkeypatch.chdir(tmp_path)
    if "--model" not in args:
        args = [*args, "--model", str(shapes_env)]
    code = main(args)
    _, err = capsys.readouterr()
    assert code == 2 and words in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written
