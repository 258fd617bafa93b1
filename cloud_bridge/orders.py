"""Orders (ORD-1..3, 5, 9): from kiosks and from the mini-program, with their lifecycle.

Lifecycle::

    created -> paid -> completed                                  (in store / pickup)
    created -> paid -> pending_shipment -> shipped -> delivered -> completed  (delivery)
    created | paid | pending_shipment -> cancelled
    any paid state -> partially_refunded -> refunded            (refunds, by the payments side)
    completed | delivered -> returned                            (every unit returned)

A kiosk order arrives already ``completed`` (the sale happened in the shop).
Every change is written to ``order_history`` with who did it and when.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NotRequired, Protocol, TypedDict, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonList, JsonMapping, JsonObject
from contract.wire.events import Event, OrderCompletedData

from . import inventory
from .db import bulk_insert, compiled_once, get_row
from .errors import Conflict, InvalidRequest, NotFound
from .marketing import service as coupons
from .models import (
    Alert,
    Invoice,
    Order,
    OrderHistory,
    OrderLine,
    OrderNote,
    RefundRequest,
    ReturnRecord,
    now,
)

log = logging.getLogger(__name__)

# Alert kind of a paid mini-program order the store must prepare (pick-up or delivery).
MP_ORDER_ALERT = "mp_order"
# Fulfilment of an order for nothing on a shelf (a paid membership): no stock moves and
# no store alert when it is paid; the domain that sold it acts on the payment.
VIRTUAL = "virtual"
CREATED: OrderStatus = "created"
PAID: OrderStatus = "paid"
PENDING_SHIPMENT: OrderStatus = "pending_shipment"
SHIPPED: OrderStatus = "shipped"
DELIVERED: OrderStatus = "delivered"
COMPLETED: OrderStatus = "completed"
CANCELLED: OrderStatus = "cancelled"
PARTIALLY_REFUNDED: OrderStatus = "partially_refunded"
REFUNDED: OrderStatus = "refunded"
RETURNED: OrderStatus = "returned"

OrderStatus = Literal[
    "created", "paid", "pending_shipment", "shipped", "delivered", "completed", "cancelled",
    "partially_refunded", "refunded", "returned",
]
STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)

# Status changes staff may make by hand (refunds and returns have their own paths).
TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({PAID, CANCELLED}),
    PAID: frozenset({COMPLETED, PENDING_SHIPMENT, CANCELLED}),
    PENDING_SHIPMENT: frozenset({SHIPPED, CANCELLED}),
    SHIPPED: frozenset({DELIVERED}),
    DELIVERED: frozenset({COMPLETED}),
    COMPLETED: frozenset(),
    CANCELLED: frozenset(),
    PARTIALLY_REFUNDED: frozenset({COMPLETED}),
    REFUNDED: frozenset(),
    RETURNED: frozenset(),
}
ManualTarget = Literal["paid", "pending_shipment", "shipped", "delivered", "completed", "cancelled"]
MANUAL_TARGETS: tuple[ManualTarget, ...] = get_args(ManualTarget)
# States in which money was taken, so a refund can be asked for.
REFUNDABLE = frozenset(
    {PAID, PENDING_SHIPMENT, SHIPPED, DELIVERED, COMPLETED, PARTIALLY_REFUNDED, RETURNED}
)
RETURNABLE = frozenset({COMPLETED, DELIVERED, PARTIALLY_REFUNDED})
# Orders that count as sales in the statistics.
SOLD = frozenset(
    {PAID, PENDING_SHIPMENT, SHIPPED, DELIVERED, COMPLETED, PARTIALLY_REFUNDED, REFUNDED, RETURNED}
)
OPEN_REFUND = ("requested", "processing")


def business_date(at: datetime, tz: str) -> str:
    """The shop's calendar day of ``at`` (statistics are per store per local day)."""
    return at.astimezone(ZoneInfo(tz)).date().isoformat()


def kiosk_business_date(d: OrderCompletedData) -> str | None:
    """The business day the kiosk booked a sale on, in its store's time zone (``yyyy-mm-dd``),
    when the kiosk says it; a store in another zone than the bridge keeps its own days."""
    day = d.business_day
    return f"{day[:4]}-{day[4:6]}-{day[6:]}" if day else None


