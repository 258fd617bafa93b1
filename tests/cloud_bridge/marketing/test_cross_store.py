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

# (method, route path, concrete path with store s1's things, body, allowed statuses)
CROSS_STORE = [
    ("POST", f"{A}/coupon-templates", f"{A}/coupon-templates", {**TEMPLATE, "store": "s1"},
     {403}),
    ("GET", f"{A}/coupon-templates", f"{A}/coupon-templates?store=s1", None, {403}),
    ("GET", f"{A}/coupon-templates/{{template_id}}", f"{A}/coupon-templates/{{tpl}}", None,
     {404}),
    ("POST", f"{A}/coupon-templates/{{template_id}}/issue",
     f"{A}/coupon-templates/{{tpl}}/issue", {"member_ids": ["{member}"]}, {404}),
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
    ids = {"tpl": (await r.json())["id"],
           "member": (await register(client, people["alice"]))["member_id"]}
    if body and "member_ids" in body:
        body = {"member_ids": [ids["member"]]}
    before = await _snapshot(db)
    r = await client.request(method, path.format(**ids), headers=people["clerk2"], json=body)
    assert r.status in allowed, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "a refused request changed stored data"
