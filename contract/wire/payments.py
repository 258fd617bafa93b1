"""Payment RPCs between kiosk and cloud: ``payment.charge``, ``payment.status``,
``payment.settle`` (method names in :mod:`wire.rpc`).

The payment code (``auth_code``) travels only inside a ``payment.charge`` request;
it is excluded from ``repr`` and never written anywhere by either side. Shopper
messages come back in Chinese and English so the kiosk shows the cloud's words.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..tenders import ChargeMethod

Method = ChargeMethod
ChargeStatus = Literal["paid", "failed", "unknown", "reversed"]

PAID: ChargeStatus = "paid"
FAILED: ChargeStatus = "failed"
UNKNOWN: ChargeStatus = "unknown"
REVERSED: ChargeStatus = "reversed"
SETTLED = frozenset({PAID, FAILED, REVERSED})


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChargeParams(_Params):
    """``payment.charge``: one attempt; every retry repeats the same out_trade_no and amount."""

    order_no: str = Field(min_length=1, max_length=64)
    out_trade_no: str = Field(min_length=6, max_length=32, pattern=r"^[A-Za-z0-9_\-*]+$")
    method: Method
    amount: int = Field(gt=0, description="minor units")
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    description: str = Field(default="自助收银", max_length=127)
    auth_code: str | None = Field(default=None, max_length=64, repr=False,
                                  description="payment code: memory and transit only")
    payer_token: str | None = Field(default=None, max_length=128, repr=False,
                                    description="card/PayPal processor token")
    card_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    member_id: str | None = Field(default=None, max_length=64)
    member_code: str | None = Field(
        default=None, max_length=1024, repr=False,
        description="stored value: the member code the cart's member was attached with "
                    "(a bearer token for minutes: transit only, never logged)")


class StatusParams(_Params):
    """``payment.status``: what the cloud has recorded (no provider call)."""

    out_trade_no: str = Field(min_length=1, max_length=32)


class SettleParams(_Params):
    """``payment.settle``: settle an attempt whose outcome the kiosk does not know.

    Carries the attempt as the kiosk persisted it, so the cloud can settle even when
    the original charge request never reached it.
    """

    out_trade_no: str = Field(min_length=1, max_length=32)
    order_no: str | None = Field(default=None, max_length=64)
    method: Method
    amount: int = Field(gt=0)
    currency: str = Field(default="CNY", min_length=3, max_length=3)


class NativeParams(_Params):
    """``payment.native``: a WeChat Pay QR for the shopper to scan (扫码支付), for a kiosk sale
    when no payment code can be shown. Repeated with the same out_trade_no and amount it
    answers the same QR, or the outcome once the shopper paid."""

    order_no: str = Field(min_length=1, max_length=64)
    out_trade_no: str = Field(min_length=6, max_length=32, pattern=r"^[A-Za-z0-9_\-*]+$")
    amount: int = Field(gt=0, description="minor units")
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    description: str = Field(default="自助收银", max_length=127)


class NativeResult(_Params):
    """The QR to show (``code_url``, while unpaid) and the payment's outcome so far."""

    out_trade_no: str
    status: ChargeStatus  # unknown: waiting for the shopper to scan and confirm
    amount: int
    currency: str = "CNY"
    code_url: str | None = None
    provider_ref: str | None = None
    message_zh: str = ""
    message_en: str = ""


class ChargeResult(_Params):
    out_trade_no: str
    status: ChargeStatus
    amount: int
    currency: str = "CNY"
    method: Method | None = None
    reason: str | None = None
    provider_ref: str | None = None
    card_last4: str | None = None
    message_zh: str = ""
    message_en: str = ""

    @property
    def settled(self) -> bool:
        return self.status in SETTLED


# (status, reason) -> (zh, en). The reason-specific entries come first.
MESSAGES: dict[tuple[str, str | None], tuple[str, str]] = {
    ("paid", None): ("支付成功，谢谢惠顾", "Payment successful. Thank you!"),
    ("failed", "member_code_refused"): ("会员码无效或已过期，请刷新会员码后重试",
                                        "Member code not accepted; refresh it and try again."),
    ("failed", "insufficient_funds"): ("余额不足，请更换付款方式",
                                       "Insufficient balance. Please use another payment method."),
    ("failed", "code_invalid"): ("付款码无效，请刷新付款码后重试",
                                 "Invalid payment code. Please refresh it and try again."),
    ("failed", "code_expired"): ("付款码已过期，请刷新付款码后重试",
                                 "Payment code expired. Please refresh it and try again."),
    ("failed", "code_missing"): ("请出示付款码", "Please show your payment code."),
    ("failed", "offline_limit"): ("网络中断，暂不支持此付款方式，请联系工作人员",
                                  "We are offline and cannot take this payment. Please ask staff."),
    ("failed", "qr_cancelled"): ("已取消扫码支付，未扣款", "QR payment cancelled; nothing was charged."),
    ("failed", "qr_expired"): ("二维码已过期，未扣款，请重新选择付款方式",
                               "The QR code expired and nothing was charged. Please pay again."),
    ("failed", "qr_unavailable"): ("无法打印付款二维码，未扣款，请出示付款码或联系工作人员",
                                   "The QR code could not be printed; nothing was charged. "
                                   "Please show a payment code or ask staff."),
    ("failed", None): ("支付未成功，未扣款，请重试或联系工作人员",
                       "Payment did not go through and nothing was charged. "
                       "Please try again or ask staff."),
    ("unknown", "scan_to_pay"): ("请用微信扫描二维码支付", "Scan the QR code with WeChat to pay."),
    ("unknown", "user_paying"): ("请在手机上确认支付", "Please confirm the payment on your phone."),
    ("unknown", None): ("正在确认支付结果，请稍候，请勿重复付款",
                        "Confirming your payment, please wait. Do not pay again."),
    ("reversed", None): ("支付已撤销，如已扣款将原路退回",
                         "Payment cancelled. Any amount taken will be returned to you."),
}


def shopper_message(status: str, reason: str | None = None) -> tuple[str, str]:
    """The shopper's message for an outcome, Chinese first, then English."""
    return MESSAGES.get((status, reason)) or MESSAGES.get((status, None)) or (
        "请联系工作人员", "Please ask staff for help.")
