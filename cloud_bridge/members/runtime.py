"""The member programs' periodic job in every bridge worker (``cleanup_ctx``).

Found by :func:`cloud_bridge.domains.domain_modules` (``runtime_ctx``). Every
``PROGRAMS_INTERVAL_S`` it activates paid purchases whose order was paid, ends paid
memberships past their end, rewards invitees' first purchases and enqueues renewal
reminders (:func:`run_programs`). Every step is a conditional update or a unique key,
so several workers running it at once do each thing once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..db import Database
from ..keys import CONFIG_KEY, DB_KEY
from . import paid, referrals

log = logging.getLogger(__name__)

# A paid purchase is also activated at once when the shopper opens "my membership"
# (GET /api/v1/mp/member/paid); the sweep catches the rest, expiries and reminders,
# none of which is urgent to the minute. The first sweep waits one interval too.
PROGRAMS_INTERVAL_S = 300.0


async def run_programs(db: Database, tz: str) -> dict[str, int]:
    """One sweep of the member programs: counts of what it did."""
    async with db.session() as s:
        out = await paid.settle_purchases(s)
        out["first_purchases_rewarded"] = await referrals.first_purchases(s)
        out["renewal_reminders"] = await paid.renewal_reminders(s, tz)
    return out


async def _loop(app: web.Application) -> None:
    while True:
        await asyncio.sleep(PROGRAMS_INTERVAL_S)
        try:
            await run_programs(app[DB_KEY], app[CONFIG_KEY].bridge.timezone)
        except asyncio.CancelledError:
            raise
        except Exception:  # logged; the next sweep tries again
            log.exception("member programs sweep failed; next in %.0f s", PROGRAMS_INTERVAL_S)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the sweep for as long as the app runs."""
    task = asyncio.create_task(_loop(app), name="member-programs")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
