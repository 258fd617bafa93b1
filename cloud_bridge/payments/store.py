"""Database access of the payments package: rows, claims and state transitions.

Every transition is a conditional UPDATE (``WHERE status IN (...)``), so two bridge
workers racing on one payment cannot both win: the loser's rowcount is 0.

The transactions are synchronous SQLAlchemy Core over a Connection, run through
:meth:`cloud_bridge.db.Database.transact_sync`: on SQLite a group of them is one call
into the database's thread (see ``_transact``), and each is as few statements as it
can be (a transition and the row it leaves are one ``UPDATE ... RETURNING``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Generic, NotRequired, Protocol, TypedDict, TypeVar

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from cloud_bridge.db import Database, table_of

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


def snapshot(m: RowMapping) -> PaymentRow:
    """A payment as handed out, from its row (read in the transaction)."""
    return {
        "out_trade_no": m["out_trade_no"], "order_no": m["order_no"], "method": m["method"],
        "amount": m["amount"], "currency": m["currency"], "status": m["status"],
        "reason": m["reason"], "provider_code": m["provider_code"],
        "provider_ref": m["provider_ref"], "card_last4": m["card_last4"],
        "refunded": m["refunded"], "store": m["store"], "kiosk": m["kiosk"],
        "member_id": m["member_id"],
    }


PAYMENTS = table_of(Payment)


def _row(conn: Connection, out_trade_no: str, *, for_update: bool = False) -> RowMapping | None:
    """The payment's row, read in ``conn``'s transaction (locked on PostgreSQL if asked)."""
    q = select(PAYMENTS).where(PAYMENTS.c.out_trade_no == out_trade_no)
    if for_update:  # FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes
        q = q.with_for_update()
    return conn.execute(q).mappings().first()


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


def _check_owner(existing: PaymentRow, fields: Mapping[str, object]) -> None:
    """Refuse a repeat of an out_trade_no from another store or kiosk (issue 11).

    Kiosk ids repeat across stores; a repeat from elsewhere must never be answered with
    the first kiosk's outcome (that would tell store B "paid" for store A's money).
    """
    if (existing["store"], existing["kiosk"]) != (fields.get("store"), fields.get("kiosk")):
        raise PaymentConflict(
            f"out_trade_no {fields.get('out_trade_no')} belongs to {existing['store']}/"
            f"{existing['kiosk']}, not {fields.get('store')}/{fields.get('kiosk')}")


class _Waiting(Protocol):
    """A queued transaction, whatever its result type (see :class:`_Queued`)."""

    def run(self, c: Connection) -> None: ...

    def deliver(self) -> None: ...

    async def run_alone(self, db: Database) -> None: ...


class _Queued(Generic[T]):
    """One caller's transaction waiting for its turn, and the future its caller awaits."""

    def __init__(self, work: Callable[[Connection], T], fut: asyncio.Future[T]) -> None:
        self.work = work
        self.fut = fut
        self._result: tuple[T] | None = None  # set by run, handed over after the commit

    def run(self, c: Connection) -> None:
        """Run the work in the group's transaction; its result waits for the commit."""
        self._result = (self.work(c),)

    def deliver(self) -> None:
        """The group committed: hand the caller its result."""
        if self._result is not None and not self.fut.done():
            self.fut.set_result(self._result[0])

    async def run_alone(self, db: Database) -> None:
        """Run the work in a transaction of its own; its caller gets the outcome."""
        try:
            result = await db.transact_sync(self.work)
        except Exception as err:
            if not self.fut.done():
                self.fut.set_exception(err)
        else:
            if not self.fut.done():
                self.fut.set_result(result)


class PaymentStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite: our transactions take turns here (see _transact); None on PostgreSQL.
        self._sqlite_turn = asyncio.Lock() if db.is_sqlite else None
        self._queued: list[_Waiting] = []

    async def _transact(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in a committed transaction and return its result.

        On SQLite every transaction takes the one write lock (``BEGIN IMMEDIATE``, see
        db.py). Concurrent ones from this process would wait in SQLite's busy handler,
        which sleeps in growing steps (up to 100 ms); that sleeping, not the work, was
        most of a payment's time under a burst of charges. Instead they queue here, and
        whoever gets the turn runs everything queued so far in ONE transaction (group
        commit), in one call into the database's thread: each ``work`` runs as it would
        alone, in arrival order, and each caller gets its result only after the commit,
        so an attempt is still on disk before the provider is called. If the shared
        transaction fails, each work is retried alone, so one bad work fails only its
        own caller. Other writers (ingest, other processes) still wait on
        ``busy_timeout`` as before.
        """
        if self._sqlite_turn is None:
            return await self.db.transact_sync(work)
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        entry = _Queued(work, fut)
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

    async def _run_group(self, batch: list[_Waiting]) -> None:
        if len(batch) > 1:

            def all_of_them(c: Connection) -> None:
                for queued in batch:
                    queued.run(c)

            try:
                await self.db.transact_sync(all_of_them)
            except Exception:
                log.warning("group commit of %d payment transactions failed; "
                            "running them one by one", len(batch), exc_info=True)
            else:
                for queued in batch:
                    queued.deliver()
                return
        for queued in batch:
            await queued.run_alone(self.db)

    async def get_own(self, out_trade_no: str, store: str, kiosk: str) -> PaymentRow | None:
        """The payment when ``store``/``kiosk`` made it, else ``None`` (whoever else did)."""
        row = await self.get(out_trade_no)
        if row is None or (row["store"], row["kiosk"]) != (store, kiosk):
            return None
        return row

    async def get(self, out_trade_no: str) -> PaymentRow | None:
        def work(c: Connection) -> PaymentRow | None:
            row = _row(c, out_trade_no)
            return snapshot(row) if row is not None else None

        return await self._transact(work)

    async def create(self, *, status: str, **fields: object) -> tuple[bool, PaymentRow]:
        """Insert a new payment; (False, existing) when the out_trade_no is known already.

        Committed before this returns: the attempt is on disk before any provider call.

        Raises:
            PaymentConflict: the out_trade_no belongs to another store or kiosk.
            PaymentRefused: the row breaks a constraint other than the out_trade_no key.
        """
        now = utcnow()
        values = dict(status=status, business_date=business_date(now), created_at=now,
                      updated_at=now, attempts=1 if status == CHARGING else 0,
                      unknown_since=now if status == UNKNOWN else None, **fields)
        no = str(fields["out_trade_no"])

        def work(c: Connection) -> tuple[bool, PaymentRow]:
            existing = _row(c, no)
            if existing is not None:
                found = snapshot(existing)
                _check_owner(found, fields)
                return False, found
            # The generic INSERT, not the dialects' ON CONFLICT one: SQLAlchemy caches its
            # compiled form (not theirs), and on SQLite the statements cost no round trip.
            new = c.execute(insert(PAYMENTS).values(**values).returning(*PAYMENTS.c))
            return True, snapshot(new.mappings().one())

        try:
            return await self._transact(work)
        except IntegrityError as err:
            if not _is_duplicate_trade_no(err):
                raise PaymentRefused(f"payment {no} refused by the database: "
                                     f"{' '.join(str(err.orig).split())[:200]}") from err
            # Inserted meanwhile by a concurrent request for the same payment: a repeat.
            existing_row = await self.get(no)
            if existing_row is None:
                raise PaymentRefused(f"payment {no}: duplicate key but no row") from err
            _check_owner(existing_row, fields)
            return False, existing_row

    async def transition(self, out_trade_no: str, from_status: tuple[str, ...], to_status: str,
                         **fields: object) -> bool:
        """Move to ``to_status`` only from one of ``from_status``; True when this call did it."""
        moved, _ = await self.transition_row(out_trade_no, from_status, to_status, **fields)
        return moved

    async def transition_row(self, out_trade_no: str, from_status: tuple[str, ...],
                             to_status: str, **fields: object) -> tuple[bool, PaymentRow | None]:
        """:meth:`transition`, plus the row as it stands afterwards (whoever moved it),
        read in the same transaction: one commit where a transition and a get took two."""
        now = utcnow()
        values: dict[str, object] = {"status": to_status, "updated_at": now, **fields}
        if to_status in FINAL:
            values["settled_at"] = now
            values["lease_until"] = None
        if to_status == UNKNOWN and "unknown_since" not in fields:
            values.setdefault("lease_until", None)
        stmt = (update(PAYMENTS)
                .where(PAYMENTS.c.out_trade_no == out_trade_no,
                       PAYMENTS.c.status.in_(from_status))
                .values(**values)
                .returning(*PAYMENTS.c))

        def work(c: Connection) -> tuple[bool, PaymentRow | None]:
            row = c.execute(stmt).mappings().first()
            if row is not None:
                return True, snapshot(row)
            row = _row(c, out_trade_no)
            return False, snapshot(row) if row is not None else None

        return await self._transact(work)

    async def mark_unknown(self, out_trade_no: str, reason: str, code: str) -> bool:
        now = utcnow()
        stmt = (update(PAYMENTS)
                .where(PAYMENTS.c.out_trade_no == out_trade_no, PAYMENTS.c.status == CHARGING)
                .values(status=UNKNOWN, reason=reason, provider_code=code, updated_at=now,
                        unknown_since=func.coalesce(PAYMENTS.c.unknown_since, now)))

        def work(c: Connection) -> bool:
            return c.execute(stmt).rowcount == 1

        return await self._transact(work)

    async def claim_for_settlement(self, out_trade_no: str, lease_s: float,
                                   charge_stale_s: float) -> PaymentRow | None:
        """Take the right to settle: from unknown, from an orphaned charging row (its worker
        died), or from a settling row whose lease ran out. None when someone else holds it."""
        now = utcnow()

        def work(c: Connection) -> PaymentRow | None:
            p = _row(c, out_trade_no, for_update=True)
            if p is None:
                return None
            ok = (
                p["status"] == UNKNOWN
                or (p["status"] == CHARGING
                    and p["updated_at"] < now - timedelta(seconds=charge_stale_s))
                or (p["status"] == SETTLING
                    and (p["lease_until"] is None or p["lease_until"] < now))
            )
            if not ok:
                return None
            since = p["unknown_since"] or now
            changed = c.execute(
                update(PAYMENTS)
                .where(PAYMENTS.c.out_trade_no == out_trade_no, PAYMENTS.c.status == p["status"])
                .values(status=SETTLING, lease_until=now + timedelta(seconds=lease_s),
                        updated_at=now, unknown_since=since)).rowcount
            if changed != 1:
                return None
            snap = snapshot(p)
            snap["status"] = SETTLING
            snap["unknown_since"] = since
            return snap

        return await self._transact(work)

    async def list(self, *, status: tuple[str, ...] | None = None, day: str | None = None,
                   methods: tuple[str, ...] | None = None) -> list[PaymentRow]:
        q = select(PAYMENTS)
        if status:
            q = q.where(PAYMENTS.c.status.in_(status))
        if day:
            q = q.where(PAYMENTS.c.business_date == day)
        if methods:
            q = q.where(PAYMENTS.c.method.in_(methods))

        def work(c: Connection) -> list[PaymentRow]:
            return [snapshot(m) for m in c.execute(q.order_by(PAYMENTS.c.id)).mappings()]

        return await self._transact(work)
