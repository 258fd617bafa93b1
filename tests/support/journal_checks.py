"""Checks of a kiosk journal file after a crash or a power loss (read with plain sqlite3)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path


def verify_sales_whole(db: Path, acknowledged: Iterable[str]) -> tuple[int, int]:
    """Check that every sale is whole or absent and every acknowledged one is there.

    Whole: the order, all its lines, one ``order.completed`` and one ``payment.settled``
    event, one receipt job and its paid attempt; a paid attempt always has its order; an
    attempt without an order is pending (in flight at the crash) or unknown (recovered);
    outbox sequence numbers are unique and ordered; the file passes ``integrity_check``.
    A file without the journal's tables (nothing ever reached the disk) holds no sales.

    Returns:
        ``(orders in the file, sales acknowledged)``.
    """
    acknowledged = list(acknowledged)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "orders" not in tables:
            orders: dict[str, dict] = {}
            lines: dict[str, int] = {}
            completed: dict[str, int] = {}
            settled: dict[str, int] = {}
            receipts: dict[str, int] = {}
            attempts: dict[str, tuple[str, str]] = {}
            seqs: list[int] = []
        else:
            orders = {
                r[0]: json.loads(r[1]) for r in conn.execute("SELECT order_no, data FROM orders")
            }
            lines = dict(
                conn.execute("SELECT order_no, count(*) FROM order_lines GROUP BY order_no")
            )
            completed, settled = {}, {}
            for etype, payload in conn.execute("SELECT type, payload FROM outbox"):
                data = json.loads(payload)["data"]
                if etype == "order.completed":
                    completed[data["order_no"]] = completed.get(data["order_no"], 0) + 1
                elif etype == "payment.settled":
                    settled[data["order_no"]] = settled.get(data["order_no"], 0) + 1
            receipts = dict(conn.execute(
                "SELECT order_no, count(*) FROM print_jobs WHERE kind='receipt' GROUP BY order_no"
            ))
            attempts = {
                r[0]: (r[1], r[2])
                for r in conn.execute("SELECT out_trade_no, order_no, status FROM payment_attempts")
            }
            seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    finally:
        conn.close()
    missing = set(acknowledged) - set(orders)
    assert not missing, f"acknowledged sales lost: {len(missing)} of {len(acknowledged)}"
    # Whole or absent: every artefact of a sale exists exactly when the order does.
    assert set(completed) == set(orders) and set(settled) == set(orders)
    assert set(lines) == set(orders) and set(receipts) == set(orders)
    for order_no, data in orders.items():
        assert lines[order_no] == len(data["lines"])
        assert completed[order_no] == 1 and settled[order_no] == 1 and receipts[order_no] == 1
        assert attempts[f"{order_no}-1"] == (order_no, "paid")
    for otn, (order_no, status) in attempts.items():
        if status == "paid":
            assert order_no in orders, otn
        else:  # in flight at the crash (pending) or recovered at a restart (unknown)
            assert status in ("pending", "unknown") and order_no not in orders, (otn, status)
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)
    return len(orders), len(acknowledged)
