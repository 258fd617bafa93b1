"""Outbox events (kiosk -> cloud on ``events``) and end-to-end acks (``events/ack``).

An event is immutable once written to the kiosk's journal. ``event_id`` is a
UUIDv7 (time-ordered, unique); ``seq`` increases by one per kiosk so the cloud
can keep per-kiosk order. The cloud stores it once by ``event_id`` and acks it;
an event it cannot accept is rejected with a reason and the kiosk dead-letters it.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..tenders import TenderMethod
from .base import WireMessage, utcnow

ORDER_COMPLETED = "order.completed"
ORDER_VOIDED = "order.voided"
ORDER_PARKED = "order.parked"
PAYMENT_ATTEMPTED = "payment.attempted"
PAYMENT_SETTLED = "payment.settled"
PRINT_DONE = "print.done"
PRINT_FAILED = "print.failed"
INVENTORY_ADJUSTED = "inventory.adjusted"
DEVICE_FAULT = "device.fault"
# One shopper session at the kiosk, summarised when it ends (analytics funnel; additive).
SESSION_SUMMARY = "session.summary"

EVENT_TYPES = frozenset(
    {
        ORDER_COMPLETED, ORDER_VOIDED, ORDER_PARKED, PAYMENT_ATTEMPTED, PAYMENT_SETTLED,
        PRINT_DONE, PRINT_FAILED, INVENTORY_ADJUSTED, DEVICE_FAULT, SESSION_SUMMARY,
    }
)


def uuid7() -> str:
    """A UUIDv7 string: 48-bit ms timestamp, then random bits (RFC 9562)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    # str(uuid.UUID(int=value)) without the UUID object (half the time; every event pays it)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OrderLineData(_Data):
    line_no: int = Field(ge=1)
    product_id: str
    barcode: str | None = None
    name_zh: str
    name_en: str | None = None
    qty: int = Field(ge=1, description="units; 1 for a weighed line")
    weight_g: int | None = Field(default=None, ge=1, description="weighed items only")
    unit_price: int = Field(ge=0, description="fen per unit (or per kg when weighed)")
    list_amount: int = Field(ge=0, description="before discounts, fen")
    discount: int = Field(ge=0, description="all discounts allocated to this line, fen")
    amount: int = Field(ge=0, description="list_amount - discount, fen")
    vat_rate_bp: int = Field(ge=0, le=10000, description="VAT rate in basis points, 1300 = 13%")
    category: str | None = None
    promotions: list[str] = Field(default_factory=list)


class VatLine(_Data):
    rate_bp: int = Field(ge=0, le=10000)
    gross: int
    net: int
    tax: int


class TenderData(_Data):
    method: TenderMethod
    amount: int = Field(ge=0)
    currency: str = "CNY"
    out_trade_no: str | None = None
    provider_ref: str | None = Field(default=None, description="provider transaction id")
    masked: str | None = Field(default=None, description="masked payer reference, never a code")
    offline: bool = False


class DiscountData(_Data):
    """One discount of the sale as the shopper sees it (``pricing.AppliedDiscount``)."""

    id: str = Field(description="promotion id, member_price, coupon key, points, ...")
    kind: str
    amount: int = Field(ge=0, description="fen off the whole order")
    label_zh: str
    label_en: str | None = None


class MemberProofData(_Data):
    """The member code a kiosk accepted for a sale and the snapshot it sold with.

    ``code`` is the signed token as scanned (:mod:`contract.tokens`, kind ``member``);
    the cloud verifies it again with the chain's member key and checks that the
    snapshot here is the one signed in it and that the sale stayed within it (points
    redeemed, stored value taken offline). A member code is a bearer token for
    :data:`contract.member_codes.MEMBER_CODE_MAX_AGE_S` only, expired soon after the sale.
    """

    code: str = Field(min_length=1, max_length=1024)
    level: str = Field(min_length=1, max_length=16)
    points: int = Field(ge=0, le=10**12)
    stored_value: int = Field(ge=0, le=10**12, description="fen")


class CouponProofData(_Data):
    """A coupon a kiosk applied to a sale and how it held it (:mod:`contract.coupon_codes`).

    ``code`` is the coupon QR as scanned (signed, kind ``coupon``). Online the coupon was
    locked to the order by ``coupon.reserve`` (``slot`` is ``None``); offline the kiosk
    spent one of its pre-reserved slots (``slot``: the slot token). The cloud verifies
    both again and uses the coupon exactly once.
    """

    coupon_id: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=1024)
    slot: str | None = Field(default=None, min_length=1, max_length=1024)


