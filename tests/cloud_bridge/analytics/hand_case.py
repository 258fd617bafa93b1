"""A small record whose every metric is computed by hand in the tests (see test_metrics)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from cloud_bridge.analytics.frames import Frames, build_frames

# (order_id, store, business date, local hour, member, total, discount, [(method, amount)])
ORDERS = [
    (1, "S1", "2026-03-02", 10, "A", 1000, 100, [("wechat", 1000)]),
    (2, "S1", "2026-03-03", 10, "A", 500, 0, [("alipay", 500)]),
    (3, "S2", "2026-03-03", 18, "B", 2000, 0, [("wechat", 1500), ("stored_value", 500)]),
    (4, "S2", "2026-03-10", 18, None, 300, 0, [("cash", 300)]),
    (5, "S1", "2026-03-11", 9, "B", 700, 0, [("wechat", 700)]),
    (6, "S1", "2026-02-24", 10, "C", 400, 0, [("wechat", 400)]),
]
# (order_id, product, qty, amount, discount)
LINES = [
    (1, "P1", 2, 600, 100), (1, "P2", 1, 400, 0), (2, "P1", 1, 500, 0), (3, "P3", 4, 2000, 0),
    (4, "P2", 1, 300, 0), (5, "P1", 1, 300, 0), (5, "P2", 1, 400, 0), (6, "P1", 1, 400, 0),
]
PRODUCTS = [("P1", "6900000000017", "饮料", 300), ("P2", "6900000000024", "零食", 400),
            ("P3", "6900000000031", "零食", 500)]


def hand_frames() -> Frames:
    """The record above as canonical frames (hours in Asia/Shanghai)."""
    orders = pl.DataFrame({
        "order_id": [o[0] for o in ORDERS], "store": [o[1] for o in ORDERS],
        "business_date": [o[2] for o in ORDERS],
        "created_at": [datetime.fromisoformat(o[2]).replace(hour=o[3] - 8 if o[3] >= 8 else 0,
                                                            tzinfo=UTC) for o in ORDERS],
        "member_id": [o[4] for o in ORDERS], "source": ["kiosk"] * len(ORDERS),
        "total": [o[5] for o in ORDERS], "discount_total": [o[6] for o in ORDERS],
        "refunded_total": [0] * len(ORDERS)})
    tenders = pl.DataFrame([(o[0], m, a) for o in ORDERS for m, a in o[7]],
                           schema={"order_id": pl.Int64, "method": pl.Utf8, "amount": pl.Int64},
                           orient="row")
    lines = pl.DataFrame([(o, p, q, 0, a, d) for o, p, q, a, d in LINES],
                         schema={"order_id": pl.Int64, "product_id": pl.Utf8, "qty": pl.Int64,
                                 "returned_qty": pl.Int64, "amount": pl.Int64,
                                 "discount": pl.Int64}, orient="row")
    products = pl.DataFrame(PRODUCTS, schema={"product_id": pl.Utf8, "barcode": pl.Utf8,
                                              "category": pl.Utf8, "list_price": pl.Int64},
                            orient="row")
    return build_frames(orders, lines, tenders, products)