class StockLine(Protocol):
    """A sold line as stock counts it (a kiosk's line or a stored order line)."""

    @property
    def qty(self) -> int: ...

    @property
    def weight_g(self) -> int | None: ...


def stock_units(line: StockLine) -> int:
    """Stock units a line moves: grams for weighed goods, pieces otherwise."""
    return int(line.weight_g) if line.weight_g else int(line.qty)


# --------------------------------------------------------------------------- kiosk ingest


@dataclass(slots=True)
class CompletedSale:
    event: Event
    data: OrderCompletedData


async def record_kiosk_sales(
    session: AsyncSession, sales: list[CompletedSale], *, tz: str, actor: str
) -> list[Alert]:
    """Insert the orders of newly stored ``order.completed`` events, in bulk.

    Lines, history and stock move in the same transaction as the events rows, so
    an ack (sent after commit) covers the whole effect. An ``order_no`` that
    already exists from another event is kept out and raised as an alert.
    """
    if not sales:
        return []
    sales = sorted(sales, key=lambda s: s.data.order_no)
    rows: list[JsonObject] = []
    for s in sales:
        d = s.data
        rows.append({
            "order_no": d.order_no, "store": s.event.store, "kiosk": s.event.kiosk,
            "source": "kiosk", "fulfillment": "instore", "member_id": d.member_id,
            "status": COMPLETED, "currency": d.currency, "subtotal": d.subtotal,
            "discount_total": d.discount_total, "total": d.total, "refunded_total": 0,
            "business_date": kiosk_business_date(d) or business_date(d.completed_at, tz),
            "created_at": d.created_at,
            "updated_at": now(), "paid_at": d.completed_at, "completed_at": d.completed_at,
            "event_id": s.event.event_id, "details": _details(d),
        })
    insert, params = bulk_insert(session, Order, rows)
    stmt = compiled_once(session, ("orders.kiosk_sales", *rows[0]), lambda: (
        insert.on_conflict_do_nothing(index_elements=[Order.order_no])
        .returning(Order.id, Order.event_id)))
    # By event id, not order_no: two events of one order_no in a batch insert one row,
    # and only the event whose row it is may add lines and move stock.
    inserted = {eid: oid for oid, eid in (await session.execute(stmt, params)).all()}
    alerts: list[Alert] = []
    lines: list[JsonObject] = []
    history: list[JsonObject] = []
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    context: dict[tuple[str, str], JsonObject] = {}
    # Each context's "orders" list, as its own type (the context holds the same list).
    batches: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    at = now()
    for s in sales:
        d = s.data
        oid = inserted.get(s.event.event_id)
        if oid is None:
            alerts.append(Alert(kind="duplicate_order_no", store=s.event.store, kiosk=s.event.kiosk,
                                order_no=d.order_no, detail={"event_id": s.event.event_id}))
            continue
        for ln in d.lines:
            lines.append({
                "order_id": oid, "line_no": ln.line_no, "product_id": ln.product_id,
                "barcode": ln.barcode, "name_zh": ln.name_zh, "name_en": ln.name_en,
                "qty": ln.qty, "weight_g": ln.weight_g, "unit_price": ln.unit_price,
                "discount": ln.discount, "amount": ln.amount, "returned_qty": 0,
            })
            key = (s.event.store, ln.product_id)
            deltas[key] -= stock_units(ln)
            # The last order names an oversell alert; "orders" lets the supply chain's
            # lot movements name each order of the batch (inventory.apply_deltas).
            batch = batches.setdefault(key, [])
            ctx = context.setdefault(key, {"orders": batch})
            ctx.update(order_no=d.order_no, kiosk=s.event.kiosk)
            batch.append((d.order_no, stock_units(ln), s.event.kiosk))
        history.append({
            "order_id": oid, "at": at, "actor": f"kiosk:{s.event.store}/{s.event.kiosk}",
            "action": "created", "from_status": None, "to_status": COMPLETED,
            "detail": {"event_id": s.event.event_id, "worker": actor},
        })
    if lines:
        line_insert, line_params = bulk_insert(session, OrderLine, lines)
        await session.execute(compiled_once(session, ("orders.kiosk_lines", *lines[0]),
                                            lambda: line_insert), line_params)
    if history:
        history_insert, history_params = bulk_insert(session, OrderHistory, history)
        await session.execute(compiled_once(session, ("orders.kiosk_history", *history[0]),
                                            lambda: history_insert), history_params)
    if alerts:
        await inventory.add_alerts(session, alerts)
    alerts += await inventory.apply_deltas(session, deltas, source="sale", context=context)
    return alerts


