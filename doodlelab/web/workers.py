"""Worker processes for the server: each is spawned once and fed over its own pipe, and its answers are read
by the event loop itself, so a hand-over costs one pickle each way and no thread switches (the standard
`ProcessPoolExecutor` passes every call through two helper threads of the server's process).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# What the classifier's worker processes import: their fork server imports it once, for all of them.
CLASSIFIER_MODULES = ["doodlelab.web.inference", "doodlelab.classifier.recognizer", "onnxruntime"]


def fork_server(preload: list[str]) -> Any:
    """Python's "forkserver" context, its server started now with `preload` imported: a clean process (no
    threads, no locks) that each worker is forked from, instead of a fresh interpreter importing the same
    modules again for every worker. Started early, it imports them while the caller does other work."""
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    forkserver.ensure_running()
    return context


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    calls: Connection  # we write calls here (a blocking pipe of its own)
    answers: Connection  # and read answers here, when the event loop says it is readable


def _work(calls: Connection, answers: Connection, initializer: Callable | None, initargs: tuple) -> None:
    """A worker's life: run the initializer, then answer (fn, args, kwargs) calls until the pipe closes."""
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            fn, args, kwargs = calls.recv()
        except (EOFError, OSError):  # the server closed our pipe: stop
            return
        try:
            answer = (True, fn(*args, **kwargs))
        except BaseException as exc:  # the caller gets the exception, the worker goes on
            answer = (False, exc)
        try:
            answers.send(answer)
        except Exception as exc:  # an answer that cannot be pickled
            answers.send((False, RuntimeError(f"cannot send the answer back ({type(exc).__name__}: {exc})")))


class ProcessWorkers(Executor):
    """An Executor of `workers` spawned processes for an asyncio server: `submit` must be called from the
    thread running the event loop (as `loop.run_in_executor` does). Calls beyond the idle workers wait
    in order. A worker that dies breaks the executor (`BrokenProcessPool` for its call, the calls
    waiting and later submits), as with `ProcessPoolExecutor`: make a new one."""

    def __init__(
        self, workers: int, initializer: Callable | None = None, initargs: tuple = (), mp_context: Any = None
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        context = mp_context or multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        for _ in range(workers):
            their_calls, our_calls = context.Pipe(duplex=False)  # (reading end, writing end)
            our_answers, their_answers = context.Pipe(duplex=False)
            process = context.Process(
                target=_work,
                args=(their_calls, their_answers, initializer, initargs),
                daemon=True,
                name="doodlelab-worker",
            )
            process.start()
            their_calls.close()
            their_answers.close()
            self._workers.append(_Worker(process, our_calls, our_answers))
        self._idle: deque[_Worker] = deque(self._workers)
        self._busy: dict[_Worker, Future] = {}
        self._waiting: deque[tuple[Future, Callable, tuple, dict]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broken: str | None = None
        self._closed = False

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        if self._broken:
            raise BrokenProcessPool(self._broken)
        if self._closed:
            raise RuntimeError("cannot schedule new calls after shutdown")
        if self._loop is None:  # first call: answers are read by this loop from now on
            self._loop = asyncio.get_running_loop()
            for worker in self._workers:
                self._loop.add_reader(worker.answers.fileno(), self._answered, worker)
        future: Future = Future()
        self._waiting.append((future, fn, args, kwargs))
        self._hand_over()
        return future

    def _hand_over(self) -> None:
        while self._idle and self._waiting and not self._broken:
            future, fn, args, kwargs = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():  # cancelled while waiting
                continue
            worker = self._idle.popleft()
            self._busy[worker] = future
            try:
                worker.calls.send((fn, args, kwargs))
            except (OSError, ValueError):  # its end of the pipe is gone
                self._break("a worker process died")

    def _answered(self, worker: _Worker) -> None:
        fd = worker.answers.fileno()
        was_blocking = os.get_blocking(fd)  # the event loop may have made it non-blocking (uvloop does)
        try:
            os.set_blocking(fd, True)  # the answer has begun to arrive: wait for the whole of it
            ok, value = worker.answers.recv()
        except (EOFError, OSError):
            worker.process.join(0.1)
            self._break(f"a worker process died (exit code {worker.process.exitcode})")
            return
        except Exception as exc:  # read whole, but it does not unpickle here: fail this call only
            ok, value = False, RuntimeError(f"cannot read a worker's answer ({type(exc).__name__}: {exc})")
        finally:
            if not self._broken:
                os.set_blocking(fd, was_blocking)
        future = self._busy.pop(worker, None)
        self._idle.append(worker)
        if future is not None:
            future.set_result(value) if ok else future.set_exception(value)
        self._hand_over()

    def _break(self, reason: str) -> None:
        """A worker died: fail every call in flight or waiting, stop the others."""
        self._broken = reason
        calls = list(self._busy.values()) + [f for f, *_ in self._waiting if f.set_running_or_notify_cancel()]
        self._busy.clear()
        self._waiting.clear()
        self._stop(wait=False)
        for future in calls:
            future.set_exception(BrokenProcessPool(reason))

    def _stop(self, wait: bool) -> None:
        for worker in self._workers:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(worker.answers.fileno())
            worker.calls.close()  # the worker reads end-of-file and returns
            worker.answers.close()
        for worker in self._workers:
            worker.process.join(5 if wait else 0)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(1)
        self._workers = []

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        calls = list(self._busy.values())
        if cancel_futures:
            for future, *_ in self._waiting:
                future.cancel()
        else:
            calls += [f for f, *_ in self._waiting if f.set_running_or_notify_cancel()]
        self._busy.clear()
        self._waiting.clear()
        self._stop(wait)
        for future in calls:  # their answers would arrive through the loop, which is no longer reading
            future.set_exception(BrokenProcessPool("the workers were shut down"))
