"""The public ``wechatpayv3`` SDK against the sandbox's JSAPI routes.

Prepay, query and close made by code we did not write verify at the sandbox, and the
SDK accepts the sandbox's signed answers; the SDK's own paySign pays at the sandbox,
and the SDK verifies and decrypts the notification the sandbox sends.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from ..payments_fixtures import trade_no
from ..test_sdk_interop import wechat_sdk

pytestmark = pytest.mark.timeout(60)


async def test_wechatpayv3_jsapi_prepay_pay_notify_query_close(sandbox):
    from wechatpayv3 import WeChatPayType

    got: list[tuple[dict, bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/notify", receive)
    async with TestServer(app) as receiver:
        notify = str(receiver.make_url("/notify"))
        sdk = wechat_sdk(sandbox.manifest)
        no, openid = trade_no("J"), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

        def prepay(out_trade_no: str, total: int = 990):
            return sdk.pay(description="小程序订单", out_trade_no=out_trade_no,
                           amount={"total": total, "currency": "CNY"},
                           payer={"openid": openid}, notify_url=notify,
                           pay_type=WeChatPayType.JSAPI)

        status, body = await asyncio.to_thread(prepay, no)
        assert status == 200, body
        prepay_id = json.loads(body)["prepay_id"]
        status, body = await asyncio.to_thread(prepay, no)      # same trade: same prepay
        assert status == 200 and json.loads(body)["prepay_id"] == prepay_id
        status, body = await asyncio.to_thread(prepay, no, 991)  # changed amount: refused
        assert status == 400 and json.loads(body)["code"] == "INVALID_REQUEST"
        status, body = await asyncio.to_thread(sdk.query, out_trade_no=no)
        assert status == 200 and json.loads(body)["trade_state"] == "NOTPAY"

        # The SDK's paySign (what a merchant server built with it would hand the client).
        ts, nonce, package = "1733360000", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", f"prepay_id={prepay_id}"
        params = {"appId": sandbox.wechat.keys.appid, "timeStamp": ts, "nonceStr": nonce,
                  "package": package, "signType": "RSA",
                  "paySign": sdk.sign([sandbox.wechat.keys.appid, ts, nonce, package])}
        async with ClientSession() as http, http.post(
                sandbox.wechat.base_url + "/__sandbox/jsapi/pay",
                json={**params, "openid": openid}) as r:
            assert r.status == 200, await r.text()
            paid = await r.json()
        assert paid["notify_status"] == 204 and len(got) == 1

        headers, raw = got[0]
        note = sdk.callback(headers, raw)            # the SDK verifies and decrypts it
        assert note is not None and note["event_type"] == "TRANSACTION.SUCCESS"
        tx = note["resource"]
        assert (tx["out_trade_no"], tx["trade_state"], tx["trade_type"]) == (no, "SUCCESS", "JSAPI")
        assert tx["amount"]["total"] == 990 and tx["payer"]["openid"] == openid
        assert tx["transaction_id"] == paid["transaction_id"]
        assert sdk.callback({**headers, "Wechatpay-Signature": "AAAA"}, raw) is None

        status, body = await asyncio.to_thread(sdk.query, out_trade_no=no)
        assert status == 200 and json.loads(body)["trade_state"] == "SUCCESS"
        status, body = await asyncio.to_thread(sdk.close, out_trade_no=no)
        assert status == 400 and json.loads(body)["code"] == "ORDERPAID"

        # An unpaid trade closed through the SDK can no longer be paid.
        no2 = trade_no("J")
        status, body = await asyncio.to_thread(prepay, no2)
        assert status == 200
        status, _ = await asyncio.to_thread(sdk.close, out_trade_no=no2)
        assert status == 204
        status, body = await asyncio.to_thread(sdk.query, out_trade_no=no2)
        assert status == 200 and json.loads(body)["trade_state"] == "CLOSED"
        status, body = await asyncio.to_thread(prepay, no2)
        assert status == 400 and json.loads(body)["code"] == "ORDERCLOSED"
