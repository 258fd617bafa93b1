"""The nightly analytics job (also run on demand): read the record, write the result tables.

Steps, each reported as progress on the run's ``analytics_runs`` row: refresh the product
dimension from the current price books, turn new kiosk events into funnel events
(:mod:`.kiosk_events`), load the record (:mod:`.frames`), sales/hourly/
payment facts, retention cohorts, member profiles with churn and win-back offers, basket
rules, 14-day demand forecasts. Every result table is rebuilt whole, so a run is idempotent
and a crashed run is simply finished by the next one. One run at a time across workers:
the start takes a lease (a PostgreSQL advisory lock while checking for a live run; on
SQLite the database lock serialises the check).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl
from sqlalchemy import ColumnElement, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.catalog import PublishedPriceBook
from cloud_bridge.db import Database, bulk_insert
from cloud_bridge.errors import Conflict
from cloud_bridge.models import Base, now
from common.jsontypes import JsonObject

from . import metrics, mining
from .forecasting import HORIZON, demand_matrix, forecast
from .frames import Frames, load_frames
from .kiosk_events import harvest_kiosk_events, harvested_any
from .models import (
    CHAIN,
    AnalyticsProduct,
    AnalyticsRun,
    BasketRule,
    Cohort,
    Forecast,
    MemberProfile,
    PaymentsDaily,
    SalesDaily,
    SalesHourly,
)
from .winback import WinBackIssuer, offer_for, record_win_back
from .writer import file_backed, replace_table

log = logging.getLogger(__name__)

# A run whose heartbeat is older than this is dead (its worker crashed): another may start.
LEASE_S = 600
CHUNK = 50_000  # rows per INSERT batch
FORECAST_HISTORY_DAYS = 365
# Kiosk events are harvested again over this many days (late deliveries from offline
# kiosks); event ids make a repeat a no-op.
HARVEST_DAYS = 3
FORECAST_ACTIVE_DAYS = 90  # series with no sale in this many days are not forecast
LOCK_KEY = 5001  # PostgreSQL advisory lock id of the analytics job
STEPS = ("products", "events", "load", "facts", "cohorts", "profiles", "basket", "forecast")

Progress = Callable[[str, float], Awaitable[None]]


@dataclass
class RunResult:
    """What a run did: its id, seconds per step and rows written per table."""

    run_id: int
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _dicts(frame: pl.DataFrame) -> list[JsonObject]:
    """Rows for INSERT, dates as the tables' ``YYYY-MM-DD`` text."""
    dates = [c for c, t in frame.schema.items() if t == pl.Date]
    return frame.with_columns(pl.col(c).cast(pl.Utf8) for c in dates).to_dicts()


async def _bulk_replace(db: Database, model: type[Base], frame: pl.DataFrame) -> int:
    """A big result table: through the driver when it can be reached, else the ORM."""
    if file_backed(db):
        return await replace_table(db, model, frame)
    async with db.session() as s:
        return await _replace(s, model, frame)


async def _replace(session: AsyncSession, model: type[Base], frame: pl.DataFrame,
                   where: ColumnElement[bool] | None = None) -> int:
    await session.execute(delete(model) if where is None else delete(model).where(where))
    for start in range(0, frame.height, CHUNK):
        rows = _dicts(frame.slice(start, CHUNK))
        await session.execute(*bulk_insert(session, model, rows))
    return frame.height


async def start_run(db: Database, period: str, trigger: str,
                    requested_by: str | None = None) -> int:
    """Record a running run for ``period``; :class:`Conflict` when one is alive already."""
    async with db.session() as s:
        if db.dialect == "postgresql":
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        alive = await s.scalar(select(AnalyticsRun.id).where(
            AnalyticsRun.status == "running",
            AnalyticsRun.heartbeat_at > now() - timedelta(seconds=LEASE_S)))
        if alive is not None:
            raise Conflict(f"analytics run {alive} is still running")
        run = AnalyticsRun(period=period, trigger=trigger, status="running", step="queued",
                           progress=0.0, requested_by=requested_by, started_at=now(),
                           heartbeat_at=now())
        s.add(run)
        await s.flush()
        return run.id


async def _progress(db: Database, run_id: int, step: str, progress: float,
                    **extra: object) -> None:
    async with db.session() as s:
        await s.execute(update(AnalyticsRun).where(AnalyticsRun.id == run_id).values(
            step=step, progress=progress, heartbeat_at=now(), **extra))


async def refresh_products(session: AsyncSession) -> int:
    """Upsert the product dimension from every store's current price book."""
    books = (await session.scalars(select(PublishedPriceBook.body)
                                   .where(PublishedPriceBook.is_current))).all()
    found: dict[str, JsonObject] = {}
    for body in books:
        for p in json.loads(body).get("products", []):
            barcodes = p.get("barcodes") or [None]
            found[p["product_id"]] = {
                "product_id": p["product_id"], "barcode": barcodes[0],
                "name_zh": p.get("name_zh", p["product_id"]),
                "category": p.get("category", "general"), "list_price": int(p["unit_price"])}
    if not found:
        return 0
    await session.execute(delete(AnalyticsProduct).where(
        AnalyticsProduct.product_id.in_(list(found))))
    await session.execute(*bulk_insert(session, AnalyticsProduct, list(found.values())))
    return len(found)


