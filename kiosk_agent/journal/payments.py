"""Payment attempts, each written BEFORE its charge request, with the sale it pays for.

The payment code (auth_code) is never stored: an attempt is its ``out_trade_no``,
provider, amount and outcome. The order draft saved with an attempt lets a
payment found paid after a restart still become its sale (see ``recovery``).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from contract.wire.events import OrderCompletedData, TenderData

from .core import JournalCore
from .errors import JournalError

PAYMENT_STATUSES = ("pending", "paid", "failed", "unknown", "reversed")
#: Reason of a paid attempt whose order was committed with another tender.
ORPHAN_REASON = "orphan: order committed with another tender"

# The columns of a PaymentAttempt, in field order.
_ATTEMPT_COLUMNS = (
    "out_trade_no, order_no, provider, amount, currency, status, created_at, "
    "updated_at, provider_ref, reason, attempts"
)


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


def mark_attempt_paid(
    conn: sqlite3.Connection, out_trade_no: str, provider_ref: str | None, now: float
) -> int:
    """Set an attempt ``paid`` (keeping a known provider ref); returns the rows changed."""
    cur = conn.execute(
        "UPDATE payment_attempts SET status = 'paid', updated_at = ?,"
        " provider_ref = coalesce(?, provider_ref) WHERE out_trade_no = ?",
        (now, provider_ref, out_trade_no),
    )
    return cur.rowcount


def settle_attempt(
    conn: sqlite3.Connection, order_no: str, tender: TenderData, now: float
) -> None:
    """Mark the attempt of ``tender`` paid (keeping a known provider ref) in ONE statement,
    creating it for a tender without a prior attempt (e.g. stored value) as
    :func:`mark_attempt_paid` followed by an insert would."""
    conn.execute(
        "INSERT INTO payment_attempts(out_trade_no, order_no, provider, amount, currency,"
        " status, created_at, updated_at, provider_ref) VALUES (?,?,?,?,?,'paid',?,?,?)"
        " ON CONFLICT(out_trade_no) DO UPDATE SET status = 'paid',"
        " updated_at = excluded.updated_at,"
        " provider_ref = coalesce(excluded.provider_ref, payment_attempts.provider_ref)",
        (tender.out_trade_no, order_no, tender.method, tender.amount, tender.currency,
         now, now, tender.provider_ref),
    )


class PaymentAttemptsMixin(JournalCore):
    """Payment attempts and their outcomes."""

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
            f"SELECT {_ATTEMPT_COLUMNS} FROM payment_attempts WHERE out_trade_no = ?",
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
            sql = f"SELECT {_ATTEMPT_COLUMNS} FROM payment_attempts WHERE 1=1"
            args: list[str] = []
            if status is not None:
                sql += " AND status = ?"
                args.append(status)
            if order_no is not None:
                sql += " AND order_no = ?"
                args.append(order_no)
            return [PaymentAttempt(*r) for r in conn.execute(sql + " ORDER BY created_at", args)]

        return await self._call(self._read, q)
