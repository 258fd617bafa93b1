"""Mini-program payment (WeChat JSAPI) end to end over HTTP, SQLite and PostgreSQL.

The bridge app runs on a real port with payments from the sandbox manifest; the sandbox
plays WeChat: it checks the paySign the bridge made, takes the shopper's money and posts
its signed, encrypted notification to the bridge's notify route.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import func, select

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.models import OrderHistory, Stock
from cloud_bridge.payments.models import AWAITING, PAID, Payment

from ..test_api import add_user, api_config, login, mp_login
from ..test_payments_api import payments_config

pytestmark = pytest.mark.timeout(60)
NOTIFY = "/api/v1/pay/notify/wechat"


async def start_bridge(db, db_url, sandbox, tmp_path, **payments):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = api_config(db_url)
    cfg.payments = payments_config(db_url, manifest).payments.model_copy(
        update={"mp_close_interval_s": 0, **payments})
    server = TestServer(create_app(cfg, db=db))
    client = TestClient(server)
    await client.start_server()
    cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
    cfg.payments.jsapi_notify_url = str(server.make_url(NOTIFY))
    return client


@pytest.fixture
async def bridge(db, db_url, sandbox, tmp_path):
    client = await start_bridge(db, db_url, sandbox, tmp_path)
    yield client
    await client.close()


async def place_order(client, headers, qty: int = 2) -> dict:
    r = await client.post("/api/v1/mp/orders", headers=headers, json={
        "store": "s1", "fulfillment": "pickup", "lines": [{"product_id": "coke-330", "qty": qty}]})
    assert r.status == 201, await r.text()
    return await r.json()


async def shopper_pays(sandbox, params: dict, openid: str) -> tuple[int, dict]:
    """What the WeChat client does on wx.requestPayment(params) for ``openid``."""
    async with ClientSession() as http, http.post(
            sandbox.wechat.base_url + "/__sandbox/jsapi/pay",
            json={**params, "openid": openid}) as r:
        return r.status, await r.json()


async def sandbox_notify(sandbox, out_trade_no: str, replay: bool) -> int:
    async with ClientSession() as http, http.post(
            sandbox.wechat.base_url + "/__sandbox/jsapi/notify",
            json={"out_trade_no": out_trade_no, "replay": replay}) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["notify_status"]


def pay_sign_ok(sandbox, p: dict) -> bool:
    """Verify paySign as WeChat does: RSA-SHA256 (PKCS#1 v1.5) with the merchant's public key."""
    message = f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n".encode()
    try:
        sandbox.wechat.keys.merchant_key.public_key().verify(
            base64.b64decode(p["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


async def paid_history(db, order_no: str) -> int:
    from cloud_bridge.models import Order

    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(OrderHistory).join(
            Order, Order.id == OrderHistory.order_id).where(
            Order.order_no == order_no, OrderHistory.to_status == "paid"))


async def on_hand(db) -> int:
    async with db.read() as s:
        return (await s.get(Stock, ("s1", "coke-330"))).on_hand


async def test_pay_notify_settles_once(bridge, db, sandbox):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(bridge, "boss")
    r = await bridge.put("/api/v1/admin/stock/s1/coke-330", json={"on_hand": 10}, headers=boss)
    assert r.status == 200, await r.text()
    alice, alice_id = await mp_login(bridge, "alice-code")
    bob, bob_id = await mp_login(bridge, "bob-code")
    order = await place_order(bridge, alice)
    no, url = order["order_no"], f"/api/v1/mp/orders/{order['order_no']}/pay"

    assert (await bridge.post(url)).status == 401
    assert (await bridge.post(url, headers=boss)).status == 401      # staff token: not a shopper
    assert (await bridge.post(url, headers=bob)).status == 404       # another shopper's order
    assert (await bridge.post("/api/v1/mp/orders/MPNOSUCH/pay", headers=alice)).status == 404

    r = await bridge.post(url, headers=alice)
    assert r.status == 200, await r.text()
    params = await r.json()
    assert params["signType"] == "RSA" and params["package"].startswith("prepay_id=wx")
    assert params["appId"] == sandbox.wechat.keys.appid and params["amount"] == 500
    assert pay_sign_ok(sandbox, params)
    assert not pay_sign_ok(sandbox, {**params, "package": "prepay_id=wxforged"})
    # Recorded before the provider call, one row per order; a repeat reuses the prepay.
    r = await bridge.post(url, headers=alice)
    again = await r.json()
    assert again["package"] == params["package"]
    assert again["out_trade_no"] == params["out_trade_no"]
    async with db.read() as s:
        rows = (await s.scalars(select(Payment).where(Payment.order_no == no))).all()
    assert [(p.status, p.amount) for p in rows] == [(AWAITING, 500)]
    trade = sandbox.wechat.ledger.trades[params["out_trade_no"]]
    assert trade.state == "NOTPAY" and trade.meta["openid"] == alice_id

    # WeChat refuses a forged paySign and another user's attempt.
    status, _ = await shopper_pays(sandbox, {**params, "paySign": again["paySign"][:-4] + "AAA="},
                                   alice_id)
    assert status == 400
    status, _ = await shopper_pays(sandbox, params, bob_id)
    assert status == 403
    assert (await (await bridge.get(f"/api/v1/mp/orders/{no}", headers=alice)).json()
            )["status"] == "created"

    status, paid = await shopper_pays(sandbox, params, alice_id)
    assert status == 200 and paid["notify_status"] == 204, paid
    detail = await (await bridge.get(f"/api/v1/mp/orders/{no}", headers=alice)).json()
    assert detail["status"] == "paid" and detail["paid_at"]
    assert detail["details"]["tenders"][0]["provider_ref"] == paid["transaction_id"]
    assert await paid_history(db, no) == 1 and await on_hand(db) == 8

    # The replayed notification is refused; WeChat's own resend changes nothing.
    assert await sandbox_notify(sandbox, params["out_trade_no"], replay=True) == 400
    assert await sandbox_notify(sandbox, params["out_trade_no"], replay=False) == 204
    assert await paid_history(db, no) == 1 and await on_hand(db) == 8
    async with db.read() as s:
        p = await s.scalar(select(Payment).where(Payment.order_no == no))
    assert (p.status, p.provider_ref) == (PAID, paid["transaction_id"])

    r = await bridge.post(url, headers=alice)
    assert r.status == 409 and r.content_type == "application/problem+json"
    assert (await bridge.post(url, headers=bob)).status == 404


async def test_unpaid_orders_closed_after_timeout(db, db_url, sandbox, tmp_path):
    # Unpaid for 4 s, not 1: the test's own order and pay requests must come before the
    # close job (on a loaded machine two requests took over a second).
    client = await start_bridge(db, db_url, sandbox, tmp_path, mp_close_interval_s=0.2,
                                mp_pay_timeout_s=4.0)
    try:
        alice, alice_id = await mp_login(client, "carol-code")
        tapped = await place_order(client, alice, qty=1)      # paid never: prepay made
        r = await client.post(f"/api/v1/mp/orders/{tapped['order_no']}/pay", headers=alice)
        assert r.status == 200, await r.text()
        params = await r.json()
        untouched = await place_order(client, alice, qty=3)   # pay was never asked
        for _ in range(300):
            states = [(await (await client.get(f"/api/v1/mp/orders/{o['order_no']}",
                                               headers=alice)).json())["status"]
                      for o in (tapped, untouched)]
            if states == ["cancelled", "cancelled"]:
                break
            await asyncio.sleep(0.1)
        assert states == ["cancelled", "cancelled"]
        # Closed at WeChat first: the shopper can no longer pay it, and the bridge refuses.
        assert sandbox.wechat.ledger.trades[params["out_trade_no"]].state == "CLOSED"
        status, _ = await shopper_pays(sandbox, params, alice_id)
        assert status == 409
        for o in (tapped, untouched):
            r = await client.post(f"/api/v1/mp/orders/{o['order_no']}/pay", headers=alice)
            assert r.status == 409
        async with db.read() as s:
            rows = (await s.scalars(select(Payment).where(
                Payment.order_no.in_([tapped["order_no"], untouched["order_no"]])))).all()
        assert sorted((p.status, p.reason) for p in rows) == [
            ("failed", "order_timeout"), ("failed", "order_timeout")]
    finally:
        await client.close()


async def test_close_job_settles_a_trade_paid_without_notification(bridge, db, sandbox):
    """The notification was lost: WeChat refuses to close a paid trade, so the job settles
    it from the query (order paid once) instead of cancelling it; a second run does nothing."""
    from cloud_bridge.keys import SERVICES_KEY
    from cloud_bridge.mp_pay.service import close_unpaid

    alice, _ = await mp_login(bridge, "dave-code")
    order = await place_order(bridge, alice, qty=1)
    r = await bridge.post(f"/api/v1/mp/orders/{order['order_no']}/pay", headers=alice)
    params = await r.json()
    trade = sandbox.wechat.ledger.trades[params["out_trade_no"]]
    sandbox.wechat.ledger._debit(trade)          # paid in WeChat; the notification never came
    payments = bridge.server.app[SERVICES_KEY].payments
    assert await close_unpaid(db, payments, 0) == 0
    assert trade.state == "SUCCESS"
    detail = await (await bridge.get(f"/api/v1/mp/orders/{order['order_no']}",
                                     headers=alice)).json()
    assert detail["status"] == "paid"
    assert await close_unpaid(db, payments, 0) == 0
    assert await paid_history(db, order["order_no"]) == 1
    # The notification arriving late changes nothing either.
    assert await sandbox_notify(sandbox, params["out_trade_no"], replay=False) == 204
    assert await paid_history(db, order["order_no"]) == 1
    async with db.read() as s:
        p = await s.scalar(select(Payment).where(Payment.order_no == order["order_no"]))
    assert (p.status, p.provider_code) == (PAID, "QUERY")


async def test_without_wechat_pay_the_route_is_503_and_nothing_times_out(db, db_url):
    """A bridge without WeChat Pay: ``pay`` is a documented 503, and unpaid orders are
    left for staff (the close job never cancels them)."""
    from cloud_bridge.keys import SERVICES_KEY
    from cloud_bridge.mp_pay.service import close_unpaid

    cfg = api_config(db_url)
    server = TestServer(create_app(cfg, db=db))
    async with TestClient(server) as client:
        cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
        alice, _ = await mp_login(client, "erin-code")
        order = await place_order(client, alice, qty=1)
        r = await client.post(f"/api/v1/mp/orders/{order['order_no']}/pay", headers=alice)
        assert r.status == 503 and r.content_type == "application/problem+json"
        assert await close_unpaid(db, server.app[SERVICES_KEY].payments, 0) == 0
        detail = await (await client.get(f"/api/v1/mp/orders/{order['order_no']}",
                                         headers=alice)).json()
        assert detail["status"] == "created"
