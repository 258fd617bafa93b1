"""The selling domain's long-lived work in the bridge: new mini-program orders pushed to
the store's kiosks (:mod:`.mp_orders`).

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

from .mp_orders import Fingerprint, publish_changed

log = logging.getLogger(__name__)

# How often the open mini-program orders are compared with what was published: a shopper
# who just paid expects the store to start on the order at once, and the comparison is
# one small query (the lists are read only when it changed).
PUSH_INTERVAL_S = 2.0


async def _push_loop(app: web.Application) -> None:
    from cloud_bridge.keys import DB_KEY, INGEST_KEY

    sent: dict[str, str] = {}
    seen: list[Fingerprint] = []
    while True:
        await asyncio.sleep(PUSH_INTERVAL_S)
        ingest = app.get(INGEST_KEY)
        if ingest is None or not ingest.connected.is_set():
            # A broker restarted without persistence loses retained messages: after a
            # reconnect every store's list goes out again.
            sent.clear()
            continue
        try:
            await publish_changed(app[DB_KEY], ingest.publish, sent, seen)
        except Exception:  # logged; the next round tries again
            log.exception("mini-program orders not published; retrying in %.0f s",
                          PUSH_INTERVAL_S)


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the mini-program order push for the app's lifetime."""
    task = asyncio.create_task(_push_loop(app), name="selling-mp-order-push")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
