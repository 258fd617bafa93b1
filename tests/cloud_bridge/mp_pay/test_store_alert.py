"""A paid mini-program order reaches its store at once: an open ``mp_order`` alert (kept
until staff resolve it) written with the payment, seen by the store's staff and head
office, not by another store, and never twice for one order."""

from __future__ import annotations

import pytest

from cloud_bridge import auth

from ..test_api import add_user, login, mp_login
from .test_pay import bridge, place_order, sandbox_notify, shopper_pays

__all__ = ["bridge"]
pytestmark = pytest.mark.timeout(60)
A = "/api/v1/admin"


async def mp_alerts(client, headers, store: str | None = None, resolved: bool = False) -> list:
    q = f"?kind=mp_order&resolved={str(resolved).lower()}" + (f"&store={store}" if store else "")
    r = await client.get(f"{A}/alerts{q}", headers=headers)
    assert r.status == 200, await r.text()
    return (await r.json())["items"]


async def test_a_paid_order_is_an_open_alert_of_its_store_once(bridge, db, sandbox):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    await add_user(db, "clerk2", auth.STORE_STAFF, "s2")
    boss, clerk1, clerk2 = [await login(bridge, n) for n in ("boss", "clerk1", "clerk2")]
    alice, alice_id = await mp_login(bridge, "alice-code")
    order = await place_order(bridge, alice)
    assert await mp_alerts(bridge, clerk1) == []            # placed, not paid: nothing yet

    r = await bridge.post(f"/api/v1/mp/orders/{order['order_no']}/pay", headers=alice)
    params = await r.json()
    status, paid = await shopper_pays(sandbox, params, alice_id)
    assert status == 200 and paid["notify_status"] == 204
    (alert,) = await mp_alerts(bridge, clerk1)
    assert (alert["store"], alert["order_no"]) == ("s1", order["order_no"])
    assert alert["detail"] == {"fulfillment": "pickup", "total": 500, "currency": "CNY",
                               "products": 1}
    assert [a["id"] for a in await mp_alerts(bridge, boss)] == [alert["id"]]
    assert await mp_alerts(bridge, clerk2) == []             # another store's staff: nothing
    r = await bridge.get(f"{A}/alerts?kind=mp_order&store=s1", headers=clerk2)
    assert r.status == 403

    # WeChat's resend of the notification is no second order for the store.
    assert await sandbox_notify(sandbox, params["out_trade_no"], replay=False) == 204
    assert len(await mp_alerts(bridge, boss)) == 1

    # Staff of another store cannot clear it; the store's own staff can.
    assert (await bridge.post(f"{A}/alerts/{alert['id']}/resolve", headers=clerk2)).status == 403
    r = await bridge.post(f"{A}/alerts/{alert['id']}/resolve", headers=clerk1)
    assert r.status == 200 and (await r.json())["resolved"] is True
    assert await mp_alerts(bridge, clerk1) == []
    assert [a["order_no"] for a in await mp_alerts(bridge, clerk1, resolved=True)] == [
        order["order_no"]]
