"""Parked orders (挂单): carts saved at the kiosk for payment at a staffed till."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime

from common.jsontypes import JsonMapping, JsonObject
from contract.wire.events import ORDER_PARKED

from .errors import JournalError
from .outbox import OutboxMixin


@dataclass(frozen=True, slots=True)
class ParkedOrder:
    park_no: str
    created_at: float
    status: str
    total: int
    currency: str
    data: JsonObject


class ParkedOrdersMixin(OutboxMixin):
    """Parking a cart, listing parked carts and closing them at the till."""

    async def park_order(
        self, cart: JsonMapping, total: int, currency: str, when: datetime | None = None
    ) -> ParkedOrder:
        """Save a cart for payment at a staffed till; returns its readable park number.

        The park number is ``P{yyyymmdd}-{kiosk}-{seq:03d}`` per kiosk and business
        day, unique in the store (staff key it in at a staffed till or at another kiosk
        of the store); an ``order.parked`` event carries the cart to the cloud in the
        same transaction.
        """
        day = self.business_day(when)

        def tx(conn: sqlite3.Connection) -> ParkedOrder:
            seq = self._bump(conn, f"park_seq:{day}")
            park_no = f"P{day}-{self.kiosk_id}-{seq:03d}"
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
            args: tuple[str, ...] = ()
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
