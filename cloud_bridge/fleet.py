"""Fleet view: presence, telemetry and reported shadow per kiosk.

Kept from the retained ``status``, the periodic ``telemetry`` and the retained
``shadow/reported`` messages. A status older than the one stored is ignored (a
retained message replayed after a reconnect must not flip a kiosk back).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject
from contract.wire.commands import CommandResult
from contract.wire.presence import KioskStatus, Telemetry
from contract.wire.shadow import ShadowReported

from .inventory import dialect_insert
from .models import CommandResultRow, Kiosk, now


async def _kiosk(session: AsyncSession, store: str, kiosk: str) -> Kiosk:
    """The kiosk row, created when first seen (concurrent workers: insert-or-nothing)."""
    await session.execute(
        dialect_insert(session, Kiosk).values(store=store, kiosk=kiosk, state="unknown")
        .on_conflict_do_nothing(index_elements=[Kiosk.store, Kiosk.kiosk])
    )
    q = select(Kiosk).where(Kiosk.store == store, Kiosk.kiosk == kiosk)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return (await session.scalars(q.execution_options(populate_existing=True))).one()


async def apply_status(session: AsyncSession, store: str, kiosk: str, st: KioskStatus) -> None:
    k = await _kiosk(session, store, kiosk)
    if k.state_since is not None and st.ts < k.state_since:
        return
    if k.state != st.state or k.state_since is None:
        k.state_since = st.ts
    k.state = st.state
    k.state_reason = st.reason
    if st.version:
        k.version = st.version
    if st.boot_time:
        k.boot_time = st.boot_time
    k.last_seen = now()


async def apply_telemetry(session: AsyncSession, store: str, kiosk: str, t: Telemetry) -> None:
    k = await _kiosk(session, store, kiosk)
    if k.telemetry_at is not None and t.ts <= k.telemetry_at:
        return
    k.telemetry_at = t.ts
    k.queue_depth = t.queue_depth
    k.oldest_unsent_s = t.oldest_unsent_s
    k.dead_letters = t.dead_letters
    k.printer = t.printer
    k.paper = t.paper
    k.camera = t.camera
    k.offline_health = t.offline_health
    if t.catalog_version is not None:
        k.catalog_version = t.catalog_version
    if t.config_version is not None:
        k.config_version = t.config_version
    k.telemetry = t.model_dump(mode="json", exclude_none=True)
    k.last_seen = now()
    if k.state != "online":
        # Telemetry means it is up even if its retained status has not reached us yet.
        k.state, k.state_since = "online", now()


async def apply_reported(session: AsyncSession, store: str, kiosk: str, r: ShadowReported) -> None:
    k = await _kiosk(session, store, kiosk)
    if k.reported_at is not None and r.ts < k.reported_at:
        return
    k.reported = r.model_dump(mode="json", exclude_none=True)
    k.reported_at = r.ts
    if r.applied_version is not None:
        k.config_version = r.applied_version
    k.last_seen = now()


async def record_desired(
    session: AsyncSession, store: str, kiosk: str, version: int, config: JsonObject
) -> None:
    """Remember the desired shadow we published (the console shows desired vs reported)."""
    k = await _kiosk(session, store, kiosk)
    k.desired, k.desired_version = config, version


async def record_command_result(
    session: AsyncSession, store: str, kiosk: str, res: CommandResult
) -> None:
    await session.execute(
        dialect_insert(session, CommandResultRow).values(
            cmd_id=res.cmd_id, store=store, kiosk=kiosk, ok=res.ok, result=res.result,
            error=res.error, received_at=now(),
        ).on_conflict_do_nothing(index_elements=[CommandResultRow.cmd_id])
    )


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def kiosk_json(k: Kiosk) -> JsonObject:
    """One row of the fleet view."""
    age = None
    if k.oldest_unsent_s is not None and k.telemetry_at is not None:
        age = round(k.oldest_unsent_s + (now() - k.telemetry_at).total_seconds(), 1) if (
            k.queue_depth) else 0.0
    return {
        "store": k.store,
        "kiosk": k.kiosk,
        "state": k.state,
        "state_since": _iso(k.state_since),
        "state_reason": k.state_reason,
        "version": k.version,
        "boot_time": _iso(k.boot_time),
        "last_seen": _iso(k.last_seen),
        "last_seq": k.last_seq,
        "queue_depth": k.queue_depth,
        "oldest_unsent_s": age,
        "dead_letters": k.dead_letters,
        "printer": k.printer,
        "paper": k.paper,
        "camera": k.camera,
        "offline_health": k.offline_health,
        "catalog_version": k.catalog_version,
        "config_version": k.config_version,
        "desired_version": k.desired_version,
        "telemetry_at": _iso(k.telemetry_at),
    }


async def fleet_view(session: AsyncSession, store: str | None = None) -> list[JsonObject]:
    q = select(Kiosk).order_by(Kiosk.store, Kiosk.kiosk)
    if store is not None:
        q = q.where(Kiosk.store == store)
    return [kiosk_json(k) for k in (await session.scalars(q)).all()]


async def kiosk_detail(session: AsyncSession, store: str, kiosk: str) -> JsonObject | None:
    k = await session.get(Kiosk, (store, kiosk))
    if k is None:
        return None
    out = kiosk_json(k)
    out.update(telemetry=k.telemetry, reported=k.reported, reported_at=_iso(k.reported_at),
               desired=k.desired)
    results = (await session.scalars(
        select(CommandResultRow).where(CommandResultRow.store == store,
                                       CommandResultRow.kiosk == kiosk)
        .order_by(CommandResultRow.received_at.desc()).limit(20))).all()
    out["command_results"] = [
        {"cmd_id": r.cmd_id, "ok": r.ok, "result": r.result, "error": r.error,
         "received_at": r.received_at.isoformat()} for r in results
    ]
    return out
