"""Our provider clients against the sandbox: real signatures, faults, forged messages."""

from __future__ import annotations

import json
import logging
import threading
import time
from urllib.parse import urlencode

import pytest

from cloud_bridge.payments import crypto
from cloud_bridge.payments.providers.base import ChargeRequest, NotificationRejected
from cloud_bridge.payments.sandbox import FaultRule
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no, wechat_code

pytestmark = pytest.mark.timeout(60)


def req(no: str, code: str, amount: int = 1000, **kw) -> ChargeRequest:
    return ChargeRequest(out_trade_no=no, amount=amount, auth_code=code, **kw)


@pytest.mark.parametrize("method,code_fn", [("wechat", wechat_code), ("alipay", alipay_code)])
async def test_charge_query_refund_reverse(providers, sandbox, method, code_fn):
    p = providers[method]
    no = trade_no()
    out = await p.charge(req(no, code_fn(), 1999))
    assert out.status == "paid" and out.amount == 1999 and out.provider_ref
    assert (await p.query(no)).status == "paid"
    r1 = await p.refund(no, no + "R1", 500, 1999, "CNY")
    assert r1.status == "success"
    r1b = await p.refund(no, no + "R1", 500, 1999, "CNY")   # idempotent by refund number
    assert r1b.status == "success"
    too_much = await p.refund(no, no + "R2", 1500, 1999, "CNY")
    assert too_much.status == "failed"
    assert (await p.refund_query(no, no + "R1")).status == "success"
    assert (await p.refund_query(no, no + "R9")).status == "not_found"
    gw = getattr(sandbox, method)
    assert gw.ledger.trades[no].refunded == 500

    no2 = trade_no()
    assert (await p.charge(req(no2, code_fn(), 300))).status == "paid"
    rev = await p.reverse(no2)
    assert rev.done
    assert (await p.query(no2)).status in ("reversed", "failed")
    assert (await p.query(trade_no())).status == "not_found"


@pytest.mark.parametrize("method,code_fn", [("wechat", wechat_code), ("alipay", alipay_code)])
async def test_business_failures_are_failed(providers, sandbox, method, code_fn):
    p, gw = providers[method], getattr(sandbox, method)
    code = code_fn()
    gw.ledger.set_balance(code, 100)
    out = await p.charge(req(trade_no(), code, 1000))
    assert out.status == "failed" and out.reason == "insufficient_funds"
    out = await p.charge(req(trade_no(), "999", 1000))
    assert out.status == "failed" and out.reason == "code_invalid"
    gw.ledger.faults.add(FaultRule("code_expired"))
    assert (await p.charge(req(trade_no(), code_fn()))).status == "failed"
    # The same out_trade_no with a different amount is refused, never charged again.
    no = trade_no()
    c = code_fn()
    assert (await p.charge(req(no, c, 1000))).status == "paid"
    dup = await p.charge(req(no, c, 2000))
    assert dup.status == "failed" and dup.reason == "rejected"
    assert gw.ledger.trades[no].amount == 1000


@pytest.mark.parametrize("method,code_fn", [("wechat", wechat_code), ("alipay", alipay_code)])
async def test_unknown_outcomes(providers, sandbox, method, code_fn):
    p, gw = providers[method], getattr(sandbox, method)
    # USERPAYING / 10003: unknown, then pending for N polls, then paid.
    no = trade_no()
    gw.ledger.faults.add(FaultRule("userpaying", out_trade_no=no, polls=2))
    out = await p.charge(req(no, code_fn()))
    assert out.status == "unknown" and out.reason == "user_paying"
    assert [(await p.query(no)).status for _ in range(3)] == ["pending", "pending", "paid"]
    # Timeout after the money moved: unknown; a query finds it paid.
    no = trade_no()
    gw.ledger.faults.add(FaultRule("timeout", out_trade_no=no))
    out = await p.charge(req(no, code_fn()))
    assert out.status == "unknown" and out.reason == "timeout"
    assert (await p.query(no)).status == "paid"
    # SYSTEMERROR / 20000 before processing: unknown; the trade does not exist.
    no = trade_no()
    gw.ledger.faults.add(FaultRule("systemerror", out_trade_no=no))
    out = await p.charge(req(no, code_fn()))
    assert out.status == "unknown"
    assert (await p.query(no)).status == "not_found"
    # HTTP 500 after processing.
    no = trade_no()
    gw.ledger.faults.add(FaultRule("http_500", out_trade_no=no))
    assert (await p.charge(req(no, code_fn()))).status == "unknown"
    assert (await p.query(no)).status == "paid"
    # Reverse that the platform asks to repeat.
    gw.ledger.faults.add(FaultRule("systemerror", op="reverse", out_trade_no=no))
    first = await p.reverse(no)
    assert not first.done and first.retry
    second = await p.reverse(no)
    assert second.done


