"""Alipay OpenAPI client: face-to-face ``alipay.trade.pay`` (``scene=bar_code``), query,
cancel, refund, refund query, bill download (the trade bill and the fund-flow bill).

Requests are RSA2-signed form posts to the gateway; responses are accepted only when
the ``sign`` over the exact ``<method>_response`` JSON text verifies with the Alipay
public key. Asynchronous notifications are verified the same way (``sign`` and
``sign_type`` excluded), must be fresh (``notify_time`` within five minutes) and are
refused when their ``notify_id`` was seen before.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import zipfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TypeVar
from urllib.parse import parse_qsl

import aiohttp

from contract.money import major_text, parse_major

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
    ResponseNotTrusted,
    ReverseOutcome,
    fresh,
)

log = logging.getLogger(__name__)
_Line = TypeVar("_Line", BillLine, FundLine)

DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
CHINA_TZ = timezone(timedelta(hours=8))

FAILED_SUB_CODES = {
    "ACQ.BUYER_BALANCE_NOT_ENOUGH": "insufficient_funds",
    "ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH": "insufficient_funds",
    "ACQ.PAYMENT_AUTH_CODE_INVALID": "code_invalid",
    "ACQ.CONTEXT_INCONSISTENT": "rejected",
    "ACQ.TRADE_HAS_CLOSE": "rejected",
    "ACQ.TRADE_HAS_SUCCESS": "rejected",
    "ACQ.INVALID_PARAMETER": "rejected",
    "ACQ.TRADE_STATUS_ERROR": "rejected",
    "ACQ.BUYER_SELLER_EQUAL": "rejected",
    "ACQ.TOTAL_FEE_EXCEED": "rejected",
    "ACQ.ERROR_BALANCE_PAYMENT_DISABLE": "rejected",
    "ACQ.PULL_MOBILE_CASHIER_FAIL": "rejected",
    "ACQ.PAYMENT_REQUEST_HAS_RISK": "rejected",
}
TRADE_STATUS: dict[str, QueryStatus] = {"TRADE_SUCCESS": "paid", "TRADE_FINISHED": "paid",
                "WAIT_BUYER_PAY": "pending", "TRADE_CLOSED": "failed"}


def yuan(fen: int) -> str:
    return major_text(fen, "CNY")


def to_fen(value: str | None) -> int | None:
    """An Alipay amount in fen; ``MoneyError`` (a ValueError) when malformed."""
    return None if value in (None, "") else parse_major(str(value), "CNY")


class AlipayProvider(PaymentProvider):
    name = "alipay"
    methods = ("alipay",)
    has_bill = True

    def __init__(self, *, app_id: str, app_private_key: str, alipay_public_key: str,
                 gateway_url: str = DEFAULT_GATEWAY, timeout_s: float | None = None) -> None:
        super().__init__(**({"timeout_s": timeout_s} if timeout_s else {}))
        self.app_id = app_id
        self._key = crypto.load_private_key(app_private_key)
        self._alipay = crypto.load_public_key(alipay_public_key)
        self.gateway_url = gateway_url
        self._notify_ids = NonceCache()

    # ------------------------------------------------------------ transport
    def signed_params(self, method: str, biz: dict) -> dict[str, str]:
        params = {
            "app_id": self.app_id, "method": method, "charset": "utf-8", "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = crypto.rsa_sign(self._key, crypto.alipay_sign_content(params))
        return params

    async def call(self, method: str, biz: dict) -> dict:
        """POST one signed request; the verified ``<method>_response`` object."""
        key = method.replace(".", "_") + "_response"
        # RSA signing takes a millisecond or two of CPU: not on the event loop.
        data = await asyncio.to_thread(self.signed_params, method, biz)
        async with self.session.post(self.gateway_url, data=data) as resp:
            raw = await resp.text()
            if resp.status != 200:
                raise ResponseNotTrusted(f"HTTP {resp.status}")
        try:
            outer = json.loads(raw)
        except ValueError as err:
            raise ResponseNotTrusted("response is not JSON") from err
        if not isinstance(outer, dict):
            raise ResponseNotTrusted("response is not a JSON object")
        sign = outer.get("sign")
        if not sign:
            inner = outer.get(key)
            sub_code = inner.get("sub_code") if isinstance(inner, dict) else None
            raise ResponseNotTrusted(f"unsigned response ({sub_code})")
        content = crypto.alipay_response_content(raw, key)
        if not crypto.rsa_verify(self._alipay, content, sign):
            raise ResponseNotTrusted("bad Alipay signature")
        return json.loads(content)

    # ------------------------------------------------------------ payments
    async def charge(self, req: ChargeRequest) -> Outcome:
        if not req.auth_code:
            return Outcome("failed", reason="code_missing")
        biz = {"out_trade_no": req.out_trade_no, "scene": "bar_code",
               "auth_code": req.auth_code, "subject": req.description[:256],
               "total_amount": yuan(req.amount), "store_id": req.store_id or None,
               "terminal_id": req.kiosk_id or None}
        if req.currency != "CNY":
            biz["trans_currency"] = req.currency
        biz = {k: v for k, v in biz.items() if v is not None}
        try:
            data = await self.call("alipay.trade.pay", biz)
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            log.warning("alipay pay %s: outcome unknown (%s)", req.out_trade_no,
                        err if isinstance(err, ResponseNotTrusted) else type(err).__name__)
            return Outcome("unknown", reason=_transport_reason(err))
        code, sub = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code == "10000":
            if (_fen_or_none(data.get("total_amount")) != req.amount
                    or data.get("out_trade_no") != req.out_trade_no):
                log.error("alipay %s: paid response does not match the request", req.out_trade_no)
                return Outcome("unknown", reason="mismatch", code="MISMATCH")
            return Outcome("paid", code=code, provider_ref=data.get("trade_no"), amount=req.amount)
        if code == "10003":
            return Outcome("unknown", reason="user_paying", code=code, provider_ref=data.get("trade_no"))
        if code == "40004" and sub in FAILED_SUB_CODES:
            return Outcome("failed", reason=FAILED_SUB_CODES[sub], code=sub,
                           message=str(data.get("sub_msg", "")))
        # 20000, ACQ.SYSTEM_ERROR and anything unexpected: money may have moved.
        return Outcome("unknown", reason="system_error", code=sub or code)

    async def query(self, out_trade_no: str, provider_ref: str | None = None) -> Outcome:
        try:
            data = await self.call("alipay.trade.query", {"out_trade_no": out_trade_no})
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return Outcome("unknown", reason=_transport_reason(err))
        code, sub = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code == "10000":
            # The answer must be about the asked trade, and a paid one must carry its amount.
            if data.get("out_trade_no") != out_trade_no:
                return _mismatch("alipay", out_trade_no, data.get("out_trade_no"))
            status = str(data.get("trade_status", ""))
            amount = _fen_or_none(data.get("total_amount"))
            if TRADE_STATUS.get(status) == "paid" and amount is None:
                return _mismatch("alipay", out_trade_no, "a paid trade without an amount")
            return Outcome(TRADE_STATUS.get(status, "unknown"), code=status,
                           provider_ref=data.get("trade_no"), amount=amount)
        if sub == "ACQ.TRADE_NOT_EXIST":
            return Outcome("not_found", code=sub)
        return Outcome("unknown", reason="system_error", code=sub or code)

    async def reverse(self, out_trade_no: str, provider_ref: str | None = None) -> ReverseOutcome:
        try:
            data = await self.call("alipay.trade.cancel", {"out_trade_no": out_trade_no})
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return ReverseOutcome(False, retry=True, code=_transport_reason(err))
        code, sub = str(data.get("code", "")), str(data.get("sub_code", ""))
        retry = data.get("retry_flag") == "Y"
        if code == "10000":
            return ReverseOutcome(not retry, retry=retry, action=str(data.get("action", "close")),
                                  code=code)
        if sub == "ACQ.TRADE_NOT_EXIST":
            return ReverseOutcome(True, action="none", code=sub)
        if retry or code == "20000" or sub == "ACQ.SYSTEM_ERROR":
            return ReverseOutcome(False, retry=True, code=sub or code)
        return ReverseOutcome(False, retry=False, code=sub or code,
                              message=str(data.get("sub_msg", "")))

    async def refund(self, out_trade_no: str, out_refund_no: str, amount: int, total: int,
                     currency: str, provider_ref: str | None = None,
                     reason: str = "") -> RefundOutcome:
        biz = {"out_trade_no": out_trade_no, "refund_amount": yuan(amount),
               "out_request_no": out_refund_no}
        if reason:
            biz["refund_reason"] = reason[:256]
        try:
            data = await self.call("alipay.trade.refund", biz)
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return RefundOutcome("unknown", code=_transport_reason(err))
        code, sub = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code == "10000":
            # fund_change N on a repeated out_request_no still means "refunded".
            return RefundOutcome("success", amount=amount, provider_ref=data.get("trade_no"),
                                 code=code)
        if code == "20000" or sub == "ACQ.SYSTEM_ERROR":
            return RefundOutcome("unknown", code=sub or code)
        return RefundOutcome("failed", code=sub or code, message=str(data.get("sub_msg", "")))

    async def refund_query(self, out_trade_no: str, out_refund_no: str,
                           provider_ref: str | None = None) -> RefundOutcome:
        try:
            data = await self.call("alipay.trade.fastpay.refund.query",
                                   {"out_trade_no": out_trade_no, "out_request_no": out_refund_no})
        except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
            return RefundOutcome("unknown", code=_transport_reason(err))
        code, sub = str(data.get("code", "")), str(data.get("sub_code", ""))
        if code == "10000":
            if not data.get("refund_amount"):
                return RefundOutcome("not_found", code=code)
            status = data.get("refund_status", "REFUND_SUCCESS")
            return RefundOutcome("success" if status == "REFUND_SUCCESS" else "pending",
                                 amount=_fen_or_none(data.get("refund_amount")),
                                 provider_ref=data.get("trade_no"), code=str(status))
        if sub == "ACQ.TRADE_NOT_EXIST":
            return RefundOutcome("not_found", code=sub)
        return RefundOutcome("unknown", code=sub or code)

    # ------------------------------------------------------------ notifications
    def verify_notification(self, headers: Mapping[str, str], body: bytes | str) -> Notification:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        params = dict(parse_qsl(text, keep_blank_values=True))
        sign = params.pop("sign", "")
        params.pop("sign_type", None)
        if params.get("app_id") != self.app_id:
            raise NotificationRejected("notification for another app_id")
        if not sign or not crypto.rsa_verify(self._alipay, crypto.alipay_sign_content(params), sign):
            raise NotificationRejected("bad Alipay signature")
        try:
            sent = datetime.strptime(params.get("notify_time", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError as err:
            raise NotificationRejected("notify_time missing or malformed") from err
        if not fresh(sent.replace(tzinfo=CHINA_TZ).timestamp()):
            raise NotificationRejected("stale notification (more than 5 minutes old)")
        try:
            amount = to_fen(params.get("total_amount"))
        except ValueError as err:
            raise NotificationRejected("total_amount malformed") from err
        notify_id = params.get("notify_id", "")
        if not notify_id or not self._notify_ids.add(notify_id):
            raise NotificationRejected("replayed notify_id")
        return Notification(
            provider=self.name, replay_key=f"alipay:{notify_id}",
            out_trade_no=params.get("out_trade_no", ""),
            status=TRADE_STATUS.get(params.get("trade_status", ""), "unknown"),
            provider_ref=params.get("trade_no"), amount=amount,
            currency="CNY",
        )

    # ------------------------------------------------------------ bills
    async def download_bill(self, day: str) -> list[BillLine]:
        return await self._bill_archive(day, "trade", parse_bill_zip)

    has_fund_flow = True

    async def download_fund_flow(self, day: str) -> list[FundLine]:
        """The account's fund-flow bill (账务明细, ``bill_type=signcustomer``) for ``day``."""
        return await self._bill_archive(day, "signcustomer", parse_fund_zip)

    async def _bill_archive(self, day: str, bill_type: str,
                            parse: Callable[[bytes], list[_Line]]) -> list[_Line]:
        """Ask the download URL of ``bill_type`` for ``day``, fetch the zip, parse it."""
        data = await self.call("alipay.data.dataservice.bill.downloadurl.query",
                               {"bill_type": bill_type, "bill_date": day})
        if data.get("code") != "10000":
            raise ResponseNotTrusted(f"{bill_type} bill url for {day}: {data.get('sub_code')}")
        async with self.session.get(data["bill_download_url"]) as resp:
            raw = await resp.read()
        if resp.status != 200:
            raise ResponseNotTrusted(f"bill download: HTTP {resp.status}")
        try:
            return await asyncio.to_thread(parse, raw)
        except (ValueError, KeyError, IndexError, zipfile.BadZipFile) as err:
            raise ResponseNotTrusted(f"{bill_type} bill for {day} unreadable: {err}") from err


