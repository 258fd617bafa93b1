"""Payment notifications over HTTP, members' stored value, refunds executed from the admin API.

Notifications are real: signed (and for WeChat encrypted) with the sandbox's keys and
posted to the bridge app like a provider would. SQLite always, PostgreSQL when reachable.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from cloud_bridge import auth
from cloud_bridge.app import create_app
from cloud_bridge.config import BridgeConfig
from cloud_bridge.keys import SERVICES_KEY
from cloud_bridge.payments import crypto
from cloud_bridge.payments.models import PAID, UNKNOWN, PaymentNotificationSeen
from cloud_bridge.payments.providers.base import ChargeRequest
from cloud_bridge.payments.sandbox.alipay import china_time
from cloud_bridge.payments.sandbox.ledger import FaultRule
from cloud_bridge.payments.sandbox.wechat import CHINA_TZ
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no, wechat_code

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def payments_config(db_url: str, manifest: Path) -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.database.url = db_url
    cfg.mqtt.enabled = False
    cfg.rpc.handler_modules = []
    cfg.payments = cfg.payments.model_validate({
        "manifest": str(manifest), "request_timeout_s": 0.5, "settle_interval_s": 0,
        "refund_interval_s": 0,
        "settlement": {"query_window_s": 0.5, "query_interval_s": 0.1, "reverse_attempts": 3,
                       "reverse_interval_s": 0.05, "charge_stale_s": 0.5}})
    return cfg


@pytest.fixture
async def pay_client(db, db_url, sandbox, tmp_path):
    """The bridge app (HTTP, no MQTT) with payments from the sandbox manifest, and a client."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    app = create_app(payments_config(db_url, manifest), db=db)
    async with TestClient(TestServer(app)) as c:
        c.payments = app[SERVICES_KEY].payments
        yield c


# --------------------------------------------------------------------------- signed bodies


def wechat_note(sandbox, tx: dict, *, at: float | None = None,
                nonce: str | None = None) -> tuple[dict[str, str], bytes]:
    """A WeChat v3 notification of ``tx`` (the decrypted resource), signed and encrypted."""
    keys = sandbox.wechat.keys
    res_nonce = secrets.token_hex(6)
    body = json.dumps({
        "id": str(uuid.uuid4()),
        "create_time": datetime.now(UTC).astimezone(CHINA_TZ).isoformat(timespec="seconds"),
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": crypto.aes_gcm_encrypt(keys.apiv3_key, res_nonce,
                                                          "transaction", json.dumps(tx)),
                     "associated_data": "transaction", "nonce": res_nonce}},
        separators=(",", ":"))
    ts = str(int(at if at is not None else time.time()))
    nonce = nonce or crypto.nonce_str()
    headers = {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
               "Wechatpay-Serial": keys.public_key_id,
               "Wechatpay-Signature-Type": crypto.WECHAT_SCHEMA,
               "Wechatpay-Signature": crypto.rsa_sign(
                   keys.platform_key, crypto.wechat_response_message(ts, nonce, body)),
               "Content-Type": "application/json"}
    return headers, body.encode()


def alipay_note(sandbox, params: dict) -> tuple[dict[str, str], bytes]:
    """An Alipay notification form with ``params``, RSA2-signed with the sandbox's key."""
    params = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    sign = crypto.rsa_sign(sandbox.alipay.keys.alipay_key, crypto.alipay_sign_content(params))
    body = urlencode({**params, "sign_type": "RSA2", "sign": sign}).encode()
    return {"Content-Type": "application/x-www-form-urlencoded"}, body


async def paid_unknown(client, sandbox, method: str) -> tuple[str, object]:
    """A trade paid at the sandbox that the bridge holds as *unknown* (reply lost)."""
    svc = client.payments
    no = trade_no("N")
    code = wechat_code() if method == "wechat" else alipay_code()
    out = await svc.providers[method].charge(ChargeRequest(out_trade_no=no, amount=500,
                                                           auth_code=code))
    assert out.status == "paid"
    await svc.store.create(status=UNKNOWN, out_trade_no=no, order_no="O" + no, store="S1",
                           kiosk="K1", method=method, amount=500, currency="CNY")
    gw = sandbox.wechat if method == "wechat" else sandbox.alipay
    return no, gw.ledger.trades[no]


