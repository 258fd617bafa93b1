"""The console's background work: a sample of the fleet per store for the charts over time.

Found by :func:`cloud_bridge.domains.domain_modules` (``runtime_ctx``). Every worker
samples; a sample is keyed by store and the start of its period, so the first worker's
row stands and the others' inserts do nothing (one row per period however many workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import delete

from cloud_bridge import fleet
from cloud_bridge.inventory import dialect_insert
from cloud_bridge.keys import CONFIG_KEY, DB_KEY
from common.jsontypes import JsonMapping

from .config import console_config
from .models import FleetSample

if TYPE_CHECKING:
    from cloud_bridge.db import Database

log = logging.getLogger(__name__)

KEEP_DAYS = 7  # the charts show a day; a week is kept for a look back


def period_start(at: datetime, every_s: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % every_s, UTC)


async def sample_fleet(db: Database, every_s: int, at: datetime | None = None) -> int:
    """Store one sample per store for the period of ``at``; returns the stores sampled."""
    at = period_start(at or datetime.now(UTC), every_s)
    async with db.session() as s:
        kiosks = await fleet.fleet_view(s)
        per_store: dict[str, list[JsonMapping]] = defaultdict(list)
        for k in kiosks:
            per_store[str(k["store"])].append(k)
        rows = []
        for store, ks in per_store.items():
            ages = [age for k in ks if isinstance(age := k["oldest_unsent_s"], int | float)]
            rows.append({"store": store, "at": at,
                         "online": sum(1 for k in ks if k["state"] == "online"),
                         "total": len(ks),
                         "queue_depth": sum(d for k in ks if isinstance(d := k["queue_depth"], int)),
                         "oldest_unsent_s": max(ages) if ages else None})
        if rows:
            stmt = dialect_insert(s, FleetSample).values(rows).on_conflict_do_nothing(
                index_elements=[FleetSample.store, FleetSample.at])
            await s.execute(stmt)
        await s.execute(delete(FleetSample).where(
            FleetSample.at < at - timedelta(days=KEEP_DAYS)))
    return len(rows)


async def _sampling_loop(app: web.Application, every_s: int) -> None:
    db = app[DB_KEY]
    while True:
        try:
            await sample_fleet(db, every_s)
        except Exception:  # logged; the next period samples again
            log.exception("fleet sample failed")
        now = datetime.now(UTC).timestamp()
        await asyncio.sleep(every_s - now % every_s + 0.5)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Sample the fleet every ``[console] fleet_sample_s`` while the app runs (0: never)."""
    every_s = console_config(app[CONFIG_KEY]).fleet_sample_s
    if not every_s:
        yield
        return
    task = asyncio.create_task(_sampling_loop(app, every_s), name="console-fleet-samples")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
