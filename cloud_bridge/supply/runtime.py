"""The supply chain's long-lived work in the bridge: stock alerts pushed to the kiosks.

Found by :func:`cloud_bridge.domains.domain_modules` (``runtime_ctx``). Every worker runs
it: the snapshot bytes depend on the database only, so two workers publishing the same
store's list publish the same retained message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .push import publish_changed

log = logging.getLogger(__name__)

# How often the stores' stock alerts are compared with what was published: alerts change
# on a scan or when staff acknowledge one, and a staff member at the kiosk can wait this
# long; the comparison is one query per store with alerts.
PUSH_INTERVAL_S = 15.0


async def _push_loop(app: web.Application) -> None:
    from cloud_bridge.keys import DB_KEY, INGEST_KEY

    sent: dict[str, str] = {}
    while True:
        await asyncio.sleep(PUSH_INTERVAL_S)
        ingest = app.get(INGEST_KEY)
        if ingest is None or not ingest.connected.is_set():
            # A broker restarted without persistence loses retained messages: after a
            # reconnect every store's list goes out again.
            sent.clear()
            continue
        try:
            await publish_changed(app[DB_KEY], ingest.publish, sent)
        except Exception:  # logged; the next round tries again
            log.exception("stock alerts not published; retrying in %.0f s", PUSH_INTERVAL_S)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the stock-alert push for the app's lifetime."""
    task = asyncio.create_task(_push_loop(app), name="supply-alert-push")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
