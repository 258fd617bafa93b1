"""Kiosk sessions for the conversion funnel, from the events the ingest already stored.

The kiosk's outbox events reach the bridge's ``events`` table once each (the ingest
dedupes by event id); analytics never sits in that path, so a sale is never blocked by it.
The nightly job turns them into funnel events in ``analytics_events`` (channel ``kiosk``):

* ``session.summary`` (contract, additive): a whole session from its first scan: start,
  items scanned, payment attempted, paid or abandoned;
* ``order.completed``: a paid session (start, scanned, payment attempted, paid);
* ``order.voided`` after a payment attempt: a session abandoned at payment.

A session is keyed by its order number when it has one, so a summary and the order's own
events describe one session, not two. Derived event ids are ``k:<stored id>:<step>``:
harvesting twice stores nothing twice.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import StoredEvent

from .events import store_events
from .models import BehaviourEvent

log = logging.getLogger(__name__)

SOURCE_TYPES = ("session.summary", "order.completed", "order.voided")
BATCH = 5000


def _steps(etype: str, data: dict[str, Any]) -> tuple[str | None, list[str], str | None]:
    """``(session key, funnel steps, member id)`` of one stored kiosk event."""
    if etype == "order.completed":
        steps = ["session_start", "item_scanned", "payment_attempted", "paid"]
        return data.get("order_no"), steps, data.get("member_id")
    if etype == "order.voided":
        if not data.get("attempts"):
            return data.get("order_no"), ["session_start", "item_scanned", "cart_abandoned"], None
        return (data.get("order_no"),
                ["session_start", "item_scanned", "payment_attempted", "cart_abandoned"], None)
    steps = ["session_start"]
    if data.get("items_scanned"):
        steps.append("item_scanned")
    if data.get("items_removed"):
        steps.append("item_removed")
    if data.get("payment_attempts"):
        steps.append("payment_attempted")
    if data.get("help_calls"):
        steps.append("help_called")
    steps.append("paid" if data.get("outcome") == "paid" else "cart_abandoned")
    return data.get("order_no") or data.get("session_id"), steps, data.get("member_id")


def funnel_events(row: StoredEvent) -> list[dict[str, Any]]:
    """The funnel events of one stored kiosk event (empty when it cannot be read)."""
    try:
        data = json.loads(row.payload).get("data") or {}
    except (ValueError, AttributeError):
        return []
    key, steps, member = _steps(row.type, data)
    if not key:
        return []
    at: datetime = row.ts
    session = f"{row.store}:{key}"[:64]
    detail = ({"methods": data.get("payment_methods"), "outcome": data.get("outcome")}
              if row.type == "session.summary" else None)
    return [{"event_id": f"k:{row.event_id}:{i}"[:64], "type": step, "store": row.store,
             "session_id": session, "member_id": member, "at": at, "channel": "kiosk",
             "detail": detail} for i, step in enumerate(steps)]


async def harvest_kiosk_events(session: AsyncSession, since: datetime | None = None) -> int:
    """Turn stored kiosk events (received since ``since``) into funnel events; new ones."""
    q = select(StoredEvent).where(StoredEvent.type.in_(SOURCE_TYPES)).order_by(
        StoredEvent.received_at, StoredEvent.event_id)
    if since is not None:
        q = q.where(StoredEvent.received_at >= since)
    stored = 0
    rows = (await session.scalars(q)).all()
    # A summary supersedes the order's own events for the same session.
    summarised = set()
    for r in rows:
        if r.type == "session.summary":
            events = funnel_events(r)
            if events:
                summarised.add(events[0]["session_id"])
    batch: list[dict[str, Any]] = []
    for r in rows:
        events = funnel_events(r)
        if not events or (r.type != "session.summary" and events[0]["session_id"] in summarised):
            continue
        batch.extend(events)
        if len(batch) >= BATCH:
            stored += (await store_events(session, batch, "kiosk"))[0]
            batch = []
    if batch:
        stored += (await store_events(session, batch, "kiosk"))[0]
    return stored


async def harvested_any(session: AsyncSession) -> bool:
    """Whether kiosk events were ever harvested (the first harvest reads everything)."""
    return await session.scalar(select(BehaviourEvent.event_id).where(
        BehaviourEvent.source == "kiosk").limit(1)) is not None
