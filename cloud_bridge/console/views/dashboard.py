"""Dashboard: the business day's figures, sales by hour and by day, payment mix, kiosks."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import TypedDict

from aiohttp import web
from sqlalchemy import func, select

from cloud_bridge import fleet, orders, stats
from cloud_bridge.errors import InvalidRequest
from cloud_bridge.models import Alert, Order
from common.jsontypes import JsonObject

from .. import charts, fmt
from ..call import PageCall

DAYS_SHOWN = 30
CURRENCY = "CNY"  # the charts add up yuan; other currencies are listed on the orders page


def business_day(call: PageCall, store: str | None) -> str:
    text = call.arg("date")
    if text is None:
        return datetime.now(fmt.zone(call.tz(store))).date().isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as err:
        raise InvalidRequest("date must be YYYY-MM-DD") from err


class Kpi(TypedDict):
    """The business day's headline figures (amounts in fen)."""

    orders: int
    revenue: int
    refunds: int
    aov: int


class DashboardData(TypedDict):
    """The dashboard's figures, as its JSON twin returns them."""

    store: str | None
    day: str
    kpi: Kpi
    by_hour: list[int]
    by_day: list[tuple[str, int]]
    mix: list[tuple[str, int]]
    kiosks_online: int
    kiosks_total: int
    open_alerts: int


def _count(value: object) -> int:
    """A whole number of a stats row (orders, fen)."""
    if not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value


async def dashboard_data(call: PageCall) -> DashboardData:
    """The figures of the dashboard (also what the benchmark's JSON twin returns)."""
    store = call.store_filter()
    day = business_day(call, store)
    first = (date.fromisoformat(day) - timedelta(days=DAYS_SHOWN - 1)).isoformat()
    async with call.db.session() as s:
        daily = await stats.daily_stats(s, store=store, date_from=first, date_to=day)
        q = select(Order.store, Order.created_at, Order.total, Order.details).where(
            Order.business_date == day, Order.status.in_(orders.SOLD), Order.currency == CURRENCY)
        alerts_q = select(func.count()).select_from(Alert).where(Alert.resolved.is_(False))
        if store is not None:
            q = q.where(Order.store == store)
            alerts_q = alerts_q.where(Alert.store == store)
        rows = (await s.execute(q)).all()
        kiosks = await fleet.fleet_view(s, store)
        open_alerts = int(await s.scalar(alerts_q) or 0)
    by_hour = [0] * 24
    mix: dict[str, int] = defaultdict(int)
    for row in rows:
        by_hour[fmt.local(row.created_at, call.tz(row.store)).hour] += int(row.total)
        for tender in (row.details or {}).get("tenders", []):
            mix[str(tender.get("method", "other"))] += int(tender.get("amount", 0))
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in daily:
        if r["currency"] == CURRENCY:
            for k in ("orders", "revenue", "refunds"):
                per_day[str(r["date"])][k] += _count(r[k])
    days = [(date.fromisoformat(first) + timedelta(days=i)).isoformat()
            for i in range(DAYS_SHOWN)]
    today = per_day.get(day, {"orders": 0, "revenue": 0, "refunds": 0})
    n, revenue = today["orders"], today["revenue"]
    return {
        "store": store, "day": day,
        "kpi": {"orders": n, "revenue": revenue, "refunds": today["refunds"],
                "aov": (revenue * 2 + n) // (n * 2) if n else 0},
        "by_hour": by_hour,
        "by_day": [(d, per_day[d]["revenue"] if d in per_day else 0) for d in days],
        "mix": sorted(mix.items(), key=lambda kv: -kv[1]),
        "kiosks_online": sum(1 for k in kiosks if k["state"] == "online"),
        "kiosks_total": len(kiosks),
        "open_alerts": open_alerts,
    }


async def dashboard(call: PageCall) -> JsonObject | web.StreamResponse:
    data = await dashboard_data(call)
    if call.request.headers.get("Accept") == "application/json":
        # The same figures as JSON (scripts, and bench/console.py's baseline).
        return web.json_response(data)
    t = call.t
    hour_chart = charts.bar_chart([(f"{h:02d}", v) for h, v in enumerate(data["by_hour"])],
                                  t("dash.by_hour"), fmt.money, every=3)
    day_chart = charts.bar_chart([(d[5:], v) for d, v in data["by_day"]], t("dash.by_day"),
                                 fmt.money, width=1100, height=240, every=3)
    mix = [(t(f"tender.{m}") if f"tender.{m}" in call.registry.labels else m, v)
           for m, v in data["mix"]]
    mix_chart = charts.share_bars(mix, t("dash.mix"), fmt.money) if mix else None
    return {**data, "hour_chart": hour_chart, "day_chart": day_chart, "mix_chart": mix_chart,
            "mix_rows": mix, "stores": await visible_stores(call)}


# The chain's store list changes when a store opens; reading it (a DISTINCT over every
# order) on each page view would cost more than the page itself on a year of orders.
STORES_TTL_S = 60.0
_stores_cache: dict[int, tuple[float, list[str]]] = {}


async def visible_stores(call: PageCall) -> list[str]:
    """Stores the caller may pick in a filter (its own only for store-bound users)."""
    if not call.principal.chain_wide:
        return [call.principal.store] if call.principal.store else []
    from cloud_bridge.models import Kiosk

    key = id(call.db)
    cached = _stores_cache.get(key)
    clock = time.monotonic()
    if cached is None or clock - cached[0] > STORES_TTL_S:
        async with call.db.session() as s:
            names = set((await s.scalars(select(Kiosk.store).distinct())).all())
            names |= set((await s.scalars(select(Order.store).distinct())).all())
        cached = _stores_cache[key] = (clock, sorted(names))
    return sorted(set(cached[1]) | set(call.console_config.store_timezones))
