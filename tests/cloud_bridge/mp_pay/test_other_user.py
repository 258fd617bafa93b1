"""The mini-program payment route acts only on the caller's own order: another shopper's
``pay`` is 404 and changes nothing (no payment row, no prepay at WeChat)."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config, mp_login
from ..test_api_admin_scoping import _snapshot
from .test_pay import place_order, start_bridge

PAY = "/api/v1/mp/orders/{order_no}/pay"
# Checked in test_stored_value: another shopper's stored-value payment of my order is 404;
# the payment password is the caller's own (nothing of another user is named).
STORED_VALUE = "/api/v1/mp/orders/{order_no}/pay/stored-value"
PASSWORD = "/api/v1/mp/member/pay-password"
# Checked in test_reauth: the phone changed is the caller's own, and another user's
# login code does not re-authenticate the caller.
PHONE = "/api/v1/mp/member/phone"


def test_every_mp_pay_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp") and domain_of(r) == "mp_pay"}
    assert routes == {("POST", PAY), ("POST", STORED_VALUE), ("PUT", PASSWORD), ("PUT", PHONE)}


async def test_another_shopper_cannot_pay_or_learn_my_order(db, db_url, sandbox, tmp_path):
    client = await start_bridge(db, db_url, sandbox, tmp_path)
    try:
        alice, _ = await mp_login(client, "alice-code")
        bob, _ = await mp_login(client, "bob-code")
        order = await place_order(client, alice)
        before = await _snapshot(db)
        r = await client.post(PAY.format(order_no=order["order_no"]), headers=bob)
        assert r.status == 404 and r.content_type == "application/problem+json"
        assert await _snapshot(db) == before
        assert sandbox.wechat.ledger.trades == {}
    finally:
        await client.close()