def _details(d: OrderCompletedData) -> JsonObject:
    return {
        "tenders": [t.model_dump(mode="json", exclude_none=True) for t in d.tenders],
        "vat": [v.model_dump(mode="json") for v in d.vat],
        "coupons": d.coupons,
        "points_earned": d.points_earned,
        "points_redeemed": d.points_redeemed,
        "catalog_version": d.catalog_version,
        "offline": d.offline,
        "language": d.language,
        "kiosk_note": d.note,
        # Only the hash of the receipt's claim token is kept (selling.service.claim_receipt).
        "receipt_token_sha256": (hashlib.sha256(d.receipt_token.encode()).hexdigest()
                                 if d.receipt_token else None),
    }


# --------------------------------------------------------------------------- queries


async def get_order(session: AsyncSession, order_no: str, *, lock: bool = False) -> Order:
    q = select(Order).where(Order.order_no == order_no)
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    order = await session.scalar(q)
    if order is None:
        raise NotFound(f"order {order_no} not found")
    return order


async def list_orders(
    session: AsyncSession,
    *,
    store: str | None = None,
    status: str | None = None,
    openid: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Order], int]:
    conds = []
    if store is not None:
        conds.append(Order.store == store)
    if status is not None:
        conds.append(Order.status == status)
    if openid is not None:
        conds.append(Order.openid == openid)
    if date_from is not None:
        conds.append(Order.business_date >= date_from)
    if date_to is not None:
        conds.append(Order.business_date <= date_to)
    total = await session.scalar(select(func.count()).select_from(Order).where(*conds))
    q = (select(Order).where(*conds).order_by(Order.created_at.desc(), Order.id.desc())
         .limit(limit).offset(offset))
    return list((await session.scalars(q)).all()), int(total or 0)


class OrderSummaryJson(TypedDict):
    order_no: str
    store: str
    kiosk: str | None
    source: str
    fulfillment: str
    status: str
    currency: str
    total: int
    refunded_total: int
    business_date: str
    created_at: str
    updated_at: str


class OrderLineJson(TypedDict):
    line_no: int
    product_id: str
    barcode: str | None
    name_zh: str
    name_en: str | None
    qty: int
    weight_g: int | None
    unit_price: int
    discount: int
    amount: int
    returned_qty: int


class HistoryJson(TypedDict):
    at: str
    action: str
    from_status: str | None
    to_status: str | None
    actor: NotRequired[str]  # staff only, like the detail
    detail: NotRequired[JsonObject]


class NoteJson(TypedDict):
    at: str
    author: str
    text: str


class ReturnJson(TypedDict):
    id: int
    kind: str
    reason: str
    restock: bool
    lines: JsonList
    created_by: str
    created_at: str


class InvoiceJson(TypedDict):
    id: int
    kind: str
    title: str
    tax_id: str | None
    email: str
    amount: int
    status: str
    created_at: str
    updated_at: str
    error: str | None


class RefundJson(TypedDict):
    id: int
    order_no: str
    out_refund_no: str
    amount: int
    currency: str
    reason: str
    status: str
    requested_by: str
    created_at: str
    updated_at: str
    error: str | None


class OrderDetailJson(OrderSummaryJson):
    member_id: str | None
    subtotal: int
    discount_total: int
    paid_at: str | None
    completed_at: str | None
    carrier: str | None
    tracking_no: str | None
    shipping_address: JsonObject | None
    details: JsonObject
    lines: list[OrderLineJson]
    history: list[HistoryJson]
    invoice: InvoiceJson | None
    # Staff only:
    notes: NotRequired[list[NoteJson]]
    refunds: NotRequired[list[RefundJson]]
    returns: NotRequired[list[ReturnJson]]


