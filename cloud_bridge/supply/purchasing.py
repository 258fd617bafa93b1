"""Purchase orders as an explicit state machine.

::

    proposal -> rfq -> approved -> sent -> partially_received -> received -> billed -> closed
        |        |        |         |            (short close) --^
        +--------+--------+---------+--> cancelled (nothing received yet)

``proposal -> approved`` skips the RFQ when every line has a listed or contract price.
Receiving moves ``sent``/``partially_received``; a matched supplier bill moves ``received``
to ``billed``; paying it closes the order. Every other move is refused (409).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.errors import Conflict, Forbidden, InvalidRequest, NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .models import Qualification, SupplierProduct, SupplyProduct
from .models_purchasing import PurchaseOrder, PurchaseOrderLine
from .settings import SupplySettings
from .suppliers import contract_for, get_supplier

PROPOSAL, RFQ, APPROVED, SENT = "proposal", "rfq", "approved", "sent"
PARTIALLY_RECEIVED, RECEIVED, BILLED = "partially_received", "received", "billed"
CLOSED, CANCELLED = "closed", "cancelled"
PoStatus = Literal["proposal", "rfq", "approved", "sent", "partially_received", "received",
                   "billed", "closed", "cancelled"]
STATUSES: tuple[PoStatus, ...] = get_args(PoStatus)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PROPOSAL: (RFQ, APPROVED, CANCELLED),
    RFQ: (APPROVED, CANCELLED),
    APPROVED: (SENT, CANCELLED),
    SENT: (PARTIALLY_RECEIVED, RECEIVED, CANCELLED),
    PARTIALLY_RECEIVED: (PARTIALLY_RECEIVED, RECEIVED),
    RECEIVED: (BILLED,),
    BILLED: (CLOSED,),
    CLOSED: (),
    CANCELLED: (),
}
OPEN_STATUSES = (PROPOSAL, RFQ, APPROVED, SENT, PARTIALLY_RECEIVED)


def move(po: PurchaseOrder, to: str, actor: str, note: str | None = None) -> None:
    """Change the status if the machine allows it, with a history entry; else 409."""
    if to not in TRANSITIONS[po.status]:
        raise Conflict(f"purchase order {po.id} is {po.status}; it cannot become {to}")
    at = now()
    po.history = [*po.history, {"at": at.isoformat(), "actor": actor, "from": po.status,
                                "to": to, "note": note}]
    po.status, po.updated_at = to, at


async def get_po(session: AsyncSession, po_id: int, lock: bool = False) -> PurchaseOrder:
    po = await session.get(PurchaseOrder, po_id, with_for_update=lock)
    if po is None:
        raise NotFound(f"purchase order {po_id} not found")
    return po


async def po_lines(session: AsyncSession, po_id: int) -> list[PurchaseOrderLine]:
    return list((await session.scalars(select(PurchaseOrderLine).where(
        PurchaseOrderLine.po_id == po_id).order_by(PurchaseOrderLine.id))).all())


def po_total(lines: list[PurchaseOrderLine]) -> int:
    return sum(ln.qty * ln.unit_cost_fen for ln in lines)


async def create_po(session: AsyncSession, *, store: str, supplier_id: str,
                    lines: list[tuple[str, int]], actor: str, today: date,
                    source: str = "manual", status: str = PROPOSAL) -> PurchaseOrder:
    """A purchase order in ``proposal`` priced from the valid contract, else the price list.

    Every product must be one the supplier delivers, in whole packs.
    """
    sup = await get_supplier(session, supplier_id)
    if not lines:
        raise InvalidRequest("a purchase order needs lines")
    if len({p for p, _ in lines}) != len(lines):
        raise InvalidRequest("a product appears twice")
    contract = await contract_for(session, supplier_id, today)
    prices = {p["product_id"]: int(p["price_fen"]) for p in (contract.prices if contract else [])}
    po = PurchaseOrder(store=store, supplier_id=supplier_id, status=status, source=source,
                       proposal_date=today, contract_id=contract.id if contract else None,
                       expected_on=None, history=[], created_by=actor, created_at=now(),
                       updated_at=now())
    session.add(po)
    await session.flush()
    for product_id, qty in lines:
        sp = await session.get(SupplierProduct, (supplier_id, product_id))
        if sp is None:
            raise InvalidRequest(f"supplier {supplier_id} does not deliver {product_id}")
        if qty < 1 or qty % sp.pack_size:
            raise InvalidRequest(f"{product_id}: order whole packs of {sp.pack_size}")
        product = await session.get(SupplyProduct, product_id)
        session.add(PurchaseOrderLine(
            po_id=po.id, product_id=product_id, qty=qty,
            unit_cost_fen=prices.get(product_id, sp.cost_fen),
            vat_rate_bp=product.vat_rate_bp if product else 1300,
            qty_received=0, qty_accepted=0, qty_returned=0))
    po.history = [{"at": now().isoformat(), "actor": actor, "from": None, "to": status,
                   "note": f"{source}, lead time {sup.lead_time_days} d"}]
    await session.flush()
    return po


async def request_quote(session: AsyncSession, po_id: int, actor: str) -> PurchaseOrder:
    po = await get_po(session, po_id, lock=True)
    move(po, RFQ, actor, "quote requested")
    return po


async def record_quote(session: AsyncSession, po_id: int, prices: dict[str, int],
                       actor: str) -> PurchaseOrder:
    """The supplier's quoted unit prices (fen, excl. VAT) for an order in ``rfq``."""
    po = await get_po(session, po_id, lock=True)
    if po.status != RFQ:
        raise Conflict(f"purchase order {po_id} is {po.status}, not rfq")
    lines = {ln.product_id: ln for ln in await po_lines(session, po_id)}
    unknown = set(prices) - set(lines)
    if unknown:
        raise InvalidRequest(f"not on the order: {', '.join(sorted(unknown))}")
    for product_id, price in prices.items():
        lines[product_id].unit_cost_fen = price
    po.history = [*po.history, {"at": now().isoformat(), "actor": actor, "from": RFQ,
                                "to": RFQ, "note": "quote recorded"}]
    return po


