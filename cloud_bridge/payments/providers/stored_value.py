"""Member stored value (储值): a balance ledger in the bridge database, never negative.

Every change is one :class:`StoredValueEntry` with a unique key (``pay:<out_trade_no>``,
``reverse:<out_trade_no>``, ``refund:<out_refund_no>``, ``topup:<id>``,
``offline:<out_trade_no>``), inserted in the same transaction as the balance update,
so a repeated request changes nothing. A debit is a conditional UPDATE
(``balance >= amount``) on top of the table's CHECK constraint.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database, rows_changed

from ..models import MemberBalance, StoredValueEntry
from ..store import utcnow
from .base import ChargeRequest, Outcome, PaymentProvider, RefundOutcome, ReverseOutcome

if TYPE_CHECKING:
    from cloud_bridge.orders import CompletedSale

log = logging.getLogger(__name__)


class StoredValueProvider(PaymentProvider):
    name = "stored_value"
    methods = ("stored_value",)

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    async def balance(self, member_id: str) -> int:
        async with self.db.session() as s:
            row = await s.get(MemberBalance, member_id)
            return row.balance if row else 0

    async def top_up(self, member_id: str, amount: int, key: str) -> int:
        """Add value (a top-up at the counter); idempotent by ``key``."""
        return await self._apply(member_id, amount, f"topup:{key}")

    async def _apply(self, member_id: str, delta: int, key: str, *, offline: bool = False,
                     allow_shortfall: bool = False) -> int:
        async def work(s: AsyncSession) -> int:
            return await apply_entry(s, member_id, delta, key, offline=offline,
                                     allow_shortfall=allow_shortfall)

        try:
            return await self.db.transact(work)
        except IntegrityError:   # the same key inserted concurrently: already applied
            async with self.db.session() as s:
                seen = await s.scalar(
                    select(StoredValueEntry).where(StoredValueEntry.entry_key == key))
                if seen is None:
                    raise
                return seen.balance_after

    async def _entry(self, key: str) -> StoredValueEntry | None:
        async with self.db.session() as s:
            return await s.scalar(select(StoredValueEntry).where(StoredValueEntry.entry_key == key))

    async def charge(self, req: ChargeRequest) -> Outcome:
        if not req.member_id:
            return Outcome("failed", reason="code_missing")
        if await self._entry(f"reverse:{req.out_trade_no}"):
            return Outcome("failed", reason="rejected", code="REVERSED")
        try:
            await self._apply(req.member_id, -req.amount, f"pay:{req.out_trade_no}")
        except InsufficientBalance:
            return Outcome("failed", reason="insufficient_funds", code="BALANCE")
        return Outcome("paid", code="SUCCESS", provider_ref=f"sv:{req.out_trade_no}",
                       amount=req.amount)

    async def query(self, out_trade_no: str, provider_ref: str | None = None) -> Outcome:
        pay = await self._entry(f"pay:{out_trade_no}")
        if pay is None:
            return Outcome("not_found")
        if await self._entry(f"reverse:{out_trade_no}"):
            return Outcome("reversed", code="REVERSED")
        return Outcome("paid", code="SUCCESS", provider_ref=f"sv:{out_trade_no}", amount=-pay.delta)

    async def reverse(self, out_trade_no: str, provider_ref: str | None = None) -> ReverseOutcome:
        pay = await self._entry(f"pay:{out_trade_no}")
        if pay is None:
            # Tombstone: a charge arriving after this reverse is refused (see charge()).
            await self._apply("__void__", 0, f"reverse:{out_trade_no}")
            return ReverseOutcome(True, action="none")
        await self._apply(pay.member_id, -pay.delta, f"reverse:{out_trade_no}")
        return ReverseOutcome(True, action="refund")

    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, total: int,
                     currency: str, provider_ref: str | None = None,
                     reason: str = "") -> RefundOutcome:
        pay = await self._entry(f"pay:{out_trade_no}")
        if pay is None:
            return RefundOutcome("failed", code="ORDER_NOT_EXIST")
        await self._apply(pay.member_id, amount, f"refund:{out_refund_no}")
        return RefundOutcome("success", amount=amount, provider_ref=f"sv:{out_refund_no}")

    async def refund_query(self, out_trade_no: str, out_refund_no: str,
                           provider_ref: str | None = None) -> RefundOutcome:
        e = await self._entry(f"refund:{out_refund_no}")
        return RefundOutcome("success", amount=e.delta) if e else RefundOutcome("not_found")

    async def apply_offline_sale(self, member_id: str, out_trade_no: str, amount: int,
                                 session: AsyncSession | None = None) -> int:
        """Apply a stored-value tender the kiosk took while offline (from its order event).

        Idempotent by out_trade_no. The balance never goes negative: a shortfall (the
        member spent the same value elsewhere meanwhile) is recorded on the entry and
        logged for staff instead. With ``session``, inside the caller's transaction.
        """
        if session is not None:
            return await apply_entry(session, member_id, -amount, f"pay:{out_trade_no}",
                                     offline=True, allow_shortfall=True)
        return await self._apply(member_id, -amount, f"pay:{out_trade_no}", offline=True,
                                 allow_shortfall=True)


async def apply_entry(s: AsyncSession, member_id: str, delta: int, key: str, *,
                      offline: bool = False, allow_shortfall: bool = False) -> int:
    """One balance change in the session's transaction, once per ``key``; the balance after."""
    seen = await s.scalar(select(StoredValueEntry).where(StoredValueEntry.entry_key == key))
    if seen is not None:
        return seen.balance_after
    row = await s.get(MemberBalance, member_id, with_for_update=True)
    if row is None:
        row = MemberBalance(member_id=member_id, balance=0, updated_at=utcnow())
        s.add(row)
        await s.flush()
    shortfall = 0
    if delta < 0 and row.balance + delta < 0:
        if not allow_shortfall:
            raise InsufficientBalance(member_id)
        shortfall = -(row.balance + delta)
    applied = delta + shortfall
    changed = await rows_changed(
        s, update(MemberBalance)
        .where(MemberBalance.member_id == member_id, MemberBalance.balance + applied >= 0)
        .values(balance=MemberBalance.balance + applied, updated_at=utcnow()))
    if changed != 1:
        raise InsufficientBalance(member_id)
    await s.refresh(row)
    after = row.balance
    s.add(StoredValueEntry(entry_key=key, member_id=member_id, delta=applied,
                           balance_after=after, shortfall=shortfall, offline=offline,
                           created_at=utcnow()))
    if shortfall:
        log.warning("stored value of member %s short by %d fen for %s", member_id, shortfall,
                    key)
    return after


async def apply_order_tenders(session: AsyncSession, sales: list[CompletedSale]) -> int:
    """The stored-value tenders of newly stored kiosk orders, applied to the members'
    balances in the ingest's transaction (once per out_trade_no: a tender charged
    online already has its ``pay:`` entry). ``sales`` are ``orders.CompletedSale``."""
    n = 0
    for sale in sales:
        d = sale.data
        for t in d.tenders:
            if t.method == "stored_value" and t.out_trade_no and d.member_id and t.amount > 0:
                await apply_entry(session, d.member_id, -t.amount, f"pay:{t.out_trade_no}",
                                  offline=t.offline, allow_shortfall=True)
                n += 1
    return n


class InsufficientBalance(Exception):
    pass
