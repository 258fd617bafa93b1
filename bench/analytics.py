"""Analytics benchmark: the full nightly job on a generated chain year in a real SQLite file.

A fresh chain year (3 stores, 2,000 products, 20,000 members, ~1,000,000 order lines; seed
printed) is written into the bridge's tables (orders, order_lines, payments) of a SQLite
database, then ``run_nightly`` runs in a child process (so its peak memory is its own):
it reads the record, rebuilds the sales/hourly/payment facts, cohorts, member profiles with
churn and win-back offers, basket rules and 14-day forecasts for every active series, and
writes them back. Printed: seconds per step, total seconds, the child's peak RSS.

Engine choice, measured in the same run on the same frames: the core aggregations
(daily facts by store/day/product, hourly facts, retention cohorts) in polars (what the
job uses) and in DuckDB over the same Arrow data. DuckDB cannot read the SQLite/PostgreSQL
record directly here: its scanners are extensions downloaded at run time, and this server
has no internet.

Last line ``analytics_s=<seconds of the nightly job>`` (goal: under 60 s on 2 cores).

    .venv/bin/python bench/analytics.py [--seed N] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from cloud_bridge.analytics import metrics  # noqa: E402
from cloud_bridge.analytics.frames import frames_from_year  # noqa: E402
from cloud_bridge.analytics.generator import generate  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def duckdb_aggregations(fr) -> dict[str, float]:
    """The same three aggregations in DuckDB SQL over the frames' Arrow tables."""
    import duckdb

    con = duckdb.connect()
    lines, orders = fr.lines.to_arrow(), fr.orders.to_arrow()  # noqa: F841 - seen by SQL
    t = time.perf_counter()
    con.sql("""SELECT store, business_date, product_id, category, sum(qty) qty,
               sum(amount) revenue, sum(discount) discount, count(*) lines
               FROM lines GROUP BY ALL""").arrow()
    daily = time.perf_counter() - t
    t = time.perf_counter()
    con.sql("""SELECT store, business_date, hour, count(*) orders, sum(net) revenue,
               sum(discount_total) discount, count(member_id) member_orders
               FROM orders GROUP BY ALL ORDER BY ALL""").arrow()
    hourly = time.perf_counter() - t
    t = time.perf_counter()
    con.sql("""WITH m AS (SELECT member_id, date_trunc('week', business_date) AS wk, order_id,
                                 business_date FROM orders WHERE member_id IS NOT NULL),
               f AS (SELECT member_id, min(wk) AS cohort_week FROM m GROUP BY member_id),
               v AS (SELECT DISTINCT m.member_id, f.cohort_week,
                            date_diff('week', f.cohort_week, m.wk) AS week_offset
                     FROM m JOIN f USING (member_id)),
               s AS (SELECT cohort_week, count(*) AS cohort_size FROM f GROUP BY cohort_week)
               SELECT v.cohort_week, week_offset, count(*) AS members, any_value(cohort_size) AS size
               FROM v JOIN s USING (cohort_week) GROUP BY ALL ORDER BY ALL""").arrow()
    cohorts = time.perf_counter() - t
    return {"daily": daily, "hourly": hourly, "cohorts": cohorts}


def polars_aggregations(fr) -> dict[str, float]:
    t = time.perf_counter()
    metrics.daily_sales(fr.lines)
    daily = time.perf_counter() - t
    t = time.perf_counter()
    metrics.hourly_sales(fr.orders)
    hourly = time.perf_counter() - t
    t = time.perf_counter()
    metrics.retention_cohorts(fr.orders)
    cohorts = time.perf_counter() - t
    return {"daily": daily, "hourly": hourly, "cohorts": cohorts}


async def prepare(url: str, year) -> None:
    from cloud_bridge.analytics.seed import write_chain
    from cloud_bridge.db import Database
    from cloud_bridge.migrations import import_models

    import_models()
    async with Database(url) as db:
        await db.create_all()
        await write_chain(db, year)


async def job(url: str, as_of: date) -> dict:
    from cloud_bridge.analytics.jobs import run_nightly
    from cloud_bridge.db import Database
    from cloud_bridge.migrations import import_models

    import_models()
    async with Database(url) as db:
        t = time.perf_counter()
        result = await run_nightly(db, as_of=as_of, trigger="on_demand", requested_by="bench")
        total = time.perf_counter() - t
    return {"seconds": result.seconds, "rows": result.rows, "total_s": total,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(url: str, as_of: date) -> dict:
    out = subprocess.run([sys.executable, __file__, "--job", url, "--as-of", as_of.isoformat()],
                         check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, r: dict) -> None:
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in r["seconds"].items())
    print(f"{label}: nightly job {r['total_s']:.1f}s ({steps}); peak RSS "
          f"{r['peak_rss_mb']:.0f} MB; rows {r['rows']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--as-of", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        print(json.dumps(asyncio.run(job(args.job, date.fromisoformat(args.as_of)))))
        return

    t = time.perf_counter()
    year = generate(args.seed)
    print(f"seed={year.seed}")
    print(f"chain: {year.stores.height} stores, {year.products.height} products, "
          f"{year.members.height} members, {year.orders.height} orders, "
          f"{year.lines.height} order lines ({time.perf_counter() - t:.1f}s to generate)")
    fr = frames_from_year(year)
    # best of two rounds each (the first pays thread-pool and cache warm-up)
    pol = min((polars_aggregations(fr) for _ in range(2)), key=lambda r: sum(r.values()))
    duck = min((duckdb_aggregations(fr) for _ in range(2)), key=lambda r: sum(r.values()))
    for k in pol:
        print(f"engine {k}: polars {pol[k]:.3f}s, duckdb {duck[k]:.3f}s")
    print(f"engine total: polars {sum(pol.values()):.3f}s, duckdb {sum(duck.values()):.3f}s")
    as_of = year.spec.start + timedelta(days=year.spec.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bridge.db'}"
        t = time.perf_counter()
        asyncio.run(prepare(url, year))
        size = (Path(tmp) / "bridge.db").stat().st_size / 2**20
        print(f"SQLite record written in {time.perf_counter() - t:.1f}s ({size:.0f} MB)")
        sqlite_run = run_child(url, as_of)
        report("SQLite", sqlite_run)
    if args.postgres:
        pg_run = run_pg(year, as_of)
        if pg_run:
            report("PostgreSQL", pg_run)
    print(f"analytics_s={sqlite_run['total_s']:.1f}")


def run_pg(year, as_of: date) -> dict | None:
    import uuid

    import asyncpg

    name = f"bench_analytics_{uuid.uuid4().hex[:8]}"
    admin = PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def exec_(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(exec_(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as err:
        print(f"PostgreSQL not reachable ({err}); skipped")
        return None
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        asyncio.run(prepare(url, year))
        return run_child(url, as_of)
    finally:
        asyncio.run(exec_(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    pl.Config.set_tbl_rows(5)
    main()
