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

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import bulk_insert
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


_ACCOUNT_CACHE = "finance_account_ids"


async def account_ids(session: AsyncSession, store: str, codes: set[str]) -> dict[str, int]:
    """Ids of ``store``'s accounts ``codes``, creating the missing ones from the chart.

    Ids are remembered on the session (accounts are never deleted), which saves a
    query per entry when a job posts many.
    """
    cache: dict[tuple[str, str], int] = session.info.setdefault(_ACCOUNT_CACHE, {})
    found = {c: cache[(store, c)] for c in codes if (store, c) in cache}
    wanted = codes - set(found)
    if wanted:
        rows = await session.execute(select(LedgerAccount.code, LedgerAccount.id).where(
            LedgerAccount.store == store, LedgerAccount.code.in_(sorted(wanted))))
        found.update(dict(rows.tuples().all()))
    missing = sorted(codes - set(found))
    if missing:
        for spec in [spec_for(c) for c in missing]:
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
        found.update(dict(rows.tuples().all()))
    cache.update({(store, c): i for c, i in found.items()})
    return found


async def _next_entry_ids(session: AsyncSession, n: int) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence('finance_entries', 'id')) "
            "FROM generate_series(1, :n)"), {"n": n})
        return [int(i) for i in rows.all()]
    # SQLite: writers are serialised (BEGIN IMMEDIATE), so max + 1 cannot race.
    top = await session.scalar(select(func.coalesce(func.max(JournalEntry.id), 0))) or 0
    return list(range(top + 1, top + 1 + n))


@dataclass(slots=True)
class Draft:
    """An entry about to be posted: its source document, day and legs."""

    store: str
    source_type: str
    source_id: str
    business_date: str
    occurred_at: datetime
    legs: list[Leg]
    memo: str | None = None
    posted_by: str = "finance"
    reverses_id: int | None = None

    def checked(self) -> Draft:
        """Zero legs dropped; raises :class:`LedgerError` unless it balances."""
        self.legs = [leg for leg in self.legs if leg.amount != 0]
        debits = self.debits
        credits = -sum(leg.amount for leg in self.legs if leg.amount < 0)
        if debits != credits:
            raise LedgerError(f"{self.source_type} {self.source_id}: debits {debits} != "
                              f"credits {credits}")
        if len(self.legs) < 2 or debits == 0:
            raise LedgerError(f"{self.source_type} {self.source_id}: an entry needs a debit "
                              "and a credit")
        return self

    @property
    def debits(self) -> int:
        return sum(leg.amount for leg in self.legs if leg.amount > 0)


async def entry_for(session: AsyncSession, source_type: str, source_id: str) -> JournalEntry | None:
    return await session.scalar(select(JournalEntry).where(
        JournalEntry.source_type == source_type, JournalEntry.source_id == source_id))


async def _already_posted(session: AsyncSession, drafts: list[Draft]) -> set[tuple[str, str]]:
    by_type: dict[str, list[str]] = {}
    for d in drafts:
        by_type.setdefault(d.source_type, []).append(d.source_id)
    seen: set[tuple[str, str]] = set()
    for source_type, ids in by_type.items():
        rows = await session.scalars(select(JournalEntry.source_id).where(
            JournalEntry.source_type == source_type, JournalEntry.source_id.in_(ids)))
        seen |= {(source_type, i) for i in rows.all()}
    return seen


async def post_drafts(session: AsyncSession, drafts: list[Draft]) -> list[JournalEntry]:
    """Post many entries in a few statements; those whose source is already posted are
    skipped. Returns the entries written.

    No savepoint: a concurrent poster of the same source makes the whole transaction
    fail on the unique key, so callers hold the posting lock (:mod:`.jobs`) or use
    :func:`post_entry`.
    """
    fresh: dict[tuple[str, str], Draft] = {}
    for d in drafts:
        fresh.setdefault((d.source_type, d.source_id), d.checked())
    for key in await _already_posted(session, list(fresh.values())):
        fresh.pop(key, None)
    if not fresh:
        return []
    todo = list(fresh.values())
    ids: dict[str, dict[str, int]] = {}
    for store in {d.store for d in todo}:
        codes = {leg.code for d in todo if d.store == store for leg in d.legs}
        ids[store] = await account_ids(session, store, codes)
    entry_ids = await _next_entry_ids(session, len(todo))
    at = now()
    lines, entries = [], []
    for entry_id, d in zip(entry_ids, todo, strict=True):
        for i, leg in enumerate(d.legs, 1):
            lines.append({"entry_id": entry_id, "line_no": i,
                          "account_id": ids[d.store][leg.code], "debit": max(leg.amount, 0),
                          "credit": max(-leg.amount, 0), "memo": leg.memo})
        entries.append({"id": entry_id, "store": d.store, "source_type": d.source_type,
                        "source_id": d.source_id, "business_date": d.business_date,
                        "occurred_at": d.occurred_at, "memo": d.memo, "amount": d.debits,
                        "reverses_id": d.reverses_id, "posted_by": d.posted_by,
                        "posted_at": at})
    await session.execute(*bulk_insert(session, JournalLine, lines))
    # The entry rows last: each seals its lines above (see models).
    await session.execute(*bulk_insert(session, JournalEntry, entries))
    return [JournalEntry(**row) for row in entries]  # detached: posted rows never change


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

    Safe against another worker posting the same source at the same moment (a
    savepoint), inside the caller's transaction.

    Raises:
        LedgerError: the legs do not balance, or there are fewer than two.
    """
    draft = Draft(store, source_type, source_id, business_date, occurred_at, legs, memo,
                  posted_by, reverses_id).checked()
    if await entry_for(session, source_type, source_id) is not None:
        return None
    try:
        async with session.begin_nested():
            posted = await post_drafts(session, [draft])
    except IntegrityError:
        if await entry_for(session, source_type, source_id) is not None:
            return None  # posted by another worker meanwhile: exactly once
        raise
    return posted[0] if posted else None


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
