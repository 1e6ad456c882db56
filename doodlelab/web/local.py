"""Loopback tools for tests and benchmarks: run an app with uvicorn in a background thread, and a cheap
HTTP/1.1 keep-alive load client (asyncio, hand-written requests) for many concurrent connections.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

HOST = "127.0.0.1"


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port. Created with IPPROTO_TCP and TCP_NODELAY: asyncio only
    disables Nagle's algorithm on sockets whose proto is TCP, and without that a response written in two
    parts (headers, then body) waits ~40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted connections
    sock.bind((HOST, 0))
    return sock


@contextmanager
def serving(app) -> Iterator:
    """Run `app` with uvicorn in a thread on a free loopback port; an httpx client for it."""
    import httpx
    import uvicorn

    sock = loopback_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class Connection:
    """One keep-alive HTTP/1.1 connection: each request is written in one piece; the answer is read by its
    Content-Length (the only framing the app's JSON responses use)."""

    def __init__(self, port: int, host: str = HOST):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """(status, body) of one request; raises OSError or asyncio.IncompleteReadError if the connection
        fails (the next request reconnects)."""
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode("latin-1") + body)
            lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status, length, close = int(lines[0].split(" ", 2)[1]), None, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection":
                    close = value.strip().lower() == "close"
            if length is None:
                raise OSError("response without Content-Length")
            answer = await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, answer


@dataclass
class Sample:
    """One request of a load run: which client sent which of the bodies, times in seconds on
    `time.perf_counter`'s clock, the status (0 when the request failed: connection error or timeout)."""

    client: int
    request: int
    scheduled: float
    sent: float
    done: float
    status: int
    body: bytes = b""

    @property
    def latency(self) -> float:
        """Seconds from the scheduled send time (open loop: a late send counts against the server)."""
        return self.done - self.scheduled


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """The result of `awaitable`, or asyncio.TimeoutError after `seconds`: from Python 3.11 without the task
    per call that `asyncio.wait_for` makes."""
    if sys.version_info < (3, 11):
        return await asyncio.wait_for(awaitable, seconds)
    async with asyncio.timeout(seconds):
        return await awaitable


def run_client(main: Coroutine[Any, Any, T]) -> T:
    """Run a load client to its end: on uvloop where it is installed (on Linux and macOS it comes with the
    server), which leaves more of the CPU the client shares with a server on the same machine."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def run_load(
    port: int,
    bodies: Sequence[bytes],
    clients: int,
    *,
    requests: int | None = None,
    duration: float | None = None,
    rate: float | None = None,
    path: str = "/api/predict",
    timeout: float = 10.0,
    keep_bodies: bool = False,
) -> list[Sample]:
    """Send `bodies` (cycling, each client from its own offset) from `clients` concurrent connections,
    each until it has sent `requests` or `duration` seconds have passed. With `rate` (requests per second
    per client) the clients are open-loop: request k of a client is scheduled at start + phase + k / rate
    whatever happened before, every request scheduled within `duration` is sent (late if need be) and its
    latency counts from its scheduled time (no coordinated omission); without `rate` they are closed-loop,
    each sending its next request as soon as the last one is answered."""
    if requests is None and duration is None:
        raise ValueError("give requests or duration")
    samples: list[Sample] = []
    start = time.perf_counter() + 0.05
    end = start + duration if duration is not None else float("inf")

    async def client(index: int) -> None:
        connection = Connection(port)
        phase = index / clients / rate if rate else 0.0
        k = 0
        while requests is None or k < requests:
            scheduled = start + phase + k / rate if rate else time.perf_counter()
            if scheduled >= end:  # open loop: every request scheduled in time is sent, late or not
                break
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            sent = time.perf_counter()
            which = (index * 7919 + k) % len(bodies)
            try:
                status, answer = await within(timeout, connection.request("POST", path, bodies[which]))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                connection.close()
                status, answer = 0, b""
            samples.append(
                Sample(
                    index, which, scheduled, sent, time.perf_counter(), status, answer if keep_bodies else b""
                )
            )
            k += 1
        connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return samples
