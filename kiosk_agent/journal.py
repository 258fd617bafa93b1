"""The kiosk's journal: every sale, payment attempt, outbox event and print job, in SQLite.

SQLite in WAL mode with ``synchronous=FULL``: a commit that returned survives a
crash or power loss. All sqlite work runs on ONE dedicated worker thread (a
single-thread executor), which owns the connection and keeps every operation in
submission order; the event loop never blocks on the disk.

A completed sale is one transaction (:meth:`Journal.commit_sale`): the order and
its lines, its payment attempts' final status, its outbox events and its receipt
print job are all there or none of them is.

Usage::

    async with Journal(path, store_id, kiosk_id) as j:
        await j.append_events([("device.fault", {...})])
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .journal_schema import SCHEMA_VERSION, SchemaError, migrate
from .wire.base import utcnow
from .wire.events import (
    ORDER_COMPLETED,
    ORDER_PARKED,
    PAYMENT_ATTEMPTED,
    PAYMENT_SETTLED,
    Event,
    OrderCompletedData,
    uuid7,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

PAYMENT_STATUSES = ("pending", "paid", "failed", "unknown", "reversed")
#: Reason of a paid attempt whose order was committed with another tender.
ORPHAN_REASON = "orphan: order committed with another tender"
PRINT_KINDS = ("receipt", "reprint", "test")

# How long a writer waits for the database lock. Only this process writes, but
# `journal check` or an export may hold a read snapshot; WAL readers never block
# the writer, so this is a safety net, not a tuning knob.
BUSY_TIMEOUT_MS = 5000

# Auto-checkpoint the WAL every N pages (the SQLite default is 1000). Kept at the
# default: larger values make commits cheaper but recovery after a crash slower.
WAL_AUTOCHECKPOINT_PAGES = 1000


class JournalError(Exception):
    """A journal operation that cannot be done; the message is safe to log."""


class OrderAlreadyCommitted(JournalError):
    """The order number of a sale being committed is already a committed order."""

    def __init__(self, order_no: str) -> None:
        super().__init__(f"order {order_no} is already committed")
        self.order_no = order_no


class JournalClosed(JournalError):
    """The journal is not open."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One undelivered event: ``payload`` is the exact encoded ``wire.Event`` to publish."""

    event_id: str
    seq: int
    type: str
    payload: bytes
    created_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    oldest_created_at: float | None
    dead_letters: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str
    seq: int
    type: str
    payload: bytes
    reason: str
    failed_at: float


@dataclass(frozen=True, slots=True)
class PrintJob:
    job_id: int
    order_no: str | None
    kind: str
    created_at: float
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PaymentAttempt:
    """A payment attempt as the journal holds it (never the payment code)."""

    out_trade_no: str
    order_no: str
    provider: str
    amount: int
    currency: str
    status: str
    created_at: float
    updated_at: float
    provider_ref: str | None
    reason: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class CommittedSale:
    """What :meth:`Journal.commit_sale` wrote."""

    order_no: str
    event_ids: list[str]
    print_job_id: int | None
    order: OrderCompletedData


@dataclass(frozen=True, slots=True)
class ParkedOrder:
    park_no: str
    created_at: float
    status: str
    total: int
    currency: str
    data: dict[str, Any]


@dataclass(slots=True)
class RecoveryReport:
    """What :meth:`Journal.recover` found and fixed at start-up."""

    print_jobs_added: list[str] = field(default_factory=list)
    attempts_marked_unknown: list[str] = field(default_factory=list)
    sales_committed_from_drafts: list[str] = field(default_factory=list)
    #: paid attempts whose order was committed with another tender (the cloud refunds them)
    orphan_payments: list[str] = field(default_factory=list)
    pending_print_jobs: int = 0
    outbox_depth: int = 0


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r, using UTC for order numbers", name)
        return UTC


