"""Generation jobs: one queue per model (a GAN request never waits behind diffusion work), progress counted
per sampling step, cancellation between steps, and a Retry-After from the estimated seconds of queued work.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException

from doodlelab.web.batching import Busy

ABANDONED = 30.0  # seconds without a poll after which a polled job is cancelled (its page went away)
KEEP = 60.0  # seconds a finished job stays readable
KEEP_FINISHED = 64  # finished jobs kept at most (the oldest go first)
LEARN_FROM = 200  # units: smaller jobs are mostly per-request overhead and would inflate the estimate


class Cancelled(Exception):
    """Raised in the sampling loop, between two steps, when the job was cancelled."""


@dataclass(eq=False)
class Job:
    """One generation request: `units` of work ((samples + 1) x steps: a step costs about one sample more
    than its samples) in `total` steps. `polled` jobs belong to
    the jobs API (abandoned when nobody asks about them any more); the others to a waiting request."""

    model: str
    units: int
    total: int
    polled: bool
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    done: int = 0  # steps done
    state: str = "queued"  # queued, running, done, failed, cancelled
    result: Any = None
    error: BaseException | None = None
    seen: float = field(default_factory=time.monotonic)  # when its client last asked
    finished: float = 0.0
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None
    ready: list | None = None  # the stroke model: each doodle once finished (JSON strokes), None before

    def progress(self, done: int) -> None:
        """Called by the sampling loop after each step: count it; stop if cancelled or abandoned."""
        self.done = done
        if self.polled and time.monotonic() - self.seen > ABANDONED:
            self.cancel.set()
        if self.cancel.is_set():
            raise Cancelled

    def remaining(self) -> float:
        return self.units * (1 - self.done / self.total)


class ModelQueue:
    """One model's jobs, run one at a time on a thread of its own, with at most `waiting` more queued; a job
    beyond that is refused at once (`Busy`). `seconds_per_unit` (a measured prior, then the first large
    job's figure, then a moving average) turns the units of work queued into seconds. `nice` > 0 lowers the
    thread's scheduling priority (Linux): the operating system then runs the other models' requests, the
    event loop and the predict workers first whenever they want a core, and this model in the time left."""

    def __init__(self, name: str, waiting: int, seconds_per_unit: float, nice: int = 0):
        self.executor = ThreadPoolExecutor(
            1, thread_name_prefix=f"doodlelab-{name}", initializer=self._start, initargs=(nice,)
        )
        self.name, self.limit, self.seconds_per_unit = name, 1 + waiting, seconds_per_unit
        self.thread_id: int | None = None  # the job thread's id in the OS, once it runs
        self.measured = False
        self.jobs: list[Job] = []  # the running job first, then the waiting ones in order
        self.lock = threading.Lock()  # `jobs` changes in the job thread too

    def _start(self, nice: int) -> None:
        self.thread_id = tid = threading.get_native_id()
        if nice and hasattr(os, "setpriority"):  # Linux: PRIO_PROCESS with a thread's id sets that thread's
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)

    def seconds_until_done(self, job: Job | None = None) -> float:
        """Estimated seconds until `job` is done (None: until all queued work is; 0 for a job that has left
        the queue: finished, failed or cancelled)."""
        with self.lock:
            if job is not None and job not in self.jobs:
                return 0.0
            ahead = self.jobs if job is None else self.jobs[: self.jobs.index(job) + 1]
            return sum(j.remaining() for j in ahead) * self.seconds_per_unit

    def ahead_of(self, job: Job) -> int:
        with self.lock:
            return self.jobs.index(job) if job in self.jobs else 0

    def submit(self, job: Job, run: Callable[[Job], Any]) -> None:
        """Queue `run(job)`; Busy with a Retry-After of the backlog's estimated seconds when full."""
        with self.lock:
            if len(self.jobs) >= self.limit:
                backlog = sum(j.remaining() for j in self.jobs) * self.seconds_per_unit
                raise Busy(
                    f"the {self.name} generator is busy ({len(self.jobs)} requests running or "
                    f"waiting, about {backlog:.0f} s of work); try again later",
                    max(1, math.ceil(backlog)),
                )
            self.jobs.append(job)
        job.future = self.executor.submit(self._run, job, run)
        job.future.add_done_callback(lambda future: self._finished(job, future))

    def _run(self, job: Job, run: Callable[[Job], Any]) -> Any:
        if job.cancel.is_set():
            raise Cancelled
        job.state = "running"
        start = time.perf_counter()
        result = run(job)
        rate = (time.perf_counter() - start) / job.units
        if job.units >= LEARN_FROM:
            self.seconds_per_unit = 0.5 * self.seconds_per_unit + 0.5 * rate if self.measured else rate
            self.measured = True
        return result

    def _finished(self, job: Job, future: Future) -> None:
        with self.lock:
            self.jobs.remove(job)
        error = None if future.cancelled() else future.exception()
        job.finished = time.monotonic()
        if future.cancelled() or isinstance(error, Cancelled):
            job.state = "cancelled"
        elif error is not None:
            job.state, job.error = "failed", error
        else:
            job.state, job.result, job.done = "done", future.result(), job.total

    def close(self) -> None:
        with self.lock:
            jobs = list(self.jobs)
        for job in jobs:
            job.cancel.set()
        self.executor.shutdown(wait=False, cancel_futures=True)


class Generation:
    """The server's generation queues (name -> seconds per unit of work, the prior; `nice`: name -> how much
    lower its thread's priority is) and the jobs that clients poll by id. A cancelled job leaves its queue at
    once if it waits, else after the current step."""

    def __init__(self, models: dict[str, float], waiting: int = 4, nice: dict[str, int] | None = None):
        nice = nice or {}
        self.queues = {
            name: ModelQueue(name, waiting, prior, nice.get(name, 0)) for name, prior in models.items()
        }
        self.polled: dict[str, Job] = {}

    def submit(self, job: Job, run: Callable[[Job], Any]) -> Job:
        self._sweep()
        self.queues[job.model].submit(job, run)
        if job.polled:
            self.polled[job.id] = job
        return job

    async def wait(self, job: Job, gone: Callable[[], Any] | None = None, every: float = 0.25) -> Any:
        """The result of `job` (Cancelled if it was); every `every` seconds `await gone()` is asked, and
        if true (its client left) the job is cancelled."""
        assert job.future is not None
        result = asyncio.wrap_future(job.future)
        while gone is not None and not result.done():
            await asyncio.wait([result], timeout=every)
            if not result.done() and await gone():
                self.cancel(job)
        try:
            return await result
        except asyncio.CancelledError:
            if job.future.cancelled():  # the job was cancelled while it waited (not this task)
                raise Cancelled from None
            raise

    def get(self, job_id: str) -> Job | None:
        """The polled job `job_id` (None if unknown or expired); asking keeps it alive."""
        self._sweep()
        job = self.polled.get(job_id)
        if job is not None:
            job.seen = time.monotonic()
        return job

    def cancel(self, job: Job) -> None:
        job.cancel.set()
        if job.future is not None:
            job.future.cancel()  # a waiting job leaves its queue now; a running one stops after its step

    def _sweep(self) -> None:
        now = time.monotonic()
        finished = sorted((j for j in self.polled.values() if j.finished), key=lambda j: j.finished)
        expired = [j for j in finished if now - j.finished > KEEP] + finished[:-KEEP_FINISHED]
        for job in expired:
            self.polled.pop(job.id, None)
        for job in self.polled.values():  # a client that stopped polling a waiting job: it is dropped
            if not job.finished and now - job.seen > ABANDONED:
                self.cancel(job)

    def close(self) -> None:
        for queue in self.queues.values():
            queue.close()


def submit(generation: Generation, job: Job, run: Callable[[Job], Any]) -> Job:
    """`generation.submit`, with a full queue answered 503 and a Retry-After of its backlog's seconds."""
    try:
        return generation.submit(job, run)
    except Busy as busy:
        raise HTTPException(503, str(busy), headers={"Retry-After": str(busy.retry_after)}) from None
