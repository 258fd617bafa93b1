"""Finance's long-lived work in the bridge: the periodic posting job and e-invoice sync.

Found by :func:`cloud_bridge.domains.domain_modules` (``runtime_ctx``) and run in
the app's ``cleanup_ctx`` after the database is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .jobs import post_pending

log = logging.getLogger(__name__)

# How often unposted sales and refunds are swept into the ledger: finance reads the
# ledger by day, so a minute of delay costs nothing and keeps the load small. The first
# sweep also waits one interval: a worker that just started (or a short-lived test app)
# does not write behind its callers' backs; `finance post` and POST /finance/post post
# at once when someone needs it now.
POST_INTERVAL_S = 60.0


async def _posting_loop(app: web.Application) -> None:
    from cloud_bridge.keys import CONFIG_KEY, DB_KEY

    tz = app[CONFIG_KEY].bridge.timezone
    settled: set[str] = set()
    while True:
        await asyncio.sleep(POST_INTERVAL_S)
        try:
            await post_pending(app[DB_KEY], tz=tz)
        except Exception:  # logged; the next sweep tries again
            log.exception("finance posting failed; retrying in %.0f s", POST_INTERVAL_S)
        try:
            await _settle(app, tz, settled)
        except Exception:
            log.exception("settlement posting failed; retrying in %.0f s", POST_INTERVAL_S)
        try:
            await _sync_fapiao(app, tz)
        except Exception:
            log.exception("e-invoice sync failed; retrying in %.0f s", POST_INTERVAL_S)


async def _settle(app: web.Application, tz: str, done: set[str]) -> None:
    """Yesterday's fees and T+1 settlements from the bills, once a day per worker (the
    ledger's unique source keys make it once across workers)."""
    from cloud_bridge.keys import DB_KEY, SERVICES_KEY

    from .settlements import post_settlements, settled_day

    day = settled_day(tz)
    payments = app[SERVICES_KEY].payments
    if day is None or day in done or payments is None:
        return
    await post_settlements(app[DB_KEY], payments, day, tz=tz)
    done.add(day)


async def _sync_fapiao(app: web.Application, tz: str) -> None:
    """Red-letter invoices for refunds, pending e-invoices moved on (WeChat Pay's platform)."""
    from cloud_bridge.keys import DB_KEY, SERVICES_KEY

    from . import fapiao
    from .expenses import storage_for
    from .fapiao_client import FapiaoClient

    payments = app[SERVICES_KEY].payments
    from cloud_bridge.payments.providers.wechat import WechatPayProvider

    wechat = payments.providers.get("wechat") if payments is not None else None
    if isinstance(wechat, WechatPayProvider):
        db = app[DB_KEY]
        await fapiao.sync(db, FapiaoClient(wechat), storage_for(db.url), tz=tz)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the posting loop for the app's lifetime."""
    task = asyncio.create_task(_posting_loop(app), name="finance-posting")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
