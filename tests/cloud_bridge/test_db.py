"""The bridge's embedded SQLite database is durable like the kiosk's journal."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from cloud_bridge.db import Database


async def test_sqlite_commits_survive_power_loss(tmp_path: Path):
    """WAL with synchronous=FULL: a payment attempt is on disk before the provider call."""
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}") as db:
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    assert mode == "wal"
    assert sync == 2  # FULL
