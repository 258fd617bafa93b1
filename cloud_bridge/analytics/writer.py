"""Bulk writes of result tables straight through the database driver.

The daily sales facts of a chain year are half a million rows; through SQLAlchemy's
``executemany`` they were most of the nightly job's time (``bench/analytics.py``). Here a
result table is replaced in one transaction with ``sqlite3.executemany`` (in a thread) or
PostgreSQL ``COPY`` (asyncpg ``copy_records_to_table``). Only derived tables are written
this way; the live record is never touched.
"""

from __future__ import annotations

import asyncio
import sqlite3

import polars as pl
from sqlalchemy import Table

from cloud_bridge.db import Database
from cloud_bridge.models import Base

BUSY_TIMEOUT_MS = 10_000


def _table(model: type[Base]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


def _columns(model: type[Base]) -> list[str]:
    return [c.name for c in _table(model).columns if c.name != "id" or not c.autoincrement]


Rows = list[tuple[object, ...]]


def _prepare(frame: pl.DataFrame, names: list[str], sqlite: bool) -> Rows:
    frame = frame.select(names)
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            casts.append(pl.col(name).cast(pl.Utf8))
        elif isinstance(dtype, pl.Datetime) and sqlite:
            # the text SQLAlchemy's SQLite DateTime stores (UTC, naive)
            casts.append(pl.col(name).dt.convert_time_zone("UTC").dt.strftime(
                "%Y-%m-%d %H:%M:%S.%6f"))
    return frame.with_columns(casts).rows() if casts else frame.rows()


def _sqlite_replace(path: str, table: str, names: list[str], rows: Rows) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f'DELETE FROM "{table}"')
            if not rows:
                conn.execute("COMMIT")
                return
            marks = ", ".join("?" for _ in names)
            cols = ", ".join(f'"{n}"' for n in names)
            conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


async def _postgres_replace(url: str, table: str, names: list[str], rows: Rows) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        async with conn.transaction():
            await conn.execute(f'DELETE FROM "{table}"')
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=names)
    finally:
        await conn.close()


def file_backed(db: Database) -> bool:
    """Whether the driver can be reached directly (a SQLite file, or PostgreSQL)."""
    if not db.is_sqlite:
        return True
    path = db.url.split("///", 1)[1] if "///" in db.url else ""
    return bool(path) and path != ":memory:" and not path.startswith("file:")


async def replace_table(db: Database, model: type[Base], frame: pl.DataFrame) -> int:
    """Replace every row of ``model``'s table with ``frame`` (one transaction)."""
    names = [n for n in _columns(model) if n in frame.columns]
    rows = _prepare(frame, names, db.is_sqlite)
    table = _table(model).name
    if db.is_sqlite:
        await asyncio.to_thread(_sqlite_replace, db.url.split("///", 1)[1], table, names, rows)
    else:
        await _postgres_replace(db.url, table, names, rows)
    return len(rows)

