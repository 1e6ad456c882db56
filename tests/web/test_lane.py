"""The short path of POST /api/predict (doodlelab/web/lane.py) on a real uvicorn server: it answers what the
FastAPI route answers, byte for byte, skips the app's middleware, and leaves every other request to it;
and the server's heap is settled once started (no full garbage collection walks the start-up objects)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
from collections.abc import Iterator

import numpy as np
import pytest

from doodlelab.data import strokes
from tests.classifier.conftest import shape

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.lane import plain_json  # noqa: E402
from doodlelab.web.limits import JSON_LIMIT  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402

SQUARE = strokes.to_json(shape("square", np.random.default_rng(5)))  # the tiny model names it
RAW = [[[x * 3.5 + 40 for x in xs], [y * 3.5 + 40 for y in ys], list(range(len(xs)))] for xs, ys in SQUARE]
JSON = "application/json"


class Seen:
    """ASGI middleware that records the (method, path) of every HTTP request the app's own stack sees."""

    requests: list[tuple[str, str]] = []

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            Seen.requests.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def served(tiny_model) -> Iterator[tuple]:
    app = create_app(classifier_weights=tiny_model, generators={}, workers=2)
    app.add_middleware(Seen)
    with serving(app) as client:
        yield app, client


def through_the_route(body: bytes) -> Iterator[bytes]:
    """The body sent chunked (no Content-Length): the lane leaves it to FastAPI's route."""
    yield body


def comparable(response: httpx.Response) -> tuple:
    """Status, headers and body, less what differs between two answers to one request (the date, and the
    measured server_ms with the length it takes)."""
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
    body = response.json()
    if isinstance(body, dict):
        body.pop("server_ms", None)
    return response.status_code, headers, body


BODIES = [
    json.dumps({"drawing": SQUARE, "top": 3}).encode(),  # 200
    json.dumps({"drawing": RAW}).encode(),  # 200, raw canvas strokes with times
    b'{"drawing": [[[NaN], [1]]]}',  # 400: not JSON
    b"{",  # 400
    b"[1, 2]",  # 422: not an object
    json.dumps({"drawing": SQUARE, "top": 0}).encode(),  # 422
    json.dumps({"drawing": [[[], []]]}).encode(),  # 400: no points
    json.dumps({"drawing": [[[0, 1], [0]]]}).encode(),  # 400: unequal lengths
    b"",  # 400
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_lane_answers_as_the_route_does(served, body):
    app, client = served
    Seen.requests.clear()
    fast = client.post("/api/predict", content=body, headers={"content-type": JSON})
    assert Seen.requests == []  # answered before the app's middleware
    slow = client.post("/api/predict", content=through_the_route(body), headers={"content-type": JSON})
    assert Seen.requests == [("POST", "/api/predict")]
    assert comparable(fast) == comparable(slow)
    assert fast.status_code in (200, 400, 422)


@pytest.mark.parametrize(
    "headers, lane",
    [
        ([(b"content-type", b"application/json"), (b"content-length", b"12")], True),
        ([(b"content-type", b"Application/JSON; charset=utf-8"), (b"content-length", b"12")], True),
        ([(b"content-type", b"application/vnd.doodle+json"), (b"content-length", b"0")], True),
        ([(b"content-type", b"application/json"), (b"content-length", str(JSON_LIMIT).encode())], True),
        ([(b"content-type", b"application/json"), (b"content-length", str(JSON_LIMIT + 1).encode())], False),
        ([(b"content-type", b"application/json")], False),  # no length
        ([(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")], False),
        ([(b"content-type", b"application/json"), (b"content-length", b"+12")], False),
        (
            [(b"content-type", b"application/json"), (b"content-length", b"1"), (b"content-length", b"1")],
            False,
        ),
        ([(b"content-type", b"text/plain"), (b"content-length", b"12")], False),  # the route's 415
        ([(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"12")], False),
        ([(b"content-length", b"12")], False),
    ],
)
def test_only_plain_json_of_a_declared_length_takes_the_lane(headers, lane):
    assert plain_json(headers) is lane


def test_other_requests_go_through_the_app(served):
    app, client = served
    Seen.requests.clear()
    assert (
        client.post("/api/predict", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    )
    assert client.get("/api/predict").status_code == 405
    assert (
        client.post(
            "/api/predict", content=b"x" * (JSON_LIMIT + 1), headers={"content-type": JSON}
        ).status_code
        == 413
    )
    assert client.post("/api/digits", json={"drawing": SQUARE}).status_code in (200, 503)
    assert [method for method, _ in Seen.requests] == ["POST", "GET", "POST", "POST"]


def test_a_dead_worker_gets_503_with_retry_after_then_new_workers_answer(served):
    app, client = served
    for worker in list(app.state.predictor.executor._workers):
        # once the pool sees the first one die it stops the others itself: one may be gone already
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(10)
    body = json.dumps({"drawing": SQUARE}).encode()
    answer = client.post("/api/predict", content=body, headers={"content-type": JSON})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
    assert answer.json() == {"detail": "the classifier is restarting; try again"}
    again = client.post("/api/predict", content=body, headers={"content-type": JSON})
    assert again.status_code == 200 and again.json()["predictions"][0]["category"] == "square"


def test_the_heap_is_frozen_once_the_models_are_loaded(served):
    assert gc.get_freeze_count() > 10_000  # the modules, the app and its models: out of the collector's sight
