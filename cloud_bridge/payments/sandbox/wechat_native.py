"""WeChat Pay Native (扫码支付) in the sandbox: the QR a kiosk shows when a shopper cannot
show a payment code.

* ``POST /v3/pay/transactions/native`` (signed like every v3 route): appid, mchid,
  description, out_trade_no, notify_url, amount -> ``{"code_url": "weixin://wxpay/..."}``.
  The same out_trade_no with the same amount answers the same code_url; a paid or closed
  trade is ``ORDERPAID`` / ``ORDERCLOSED``. Query by out_trade_no and ``/close`` are the
  gateway's existing routes (a Native trade is closed, never reversed).
* ``POST /__sandbox/native/scan`` (sandbox only, what WeChat does when a shopper scans
  the QR and confirms): ``{code_url, openid}`` -> the trade is paid and the signed,
  encrypted ``TRANSACTION.SUCCESS`` notification posted to its notify_url.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from .ledger import Trade, code_hash
from .wechat_jsapi import order_request, repeated_order

if TYPE_CHECKING:
    from .wechat import WechatGateway

CODE_URL_PREFIX = "weixin://wxpay/bizpayurl?pr="


class NativeRoutes:
    """The Native routes of one :class:`WechatGateway`; notifications go out through its
    JSAPI routes' sender (same format, same resend rules)."""

    def __init__(self, gw: WechatGateway) -> None:
        self.gw = gw
        self.by_code_url: dict[str, str] = {}          # code_url -> out_trade_no

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v3/pay/transactions/native", self.native)
        app.router.add_post("/__sandbox/native/scan", self.shopper_scans)

    async def native(self, request: web.Request) -> web.Response:
        gw = self.gw
        req = await order_request(gw, request, payer=False, no_min=6)
        if isinstance(req, web.Response):
            return req
        trade = gw.ledger.trades.get(req.out_trade_no)
        if trade is not None:
            return repeated_order(gw, trade, req, "NATIVE", "code_url")
        code_url = CODE_URL_PREFIX + secrets.token_urlsafe(12)
        gw.ledger.trades[req.out_trade_no] = Trade(
            req.out_trade_no, gw.ledger.new_id(), req.total, req.currency, code_hash(code_url),
            req.description, datetime.now(UTC), state="NOTPAY",
            meta={"trade_type": "NATIVE", "code_url": code_url, "notify_url": req.notify_url})
        self.by_code_url[code_url] = req.out_trade_no
        return gw.signed(200, {"code_url": code_url})

    async def shopper_scans(self, request: web.Request) -> web.Response:
        """What WeChat does when a shopper scans the QR and confirms with their password."""
        gw = self.gw
        try:
            p = await request.json()
            code_url, openid = str(p["code_url"]), str(p["openid"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "code_url and openid"}, status=400)
        trade = gw.ledger.trades.get(self.by_code_url.get(code_url, ""))
        if trade is None or not openid:
            return web.json_response({"error": "not a payment QR of this merchant"}, status=404)
        if trade.state == "CLOSED":
            return web.json_response({"error": "ORDERCLOSED"}, status=409)
        if trade.state != "SUCCESS":
            trade.code_sha, trade.meta["openid"] = code_hash(openid), openid  # the payer's purse
            gw.ledger._debit(trade)
        status = await gw.jsapi.send(trade, replay=False)
        return web.json_response({"out_trade_no": trade.out_trade_no,
                                  "transaction_id": trade.transaction_id,
                                  "notify_status": status})

