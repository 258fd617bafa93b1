"""Member points and coupons in the ledger: points earned, spent and taken back move the
points liability; a coupon's value is shown as coupon expense with revenue before it;
each posts once and the ledger stays balanced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.reports import trial_balance
from cloud_bridge.members import jobs as member_jobs
from cloud_bridge.members import points
from cloud_bridge.members.models import MemberRecord

from .helpers import ingest_sales, refund, sale_data

pytestmark = pytest.mark.timeout(90)


async def test_points_earned_spent_and_taken_back(db):
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add(MemberRecord(id="m1", appid="wx1", openid="o1",
                           registered_at=now - timedelta(days=30)))
    await ingest_sales(db, "s1", [sale_data("s1-k1-1", [("milk", 2, 1000, 1300)],
                                            [("wechat", 2000)], now, member_id="m1")])
    async with db.session() as s:
        await member_jobs.sync_orders(s)
        earned = (await s.get(MemberRecord, "m1")).points
    assert earned > 0
    result = await post_pending(db)
    assert result.posted.get("points") == 1
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
        assert tb[A.POINTS] == -earned and tb[A.POINTS_EXPENSE] == earned  # 1 point = 1 fen
        assert await points.redeem(s, "m1", 5, "gift-1")
    assert (await post_pending(db)).posted.get("points") == 1
    async with db.session() as s:
        chain = await trial_balance(s, store=None)
        assert chain[A.POINTS] == -(earned - 5)  # spent at head office's counter
    await refund(db, "s1-k1-1", 2000)
    async with db.session() as s:
        await member_jobs.sync_orders(s)
        left = (await s.get(MemberRecord, "m1")).points
    assert left == 0  # what was left of the order's points went back
    await post_pending(db)
    assert "points" not in (await post_pending(db)).posted  # each line once
    async with db.session() as s:
        chain = await trial_balance(s, store=None)
        assert chain.get(A.POINTS, 0) == -left == 0
        assert sum(chain.values()) == 0


def _coupon_sale(no: str, at: datetime) -> dict:
    data = sale_data(no, [("milk", 1, 1430, 1300)], [("wechat", 1130)], at)
    line = data["lines"][0]
    line.update(discount=300, amount=1130)
    data.update(subtotal=1430, discount_total=300, total=1130, coupons=["c1"],
                vat=[{"rate_bp": 1300, "gross": 1130, "net": 1000, "tax": 130}],
                discounts=[{"id": "c1", "kind": "coupon", "amount": 300, "label_zh": "满减券"}])
    return data


async def test_a_coupon_shows_as_coupon_expense_once(db):
    now = datetime.now(UTC)
    await ingest_sales(db, "s1", [_coupon_sale("s1-k1-2", now),
                                  sale_data("s1-k1-3", [("milk", 1, 500, 1300)],
                                            [("cash", 500)], now)])
    result = await post_pending(db)
    assert result.posted.get("coupon") == 1
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
    # 3.00 off, of which VAT 0.35: 2.65 of coupon expense, revenue shown before it.
    revenue = -sum(v for k, v in tb.items() if k.startswith(A.REVENUE))
    assert tb[A.COUPONS] == 265 and revenue == 1000 + 442 + 265
    await refund(db, "s1-k1-2", 565)
    assert (await post_pending(db)).posted.get("coupon_refund") == 1
    again = await post_pending(db)
    assert "coupon" not in again.posted and "coupon_refund" not in again.posted
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
        assert tb[A.COUPONS] == 265 - 133 and sum(tb.values()) == 0
