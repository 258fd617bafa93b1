"""Campaigns over the admin API: shipped with the price book, priced offline by the kiosk's
engine, ended, scoped by store, results from the orders that got them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud_bridge.ingest.storage import store_events
from contract.pricebook import parse_price_book
from contract.pricing import CartLine, Member, PricingContext, price_cart
from contract.wire.events import ORDER_COMPLETED, Event, uuid7

from ..bridge_helpers import receipt_token
from .conftest import register

ROOT = Path(__file__).resolve().parents[3]
C = "/api/v1/admin/marketing/campaigns"
# The demo book without its own offers, so that what a test sees is its campaign's.
DEMO = {**json.loads((ROOT / "config" / "pricebook.example.json").read_text()),
        "promotions": [], "full_reductions": [], "coupons": []}


def _now() -> datetime:
    return datetime.now(UTC)


def holiday(**over) -> dict:
    """A 国庆 sale: 20 % off dairy, from an hour ago for a day (times taken now)."""
    return {"kind": "holiday", "name_zh": "国庆乳品八折", "name_en": "Dairy 20% off",
            "categories": ["dairy"], "off_bp": 2000,
            "starts_at": (_now() - timedelta(hours=1)).isoformat(),
            "ends_at": (_now() + timedelta(days=1)).isoformat(), **over}


async def publish(client, boss, store: str, version: str = "v1") -> None:
    r = await client.put(f"/api/v1/admin/stores/{store}/catalog", headers=boss,
                         data=json.dumps({**DEMO, "version": version}))
    assert r.status in (200, 201), await r.text()


async def current_book(client, boss, store: str):
    """The store's current book as a kiosk downloads it (the bytes, parsed by the kiosk's
    own parser)."""
    r = await client.get(f"/api/v1/admin/stores/{store}/catalog", headers=boss)
    assert r.status == 200, await r.text()
    version = (await r.json())["version"]
    r = await client.get(f"/api/v1/catalog/{store}/{version}")
    assert r.status == 200
    return parse_price_book(await r.read())


MILK = [CartLine("mengniu-milk-250", 4)]  # 4 x 3.50 = 14.00


async def test_a_campaign_ships_with_the_book_and_the_kiosk_prices_with_it_offline(client,
                                                                                  people):
    boss = people["boss"]
    await publish(client, boss, "s1")
    await publish(client, boss, "s2")
    r = await client.post(C, json=holiday(), headers=boss)
    assert r.status == 201, await r.text()
    c = await r.json()
    assert c["status"] == "running" and c["store"] is None
    assert sorted(c["republished"]) == ["s1", "s2"]  # chain-wide: every store's book

    book = await current_book(client, boss, "s1")
    assert book.version == "v1.c1"
    assert [x.campaign_id for x in book.campaigns] == [c["campaign_id"]]
    # No link to the cloud needed: the book and the engine price it at the kiosk.
    cart = price_cart(book, MILK, PricingContext(now=_now()))
    assert cart.total == 1120
    assert [(a.id, a.amount, a.label_zh) for a in cart.applied] == [
        (c["campaign_id"], 280, "国庆乳品八折")]
    # outside its window the same book gives nothing
    later = price_cart(book, MILK, PricingContext(now=_now() + timedelta(days=2)))
    assert later.total == 1400

    # Ended early: both books are published again without it.
    r = await client.post(f"{C}/{c['id']}/end", headers=boss)
    assert r.status == 200, await r.text()
    ended = await r.json()
    assert ended["status"] == "ended" and sorted(ended["republished"]) == ["s1", "s2"]
    book = await current_book(client, boss, "s1")
    assert book.version == "v1.c2" and book.campaigns == ()
    assert price_cart(book, MILK, PricingContext(now=_now())).total == 1400
    r = await client.post(f"{C}/{c['id']}/end", headers=boss)
    assert r.status == 409  # once


async def test_scheduled_and_member_only_campaigns_apply_from_their_start(client, people):
    boss = people["boss"]
    await publish(client, boss, "s1")
    start = _now() + timedelta(hours=2)
    r = await client.post(C, headers=boss, json={
        "kind": "member_only", "name_zh": "金卡满50减8", "member_levels": ["gold"],
        "tiers": [{"threshold": 5000, "off": 800}], "store": "s1",
        "starts_at": start.isoformat()})
    assert r.status == 201, await r.text()
    c = await r.json()
    assert c["status"] == "scheduled" and c["republished"] == ["s1"]
    r = await client.get(C, params={"status": "scheduled"}, headers=boss)
    assert [x["id"] for x in (await r.json())["items"]] == [c["id"]]
    book = await current_book(client, boss, "s1")
    rice = [CartLine("wuchang-rice-5kg")]  # member price 64.90
    gold = Member("m1", "gold")
    assert price_cart(book, rice, PricingContext(member=gold, now=_now())).total == 6490
    at_start = PricingContext(member=gold, now=start + timedelta(minutes=1))
    assert price_cart(book, rice, at_start).total == 5690
    silver = PricingContext(member=Member("m2", "silver"), now=start + timedelta(minutes=1))
    assert price_cart(book, rice, silver).total == 6490


async def test_store_staff_run_their_store_only(client, people):
    boss, clerk1, clerk2 = people["boss"], people["clerk1"], people["clerk2"]
    await publish(client, boss, "s1")
    await publish(client, boss, "s2")
    r = await client.post(C, json=holiday(), headers=clerk1)
    assert r.status == 403  # chain-wide is head office's
    r = await client.post(C, json=holiday(store="s2"), headers=clerk1)
    assert r.status == 403
    r = await client.post(C, json=holiday(store="s1"), headers=clerk1)
    assert r.status == 201, await r.text()
    mine = await r.json()
    assert mine["republished"] == ["s1"]  # s2's book is left alone
    assert (await current_book(client, boss, "s2")).campaigns == ()
    r = await client.post(C, json=holiday(name_zh="全国"), headers=boss)
    chain = await r.json()
    r = await client.get(C, headers=clerk2)
    assert [x["id"] for x in (await r.json())["items"]] == [chain["id"]]  # not s1's
    r = await client.get(C, headers=clerk1)
    assert [x["id"] for x in (await r.json())["items"]] == [chain["id"], mine["id"]]
    r = await client.post(f"{C}/{chain['id']}/end", headers=clerk1)
    assert r.status == 403  # the chain's campaign is head office's to end


async def test_campaigns_that_cannot_work_are_refused(client, people):
    boss = people["boss"]
    bad = [
        {**holiday(), "ends_at": None},  # a holiday needs its window
        {**holiday(), "ends_at": (_now() - timedelta(days=1)).isoformat()},
        {"kind": "member_only", "name_zh": "会员", "off_bp": 500, "categories": ["dairy"]},
        {"kind": "full_reduction", "name_zh": "满减", "tiers": [{"threshold": 500, "off": 500}]},
        {"kind": "new_product", "name_zh": "新品", "categories": ["dairy"], "price": 100},
    ]
    for body in bad:
        r = await client.post(C, json=body, headers=boss)
        assert r.status == 400, (body, await r.text())
    r = await client.get(C, headers=boss)
    assert (await r.json())["total"] == 0


def _sale(store: str, seq: int, book, lines, member_id=None, at=None) -> bytes:
    """``order.completed`` as the kiosk sends it for ``lines`` priced on ``book``."""
    at = at or _now()
    cart = price_cart(book, lines, PricingContext(
        now=at, member=Member(member_id, "regular") if member_id else None))
    no = f"{store}-k1-{seq:06d}"
    data = {"order_no": no, "created_at": at.isoformat(), "completed_at": at.isoformat(),
            "lines": [ln.to_wire().model_dump(mode="json") for ln in cart.lines],
            "subtotal": cart.subtotal, "discount_total": cart.discount_total,
            "total": cart.total, "member_id": member_id,
            "tenders": [{"method": "cash", "amount": cart.total}],
            "discounts": [{"id": a.id, "kind": a.kind, "amount": a.amount,
                           "label_zh": a.label_zh} for a in cart.applied],
            "receipt_token": receipt_token(no), "catalog_version": book.version}
    return Event(event_id=uuid7(), type=ORDER_COMPLETED, store=store, kiosk="k1", seq=seq,
                 data=data).encode()


async def test_results_count_the_orders_that_got_the_campaign(client, db, people):
    boss = people["boss"]
    await publish(client, boss, "s1")
    r = await client.post(C, json=holiday(store="s1"), headers=boss)
    c = await r.json()
    await register(client, people["alice"], home_store="s1")  # a new member during it
    book = await current_book(client, boss, "s1")
    sales = [_sale("s1", 1, book, MILK),  # 14.00 - 2.80
             _sale("s1", 2, book, [CartLine("mengniu-milk-250"), CartLine("coke-330", 2)]),
             _sale("s1", 3, book, [CartLine("coke-330")])]  # no dairy: not the campaign's
    await store_events(db, [("s1", "k1", p) for p in sales], worker="t", tz="Asia/Shanghai")
    # sent again (the kiosk did not get the ack): counted once
    await store_events(db, [("s1", "k1", sales[0])], worker="t", tz="Asia/Shanghai")
    r = await client.get(f"{C}/{c['id']}/results", headers=boss)
    assert r.status == 200, await r.text()
    res = await r.json()
    assert res == {"id": c["id"], "campaign_id": c["campaign_id"], "orders": 2,
                   "revenue": 1120 + 280 + 500, "discount_cost": 280 + 70, "members": 0,
                   "new_members": 1, "eligible_orders": 3, "redemption_rate": 0.6667}
    r = await client.get(f"{C}/{c['id']}/results", headers=people["clerk2"])
    assert r.status == 404


async def test_mini_program_orders_count_in_the_results_once_paid(client, people):
    boss, alice = people["boss"], people["alice"]
    await publish(client, boss, "s1")
    c = await (await client.post(C, json=holiday(store="s1"), headers=boss)).json()
    r = await client.post("/api/v1/mp/orders", headers=alice, json={
        "store": "s1", "lines": [{"product_id": "mengniu-milk-250", "qty": 2}]})
    assert r.status == 201, await r.text()
    order = await r.json()
    assert order["total"] == 560  # the cloud priced it with the campaign: 7.00 - 20 %
    res = await (await client.get(f"{C}/{c['id']}/results", headers=boss)).json()
    assert res["orders"] == 0  # not paid yet: not a sale
    r = await client.post(f"/api/v1/admin/orders/{order['order_no']}/status", headers=boss,
                          json={"status": "paid"})
    assert r.status == 200, await r.text()
    res = await (await client.get(f"{C}/{c['id']}/results", headers=boss)).json()
    assert (res["orders"], res["revenue"], res["discount_cost"]) == (1, 560, 140)
