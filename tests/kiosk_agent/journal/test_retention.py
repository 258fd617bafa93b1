"""Journal retention through ``kiosk-agent journal prune|stats``: acknowledged sales older
than the retention are archived then pruned, unacknowledged ones are kept forever, and a
SIGKILL at any moment of a prune loses nothing."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.wire.events import ORDER_COMPLETED
from kiosk_agent.cli import build_parser
from kiosk_agent.journal import Journal
from kiosk_agent.journal.retention import read_archives
from tests.kiosk_agent.sales import make_order

ROOT = Path(__file__).resolve().parents[3]
DAY = 86400.0


def run_cli(*argv: str) -> int:
    args = build_parser(("kiosk_agent.cli_journal",)).parse_args(list(argv))
    return args.func(args)


async def make_journal(path: Path, n: int, acked_old: int, acked_new: int) -> dict[str, str]:
    """``n`` sales: the first ``acked_old`` acknowledged 100 days ago, the next ``acked_new``
    yesterday, the rest never acknowledged (also 100 days old). Returns order_no -> group."""
    groups: dict[str, str] = {}
    async with Journal(path, "store1", "kiosk1") as j:
        for i in range(n):
            sale = await j.commit_sale(make_order(n_lines=2, out_trade_no=f"otn-{i}"))
            groups[sale.order_no] = ("old" if i < acked_old else
                                     "new" if i < acked_old + acked_new else "unacked")
        rows = await j.outbox_pending(100_000)
        acked = [r.event_id for r in rows if r.type == ORDER_COMPLETED
                 and groups[json.loads(r.payload)["data"]["order_no"]] != "unacked"]
        assert await j.outbox_ack(acked) == len(acked)
    conn = sqlite3.connect(path)
    with conn:
        old = time.time() - 100 * DAY
        for no, g in groups.items():
            conn.execute("UPDATE orders SET committed_at = ? WHERE order_no = ?",
                         (old if g != "new" else time.time() - DAY, no))
            if g == "old":
                conn.execute("UPDATE orders SET acked_at = ? WHERE order_no = ?", (old, no))
    conn.close()
    return groups


def kept(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT order_no FROM orders")}


async def test_prune_keeps_unacknowledged_and_recent(tmp_path, capsys):
    db = tmp_path / "journal.db"
    groups = await make_journal(db, 30, acked_old=12, acked_new=8)
    assert run_cli("journal", "stats", "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "orders           30 (10 not acknowledged)" in out and "oldest kept" in out
    assert run_cli("journal", "prune", "--db", str(db)) == 0
    assert "pruned 12 orders" in capsys.readouterr().out
    assert kept(db) == {no for no, g in groups.items() if g != "old"}
    archived = [r for r in read_archives(tmp_path / "archive") if r["table"] == "orders"]
    assert {r["order_no"] for r in archived} == {no for no, g in groups.items() if g == "old"}
    with sqlite3.connect(db) as conn:  # lines and attempts went with their orders
        assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 18 * 2
        assert conn.execute("SELECT count(*) FROM payment_attempts").fetchone()[0] == 18
    assert run_cli("journal", "prune", "--db", str(db)) == 0  # nothing more
    assert "pruned 0 orders" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_sigkill_during_prune_loses_nothing(tmp_path):
    base = tmp_path / "base.db"
    groups = asyncio.run(make_journal(base, 1500, acked_old=1200, acked_new=100))
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    for trial in range(6):
        db = tmp_path / f"t{trial}" / "journal.db"
        db.parent.mkdir()
        shutil.copy(base, db)
        archive = db.parent / "archive"
        for _ in range(3):  # killed, then killed again mid-way, then left to finish
            proc = subprocess.Popen([sys.executable, "-m", "kiosk_agent.cli", "journal", "prune",
                                     "--db", str(db), "--archive-dir", str(archive)],
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.2, 1.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert run_cli("journal", "prune", "--db", str(db), "--archive-dir", str(archive)) == 0
        archived = {r["order_no"] for r in read_archives(archive) if r["table"] == "orders"}
        left = kept(db)
        assert left | archived == set(groups), f"seed {seed}: lost orders"
        assert not left & archived, f"seed {seed}: an order both kept and archived"
        assert {no for no, g in groups.items() if g != "old"} == left, f"seed {seed}"
