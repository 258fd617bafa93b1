"""Analytics as other domains and the API use it: metric tables, profiles, forecasts.

Every metric here is read from the result tables the nightly job writes (or, for
repurchase, from the live orders of the period) and computed by the one function of
:mod:`.metrics` that defines it. Plain async functions over an ``AsyncSession``.

For the supply chain: :func:`forecast_demand` gives the next days' expected units per
product of a store with a 90 % interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import polars as pl
from polars.datatypes import DataType, DataTypeClass
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import Order

from . import demographics, metrics
from .events import FUNNEL_STEP_OF
from .frames import NOT_SALES
from .models import (
    CHAIN,
    AnalyticsRun,
    BasketRule,
    BehaviourEvent,
    Cohort,
    Forecast,
    KioskSession,
    MemberProfile,
    PaymentsDaily,
    SalesDaily,
    SalesHourly,
)

MAX_PERIOD_DAYS = 400
# Business days are China days (the ingest's default zone); events are bucketed the same way.
STORE_TZ = ZoneInfo("Asia/Shanghai")
Metric = Literal["sales_by_product", "sales_by_category", "sales_by_store", "sales_by_day",
                 "sales_by_hour", "average_order_value", "payment_mix", "repurchase_rate",
                 "retention_cohorts", "conversion_funnel", "kiosk_sessions", "session_errors"]
METRICS: tuple[Metric, ...] = get_args(Metric)


@dataclass(frozen=True)
class Filters:
    """What the caller asked for: period (inclusive), store (None = every store the caller
    may see), category, channel (funnel only)."""

    start: date
    end: date
    store: str | None = None
    category: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class DemandForecast:
    """Expected units of one product in one store on one day, with a 90 % interval."""

    store: str
    product_id: str
    business_date: date
    units: float
    lo: float
    hi: float
    method: str


def _frame(rows: Iterable[Sequence[object]],
           schema: Mapping[str, DataTypeClass | DataType]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _dates(frame: pl.DataFrame, col: str = "business_date") -> pl.DataFrame:
    return frame.with_columns(pl.col(col).str.to_date())


async def sales_facts(session: AsyncSession, f: Filters, start: date) -> pl.DataFrame:
    """Daily sales facts from ``start`` to ``f.end`` for ``f``'s store and category."""
    q = select(SalesDaily.store, SalesDaily.business_date, SalesDaily.product_id,
               SalesDaily.category, SalesDaily.qty, SalesDaily.revenue, SalesDaily.discount,
               SalesDaily.lines).where(SalesDaily.business_date.between(
                   start.isoformat(), f.end.isoformat()))
    if f.store:
        q = q.where(SalesDaily.store == f.store)
    if f.category:
        q = q.where(SalesDaily.category == f.category)
    rows = (await session.execute(q)).all()
    return _dates(_frame(rows, {"store": pl.Utf8, "business_date": pl.Utf8,
                                "product_id": pl.Utf8, "category": pl.Utf8, "qty": pl.Int64,
                                "revenue": pl.Int64, "discount": pl.Int64, "lines": pl.Int64}))


async def _hourly(session: AsyncSession, f: Filters, start: date) -> pl.DataFrame:
    q = select(SalesHourly.store, SalesHourly.business_date, SalesHourly.hour,
               SalesHourly.orders, SalesHourly.revenue).where(
        SalesHourly.business_date.between(start.isoformat(), f.end.isoformat()))
    if f.store:
        q = q.where(SalesHourly.store == f.store)
    rows = (await session.execute(q)).all()
    return _dates(_frame(rows, {"store": pl.Utf8, "business_date": pl.Utf8, "hour": pl.Int32,
                                "orders": pl.Int64, "revenue": pl.Int64}))


async def _payments(session: AsyncSession, f: Filters) -> pl.DataFrame:
    q = select(PaymentsDaily.store, PaymentsDaily.business_date, PaymentsDaily.method,
               PaymentsDaily.payments, PaymentsDaily.amount).where(
        PaymentsDaily.business_date.between(f.start.isoformat(), f.end.isoformat()))
    if f.store:
        q = q.where(PaymentsDaily.store == f.store)
    rows = (await session.execute(q)).all()
    return _dates(_frame(rows, {"store": pl.Utf8, "business_date": pl.Utf8,
                                "method": pl.Utf8, "payments": pl.Int64, "amount": pl.Int64}))


async def _orders(session: AsyncSession, f: Filters) -> pl.DataFrame:
    q = select(Order.id, Order.store, Order.business_date, Order.member_id).where(
        Order.status.not_in(NOT_SALES),
        Order.business_date.between(f.start.isoformat(), f.end.isoformat()))
    if f.store:
        q = q.where(Order.store == f.store)
    rows = (await session.execute(q)).all()
    return _dates(_frame(rows, {"order_id": pl.Int64, "store": pl.Utf8,
                                "business_date": pl.Utf8, "member_id": pl.Utf8}))


