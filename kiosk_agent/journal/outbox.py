"""The outbox: events waiting for the cloud's ack, and the dead letters it refused."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from common.jsontypes import JsonMapping, JsonObject
from contract.wire.base import utcnow
from contract.wire.events import ORDER_COMPLETED, Event, uuid7

from .core import JournalCore
from .envelope import EventEncoder, encode_ts

log = logging.getLogger(__name__)


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
class EncodedData:
    """An event's ``data`` already encoded: the compact JSON object ``Event.encode`` would
    write for it, as pydantic writes it (a sale's ``order.model_dump_json()``, which its
    orders row keeps too; ``pydantic_core.to_json(dict)``), and the order an
    ``order.completed`` event names."""

    json: bytes
    order_no: str | None = None


class OutboxMixin(JournalCore):
    """Events in the outbox (per-kiosk ``seq``), their delivery and dead letters."""

    @cached_property
    def _event_encoder(self) -> EventEncoder:
        """This kiosk's events as ``Event.encode()`` writes them (ids validated once)."""
        return EventEncoder(self.store_id, self.kiosk_id)

    def _reserve_seq(self, conn: sqlite3.Connection, n: int) -> int:
        """Reserve ``n`` consecutive outbox seqs; return the first (seqs start at 0)."""
        return self._bump(conn, "outbox_seq", n) - n

    def _insert_events(
        self, conn: sqlite3.Connection, events: Sequence[tuple[str, JsonObject | EncodedData]]
    ) -> list[str]:
        if not events:
            return []
        first = self._reserve_seq(conn, len(events))
        now = time.time()
        ts = utcnow()
        ts_json: bytes | None = None
        rows = []
        ids = []
        for i, (etype, data) in enumerate(events):
            event_id = uuid7()
            order_no: object
            if isinstance(data, EncodedData):
                if ts_json is None:
                    ts_json = encode_ts(ts)
                payload = self._event_encoder.encode(event_id, etype, first + i, ts_json,
                                                     data.json)
                order_no = data.order_no
            else:
                payload = Event(
                    event_id=event_id, type=etype, store=self.store_id, kiosk=self.kiosk_id,
                    seq=first + i, ts=ts, data=data,
                ).encode()
                order_no = data.get("order_no")
            # An order.completed event names its order, so its ack marks the order
            # acknowledged (journal pruning keeps unacknowledged orders forever).
            if etype != ORDER_COMPLETED:
                order_no = None
            rows.append((first + i, event_id, etype, payload, now, order_no))
            ids.append(event_id)
        conn.executemany(
            "INSERT INTO outbox(seq, event_id, type, payload, created_at, order_no)"
            " VALUES (?,?,?,?,?,?)", rows
        )
        return ids

    async def append_events(self, events: Sequence[tuple[str, JsonMapping]]) -> list[str]:
        """Append standalone events in one transaction; returns their event ids in order."""
        copies = [(str(t), dict(d)) for t, d in events]
        ids = await self._call(self._tx, lambda c: self._insert_events(c, copies))
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
        """Delete acked events; unknown ids are ignored. Returns how many were deleted.

        One statement per table for the whole batch (the ids passed as one JSON array,
        read back with ``json_each``), not one per id: ``executemany`` steps SQLite once
        per id and hands the GIL to the event loop and back at every step.
        """
        if not event_ids:
            return 0
        ids_json = json.dumps(list(event_ids))

        def tx(conn: sqlite3.Connection) -> int:
            # ``+acked_at``: look the orders up by their key, not through the index of
            # every unacknowledged order (thousands on a kiosk that was offline).
            conn.execute(
                "UPDATE orders SET acked_at = ? WHERE order_no IN ("
                "SELECT o.order_no FROM json_each(?) AS j JOIN outbox AS o "
                "ON o.event_id = j.value WHERE o.order_no IS NOT NULL) AND +acked_at IS NULL",
                (time.time(), ids_json))
            return conn.execute(
                "DELETE FROM outbox WHERE event_id IN (SELECT value FROM json_each(?))",
                (ids_json,)).rowcount

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
            order_no = event.data.get("order_no") if etype == ORDER_COMPLETED else None
            conn.execute(
                "INSERT INTO outbox(seq, event_id, type, payload, created_at, order_no)"
                " VALUES (?,?,?,?,?,?)",
                (seq, event_id, etype, event.encode(), created_at, order_no),
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
