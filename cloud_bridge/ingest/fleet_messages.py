"""Ingest of fleet messages: status, telemetry, shadow reported, command results, staff calls."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from contract.wire import topics as T
from contract.wire.base import WireError, decode
from contract.wire.commands import CommandResult
from contract.wire.presence import KioskStatus, Telemetry
from contract.wire.shadow import ShadowReported
from contract.wire.staff import StaffCall

from .. import fleet
from ..selling.staff_calls import apply_staff_call

log = logging.getLogger(__name__)


async def apply_fleet_message(
    session: AsyncSession, store: str, kiosk: str, leaf: str, payload: bytes
) -> None:
    """Apply one status / telemetry / shadow reported / command result message."""
    try:
        if leaf == T.STATUS:
            await fleet.apply_status(session, store, kiosk, decode(KioskStatus, payload))
        elif leaf == T.TELEMETRY:
            await fleet.apply_telemetry(session, store, kiosk, decode(Telemetry, payload))
        elif leaf == T.SHADOW_REPORTED:
            await fleet.apply_reported(session, store, kiosk, decode(ShadowReported, payload))
        elif leaf == T.STAFF_CALL:  # 呼叫店员 (retained), selling domain
            await apply_staff_call(session, store, kiosk, decode(StaffCall, payload))
        elif leaf == T.CMD_RES:
            await fleet.record_command_result(session, store, kiosk,
                                              decode(CommandResult, payload))
    except WireError as err:
        log.warning("bad %s message from %s/%s: %s", leaf, store, kiosk, err.reason)


def latest_telemetry_only(
    batch: list[tuple[str, str, str, bytes]],
) -> list[tuple[str, str, str, bytes]]:
    """The batch without superseded telemetry, sorted by kiosk.

    Telemetry is periodic: only the newest per kiosk matters.
    """
    latest: dict[tuple[str, str], int] = {}
    for i, (s, k, leaf, _) in enumerate(batch):
        if leaf == T.TELEMETRY:
            latest[(s, k)] = i
    keep = [item for i, item in enumerate(batch)
            if item[2] != T.TELEMETRY or latest[(item[0], item[1])] == i]
    keep.sort(key=lambda it: (it[0], it[1]))
    return keep
