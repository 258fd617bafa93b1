"""WeChat Pay API v3 client: code payment (付款码支付), query, reverse, refunds, bills.

Requests are signed ``WECHATPAY2-SHA256-RSA2048`` with the merchant key; every
response is checked against the platform public key (public-key mode: the
``Wechatpay-Serial`` must be the configured ``PUB_KEY_ID_...``), its timestamp must
be within five minutes and its nonce unseen. Notifications are verified the same
way and their resource decrypted with the APIv3 key (``AEAD_AES_256_GCM``).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import io
import json
import logging
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from contract.money import parse_major

from .. import crypto
from .base import (
    BillKind,
    BillLine,
    ChargeRequest,
    FundKind,
    FundLine,
    NonceCache,
    Notification,
    NotificationRejected,
    Outcome,
    PaymentProvider,
    QueryStatus,
    RefundOutcome,
    RefundStatus,
    ResponseNotTrusted,
    ReverseOutcome,
    fresh,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"

FAILED_CODES = {
    "NOTENOUGH": "insufficient_funds",
    "AUTH_CODE_INVALID": "code_invalid",
    "AUTHCODEEXPIRE": "code_expired",
    "AUTH_CODE_ERROR": "code_invalid",
    "INVALID_REQUEST": "rejected",
    "PARAM_ERROR": "rejected",
    "TRADE_ERROR": "rejected",
    "ORDERPAID": "rejected",
    "ORDERCLOSED": "rejected",
    "BUYER_MISMATCH": "rejected",
    "SIGN_ERROR": "rejected",
    "NO_AUTH": "rejected",
    "RULE_LIMIT": "rejected",
    "FREQUENCY_LIMITED": "rejected",
}
QUERY_STATES: dict[str, QueryStatus] = {
    "SUCCESS": "paid", "REFUND": "paid", "USERPAYING": "pending", "ACCEPT": "pending",
    "NOTPAY": "failed", "CLOSED": "failed", "PAYERROR": "failed", "REVOKED": "reversed",
}

REFUND_STATES: dict[str, RefundStatus] = {
    "SUCCESS": "success", "PROCESSING": "pending", "CLOSED": "failed", "ABNORMAL": "pending",
}


class WechatPayProvider(PaymentProvider):
    name = "wechat"
    methods = ("wechat",)
    has_bill = True

    def __init__(self, *, mchid: str, appid: str, merchant_serial_no: str,
                 merchant_private_key: str, platform_public_key: str,
                 platform_public_key_id: str, apiv3_key: str,
                 base_url: str = DEFAULT_BASE_URL, timeout_s: float | None = None) -> None:
        super().__init__(**({"timeout_s": timeout_s} if timeout_s else {}))
        self.mchid = mchid
        self.appid = appid
        self.serial_no = merchant_serial_no
        self._key = crypto.load_private_key(merchant_private_key)
        self._platform = crypto.load_public_key(platform_public_key)
        self.platform_key_id = platform_public_key_id
        self._apiv3_key = apiv3_key
        self.base_url = base_url.rstrip("/")
        self._response_nonces = NonceCache()
        self._notify_nonces = NonceCache()

    # ------------------------------------------------------------ transport
    def authorization(self, method: str, path: str, body: str) -> str:
        return crypto.wechat_authorization(self._key, self.mchid, self.serial_no, method, path,
                                           body, str(int(time.time())), crypto.nonce_str())

    def verify_signed(self, headers: Mapping[str, str], body: str, nonces: NonceCache) -> None:
        """Check a platform signature (response or notification); raise when it fails."""
        serial = headers.get("Wechatpay-Serial", "")
        if serial != self.platform_key_id:
            raise ResponseNotTrusted(f"unknown platform serial {serial[:40]!r}")
        ts = headers.get("Wechatpay-Timestamp", "")
        nonce = headers.get("Wechatpay-Nonce", "")
        sig = headers.get("Wechatpay-Signature", "")
        if not (ts and nonce and sig):
            raise ResponseNotTrusted("signature headers missing")
        try:
            stamp = int(ts)
        except ValueError as err:
            raise ResponseNotTrusted("timestamp is not a number") from err
        if not fresh(stamp):
            raise ResponseNotTrusted("stale timestamp (more than 5 minutes off)")
        if not crypto.rsa_verify(self._platform, crypto.wechat_response_message(ts, nonce, body), sig):
            raise ResponseNotTrusted("bad platform signature")
        if not nonces.add(nonce):
            raise ResponseNotTrusted("replayed nonce")

    async def call(self, method: str, path: str, payload: dict | None = None
                   ) -> tuple[int, dict]:
        """One signed request; returns (HTTP status, JSON body) of a verified response.

        Raises ``ResponseNotTrusted`` and the aiohttp/timeout errors: callers map both
        to *unknown*.
        """
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload else ""
        # RSA signing takes a millisecond or two of CPU: not on the event loop.
        authorization = await asyncio.to_thread(self.authorization, method, path, body)
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Wechatpay-Serial": self.platform_key_id,
        }
        async with self.session.request(method, self.base_url + path, data=body.encode(),
                                        headers=headers) as resp:
            text = await resp.text()
            self.verify_signed(resp.headers, text, self._response_nonces)
            data = json.loads(text) if text else {}
            if not isinstance(data, dict):
                raise ResponseNotTrusted("response is not a JSON object")
            return resp.status, data

    # ------------------------------------------------------------ payments
    async def charge(self, req: ChargeRequest) -> Outcome:
        if not req.auth_code:
            return Outcome("failed", reason="code_missing")
        payload = {
            "appid": self.appid, "mchid": self.mchid, "description": req.description[:127],
            "out_trade_no": req.out_trade_no,
            "payer": {"auth_code": req.auth_code},
            "amount": {"total": req.amount, "currency": req.currency},
            "scene_info": {"store_info": {"out_id": req.store_id or "store"},
                           "device_id": req.kiosk_id or None},
        }
        try:
            status, data = await self.call("POST", "/v3/pay/transactions/codepay", payload)
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            log.warning("wechat codepay %s: outcome unknown (%s)", req.out_trade_no,
                        type(err).__name__ if not isinstance(err, ResponseNotTrusted) else err)
            return Outcome("unknown", reason=_transport_reason(err))
        return self._charge_outcome(req, status, data)

    def _charge_outcome(self, req: ChargeRequest, status: int, data: dict) -> Outcome:
        code = str(data.get("code", ""))
        if status == 200 and data.get("trade_state") == "SUCCESS":
            amount = int(data.get("amount", {}).get("total", -1))
            if amount != req.amount or data.get("out_trade_no") != req.out_trade_no:
                log.error("wechat %s: paid response does not match the request", req.out_trade_no)
                return Outcome("unknown", reason="mismatch", code="MISMATCH")
            return Outcome("paid", code="SUCCESS", provider_ref=data.get("transaction_id"),
                           amount=amount)
        if status == 202 or code == "USERPAYING" or data.get("trade_state") == "USERPAYING":
            return Outcome("unknown", reason="user_paying", code="USERPAYING",
                           message=data.get("message", ""))
        if status >= 500 or code in ("SYSTEMERROR", "SYSTEM_ERROR", "BANKERROR"):
            return Outcome("unknown", reason="system_error", code=code or str(status),
                           message=data.get("message", ""))
        if 400 <= status < 500 and code in FAILED_CODES:
            return Outcome("failed", reason=FAILED_CODES[code], code=code,
                           message=data.get("message", ""))
        return Outcome("unknown", reason="unexpected", code=code or str(status))

    async def query(self, out_trade_no: str, provider_ref: str | None = None) -> Outcome:
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.mchid}"
        try:
            status, data = await self.call("GET", path)
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return Outcome("unknown", reason=_transport_reason(err))
        code = str(data.get("code", ""))
        if status == 200:
            # The answer must be about the trade we asked for, and a paid one must say how
            # much: a proxy, a cache or a bug answering another trade never settles ours.
            if data.get("out_trade_no") != out_trade_no:
                return _mismatch("wechat", out_trade_no, data.get("out_trade_no"))
            state = str(data.get("trade_state", ""))
            total = (data.get("amount") or {}).get("total")
            if QUERY_STATES.get(state) == "paid" and not isinstance(total, int):
                return _mismatch("wechat", out_trade_no, "a paid trade without an amount")
            return Outcome(QUERY_STATES.get(state, "unknown"), code=state,
                           provider_ref=data.get("transaction_id"), amount=total)
        if status == 404 or code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
            return Outcome("not_found", code=code)
        return Outcome("unknown", reason="system_error", code=code or str(status))

    async def reverse(self, out_trade_no: str, provider_ref: str | None = None) -> ReverseOutcome:
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse"
        try:
            status, data = await self.call("POST", path, {"appid": self.appid, "mchid": self.mchid})
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return ReverseOutcome(False, retry=True, code=_transport_reason(err))
        code = str(data.get("code", ""))
        if status in (200, 204):
            return ReverseOutcome(True, action="reversed", code="SUCCESS")
        if status == 404 or code in ("ORDER_NOT_EXIST", "ORDERNOTEXIST"):
            return ReverseOutcome(True, action="none", code=code)
        if status >= 500 or code in ("SYSTEMERROR", "SYSTEM_ERROR", "BANKERROR", "USERPAYING"):
            return ReverseOutcome(False, retry=True, code=code or str(status))
        return ReverseOutcome(False, retry=False, code=code, message=data.get("message", ""))

    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, total: int,
                     currency: str, provider_ref: str | None = None,
                     reason: str = "") -> RefundOutcome:
        payload = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
                   "amount": {"refund": amount, "total": total, "currency": currency}}
        if reason:
            payload["reason"] = reason[:80]
        try:
            status, data = await self.call("POST", "/v3/refund/domestic/refunds", payload)
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return RefundOutcome("unknown", code=_transport_reason(err))
        return _refund_outcome(status, data)

    async def refund_query(self, out_trade_no: str, out_refund_no: str,
                           provider_ref: str | None = None) -> RefundOutcome:
        try:
            status, data = await self.call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return RefundOutcome("unknown", code=_transport_reason(err))
        if status == 404:
            return RefundOutcome("not_found", code=str(data.get("code", "")))
        return _refund_outcome(status, data)

    # ------------------------------------------------------------ notifications
    def verify_notification(self, headers: Mapping[str, str], body: bytes | str) -> Notification:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            self.verify_signed(headers, text, self._notify_nonces)
        except ResponseNotTrusted as err:
            raise NotificationRejected(str(err)) from err
        try:
            data = json.loads(text)
            res = data["resource"]
            if res.get("algorithm") != "AEAD_AES_256_GCM":
                raise NotificationRejected("unsupported resource algorithm")
            plain = crypto.aes_gcm_decrypt(self._apiv3_key, res["nonce"],
                                           res.get("associated_data", ""), res["ciphertext"])
            tx = json.loads(plain)
            paid = tx.get("amount") or {}
            amount, currency = paid.get("total"), paid.get("currency")
        except crypto.SignatureError as err:
            raise NotificationRejected(str(err)) from err
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            # AttributeError: a JSON value where an object belongs ("resource": "x").
            raise NotificationRejected("malformed notification body") from err
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
            raise NotificationRejected("amount.total is not an integer")
        if tx.get("mchid") != self.mchid:
            raise NotificationRejected("notification for another merchant")
        return Notification(
            provider=self.name,
            replay_key=f"wechat:{headers.get('Wechatpay-Nonce')}:{data.get('id', '')}",
            out_trade_no=str(tx.get("out_trade_no", "")),
            status=QUERY_STATES.get(str(tx.get("trade_state", "")), "unknown"),
            provider_ref=tx.get("transaction_id"),
            amount=amount,
            currency=currency,
        )

    # ------------------------------------------------------------ bills
    async def download_bill(self, day: str) -> list[BillLine]:
        return parse_trade_bill(await self._bill_file(
            f"/v3/bill/tradebill?bill_date={day}&bill_type=ALL&tar_type=GZIP", day))

    has_fund_flow = True

    async def download_fund_flow(self, day: str) -> list[FundLine]:
        """The basic account's fund-flow bill (资金账单) for ``day``."""
        return parse_fund_flow_bill(await self._bill_file(
            f"/v3/bill/fundflowbill?bill_date={day}&account_type=BASIC&tar_type=GZIP", day))

    async def _bill_file(self, request_path: str, day: str) -> str:
        status, data = await self.call("GET", request_path)
        if status != 200:
            raise ResponseNotTrusted(f"bill for {day}: HTTP {status} {data.get('code')}")
        url = urlsplit(data["download_url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        authorization = await asyncio.to_thread(self.authorization, "GET", path, "")
        headers = {"Authorization": authorization, "Accept": "*/*"}
        async with self.session.get(self.base_url + path, headers=headers) as resp:
            raw = await resp.read()
        if resp.status != 200:
            raise ResponseNotTrusted(f"bill download: HTTP {resp.status}")
        if data.get("hash_type") == "SHA1" and hashlib.sha1(raw).hexdigest() != data.get("hash_value"):
            raise ResponseNotTrusted("bill file does not match its hash")
        if raw[:2] == b"\x1f\x8b":  # tar_type=GZIP: the hash is over the compressed file
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")


def parse_trade_bill(text: str) -> list[BillLine]:
    """Parse WeChat's trade bill: the backtick-prefixed rows under the column header,
    up to the totals section (``总交易单数`` ...). Reads both the full v3 layout
    (``应结订单金额``, ``货币种类``, ``手续费``) and the short one without fees."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    head = [h.strip() for h in rows[0]]
    col = {name: i for i, name in enumerate(head)}
    amount_col = col.get("应结订单金额", col.get("总金额"))
    currency_col = col.get("货币种类", col.get("币种"))
    fee_col = col.get("手续费")
    lines = []
    for row in rows[1:]:
        if row and row[0].lstrip("`").strip() == "总交易单数":
            break  # the totals section follows the trades
        if len(row) < len(head):
            continue
        f = [c.lstrip("`") for c in row]
        state = f[col["交易状态"]]
        kind = BILL_KINDS.get(state)
        if kind is None or amount_col is None or currency_col is None:
            continue
        yuan = f[amount_col] if kind == "pay" else f[col["退款金额"]]
        fee = parse_major(f[fee_col], "CNY") if fee_col is not None and f[fee_col] else None
        lines.append(BillLine(kind, f[col["商户订单号"]], parse_major(yuan, "CNY"),
                              f[currency_col], f[col["微信订单号"]], f[col["商户退款单号"]],
                              fee))
    return lines


BILL_KINDS: dict[str, BillKind] = {"SUCCESS": "pay", "REVOKED": "reverse", "REFUND": "refund"}
FUND_KINDS: dict[str, FundKind] = {"交易": "trade", "退款": "refund", "扣除手续费": "fee", "退还手续费": "fee"}


def parse_fund_flow_bill(text: str) -> list[FundLine]:
    """Parse WeChat's fund-flow bill (资金账单) up to its totals section."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    head = [h.strip() for h in rows[0]]
    col = {name: i for i, name in enumerate(head)}
    out = []
    for row in rows[1:]:
        if row and row[0].lstrip("`").strip() == "资金流水总笔数":
            break
        if len(row) < len(head):
            continue
        f = [c.lstrip("`") for c in row]
        amount = parse_major(f[col["收支金额(元)"]], "CNY")
        if f[col["收支类型"]] == "支出":
            amount = -amount
        out.append(FundLine(FUND_KINDS.get(f[col["业务类型"]], "other"),
                            f[col["业务凭证号"]], amount,
                            parse_major(f[col["账户结余(元)"]], "CNY")))
    return out


def _refund_outcome(status: int, data: dict) -> RefundOutcome:
    code = str(data.get("code", ""))
    if status == 200:
        st = str(data.get("status", ""))
        return RefundOutcome(REFUND_STATES.get(st, "unknown"),
                             amount=(data.get("amount") or {}).get("refund"),
                             provider_ref=data.get("refund_id"), code=st)
    if status >= 500 or code in ("SYSTEMERROR", "SYSTEM_ERROR"):
        return RefundOutcome("unknown", code=code or str(status))
    return RefundOutcome("failed", code=code, message=str(data.get("message", "")))


def _transport_reason(err: BaseException) -> str:
    if isinstance(err, ResponseNotTrusted):
        return "untrusted_response"
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    return "transport"


def _mismatch(provider: str, asked: str, got: object) -> Outcome:
    """A query answer that is not about the asked trade: unknown (settled by the next
    query or a reverse), never paid or failed on another trade's word."""
    log.error("%s query for %s answered about %s; not trusted", provider, asked, got)
    return Outcome("unknown", reason="mismatched_trade", code="TRADE_MISMATCH")
