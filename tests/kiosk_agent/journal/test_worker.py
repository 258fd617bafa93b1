"""The journal's worker thread: order, results, errors, cancellation, a closed loop."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from kiosk_agent.journal.worker import JournalWorker


async def test_calls_run_in_order_on_one_thread_and_return_results():
    worker = JournalWorker("test-journal")
    seen: list[tuple[int, str]] = []

    def call(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * i

    try:
        results = await asyncio.gather(*(worker.submit(call, i) for i in range(100)))
    finally:
        worker.stop()
    assert results == [i * i for i in range(100)]
    assert seen == [(i, "test-journal") for i in range(100)]


async def test_an_exception_reaches_the_caller_and_the_thread_goes_on():
    worker = JournalWorker()

    def boom() -> None:
        raise KeyError("nope")

    try:
        with pytest.raises(KeyError, match="nope"):
            await worker.submit(boom)
        assert await worker.submit(lambda: 7) == 7
    finally:
        worker.stop()


async def test_a_call_cancelled_before_it_started_is_skipped():
    worker = JournalWorker()
    gate = threading.Event()
    ran: list[str] = []
    try:
        blocker = worker.submit(gate.wait)
        skipped = worker.submit(ran.append, "skipped")
        skipped.cancel()
        gate.set()
        assert await blocker is True
        await worker.submit(ran.append, "after")
    finally:
        worker.stop()
    assert ran == ["after"]


def test_a_result_for_a_closed_loop_is_dropped_quietly():
    worker = JournalWorker()
    gate = threading.Event()
    done = threading.Event()

    async def submit() -> None:
        worker.submit(gate.wait)
        worker.submit(done.set)

    asyncio.run(submit())  # the loop closes with the first call still running
    gate.set()
    assert done.wait(5)  # the thread survived delivering to the closed loop
    worker.stop()


def test_a_loop_other_than_the_first_gets_its_results_too():
    worker = JournalWorker()

    async def square(i: int) -> int:
        return await worker.submit(lambda: i * i)

    try:
        assert asyncio.run(square(3)) == 9  # the home loop (its eventfd)
        assert asyncio.run(square(4)) == 16  # another loop (call_soon_threadsafe)
    finally:
        worker.stop()


async def test_stop_delivers_every_result_and_closes_the_eventfd():
    worker = JournalWorker()
    futures = [worker.submit(lambda i=i: i) for i in range(50)]
    efd = worker._efd
    assert efd >= 0 or not hasattr(os, "eventfd")
    worker.stop()
    assert [f.result() for f in futures] == list(range(50))
    if efd >= 0:
        with pytest.raises(OSError):
            os.fstat(efd)


async def test_a_call_may_stop_its_own_worker():
    worker = JournalWorker()
    stopping = worker.submit(worker.stop)
    efd = worker._efd
    assert efd >= 0 or not hasattr(os, "eventfd")
    await stopping
    worker._thread.join()  # it ends by itself, handing its eventfd back to the loop
    for _ in range(3):  # a few turns of the loop: no wall clock
        await asyncio.sleep(0)
    assert not worker._thread.is_alive()
    if efd >= 0:
        with pytest.raises(OSError):
            os.fstat(efd)
