"""Native QR payment (扫码支付) of a kiosk sale over the kiosk RPC, against the sandbox:
the QR made once per out_trade_no, settled by WeChat's notification or by query, closed
when the shopper leaves, only ever the calling kiosk's own attempt."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from aiohttp import ClientSession

from cloud_bridge import keys, rpc
from cloud_bridge.payments import rpc_handlers
from contract.wire.base import utcnow

from ..mp_pay.test_pay import start_bridge

pytestmark = pytest.mark.timeout(60)
SALE = {"order_no": "S1-K1-0001", "out_trade_no": "N1K1000001", "amount": 1290,
        "description": "可口可乐 等"}


@pytest.fixture
async def bridge(db, db_url, sandbox, tmp_path):
    client = await start_bridge(db, db_url, sandbox, tmp_path)
    yield client
    await client.close()


def kiosk(client, store: str = "s1", kiosk_id: str = "k1") -> rpc.RpcContext:
    """The RPC context of a request from one kiosk, with the running bridge's services."""
    return rpc.RpcContext(store=store, kiosk=kiosk_id, request_id="r1", method="payment.native",
                          deadline=utcnow() + timedelta(seconds=10), db=client.app[keys.DB_KEY],
                          config=client.app[keys.CONFIG_KEY],
                          services=client.app[keys.SERVICES_KEY])


async def shopper_scans(sandbox, code_url: str) -> dict:
    async with ClientSession() as http, http.post(
            sandbox.wechat.base_url + "/__sandbox/native/scan",
            json={"code_url": code_url, "openid": "o-shopper"}) as r:
        return {"status": r.status, **(await r.json())}


async def test_qr_once_then_paid_by_notification(bridge, sandbox, caplog):
    k1 = kiosk(bridge)
    first = await rpc_handlers.native_pay(k1, SALE)
    assert first["status"] == "unknown" and first["code_url"].startswith("weixin://wxpay/")
    assert first["message_zh"] == "请用微信扫描二维码支付"
    assert (await rpc_handlers.native_pay(k1, SALE))["code_url"] == first["code_url"]
    assert len(sandbox.wechat.ledger.trades) == 1
    assert (await rpc_handlers.status(k1, {"out_trade_no": SALE["out_trade_no"]}))[
        "status"] == "unknown"

    with caplog.at_level(logging.ERROR):
        scanned = await shopper_scans(sandbox, first["code_url"])
    assert scanned["status"] == 200 and scanned["notify_status"] == 204
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no mp order sought
    paid = await rpc_handlers.status(k1, {"out_trade_no": SALE["out_trade_no"]})
    assert paid["status"] == "paid" and paid["provider_ref"] == scanned["transaction_id"]
    again = await rpc_handlers.native_pay(k1, SALE)
    assert again["status"] == "paid" and "code_url" not in again


async def test_settled_by_query_when_the_notification_is_lost(bridge, sandbox):
    k1 = kiosk(bridge)
    k1.config.payments.jsapi_notify_url = "http://127.0.0.1:9/api/v1/pay/notify/wechat"
    qr = await rpc_handlers.native_pay(k1, SALE)
    assert (await shopper_scans(sandbox, qr["code_url"]))["notify_status"] is None
    assert (await rpc_handlers.status(k1, {"out_trade_no": SALE["out_trade_no"]}))[
        "status"] == "unknown"
    settled = await rpc_handlers.native_pay(k1, SALE)           # asked again: WeChat is queried
    assert settled["status"] == "paid" and settled["provider_ref"]


async def test_closed_when_the_shopper_leaves(bridge, sandbox):
    k1 = kiosk(bridge)
    qr = await rpc_handlers.native_pay(k1, SALE)
    closed = await rpc_handlers.native_close(k1, {"out_trade_no": SALE["out_trade_no"]})
    assert closed["status"] == "failed" and "code_url" not in closed
    assert (await shopper_scans(sandbox, qr["code_url"]))["status"] == 409  # the QR is dead
    assert (await rpc_handlers.native_pay(k1, SALE))["status"] == "failed"