async def _events(session: AsyncSession, f: Filters) -> pl.DataFrame:
    lo = datetime.combine(f.start, time(0), STORE_TZ)
    hi = datetime.combine(f.end + timedelta(days=1), time(0), STORE_TZ)
    q = select(BehaviourEvent.session_id, BehaviourEvent.type, BehaviourEvent.store,
               BehaviourEvent.channel, BehaviourEvent.at).where(
        BehaviourEvent.session_id.is_not(None), BehaviourEvent.at >= lo,
        BehaviourEvent.at < hi)
    if f.store:
        q = q.where(BehaviourEvent.store == f.store)
    rows = (await session.execute(q)).all()
    frame = _frame(rows, {"session_id": pl.Utf8, "type": pl.Utf8, "store": pl.Utf8,
                          "channel": pl.Utf8, "at": pl.Datetime("us", "UTC")})
    frame = frame.with_columns(pl.col("type").replace(FUNNEL_STEP_OF))
    if f.channel:
        chans = frame.filter(pl.col("channel") == f.channel)["session_id"].unique()
        frame = frame.filter(pl.col("session_id").is_in(chans.to_list()))
    return frame


SESSION_SCHEMA: dict[str, DataTypeClass | DataType] = {
    "store": pl.Utf8, "kiosk": pl.Utf8, "business_date": pl.Utf8,
    "outcome": pl.Utf8, "items_scanned": pl.Int64, "items_removed": pl.Int64,
    "payment_attempts": pl.Int64, "method": pl.Utf8, "pay_seconds": pl.Float64,
    "error_count": pl.Int64, "help_calls": pl.Int64,
    "started_at": pl.Datetime("us", "UTC"), "ended_at": pl.Datetime("us", "UTC")}


