"""The posting job: find business documents not yet in the ledger and post them.

:func:`post_pending` runs periodically in every bridge worker (:mod:`.runtime`) and
on demand (``cloud-bridge finance post``). It is idempotent by source: a document
is found only while it has no entry, and the ledger's unique key on
``(source_type, source_id)`` makes a second posting impossible. On PostgreSQL an
advisory lock lets one worker post at a time (moving average costs are consumed in
posting order); on SQLite the write transaction already does.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, ColumnExpressionArgument, and_, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.models import Order, OrderLine, RefundRequest, ReturnRecord, now
from cloud_bridge.payments.models import StoredValueEntry

from . import costing, loyalty
from .ledger import post_drafts
from .models import DailyClose, JournalEntry
from .posting import ProductInfo, refund_draft, restock_draft, sale_drafts, topup_draft
from .service import DEFAULT_TZ, local_date

log = logging.getLogger(__name__)

# Documents per transaction: big enough to amortise the commit, small enough that a
# posting run never holds the write lock (SQLite) for long against the ingest.
BATCH = 200
# An arbitrary constant naming the posting job's PostgreSQL advisory lock.
ADVISORY_LOCK_KEY = 0x46494E30  # "FIN0"


@dataclass(slots=True)
class PostingResult:
    posted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.posted.values())

    def add(self, kind: str, n: int) -> None:
        if n:
            self.posted[kind] = self.posted.get(kind, 0) + n


def _unposted(source_type: str,
              source_id: ColumnExpressionArgument[str]) -> ColumnElement[bool]:
    return ~exists().where(and_(JournalEntry.source_type == source_type,
                                JournalEntry.source_id == source_id))


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                              {"k": ADVISORY_LOCK_KEY})


async def _lines(session: AsyncSession, order_ids: list[int]) -> dict[int, list[OrderLine]]:
    out: dict[int, list[OrderLine]] = defaultdict(list)
    if order_ids:
        for ln in await session.scalars(select(OrderLine).where(
                OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id,
                                                            OrderLine.line_no)):
            out[ln.order_id].append(ln)
    return out


async def _sales(session: AsyncSession, products: ProductInfo, tz: str) -> int:
    orders = (await session.scalars(
        select(Order).where(Order.paid_at.is_not(None), Order.total > 0,
                            _unposted("sale", Order.order_no))
        .order_by(Order.id).limit(BATCH))).all()
    lines = await _lines(session, [o.id for o in orders])
    await costing.preload(session, {(o.store, ln.product_id) for o in orders
                                    for ln in lines[o.id]})
    sv_nos = [f"pay:{t.get('out_trade_no')}" for o in orders
              for t in (o.details or {}).get("tenders", [])
              if isinstance(t, dict) and t.get("method") == "stored_value"]
    sv_used = {}
    if sv_nos:
        sv_used = {e.entry_key.removeprefix("pay:"): e for e in await session.scalars(
            select(StoredValueEntry).where(StoredValueEntry.entry_key.in_(sv_nos)))}
    closed = await _closed_days(session, {(o.store, o.business_date) for o in orders})
    today = local_date(now(), tz)
    drafts = []
    for o in orders:
        # A sale that arrives after its day was closed (a kiosk offline for days) is
        # booked on today's open day: a closed day's figures never change.
        late = today if (o.store, o.business_date) in closed else None
        drafts += await sale_drafts(session, o, lines[o.id], products, sv_used, late)
    await post_drafts(session, drafts)
    return len(orders)


async def _closed_days(session: AsyncSession, days: set[tuple[str, str]]) -> set:
    if not days:
        return set()
    rows = await session.execute(select(DailyClose.store, DailyClose.business_date).where(
        DailyClose.status == "closed",
        DailyClose.business_date.in_(sorted({d for _, d in days}))))
    return {(s, d) for s, d in rows.all()} & days


async def _refunds(session: AsyncSession, products: ProductInfo, tz: str) -> int:
    rows = (await session.execute(
        select(RefundRequest, Order).join(Order, Order.id == RefundRequest.order_id)
        .where(RefundRequest.status == "succeeded", RefundRequest.amount > 0,
               # a refund follows its sale into the ledger
               ~_unposted("sale", Order.order_no),
               _unposted("refund", RefundRequest.out_refund_no))
        .order_by(RefundRequest.id).limit(BATCH))).all()
    lines = await _lines(session, sorted({o.id for _, o in rows}))
    await post_drafts(session, [await refund_draft(session, r, o, lines[o.id], products, tz)
                                for r, o in rows])
    return len(rows)


async def _topups(session: AsyncSession, tz: str) -> int:
    rows = (await session.scalars(
        select(StoredValueEntry).where(StoredValueEntry.entry_key.like("topup:%"),
                                       StoredValueEntry.delta > 0,
                                       _unposted("topup", StoredValueEntry.entry_key))
        .order_by(StoredValueEntry.id).limit(BATCH))).all()
    await post_drafts(session, [d for d in (topup_draft(e, tz) for e in rows) if d])
    return len(rows)


async def _restocks(session: AsyncSession, tz: str) -> int:
    rows = (await session.execute(
        select(ReturnRecord, Order).join(Order, Order.id == ReturnRecord.order_id)
        .where(ReturnRecord.restock.is_(True), ~_unposted("sale", Order.order_no),
               _unposted("return_restock", ReturnRecord.id.cast(JournalEntry.source_id.type)))
        .order_by(ReturnRecord.id).limit(BATCH))).all()
    lines = await _lines(session, sorted({o.id for _, o in rows}))
    drafts = [await restock_draft(session, r, o, lines[o.id], tz) for r, o in rows]
    await post_drafts(session, [d for d in drafts if d])
    return len(rows)


async def post_pending(db: Database, *, tz: str = DEFAULT_TZ) -> PostingResult:
    """Post every unposted sale, refund, top-up and restocked return, the members' points
    and the coupons redeemed; counts per kind."""
    result = PostingResult()
    products = ProductInfo()
    for kind, step in (("sale", lambda s: _sales(s, products, tz)),
                       ("refund", lambda s: _refunds(s, products, tz)),
                       ("topup", lambda s: _topups(s, tz)),
                       ("return_restock", lambda s: _restocks(s, tz)),
                       ("points", lambda s: loyalty.post_points(s, tz)),
                       ("coupon", lambda s: loyalty.post_coupons(s, products)),
                       ("coupon_refund",
                        lambda s: loyalty.post_coupon_refunds(s, products, tz))):
        while True:
            async def work(session: AsyncSession, step=step) -> int:
                await _lock(session)
                return await step(session)

            n = await db.transact(work)
            result.add(kind, n)
            if n < BATCH:
                break
    if result.total:
        log.info("finance posted %s", result.posted)
    return result
