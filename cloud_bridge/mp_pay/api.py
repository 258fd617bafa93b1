"""HTTP route of mini-program payment: ``POST /api/v1/mp/orders/{order_no}/pay``.

The shopper's session (``auth="mp"``) pays only its own order: another shopper's is
404 (order numbers do not leak), a paid or cancelled one 409. The answer is passed to
``wx.requestPayment`` as it is; the order becomes paid when WeChat's notification
arrives at ``/api/v1/pay/notify/wechat``.
"""

from __future__ import annotations

from typing import Any

from cloud_bridge import keys
from cloud_bridge.openapi import Call, Route

from . import service
from .schemas import RequestPayment


async def pay_order(call: Call) -> dict[str, Any]:
    """WeChat JSAPI payment of one of my orders: the signed ``wx.requestPayment`` params."""
    return await service.pay(
        call.app[keys.DB_KEY], call.app[keys.SERVICES_KEY].payments,
        order_no=call.path["order_no"], openid=call.openid,
        notify=service.notify_url(call.app[keys.CONFIG_KEY], str(call.request.url.origin())))


ROUTES = [
    Route("POST", "/api/v1/mp/orders/{order_no}/pay", pay_order,
          "Pay my order with WeChat Pay (JSAPI)", "mp", auth="mp", response=RequestPayment,
          responses={409: "the order is paid, cancelled or closed: nothing to pay",
                     502: "WeChat Pay refused the prepay or did not answer",
                     503: "WeChat Pay or its notify URL is not configured"}),
]
