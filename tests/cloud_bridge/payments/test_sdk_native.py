"""The public ``wechatpayv3`` SDK against the sandbox's Native (扫码支付) route: the QR
made by code we did not write, paid by the shopper's scan, the notification verified and
decrypted by the SDK, queried and closed like any trade."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from ..payments_fixtures import trade_no
from ..test_sdk_interop import wechat_sdk

pytestmark = pytest.mark.timeout(60)


async def test_wechatpayv3_native_qr_scan_notify_query_close(sandbox):
    from wechatpayv3 import WeChatPayType

    got: list[tuple[dict, bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/notify", receive)
    async with TestServer(app) as receiver:
        sdk = wechat_sdk(sandbox.manifest)
        no = trade_no("N")

        def qr(out_trade_no: str, total: int = 1290):
            return sdk.pay(description="自助收银", out_trade_no=out_trade_no,
                           amount={"total": total, "currency": "CNY"},
                           notify_url=str(receiver.make_url("/notify")),
                           pay_type=WeChatPayType.NATIVE)

        status, body = await asyncio.to_thread(qr, no)
        assert status == 200, body
        code_url = json.loads(body)["code_url"]
        assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
        status, body = await asyncio.to_thread(qr, no)
        assert status == 200 and json.loads(body)["code_url"] == code_url
        status, body = await asyncio.to_thread(qr, no, 1)            # other amount: refused
        assert status == 400

        async with ClientSession() as http, http.post(
                sandbox.wechat.base_url + "/__sandbox/native/scan",
                json={"code_url": code_url, "openid": "oNative0000shopper"}) as r:
            assert r.status == 200, await r.text()
            paid = await r.json()
        assert paid["notify_status"] == 204 and len(got) == 1
        note = sdk.callback(*got[0])
        assert note is not None and note["event_type"] == "TRANSACTION.SUCCESS"
        tx = note["resource"]
        assert (tx["out_trade_no"], tx["trade_state"], tx["trade_type"]) == (no, "SUCCESS", "NATIVE")
        assert tx["amount"]["total"] == 1290 and tx["transaction_id"] == paid["transaction_id"]
        status, body = await asyncio.to_thread(sdk.query, out_trade_no=no)
        assert status == 200 and json.loads(body)["trade_state"] == "SUCCESS"

        no2 = trade_no("N")
        status, body = await asyncio.to_thread(qr, no2)
        code2 = json.loads(body)["code_url"]
        assert (await asyncio.to_thread(sdk.close, out_trade_no=no2))[0] == 204
        async with ClientSession() as http, http.post(
                sandbox.wechat.base_url + "/__sandbox/native/scan",
                json={"code_url": code2, "openid": "oNative0000shopper"}) as r:
            assert r.status == 409
