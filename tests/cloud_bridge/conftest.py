"""Fixtures of the cloud bridge tests: a database on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from cloud_bridge.db import Database
from cloud_bridge.migrations import import_models
from cloud_bridge.models import Base
from tests.conftest import PG_DEFAULT_URL, pg_reachable

import_models()  # every table on Base (payments too) exists in the test databases

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", PG_DEFAULT_URL)


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
    """A fresh PostgreSQL database with the bridge schema for this test session, or None."""
    if not pg_reachable(PG_ADMIN_URL):
        yield None
        return
    name = f"cbtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
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


async def truncate_all(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    await _pg_exec(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path, pg_session_url) -> str:
    """A database URL with an empty bridge schema: SQLite always, PostgreSQL when reachable."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"

        async def create() -> None:
            db = Database(url)
            await db.create_all()
            await db.close()

        asyncio.run(create())
        return url
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
