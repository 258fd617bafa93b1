"""Claiming and redeeming coupons exactly once under concurrency, on SQLite and
PostgreSQL: 200 shoppers racing for a 100-coupon template, one shopper's parallel claims
against a per-user limit, one coupon locked by concurrent orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cloud_bridge.errors import Conflict
from cloud_bridge.marketing import service
from cloud_bridge.marketing.models import Coupon, CouponTemplate


async def _template(db, **over) -> int:
    fields = {"store": None, "name_zh": "券", "name_en": None, "kind": "fixed", "value": 500,
              "cap": None, "threshold": 0, "categories": [], "exclude_categories": [],
              "valid_from": None, "valid_until": None, "valid_days": 7, "total_limit": 100,
              "per_user_limit": 1, "min_level": None, "stackable": False, **over}
    async with db.session() as s:
        return (await service.create_template(s, created_by="test", **fields)).id


async def _attempt(db, work) -> bool:
    try:
        await db.transact(work, retries=20)
        return True
    except Conflict:
        return False


async def test_200_claimers_of_100_coupons_get_exactly_100(db):
    tid = await _template(db, total_limit=100)
    wins = await asyncio.gather(*(
        _attempt(db, lambda s, i=i: service.claim(s, tid, f"m{i:04d}")) for i in range(200)))
    assert sum(wins) == 100
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Coupon)) == 100
        assert (await s.get(CouponTemplate, tid)).issued == 100
        owners = (await s.scalars(select(Coupon.owner))).all()
        assert len(set(owners)) == 100  # one each


async def test_one_shoppers_parallel_claims_stop_at_the_limit(db):
    tid = await _template(db, total_limit=50, per_user_limit=2)
    wins = await asyncio.gather(*(
        _attempt(db, lambda s: service.claim(s, tid, "m-greedy")) for _ in range(20)))
    assert sum(wins) == 2
    async with db.session() as s:
        assert (await s.get(CouponTemplate, tid)).issued == 2  # refused claims took no slot


async def test_one_coupon_on_concurrent_orders_is_locked_and_used_once(db):
    tid = await _template(db)
    async with db.session() as s:
        cid = (await service.claim(s, tid, "m1")).id
    orders = [f"O-{i}" for i in range(30)]
    wins = await asyncio.gather(*(
        _attempt(db, lambda s, o=o: service.lock(s, cid, "m1", o)) for o in orders))
    assert sum(wins) == 1
    winner = orders[wins.index(True)]
    used = await asyncio.gather(*(
        _attempt(db, lambda s, o=o: service.use(s, cid, o)) for o in orders))
    assert sum(used) == 1 and used[orders.index(winner)]
    async with db.session() as s:
        c = await s.get(Coupon, cid)
        assert (c.status, c.order_no) == ("used", winner)
        assert await service.used_count(s, tid) == 1


async def test_release_on_cancel_and_expiry(db):
    tid = await _template(db, valid_days=1)
    t0 = datetime.now(UTC)
    async with db.session() as s:
        cid = (await service.claim(s, tid, "m1", at=t0)).id
        await service.lock(s, cid, "m1", "O-1", at=t0)
        await service.use(s, cid, "O-1", at=t0)
    async with db.session() as s:
        assert await service.release(s, "O-1", at=t0) == 1  # refunded: back to the wallet
        c = await s.get(Coupon, cid)
        assert (c.status, c.order_no) == ("unused", None)
        assert await service.used_count(s, tid) == 0
        await service.lock(s, cid, "m1", "O-2", at=t0)  # usable again
    async with db.session() as s:
        assert await service.release(s, "O-2", at=t0 + timedelta(days=2)) == 1
        assert (await s.get(Coupon, cid)).status == "expired"  # released after its end
    tid2 = await _template(db, valid_days=1)
    async with db.session() as s:
        cid2 = (await service.claim(s, tid2, "m2", at=t0)).id
    async with db.session() as s:
        assert await service.expire(s, t0 + timedelta(days=2)) == 1
        assert (await s.get(Coupon, cid2)).status == "expired"
