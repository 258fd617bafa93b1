"""Print jobs: receipts, reprints and test pages waiting for the printer."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from contract.wire.events import OrderCompletedData

from .core import JournalCore
from .errors import JournalError

PRINT_KINDS = ("receipt", "reprint", "test")


@dataclass(frozen=True, slots=True)
class PrintJob:
    job_id: int
    order_no: str | None
    kind: str
    created_at: float
    attempts: int
    last_error: str | None


class PrintJobsMixin(JournalCore):
    """The print spooler's queue; a job stays pending until it printed."""

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