class Journal:
    """The kiosk's durable store. An async context manager; see the module docstring.

    Args:
        path: the SQLite file (created with its parent directory if missing).
        store_id: this kiosk's store, written into every event.
        kiosk_id: this kiosk, the prefix of order numbers.
        timezone: the shop's time zone; the business day of order numbers.
    """

    def __init__(
        self,
        path: Path | str,
        store_id: str,
        kiosk_id: str,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.path = Path(path)
        self.store_id = store_id
        self.kiosk_id = kiosk_id
        self.tz = _zone(timezone)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.outbox_signal = asyncio.Event()
        self.print_signal = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open (creating or migrating) the database on the journal's own thread."""
        if self._executor is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        try:
            await self._call(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise
        # A fresh journal may already hold undelivered events or jobs from before.
        self.outbox_signal.set()
        self.print_signal.set()

    async def close(self) -> None:
        """Finish queued work, checkpoint the WAL and close the connection."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        finally:
            executor.shutdown(wait=True)

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Refuse a newer schema before touching the file (WAL mode rewrites the header).
            (found,) = conn.execute("PRAGMA user_version").fetchone()
            if found > SCHEMA_VERSION:
                raise SchemaError(
                    f"{self.path}: journal schema version {found} is newer than this "
                    f"software ({SCHEMA_VERSION})"
                )
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"cannot switch {self.path} to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            old = migrate(conn)
            if old != SCHEMA_VERSION:
                log.info("journal %s migrated from schema %d to %d", self.path, old, SCHEMA_VERSION)
        except sqlite3.DatabaseError as err:
            conn.close()
            raise JournalError(f"{self.path}: {err}") from err
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as err:  # closing anyway; the WAL is replayed next open
            log.warning("journal checkpoint on close failed: %s", err)
        conn.close()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise JournalClosed("journal is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction on the journal thread."""
        conn = self._conn
        if conn is None:
            raise JournalClosed("journal is not open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise JournalClosed("journal is not open")
        return fn(conn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one transaction on the journal thread (for extensions)."""
        return await self._call(self._tx, fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run read-only ``fn(conn)`` on the journal thread (for queries by other components)."""
        return await self._call(self._read, fn)

    # -- counters ------------------------------------------------------------------

    @staticmethod
    def _bump(conn: sqlite3.Connection, key: str, n: int = 1) -> int:
        """Add ``n`` to the integer counter ``key`` (absent = 0); return the new value."""
        row = conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ? RETURNING value",
            (key, str(n), n),
        ).fetchone()
        return int(row[0])

    def _reserve_seq(self, conn: sqlite3.Connection, n: int) -> int:
        """Reserve ``n`` consecutive outbox seqs; return the first (seqs start at 0)."""
        return self._bump(conn, "outbox_seq", n) - n

    def business_day(self, when: datetime | None = None) -> str:
        """``yyyymmdd`` of ``when`` (default now) in the shop's time zone."""
        when = when or utcnow()
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(self.tz).strftime("%Y%m%d")

    def _next_order_no(self, conn: sqlite3.Connection, day: str) -> str:
        seq = self._bump(conn, f"order_seq:{day}")
        return f"{self.kiosk_id}-{day}-{seq:04d}"

    async def reserve_order_no(self, when: datetime | None = None) -> str:
        """Allocate the next order number durably, e.g. before a payment attempt needs it.

        A reserved number whose sale never completes stays unused (a gap staff can
        explain with the voided attempt that carries it).
        """
        day = self.business_day(when)
        return await self._call(self._tx, lambda c: self._next_order_no(c, day))

    # -- outbox --------------------------------------------------------------------

    def _insert_events(
        self, conn: sqlite3.Connection, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        if not events:
            return []
        first = self._reserve_seq(conn, len(events))
        now = time.time()
        ts = utcnow()
        rows = []
        ids = []
        for i, (etype, data) in enumerate(events):
            event_id = uuid7()
            event = Event(
                event_id=event_id, type=etype, store=self.store_id, kiosk=self.kiosk_id,
                seq=first + i, ts=ts, data=data,
            )
            rows.append((first + i, event_id, etype, event.encode(), now))
            ids.append(event_id)
        conn.executemany(
            "INSERT INTO outbox(seq, event_id, type, payload, created_at) VALUES (?,?,?,?,?)", rows
        )
        return ids

    async def append_events(self, events: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
        """Append standalone events in one transaction; returns their event ids in order."""
        events = [(str(t), dict(d)) for t, d in events]
        ids = await self._call(self._tx, lambda c: self._insert_events(c, events))
        if ids:
            self.outbox_signal.set()
        return ids

    async def outbox_pending(self, limit: int, after_seq: int = -1) -> list[OutboxRow]:
        """Undelivered (not dead) events with ``seq > after_seq``, oldest first."""

        def q(conn: sqlite3.Connection) -> list[OutboxRow]:
            cur = conn.execute(
                "SELECT event_id, seq, type, payload, created_at, attempts FROM outbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            )
            return [OutboxRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5]) for r in cur]

        return await self._call(self._read, q)

    async def outbox_mark_sent(self, event_ids: Sequence[str]) -> None:
        """Count one more delivery attempt for each event (shown in telemetry/TUI)."""
        ids = [(e,) for e in event_ids]
        if ids:
            await self._call(
                self._tx,
                lambda c: c.executemany(
                    "UPDATE outbox SET attempts = attempts + 1 WHERE event_id = ?", ids
                ),
            )

    async def outbox_ack(self, event_ids: Sequence[str]) -> int:
        """Delete acked events; unknown ids are ignored. Returns how many were deleted."""
        ids = [(e,) for e in event_ids]
        if not ids:
            return 0

        def tx(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE event_id = ?", ids)
            return conn.total_changes - before

        return await self._call(self._tx, tx)

    async def outbox_reject(self, event_id: str, reason: str) -> bool:
        """Move an event the cloud refused to the dead-letter list; False if unknown."""

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM outbox WHERE event_id = ? "
                "RETURNING event_id, seq, type, payload, created_at",
                (event_id,),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO dead_letters"
                "(event_id, seq, type, payload, created_at, reason, failed_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (*row, reason, time.time()),
            )
            return True

        moved = await self._call(self._tx, tx)
        if moved:
            log.warning("event %s dead-lettered: %s", event_id, reason)
        return moved

    async def outbox_stats(self) -> OutboxStats:
        def q(conn: sqlite3.Connection) -> OutboxStats:
            depth, oldest = conn.execute("SELECT count(*), min(created_at) FROM outbox").fetchone()
            (dead,) = conn.execute(
                "SELECT count(*) FROM dead_letters WHERE discarded_at IS NULL"
            ).fetchone()
            return OutboxStats(depth=depth, oldest_created_at=oldest, dead_letters=dead)

        return await self._call(self._read, q)

    async def dead_letters(self) -> list[DeadLetter]:
        """Dead letters not yet discarded, oldest first."""

        def q(conn: sqlite3.Connection) -> list[DeadLetter]:
            cur = conn.execute(
                "SELECT event_id, seq, type, payload, reason, failed_at FROM dead_letters "
                "WHERE discarded_at IS NULL ORDER BY seq"
            )
            return [DeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], r[5]) for r in cur]

        return await self._call(self._read, q)

    async def retry_dead_letter(self, event_id: str) -> bool:
        """Put a dead letter back in the outbox (same event id, a new seq at the end)."""

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM dead_letters WHERE event_id = ? AND discarded_at IS NULL "
                "RETURNING type, payload, created_at",
                (event_id,),
            ).fetchone()
            if row is None:
                return False
            etype, payload, created_at = row
            seq = self._reserve_seq(conn, 1)
            event = Event.model_validate_json(bytes(payload)).model_copy(update={"seq": seq})
            conn.execute(
                "INSERT INTO outbox(seq, event_id, type, payload, created_at) VALUES (?,?,?,?,?)",
                (seq, event_id, etype, event.encode(), created_at),
            )
            return True

        done = await self._call(self._tx, tx)
        if done:
            self.outbox_signal.set()
        return done

    async def discard_dead_letter(self, event_id: str, reason: str) -> bool:
        """Mark a dead letter discarded by staff (kept for audit, hidden from the list)."""

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE dead_letters SET discarded_at = ?, discard_reason = ? "
                "WHERE event_id = ? AND discarded_at IS NULL",
                (time.time(), reason, event_id),
            )
            return cur.rowcount > 0

        return await self._call(self._tx, tx)

    # -- print jobs ----------------------------------------------------------------

    @staticmethod
    def _insert_print_job(conn: sqlite3.Connection, order_no: str | None, kind: str) -> int:
        if kind not in PRINT_KINDS:
            raise JournalError(f"unknown print job kind {kind!r}")
        cur = conn.execute(
            "INSERT INTO print_jobs(order_no, kind, created_at) VALUES (?,?,?)",
            (order_no, kind, time.time()),
        )
        return int(cur.lastrowid or 0)

    async def add_print_job(self, order_no: str | None, kind: str) -> int:
        """Queue a print job (``receipt`` | ``reprint`` | ``test``); returns its id."""
        if kind not in PRINT_KINDS:
            raise JournalError(f"unknown print job kind {kind!r}")
        job_id = await self._call(self._tx, lambda c: self._insert_print_job(c, order_no, kind))
        self.print_signal.set()
        return job_id

    async def print_jobs_pending(self) -> list[PrintJob]:
        def q(conn: sqlite3.Connection) -> list[PrintJob]:
            cur = conn.execute(
                "SELECT job_id, order_no, kind, created_at, attempts, last_error FROM print_jobs "
                "WHERE status = 'pending' ORDER BY job_id"
            )
            return [PrintJob(*r) for r in cur]

        return await self._call(self._read, q)

    async def print_job_done(self, job_id: int) -> bool:
        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE print_jobs SET status = 'done', done_at = ?, attempts = attempts + 1 "
                "WHERE job_id = ? AND status = 'pending'",
                (time.time(), job_id),
            )
            return cur.rowcount > 0

        return await self._call(self._tx, tx)

    async def print_job_failed(self, job_id: int, reason: str) -> bool:
        """Record a failed try; the job stays pending and is printed when the printer is back."""

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE print_jobs SET attempts = attempts + 1, last_error = ? "
                "WHERE job_id = ? AND status = 'pending'",
                (reason, job_id),
            )
            return cur.rowcount > 0

        return await self._call(self._tx, tx)

    async def order_receipt(self, order_no: str) -> OrderCompletedData | None:
        """The committed sale as the wire model (what the receipt prints), or None."""

        def q(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT data FROM orders WHERE order_no = ?", (order_no,)).fetchone()
            return row[0] if row else None

        data = await self._call(self._read, q)
        return OrderCompletedData.model_validate_json(data) if data is not None else None

    # -- payment attempts ----------------------------------------------------------

    async def begin_payment_attempt(
        self, order_no: str, out_trade_no: str, provider: str, amount: int, currency: str,
        draft: OrderCompletedData | None = None,
    ) -> PaymentAttempt:
        """Persist an attempt BEFORE the charge request (status ``pending``).

        A retry with the same ``out_trade_no`` reuses the row (same amount required)
        and counts the retry; it is never a second attempt with a new number.
        ``draft`` is the sale this attempt pays for: if the agent dies before the sale
        is committed and the payment turns out paid, the sale is committed from it
        (:meth:`commit_paid_attempt`, :meth:`recover`).
        """
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise JournalError("amount must be a non-negative integer of minor units")
        draft_json = draft.model_dump_json() if draft is not None else None

        def tx(conn: sqlite3.Connection) -> PaymentAttempt:
            now = time.time()
            row = conn.execute(
                "SELECT order_no, provider, amount, currency, status FROM payment_attempts "
                "WHERE out_trade_no = ?",
                (out_trade_no,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO payment_attempts(out_trade_no, order_no, provider, amount, "
                    "currency, status, created_at, updated_at, order_draft)"
                    " VALUES (?,?,?,?,?,'pending',?,?,?)",
                    (out_trade_no, order_no, provider, amount, currency, now, now, draft_json),
                )
            else:
                if tuple(row[:4]) != (order_no, provider, amount, currency):
                    raise JournalError(
                        f"out_trade_no {out_trade_no} already used with different "
                        "order, provider or amount"
                    )
                if row[4] in ("paid", "reversed"):
                    raise JournalError(f"out_trade_no {out_trade_no} is already {row[4]}")
                conn.execute(
                    "UPDATE payment_attempts SET status = 'pending', attempts = attempts + 1, "
                    "updated_at = ?, order_draft = coalesce(?, order_draft) WHERE out_trade_no = ?",
                    (now, draft_json, out_trade_no),
                )
            return self._attempt(conn, out_trade_no)

        return await self._call(self._tx, tx)

    @staticmethod
    def _attempt(conn: sqlite3.Connection, out_trade_no: str) -> PaymentAttempt:
        row = conn.execute(
            "SELECT out_trade_no, order_no, provider, amount, currency, status, created_at, "
            "updated_at, provider_ref, reason, attempts FROM payment_attempts "
            "WHERE out_trade_no = ?",
            (out_trade_no,),
        ).fetchone()
        if row is None:
            raise JournalError(f"no payment attempt {out_trade_no}")
        return PaymentAttempt(*row)

    async def set_payment_attempt_status(
        self,
        out_trade_no: str,
        status: str,
        provider_ref: str | None = None,
        reason: str | None = None,
    ) -> PaymentAttempt:
        """Record a payment outcome (pending | paid | failed | unknown | reversed)."""
        if status not in PAYMENT_STATUSES:
            raise JournalError(f"unknown payment status {status!r}")

        def tx(conn: sqlite3.Connection) -> PaymentAttempt:
            cur = conn.execute(
                "UPDATE payment_attempts SET status = ?, updated_at = ?, "
                "provider_ref = coalesce(?, provider_ref), reason = coalesce(?, reason) "
                "WHERE out_trade_no = ?",
                (status, time.time(), provider_ref, reason, out_trade_no),
            )
            if cur.rowcount == 0:
                raise JournalError(f"no payment attempt {out_trade_no}")
            return self._attempt(conn, out_trade_no)

        return await self._call(self._tx, tx)

    async def payment_attempts(
        self, status: str | None = None, order_no: str | None = None
    ) -> list[PaymentAttempt]:
        """Attempts, optionally filtered by status and/or order, oldest first."""

        def q(conn: sqlite3.Connection) -> list[PaymentAttempt]:
            sql = (
                "SELECT out_trade_no, order_no, provider, amount, currency, status, created_at, "
                "updated_at, provider_ref, reason, attempts FROM payment_attempts WHERE 1=1"
            )
            args: list[Any] = []
            if status is not None:
                sql += " AND status = ?"
                args.append(status)
            if order_no is not None:
                sql += " AND order_no = ?"
                args.append(order_no)
            return [PaymentAttempt(*r) for r in conn.execute(sql + " ORDER BY created_at", args)]

        return await self._call(self._read, q)

    # -- sales ---------------------------------------------------------------------

    def _commit_sale_tx(
        self,
        conn: sqlite3.Connection,
        order: OrderCompletedData,
        extra_events: Sequence[tuple[str, dict[str, Any]]],
        print_receipt: bool,
    ) -> CommittedSale:
        day = self.business_day(order.created_at)
        if not order.order_no:
            order = order.model_copy(update={"order_no": self._next_order_no(conn, day)})
        order_no = order.order_no
        data = order.model_dump(mode="json")
        now = time.time()
        try:
            conn.execute(
                "INSERT INTO orders(order_no, created_at, completed_at, committed_at, business_day,"
                " currency, subtotal, discount_total, total, member_id, catalog_version, offline,"
                " data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    order_no, data["created_at"], data["completed_at"], now, day, order.currency,
                    order.subtotal, order.discount_total, order.total, order.member_id,
                    order.catalog_version, int(order.offline),
                    json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                ),
            )
        except sqlite3.IntegrityError as err:
            raise OrderAlreadyCommitted(order_no) from err
        conn.executemany(
            "INSERT INTO order_lines(order_no, line_no, product_id, barcode, name_zh, qty,"
            " weight_g, unit_price, list_amount, discount, amount, vat_rate_bp)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    order_no, ln.line_no, ln.product_id, ln.barcode, ln.name_zh, ln.qty,
                    ln.weight_g, ln.unit_price, ln.list_amount, ln.discount, ln.amount,
                    ln.vat_rate_bp,
                )
                for ln in order.lines
            ],
        )
        events: list[tuple[str, dict[str, Any]]] = [(ORDER_COMPLETED, data)]
        for tender in order.tenders:
            if tender.out_trade_no:
                cur = conn.execute(
                    "UPDATE payment_attempts SET status = 'paid', updated_at = ?,"
                    " provider_ref = coalesce(?, provider_ref) WHERE out_trade_no = ?",
                    (now, tender.provider_ref, tender.out_trade_no),
                )
                if cur.rowcount == 0:
                    conn.execute(
                        "INSERT INTO payment_attempts(out_trade_no, order_no, provider, amount,"
                        " currency, status, created_at, updated_at, provider_ref)"
                        " VALUES (?,?,?,?,?,'paid',?,?,?)",
                        (
                            tender.out_trade_no, order_no, tender.method, tender.amount,
                            tender.currency, now, now, tender.provider_ref,
                        ),
                    )
            events.append(
                (
                    PAYMENT_SETTLED,
                    {
                        "order_no": order_no, "out_trade_no": tender.out_trade_no,
                        "method": tender.method, "amount": tender.amount,
                        "currency": tender.currency, "provider_ref": tender.provider_ref,
                        "status": "paid", "offline": tender.offline,
                    },
                )
            )
        events.extend(extra_events)
        event_ids = self._insert_events(conn, events)
        job_id = self._insert_print_job(conn, order_no, "receipt") if print_receipt else None
        return CommittedSale(order_no, event_ids, job_id, order)

    async def commit_sale(
        self,
        order: OrderCompletedData,
        *,
        extra_events: Sequence[tuple[str, dict[str, Any]]] = (),
        print_receipt: bool = True,
    ) -> CommittedSale:
        """Commit a completed sale in ONE durable transaction.

        Writes the order and its lines, marks each tender's payment attempt ``paid``
        (creating the row for tenders without a prior attempt, e.g. stored value),
        appends ``order.completed`` + one ``payment.settled`` per tender +
        ``extra_events`` to the outbox, and queues the receipt print job. An empty
        ``order.order_no`` gets the next ``{kiosk}-{yyyymmdd}-{seq:04d}`` in the
        same transaction.
        """
        sale = await self._call(
            self._tx, lambda c: self._commit_sale_tx(c, order, list(extra_events), print_receipt)
        )
        self.outbox_signal.set()
        if sale.print_job_id is not None:
            self.print_signal.set()
        return sale

    def _commit_draft_tx(
        self, conn: sqlite3.Connection, out_trade_no: str
    ) -> CommittedSale | None:
        row = conn.execute(
            "SELECT a.order_no, a.provider_ref, a.order_draft,"
            " EXISTS (SELECT 1 FROM orders o WHERE o.order_no = a.order_no)"
            " FROM payment_attempts a"
            " WHERE a.out_trade_no = ? AND a.status = 'paid' AND a.order_draft IS NOT NULL",
            (out_trade_no,),
        ).fetchone()
        if row is None:
            return None
        if row[3]:
            # The order was committed already, with this attempt or another one.
            self._orphan_tx(conn, out_trade_no)
            return None
        draft = OrderCompletedData.model_validate_json(row[2])
        tenders = [
            t.model_copy(update={"provider_ref": row[1]}) if t.out_trade_no == out_trade_no
            else t
            for t in draft.tenders
        ]
        order = draft.model_copy(update={"tenders": tenders, "completed_at": utcnow()})
        return self._commit_sale_tx(conn, order, [], True)

    def _orphan_tx(self, conn: sqlite3.Connection, out_trade_no: str) -> bool:
        """A paid attempt whose order is committed with OTHER tenders: the shopper paid
        twice. Reported once (``payment.settled`` with ``orphan: true``) for the cloud,
        which refunds it; the draft is dropped so no sale is ever committed from it."""
        row = conn.execute(
            "SELECT a.order_no, a.provider, a.amount, a.currency, a.provider_ref, a.reason,"
            " o.data FROM payment_attempts a JOIN orders o ON o.order_no = a.order_no"
            " WHERE a.out_trade_no = ? AND a.status = 'paid'",
            (out_trade_no,),
        ).fetchone()
        if row is None or row[5] == ORPHAN_REASON:
            return False
        order = json.loads(row[6])
        if any(t.get("out_trade_no") == out_trade_no for t in order.get("tenders", [])):
            return False  # this attempt is the order's tender: nothing to report
        conn.execute(
            "UPDATE payment_attempts SET reason = ?, order_draft = NULL, updated_at = ?"
            " WHERE out_trade_no = ?",
            (ORPHAN_REASON, time.time(), out_trade_no),
        )
        self._insert_events(conn, [(PAYMENT_SETTLED, {
            "order_no": row[0], "out_trade_no": out_trade_no, "method": row[1],
            "amount": row[2], "currency": row[3], "provider_ref": row[4], "status": "paid",
            "offline": False, "orphan": True,
        })])
        log.warning("payment %s paid for order %s, which was committed with another "
                    "tender: reported as orphan (the cloud refunds it)", out_trade_no, row[0])
        return True

    async def record_orphan_payment(
        self, out_trade_no: str, provider_ref: str | None = None
    ) -> bool:
        """Mark an attempt paid whose order is already committed with another tender, and
        report it once as an orphan (``payment.settled``, ``orphan: true``) in the same
        transaction. Returns False when the order lists the attempt (nothing to report)."""

        def tx(conn: sqlite3.Connection) -> bool:
            conn.execute(
                "UPDATE payment_attempts SET status = 'paid', updated_at = ?,"
                " provider_ref = coalesce(?, provider_ref) WHERE out_trade_no = ?",
                (time.time(), provider_ref, out_trade_no),
            )
            return self._orphan_tx(conn, out_trade_no)

        reported = await self._call(self._tx, tx)
        if reported:
            self.outbox_signal.set()
        return reported

    async def committed_sale(self, order_no: str) -> CommittedSale | None:
        """The committed sale ``order_no`` with its receipt job (``event_ids`` empty)."""

        def q(conn: sqlite3.Connection) -> tuple[str, int | None] | None:
            row = conn.execute("SELECT data FROM orders WHERE order_no = ?",
                               (order_no,)).fetchone()
            if row is None:
                return None
            job = conn.execute(
                "SELECT max(job_id) FROM print_jobs WHERE order_no = ? AND kind = 'receipt'",
                (order_no,),
            ).fetchone()
            return row[0], job[0]

        found = await self._call(self._read, q)
        if found is None:
            return None
        order = OrderCompletedData.model_validate_json(found[0])
        return CommittedSale(order_no, [], found[1], order)

    async def commit_paid_attempt(self, out_trade_no: str) -> CommittedSale | None:
        """Commit the sale saved with a paid attempt whose sale was never committed.

        For a payment found paid after a restart (the cart was only in memory): the
        order is the draft written by :meth:`begin_payment_attempt`, in one transaction
        with its events and receipt job, as :meth:`commit_sale`. Returns ``None`` when
        the attempt is not paid, has no draft, or its order is already committed (an
        attempt the committed order does not list is then reported as an orphan once).
        """
        sale = await self._call(self._tx, lambda c: self._commit_draft_tx(c, out_trade_no))
        if sale is not None:
            self.outbox_signal.set()
            self.print_signal.set()
        return sale

    async def orders(self, day: str | None = None, limit: int = 100) -> list[OrderCompletedData]:
        """Committed orders, newest first (optionally one business day ``yyyymmdd``)."""

        def q(conn: sqlite3.Connection) -> list[str]:
            if day is None:
                cur = conn.execute(
                    "SELECT data FROM orders ORDER BY committed_at DESC LIMIT ?", (limit,)
                )
            else:
                cur = conn.execute(
                    "SELECT data FROM orders WHERE business_day = ? "
                    "ORDER BY committed_at DESC LIMIT ?",
                    (day, limit),
                )
            return [r[0] for r in cur]

        return [OrderCompletedData.model_validate_json(d) for d in await self._call(self._read, q)]

    async def sales_summary(self, day: str | None = None) -> dict[str, int]:
        """``{"orders": n, "total": fen}`` for a business day (default today)."""
        day = day or self.business_day()

        def q(conn: sqlite3.Connection) -> dict[str, int]:
            n, total = conn.execute(
                "SELECT count(*), coalesce(sum(total), 0) FROM orders WHERE business_day = ?",
                (day,),
            ).fetchone()
            return {"orders": n, "total": total}

        return await self._call(self._read, q)

    # -- recovery ------------------------------------------------------------------

    def _recover_tx(self, conn: sqlite3.Connection) -> RecoveryReport:
        report = RecoveryReport()
        # Paid, but the agent died before the sale was committed: commit it now.
        # Paid for an order committed with another tender: reported once as an orphan.
        for (out_trade_no,) in conn.execute(
            "SELECT out_trade_no FROM payment_attempts WHERE status = 'paid'"
            " AND order_draft IS NOT NULL ORDER BY created_at"
        ).fetchall():
            sale = self._commit_draft_tx(conn, out_trade_no)
            if sale is not None:
                report.sales_committed_from_drafts.append(sale.order_no)
            elif self._is_orphan(conn, out_trade_no):
                report.orphan_payments.append(out_trade_no)
        # A committed sale always carries its receipt job (same transaction); a sale
        # without any receipt job (imported, or committed with print_receipt=False
        # by an older version) gets one, so every paid sale prints exactly once.
        missing = [
            r[0]
            for r in conn.execute(
                "SELECT o.order_no FROM orders o WHERE NOT EXISTS (SELECT 1 FROM print_jobs p"
                " WHERE p.order_no = o.order_no AND p.kind = 'receipt') ORDER BY o.committed_at"
            )
        ]
        for order_no in missing:
            self._insert_print_job(conn, order_no, "receipt")
        report.print_jobs_added = missing
        in_flight = conn.execute(
            "SELECT out_trade_no, order_no, provider, amount, currency FROM payment_attempts"
            " WHERE status = 'pending' ORDER BY created_at"
        ).fetchall()
        now = time.time()
        for row in in_flight:
            conn.execute(
                "UPDATE payment_attempts SET status = 'unknown', updated_at = ?,"
                " reason = 'agent restarted during payment' WHERE out_trade_no = ?",
                (now, row[0]),
            )
        if in_flight:
            self._insert_events(
                conn,
                [
                    (
                        PAYMENT_ATTEMPTED,
                        {
                            "order_no": o, "out_trade_no": t, "provider": p, "amount": a,
                            "currency": c, "status": "unknown",
                            "reason": "agent restarted during payment",
                        },
                    )
                    for t, o, p, a, c in in_flight
                ],
            )
        report.attempts_marked_unknown = [r[0] for r in in_flight]
        (report.pending_print_jobs,) = conn.execute(
            "SELECT count(*) FROM print_jobs WHERE status = 'pending'"
        ).fetchone()
        (report.outbox_depth,) = conn.execute("SELECT count(*) FROM outbox").fetchone()
        return report

    @staticmethod
    def _is_orphan(conn: sqlite3.Connection, out_trade_no: str) -> bool:
        row = conn.execute("SELECT reason FROM payment_attempts WHERE out_trade_no = ?",
                           (out_trade_no,)).fetchone()
        return row is not None and row[0] == ORPHAN_REASON

    async def recover(self) -> RecoveryReport:
        """Start-up recovery; call once after opening, before taking new sales.

        * every committed sale has a receipt job (a pending one prints once);
        * payment attempts still ``pending`` (the agent died mid-charge) become
          ``unknown`` and a ``payment.attempted`` event tells the cloud to settle
          them (query, then reverse);
        * a paid attempt whose sale was not committed yet (the agent died in between)
          gets its sale committed from the draft saved with the attempt; one whose
          order was committed with another tender is reported once as an orphan
          (``payment.settled`` with ``orphan: true``; the cloud refunds it);
        * half-written sales cannot exist: each sale is one transaction.
        """
        report = await self._call(self._tx, self._recover_tx)
        if report.sales_committed_from_drafts:
            log.warning(
                "%d sale(s) were paid but not committed at the last stop; committed now: %s",
                len(report.sales_committed_from_drafts),
                ", ".join(report.sales_committed_from_drafts),
            )
        if report.attempts_marked_unknown:
            log.warning(
                "%d payment attempt(s) were in flight at the last stop; marked unknown: %s",
                len(report.attempts_marked_unknown), ", ".join(report.attempts_marked_unknown),
            )
        if report.print_jobs_added:
            log.warning("re-queued receipts for %d order(s)", len(report.print_jobs_added))
        self.outbox_signal.set()
        self.print_signal.set()
        return report

    # -- parked orders (挂单) -------------------------------------------------------

    async def park_order(
        self, cart: dict[str, Any], total: int, currency: str, when: datetime | None = None
    ) -> ParkedOrder:
        """Save a cart for payment at a staffed till; returns its readable park number.

        The park number is ``P{yyyymmdd}-{seq:03d}`` per kiosk and business day
        (staff key it in or scan it at the till); an ``order.parked`` event carries
        the cart to the cloud in the same transaction.
        """
        day = self.business_day(when)

        def tx(conn: sqlite3.Connection) -> ParkedOrder:
            seq = self._bump(conn, f"park_seq:{day}")
            park_no = f"P{day}-{seq:03d}"
            now = time.time()
            body = json.dumps(cart, ensure_ascii=False, separators=(",", ":"), default=str)
            conn.execute(
                "INSERT INTO parked_orders(park_no, created_at, total, currency, data)"
                " VALUES (?,?,?,?,?)",
                (park_no, now, total, currency, body),
            )
            self._insert_events(
                conn,
                [(ORDER_PARKED, {"park_no": park_no, "total": total, "currency": currency,
                                 "cart": json.loads(body)})],
            )
            return ParkedOrder(park_no, now, "parked", total, currency, json.loads(body))

        parked = await self._call(self._tx, tx)
        self.outbox_signal.set()
        return parked

    async def parked_orders(self, status: str | None = "parked") -> list[ParkedOrder]:
        def q(conn: sqlite3.Connection) -> list[ParkedOrder]:
            sql = "SELECT park_no, created_at, status, total, currency, data FROM parked_orders"
            args: tuple[Any, ...] = ()
            if status is not None:
                sql += " WHERE status = ?"
                args = (status,)
            return [
                ParkedOrder(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
                for r in conn.execute(sql + " ORDER BY created_at", args)
            ]

        return await self._call(self._read, q)

    async def close_parked_order(self, park_no: str, status: str) -> bool:
        """Mark a parked order ``resumed`` (paid at the till) or ``voided``."""
        if status not in ("resumed", "voided"):
            raise JournalError(f"a parked order can only be resumed or voided, not {status!r}")

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE parked_orders SET status = ?, closed_at = ? "
                "WHERE park_no = ? AND status = 'parked'",
                (status, time.time(), park_no),
            )
            return cur.rowcount > 0

        return await self._call(self._tx, tx)

    # -- catalog -------------------------------------------------------------------

    async def save_price_book(
        self,
        version: str,
        sha256: str,
        currency: str,
        body: bytes,
        products: Sequence[dict[str, Any]],
        keep_versions: int = 2,
    ) -> None:
        """Store a price book version and make it current, in one transaction.

        Until this commits, the previous version stays current (and complete), so
        the kiosk keeps selling on it. ``products`` are dicts with at least
        ``product_id``, ``barcodes``, ``name_zh``, ``unit_price``. Older versions
        beyond ``keep_versions`` are dropped.
        """

        def tx(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("DELETE FROM catalog_versions WHERE version = ?", (version,))
            conn.execute(
                "INSERT INTO catalog_versions(version, sha256, currency, body, loaded_at)"
                " VALUES (?,?,?,?,?)",
                (version, sha256, currency, body, now),
            )
            conn.executemany(
                "INSERT INTO catalog_products(version, product_id, barcodes, name_zh, name_en,"
                " unit_price, data) VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        version, p["product_id"], json.dumps(list(p.get("barcodes", ()))),
                        p["name_zh"], p.get("name_en"), int(p["unit_price"]),
                        json.dumps(p, ensure_ascii=False, default=str),
                    )
                    for p in products
                ],
            )
            conn.execute("UPDATE catalog_versions SET is_current = 0 WHERE is_current = 1")
            conn.execute(
                "UPDATE catalog_versions SET complete = 1, is_current = 1 WHERE version = ?",
                (version,),
            )
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT version FROM catalog_versions ORDER BY is_current DESC, loaded_at DESC"
                    " LIMIT -1 OFFSET ?",
                    (max(keep_versions, 1),),
                )
            ]
            for v in old:
                conn.execute("DELETE FROM catalog_products WHERE version = ?", (v,))
                conn.execute("DELETE FROM catalog_versions WHERE version = ?", (v,))

        await self._call(self._tx, tx)

    async def store_price_book(self, book: Any) -> None:
        """Store a ``catalog.PriceBook`` (duck-typed: version, currency, products, sha256())."""

        def serialise() -> tuple[bytes, str, list[dict[str, Any]]]:
            # Canonical JSON and its hash of a whole price book: CPU work of size.
            if hasattr(book, "canonical_bytes"):
                body = book.canonical_bytes()
            elif hasattr(book, "model_dump_json"):
                body = book.model_dump_json().encode()
            else:
                body = json.dumps(book, default=str).encode()
            products = [_as_dict(p) for p in getattr(book, "products", ()) or ()]
            return body, str(book.sha256()), products

        body, sha, products = await asyncio.to_thread(serialise)
        await self.save_price_book(str(book.version), sha, str(book.currency), body, products)

    async def current_price_book(self) -> tuple[str, str, bytes] | None:
        """``(version, sha256, body)`` of the current complete price book, or None."""

        def q(conn: sqlite3.Connection) -> tuple[str, str, bytes] | None:
            row = conn.execute(
                "SELECT version, sha256, body FROM catalog_versions"
                " WHERE is_current = 1 AND complete = 1"
            ).fetchone()
            return (row[0], row[1], bytes(row[2])) if row else None

        return await self._call(self._read, q)

    # -- export / import -----------------------------------------------------------

    async def export_records(self) -> list[dict[str, Any]]:
        """Everything in the journal as JSON-able records (see :func:`export_records`)."""
        return await self._call(self._read, lambda c: list(export_records(c)))

    async def import_records(self, records: Sequence[dict[str, Any]]) -> int:
        """Load exported records into this (empty) journal in one transaction."""
        n = await self._call(self._tx, lambda c: import_records(c, records))
        self.outbox_signal.set()
        self.print_signal.set()
        return n


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(vars(obj))


