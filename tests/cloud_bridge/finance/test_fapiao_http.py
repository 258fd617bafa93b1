"""E-invoices over HTTP: the shopper asks in the mini-program, finance issues, the shopper
downloads the PDF; red-letter invoices by finance; what each route refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.finance import expenses
from cloud_bridge.keys import SERVICES_KEY
from cloud_bridge.models import Order
from tests.cloud_bridge.payments_fixtures import sandbox, sandbox_keys  # noqa: F401
from tests.cloud_bridge.test_payments_api import payments_config

from ..test_api import add_user, login, mp_login
from .helpers import ingest_sales, sale_data

pytestmark = pytest.mark.timeout(90)
F = "/api/v1/admin/finance/fapiao"


@pytest.fixture
async def mp_pay_client(db, db_url, sandbox, tmp_path, monkeypatch):  # noqa: F811
    """The bridge app with the sandbox payments and the mini-program's sandbox login."""
    monkeypatch.setenv(expenses.FILES_ENV, str(tmp_path / "files"))
    sandbox.wechat.fapiao.issue_delay_s = 0.0
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = payments_config(db_url, manifest)
    cfg.mp.sandbox = True
    app = create_app(cfg, db=db)
    server = TestServer(app)
    async with TestClient(server) as c:
        cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
        c.payments = app[SERVICES_KEY].payments
        yield c


async def test_shopper_asks_finance_issues_shopper_downloads(mp_pay_client, db, sandbox):  # noqa: F811
    client = mp_pay_client
    alice, alice_openid = await mp_login(client, "alice-code")
    bob, _ = await mp_login(client, "bob-code")
    await ingest_sales(db, "s1", [sale_data("s1-k1-9", [("milk", 2, 565, 1300)],
                                            [("wechat", 1130)], datetime.now(UTC))])
    async with db.session() as s:  # Alice claimed her receipt
        await s.execute(update(Order).where(Order.order_no == "s1-k1-9")
                        .values(openid=alice_openid))
    r = await client.post("/api/v1/mp/orders/s1-k1-9/invoice", headers=alice, json={
        "kind": "personal", "title": "Alice", "email": "alice@example.com"})
    assert r.status in (200, 201), await r.text()
    invoice_id = (await r.json())["id"]
    await add_user(db, "fin", auth.FINANCE)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    await add_user(db, "fin2", auth.FINANCE, "s2")
    fin, clerk, fin2 = [await login(client, n) for n in ("fin", "clerk", "fin2")]

    # Refused: store staff (not finance), another store's finance, a body that is not valid.
    assert (await client.post(F, json={"invoice_id": invoice_id}, headers=clerk)).status == 403
    assert (await client.post(F, json={"invoice_id": invoice_id}, headers=fin2)).status == 403
    assert (await client.post(F, json={"invoice_id": "x"}, headers=fin)).status == 400
    assert (await client.post(F, json={"invoice_id": 10**9}, headers=fin)).status == 404

    r = await client.post(F, json={"invoice_id": invoice_id}, headers=fin)
    assert r.status == 201, await r.text()
    doc = await r.json()
    assert doc["status"] == "accepted" and doc["total"] == 1130 and doc["tax"] == 130
    # A second blue invoice for the same request: refused.
    assert (await client.post(F, json={"invoice_id": invoice_id}, headers=fin)).status == 409
    await sandbox.wechat.fapiao.idle()
    r = await client.post(f"{F}/sync", headers=fin)
    assert r.status == 200, await r.text()
    listed = (await (await client.get(F, params={"invoice_id": invoice_id},
                                      headers=fin)).json())["items"]
    assert [d["status"] for d in listed] == ["issued"] and len(listed[0]["number"]) == 20

    # The shopper sees it in the mini-program and downloads the PDF; Bob sees nothing.
    mine = (await (await client.get("/api/v1/mp/orders/s1-k1-9/invoice/fapiao",
                                    headers=alice)).json())["items"]
    assert [d["number"] for d in mine] == [listed[0]["number"]]
    r = await client.get(f"/api/v1/mp/orders/s1-k1-9/invoice/fapiao/{mine[0]['id']}/pdf",
                         headers=alice)
    assert r.status == 200 and (await r.read()).startswith(b"%PDF-")
    assert (await client.get("/api/v1/mp/orders/s1-k1-9/invoice/fapiao",
                             headers=bob)).status == 404
    assert (await client.get(f"/api/v1/mp/orders/s1-k1-9/invoice/fapiao/{mine[0]['id']}/pdf",
                             headers=bob)).status == 404
    r = await client.get(f"{F}/{mine[0]['id']}/pdf", headers=fin)
    assert r.status == 200 and r.content_type == "application/pdf"
    assert (await client.get(f"{F}/{mine[0]['id']}/pdf", headers=fin2)).status == 403

    # Red-letter: a bad reason code, more than the invoice, then part of it (retried: once).
    red = f"{F}/{mine[0]['id']}/red"
    body = {"amount": 500, "reason_code": "02", "request_id": "ret-1"}
    assert (await client.post(red, json={**body, "reason_code": "09"}, headers=fin)).status == 400
    assert (await client.post(red, json={**body, "amount": 1131}, headers=fin)).status == 409
    first = await (await client.post(red, json=body, headers=fin)).json()
    again = await (await client.post(red, json=body, headers=fin)).json()
    assert first["id"] == again["id"] and first["status"] == "accepted"
    await sandbox.wechat.fapiao.idle()
    await client.post(f"{F}/sync", headers=fin)
    mine = (await (await client.get("/api/v1/mp/orders/s1-k1-9/invoice/fapiao",
                                    headers=alice)).json())["items"]
    assert [(d["color"], d["total"]) for d in mine] == [("blue", 1130), ("red", 500)]
    # Sync runs for the chain: a store-bound finance user may not start it.
    assert (await client.post(f"{F}/sync", headers=fin2)).status == 403


async def test_finance_requests_and_issues_at_the_counter(mp_pay_client, db, sandbox):  # noqa: F811
    client = mp_pay_client
    await ingest_sales(db, "s1", [sale_data("s1-k1-10", [("milk", 1, 2260, 1300)],
                                            [("cash", 2260)], datetime.now(UTC))])
    await add_user(db, "fin", auth.FINANCE)
    fin = await login(client, "fin")
    buyer = {"kind": "company", "title": "某某科技有限公司", "tax_id": "91310115MA1K4LXX3B",
             "email": "ap@example.com"}
    for bad in ({"order_no": "s1-k1-10"},  # no buyer
                {"order_no": "s1-k1-10", "invoice_id": 1, "buyer": buyer},  # both
                {"order_no": "s1-k1-10", "buyer": {**buyer, "tax_id": "1234"}}):
        r = await client.post(F, json=bad, headers=fin)
        assert r.status == 400, (bad, await r.text())
    assert (await client.post(F, json={"order_no": "nope", "buyer": buyer},
                              headers=fin)).status == 404
    r = await client.post(F, json={"order_no": "s1-k1-10", "buyer": buyer}, headers=fin)
    assert r.status == 201, await r.text()
    doc = await r.json()
    assert (doc["status"], doc["total"], doc["tax"]) == ("accepted", 2260, 260)
    # The order has its request now: a second one is refused.
    r = await client.post(F, json={"order_no": "s1-k1-10", "buyer": buyer}, headers=fin)
    assert r.status == 409
    await sandbox.wechat.fapiao.idle()
    await client.post(f"{F}/sync", headers=fin)
    items = (await (await client.get(F, params={"invoice_id": doc["invoice_id"]},
                                     headers=fin)).json())["items"]
    assert items[0]["status"] == "issued"