def order_summary(o: Order) -> OrderSummaryJson:
    return {
        "order_no": o.order_no,
        "store": o.store,
        "kiosk": o.kiosk,
        "source": o.source,
        "fulfillment": o.fulfillment,
        "status": o.status,
        "currency": o.currency,
        "total": o.total,
        "refunded_total": o.refunded_total,
        "business_date": o.business_date,
        "created_at": o.created_at.isoformat(),
        "updated_at": o.updated_at.isoformat(),
    }


async def order_detail(session: AsyncSession, o: Order, *,
                       staff: bool = True) -> OrderDetailJson:
    """Everything about an order; ``staff=False`` leaves out internal notes and history actors."""
    lines = (await session.scalars(
        select(OrderLine).where(OrderLine.order_id == o.id).order_by(OrderLine.line_no))).all()
    history = (await session.scalars(
        select(OrderHistory).where(OrderHistory.order_id == o.id).order_by(OrderHistory.id))).all()
    invoice = await session.scalar(select(Invoice).where(Invoice.order_id == o.id))
    out: OrderDetailJson = {
        **order_summary(o),
        "member_id": o.member_id,
        "subtotal": o.subtotal,
        "discount_total": o.discount_total,
        "paid_at": o.paid_at.isoformat() if o.paid_at else None,
        "completed_at": o.completed_at.isoformat() if o.completed_at else None,
        "carrier": o.carrier,
        "tracking_no": o.tracking_no,
        "shipping_address": o.shipping_address,
        "details": o.details or {},
        "lines": [
            {"line_no": ln.line_no, "product_id": ln.product_id, "barcode": ln.barcode,
             "name_zh": ln.name_zh, "name_en": ln.name_en, "qty": ln.qty, "weight_g": ln.weight_g,
             "unit_price": ln.unit_price, "discount": ln.discount, "amount": ln.amount,
             "returned_qty": ln.returned_qty}
            for ln in lines
        ],
        "history": [_history_json(h, staff) for h in history],
        "invoice": invoice_json(invoice) if invoice else None,
    }
    if staff:
        notes = (await session.scalars(
            select(OrderNote).where(OrderNote.order_id == o.id).order_by(OrderNote.id))).all()
        out["notes"] = [{"at": n.at.isoformat(), "author": n.author, "text": n.text} for n in notes]
        refunds = (await session.scalars(
            select(RefundRequest).where(RefundRequest.order_id == o.id)
            .order_by(RefundRequest.id))).all()
        out["refunds"] = [refund_json(r, o.order_no) for r in refunds]
        returns = (await session.scalars(
            select(ReturnRecord).where(ReturnRecord.order_id == o.id)
            .order_by(ReturnRecord.id))).all()
        out["returns"] = [
            {"id": r.id, "kind": r.kind, "reason": r.reason, "restock": r.restock,
             "lines": r.lines, "created_by": r.created_by, "created_at": r.created_at.isoformat()}
            for r in returns
        ]
    return out


def _history_json(h: OrderHistory, staff: bool) -> HistoryJson:
    entry: HistoryJson = {"at": h.at.isoformat(), "action": h.action,
                          "from_status": h.from_status, "to_status": h.to_status}
    if staff:
        entry["actor"] = h.actor
        entry["detail"] = h.detail or {}
    return entry


def invoice_json(i: Invoice) -> InvoiceJson:
    return {
        "id": i.id, "kind": i.kind, "title": i.title, "tax_id": i.tax_id, "email": i.email,
        "amount": i.amount, "status": i.status, "created_at": i.created_at.isoformat(),
        "updated_at": i.updated_at.isoformat(), "error": i.error,
    }


def refund_json(r: RefundRequest, order_no: str) -> RefundJson:
    return {
        "id": r.id, "order_no": order_no, "out_refund_no": r.out_refund_no, "amount": r.amount,
        "currency": r.currency, "reason": r.reason, "status": r.status,
        "requested_by": r.requested_by, "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(), "error": r.error,
    }


