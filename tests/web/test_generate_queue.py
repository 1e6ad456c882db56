"""Generation queues with the shipped models behind a real server: a GAN request is not held behind diffusion
work (the server's diffusion session leaves a core free), a cancelled job frees the server between two
sampling steps, a client that leaves cancels its request, and the 503's Retry-After counts the work queued."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from doodlelab.generative.generator import DoodleGenerator, shipped
from doodlelab.web.app import create_app
from doodlelab.web.local import serving

if not (shipped("diffusion").is_file() and shipped("gan").is_file()):
    pytest.skip("no shipped generators", allow_module_level=True)

HANG = 120  # seconds: longer than this is a hang
BIG = {"model": "diffusion", "category": "cat", "n": 16, "steps": 25, "seed": 0}  # the largest (cap)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple]:
    app = create_app(workers=0)
    with serving(app) as client:
        yield app, client


def until(condition, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"hang: {what}"
        time.sleep(0.02)


def diffusion_idle(app) -> bool:
    return not app.state.generation.queues["diffusion"].jobs


def send_and_leave(client: httpx.Client, pool: ThreadPoolExecutor, body: dict):
    """POST /api/generate from a client of its own in the pool; the client, to close (leave) later."""
    other = httpx.Client(base_url=client.base_url, timeout=HANG)
    return other, pool.submit(lambda: other.post("/api/generate", json=body))


def test_a_gan_request_is_not_held_behind_diffusion_work(server):
    app, client = server
    with ThreadPoolExecutor(1) as pool:
        other, diffusion = send_and_leave(client, pool, BIG)
        time.sleep(1.0)  # the diffusion request is sampling now
        gan = client.post("/api/generate", json={"model": "gan", "category": "cat", "n": 16, "seed": 1})
        assert gan.status_code == 200 and len(gan.json()["images"]) == 16
        assert not diffusion.done()  # answered while the diffusion request was still drawing
        other.close()  # the client leaves: its request is cancelled between two steps
    until(lambda: diffusion_idle(app), "the left request still runs")


def test_cancel_frees_the_server_between_two_steps(server):
    app, client = server
    job = client.post("/api/generate/jobs", json=BIG).json()
    queued = client.post("/api/generate/jobs", json=BIG | {"seed": 1}).json()
    assert queued["status"] == "queued" and queued["ahead"] == 1 and queued["seconds_left"] > 0
    path = f"/api/generate/jobs/{job['id']}"
    until(lambda: client.get(path).json()["done"] >= 2, "no progress")
    running = client.get(path).json()
    assert running["status"] == "running" and 2 <= running["done"] < running["total"] == 25

    cancelled = client.delete(f"/api/generate/jobs/{queued['id']}").json()  # a waiting job leaves at once
    assert cancelled["status"] == "cancelled" and cancelled["done"] == 0
    assert cancelled["seconds_left"] == 0 and cancelled["ahead"] == 0  # not the running job's backlog
    assert len(app.state.generation.queues["diffusion"].jobs) == 1
    assert client.delete(path).json()["status"] == "cancelled"
    until(lambda: diffusion_idle(app), "the cancelled job still runs")
    stopped = client.get(path).json()
    assert stopped["status"] == "cancelled" and stopped["done"] < 25 and stopped["result"] is None
    small = client.post("/api/generate", json={"category": "cat", "n": 1, "steps": 5})
    assert small.status_code == 200  # the queue is free


def test_retry_after_counts_the_queued_work(server):
    app, client = server
    one = client.post("/api/generate", json=BIG | {"steps": 5}).json()  # 1/5 of a BIG request
    for _ in range(6):  # small requests: a mean over requests would forget how long a big one takes
        assert client.post("/api/generate", json={"category": "cat", "n": 1, "steps": 1}).status_code == 200
    seconds = one["server_ms"] / 1000 * 5  # what a BIG request costs, about
    with ThreadPoolExecutor(5) as pool:
        sent = [send_and_leave(client, pool, BIG | {"seed": i}) for i in range(5)]  # 1 running + 4 waiting
        until(lambda: len(app.state.generation.queues["diffusion"].jobs) == 5, "the requests are not queued")
        refused = client.post("/api/generate", json=BIG)
        for other, _ in sent:
            other.close()
    assert refused.status_code == 503 and "busy" in refused.json()["detail"]
    retry_after = int(refused.headers["retry-after"])
    assert 0.5 * 5 * seconds <= retry_after <= 2 * 5 * seconds + 1  # five BIG requests of work
    until(lambda: diffusion_idle(app), "the left requests still run")


def spinning_and_threads(generator) -> tuple[str, int]:
    options = generator.eps_model.session.get_session_options()
    return options.get_session_config_entry("session.intra_op.allow_spinning"), options.intra_op_num_threads


def test_the_servers_diffusion_session_leaves_a_core_free_and_draws_the_same(server):
    app, client = server
    served = app.state.generators["diffusion"]
    assert served.engine == "onnx"
    assert spinning_and_threads(served) == ("0", 1)  # one thread, asleep when it has no work
    cli = DoodleGenerator(shipped("diffusion"))  # what `doodlelab generate` samples with
    assert spinning_and_threads(cli) == ("1", 0)  # ONNX Runtime's default: a spinning thread per core
    body = {"model": "diffusion", "category": "cat", "n": 3, "steps": 8, "seed": 5}
    answer = client.post("/api/generate", json=body)
    assert answer.status_code == 200
    expected = cli("cat", n=3, seed=5, steps=8)
    assert np.array_equal(np.asarray(answer.json()["images"], np.uint8), expected)


def test_the_diffusion_thread_yields_the_cpu_to_the_cheap_models(server):
    app, client = server
    for model in ("diffusion", "gan"):  # each queue's thread has run a job
        answer = client.post("/api/generate", json={"model": model, "category": "cat", "n": 1})
        assert answer.status_code == 200
    queues = app.state.generation.queues
    nice = {name: os.getpriority(os.PRIO_PROCESS, queues[name].thread_id) for name in ("diffusion", "gan")}
    assert nice["gan"] == os.getpriority(os.PRIO_PROCESS, 0)  # the server's own priority
    assert nice["diffusion"] == nice["gan"] + 10  # lower: the OS runs GAN, predicts and the event loop first
