"""Read the live record (SQLite or PostgreSQL) into the polars frames the metrics take.

The canonical frames (column names are the metrics' contract):

* ``orders``: order_id, store, business_date (Date), hour (store-local), member_id,
  source, total, discount_total, refunded_total, net (total - refunded)
* ``lines``: order_id, store, business_date, member_id, product_id, category, qty,
  amount (net of returned units), discount, promo (a discounted line)
* ``tenders``: order_id, store, business_date, method, amount

Sales are orders past payment: ``created`` (unpaid) and ``cancelled`` orders are left out.
Reads go through the database driver (:mod:`.reader`: ``sqlite3`` read-only, PostgreSQL
``COPY``) straight into polars. DuckDB's SQLite/PostgreSQL scanners are extensions it
downloads at run time, which a server without internet cannot; ``bench/analytics.py``
measures the read and both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from polars.datatypes import DataType, DataTypeClass
from sqlalchemy import select

from cloud_bridge.db import Database
from cloud_bridge.models import Order, OrderLine
from common.jsontypes import JsonMapping

from .generator import ChainYear
from .models import AnalyticsProduct
from .reader import read_sales

NOT_SALES = ("created", "cancelled")
UNCATEGORISED = "未分类"

ORDER_SCHEMA: dict[str, DataTypeClass | DataType] = {"order_id": pl.Int64, "store": pl.Utf8, "business_date": pl.Utf8,
                "created_at": pl.Datetime("us", "UTC"), "member_id": pl.Utf8,
                "source": pl.Utf8, "total": pl.Int64, "discount_total": pl.Int64,
                "refunded_total": pl.Int64, "details": pl.Object}
LINE_SCHEMA = {"order_id": pl.Int64, "product_id": pl.Utf8, "qty": pl.Int64,
               "returned_qty": pl.Int64, "amount": pl.Int64, "discount": pl.Int64}


@dataclass
class Frames:
    """The record as the metrics see it (see the module docstring for the columns)."""

    orders: pl.DataFrame
    lines: pl.DataFrame
    tenders: pl.DataFrame
    products: pl.DataFrame


def _tenders(order_ids: list[int], details: Sequence[JsonMapping | None],
             totals: list[int]) -> pl.DataFrame:
    """Tenders from ``orders.details`` (what the kiosk reported); no tender -> ``unknown``."""
    ids: list[int] = []
    methods: list[str] = []
    amounts: list[int] = []
    for oid, d, total in zip(order_ids, details, totals, strict=True):
        tenders = (d or {}).get("tenders") or [{"method": "unknown", "amount": total}]
        if not isinstance(tenders, list):
            raise TypeError(f"order {oid}: tenders {tenders!r} is not a list")
        for t in tenders:
            amount = t.get("amount", 0) if isinstance(t, dict) else None
            if not isinstance(t, dict) or not isinstance(amount, int | float | str):
                raise TypeError(f"order {oid}: tender {t!r} has no amount")
            ids.append(oid)
            methods.append(str(t.get("method", "unknown")))
            amounts.append(int(amount))
    return pl.DataFrame({"order_id": ids, "method": methods, "amount": amounts},
                        schema={"order_id": pl.Int64, "method": pl.Utf8, "amount": pl.Int64})


def build_frames(orders: pl.DataFrame, lines: pl.DataFrame, tenders: pl.DataFrame,
                 products: pl.DataFrame, tz: str = "Asia/Shanghai") -> Frames:
    """Canonical frames from raw order/line/tender/product frames (any source)."""
    orders = orders.with_columns(
        pl.col("business_date").cast(pl.Utf8).str.to_date(),
        pl.col("created_at").dt.convert_time_zone(tz).dt.hour().cast(pl.Int32).alias("hour"),
        (pl.col("total") - pl.col("refunded_total")).alias("net"),
    ).drop("created_at", "details", strict=False)
    cats = products.select("product_id", "category")
    keys = orders.select("order_id", "store", "business_date", "member_id")
    lines = (lines.join(keys, on="order_id", how="inner")
             .join(cats, on="product_id", how="left")
             .with_columns(
                 pl.col("category").fill_null(UNCATEGORISED),
                 # a returned unit takes its share of the line's amount back
                 (pl.col("amount") - (pl.col("amount") * pl.col("returned_qty")
                                      // pl.col("qty").clip(1))).alias("amount"),
                 (pl.col("qty") - pl.col("returned_qty")).alias("qty"),
                 (pl.col("discount") > 0).alias("promo"))
             .drop("returned_qty"))
    tenders = tenders.join(orders.select("order_id", "store", "business_date"), on="order_id")
    return Frames(orders, lines, tenders, products)


async def load_frames(db: Database, *, since: date | None = None,
                      tz: str = "Asia/Shanghai") -> Frames:
    """The sales record from ``since`` (business date, inclusive; all when ``None``)."""
    async with db.session() as s:
        prows = (await s.execute(select(AnalyticsProduct.product_id, AnalyticsProduct.barcode,
                                        AnalyticsProduct.category,
                                        AnalyticsProduct.list_price))).all()
    products = pl.DataFrame(prows, schema={"product_id": pl.Utf8, "barcode": pl.Utf8,
                                           "category": pl.Utf8, "list_price": pl.Int64},
                            orient="row")
    if db.is_sqlite and not _file_backed(db.url):
        return await _load_via_orm(db, since, products, tz)
    orders, lines, tenders = await read_sales(db, since.isoformat() if since else None)
    orders = orders.with_columns(
        pl.from_epoch("created_s", time_unit="s").dt.replace_time_zone("UTC")
        .alias("created_at")).drop("created_s")
    return build_frames(orders, lines, tenders, products, tz)


def _file_backed(url: str) -> bool:
    path = url.split("///", 1)[1] if "///" in url else ""
    return bool(path) and path != ":memory:" and not path.startswith("file:")


async def _load_via_orm(db: Database, since: date | None, products: pl.DataFrame,
                        tz: str) -> Frames:
    """The same frames through SQLAlchemy (an in-memory SQLite has no file to open)."""
    oq = select(Order.id, Order.store, Order.business_date, Order.created_at, Order.member_id,
                Order.source, Order.total, Order.discount_total, Order.refunded_total,
                Order.details).where(Order.status.not_in(NOT_SALES))
    lq = (select(OrderLine.order_id, OrderLine.product_id, OrderLine.qty,
                 OrderLine.returned_qty, OrderLine.amount, OrderLine.discount)
          .join(Order, Order.id == OrderLine.order_id).where(Order.status.not_in(NOT_SALES)))
    if since is not None:
        oq = oq.where(Order.business_date >= since.isoformat())
        lq = lq.where(Order.business_date >= since.isoformat())
    async with db.session() as s:
        orows = (await s.execute(oq)).all()
        lrows = (await s.execute(lq)).all()
    cols: list[Sequence[object]] = (list(zip(*orows, strict=True)) if orows
                                 else [[] for _ in ORDER_SCHEMA])
    orders = pl.DataFrame({n: list(c) for n, c in zip(ORDER_SCHEMA, cols, strict=True)
                           if n != "details"},
                          schema={k: v for k, v in ORDER_SCHEMA.items() if k != "details"})
    tenders = _tenders([r.id for r in orows], [r.details for r in orows],
                       [r.total for r in orows])
    lines = pl.DataFrame(lrows, schema=LINE_SCHEMA, orient="row")
    return build_frames(orders, lines, tenders, products, tz)


def frames_from_year(year: ChainYear, tz: str = "Asia/Shanghai") -> Frames:
    """Canonical frames straight from a generated year (the benches' in-memory path)."""
    orders = year.orders.select(
        pl.col("order_idx").alias("order_id"), "store",
        pl.col("business_date").cast(pl.Utf8), "created_at", "member_id",
        pl.lit("kiosk").alias("source"), "total", "discount_total",
        pl.lit(0, pl.Int64).alias("refunded_total"))
    lines = year.lines.select(pl.col("order_idx").alias("order_id"), "product_id", "qty",
                              pl.lit(0, pl.Int64).alias("returned_qty"), "amount", "discount")
    tenders = year.orders.select(pl.col("order_idx").alias("order_id"), "method",
                                 pl.col("total").alias("amount"))
    products = year.products.select("product_id", "barcode", "category", "list_price")
    return build_frames(orders, lines, tenders, products, tz)


def day_range(end: date, days: int) -> tuple[date, date]:
    """The ``days`` business days ending at ``end`` (inclusive)."""
    return end - timedelta(days=days - 1), end
