"""The stroke model on a real uvicorn server: `/api/generate` with model `sketch` answers strokes and their
renderings, `/api/complete` continues a canvas drawing in its own coordinates as the library does, and bad
requests get a 4xx with a message (a tiny model trained on the four synthetic shapes)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from doodlelab.data import strokes as pipeline
from tests.generative.test_sketch import sketch_run  # noqa: F401

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from doodlelab.generative.sketch_sample import load  # noqa: E402
from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402

CANVAS = [  # canvas floats far from the origin, with times: as the page sends them
    [[-1000.5, -900.25, -800.0], [20000.75, 20100.5, 20050.0], [0, 16, 33]],
    [[-950.0, -850.125], [20020.0, 20080.0], [100, 140]],
]


@pytest.fixture(scope="module")
def weights(sketch_run):  # noqa: F811
    return sketch_run[0] / "sketch.safetensors"


@pytest.fixture(scope="module")
def client(weights) -> Iterator[httpx.Client]:
    app = create_app(classifier_weights=None, workers=0, generators={}, sketch_weights=weights)
    with serving(app) as c:
        yield c


def test_health_lists_the_sketch_model(client):
    assert client.get("/api/health").json()["models"]["sketch"] is True


def test_generate_answers_strokes_and_their_renderings_per_seed(client):
    body = {"model": "sketch", "category": "Circle", "n": 3, "seed": 11, "temperature": 0.9, "top_p": 0.9}
    answer = client.post("/api/generate", json=body)
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    assert answer["model"] == "sketch" and answer["category"] == "circle" and answer["seed"] == 11
    assert len(answer["strokes"]) == len(answer["images"]) == 3
    for drawing, image in zip(answer["strokes"], answer["images"]):
        parsed = pipeline.parse_strokes(drawing) if drawing else []
        assert all(np.all((s >= 0) & (s <= 255) & (s == np.round(s))) for s in parsed)  # simplified schema
        assert np.array_equal(np.array(image), pipeline.render(parsed))  # images are their renderings
    again = client.post("/api/generate", json=body).json()
    assert again["strokes"] == answer["strokes"]
    other = client.post("/api/generate", json=body | {"seed": 12}).json()
    assert other["strokes"] != answer["strokes"]


def test_complete_returns_what_the_library_draws_in_the_canvas_frame(client, weights):
    body = {"drawing": CANVAS, "category": "triangle", "n": 2, "seed": 5, "temperature": 1.0}
    answer = client.post("/api/complete", json=body)
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    assert answer["category"] == "triangle" and answer["seed"] == 5 and len(answer["completions"]) == 2
    drawing, raw = pipeline.parse_strokes(CANVAS), True
    expected = load(weights).complete(drawing, raw, "triangle", 2, 5, 1.0)
    assert answer["completions"] == [pipeline.to_json(new) for new in expected]
    new = [s for c in answer["completions"] if c for s in pipeline.parse_strokes(c)]
    assert new, "the tiny model drew nothing"
    points = np.concatenate(new)
    box = np.concatenate(drawing)
    low, high = box.min(0), box.max(0)
    span = (high - low).max()
    assert np.all(points >= low - span) and np.all(points <= high + span)  # near the drawing, not at 0..255


def test_complete_without_a_category_is_unconditional_and_random_without_a_seed(client):
    answer = client.post("/api/complete", json={"drawing": [[[0, 255], [0, 255]]]}).json()
    assert answer["category"] is None and len(answer["completions"]) == 1
    assert 0 <= answer["seed"] < 2**32


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("/api/complete", {"drawing": CANVAS, "category": "cat"}, 422, "not trained on 'cat'"),
        ("/api/complete", {"drawing": CANVAS, "category": "no such thing"}, 400, "unknown category"),
        ("/api/complete", {"drawing": CANVAS, "n": 0}, 422, "n:"),
        ("/api/complete", {"drawing": CANVAS, "n": 17}, 422, "n:"),
        ("/api/complete", {"drawing": CANVAS, "temperature": 0}, 422, "temperature"),
        ("/api/complete", {"drawing": CANVAS, "top_p": 1.5}, 422, "top_p"),
        ("/api/complete", {"drawing": CANVAS, "guidance": -1}, 422, "guidance"),
        ("/api/complete", {"drawing": CANVAS, "guidance": 11}, 422, "guidance"),
        ("/api/generate", {"model": "sketch", "category": "circle", "guidance": 15}, 422, "at most 10"),
        ("/api/complete", {"drawing": CANVAS, "steps": 5}, 422, "steps"),
        ("/api/complete", {"drawing": []}, 400, "non-empty list of strokes"),
        ("/api/complete", {"drawing": [[[0, 1], [0]]]}, 400, "equal length"),
        ("/api/complete", {"category": "circle"}, 422, "drawing"),
        ("/api/generate", {"model": "sketch", "category": "circle", "steps": 5}, 422, "no sampling steps"),
        ("/api/generate", {"model": "sketch", "category": "circle", "n": 17}, 422, "n:"),
        ("/api/generate", {"model": "gan", "category": "circle"}, 503, "gan model not available"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(client, path, body, status, words):
    answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert words in detail and "\n" not in detail


def test_a_non_finite_temperature_is_refused():
    from doodlelab.web import schemas

    with pytest.raises(ValueError, match="finite"):
        schemas.CompleteRequest.model_validate({"drawing": CANVAS, "temperature": float("nan")})


def test_without_a_sketch_model_complete_answers_503(monkeypatch, tmp_path):
    from doodlelab.generative import sketch_config

    monkeypatch.setattr(sketch_config, "SHIPPED", tmp_path / "none.safetensors")
    with serving(create_app(workers=0, generators={})) as c:
        assert c.get("/api/health").json()["models"]["sketch"] is False
        answer = c.post("/api/complete", json={"drawing": CANVAS})
        assert answer.status_code == 503 and "sketch model not available" in answer.json()["detail"]


def test_a_running_job_hands_out_each_doodle_once_finished():
    """The shipped model, 16 doodles (their lengths differ, so they end at different steps): while the job
    runs its status lists the doodles finished so far, each the one the final answer holds."""
    app = create_app(classifier_weights=None, workers=0, generators={})  # the shipped stroke model
    with serving(app) as c:
        body = {"model": "sketch", "category": "cat", "n": 16, "seed": 7}
        status = c.post("/api/generate/jobs", json=body).json()
        seen = []
        while status["status"] in ("queued", "running"):
            seen.append(status["ready"])
            status = c.get(f"/api/generate/jobs/{status['id']}").json()
    assert status["status"] == "done" and status["ready"] is None
    strokes = status["result"]["strokes"]
    partial = [r for r in seen if r is not None and 0 < sum(s is not None for s in r) < 16]
    assert partial, "no poll saw some doodles finished and others not"
    for ready in partial:
        assert all(s is None or s == strokes[i] for i, s in enumerate(ready))
