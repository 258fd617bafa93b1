"""The security domain's long-lived resources: the login guard and the retention loop.

Added to the app's ``cleanup_ctx`` by :func:`cloud_bridge.app.create_app` (a domain's
``runtime.runtime_ctx``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .jobs import run_retention
from .service import LoginGuard

log = logging.getLogger(__name__)

GUARD_KEY = web.AppKey("security_guard", LoginGuard)

# Retention runs hourly: deletes are idempotent, so several workers running it at
# once only repeat work, and an hour keeps the tables near their bound.
RETENTION_PERIOD_S = 3600.0


async def _retention_loop(app: web.Application) -> None:
    from cloud_bridge.keys import DB_KEY

    while True:
        await asyncio.sleep(RETENTION_PERIOD_S)
        try:
            await run_retention(app[DB_KEY])
        except Exception:  # a failed round is retried next period, never kills the worker
            log.exception("retention round failed")


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    from cloud_bridge.keys import CONFIG_KEY

    from .startup import check_production

    check_production(app[CONFIG_KEY])  # a production bridge with sandbox secrets never starts
    guard = LoginGuard()
    app[GUARD_KEY] = guard
    task = asyncio.create_task(_retention_loop(app), name="security-retention")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        guard.close()


def guard(app: web.Application) -> LoginGuard:
    return app[GUARD_KEY]
