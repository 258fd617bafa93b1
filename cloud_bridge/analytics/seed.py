"""Write a generated :class:`~.generator.ChainYear` into the bridge's real tables.

Orders go to ``orders`` (tenders in ``details`` as the ingest writes them), lines to
``order_lines``, electronic tenders to ``payments`` and the products to
``analytics_products``: the analytics then reads them exactly as it reads kiosk sales.
Meant for tests and demos at small sizes (and the bench's SQLite copy of the year).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from cloud_bridge.db import Database, bulk_insert
from cloud_bridge.models import Order, OrderLine
from cloud_bridge.payments.models import Payment
from common.jsontypes import JsonObject

from .generator import ChainYear
from .models import AnalyticsProduct

BATCH = 20_000
ELECTRONIC = frozenset({"wechat", "alipay", "card"})


def _rows(frame: pl.DataFrame) -> list[JsonObject]:
    return frame.to_dicts()


async def write_chain(db: Database, year: ChainYear, *, with_payments: bool = True) -> None:
    """Insert the year's products, orders, lines and payments (one transaction per batch)."""
    products = year.products.select("product_id", "barcode", "name_zh", "category", "list_price")
    async with db.session() as s:
        await s.execute(*bulk_insert(s, AnalyticsProduct, _rows(products)))
    names = dict(zip(year.products["product_id"], year.products["name_zh"], strict=True))
    barcodes = dict(zip(year.products["product_id"], year.products["barcode"], strict=True))
    orders = year.orders.sort("order_idx")
    lines = year.lines.sort("order_idx", "line_no")
    for start in range(0, orders.height, BATCH):
        chunk = orders.slice(start, BATCH)
        first, last = chunk["order_idx"][0], chunk["order_idx"][-1]
        rows = []
        for o in chunk.iter_rows(named=True):
            at: datetime = o["created_at"]
            rows.append({
                "order_no": o["order_no"], "store": o["store"], "kiosk": "K1",
                "source": "kiosk", "fulfillment": "instore", "member_id": o["member_id"],
                "status": "completed", "currency": "CNY", "subtotal": o["subtotal"],
                "discount_total": o["discount_total"], "total": o["total"],
                "refunded_total": 0, "business_date": o["business_date"].isoformat(),
                "created_at": at, "updated_at": at, "paid_at": at, "completed_at": at,
                "details": {"tenders": [{"method": o["method"], "amount": o["total"],
                                         "currency": "CNY"}]},
            })
        async with db.session() as s:
            stmt, params = bulk_insert(s, Order, rows)
            ids = dict((await s.execute(stmt.returning(Order.order_no, Order.id),
                                        params)).tuples().all())
            by_idx = dict(zip(chunk["order_idx"], (ids[n] for n in chunk["order_no"]),
                              strict=True))
            part = lines.filter(pl.col("order_idx").is_between(first, last))
            line_rows = [{
                "order_id": by_idx[ln["order_idx"]], "line_no": ln["line_no"],
                "product_id": ln["product_id"], "barcode": barcodes[ln["product_id"]],
                "name_zh": names[ln["product_id"]], "name_en": None, "qty": ln["qty"],
                "weight_g": None, "unit_price": ln["unit_price"], "discount": ln["discount"],
                "amount": ln["amount"], "returned_qty": 0,
            } for ln in part.iter_rows(named=True)]
            if line_rows:
                await s.execute(*bulk_insert(s, OrderLine, line_rows))
            pays = [{
                "out_trade_no": "T" + r["order_no"], "order_no": r["order_no"],
                "store": r["store"], "kiosk": "K1",
                "method": r["details"]["tenders"][0]["method"], "amount": r["total"],
                "currency": "CNY", "status": "paid", "business_date": r["business_date"],
                "created_at": r["created_at"], "updated_at": r["created_at"],
                "settled_at": r["created_at"], "member_id": r["member_id"], "refunded": 0,
                "attempts": 1,
            } for r in rows if with_payments and r["details"]["tenders"][0]["method"] in ELECTRONIC
                and r["total"] > 0]
            if pays:
                await s.execute(*bulk_insert(s, Payment, pays))
