"""The ways a sale can be paid (tenders), defined once for the kiosk and the cloud.

Every list of payment methods elsewhere is derived from :data:`TENDERS`: the wire
models' ``Literal`` types (checked against the registry by
``tests/contract/test_tenders.py``), the payment codes the camera reads, the providers
the bridge has gateways for, the receipt and ledger names. Adding a tender is one entry
here plus, for one charged through a provider, its client in
``cloud_bridge/payments/providers/`` (README, "How to add a payment provider").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Tender(StrEnum):
    """A way of paying; the value is the wire and database spelling."""

    WECHAT = "wechat"
    ALIPAY = "alipay"
    CARD = "card"
    PAYPAL = "paypal"
    STORED_VALUE = "stored_value"
    UNIONPAY = "unionpay"
    CASH = "cash"


@dataclass(frozen=True, slots=True)
class TenderInfo:
    """What the programs need to know about one tender."""

    tender: Tender
    name_zh: str
    name_en: str
    #: the shopper shows a payment code (付款码) that the kiosk's camera reads
    scanned_code: bool = False
    #: charged through a provider gateway of the bridge (WeChat Pay, Alipay, ...)
    gateway: bool = False
    #: the kiosk can charge it (payment.charge); cash is taken only at a staffed till
    chargeable: bool = True


TENDERS: dict[Tender, TenderInfo] = {
    info.tender: info
    for info in (
        TenderInfo(Tender.WECHAT, "微信支付", "WeChat Pay", scanned_code=True, gateway=True),
        TenderInfo(Tender.ALIPAY, "支付宝", "Alipay", scanned_code=True, gateway=True),
        TenderInfo(Tender.CARD, "银行卡", "Card", gateway=True),
        TenderInfo(Tender.PAYPAL, "PayPal", "PayPal", gateway=True),
        TenderInfo(Tender.STORED_VALUE, "储值", "Stored value"),
        TenderInfo(Tender.UNIONPAY, "银联", "UnionPay"),
        TenderInfo(Tender.CASH, "现金", "Cash", chargeable=False),
    )
}

#: Tenders whose payment code the camera reads (the classification of a scan).
SCANNED_CODE_TENDERS: frozenset[str] = frozenset(
    t.value for t, info in TENDERS.items() if info.scanned_code)
#: Tenders with a provider gateway in the bridge (its ``[payments]`` sections).
GATEWAY_TENDERS: tuple[str, ...] = tuple(t.value for t, info in TENDERS.items() if info.gateway)
#: Tenders a kiosk may ask the cloud to charge.
CHARGEABLE_TENDERS: tuple[str, ...] = tuple(
    t.value for t, info in TENDERS.items() if info.chargeable)

# Literal types for pydantic models and the type checker: the same values as the
# registry (a test compares them), spelled out because a type cannot be computed.
TenderMethod = Literal["wechat", "alipay", "card", "paypal", "stored_value", "unionpay", "cash"]
ChargeMethod = Literal["wechat", "alipay", "card", "paypal", "stored_value", "unionpay"]
ScannedCodeTender = Literal["wechat", "alipay"]


def tender_name(method: str, language: str = "zh") -> str:
    """The tender's name for a receipt or a report; unknown methods as spelled."""
    try:
        info = TENDERS[Tender(method)]
    except ValueError:
        return method
    return info.name_en if language == "en" else info.name_zh
