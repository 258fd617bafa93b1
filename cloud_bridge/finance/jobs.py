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
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.models import Order, RefundRequest, ReturnRecord
from cloud_bridge.payments.models import StoredValueEntry

from .models import JournalEntry
from .posting import ProductInfo, post_refund, post_restock, post_sale, post_topup
from .service import DEFAULT_TZ

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


def _unposted(source_type: str, source_id):
    return ~exists().where(and_(JournalEntry.source_type == source_type,
                                JournalEntry.source_id == source_id))


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                              {"k": ADVISORY_LOCK_KEY})


async def _sales(session: AsyncSession, products: ProductInfo) -> int:
    orders = (await session.scalars(
        select(Order).where(Order.paid_at.is_not(None), Order.total > 0,
                            _unposted("sale", Order.order_no))
        .order_by(Order.id).limit(BATCH))).all()
    return sum([await post_sale(session, o, products) for o in orders])


async def _refunds(session: AsyncSession, products: ProductInfo, tz: str) -> int:
    rows = (await session.execute(
        select(RefundRequest, Order).join(Order, Order.id == RefundRequest.order_id)
        .where(RefundRequest.status == "succeeded", RefundRequest.amount > 0,
               # a refund follows its sale into the ledger
               ~_unposted("sale", Order.order_no),
               _unposted("refund", RefundRequest.out_refund_no))
        .order_by(RefundRequest.id).limit(BATCH))).all()
    return sum([await post_refund(session, r, o, products, tz) for r, o in rows])


async def _topups(session: AsyncSession, tz: str) -> int:
    rows = (await session.scalars(
        select(StoredValueEntry).where(StoredValueEntry.entry_key.like("topup:%"),
                                       _unposted("topup", StoredValueEntry.entry_key))
        .order_by(StoredValueEntry.id).limit(BATCH))).all()
    return sum([await post_topup(session, e, tz) for e in rows])


async def _restocks(session: AsyncSession, tz: str) -> int:
    rows = (await session.execute(
        select(ReturnRecord, Order).join(Order, Order.id == ReturnRecord.order_id)
        .where(ReturnRecord.restock.is_(True), ~_unposted("sale", Order.order_no),
               _unposted("return_restock", ReturnRecord.id.cast(JournalEntry.source_id.type)))
        .order_by(ReturnRecord.id).limit(BATCH))).all()
    return sum([await post_restock(session, r, o, tz) for r, o in rows])


async def post_pending(db: Database, *, tz: str = DEFAULT_TZ) -> PostingResult:
    """Post every unposted sale, refund, top-up and restocked return; counts per kind."""
    result = PostingResult()
    products = ProductInfo()
    for kind, step in (("sale", lambda s: _sales(s, products)),
                       ("refund", lambda s: _refunds(s, products, tz)),
                       ("topup", lambda s: _topups(s, tz)),
                       ("return_restock", lambda s: _restocks(s, tz))):
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
