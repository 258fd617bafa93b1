"""The analytics domain's long-lived part: on-demand runs and the optional nightly timer.

On-demand runs (``POST /api/v1/admin/analytics/runs``) run as tasks of the worker that took
them; their progress is on the run's row, so any worker can answer ``GET .../runs/{id}``.
The nightly timer runs only when ``$CLOUD_BRIDGE_ANALYTICS_NIGHTLY_AT`` is set
(``HH:MM``, China time): every worker may have it on, the job's lease lets one run per
period (a deployment may instead call ``cloud-bridge analytics run`` from a systemd timer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from cloud_bridge.db import Database
from cloud_bridge.errors import Conflict

from .events import purge_events
from .jobs import run_nightly, start_run
from .models import AnalyticsRun

log = logging.getLogger(__name__)

NIGHTLY_ENV = "CLOUD_BRIDGE_ANALYTICS_NIGHTLY_AT"
RETENTION_ENV = "CLOUD_BRIDGE_ANALYTICS_EVENT_RETENTION_DAYS"
STORE_TZ = ZoneInfo("Asia/Shanghai")
TIMER_CHECK_S = 60  # the timer wakes this often to see whether tonight's run is due


@dataclass
class AnalyticsRuntime:
    db: Database
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, as_of: date, requested_by: str) -> int:
        """Start an on-demand run in the background; its id (Conflict if one is running)."""
        run_id = await start_run(self.db, as_of.isoformat(), "on_demand", requested_by)
        task = asyncio.create_task(self._run(as_of, run_id, "on_demand"))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return run_id

    async def _run(self, as_of: date, run_id: int | None, trigger: str) -> None:
        try:
            await run_nightly(self.db, as_of=as_of, run_id=run_id, trigger=trigger)
            async with self.db.session() as s:
                await purge_events(s, int(os.environ.get(RETENTION_ENV, "180")))
        except Conflict:
            log.info("analytics run for %s already running elsewhere", as_of)
        except Exception:  # logged with its run by run_nightly; the timer goes on
            log.warning("analytics run for %s failed", as_of)


async def _timer(rt: AnalyticsRuntime, at: str) -> None:
    hh, mm = (int(x) for x in at.split(":"))
    while True:
        local = datetime.now(STORE_TZ)
        yesterday = local.date() - timedelta(days=1)
        if (local.hour, local.minute) >= (hh, mm):
            async with rt.db.session() as s:
                done = await s.scalar(select(AnalyticsRun.id).where(
                    AnalyticsRun.period == yesterday.isoformat(),
                    AnalyticsRun.status == "done"))
            if done is None:
                await rt._run(yesterday, None, "nightly")
        await asyncio.sleep(TIMER_CHECK_S)


RUNTIME_KEY = web.AppKey("analytics_runtime", AnalyticsRuntime)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    from cloud_bridge.keys import DB_KEY

    rt = AnalyticsRuntime(app[DB_KEY])
    app[RUNTIME_KEY] = rt
    timer = None
    if os.environ.get(NIGHTLY_ENV):
        timer = asyncio.create_task(_timer(rt, os.environ[NIGHTLY_ENV]))
    try:
        yield
    finally:
        for task in [*rt.tasks, *([timer] if timer else [])]:
            task.cancel()
        for task in [*rt.tasks, *([timer] if timer else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
