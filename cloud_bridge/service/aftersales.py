"""After-sales: a shopper asks to return or exchange lines of an order; staff decide.

Rules, as a shop runs them:

* Time limits per product category (``svc_aftersale_rules``; the category is the supply
  master data's, else ``*``, else 7 days). 0 days means the category is not returned for
  a change of mind (e.g. cut fruit). A defect (quality, damaged, expired, wrong item)
  is taken back for at least ``DEFECT_DAYS`` whatever the category: by the consumer
  protection law a seller may not refuse defective goods because a change-of-mind window
  ran out.
* A line is never asked back beyond what is left of it (sold minus returned minus what
  open requests already ask).
* The refund of ``k`` of a line's ``n`` units is the line's paid amount split by
  cumulative floors (``floor(amount*(r+k)/n) - floor(amount*r/n)``), so the parts of a
  line returned piece by piece add up to exactly what was paid for it.
* Approval does it all in one transaction: the return on the order (stock back on the
  shelf, or set aside in quarantine/damaged), the refund request, and the order history;
  the refund itself is then executed by the payments side through the provider that
  took the money, as any refund staff ask for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import inventory, orders
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import Order, OrderLine, RefundRequest
from common.jsontypes import JsonObject

from .models import Attachment
from .models_aftersales import AfterSale, AfterSaleRule

REASONS = ("quality", "damaged", "expired", "wrong_item", "not_as_described",
           "changed_mind", "other")
DEFECTS = frozenset({"quality", "damaged", "expired", "wrong_item", "not_as_described"})
DEFAULT_DAYS = 7
DEFECT_DAYS = 15
MAX_PHOTOS = 6
STATUS_ZH = {"requested": "待审核", "approved": "已同意", "rejected": "已拒绝",
             "cancelled": "已撤销"}


def _now() -> datetime:
    return datetime.now(UTC)


async def _categories(s: AsyncSession, product_ids: set[str]) -> dict[str, str]:
    from cloud_bridge.supply.models import SupplyProduct

    rows = await s.execute(select(SupplyProduct.product_id, SupplyProduct.category)
                           .where(SupplyProduct.product_id.in_(product_ids)))
    return {pid: cat for pid, cat in rows.all() if cat}


async def window_days(s: AsyncSession, categories: set[str]) -> dict[str, int]:
    rules = dict((await s.execute(select(AfterSaleRule.category, AfterSaleRule.days)))
                 .tuples().all())
    fallback = rules.get("*", DEFAULT_DAYS)
    return {c: rules.get(c, fallback) for c in categories | {"*"}}


async def set_rules(s: AsyncSession, rules: dict[str, int]) -> dict[str, int]:
    for row in (await s.scalars(select(AfterSaleRule))).all():
        await s.delete(row)
    await s.flush()
    for cat, days in rules.items():
        s.add(AfterSaleRule(category=cat, days=days))
    await s.flush()
    return dict(sorted(rules.items()))


async def _asked_already(s: AsyncSession, order_no: str) -> dict[int, int]:
    """Units of each line that open requests already ask back."""
    out: dict[int, int] = {}
    for req in (await s.scalars(select(AfterSale).where(
            AfterSale.order_no == order_no, AfterSale.status == "requested"))).all():
        for ln in req.lines:
            out[ln["line_no"]] = out.get(ln["line_no"], 0) + ln["qty"]
    return out


def line_refund(amount: int, qty: int, before: int, k: int) -> int:
    """The refund of ``k`` more units of a line of ``qty`` units paid ``amount`` fen in all,
    ``before`` of which went back already (cumulative floors: exact in sum)."""
    return amount * (before + k) // qty - amount * before // qty


async def create(s: AsyncSession, order: Order, *, actor: str, openid: str, kind: str,
                 reason: str, description: str | None, lines: list[tuple[int, int]],
                 photos: list[str], at: datetime | None = None) -> AfterSale:
    at = at or _now()
    if order.status not in orders.RETURNABLE:
        raise Conflict(f"order {order.order_no} is {order.status}; it cannot be returned")
    if kind == "exchange" and reason not in DEFECTS:
        raise InvalidRequest("an exchange is for a defect; for a change of mind ask a return")
    by_no = {ln.line_no: ln for ln in (await s.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id))).all()}
    asked = await _asked_already(s, order.order_no)
    wanted: dict[int, int] = {}
    for line_no, qty in lines:
        wanted[line_no] = wanted.get(line_no, 0) + qty
    cats = await _categories(s, {by_no[n].product_id for n in wanted if n in by_no})
    days = await window_days(s, set(cats.values()))
    sold_at = order.completed_at or order.paid_at or order.created_at
    out_lines, amount = [], 0
    for line_no, qty in sorted(wanted.items()):
        ln = by_no.get(line_no)
        if ln is None:
            raise InvalidRequest(f"order {order.order_no} has no line {line_no}")
        left = ln.qty - ln.returned_qty - asked.get(line_no, 0)
        if qty > left:
            raise Conflict(f"line {line_no}: {qty} asked back, {max(left, 0)} left to return")
        limit = days.get(cats.get(ln.product_id, "*"), days["*"])
        if reason in DEFECTS:
            limit = max(limit, DEFECT_DAYS)
        if limit == 0:
            raise Conflict(f"line {line_no} ({ln.name_zh}) is not returned for a change of "
                           "mind / 该商品不支持无理由退货")
        if at - sold_at > timedelta(days=limit):
            raise Conflict(f"line {line_no} ({ln.name_zh}): the {limit}-day return period "
                           f"has ended / 已超过{limit}天退货期限")
        refund = 0
        if kind == "return":
            refund = line_refund(ln.amount, ln.qty, ln.returned_qty + asked.get(line_no, 0), qty)
        out_lines.append({"line_no": line_no, "qty": qty, "amount": refund})
        amount += refund
    if len(photos) > MAX_PHOTOS:
        raise InvalidRequest(f"at most {MAX_PHOTOS} photos")
    for att_id in photos:
        att = await s.get(Attachment, att_id)
        if att is None or att.owner != actor or att.purpose != "aftersales" \
                or att.store != order.store:
            raise InvalidRequest(f"photo {att_id} is not one of your after-sales uploads")
        att.used = True
    req = AfterSale(store=order.store, order_no=order.order_no, openid=openid, kind=kind,
                    reason=reason, description=description, lines=out_lines, photos=photos,
                    amount=amount, status="requested", created_at=at)
    s.add(req)
    await s.flush()
    s.add(orders.log_event(order, actor, "aftersales_requested",
                   {"aftersales_id": req.id, "kind": kind, "reason": reason,
                    "lines": out_lines, "amount": amount}))
    return req


async def get(s: AsyncSession, req_id: int, *, lock: bool = False) -> AfterSale:
    q = select(AfterSale).where(AfterSale.id == req_id)
    req = await s.scalar(q.with_for_update() if lock else q)
    if req is None:
        raise NotFound(f"after-sales request {req_id} not found")
    return req


def _open(req: AfterSale) -> None:
    if req.status != "requested":
        raise Conflict(f"after-sales request {req.id} is {req.status} already")


async def approve(s: AsyncSession, req: AfterSale, *, actor: str, restock: bool,
                  location: str | None, note: str | None) -> int | None:
    """Record the return (and the exchange's replacement leaving the shelf) and ask the
    refund; the refund request's id, for the payments side to execute after the commit."""
    _open(req)
    order = await orders.get_order(s, req.order_no, lock=True)
    lines = [(ln["line_no"], ln["qty"]) for ln in req.lines]
    rec = await orders.record_return(s, order, kind=req.kind, reason=f"售后#{req.id} {req.reason}",
                                     restock=restock, lines=lines, actor=actor,
                                     location=location)
    req.return_id = rec.id
    refund_id = None
    if req.kind == "exchange":
        by_no = {ln.line_no: ln for ln in (await s.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id))).all()}
        deltas: dict[tuple[str, str], int] = {}
        for line_no, qty in lines:
            ln = by_no[line_no]
            key = (order.store, ln.product_id)
            deltas[key] = deltas.get(key, 0) - (ln.weight_g or qty)
        ctx = {k: {"order_no": order.order_no, "aftersales_id": req.id, "by": actor}
               for k in deltas}
        await inventory.apply_deltas(s, deltas, source="exchange_out", context=ctx)
    elif req.amount > 0:
        refund = await orders.request_refund(s, order, req.amount,
                                             f"售后#{req.id} {req.reason}", actor)
        req.refund_request_id = refund_id = refund.id
    req.status, req.decided_by, req.decided_at = "approved", actor, _now()
    req.decision_note = note
    s.add(orders.log_event(order, actor, "aftersales_approved",
                   {"aftersales_id": req.id, "return_id": rec.id, "refund_request_id": refund_id}))
    return refund_id


