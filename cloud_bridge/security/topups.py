"""Stored-value top-ups at the counter: scoped, capped by role, a second person above a
threshold, and who did it recorded.

A top-up creates money on a member's card, so a dishonest clerk's limit is what the
rules here allow, not 10^9 fen per call with a log line:

- store staff top up only at their own store (``store`` in the body; 403 otherwise);
- each role has a cap per call and per day (the day in China time, per user);
- at or above :attr:`TopUpLimits.second_person_fen` another console user (head office,
  or staff of the same store) types their username and secret at the same counter;
  it is checked like a login (throttled, lockout) and must not be the requester;
- every top-up is recorded in ``sec_topups`` (who, where, approved by whom) before the
  ledger entry is made; a retry with the same key is the same top-up (counted once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.errors import Forbidden, InvalidRequest, Unauthorized
from cloud_bridge.models import AdminUser, now

from . import service
from .models import TopUpRecord

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class TopUpLimits:
    """Fen. A counter top-up is a few hundred yuan; head office handles corporate cards."""

    per_call: dict[str, int]
    per_day: dict[str, int]
    second_person_fen: int = 100_000  # 1,000 yuan and up: a second person approves


LIMITS = TopUpLimits(
    per_call={auth.STORE_STAFF: 200_000, auth.HEAD_OFFICE: 5_000_000},
    per_day={auth.STORE_STAFF: 1_000_000, auth.HEAD_OFFICE: 50_000_000},
)


def _day_start() -> datetime:
    local = now().astimezone(CHINA)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def _approver(db: Database, guard: service.LoginGuard, principal: auth.Principal,
                    store: str | None, username: str | None, secret: str | None,
                    source: str) -> str:
    if not username or not secret:
        raise Forbidden("top-ups this large need a second person: approver and "
                        "approver_secret")
    if username == principal.username:
        raise Forbidden("the approver must be another person")
    try:  # the same checks as a login: throttled, counts toward the lockout
        await service.verify_user(db, guard, username, secret, source)
    except Unauthorized as err:
        raise Forbidden("approver's username or secret is wrong") from err
    async with db.read() as s:
        user = await s.scalar(select(AdminUser).where(AdminUser.username == username))
    if user is None or user.role not in (auth.HEAD_OFFICE, auth.STORE_STAFF) or (
            user.role == auth.STORE_STAFF and user.store != store):
        raise Forbidden("the approver must be head office or staff of the same store")
    return f"admin:{username}"


async def authorize(db: Database, guard: service.LoginGuard, principal: auth.Principal,
                    member_id: str, amount: int, key: str, store: str | None,
                    approver: str | None, approver_secret: str | None, source: str) -> None:
    """Check the top-up against scope, caps and approval, and record who; raise if refused."""
    role = principal.role or ""
    if not principal.chain_wide:
        store = store or principal.store
    if store is not None:
        principal.check_store(store)
    if role not in LIMITS.per_call:
        raise Forbidden(f"role {role} may not top up stored value")
    entry_key = f"topup:{key}"
    async with db.read() as s:
        if await s.get(TopUpRecord, entry_key) is not None:
            return  # a retry of a recorded top-up: the ledger applies it once
        today = await s.scalar(select(func.coalesce(func.sum(TopUpRecord.amount), 0)).where(
            TopUpRecord.requested_by == principal.actor,
            TopUpRecord.created_at >= _day_start()))
    if amount > LIMITS.per_call[role]:
        raise InvalidRequest(f"a top-up by {role} is at most {LIMITS.per_call[role]} fen")
    if int(today or 0) + amount > LIMITS.per_day[role]:
        raise Forbidden(f"daily top-up limit of {LIMITS.per_day[role]} fen reached "
                        f"({today} fen today)")
    approved_by = None
    if amount >= LIMITS.second_person_fen:
        approved_by = await _approver(db, guard, principal, store, approver, approver_secret,
                                      source)

    async def record(s: AsyncSession) -> None:
        insert = (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert
        await s.execute(insert(TopUpRecord).values(
            entry_key=entry_key, member_id=member_id, amount=amount, store=store,
            requested_by=principal.actor, approved_by=approved_by,
            created_at=now()).on_conflict_do_nothing())
        await service.audit(s, principal.actor, "sv.topup", member_id, source,
                            f"{amount} fen at {store or '-'}; approved by {approved_by or '-'}")

    await db.transact(record)

