"""Console pages vs the same query as a bare JSON API call, on a year of orders of 3 stores.

Same run, same database (SQLite, the embedded default), same filters, requests
interleaved (page, API, page, API...) so the machine's noise hits both sides:

* orders: ``GET /console/orders?store=..&page=N`` (HTML: filters, table, pager) vs
  ``GET /api/v1/admin/orders?store=..&limit=50&offset=..`` (bearer token, JSON);
* dashboard: ``GET /console/?store=..&date=D`` (HTML with three SVG charts) vs the same
  view asked for JSON (``Accept: application/json``: the dashboard's queries, no
  rendering); the admin API has no single call with hourly sales, payment mix and kiosks.

Server time is measured by a middleware around the whole app (session check, queries,
rendering), 200 requests per page and side. Last line: ``console_ratio=`` the worse
page's p95(page) / p95(JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from cloud_bridge import auth  # noqa: E402
from cloud_bridge.app import create_app  # noqa: E402
from cloud_bridge.config import BridgeConfig  # noqa: E402
from cloud_bridge.db import Database  # noqa: E402
from cloud_bridge.migrations import import_models  # noqa: E402
from cloud_bridge.models import Kiosk, Order  # noqa: E402
from cloud_bridge.orders import business_date  # noqa: E402

STORES = ("S1", "S2", "S3")
TZ = "Asia/Shanghai"
METHODS = ("wechat", "wechat", "wechat", "alipay", "alipay", "card", "stored_value")
# Shop hours and how busy each hour is (a lunch and an evening peak).
HOURS = {8: 3, 9: 4, 10: 5, 11: 8, 12: 9, 13: 6, 14: 4, 15: 4, 16: 5, 17: 8, 18: 9, 19: 7,
         20: 5, 21: 3}


def generate(rng: random.Random, days: int, per_day: int, last_day: date):
    """Orders of ``days`` days up to ``last_day``: per store ~``per_day`` a day by hour."""
    weights = list(HOURS.values())
    hours = list(HOURS)
    for d in range(days):
        day = last_day - timedelta(days=days - 1 - d)
        weekend = 1.3 if day.weekday() >= 5 else 1.0
        for store in STORES:
            n = max(1, int(rng.gauss(per_day * weekend, per_day * 0.15)))
            for i in range(n):
                hour = rng.choices(hours, weights)[0]
                local = datetime(day.year, day.month, day.day, hour, rng.randrange(60),
                                 rng.randrange(60))
                at = (local - timedelta(hours=8)).replace(tzinfo=UTC)  # Shanghai is UTC+8
                total = rng.randrange(300, 30000)
                yield {
                    "order_no": f"{store}-{day:%Y%m%d}-{i:05d}", "store": store,
                    "kiosk": f"K{rng.randrange(1, 5)}", "source": "kiosk",
                    "fulfillment": "instore", "status": "completed", "currency": "CNY",
                    "subtotal": total, "discount_total": 0, "total": total,
                    "refunded_total": 0, "business_date": business_date(at, TZ),
                    "created_at": at, "updated_at": at, "paid_at": at, "completed_at": at,
                    "details": {"tenders": [{"method": rng.choice(METHODS), "amount": total}]},
                }


async def load(db: Database, rows, chunk: int = 5000) -> int:
    count = 0
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == chunk:
            async with db.session() as s:
                await s.execute(insert(Order.__table__), batch)
            count += len(batch)
            batch = []
    if batch:
        async with db.session() as s:
            await s.execute(insert(Order.__table__), batch)
        count += len(batch)
    async with db.session() as s:
        for store in STORES:
            for k in range(1, 5):
                s.add(Kiosk(store=store, kiosk=f"K{k}", state="online" if k < 4 else "offline",
                            state_since=datetime.now(UTC), version="1.4.2"))
        await auth.create_admin_user(s, "boss", "secret-boss-1", auth.HEAD_OFFICE)
    return count


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


async def run(args) -> float:
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    print(f"seed={seed}")
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    url = f"sqlite+aiosqlite:///{tmp / 'bridge.db'}"
    import_models()
    db = Database(url)
    await db.create_all()
    last_day = date(2026, 11, 30)
    t0 = time.perf_counter()
    n = await load(db, generate(rng, args.days, args.per_day, last_day))
    print(f"orders={n} stores={len(STORES)} days={args.days} "
          f"generated_and_loaded_s={time.perf_counter() - t0:.1f}")

    cfg = BridgeConfig()
    cfg.database.url = url
    cfg.mqtt.enabled = False
    cfg.rpc.handler_modules = []
    cfg.payments.enabled = False
    app = create_app(cfg, db=db)
    timings: dict[str, list[float]] = {}
    current: list[str] = [""]

    @web.middleware
    async def server_time(request, handler):
        start = time.perf_counter()
        try:
            return await handler(request)
        finally:
            if current[0]:
                timings.setdefault(current[0], []).append(time.perf_counter() - start)

    app.middlewares.insert(0, server_time)
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
        r = await client.post("/console/login", data={"csrf": token, "username": "boss",
                                                      "secret": "secret-boss-1"})
        assert r.status == 200, await r.text()
        r = await client.post("/api/v1/admin/session",
                              json={"username": "boss", "secret": "secret-boss-1"})
        bearer = {"Authorization": "Bearer " + (await r.json())["token"]}

        async def call(name: str, path: str, headers=None) -> None:
            current[0] = name
            resp = await client.get(path, headers=headers)
            body = await resp.read()
            current[0] = ""
            assert resp.status == 200, (path, body[:300])

        # Warm-up: the first requests compile templates and statements.
        await call("", "/console/orders?store=S1")
        await call("", "/console/?store=S1")
        for _ in range(args.requests):
            store = rng.choice(STORES)
            page_no = rng.randint(1, 60)
            await call("orders_page", f"/console/orders?store={store}&page={page_no}")
            await call("orders_api", f"/api/v1/admin/orders?store={store}&limit=50"
                                     f"&offset={(page_no - 1) * 50}", bearer)
            day = last_day - timedelta(days=rng.randrange(args.days))
            await call("dashboard_page", f"/console/?store={store}&date={day}")
            await call("dashboard_json", f"/console/?store={store}&date={day}",
                       {"Accept": "application/json"})
    await db.close()
    for name, values in timings.items():
        ms = [v * 1000 for v in values]
        print(f"{name}: n={len(ms)} p50_ms={statistics.median(ms):.2f} p95_ms={p95(ms):.2f}")
    orders_ratio = p95(timings["orders_page"]) / p95(timings["orders_api"])
    dash_ratio = p95(timings["dashboard_page"]) / p95(timings["dashboard_json"])
    print(f"orders_page_ratio={orders_ratio:.3f}")
    print(f"dashboard_page_ratio={dash_ratio:.3f}")
    return max(orders_ratio, dash_ratio)


def main() -> None:
    import logging

    # Other domains' background jobs run in the app as in production; the finance poster
    # refuses these synthetic orders (no order lines) once per 30 s, which is not news here.
    logging.getLogger("cloud_bridge.finance").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=120, help="orders per store per day")
    parser.add_argument("--requests", type=int, default=200, help="per page and side")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    ratio = asyncio.run(run(args))
    print(f"console_ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
