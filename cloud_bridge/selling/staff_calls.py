"""Kiosks' staff calls (呼叫店员) in the fleet view.

A kiosk publishes its call as a retained :class:`~contract.wire.staff.StaffCall` on
``staff/call``; the ingest's fleet writer stores the newest per kiosk here (an older
message, e.g. a retained one replayed after a reconnect, never overwrites a newer one).
The fleet view and ``GET /api/v1/admin/staff-calls`` show open calls until the kiosk
reports them answered.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.inventory import dialect_insert
from common.jsontypes import JsonObject
from contract.wire.staff import StaffCall

from .models import StaffCallRow


async def apply_staff_call(session: AsyncSession, store: str, kiosk: str,
                           call: StaffCall) -> None:
    """Store ``call`` as the kiosk's latest unless a newer one is stored already."""
    values = {"call_id": call.call_id, "active": call.active, "reason": call.reason,
              "called_at": call.called_at, "answered_at": call.answered_at,
              "answered_by": call.answered_by, "ts": call.ts}
    stmt = dialect_insert(session, StaffCallRow).values(store=store, kiosk=kiosk, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StaffCallRow.store, StaffCallRow.kiosk], set_=values,
        where=StaffCallRow.ts < stmt.excluded.ts)
    await session.execute(stmt)


def call_json(row: StaffCallRow) -> JsonObject:
    return {"store": row.store, "kiosk": row.kiosk, "call_id": row.call_id,
            "active": row.active, "reason": row.reason,
            "called_at": row.called_at.isoformat(),
            "answered_at": row.answered_at.isoformat() if row.answered_at else None,
            "answered_by": row.answered_by}


async def staff_calls(session: AsyncSession, store: str | None = None,
                      active_only: bool = True) -> list[JsonObject]:
    """Staff calls, oldest open call first (the one waiting longest)."""
    q = select(StaffCallRow).order_by(StaffCallRow.called_at, StaffCallRow.store,
                                      StaffCallRow.kiosk)
    if store is not None:
        q = q.where(StaffCallRow.store == store)
    if active_only:
        q = q.where(StaffCallRow.active.is_(True))
    return [call_json(r) for r in (await session.scalars(q)).all()]


async def attach_to_fleet(session: AsyncSession, rows: list[JsonObject]) -> None:
    """Put each kiosk's open staff call (or ``None``) on its fleet view row."""
    stores = sorted({str(r["store"]) for r in rows})
    calls = {(c["store"], c["kiosk"]): c for store in stores
             for c in await staff_calls(session, store)}
    for r in rows:
        r["staff_call"] = calls.get((r["store"], r["kiosk"]))