class OrderCompletedData(_Data):
    """Payload of ``order.completed``: the whole sale as the kiosk committed it."""

    order_no: str
    created_at: datetime
    completed_at: datetime
    currency: str = "CNY"
    lines: list[OrderLineData] = Field(min_length=1)
    subtotal: int = Field(ge=0)
    discount_total: int = Field(ge=0)
    total: int = Field(ge=0)
    vat: list[VatLine] = Field(default_factory=list)
    tenders: list[TenderData] = Field(default_factory=list)
    member_id: str | None = None
    member: MemberProofData | None = Field(
        default=None, description="the member code and snapshot the kiosk sold with")
    points_earned: int = 0
    points_redeemed: int = 0
    coupons: list[str] = Field(default_factory=list)
    coupon_proofs: list[CouponProofData] = Field(
        default_factory=list, max_length=10,
        description="the coupon codes behind ``coupons`` (and offline slots) for the cloud")
    catalog_version: str | None = None
    offline: bool = False
    note: str | None = None
    language: str = "zh"
    business_day: str | None = Field(
        default=None, pattern=r"^\d{8}$",
        description="yyyymmdd: the store's business day (in the store's time zone) the "
                    "kiosk booked the sale on; the cloud books it on the same day")
    discounts: list[DiscountData] = Field(
        default_factory=list, description="labelled discounts; lines' promotions are their ids"
    )
    receipt_token: str | None = Field(
        default=None, min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="unguessable per-order secret in the receipt's QR code: proves a "
                    "shopper holds the receipt when claiming the order in the mini-program")


# Session outcomes: paid; abandoned (the cart timer voided it); cancelled (the shopper
# cancelled); parked (挂单, paid later at a staffed till).
SessionOutcome = Literal["paid", "abandoned", "cancelled", "parked"]
# An error code a session saw: a checkout refusal code (``unknown_product``, ...) or
# ``payment_failed`` / ``payment_unknown`` / ``internal_error``. Codes, never free text,
# so no payment code or reason text from a provider can travel in a summary.
ERROR_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ErrorCode = Annotated[str, StringConstraints(pattern=ERROR_CODE_PATTERN)]
# Bounds that keep a summary within the bridge's integer columns.
MAX_SESSION_COUNT = 100_000


class SessionSummaryData(_Data):
    """Payload of ``session.summary``: one shopper session from its first scan to its end.

    Counters only, no personal data (a member by id, never a phone number, never a
    payment code). ``order_no`` is set once a payment was tried (the same number as the
    order's events). Appended to the kiosk's outbox once when the session ends
    (``kiosk_agent.session_summary``); the bridge stores it once by event id.
    """

    session_id: str = Field(min_length=1, max_length=64)
    started_at: datetime
    ended_at: datetime
    outcome: SessionOutcome
    items_scanned: int = Field(default=0, ge=0, le=MAX_SESSION_COUNT,
                               description="products scanned into the cart (units)")
    items_removed: int = Field(default=0, ge=0, le=MAX_SESSION_COUNT,
                               description="units taken off again (line removed, qty lowered)")
    payment_attempts: int = Field(default=0, ge=0, le=MAX_SESSION_COUNT)
    payment_methods: list[TenderMethod] = Field(
        default_factory=list, max_length=20, description="methods tried, in order, once each")
    pay_seconds: float | None = Field(
        default=None, ge=0, le=86_400,
        description="seconds from the first press of pay to the paid result (paid only)")
    errors: dict[ErrorCode, Annotated[int, Field(ge=1, le=MAX_SESSION_COUNT)]] = Field(
        default_factory=dict, max_length=30, description="error code -> times seen")
    help_calls: int = Field(default=0, ge=0, le=MAX_SESSION_COUNT)
    order_no: str | None = Field(default=None, max_length=64)
    member_id: str | None = Field(default=None, max_length=64)


class PrintJobData(_Data):
    """Payload of ``print.done`` and ``print.failed`` (``reason`` on failures only)."""

    job_id: int
    order_no: str | None = None
    kind: str = Field(description="receipt | reprint | test")
    attempts: int = Field(default=0, ge=0, description="failed tries before this event")
    reason: str | None = None


class Event(WireMessage):
    """One outbox event as published on ``events``."""

    event_id: str = Field(default_factory=uuid7, min_length=8, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    store: str = Field(min_length=1, max_length=64)
    kiosk: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, description="per-kiosk sequence, increasing")
    ts: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str
    reason: str


class EventAck(WireMessage):
    """Cloud -> kiosk: events durably stored (``acked``) or refused for good (``rejected``)."""

    acked: list[str] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    ts: datetime = Field(default_factory=utcnow)
