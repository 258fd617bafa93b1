"""Data the console tests look at: kiosk orders, kiosks, stock and alerts, a price book,
payments. Orders go through the real ingest; the rest as the bridge's own services write it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cloud_bridge import auth, catalog, fleet, inventory
from cloud_bridge.ingest import store_events
from cloud_bridge.payments.models import Payment
from contract.wire.presence import KioskStatus, Telemetry

from ..bridge_helpers import order_event

BOOK = {"version": "v1", "currency": "CNY", "products": [
    {"product_id": "p-milk", "barcodes": ["6921168509256"], "name_zh": "牛奶", "name_en": "Milk",
     "unit_price": 450, "vat_rate_bp": 1300, "category": "dairy"}]}
DAY = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


async def seed(db, *, users: bool = True) -> None:
    """Stores s1 (3 orders, 2 kiosks) and s2 (1 order, 1 kiosk); users of every role."""
    items = [("s1", "k1", order_event("s1", "k1", i, order_no=f"S1-{i}",
                                      at=DAY + timedelta(hours=i)).encode()) for i in range(3)]
    await store_events(db, items, worker="t", tz="Asia/Shanghai")
    await store_events(db, [("s2", "k1", order_event("s2", "k1", 0, order_no="S2-0",
                                                     at=DAY).encode())],
                       worker="t", tz="Asia/Shanghai")
    now = datetime.now(UTC)
    async with db.session() as s:
        for store, kiosk, state in (("s1", "k1", "online"), ("s1", "k2", "offline"),
                                    ("s2", "k1", "online")):
            await fleet.apply_status(s, store, kiosk, KioskStatus(
                state=state, ts=now - timedelta(minutes=5), version="1.4.2"))
        await fleet.apply_telemetry(s, "s1", "k1", Telemetry(
            ts=now, queue_depth=3, oldest_unsent_s=42.0, dead_letters=0, printer="ok",
            paper="ok", camera="ok", offline_health="ok"))
        await inventory.set_on_hand(s, "s1", "p-eggs", 7)
        for i, (store, method, amount) in enumerate(
                (("s1", "wechat", 1700), ("s1", "alipay", 1200), ("s2", "wechat", 1700))):
            s.add(Payment(out_trade_no=f"T{i}", order_no=f"S1-{i}" if store == "s1" else "S2-0",
                          store=store, kiosk="k1", method=method, amount=amount, currency="CNY",
                          status="paid", refunded=0, attempts=1, business_date="2026-03-01",
                          created_at=DAY, updated_at=DAY))
        if users:
            for name, role, store in (("boss", auth.HEAD_OFFICE, None),
                                      ("clerk", auth.STORE_STAFF, "s1"),
                                      ("clerk2", auth.STORE_STAFF, "s2"),
                                      ("fin", auth.FINANCE, None), ("buyer", auth.BUYER, None)):
                await auth.create_admin_user(s, name, f"secret-{name}", role, store)
    async with db.session() as s:
        book = catalog.parse_upload(json.dumps(BOOK).encode())
        await catalog.publish_book(s, "s1", book, "admin:boss")


async def seed_today(db, count: int = 60, seed_value: int = 7) -> None:
    """``count`` kiosk sales spread over today's shop hours with mixed payment methods
    (so the dashboard a person looks at in the screenshots has something to show)."""
    import random

    from contract.wire.events import ORDER_COMPLETED, Event, uuid7

    from ..bridge_helpers import order_data

    rng = random.Random(seed_value)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    items = []
    for i in range(count):
        store = rng.choice(("s1", "s1", "s2"))
        at = today + timedelta(hours=rng.choice(range(0, 14)), minutes=rng.randrange(60))
        data = order_data(f"{store.upper()}-T{i:03d}", [("p-milk", rng.randint(1, 4), 450),
                                                       ("p-bread", 1, 800)], at)
        data["tenders"][0]["method"] = rng.choice(("wechat", "wechat", "alipay", "card"))
        event = Event(event_id=uuid7(), type=ORDER_COMPLETED, store=store, kiosk="k1",
                      seq=100 + i, data=data)
        items.append((store, "k1", event.encode()))
    await store_events(db, items, worker="t", tz="Asia/Shanghai")
