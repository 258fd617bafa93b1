"""Database access of the payments package: rows, claims and state transitions.

Every transition is a conditional UPDATE (``WHERE status IN (...)``), so two bridge
workers racing on one payment cannot both win: the loser's rowcount is 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NotRequired, TypedDict, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database, rows_changed

from .models import CHARGING, FINAL, SETTLING, UNKNOWN, Payment

log = logging.getLogger(__name__)

CHINA_TZ = timezone(timedelta(hours=8))

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def business_date(at: datetime | None = None) -> str:
    """The day a provider books a payment on (its bills are in China time)."""
    return (at or utcnow()).astimezone(CHINA_TZ).strftime("%Y-%m-%d")


class PaymentRow(TypedDict):
    """A payment as the store hands it out: its row, copied inside the transaction."""

    out_trade_no: str
    order_no: str | None
    method: str
    amount: int
    currency: str
    status: str
    reason: str | None
    provider_code: str | None
    provider_ref: str | None
    card_last4: str | None
    refunded: int
    store: str
    kiosk: str | None
    member_id: str | None
    # Set on a row claimed for settlement: when its outcome became unknown.
    unknown_since: NotRequired[datetime]


def snapshot(p: Payment) -> PaymentRow:
    return {
        "out_trade_no": p.out_trade_no, "order_no": p.order_no, "method": p.method,
        "amount": p.amount, "currency": p.currency, "status": p.status, "reason": p.reason,
        "provider_code": p.provider_code, "provider_ref": p.provider_ref,
        "card_last4": p.card_last4, "refunded": p.refunded, "store": p.store, "kiosk": p.kiosk,
        "member_id": p.member_id,
    }


# Transactions of concurrent payments committed together on SQLite (see _transact):
# enough to take a burst from a store's kiosks in one commit, few enough that one
# commit stays short for the writers queued behind it.
GROUP_COMMIT_MAX = 32


class PaymentRefused(Exception):
    """The database refused a new payment for a reason other than a repeat of its
    out_trade_no (a check such as ``amount > 0``): bad input or a bug, never a duplicate."""


def _is_duplicate_trade_no(err: IntegrityError) -> bool:
    """Whether ``err`` is the unique key on ``out_trade_no`` (the same payment inserted by a
    concurrent request), as opposed to any other constraint the row broke."""
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:  # PostgreSQL: 23505 unique_violation; the detail names the key
        return sqlstate == "23505" and "out_trade_no" in text
    # SQLite: "UNIQUE constraint failed: payments.out_trade_no"
    return "UNIQUE constraint failed" in text and "out_trade_no" in text


class PaymentConflict(Exception):
    """An out_trade_no already used by another store or kiosk: never a replay of it."""


def _check_owner(existing: Payment | PaymentRow, fields: dict[str, Any]) -> None:
    """Refuse a repeat of an out_trade_no from another store or kiosk (issue 11).

    Kiosk ids repeat across stores; a repeat from elsewhere must never be answered with
    the first kiosk's outcome (that would tell store B "paid" for store A's money).
    """
    get = existing.get if isinstance(existing, dict) else lambda k: getattr(existing, k)
    if (get("store"), get("kiosk")) != (fields.get("store"), fields.get("kiosk")):
        raise PaymentConflict(
            f"out_trade_no {fields.get('out_trade_no')} belongs to {get('store')}/"
            f"{get('kiosk')}, not {fields.get('store')}/{fields.get('kiosk')}")


class PaymentStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite: our transactions take turns here (see _transact); None on PostgreSQL.
        self._sqlite_turn = asyncio.Lock() if db.is_sqlite else None
        self._queued: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future]] = []

    async def _transact(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work(session)`` in a committed transaction and return its result.

        On SQLite every transaction takes the one write lock (``BEGIN IMMEDIATE``, see
        db.py). Concurrent ones from this process would wait in SQLite's busy handler,
        which sleeps in growing steps (up to 100 ms); that sleeping, not the work, was
        most of a payment's time under a burst of charges. Instead they queue here, and
        whoever gets the turn runs everything queued so far in ONE transaction (group
        commit): each ``work`` runs as it would alone, in arrival order, and each caller
        gets its result only after the commit, so an attempt is still on disk before
        the provider is called. If the shared transaction fails, each work is retried
        alone, so one bad work fails only its own caller. Other writers (ingest, other
        processes) still wait on ``busy_timeout`` as before.
        """
        if self._sqlite_turn is None:
            return await self.db.transact(work)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        entry = (work, fut)
        self._queued.append(entry)
        try:
            async with self._sqlite_turn:
                if not fut.done():
                    batch = self._queued[:GROUP_COMMIT_MAX]
                    del self._queued[:GROUP_COMMIT_MAX]
                    # Shielded: the other callers in the batch wait on its outcome.
                    await asyncio.shield(self._run_group(batch))
        except asyncio.CancelledError:
            if entry in self._queued:   # not started: it never will be
                self._queued.remove(entry)
            raise
        return fut.result()

    async def _run_group(self, batch: list[tuple[Callable[[AsyncSession], Awaitable[Any]],
                                                 asyncio.Future]]) -> None:
        if len(batch) > 1:
            async def all_of_them(s: AsyncSession) -> list[Any]:
                results = []
                for work, _ in batch:
                    results.append(await work(s))
                    s.expunge_all()   # the next work reads rows afresh, as it would alone
                return results

            try:
                results = await self.db.transact(all_of_them)
            except Exception:
                log.warning("group commit of %d payment transactions failed; "
                            "running them one by one", len(batch), exc_info=True)
            else:
                for (_, fut), result in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(result)
                return
        for work, fut in batch:
            try:
                result = await self.db.transact(work)
            except Exception as err:
                if not fut.done():
                    fut.set_exception(err)
            else:
                if not fut.done():
                    fut.set_result(result)

    async def get_own(self, out_trade_no: str, store: str, kiosk: str) -> PaymentRow | None:
        """The payment when ``store``/``kiosk`` made it, else ``None`` (whoever else did)."""
        row = await self.get(out_trade_no)
        if row is None or (row["store"], row["kiosk"]) != (store, kiosk):
            return None
        return row

    async def get(self, out_trade_no: str) -> PaymentRow | None:
        async def work(s: AsyncSession) -> PaymentRow | None:
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
            return snapshot(p) if p else None

        return await self._transact(work)

    async def create(self, *, status: str, **fields: Any) -> tuple[bool, PaymentRow]:
        """Insert a new payment; (False, existing) when the out_trade_no is known already.

        Committed before this returns: the attempt is on disk before any provider call.

        Raises:
            PaymentConflict: the out_trade_no belongs to another store or kiosk.
            PaymentRefused: the row breaks a constraint other than the out_trade_no key.
        """
        now = utcnow()

        async def work(s: AsyncSession) -> tuple[bool, PaymentRow]:
            existing = await s.scalar(
                select(Payment).where(Payment.out_trade_no == fields["out_trade_no"]))
            if existing is not None:
                _check_owner(existing, fields)
                return False, snapshot(existing)
            p = Payment(status=status, business_date=business_date(now), created_at=now,
                        updated_at=now, attempts=1 if status == CHARGING else 0,
                        unknown_since=now if status == UNKNOWN else None, **fields)
            s.add(p)
            await s.flush()
            return True, snapshot(p)

        try:
            return await self._transact(work)
        except IntegrityError as err:
            no = fields["out_trade_no"]
            if not _is_duplicate_trade_no(err):
                raise PaymentRefused(f"payment {no} refused by the database: "
                                     f"{' '.join(str(err.orig).split())[:200]}") from err
            # Inserted meanwhile by a concurrent request for the same payment: a repeat.
            existing = await self.get(no)
            if existing is None:  # rows are never deleted, so the key cannot vanish
                raise PaymentRefused(f"payment {no}: duplicate key but no row") from err
            _check_owner(existing, fields)
            return False, existing

    async def transition(self, out_trade_no: str, from_status: tuple[str, ...], to_status: str,
                         **fields: Any) -> bool:
        """Move to ``to_status`` only from one of ``from_status``; True when this call did it."""
        moved, _ = await self.transition_row(out_trade_no, from_status, to_status, **fields)
        return moved

    async def transition_row(self, out_trade_no: str, from_status: tuple[str, ...],
                             to_status: str, **fields: Any) -> tuple[bool, PaymentRow | None]:
        """:meth:`transition`, plus the row as it stands afterwards (whoever moved it),
        read in the same transaction: one commit where a transition and a get took two."""
        now = utcnow()
        values: dict[str, Any] = {"status": to_status, "updated_at": now, **fields}
        if to_status in FINAL:
            values["settled_at"] = now
            values["lease_until"] = None
        if to_status == UNKNOWN and "unknown_since" not in fields:
            values.setdefault("lease_until", None)

        async def work(s: AsyncSession) -> tuple[bool, PaymentRow | None]:
            p = await s.scalar(
                update(Payment)
                .where(Payment.out_trade_no == out_trade_no, Payment.status.in_(from_status))
                .values(**values)
                .returning(Payment),
                execution_options={"synchronize_session": False})
            if p is not None:
                return True, snapshot(p)
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
            return False, snapshot(p) if p else None

        return await self._transact(work)

    async def mark_unknown(self, out_trade_no: str, reason: str, code: str) -> bool:
        now = utcnow()

        async def work(s: AsyncSession) -> bool:
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
            if p is None or p.status != CHARGING:
                return False
            p.status = UNKNOWN
            p.reason = reason
            p.provider_code = code
            p.updated_at = now
            p.unknown_since = p.unknown_since or now
            return True

        return await self._transact(work)

    async def claim_for_settlement(self, out_trade_no: str, lease_s: float,
                                   charge_stale_s: float) -> PaymentRow | None:
        """Take the right to settle: from unknown, from an orphaned charging row (its worker
        died), or from a settling row whose lease ran out. None when someone else holds it."""
        now = utcnow()

        async def work(s: AsyncSession) -> PaymentRow | None:
            # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes writers.
            p = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no)
                               .with_for_update())
            if p is None:
                return None
            ok = (
                p.status == UNKNOWN
                or (p.status == CHARGING and p.updated_at < now - timedelta(seconds=charge_stale_s))
                or (p.status == SETTLING and (p.lease_until is None or p.lease_until < now))
            )
            if not ok:
                return None
            changed = await rows_changed(
                s, update(Payment)
                .where(Payment.out_trade_no == out_trade_no, Payment.status == p.status)
                .values(status=SETTLING, lease_until=now + timedelta(seconds=lease_s),
                        updated_at=now, unknown_since=p.unknown_since or now))
            if changed != 1:
                return None
            snap = snapshot(p)
            snap["status"] = SETTLING
            snap["unknown_since"] = p.unknown_since or now
            return snap

        return await self._transact(work)

    async def list(self, *, status: tuple[str, ...] | None = None, day: str | None = None,
                   methods: tuple[str, ...] | None = None) -> list[PaymentRow]:
        q = select(Payment)
        if status:
            q = q.where(Payment.status.in_(status))
        if day:
            q = q.where(Payment.business_date == day)
        if methods:
            q = q.where(Payment.method.in_(methods))

        async def work(s: AsyncSession) -> list[PaymentRow]:
            return [snapshot(p) for p in await s.scalars(q.order_by(Payment.id))]

        return await self._transact(work)
