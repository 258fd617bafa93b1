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
    ids = {"tpl": (await r.json())["id"], "cmp": (await r2.json())["id"],
           "member": (await register(client, people["alice"]))["member_id"]}
    if body and "member_ids" in body:
        body = {"member_ids": [ids["member"]]}
    before = await _snapshot(db)
    r = await client.request(method, path.format(**ids), headers=people["clerk2"], json=body)
    assert r.status in allowed, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "a refused request changed stored data"
