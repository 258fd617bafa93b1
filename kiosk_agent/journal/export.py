"""Export and import of a whole journal as JSON-able records (``journal export``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from common.jsontypes import JsonMapping, JsonObject
from contract.wire.events import OrderCompletedData

from .core import JournalCore
from .errors import JournalError
from .sales import insert_order_lines, insert_order_row


class ExportMixin(JournalCore):
    """The journal's records out and into an empty journal."""

    async def export_records(self) -> list[JsonObject]:
        """Everything in the journal as JSON-able records (see :func:`export_records`)."""
        return await self._call(self._read, lambda c: list(export_records(c)))

    async def import_records(self, records: Sequence[JsonMapping]) -> int:
        """Load exported records into this (empty) journal in one transaction."""
        n = await self._call(self._tx, lambda c: import_records(c, records))
        self.outbox_signal.set()
        self.print_signal.set()
        return n


# Export order: the tables and the columns of each record kind. Payloads are
# UTF-8 JSON already and are exported as text.
_EXPORT_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("meta", "meta", ("key", "value")),
    ("order", "orders", (
        "order_no", "committed_at", "business_day", "data", "acked_at",
    )),
    ("payment_attempt", "payment_attempts", (
        "out_trade_no", "order_no", "provider", "amount", "currency", "status", "created_at",
        "updated_at", "provider_ref", "reason", "attempts", "order_draft",
    )),
    ("outbox", "outbox", (
        "seq", "event_id", "type", "payload", "created_at", "attempts", "order_no",
    )),
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
    ("staff_approval", "staff_approvals", (
        "id", "at", "staff_id", "badge_id", "role", "action", "order_no", "event_id",
    )),
)
_ORDER_KEY = {
    "meta": "key", "orders": "committed_at, order_no", "payment_attempts": "created_at",
    "outbox": "seq", "dead_letters": "seq", "print_jobs": "job_id", "parked_orders": "park_no",
    "staff_approvals": "id",
}


def export_records(conn: sqlite3.Connection) -> Iterator[JsonObject]:
    """Yield one JSON-able dict per row: ``{"record": <kind>, <columns>}``.

    Orders carry their whole wire payload (``order``, lines included); the
    order_lines table is derived from it on import. Works on a read-only
    connection (``journal export``).
    """
    for kind, table, cols in _EXPORT_TABLES:
        sql = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {_ORDER_KEY[table]}"
        for row in conn.execute(sql):
            rec: JsonObject = {"record": kind}
            for col, value in zip(cols, row, strict=True):
                if isinstance(value, bytes):
                    value = value.decode("utf-8")
                rec[col] = value
            if kind in ("order", "parked_order"):
                text = rec.pop("data") if kind == "order" else rec["data"]
                assert isinstance(text, str)  # JSON text (decoded above), never NULL
                rec["order" if kind == "order" else "data"] = json.loads(text)
            yield rec


def import_records(conn: sqlite3.Connection, records: Iterable[JsonMapping]) -> int:
    """Insert exported records (inside the caller's transaction); returns the count."""
    specs = {kind: (table, cols) for kind, table, cols in _EXPORT_TABLES}
    n = 0
    for rec in records:
        kind = rec.get("record")
        if not isinstance(kind, str) or kind not in specs:
            raise JournalError(f"unknown record kind {kind!r}")
        table, cols = specs[kind]
        rec = dict(rec)
        if kind == "order":
            order = OrderCompletedData.model_validate(rec.pop("order"))
            committed_at, day = rec["committed_at"], rec["business_day"]
            if not isinstance(committed_at, int | float) or not isinstance(day, str):
                raise JournalError(f"order {order.order_no}: bad committed_at or business_day")
            insert_order_row(conn, order, order.model_dump_json(), committed_at, day)
            insert_order_lines(conn, order)
            if rec.get("acked_at") is not None:
                conn.execute("UPDATE orders SET acked_at = ? WHERE order_no = ?",
                             (rec["acked_at"], order.order_no))
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
