"""The short path of `POST /api/predict` with a JSON body: the route's answer, byte for byte, without the
framework's per-request layers (middleware, routing, dependency solving), which cost the server's event
loop about a quarter of its CPU per drawing under load (benchmarks/bench_load.py).
"""

from __future__ import annotations

import logging
from concurrent.futures import BrokenExecutor

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from doodlelab.web import inference
from doodlelab.web.batching import MicroBatcher
from doodlelab.web.limits import DIGITS, JSON_LIMIT, error, is_json

log = logging.getLogger("doodlelab.web")

PATH = "/api/predict"
LANE_HEADERS = (b"content-type", b"content-length", b"transfer-encoding")


async def answer(batcher: MicroBatcher, item: inference.Input) -> Response:
    """The answer to `item` from its batch: the response JSON as computed, or a one-line error (503 with
    Retry-After when a worker process died: its pool is replaced, only this batch is lost)."""
    try:
        status, content = await batcher.submit(item)
    except BrokenExecutor:
        log.error("a classifier worker process died; starting new ones")
        return error(503, "the classifier is restarting; try again", {"Retry-After": "2"})
    if status != 200:
        return error(status, str(content))
    return Response(content, media_type="application/json")


def plain_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's headers declare what the route would read as it is: a JSON body whose length is
    given once and within the limit. Anything else (uploads, chunked or oversized bodies, repeated or odd
    headers) takes the route, whose layers answer it (415, 413, 400, ...)."""
    seen: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in LANE_HEADERS:
            if name in seen or name == b"transfer-encoding":
                return False
            seen[name] = value
    kind, length = seen.get(b"content-type"), seen.get(b"content-length", b"")
    if kind is None or not is_json(kind.decode("latin-1")):
        return False
    text = length.decode("latin-1")
    return bool(DIGITS.fullmatch(text)) and int(text) <= JSON_LIMIT


class DoodleAPI(FastAPI):
    """FastAPI, answering `POST /api/predict` JSON requests itself once the classifier is loaded
    (`app.state.predictor`); every other request goes through FastAPI as usual."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            batcher = getattr(self.state, "predictor", None)
            if batcher is not None and not scope.get("root_path") and plain_json(scope["headers"]):
                return await self._predict(batcher, scope, receive, send)
        await super().__call__(scope, receive, send)

    async def _predict(self, batcher: MicroBatcher, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":  # gone before its whole request: nobody to answer
                log.info("POST %s: client disconnected mid-request", PATH)
                return
            body.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            response = await answer(batcher, inference.Input(body=b"".join(body)))
        except Exception as exc:  # as the app's handler of unexpected errors answers them
            log.error("POST %s failed", PATH, exc_info=exc)
            response = error(500, "internal server error")
        await response(scope, receive, send)
