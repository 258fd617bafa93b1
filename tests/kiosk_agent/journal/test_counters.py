"""The journal's counters (order numbers, outbox seqs): the value it remembers is only a
hint, so a rolled-back transaction or a write behind its back never repeats or skips one."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk_agent.journal import Journal

# A fixed moment: the test never straddles the shop's midnight.
WHEN = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


async def test_a_rolled_back_bump_is_not_counted(tmp_path: Path):
    async with Journal(tmp_path / "j.db", "store1", "kiosk1") as j:
        first = await j.reserve_order_no(WHEN)

        def bump_then_fail(conn: sqlite3.Connection) -> None:
            j._bump(conn, f"order_seq:{j.business_day(WHEN)}")
            raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await j.write(bump_then_fail)
        second = await j.reserve_order_no(WHEN)
    assert first == "store1-kiosk1-20261206-0001"
    assert second == "store1-kiosk1-20261206-0002"


async def test_a_counter_written_by_someone_else_goes_on_from_its_value(tmp_path: Path):
    path = tmp_path / "j.db"
    async with Journal(path, "store1", "kiosk1") as j:
        assert await j.write(lambda c: j._bump(c, "test_seq", 2)) == 2
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("UPDATE meta SET value = '40' WHERE key = 'test_seq'")
        finally:
            other.close()
        assert await j.write(lambda c: j._bump(c, "test_seq", 2)) == 42
        assert await j.write(lambda c: j._bump(c, "test_seq")) == 43
        assert await j.read(
            lambda c: c.execute("SELECT value FROM meta WHERE key = 'test_seq'").fetchone()
        ) == ("43",)