async def reject(s: AsyncSession, req: AfterSale, *, actor: str, note: str) -> None:
    _open(req)
    order = await orders.get_order(s, req.order_no)
    req.status, req.decided_by, req.decided_at, req.decision_note = (
        "rejected", actor, _now(), note)
    s.add(orders.log_event(order, actor, "aftersales_rejected", {"aftersales_id": req.id, "note": note}))


async def cancel(s: AsyncSession, req: AfterSale, *, actor: str) -> None:
    _open(req)
    order = await orders.get_order(s, req.order_no)
    req.status, req.decided_at = "cancelled", _now()
    s.add(orders.log_event(order, actor, "aftersales_cancelled", {"aftersales_id": req.id}))


async def to_json(s: AsyncSession, req: AfterSale) -> JsonObject:
    refund = None
    if req.refund_request_id is not None:
        r = await s.get(RefundRequest, req.refund_request_id)
        refund = {"id": r.id, "status": r.status, "amount": r.amount} if r else None
    return {"id": req.id, "store": req.store, "order_no": req.order_no, "kind": req.kind,
            "reason": req.reason, "description": req.description, "lines": req.lines,
            "photos": req.photos, "amount": req.amount, "status": req.status,
            "status_zh": STATUS_ZH[req.status], "decision_note": req.decision_note,
            "return_id": req.return_id, "refund": refund,
            "created_at": req.created_at.isoformat(),
            "decided_at": req.decided_at.isoformat() if req.decided_at else None}
