"""Points: an append-only ledger with FIFO batches; the balance can never go negative.

Every change is one ``mem_points_ledger`` row unique per (source_type, source_id):
accruing for an order twice, or redeeming with the same request id twice, inserts
nothing the second time. The balance on ``mem_members.points`` moves only through a
conditional ``UPDATE ... WHERE points >= n``, which also serialises concurrent spends of
one member (the row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two
redemptions racing for the last points cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import get_row, rows_changed
from ..errors import Conflict
from ..models import now as utcnow
from .models import MemberRecord, PointsBatch, PointsEntry
from .service import program


async def _insert_entry(s: AsyncSession, **fields) -> PointsEntry | None:
    entry = PointsEntry(**fields)
    try:
        async with s.begin_nested():
            s.add(entry)
    except IntegrityError:
        return None
    return entry


async def accrue(s: AsyncSession, member_id: str, source_type: str, source_id: str,
                 eligible_fen: int, at: datetime | None = None) -> int:
    """Points for ``eligible_fen`` paid (the level's multiplier applies), once per source.

    Returns the points added (0 when this source was counted before or earns nothing).
    """
    m = await get_row(s, MemberRecord, member_id)
    prog = await program(s)
    mult = prog.level(m.level).points_multiplier_bp
    pts = eligible_fen // 100 * prog.points_per_yuan * mult // 10_000
    return await grant(s, member_id, source_type, source_id, pts, at=at,
                       expiry_days=prog.points_expiry_days)


async def grant(s: AsyncSession, member_id: str, source_type: str, source_id: str, pts: int,
                *, at: datetime | None = None, expiry_days: int | None = None) -> int:
    """Add ``pts`` points as one batch expiring ``expiry_days`` after ``at``, once per source."""
    if pts <= 0:
        return 0
    at = at or utcnow()
    if expiry_days is None:
        expiry_days = (await program(s)).points_expiry_days
    entry = await _insert_entry(s, member_id=member_id, kind="accrue", points=pts,
                                source_type=source_type, source_id=source_id, created_at=at)
    if entry is None:
        return 0
    s.add(PointsBatch(entry_id=entry.id, member_id=member_id, remaining=pts,
                      expires_at=at + timedelta(days=expiry_days)))
    await s.execute(update(MemberRecord).where(MemberRecord.id == member_id)
                    .values(points=MemberRecord.points + pts))
    return pts


async def _take(s: AsyncSession, member_id: str, pts: int, kind: str, source_type: str,
                source_id: str, first_batch: int | None = None) -> bool:
    """Take ``pts`` from the balance and the batches (oldest expiry first)."""
    entry = await _insert_entry(s, member_id=member_id, kind=kind, points=-pts,
                                source_type=source_type, source_id=source_id)
    if entry is None:
        return False
    changed = await rows_changed(s, update(MemberRecord)
                                 .where(MemberRecord.id == member_id, MemberRecord.points >= pts)
                                 .values(points=MemberRecord.points - pts))
    if changed != 1:
        raise Conflict(f"not enough points: {pts} asked")
    batches = list((await s.scalars(
        select(PointsBatch).where(PointsBatch.member_id == member_id, PointsBatch.remaining > 0)
        .order_by(PointsBatch.expires_at, PointsBatch.entry_id))).all())
    if first_batch is not None:
        batches.sort(key=lambda b: b.entry_id != first_batch)
    left = pts
    for b in batches:
        used = min(left, b.remaining)
        b.remaining -= used
        left -= used
        if left == 0:
            break
    return True


async def redeem(s: AsyncSession, member_id: str, pts: int, request_id: str) -> bool:
    """Spend ``pts`` points once for ``request_id`` (False: this request was done before).

    Raises:
        Conflict: the balance is smaller than ``pts`` (nothing changes).
    """
    if pts <= 0:
        raise Conflict("points to redeem must be positive")
    return await _take(s, member_id, pts, "redeem", "redeem", request_id)


async def reverse(s: AsyncSession, source_type: str, source_id: str, refund_id: str) -> int:
    """Take back the points an accrual gave (an order refunded), at most the balance.

    Points already spent are not clawed below zero: the member keeps what they redeemed
    and the ledger shows the shortfall as the difference. Once per ``refund_id``.
    """
    acc = await s.scalar(select(PointsEntry).where(PointsEntry.source_type == source_type,
                                                   PointsEntry.source_id == source_id,
                                                   PointsEntry.kind == "accrue"))
    if acc is None:
        return 0
    m = await get_row(s, MemberRecord, acc.member_id)
    await s.refresh(m)
    pts = min(acc.points, m.points)
    if pts <= 0:
        return 0
    done = await _take(s, acc.member_id, pts, "reverse", "refund", refund_id,
                       first_batch=acc.id)
    return pts if done else 0


async def expire(s: AsyncSession, at: datetime | None = None) -> int:
    """Expire what is left of every batch past its date; returns the points expired."""
    at = at or utcnow()
    total = 0
    due = (await s.scalars(select(PointsBatch).where(PointsBatch.expires_at <= at,
                                                     PointsBatch.remaining > 0))).all()
    for b in due:
        pts = b.remaining
        entry = await _insert_entry(s, member_id=b.member_id, kind="expire", points=-pts,
                                    source_type="expiry", source_id=str(b.entry_id))
        if entry is None:
            continue
        b.remaining = 0
        await s.execute(update(MemberRecord).where(MemberRecord.id == b.member_id)
                        .values(points=MemberRecord.points - pts))
        total += pts
    return total


async def ledger(s: AsyncSession, member_id: str, limit: int = 50, offset: int = 0
                 ) -> list[PointsEntry]:
    """The member's ledger lines, newest first."""
    return list((await s.scalars(
        select(PointsEntry).where(PointsEntry.member_id == member_id)
        .order_by(PointsEntry.id.desc()).limit(limit).offset(offset))).all())
