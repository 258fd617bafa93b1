"""Completed sales: order numbers, the one-transaction commit, orders and the day's summary.

A completed sale is one transaction (:meth:`SalesMixin.commit_sale`): the order and
its lines, its payment attempts' final status, its outbox events and its receipt
print job are all there or none of them is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter
from pydantic_core import to_json

from common.jsontypes import JsonObject
from contract.numbers import MAX_SEQ, make_order_no
from contract.wire.events import ORDER_COMPLETED, PAYMENT_SETTLED, OrderCompletedData

from .errors import OrderAlreadyCommitted
from .outbox import EncodedData, OutboxMixin
from .payments import settle_attempt
from .printing import PrintJobsMixin

# The JSON text of a timestamp, as the order's own JSON writes it.
_WHEN: TypeAdapter[datetime] = TypeAdapter(datetime)


@dataclass(frozen=True, slots=True)
class CommittedSale:
    """What :meth:`Journal.commit_sale` wrote."""

    order_no: str
    event_ids: list[str]
    print_job_id: int | None
    order: OrderCompletedData


def insert_order_row(
    conn: sqlite3.Connection,
    order: OrderCompletedData,
    body: bytes | str,
    committed_at: float,
    business_day: str,
) -> None:
    """Insert the ``orders`` row of ``order`` (``body`` is its JSON, UTF-8 bytes or text:
    ``order.model_dump_json()``; stored as TEXT either way). Raises
    ``sqlite3.IntegrityError`` if the order number exists."""
    conn.execute(
        "INSERT INTO orders(order_no, created_at, completed_at, committed_at, business_day,"
        " currency, subtotal, discount_total, total, member_id, catalog_version, offline,"
        " data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,CAST(? AS TEXT))",
        (
            order.order_no, _WHEN.dump_python(order.created_at, mode="json"),
            _WHEN.dump_python(order.completed_at, mode="json"), committed_at,
            business_day, order.currency, order.subtotal, order.discount_total, order.total,
            order.member_id, order.catalog_version, int(order.offline), body,
        ),
    )


def insert_order_lines(conn: sqlite3.Connection, order: OrderCompletedData) -> None:
    """Insert the ``order_lines`` rows of ``order`` (derived from its wire payload)."""
    conn.executemany(
        "INSERT INTO order_lines(order_no, line_no, product_id, barcode, name_zh, qty,"
        " weight_g, unit_price, list_amount, discount, amount, vat_rate_bp)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                order.order_no, ln.line_no, ln.product_id, ln.barcode, ln.name_zh, ln.qty,
                ln.weight_g, ln.unit_price, ln.list_amount, ln.discount, ln.amount,
                ln.vat_rate_bp,
            )
            for ln in order.lines
        ],
    )


class SalesMixin(OutboxMixin, PrintJobsMixin):
    """Order numbers, committing sales and querying committed orders."""

    # (store, kiosk, day) and "{store}-{kiosk}-{day}-" once make_order_no accepted them:
    # the ids and the day are checked once a day, not on every sale.
    _order_prefix: tuple[tuple[str, str, str], str] | None = None

    def _next_order_no(self, conn: sqlite3.Connection, day: str) -> str:
        seq = self._bump(conn, f"order_seq:{day}")
        # Store and kiosk in every number: kiosk ids repeat across stores (contract.numbers).
        key = (self.store_id, self.kiosk_id, day)
        cached = self._order_prefix
        if cached is not None and cached[0] == key and 1 <= seq <= MAX_SEQ:
            return f"{cached[1]}{seq:04d}"
        order_no = make_order_no(self.store_id, self.kiosk_id, day, seq)
        self._order_prefix = (key, f"{self.store_id}-{self.kiosk_id}-{day}-")
        return order_no

    async def reserve_order_no(self, when: datetime | None = None) -> str:
        """Allocate the next order number durably, e.g. before a payment attempt needs it.

        A reserved number whose sale never completes stays unused (a gap staff can
        explain with the voided attempt that carries it).
        """
        day = self.business_day(when)
        return await self._call(self._tx, lambda c: self._next_order_no(c, day))

    def _commit_sale_tx(
        self,
        conn: sqlite3.Connection,
        order: OrderCompletedData,
        extra_events: Sequence[tuple[str, JsonObject]],
        print_receipt: bool,
    ) -> CommittedSale:
        day = self.business_day(order.created_at)
        update: JsonObject = {}
        if not order.order_no:
            update["order_no"] = self._next_order_no(conn, day)
        if order.business_day is None:  # the cloud books the sale on the store's same day
            update["business_day"] = day
        if update:
            order = order.model_copy(update=update)
        order_no = order.order_no
        # Encoded once, as UTF-8 bytes (no str in between): the orders row keeps this text
        # and order.completed carries it as its data (the bytes
        # ``Event(data=order.model_dump(mode="json")).encode()`` has there).
        body = OrderCompletedData.__pydantic_serializer__.to_json(order)
        now = time.time()
        try:
            insert_order_row(conn, order, body, now, day)
        except sqlite3.IntegrityError as err:
            raise OrderAlreadyCommitted(order_no) from err
        insert_order_lines(conn, order)
        events: list[tuple[str, JsonObject | EncodedData]] = [
            (ORDER_COMPLETED, EncodedData(body, order_no))
        ]
        for tender in order.tenders:
            if tender.out_trade_no:
                settle_attempt(conn, order_no, tender, now)
            settled = {
                "order_no": order_no, "out_trade_no": tender.out_trade_no,
                "method": tender.method, "amount": tender.amount, "currency": tender.currency,
                "provider_ref": tender.provider_ref, "status": "paid", "offline": tender.offline,
            }
            events.append((PAYMENT_SETTLED, EncodedData(to_json(settled))))
        events.extend(extra_events)
        event_ids = self._insert_events(conn, events)
        job_id = self._insert_print_job(conn, order_no, "receipt") if print_receipt else None
        return CommittedSale(order_no, event_ids, job_id, order)

    async def commit_sale(
        self,
        order: OrderCompletedData,
        *,
        extra_events: Sequence[tuple[str, JsonObject]] = (),
        print_receipt: bool = True,
    ) -> CommittedSale:
        """Commit a completed sale in ONE durable transaction.

        Writes the order and its lines, marks each tender's payment attempt ``paid``
        (creating the row for tenders without a prior attempt, e.g. stored value),
        appends ``order.completed`` + one ``payment.settled`` per tender +
        ``extra_events`` to the outbox, and queues the receipt print job. An empty
        ``order.order_no`` gets the next ``{store}-{kiosk}-{yyyymmdd}-{seq:04d}`` in the
        same transaction.
        """
        sale = await self._call(
            self._tx, lambda c: self._commit_sale_tx(c, order, list(extra_events), print_receipt)
        )
        self.outbox_signal.set()
        if sale.print_job_id is not None:
            self.print_signal.set()
        return sale

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
