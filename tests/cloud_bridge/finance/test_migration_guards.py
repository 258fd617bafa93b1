"""`cloud-bridge migrate` builds the ledger's guards too (the schema check compares
tables, not triggers): on a migrated database an unbalanced entry and an edit of a
posted line are refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from cloud_bridge.db import Database
from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.ledger import credit, debit, post_entry
from tests.conftest import pg_reachable

from ..bridge_process import migrate, write_config
from ..conftest import PG_ADMIN_URL, _pg_exec


async def _check(url: str) -> None:
    async with Database(url) as db:
        async with db.session() as s:
            await post_entry(s, store="s1", source_type="sale", source_id="o1",
                             business_date="2026-11-03",
                             occurred_at=datetime(2026, 11, 3, tzinfo=UTC),
                             legs=[debit(A.CASH, 500), credit(A.revenue(None), 500)])
        with pytest.raises((IntegrityError, DBAPIError), match="cannot be changed"):
            async with db.session() as s:
                await s.execute(text("UPDATE finance_lines SET debit = 1 WHERE debit > 0"))
        with pytest.raises((IntegrityError, DBAPIError), match="does not balance"):
            async with db.session() as s:
                acct = await s.scalar(text("SELECT MIN(id) FROM finance_accounts"))
                await s.execute(text(
                    "INSERT INTO finance_lines (entry_id, line_no, account_id, debit, credit) "
                    f"VALUES (77, 1, {acct}, 5, 0), (77, 2, {acct}, 0, 4)"))
                await s.execute(text(
                    "INSERT INTO finance_entries (id, store, source_type, source_id, "
                    "business_date, occurred_at, amount, posted_by, posted_at) VALUES "
                    "(77, 's1', 'manual', 'm', '2026-11-03', '2026-11-03 00:00:00', 5, 'sql', "
                    "'2026-11-03 00:00:00')"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrated_database_refuses_unbalanced_and_edited_entries(tmp_path, backend):
    drop = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        if not pg_reachable(PG_ADMIN_URL):
            pytest.skip("PostgreSQL not reachable at " + PG_ADMIN_URL)
        name = f"cbfin_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rpartition("/")[0] + "/" + name
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    try:
        cfg = write_config(tmp_path / "bridge.toml", db_url=url, worker="m", mqtt_port=None)
        done = migrate(cfg)
        assert done.returncode == 0, done.stderr
        asyncio.run(_check(url))
    finally:
        if drop:
            asyncio.run(_pg_exec(PG_ADMIN_URL, drop))
