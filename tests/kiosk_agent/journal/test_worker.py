"""The journal's worker thread: order, results, errors, cancellation, a closed loop."""

from __future__ import annotations

import asyncio
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
