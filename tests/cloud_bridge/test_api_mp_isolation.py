"""Every mini-program order route, called by ANOTHER user: 404 and nothing changes."""

from __future__ import annotations

import pytest

from cloud_bridge import auth
from cloud_bridge.app import all_routes

from .bridge_helpers import receipt_token
from .domain_tests import OTHER_USER_TEST, checked_by_domain
from .test_api import add_user, api_config, client, login, mp_login, seed_kiosk_orders
from .test_api_admin_scoping import _snapshot

__all__ = ["client"]  # the fixture, shared with test_api

M = "/api/v1/mp"
INVOICE = {"kind": "personal", "title": "张三", "email": "a@example.com"}
# (method, route path, body): each names Alice's order; Bob calls it.
OTHER_USER = [
    ("GET", f"{M}/orders/{{order_no}}", None),
    ("POST", f"{M}/orders/{{order_no}}/claim", {"token": "from-the-receipt"}),
    ("POST", f"{M}/orders/{{order_no}}/invoice", INVOICE),
    ("GET", f"{M}/orders/{{order_no}}/invoice", None),
]
NOT_ORDER_SCOPED = {("POST", f"{M}/session"), ("GET", f"{M}/orders"), ("POST", f"{M}/orders")}


def test_every_mp_route_is_in_the_other_user_table(db_url):
    # A domain folder's routes are checked by its own test_other_user.py (domain_tests).
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(M) and not checked_by_domain(r, OTHER_USER_TEST)}
    assert routes == {(m, p) for m, p, _ in OTHER_USER} | NOT_ORDER_SCOPED


@pytest.mark.parametrize("method,route,body", OTHER_USER, ids=[f"{m} {p}" for m, p, _ in OTHER_USER])
async def test_another_user_cannot_reach_my_order(client, db, method, route, body):
    await seed_kiosk_orders(db)
    alice, _ = await mp_login(client, "alice-code")
    bob, _ = await mp_login(client, "bob-code")
    r = await client.post(f"{M}/orders", headers=alice, json={
        "store": "s1", "lines": [{"product_id": "coke-330", "qty": 2}]})
    assert r.status == 201, await r.text()
    no = (await r.json())["order_no"]
    # A claimed kiosk order is Alice's too.
    r = await client.post(f"{M}/orders/S1-0/claim", json={"token": receipt_token("S1-0")},
                          headers=alice)
    assert r.status == 200
    if not (method == "POST" and route.endswith("/invoice")):  # else Bob's POST is the 1st
        r = await client.post(f"{M}/orders/S1-0/invoice", json=INVOICE, headers=alice)
        assert r.status == 201, await r.text()
    before = _business_rows(await _snapshot(db))
    for order_no in (no, "S1-0"):
        # Bob even holds the right receipt token: Alice's order stays hers.
        b = {"token": receipt_token(order_no)} if body and "token" in body else body
        r = await client.request(method, route.format(order_no=order_no), json=b, headers=bob)
        assert r.status == 404, (order_no, r.status, await r.text())
        assert r.content_type == "application/problem+json"
    after = await _snapshot(db)
    assert _business_rows(after) == before, "another user's request changed stored data"
    if route.endswith("/claim"):  # each refused claim is kept for the rate limit and audit
        assert len(after["sell_claim_refusals"]) == 2
    assert (await (await client.get(f"{M}/orders", headers=bob)).json())["total"] == 0


async def test_admin_token_is_not_a_mini_program_session(client, db):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    r = await client.get(f"{M}/orders", headers=boss)
    assert r.status == 401


def _business_rows(snapshot: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every table but the record of refused receipt claims (refusals are written)."""
    return {k: v for k, v in snapshot.items() if k != "sell_claim_refusals"}
