"""Appointment reminders: each booking due within the lead time gets one subscribe message
through the notification outbox (:mod:`cloud_bridge.notify`), keyed by the booking so a
repeated sweep, or a second worker, never enqueues it twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cloud_bridge.db import Database
from cloud_bridge.notify import service as notify

from .models_more import BookableService, Booking, Slot

KEY = "appointment_reminder"


def _thing(text: str) -> str:
    """WeChat's ``thing`` fields take at most 20 characters."""
    return text if len(text) <= 20 else text[:19] + "…"


async def appointment_reminders(db: Database, lead: timedelta, tz: str,
                                now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    async with db.session() as s:
        rows = (await s.execute(
            select(Booking, Slot, BookableService)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(BookableService, BookableService.id == Slot.service_id)
            .where(Booking.status == "booked", Slot.starts_at > now,
                   Slot.starts_at <= now + lead))).all()
        made = 0
        for booking, slot, svc in rows:
            local = slot.starts_at.astimezone(ZoneInfo(tz))
            made += await notify.enqueue(
                s, dedupe_key=f"appt:{booking.id}", openid=booking.openid, template_key=KEY,
                data={"thing1": _thing(svc.name), "time2": local.strftime("%Y-%m-%d %H:%M"),
                      "thing3": _thing(f"门店 {svc.store}")},
                page="pages/appointments/index")
    return made