def _zip_csv(raw: bytes, suffix: str) -> str:
    """The GBK text of the archive's file whose name ends in ``suffix``."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        for info in z.infolist():
            name = info.filename
            if not info.flag_bits & 0x800:  # no UTF-8 flag: the name is GBK bytes
                name = name.encode("cp437").decode("gbk", errors="replace")
            if name.endswith(suffix):
                return z.read(info).decode("gbk")
    raise ValueError(f"no {suffix} file in the archive")


def parse_bill_zip(raw: bytes) -> list[BillLine]:
    """Alipay's trade bill archive: the 业务明细 CSV inside (not its 汇总), GBK-encoded."""
    return parse_bill(_zip_csv(raw, "_业务明细.csv"))


def parse_fund_zip(raw: bytes) -> list[FundLine]:
    """Alipay's fund-flow bill archive: the 账务明细 CSV inside (not its 汇总)."""
    return parse_fund_flow(_zip_csv(raw, "_账务明细.csv"))


def _csv_rows(text: str) -> list[list[str]]:
    """The column row and the rows of an Alipay bill CSV: ``#`` lines dropped, cells
    stripped of the trailing tab."""
    return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))
            if r and not r[0].startswith("#")]


# 业务类型 of the 账务明细 -> FundLine kind; 收费 is the service fee (服务费) taken, or
# given back (服务费退回) with a refund.
FUND_KINDS: dict[str, FundKind] = {"在线支付": "trade", "交易付款": "trade", "交易退款": "refund",
              "退款": "refund", "收费": "fee"}


