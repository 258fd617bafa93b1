"""Admin and mini-program HTTP APIs: auth and roles, order lifecycle, stock, stats, invoices."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge import auth
from cloud_bridge.api_mp import sandbox_openid
from cloud_bridge.app import all_routes, create_app
from cloud_bridge.config import BridgeConfig
from cloud_bridge.ingest import store_events
from cloud_bridge.openapi import build_document

from .bridge_helpers import order_event, receipt_token

ROOT = Path(__file__).resolve().parents[2]


def api_config(db_url: str) -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.database.url = db_url
    cfg.mqtt.enabled = False
    cfg.mp.sandbox = True
    cfg.mp.price_book = ROOT / "config" / "pricebook.example.json"
    cfg.rpc.handler_modules = []
    return cfg


@pytest.fixture
async def client(db, db_url):
    """A running bridge HTTP server (no MQTT) on the test database, with its client."""
    cfg = api_config(db_url)
    app = create_app(cfg, db=db)
    server = TestServer(app)
    async with TestClient(server) as c:
        cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
        yield c


async def add_user(db, name: str, role: str, store: str | None = None) -> None:
    async with db.session() as s:
        await auth.create_admin_user(s, name, f"secret-{name}", role, store)


async def login(client, name: str) -> dict[str, str]:
    r = await client.post("/api/v1/admin/session",
                          json={"username": name, "secret": f"secret-{name}"})
    assert r.status == 200, await r.text()
    return {"Authorization": "Bearer " + (await r.json())["token"]}


async def mp_login(client, code: str) -> tuple[dict[str, str], str]:
    r = await client.post("/api/v1/mp/session", json={"code": code})
    assert r.status == 200, await r.text()
    body = await r.json()
    return {"Authorization": "Bearer " + body["token"]}, body["openid"]


async def seed_kiosk_orders(db) -> None:
    items = [("s1", "k1", order_event("s1", "k1", i, order_no=f"S1-{i}").encode())
             for i in range(3)]
    items.append(("s2", "k1", order_event("s2", "k1", 0, order_no="S2-0").encode()))
    await store_events(db, items[:3], worker="t", tz="Asia/Shanghai")
    await store_events(db, items[3:], worker="t", tz="Asia/Shanghai")


async def test_roles_scope_orders_and_problem_details(client, db):
    await seed_kiosk_orders(db)
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    boss, clerk = await login(client, "boss"), await login(client, "clerk1")

    r = await client.post("/api/v1/admin/session", json={"username": "boss", "secret": "nope-nope"})
    assert r.status == 401 and r.content_type == "application/problem+json"
    problem = await r.json()
    assert set(problem) >= {"type", "title", "status", "detail"} and problem["status"] == 401

    r = await client.get("/api/v1/admin/orders")
    assert r.status == 401 and (await r.json())["title"] == "Unauthorized"

    all_orders = await (await client.get("/api/v1/admin/orders", headers=boss)).json()
    assert all_orders["total"] == 4
    mine = await (await client.get("/api/v1/admin/orders", headers=clerk)).json()
    assert {o["store"] for o in mine["items"]} == {"s1"} and mine["total"] == 3
    r = await client.get("/api/v1/admin/orders?store=s2", headers=clerk)
    assert r.status == 403
    r = await client.get("/api/v1/admin/orders/S2-0", headers=clerk)
    assert r.status == 404
    r = await client.get("/api/v1/admin/orders/S2-0", headers=boss)
    assert r.status == 200 and (await r.json())["lines"][0]["product_id"] == "p-milk"
    r = await client.get("/api/v1/admin/orders?limit=0", headers=boss)
    assert r.status == 400 and "limit" in (await r.json())["detail"]
    r = await client.get("/api/v1/admin/nowhere", headers=boss)
    assert r.status == 404 and r.content_type == "application/problem+json"
    r = await client.get("/api/v1/admin/fleet", headers=clerk)
    assert r.status == 200 and [k["store"] for k in (await r.json())["items"]] == ["s1"]


async def test_refund_return_stock_stats(client, db):
    await seed_kiosk_orders(db)
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    h = await login(client, "clerk1")
    r = await client.put("/api/v1/admin/stock/s1/p-milk", json={"on_hand": 10}, headers=h)
    assert r.status == 200 and (await r.json())["on_hand"] == 10
    r = await client.put("/api/v1/admin/stock/s2/p-milk", json={"on_hand": 10}, headers=h)
    assert r.status == 403

    # Refund requests: never more than is left to refund.
    r = await client.post("/api/v1/admin/orders/S1-0/refunds", json={"amount": 500,
                                                                     "reason": "破损"}, headers=h)
    assert r.status == 201 and (await r.json())["status"] == "requested"
    r = await client.post("/api/v1/admin/orders/S1-0/refunds", json={"amount": 1201,
                                                                     "reason": "x"}, headers=h)
    assert r.status == 409 and "1200" in (await r.json())["detail"]

    # Return 1 of 2 milk with restock; then the rest and the bread: the order is returned.
    r = await client.post("/api/v1/admin/orders/S1-1/returns", headers=h, json={
        "kind": "return", "reason": "过期", "restock": True, "lines": [{"line_no": 1, "qty": 1}]})
    assert r.status == 201 and (await r.json())["order_status"] == "completed"
    r = await client.post("/api/v1/admin/orders/S1-1/returns", headers=h, json={
        "kind": "return", "reason": "x", "lines": [{"line_no": 1, "qty": 2}]})
    assert r.status == 409
    r = await client.post("/api/v1/admin/orders/S1-1/returns", headers=h, json={
        "kind": "return", "reason": "不要了", "restock": False,
        "lines": [{"line_no": 1, "qty": 1}, {"line_no": 2, "qty": 1}]})
    assert (await r.json())["order_status"] == "returned"
    stock = await (await client.get("/api/v1/admin/stock?product_id=p-milk", headers=h)).json()
    assert stock["items"][0]["on_hand"] == 11

    r = await client.post("/api/v1/admin/orders/S1-2/notes", json={"text": "礼品包装"}, headers=h)
    assert r.status == 201
    detail = await (await client.get("/api/v1/admin/orders/S1-1", headers=h)).json()
    actions = [(x["action"], x["actor"]) for x in detail["history"]]
    assert actions[0] == ("created", "kiosk:s1/k1")
    assert ("return", "admin:clerk1") in actions and len(detail["returns"]) == 2

    # Stock going below zero raises an alert instead of hiding it.
    r = await client.post("/api/v1/admin/stock/s1/p-bread/adjust",
                          json={"delta": -5, "reason": "damaged"}, headers=h)
    assert (await r.json())["alerts"] == 1
    alerts = await (await client.get("/api/v1/admin/alerts?kind=oversell", headers=h)).json()
    assert any(a["product_id"] == "p-bread" for a in alerts["items"])

    stats = await (await client.get("/api/v1/admin/stats/daily", headers=h)).json()
    (day,) = stats["items"]
    assert day == {"store": "s1", "date": "2026-03-01", "currency": "CNY", "orders": 3,
                   "revenue": 3 * 1700, "average_order_value": 1700, "refunds": 0,
                   "refunded_orders": 0, "net_revenue": 3 * 1700}


async def test_mini_program_orders_are_private(client, db):
    await seed_kiosk_orders(db)
    await add_user(db, "boss", auth.HEAD_OFFICE)
    boss = await login(client, "boss")
    alice, alice_id = await mp_login(client, "alice-code")
    _again, alice_id2 = await mp_login(client, "alice-code")
    bob, bob_id = await mp_login(client, "bob-code")
    assert alice_id == alice_id2 != bob_id
    r = await client.post("/api/v1/mp/session", json={"code": "invalid-1"})
    assert r.status == 401

    r = await client.post("/api/v1/mp/orders", headers=alice, json={
        "store": "s1", "fulfillment": "delivery",
        "lines": [{"product_id": "coke-330", "qty": 2}],
        "shipping_address": {"name": "张三", "phone": "13800000000", "address": "上海市"}})
    assert r.status == 201, await r.text()
    order = await r.json()
    assert order["status"] == "created" and order["total"] == 500
    no = order["order_no"]

    assert (await client.get(f"/api/v1/mp/orders/{no}", headers=bob)).status == 404
    assert (await (await client.get("/api/v1/mp/orders", headers=bob)).json())["total"] == 0
    assert (await client.get(f"/api/v1/admin/orders/{no}", headers=alice)).status == 401

    # Head office takes it through delivery.
    for body in ({"status": "paid"}, {"status": "shipped", "carrier": "顺丰",
                                      "tracking_no": "SF123"},
                 {"status": "delivered"}, {"status": "completed"}):
        r = await client.post(f"/api/v1/admin/orders/{no}/status", json=body, headers=boss)
        assert r.status == 200, await r.text()
    r = await client.post(f"/api/v1/admin/orders/{no}/status", json={"status": "paid"},
                          headers=boss)
    assert r.status == 409
    mine = await (await client.get(f"/api/v1/mp/orders/{no}", headers=alice)).json()
    assert mine["status"] == "completed" and mine["tracking_no"] == "SF123"
    assert [h["to_status"] for h in mine["history"]] == [
        "created", "paid", "pending_shipment", "shipped", "delivered", "completed"]
    assert "notes" not in mine and "actor" not in mine["history"][0]

    # Invoice on her order; Bob cannot; a company invoice needs a tax id.
    inv = {"kind": "company", "title": "某某科技有限公司", "email": "a@example.com"}
    r = await client.post(f"/api/v1/mp/orders/{no}/invoice", json=inv, headers=alice)
    assert r.status == 400
    inv["tax_id"] = "91310000MA1FL8XQ3A"
    assert (await client.post(f"/api/v1/mp/orders/{no}/invoice", json=inv,
                              headers=bob)).status == 404
    r = await client.post(f"/api/v1/mp/orders/{no}/invoice", json=inv, headers=alice)
    assert r.status == 201 and (await r.json())["amount"] == 500
    assert (await client.post(f"/api/v1/mp/orders/{no}/invoice", json=inv,
                              headers=alice)).status == 409
    listed = await (await client.get("/api/v1/admin/invoices", headers=boss)).json()
    assert listed["items"][0]["order_no"] == no and listed["items"][0]["status"] == "requested"
    r = await client.post(f"/api/v1/admin/invoices/{listed['items'][0]['id']}/status",
                          json={"status": "issued"}, headers=boss)
    assert (await r.json())["status"] == "issued"

    # Bob claims a kiosk order with its receipt's QR token; Alice cannot then.
    token = {"token": receipt_token("S1-0")}
    assert (await client.post("/api/v1/mp/orders/S1-0/claim", json={"token": "x" * 24},
                              headers=bob)).status == 404
    assert (await client.post("/api/v1/mp/orders/S1-0/claim", json={"total": 1700},
                              headers=bob)).status == 400  # a total proves nothing
    assert (await client.post("/api/v1/mp/orders/S1-0/claim", json=token,
                              headers=bob)).status == 200
    assert (await client.post("/api/v1/mp/orders/S1-0/claim", json=token,
                              headers=alice)).status == 404
    assert (await client.get("/api/v1/mp/orders/S1-0", headers=bob)).status == 200
    assert bob_id == sandbox_openid("wx0000000000000000", "sandbox-app-secret", "bob-code")


async def test_openapi_describes_every_route(client):
    r = await client.get("/api/v1/openapi.json")
    doc = await r.json()
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for route in client.app.router.routes():
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        # The console's HTML pages (/console/...) are not API operations.
        if route.method != "HEAD" and not (path or info.get("prefix", "")).startswith("/console"):
            served.add((route.method, path))
    assert served == described
    assert doc == build_document(all_routes(api_config("sqlite+aiosqlite://")))
    assert doc["paths"]["/api/v1/admin/orders"]["get"]["security"] == [{"adminToken": []}]


def test_openapi_types_every_success_body_and_documents_extra_statuses():
    doc = build_document(all_routes(api_config("sqlite+aiosqlite://")))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            # A WebSocket route succeeds with 101 Switching Protocols (no body).
            ok = next(r for status, r in op["responses"].items()
                      if status.startswith("2") or status == "101")
            for media in ok.get("content", {}).values():
                assert media["schema"], f"{method.upper()} {path}: untyped success body"
    schemas = doc["components"]["schemas"]
    assert schemas["StaffOrderDetail"]["additionalProperties"] is False
    assert "notes" not in schemas["OrderDetail"]["properties"]
    publish = doc["paths"]["/api/v1/admin/stores/{store}/catalog"]["put"]
    assert publish["responses"]["422"]["content"]["application/problem+json"]
    download = doc["paths"]["/api/v1/catalog/{store}/{version}"]["get"]
    assert download["security"] == [{}, {"kioskBasic": []}]
    assert {"304", "401"} <= set(download["responses"])
    assert doc["components"]["securitySchemes"]["kioskBasic"]["scheme"] == "basic"


async def test_a_control_character_in_a_path_key_is_not_found(client, db):
    """A key with NUL (which PostgreSQL text cannot hold) or another control character is
    a 404 problem on every database, never a 500 from the query (found by the fuzz run on
    the e-invoice PDF route, whose order number is free-form text)."""
    await seed_kiosk_orders(db)
    alice, _ = await mp_login(client, "alice-code")
    for key in ("S1%00-0", "S1%0A-0", "S1%7F"):
        r = await client.get(f"/api/v1/mp/orders/{key}/invoice/fapiao/1/pdf", headers=alice)
        assert r.status == 404, await r.text()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert (await r.json())["detail"].startswith("no order_no")
    # A plain key passes the guard and the handler answers (not alice's order).
    r = await client.get("/api/v1/mp/orders/S1-0/invoice/fapiao/1/pdf", headers=alice)
    assert r.status == 404 and (await r.json())["detail"] == "order S1-0 not found"
