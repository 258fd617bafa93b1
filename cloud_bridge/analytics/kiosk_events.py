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

Each ``session.summary`` is also kept whole in ``analytics_kiosk_sessions`` (keyed by its
event id, so once) for the kiosk session KPIs (:func:`.metrics.kiosk_sessions`): time to
pay, removals, errors, abandonment. The ingest has already refused summaries that do not
match the contract (codes and counters only).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import bulk_insert
from cloud_bridge.models import StoredEvent
from common.jsontypes import JsonMapping, JsonObject
from contract.wire.events import SESSION_SUMMARY, SessionSummaryData

from .events import EventIn, store_events
from .models import BehaviourEvent, KioskSession

log = logging.getLogger(__name__)

SOURCE_TYPES = (SESSION_SUMMARY, "order.completed", "order.voided")
BATCH = 5000
STORE_TZ = ZoneInfo("Asia/Shanghai")  # business days are China days


def session_row(row: StoredEvent) -> JsonObject | None:
    """The ``analytics_kiosk_sessions`` row of a stored ``session.summary`` (or None)."""
    try:
        d = SessionSummaryData.model_validate(json.loads(row.payload).get("data") or {})
    except (ValueError, AttributeError, ValidationError):
        return None
    return {
        "event_id": row.event_id, "store": row.store, "kiosk": row.kiosk,
        "session_id": d.session_id,
        "business_date": d.started_at.astimezone(STORE_TZ).date().isoformat(),
        "started_at": d.started_at, "ended_at": d.ended_at, "outcome": d.outcome,
        "items_scanned": d.items_scanned, "items_removed": d.items_removed,
        "payment_attempts": d.payment_attempts,
        "method": d.payment_methods[-1] if d.payment_methods else None,
        "pay_seconds": d.pay_seconds, "errors": dict(d.errors) or None,
        "error_count": sum(d.errors.values()), "help_calls": d.help_calls,
        "order_no": d.order_no, "member_id": d.member_id,
    }


async def store_sessions(session: AsyncSession, rows: list[StoredEvent]) -> int:
    """Keep the summaries among ``rows`` as kiosk sessions (each once); how many new."""
    found = [r for r in (session_row(x) for x in rows if x.type == SESSION_SUMMARY) if r]
    if not found:
        return 0
    known = set((await session.scalars(select(KioskSession.event_id).where(
        KioskSession.event_id.in_([r["event_id"] for r in found])))).all())
    new = [r for r in found if r["event_id"] not in known]
    if new:
        stmt, params = bulk_insert(session, KioskSession, new)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"]), params)
    return len(new)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _steps(etype: str, data: JsonMapping) -> tuple[object, list[str], str | None]:
    """``(session key, funnel steps, member id)`` of one stored kiosk event."""
    if etype == "order.completed":
        steps = ["session_start", "item_scanned", "payment_attempted", "paid"]
        return data.get("order_no"), steps, _text(data.get("member_id"))
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
    return data.get("order_no") or data.get("session_id"), steps, _text(data.get("member_id"))


def funnel_events(row: StoredEvent) -> list[EventIn]:
    """The funnel events of one stored kiosk event (empty when it cannot be read)."""
    try:
        data: object = json.loads(row.payload).get("data") or {}
    except (ValueError, AttributeError):
        return []
    if not isinstance(data, dict):
        return []
    key, steps, member = _steps(row.type, data)
    if not key:
        return []
    at: datetime = row.ts
    session = f"{row.store}:{key}"[:64]
    detail = ({"methods": data.get("payment_methods"), "outcome": data.get("outcome")}
              if row.type == "session.summary" else None)
    return [EventIn(event_id=f"k:{row.event_id}:{i}"[:64], type=step, store=row.store,
                    session_id=session, member_id=member, at=at, channel="kiosk",
                    detail=detail) for i, step in enumerate(steps)]


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
    batch: list[EventIn] = []
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
    for i in range(0, len(rows), BATCH):
        await store_sessions(session, list(rows[i:i + BATCH]))
    return stored


async def harvested_any(session: AsyncSession) -> bool:
    """Whether kiosk events were ever harvested (the first harvest reads everything)."""
    return await session.scalar(select(BehaviourEvent.event_id).where(
        BehaviourEvent.source == "kiosk").limit(1)) is not None