def forecast_frame(daily: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """14-day forecasts from ``as_of + 1`` for every recently active (store, product)."""
    start = as_of - timedelta(days=FORECAST_HISTORY_DAYS - 1)
    first = daily["business_date"].min() if daily.height else None
    if not isinstance(first, date):
        return pl.DataFrame()
    start = max(start, first)
    keys, y = demand_matrix(daily, start, as_of)
    active = y[:, -FORECAST_ACTIVE_DAYS:].sum(axis=1) > 0
    keys, y = keys.filter(pl.Series(active)), y[active]
    if y.shape[1] < 3 * 7 or not len(y):
        return pl.DataFrame()
    f = forecast(y, HORIZON, groups=keys["store"].to_numpy(), start=start)
    n = len(y)
    days = [as_of + timedelta(days=k + 1) for k in range(HORIZON)]
    return pl.DataFrame({
        "store": np.repeat(keys["store"].to_numpy(), HORIZON),
        "product_id": np.repeat(keys["product_id"].to_numpy(), HORIZON),
        "business_date": days * n,
        "method": np.repeat(f.method, HORIZON),
        "point": f.point.ravel().round(3), "lo": f.lo.ravel().round(3),
        "hi": f.hi.ravel().round(3)}).with_columns(pl.lit(now()).alias("made_at"))


async def run_nightly(db: Database, *, as_of: date | None = None, trigger: str = "nightly",
                      requested_by: str | None = None, issuer: WinBackIssuer | None = None,
                      tz: str = "Asia/Shanghai", run_id: int | None = None,
                      frames: Frames | None = None) -> RunResult:
    """Rebuild every analytics result table from the record up to ``as_of`` (yesterday)."""
    as_of = as_of or (now().date() - timedelta(days=1))
    if run_id is None:
        run_id = await start_run(db, as_of.isoformat(), trigger, requested_by)
    result = RunResult(run_id)
    clock = time.perf_counter()

    async def step(name: str) -> None:
        nonlocal clock
        t = time.perf_counter()
        result.seconds[name] = round(t - clock, 3)
        clock = t
        await _progress(db, run_id, name, round((STEPS.index(name) + 1) / (len(STEPS) + 1), 3))

    try:
        async with db.session() as s:
            result.rows["products"] = await refresh_products(s)
        await step("products")
        async with db.session() as s:
            since = now() - timedelta(days=HARVEST_DAYS) if await harvested_any(s) else None
            result.rows["kiosk_events"] = await harvest_kiosk_events(s, since)
        await step("events")
        fr = frames or await load_frames(db, tz=tz)
        fr.orders = fr.orders.filter(pl.col("business_date") <= as_of)
        fr.lines = fr.lines.filter(pl.col("business_date") <= as_of)
        fr.tenders = fr.tenders.filter(pl.col("business_date") <= as_of)
        await step("load")
        daily = metrics.daily_sales(fr.lines)
        result.rows["sales_daily"] = await _bulk_replace(db, SalesDaily, daily)
        async with db.session() as s:
            result.rows["sales_hourly"] = await _replace(s, SalesHourly,
                                                         metrics.hourly_sales(fr.orders))
            result.rows["payments_daily"] = await _replace(s, PaymentsDaily,
                                                           metrics.payments_daily(fr.tenders))
        await step("facts")
        cohorts = pl.concat([metrics.retention_cohorts(fr.orders),
                             metrics.retention_cohorts(fr.orders, per_store=True)]).drop("rate")
        async with db.session() as s:
            result.rows["cohorts"] = await _replace(s, Cohort, cohorts)
        await step("cohorts")
        profiles = mining.member_profiles(fr.orders, fr.lines, as_of)
        async with db.session() as s:
            result.rows["profiles"] = await _replace(s, MemberProfile, profiles)
            churned = profiles.filter(pl.col("churned")) if profiles.height else profiles
            offers = [offer_for(r["member_id"], r["segment"], r["p_alive"],
                                r["expected_gap_days"]) for r in churned.iter_rows(named=True)]
            result.rows["winback"] = await record_win_back(s, as_of.isoformat(), offers, issuer)
        await step("profiles")
        rules = mining.basket_rules(fr.lines).with_columns(pl.lit(CHAIN).alias("store"))
        async with db.session() as s:
            result.rows["basket_rules"] = await _replace(s, BasketRule, rules)
        await step("basket")
        fc = forecast_frame(daily, as_of)
        result.rows["forecasts"] = await _bulk_replace(db, Forecast, fc)
        await step("forecast")
    except asyncio.CancelledError:
        # The worker is stopping: say so on the run's row now instead of leaving it
        # "running" until its lease expires (which would hold off the next run).
        await _progress(db, run_id, "cancelled", 1.0, status="failed", finished_at=now(),
                        error="cancelled: the worker stopped")
        raise
    except Exception as err:
        log.exception("analytics run %d failed", run_id)
        await _progress(db, run_id, "failed", 1.0, status="failed", finished_at=now(),
                        error=str(err)[:500])
        raise
    await _progress(db, run_id, "done", 1.0, status="done", finished_at=now(),
                    detail={"seconds": result.seconds, "rows": result.rows})
    log.info("analytics run %d for %s done: %s", run_id, as_of, result.rows)
    return result
