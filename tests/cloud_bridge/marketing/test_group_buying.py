"""Group buying (拼团) end to end over HTTP with WeChat Pay's sandbox, SQLite and PostgreSQL:
open, join, pay, complete when full; a group that expires is refunded automatically, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from cloud_bridge import auth, keys, orders
from cloud_bridge.marketing import groups
from cloud_bridge.marketing.deal_models import BuyingGroup
from cloud_bridge.models import RefundRequest

from ..mp_pay.test_pay import shopper_pays, start_bridge
from ..test_api import add_user, login, mp_login

pytestmark = pytest.mark.timeout(120)
A = "/api/v1/admin/marketing/group-deals"
M = "/api/v1/mp"


@pytest.fixture
async def bridge(db, db_url, sandbox, tmp_path):
    """The bridge with WeChat Pay (sandbox) and its refund executor."""
    client = await start_bridge(db, db_url, sandbox, tmp_path)
    yield client
    await client.close()


async def deal(client, boss, size: int) -> dict:
    now = datetime.now(UTC)
    r = await client.post(A, headers=boss, json={
        "store": "s1", "product_id": "coke-330", "name_zh": "可口可乐 拼团", "list_price": 250,
        "price": 150, "group_size": size, "group_ttl_s": 3600,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat()})
    assert r.status == 201, await r.text()
    return await r.json()


async def pay(client, sandbox, headers, openid: str, order_no: str) -> None:
    r = await client.post(f"{M}/orders/{order_no}/pay", headers=headers)
    assert r.status == 200, await r.text()
    status, out = await shopper_pays(sandbox, await r.json(), openid)
    assert status == 200 and out["notify_status"] == 204, out


async def order_status(client, headers, order_no: str) -> str:
    return (await (await client.get(f"{M}/orders/{order_no}", headers=headers)).json())["status"]


async def test_a_full_paid_group_completes(bridge, db, sandbox):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    d = await deal(bridge, await login(bridge, "boss"), size=2)
    (alice, alice_id), (bob, bob_id) = [await mp_login(bridge, f"{n}-code") for n in ("a", "b")]
    r = await bridge.post(f"{M}/group-deals/{d['id']}/groups", json={}, headers=alice)
    assert r.status == 201, await r.text()
    mine = await r.json()
    assert mine["total"] == 150 and mine["group_id"]
    gid = mine["group_id"]
    r = await bridge.post(f"{M}/groups/{gid}/join", headers=alice)
    assert r.status == 409  # one seat each
    r = await bridge.post(f"{M}/groups/{gid}/join", headers=bob)
    assert r.status == 201
    bobs = await r.json()
    carol, _ = await mp_login(bridge, "c-code")
    r = await bridge.post(f"{M}/groups/{gid}/join", headers=carol)
    assert r.status == 409 and "full" in (await r.json())["detail"]
    view = await (await bridge.get(f"{M}/groups/{gid}", headers=carol)).json()
    assert (view["seats"], view["size"], view["status"], view["mine"]) == (2, 2, "forming",
                                                                           False)
    await pay(bridge, sandbox, alice, alice_id, mine["order_no"])
    executor = bridge.server.app[keys.SERVICES_KEY].refunds
    assert (await groups.sweep(db, executor)).completed == 0  # bob has not paid yet
    await pay(bridge, sandbox, bob, bob_id, bobs["order_no"])
    done = await groups.sweep(db, executor)
    assert (done.completed, done.refunds) == (1, 0)
    view = await (await bridge.get(f"{M}/groups/{gid}", headers=bob)).json()
    assert view["status"] == "complete" and view["mine"] is True
    assert (await groups.sweep(db, executor)).completed == 0


async def test_an_expired_group_refunds_its_paid_members_once(bridge, db, sandbox):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(bridge, "boss")
    d = await deal(bridge, boss, size=3)
    people = [await mp_login(bridge, f"{n}-code") for n in ("a", "b", "c")]
    (alice, alice_id), (bob, bob_id), (carol, _) = people
    first = await (await bridge.post(f"{M}/group-deals/{d['id']}/groups", json={},
                                     headers=alice)).json()
    gid = first["group_id"]
    second = await (await bridge.post(f"{M}/groups/{gid}/join", headers=bob)).json()
    third = await (await bridge.post(f"{M}/groups/{gid}/join", headers=carol)).json()
    await pay(bridge, sandbox, alice, alice_id, first["order_no"])
    await pay(bridge, sandbox, bob, bob_id, second["order_no"])
    # Carol never pays; the group's hour passes.
    async with db.session() as s:
        await s.execute(update(BuyingGroup).where(BuyingGroup.id == gid).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    executor = bridge.server.app[keys.SERVICES_KEY].refunds
    # Two workers sweep at the same moment: each paid member is refunded once.
    a, b = await asyncio.gather(groups.sweep(db, executor), groups.sweep(db, executor))
    assert (a.failed + b.failed, a.refunds + b.refunds) == (1, 2)
    for headers, no in ((alice, first["order_no"]), (bob, second["order_no"])):
        assert await order_status(bridge, headers, no) == "refunded"
    assert await order_status(bridge, carol, third["order_no"]) == "created"
    # WeChat gave the money back once per paid member
    trades = sandbox.wechat.ledger.trades
    assert sorted(t.refunded for t in trades.values() if t.refunds) == [150, 150]
    again = await groups.sweep(db, executor)
    assert (again.failed, again.refunds) == (0, 0)
    async with db.read() as s:
        n = await s.scalar(select(func.count()).select_from(RefundRequest))
        done = await s.scalar(select(func.count()).select_from(RefundRequest).where(
            RefundRequest.status == "succeeded"))
    assert (n, done) == (2, 2)
    # The close job cancels carol's unpaid order: her seat is let go, nothing to refund.
    async def cancel(s):
        o = await orders.get_order(s, third["order_no"], lock=True)
        await orders.change_status(s, o, orders.CANCELLED, "test", reason="payment timeout")

    await db.transact(cancel)
    last = await groups.sweep(db, executor)
    assert (last.released, last.refunds) == (1, 0)
    view = await (await bridge.get(f"{M}/groups/{gid}", headers=carol)).json()
    assert view["status"] == "failed"
    r = await bridge.post(f"{M}/groups/{gid}/join", headers=(await mp_login(bridge, "d"))[0])
    assert r.status == 409


async def test_the_close_job_gives_back_what_unpaid_deal_orders_held(db, db_url, sandbox,
                                                                    tmp_path):
    """The mini-program close job, running in the bridge, cancels a flash order and a group
    seat left unpaid past the timeout; the units go back on sale and the seat is free."""
    from cloud_bridge.marketing.deal_models import FlashSale

    from ...support.waiting import until
    from .test_flash_sales import sale_body

    # Unpaid for 4 s, not 1: bob's refused buy must come before the close job gives
    # alice's unit back (on a loaded machine a login and a buy took over a second).
    client = await start_bridge(db, db_url, sandbox, tmp_path, mp_close_interval_s=0.2,
                                mp_pay_timeout_s=4.0)
    try:
        await add_user(db, "boss", auth.HEAD_OFFICE)
        boss = await login(client, "boss")
        sale = await (await client.post("/api/v1/admin/marketing/flash-sales", headers=boss,
                                        json=sale_body(stock=1, per_user_limit=1))).json()
        d = await deal(client, boss, size=2)
        alice, _ = await mp_login(client, "a-code")
        bob, _ = await mp_login(client, "b-code")
        r = await client.post(f"{M}/flash-sales/{sale['id']}/buy", json={}, headers=alice)
        assert r.status == 201, await r.text()
        assert (await client.post(f"{M}/flash-sales/{sale['id']}/buy", json={},
                                  headers=bob)).status == 409  # sold out while she holds it
        g = await (await client.post(f"{M}/group-deals/{d['id']}/groups", json={},
                                     headers=alice)).json()

        async def given_back() -> bool:
            async with db.read() as s:
                sold = await s.scalar(select(FlashSale.sold).where(FlashSale.id == sale["id"]))
                seats = await s.scalar(select(BuyingGroup.seats).where(
                    BuyingGroup.id == g["group_id"]))
            return sold == 0 and seats == 0

        await until(given_back, 30, what="unpaid deal orders released by the close job")
        r = await client.post(f"{M}/flash-sales/{sale['id']}/buy", json={}, headers=bob)
        assert r.status == 201, await r.text()
    finally:
        await client.close()


async def test_a_member_staff_refunded_in_part_gets_what_is_left(bridge, db, sandbox):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(bridge, "boss")
    d = await deal(bridge, boss, size=2)
    alice, alice_id = await mp_login(bridge, "a-code")
    mine = await (await bridge.post(f"{M}/group-deals/{d['id']}/groups", json={},
                                    headers=alice)).json()
    await pay(bridge, sandbox, alice, alice_id, mine["order_no"])
    r = await bridge.post(f"/api/v1/admin/orders/{mine['order_no']}/refunds", headers=boss,
                          json={"amount": 100, "reason": "顾客不想等了"})
    assert r.status in (200, 201), await r.text()
    assert await order_status(bridge, alice, mine["order_no"]) == "partially_refunded"
    async with db.session() as s:
        await s.execute(update(BuyingGroup).where(BuyingGroup.id == mine["group_id"]).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    executor = bridge.server.app[keys.SERVICES_KEY].refunds
    out = await groups.sweep(db, executor)
    assert (out.failed, out.refunds) == (1, 1)
    assert (await groups.sweep(db, executor)).refunds == 0
    assert await order_status(bridge, alice, mine["order_no"]) == "refunded"
    async with db.read() as s:
        amounts = sorted((await s.scalars(select(RefundRequest.amount))).all())
    assert amounts == [50, 100]  # the rest of what she paid, once
    assert sandbox.wechat.ledger.trades[f"J{mine['order_no']}"].refunded == 150
