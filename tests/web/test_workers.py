"""The server's worker processes: answers in order, errors passed back, a dead worker breaks the pool
(every call in flight or waiting fails, none hangs), shutdown ends the processes."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from doodlelab.web.workers import ProcessWorkers

HANG = 60  # seconds: longer than this is a hang


def pid_plus(x: int) -> tuple[int, int]:
    return os.getpid(), x + 1


def fail(message: str) -> None:
    raise ValueError(message)


def exit_now() -> None:
    os._exit(3)


def set_marker(value: int) -> None:
    global MARKER
    MARKER = value


def marker() -> int:
    return MARKER


async def _call(pool: ProcessWorkers, fn, *args):
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


def test_calls_are_answered_by_every_worker_in_order_with_the_initializer_run():
    async def scenario():
        pool = ProcessWorkers(2, initializer=set_marker, initargs=(7,))
        try:
            answers = await asyncio.gather(*(_call(pool, pid_plus, i) for i in range(40)))
            markers = await asyncio.gather(*(_call(pool, marker) for _ in range(4)))
            return answers, markers, {w.process.pid for w in pool._workers}
        finally:
            pool.shutdown()

    answers, markers, pids = asyncio.run(asyncio.wait_for(scenario(), HANG))
    assert [x for _, x in answers] == list(range(1, 41))  # more calls than workers: they wait their turn
    assert {pid for pid, _ in answers} == pids and len(pids) == 2 and os.getpid() not in pids
    assert markers == [7, 7, 7, 7]


def test_an_exception_comes_back_and_the_worker_goes_on():
    async def scenario():
        pool = ProcessWorkers(1)
        try:
            with pytest.raises(ValueError, match="bad input"):
                await _call(pool, fail, "bad input")
            return await _call(pool, pid_plus, 1)
        finally:
            pool.shutdown()

    assert asyncio.run(asyncio.wait_for(scenario(), HANG))[1] == 2


def test_a_dead_worker_breaks_the_pool_without_a_hang():
    async def scenario():
        pool = ProcessWorkers(1)
        try:
            await _call(pool, pid_plus, 0)  # started and reading
            dying = asyncio.ensure_future(_call(pool, exit_now))
            queued = asyncio.ensure_future(_call(pool, pid_plus, 1))  # waits behind the dying call
            results = await asyncio.gather(dying, queued, return_exceptions=True)
            with pytest.raises(BrokenProcessPool):
                pool.submit(pid_plus, 2)
            return results, pool
        finally:
            pool.shutdown()

    results, pool = asyncio.run(asyncio.wait_for(scenario(), HANG))
    assert all(isinstance(r, BrokenProcessPool) for r in results)
    assert "exit code 3" in str(results[0])


def test_shutdown_ends_the_processes_and_refuses_new_calls():
    async def scenario():
        pool = ProcessWorkers(2)
        await asyncio.gather(*(_call(pool, pid_plus, i) for i in range(2)))
        processes = [w.process for w in pool._workers]
        pool.shutdown()
        with pytest.raises(RuntimeError, match="shutdown"):
            pool.submit(pid_plus, 0)
        return processes

    processes = asyncio.run(asyncio.wait_for(scenario(), HANG))
    assert all(not p.is_alive() for p in processes)
    assert all(p.exitcode == 0 for p in processes)  # they read end-of-file and returned


def echo_reversed(data: bytes) -> bytes:
    return data[::-1]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_megabytes_travel_both_ways_under_either_event_loop(loop):
    """uvloop makes a watched pipe non-blocking: an answer larger than the pipe's buffer arrives in parts."""
    factory = asyncio.new_event_loop if loop == "asyncio" else pytest.importorskip("uvloop").new_event_loop
    payloads = [bytes(range(256)) * (4096 * k) for k in (1, 4, 8)]  # 1, 4 and 8 MiB

    async def scenario():
        pool = ProcessWorkers(2)
        try:
            return await asyncio.gather(*(_call(pool, echo_reversed, p) for p in payloads))
        finally:
            pool.shutdown()

    runner = factory()
    try:
        answers = runner.run_until_complete(asyncio.wait_for(scenario(), HANG))
    finally:
        runner.close()
    assert answers == [p[::-1] for p in payloads]


class Unreadable:
    """Pickles in the worker, fails to unpickle in the server."""

    def __reduce__(self):
        return fail, ("not here",)


def make_unreadable() -> Unreadable:
    return Unreadable()


def test_an_answer_that_cannot_be_read_fails_its_call_only():
    async def scenario():
        pool = ProcessWorkers(1)
        try:
            with pytest.raises(RuntimeError, match="cannot read a worker's answer"):
                await _call(pool, make_unreadable)
            return await _call(pool, pid_plus, 5)
        finally:
            pool.shutdown()

    assert asyncio.run(asyncio.wait_for(scenario(), HANG))[1] == 6
