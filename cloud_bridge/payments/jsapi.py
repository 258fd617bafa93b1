"""WeChat Pay JSAPI (mini-program payment) on the bridge's WeChat provider client.

* :func:`create_prepay`: ``POST /v3/pay/transactions/jsapi`` -> the ``prepay_id``.
* :func:`request_payment_params`: the parameters of ``wx.requestPayment``; paySign is the
  RSA-SHA256 signature (merchant key, base64) of ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``.
* :func:`close`: ``POST /v3/pay/transactions/out-trade-no/{no}/close``.
* :func:`on_paid`: called by the payment notification, in its transaction, when an
  ``AWAITING`` JSAPI payment is paid: the mini-program order is marked paid there, so a
  notification settles the order once or not at all.
"""

from __future__ import annotations

import logging
import time

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from . import crypto
from .models import Payment
from .providers.base import ResponseNotTrusted
from .providers.wechat import WechatPayProvider

log = logging.getLogger(__name__)

JSAPI_PATH = "/v3/pay/transactions/jsapi"


class PrepayError(Exception):
    """The prepay was not made. ``unknown``: we cannot tell (retry is safe, the provider
    answers the same prepay_id); otherwise WeChat refused with ``code``."""

    def __init__(self, code: str, message: str = "", unknown: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.unknown = code, message, unknown


def sign_message(app_id: str, timestamp: str, nonce: str, package: str) -> str:
    """The JSAPI paySign message: each field on its own line, each line ``\\n``-terminated."""
    return f"{app_id}\n{timestamp}\n{nonce}\n{package}\n"


async def create_prepay(provider: WechatPayProvider, *, out_trade_no: str, amount: int,
                        currency: str, description: str, openid: str,
                        notify_url: str) -> str:
    """Create (or get back, for the same out_trade_no and parameters) the JSAPI prepay.

    Raises:
        PrepayError: refused by WeChat, or the outcome is unknown (transport, signature).
    """
    payload = {"appid": provider.appid, "mchid": provider.mchid,
               "description": description[:127], "out_trade_no": out_trade_no,
               "notify_url": notify_url, "amount": {"total": amount, "currency": currency},
               "payer": {"openid": openid}}
    try:
        status, data = await provider.call("POST", JSAPI_PATH, payload)
    except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
        log.warning("wechat jsapi %s: no trusted answer (%s)", out_trade_no, type(err).__name__)
        raise PrepayError("TRANSPORT", str(err)[:200], unknown=True) from err
    prepay_id = data.get("prepay_id")
    if status == 200 and isinstance(prepay_id, str) and prepay_id:
        return prepay_id
    code = str(data.get("code") or status)
    raise PrepayError(code, str(data.get("message", ""))[:200], unknown=status >= 500)


def request_payment_params(provider: WechatPayProvider, prepay_id: str, *,
                           timestamp: int | None = None, nonce: str | None = None
                           ) -> dict[str, str]:
    """``wx.requestPayment``'s parameters, signed with the merchant key (signType RSA)."""
    ts = str(int(timestamp if timestamp is not None else time.time()))
    nonce = nonce or crypto.nonce_str()
    package = f"prepay_id={prepay_id}"
    sign = crypto.rsa_sign(provider._key,  # the merchant key this client holds
                           sign_message(provider.appid, ts, nonce, package))
    return {"appId": provider.appid, "timeStamp": ts, "nonceStr": nonce, "package": package,
            "signType": "RSA", "paySign": sign}


async def close(provider: WechatPayProvider, out_trade_no: str) -> str:
    """Close an unpaid trade: ``closed``, ``paid`` (too late: it was paid), ``not_found``
    (no prepay was ever made) or ``unknown`` (try again later)."""
    path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
    try:
        status, data = await provider.call("POST", path, {"mchid": provider.mchid})
    except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError):
        return "unknown"
    code = str(data.get("code", ""))
    if status in (200, 204) or code == "ORDERCLOSED":
        return "closed"
    if code == "ORDERPAID":
        return "paid"
    if status == 404 or code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
        return "not_found"
    return "unknown"


async def on_paid(session: AsyncSession, payment: Payment, provider_ref: str | None) -> None:
    """The JSAPI payment of a mini-program order is paid: mark the order paid (with its
    history and stock) in the caller's transaction. An order that is no longer waiting
    for payment is left alone and logged (staff see the paid payment)."""
    from cloud_bridge import orders
    from cloud_bridge.errors import NotFound

    if payment.kiosk is not None:
        return  # a kiosk's Native QR payment: the kiosk's order event brings the order
    try:
        if payment.order_no is None:
            raise NotFound("a payment without an order")
        order = await orders.get_order(session, payment.order_no, lock=True)
    except NotFound:
        log.error("jsapi payment %s paid for unknown order %s", payment.out_trade_no,
                  payment.order_no)
        return
    if order.status != orders.CREATED:
        log.error("jsapi payment %s paid but order %s is %s", payment.out_trade_no,
                  order.order_no, order.status)
        return
    await orders.mark_paid(session, order.order_no, "wechat:notify", tender={
        "method": "wechat", "amount": payment.amount, "currency": payment.currency,
        "out_trade_no": payment.out_trade_no, "provider_ref": provider_ref})
