"""Serving under concurrency: requests that arrive together are answered in one batch, a bad batch or a
dead worker process fails only its own requests, generation runs off the event loop (predictions keep
flowing meanwhile) behind a bounded queue that answers 503 with Retry-After when full.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import Future as ConcurrentFuture

import numpy as np
import pytest

from doodlelab.web.batching import MicroBatcher
from doodlelab.web.workers import ProcessWorkers
from tests.classifier.conftest import shape

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
from doodlelab.data import strokes  # noqa: E402
from doodlelab.web.app import create_app  # noqa: E402
from doodlelab.web.local import serving  # noqa: E402

SQUARE = {"drawing": strokes.to_json(shape("square", np.random.default_rng(5))), "top": 1}
HANG = 60  # seconds: longer than this is a hang


def doubled_or_die(items: list[int]) -> list[int]:
    """A batch function for a worker process: ends the process when the batch holds -1."""
    if -1 in items:
        os._exit(1)
    return [2 * x for x in items]


def test_requests_arriving_together_share_one_batch():
    release, calls = threading.Event(), []

    def run_batch(items: list[int]) -> list[int]:
        calls.append(list(items))
        release.wait(HANG)  # the first batch holds the only slot while the others arrive
        return [x * 10 for x in items]

    async def scenario() -> list[int]:
        batcher = MicroBatcher(run_batch, lambda: ThreadPoolExecutor(1))
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0)  # dispatched at once: no window, nothing to wait for
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 10)]
        await asyncio.sleep(0)
        release.set()
        answers = await asyncio.gather(first, *rest)
        batcher.close()
        return answers

    assert asyncio.run(scenario()) == [x * 10 for x in range(10)]
    assert calls == [[0], list(range(1, 10))]


def test_a_failing_batch_fails_only_its_own_requests():
    def run_batch(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky batch")
        return items

    async def scenario() -> tuple:
        batcher = MicroBatcher(run_batch, lambda: ThreadPoolExecutor(1), max_batch=2)
        results = await asyncio.gather(
            *(batcher.submit(i) for i in (1, 2, 13, 4, 5, 6)), return_exceptions=True
        )
        batcher.close()
        return results

    results = asyncio.run(scenario())  # batches: [1] at once, then [2, 13], [4, 5], [6]
    assert results[0] == 1 and results[3:] == [4, 5, 6]
    assert all(isinstance(r, ValueError) for r in results[1:3])  # 13 and its batch-mate 2


@pytest.mark.parametrize("pool", [ProcessWorkers, ProcessPoolExecutor])
def test_a_dead_worker_process_is_replaced(pool):
    spawn = __import__("multiprocessing").get_context("spawn")

    async def scenario() -> tuple:
        batcher = MicroBatcher(doubled_or_die, lambda: pool(1, mp_context=spawn))
        before = await batcher.submit(1)
        with pytest.raises(BrokenExecutor):
            await batcher.submit(-1)
        after = await asyncio.gather(*(batcher.submit(i) for i in range(5)))
        batcher.close()
        return before, after

    before, after = asyncio.run(asyncio.wait_for(scenario(), HANG))
    assert before == 2 and after == [0, 2, 4, 6, 8]


class SlowGenerator:
    """A generator doing real NumPy work until the test lets it finish (or HANG seconds pass)."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.running = 0

    def __call__(
        self, category: str, n: int = 4, seed: int | None = None, steps: int = 50, guidance: float = 2.0
    ) -> np.ndarray:
        self.running += 1
        self.started.set()
        rng, deadline = np.random.default_rng(seed), time.monotonic() + HANG
        x = rng.standard_normal((256, 256))
        while not self.release.is_set() and time.monotonic() < deadline:
            x = np.tanh(x @ x.T / 256)  # busy, as a sampler would be
        self.running -= 1
        return (np.abs(x[:28, :28]) * 255).astype(np.uint8)[None].repeat(n, axis=0)


@pytest.fixture
def slow_server():
    app = create_app(generators={})
    generator = SlowGenerator()
    with serving(app) as client:
        app.state.generators["diffusion"] = generator
        yield app, client, generator
        generator.release.set()


def test_predictions_flow_while_a_generation_runs(slow_server):
    app, client, generator = slow_server
    pool = ThreadPoolExecutor(1)
    generation: ConcurrentFuture = pool.submit(client.post, "/api/generate", json={"category": "cat", "n": 2})
    assert generator.started.wait(HANG)
    answers = [client.post("/api/predict", json=SQUARE) for _ in range(5)]
    assert generator.running == 1 and not generation.done()  # all answered while it was still drawing
    assert all(a.status_code == 200 and a.json()["predictions"] for a in answers)
    generator.release.set()
    done = generation.result(HANG)
    assert done.status_code == 200 and np.array(done.json()["images"]).shape == (2, 28, 28)
    pool.shutdown()


def test_a_full_generation_queue_answers_503_with_retry_after(slow_server):
    app, client, generator = slow_server
    body = {"model": "diffusion", "category": "cat", "n": 1}
    with ThreadPoolExecutor(5) as pool:
        admitted = [pool.submit(client.post, "/api/generate", json=body) for _ in range(5)]  # 1 + 4 waiting
        deadline = time.monotonic() + HANG
        while len(app.state.generation.queues["diffusion"].jobs) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = client.post("/api/generate", json=body)
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
        assert "busy" in refused.json()["detail"]
        assert client.post("/api/predict", json=SQUARE).status_code == 200  # predictions are not queued
        generator.release.set()
        assert [f.result(HANG).status_code for f in admitted] == [200] * 5
    assert client.post("/api/generate", json=body).status_code == 200  # room again
