"""Bulk reads of the live record straight through the database driver.

The nightly job reads every sale of the year: a million order lines. Through the ORM that
is a million row objects (most of the job's time, measured in ``bench/analytics.py``);
here SQLite is read with the standard ``sqlite3`` module in a thread (read-only, WAL lets
the bridge keep writing) and PostgreSQL with ``COPY ... TO STDOUT`` as CSV into polars.
Tenders are unnested from ``orders.details`` by the database (``json_each`` /
``json_array_elements``), times come as epoch seconds: no per-row Python on either side.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3

import polars as pl

from cloud_bridge.db import Database

SALE = "o.status NOT IN ('created', 'cancelled')"

ORDERS = {
    "sqlite": f"""SELECT o.id AS order_id, o.store, o.business_date,
        CAST(strftime('%s', o.created_at) AS INTEGER) AS created_s, o.member_id, o.source,
        o.total, o.discount_total, o.refunded_total FROM orders o WHERE {SALE}""",
    "postgresql": f"""SELECT o.id AS order_id, o.store, o.business_date,
        CAST(EXTRACT(EPOCH FROM o.created_at) AS BIGINT) AS created_s, o.member_id, o.source,
        o.total, o.discount_total, o.refunded_total FROM orders o WHERE {SALE}""",
}
LINES = f"""SELECT l.order_id, l.product_id, l.qty, l.returned_qty, l.amount, l.discount
    FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE {SALE}"""
TENDERS = {
    "sqlite": f"""SELECT o.id AS order_id,
        COALESCE(json_extract(t.value, '$.method'), 'unknown') AS method,
        COALESCE(json_extract(t.value, '$.amount'), o.total) AS amount
        FROM orders o LEFT JOIN json_each(o.details, '$.tenders') t WHERE {SALE}""",
    "postgresql": f"""SELECT o.id AS order_id, COALESCE(t->>'method', 'unknown') AS method,
        COALESCE(CAST(t->>'amount' AS BIGINT), o.total) AS amount
        FROM orders o LEFT JOIN LATERAL json_array_elements(
            CASE WHEN json_typeof(o.details->'tenders') = 'array'
                 THEN o.details->'tenders' ELSE '[]'::json END) t ON true WHERE {SALE}""",
}

ORDER_SCHEMA = {"order_id": pl.Int64, "store": pl.Utf8, "business_date": pl.Utf8,
                "created_s": pl.Int64, "member_id": pl.Utf8, "source": pl.Utf8,
                "total": pl.Int64, "discount_total": pl.Int64, "refunded_total": pl.Int64}
LINE_SCHEMA = {"order_id": pl.Int64, "product_id": pl.Utf8, "qty": pl.Int64,
               "returned_qty": pl.Int64, "amount": pl.Int64, "discount": pl.Int64}
TENDER_SCHEMA = {"order_id": pl.Int64, "method": pl.Utf8, "amount": pl.Int64}


def _since(sql: str, since: str | None) -> tuple[str, tuple[str, ...]]:
    if since is None:
        return sql, ()
    return sql + " AND o.business_date >= ?", (since,)


def _sqlite_path(url: str) -> str:
    return url.split("///", 1)[1]


def _read_sqlite(path: str, queries: list[tuple[str, tuple[str, ...]]]
                 ) -> list[list[tuple[object, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [conn.execute(sql, params).fetchall() for sql, params in queries]
    finally:
        conn.close()


async def _read_postgres(url: str, queries: list[tuple[str, tuple[str, ...]]]) -> list[bytes]:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    out = []
    try:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            for sql, params in queries:
                buf = io.BytesIO()
                # COPY takes no bind parameters; the only one is a validated ISO date.
                text = sql.replace("?", f"'{params[0]}'") if params else sql
                await conn.copy_from_query(text, output=buf, format="csv", header=True)
                out.append(buf.getvalue())
    finally:
        await conn.close()
    return out


async def read_sales(db: Database, since: str | None = None
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(orders, lines, tenders)`` of every sale from business date ``since``."""
    dialect = "postgresql" if db.dialect == "postgresql" else "sqlite"
    if since is not None and not (len(since) == 10 and since[4] == "-" and since[7] == "-"
                                  and since.replace("-", "").isdigit()):
        raise ValueError(f"since {since!r} is not an ISO date")
    queries = [_since(ORDERS[dialect], since), _since(LINES, since),
               _since(TENDERS[dialect], since)]
    schemas = [ORDER_SCHEMA, LINE_SCHEMA, TENDER_SCHEMA]
    if dialect == "sqlite":
        results = await asyncio.to_thread(_read_sqlite, _sqlite_path(db.url), queries)
        frames = [pl.DataFrame(rows, schema=schema, orient="row")
                  for rows, schema in zip(results, schemas, strict=True)]
    else:
        blobs = await _read_postgres(db.url, queries)
        frames = [pl.read_csv(io.BytesIO(b), schema=schema)
                  for b, schema in zip(blobs, schemas, strict=True)]
    orders, lines, tenders = frames
    return orders, lines, tenders
