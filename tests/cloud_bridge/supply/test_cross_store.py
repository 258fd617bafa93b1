"""Every supply admin route, called by store staff of ANOTHER store: 403/404, and nothing
stored changes. Table-driven and checked against the router."""

from __future__ import annotations

import pytest

from cloud_bridge import auth
from cloud_bridge.app import all_routes

from ..test_api import add_user, api_config, client, login
from ..test_api_admin_scoping import _snapshot
from .helpers import store_two_world

__all__ = ["client"]

A = "/api/v1/admin/supply"
NOT_STORE_SCOPED: dict[tuple[str, str], str] = {}
LOT = {"product_id": "milk", "lot_no": "L1", "qty": 1, "reason": "x"}
COUNT = {"lines": [{"product_id": "milk", "lot_no": "L1", "counted": 0}]}
SETTINGS = {"approval_limit_fen": 1, "near_expiry_days": 1, "qualification_warning_days": 1,
            "price_tolerance_bp": 1, "qty_tolerance": 0, "amount_tolerance_fen": 0,
            "otif_threshold": 0.5, "otif_min_receipts": 1, "price_rise_threshold_bp": 1,
            "aql": "1.0", "inspection_level": "II", "timezone": "UTC"}

# (method, route path, concrete path with store s2's things, body, allowed statuses)
CROSS_STORE = [
    ("GET", f"{A}/lots", f"{A}/lots?store=s2", None, {403}),
    ("GET", f"{A}/movements", f"{A}/movements?store=s2", None, {403}),
    ("POST", f"{A}/stores/{{store}}/write-offs", f"{A}/stores/s2/write-offs", LOT, {403}),
    ("POST", f"{A}/stores/{{store}}/counts", f"{A}/stores/s2/counts", COUNT, {403}),
    ("POST", f"{A}/transfers", f"{A}/transfers",
     {"from_store": "s2", "to_store": "s1", "lines": [{"product_id": "milk", "qty": 1}]},
     {403}),
    ("POST", f"{A}/transfers/{{transfer_id}}/receive", f"{A}/transfers/{{transfer}}/receive",
     None, {404}),
    ("GET", f"{A}/transfers", f"{A}/transfers?store=s2", None, {403}),
    ("GET", f"{A}/alerts", f"{A}/alerts?store=s2", None, {403}),
    ("POST", f"{A}/alerts/{{alert_id}}/state", f"{A}/alerts/{{alert}}/state",
     {"state": "resolved"}, {404}),
    ("POST", f"{A}/stores/{{store}}/alerts/scan", f"{A}/stores/s2/alerts/scan", {}, {403}),
    ("GET", f"{A}/settings", f"{A}/settings", None, {403}),
    ("PUT", f"{A}/settings", f"{A}/settings", SETTINGS, {403}),
    ("PUT", f"{A}/products/{{product_id}}", f"{A}/products/milk", {"name_zh": "牛奶"}, {403}),
    ("PUT", f"{A}/rules/{{store}}/{{product_id}}", f"{A}/rules/s2/milk", {"min_qty": 1},
     {403}),
    ("GET", f"{A}/rules", f"{A}/rules?store=s2", None, {403}),
    ("GET", f"{A}/suppliers", f"{A}/suppliers", None, {403}),
    ("PUT", f"{A}/suppliers/{{supplier_id}}", f"{A}/suppliers/sup1",
     {"name": "x", "lead_time_days": 1}, {403}),
    ("GET", f"{A}/suppliers/{{supplier_id}}", f"{A}/suppliers/sup1", None, {403}),
    ("PUT", f"{A}/suppliers/{{supplier_id}}/qualifications/{{kind}}",
     f"{A}/suppliers/sup1/qualifications/food_licence",
     {"number": "x", "expires_on": "2030-01-01"}, {403}),
    ("PUT", f"{A}/suppliers/{{supplier_id}}/products/{{product_id}}",
     f"{A}/suppliers/sup1/products/milk", {"cost_fen": 1}, {403}),
    ("POST", f"{A}/contracts", f"{A}/contracts",
     {"supplier_id": "sup1", "number": "C-2", "terms": "x", "starts_on": "2026-01-01",
      "ends_on": "2027-01-01", "prices": [{"product_id": "milk", "price_fen": 1}]}, {403}),
    ("GET", f"{A}/contracts/{{contract_id}}", f"{A}/contracts/{{contract}}", None, {403}),
    ("POST", f"{A}/risks/scan", f"{A}/risks/scan", {}, {403}),
    ("POST", f"{A}/purchase-orders", f"{A}/purchase-orders",
     {"store": "s2", "supplier_id": "sup1", "lines": [{"product_id": "milk", "qty": 1}]},
     {403}),
    ("GET", f"{A}/purchase-orders", f"{A}/purchase-orders?store=s2", None, {403}),
    ("GET", f"{A}/purchase-orders/{{po_id}}", f"{A}/purchase-orders/{{po}}", None, {404}),
    ("POST", f"{A}/purchase-orders/{{po_id}}/actions", f"{A}/purchase-orders/{{po2}}/actions",
     {"action": "cancel"}, {404}),
    ("POST", f"{A}/purchase-orders/{{po_id}}/quote", f"{A}/purchase-orders/{{po}}/quote",
     {"prices": [{"product_id": "milk", "unit_cost_fen": 1}]}, {403}),
    ("POST", f"{A}/purchase-orders/{{po_id}}/receipts", f"{A}/purchase-orders/{{po2}}/receipts",
     {"lots": [{"product_id": "milk", "lot_no": "X", "qty": 1, "expiry_date": "2030-01-01"}]},
     {404}),
    ("POST", f"{A}/purchase-orders/{{po_id}}/bills", f"{A}/purchase-orders/{{po}}/bills",
     {"bill_no": "B9", "lines": [{"product_id": "milk", "qty": 1, "unit_cost_fen": 1}],
      "vat_fen": 0}, {403}),
    ("POST", f"{A}/bills/{{bill_id}}/pay", f"{A}/bills/{{bill}}/pay", None, {403}),
    ("POST", f"{A}/receipts/{{receipt_id}}/returns", f"{A}/receipts/{{receipt}}/returns",
     {"reason": "x", "lines": [{"product_id": "milk", "lot_no": "L1", "qty": 1}]}, {404}),
    ("POST", f"{A}/purchase-orders/{{po_id}}/shipments",
     f"{A}/purchase-orders/{{po2}}/shipments",
     {"carrier": "SF", "tracking_no": "SF2", "expected_at": "2026-12-08T10:00:00+08:00"},
     {404}),
    ("PUT", f"{A}/shipments/{{shipment_id}}", f"{A}/shipments/{{shipment}}",
     {"status": "delivered"}, {404}),
    ("GET", f"{A}/arrivals", f"{A}/arrivals?store=s2", None, {403}),
    ("POST", f"{A}/stores/{{store}}/proposals", f"{A}/stores/s2/proposals", {}, {403}),
]


