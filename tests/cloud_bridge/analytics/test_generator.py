"""The chain generator: its shape, and the same record read back from the bridge's tables."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import func, select

from cloud_bridge.analytics import metrics
from cloud_bridge.analytics.frames import frames_from_year, load_frames
from cloud_bridge.analytics.generator import ChainSpec, generate
from cloud_bridge.analytics.seed import write_chain
from cloud_bridge.models import Order, OrderLine
from cloud_bridge.payments.models import Payment


def test_generated_chain_is_consistent_and_seeded(small_year):
    y = small_year
    assert y.orders.height > 500 and 2000 < y.lines.height < 4500
    assert set(y.orders["store"]) == {"S1", "S2"}
    # order totals are the sums of their lines; line amounts are gross - discount
    sums = y.lines.group_by("order_idx").agg(pl.col("amount").sum())
    joined = y.orders.join(sums, on="order_idx")
    assert (joined["total"] == joined["amount"]).all()
    assert ((y.lines["qty"] * y.lines["unit_price"] - y.lines["discount"])
            == y.lines["amount"]).all()
    # barcodes are valid EAN-13
    for code in y.products["barcode"].head(20):
        digits = [int(c) for c in code]
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10 == (
            (10 - digits[12]) % 10)
    again = generate(y.seed, y.spec)
    assert again.lines.equals(y.lines)


def test_weekend_and_spring_festival_shape():
    y = generate(7, ChainSpec(stores=1, products=50, members=200, days=120, lines=60_000))
    per_day = y.orders.group_by("business_date").len().sort("business_date")
    dow = per_day.with_columns(pl.col("business_date").dt.weekday().alias("d"))
    weekend = dow.filter(pl.col("d") >= 6)["len"].mean()
    weekday = dow.filter(pl.col("d") <= 4)["len"].mean()
    assert weekend > 1.2 * weekday
    # 2025-01-29 is Spring Festival: the fortnight before is busier than the days after
    before = per_day.filter(pl.col("business_date").is_between(
        date(2025, 1, 16), date(2025, 1, 26)))["len"].mean()
    during = per_day.filter(pl.col("business_date").is_between(
        date(2025, 1, 28), date(2025, 2, 2)))["len"].mean()
    assert before > 2 * during
    # churners stop buying after their churn day
    churned = y.members.filter(pl.col("churner") & (pl.col("churn_day") < 60))
    late = y.orders.filter(pl.col("member_id").is_in(churned["member_id"].to_list())
                           & (pl.col("business_date") > date(2025, 3, 1)))
    assert late.height == 0 or churned.height == 0


@pytest.mark.parametrize("with_payments", [True])
async def test_written_chain_reads_back_the_same(db, small_year, with_payments):
    await write_chain(db, small_year, with_payments=with_payments)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == small_year.orders.height
        assert (await s.scalar(select(func.count()).select_from(OrderLine))
                == small_year.lines.height)
        assert await s.scalar(select(func.count()).select_from(Payment)) > 0
    live = await load_frames(db)
    mem = frames_from_year(small_year)
    cols = ["store", "business_date", "product_id", "category", "qty", "revenue", "discount"]
    a = metrics.daily_sales(live.lines).select(cols).sort(cols[:3])
    b = metrics.daily_sales(mem.lines).select(cols).sort(cols[:3])
    assert a.equals(b)
    ha = metrics.hourly_sales(live.orders).drop("member_orders")
    hb = metrics.hourly_sales(mem.orders).drop("member_orders")
    assert ha.equals(hb)
    pa = metrics.payments_daily(live.tenders)
    pb = metrics.payments_daily(mem.tenders)
    assert pa.equals(pb)


async def test_orders_without_tenders_and_unpaid_orders(db):
    from datetime import UTC, datetime

    from cloud_bridge.models import Order

    at = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
    async with db.session() as s:
        for no, status, details in (("A-1", "completed", None), ("A-2", "completed", {}),
                                    ("A-3", "created", None), ("A-4", "paid",
                                    {"tenders": [{"method": "alipay", "amount": 60},
                                                 {"method": "stored_value", "amount": 40}]})):
            s.add(Order(order_no=no, store="S1", source="mp", status=status, total=100,
                        subtotal=100, discount_total=0, refunded_total=0,
                        business_date="2026-03-02", created_at=at, details=details))
    fr = await load_frames(db)
    assert sorted(fr.orders["hour"].to_list()) == [10, 10, 10]  # the unpaid order is no sale
    mix = dict(zip(fr.tenders["method"], fr.tenders["amount"], strict=True))
    assert fr.tenders.height == 4 and mix == {"unknown": 100, "alipay": 60, "stored_value": 40}
