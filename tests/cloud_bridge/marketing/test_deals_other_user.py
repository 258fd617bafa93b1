"""Flash sale and group buying mini-program routes act for the caller only: a purchase or
a seat is the caller's own order, and a shared group shows nobody's identity."""

from __future__ import annotations

from cloud_bridge.app import all_routes
from cloud_bridge.marketing import deals_api

from ..domain_tests import domain_of
from ..test_api import api_config
from .test_flash_sales import sale_body

DEALS_MODULE = deals_api.__name__
M = "/api/v1/mp"
# Every deal route, and why another shopper cannot reach alice's things through it.
DEAL_ROUTES = {
    ("GET", f"{M}/flash-sales"): "the store's live sales: nobody's own",
    ("POST", f"{M}/flash-sales/{{sale_id}}/buy"): "places the caller's own order",
    ("GET", f"{M}/group-deals"): "the store's live deals: nobody's own",
    ("POST", f"{M}/group-deals/{{deal_id}}/groups"): "opens a group for the caller",
    ("POST", f"{M}/groups/{{group_id}}/join"): "seats the caller with the caller's order",
    ("GET", f"{M}/groups/{{group_id}}"): "shared link: seats and status, no identities",
}


def test_every_deal_mp_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(M) and domain_of(r) == "marketing"
              and r.handler.__module__ == DEALS_MODULE}
    assert routes == set(DEAL_ROUTES)


async def test_another_shopper_sees_no_one_in_alices_group_and_buys_for_himself(client,
                                                                                people):
    boss, alice, bob = people["boss"], people["alice"], people["bob"]
    body = {k: v for k, v in sale_body().items() if k not in ("stock", "per_user_limit")}
    r = await client.post("/api/v1/admin/marketing/group-deals", headers=boss,
                          json={**body, "group_size": 3, "group_ttl_s": 600})
    deal = await r.json()
    r = await client.post(f"{M}/group-deals/{deal['id']}/groups", json={}, headers=alice)
    assert r.status == 201, await r.text()
    hers = await r.json()
    r = await client.get(f"{M}/groups/{hers['group_id']}", headers=bob)
    assert r.status == 200
    text = await r.text()
    assert people["alice_openid"] not in text and '"mine": false' in text.replace(
        '"mine":false', '"mine": false')
    r = await client.post(f"{M}/groups/{hers['group_id']}/join", headers=bob)
    assert r.status == 201
    his = await r.json()
    assert his["order_no"] != hers["order_no"]
    r = await client.get(f"{M}/orders/{hers['order_no']}", headers=bob)
    assert r.status == 404  # her order stays hers
    r = await client.get(f"{M}/orders/{his['order_no']}", headers=bob)
    assert r.status == 200
