"""A paid membership paid with WeChat Pay JSAPI, through the payment sandbox: the same
path as any mini-program order (prepay, wx.requestPayment, the signed notification),
activated once, however often the notification comes."""

from __future__ import annotations

import pytest

from cloud_bridge import auth

from ..mp_pay.test_pay import bridge, sandbox_notify, shopper_pays
from ..test_api import add_user, login, mp_login
from .test_paid import PLAN

__all__ = ["bridge"]
pytestmark = pytest.mark.timeout(120)
M = "/api/v1/mp/member"


async def test_plan_paid_with_jsapi_is_active_once(bridge, db, sandbox):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(bridge, "boss")
    plan = await (await bridge.post("/api/v1/admin/members/plans", json=PLAN,
                                    headers=boss)).json()
    alice, alice_id = await mp_login(bridge, "alice-code")
    assert (await bridge.post(f"{M}/register", json={}, headers=alice)).status == 200
    bought = await (await bridge.post(f"{M}/plans/{plan['id']}/purchase",
                                      json={"store": "s1"}, headers=alice)).json()
    r = await bridge.post(f"/api/v1/mp/orders/{bought['order_no']}/pay", headers=alice)
    assert r.status == 200, await r.text()
    params = await r.json()
    assert params["amount"] == PLAN["price"]
    status, paid = await shopper_pays(sandbox, params, alice_id)
    assert status == 200 and paid["notify_status"] == 204, paid
    mine = await (await bridge.get(f"{M}/paid", headers=alice)).json()
    assert mine["membership"]["active"] and mine["membership"]["level"] == "gold"
    ends = mine["membership"]["ends_at"]
    # WeChat's resend of the notification, and the sweep: nothing more.
    assert await sandbox_notify(sandbox, params["out_trade_no"], replay=False) == 204
    out = await (await bridge.post("/api/v1/admin/members/programs/sync", headers=boss)).json()
    assert out["activated"] == 0
    mine = await (await bridge.get(f"{M}/paid", headers=alice)).json()
    assert mine["membership"]["ends_at"] == ends and len(mine["purchases"]) == 1
    assert (await (await bridge.get(M, headers=alice)).json())["level"] == "gold"
