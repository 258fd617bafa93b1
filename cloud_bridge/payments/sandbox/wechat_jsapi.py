"""WeChat Pay JSAPI (小程序/公众号支付) in the sandbox: prepay, the shopper's payment, close.

Real protocol routes (signed like every WeChat v3 route of :mod:`.wechat`):

* ``POST /v3/pay/transactions/jsapi``: appid, mchid, description, out_trade_no,
  notify_url, amount{total,currency}, payer{openid} -> ``{"prepay_id": ...}``. The same
  out_trade_no with the same parameters answers the same prepay_id (as WeChat does
  while the prepay lives); different parameters are ``INVALID_REQUEST``.
* ``POST /v3/pay/transactions/out-trade-no/{no}/close``: 204; a paid trade is
  ``ORDERPAID``. Query by out_trade_no is the existing query route.

Sandbox-only routes (what the WeChat client does for the shopper):

* ``POST /__sandbox/jsapi/pay``: the exact ``wx.requestPayment`` parameters (appId,
  timeStamp, nonceStr, package, signType, paySign) plus the paying user's ``openid``.
  The paySign is verified with the merchant's public key, the payer must be the prepay's
  openid; then the trade is paid and the signed, AES-256-GCM encrypted
  ``TRANSACTION.SUCCESS`` notification is POSTed to the notify_url.
* ``POST /__sandbox/jsapi/notify``: send the trade's notification again: a fresh one
  (new id and nonce, as WeChat's retries) or, with ``replay: true``, byte for byte the
  last one sent (an attacker's replay).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from .. import crypto
from .ledger import PayError, Trade, code_hash

if TYPE_CHECKING:
    from .wechat import WechatGateway

log = logging.getLogger(__name__)


def jsapi_sign_message(app_id: str, timestamp: str, nonce: str, package: str) -> str:
    """The string WeChat's JSAPI paySign is over: four lines, each ending in ``\\n``."""
    return f"{app_id}\n{timestamp}\n{nonce}\n{package}\n"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated JSAPI or Native order request (the two share WeChat's v3 order body)."""

    out_trade_no: str
    total: int
    currency: str
    notify_url: str
    description: str
    openid: str | None          # the payer (JSAPI); Native has none


async def order_request(gw: WechatGateway, request: web.Request, *, payer: bool,
                        no_min: int) -> OrderRequest | web.Response:
    """Authenticate and validate an order request as WeChat does (``PARAM_ERROR`` for a
    missing or bad field, an appid/mchid that is not the merchant's); ``payer``: the body
    must name ``payer.openid``; ``no_min``: the shortest out_trade_no accepted."""
    body = await gw.authenticate(request)
    if isinstance(body, web.Response):
        return body
    try:
        req = json.loads(body)
        out_trade_no = str(req["out_trade_no"])
        total = req["amount"]["total"]
        currency = str(req["amount"].get("currency", "CNY"))
        openid = str(req["payer"]["openid"]) if payer else None
        notify_url = str(req["notify_url"])
        description = str(req["description"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return gw.signed(400, {"code": "PARAM_ERROR", "message": "参数错误"})
    if (not isinstance(total, int) or isinstance(total, bool) or total <= 0
            or not (no_min <= len(out_trade_no) <= 32) or (payer and not openid)
            or not notify_url.startswith(("https://", "http://"))):
        return gw.signed(400, {"code": "PARAM_ERROR", "message": "参数错误"})
    if req.get("mchid") != gw.keys.mchid or req.get("appid") != gw.keys.appid:
        return gw.signed(400, {"code": "PARAM_ERROR", "message": "appid/mchid 不匹配"})
    return OrderRequest(out_trade_no, total, currency, notify_url, description, openid)


def repeated_order(gw: WechatGateway, trade: Trade, req: OrderRequest, trade_type: str,
                   answer_field: str) -> web.Response:
    """The answer to an order request for an out_trade_no that exists: the same answer
    while the trade is open and the request the same, else WeChat's error for its state."""
    # The payer is part of a JSAPI request only (a paid Native trade learns its payer).
    same_payer = req.openid is None or trade.meta.get("openid") == req.openid
    if (trade.meta.get("trade_type") != trade_type or not same_payer
            or (trade.amount, trade.currency) != (req.total, req.currency)):
        return gw.error("OUT_TRADE_NO_USED")
    if trade.state == "SUCCESS":
        return gw.signed(400, {"code": "ORDERPAID", "message": "该订单已支付"})
    if trade.state == "CLOSED":
        return gw.signed(400, {"code": "ORDERCLOSED", "message": "该订单已关闭"})
    return gw.signed(200, {answer_field: trade.meta[answer_field]})


class JsapiRoutes:
    """The JSAPI routes of one :class:`WechatGateway` (its keys, ledger and signing)."""

    def __init__(self, gw: WechatGateway) -> None:
        self.gw = gw
        self.by_prepay: dict[str, str] = {}            # prepay_id -> out_trade_no
        self.last_sent: dict[str, tuple[dict[str, str], str]] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v3/pay/transactions/jsapi", self.jsapi)
        app.router.add_post("/v3/pay/transactions/out-trade-no/{no}/close", self.close)
        app.router.add_post("/__sandbox/jsapi/pay", self.shopper_pays)
        app.router.add_post("/__sandbox/jsapi/notify", self.notify_again)

    # ------------------------------------------------------------ protocol routes
    async def jsapi(self, request: web.Request) -> web.Response:
        gw = self.gw
        req = await order_request(gw, request, payer=True, no_min=1)
        if isinstance(req, web.Response):
            return req
        trade = gw.ledger.trades.get(req.out_trade_no)
        if trade is not None:
            return repeated_order(gw, trade, req, "JSAPI", "prepay_id")
        prepay_id = "wx" + secrets.token_hex(17)
        openid = req.openid or ""
        trade = Trade(req.out_trade_no, gw.ledger.new_id(), req.total, req.currency,
                      code_hash(openid), req.description, datetime.now(UTC), state="NOTPAY",
                      meta={"trade_type": "JSAPI", "openid": openid, "prepay_id": prepay_id,
                            "notify_url": req.notify_url})
        gw.ledger.trades[req.out_trade_no] = trade
        self.by_prepay[prepay_id] = req.out_trade_no
        return gw.signed(200, {"prepay_id": prepay_id})

    async def close(self, request: web.Request) -> web.Response:
        gw = self.gw
        body = await gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        try:
            mchid = json.loads(body).get("mchid")
        except (ValueError, AttributeError):
            mchid = None
        if mchid != gw.keys.mchid:
            return gw.signed(400, {"code": "PARAM_ERROR", "message": "mchid 不匹配"})
        trade = gw.ledger.trades.get(request.match_info["no"])
        if trade is None:
            return gw.error("ORDER_NOT_EXIST")
        if trade.state == "SUCCESS":
            return gw.signed(400, {"code": "ORDERPAID", "message": "订单已支付，不能关闭"})
        trade.state = "CLOSED"
        return gw.signed(204, None)

    # ------------------------------------------------------------ the shopper's side
    async def shopper_pays(self, request: web.Request) -> web.Response:
        """What WeChat does on ``wx.requestPayment``: check paySign, take the money, notify."""
        gw = self.gw
        try:
            p = await request.json()
            app_id, ts, nonce = str(p["appId"]), str(p["timeStamp"]), str(p["nonceStr"])
            package, sign = str(p["package"]), str(p["paySign"])
            sign_type, openid = str(p["signType"]), str(p["openid"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"errMsg": "requestPayment:fail invalid params"}, status=400)
        if sign_type != "RSA" or app_id != gw.keys.appid:
            return web.json_response({"errMsg": "requestPayment:fail appid or signType"},
                                     status=400)
        if not crypto.rsa_verify(gw.keys.merchant_key.public_key(),
                                 jsapi_sign_message(app_id, ts, nonce, package), sign):
            return web.json_response({"errMsg": "requestPayment:fail paySign invalid"},
                                     status=400)
        no = self.by_prepay.get(package.removeprefix("prepay_id="))
        trade = gw.ledger.trades.get(no or "")
        if trade is None:
            return web.json_response({"errMsg": "requestPayment:fail prepay_id invalid"},
                                     status=400)
        if trade.meta.get("openid") != openid:
            return web.json_response({"errMsg": "requestPayment:fail payer mismatch"},
                                     status=403)
        if trade.state == "CLOSED":
            return web.json_response({"errMsg": "requestPayment:fail order closed"}, status=409)
        if trade.state != "SUCCESS":
            if gw.ledger.balances.get(trade.code_sha, 10**9) < trade.amount:
                return web.json_response({"errMsg": "requestPayment:fail NOTENOUGH"}, status=402)
            gw.ledger._debit(trade)
        status = await self.send(trade, replay=False)
        return web.json_response({"errMsg": "requestPayment:ok", "out_trade_no": no,
                                  "transaction_id": trade.transaction_id,
                                  "notify_status": status})

    async def notify_again(self, request: web.Request) -> web.Response:
        try:
            p = await request.json()
            trade = self.gw.ledger.query(str(p["out_trade_no"]))
        except (ValueError, KeyError, TypeError, PayError):
            return web.json_response({"error": "no such trade"}, status=404)
        if trade.state != "SUCCESS":
            return web.json_response({"error": "trade not paid"}, status=409)
        status = await self.send(trade, replay=bool(p.get("replay")))
        return web.json_response({"notify_status": status})

    async def send(self, trade: Trade, *, replay: bool) -> int | None:
        """POST the notification to the trade's notify_url; the HTTP status (None: unreachable)."""
        if replay and trade.out_trade_no in self.last_sent:
            headers, body = self.last_sent[trade.out_trade_no]
        else:
            headers, body = self.gw.notification(trade)
            self.last_sent[trade.out_trade_no] = (headers, body)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                async with http.post(trade.meta["notify_url"], data=body.encode(),
                                     headers={**headers, "Content-Type": "application/json"}
                                     ) as resp:
                    return resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("sandbox notification of %s not delivered: %s", trade.out_trade_no, err)
            return None

