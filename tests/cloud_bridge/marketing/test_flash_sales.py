"""Flash sales (秒杀) over HTTP on SQLite and PostgreSQL: limits, scoping, release of unpaid
orders, and no oversell with 1,000 buyers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cloud_bridge import auth, orders
from cloud_bridge.marketing import flash
from cloud_bridge.marketing.deal_models import FlashBuyer, FlashOrder, FlashSale
from cloud_bridge.models import Order

A = "/api/v1/admin/marketing/flash-sales"
M = "/api/v1/mp/flash-sales"


def sale_body(**over) -> dict:
    """Coke at 1.00 instead of 2.50, live from a minute ago for an hour (taken now)."""
    now = datetime.now(UTC)
    return {"store": "s1", "product_id": "coke-330", "name_zh": "可口可乐 330ml",
            "list_price": 250, "price": 100, "stock": 3, "per_user_limit": 2,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), **over}


async def create_sale(client, headers, **over) -> dict:
    r = await client.post(A, json=sale_body(**over), headers=headers)
    assert r.status == 201, await r.text()
    return await r.json()


async def buy(client, headers, sale_id: int, qty: int = 1, **body):
    return await client.post(f"{M}/{sale_id}/buy", json={"qty": qty, **body}, headers=headers)


async def cancel(db, order_no: str) -> None:
    """What the close job does to an order left unpaid past the timeout."""
    async def work(s):
        o = await orders.get_order(s, order_no, lock=True)
        await orders.change_status(s, o, orders.CANCELLED, "test", reason="payment timeout")

    await db.transact(work)


async def test_a_flash_sale_sells_its_stock_within_each_shoppers_limit(client, db, people):
    sale = await create_sale(client, people["clerk1"])
    assert sale["state"] == "live" and sale["sold"] == 0
    alice, bob = people["alice"], people["bob"]
    r = await client.get(M, params={"store": "s1"}, headers=alice)
    assert [x["id"] for x in (await r.json())["items"]] == [sale["id"]]
    r = await client.get(M, params={"store": "s2"}, headers=alice)
    assert (await r.json())["items"] == []

    r = await buy(client, alice, sale["id"], 2)
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["total"] == 200
    order = await (await client.get(f"/api/v1/mp/orders/{first['order_no']}",
                                    headers=alice)).json()
    assert order["status"] == "created" and order["store"] == "s1"
    r = await buy(client, alice, sale["id"], 1)
    assert r.status == 409 and "at most 2" in (await r.json())["detail"]  # her limit
    r = await buy(client, bob, sale["id"], 2)
    assert r.status == 409 and "sold out" in (await r.json())["detail"]  # one left
    r = await buy(client, bob, sale["id"], 1)
    assert r.status == 201
    r = await buy(client, bob, sale["id"], 1)
    assert r.status == 409
    r = await buy(client, alice, sale["id"], 1, store="s2")
    assert r.status == 409  # a store's sale is picked up there

    # Alice never pays: the close job cancels her order; its units go back, once.
    await cancel(db, first["order_no"])
    assert await flash.release_cancelled(db) == 1
    assert await flash.release_cancelled(db) == 0
    got = await (await client.get(f"{A}/{sale['id']}", headers=people["boss"])).json()
    assert got["sold"] == 1
    r = await buy(client, alice, sale["id"], 2)  # her limit counts paid and unpaid only
    assert r.status == 201, await r.text()


async def test_flash_sales_that_are_not_live_refuse_buyers(client, people):
    boss, alice = people["boss"], people["alice"]
    soon = datetime.now(UTC) + timedelta(hours=1)
    later = await create_sale(client, boss, starts_at=soon.isoformat(),
                              ends_at=(soon + timedelta(hours=1)).isoformat())
    assert later["state"] == "scheduled"
    r = await buy(client, alice, later["id"])
    assert r.status == 409 and "scheduled" in (await r.json())["detail"]
    live = await create_sale(client, boss)
    r = await client.post(f"{A}/{live['id']}/end", headers=boss)
    assert r.status == 200 and (await r.json())["state"] == "ended"
    assert (await client.post(f"{A}/{live['id']}/end", headers=boss)).status == 409
    r = await buy(client, alice, live["id"])
    assert r.status == 409 and "ended" in (await r.json())["detail"]
    assert (await buy(client, alice, 10**9)).status == 404
    chain = await create_sale(client, boss, store=None)
    r = await buy(client, alice, chain["id"])
    assert r.status == 400  # which store to pick it up at?
    r = await buy(client, alice, chain["id"], store="s2")
    assert r.status == 201, await r.text()
    for bad in ({"price": 300}, {"per_user_limit": 5},
                {"ends_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat()}):
        r = await client.post(A, json=sale_body(**bad), headers=boss)
        assert r.status == 400, (bad, await r.text())


async def test_store_staff_see_and_run_their_stores_flash_sales(client, people):
    clerk1, clerk2 = people["clerk1"], people["clerk2"]
    assert (await client.post(A, json=sale_body(store=None), headers=clerk1)).status == 403
    assert (await client.post(A, json=sale_body(store="s2"), headers=clerk1)).status == 403
    mine = await create_sale(client, clerk1)
    r = await client.get(A, headers=clerk2)
    assert (await r.json())["total"] == 0
    assert (await client.get(f"{A}/{mine['id']}", headers=clerk2)).status == 404
    assert (await client.post(f"{A}/{mine['id']}/end", headers=clerk2)).status == 404


BUYERS = 1000
STOCK = 100


async def test_a_thousand_buyers_at_once_never_oversell(client, db, people):
    """1,000 purchase requests at once (900 shoppers, 100 of them twice at the same moment)
    for 100 units with a limit of one each: exactly 100 units sold, one per shopper."""
    sale = await create_sale(client, people["boss"], stock=STOCK, per_user_limit=1)
    async with db.session() as s:
        tokens = [(await auth.mp_login(s, f"o-flash-{i:04d}", 3600))[0] for i in range(900)]
    heads = [{"Authorization": f"Bearer {t}"} for t in tokens]
    crowd = heads + heads[:BUYERS - len(heads)]
    results = await asyncio.gather(*(buy(client, h, sale["id"]) for h in crowd))
    statuses = [r.status for r in results]
    assert statuses.count(201) == STOCK, {s: statuses.count(s) for s in set(statuses)}
    assert set(statuses) == {201, 409}
    async with db.read() as s:
        sold = await s.scalar(select(FlashSale.sold).where(FlashSale.id == sale["id"]))
        flash_orders = await s.scalar(select(func.count()).select_from(FlashOrder))
        placed = await s.scalar(select(func.count()).select_from(Order).where(
            Order.openid.like("o-flash-%")))
        most = await s.scalar(select(func.max(FlashBuyer.qty)))
        holders = await s.scalar(select(func.count()).select_from(FlashBuyer).where(
            FlashBuyer.qty > 0))
    assert (sold, flash_orders, placed, most, holders) == (STOCK, STOCK, STOCK, 1, STOCK)
