"""A tiny synthetic Quick, Draw! root (four shape categories): fast training tests, data or not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doodlelab.classifier.config import ClassifierConfig
from doodlelab.data import strokes

SHAPES = ("circle", "line", "square", "triangle")


def shape(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """One hand-drawn-looking shape: a polygon (or line) with a random size, rotation and wobble."""
    corners = {"circle": 24, "line": 2, "square": 4, "triangle": 3}[name]
    angles = np.linspace(0, 2 * np.pi, corners, endpoint=name == "line") + rng.uniform(0, 2 * np.pi)
    points = np.column_stack([np.cos(angles), np.sin(angles)]) * rng.uniform(50, 150)
    if name != "line":
        points = np.vstack([points, points[:1]])  # closed outline
    points = points + rng.normal(0, 3, points.shape)
    return strokes.simplify([points])


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory):
    """(data dir holding quickdraw/simplified/*.ndjson, cache dir): 200 drawings per shape."""
    base = tmp_path_factory.mktemp("shapes")
    folder = base / "data" / "quickdraw" / "simplified"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in SHAPES:
        records = [
            {"word": name, "key_id": f"{name}{i}", "drawing": strokes.to_json(shape(name, rng))}
            for i in range(200)
        ]
        lines = [json.dumps(r) for r in records]
        (folder / f"{name}.ndjson").write_text("\n".join(lines) + "\n")
    return base / "data", base / "cache"


def tiny_config(**changes) -> ClassifierConfig:
    """A small, fast network over the four shapes, trained in float32 so that every CPU trains the same one
    (with AVX-512 BF16, bfloat16 autocast would train another, and the tolerances below fit this one)."""
    values = dict(
        categories=SHAPES,
        widths=(8, 16),
        blocks=(1, 1),
        epochs=2,
        batch_size=32,
        workers=0,
        patience=0,
        lr=1e-2,
        warmup_epochs=0.2,
        threads=1,
        bf16=False,
    )
    return ClassifierConfig(**(values | changes))


TINY_MODEL = dict(widths=(16, 32), epochs=10)  # the settings of `tiny_model` beyond `tiny_config`'s


@pytest.fixture(scope="session")
def tiny_model(shapes_data, tmp_path_factory):
    """A trained, calibrated, ONNX-exported model of the four shapes: path of its .safetensors. Wide and
    long enough to name all four shapes (~100% on fresh ones at seeds 0-2): at widths (8, 16) and 5 epochs
    it named 8-64% of squares, depending on the epoch order, and tests that send a square broke."""
    from doodlelab.classifier.evaluate import finish
    from doodlelab.classifier.train import train

    data, cache = shapes_data
    run = tmp_path_factory.mktemp("tiny_run")
    train(
        tiny_config(widths=(16, 32), epochs=10),
        run,
        root=data / "quickdraw",
        cache_root=cache,
        progress=False,
    )
    finish(run, run / "classifier.safetensors", root=data / "quickdraw", cache_root=cache)
    return run / "classifier.safetensors"
