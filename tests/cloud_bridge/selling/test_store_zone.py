"""The store's time zone for a sale's business day, kiosk and cloud alike: a store whose
zone is not the bridge's books a sale made at 00:30 local time on its own day, in the
kiosk's journal (today's totals, the order number) and in the cloud's order row."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from cloud_bridge import orders
from cloud_bridge.models import Order
from contract.wire.base import decode
from contract.wire.events import ORDER_COMPLETED, Event, OrderCompletedData
from kiosk_agent.journal import Journal
from tests.kiosk_agent.sales import make_order

# 16:30 UTC on 4 December: already the 5th in Shanghai (the bridge), still the 4th in London.
SOLD_AT = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)


async def test_the_sale_counts_on_the_stores_day_not_the_bridges(db, tmp_path):
    order = make_order(order_no="").model_copy(update={"created_at": SOLD_AT,
                                                       "completed_at": SOLD_AT})
    async with Journal(tmp_path / "j.db", "LON1", "K1", timezone="Europe/London") as j:
        sale = await j.commit_sale(order)
        assert "-20261204-" in sale.order_no  # the store's day in its number
        (row,) = [r for r in await j.outbox_pending(100) if r.type == ORDER_COMPLETED]

        def day_of(conn):
            return conn.execute("SELECT business_day FROM orders").fetchone()[0]
        assert await j.read(day_of) == "20261204"
    ev = decode(Event, row.payload)
    data = OrderCompletedData.model_validate(ev.data)
    assert data.business_day == "20261204"
    async with db.session() as s:
        await orders.record_kiosk_sales(s, [orders.CompletedSale(ev, data)],
                                        tz="Asia/Shanghai", actor="test")
    async with db.session() as s:
        booked = (await s.scalars(select(Order.business_date))).one()
    assert booked == "2026-12-04"  # not the bridge's 2026-12-05
    # A sale from an older kiosk (no business_day) still falls back to the bridge's zone.
    old = json.loads(row.payload)
    old["data"].pop("business_day")
    legacy = OrderCompletedData.model_validate(old["data"])
    assert orders.kiosk_business_date(legacy) is None
    assert orders.business_date(legacy.completed_at, "Asia/Shanghai") == "2026-12-05"
