"""The one polling helper of the suite: wait (bounded) until a condition holds.

Prefer waiting on an event the code under test sets; poll only where the state changes
in another thread or process and there is no event to wait on (a device's health from
its reader thread, rows written by another process).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

POLL_S = 0.01  # a condition is re-checked this often: cheap, and far below any limit


async def until(
    predicate: Callable[[], object | Awaitable[object]],
    limit_s: float = 5.0,
    *,
    what: str = "condition",
    poll_s: float = POLL_S,
) -> None:
    """Return once ``predicate()`` is true; fail the test after ``limit_s`` seconds.

    Args:
        predicate: a plain or async callable; its result is awaited when awaitable.
        limit_s: how long the condition may take before the test fails.
        what: what is waited for, for the failure message.
        poll_s: how often the condition is checked.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"{what} not reached in {limit_s:g} s")
        await asyncio.sleep(poll_s)
