"""Posting journal entries: balanced, once per source document, never edited.

:func:`post_entry` is the one way into the ledger. It checks the lines balance
before writing (the database checks again, see :mod:`.models`), inserts the lines,
then the entry row that seals them, inside a savepoint so that an entry already
posted by another worker for the same source is a no-op for the caller's
transaction rather than an error. It never commits: the caller's transaction
holds the entry together with whatever it records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import now

from .accounts import spec_for
from .models import JournalEntry, JournalLine, LedgerAccount

log = logging.getLogger(__name__)


class LedgerError(Exception):
    """An entry the ledger refuses (unbalanced, empty, unknown account, negative amount)."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of an entry before posting: ``amount`` > 0 debits, < 0 credits ``code``."""

    code: str
    amount: int
    memo: str | None = None


def debit(code: str, amount: int, memo: str | None = None) -> Leg:
    return Leg(code, amount, memo)


def credit(code: str, amount: int, memo: str | None = None) -> Leg:
    return Leg(code, -amount, memo)


async def account_ids(session: AsyncSession, store: str, codes: set[str]) -> dict[str, int]:
    """Ids of ``store``'s accounts ``codes``, creating the missing ones from the chart."""
    rows = await session.execute(select(LedgerAccount.code, LedgerAccount.id).where(
        LedgerAccount.store == store, LedgerAccount.code.in_(sorted(codes))))
    found = dict(rows.all())
    missing = sorted(codes - set(found))
    if missing:
        specs = [spec_for(c) for c in missing]
        for spec in specs:
            # A savepoint per account: another worker may create it at the same moment.
            try:
                async with session.begin_nested():
                    session.add(LedgerAccount(store=store, code=spec.code, kind=spec.kind.value,
                                              name_zh=spec.name_zh, name_en=spec.name_en,
                                              created_at=now()))
            except IntegrityError:
                pass
        rows = await session.execute(select(LedgerAccount.code, LedgerAccount.id).where(
            LedgerAccount.store == store, LedgerAccount.code.in_(missing)))
        found.update(dict(rows.all()))
    return found


async def _next_entry_id(session: AsyncSession) -> int:
    if session.get_bind().dialect.name == "postgresql":
        return int(await session.scalar(
            text("SELECT nextval(pg_get_serial_sequence('finance_entries', 'id'))")))
    # SQLite: writers are serialised (BEGIN IMMEDIATE), so max + 1 cannot race.
    return int(await session.scalar(select(func.coalesce(func.max(JournalEntry.id), 0))) + 1)


def _merge(legs: list[Leg]) -> list[Leg]:
    """Drop zero legs; a code on both sides stays as two lines (what happened, shown)."""
    return [leg for leg in legs if leg.amount != 0]


async def entry_for(session: AsyncSession, source_type: str, source_id: str) -> JournalEntry | None:
    return await session.scalar(select(JournalEntry).where(
        JournalEntry.source_type == source_type, JournalEntry.source_id == source_id))


async def post_entry(
    session: AsyncSession,
    *,
    store: str,
    source_type: str,
    source_id: str,
    business_date: str,
    occurred_at: datetime,
    legs: list[Leg],
    memo: str | None = None,
    posted_by: str = "finance",
    reverses_id: int | None = None,
) -> JournalEntry | None:
    """Post one balanced entry for a source document; ``None`` when it was already posted.

    Raises:
        LedgerError: the legs do not balance, or there are fewer than two.
    """
    legs = _merge(legs)
    debits = sum(leg.amount for leg in legs if leg.amount > 0)
    credits = -sum(leg.amount for leg in legs if leg.amount < 0)
    if debits != credits:
        raise LedgerError(f"{source_type} {source_id}: debits {debits} != credits {credits}")
    if len(legs) < 2 or debits == 0:
        raise LedgerError(f"{source_type} {source_id}: an entry needs a debit and a credit")
    if await entry_for(session, source_type, source_id) is not None:
        return None
    ids = await account_ids(session, store, {leg.code for leg in legs})
    try:
        async with session.begin_nested():
            entry_id = await _next_entry_id(session)
            await session.execute(insert(JournalLine), [
                {"entry_id": entry_id, "line_no": i, "account_id": ids[leg.code],
                 "debit": max(leg.amount, 0), "credit": max(-leg.amount, 0), "memo": leg.memo}
                for i, leg in enumerate(legs, 1)])
            # The entry row last: it seals the lines above (see models).
            await session.execute(insert(JournalEntry).values(
                id=entry_id, store=store, source_type=source_type, source_id=source_id,
                business_date=business_date, occurred_at=occurred_at, memo=memo,
                amount=debits, reverses_id=reverses_id, posted_by=posted_by, posted_at=now()))
    except IntegrityError:
        if await entry_for(session, source_type, source_id) is not None:
            return None  # posted by another worker meanwhile: exactly once
        raise
    return await session.get(JournalEntry, entry_id)


async def entry_legs(session: AsyncSession, entry_id: int) -> list[Leg]:
    rows = await session.execute(
        select(LedgerAccount.code, JournalLine.debit, JournalLine.credit, JournalLine.memo)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(JournalLine.entry_id == entry_id).order_by(JournalLine.line_no))
    return [Leg(code, d - c, memo) for code, d, c, memo in rows.all()]


async def reverse_entry(
    session: AsyncSession, entry_id: int, *, reason: str, actor: str,
    business_date: str | None = None, occurred_at: datetime | None = None,
) -> JournalEntry:
    """Post the mirror image of entry ``entry_id`` (a correction); once per entry.

    Raises:
        LedgerError: no such entry, or it is itself a reversal.
    """
    original = await session.get(JournalEntry, entry_id)
    if original is None:
        raise LedgerError(f"no journal entry {entry_id}")
    if original.source_type == "reversal":
        raise LedgerError(f"entry {entry_id} is a reversal; post a new entry instead")
    legs = [Leg(leg.code, -leg.amount, leg.memo) for leg in await entry_legs(session, entry_id)]
    at = occurred_at or now()
    posted = await post_entry(
        session, store=original.store, source_type="reversal", source_id=str(entry_id),
        business_date=business_date or original.business_date, occurred_at=at, legs=legs,
        memo=f"reverses #{entry_id}: {reason}"[:200], posted_by=actor, reverses_id=entry_id)
    if posted is None:
        posted = await entry_for(session, "reversal", str(entry_id))
        assert posted is not None
    return posted