async def approve(session: AsyncSession, po_id: int, principal: auth.Principal,
                  settings: SupplySettings, today: date) -> PurchaseOrder:
    """Approve: above the limit only head office may; never for a lapsed supplier."""
    po = await get_po(session, po_id, lock=True)
    if APPROVED not in TRANSITIONS[po.status]:
        raise Conflict(f"purchase order {po.id} is {po.status}; it cannot become approved")
    lines = await po_lines(session, po_id)
    total = po_total(lines)
    if total > settings.approval_limit_fen and principal.role != auth.HEAD_OFFICE:
        raise Forbidden(f"{total} fen is above the approval limit of "
                        f"{settings.approval_limit_fen}: head office must approve")
    lapsed = (await session.scalars(select(Qualification.kind).where(
        Qualification.supplier_id == po.supplier_id, Qualification.expires_on < today))).all()
    if lapsed:
        raise Conflict(f"supplier {po.supplier_id}'s {', '.join(lapsed)} lapsed")
    if any(ln.unit_cost_fen <= 0 for ln in lines):
        raise Conflict("every line needs a price (record the quote first)")
    move(po, APPROVED, principal.actor, f"total {total} fen")
    return po


async def send(session: AsyncSession, po_id: int, actor: str, today: date) -> PurchaseOrder:
    """Send to the supplier; it is expected after the supplier's lead time."""
    po = await get_po(session, po_id, lock=True)
    move(po, SENT, actor)
    sup = await get_supplier(session, po.supplier_id)
    po.sent_at = now()
    po.expected_on = today + timedelta(days=sup.lead_time_days)
    return po


async def cancel(session: AsyncSession, po_id: int, actor: str, reason: str) -> PurchaseOrder:
    po = await get_po(session, po_id, lock=True)
    move(po, CANCELLED, actor, reason)
    return po


async def close_short(session: AsyncSession, po_id: int, actor: str,
                      reason: str) -> PurchaseOrder:
    """Stop waiting for the rest of a partially received order (what came is billed)."""
    po = await get_po(session, po_id, lock=True)
    if po.status != PARTIALLY_RECEIVED:
        raise Conflict(f"purchase order {po_id} is {po.status}, not partially_received")
    move(po, RECEIVED, actor, f"short-closed: {reason}")
    return po


def po_json(po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> JsonObject:
    return {
        "id": po.id, "store": po.store, "supplier_id": po.supplier_id, "status": po.status,
        "source": po.source, "contract_id": po.contract_id, "currency": po.currency,
        "proposal_date": po.proposal_date.isoformat() if po.proposal_date else None,
        "expected_on": po.expected_on.isoformat() if po.expected_on else None,
        "total_fen": po_total(lines), "created_by": po.created_by,
        "created_at": po.created_at.isoformat(),
        "lines": [{"product_id": ln.product_id, "qty": ln.qty,
                   "unit_cost_fen": ln.unit_cost_fen, "vat_rate_bp": ln.vat_rate_bp,
                   "qty_received": ln.qty_received, "qty_accepted": ln.qty_accepted,
                   "qty_returned": ln.qty_returned} for ln in lines],
        "history": po.history,
    }