# Export order: the tables and the columns of each record kind. Payloads are
# UTF-8 JSON already and are exported as text.
_EXPORT_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("meta", "meta", ("key", "value")),
    ("order", "orders", (
        "order_no", "committed_at", "business_day", "data",
    )),
    ("payment_attempt", "payment_attempts", (
        "out_trade_no", "order_no", "provider", "amount", "currency", "status", "created_at",
        "updated_at", "provider_ref", "reason", "attempts", "order_draft",
    )),
    ("outbox", "outbox", ("seq", "event_id", "type", "payload", "created_at", "attempts")),
    ("dead_letter", "dead_letters", (
        "event_id", "seq", "type", "payload", "created_at", "reason", "failed_at",
        "discarded_at", "discard_reason",
    )),
    ("print_job", "print_jobs", (
        "job_id", "order_no", "kind", "status", "created_at", "attempts", "last_error", "done_at",
    )),
    ("parked_order", "parked_orders", (
        "park_no", "created_at", "status", "total", "currency", "data", "closed_at",
    )),
)
_ORDER_KEY = {
    "meta": "key", "orders": "committed_at, order_no", "payment_attempts": "created_at",
    "outbox": "seq", "dead_letters": "seq", "print_jobs": "job_id", "parked_orders": "park_no",
}