async def test_wechat_refuses_forged_responses(providers, sandbox, caplog):
    """A response signed with another key, or with a wrong serial, is never trusted."""
    p = providers["wechat"]
    real_key = sandbox.wechat.keys.platform_key
    sandbox.wechat.keys.platform_key = crypto.generate_rsa_key(2048)
    no = trade_no()
    with caplog.at_level(logging.WARNING):
        out = await p.charge(req(no, wechat_code()))
    assert out.status == "unknown" and out.reason == "untrusted_response"
    assert "bad platform signature" in caplog.text
    sandbox.wechat.keys.platform_key = real_key
    real_id = sandbox.wechat.keys.public_key_id
    sandbox.wechat.keys.public_key_id = "PUB_KEY_ID_OTHER"
    assert (await p.query(no)).status == "unknown"
    sandbox.wechat.keys.public_key_id = real_id
    assert (await p.query(no)).status == "paid"


async def test_wechat_notifications(providers, sandbox, caplog):
    p, gw = providers["wechat"], sandbox.wechat
    no = trade_no()
    await p.charge(req(no, wechat_code(), 777))
    trade = gw.ledger.trades[no]
    headers, body = gw.notification(trade)
    note = p.verify_notification(headers, body)
    assert (note.out_trade_no, note.status, note.amount) == (no, "paid", 777)
    caplog.set_level(logging.WARNING)
    with pytest.raises(NotificationRejected, match="replayed"):
        p.verify_notification(headers, body)
    h, b = gw.notification(trade)
    with pytest.raises(NotificationRejected, match="signature"):
        p.verify_notification(h, b.replace('"支付成功"', '"支付失败"'))
    h, b = gw.notification(trade, at=time.time() - 301)
    with pytest.raises(NotificationRejected, match="stale"):
        p.verify_notification(h, b)
    h, b = gw.notification(trade, serial="PUB_KEY_ID_WRONG")
    with pytest.raises(NotificationRejected, match="serial"):
        p.verify_notification(h, b)
    h, b = gw.notification(trade)
    h["Wechatpay-Signature"] = crypto.rsa_sign(
        crypto.generate_rsa_key(), crypto.wechat_response_message(
            h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], b))
    with pytest.raises(NotificationRejected, match="signature"):
        p.verify_notification(h, b)


async def test_alipay_notifications(providers, sandbox):
    from datetime import UTC, datetime, timedelta

    p, gw = providers["alipay"], sandbox.alipay
    no = trade_no()
    await p.charge(req(no, alipay_code(), 888))
    trade = gw.ledger.trades[no]
    params = gw.notification(trade)
    note = p.verify_notification({}, urlencode(params))
    assert (note.out_trade_no, note.status, note.amount) == (no, "paid", 888)
    with pytest.raises(NotificationRejected, match="replayed"):
        p.verify_notification({}, urlencode(params))
    altered = {**gw.notification(trade), "total_amount": "0.01"}
    with pytest.raises(NotificationRejected, match="signature"):
        p.verify_notification({}, urlencode(altered))
    old = gw.notification(trade, at=datetime.now(UTC) - timedelta(minutes=6))
    with pytest.raises(NotificationRejected, match="stale"):
        p.verify_notification({}, urlencode(old))


async def test_card_and_paypal(providers, sandbox, caplog):
    card = providers["card"]
    no = trade_no("C")
    caplog.set_level(logging.DEBUG)
    ok = await card.charge(ChargeRequest(no, 4200, payer_token="pm_card_visa_0001",
                                         card_last4="4242"))
    assert ok.status == "paid"
    again = await card.charge(ChargeRequest(no, 4200, payer_token="pm_card_visa_0001",
                                            card_last4="4242"))
    assert again.status == "paid" and again.provider_ref == ok.provider_ref
    assert len([t for t in sandbox.card.ledger.bill if t.out_trade_no == no]) == 1
    assert (await card.refund(no, no + "-R1", 200, 4200, "CNY")).status == "success"
    assert (await card.refund_query(no, no + "-R1")).status == "success"
    no2 = trade_no("C")
    sandbox.card.ledger.faults.add(FaultRule("timeout", out_trade_no=no2))
    assert (await card.charge(ChargeRequest(no2, 100, payer_token="pm_card_visa_0001"))).status == "unknown"
    assert (await card.query(no2)).status == "paid"
    assert (await card.reverse(no2)).done
    assert (await card.query(no2)).status == "reversed"
    assert "pm_card_visa_0001" not in caplog.text

    pp = providers["paypal"]
    no3 = trade_no("P")
    out = await pp.charge(ChargeRequest(no3, 2599, currency="USD", payer_token="BA-123456"))
    assert out.status == "paid"
    assert (await pp.query(no3)).status == "paid"
    assert (await pp.refund(no3, no3 + "-R1", 599, 2599, "USD", out.provider_ref)).status == "success"
    assert (await pp.refund_query(no3, no3 + "-R1")).status == "success"
    assert sandbox.paypal.ledger.trades[no3].refunded == 599


