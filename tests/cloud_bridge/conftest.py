"""Fixtures of the cloud bridge tests: a database on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from cloud_bridge import auth
from cloud_bridge.db import Database
from cloud_bridge.migrations import import_models
from cloud_bridge.models import Base
from cloud_bridge.mp_pay import stored_value
from tests.conftest import PG_DEFAULT_URL, pg_reachable

import_models()  # every table on Base (payments too) exists in the test databases

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", PG_DEFAULT_URL)

# The production argon2 cost (64 MiB, 3 passes, 4 lanes) takes 0.4-2 s per hash or
# verify on this 2-core machine, and an API test creates and logs in 3-5 users: that was
# most of a cloud test's time. Tests of routes get the same algorithm at a tiny cost;
# tests of the hashing itself are marked ``real_argon2`` and keep the production one.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_argon2: keep the production argon2 cost (tests of hashing itself)")


@pytest.fixture(autouse=True)
def _argon2_cost(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A cheap argon2 for admin secrets and stored-value passwords, unless marked."""
    if request.node.get_closest_marker("real_argon2") is None:
        monkeypatch.setattr(auth, "_HASHER", CHEAP_HASHER)
        monkeypatch.setattr(stored_value, "_HASHER", CHEAP_HASHER)
    auth._dummy_hash.cache_clear()  # made again with this test's hasher
    yield
    auth._dummy_hash.cache_clear()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg_exec(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_session_url():
    """A fresh PostgreSQL database with the bridge schema for this test session, or None.

    One per process (the name carries the pid), so parallel workers never share one. Its
    commits do not wait for the WAL flush (``synchronous_commit = off``): a test database
    need not survive a server crash, and every test commits many times.
    """
    if not pg_reachable(PG_ADMIN_URL):
        yield None
        return
    name = f"cbtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    asyncio.run(_pg_exec(PG_ADMIN_URL, f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"

    async def create() -> None:
        db = Database(url)
        await db.create_all()
        await db.close()

    asyncio.run(create())
    try:
        yield url
    finally:
        asyncio.run(_pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Emptying the schema between tests. TRUNCATE of all tables takes 0.3-2 s on this
# machine (it swaps in new files for every table, index and sequence); DELETE from each
# table costs a few milliseconds when the tables are small, as they are after one test.
# The replica role skips triggers and foreign-key checks for this transaction only, so
# the ledger's refuse-to-delete guards and the order of the tables do not matter; the
# sequences a test used start again at their first value, as RESTART IDENTITY did.
_RESET_SEQUENCES = (
    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


async def truncate_all(url: str) -> None:
    """Empty every bridge table of the database at ``url`` and restart its sequences."""
    import asyncpg

    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    conn = await asyncpg.connect(_dsn(url))
    try:
        async with conn.transaction():
            try:
                await conn.execute("SET LOCAL session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                # Not a superuser: the slow TRUNCATE, which needs no role.
                await conn.execute(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
                return
            await conn.execute("; ".join(f'DELETE FROM "{t}"' for t in tables))
            await conn.execute(_RESET_SEQUENCES)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the bridge schema, built once per session (copied per test)."""
    path = tmp_path_factory.mktemp("bridge-template") / "bridge.db"

    async def create() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.create_all()
        await db.close()

    asyncio.run(create())
    # Everything in the one file (no -wal beside it), so a copy is the whole database.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path, pg_session_url, sqlite_template: Path) -> str:
    """A database URL with an empty bridge schema: SQLite always, PostgreSQL when reachable."""
    if request.param == "sqlite":
        target = tmp_path / "bridge.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    if pg_session_url is None:
        pytest.skip("PostgreSQL not reachable at " + PG_ADMIN_URL)
    asyncio.run(truncate_all(pg_session_url))
    return pg_session_url


@pytest.fixture
async def db(db_url: str):
    """An open :class:`cloud_bridge.db.Database` on ``db_url``."""
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.close()