async def kiosk_session_frames(session: AsyncSession, f: Filters
                               ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kiosk sessions of ``f`` (one row each, with ``duration_s``) and their errors
    (one row per session and error code: ``code``, ``n``)."""
    q = select(*(getattr(KioskSession, c) for c in SESSION_SCHEMA), KioskSession.errors).where(
        KioskSession.business_date.between(f.start.isoformat(), f.end.isoformat()))
    if f.store:
        q = q.where(KioskSession.store == f.store)
    rows = (await session.execute(q)).all()
    errors = _frame([(r.store, code, n) for r in rows for code, n in (r.errors or {}).items()],
                    {"store": pl.Utf8, "code": pl.Utf8, "n": pl.Int64})
    frame = _frame([tuple(r)[:-1] for r in rows], SESSION_SCHEMA)
    frame = frame.with_columns(
        ((pl.col("ended_at") - pl.col("started_at")).dt.total_milliseconds() / 1000.0)
        .alias("duration_s"))
    return _dates(frame), errors


async def metric_table(session: AsyncSession, metric: str, f: Filters,
                       by: str | None = None) -> pl.DataFrame:
    """The table of ``metric`` for filters ``f`` (what the API, exports and charts show)."""
    prev_start = metrics.previous_period(f.start, f.end)[0]
    if metric.startswith("sales_by_") and metric != "sales_by_hour":
        dim = metric.removeprefix("sales_by_")
        return metrics.sales_by(await sales_facts(session, f, prev_start), dim, f.start, f.end)
    if metric == "sales_by_hour":
        return metrics.sales_by_hour(await _hourly(session, f, prev_start), f.start, f.end)
    if metric == "average_order_value":
        return metrics.average_order_value(await _hourly(session, f, prev_start), f.start,
                                           f.end, by=by if by in ("store", "day") else None)
    if metric == "payment_mix":
        return metrics.payment_mix(await _payments(session, f), f.start, f.end)
    if metric == "repurchase_rate":
        return metrics.repurchase_rate(await _orders(session, f), f.start, f.end,
                                       by="store" if by == "store" else None)
    if metric == "retention_cohorts":
        return await cohort_table(session, f)
    if metric == "conversion_funnel":
        return metrics.conversion_funnel(await _events(session, f),
                                         by=by if by in ("store", "channel") else None)
    if metric in ("kiosk_sessions", "session_errors"):
        sessions, errors = await kiosk_session_frames(session, f)
        if metric == "session_errors":
            return metrics.session_errors(errors, sessions.height)
        return metrics.kiosk_sessions(sessions, by=by)
    raise KeyError(metric)


async def demographic_table(session: AsyncSession, by: str, *, store: str | None = None,
                            segment: str | None = None,
                            min_group: int = demographics.MIN_GROUP_SIZE,
                            today: date | None = None) -> tuple[pl.DataFrame, int]:
    """Members by gender, age band or region (opt-in fields only) with their behaviour,
    every group at least ``min_group`` members (:mod:`.demographics`); ``store`` and
    ``segment`` narrow to members whose preferred store / RFM segment it is."""
    from cloud_bridge.members.service import opt_in_profiles

    today = today or datetime.now(STORE_TZ).date()
    members = demographics.member_frame(await opt_in_profiles(session), today)
    rows = (await session.execute(select(
        MemberProfile.member_id, MemberProfile.orders, MemberProfile.revenue,
        MemberProfile.ltv, MemberProfile.churned, MemberProfile.preferred_store,
        MemberProfile.segment))).all()
    behaviour = _frame(rows, {"member_id": pl.Utf8, "orders": pl.Int64, "revenue": pl.Int64,
                              "ltv": pl.Int64, "churned": pl.Boolean, "store": pl.Utf8,
                              "segment": pl.Utf8})
    for col, value in (("store", store), ("segment", segment)):
        if value is not None:
            chosen = behaviour.filter(pl.col(col) == value).select("member_id")
            members = members.join(chosen, on="member_id", how="semi")
    return demographics.demographics(
        members, behaviour.select("member_id", "orders", "revenue", "ltv", "churned"), by,
        min_group)


async def cohort_table(session: AsyncSession, f: Filters) -> pl.DataFrame:
    """Retention cohorts of the period's first-purchase weeks (``*`` = chain-wide)."""
    q = select(Cohort.store, Cohort.cohort_week, Cohort.week_offset, Cohort.cohort_size,
               Cohort.members).where(
        Cohort.store == (f.store or CHAIN),
        Cohort.cohort_week.between((f.start - timedelta(days=6)).isoformat(),
                                   f.end.isoformat())).order_by(Cohort.cohort_week,
                                                                Cohort.week_offset)
    rows = (await session.execute(q)).all()
    frame = _frame(rows, {"store": pl.Utf8, "cohort_week": pl.Utf8, "week_offset": pl.Int32,
                          "cohort_size": pl.Int64, "members": pl.Int64})
    return frame.with_columns((pl.col("members") / pl.col("cohort_size")).alias("rate"),
                              pl.col("cohort_week").alias("key")).select(
        "key", "week_offset", "cohort_size", "members", "rate")


async def forecast_demand(session: AsyncSession, store: str,
                          product_ids: list[str] | None = None, days: int = 14,
                          start: date | None = None) -> list[DemandForecast]:
    """Forecast units per product of ``store`` for ``days`` days from ``start`` (default: the
    first forecast day of the latest run). Products without a forecast are left out (no
    sale in the last 90 days, or not sold at the store)."""
    q = select(Forecast).where(Forecast.store == store)
    if product_ids is not None:
        q = q.where(Forecast.product_id.in_(product_ids))
    if start is None:
        start_s = await session.scalar(select(func.min(Forecast.business_date))
                                       .where(Forecast.store == store))
        if start_s is None:
            return []
        start = date.fromisoformat(start_s)
    end = start + timedelta(days=days - 1)
    q = q.where(Forecast.business_date.between(start.isoformat(), end.isoformat())).order_by(
        Forecast.product_id, Forecast.business_date)
    return [DemandForecast(r.store, r.product_id, date.fromisoformat(r.business_date), r.point,
                           r.lo, r.hi, r.method) for r in (await session.scalars(q)).all()]


async def member_profiles(session: AsyncSession, *, segment: str | None = None,
                          churned: bool | None = None, store: str | None = None,
                          limit: int = 100, offset: int = 0) -> list[MemberProfile]:
    """Member profiles (by LTV, highest first), filtered by segment, churn and store."""
    q = select(MemberProfile)
    if segment:
        q = q.where(MemberProfile.segment == segment)
    if churned is not None:
        q = q.where(MemberProfile.churned == churned)
    if store:
        q = q.where(MemberProfile.preferred_store == store)
    q = q.order_by(MemberProfile.ltv.desc(), MemberProfile.member_id).limit(limit).offset(offset)
    return list((await session.scalars(q)).all())


async def segment_counts(session: AsyncSession, store: str | None = None) -> pl.DataFrame:
    """Members, churned members, revenue and average LTV per RFM segment."""
    q = select(MemberProfile.segment, func.count(),
               func.sum(case((MemberProfile.churned, 1), else_=0)),
               func.sum(MemberProfile.revenue), func.avg(MemberProfile.ltv)).group_by(
        MemberProfile.segment)
    if store:
        q = q.where(MemberProfile.preferred_store == store)
    rows = (await session.execute(q)).all()
    return _frame(rows, {"key": pl.Utf8, "members": pl.Int64, "churned": pl.Int64,
                         "revenue": pl.Int64, "avg_ltv": pl.Float64}).sort("key")


async def basket_rules(session: AsyncSession, limit: int = 100,
                       product_id: str | None = None) -> list[BasketRule]:
    q = select(BasketRule)
    if product_id:
        q = q.where(BasketRule.antecedent == product_id)
    q = q.order_by(BasketRule.lift.desc(), BasketRule.id).limit(limit)
    return list((await session.scalars(q)).all())


async def latest_runs(session: AsyncSession, limit: int = 10) -> list[AnalyticsRun]:
    q = select(AnalyticsRun).order_by(AnalyticsRun.id.desc()).limit(limit)
    return list((await session.scalars(q)).all())
