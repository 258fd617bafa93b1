"""The nightly job on a small generated chain written into the bridge's tables."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from sqlalchemy import func, select

from cloud_bridge.analytics import metrics
from cloud_bridge.analytics.frames import frames_from_year
from cloud_bridge.analytics.jobs import run_nightly, start_run
from cloud_bridge.analytics.models import (
    AnalyticsRun,
    BasketRule,
    Cohort,
    Forecast,
    MemberProfile,
    SalesDaily,
    WinBackAction,
)
from cloud_bridge.analytics.seed import write_chain
from cloud_bridge.errors import Conflict


async def test_nightly_run_writes_every_result_table_once(db, small_year):
    await write_chain(db, small_year)
    as_of = small_year.spec.start + timedelta(days=small_year.spec.days - 1)
    result = await run_nightly(db, as_of=as_of, trigger="on_demand", requested_by="t")
    async with db.session() as s:
        run = await s.get(AnalyticsRun, result.run_id)
        assert (run.status, run.progress, run.step) == ("done", 1.0, "done")
        n_daily = await s.scalar(select(func.count()).select_from(SalesDaily))
        revenue = await s.scalar(select(func.sum(SalesDaily.revenue)))
        assert n_daily == result.rows["sales_daily"] > 0
        assert revenue == small_year.lines["amount"].sum()
        assert await s.scalar(select(func.count()).select_from(Cohort)) > 0
        members = small_year.orders["member_id"].drop_nulls().n_unique()
        assert await s.scalar(select(func.count()).select_from(MemberProfile)) == members
        fc = (await s.scalars(select(Forecast))).all()
        assert fc and {f.business_date for f in fc} == {
            (as_of + timedelta(days=k)).isoformat() for k in range(1, 15)}
        assert all(f.lo <= f.point <= f.hi for f in fc)
        churned = await s.scalar(select(func.count()).select_from(MemberProfile)
                                 .where(MemberProfile.churned))
        actions = await s.scalar(select(func.count()).select_from(WinBackAction))
        assert actions == churned
        assert await s.scalar(select(func.count()).select_from(BasketRule)) >= 0
    # a second run rebuilds the same tables and never offers a coupon twice
    again = await run_nightly(db, as_of=as_of)
    assert again.rows["sales_daily"] == result.rows["sales_daily"]
    assert again.rows["winback"] == 0
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(WinBackAction)) == actions


async def test_a_live_run_blocks_a_second_start(db):
    await start_run(db, "2026-01-01", "nightly")
    with pytest.raises(Conflict):
        await start_run(db, "2026-01-01", "on_demand")


def test_daily_facts_add_up_to_the_lines(small_year):
    fr = frames_from_year(small_year)
    daily = metrics.daily_sales(fr.lines)
    assert daily["revenue"].sum() == small_year.lines["amount"].sum()
    assert daily.select(pl.col("lines").sum()).item() == small_year.lines.height


async def test_nightly_run_on_an_empty_record(db):
    from datetime import date

    result = await run_nightly(db, as_of=date(2026, 3, 1))
    assert result.rows["sales_daily"] == 0 and result.rows["forecasts"] == 0
    async with db.session() as s:
        assert (await s.get(AnalyticsRun, result.run_id)).status == "done"


async def test_a_cancelled_run_is_marked_failed_and_frees_the_lease(db, small_year,
                                                                    monkeypatch):
    import asyncio

    from cloud_bridge.analytics import jobs

    started = asyncio.Event()

    def slow_rules(*args, **kwargs):
        started.set()
        raise asyncio.CancelledError  # as if the worker were stopped mid-step

    await write_chain(db, small_year)
    monkeypatch.setattr(jobs.mining, "basket_rules", slow_rules)
    with pytest.raises(asyncio.CancelledError):
        await run_nightly(db, as_of=small_year.spec.start + timedelta(days=30))
    async with db.session() as s:
        run = (await s.scalars(select(AnalyticsRun))).one()
    assert (run.status, run.step) == ("failed", "cancelled") and started.is_set()
    await start_run(db, "2026-02-01", "on_demand")  # no live run holds the lease
