"""Local WeChat Pay API v3 gateway: code payment (付款码支付), query, reverse, refunds, bills.

Requests must carry a valid ``WECHATPAY2-SHA256-RSA2048`` Authorization signed with
the merchant key; every response (errors too) is signed with the platform key and
carries ``Wechatpay-Signature/-Timestamp/-Nonce/-Serial`` (public-key mode: the serial
is the ``PUB_KEY_ID_...`` of the platform public key), so the public ``wechatpayv3``
SDK and our provider client both verify it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime

from aiohttp import web

from common.jsontypes import JsonMapping, JsonObject
from contract.money import major_text

from .. import crypto
from .common import Gateway
from .ledger import CHINA_TZ, Ledger, PayError, Refund, Trade

# The sandbox merchant's fee rate (费率) in basis points: 0.60 %, WeChat Pay's standard
# rate for ordinary retail merchants.
FEE_RATE_BP = 60


def bill_fee(amount: int) -> int:
    """The fee WeChat bills on ``amount`` fen: the rate, rounded half up to the fen."""
    return (amount * FEE_RATE_BP * 2 + 10000) // 20000

log = logging.getLogger(__name__)

# WeChat payment codes: 18 digits starting with 10..15.
WECHAT_CODE_RE = r"^1[0-5]\d{16}$"
# Requests older (or newer) than this are refused, as the platform does.
MAX_SKEW_S = 300

# Ledger error -> (HTTP status, WeChat error code, message)
ERRORS = {
    "PARAM_ERROR": (400, "PARAM_ERROR", "参数错误"),
    "OUT_TRADE_NO_USED": (400, "INVALID_REQUEST", "商户订单号重复，参数不一致"),
    "TRADE_CLOSED": (400, "INVALID_REQUEST", "订单已关闭或已撤销"),
    "TRADE_ERROR": (400, "TRADE_ERROR", "交易错误"),
    "AUTH_CODE_INVALID": (400, "AUTH_CODE_INVALID", "付款码无效，请重新扫码"),
    "AUTH_CODE_EXPIRED": (400, "AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试"),
    "NOTENOUGH": (403, "NOTENOUGH", "用户余额不足"),
    "ORDER_NOT_EXIST": (404, "ORDER_NOT_EXIST", "订单不存在"),
    "REVERSE_NOT_ALLOWED": (400, "INVALID_REQUEST", "订单已退款，不能撤销"),
    "REFUND_MISMATCH": (400, "INVALID_REQUEST", "退款单号重复，金额不一致"),
    "TRADE_NOT_PAID": (400, "INVALID_REQUEST", "订单未支付，不能退款"),
    "REFUND_EXCEEDS": (400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"),
    "RESOURCE_NOT_EXISTS": (404, "RESOURCE_NOT_EXISTS", "退款单不存在"),
}


def rfc3339(at: datetime | None) -> str | None:
    return at.astimezone(CHINA_TZ).isoformat(timespec="seconds") if at else None


class WechatKeys:
    """The key material of one sandbox merchant and the sandbox platform."""

    def __init__(self) -> None:
        self.merchant_key = crypto.generate_rsa_key()
        self.platform_key = crypto.generate_rsa_key()
        self.mchid = "1900009191"
        self.appid = "wxd678efh567hg6787"
        self.merchant_serial = secrets.token_hex(20).upper()
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(16).upper()
        self.apiv3_key = crypto.new_apiv3_key()


class WechatGateway(Gateway):
    name = "wechat"

    def __init__(self, keys: WechatKeys | None = None, ledger: Ledger | None = None,
                 hold_s: float | None = None) -> None:
        super().__init__(ledger or Ledger("wechat", "4200", WECHAT_CODE_RE),
                         **({"hold_s": hold_s} if hold_s is not None else {}))
        self.keys = keys or WechatKeys()
        self._merchant_pub = self.keys.merchant_key.public_key()
        self._seen_nonces: dict[str, float] = {}
        # token -> (kind: trade | fundflow, day, gzip)
        self._bill_tokens: dict[str, tuple[str, str, bool]] = {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v3/pay/transactions/codepay", self.codepay)
        app.router.add_get("/v3/pay/transactions/out-trade-no/{no}", self.query)
        app.router.add_post("/v3/pay/transactions/out-trade-no/{no}/reverse", self.reverse)
        app.router.add_post("/v3/refund/domestic/refunds", self.refund)
        app.router.add_get("/v3/refund/domestic/refunds/{no}", self.refund_query)
        app.router.add_get("/v3/bill/tradebill", self.tradebill)
        app.router.add_get("/v3/bill/fundflowbill", self.fundflowbill)
        app.router.add_get("/v3/billdownload/file", self.billdownload)
        # JSAPI (mini-program) payment: prepay, close and the shopper's side.
        from .wechat_jsapi import JsapiRoutes

        self.jsapi = JsapiRoutes(self)
        self.jsapi.add_routes(app)
        # Native (扫码支付): the QR a kiosk shows; closed and queried like any trade.
        from .wechat_native import NativeRoutes

        self.native = NativeRoutes(self)
        self.native.add_routes(app)
        # E-invoices (数电发票) on the same host, as WeChat Pay serves them.
        from .wechat_fapiao import FapiaoRoutes

        self.fapiao = FapiaoRoutes(self)
        self.fapiao.add_routes(app)

    # ------------------------------------------------------------ protocol
    def signed(self, status: int, payload: JsonMapping | None, *, serial: str | None = None,
               raw: bytes | None = None, content_type: str = "application/json") -> web.Response:
        body = raw.decode() if raw is not None else (
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
        )
        ts = str(int(time.time()))
        nonce = crypto.nonce_str()
        sig = crypto.rsa_sign(self.keys.platform_key, crypto.wechat_response_message(ts, nonce, body))
        headers = {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sig,
            "Wechatpay-Serial": serial or self.keys.public_key_id,
            "Wechatpay-Signature-Type": crypto.WECHAT_SCHEMA,
            "Request-ID": str(uuid.uuid4()),
        }
        return web.Response(status=status, body=body.encode(), headers=headers,
                            content_type=content_type if body else None)

    def error(self, code: str, detail: str | None = None) -> web.Response:
        status, wx_code, message = ERRORS.get(code, (500, "SYSTEMERROR", "系统错误"))
        return self.signed(status, {"code": wx_code, "message": detail or message})

    async def authenticate(self, request: web.Request) -> str | web.Response:
        """Verify the merchant's signature; returns the body text or a 401 response."""
        body = await request.text()
        try:
            auth = crypto.parse_wechat_authorization(request.headers.get("Authorization", ""))
        except crypto.SignatureError as err:
            return self.signed(401, {"code": "SIGN_ERROR", "message": str(err)})
        if auth["mchid"] != self.keys.mchid or auth["serial_no"] != self.keys.merchant_serial:
            return self.signed(401, {"code": "SIGN_ERROR", "message": "商户号或证书序列号错误"})
        try:
            skew = abs(int(auth["timestamp"]) - time.time())
        except ValueError:
            skew = MAX_SKEW_S + 1
        if skew > MAX_SKEW_S:
            return self.signed(401, {"code": "SIGN_ERROR", "message": "请求时间戳过期"})
        message = crypto.wechat_request_message(
            request.method, request.raw_path, auth["timestamp"], auth["nonce_str"], body
        )
        if not crypto.rsa_verify(self._merchant_pub, message, auth["signature"]):
            return self.signed(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        return body

    def trade_json(self, trade: Trade) -> JsonObject:
        data: JsonObject = {
            "appid": self.keys.appid,
            "mchid": self.keys.mchid,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "trade_type": trade.meta.get("trade_type", "MICROPAY"),
            "trade_state": trade.state,
            "trade_state_desc": {
                "SUCCESS": "支付成功", "USERPAYING": "用户支付中", "PAYERROR": "支付失败",
                "REVOKED": "已撤销", "CLOSED": "已关闭", "NOTPAY": "未支付",
            }.get(trade.state, trade.state),
            "bank_type": "OTHERS",
            "amount": {"total": trade.amount, "currency": trade.currency,
                       "payer_total": trade.amount, "payer_currency": trade.currency},
            "payer": {"openid": trade.meta.get("openid") or "o" + trade.code_sha[:27]},
        }
        if trade.paid_at:
            data["success_time"] = rfc3339(trade.paid_at)
        return data

    # ------------------------------------------------------------ handlers
    async def codepay(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        try:
            req = json.loads(body)
            out_trade_no = str(req["out_trade_no"])
            amount = req["amount"]
            total = int(amount["total"])
            currency = str(amount.get("currency", "CNY"))
            code = str(req["payer"]["auth_code"])
            description = str(req["description"])
        except (ValueError, KeyError, TypeError):
            return self.signed(400, {"code": "PARAM_ERROR", "message": "参数错误"})
        if req.get("mchid") != self.keys.mchid or req.get("appid") != self.keys.appid:
            return self.signed(400, {"code": "PARAM_ERROR", "message": "appid/mchid 不匹配"})
        fault = self.ledger.faults.pick("pay", out_trade_no)
        kind = fault.kind if fault else None
        if kind == "drop":
            await self.hold()
            return self.error("SYSTEMERROR")
        if kind in ("http_503", "systemerror"):
            return self.signed(500 if kind == "systemerror" else 503,
                               {"code": "SYSTEMERROR", "message": "系统超时，请稍后再查询"})
        try:
            trade = self.ledger.pay(out_trade_no, total, currency, code, description, fault)
        except PayError as err:
            return self.error(err.code)
        if kind == "timeout":
            await self.hold()
        if kind == "http_500":
            return self.signed(500, {"code": "SYSTEMERROR", "message": "系统错误"})
        if trade.state == "USERPAYING":
            return self.signed(202, {"code": "USERPAYING", "message": "用户支付中，需要输入密码"})
        return self.signed(200, self.trade_json(trade))

    async def query(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        no = request.match_info["no"]
        fault = self.ledger.faults.pick("query", no)
        if fault and fault.kind in ("timeout", "drop"):
            await self.hold()
        if fault and fault.kind in ("http_500", "http_503", "systemerror"):
            return self.signed(500, {"code": "SYSTEMERROR", "message": "系统错误"})
        try:
            trade = self.ledger.query(no)
        except PayError as err:
            return self.error(err.code)
        return self.signed(200, self.trade_json(trade))

    async def reverse(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        no = request.match_info["no"]
        fault = self.ledger.faults.pick("reverse", no)
        if fault and fault.kind in ("timeout", "drop"):
            await self.hold()
            return self.error("SYSTEMERROR")
        if fault and fault.kind in ("http_500", "http_503", "systemerror"):
            # The platform asks the caller to call reverse again (v2 ``recall=Y``).
            return self.signed(500, {"code": "SYSTEMERROR", "message": "系统错误，请重新调用撤销"})
        try:
            self.ledger.reverse(no)
        except PayError as err:
            return self.error(err.code)
        return self.signed(200, {"appid": self.keys.appid, "mchid": self.keys.mchid,
                                 "out_trade_no": no})

    def refund_json(self, trade: Trade, refund: Refund) -> JsonObject:
        return {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": trade.transaction_id,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "status": refund.status,
            "create_time": rfc3339(refund.created_at),
            "success_time": rfc3339(refund.created_at),
            "amount": {"total": trade.amount, "refund": refund.amount,
                       "payer_total": trade.amount, "payer_refund": refund.amount,
                       "settlement_refund": refund.amount, "settlement_total": trade.amount,
                       "discount_refund": 0, "currency": trade.currency},
        }

    async def refund(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        try:
            req = json.loads(body)
            no = str(req["out_trade_no"])
            out_refund_no = str(req["out_refund_no"])
            amount = int(req["amount"]["refund"])
            total = int(req["amount"]["total"])
        except (ValueError, KeyError, TypeError):
            return self.signed(400, {"code": "PARAM_ERROR", "message": "参数错误"})
        fault = self.ledger.faults.pick("refund", no)
        if fault and fault.kind == "drop":
            await self.hold()
            return self.error("SYSTEMERROR")
        if fault and fault.kind in ("http_503", "systemerror"):
            return self.signed(500, {"code": "SYSTEMERROR", "message": "系统错误"})
        trade = self.ledger.trades.get(no)
        if trade is not None and trade.amount != total:
            return self.signed(400, {"code": "PARAM_ERROR", "message": "订单金额与原订单不一致"})
        try:
            refund = self.ledger.refund(no, out_refund_no, amount)
        except PayError as err:
            return self.error(err.code)
        if fault and fault.kind == "timeout":
            await self.hold()
        if fault and fault.kind == "http_500":
            return self.signed(500, {"code": "SYSTEMERROR", "message": "系统错误"})
        return self.signed(200, self.refund_json(self.ledger.trades[no], refund))

    async def refund_query(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        try:
            trade, refund = self.ledger.find_refund(request.match_info["no"])
        except PayError as err:
            return self.error(err.code)
        return self.signed(200, self.refund_json(trade, refund))

    async def tradebill(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        day = request.query.get("bill_date", "")
        try:
            datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            return self.signed(400, {"code": "PARAM_ERROR", "message": "bill_date 格式错误"})
        return self._bill_ticket("trade", day, request.query.get("tar_type", "") == "GZIP")

    async def fundflowbill(self, request: web.Request) -> web.Response:
        """资金账单 of the basic account: every movement of the merchant's balance."""
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        day = request.query.get("bill_date", "")
        try:
            datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            return self.signed(400, {"code": "PARAM_ERROR", "message": "bill_date 格式错误"})
        if request.query.get("account_type", "BASIC") != "BASIC":
            return self.signed(400, {"code": "PARAM_ERROR", "message": "仅支持基本账户"})
        return self._bill_ticket("fundflow", day, request.query.get("tar_type", "") == "GZIP")

    def _bill_ticket(self, kind: str, day: str, gzipped: bool) -> web.Response:
        token = secrets.token_urlsafe(12)
        self._bill_tokens[token] = (kind, day, gzipped)
        csv = self.bill_file(day, gzipped, kind)
        return self.signed(200, {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(csv).hexdigest(),
            "download_url": f"{self.base_url}/v3/billdownload/file?token={token}",
        })

    def bill_csv(self, day: str) -> str:
        """The trade bill (bill_type=ALL) as WeChat formats it: its column header, one row
        per payment, reversal or refund with every field prefixed by a backtick, then the
        totals header and row. Fees (手续费) at :data:`FEE_RATE_BP`; a refund or reversal
        gives its share of the fee back (a negative fee)."""
        head = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,"
                "交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,"
                "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
                "手续费,费率,订单金额,申请退款金额,费率备注")
        lines = [head]
        paid = refunded = fees = 0
        rows = self.ledger.bill_for(day)
        for row in rows:
            state = {"PAY": "SUCCESS", "REVOKE": "REVOKED", "REFUND": "REFUND"}[row.kind]
            pay_amt = row.amount if row.kind == "PAY" else 0
            ref_amt = row.amount if row.kind != "PAY" else 0
            fee = bill_fee(pay_amt) - bill_fee(ref_amt)
            paid, refunded, fees = paid + pay_amt, refunded + ref_amt, fees + fee
            fields = [
                row.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"), self.keys.appid,
                self.keys.mchid, "0", "", row.transaction_id, row.out_trade_no, "",
                "MICROPAY", state, "OTHERS", row.currency, major_text(pay_amt), "0.00", "",
                row.out_refund_no, major_text(ref_amt), "0.00",
                "ORIGINAL" if row.kind == "REFUND" else "", "SUCCESS" if row.kind != "PAY" else "",
                "sandbox", "", major_text(fee), f"{FEE_RATE_BP / 100:.2f}%",
                major_text(pay_amt), major_text(ref_amt), "",
            ]
            lines.append(",".join("`" + f for f in fields))
        lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,"
                     "订单总金额,申请退款总金额")
        totals = [str(len(rows)), major_text(paid), major_text(refunded), "0.00",
                  major_text(fees), major_text(paid), major_text(refunded)]
        lines.append(",".join("`" + f for f in totals))
        return "\n".join(lines) + "\n"

    def fund_flow_csv(self, day: str) -> str:
        """The basic account's fund-flow bill (资金账单): a payment comes in and its fee
        goes out; a refund or reversal goes out and its share of the fee comes back. The
        business voucher number (业务凭证号) is the merchant's out_trade_no."""
        head = ("记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),"
                "账户结余(元),资金变更提交申请人,备注,业务凭证号")
        lines = [head]
        balance = income = spent = 0
        n_in = n_out = 0
        for row in self.ledger.bill_for(day):
            at = row.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
            if row.kind == "PAY":
                moves = [("交易", row.amount), ("扣除手续费", -bill_fee(row.amount))]
            else:
                moves = [("退款", -row.amount), ("退还手续费", bill_fee(row.amount))]
            for kind, amount in moves:
                if amount == 0:
                    continue
                balance += amount
                if amount > 0:
                    income, n_in = income + amount, n_in + 1
                else:
                    spent, n_out = spent - amount, n_out + 1
                # The flow number is stable: the file is hashed once and downloaded later.
                flow_no = f"{row.transaction_id}{row.out_refund_no}{kind}"
                flow_no = hashlib.sha1(flow_no.encode()).hexdigest()[:28]
                fields = [at, row.transaction_id, flow_no, "付款码支付", kind,
                          "收入" if amount > 0 else "支出", major_text(abs(amount)),
                          major_text(balance), "system", row.out_refund_no, row.out_trade_no]
                lines.append(",".join("`" + f for f in fields))
        lines.append("资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额")
        lines.append(",".join("`" + f for f in (str(n_in + n_out), str(n_in),
                                                 major_text(income), str(n_out),
                                                 major_text(spent))))
        return "\n".join(lines) + "\n"

    def bill_file(self, day: str, gzipped: bool, kind: str = "trade") -> bytes:
        """The bill file as downloaded: UTF-8 CSV, gzip-compressed when asked (tar_type)."""
        data = (self.bill_csv(day) if kind == "trade" else self.fund_flow_csv(day)).encode()
        return gzip.compress(data, mtime=0) if gzipped else data

    async def billdownload(self, request: web.Request) -> web.Response:
        body = await self.authenticate(request)
        if isinstance(body, web.Response):
            return body
        ticket = self._bill_tokens.get(request.query.get("token", ""))
        if ticket is None:
            return self.signed(404, {"code": "NO_STATEMENT_EXIST", "message": "账单不存在"})
        kind, day, gzipped = ticket
        # The file itself is not signed (the SDKs check hash_value instead).
        if gzipped:
            return web.Response(body=self.bill_file(day, True, kind),
                                content_type="application/octet-stream")
        return web.Response(body=self.bill_file(day, False, kind), content_type="text/plain",
                            charset="utf-8")

    # ------------------------------------------------------------ notifications
    def notification(self, trade: Trade, *, at: float | None = None, nonce: str | None = None,
                     serial: str | None = None) -> tuple[dict[str, str], str]:
        """A signed, encrypted ``TRANSACTION.SUCCESS`` notification for ``trade``."""
        plain = json.dumps(self.trade_json(trade), ensure_ascii=False, separators=(",", ":"))
        res_nonce = secrets.token_hex(6)
        body = json.dumps({
            "id": str(uuid.uuid4()),
            "create_time": datetime.now(UTC).astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": crypto.aes_gcm_encrypt(self.keys.apiv3_key, res_nonce,
                                                     "transaction", plain),
                "associated_data": "transaction",
                "nonce": res_nonce,
            },
        }, ensure_ascii=False, separators=(",", ":"))
        ts = str(int(at if at is not None else time.time()))
        nonce = nonce or crypto.nonce_str()
        headers = {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": crypto.rsa_sign(
                self.keys.platform_key, crypto.wechat_response_message(ts, nonce, body)),
            "Wechatpay-Serial": serial or self.keys.public_key_id,
            "Wechatpay-Signature-Type": crypto.WECHAT_SCHEMA,
        }
        return headers, body
