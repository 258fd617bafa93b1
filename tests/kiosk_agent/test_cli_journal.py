"""``kiosk-agent journal check|export`` through the CLI, on good and damaged files."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk_agent import cli_journal
from kiosk_agent.cli import build_parser
from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import make_order

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*argv: str) -> int:
    parser = build_parser(("kiosk_agent.cli_journal",))
    args = parser.parse_args(list(argv))
    return args.func(args)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def filled_db(tmp_path: Path) -> Path:
    """A closed journal holding 30 sales (several pages), an attempt and a dead letter."""
    path = tmp_path / "journal.db"
    async with Journal(path, "store1", "kiosk1") as j:
        for i in range(30):
            await j.commit_sale(make_order(n_lines=4, out_trade_no=f"otn-{i}"))
        await j.begin_payment_attempt("kiosk1-x-0099", "otn-pending", "alipay", 100, "CNY")
        ids = await j.append_events([("device.fault", {"device": "camera"})])
        await j.outbox_reject(ids[0], "unknown device")
    return path


def test_check_ok(filled_db: Path, capsys):
    before = digest(filled_db)
    assert run_cli("journal", "check", "--db", str(filled_db)) == 0
    out = capsys.readouterr().out
    assert "ok: schema v4, 30 orders" in out and "dead letters 1" in out
    assert digest(filled_db) == before


def test_export_json_lines(filled_db: Path, capsys):
    assert run_cli("journal", "export", "--db", str(filled_db)) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = {r["record"] for r in records}
    assert {"order", "payment_attempt", "outbox", "dead_letter", "print_job"} <= kinds
    orders = [r for r in records if r["record"] == "order"]
    assert len(orders) == 30 and len(orders[0]["order"]["lines"]) == 4
    assert orders[0]["order"]["lines"][0]["name_zh"] == "商品1"
    attempts = [r for r in records if r["record"] == "payment_attempt"]
    assert {a["status"] for a in attempts} == {"paid", "pending"}
    assert all("auth_code" not in json.dumps(r) for r in records)


def _damaged(tmp_path: Path, filled_db: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("garbage.db", lambda b: os.urandom(8192), "not an SQLite database"),
        ("text.db", lambda b: b"hello, I am not a journal\n" * 200, "not an SQLite database"),
        ("empty.db", lambda b: b"", "empty file"),
        ("tiny.db", lambda b: b[:50], "truncated"),
        ("torn.db", lambda b: b[: len(b) // 2 + 100], "torn"),
        ("halved.db", lambda b: b[: (len(b) // 2) // 4096 * 4096], "truncated"),
        ("zeroed.db", lambda b: b[:8192] + b"\0" * (len(b) - 8192), "malformed"),
    ],
)
def test_check_reports_damage_and_keeps_the_file(
    tmp_path: Path, filled_db: Path, capsys, name, make, reason
):
    path = _damaged(tmp_path, filled_db, name, make(filled_db.read_bytes()))
    before = digest(path)
    assert run_cli("journal", "check", "--db", str(path)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert reason in err, err
    assert path.exists() and digest(path) == before
    assert run_cli("journal", "export", "--db", str(path)) == 1
    assert digest(path) == before


def test_check_missing_file_is_not_created(tmp_path: Path, capsys):
    path = tmp_path / "absent.db"
    assert run_cli("journal", "check", "--db", str(path)) == 1
    assert "no such file" in capsys.readouterr().err
    assert not path.exists()


def test_check_plain_sqlite_file_is_not_a_journal(tmp_path: Path, capsys):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    assert run_cli("journal", "check", "--db", str(path)) == 1
    assert "not a journal" in capsys.readouterr().err


def test_check_through_a_subprocess(tmp_path: Path, filled_db: Path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00\xff" * 3000)
    code = (
        "import sys; from kiosk_agent.cli import build_parser; "
        "a = build_parser(('kiosk_agent.cli_journal',)).parse_args(sys.argv[1:]); "
        "sys.exit(a.func(a))"
    )
    ok = subprocess.run(
        [sys.executable, "-c", code, "journal", "check", "--db", str(filled_db)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("journal check: ")
    bad = subprocess.run(
        [sys.executable, "-c", code, "journal", "check", "--db", str(garbage)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "not an SQLite database" in bad.stderr
    assert garbage.read_bytes() == b"\x00\xff" * 3000


def test_header_check_accepts_a_live_wal_journal(filled_db: Path):
    assert cli_journal._header_problem(filled_db) is None