async def test_closing_a_qr_paid_meanwhile_settles_it_paid(bridge, sandbox):
    k1 = kiosk(bridge)
    k1.config.payments.jsapi_notify_url = "http://127.0.0.1:9/api/v1/pay/notify/wechat"
    qr = await rpc_handlers.native_pay(k1, SALE)
    await shopper_scans(sandbox, qr["code_url"])                # notification lost
    out = await rpc_handlers.native_close(k1, {"out_trade_no": SALE["out_trade_no"]})
    assert out["status"] == "paid"


async def test_refused(bridge, sandbox):
    k1, other_kiosk = kiosk(bridge), kiosk(bridge, "s2", "k1")
    await rpc_handlers.native_pay(k1, SALE)
    for ctx, params, code in [
        (other_kiosk, SALE, "conflict"),                          # another kiosk's number
        (k1, {**SALE, "amount": 1}, "conflict"),                  # same number, other amount
        (k1, {**SALE, "amount": 0}, "bad_params"),
        (k1, {**SALE, "out_trade_no": "N1/../x"}, "bad_params"),
    ]:
        with pytest.raises(rpc.RpcFailure) as info:
            await rpc_handlers.native_pay(ctx, params)
        assert info.value.code == code, params
    with pytest.raises(rpc.RpcFailure) as info:
        await rpc_handlers.native_close(other_kiosk, {"out_trade_no": SALE["out_trade_no"]})
    assert info.value.code == "not_found"
    assert (await rpc_handlers.status(k1, {"out_trade_no": SALE["out_trade_no"]}))[
        "status"] == "unknown"                                     # untouched by the refusals
    assert len(sandbox.wechat.ledger.trades) == 1


async def test_qrs_a_kiosk_abandoned_are_closed_by_the_sweep(bridge, sandbox):
    from cloud_bridge.payments import native

    k1 = kiosk(bridge)
    svc = bridge.app[keys.SERVICES_KEY].payments
    k1.config.payments.jsapi_notify_url = "http://127.0.0.1:9/api/v1/pay/notify/wechat"
    left = await rpc_handlers.native_pay(k1, SALE)
    paid_unheard = await rpc_handlers.native_pay(k1, {**SALE, "out_trade_no": "N1K1000002"})
    await shopper_scans(sandbox, paid_unheard["code_url"])      # paid; notification lost
    assert await native.close_abandoned(svc, timeout_s=3600) == 0    # not old enough
    assert await native.close_abandoned(svc, timeout_s=0) == 1
    status = [(await rpc_handlers.status(k1, {"out_trade_no": no}))["status"]
              for no in (SALE["out_trade_no"], "N1K1000002")]
    assert status == ["failed", "paid"]
    assert (await shopper_scans(sandbox, left["code_url"]))["status"] == 409
    assert await native.close_abandoned(svc, timeout_s=0) == 0       # nothing left open


async def test_settle_from_the_kiosk_closes_its_open_qr(bridge, sandbox):
    """payment.settle is what a kiosk sends for an attempt it gave up on (no reply, the link
    lost, a restart): an open QR is closed at WeChat, paid meanwhile it is settled paid; a
    second kiosk naming the number changes nothing."""
    k1, other_kiosk = kiosk(bridge), kiosk(bridge, "s1", "k2")
    k1.config.payments.jsapi_notify_url = "http://127.0.0.1:9/api/v1/pay/notify/wechat"
    settle = {"out_trade_no": SALE["out_trade_no"], "order_no": SALE["order_no"],
              "method": "wechat", "amount": SALE["amount"]}
    left = await rpc_handlers.native_pay(k1, SALE)
    refused = await rpc_handlers.settle(other_kiosk, settle)
    assert (refused["status"], refused["reason"]) == ("failed", "number_conflict")
    assert (await rpc_handlers.status(k1, {"out_trade_no": SALE["out_trade_no"]}))[
        "status"] == "unknown"                                    # still open for k1
    out = await rpc_handlers.settle(k1, settle)
    assert out["status"] == "failed"
    assert (await shopper_scans(sandbox, left["code_url"]))["status"] == 409
    paid_unheard = await rpc_handlers.native_pay(k1, {**SALE, "out_trade_no": "N1K1000002"})
    await shopper_scans(sandbox, paid_unheard["code_url"])      # notification lost
    out = await rpc_handlers.settle(k1, {**settle, "out_trade_no": "N1K1000002"})
    assert out["status"] == "paid" and out["provider_ref"]
