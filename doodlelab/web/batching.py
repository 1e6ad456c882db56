"""Work kept off the event loop: `MicroBatcher` answers requests that arrive together in one call (in worker
processes or a thread); `Busy` is what a full queue answers (generation queues: `jobs`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """Batch what is queued: a request that finds a free slot (at most `concurrency` batches in flight)
    goes at once; requests that arrive while every slot is busy wait together and go as one call of
    `run_batch(items) -> results` (same order, one result each; up to `max_batch` items) when a slot frees.

    So a lone request is never delayed, and under load the per-call costs (hand-over to a worker, one
    network run) are shared by the batch. `run_batch` must answer each item, errors included: an exception
    from it fails only its own batch. A broken process pool (a worker died) is replaced by a new one
    from `make_executor`; the requests of the failed batch get the BrokenExecutor exception.
    """

    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result]],
        make_executor: Callable[[], Executor],
        concurrency: int = 1,
        max_batch: int = 64,
    ):
        self.run_batch, self.make_executor = run_batch, make_executor
        self.concurrency, self.max_batch = concurrency, max_batch
        self.executor = make_executor()
        self.pending: deque[tuple[Item, asyncio.Future]] = deque()
        self.running = 0
        self.batches = self.items = 0  # counters: mean batch size = items / batches

    async def submit(self, item: Item) -> Result:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        self._dispatch()
        return await future

    async def warm_up(self, ready: Callable[[], Any]) -> None:
        """Call `ready` once per slot at the same time: starts every worker process (and runs its
        initializer) before the first request."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self.executor, ready) for _ in range(self.concurrency)))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        while self.pending:
            self.pending.popleft()[1].cancel()

    def _dispatch(self) -> None:
        while self.pending and self.running < self.concurrency:
            batch = []
            while self.pending and len(batch) < self.max_batch:
                item, future = self.pending.popleft()
                if not future.done():  # a request whose client went away is skipped
                    batch.append((item, future))
            if not batch:
                continue
            self.running += 1
            self.batches, self.items = self.batches + 1, self.items + len(batch)
            executor = self.executor
            try:
                work = asyncio.get_running_loop().run_in_executor(
                    executor, self.run_batch, [item for item, _ in batch]
                )
            except (BrokenExecutor, RuntimeError) as exc:  # broken or shut down: fail this batch only
                work = asyncio.get_running_loop().create_future()
                work.set_exception(exc)
            work.add_done_callback(lambda done, b=batch, e=executor: self._finished(b, e, done))

    def _finished(
        self, batch: list[tuple[Item, asyncio.Future]], executor: Executor, done: asyncio.Future
    ) -> None:
        self.running -= 1
        error = done.exception() if not done.cancelled() else asyncio.CancelledError()
        if isinstance(error, BrokenExecutor) and executor is self.executor:
            executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self.make_executor()
        results = done.result() if error is None else [None] * len(batch)
        if error is None and len(results) != len(batch):
            error = RuntimeError(f"run_batch answered {len(results)} of {len(batch)} requests")
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        self._dispatch()


class Busy(Exception):
    """The queue is full; `retry_after` is the estimated seconds of work queued."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