def parse_fund_flow(text: str) -> list[FundLine]:
    """The 账务明细 CSV: income (收入金额（+元）) positive, expenses (支出金额（-元）,
    written with their minus sign) negative; the balance after each row."""
    rows = _csv_rows(text)
    if not rows:
        return []
    col = {name: i for i, name in enumerate(rows[0])}
    lines = []
    for row in rows[1:]:
        income, expense = row[col["收入金额（+元）"]], row[col["支出金额（-元）"]]
        amount = (parse_major(income, "CNY") if income else 0) + \
            (-abs(parse_major(expense, "CNY")) if expense else 0)
        lines.append(FundLine(FUND_KINDS.get(row[col["业务类型"]], "other"),
                              row[col["商户订单号"]], amount,
                              parse_major(row[col["账户余额（元）"]], "CNY")))
    return lines


def parse_bill(text: str) -> list[BillLine]:
    """The 业务明细 CSV: ``#`` header and footer lines around a column row and the rows;
    cells end in a tab. The fee (服务费, negative when taken) becomes a positive fee."""
    rows = _csv_rows(text)
    if not rows:
        return []
    col = {name: i for i, name in enumerate(rows[0])}
    lines = []
    for row in rows[1:]:
        kind: BillKind = "pay" if row[col["业务类型"]] == "交易" else "refund"
        amount = abs(parse_major(row[col["订单金额（元）"]], "CNY"))
        fee = None
        if "服务费（元）" in col and row[col["服务费（元）"]]:
            fee = -parse_major(row[col["服务费（元）"]], "CNY")
        lines.append(BillLine(kind, row[col["商户订单号"]], amount,
                              row[col["币种"]] if "币种" in col else "CNY",
                              row[col["支付宝交易号"]], row[col["退款批次号/请求号"]], fee))
    return lines


def _fen_or_none(value: object) -> int | None:
    """A response amount in fen; None (which never matches an amount) when malformed."""
    try:
        return to_fen(None if value is None else str(value))
    except ValueError:
        log.warning("alipay response amount %r is not an amount", str(value)[:20])
        return None


def _transport_reason(err: BaseException) -> str:
    if isinstance(err, ResponseNotTrusted):
        return "untrusted_response"
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    return "transport"


def _mismatch(provider: str, asked: str, got: object) -> Outcome:
    """A query answer that is not about the asked trade: unknown, never trusted."""
    log.error("%s query for %s answered about %s; not trusted", provider, asked, got)
    return Outcome("unknown", reason="mismatched_trade", code="TRADE_MISMATCH")
