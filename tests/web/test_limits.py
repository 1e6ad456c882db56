"""The body-limit middleware on a real uvicorn server, in front of a tiny app that counts the bytes it reads:
413 before reading an oversized body (declared or chunked), 400 for a malformed Content-Length, a larger limit
for multipart uploads, and bodies within the limits passed through untouched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
fastapi = pytest.importorskip("fastapi")

from doodlelab.web.limits import BodyLimit  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402

JSON_MAX, UPLOAD_MAX = 1000, 5000
READ = {"bytes": 0}  # bytes the app behind the middleware has read, over all requests


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    app = fastapi.FastAPI()
    app.add_middleware(BodyLimit, json_limit=JSON_MAX, upload_limit=UPLOAD_MAX)

    @app.post("/echo")
    async def echo(request: fastapi.Request) -> dict:
        body = await request.body()
        READ["bytes"] += len(body)
        return {"length": len(body)}

    with serving(app) as c:
        yield c


def detail(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["detail"]


def test_bodies_within_the_limits_pass_through(client):
    assert client.post("/echo", content=b"x" * JSON_MAX).json() == {"length": JSON_MAX}
    chunks = (b"x" * 100 for _ in range(JSON_MAX // 100))  # chunked, no Content-Length
    assert client.post("/echo", content=chunks).json() == {"length": JSON_MAX}
    multipart = {"content-type": "multipart/form-data; boundary=b"}
    assert client.post("/echo", content=b"x" * UPLOAD_MAX, headers=multipart).json() == {"length": UPLOAD_MAX}


def test_a_declared_oversized_body_is_refused_before_it_is_read(client):
    before = READ["bytes"]
    assert (
        detail(client.post("/echo", content=b"x" * (JSON_MAX + 1)), 413)
        == "request body too large (limit 1000 bytes)"
    )
    multipart = {"content-type": "multipart/form-data; boundary=b"}
    detail(client.post("/echo", content=b"x" * (UPLOAD_MAX + 1), headers=multipart), 413)
    assert READ["bytes"] == before  # the app never saw them


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(client):
    before = READ["bytes"]
    chunks = (b"x" * 100 for _ in range(JSON_MAX // 100 + 5))
    assert "too large" in detail(client.post("/echo", content=chunks), 413)
    assert READ["bytes"] == before
    assert client.post("/echo", content=b"ok").json() == {"length": 2}  # still serving


@pytest.mark.parametrize("length", ["-1", "12abc", "9" * 30])
def test_a_malformed_content_length_gets_400(length):
    """uvicorn's parser already refuses these; the middleware does too, behind any other ASGI server."""
    called, sent = [], []

    async def app(scope, receive, send):
        called.append(scope)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [(b"content-length", length.encode())]
    scope = {"type": "http", "method": "POST", "path": "/echo", "headers": headers}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    assert not called and sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {"detail": "invalid Content-Length"}
