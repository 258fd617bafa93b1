"""Chain-wide numbers in the journal: new sales name store and kiosk; a journal written
before the switch keeps every number it already sent and continues its day sequence."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract.numbers import cloud_order_no, valid_out_trade_no
from kiosk_agent.config import AgentConfig
from kiosk_agent.journal import Journal
from kiosk_agent.journal.schema import MIGRATIONS, SCHEMA_VERSION, _statements
from kiosk_agent.orders import OrderError, out_trade_no

DAY = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
LEGACY_ORDER = json.dumps({
    "order_no": "kiosk1-20261205-0001", "created_at": "2026-12-05T02:00:00Z",
    "completed_at": "2026-12-05T02:00:00Z", "subtotal": 100, "discount_total": 0, "total": 100,
    "lines": [{"line_no": 1, "product_id": "p1", "name_zh": "水", "qty": 1, "unit_price": 100,
               "list_amount": 100, "discount": 0, "amount": 100, "vat_rate_bp": 1300}]})


def v2_journal(path: Path) -> None:
    """A journal as the previous release left it: one sale and one open attempt, legacy numbers."""
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for st in _statements(script):
            conn.execute(st)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO meta VALUES ('order_seq:20261205', '2')")
    conn.execute(
        "INSERT INTO orders(order_no, created_at, completed_at, committed_at, business_day,"
        " currency, subtotal, discount_total, total, offline, data)"
        " VALUES ('kiosk1-20261205-0001', 't', 't', 1, '20261205', 'CNY', 100, 0, 100, 0, ?)",
        (LEGACY_ORDER,))
    conn.execute(
        "INSERT INTO payment_attempts(out_trade_no, order_no, provider, amount, currency,"
        " status, created_at, updated_at) VALUES ('kiosk1-20261205-0002-1',"
        " 'kiosk1-20261205-0002', 'wechat', 500, 'CNY', 'unknown', 1, 1)")
    conn.close()


async def test_upgrade_keeps_sent_numbers_and_continues_the_sequence(tmp_path):
    path = tmp_path / "journal.db"
    v2_journal(path)
    async with Journal(path, "store1", "kiosk1") as j:
        orders = await j.orders(limit=10)
        assert [o.order_no for o in orders] == ["kiosk1-20261205-0001"]
        [open_attempt] = await j.payment_attempts(status="unknown")
        assert open_attempt.out_trade_no == "kiosk1-20261205-0002-1"  # what the provider has
        new = await j.reserve_order_no(DAY)
    assert new == "store1-kiosk1-20261205-0003"
    # The cloud keeps the old sales under the store-qualified number: never the new one's.
    assert cloud_order_no("store1", "kiosk1", "kiosk1-20261205-0001") != new
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT 1 FROM meta WHERE key = 'legacy_numbers_until'").fetchone()


def test_every_number_fits_wechat_or_is_refused():
    longest = out_trade_no("abcdef-ghijkl-20261205-99999", 99)
    assert len(longest) == 31 and valid_out_trade_no(longest)
    with pytest.raises(OrderError):
        out_trade_no("abcdef-ghijkl-20261205-0001", 100)


@pytest.mark.parametrize("store,kiosk,reason", [
    ("store-1", "k1", "no '-'"), ("s1", "kiosk-1", "no '-'"),
    ("flagship01", "kiosk1", "at most 12"), ("s1", "", "kiosk_id must"),
])
def test_config_refuses_ids_that_would_not_number_sales(store, kiosk, reason):
    with pytest.raises(ValueError) as info:
        AgentConfig.model_validate({"kiosk": {"store_id": store, "kiosk_id": kiosk}})
    assert reason in str(info.value)