def notes(sandbox, method: str, trade, **change) -> tuple[dict, bytes]:
    """A valid notification of ``trade``, with fields changed/removed (None) before signing."""
    if method == "wechat":
        tx = sandbox.wechat.trade_json(trade)
        for key, value in change.items():
            if key in ("total", "currency"):
                if value is None:
                    tx["amount"].pop(key)
                else:
                    tx["amount"][key] = value
            elif key != "at":
                tx[key] = value
        if change.get("total", 0) is None:
            tx.pop("amount")
        return wechat_note(sandbox, tx, at=change.get("at"))
    params = sandbox.alipay.notification(trade)
    if "at" in change:
        params["notify_time"] = china_time(datetime.fromtimestamp(change["at"], UTC))
    if "total" in change:
        if change["total"] is None:
            params.pop("total_amount")
        else:
            params["total_amount"] = f"{change['total'] / 100:.2f}"
    return alipay_note(sandbox, params)


async def post(client, method: str, note: tuple[dict, bytes]) -> bool:
    headers, body = note
    r = await client.post(f"/api/v1/pay/notify/{method}", data=body, headers=headers)
    if method == "alipay":
        assert r.status == 200 and r.content_type == "text/plain"
        text = await r.text()
        assert text in ("success", "fail")
        return text == "success"
    if r.status == 204:
        return True
    assert 400 <= r.status < 600
    reply = await r.json()
    assert reply["code"] == "FAIL" and reply["message"]
    return False


async def seen_count(db) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(PaymentNotificationSeen))


