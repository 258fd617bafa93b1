"""Every admin route, called by store staff of ANOTHER store: 403/404 and nothing changes.

Table-driven over the router: a new admin route must be listed here (scoped to a
store) or in ``NOT_STORE_SCOPED`` with the reason, so none slips in unscoped.
"""

from __future__ import annotations

import pytest
from sqlalchemy import exists, literal, select, union_all

from cloud_bridge import auth
from cloud_bridge.app import all_routes
from cloud_bridge.models import Base

from .bridge_helpers import receipt_token
from .domain_tests import CROSS_STORE_TEST, checked_by_domain
from .test_api import add_user, api_config, client, login, mp_login, seed_kiosk_orders

__all__ = ["client"]  # the fixture, shared with test_api

A = "/api/v1/admin"
MP_ADDRESS = {"name": "张三", "phone": "13800000000", "address": "上海市"}

# Admin routes with no store in them, and why that is right.
NOT_STORE_SCOPED = {
    ("POST", f"{A}/session"): "the login itself",
    ("GET", f"{A}/me"): "the caller's own identity",
    # Members (and their stored value) belong to the chain, not to one store.
    ("GET", f"{A}/members/{{member_id}}/balance"): "chain-wide member",
    ("POST", f"{A}/members/{{member_id}}/balance/topups"): "chain-wide member",
}

# (method, route path, concrete path with another store's things, JSON body, allowed statuses)
CROSS_STORE = [
    ("GET", f"{A}/orders", f"{A}/orders?store=s2", None, {403}),
    ("GET", f"{A}/orders/{{order_no}}", f"{A}/orders/{{mp_no}}", None, {404}),
    ("POST", f"{A}/orders/{{order_no}}/status", f"{A}/orders/{{mp_no}}/status",
     {"status": "paid"}, {404}),
    ("POST", f"{A}/orders/{{order_no}}/status", f"{A}/orders/{{mp_no}}/status",
     {"status": "cancelled", "reason": "x"}, {404}),
    ("POST", f"{A}/orders/{{order_no}}/notes", f"{A}/orders/S2-0/notes", {"text": "hi"}, {404}),
    ("POST", f"{A}/orders/{{order_no}}/refunds", f"{A}/orders/S2-0/refunds",
     {"amount": 100, "reason": "x"}, {404}),
    ("POST", f"{A}/orders/{{order_no}}/returns", f"{A}/orders/S2-0/returns",
     {"kind": "return", "reason": "x", "restock": True, "lines": [{"line_no": 1, "qty": 1}]},
     {404}),
    ("GET", f"{A}/refunds", f"{A}/refunds?store=s2", None, {403}),
    ("GET", f"{A}/stock", f"{A}/stock?store=s2", None, {403}),
    ("PUT", f"{A}/stock/{{store}}/{{product_id}}", f"{A}/stock/s2/p-milk", {"on_hand": 99},
     {403}),
    ("POST", f"{A}/stock/{{store}}/{{product_id}}/adjust", f"{A}/stock/s2/p-milk/adjust",
     {"delta": 5, "reason": "x"}, {403}),
    ("GET", f"{A}/alerts", f"{A}/alerts?store=s2", None, {403}),
    ("POST", f"{A}/alerts/{{alert_id}}/resolve", f"{A}/alerts/{{alert_id}}/resolve", None,
     {403, 404}),
    ("GET", f"{A}/stats/daily", f"{A}/stats/daily?store=s2", None, {403}),
    ("GET", f"{A}/invoices", f"{A}/invoices?store=s2", None, {403}),
    ("POST", f"{A}/invoices/{{invoice_id}}/status", f"{A}/invoices/{{invoice_id}}/status",
     {"status": "issued"}, {403, 404}),
    ("GET", f"{A}/fleet", f"{A}/fleet?store=s2", None, {403}),
    ("GET", f"{A}/kiosks/{{store}}/{{kiosk}}", f"{A}/kiosks/s2/k1", None, {403}),
    ("POST", f"{A}/kiosks/{{store}}/{{kiosk}}/commands", f"{A}/kiosks/s2/k1/commands",
     {"name": "ping"}, {403}),
    ("GET", f"{A}/kiosks/{{store}}/{{kiosk}}/shadow", f"{A}/kiosks/s2/k1/shadow", None, {403}),
    ("PUT", f"{A}/kiosks/{{store}}/{{kiosk}}/shadow", f"{A}/kiosks/s2/k1/shadow",
     {"version": 7, "config": {"x": 1}}, {403}),
    ("PUT", f"{A}/stores/{{store}}/catalog", f"{A}/stores/s2/catalog",
     {"version": "2026.1", "currency": "CNY", "products": []}, {403}),
    ("GET", f"{A}/stores/{{store}}/catalog", f"{A}/stores/s2/catalog", None, {403}),
]


