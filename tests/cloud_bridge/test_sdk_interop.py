"""The public SDKs (wechatpayv3, python-alipay-sdk) against the sandbox gateways.

Proves the sandbox speaks the providers' real protocols: request signatures made by
code we did not write verify, and the SDKs accept our responses' signatures.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no, wechat_code

pytestmark = pytest.mark.timeout(60)


def wechat_sdk(manifest: dict):
    from wechatpayv3 import WeChatPay, WeChatPayType

    w = manifest["wechat"]
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.CODEPAY, mchid=w["mchid"],
        private_key=Path(w["merchant_private_key_path"]).read_text(),
        cert_serial_no=w["merchant_serial_no"], appid=w["appid"],
        apiv3_key=Path(w["apiv3_key_path"]).read_text(),
        public_key=Path(w["platform_public_key_path"]).read_text(),
        public_key_id=w["platform_public_key_id"], timeout=(2, 5),
    )
    pay._core._gate_way = w["base_url"]   # the SDK's base URL: point it at the sandbox
    return pay


def alipay_sdk(manifest: dict):
    from alipay import AliPay

    a = manifest["alipay"]
    client = AliPay(appid=a["app_id"],
                    app_private_key_string=Path(a["app_private_key_path"]).read_text(),
                    alipay_public_key_string=Path(a["alipay_public_key_path"]).read_text(),
                    sign_type="RSA2")
    client._gateway = a["gateway_url"]    # the SDK's gateway URL: point it at the sandbox
    return client


async def test_wechatpayv3_pay_query_reverse_refund(sandbox):
    from wechatpayv3 import WeChatPayType

    sdk = wechat_sdk(sandbox.manifest)
    no, code = trade_no("W"), wechat_code()
    status, body = await asyncio.to_thread(
        sdk.pay, description="自助收银", out_trade_no=no, amount={"total": 1234, "currency": "CNY"},
        payer={"auth_code": code}, scene_info={"store_info": {"out_id": "S1"}},
        pay_type=WeChatPayType.CODEPAY)
    assert status == 200, body
    assert json.loads(body)["trade_state"] == "SUCCESS"

    status, body = await asyncio.to_thread(sdk.query, out_trade_no=no)
    assert status == 200 and json.loads(body)["amount"]["total"] == 1234

    status, body = await asyncio.to_thread(
        sdk.refund, out_refund_no=no + "R1", amount={"refund": 234, "total": 1234, "currency": "CNY"},
        out_trade_no=no)
    assert status == 200 and json.loads(body)["status"] == "SUCCESS"
    status, body = await asyncio.to_thread(sdk.query_refund, out_refund_no=no + "R1")
    assert status == 200 and json.loads(body)["amount"]["refund"] == 234

    # A second trade reversed through the SDK: money goes back to the payer.
    no2 = trade_no("W")
    status, _ = await asyncio.to_thread(
        sdk.pay, description="x", out_trade_no=no2, amount={"total": 500, "currency": "CNY"},
        payer={"auth_code": wechat_code()}, pay_type=WeChatPayType.CODEPAY)
    assert status == 200
    status, body = await asyncio.to_thread(sdk.codepay_reverse, out_trade_no=no2)
    assert status == 200, body
    assert sandbox.wechat.ledger.trades[no2].state == "REVOKED"
    assert sandbox.wechat.ledger.trades[no].refunded == 234


async def test_wechat_sandbox_refuses_forged_request(sandbox):
    from wechatpayv3 import WeChatPayType

    sdk = wechat_sdk(sandbox.manifest)
    sdk._core._cert_serial_no = "0123ABCD"     # not the merchant's serial
    status, body = await asyncio.to_thread(
        sdk.pay, description="x", out_trade_no=trade_no(), amount={"total": 1},
        payer={"auth_code": wechat_code()}, pay_type=WeChatPayType.CODEPAY)
    assert status == 401 and json.loads(body)["code"] == "SIGN_ERROR"
    assert sandbox.wechat.ledger.trades == {}


async def test_python_alipay_sdk_pay_query_cancel_refund(sandbox):
    sdk = alipay_sdk(sandbox.manifest)
    no = trade_no("A")
    res = await asyncio.to_thread(sdk.api_alipay_trade_pay, out_trade_no=no, scene="bar_code",
                                  auth_code=alipay_code(), subject="自助收银", total_amount="12.34")
    assert res["code"] == "10000" and res["total_amount"] == "12.34"
    res = await asyncio.to_thread(sdk.api_alipay_trade_query, out_trade_no=no)
    assert res["trade_status"] == "TRADE_SUCCESS"
    res = await asyncio.to_thread(sdk.api_alipay_trade_refund, refund_amount="2.34",
                                  out_trade_no=no, out_request_no=no + "-R1")
    assert res["code"] == "10000" and res["refund_fee"] == "2.34"
    res = await asyncio.to_thread(sdk.api_alipay_trade_fastpay_refund_query,
                                  out_request_no=no + "-R1", out_trade_no=no)
    assert res["refund_amount"] == "2.34"

    no2 = trade_no("A")
    res = await asyncio.to_thread(sdk.api_alipay_trade_pay, out_trade_no=no2, scene="bar_code",
                                  auth_code=alipay_code(), subject="x", total_amount="5.00")
    assert res["code"] == "10000"
    res = await asyncio.to_thread(sdk.api_alipay_trade_cancel, out_trade_no=no2)
    assert res["code"] == "10000" and res["action"] == "refund" and res["retry_flag"] == "N"
    assert sandbox.alipay.ledger.trades[no2].state == "REVOKED"


async def test_alipay_sdk_verifies_our_notification(sandbox):
    sdk = alipay_sdk(sandbox.manifest)
    no = trade_no("A")
    await asyncio.to_thread(sdk.api_alipay_trade_pay, out_trade_no=no, scene="bar_code",
                            auth_code=alipay_code(), subject="x", total_amount="1.00")
    params = sandbox.alipay.notification(sandbox.alipay.ledger.trades[no])
    sign = params.pop("sign")
    assert sdk.verify(dict(params), sign)
    params["total_amount"] = "0.01"
    assert not sdk.verify(dict(params), sign)