def export_records(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """Yield one JSON-able dict per row: ``{"record": <kind>, <columns>}``.

    Orders carry their whole wire payload (``order``, lines included); the
    order_lines table is derived from it on import. Works on a read-only
    connection (``journal export``).
    """
    for kind, table, cols in _EXPORT_TABLES:
        sql = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {_ORDER_KEY[table]}"
        for row in conn.execute(sql):
            rec: dict[str, Any] = {"record": kind}
            for col, value in zip(cols, row, strict=True):
                if isinstance(value, bytes):
                    value = value.decode("utf-8")
                rec[col] = value
            if kind == "order":
                rec["order"] = json.loads(rec.pop("data"))
            elif kind == "parked_order":
                rec["data"] = json.loads(rec["data"])
            yield rec


def import_records(conn: sqlite3.Connection, records: Iterable[dict[str, Any]]) -> int:
    """Insert exported records (inside the caller's transaction); returns the count."""
    specs = {kind: (table, cols) for kind, table, cols in _EXPORT_TABLES}
    n = 0
    for rec in records:
        kind = rec.get("record")
        if kind not in specs:
            raise JournalError(f"unknown record kind {kind!r}")
        table, cols = specs[kind]
        rec = dict(rec)
        if kind == "order":
            order = OrderCompletedData.model_validate(rec.pop("order"))
            data = order.model_dump(mode="json")
            rec["data"] = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            conn.execute(
                "INSERT INTO orders(order_no, created_at, completed_at, committed_at,"
                " business_day, currency, subtotal, discount_total, total, member_id,"
                " catalog_version, offline, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    order.order_no, data["created_at"], data["completed_at"],
                    rec["committed_at"], rec["business_day"], order.currency, order.subtotal,
                    order.discount_total, order.total, order.member_id, order.catalog_version,
                    int(order.offline), rec["data"],
                ),
            )
            conn.executemany(
                "INSERT INTO order_lines(order_no, line_no, product_id, barcode, name_zh, qty,"
                " weight_g, unit_price, list_amount, discount, amount, vat_rate_bp)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        order.order_no, ln.line_no, ln.product_id, ln.barcode, ln.name_zh,
                        ln.qty, ln.weight_g, ln.unit_price, ln.list_amount, ln.discount,
                        ln.amount, ln.vat_rate_bp,
                    )
                    for ln in order.lines
                ],
            )
        else:
            values = []
            for col in cols:
                value = rec.get(col)
                if col == "payload" and isinstance(value, str):
                    value = value.encode("utf-8")
                elif col == "data" and not isinstance(value, str):
                    value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                values.append(value)
            conn.execute(
                f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                values,
            )
        n += 1
    return n
