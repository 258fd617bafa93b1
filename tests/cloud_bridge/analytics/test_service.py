"""The service reads the nightly results and gives the same numbers as the metrics on the
raw record; forecast_demand serves the supply chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud_bridge.analytics import metrics, service
from cloud_bridge.analytics.frames import frames_from_year
from cloud_bridge.analytics.jobs import run_nightly
from cloud_bridge.analytics.seed import write_chain


@pytest.fixture
async def ran(db, small_year):
    """The small chain in the database with one nightly run done; its last day."""
    await write_chain(db, small_year)
    as_of = small_year.spec.start + timedelta(days=small_year.spec.days - 1)
    await run_nightly(db, as_of=as_of)
    return as_of


async def test_every_metric_from_the_tables_matches_the_raw_record(db, small_year, ran):
    fr = frames_from_year(small_year)
    f = service.Filters(start=ran - timedelta(days=13), end=ran)
    async with db.session() as s:
        tables = {m: await service.metric_table(s, m, f) for m in service.METRICS}
        by_store = await service.metric_table(s, "sales_by_store",
                                              service.Filters(f.start, f.end, store="S1"))
        by_cat = await service.metric_table(s, "sales_by_category",
                                            service.Filters(f.start, f.end, category="饮料"))
    raw = metrics.sales_by(metrics.daily_sales(fr.lines), "product", f.start, f.end)
    assert tables["sales_by_product"].equals(raw)
    aov = metrics.average_order_value(metrics.hourly_sales(fr.orders), f.start, f.end, by=None)
    assert tables["average_order_value"]["aov"][0] == pytest.approx(aov["aov"][0])
    assert tables["repurchase_rate"].equals(metrics.repurchase_rate(fr.orders, f.start, f.end))
    assert tables["payment_mix"]["amount"].sum() == fr.orders.filter(
        fr.orders["business_date"].is_between(f.start, f.end))["total"].sum()
    assert by_store["key"].to_list() == ["S1"]
    assert set(by_cat["key"]) <= {"饮料"}
    assert tables["conversion_funnel"]["sessions"][0] == 0  # no events yet
    assert tables["retention_cohorts"].height > 0


async def test_forecast_demand_for_supply(db, ran):
    async with db.session() as s:
        fc = await service.forecast_demand(s, "S1")
        assert fc and {x.business_date for x in fc} == {ran + timedelta(days=k)
                                                        for k in range(1, 15)}
        one = fc[0].product_id
        week = await service.forecast_demand(s, "S1", [one], days=7)
        assert len(week) == 7 and all(x.product_id == one and x.lo <= x.units <= x.hi
                                      for x in week)
        assert await service.forecast_demand(s, "S9") == []
        segs = await service.segment_counts(s)
        assert segs["members"].sum() > 0
