"""Delivery tracking: shipped delivery orders followed through the carrier tracker.

A shipment is made for every delivery order staff mark shipped (carrier and tracking
number), subscribed at the tracker, which then pushes events to the bridge (signed; see
:mod:`.kuaidi100`). Pushes get lost, so shipments not heard of for ``poll_after_s`` are
queried. Events are stored once (same time and text = same event), the shipment's state
follows the tracker's, a delivered parcel moves the order to ``delivered``, and the store
gets an alert when a parcel is in trouble (problem, refused, returning) or has had no
news for ``delay_after_h`` hours. Each step is idempotent: pushes, polls and sweeps may
repeat or race across workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import orders
from cloud_bridge.db import Database, get_row
from cloud_bridge.errors import NotFound
from cloud_bridge.models import Alert, Order
from common.jsontypes import JsonObject

from . import kuaidi100 as k100
from .models_delivery import Shipment, ShipmentEvent

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Settings:
    poll_after_s: float = 4 * 3600.0
    delay_after_h: float = 48.0


def _now() -> datetime:
    return datetime.now(UTC)


def com_of(carrier: str) -> str:
    return k100.CARRIERS.get(carrier.strip().upper(), carrier.strip().lower())


def phone_of(order: Order) -> str | None:
    addr = order.shipping_address or {}
    phone = addr.get("phone") if isinstance(addr, dict) else None
    return str(phone) if phone else None


def _shippable() -> ColumnElement[bool]:
    return ((Order.fulfillment == "delivery") & (Order.status == orders.SHIPPED)
            & Order.tracking_no.is_not(None))


async def new_shipments(s: AsyncSession, order_no: str | None = None) -> list[Shipment]:
    """A shipment for every shipped delivery order (or just ``order_no``) that has none."""
    q = select(Order).where(_shippable(), ~exists().where(Shipment.order_no == Order.order_no))
    if order_no is not None:
        q = q.where(Order.order_no == order_no)
    rows = (await s.scalars(q.limit(500))).all()
    made = []
    for o in rows:
        ship = Shipment(order_no=o.order_no, store=o.store, carrier=o.carrier or "",
                        com=com_of(o.carrier or ""), tracking_no=o.tracking_no or "",
                        state="created", created_at=_now(), updated_at=_now())
        try:
            async with s.begin_nested():
                s.add(ship)
        except IntegrityError:   # another worker made it, or a number reused: skip
            continue
        made.append(ship)
    return made


async def apply(s: AsyncSession, ship: Shipment, state: str | None,
                tracks: list[k100.Track], *, source: str) -> int:
    """Store new events and follow the state; the number of new events."""
    seen = {(at.astimezone(UTC), ctx) for at, ctx in (await s.execute(
        select(ShipmentEvent.at, ShipmentEvent.context)
        .where(ShipmentEvent.shipment_id == ship.id))).all()}
    added = 0
    for t in sorted(tracks, key=lambda t: t.at):
        key = (t.at.astimezone(UTC), t.context)
        if key in seen:
            continue
        seen.add(key)
        s.add(ShipmentEvent(shipment_id=ship.id, at=t.at, context=t.context, area=t.area))
        added += 1
        if ship.last_event_at is None or t.at > ship.last_event_at:
            ship.last_event_at = t.at
    ship.last_checked_at = ship.updated_at = _now()
    if added:
        ship.delay_alerted = False   # news: a later silence is a new delay
    if state and state != ship.state:
        log.info("shipment %s %s: %s -> %s (%s)", ship.com, ship.tracking_no, ship.state,
                 state, source)
        ship.state = state
        if state == "delivered":
            ship.delivered_at = ship.last_event_at or _now()
            order = await orders.get_order(s, ship.order_no, lock=True)
            if order.status == orders.SHIPPED:
                await orders.change_status(s, order, orders.DELIVERED, f"carrier:{ship.com}")
        if state in k100.TROUBLE and ship.alerted_state != state:
            ship.alerted_state = state
            s.add(Alert(kind="delivery_trouble", store=ship.store, order_no=ship.order_no,
                        detail={"carrier": ship.carrier, "tracking_no": ship.tracking_no,
                                "state": state, "state_zh": state_text(state)[0]},
                        created_at=_now(), resolved=False))
    await s.flush()
    return added


def state_text(state: str) -> tuple[str, str]:
    for code, zh, en in k100.STATES.values():
        if code == state:
            return zh, en
    return ("已发货", "Shipped") if state == "created" else (state, state)


async def raise_delays(s: AsyncSession, settings: Settings, now: datetime) -> int:
    """An alert per shipment with no news for ``delay_after_h`` (once per silence)."""
    cutoff = now - timedelta(hours=settings.delay_after_h)
    rows = (await s.scalars(select(Shipment).where(
        Shipment.state.not_in(tuple(k100.FINAL)), Shipment.delay_alerted.is_(False),
        ((Shipment.last_event_at.is_(None) & (Shipment.created_at < cutoff))
         | (Shipment.last_event_at < cutoff))).limit(500))).all()
    for ship in rows:
        ship.delay_alerted = True
        since = ship.last_event_at or ship.created_at
        s.add(Alert(kind="delivery_delay", store=ship.store, order_no=ship.order_no,
                    detail={"carrier": ship.carrier, "tracking_no": ship.tracking_no,
                            "no_news_since": since.isoformat(), "state": ship.state},
                    created_at=now, resolved=False))
    return len(rows)


async def due_for_poll(s: AsyncSession, settings: Settings, now: datetime) -> list[Shipment]:
    cutoff = now - timedelta(seconds=settings.poll_after_s)
    return list((await s.scalars(select(Shipment).where(
        Shipment.state.not_in(tuple(k100.FINAL)),
        Shipment.updated_at < cutoff).order_by(Shipment.updated_at).limit(100))).all())


async def sweep(db: Database, tracker: k100.Kuaidi100 | None, settings: Settings,
                now: datetime | None = None) -> dict[str, int]:
    """New shipments subscribed, quiet ones polled, delays alerted (counts)."""
    now = now or _now()
    counts = {"subscribed": 0, "polled": 0, "delays": 0}
    async with db.session() as s:
        await new_shipments(s)
        pending = [(x.id, x.com, x.tracking_no, x.order_no) for x in (await s.scalars(
            select(Shipment).where(Shipment.subscribed.is_(False)).limit(100))).all()]
        due = [(x.id, x.com, x.tracking_no, x.order_no)
               for x in await due_for_poll(s, settings, now)]
        phones = {o.order_no: phone_of(o) for o in (await s.scalars(select(Order).where(
            Order.order_no.in_([p[3] for p in pending + due])))).all()}
    if tracker is not None:
        for ship_id, com, num, order_no in pending:
            try:
                await tracker.subscribe(com, num, phones.get(order_no))
            except Exception as err:  # the tracker down: the next sweep tries again
                log.warning("subscribing %s %s failed: %s", com, num, err)
                continue
            async with db.session() as s:
                (await get_row(s, Shipment, ship_id)).subscribed = True
            counts["subscribed"] += 1
        for ship_id, com, num, order_no in due:
            try:
                answer = await tracker.query(com, num, phones.get(order_no))
            except Exception as err:
                log.warning("polling %s %s failed: %s", com, num, err)
                continue
            state, tracks = k100.parse_tracks(answer)
            async with db.session() as s:
                ship = await s.get(Shipment, ship_id, with_for_update=True)
                if ship is None:
                    raise NotFound(f"Shipment {ship_id} not found")
                await apply(s, ship, state, tracks, source="poll")
            counts["polled"] += 1
    async with db.session() as s:
        counts["delays"] = await raise_delays(s, settings, now)
    return counts


def shipment_json(ship: Shipment, events: list[ShipmentEvent]) -> JsonObject:
    zh, en = state_text(ship.state)
    return {"order_no": ship.order_no, "carrier": ship.carrier, "tracking_no": ship.tracking_no,
            "state": ship.state, "state_zh": zh, "state_en": en,
            "last_event_at": ship.last_event_at.isoformat() if ship.last_event_at else None,
            "delivered_at": ship.delivered_at.isoformat() if ship.delivered_at else None,
            "events": [{"at": e.at.isoformat(), "context": e.context, "area": e.area}
                       for e in sorted(events, key=lambda e: (e.at, e.id), reverse=True)]}