# --------------------------------------------------------------------------- changes


def _history(o: Order, actor: str, action: str, frm: str | None, to: str | None,
             detail: JsonObject | None = None) -> OrderHistory:
    return OrderHistory(order_id=o.id, at=now(), actor=actor, action=action, from_status=frm,
                        to_status=to, detail=detail or {})


def log_event(o: Order, actor: str, action: str, detail: JsonObject) -> OrderHistory:
    """A history row for something that happened to the order without changing its status
    (an after-sales request, a note): other domains write order history through this."""
    return _history(o, actor, action, o.status, o.status, detail)


async def change_status(
    session: AsyncSession,
    o: Order,
    to: str,
    actor: str,
    *,
    carrier: str | None = None,
    tracking_no: str | None = None,
    reason: str | None = None,
) -> Order:
    """Move an order along its lifecycle; refuses a change the lifecycle does not allow."""
    if to not in STATUSES:
        raise InvalidRequest(f"unknown status {to!r}")
    if to not in TRANSITIONS.get(o.status, frozenset()):
        raise Conflict(f"order {o.order_no} cannot go from {o.status} to {to}")
    if to == PENDING_SHIPMENT and o.fulfillment != "delivery":
        raise Conflict(f"order {o.order_no} is not a delivery order")
    if to == SHIPPED and not (carrier and tracking_no):
        raise InvalidRequest("shipping needs carrier and tracking_no")
    detail: JsonObject = {}
    if reason:
        detail["reason"] = reason
    at = now()
    if to == SHIPPED:
        o.carrier, o.tracking_no = carrier, tracking_no
        detail.update(carrier=carrier, tracking_no=tracking_no)
    if to == PAID:
        o.paid_at = at
    if to == COMPLETED:
        o.completed_at = at
    frm, o.status, o.updated_at = o.status, to, at
    session.add(_history(o, actor, "status", frm, to, detail))
    if to == CANCELLED:
        await _release_coupons(session, o)
    return o


async def _release_coupons(session: AsyncSession, o: Order) -> None:
    """A mini-program order cancelled (or closed unpaid) or refunded in full: the coupons
    locked to it or used by it go back to the shopper's wallet (or expire), in the same
    transaction as the order's change. Kiosk orders' coupons are the kiosk side's."""
    if o.source == "mp":
        await coupons.release(session, o.order_no)


async def add_note(session: AsyncSession, o: Order, author: str, text: str) -> OrderNote:
    note = OrderNote(order_id=o.id, author=author, text=text, at=now())
    session.add(note)
    o.updated_at = now()
    session.add(_history(o, author, "note", o.status, o.status, {"text": text[:200]}))
    return note


async def request_refund(
    session: AsyncSession, o: Order, amount: int, reason: str, actor: str
) -> RefundRequest:
    """Store a refund request (the payments side executes it); never more than is left."""
    if o.status not in REFUNDABLE:
        raise Conflict(f"order {o.order_no} is {o.status}; nothing was paid to refund")
    pending = await session.scalar(
        select(func.coalesce(func.sum(RefundRequest.amount), 0)).where(
            RefundRequest.order_id == o.id, RefundRequest.status.in_(OPEN_REFUND)))
    left = o.total - o.refunded_total - int(pending or 0)
    if amount < 1 or amount > left:
        raise Conflict(f"refund of {amount} fen exceeds the refundable {max(left, 0)} fen")
    req = RefundRequest(order_id=o.id, out_refund_no=f"RF{o.order_no[-20:]}{secrets.token_hex(4)}",
                        amount=amount, currency=o.currency, reason=reason, status="requested",
                        requested_by=actor, created_at=now(), updated_at=now())
    session.add(req)
    session.add(_history(o, actor, "refund_requested", o.status, o.status,
                         {"amount": amount, "reason": reason}))
    await session.flush()
    return req


