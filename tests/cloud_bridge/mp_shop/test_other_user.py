"""The shop routes show nothing that is a shopper's own: another shopper gets the same
answer, and neither changes anything."""

from __future__ import annotations

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config, client, mp_login
from ..test_api_admin_scoping import _snapshot

__all__ = ["client"]

ROUTES = {("GET", "/api/v1/mp/stores"), ("GET", "/api/v1/mp/stores/{store}/products")}


def test_every_mp_shop_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/mp") and domain_of(r) == "mp_shop"}
    assert routes == ROUTES


async def test_two_shoppers_see_the_same_and_change_nothing(client, db):
    alice, _ = await mp_login(client, "alice-code")
    bob, _ = await mp_login(client, "bob-code")
    before = await _snapshot(db)
    for path in ("/api/v1/mp/stores", "/api/v1/mp/stores/s1/products"):
        a, b = await client.get(path, headers=alice), await client.get(path, headers=bob)
        assert a.status == b.status == 200
        assert await a.json() == await b.json()
    assert await _snapshot(db) == before
