"""A coupon in a mini-program order, over HTTP on SQLite and PostgreSQL: priced by the
pricing engine, locked to the order at creation (one of two concurrent orders wins),
used when the order is paid (WeChat JSAPI sandbox), released when it is closed unpaid,
cancelled or refunded in full; another shopper's, a used, an expired and a
below-threshold coupon refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from cloud_bridge import auth
from cloud_bridge.keys import SERVICES_KEY
from cloud_bridge.marketing.models import Coupon
from cloud_bridge.models import Order, now
from cloud_bridge.mp_pay.service import close_unpaid

from ..mp_pay.test_pay import bridge, shopper_pays
from ..test_api import add_user, login, mp_login

__all__ = ["bridge"]
pytestmark = pytest.mark.timeout(90)
M = "/api/v1/mp"
# Rice is 69.90 in the example price book: one bag reaches the 50 threshold, a coke does not.
RICE, COKE = "wuchang-rice-5kg", "coke-330"
TEMPLATE = {"name_zh": "满50减10", "name_en": "10 off 50", "kind": "fixed", "value": 1000,
            "threshold": 5000, "total_limit": 100, "per_user_limit": 3, "valid_days": 30}


async def shopper_with_coupons(client, boss, code: str, template_id: int, n: int = 1
                               ) -> tuple[dict, str, list[str]]:
    """A registered shopper holding ``n`` coupons of the template: (headers, openid, ids)."""
    headers, openid = await mp_login(client, code)
    r = await client.post(f"{M}/member/register", json={}, headers=headers)
    assert r.status in (200, 201), await r.text()
    ids = []
    for _ in range(n):
        r = await client.post(f"{M}/coupons/claim", json={"template_id": template_id},
                              headers=headers)
        assert r.status == 201, await r.text()
        ids.append((await r.json())["id"])
    return headers, openid, ids


async def setup(client, db, **template) -> tuple[dict, int]:
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    r = await client.post("/api/v1/admin/marketing/coupon-templates",
                          json={**TEMPLATE, **template}, headers=boss)
    assert r.status == 201, await r.text()
    return boss, (await r.json())["id"]


async def order(client, headers, coupon: str | None = None, product: str = RICE):
    body = {"store": "s1", "lines": [{"product_id": product, "qty": 1}]}
    return await client.post(f"{M}/orders", headers=headers,
                             json=body | ({"coupon_id": coupon} if coupon else {}))


async def coupon_state(db, coupon_id: str) -> tuple[str, str | None]:
    async with db.read() as s:
        c = await s.get(Coupon, coupon_id)
        return c.status, c.order_no


async def test_priced_locked_used_and_refused(bridge, db, sandbox):
    boss, tid = await setup(bridge, db)
    alice, alice_id, (mine, spare) = await shopper_with_coupons(bridge, boss, "alice-code",
                                                                tid, 2)
    bob, _, (bobs,) = await shopper_with_coupons(bridge, boss, "bob-code", tid)
    plain = await (await order(bridge, alice)).json()

    r = await order(bridge, alice, mine)
    assert r.status == 201, await r.text()
    placed = await r.json()
    assert placed["total"] == plain["total"] - 1000
    assert placed["discount_total"] == plain["discount_total"] + 1000
    assert sum(ln["amount"] for ln in placed["lines"]) == placed["total"]
    assert placed["details"]["coupons"] == [mine]
    assert {"id": mine, "kind": "coupon", "amount": 1000, "label_zh": "满50减10",
            "label_en": "10 off 50"} in placed["details"]["discounts"]
    assert await coupon_state(db, mine) == ("locked", placed["order_no"])
    listed = await (await bridge.get(f"{M}/coupons", headers=alice)).json()
    assert {c["id"]: c["status"] for c in listed["items"]}[mine] == "locked"

    before = await orders_of(db)
    # Refused, and no order is made: locked already, another shopper's, none such,
    # below the threshold, and a shopper who is no member.
    for headers, coupon, product, status in (
            (alice, mine, RICE, 409), (alice, bobs, RICE, 404), (bob, mine, RICE, 404),
            (alice, "c00000000000000000000", RICE, 404), (alice, spare, COKE, 409)):
        r = await order(bridge, headers, coupon, product)
        assert r.status == status, (coupon, product, await r.text())
        assert r.content_type == "application/problem+json"
    stranger, _ = await mp_login(bridge, "no-member-code")
    assert (await order(bridge, stranger, mine)).status == 404
    assert (await order(bridge, alice, "not-a-coupon")).status == 400
    assert await orders_of(db) == before
    assert await coupon_state(db, spare) == ("unused", None)
    assert await coupon_state(db, bobs) == ("unused", None)

    # Paid with WeChat JSAPI (sandbox): the coupon is used, once.
    no = placed["order_no"]
    params = await (await bridge.post(f"{M}/orders/{no}/pay", headers=alice)).json()
    assert params["amount"] == placed["total"]
    status, paid = await shopper_pays(sandbox, params, alice_id)
    assert status == 200 and paid["notify_status"] == 204, paid
    assert await coupon_state(db, mine) == ("used", no)
    assert (await order(bridge, alice, mine)).status == 409                    # used

    # An expired coupon is refused too.
    async with db.session() as s:
        await s.execute(update(Coupon).where(Coupon.id == spare)
                        .values(valid_until=now() - timedelta(minutes=1)))
    r = await order(bridge, alice, spare)
    assert r.status == 409 and "expired" in (await r.json())["detail"]

    # Refunded in full: the coupon goes back to the wallet and works again.
    r = await bridge.post(f"/api/v1/admin/orders/{no}/refunds", headers=boss,
                          json={"amount": placed["total"], "reason": "test", "confirm": True})
    assert r.status == 201, await r.text()
    assert (await r.json())["status"] == "succeeded"
    assert (await (await bridge.get(f"{M}/orders/{no}", headers=alice)).json()
            )["status"] == "refunded"
    assert await coupon_state(db, mine) == ("unused", None)
    assert (await order(bridge, alice, mine)).status == 201


async def orders_of(db) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(Order)) or 0


async def test_one_coupon_on_concurrent_orders_one_wins(bridge, db):
    boss, tid = await setup(bridge, db)
    alice, _, (mine,) = await shopper_with_coupons(bridge, boss, "alice-code", tid)
    before = await orders_of(db)
    replies = await asyncio.gather(*(order(bridge, alice, mine) for _ in range(6)))
    statuses = sorted(r.status for r in replies)
    assert statuses == [201, 409, 409, 409, 409, 409], [await r.text() for r in replies]
    (won,) = [r for r in replies if r.status == 201]
    winner = await won.json()
    assert await orders_of(db) == before + 1
    assert await coupon_state(db, mine) == ("locked", winner["order_no"])


async def test_released_when_closed_unpaid_or_cancelled(bridge, db):
    boss, tid = await setup(bridge, db)
    alice, _, (mine,) = await shopper_with_coupons(bridge, boss, "alice-code", tid)
    # Closed unpaid after the payment timeout (the close job with a zero timeout).
    first = await (await order(bridge, alice, mine)).json()
    r = await bridge.post(f"{M}/orders/{first['order_no']}/pay", headers=alice)
    assert r.status == 200, await r.text()
    payments = bridge.server.app[SERVICES_KEY].payments
    assert await close_unpaid(db, payments, 0) == 1
    assert await coupon_state(db, mine) == ("unused", None)
    assert await close_unpaid(db, payments, 0) == 0

    # Cancelled by staff: released again; a cancel of the first order cannot take it
    # from the second (conditional release).
    second = await (await order(bridge, alice, mine)).json()
    assert await coupon_state(db, mine) == ("locked", second["order_no"])
    from cloud_bridge.marketing import service as marketing

    async with db.session() as s:
        assert await marketing.release(s, first["order_no"]) == 0
    assert await coupon_state(db, mine) == ("locked", second["order_no"])
    r = await bridge.post(f"/api/v1/admin/orders/{second['order_no']}/status", headers=boss,
                          json={"status": "cancelled", "reason": "shopper asked"})
    assert r.status == 200, await r.text()
    assert await coupon_state(db, mine) == ("unused", None)

    # Locked past its validity and then cancelled: it expires instead of coming back.
    third = await (await order(bridge, alice, mine)).json()
    async with db.session() as s:
        await s.execute(update(Coupon).where(Coupon.id == mine)
                        .values(valid_until=now() - timedelta(seconds=1)))
    r = await bridge.post(f"/api/v1/admin/orders/{third['order_no']}/status", headers=boss,
                          json={"status": "cancelled"})
    assert r.status == 200, await r.text()
    assert await coupon_state(db, mine) == ("expired", None)
