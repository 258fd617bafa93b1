"""Daily demand per product: the analytics domain's nightly forecast when there is a fresh
one, else a forecast from the daily sales history in the movement rows.

The analytics forecasts (``analytics_forecasts``) choose per series between seasonal
naive, exponential smoothing and Croston/SBA by backtest and beat seasonal naive on the
chain year (``bench/forecast.py``); replenishment uses them when the nightly run made a
full week for the product in the last two days. The daily error ``sigma`` is read from the
upper half of their 90 % interval (what safety stock guards against).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Movement
from .policy import SEASON, Demand, estimate_demand

HISTORY_DAYS = 56  # eight weeks: enough weeks for weekday factors, recent enough to matter
FRESH = timedelta(days=2)  # an analytics forecast older than this is not used
Z90 = 1.6449  # the upper bound of a central 90 % interval, in standard deviations


async def daily_sales(session: AsyncSession, store: str, today: date, *,
                      days: int = HISTORY_DAYS, tz: str = "Asia/Shanghai",
                      product_ids: list[str] | None = None) -> dict[str, list[float]]:
    """Units sold per product per day for the ``days`` before ``today`` (oldest first)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(today - timedelta(days=days), time(), zone).astimezone(UTC)
    end = datetime.combine(today, time(), zone).astimezone(UTC)
    q = select(Movement.product_id, Movement.at, Movement.qty).where(
        Movement.store == store, Movement.kind == "sale", Movement.at >= start,
        Movement.at < end)
    if product_ids is not None:
        q = q.where(Movement.product_id.in_(product_ids))
    out: dict[str, list[float]] = defaultdict(lambda: [0.0] * days)
    first = today - timedelta(days=days)
    for product_id, at, qty in (await session.execute(q)).all():
        idx = (at.astimezone(zone).date() - first).days
        if 0 <= idx < days:
            out[product_id][idx] += -qty  # sales are negative movements
    return dict(out)


async def demand_by_product(session: AsyncSession, store: str, today: date,
                            product_ids: list[str] | None = None,
                            tz: str = "Asia/Shanghai") -> dict[str, Demand]:
    history = await daily_sales(session, store, today, tz=tz, product_ids=product_ids)
    out = {p: estimate_demand(since_first_sale(h)) for p, h in history.items()}
    out.update(await forecast_demand(session, store, today, product_ids))
    return out


async def forecast_demand(session: AsyncSession, store: str, today: date,
                          product_ids: list[str] | None = None) -> dict[str, Demand]:
    """:class:`Demand` from the analytics forecasts of the 7 days from ``today`` (weekday
    factors aligned so that index 0 is ``today``, as the history-based ones are)."""
    from cloud_bridge.analytics.models import Forecast

    days = [(today + timedelta(days=i)).isoformat() for i in range(SEASON)]
    q = select(Forecast.product_id, Forecast.business_date, Forecast.point, Forecast.hi).where(
        Forecast.store == store, Forecast.business_date.in_(days),
        Forecast.made_at >= datetime.now(UTC) - FRESH)
    if product_ids is not None:
        q = q.where(Forecast.product_id.in_(product_ids))
    by_product: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for product_id, day, point, hi in (await session.execute(q)).all():
        by_product[product_id][day] = (max(point, 0.0), max(hi, 0.0))
    out = {}
    for product_id, rows in by_product.items():
        if len(rows) < SEASON:
            continue   # a partial week: the history knows the weekdays better
        points = [rows[d][0] for d in days]
        mean = sum(points) / SEASON
        sigma = sum(max(rows[d][1] - rows[d][0], 0.0) for d in days) / SEASON / Z90
        if mean <= 0:
            out[product_id] = Demand(0.0, sigma)
            continue
        out[product_id] = Demand(mean, sigma, tuple(p / mean for p in points))
    return out


def since_first_sale(history: list[float]) -> list[float]:
    """Drop the whole weeks before a product first sold (it was not listed yet), so a new
    product's rate is not diluted; whole weeks keep the weekday alignment."""
    first = next((i for i, q in enumerate(history) if q), len(history))
    return history[(first // 7) * 7:]
