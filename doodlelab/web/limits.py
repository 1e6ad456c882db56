"""Bounds on what a client may send: the request body limits (from `doodlelab.data.limits`, the one set of
input limits), and the ASGI middleware that answers 413 before the app reads a byte more than they allow."""

from __future__ import annotations

import logging
import re

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doodlelab.data.limits import MAX_JSON_BYTES, MAX_UPLOAD_BYTES
from doodlelab.web.inference import decode_json

log = logging.getLogger("doodlelab.web")

JSON_LIMIT = MAX_JSON_BYTES  # bytes of a JSON request body
UPLOAD_LIMIT = MAX_UPLOAD_BYTES  # bytes of a multipart upload
DIGITS = re.compile(r"[0-9]{1,18}")  # a decimal integer header or form field we accept to parse


def size(nbytes: int) -> str:
    """A byte count for people: in MiB (2**20 bytes) from 1 MiB, else in bytes."""
    mib = 1024 * 1024
    return f"{nbytes / mib:g} MiB" if nbytes >= mib else f"{nbytes} bytes"


class BodyLimit:
    """ASGI middleware: 413 for request bodies over the limit, from Content-Length before reading any of
    it, or as soon as the bytes received pass it (chunked uploads). Multipart uploads get a larger limit.
    A client that disconnects mid-request is let go quietly (it is not a server error)."""

    def __init__(self, app: ASGIApp, json_limit: int = JSON_LIMIT, upload_limit: int = UPLOAD_LIMIT):
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").lower().startswith("multipart/form-data")
        limit = self.upload_limit if upload else self.json_limit
        too_large = HTTPException(413, f"request body too large (limit {size(limit)})")
        length = headers.get("content-length")
        if length is not None and not DIGITS.fullmatch(length):
            return await error(400, "invalid Content-Length")(scope, receive, send)
        if length is not None and int(length) > limit:
            return await error(413, too_large.detail)(scope, receive, send)
        received, started = 0, False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except HTTPException as exc:  # raised outside the exception handlers' reach
            if exc is not too_large or started:
                raise
            await error(413, exc.detail)(scope, receive, send)
        except ClientDisconnect:  # the client left before sending its whole request: nobody to answer
            log.info("%s %s: client disconnected mid-request", scope["method"], scope["path"])


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error answer {"detail": detail} with HTTP status `status`."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


INLINE_JSON = 64 * 1024  # larger JSON bodies are parsed in a thread, not on the event loop


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON (application/json, or any type ending in +json)."""
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def require_json(request: Request) -> None:
    """415 unless the request says its body is JSON."""
    if not is_json(request.headers.get("content-type", "")):
        raise HTTPException(415, "send a JSON body (Content-Type: application/json)")


async def read_json(request: Request) -> dict:
    """The JSON object of the request (415 for another media type); large bodies are parsed in a thread."""
    require_json(request)
    body = await request.body()
    return await run_in_threadpool(decode_json, body) if len(body) > INLINE_JSON else decode_json(body)
