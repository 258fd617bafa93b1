"""In-process throttles: token buckets per key and a bounded pool for argon2.

The buckets are per worker (a flood spread over several workers gets each
worker's allowance); what must hold across workers, the per-user lockout, is in
the database (:mod:`.service`). The argon2 pool bounds how many hashes run and
wait at once: beyond that a login is answered 429 at once instead of queueing
without limit behind a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from cloud_bridge.errors import TooManyRequests

T = TypeVar("T")

# Keys remembered per bucket set: a flood of random source addresses or usernames
# cannot grow memory without limit (the oldest keys are forgotten first).
MAX_KEYS = 50_000


class TokenBuckets:
    """One token bucket per key: ``burst`` at once, then ``per_min`` per minute."""

    def __init__(self, burst: int, per_min: float, clock: Callable[[], float] = time.monotonic):
        self.burst = float(burst)
        self.rate = per_min / 60.0
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str) -> float:
        level, at = self._buckets.get(key, (self.burst, self.clock()))
        return min(self.burst, level + (self.clock() - at) * self.rate)

    def take(self, key: str) -> float:
        """Take one token; the seconds to wait when there is none (0.0: taken)."""
        level = self._level(key)
        if level < 1.0:
            return (1.0 - level) / self.rate
        self._buckets[key] = (level - 1.0, self.clock())
        self._buckets.move_to_end(key)
        while len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
        return 0.0

    def give_back(self, key: str) -> None:
        """Return a token (a successful login does not count against its source)."""
        if key in self._buckets:
            self._buckets[key] = (min(self.burst, self._level(key) + 1.0), self.clock())


def retry_after(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))


class HashPool:
    """A bounded thread pool for argon2: ``workers`` at once, ``queue`` more waiting.

    A login takes a place (:meth:`place`) before it touches the database, so a flood
    beyond the places is answered 429 without costing the database anything.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._places = workers + queue
        self._busy = 0

    @contextlib.contextmanager
    def place(self) -> Iterator[None]:
        if self._busy >= self._places:
            raise TooManyRequests("too many logins at once; try again shortly", retry_after=1)
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in the pool (the caller holds a :meth:`place`)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