@pytest.mark.parametrize("method", ["wechat", "alipay"])
async def test_notifications_over_http(pay_client, sandbox, db, method):
    svc = pay_client.payments
    no, trade = await paid_unknown(pay_client, sandbox, method)

    valid_headers, valid_body = notes(sandbox, method, trade)
    # Altered after signing: another trade number (Alipay) or event (WeChat).
    altered = valid_body.replace(b"out_trade_no=N", b"out_trade_no=M").replace(
        b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESX")
    assert altered != valid_body
    forged = (valid_headers, altered)
    refused = {
        "forged": forged,
        "altered amount": notes(sandbox, method, trade, total=1),
        "missing amount": notes(sandbox, method, trade, total=None),
        "stale": notes(sandbox, method, trade, at=time.time() - 3600),
    }
    if method == "wechat":   # Alipay's notifications have no currency field (always CNY)
        refused["other currency"] = notes(sandbox, method, trade, currency="USD")
    for name, note in refused.items():
        assert await post(pay_client, method, note) is False, name
        assert (await svc.store.get(no))["status"] == UNKNOWN, name
    assert await seen_count(db) == 0   # a refused notification leaves no trace

    assert await post(pay_client, method, (valid_headers, valid_body)) is True
    row = await svc.store.get(no)
    assert row["status"] == PAID and row["provider_ref"] == trade.transaction_id
    assert await post(pay_client, method, (valid_headers, valid_body)) is False  # replayed
    assert await seen_count(db) == 1
    assert (await svc.store.get(no))["status"] == PAID


async def test_notification_routes_without_providers(db, db_url):
    cfg = payments_config(db_url, Path("/nonexistent"))
    cfg.payments.manifest = None
    app = create_app(cfg, db=db)
    async with TestClient(TestServer(app)) as c:
        r = await c.post("/api/v1/pay/notify/wechat", data=b"{}")
        assert r.status == 404 and (await r.json())["code"] == "FAIL"
        r = await c.post("/api/v1/pay/notify/alipay", data=b"a=b")
        assert await r.text() == "fail"


def test_routes_are_in_the_openapi_document():
    from cloud_bridge.app import all_routes
    from cloud_bridge.openapi import build_document

    doc = build_document(all_routes(BridgeConfig()))
    wechat = doc["paths"]["/api/v1/pay/notify/wechat"]["post"]
    assert "204" in wechat["responses"] and "security" not in wechat
    alipay = doc["paths"]["/api/v1/pay/notify/alipay"]["post"]
    assert "application/x-www-form-urlencoded" in alipay["requestBody"]["content"]
    assert "text/plain" in alipay["responses"]["200"]["content"]
    assert "post" in doc["paths"]["/api/v1/admin/members/{member_id}/balance/topups"]


# --------------------------------------------------------------------------- admin helpers


async def admin_headers(client, db) -> dict[str, str]:
    async with db.session() as s:
        await auth.create_admin_user(s, "boss", "secret-boss", auth.HEAD_OFFICE)
    r = await client.post("/api/v1/admin/session",
                          json={"username": "boss", "secret": "secret-boss"})
    return {"Authorization": "Bearer " + (await r.json())["token"]}


async def charged_kiosk_order(client, db, order_no: str, method: str = "alipay") -> str:
    """A kiosk order (1700 fen) stored by the ingest, paid through the bridge's service."""
    from cloud_bridge.ingest import store_events
    from contract.wire.payments import ChargeParams

    from .bridge_helpers import order_event

    ev = order_event("s1", "k1", 0, order_no=order_no)
    ev.data["tenders"][0]["method"] = method
    out_trade_no = ev.data["tenders"][0]["out_trade_no"]
    res = await client.payments.charge("s1", "k1", ChargeParams(
        order_no=order_no, out_trade_no=out_trade_no, method=method, amount=1700,
        auth_code=alipay_code() if method == "alipay" else wechat_code()))
    assert res["status"] == "paid"
    await store_events(db, [("s1", "k1", ev.encode())], worker="t", tz="Asia/Shanghai")
    return out_trade_no


async def test_refund_requests_are_executed_once(pay_client, sandbox, db):
    h = await admin_headers(pay_client, db)
    no = await charged_kiosk_order(pay_client, db, "RF-0001")
    r = await pay_client.post("/api/v1/admin/orders/RF-0001/refunds", headers=h,
                              json={"amount": 500, "reason": "破损 damaged"})
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["status"] == "succeeded"
    trade = sandbox.alipay.ledger.trades[no]
    assert [x.amount for x in trade.refunds.values()] == [500]

    # Executing the same request again (a retry, another worker) refunds nothing more.
    executor = pay_client.app[SERVICES_KEY].refunds
    again = await executor.execute(first["id"])
    assert again["status"] == "succeeded" and len(trade.refunds) == 1
    assert await executor.execute_open() == 0

    # Never more than was paid: the API refuses, the provider saw one refund only.
    r = await pay_client.post("/api/v1/admin/orders/RF-0001/refunds", headers=h,
                              json={"amount": 1201, "reason": "x"})
    assert r.status == 409
    r = await pay_client.post("/api/v1/admin/orders/RF-0001/refunds", headers=h,
                              json={"amount": 1200, "reason": "rest"})
    assert (await r.json())["status"] == "succeeded"
    detail = await (await pay_client.get("/api/v1/admin/orders/RF-0001", headers=h)).json()
    assert detail["status"] == "refunded" and detail["refunded_total"] == 1700
    assert [x["status"] for x in detail["refunds"]] == ["succeeded", "succeeded"]
    assert sum(x.amount for x in trade.refunds.values()) == 1700
    assert (await pay_client.payments.store.get(no))["refunded"] == 1700


async def test_refund_left_open_is_driven_by_the_loop(pay_client, sandbox, db):
    """A request whose refund stays open (provider 503) is finished by a later run."""
    h = await admin_headers(pay_client, db)
    no = await charged_kiosk_order(pay_client, db, "RF-0002", method="wechat")
    executor = pay_client.app[SERVICES_KEY].refunds
    sandbox.wechat.ledger.faults.add(FaultRule("http_503", op="refund"))
    r = await pay_client.post("/api/v1/admin/orders/RF-0002/refunds", headers=h,
                              json={"amount": 700, "reason": "x"})
    assert (await r.json())["status"] == "processing"
    assert await executor.execute_open() == 1
    refunds = await (await pay_client.get("/api/v1/admin/refunds", headers=h)).json()
    assert [x["status"] for x in refunds["items"]] == ["succeeded"]
    trade = sandbox.wechat.ledger.trades[no]
    assert [x.amount for x in trade.refunds.values()] == [700]


async def test_offline_stored_value_sale_debits_the_balance_once(pay_client, db):
    from cloud_bridge.ingest import store_events

    from .bridge_helpers import order_event

    h = await admin_headers(pay_client, db)
    r = await pay_client.get("/api/v1/admin/members/m7/balance", headers=h)
    assert r.status == 404
    for _ in range(2):   # the same key tops up once
        r = await pay_client.post("/api/v1/admin/members/m7/balance/topups", headers=h,
                                  json={"amount": 5000, "key": "counter-1"})
        assert r.status == 201 and (await r.json())["balance"] == 5000

    def sale(seq: int):
        ev = order_event("s1", "k1", seq, order_no="SV-0001")
        ev.data["member_id"] = "m7"
        ev.data["tenders"] = [{"method": "stored_value", "amount": 1700,
                               "out_trade_no": "SVT0001", "offline": True}]
        return ("s1", "k1", ev.encode())

    first = sale(0)
    await store_events(db, [first], worker="t", tz="Asia/Shanghai")
    await store_events(db, [first], worker="t", tz="Asia/Shanghai")    # redelivered
    await store_events(db, [sale(1)], worker="t", tz="Asia/Shanghai")  # another event, same tender
    body = await (await pay_client.get("/api/v1/admin/members/m7/balance", headers=h)).json()
    assert body["balance"] == 5000 - 1700
    assert [(e["key"], e["delta"], e["offline"]) for e in body["entries"]] == [
        ("pay:SVT0001", -1700, True), ("topup:counter-1", 5000, False)]
