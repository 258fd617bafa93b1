"""Local Alipay OpenAPI gateway (``/gateway.do``): face-to-face ``alipay.trade.pay``
(``scene=bar_code``), query, cancel, refund, refund query and the bill download URL.

Requests (GET query string or POST form, as the public SDK and our client send them)
must be RSA2-signed with the app's key over the sorted ``k=v`` content; responses are
``{"<method>_response": {...}, "sign": "..."}`` with the signature over the exact JSON
text of the inner object, made with the sandbox's "Alipay" key.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from datetime import UTC, datetime

from aiohttp import web

from common.jsontypes import JsonMapping
from contract.money import major_text, parse_major

from .. import crypto
from .alipay_bill import PID, bill_zip
from .alipay_fund import fund_zip
from .common import Gateway, form_fields
from .ledger import CHINA_TZ, Ledger, PayError, Trade

log = logging.getLogger(__name__)

# Alipay payment codes: 16-24 digits starting with 25..30.
ALIPAY_CODE_RE = r"^(2[5-9]|30)\d{14,22}$"
MAX_SKEW_S = 300

# Ledger error -> (code, msg, sub_code, sub_msg)
BUSINESS = {
    "PARAM_ERROR": ("40004", "ACQ.INVALID_PARAMETER", "参数无效"),
    "OUT_TRADE_NO_USED": ("40004", "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"),
    "TRADE_CLOSED": ("40004", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭"),
    "TRADE_ERROR": ("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
    "AUTH_CODE_INVALID": ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败"),
    "AUTH_CODE_EXPIRED": ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID", "付款码已过期，请刷新后重试"),
    "NOTENOUGH": ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足"),
    "ORDER_NOT_EXIST": ("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在"),
    "REVERSE_NOT_ALLOWED": ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", "交易已退款，不能撤销"),
    "REFUND_MISMATCH": ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原请求不一致"),
    "TRADE_NOT_PAID": ("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
    "REFUND_EXCEEDS": ("40004", "ACQ.REFUND_FEE_ERROR", "退款金额超限"),
}
SYSTEM_ERROR = {"code": "20000", "msg": "Service Currently Unavailable",
                "sub_code": "aop.ACQ.SYSTEM_ERROR", "sub_msg": "系统繁忙"}

TRADE_STATUS = {"USERPAYING": "WAIT_BUYER_PAY", "SUCCESS": "TRADE_SUCCESS",
                "PAYERROR": "TRADE_CLOSED", "REVOKED": "TRADE_CLOSED", "CLOSED": "TRADE_CLOSED"}


def yuan(fen: int) -> str:
    return major_text(fen, "CNY")


def fen(value: str) -> int:
    """Parse an Alipay amount ("12.30") into fen, exactly (``MoneyError`` otherwise)."""
    return parse_major(str(value), "CNY")


def china_time(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


class AlipayKeys:
    def __init__(self) -> None:
        self.app_key = crypto.generate_rsa_key()
        self.alipay_key = crypto.generate_rsa_key()
        self.app_id = "2021000000000000"


class AlipayGateway(Gateway):
    name = "alipay"

    def __init__(self, keys: AlipayKeys | None = None, ledger: Ledger | None = None,
                 hold_s: float | None = None) -> None:
        super().__init__(ledger or Ledger("alipay", "2024", ALIPAY_CODE_RE),
                         **({"hold_s": hold_s} if hold_s is not None else {}))
        self.keys = keys or AlipayKeys()
        self._app_pub = self.keys.app_key.public_key()
        self._bill_tokens: dict[str, tuple[str, str]] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/gateway.do", self.gateway)
        app.router.add_get("/bill/download", self.bill_download)

    # ------------------------------------------------------------ protocol
    def respond(self, method: str, payload: JsonMapping, *, signed: bool = True) -> web.Response:
        key = method.replace(".", "_") + "_response"
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        if signed:
            sign = crypto.rsa_sign(self.keys.alipay_key, inner)
            raw = f'{{"{key}":{inner},"sign":"{sign}"}}'
        else:
            raw = f'{{"{key}":{inner}}}'
        return web.Response(body=raw.encode(), content_type="application/json", charset="utf-8")

    def business_error(self, method: str, code: str, **extra: object) -> web.Response:
        c, sub_code, sub_msg = BUSINESS.get(code, ("40004", "ACQ.SYSTEM_ERROR", "系统错误"))
        return self.respond(method, {"code": c, "msg": "Business Failed", "sub_code": sub_code,
                                     "sub_msg": sub_msg, **extra})

    def verify_request(self, params: dict[str, str]) -> str | None:
        """None when the request is authentic, else the reason."""
        if params.get("app_id") != self.keys.app_id:
            return "isv.invalid-app-id"
        if params.get("sign_type") != "RSA2":
            return "isv.invalid-signature-type"
        try:
            sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return "isv.invalid-timestamp"
        # Alipay reads it as Beijing time; the public SDK sends the host's local time,
        # so either is accepted within the skew.
        china_now = datetime.now(CHINA_TZ).replace(tzinfo=None)
        if min(abs((china_now - sent).total_seconds()),
               abs((datetime.now() - sent).total_seconds())) > MAX_SKEW_S:
            return "isv.invalid-timestamp"
        content = crypto.alipay_sign_content({k: v for k, v in params.items() if k != "sign"})
        if not crypto.rsa_verify(self._app_pub, content, params.get("sign", "")):
            return "isv.invalid-signature"
        return None

    async def gateway(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update(await form_fields(request))
        method = params.get("method", "")
        problem = self.verify_request(params)
        if problem:
            # Alipay answers authentication failures unsigned, under the method's key.
            return self.respond(method or "error", {
                "code": "40002", "msg": "Invalid Arguments", "sub_code": problem,
                "sub_msg": "验签出错" if "signature" in problem else problem}, signed=False)
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return self.business_error(method, "PARAM_ERROR")
        handler = {
            "alipay.trade.pay": self.trade_pay,
            "alipay.trade.query": self.trade_query,
            "alipay.trade.cancel": self.trade_cancel,
            "alipay.trade.refund": self.trade_refund,
            "alipay.trade.fastpay.refund.query": self.refund_query,
            "alipay.data.dataservice.bill.downloadurl.query": self.bill_url,
        }.get(method)
        if handler is None:
            return self.respond(method or "error", {
                "code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method",
                "sub_msg": "不存在的方法名"}, signed=False)
        try:
            return await handler(method, biz)
        except (KeyError, TypeError, ValueError):
            return self.business_error(method, "PARAM_ERROR")

    def trade_fields(self, trade: Trade) -> dict[str, str]:
        data = {"trade_no": trade.transaction_id, "out_trade_no": trade.out_trade_no,
                "buyer_logon_id": "sha***@sandbox.com", "total_amount": yuan(trade.amount),
                "buyer_user_id": "2088" + str(int(trade.code_sha[:12], 16))[:12]}
        if trade.paid_at:
            data.update(receipt_amount=yuan(trade.amount), buyer_pay_amount=yuan(trade.amount),
                        gmt_payment=china_time(trade.paid_at))
        return data

    # ------------------------------------------------------------ methods
    async def trade_pay(self, method: str, biz: dict) -> web.Response:
        if biz.get("scene") not in ("bar_code", "wave_code"):
            return self.business_error(method, "PARAM_ERROR")
        no = str(biz["out_trade_no"])
        amount = fen(biz["total_amount"])
        currency = str(biz.get("trans_currency", "CNY"))
        fault = self.ledger.faults.pick("pay", no)
        kind = fault.kind if fault else None
        if kind == "drop":
            await self.hold()
            return self.respond(method, SYSTEM_ERROR)
        if kind in ("systemerror", "http_503"):
            if kind == "http_503":
                return web.Response(status=503, text="Service Unavailable")
            return self.respond(method, SYSTEM_ERROR)
        try:
            trade = self.ledger.pay(no, amount, currency, str(biz["auth_code"]),
                                    str(biz.get("subject", "")), fault)
        except PayError as err:
            return self.business_error(method, err.code)
        if kind == "timeout":
            await self.hold()
        if kind == "http_500":
            return web.Response(status=500, text="Internal Server Error")
        if trade.state == "USERPAYING":
            return self.respond(method, {"code": "10003", "msg": "order success pay inprocess",
                                         **self.trade_fields(trade)})
        return self.respond(method, {"code": "10000", "msg": "Success", **self.trade_fields(trade)})

    async def trade_query(self, method: str, biz: dict) -> web.Response:
        no = str(biz["out_trade_no"])
        fault = self.ledger.faults.pick("query", no)
        if fault and fault.kind in ("timeout", "drop"):
            await self.hold()
        if fault and fault.kind in ("systemerror", "http_500", "http_503"):
            return self.respond(method, SYSTEM_ERROR)
        try:
            trade = self.ledger.query(no)
        except PayError as err:
            return self.business_error(method, err.code)
        return self.respond(method, {"code": "10000", "msg": "Success",
                                     "trade_status": TRADE_STATUS[trade.state],
                                     **self.trade_fields(trade)})

    async def trade_cancel(self, method: str, biz: dict) -> web.Response:
        no = str(biz["out_trade_no"])
        fault = self.ledger.faults.pick("reverse", no)
        if fault and fault.kind in ("timeout", "drop"):
            await self.hold()
            return self.respond(method, {**SYSTEM_ERROR, "retry_flag": "Y"})
        if fault and fault.kind in ("systemerror", "http_500", "http_503"):
            return self.respond(method, {"code": "40004", "msg": "Business Failed",
                                         "sub_code": "ACQ.SYSTEM_ERROR", "sub_msg": "系统错误",
                                         "retry_flag": "Y"})
        try:
            trade, action = self.ledger.reverse(no)
        except PayError as err:
            return self.business_error(method, err.code, retry_flag="N")
        return self.respond(method, {"code": "10000", "msg": "Success", "out_trade_no": no,
                                     "trade_no": trade.transaction_id, "retry_flag": "N",
                                     "action": action})

    async def trade_refund(self, method: str, biz: dict) -> web.Response:
        no = str(biz["out_trade_no"])
        request_no = str(biz.get("out_request_no") or no)
        amount = fen(biz["refund_amount"])
        fault = self.ledger.faults.pick("refund", no)
        if fault and fault.kind in ("systemerror", "http_503", "drop"):
            if fault.kind == "drop":
                await self.hold()
            return self.respond(method, SYSTEM_ERROR)
        trade = self.ledger.trades.get(no)
        repeat = trade is not None and request_no in trade.refunds
        try:
            self.ledger.refund(no, request_no, amount)
        except PayError as err:
            return self.business_error(method, err.code)
        if fault and fault.kind == "timeout":
            await self.hold()
        trade = self.ledger.trades[no]
        return self.respond(method, {
            "code": "10000", "msg": "Success", "trade_no": trade.transaction_id,
            "out_trade_no": no, "buyer_logon_id": "sha***@sandbox.com",
            "fund_change": "N" if repeat else "Y", "refund_fee": yuan(trade.refunded),
            "gmt_refund_pay": china_time(),
        })

    async def refund_query(self, method: str, biz: dict) -> web.Response:
        no = str(biz["out_trade_no"])
        request_no = str(biz["out_request_no"])
        trade = self.ledger.trades.get(no)
        if trade is None:
            return self.business_error(method, "ORDER_NOT_EXIST")
        refund = trade.refunds.get(request_no)
        data = {"code": "10000", "msg": "Success", "out_trade_no": no,
                "trade_no": trade.transaction_id, "out_request_no": request_no}
        if refund is not None:   # an absent refund_amount means "no such refund"
            data.update(total_amount=yuan(trade.amount), refund_amount=yuan(refund.amount),
                        refund_status="REFUND_SUCCESS")
        return self.respond(method, data)

    async def bill_url(self, method: str, biz: dict) -> web.Response:
        day = str(biz["bill_date"])
        datetime.strptime(day, "%Y-%m-%d")
        bill_type = str(biz.get("bill_type", ""))
        if bill_type not in ("trade", "signcustomer"):
            return self.business_error(method, "PARAM_ERROR")
        token = secrets.token_urlsafe(12)
        self._bill_tokens[token] = (day, bill_type)
        return self.respond(method, {"code": "10000", "msg": "Success",
                                     "bill_download_url": f"{self.base_url}/bill/download?token={token}"})

    def bill_file(self, day: str, bill_type: str = "trade") -> bytes:
        """The day's trade bill (``trade``, see :mod:`.alipay_bill`) or fund-flow bill
        (``signcustomer``, see :mod:`.alipay_fund`) as Alipay serves it: a zip of GBK CSV
        files, fees included."""
        rows = self.ledger.bill_for(day)
        return fund_zip(rows, day) if bill_type == "signcustomer" else bill_zip(rows, day)

    async def bill_download(self, request: web.Request) -> web.Response:
        asked = self._bill_tokens.get(request.query.get("token", ""))
        if asked is None:
            return web.Response(status=404, text="bill not found")
        day, bill_type = asked
        d = day.replace("-", "")
        return web.Response(body=self.bill_file(day, bill_type),
                            content_type="application/oct-stream",
                            headers={"Content-Disposition":
                                     f'attachment; filename="{PID}_{d}.csv.zip"'})

    # ------------------------------------------------------------ notifications
    def notification(self, trade: Trade, *, at: datetime | None = None,
                     notify_id: str | None = None) -> dict[str, str]:
        """Form fields of a signed ``trade_status_sync`` asynchronous notification."""
        params = {
            "notify_time": china_time(at), "notify_type": "trade_status_sync",
            "notify_id": notify_id or uuid.uuid4().hex, "app_id": self.keys.app_id,
            "charset": "utf-8", "version": "1.0", "trade_status": TRADE_STATUS[trade.state],
            **{k: v for k, v in self.trade_fields(trade).items()},
        }
        content = crypto.alipay_sign_content(params)
        params["sign_type"] = "RSA2"
        params["sign"] = crypto.rsa_sign(self.keys.alipay_key, content)
        return params

