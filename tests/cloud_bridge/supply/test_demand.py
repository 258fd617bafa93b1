"""Replenishment reads the analytics domain's nightly forecast when a fresh full week of it
exists, and the sales history otherwise (stale or partial forecasts are not used)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud_bridge.analytics.models import Forecast
from cloud_bridge.supply.demand import Z90, demand_by_product

from .helpers import TODAY
from .test_replenish import _history

POINTS = [10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0]   # TODAY first; a busy weekend


async def _forecast(db, product, *, made_days_ago=0.0, days=7, sigma=3.0):
    made = datetime.now(UTC) - timedelta(days=made_days_ago)
    async with db.session() as s:
        for i in range(days):
            s.add(Forecast(store="s1", product_id=product,
                           business_date=(TODAY + timedelta(days=i)).isoformat(),
                           method="ets", point=POINTS[i], lo=max(POINTS[i] - Z90 * sigma, 0),
                           hi=POINTS[i] + Z90 * sigma, made_at=made))


async def test_fresh_forecast_full_week_is_used_else_history(db):
    for product in ("milk", "stale", "partial", "history"):
        await _history(db, "s1", product, 2)
    await _forecast(db, "milk")
    await _forecast(db, "stale", made_days_ago=3)
    await _forecast(db, "partial", days=4)
    async with db.session() as s:
        demand = await demand_by_product(s, "s1", TODAY)
    milk = demand["milk"]
    assert milk.mean == pytest.approx(sum(POINTS) / 7)
    assert milk.sigma == pytest.approx(3.0)
    # Index 0 is TODAY, as for the history-based forecast: the weekend doubles.
    assert milk.over(0, 7) == pytest.approx(sum(POINTS))
    assert milk.over(5, 1) == pytest.approx(20.0)
    for product in ("stale", "partial", "history"):
        assert demand[product].mean == pytest.approx(2.0), product
