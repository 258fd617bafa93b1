"""Scheduled work of customer service: wake snoozed tickets, raise SLA breaches, poll
carriers for shipments without pushes. Run every ``SWEEP_S`` by each worker's runtime;
on PostgreSQL one worker per round does it (a transaction-scoped advisory lock), and every
step is idempotent, so a round cut short is finished by the next."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from . import sla, tickets

if TYPE_CHECKING:
    from cloud_bridge.db import Database

log = logging.getLogger(__name__)

# How often the sweep runs: SLA targets are minutes, so a minute is fine-grained enough.
SWEEP_S = 60.0
# The advisory lock key of the sweep ("svc" + 1), the same on every worker.
LOCK_KEY = 0x73766301


async def sweep_once(db: Database, tz: str) -> dict[str, int]:
    """One round: snoozed tickets woken, breaches raised (counts)."""
    async def work(s: AsyncSession) -> dict[str, int]:
        if not db.is_sqlite:
            got = await s.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            if not got:
                return {"woken": 0, "breaches": 0}
        woken = await tickets.wake_snoozed(s)
        breaches = await sla.sweep_breaches(s, tz)
        return {"woken": woken, "breaches": len(breaches)}

    return await db.transact(work)


async def run_forever(db: Database, tz: str,
                      extra: list[Callable[[], Awaitable[None]]] | None = None) -> None:
    """The periodic loop a worker runs while it is up."""
    while True:
        await asyncio.sleep(SWEEP_S)
        try:
            counts = await sweep_once(db, tz)
            for job in extra or []:
                await job()
            if counts["breaches"]:
                log.warning("SLA: %d clock(s) breached", counts["breaches"])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("customer-service sweep failed; next round in %.0f s", SWEEP_S)
