"""Inbound shipments (carrier, tracking number, status) and a store's expected arrivals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from . import purchasing as P
from .models_purchasing import PurchaseOrder, Shipment

SHIPMENT_STATUSES = ("booked", "in_transit", "delivered", "exception")
SHIPMENT_MOVES = {"booked": ("in_transit", "delivered", "exception"),
                  "in_transit": ("delivered", "exception"),
                  "exception": ("in_transit", "delivered"), "delivered": ()}


async def add_shipment(session: AsyncSession, po_id: int, *, carrier: str, tracking_no: str,
                       expected_at: datetime) -> Shipment:
    po = await P.get_po(session, po_id)
    if po.status not in (P.SENT, P.PARTIALLY_RECEIVED):
        raise Conflict(f"purchase order {po_id} is {po.status}: nothing is on its way")
    sh = Shipment(po_id=po.id, store=po.store, carrier=carrier, tracking_no=tracking_no,
                  status="booked", expected_at=expected_at, updated_at=now())
    session.add(sh)
    await session.flush()
    return sh


async def update_shipment(session: AsyncSession, shipment_id: int, *, status: str,
                          expected_at: datetime | None) -> Shipment:
    sh = await session.get(Shipment, shipment_id, with_for_update=True)
    if sh is None:
        raise NotFound(f"shipment {shipment_id} not found")
    if status != sh.status and status not in SHIPMENT_MOVES[sh.status]:
        raise Conflict(f"shipment {shipment_id} is {sh.status}; it cannot become {status}")
    sh.status, sh.updated_at = status, now()
    if expected_at is not None:
        sh.expected_at = expected_at
    return sh


async def expected_arrivals(session: AsyncSession, store: str | None) -> list[JsonObject]:
    """Open orders still to arrive, with their shipments (earliest first)."""
    q = select(PurchaseOrder).where(PurchaseOrder.status.in_((P.SENT, P.PARTIALLY_RECEIVED)))
    if store is not None:
        q = q.where(PurchaseOrder.store == store)
    out = []
    for po in (await session.scalars(q.order_by(PurchaseOrder.expected_on,
                                                PurchaseOrder.id))).all():
        ships = (await session.scalars(select(Shipment).where(
            Shipment.po_id == po.id).order_by(Shipment.id))).all()
        out.append({"po_id": po.id, "store": po.store, "supplier_id": po.supplier_id,
                    "status": po.status,
                    "expected_on": po.expected_on.isoformat() if po.expected_on else None,
                    "shipments": [shipment_json(s) for s in ships]})
    return out


def shipment_json(sh: Shipment) -> JsonObject:
    return {"id": sh.id, "po_id": sh.po_id, "store": sh.store, "carrier": sh.carrier,
            "tracking_no": sh.tracking_no, "status": sh.status,
            "expected_at": sh.expected_at.isoformat(), "updated_at": sh.updated_at.isoformat()}