async def record_refund(
    session: AsyncSession, request_id: int, *, succeeded: bool, actor: str,
    error: str | None = None,
) -> RefundRequest:
    """Called by the payments side once a refund request is executed (idempotent)."""
    req = await session.get(RefundRequest, request_id)
    if req is None:
        raise NotFound(f"refund request {request_id} not found")
    if req.status in ("succeeded", "failed"):
        return req
    o = await get_row(session, Order, req.order_id)
    req.status, req.updated_at, req.error = ("succeeded" if succeeded else "failed"), now(), error
    if succeeded:
        o.refunded_total += req.amount
        frm = o.status
        if o.refunded_total >= o.total:
            o.status = REFUNDED
            await _release_coupons(session, o)
        elif o.status != RETURNED:
            o.status = PARTIALLY_REFUNDED
        o.updated_at = now()
        session.add(_history(o, actor, "refunded", frm, o.status,
                             {"amount": req.amount, "out_refund_no": req.out_refund_no}))
    else:
        session.add(_history(o, actor, "refund_failed", o.status, o.status, {"error": error}))
    return req


async def record_return(
    session: AsyncSession,
    o: Order,
    *,
    kind: str,
    reason: str,
    restock: bool,
    lines: list[tuple[int, int]],
    actor: str,
    location: str | None = None,
) -> ReturnRecord:
    """A return or exchange of ``(line_no, qty)``; restocked units go back on hand.

    ``location``: where the goods go. Restocked: the shelf (the default), back into the
    lots the sale took them from. Not restocked: ``quarantine`` or ``damaged`` keeps them
    aside (recorded by lot, never sellable stock); none: they are not kept.
    """
    if restock and location not in (None, "shelf"):
        raise InvalidRequest("restocked goods go back on the shelf; "
                             "set restock false to keep them aside")
    if not restock and location == "shelf":
        raise InvalidRequest("goods put back on the shelf are restocked")
    if o.status not in RETURNABLE:
        raise Conflict(f"order {o.order_no} is {o.status}; it cannot be returned")
    if kind not in ("return", "exchange"):
        raise InvalidRequest("kind must be return or exchange")
    by_no = {ln.line_no: ln for ln in (await session.scalars(
        select(OrderLine).where(OrderLine.order_id == o.id))).all()}
    wanted: dict[int, int] = defaultdict(int)
    for line_no, qty in lines:
        wanted[line_no] += qty
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    for line_no, qty in wanted.items():
        ln = by_no.get(line_no)
        if ln is None:
            raise InvalidRequest(f"order {o.order_no} has no line {line_no}")
        if qty < 1 or ln.returned_qty + qty > ln.qty:
            raise Conflict(f"line {line_no}: {qty} more returned than the {ln.qty - ln.returned_qty} left")
    for line_no, qty in wanted.items():
        ln = by_no[line_no]
        ln.returned_qty += qty
        if restock or location:
            units = ln.weight_g if ln.weight_g else qty
            deltas[(o.store, ln.product_id)] += units
    rec = ReturnRecord(order_id=o.id, kind=kind, reason=reason, restock=restock,
                       lines=[{"line_no": n, "qty": q} for n, q in sorted(wanted.items())],
                       created_by=actor, created_at=now())
    session.add(rec)
    await session.flush()  # its id: the stock movements name the return
    frm = o.status
    if kind == "return" and all(ln.returned_qty >= ln.qty for ln in by_no.values()):
        o.status = RETURNED
    o.updated_at = now()
    session.add(_history(o, actor, kind, frm, o.status,
                         {"reason": reason, "restock": restock, "lines": rec.lines}))
    context = {k: {"order_no": o.order_no, "return_id": rec.id, "by": actor,
                   "location": location or "shelf"} for k in deltas}
    if restock:
        await inventory.apply_deltas(session, deltas, source=kind, context=context)
    else:
        await inventory.set_aside(session, deltas, source=kind, context=context)
    await session.flush()
    return rec


