"""Durable sale commits/s: the journal vs raw sqlite3 with the same rows and pragmas.

Run: ``.venv/bin/python bench/journal.py [--sales N] [--rounds R]``

* journal: ``Journal.commit_sale`` (one sale = order, lines, paid attempt,
  order.completed + payment.settled events, receipt job; one transaction with
  ``synchronous=FULL``), awaited one after another as the checkout does.
* raw: the very rows the journal wrote, read back and inserted again with plain
  ``sqlite3`` into a fresh file with the same schema and pragmas, one transaction
  per sale (no thread hop, no model encoding).
* TinyDB: inserts/s when 1,000 and 5,000 orders are already stored (the design
  card's first idea; it rewrites its whole JSON file on every insert).
* scale: the journal's commit rate with 1k, 10k and 100k orders already stored (a
  kiosk months into its life: orders, lines, attempts and printed receipts; their
  events long acknowledged), ``journal_scale_ratio`` = rate at the largest / smallest.

Journal and raw run in interleaved rounds on fresh files (disk and cache state change
during a run; interleaving spreads that over both sides); each figure is the median of
the rounds with its range. The last line is ``journal_commit_ratio=<median journal /
median raw>`` (goal >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contract.wire.base import utcnow  # noqa: E402
from contract.wire.events import (  # noqa: E402
    OrderCompletedData,
    OrderLineData,
    TenderData,
    VatLine,
)
from kiosk_agent.journal import Journal  # noqa: E402
from kiosk_agent.journal.schema import migrate  # noqa: E402

TABLES = ("orders", "order_lines", "payment_attempts", "outbox", "print_jobs")


def make_order(n_lines: int = 3, out_trade_no: str | None = None) -> OrderCompletedData:
    """A paid WeChat sale of ``n_lines`` two-unit lines at 13% VAT (a typical basket)."""
    lines = [
        OrderLineData(line_no=i, product_id=f"P{i:03d}", barcode=f"69000000{i:05d}",
                      name_zh=f"商品{i}", name_en=f"Item {i}", qty=2, unit_price=350,
                      list_amount=700, discount=0, amount=700, vat_rate_bp=1300)
        for i in range(1, n_lines + 1)
    ]
    total = 700 * n_lines
    net = total * 10000 // 11300
    now = utcnow()
    return OrderCompletedData(
        order_no="", created_at=now, completed_at=now, lines=lines, subtotal=total,
        discount_total=0, total=total,
        vat=[VatLine(rate_bp=1300, gross=total, net=net, tax=total - net)],
        tenders=[TenderData(method="wechat", amount=total, out_trade_no=out_trade_no,
                            provider_ref="wx-ref" if out_trade_no else None)],
    )


async def bench_journal(path: Path, sales: int) -> float:
    orders = [make_order(n_lines=3, out_trade_no=f"otn-{i}") for i in range(sales)]
    async with Journal(path, "store1", "kiosk1") as j:
        await j.commit_sale(make_order(out_trade_no="warm-up"))
        start = time.perf_counter()
        for order in orders:
            await j.commit_sale(order)
        elapsed = time.perf_counter() - start
    return sales / elapsed


def rows_by_sale(path: Path) -> list[list[tuple[str, str, tuple]]]:
    """The journal's rows grouped per sale, as (table, insert sql, values)."""
    conn = sqlite3.connect(path)
    try:
        per_order: dict[str, list[tuple[str, str, tuple]]] = {}
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table}")
            cols = [d[0] for d in cur.description]
            sql = f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for row in cur:
                rec = dict(zip(cols, row, strict=True))
                if table == "outbox":
                    key = json.loads(rec["payload"])["data"]["order_no"]
                else:
                    key = rec["order_no"]
                per_order.setdefault(key, []).append((table, sql, row))
        return list(per_order.values())
    finally:
        conn.close()


def bench_raw(path: Path, sales: list[list[tuple[str, str, tuple]]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn)
    try:
        start = time.perf_counter()
        for i, rows in enumerate(sales):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('order_seq:x', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            )
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('outbox_seq', ?) ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 2",
                (str(2 * i + 2),),
            )
            for _table, sql, row in rows:
                conn.execute(sql, row)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return len(sales) / elapsed


def bench_tinydb(folder: Path, stored: int, inserts: int) -> float:
    from tinydb import TinyDB

    doc = make_order(n_lines=3, out_trade_no="otn").model_dump(mode="json")
    path = folder / f"tiny-{stored}.json"
    db = TinyDB(path)
    db.insert_multiple({**doc, "order_no": f"o-{i}"} for i in range(stored))
    start = time.perf_counter()
    for i in range(inserts):
        db.insert({**doc, "order_no": f"n-{i}"})
    elapsed = time.perf_counter() - start
    db.close()
    return inserts / elapsed


def prefill(path: Path, stored: int) -> None:
    """A journal that already holds ``stored`` sales (acknowledged: no outbox rows)."""
    asyncio.run(bench_journal(path, 1))
    template = rows_by_sale(path)[0]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for table, sql, row in template:
            if table == "outbox":
                continue
            cols = [d[1] for d in conn.execute(f"PRAGMA table_info({table})")]
            rows = []
            for i in range(stored):
                rec = dict(zip(cols, row, strict=True))
                for key in ("order_no", "out_trade_no"):
                    if key in rec and rec[key] is not None:
                        rec[key] = f"{rec[key]}-fill{i}"
                if table == "print_jobs":
                    rec["job_id"] = None
                rows.append(tuple(rec[c] for c in cols))
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def spread(rates: list[float]) -> str:
    return f"median {statistics.median(rates):.0f}/s (range {min(rates):.0f}-{max(rates):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=400, help="sales per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--tiny-inserts", type=int, default=20)
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="orders already stored, for the scale figures")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        folder = Path(tmp)
        journal_rates, raw_rates = [], []
        for r in range(args.rounds):
            jpath, rpath = folder / f"journal-{r}.db", folder / f"raw-{r}.db"
            journal_rates.append(asyncio.run(bench_journal(jpath, args.sales)))
            raw_rates.append(bench_raw(rpath, rows_by_sale(jpath)))
            print(f"round {r + 1}: journal {journal_rates[-1]:.0f}/s raw {raw_rates[-1]:.0f}/s")
            jpath.unlink()
            rpath.unlink()
        journal_med = statistics.median(journal_rates)
        raw_med = statistics.median(raw_rates)
        print(f"journal_commits_per_s={journal_med:.0f} ({spread(journal_rates)})")
        print(f"raw_sqlite_commits_per_s={raw_med:.0f} ({spread(raw_rates)})")
        for stored in (1000, 5000):
            rate = bench_tinydb(folder, stored, args.tiny_inserts)
            print(f"tinydb_inserts_per_s_at_{stored}={rate:.1f}")
        scale: dict[int, float] = {}
        for stored in (int(n) for n in args.sizes.split(",")):
            rates = []
            for r in range(3):
                path = folder / f"scale-{stored}-{r}.db"
                prefill(path, stored)
                rates.append(asyncio.run(bench_journal(path, args.sales)))
                path.unlink()
            scale[stored] = statistics.median(rates)
            print(f"journal_commits_per_s_with_{stored}_stored={scale[stored]:.0f} "
                  f"({spread(rates)})")
        sizes = sorted(scale)
        print(f"journal_scale_ratio={scale[sizes[-1]] / scale[sizes[0]]:.3f}")
    print(f"journal_commit_ratio={journal_med / raw_med:.3f}")


if __name__ == "__main__":
    main()
