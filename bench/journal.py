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
  events long acknowledged), ``journal_scale_ratio`` = median rate at the largest /
  median rate at the smallest. Each figure also says how many bytes the process wrote
  to and read from the disk per sale (``/proc/self/io``, Linux): the same work at
  every size shows that a lower rate came from the machine, not from the data.

Journal and raw run in interleaved rounds on fresh files (disk and cache state change
during a run; interleaving spreads that over both sides); so do the sizes of the scale
figures (each round runs every size, in the opposite order to the round before) and
the TinyDB sizes; a round's scale journals are all filled first, then the disk is left
to finish writing them (``SETTLE_S``) before any is timed. Each figure is the median of
the rounds with its range. The last line
is ``journal_commit_ratio=<median journal / median raw>`` (goal >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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
# Pause between filling the scale journals and timing them. Filling 100k orders writes
# ~280 MB in seconds, which no kiosk does right before a sale; measured here (4 rounds
# each, 1k vs 100k stored, 400 sales), timing right after the fill gave 100k/1k per
# round 0.72, 0.92, 0.80, 0.55 with the same bytes written per sale, after a 30 s pause
# 0.65, 1.49, 1.10, 1.20.
SETTLE_S = 30.0


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


PROC_IO = Path("/proc/self/io")


def disk_io() -> tuple[int, int] | None:
    """Bytes this process has read from and written to storage so far (Linux only)."""
    if not PROC_IO.exists():
        return None
    fields = dict(line.split(": ") for line in PROC_IO.read_text().splitlines())
    return int(fields["read_bytes"]), int(fields["write_bytes"])


@dataclass(frozen=True, slots=True)
class SalesRun:
    """One timed run of sales: the rate and the disk traffic per sale (None off Linux)."""

    rate: float
    read_per_sale: float | None
    written_per_sale: float | None


async def bench_journal(path: Path, sales: int) -> SalesRun:
    orders = [make_order(n_lines=3, out_trade_no=f"otn-{i}") for i in range(sales)]
    async with Journal(path, "store1", "kiosk1") as j:
        await j.commit_sale(make_order(out_trade_no="warm-up"))
        io_before = disk_io()
        start = time.perf_counter()
        for order in orders:
            await j.commit_sale(order)
        elapsed = time.perf_counter() - start
        io_after = disk_io()
    if io_before is None or io_after is None:
        return SalesRun(sales / elapsed, None, None)
    return SalesRun(sales / elapsed, (io_after[0] - io_before[0]) / sales,
                    (io_after[1] - io_before[1]) / sales)


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
        # Written once in place (a WAL would take the whole fill and copy it again).
        conn.execute("PRAGMA journal_mode = DELETE")
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
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def settle() -> None:
    """Let the disk finish the fill's writes before a timed run (see SETTLE_S)."""
    os.sync()
    time.sleep(SETTLE_S)


def spread(rates: list[float], digits: int = 0) -> str:
    med, low, high = statistics.median(rates), min(rates), max(rates)
    return f"median {med:.{digits}f}/s (range {low:.{digits}f}-{high:.{digits}f})"


def disk_per_sale(runs: list[SalesRun]) -> str:
    """Median KiB written and read per sale over ``runs`` (empty off Linux)."""
    written = [r.written_per_sale for r in runs if r.written_per_sale is not None]
    read = [r.read_per_sale for r in runs if r.read_per_sale is not None]
    if not written or not read:
        return ""
    return (f"; disk per sale: {statistics.median(written) / 1024:.1f} KiB written, "
            f"{statistics.median(read) / 1024:.1f} KiB read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=400, help="sales per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--tiny-inserts", type=int, default=10, help="TinyDB inserts per round")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="orders already stored, for the scale figures")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        folder = Path(tmp)
        journal_rates, raw_rates = [], []
        for r in range(args.rounds):
            jpath, rpath = folder / f"journal-{r}.db", folder / f"raw-{r}.db"
            journal_rates.append(asyncio.run(bench_journal(jpath, args.sales)).rate)
            raw_rates.append(bench_raw(rpath, rows_by_sale(jpath)))
            print(f"round {r + 1}: journal {journal_rates[-1]:.0f}/s raw {raw_rates[-1]:.0f}/s")
            jpath.unlink()
            rpath.unlink()
        journal_med = statistics.median(journal_rates)
        raw_med = statistics.median(raw_rates)
        print(f"journal_commits_per_s={journal_med:.0f} ({spread(journal_rates)})")
        print(f"raw_sqlite_commits_per_s={raw_med:.0f} ({spread(raw_rates)})")

        tiny: dict[int, list[float]] = {1000: [], 5000: []}
        for _ in range(args.rounds):
            for stored, rates in tiny.items():
                rates.append(bench_tinydb(folder, stored, args.tiny_inserts))
        for stored, rates in tiny.items():
            print(f"tinydb_inserts_per_s_at_{stored}={statistics.median(rates):.1f} "
                  f"({spread(rates, 1)})")

        sizes = sorted(int(n) for n in args.sizes.split(","))
        scale: dict[int, list[SalesRun]] = {stored: [] for stored in sizes}
        for r in range(args.rounds):
            paths = {stored: folder / f"scale-{stored}-{r}.db" for stored in sizes}
            for stored, path in paths.items():
                prefill(path, stored)
            settle()
            # Alternate the order: the machine's load drifts within a round as well.
            for stored in sizes if r % 2 == 0 else sizes[::-1]:
                scale[stored].append(asyncio.run(bench_journal(paths[stored], args.sales)))
                paths[stored].unlink()
            print(f"scale round {r + 1} ({SETTLE_S:.0f} s after filling): " + ", ".join(
                f"{stored} stored {scale[stored][-1].rate:.0f}/s" for stored in sizes))
        for stored, runs in scale.items():
            rates = [run.rate for run in runs]
            print(f"journal_commits_per_s_with_{stored}_stored={statistics.median(rates):.0f} "
                  f"({spread(rates)}{disk_per_sale(runs)})")
        smallest, largest = scale[sizes[0]], scale[sizes[-1]]
        per_round = [big.rate / small.rate for small, big in zip(smallest, largest, strict=True)]
        print(f"journal_scale_ratio_per_round: median {statistics.median(per_round):.3f} "
              f"(range {min(per_round):.3f}-{max(per_round):.3f})")
        ratio = (statistics.median(run.rate for run in largest)
                 / statistics.median(run.rate for run in smallest))
        print(f"journal_scale_ratio={ratio:.3f}")
    print(f"journal_commit_ratio={journal_med / raw_med:.3f}")


if __name__ == "__main__":
    main()
