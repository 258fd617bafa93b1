"""Automatic journal pruning: the agent archives and prunes its own journal on a schedule.

Every ``[journal] prune_every_h`` hours (the first run :data:`FIRST_RUN_DELAY_S` after
start, so that a boot is not slowed down), and only while the checkout is idle, the
agent runs :func:`kiosk_agent.journal.retention.prune_journal` in a thread: sales the
cloud acknowledged more than ``retention_days`` ago are archived to ``archive_dir``
(default ``<journal dir>/archive``) and deleted; nothing unacknowledged, queued,
dead-lettered or open is ever touched (the retention module's rules, SIGKILL-safe).
``kiosk-agent journal prune`` does the same by hand; ``prune_every_h = 0`` turns the
schedule off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from common.jsontypes import JsonObject

from .journal.retention import PruneReport, prune_journal

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)

# A fresh boot has the outbox to drain and the price book to load first.
FIRST_RUN_DELAY_S = 600.0
# A run waits for the checkout to be idle (no sale in progress) at most this long.
IDLE_WAIT_S = 1800.0
IDLE_POLL_S = 5.0
# Checkout states in which no sale is in progress.
_QUIET = ("idle", "completed", "maintenance")


class JournalPruner:
    """The agent component that prunes the journal on a schedule."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        cfg = agent.config.journal
        self.every_s = cfg.prune_every_h * 3600.0
        self.retention_days = cfg.retention_days
        self.archive_dir = cfg.archive_dir or cfg.path.parent / "archive"
        self.first_delay_s = FIRST_RUN_DELAY_S
        self.last_run: float | None = None
        self.last_pruned = 0
        self.last_error: str | None = None
        self.runs = 0
        self.ran = asyncio.Event()  # set after each run (tests wait on it)

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.first_delay_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            await self._wait_idle(stop)
            await self.prune_now()
            delay = self.every_s

    async def _wait_idle(self, stop: asyncio.Event) -> None:
        deadline = time.monotonic() + IDLE_WAIT_S
        while not stop.is_set() and time.monotonic() < deadline:
            co = self.agent.checkout
            if co is None or str(co.state) in _QUIET:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), IDLE_POLL_S)

    async def prune_now(self) -> list[PruneReport]:
        """One pruning run (in a thread); errors are logged and reported in health."""
        reports: list[PruneReport] = []
        try:
            reports = await asyncio.to_thread(
                prune_journal, self.agent.config.journal.path, self.archive_dir,
                self.retention_days)
            self.last_error = None
        except Exception as err:  # the journal or the archive disk: retried next period
            self.last_error = f"{type(err).__name__}: {err}"
            log.error("journal pruning failed: %s", self.last_error)
        self.last_run, self.runs = time.time(), self.runs + 1
        self.last_pruned = sum(r.orders for r in reports)
        if self.last_pruned:
            log.info("journal pruning: %d sales older than %g days archived to %s",
                     self.last_pruned, self.retention_days, self.archive_dir)
        self.ran.set()
        return reports

    def health(self) -> JsonObject:
        return {"state": "error" if self.last_error else "ok", "reason": self.last_error,
                "last_run": self.last_run, "last_pruned": self.last_pruned,
                "retention_days": self.retention_days}


def pruning_component(agent: Agent) -> JournalPruner | None:
    """Factory: the scheduled pruner (None when ``[journal] prune_every_h = 0``)."""
    if agent.config.journal.prune_every_h <= 0:
        return None
    return JournalPruner(agent)
