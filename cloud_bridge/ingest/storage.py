"""Ingest storage: a batch of events stored in one transaction, each once by its event id.

``INSERT ... ON CONFLICT DO NOTHING`` on the event id tells new events from resends;
only new sales get their effects (:mod:`.effects`). A resend is acked again; a
different event under a stored id is refused, never acked as if it were stored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import case, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from contract.wire.events import ORDER_VOIDED, Event, EventAck, OrderCompletedData, Rejection

from .. import orders
from ..db import bulk_insert, compiled_once
from ..models import Kiosk, StoredEvent, now
from . import effects
from .validation import same_event, validate_event

if TYPE_CHECKING:
    from ..db import Database
    from ..security.member_sales import MemberSaleCheck

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchResult:
    """What one batch did: ids to ack and rejections, per (store, kiosk)."""

    acked: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    rejected: dict[tuple[str, str], list[Rejection]] = field(
        default_factory=lambda: defaultdict(list))
    stored: int = 0
    duplicates: int = 0
    alerts: int = 0

    def acks(self) -> list[tuple[tuple[str, str], EventAck]]:
        """One ack per (store, kiosk) that had an event in the batch, in key order."""
        keys = sorted(set(self.acked) | set(self.rejected))
        return [
            (k, EventAck(acked=self.acked.get(k, []), rejected=self.rejected.get(k, [])))
            for k in keys
        ]


async def store_events(
    db: Database,
    items: list[tuple[str, str, bytes]],
    *,
    worker: str,
    tz: str,
    retries: int = 5,
    member_check: MemberSaleCheck | None = None,
) -> BatchResult:
    """Store a batch of ``(store, kiosk, payload)`` events in one transaction.

    ``member_check``: the member part of new sales is checked (``security.member_sales``).
    Returns the ids to ack (new and already stored alike) and the rejections.
    """
    result = BatchResult()
    valid: dict[str, tuple[Event, OrderCompletedData | None, bytes]] = {}
    for store, kiosk, payload in items:
        ev, data, rej = validate_event(store, kiosk, payload)
        if rej is not None:
            result.rejected[(store, kiosk)].append(rej)
        elif ev is None:
            continue
        elif ev.event_id not in valid:
            valid[ev.event_id] = (ev, data, payload)
        elif not same_event(valid[ev.event_id][2], payload):
            result.rejected[(store, kiosk)].append(_conflicting(ev))
    if valid:
        ordered = sorted(valid.values(), key=lambda p: (p[0].store, p[0].kiosk, p[0].seq))
        conflicts: set[str] = set()

        async def work(session: AsyncSession) -> None:
            new_ids = await _insert_events(session, [(p[0], p[2]) for p in ordered], worker)
            conflicts.clear()
            conflicts.update(await _conflicting_resends(
                session, {p[0].event_id: p[2] for p in ordered if p[0].event_id not in new_ids}))
            sales = [orders.CompletedSale(ev, data) for ev, data, _ in ordered
                     if data is not None and ev.event_id in new_ids]
            alerts = await effects.apply_sales(session, sales, tz=tz, actor=worker,
                                               member_check=member_check)
            await effects.apply_voids(session, [ev for ev, _, _ in ordered
                                                if ev.type == ORDER_VOIDED
                                                and ev.event_id in new_ids])
            await _advance_seq(session, [p[0] for p in ordered if p[0].event_id not in conflicts])
            result.stored = len(new_ids)
            result.alerts = alerts

        try:
            await db.transact(work, retries=retries)
        except (DBAPIError, StatementError, OverflowError) as err:
            if not _data_error(err):
                raise  # the database is unwell: nothing acked, the kiosks resend
            return await _one_by_one(db, items, err, worker=worker, tz=tz, retries=retries,
                                     member_check=member_check)
        result.duplicates = len(ordered) - result.stored - len(conflicts)
        for ev, _, _ in ordered:
            if ev.event_id in conflicts:
                result.rejected[(ev.store, ev.kiosk)].append(_conflicting(ev))
            else:
                result.acked[(ev.store, ev.kiosk)].append(ev.event_id)
    return result


def _data_error(err: BaseException) -> bool:
    """Whether ``err`` is about the values of a row (one event's fault), not the database's
    state: a lock or a lost connection is retried by the kiosks' resend, never rejected."""
    if isinstance(err, OverflowError):
        return True
    if isinstance(err, OperationalError) or getattr(err, "connection_invalidated", False):
        return False
    if isinstance(err, (DataError, IntegrityError)):
        return True
    orig = getattr(err, "orig", None)
    # PostgreSQL SQLSTATE class 22 (data exception: value too long, out of range, NUL in
    # text) and 23 (integrity): asyncpg's errors come wrapped as plain DBAPIError.
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None),
                                                        "sqlstate", None)
    if isinstance(state, str) and state[:2] in ("22", "23"):
        return True
    return isinstance(orig, (OverflowError, ValueError, TypeError))