async def create_mp_order(
    session: AsyncSession,
    *,
    openid: str,
    store: str,
    lines: Sequence[JsonMapping],
    fulfillment: str,
    shipping_address: JsonObject | None,
    note: str | None,
    tz: str,
    currency: str = "CNY",
    details: JsonObject | None = None,
) -> Order:
    """An order placed in the mini-program: ``created``, waiting for payment.

    ``lines`` are priced by the caller (product_id, name_zh, qty, unit_price, amount);
    ``details`` what it kept of the pricing (coupons applied, discounts).
    """
    if fulfillment == "delivery" and not shipping_address:
        raise InvalidRequest("a delivery order needs a shipping_address")
    at = now()
    subtotal = sum(_fen(ln, "unit_price") * _fen(ln, "qty") for ln in lines)
    total = sum(_fen(ln, "amount") for ln in lines)
    o = Order(order_no=f"MP{at.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(4).upper()}",
              store=store, source="mp", fulfillment=fulfillment, openid=openid, status=CREATED,
              currency=currency, subtotal=subtotal, discount_total=subtotal - total, total=total,
              refunded_total=0, business_date=business_date(at, tz), created_at=at,
              updated_at=at, shipping_address=shipping_address, details=details or {})
    session.add(o)
    await session.flush()
    for i, ln in enumerate(lines, 1):
        qty, unit_price, amount = _fen(ln, "qty"), _fen(ln, "unit_price"), _fen(ln, "amount")
        session.add(OrderLine(order_id=o.id, line_no=i, product_id=_text(ln, "product_id"),
                              barcode=_maybe_text(ln, "barcode"), name_zh=_text(ln, "name_zh"),
                              name_en=_maybe_text(ln, "name_en"), qty=qty, weight_g=None,
                              unit_price=unit_price, discount=unit_price * qty - amount,
                              amount=amount, returned_qty=0))
    session.add(_history(o, f"mp:{openid}", "created", None, CREATED, {"fulfillment": fulfillment}))
    if note:
        session.add(OrderNote(order_id=o.id, author=f"mp:{openid}", text=note, at=at))
    return o


def _fen(line: JsonMapping, key: str) -> int:
    """An integer of a priced line (an amount in fen, a quantity)."""
    value = line[key]
    if not isinstance(value, int):
        raise TypeError(f"order line {key} is {type(value).__name__}, not int")
    return value


def _text(line: JsonMapping, key: str) -> str:
    value = line[key]
    if not isinstance(value, str):
        raise TypeError(f"order line {key} is {type(value).__name__}, not str")
    return value


def _maybe_text(line: JsonMapping, key: str) -> str | None:
    return None if line.get(key) is None else _text(line, key)


async def mark_paid(session: AsyncSession, order_no: str, actor: str,
                    tender: JsonObject | None = None) -> Order:
    """Payment confirmed for a mini-program order (called by the payments side)."""
    o = await get_order(session, order_no, lock=True)
    if o.status != CREATED:
        return o
    if tender:
        o.details = {**(o.details or {}), "tenders": [tender]}
    await change_status(session, o, PAID, actor)
    # The coupons locked to the order at its creation are used now, with the payment.
    # The money is taken whatever happened to a coupon: a payment is never refused here.
    for coupon_id in (o.details or {}).get("coupons", []):
        try:
            async with session.begin_nested():
                await coupons.use(session, coupon_id, o.order_no)
        except (Conflict, NotFound) as err:
            log.error("order %s paid but its coupon %s could not be used: %s",
                      o.order_no, coupon_id, err)
    if o.fulfillment == VIRTUAL:
        return o
    if o.fulfillment == "delivery":
        await change_status(session, o, PENDING_SHIPMENT, actor)
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    for ln in (await session.scalars(select(OrderLine).where(OrderLine.order_id == o.id))).all():
        deltas[(o.store, ln.product_id)] -= stock_units(ln)
    await inventory.apply_deltas(session, deltas, source="sale",
                                 context={k: {"order_no": o.order_no} for k in deltas})
    # The store must prepare it: an open alert (kept until staff resolve it) in the same
    # transaction as the payment, so a paid order is never missing from the store's list.
    await inventory.add_alerts(session, [Alert(
        kind=MP_ORDER_ALERT, store=o.store, order_no=o.order_no,
        detail={"fulfillment": o.fulfillment, "total": o.total, "currency": o.currency,
                "products": len(deltas)})])
    return o
