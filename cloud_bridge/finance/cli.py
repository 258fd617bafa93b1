"""``cloud-bridge finance``: post, report, close."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig
    from cloud_bridge.finance.reports import Statement


def register(subparsers: argparse._SubParsersAction) -> None:
    fin = subparsers.add_parser("finance", help="ledger posting, statements, daily close")
    sub = fin.add_subparsers(dest="finance_command", required=True)

    post = sub.add_parser("post", help="post every unposted sale, refund, top-up, return")
    post.add_argument("--config", help="bridge TOML config (database)")
    post.set_defaults(func=run_post)

    rep = sub.add_parser("report", help="income statement, balance sheet, cash flow or "
                                        "the VAT return worksheet")
    rep.add_argument("--config", help="bridge TOML config (database)")
    rep.add_argument("--kind", required=True,
                     choices=("income", "balance", "cashflow", "vat", "treasury", "budget"))
    rep.add_argument("--rate-bp", type=int, help="treasury: yearly rate, basis points")
    rep.add_argument("--period", required=True,
                     help="YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (business days)")
    rep.add_argument("--store", help="one store (default: the whole chain)")
    rep.add_argument("--format", default="text", choices=("text", "json", "csv", "xlsx", "pdf"))
    rep.add_argument("--out", help="write to this file (xlsx and pdf need it)")
    rep.add_argument("--no-post", action="store_true", help="do not post pending first")
    rep.set_defaults(func=run_report)

    close = sub.add_parser("close", help="reconcile a store's day with the providers' bills "
                                         "and close it when nothing is left open")
    close.add_argument("--config", help="bridge TOML config (database and [payments])")
    close.add_argument("--store", required=True)
    close.add_argument("--date", required=True, help="YYYY-MM-DD (business day)")
    close.add_argument("--payments", help="payment settings JSON or sandbox manifest "
                                          "(default: the config's [payments])")
    close.add_argument("--actor", default="cli", help="who closes (recorded)")
    close.set_defaults(func=run_close)

    settle = sub.add_parser("settle", help="post a day's provider fees and T+1 settlements "
                                           "to the bank from the bills (once)")
    settle.add_argument("--config", help="bridge TOML config (database and [payments])")
    settle.add_argument("--date", required=True, help="YYYY-MM-DD (the day that settles)")
    settle.add_argument("--payments", help="payment settings JSON or sandbox manifest "
                                           "(default: the config's [payments])")
    settle.set_defaults(func=run_settle)


def _config(args: argparse.Namespace) -> BridgeConfig:
    from cloud_bridge.config import ConfigError, load_config

    try:
        return load_config(args.config)
    except ConfigError as err:
        print(f"cloud-bridge finance: {err}", file=sys.stderr)
        raise SystemExit(2) from err


def run_post(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.db import open_database

    from .jobs import post_pending

    config = _config(args)

    async def main() -> dict[str, int]:
        async with open_database(config) as db:
            return (await post_pending(db, tz=config.bridge.timezone)).posted

    print(json.dumps({"posted": asyncio.run(main())}))
    return 0


def _text(st) -> str:
    from contract.money import major_text

    lines = [f"{st.title_zh} {st.title_en} | {st.scope} | {st.period.label} | 元 CNY"]
    for r in st.rows:
        label = f"{r.label_zh} {r.label_en}"
        if r.amount is None:
            lines.append(label)
        else:
            mark = "=" if r.total else " "
            lines.append(f"{mark} {(r.code or ''):<14} {label:<56} {major_text(r.amount):>14}")
    return "\n".join(lines)


def run_report(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.db import open_database

    from . import reports, statements
    from .export import render
    from .jobs import post_pending

    config = _config(args)
    try:
        period = reports.parse_period(args.period)
    except reports.PeriodError as err:
        print(f"cloud-bridge finance report: {err}", file=sys.stderr)
        return 2
    if args.format in ("xlsx", "pdf") and not args.out:
        print(f"cloud-bridge finance report: --format {args.format} needs --out FILE",
              file=sys.stderr)
        return 2

    async def main() -> Statement:
        async with open_database(config) as db:
            if not args.no_post:
                await post_pending(db, tz=config.bridge.timezone)
            async with db.session() as s:
                return await statements.statement(s, args.kind, store=args.store, period=period,
                                               rate_bp=args.rate_bp)

    st = asyncio.run(main())
    if args.format == "text":
        data = (_text(st) + "\n").encode()
    elif args.format == "json":
        from .api import statement_json

        data = (json.dumps(statement_json(st), ensure_ascii=False, indent=1) + "\n").encode()
    else:
        data = render(st, args.format)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out} ({len(data)} bytes)")
    else:
        sys.stdout.buffer.write(data)
    return 0


def run_close(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.db import open_database
    from cloud_bridge.errors import Conflict
    from cloud_bridge.payments.service import PaymentService

    from . import close as C

    config = _config(args)
    from cloud_bridge.payments.cli import load_settings
    from cloud_bridge.payments.config import PROVIDER_KEYS, PaymentSettings

    # Without providers the day is still reconciled: every billable tender then stays a
    # mismatch ("no bill to check against") for finance to accept.
    settings: PaymentSettings | None = (load_settings(args.payments) if args.payments
                                        else config.payments.settings())
    if not any(getattr(settings, k, None) for k in PROVIDER_KEYS):
        settings = None

    async def main() -> int:
        async with open_database(config) as db:
            svc = PaymentService.from_settings(db, settings) if settings else None
            try:
                bills = await C.fetch_bills(svc, args.date)
                funds = await C.fetch_fund_flows(svc, args.date)
            finally:
                if svc is not None:
                    await svc.close()
            try:
                close_id = await C.reconcile(db, args.store, args.date, bills, funds=funds,
                                             tz=config.bridge.timezone)
            except Conflict as err:
                print(f"cloud-bridge finance close: {err.detail}", file=sys.stderr)
                return 1
            async with db.session() as s:
                close, items = await C.get_close(s, close_id)
                for m in items:
                    print("\t".join(str(x) for x in (
                        m.id, m.status, m.kind, m.method, m.out_trade_no, m.orders_amount,
                        m.bill_amount, m.detail or "")))
                try:
                    await C.close_day(s, close_id, args.actor)
                    closed = True
                except Conflict as err:
                    print(f"not closed: {err.detail}", file=sys.stderr)
                    closed = False
            summary = {"store": args.store, "date": args.date, "close_id": close_id,
                       "providers": sorted(bills), "checked": close.checked,
                       "open": sum(1 for m in items if m.status == C.OPEN), "closed": closed}
            print(json.dumps(summary))
            return 0 if closed else 1

    return asyncio.run(main())


def run_settle(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.db import open_database
    from cloud_bridge.payments.cli import load_settings
    from cloud_bridge.payments.service import PaymentService

    from .settlements import post_settlements

    config = _config(args)
    settings = load_settings(args.payments) if args.payments else config.payments.settings()

    async def main() -> int:
        async with open_database(config) as db:
            svc = PaymentService.from_settings(db, settings)
            try:
                counts = await post_settlements(db, svc, args.date, tz=config.bridge.timezone)
            finally:
                await svc.close()
        print(json.dumps({"date": args.date, "posted": counts}))
        return 0

    return asyncio.run(main())