async def _one_by_one(db: Database, items: list[tuple[str, str, bytes]], err: BaseException,
                      *, worker: str, tz: str, retries: int,
                      member_check: MemberSaleCheck | None) -> BatchResult:
    """The batch failed on a value: store its events one at a time, so only the event at
    fault is rejected and the other kiosks' events in the batch are stored and acked."""
    if len(items) == 1:
        store, kiosk, payload = items[0]
        ev, _, _ = validate_event(store, kiosk, payload)
        result = BatchResult()
        if ev is not None:
            reason = f"not storable: {type(err).__name__}"
            log.error("event %s from %s/%s not storable, rejected: %s", ev.event_id, store,
                      kiosk, str(err).splitlines()[0][:200])
            result.rejected[(store, kiosk)].append(Rejection(event_id=ev.event_id,
                                                             reason=reason))
        return result
    log.warning("batch of %d events failed on a value (%s); storing them one by one",
                len(items), type(err).__name__)
    merged = BatchResult()
    for item in items:
        one = await store_events(db, [item], worker=worker, tz=tz, retries=retries,
                                 member_check=member_check)
        for key, ids in one.acked.items():
            merged.acked[key].extend(ids)
        for key, rejections in one.rejected.items():
            merged.rejected[key].extend(rejections)
        merged.stored += one.stored
        merged.duplicates += one.duplicates
        merged.alerts += one.alerts
    return merged


def _conflicting(ev: Event) -> Rejection:
    """A different event under an id already taken: never acked as if it were stored."""
    log.error("event %s from %s/%s has the id of a different stored event; refused",
              ev.event_id, ev.store, ev.kiosk)
    return Rejection(event_id=ev.event_id,
                     reason="event id already stored with different content")


async def _conflicting_resends(session: AsyncSession, resent: dict[str, bytes]) -> set[str]:
    """Of events whose id was already stored, those whose stored payload differs."""
    if not resent:
        return set()
    rows = await session.execute(select(StoredEvent.event_id, StoredEvent.payload)
                                 .where(StoredEvent.event_id.in_(sorted(resent))))
    return {eid for eid, stored in rows.all() if not same_event(stored, resent[eid])}


async def _insert_events(
    session: AsyncSession, events: list[tuple[Event, bytes]], worker: str
) -> set[str]:
    """Insert-or-nothing by event id; returns the ids that were new (stored exactly once)."""
    at = now()
    rows = [
        {"event_id": e.event_id, "store": e.store, "kiosk": e.kiosk, "seq": e.seq,
         "type": e.type, "ts": e.ts, "received_at": at, "worker": worker,
         # The bytes as the kiosk signed them off, not a re-encoding.
         "payload": raw.decode("utf-8")}
        for e, raw in events
    ]
    insert, params = bulk_insert(session, StoredEvent, rows)
    stmt = compiled_once(session, ("ingest.events", *rows[0]), lambda: (
        insert.on_conflict_do_nothing(index_elements=[StoredEvent.event_id])
        .returning(StoredEvent.event_id)))
    return set((await session.scalars(stmt, params)).all())


async def _advance_seq(session: AsyncSession, events: list[Event]) -> None:
    """Highest seq seen per kiosk (the fleet view and gap checks read it)."""
    if not events:
        return
    top: dict[tuple[str, str], int] = {}
    for e in events:
        key = (e.store, e.kiosk)
        top[key] = max(top.get(key, -1), e.seq)
    rows = [{"store": s, "kiosk": k, "state": "unknown", "last_seq": q, "last_seen": now()}
            for (s, k), q in sorted(top.items())]
    upsert, params = bulk_insert(session, Kiosk, rows)

    def build() -> UpdateBase:
        new = upsert.excluded.last_seq
        return upsert.on_conflict_do_update(
            index_elements=[Kiosk.store, Kiosk.kiosk],
            set_={
                "last_seq": case((Kiosk.last_seq.is_(None), new), (new > Kiosk.last_seq, new),
                                 else_=Kiosk.last_seq),
                "last_seen": upsert.excluded.last_seen,
            },
        )

    await session.execute(compiled_once(session, ("ingest.kiosk_seq", *rows[0]), build), params)
