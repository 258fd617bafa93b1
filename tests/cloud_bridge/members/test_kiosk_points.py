"""Points redeemed at kiosks are taken from the member's balance when the sale is ingested
(through the broker, the real Ingest): once per order, a resend takes nothing, never
below zero when two offline kiosks spent the same points (the second takes what is left
and is flagged ``points_short``), not at all beyond the member code's snapshot (the sale
is booked without its member), and given back when the order is refunded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from cloud_bridge.errors import Conflict
from cloud_bridge.members import jobs, points, service
from cloud_bridge.members.member_code import issue_member_code
from cloud_bridge.members.models import MemberRecord, PointsEntry
from cloud_bridge.members.order_points import REDEEM_SOURCE, RETURN_SOURCE, redeem_for_order
from cloud_bridge.models import Alert, Order
from contract.signing import private_key_pem
from tests.cloud_bridge.security.test_member_sales import (
    BALANCE,
    CHAIN,
    _publish_all,
    _sale,
)

HELD = 1000  # the member's points when the codes were shown


async def _member(db) -> str:
    async with db.session() as s:
        m, _ = await service.register(s, appid="wx1", openid="o-points")
        await s.execute(update(MemberRecord).where(MemberRecord.id == m.id)
                        .values(registered_at=datetime.now(UTC) - timedelta(days=1)))
        await points.grant(s, m.id, "gift", "welcome", HELD)
        await s.commit()
        return m.id


async def _balance(db, member_id: str) -> int:
    async with db.read() as s:
        return (await s.get(MemberRecord, member_id)).points


async def test_redeemed_points_are_taken_once_never_below_zero_and_given_back(
        broker, db, db_url, monkeypatch):
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    m = await _member(db)
    snap = ("gold", HELD, BALANCE)

    def code() -> str:
        return issue_member_code(CHAIN, m, *snap)

    first = _sale(0, m, code(), snap, stored_value=False, points_redeemed=600)
    over = _sale(1, m, code(), snap, stored_value=False, points_redeemed=HELD + 1)
    await _publish_all(broker, db, db_url, [first, over])
    assert await _balance(db, m) == HELD - 600
    await _publish_all(broker, db, db_url, [first])  # a resend takes nothing
    assert await _balance(db, m) == HELD - 600
    # Offline at the same time, another kiosk let the same points be spent again.
    second = _sale(0, m, code(), snap, stored_value=False, points_redeemed=600, kiosk="k2")
    await _publish_all(broker, db, db_url, [second], kiosk_id="k2")
    assert await _balance(db, m) == 0
    async with db.read() as s:
        taken = dict((await s.execute(select(PointsEntry.source_id, PointsEntry.points).where(
            PointsEntry.source_type == REDEEM_SOURCE))).all())
        short = (await s.scalars(select(Alert).where(Alert.kind == "points_short"))).one()
        over_order = await s.scalar(select(Order).where(Order.order_no == over.data["order_no"]))
    assert taken == {first.data["order_no"]: -600, second.data["order_no"]: -(HELD - 600)}
    assert (short.order_no, short.detail["short"]) == (second.data["order_no"], 600 - (HELD - 600))
    assert over_order.member_id is None  # beyond the snapshot: not the member's sale

    # The first order is refunded: its 600 points come back, once.
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == first.data["order_no"])
                        .values(refunded_total=Order.total))
        await s.commit()
    for _ in range(2):
        async with db.session() as s:
            await jobs.sync_orders(s)
            await s.commit()
    async with db.read() as s:
        back = await s.scalar(select(func.sum(PointsEntry.points)).where(
            PointsEntry.source_type == RETURN_SOURCE))
        ledger = await s.scalar(select(func.sum(PointsEntry.points)).where(
            PointsEntry.member_id == m))
    assert back == 600
    assert ledger == await _balance(db, m) >= 0  # the ledger adds up to the balance


async def test_concurrent_redemptions_never_overdraw(db):
    m = await _member(db)

    async def redeem(n: int) -> int:
        async def work(s):
            return (await redeem_for_order(s, m, f"s1-k{n}-20260301-0001", 300)).taken
        try:
            return await db.transact(work)
        except Conflict:
            return 0

    taken = await asyncio.gather(*(redeem(n) for n in range(8)))
    assert sum(taken) == HELD and await _balance(db, m) == 0
    async with db.read() as s:
        rows = (await s.scalars(select(PointsEntry.points).where(
            PointsEntry.source_type == REDEEM_SOURCE))).all()
    assert -sum(rows) == HELD and all(r < 0 for r in rows)