def _signed_wechat(gw, body: str) -> dict[str, str]:
    """Platform headers for ``body``, signed with the sandbox's real platform key."""
    ts, nonce = str(int(time.time())), crypto.nonce_str()
    return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": gw.keys.public_key_id,
            "Wechatpay-Signature": crypto.rsa_sign(
                gw.keys.platform_key, crypto.wechat_response_message(ts, nonce, body))}


@pytest.mark.parametrize("resource,plain", [
    ('"not an object"', None),
    (None, "[1, 2]"),
    (None, '{"mchid": "M", "amount": 5}'),
    (None, '{"out_trade_no": "T1", "amount": {"total": "777"}}'),
])
async def test_wechat_malformed_signed_notification_is_rejected(
        providers, sandbox, resource, plain):
    """A correctly signed body of the wrong shape is refused, not a crash (HTTP 500)."""
    p, gw = providers["wechat"], sandbox.wechat
    if resource is None:
        plain = plain.replace('"M"', f'"{gw.keys.mchid}"')
        if '"total"' in plain:
            plain = plain[:-1] + f', "mchid": "{gw.keys.mchid}"}}'
        resource = json.dumps({
            "algorithm": "AEAD_AES_256_GCM", "nonce": "abcdefabcdef", "associated_data": "tx",
            "ciphertext": crypto.aes_gcm_encrypt(gw.keys.apiv3_key, "abcdefabcdef", "tx", plain)})
    body = f'{{"id": "n1", "resource": {resource}}}'
    with pytest.raises(NotificationRejected):
        p.verify_notification(_signed_wechat(gw, body), body)


@pytest.mark.parametrize("amount", ["8.885", "abc", "NaN"])
async def test_alipay_notification_with_malformed_amount_is_rejected(
        providers, sandbox, amount):
    """Signed but malformed: refused with a reason, never truncated to a near amount."""
    p, gw = providers["alipay"], sandbox.alipay
    no = trade_no()
    await p.charge(req(no, alipay_code(), 888))
    params = {**gw.notification(gw.ledger.trades[no]), "total_amount": amount}
    params.pop("sign"), params.pop("sign_type")
    params["sign"] = crypto.rsa_sign(gw.keys.alipay_key, crypto.alipay_sign_content(params))
    with pytest.raises(NotificationRejected, match="total_amount"):
        p.verify_notification({}, urlencode(params))


@pytest.mark.parametrize("method,code_fn", [("wechat", wechat_code), ("alipay", alipay_code)])
async def test_request_signing_runs_off_the_event_loop(
        providers, sandbox, monkeypatch, method, code_fn):
    """RSA signing costs milliseconds of CPU per request: it belongs in a thread."""
    signed_on = []
    real_sign = crypto.rsa_sign

    def recording_sign(key, message):
        signed_on.append(threading.get_ident())
        return real_sign(key, message)

    monkeypatch.setattr(crypto, "rsa_sign", recording_sign)
    loop_thread = threading.get_ident()
    out = await providers[method].charge(req(trade_no(), code_fn(), 1000))
    assert out.status == "paid"
    client_signatures = [t for t in signed_on if t != loop_thread]
    assert client_signatures, "the request was signed on the event loop"


async def test_alipay_response_that_is_not_an_object_is_unknown(providers):
    """A gateway answering a JSON array: unknown (settle later), not an exception."""
    from aiohttp import web

    async def array(_request: web.Request) -> web.Response:
        return web.json_response([1, 2])

    app = web.Application()
    app.router.add_post("/gateway.do", array)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    p = providers["alipay"]
    p.gateway_url = f"http://127.0.0.1:{port}/gateway.do"
    try:
        out = await p.charge(req(trade_no(), alipay_code(), 1000))
    finally:
        await runner.cleanup()
    assert out.status == "unknown" and out.reason == "untrusted_response"


def test_paypal_malformed_capture_amount_is_no_match():
    """A capture amount that does not parse never equals the charge: unknown, settled later."""
    from cloud_bridge.payments.providers.paypal import _captured_amount

    assert _captured_amount({"amount": {"value": "10.10"}}, "USD") == 1010
    for bad in ({"amount": {"value": "10.105"}}, {"amount": {"value": None}}, {"amount": "x"}, {}):
        assert _captured_amount(bad, "USD") is None
