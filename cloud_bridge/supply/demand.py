"""Daily sales history from the movement rows (what the forecasts are built on)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Movement
from .policy import Demand, estimate_demand

HISTORY_DAYS = 56  # eight weeks: enough weeks for weekday factors, recent enough to matter


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
    return {p: estimate_demand(since_first_sale(h)) for p, h in history.items()}


def since_first_sale(history: list[float]) -> list[float]:
    """Drop the whole weeks before a product first sold (it was not listed yet), so a new
    product's rate is not diluted; whole weeks keep the weekday alignment."""
    first = next((i for i, q in enumerate(history) if q), len(history))
    return history[(first // 7) * 7:]
