"""`evaluate classifier --early`: replayed prefixes, the first stable guess, the report and the CLI (tiny
model), and fine-tunes that start from a model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from doodlelab.classifier import checkpoint, early
from doodlelab.classifier.evaluate import to_raw
from doodlelab.classifier.train import BEST, train
from doodlelab.cli.main import main
from doodlelab.data import strokes
from tests.classifier.conftest import TINY_MODEL, shape, tiny_config


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_first_stable_is_the_first_share_from_which_every_guess_is_right():
    correct = np.array(
        [
            [0, 1, 0, 1, 1],  # right at 0.2, wrong again at 0.6: stable from 0.8
            [1, 1, 1, 1, 1],  # stable from the start
            [1, 1, 1, 1, 0],  # the finished drawing is missed: never
            [0, 0, 0, 0, 1],
        ],
        dtype=bool,
    )
    shares = (0.2, 0.4, 0.6, 0.8, 1.0)
    assert early.first_stable(correct, shares).tolist() == [0.8, 0.2, np.inf, 1.0]


def test_report_counts_top1_per_share_and_the_median_share():
    labels = np.array([0, 1, 2, 0])
    guesses = np.array([[1, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 0], [0, 0, 0, 0]])  # (N, F)
    probs = np.eye(3)[guesses]  # (N, F, C)
    r = early.report(probs, labels, shares=(0.25, 0.5, 0.75, 1.0))
    assert r["top1"] == [0.75, 1.0, 1.0, 0.75]
    assert r["top1_at"] == {"25%": 0.75, "50%": 1.0, "75%": 1.0, "100%": 0.75}
    assert r["median_share_first_stable"] == 0.375 and r["never_named"] == 0.25  # [0.5, 0.25, inf, 0.25]


def test_the_last_share_renders_the_drawing_as_the_pipeline_does():
    d = shape("triangle", np.random.default_rng(1))
    replay = early.Replay([d], [None], np.array([0]))
    images = early.replay_images(replay, shares=(0.3, 1.0))
    assert images.shape == (1, 2, 28, 28)
    assert np.array_equal(images[0, 1], strokes.rasterize(d, raw=True))
    assert not np.array_equal(images[0, 0], images[0, 1])
    raw, times = to_raw(d, np.random.default_rng(2))
    timed = early.replay_images(early.Replay([raw], [times], np.array([0])), shares=(1.0,))
    assert np.corrcoef(timed[0, 0].ravel(), images[0, 1].ravel())[0, 1] > 0.9  # one pipeline


@pytest.fixture()
def data_env(shapes_data, monkeypatch):
    data, cache = shapes_data
    monkeypatch.setenv("DOODLELAB_DATA", str(data))
    monkeypatch.setenv("DOODLELAB_CACHE", str(cache))


def test_cli_early_side_by_side_with_a_curve(tiny_model, data_env, tmp_path, capsys):
    png = tmp_path / "early.png"
    code, out, _ = run(
        capsys,
        "evaluate",
        "classifier",
        "--weights",
        tiny_model,
        "--early",
        "--split",
        "val",
        "--limit",
        30,
        "--compare",
        tiny_model.parent / BEST,
        "--curve",
        png,
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    models = report["models"]
    assert len(models) == 2 and report["time"] == "ink length"
    for r in models.values():
        assert r["n"] == 30 and len(r["top1"]) == 20 and r["top1_at"]["100%"] >= 0.8  # shapes are easy
        assert r["top1_at"]["25%"] <= r["top1_at"]["100%"]
    assert Image.open(png).size[0] > 500
    code, out, _ = run(capsys, "evaluate", "classifier", "--weights", tiny_model, "--early", "--split", "val")
    assert code == 0 and "median share to a stable guess" in out and "80 stroke drawings" in out


def test_cli_early_replays_raw_files_by_their_timestamps(tiny_model, data_env, tmp_path, capsys):
    rng = np.random.default_rng(3)
    lines = []
    for name in ("square", "triangle", "circle", "line"):
        raw, times = to_raw(shape(name, rng), rng)
        lines.append(
            json.dumps(
                {
                    "word": name,
                    "drawing": [[s[:, 0].tolist(), s[:, 1].tolist(), t.tolist()] for s, t in zip(raw, times)],
                }
            )
        )
    path = tmp_path / "raw.ndjson"
    path.write_text("\n".join(lines) + "\n")
    code, out, _ = run(
        capsys, "evaluate", "classifier", "--weights", tiny_model, "--early", "--input", path, "--json"
    )
    assert code == 0 and json.loads(out)["time"].startswith("real timestamps")
    assert next(iter(json.loads(out)["models"].values()))["n"] == 4
    path.write_text(lines[0] + "\n" + lines[1].replace('"triangle"', '"triangel"') + "\n")
    code, _, err = run(capsys, "evaluate", "classifier", "--weights", tiny_model, "--early", "--input", path)
    assert code == 2 and err.count("\n") == 1 and "raw.ndjson:2" in err and "triangel" in err


def test_early_flags_need_early(tiny_model, data_env, capsys):
    code, _, err = run(capsys, "evaluate", "classifier", "--weights", tiny_model, "--limit", 5)
    assert code == 2 and "--early" in err and err.count("\n") == 1


def test_a_fine_tune_starts_from_the_model_file(tiny_model, shapes_data, tmp_path):
    data, cache = shapes_data
    start, _, _ = checkpoint.load_model(tiny_model)
    result = train(
        tiny_config(**(TINY_MODEL | dict(epochs=1, init=str(tiny_model), prefix=0.5, lr=1e-4))),
        tmp_path,
        root=data / "quickdraw",
        cache_root=cache,
        progress=False,
    )
    assert result.best_val_accuracy >= 0.6  # a fresh network at this lr is near chance (0.25) after one epoch
    tuned, config, _ = checkpoint.load_model(tmp_path / BEST)
    assert config.init == str(tiny_model) and config.prefix == 0.5
    a = torch.cat([p.detach().flatten() for p in start.parameters()])
    b = torch.cat([p.detach().flatten() for p in tuned.parameters()])
    assert 0 < float((b - a).norm() / a.norm()) < 0.5  # moved from the start; a fresh network is ~1.4 away
    with pytest.raises(checkpoint.CheckpointError, match="widths"):
        train(
            tiny_config(epochs=1, init=str(tiny_model), widths=(4, 8)),
            tmp_path / "other",
            root=data / "quickdraw",
            cache_root=cache,
            progress=False,
        )
