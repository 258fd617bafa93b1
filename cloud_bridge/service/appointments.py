"""Appointments: bookable services per store, slots with capacity, booking and
cancellation rules, and no overbooking however many shoppers book at once.

A place is taken by ``UPDATE svc_slots SET booked = booked + 1 WHERE id = :slot AND
booked < capacity``: the database checks and increments in one statement under the row's
write lock (PostgreSQL) or the database write lock (SQLite ``BEGIN IMMEDIATE``), so the
count can never pass the capacity; the booking row is inserted in the same transaction.
Reminders go through :func:`reminders_due` (the members domain's notification channel
sends them when it exists).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import get_row, rows_changed
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .models_more import BookableService, Booking, Slot

BOOKED = "booked"
CANCELLED = "cancelled"


async def add_slots(session: AsyncSession, service: BookableService,
                    slots: list[tuple[datetime, datetime, int]]) -> list[Slot]:
    rows = []
    for starts, ends, capacity in slots:
        if ends <= starts:
            raise InvalidRequest("a slot ends after it starts")
        rows.append(Slot(service_id=service.id, starts_at=starts, ends_at=ends,
                         capacity=capacity, booked=0))
    session.add_all(rows)
    await session.flush()
    return rows


async def book(session: AsyncSession, slot_id: int, openid: str, note: str | None = None,
               at: datetime | None = None) -> Booking:
    """Take a place in a slot, or refuse: full, closed for booking, booked already."""
    at = at or now()
    slot = await session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(f"slot {slot_id} not found")
    service = await get_row(session, BookableService, slot.service_id)
    if at > slot.starts_at - timedelta(minutes=service.book_before_min):
        raise Conflict("booking for this slot has closed")
    existing = await session.scalar(select(Booking).where(
        Booking.slot_id == slot_id, Booking.openid == openid))
    if existing is not None and existing.status == BOOKED:
        raise Conflict("you have booked this slot already")
    active = await session.scalar(select(func.count()).select_from(Booking).join(
        Slot, Slot.id == Booking.slot_id).where(
        Booking.service_id == service.id, Booking.openid == openid, Booking.status == BOOKED,
        Slot.starts_at > at))
    if (active or 0) >= service.max_active_per_member:
        raise Conflict(f"at most {service.max_active_per_member} upcoming booking(s) "
                       f"of {service.name} per shopper")
    changed = await rows_changed(
        session, update(Slot).where(Slot.id == slot_id, Slot.booked < Slot.capacity)
        .values(booked=Slot.booked + 1).execution_options(synchronize_session=False))
    if changed != 1:
        raise Conflict("this slot is full")
    if existing is not None:  # booked before, cancelled, booking again
        existing.status, existing.cancelled_at, existing.created_at = BOOKED, None, at
        existing.note = note
        booking = existing
    else:
        booking = Booking(slot_id=slot_id, service_id=service.id, openid=openid,
                          status=BOOKED, note=note, created_at=at)
        session.add(booking)
    await session.flush()
    return booking


async def cancel(session: AsyncSession, booking: Booking, at: datetime | None = None) -> Booking:
    """Give the place back, up to the service's cancellation deadline."""
    at = at or now()
    if booking.status != BOOKED:
        raise Conflict("this booking is cancelled already")
    slot = await get_row(session, Slot, booking.slot_id)
    service = await get_row(session, BookableService, slot.service_id)
    if at > slot.starts_at - timedelta(minutes=service.cancel_before_min):
        raise Conflict(f"bookings can be cancelled up to {service.cancel_before_min} "
                       "minutes before the start")
    await session.execute(update(Slot).where(Slot.id == slot.id, Slot.booked > 0)
                          .values(booked=Slot.booked - 1)
                          .execution_options(synchronize_session=False))
    booking.status, booking.cancelled_at = CANCELLED, at
    await session.flush()
    return booking


async def reminders_due(session: AsyncSession, within: timedelta,
                        at: datetime | None = None) -> list[tuple[Booking, Slot]]:
    """Bookings whose slot starts within ``within``: what a reminder job sends."""
    at = at or now()
    rows = (await session.execute(select(Booking, Slot).join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.status == BOOKED, Slot.starts_at > at,
                   Slot.starts_at <= at + within))).all()
    return [(b, s) for b, s in rows]


def service_json(s: BookableService, slots: list[Slot]) -> JsonObject:
    return {"id": s.id, "store": s.store, "name": s.name, "description": s.description,
            "book_before_min": s.book_before_min, "cancel_before_min": s.cancel_before_min,
            "max_active_per_member": s.max_active_per_member,
            "slots": [slot_json(x) for x in slots]}


def slot_json(s: Slot) -> JsonObject:
    return {"id": s.id, "starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(),
            "capacity": s.capacity, "booked": s.booked, "free": s.capacity - s.booked}


def booking_json(b: Booking, slot: Slot) -> JsonObject:
    return {"id": b.id, "slot": slot_json(slot), "service_id": b.service_id,
            "status": b.status, "note": b.note, "created_at": b.created_at.isoformat(),
            "cancelled_at": b.cancelled_at.isoformat() if b.cancelled_at else None}
