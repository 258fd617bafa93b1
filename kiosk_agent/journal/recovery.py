"""Paid attempts whose sale was not committed, and start-up recovery.

A payment found paid after a restart becomes its sale from the order draft saved
with the attempt; a paid attempt whose order was committed with another tender is
an orphan, reported once so the cloud refunds it. :meth:`RecoveryMixin.recover`
does all of this at start-up, re-queues missing receipts and marks payment
attempts the agent died in the middle of as ``unknown``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field

from contract.wire.base import utcnow
from contract.wire.events import PAYMENT_ATTEMPTED, PAYMENT_SETTLED, OrderCompletedData

from .payments import ORPHAN_REASON, mark_attempt_paid
from .sales import CommittedSale, SalesMixin

log = logging.getLogger(__name__)


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


class RecoveryMixin(SalesMixin):
    """Sales committed from order drafts, orphan payments and start-up recovery."""

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
            mark_attempt_paid(conn, out_trade_no, provider_ref, time.time())
            return self._orphan_tx(conn, out_trade_no)

        reported = await self._call(self._tx, tx)
        if reported:
            self.outbox_signal.set()
        return reported

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