# Tables the app's own clocks write whatever the request (the console's per-minute fleet
# sample; the finance posting job once a minute): not what a refused request may change.
BACKGROUND_TABLES = frozenset({"console_fleet_samples", "finance_accounts", "finance_entries",
                               "finance_lines", "finance_item_costs"})


# Tables asked about in one statement when finding the non-empty ones (SQLite allows
# 500 terms in a compound SELECT).
_EXISTS_CHUNK = 100


async def _snapshot(db) -> dict[str, list[str]]:
    """Every row of every table but :data:`BACKGROUND_TABLES` (what "nothing changed" is
    checked against); an empty table is an empty list.

    One statement first names the tables that have rows (most of the ~140 are empty in a
    test), then only those are read: a query per table took most of a cross-store test.
    """
    tables = [t for t in Base.metadata.sorted_tables if t.name not in BACKGROUND_TABLES]
    out: dict[str, list[str]] = {t.name: [] for t in tables}
    async with db.session() as s:
        filled: set[str] = set()
        for i in range(0, len(tables), _EXISTS_CHUNK):
            chunk = tables[i:i + _EXISTS_CHUNK]
            probe = union_all(*(
                select(literal(t.name).label("name")).where(exists().select_from(t))
                for t in chunk))
            filled.update((await s.execute(probe)).scalars())
        for table in tables:
            if table.name in filled:
                rows = (await s.execute(select(table))).all()
                out[table.name] = sorted(repr(tuple(r)) for r in rows)
    return out


def test_every_admin_route_is_in_the_cross_store_table(db_url):
    # A domain folder's routes are checked by its own test_cross_store.py (domain_tests).
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(A) and not checked_by_domain(r, CROSS_STORE_TEST)}
    covered = {(m, p) for m, p, *_ in CROSS_STORE} | set(NOT_STORE_SCOPED)
    assert routes - covered == set(), "admin routes without a cross-store check"
    assert covered - routes == set(), "the table names routes that do not exist"


async def _seed_store_two(client, db) -> dict[str, str]:
    """Things of store s2 a clerk of s1 must not reach: an open mp order, an alert, ..."""
    await seed_kiosk_orders(db)
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    alice, _ = await mp_login(client, "alice-code")
    r = await client.post("/api/v1/mp/orders", headers=alice, json={
        "store": "s2", "fulfillment": "delivery", "shipping_address": MP_ADDRESS,
        "lines": [{"product_id": "coke-330", "qty": 1}]})
    assert r.status == 201, await r.text()
    mp_no = (await r.json())["order_no"]
    r = await client.post("/api/v1/mp/orders/S2-0/claim", json={"token": receipt_token("S2-0")},
                          headers=alice)
    assert r.status == 200, await r.text()
    inv = {"kind": "personal", "title": "张三", "email": "a@example.com"}
    r = await client.post("/api/v1/mp/orders/S2-0/invoice", json=inv, headers=alice)
    assert r.status == 201, await r.text()
    invoice_id = (await r.json())["id"]
    r = await client.post(f"{A}/stock/s2/p-bread/adjust", json={"delta": -50, "reason": "x"},
                          headers=boss)
    assert r.status == 200 and (await r.json())["alerts"] == 1
    alerts = await (await client.get(f"{A}/alerts?store=s2", headers=boss)).json()
    return {"mp_no": mp_no, "invoice_id": str(invoice_id),
            "alert_id": str(alerts["items"][0]["id"])}


@pytest.mark.parametrize("method,route,path,body,allowed", CROSS_STORE,
                         ids=[f"{m} {p}" for m, _, p, *_ in CROSS_STORE])
async def test_store_staff_cannot_reach_another_store(client, db, method, route, path, body,
                                                      allowed):
    ids = await _seed_store_two(client, db)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    clerk = await login(client, "clerk1")
    before = await _snapshot(db)
    r = await client.request(method, path.format(**ids), json=body, headers=clerk)
    assert r.status in allowed, (r.status, await r.text())
    assert r.content_type == "application/problem+json"
    assert await _snapshot(db) == before, "a refused request changed stored data"
