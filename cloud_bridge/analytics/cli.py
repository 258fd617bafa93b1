"""``cloud-bridge analytics run|generate|competitor-import|purge-events|chart``.

* ``run``: the nightly job now (a systemd timer or cron can call it instead of the
  in-process timer); prints the run's seconds and rows per step as JSON.
* ``generate``: writes a generated chain (seeded; the seed is printed) into the bridge's
  tables, for demos and trials; refuses a database that already has orders.
* ``competitor-import``: a competitor's price list (CSV: barcode, price in yuan, observed_on).
* ``purge-events``: delete behaviour events older than ``--days``.
* ``chart``: one metric's chart as a PNG file (what ``GET .../metrics/{m}/chart.png`` serves).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from cloud_bridge.db import Database


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ana = subparsers.add_parser("analytics", help="analytics jobs, demo data, imports")
    sub = ana.add_subparsers(dest="analytics_command", metavar="ACTION")
    run = sub.add_parser("run", help="run the nightly analytics job now")
    run.add_argument("--config", type=Path, help="bridge config (TOML)")
    run.add_argument("--as-of", type=date.fromisoformat,
                     help="last business day to include (default: yesterday)")
    run.set_defaults(func=_run)
    gen = sub.add_parser("generate", help="write a generated chain into an empty database")
    gen.add_argument("--config", type=Path, help="bridge config (TOML)")
    gen.add_argument("--seed", type=int, default=None, help="default: a fresh seed (printed)")
    gen.add_argument("--stores", type=int, default=3)
    gen.add_argument("--products", type=int, default=200)
    gen.add_argument("--members", type=int, default=2000)
    gen.add_argument("--days", type=int, default=90)
    gen.add_argument("--lines", type=int, default=50_000)
    gen.add_argument("--start", type=date.fromisoformat, default=None,
                     help="first business day (default: --days before today)")
    gen.set_defaults(func=_generate)
    imp = sub.add_parser("competitor-import", help="import a competitor price list (CSV)")
    imp.add_argument("--config", type=Path, help="bridge config (TOML)")
    imp.add_argument("--competitor", required=True)
    imp.add_argument("--file", type=Path, required=True)
    imp.set_defaults(func=_import)
    purge = sub.add_parser("purge-events", help="delete behaviour events older than --days")
    purge.add_argument("--config", type=Path, help="bridge config (TOML)")
    purge.add_argument("--days", type=int, default=180)
    purge.set_defaults(func=_purge)
    chart = sub.add_parser("chart", help="write a metric's chart as a PNG file")
    chart.add_argument("--config", type=Path, help="bridge config (TOML)")
    chart.add_argument("metric", help="a metric name (GET /api/v1/admin/analytics/metrics/...)")
    chart.add_argument("--start", type=date.fromisoformat, required=True)
    chart.add_argument("--end", type=date.fromisoformat, required=True)
    chart.add_argument("--store", default=None)
    chart.add_argument("--by", default=None, help="grouping (store, day, channel, kiosk, ...)")
    chart.add_argument("--out", type=Path, required=True, help="PNG file to write")
    chart.set_defaults(func=_chart)
    ana.set_defaults(func=lambda args: _usage(ana))


def _usage(parser: argparse.ArgumentParser) -> int:
    """Show a command group's help when no subcommand was given (exit status 2)."""
    parser.print_help()
    return 2


def _fail(message: str) -> int:
    print(f"cloud-bridge analytics: {message}", file=sys.stderr)
    return 1


def _with_db(args: argparse.Namespace, work: Callable[[Database], Awaitable[int]]) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError, load_config
    from cloud_bridge.db import open_database
    from cloud_bridge.errors import BridgeError

    try:
        config = load_config(args.config)
    except ConfigError as err:
        return _fail(str(err))

    async def main() -> int:
        db = open_database(config)
        try:
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except BridgeError as err:
        return _fail(err.detail)


def _run(args: argparse.Namespace) -> int:
    from .jobs import run_nightly

    async def work(db: Database) -> int:
        result = await run_nightly(db, as_of=args.as_of, trigger="nightly",
                                   requested_by="cli")
        print(json.dumps({"run_id": result.run_id, "seconds": result.seconds,
                          "rows": result.rows}, ensure_ascii=False))
        return 0

    return _with_db(args, work)


def _generate(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from sqlalchemy import func, select

    from cloud_bridge.models import Order, now

    from .generator import ChainSpec, generate
    from .seed import write_chain

    start = args.start or now().date() - timedelta(days=args.days)
    spec = ChainSpec(stores=args.stores, products=args.products, members=args.members,
                     days=args.days, lines=args.lines, start=start)

    async def work(db: Database) -> int:
        async with db.session() as s:
            if await s.scalar(select(func.count()).select_from(Order)):
                return _fail("the database already has orders; generate into an empty one")
        year = generate(args.seed, spec)
        await write_chain(db, year)
        print(json.dumps({"seed": year.seed, "orders": year.orders.height,
                          "lines": year.lines.height}))
        return 0

    return _with_db(args, work)


def _import(args: argparse.Namespace) -> int:
    from .competitors import import_price_list

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return _fail(f"{args.file}: {err}")

    async def work(db: Database) -> int:
        async with db.session() as s:
            n = await import_price_list(s, args.competitor, text)
        print(json.dumps({"competitor": args.competitor, "rows": n}))
        return 0

    return _with_db(args, work)


def _purge(args: argparse.Namespace) -> int:
    from .events import purge_events

    async def work(db: Database) -> int:
        async with db.session() as s:
            n = await purge_events(s, args.days)
        print(json.dumps({"purged": n}))
        return 0

    return _with_db(args, work)


def _chart(args: argparse.Namespace) -> int:
    from . import charts, service

    if args.metric not in service.METRICS:
        return _fail(f"no metric {args.metric!r} (one of {', '.join(service.METRICS)})")
    if args.start > args.end:
        return _fail("--start is after --end")

    async def work(db: Database) -> int:
        f = service.Filters(args.start, args.end, args.store)
        async with db.session() as s:
            frame = await service.metric_table(s, args.metric, f, by=args.by)
        subtitle = f"{args.store or '全部门店 all stores'} {args.start} – {args.end}"
        try:
            png = charts.chart_png(frame, args.metric, subtitle)
        except charts.ChartError as err:
            return _fail(str(err))
        args.out.write_bytes(png)
        print(json.dumps({"metric": args.metric, "rows": frame.height, "file": str(args.out),
                          "bytes": len(png)}, ensure_ascii=False))
        return 0

    return _with_db(args, work)
