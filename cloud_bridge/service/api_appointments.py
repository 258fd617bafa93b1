"""Routes of appointments: staff set up bookable services and slots; shoppers book and
cancel (``/api/v1/admin/service/...``, ``/api/v1/mp/service/...``)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import get_row
from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import Call, QueryModel, RequestModel, Route, ShortText, Text
from common.jsontypes import JsonObject

from . import appointments as appt
from . import schemas
from .api_common import ID_SCHEMA, TAG, A, M, db, path_id
from .models_more import BookableService, Booking, Slot


class ServiceBody(RequestModel):
    name: ShortText
    description: Text | None = None
    book_before_min: int = Field(default=0, ge=0, le=100000)
    cancel_before_min: int = Field(default=60, ge=0, le=100000)
    max_active_per_member: int = Field(default=1, ge=1, le=100)


async def add_service(call: Call) -> JsonObject:
    """A bookable service of a store (pick-up slots, cake orders, consultations)."""
    store = call.path["store"]
    call.principal.check_store(store)
    async with db(call).session() as s:
        svc = BookableService(store=store, **call.body_as(ServiceBody).model_dump())
        s.add(svc)
        await s.flush()
        return appt.service_json(svc, [])


async def _staff_service(s: AsyncSession, call: Call) -> BookableService:
    svc = await s.get(BookableService, path_id(call, "service_id"))
    if svc is None or not (call.principal.chain_wide or svc.store == call.principal.store):
        raise NotFound(f"service {call.path['service_id']} not found")
    return svc


class SlotBody(RequestModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=1, le=10000)


class SlotsBody(RequestModel):
    slots: list[SlotBody] = Field(min_length=1, max_length=200)


async def add_slots(call: Call) -> JsonObject:
    """Open slots of a service, each with its capacity."""
    async with db(call).session() as s:
        svc = await _staff_service(s, call)
        await appt.add_slots(s, svc, [(x.starts_at, x.ends_at, x.capacity)
                                      for x in call.body_as(SlotsBody).slots])
        slots = (await s.scalars(select(Slot).where(Slot.service_id == svc.id)
                                 .order_by(Slot.starts_at))).all()
        return appt.service_json(svc, list(slots))


async def service_bookings(call: Call) -> JsonObject:
    """Who booked which slot of a service."""
    async with db(call).session() as s:
        svc = await _staff_service(s, call)
        rows = (await s.execute(select(Booking, Slot).join(Slot, Slot.id == Booking.slot_id)
                .where(Booking.service_id == svc.id)
                .order_by(Slot.starts_at, Booking.id))).all()
    return {"items": [appt.booking_json(b, slot) for b, slot in rows]}


class UpcomingQuery(QueryModel):
    limit: int = Field(default=50, ge=1, le=200)


async def store_services(call: Call) -> JsonObject:
    """A store's bookable services with their upcoming slots and free places."""
    limit = call.query_as(UpcomingQuery).limit
    at = appt.now()
    async with db(call).session() as s:
        svcs = (await s.scalars(select(BookableService).where(
            BookableService.store == call.path["store"]).order_by(BookableService.id))).all()
        out = []
        for svc in svcs:
            slots = (await s.scalars(select(Slot).where(
                Slot.service_id == svc.id, Slot.starts_at > at).order_by(Slot.starts_at)
                .limit(limit))).all()
            out.append(appt.service_json(svc, list(slots)))
    return {"items": out}


class BookBody(RequestModel):
    slot_id: int = Field(ge=1, le=10**15)
    note: Text | None = None


async def book(call: Call) -> JsonObject:
    """Book a place in a slot (409 when it is full, closed, or booked already)."""
    b = call.body_as(BookBody)

    async def work(s: AsyncSession) -> JsonObject:
        booking = await appt.book(s, b.slot_id, call.openid, b.note)
        return appt.booking_json(booking, await get_row(s, Slot, booking.slot_id))

    return await db(call).transact(work)


async def my_bookings(call: Call) -> JsonObject:
    """My bookings, soonest first."""
    async with db(call).session() as s:
        rows = (await s.execute(select(Booking, Slot).join(Slot, Slot.id == Booking.slot_id)
                .where(Booking.openid == call.openid)
                .order_by(Slot.starts_at))).all()
    return {"items": [appt.booking_json(b, slot) for b, slot in rows]}


async def cancel(call: Call) -> JsonObject:
    """Cancel my booking (up to the service's deadline)."""
    async def work(s: AsyncSession) -> JsonObject:
        booking = await s.get(Booking, path_id(call, "booking_id"))
        if booking is None or booking.openid != call.openid:
            raise NotFound(f"booking {call.path['booking_id']} not found")
        await appt.cancel(s, booking)
        return appt.booking_json(booking, await get_row(s, Slot, booking.slot_id))

    return await db(call).transact(work)


SV = {"service_id": ID_SCHEMA}
ROUTES = [
    Route("POST", f"{A}/stores/{{store}}/appointment-services", add_service,
          "Add a bookable service", TAG, auth="admin", body=ServiceBody, status=201,
          response=schemas.SvcBookableService),
    Route("POST", f"{A}/appointment-services/{{service_id}}/slots", add_slots,
          "Open slots with capacity", TAG, auth="admin", path_params=SV, body=SlotsBody,
          status=201, response=schemas.SvcBookableService),
    Route("GET", f"{A}/appointment-services/{{service_id}}/bookings", service_bookings,
          "Bookings of a service", TAG, auth="admin", path_params=SV,
          response=schemas.SvcBookingList),
    Route("GET", f"{M}/stores/{{store}}/appointment-services", store_services,
          "A store's bookable services and free places", TAG, auth="mp", query=UpcomingQuery,
          response=schemas.SvcBookableServiceList),
    Route("POST", f"{M}/appointments", book, "Book a place", TAG, auth="mp", body=BookBody,
          status=201, response=schemas.SvcBooking),
    Route("GET", f"{M}/appointments", my_bookings, "My bookings", TAG, auth="mp",
          response=schemas.SvcBookingList),
    Route("POST", f"{M}/appointments/{{booking_id}}/cancel", cancel, "Cancel my booking", TAG,
          auth="mp", path_params={"booking_id": ID_SCHEMA}, response=schemas.SvcBooking),
]
