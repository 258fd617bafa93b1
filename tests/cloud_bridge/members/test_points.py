"""Points and growth on SQLite and PostgreSQL: accrual once per source, FIFO expiry by
batch, reversal on refund, no points on reward lines, and a balance that never goes
negative when redemptions race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cloud_bridge.errors import Conflict
from cloud_bridge.members import jobs, points, service
from cloud_bridge.members.models import MemberRecord, PointsBatch, PointsEntry
from cloud_bridge.models import Order, OrderLine

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _member(db, openid="o-alice") -> str:
    async with db.session() as s:
        m, _ = await service.register(s, appid="wx1", openid=openid)
        return m.id


async def _state(db, member_id):
    async with db.session() as s:
        m = await s.get(MemberRecord, member_id)
        ledger = await s.scalar(select(func.sum(PointsEntry.points))
                                .where(PointsEntry.member_id == member_id))
        left = await s.scalar(select(func.coalesce(func.sum(PointsBatch.remaining), 0))
                              .where(PointsBatch.member_id == member_id))
        return m.points, int(ledger or 0), int(left)


async def test_accrual_is_once_per_source_and_expires_fifo(db):
    mid = await _member(db)
    async with db.session() as s:
        assert await points.grant(s, mid, "order", "A", 100, at=T0, expiry_days=30) == 100
        assert await points.grant(s, mid, "order", "A", 100, at=T0, expiry_days=30) == 0
        await points.grant(s, mid, "order", "B", 50, at=T0 + timedelta(days=10), expiry_days=30)
    async with db.session() as s:
        assert await points.redeem(s, mid, 120, "req-1")
        assert not await points.redeem(s, mid, 120, "req-1")  # the same request again
    assert await _state(db, mid) == (30, 30, 30)
    async with db.session() as s:  # the oldest batch was spent first: nothing of it is left
        assert await points.expire(s, T0 + timedelta(days=31)) == 0
    async with db.session() as s:
        assert await points.expire(s, T0 + timedelta(days=41)) == 30
        assert await points.expire(s, T0 + timedelta(days=41)) == 0
    assert await _state(db, mid) == (0, 0, 0)


async def test_redeeming_more_than_the_balance_changes_nothing(db):
    mid = await _member(db)
    async with db.session() as s:
        await points.grant(s, mid, "order", "A", 10, at=T0, expiry_days=30)
    with pytest.raises(Conflict):
        async with db.session() as s:
            await points.redeem(s, mid, 11, "req-x")
    assert await _state(db, mid) == (10, 10, 10)


async def test_concurrent_redemptions_never_overdraw(db):
    mid = await _member(db)
    async with db.session() as s:
        await points.grant(s, mid, "order", "A", 100, at=T0, expiry_days=3650)

    async def spend(i: int) -> bool:
        try:
            return await db.transact(lambda s: points.redeem(s, mid, 10, f"req-{i}"))
        except Conflict:
            return False

    results = await asyncio.gather(*(spend(i) for i in range(25)))
    assert sum(results) == 10
    assert await _state(db, mid) == (0, 0, 0)


async def _order(db, order_no, member_id, total, lines, refunded=0, status="paid"):
    async with db.session() as s:
        o = Order(order_no=order_no, store="s1", source="kiosk", status=status,
                  member_id=member_id, total=total, subtotal=total, refunded_total=refunded,
                  business_date="2026-03-01", paid_at=datetime.now(UTC))
        s.add(o)
        await s.flush()
        for i, (unit, qty, discount) in enumerate(lines, 1):
            s.add(OrderLine(order_id=o.id, line_no=i, product_id=f"p{i}", name_zh="x",
                            qty=qty, unit_price=unit, discount=discount,
                            amount=unit * qty - discount))


async def test_growth_and_points_from_orders_once_and_back_on_refund(db):
    mid = await _member(db)
    # 120 yuan paid, plus a reward line given away in full (no points for it).
    await _order(db, "O-1", mid, 12_000, [(6_000, 2, 0), (1_500, 1, 1_500)])
    for _ in range(2):  # the job runs twice: counted once
        async with db.session() as s:
            await jobs.sync_orders(s)
    async with db.session() as s:
        m = await s.get(MemberRecord, mid)
        assert (m.growth, m.points) == (100 + 120, 120)
        assert m.level == "regular"
    async with db.session() as s:
        o = await s.scalar(select(Order).where(Order.order_no == "O-1"))
        o.refunded_total, o.status = 12_000, "refunded"
    async with db.session() as s:
        await jobs.sync_orders(s)
    async with db.session() as s:
        await jobs.sync_orders(s)
    async with db.session() as s:
        m = await s.get(MemberRecord, mid)
        assert (m.growth, m.points) == (100, 0)
    assert await _state(db, mid) == (0, 0, 0)


async def test_levels_follow_growth(db):
    mid = await _member(db)
    await _order(db, "O-big", mid, 1_000_000, [(1_000_000, 1, 0)])  # 10,000 yuan
    async with db.session() as s:
        await jobs.sync_orders(s)
        m = await s.get(MemberRecord, mid)
        assert m.level == "gold"  # 10,100 growth: gold from 5,000, diamond from 20,000
        # gold earns x1.5 on the points of the next order
        assert await points.accrue(s, mid, "order", "O-next", 10_000) == 150