def test_every_supply_admin_route_is_in_the_table(db_url):
    routes = {(r.method, r.path) for r in all_routes(api_config(db_url))
              if r.path.startswith(A)}
    covered = {(m, p) for m, p, *_ in CROSS_STORE} | set(NOT_STORE_SCOPED)
    assert routes == covered


async def test_store_staff_of_another_store_are_refused_and_nothing_changes(client, db):
    ids = await store_two_world(db)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    clerk = await login(client, "clerk1")
    before = await _snapshot(db)
    wrong = []
    for method, _route, path, body, allowed in CROSS_STORE:
        r = await client.request(method, path.format(**ids), json=body, headers=clerk)
        if r.status not in allowed or r.content_type != "application/problem+json":
            wrong.append((method, path, r.status, (await r.text())[:200]))
    assert wrong == []
    assert await _snapshot(db) == before, "a refused request changed stored data"


@pytest.mark.parametrize("role", [auth.FINANCE, auth.STORE_STAFF])
async def test_buyer_routes_refuse_other_roles(client, db, role):
    await add_user(db, "someone", role, "s1")
    who = await login(client, "someone")
    r = await client.put(f"{A}/suppliers/sup9", json={"name": "x", "lead_time_days": 1},
                         headers=who)
    assert r.status == 403
