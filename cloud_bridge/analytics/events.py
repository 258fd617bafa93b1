"""Shopper behaviour events: stored once by event id, personal data kept out.

Mini-program events arrive over ``POST /api/v1/mp/analytics/events`` (schema version
``v``; a newer minor field set is ignored, see :mod:`.schemas`). Each event is stored
at most once (its ``event_id`` is the key: a resend is a duplicate, not a second view).
No phone numbers: a phone-number-shaped run of digits in any text field is masked before
storing; members are referred to by id (``openid`` for the mini-program user).
Raw events are kept ``retention_days`` (the nightly job purges older ones).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Literal, Required, TypedDict, get_args
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import bulk_insert, rows_changed
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .models import BehaviourEvent

EVENT_VERSION = 1
MpEventType = Literal["entry", "page_view", "search", "share", "add_to_cart", "checkout", "paid"]
MP_EVENT_TYPES: tuple[MpEventType, ...] = get_args(MpEventType)
KIOSK_EVENT_TYPES = ("session_start", "item_scanned", "item_removed", "cart_abandoned",
                     "payment_attempted", "paid", "help_called")
Channel = Literal["store_scan", "shared_card", "official_account", "search", "ad", "other"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
# Mini-program steps as funnel steps (metrics.FUNNEL_STEPS)
FUNNEL_STEP_OF = {"entry": "session_start", "add_to_cart": "item_scanned",
                  "checkout": "payment_attempted"}
DEFAULT_RETENTION_DAYS = 180
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
STORE_TZ = ZoneInfo("Asia/Shanghai")


class EventIn(TypedDict, total=False):
    """One behaviour event to store: a mini-program event, or a kiosk funnel step."""

    event_id: Required[str]
    type: Required[str]
    at: Required[datetime]
    v: int
    store: str | None
    session_id: str | None
    member_id: str | None
    openid: str | None
    channel: str | None
    campaign: str | None
    page: str | None
    keyword: str | None
    result_count: int | None
    detail: JsonObject | None


def mask_phones(text: str | None) -> str | None:
    """``text`` with every mainland mobile number replaced by ``[phone]``."""
    return _PHONE.sub("[phone]", text) if text else text


async def store_events(session: AsyncSession, events: list[EventIn],
                       source: str) -> tuple[int, int]:
    """Insert events not stored yet; returns ``(stored, duplicates)``."""
    if not events:
        return 0, 0
    unique: dict[str, EventIn] = {}
    for e in events:
        unique.setdefault(e["event_id"], e)
    known = set((await session.scalars(select(BehaviourEvent.event_id).where(
        BehaviourEvent.event_id.in_(list(unique))))).all())
    at = now()
    rows = [{
        "event_id": e["event_id"], "v": e.get("v", EVENT_VERSION), "type": e["type"],
        "source": source, "store": e.get("store"), "session_id": e.get("session_id"),
        "member_id": e.get("member_id"), "openid": e.get("openid"), "at": e["at"],
        "received_at": at, "channel": e.get("channel"),
        "campaign": mask_phones(e.get("campaign")), "page": mask_phones(e.get("page")),
        "keyword": mask_phones(e.get("keyword")), "result_count": e.get("result_count"),
        "detail": e.get("detail"),
    } for eid, e in unique.items() if eid not in known]
    if rows:
        stmt, params = bulk_insert(session, BehaviourEvent, rows)
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"]), params)
    return len(rows), len(events) - len(rows)


async def purge_events(session: AsyncSession, retention_days: int = DEFAULT_RETENTION_DAYS
                       ) -> int:
    """Delete raw events older than ``retention_days``; returns how many."""
    cutoff = now() - timedelta(days=retention_days)
    return await rows_changed(session, delete(BehaviourEvent).where(BehaviourEvent.at < cutoff))


async def searches(session: AsyncSession, start: date, end: date) -> pl.DataFrame:
    """Search events of ``start..end`` (China days): business_date, keyword, result_count."""
    lo = datetime.combine(start, time(0), STORE_TZ)
    hi = datetime.combine(end + timedelta(days=1), time(0), STORE_TZ)
    rows = (await session.execute(select(
        BehaviourEvent.at, BehaviourEvent.keyword, BehaviourEvent.result_count).where(
        BehaviourEvent.type == "search", BehaviourEvent.keyword.is_not(None),
        BehaviourEvent.at >= lo, BehaviourEvent.at < hi))).all()
    frame = pl.DataFrame(rows, schema={"at": pl.Datetime("us", "UTC"), "keyword": pl.Utf8,
                                       "result_count": pl.Int64}, orient="row")
    return frame.with_columns(
        pl.col("at").dt.convert_time_zone(str(STORE_TZ)).dt.date().alias("business_date"))
