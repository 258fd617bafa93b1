"""Points exchange: coupons through marketing's claim path and products picked up in a
store; points debited in the ledger exactly once per request, the balance never negative
and the stock never oversold when requests come at once; refusals change nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from cloud_bridge.members.models import PointsEntry
from cloud_bridge.members.models_programs import ExchangeItem
from cloud_bridge.models import Stock

from .conftest import A, M, register

TEMPLATE = {"name_zh": "积分换券", "kind": "fixed", "value": 500, "total_limit": 100,
            "per_user_limit": 10, "valid_days": 30}


async def give_points(client, people, member_id: str, pts: int, key: str) -> None:
    r = await client.post(f"{A}/points/adjustments", headers=people["boss"],
                          json={"member_id": member_id, "points": pts, "reason": "test",
                                "key": key})
    assert r.status == 200, await r.text()


async def make_item(client, headers, **body) -> dict:
    r = await client.post(f"{A}/exchange/items", json=body, headers=headers)
    assert r.status == 201, await r.text()
    return await r.json()


async def redeem(client, headers, item: int, request_id: str):
    return await client.post(f"{M}/exchange", json={"item_id": item, "request_id": request_id},
                             headers=headers)


async def balance(client, headers) -> int:
    return (await (await client.get(M, headers=headers)).json())["points"]


async def test_coupon_and_product_exchange(client, db, people):
    t = await (await client.post("/api/v1/admin/marketing/coupon-templates", json=TEMPLATE,
                                 headers=people["boss"])).json()
    coupon_item = await make_item(client, people["boss"], kind="coupon", name_zh="5元券",
                                  name_en="5 yuan off", coupon_template_id=t["id"], points=30,
                                  stock=3, per_member_limit=2)
    product_item = await make_item(client, people["clerk1"], kind="product", store="s1",
                                   product_id="P-TEA", name_zh="绿茶", name_en="Green tea",
                                   points=20, stock=5)
    me = await register(client, people["alice"])
    await give_points(client, people, me["member_id"], 100, "a")

    r = await redeem(client, people["alice"], coupon_item["id"], "r1")
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["status"] == "issued" and first["coupon_id"]
    again = await (await redeem(client, people["alice"], coupon_item["id"], "r1")).json()
    assert again == first and await balance(client, people["alice"]) == 70
    wallet = await (await client.get("/api/v1/mp/coupons", headers=people["alice"])).json()
    assert [c["id"] for c in wallet["items"]] == [first["coupon_id"]]
    assert wallet["items"][0]["channel"] == "points"
    assert (await redeem(client, people["alice"], coupon_item["id"], "r2")).status == 201
    r = await redeem(client, people["alice"], coupon_item["id"], "r3")
    assert r.status == 409 and await balance(client, people["alice"]) == 40  # limit: 2 each

    r = await redeem(client, people["alice"], product_item["id"], "p1")
    ex = await r.json()
    assert ex["status"] == "awaiting_pickup" and ex["store"] == "s1"
    assert (await client.post(f"{A}/exchange/redemptions/{ex['id']}/hand-over",
                              headers=people["clerk2"])).status == 404
    r = await client.post(f"{A}/exchange/redemptions/{ex['id']}/hand-over",
                          headers=people["clerk1"])
    assert r.status == 200 and (await r.json())["status"] == "picked_up"
    assert (await client.post(f"{A}/exchange/redemptions/{ex['id']}/hand-over",
                              headers=people["clerk1"])).status == 409
    async with db.read() as s:
        stock = await s.scalar(select(Stock).where(Stock.store == "s1",
                                                   Stock.product_id == "P-TEA"))
        assert stock.on_hand == -1  # one handed over (the shelf count was never set)
    mine = await (await client.get(f"{M}/exchange", headers=people["alice"])).json()
    assert mine["total"] == 3
    listed = await (await client.get(f"{A}/exchange/redemptions?status=picked_up",
                                     headers=people["clerk1"])).json()
    assert [x["id"] for x in listed["items"]] == [ex["id"]]
    assert await balance(client, people["alice"]) == 20


async def test_concurrent_exchanges_never_go_negative_nor_oversell(client, db, people):
    item = await make_item(client, people["boss"], kind="product", store="s1", product_id="P-1",
                           name_zh="毛巾", name_en="Towel", points=20, stock=3,
                           per_member_limit=3)
    alice = await register(client, people["alice"])
    bob = await register(client, people["bob"])
    await give_points(client, people, alice["member_id"], 50, "a")   # enough for two
    await give_points(client, people, bob["member_id"], 1000, "b")  # enough for all
    rs = await asyncio.gather(
        *[redeem(client, people["alice"], item["id"], f"a{i}") for i in range(6)],
        *[redeem(client, people["bob"], item["id"], f"b{i}") for i in range(6)])
    assert {r.status for r in rs} <= {201, 409}
    a_won = sum(r.status == 201 for r in rs[:6])
    assert a_won <= 2 and sum(r.status == 201 for r in rs) <= 3  # the stock, never more
    # A member's own requests at once may be told to try again: bob does, one at a time,
    # until the stock is gone.
    for i in range(4):
        r = await redeem(client, people["bob"], item["id"], f"later{i}")
        if r.status == 409:  # sold out (or bob's own limit, when he holds all three)
            break
    async with db.read() as s:
        won = (await s.get(ExchangeItem, item["id"])).issued
    assert won == 3
    assert await balance(client, people["alice"]) == 50 - 20 * a_won >= 0
    assert await balance(client, people["bob"]) == 1000 - 20 * (won - a_won)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PointsEntry).where(
            PointsEntry.source_type == "redeem")) == 3


async def test_refusals_change_nothing(client, db, people):
    t = await (await client.post("/api/v1/admin/marketing/coupon-templates",
                                 json={**TEMPLATE, "store": "s2"},
                                 headers=people["clerk2"])).json()
    # Store staff: own store only; a coupon of another store; a product without a store.
    for headers, body in (
            (people["clerk1"], {"kind": "coupon", "coupon_template_id": t["id"]}),
            (people["clerk2"], {"kind": "product", "product_id": "P-1", "store": "s1"})):
        r = await client.post(f"{A}/exchange/items", headers=headers, json={
            **body, "name_zh": "x", "name_en": "x", "points": 1, "stock": 1})
        assert r.status == 403, await r.text()
    for body in ({"kind": "coupon", "coupon_template_id": t["id"], "store": "s1"},
                 {"kind": "product", "product_id": "P-1"},
                 {"kind": "coupon", "coupon_template_id": 999}):
        r = await client.post(f"{A}/exchange/items", headers=people["boss"], json={
            **body, "name_zh": "x", "name_en": "x", "points": 1, "stock": 1})
        assert r.status == 400, await r.text()
    item = await make_item(client, people["boss"], kind="product", store="s1", product_id="P-1",
                           name_zh="毛巾", name_en="Towel", points=20, stock=3)
    me = await register(client, people["alice"])
    await give_points(client, people, me["member_id"], 10, "a")
    r = await redeem(client, people["alice"], item["id"], "x1")
    assert r.status == 409 and "points" in await r.text()
    assert (await redeem(client, people["alice"], 999, "x2")).status == 404
    assert (await client.put(f"{A}/exchange/items/{item['id']}/status", json={"status": "paused"},
                             headers=people["clerk2"])).status == 404
    assert (await client.put(f"{A}/exchange/items/{item['id']}/status", json={"status": "paused"},
                             headers=people["clerk1"])).status == 200
    await give_points(client, people, me["member_id"], 100, "b")
    assert (await redeem(client, people["alice"], item["id"], "x3")).status == 409
    async with db.read() as s:
        assert (await s.get(ExchangeItem, item["id"])).issued == 0
    assert await balance(client, people["alice"]) == 110
