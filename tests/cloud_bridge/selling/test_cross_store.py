"""Every selling admin route, called by store staff of ANOTHER store: 403, and nothing
stored changes (staff calls and parked carts of store s2, a clerk of s1). Table-driven
and checked against the router."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cloud_bridge import auth
from cloud_bridge.app import all_routes
from cloud_bridge.models import StoredEvent
from cloud_bridge.selling.staff_calls import apply_staff_call
from contract.wire.staff import StaffCall

from ..test_api import add_user, api_config, client, login
from ..test_api_admin_scoping import _snapshot

__all__ = ["client"]

A = "/api/v1/admin"
PARK_NO = "P20261205-k1-001"
NOT_STORE_SCOPED: dict[tuple[str, str], str] = {}
CROSS_STORE = [
    ("GET", f"{A}/staff-calls", f"{A}/staff-calls?store=s2", None, {403}),
    ("GET", f"{A}/stores/{{store}}/parked/{{park_no}}", f"{A}/stores/s2/parked/{PARK_NO}",
     None, {403}),
    ("POST", f"{A}/stores/{{store}}/parked/{{park_no}}/settle",
     f"{A}/stores/s2/parked/{PARK_NO}/settle", {"method": "cash", "amount": 500}, {403}),
]
SELLING = {(m, p) for m, p, *_ in CROSS_STORE}


def test_every_selling_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.handler.__module__.startswith("cloud_bridge.selling.")}
    assert routes == SELLING | set(NOT_STORE_SCOPED)


async def store_two(db) -> None:
    """A parked cart and an open staff call at store s2."""
    now = datetime.now(UTC)
    payload = {"event_id": "e-park-1", "type": "order.parked", "store": "s2", "kiosk": "k1",
               "data": {"park_no": PARK_NO, "total": 500, "currency": "CNY",
                        "cart": {"lines": []}}}
    async with db.session() as s:
        s.add(StoredEvent(event_id="e-park-1", store="s2", kiosk="k1", seq=1,
                          type="order.parked", ts=now, payload=json.dumps(payload)))
        await apply_staff_call(s, "s2", "k1", StaffCall(active=True, call_id="c1",
                                                        called_at=now, ts=now))


async def test_store_staff_of_another_store_are_refused_and_nothing_changes(client, db):
    await store_two(db)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    await add_user(db, "boss", auth.HEAD_OFFICE)
    clerk, boss = await login(client, "clerk1"), await login(client, "boss")
    before = await _snapshot(db)
    wrong = []
    for method, _route, path, body, allowed in CROSS_STORE:
        r = await client.request(method, path, json=body, headers=clerk)
        if r.status not in allowed or r.content_type != "application/problem+json":
            wrong.append((method, path, r.status, (await r.text())[:200]))
    assert wrong == []
    assert await _snapshot(db) == before, "a refused request changed stored data"
    # Their own store's list is empty for the clerk; head office sees s2's call and cart.
    r = await client.get(f"{A}/staff-calls", headers=clerk)
    assert (await r.json())["items"] == []
    r = await client.get(f"{A}/staff-calls", headers=boss)
    assert [(c["store"], c["kiosk"]) for c in (await r.json())["items"]] == [("s2", "k1")]
    r = await client.get(f"{A}/stores/s2/parked/{PARK_NO}", headers=boss)
    assert r.status == 200 and (await r.json())["total"] == 500
