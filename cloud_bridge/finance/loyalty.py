"""Member points and coupons in the ledger (run by :mod:`.jobs` with the other postings).

**Points** are a promise of money off later, so the chain carries them as a liability
(2241.03) at what a point is worth when redeemed (``redeem_points_per_fen`` of the
price book's points rules: 1 point = 1 fen by default). Every line of the members'
points ledger posts once (``points``, its id): points earned debit the points expense
(6601.03) and credit the liability; points spent, expired or taken back on a refund
release it the other way. The money off a redemption gave is already less revenue in
the sale, so expense and release net to what was never redeemed. An order's points
post to its store; points with no order (redemptions by request, expiry) to head office.

**Coupons** redeemed on a sale are a selling cost: the sale's revenue is shown as if the
coupon had not been applied and the coupon's value, net of VAT, as coupon expense
(6601.01) (``coupon``, the order number), in the sale's category proportions; a refund
takes back its share (``coupon_refund``, the refund number). Profit does not change,
the income statement shows what the coupons cost. The coupon's fen come from the sale
as the kiosk sent it (its ``coupon`` discounts).
"""

from __future__ import annotations

import json

from sqlalchemy import ColumnElement, ColumnExpressionArgument, Text, and_, cast, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.members.models import PointsEntry
from cloud_bridge.models import Order, OrderHistory, OrderLine, RefundRequest, StoredEvent
from contract.pricebook import PointsRules

from . import accounts as A
from .costing import round_half_up
from .ledger import Draft, credit, debit, post_drafts
from .models import JournalEntry
from .posting import HQ_STORE, ProductInfo, allocate, split_sale
from .service import DEFAULT_TZ, local_date

BATCH = 200
# What a point is worth, fen per point, unless a store's book says otherwise.
POINTS_PER_FEN = PointsRules().redeem_points_per_fen


def points_value(points: int, per_fen: int = POINTS_PER_FEN) -> int:
    """The fen ``points`` are worth when redeemed (rounded half up)."""
    return round_half_up(abs(points), per_fen)


def _unposted(source_type: str,
              source_id: ColumnExpressionArgument[str]) -> ColumnElement[bool]:
    return ~exists().where(and_(JournalEntry.source_type == source_type,
                                JournalEntry.source_id == source_id))


async def post_points(session: AsyncSession, tz: str = DEFAULT_TZ) -> int:
    """Post the points ledger's lines that are not in the ledger yet; how many were read."""
    rows = (await session.scalars(
        select(PointsEntry).where(_unposted("points", PointsEntry.id.cast(
            JournalEntry.source_id.type))).order_by(PointsEntry.id).limit(BATCH))).all()
    order_nos = {r.source_id.split(":", 1)[0] for r in rows if r.source_type in ("order",
                                                                                 "refund")}
    stores = dict((await session.execute(select(Order.order_no, Order.store).where(
        Order.order_no.in_(sorted(order_nos))))).tuples().all()) if order_nos else {}
    drafts = []
    for r in rows:
        value = points_value(r.points)
        if value == 0:
            continue
        store = stores.get(r.source_id.split(":", 1)[0], HQ_STORE)
        earned = r.points > 0
        legs = ([debit(A.POINTS_EXPENSE, value), credit(A.POINTS, value)] if earned else
                [debit(A.POINTS, value), credit(A.POINTS_EXPENSE, value)])
        drafts.append(Draft(store, "points", str(r.id), local_date(r.created_at, tz),
                            r.created_at, legs,
                            f"points {r.kind} {r.points:+d} member {r.member_id}"[:200]))
    await post_drafts(session, drafts)
    return len(rows)


async def coupon_amount(session: AsyncSession, order: Order) -> int:
    """The fen the order's coupons took off, from the ``order.completed`` event."""
    event_ids = [h.detail.get("event_id") for h in await session.scalars(
        select(OrderHistory).where(OrderHistory.order_id == order.id,
                                   OrderHistory.action == "created"))
                 if isinstance(h.detail, dict)]
    if not event_ids:
        return 0
    payload = await session.scalar(select(StoredEvent.payload).where(
        StoredEvent.event_id.in_([e for e in event_ids if e])))
    if payload is None:
        return 0
    try:
        discounts = json.loads(payload)["data"].get("discounts", [])
        return sum(int(d["amount"]) for d in discounts
                   if isinstance(d, dict) and d.get("kind") == "coupon")
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0


async def _coupon_split(session: AsyncSession, order: Order, products: ProductInfo
                        ) -> dict[str, int]:
    """The coupons' value net of VAT, by the sale's revenue accounts."""
    amount = await coupon_amount(session, order)
    if amount <= 0 or order.total <= 0:
        return {}
    lines = list(await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)))
    split = await split_sale(session, order, lines, products)
    net = round_half_up(amount * (order.total - split.tax), order.total)
    return {k: v for k, v in allocate(net, split.revenue).items() if v}


async def post_coupons(session: AsyncSession, products: ProductInfo) -> int:
    """Coupon expense of sales posted already whose coupons are not in the ledger yet."""
    with_coupons = (await session.scalars(
        select(Order).where(Order.paid_at.is_not(None), Order.total > 0,
                            # a non-empty coupon list (JSON written by json.dumps)
                            cast(Order.details, Text).like('%"coupons": ["%'),
                            ~_unposted("sale", Order.order_no),
                            _unposted("coupon", Order.order_no))
        .order_by(Order.id).limit(BATCH))).all()
    drafts = []
    for o in with_coupons:
        parts = await _coupon_split(session, o, products)
        if not parts:
            continue
        sale = await session.scalar(select(JournalEntry).where(
            JournalEntry.source_type == "sale", JournalEntry.source_id == o.order_no))
        if sale is None:  # the query asked for posted sales only; narrows the type
            continue
        legs = [debit(A.COUPONS, sum(parts.values()))]
        legs += [credit(code, v) for code, v in sorted(parts.items())]
        drafts.append(Draft(o.store, "coupon", o.order_no, sale.business_date, sale.occurred_at,
                            legs, f"coupons on order {o.order_no}"))
    await post_drafts(session, drafts)
    return len(with_coupons)


async def post_coupon_refunds(session: AsyncSession, products: ProductInfo,
                              tz: str = DEFAULT_TZ) -> int:
    """A refund of a sale with coupons takes back its share of the coupon expense."""
    rows = (await session.execute(
        select(RefundRequest, Order).join(Order, Order.id == RefundRequest.order_id)
        .where(RefundRequest.status == "succeeded", RefundRequest.amount > 0,
               ~_unposted("coupon", Order.order_no),
               _unposted("coupon_refund", RefundRequest.out_refund_no))
        .order_by(RefundRequest.id).limit(BATCH))).all()
    drafts = []
    for refund, order in rows:
        parts = await _coupon_split(session, order, products)
        back = allocate(round_half_up(sum(parts.values()) * refund.amount, order.total), parts)
        legs = [debit(code, v) for code, v in sorted(back.items()) if v]
        if not legs:
            continue
        legs.append(credit(A.COUPONS, sum(back.values())))
        drafts.append(Draft(order.store, "coupon_refund", refund.out_refund_no,
                            local_date(refund.updated_at, tz), refund.updated_at, legs,
                            f"coupons back with refund of {order.order_no}"[:200]))
    await post_drafts(session, drafts)
    return len(rows)
