"""Ledger benchmark: a day of 200 kiosks' sales posted to the double-entry ledger.

Measured side by side in one run, on the same generated day (seed printed, fresh
each run), on SQLite files in a temporary directory:

* ledger: ``cloud_bridge.finance.jobs.post_pending`` over the day's stored orders:
  it reads the orders and lines, splits VAT and revenue by category, takes cost of
  goods at moving average, and posts balanced entries that the database checks
  (sealing and balance triggers, deferred foreign key): entries per second;
* baseline: a plain insert of exactly the rows the ledger wrote (the same entries and
  lines, copied out) into tables of the same shape without triggers or checks, in
  transactions of the same size: entries per second.

Last line: ``ledger_ratio=<ledger entries/s / plain insert entries/s>``.

    .venv/bin/python bench/ledger.py [--kiosks 200] [--sales 40] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from cloud_bridge.db import Database, bulk_insert  # noqa: E402
from cloud_bridge.finance import jobs  # noqa: E402
from cloud_bridge.finance.costing import round_half_up  # noqa: E402
from cloud_bridge.finance.service import post_goods_receipt  # noqa: E402
from cloud_bridge.migrations import import_models  # noqa: E402
from cloud_bridge.models import Order, OrderLine  # noqa: E402

STORES = 20
PRODUCTS = 300
METHODS = (("wechat", 55), ("alipay", 35), ("cash", 6), ("card", 4))
RATES = (1300, 1300, 1300, 900, 600)


def generate(rng: random.Random, kiosks: int, sales: int, day: datetime):
    """Orders and lines of one trading day: ``kiosks`` kiosks over STORES stores."""
    price = {f"p{i:03d}": rng.randint(150, 6000) for i in range(PRODUCTS)}
    rate = {p: rng.choice(RATES) for p in price}
    orders, lines = [], []
    oid = 0
    for k in range(kiosks):
        store = f"s{k % STORES}"
        for n in range(sales):
            oid += 1
            at = day + timedelta(seconds=rng.randint(8 * 3600, 22 * 3600))
            items = rng.sample(sorted(price), rng.randint(1, 6))
            total, by_rate = 0, {}
            for i, p in enumerate(items, 1):
                qty = rng.randint(1, 3)
                amount = qty * price[p]
                lines.append({"order_id": oid, "line_no": i, "product_id": p, "name_zh": p,
                              "qty": qty, "unit_price": price[p], "discount": 0,
                              "amount": amount, "returned_qty": 0})
                total += amount
                by_rate[rate[p]] = by_rate.get(rate[p], 0) + amount
            vat = [{"rate_bp": r, "gross": g,
                    "net": round_half_up(g * 10000, 10000 + r),
                    "tax": g - round_half_up(g * 10000, 10000 + r)} for r, g in by_rate.items()]
            method = rng.choices([m for m, _ in METHODS], [w for _, w in METHODS])[0]
            no = f"{store}-k{k}-{day:%Y%m%d}-{n:04d}"
            orders.append({"id": oid, "order_no": no, "store": store, "kiosk": f"k{k}",
                           "source": "kiosk", "fulfillment": "instore", "status": "completed",
                           "currency": "CNY", "subtotal": total, "discount_total": 0,
                           "total": total, "refunded_total": 0,
                           "business_date": day.date().isoformat(), "created_at": at,
                           "updated_at": at, "paid_at": at, "completed_at": at,
                           "details": {"tenders": [{"method": method, "amount": total,
                                                    "out_trade_no": no + "-1"}], "vat": vat}})
    return orders, lines, price


async def open_db(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.create_all()
    return db


async def seed(db: Database, orders, lines, price, day: datetime) -> None:
    async with db.session() as s:
        for store in {o["store"] for o in orders}:
            await post_goods_receipt(s, store=store, source_id=f"GR-{store}", supplier_id="sup",
                                     occurred_at=day, input_vat_fen=0,
                                     lines=[(p, 10_000, c * 6 // 10) for p, c in price.items()])
    for i in range(0, len(orders), 2000):
        async with db.session() as s:
            await s.execute(*bulk_insert(s, Order, orders[i:i + 2000]))
    for i in range(0, len(lines), 5000):
        async with db.session() as s:
            await s.execute(*bulk_insert(s, OrderLine, lines[i:i + 5000]))


PLAIN_DDL = (
    "CREATE TABLE plain_entries (id INTEGER PRIMARY KEY, store TEXT, source_type TEXT, "
    "source_id TEXT, business_date TEXT, occurred_at TEXT, memo TEXT, amount INTEGER, "
    "reverses_id INTEGER, posted_by TEXT, posted_at TEXT)",
    "CREATE TABLE plain_lines (id INTEGER PRIMARY KEY, entry_id INTEGER, line_no INTEGER, "
    "account_id INTEGER, debit INTEGER, credit INTEGER, memo TEXT)",
)


async def plain_insert(db: Database, entries: list[dict], lines: list[dict]) -> float:
    """Insert the ledger's rows into trigger-free tables, BATCH entries per transaction."""
    async with db.session() as s:
        for ddl in PLAIN_DDL:
            await s.execute(text(ddl))
    by_entry: dict[int, list[dict]] = {}
    for ln in lines:
        by_entry.setdefault(ln["entry_id"], []).append(ln)
    cols_e = list(entries[0])
    cols_l = list(lines[0])
    ins_e = text(f"INSERT INTO plain_entries ({', '.join(cols_e)}) VALUES "
                 f"({', '.join(':' + c for c in cols_e)})")
    ins_l = text(f"INSERT INTO plain_lines ({', '.join(cols_l)}) VALUES "
                 f"({', '.join(':' + c for c in cols_l)})")
    start = time.perf_counter()
    for i in range(0, len(entries), jobs.BATCH):
        chunk = entries[i:i + jobs.BATCH]
        async with db.session() as s:
            await s.execute(ins_l, [ln for e in chunk for ln in by_entry[e["id"]]])
            await s.execute(ins_e, chunk)
    return time.perf_counter() - start


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiosks", type=int, default=200)
    ap.add_argument("--sales", type=int, default=40, help="sales per kiosk in the day")
    ap.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**31))
    args = ap.parse_args()
    print(f"seed={args.seed} kiosks={args.kiosks} sales_per_kiosk={args.sales} "
          f"stores={STORES} products={PRODUCTS}")
    import_models()
    rng = random.Random(args.seed)
    day = datetime(2026, 11, 3, tzinfo=UTC)
    orders, lines, price = generate(rng, args.kiosks, args.sales, day)
    print(f"orders={len(orders)} order_lines={len(lines)} "
          f"takings_fen={sum(o['total'] for o in orders)}")
    with tempfile.TemporaryDirectory() as tmp:
        db = await open_db(Path(tmp) / "ledger.db")
        await seed(db, orders, lines, price, day)
        start = time.perf_counter()
        result = await jobs.post_pending(db)
        ledger_s = time.perf_counter() - start
        async with db.session() as s:
            entries = [dict(r._mapping) for r in await s.execute(text(
                "SELECT * FROM finance_entries WHERE source_type = 'sale' ORDER BY id"))]
            ids = {e["id"] for e in entries}
            all_lines = [dict(r._mapping) for r in await s.execute(text(
                "SELECT * FROM finance_lines ORDER BY id"))]
            unbalanced = await s.scalar(text(
                "SELECT COUNT(*) FROM (SELECT entry_id FROM finance_lines GROUP BY entry_id "
                "HAVING SUM(debit) <> SUM(credit))"))
        await db.close()
        sale_lines = [ln for ln in all_lines if ln["entry_id"] in ids]
        posted = result.posted.get("sale", 0)
        print(f"ledger: {posted} sale entries ({len(sale_lines)} lines) posted in "
              f"{ledger_s:.2f}s = {posted / ledger_s:.0f} entries/s; unbalanced={unbalanced}")
        plain_db = await open_db(Path(tmp) / "plain.db")
        plain_s = await plain_insert(plain_db, entries, sale_lines)
        await plain_db.close()
        print(f"plain insert: {len(entries)} entries ({len(sale_lines)} lines) in "
              f"{plain_s:.2f}s = {len(entries) / plain_s:.0f} entries/s")
    print(f"ledger_entries_per_s={posted / ledger_s:.0f}")
    print(f"plain_insert_entries_per_s={len(entries) / plain_s:.0f}")
    print(f"ledger_ratio={(posted / ledger_s) / (len(entries) / plain_s):.3f}")


if __name__ == "__main__":
    asyncio.run(main())
