"""The mini-program's store picker and product search."""

from __future__ import annotations

from cloud_bridge import auth

from ..test_api import add_user, client, login, mp_login, seed_kiosk_orders

__all__ = ["client"]  # the fixture, shared with test_api

M = "/api/v1/mp"


async def search(client, headers, **params) -> dict:
    r = await client.get(f"{M}/stores/s1/products", headers=headers, params=params)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_stores_are_the_fleets_and_the_published_ones(client, db):
    alice, _ = await mp_login(client, "alice-code")
    r = await client.get(f"{M}/stores", headers=alice)
    assert r.status == 200 and (await r.json())["items"] == []
    await seed_kiosk_orders(db)                       # kiosks of s1 and s2 report in
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    book = {"version": "v1", "currency": "CNY", "products": [
        {"product_id": "tea", "name_zh": "茶", "unit_price": 300}]}
    r = await client.put("/api/v1/admin/stores/s3/catalog", json=book, headers=boss)
    assert r.status in (200, 201), await r.text()
    r = await client.get(f"{M}/stores", headers=alice)
    assert (await r.json())["items"] == [{"store": "s1", "price_book": False},
                                         {"store": "s2", "price_book": False},
                                         {"store": "s3", "price_book": True}]
    # s3 sells from its published book, not from the [mp] price_book file.
    r = await client.get(f"{M}/stores/s3/products", headers=alice)
    assert [p["product_id"] for p in (await r.json())["items"]] == ["tea"]


async def test_search_by_name_id_or_barcode_sellable_only(client):
    alice, _ = await mp_login(client, "alice-code")
    everything = await search(client, alice, limit=100)
    ids = [p["product_id"] for p in everything["items"]]
    assert everything["currency"] == "CNY" and everything["total"] == len(ids) == 11
    assert "banana" not in ids                        # weighed: needs a scale
    assert "wlj-herbal-tea-310" not in ids            # not active
    coke = (await search(client, alice, q="可乐"))["items"]
    assert [(p["product_id"], p["unit_price"]) for p in coke] == [("coke-330", 250)]
    assert [p["product_id"] for p in (await search(client, alice, q="COCA"))["items"]] == [
        "coke-330"]
    assert [p["product_id"] for p in (await search(client, alice, q="6902335000127"))[
        "items"]] == ["coke-330"]
    assert (await search(client, alice, q="690233500012"))["total"] == 0  # a part of a barcode
    page = await search(client, alice, limit=2, offset=2)
    assert page["total"] == 11 and [p["product_id"] for p in page["items"]] == ids[2:4]


async def test_refused(client):
    alice, _ = await mp_login(client, "alice-code")
    assert (await client.get(f"{M}/stores")).status == 401
    assert (await client.get(f"{M}/stores/s1/products")).status == 401
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"q": ""}, {"q": "x" * 65}):
        r = await client.get(f"{M}/stores/s1/products", headers=alice, params=bad)
        assert r.status == 400, bad
    assert (await client.get(f"{M}/stores/s%201/products", headers=alice)).status in (400, 404)
