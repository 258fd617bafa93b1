"""The close job of mini-program payment, in every bridge worker (``cleanup_ctx``).

Every ``[payments] mp_close_interval_s`` it closes the mini-program orders unpaid for
``mp_pay_timeout_s`` (:func:`.service.close_unpaid`), and the Native QRs kiosks left
unpaid as long (:func:`cloud_bridge.payments.native.close_abandoned`); every step is
conditional, so several workers running it at once close each once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from cloud_bridge.keys import CONFIG_KEY, DB_KEY, SERVICES_KEY
from cloud_bridge.marketing.jobs import after_unpaid_closed
from cloud_bridge.payments import native

from . import service

log = logging.getLogger(__name__)


async def _loop(app: web.Application, interval_s: float, timeout_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await service.close_unpaid(app[DB_KEY], app[SERVICES_KEY].payments, timeout_s)
            await native.close_abandoned(app[SERVICES_KEY].payments, timeout_s)
            # Flash sale units and group seats of the orders just closed (marketing).
            await after_unpaid_closed(app[DB_KEY], app[SERVICES_KEY].refunds)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mini-program close job failed; next run in %.0f s", interval_s)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the close job when payments are enabled and the interval is not 0."""
    section = app[CONFIG_KEY].payments
    task = None
    if section.enabled and section.mp_close_interval_s > 0:
        task = asyncio.create_task(_loop(app, section.mp_close_interval_s,
                                         section.mp_pay_timeout_s), name="mp-pay-close")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
