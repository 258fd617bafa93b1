"""Each metric of cloud_bridge.analytics.metrics against the hand-computed small case."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cloud_bridge.analytics import metrics as m

from .hand_case import hand_frames

WEEK = (date(2026, 3, 2), date(2026, 3, 8))  # previous period: 2026-02-23..03-01


@pytest.fixture(scope="module")
def f():
    """The hand case as frames plus its fact tables."""
    fr = hand_frames()
    return fr, m.daily_sales(fr.lines), m.hourly_sales(fr.orders), m.payments_daily(fr.tenders)


def rows(frame: pl.DataFrame) -> dict:
    return {r["key"]: r for r in frame.to_dicts()}


def test_sales_by_product_with_period_over_period(f):
    _, daily, _, _ = f
    out = rows(m.sales_by(daily, "product", *WEEK))
    # P1: 600 + 500 this week, 400 the week before -> +175 %
    assert out["P1"]["revenue"] == 1100 and out["P1"]["qty"] == 3
    assert out["P1"]["prev_revenue"] == 400 and out["P1"]["change"] == pytest.approx(1.75)
    assert out["P2"]["revenue"] == 400 and out["P2"]["change"] is None
    assert out["P3"]["revenue"] == 2000 and out["P3"]["qty"] == 4
    assert list(out) == ["P3", "P1", "P2"]  # by revenue


def test_sales_by_category_store_and_day(f):
    _, daily, _, _ = f
    cat = rows(m.sales_by(daily, "category", *WEEK))
    assert cat["饮料"]["revenue"] == 1100 and cat["饮料"]["change"] == pytest.approx(1.75)
    assert cat["零食"]["revenue"] == 2400 and cat["零食"]["prev_revenue"] == 0
    store = rows(m.sales_by(daily, "store", *WEEK))
    assert store["S1"]["revenue"] == 1500 and store["S1"]["prev_revenue"] == 400
    assert store["S2"]["revenue"] == 2000
    day = rows(m.sales_by(daily, "day", *WEEK))
    assert day["2026-03-03"]["revenue"] == 2500
    assert day["2026-03-03"]["prev_revenue"] == 400  # Tuesday 02-24 (order 6)
    assert day["2026-03-02"]["revenue"] == 1000 and day["2026-03-02"]["change"] is None


def test_sales_by_hour(f):
    _, _, hourly, _ = f
    out = rows(m.sales_by_hour(hourly, *WEEK))
    assert len(out) == 24
    assert out[10]["orders"] == 2 and out[10]["revenue"] == 1500
    assert out[10]["change"] == pytest.approx((1500 - 400) / 400)
    assert out[18]["revenue"] == 2000 and out[3]["orders"] == 0
    assert out[10]["revenue_per_day"] == pytest.approx(1500 / 7)


def test_average_order_value(f):
    _, _, hourly, _ = f
    by_store = rows(m.average_order_value(hourly, *WEEK, by="store"))
    assert by_store["S1"]["aov"] == pytest.approx(750) and by_store["S2"]["aov"] == 2000
    assert by_store["S1"]["prev_aov"] == 400 and by_store["S2"]["prev_aov"] is None
    overall = rows(m.average_order_value(hourly, *WEEK, by=None))["all"]
    assert overall["orders"] == 3 and overall["aov"] == pytest.approx(3500 / 3)
    assert overall["change"] == pytest.approx((3500 / 3 - 400) / 400)


def test_payment_mix(f):
    _, _, _, pay = f
    out = rows(m.payment_mix(pay, *WEEK))
    assert out["wechat"]["amount"] == 2500 and out["wechat"]["payments"] == 2
    assert out["wechat"]["amount_share"] == pytest.approx(2500 / 3500)
    assert out["wechat"]["count_share"] == pytest.approx(0.5)
    assert out["stored_value"]["amount"] == 500 and "cash" not in out


def test_retention_cohorts(f):
    fr, *_ = f
    out = {(r["cohort_week"].isoformat(), r["week_offset"]): r
           for r in m.retention_cohorts(fr.orders).to_dicts()}
    # A and B first bought in the week of 03-02; only B came back the week after.
    assert out[("2026-03-02", 0)]["cohort_size"] == 2 and out[("2026-03-02", 0)]["rate"] == 1.0
    assert out[("2026-03-02", 1)]["members"] == 1 and out[("2026-03-02", 1)]["rate"] == 0.5
    assert out[("2026-02-23", 0)]["cohort_size"] == 1 and ("2026-02-23", 1) not in out
    per_store = m.retention_cohorts(fr.orders, per_store=True)
    assert set(per_store["store"]) == {"S1", "S2"}


def test_repurchase_rate(f):
    fr, *_ = f
    week = rows(m.repurchase_rate(fr.orders, *WEEK))["all"]
    assert (week["buyers"], week["repeat_buyers"], week["rate"]) == (2, 1, 0.5)  # A twice
    two = rows(m.repurchase_rate(fr.orders, date(2026, 3, 2), date(2026, 3, 15)))["all"]
    assert two["rate"] == 1.0  # A and B both bought twice
    by_store = rows(m.repurchase_rate(fr.orders, *WEEK, by="store"))
    assert by_store["S1"]["rate"] == 1.0 and by_store["S2"]["rate"] == 0.0


def test_conversion_funnel():
    ev = pl.DataFrame({
        "session_id": ["s1", "s1", "s1", "s1", "s2", "s2", "s3"],
        "type": ["session_start", "item_scanned", "payment_attempted", "paid",
                 "session_start", "item_scanned", "session_start"],
        "store": ["S1", "S1", "S1", "S1", "S1", None, "S2"],
        "channel": ["scan", None, None, None, "share", None, "scan"],
        "at": list(range(7))})
    allk = rows(m.conversion_funnel(ev))["all"]
    assert (allk["sessions"], allk["item_scanned"], allk["paid"]) == (3, 2, 1)
    assert allk["conversion"] == pytest.approx(1 / 3)
    ch = rows(m.conversion_funnel(ev, by="channel"))
    assert ch["scan"]["sessions"] == 2 and ch["scan"]["conversion"] == 0.5
    assert ch["share"]["conversion"] == 0.0


def test_campaign_effect_against_previous_period_and_control_stores(f):
    _, daily, _, _ = f
    c = m.Campaign(start=WEEK[0], end=WEEK[1], products=("P1",), stores=("S1",), cost=50)
    out = m.campaign_effect(daily, c).to_dicts()[0]
    # S1 sold P1 for 1100 (discount 100) against 400 the week before
    assert (out["revenue"], out["discount"], out["baseline"]) == (1100, 100, 400)
    assert out["incremental"] == 700 and out["roi"] == pytest.approx((700 - 150) / 150)
    ctl = m.campaign_effect(daily, m.Campaign(start=date(2026, 3, 9), end=date(2026, 3, 15),
                                              products=("P2",), stores=("S1",),
                                              control_stores=("S2",)))
    # S1 P2: 400 now vs 400 before; control S2 P2: 300 now vs 0 before -> baseline = 400
    assert ctl["baseline"][0] == 400 and ctl["incremental"][0] == 0
