"""Every marketing admin route, called by store staff of ANOTHER store: 403/404, and
nothing stored changes. Checked against the router."""

from __future__ import annotations

import pytest

from cloud_bridge.app import all_routes

from ..domain_tests import domain_of
from ..test_api import api_config
from ..test_api_admin_scoping import _snapshot
from .conftest import TEMPLATE, A, register

NOT_STORE_SCOPED: dict[tuple[str, str], str] = {}
C = f"{A}/campaigns"
F, G = f"{A}/flash-sales", f"{A}/group-deals"
_DEAL = {"product_id": "coke-330", "name_zh": "可乐", "list_price": 250, "price": 150,
         "starts_at": "2026-01-01T00:00:00+00:00", "ends_at": "2099-01-01T00:00:00+00:00"}
FLASH = {**_DEAL, "stock": 5}
GROUP = {**_DEAL, "group_size": 2, "group_ttl_s": 600}

# (method, route path, concrete path with store s1's things, body, allowed statuses)
CROSS_STORE = [
    ("POST", f"{A}/coupon-templates", f"{A}/coupon-templates", {**TEMPLATE, "store": "s1"},
     {403}),
    ("GET", f"{A}/coupon-templates", f"{A}/coupon-templates?store=s1", None, {403}),
    ("GET", f"{A}/coupon-templates/{{template_id}}", f"{A}/coupon-templates/{{tpl}}", None,
     {404}),
    ("POST", f"{A}/coupon-templates/{{template_id}}/issue",
     f"{A}/coupon-templates/{{tpl}}/issue", {"member_ids": ["{member}"]}, {404}),
    # campaigns (campaigns_api): s1's campaign is not found for staff of s2
    ("POST", f"{C}", C, {"kind": "full_reduction", "name_zh": "满减", "store": "s1",
                         "tiers": [{"threshold": 5000, "off": 500}]}, {403}),
    ("GET", C, f"{C}?store=s1", None, {403}),
    ("GET", f"{C}/{{campaign_id}}", f"{C}/{{cmp}}", None, {404}),
    ("POST", f"{C}/{{campaign_id}}/end", f"{C}/{{cmp}}/end", None, {404}),
    ("GET", f"{C}/{{campaign_id}}/results", f"{C}/{{cmp}}/results", None, {404}),
    # flash sales and group deals (deals_api)
    ("POST", F, F, {**FLASH, "store": "s1"}, {403}),
    ("GET", F, f"{F}?store=s1", None, {403}),
    ("GET", f"{F}/{{sale_id}}", f"{F}/{{sale}}", None, {404}),
    ("POST", f"{F}/{{sale_id}}/end", f"{F}/{{sale}}/end", None, {404}),
    ("POST", G, G, {**GROUP, "store": "s1"}, {403}),
    ("GET", G, f"{G}?store=s1", None, {403}),
    ("GET", f"{G}/{{deal_id}}", f"{G}/{{deal}}", None, {404}),
    ("POST", f"{G}/{{deal_id}}/end", f"{G}/{{deal}}/end", None, {404}),
]


def test_every_marketing_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith("/api/v1/admin") and domain_of(r) == "marketing"}
    assert routes == {(m, p) for m, p, *_ in CROSS_STORE} | set(NOT_STORE_SCOPED)


@pytest.mark.parametrize("method,route,path,body,allowed", CROSS_STORE,
                         ids=[f"{m} {p}" for m, p, *_ in CROSS_STORE])
async def test_staff_of_another_store_are_refused(client, db, people, method, route, path, body,
                                                  allowed):
    r = await client.post(f"{A}/coupon-templates", json={**TEMPLATE, "store": "s1"},
                          headers=people["clerk1"])
    r2 = await client.post(C, headers=people["clerk1"], json={
        "kind": "full_reduction", "name_zh": "满减", "store": "s1",
        "tiers": [{"threshold": 5000, "off": 500}]})
    r3 = await client.post(F, headers=people["clerk1"], json={**FLASH, "store": "s1"})
    r4 = await client.post(G, headers=people["clerk1"], json={**GROUP, "store": "s1"})
    ids = {"tpl": (await r.json())["id"], "cmp": (await r2.json())["id"],
           "sale": (await r3.json())["id"], "deal": (await r4.json())["id"],
           "member": (await register(client, people["alice"]))["member_id"]}
    if body and "member_ids" in body:
        body = {"member_ids": [ids["member"]]}
    before = await _snapshot(db)
    r = await client.request(method, path.format(**ids), headers=people["clerk2"], json=body)
    assert r.status in allowed, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "a refused request changed stored data"
