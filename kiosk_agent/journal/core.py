"""The journal's connection, its worker thread and its transactions.

SQLite in WAL mode with ``synchronous=FULL``: a commit that returned survives a
crash or power loss. All sqlite work runs on ONE dedicated worker thread
(:class:`~kiosk_agent.journal.worker.JournalWorker`), which owns the connection and
keeps every operation in submission order; the event loop never blocks on the disk. The concerns of the
journal (outbox, print jobs, sales, ...) are mixins built on :class:`JournalCore`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Self, TypeVar, TypeVarTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.jsontypes import JsonObject
from contract.wire.base import utcnow

from .errors import JournalClosed, JournalError, JournalWriteError
from .schema import SCHEMA_VERSION, SchemaError, migrate
from .worker import JournalWorker

log = logging.getLogger(__name__)

T = TypeVar("T")
Args = TypeVarTuple("Args")

# How long a writer waits for the database lock. Only this process writes, but
# `journal check` or an export may hold a read snapshot; WAL readers never block
# the writer, so this is a safety net, not a tuning knob.
BUSY_TIMEOUT_MS = 5000

# Auto-checkpoint the WAL every N pages (the SQLite default is 1000). Kept at the
# default: larger values make commits cheaper but recovery after a crash slower.
WAL_AUTOCHECKPOINT_PAGES = 1000


# Counters whose last value _bump remembers before it forgets them all (day counters
# add a key a day; a forgotten one costs one SELECT).
COUNTER_HINTS = 32

# COMMIT refused by the disk is retried this often, this far apart (x attempt) before
# the transaction is rolled back: long enough for a rotated log to free space, short
# enough that the shopper at the kiosk is not kept waiting.
COMMIT_RETRIES = 2
COMMIT_RETRY_S = 0.05
# Writes failing for this long in a row make the journal unhealthy for the watchdog
# (systemd restarts the agent): a transient fault clears well within it.
WRITE_FAULT_RESTART_S = 120.0


@dataclass(slots=True)
class JournalWriteFault:
    """Writes are being refused by the disk: since when, how often, the last reason."""

    reason: str
    since: float
    last: float
    count: int


def _disk_fault(err: sqlite3.OperationalError) -> bool:
    """A fault of the disk (full, I/O error), not of the statement."""
    text = str(err).lower()
    return any(needle in text for needle in ("disk", "full", "i/o", "readonly", "read-only"))


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r, using UTC for order numbers", name)
        return UTC


class JournalCore:
    """Lifecycle, the worker thread, transactions and counters of the journal.

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
        self._worker: JournalWorker | None = None
        self._conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.outbox_signal = asyncio.Event()
        self.print_signal = asyncio.Event()
        self.write_fault: JournalWriteFault | None = None
        # The last value of each counter this journal wrote (see _bump); journal thread.
        self._counters: dict[str, int] = {}

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open (creating or migrating) the database on the journal's own thread."""
        if self._worker is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._worker = JournalWorker("journal")
        try:
            await self._call(self._open_sync)
        except BaseException:
            self._worker.stop()
            self._worker = None
            raise
        # A fresh journal may already hold undelivered events or jobs from before.
        self.outbox_signal.set()
        self.print_signal.set()

    async def close(self) -> None:
        """Finish queued work, checkpoint the WAL and close the connection."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            await worker.submit(self._close_sync)
        finally:
            worker.stop()

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

    # -- running sqlite work on the journal thread ---------------------------------

    async def _call(self, fn: Callable[[*Args], T], *args: *Args) -> T:
        worker = self._worker
        if worker is None:
            raise JournalClosed("journal is not open")
        return await worker.submit(fn, *args)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction on the journal thread.

        When the disk refuses the write (full, I/O error) — at COMMIT or before it —
        the transaction is rolled back (never left open, which would refuse every later
        write: "cannot start a transaction within a transaction"), COMMIT is retried a
        few times first (space may come back: a log rotated), and the fault is kept in
        :attr:`write_fault` for health, the TUI and the watchdog until a write succeeds.
        """
        conn = self._conn
        if conn is None:
            raise JournalClosed("journal is not open")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                self._rollback(conn)
                raise
            self._commit(conn)
        except sqlite3.OperationalError as err:
            if not _disk_fault(err):
                raise
            self._fault(err)
            raise JournalWriteError(f"journal write refused by the disk: {err}") from err
        self._recovered()
        return result

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as err:  # the connection is unusable; the next BEGIN says so
                log.error("journal rollback failed: %s", err)

    def _commit(self, conn: sqlite3.Connection) -> None:
        for attempt in range(COMMIT_RETRIES + 1):
            try:
                conn.execute("COMMIT")
                return
            except sqlite3.OperationalError as err:
                # SQLite may have rolled back by itself (SQLITE_FULL/IOERR): nothing to retry.
                if not conn.in_transaction or not _disk_fault(err) or attempt == COMMIT_RETRIES:
                    self._rollback(conn)
                    raise
                log.warning("journal COMMIT failed (%s), retry %d", err, attempt + 1)
                time.sleep(COMMIT_RETRY_S * (attempt + 1))

    def _fault(self, err: BaseException) -> None:
        now = time.monotonic()
        fault = self.write_fault
        if fault is None:
            log.error("journal writes are failing: %s", err)
            self.write_fault = JournalWriteFault(reason=str(err), since=now, last=now, count=1)
        else:
            fault.reason, fault.last, fault.count = str(err), now, fault.count + 1

    def _recovered(self) -> None:
        if self.write_fault is not None:
            log.warning("journal writes work again after %d failure(s)", self.write_fault.count)
            self.write_fault = None

    def writable(self) -> bool:
        """False once writes have failed for :data:`WRITE_FAULT_RESTART_S` in a row: the
        watchdog check (systemd restarts the agent; a restart reopens the file and sees
        whether the disk came back)."""
        fault = self.write_fault
        return fault is None or time.monotonic() - fault.since < WRITE_FAULT_RESTART_S

    def write_health(self) -> JsonObject:
        """The journal's write state for health reports and the TUI."""
        fault = self.write_fault
        if fault is None:
            return {"state": "ok"}
        return {"state": "error", "reason": fault.reason, "failures": fault.count,
                "failing_for_s": round(time.monotonic() - fault.since, 1)}

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

    # -- counters and the business day ---------------------------------------------

    def _bump(self, conn: sqlite3.Connection, key: str, n: int = 1) -> int:
        """Add ``n`` to the integer counter ``key`` (absent = 0); return the new value.

        The value this journal last gave out for ``key`` is kept as a hint: one UPDATE
        writes ``hint + n`` where the row still holds ``hint`` (a compare-and-set, right
        whatever the hint is: it only writes old + n). It holds it unless a transaction
        rolled back, an import or another process wrote the counter; then (and the first
        time) the counter is upserted and read back with a SELECT, not with
        ``RETURNING``: SQLite runs a statement with ``RETURNING`` through an ephemeral
        table (opened, filled and closed on every call), which cost more than a second
        statement (callgrind, synchronous=OFF: 34k instructions per sale, which bumps two
        counters). One statement instead of two per counter: 4-7 us against 11-12 us
        (timeit, 5 x 20,000, synchronous=OFF). Same transaction either way.
        """
        counters = self._counters
        hint = counters.get(key)
        if hint is not None:
            value = hint + n
            cur = conn.execute(
                "UPDATE meta SET value = ? WHERE key = ? AND value = ?",
                (str(value), key, str(hint)),
            )
            if cur.rowcount == 1:
                counters[key] = value
                return value
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?",
            (key, str(n), n),
        )
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        value = int(row[0])
        if len(counters) >= COUNTER_HINTS:  # day counters: one new key a day
            counters.clear()
        counters[key] = value
        return value

    def business_day(self, when: datetime | None = None) -> str:
        """``yyyymmdd`` of ``when`` (default now) in the shop's time zone."""
        when = when or utcnow()
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        local = when.astimezone(self.tz)
        return f"{local.year:04d}{local.month:02d}{local.day:02d}"  # strftime("%Y%m%d")
