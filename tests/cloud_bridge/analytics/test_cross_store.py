"""Every analytics admin route, called by store staff of ANOTHER store: 403/404, and nothing
stored changes. Table-driven and checked against the router."""

from __future__ import annotations

from datetime import timedelta

from cloud_bridge import auth
from cloud_bridge.analytics.jobs import run_nightly
from cloud_bridge.analytics.seed import write_chain
from cloud_bridge.app import all_routes

from ..test_api import add_user, api_config, client, login
from ..test_api_admin_scoping import _snapshot

__all__ = ["client"]

A = "/api/v1/admin/analytics"
NOT_STORE_SCOPED = {
    ("GET", f"{A}/basket-rules"): "chain-wide product pairs, no store's figures",
    ("GET", f"{A}/keywords"): "mini-program searches belong to no store",
    ("GET", f"{A}/runs"): "job progress, no store's figures",
    ("GET", f"{A}/runs/{{run_id}}"): "job progress, no store's figures",
}
Q = "?store=S2&start=2026-02-01&end=2026-02-28"
CROSS_STORE = [
    ("GET", f"{A}/metrics/{{metric}}", f"{A}/metrics/sales_by_product{Q}", None, {403}),
    ("GET", f"{A}/metrics/{{metric}}/csv", f"{A}/metrics/payment_mix/csv{Q}", None, {403}),
    ("GET", f"{A}/metrics/{{metric}}/xlsx", f"{A}/metrics/sales_by_hour/xlsx{Q}", None, {403}),
    ("GET", f"{A}/metrics/{{metric}}/chart", f"{A}/metrics/sales_by_day/chart{Q}", None,
     {403}),
    ("GET", f"{A}/metrics/{{metric}}/chart.png", f"{A}/metrics/kiosk_sessions/chart.png{Q}",
     None, {403}),
    ("GET", f"{A}/demographics", f"{A}/demographics?by=gender&store=S2", None, {403}),
    ("GET", f"{A}/demographics/chart.png", f"{A}/demographics/chart.png?by=region&store=S2",
     None, {403}),
    ("POST", f"{A}/campaign-effect", f"{A}/campaign-effect",
     {"start": "2026-02-01", "end": "2026-02-07", "stores": ["S2"]}, {403}),
    ("POST", f"{A}/campaign-effect", f"{A}/campaign-effect",
     {"start": "2026-02-01", "end": "2026-02-07", "stores": ["S1"], "control_stores": ["S2"]},
     {403}),
    ("GET", f"{A}/members", f"{A}/members?store=S2", None, {403}),
    ("GET", f"{A}/segments", f"{A}/segments?store=S2", None, {403}),
    ("GET", f"{A}/win-back", f"{A}/win-back", None, {403}),
    ("GET", f"{A}/forecasts", f"{A}/forecasts?store=S2", None, {403}),
    ("POST", f"{A}/competitors/{{competitor}}/prices", f"{A}/competitors/rival/prices",
     None, {403}),
    ("GET", f"{A}/competitors/price-index", f"{A}/competitors/price-index", None, {403}),
    ("POST", f"{A}/runs", f"{A}/runs", {}, {403}),
]


def test_every_analytics_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(A)}
    covered = {(m, p) for m, p, *_ in CROSS_STORE} | set(NOT_STORE_SCOPED)
    assert routes == covered


async def test_store_staff_of_another_store_are_refused_and_nothing_changes(client, db,
                                                                            small_year):
    await write_chain(db, small_year)
    await run_nightly(db, as_of=small_year.spec.start + timedelta(days=small_year.spec.days - 1))
    await add_user(db, "clerk1", auth.STORE_STAFF, "S1")
    clerk = await login(client, "clerk1")
    before = await _snapshot(db)
    wrong = []
    for method, _route, path, body, allowed in CROSS_STORE:
        r = await client.request(method, path, json=body, headers=clerk)
        if r.status not in allowed or r.content_type != "application/problem+json":
            wrong.append((method, path, r.status, (await r.text())[:200]))
    assert wrong == []
    assert await _snapshot(db) == before, "a refused request changed stored data"
