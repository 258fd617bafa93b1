"""Turning a priced cart and its tenders into the committed sale (``OrderCompletedData``).

The pricing engine (:mod:`contract.pricing`) produces a ``PricedCart`` whose
lines mirror :class:`~contract.wire.events.OrderLineData`; this module copies
it field by field into the wire model the journal commits, the receipt prints
and the cloud stores, so all three see the same fen.

Order numbers are ``{store}-{kiosk}-{yyyymmdd}-{seq:04d}`` (per kiosk and business day,
unique chain-wide; :mod:`contract.numbers`),
allocated by the journal (:meth:`Journal.reserve_order_no` before a payment, or
inside :meth:`Journal.commit_sale`). Out-trade numbers for payment providers are
``{order_no}-{n}``: a retry of the same attempt reuses it, a new attempt (another
payment code after a failure) takes the next ``n``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from contract import numbers
from contract.wire.base import utcnow
from contract.wire.events import (
    CouponProofData,
    DiscountData,
    MemberProofData,
    OrderCompletedData,
    OrderLineData,
    TenderData,
    VatLine,
)

if TYPE_CHECKING:
    from contract.pricing import PricedCart

# 128 bits: a receipt's claim token cannot be guessed (and claims are rate-limited).
RECEIPT_TOKEN_BYTES = 16


class OrderError(ValueError):
    """A cart and tenders that do not make a valid sale."""


def out_trade_no(order_no: str, attempt: int = 1) -> str:
    """The provider order id of attempt ``attempt`` for ``order_no`` (fits WeChat Pay's 32)."""
    if attempt < 1:
        raise OrderError("attempt numbers start at 1")
    try:
        return numbers.make_out_trade_no(order_no, attempt)
    except numbers.NumberError as err:
        raise OrderError(str(err)) from err


def parse_order_no(order_no: str) -> tuple[str, str, str, int]:
    """``(store, kiosk, yyyymmdd, seq)`` of a chain-wide order number; OrderError if not one."""
    try:
        n = numbers.parse_order_no(order_no)
    except numbers.NumberError as err:
        raise OrderError(str(err)) from err
    assert n.store is not None
    return n.store, n.kiosk, n.day, n.seq


def _fields(obj: object) -> dict[str, object]:
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, BaseModel):
        return obj.model_dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return dict(vars(obj))


def order_lines(priced_lines: Sequence[object]) -> list[OrderLineData]:
    """Wire order lines from priced lines (dataclasses, models or dicts)."""
    out = []
    for i, line in enumerate(priced_lines, start=1):
        data = _fields(line)
        data.setdefault("line_no", i)
        promotions = data.get("promotions")
        if promotions is not None:
            assert isinstance(promotions, Iterable)
            data["promotions"] = [str(p) for p in promotions]
        out.append(OrderLineData.model_validate(data))
    return out


def vat_lines(vat: Sequence[object]) -> list[VatLine]:
    return [v if isinstance(v, VatLine) else VatLine.model_validate(_fields(v)) for v in vat]


def discount_lines(applied: Sequence[object]) -> list[DiscountData]:
    """Wire discounts (id, kind, fen, labels) from ``PricedCart.applied``."""
    return [a if isinstance(a, DiscountData) else DiscountData.model_validate(_fields(a))
            for a in applied]


def build_order(
    priced: PricedCart,
    *,
    tenders: Sequence[TenderData],
    order_no: str = "",
    created_at: datetime | None = None,
    completed_at: datetime | None = None,
    member_id: str | None = None,
    member: MemberProofData | None = None,
    coupons: Sequence[str] = (),
    coupon_proofs: Sequence[CouponProofData] = (),
    catalog_version: str | None = None,
    offline: bool = False,
    language: str = "zh",
    note: str | None = None,
    receipt_token: str | None = None,
) -> OrderCompletedData:
    """The committed sale from a ``PricedCart`` and the tenders that paid it.

    Raises:
        OrderError: tenders that do not add up to the total, a currency mismatch,
            or an empty cart.
    """
    lines = order_lines(priced.lines)
    if not lines:
        raise OrderError("a sale needs at least one line")
    currency = str(getattr(priced, "currency", "CNY"))
    paid = 0
    for t in tenders:
        if t.currency != currency:
            raise OrderError(f"tender in {t.currency} for a sale in {currency}")
        paid += t.amount
    if paid != priced.total:
        raise OrderError(f"tenders pay {paid} but the total is {priced.total}")
    now = utcnow()
    try:
        return OrderCompletedData(
            order_no=order_no,
            created_at=created_at or now,
            completed_at=completed_at or now,
            currency=currency,
            lines=lines,
            subtotal=priced.subtotal,
            discount_total=priced.discount_total,
            total=priced.total,
            vat=vat_lines(getattr(priced, "vat", ()) or ()),
            tenders=list(tenders),
            member_id=member_id,
            member=member if member_id is not None else None,
            points_earned=int(getattr(priced, "points_earned", 0) or 0),
            points_redeemed=int(getattr(priced, "points_redeemed", 0) or 0),
            coupons=list(coupons),
            # Only the codes of coupons the engine applied travel (the cloud uses them).
            coupon_proofs=[p for p in coupon_proofs if p.coupon_id in coupons],
            catalog_version=catalog_version,
            offline=offline,
            note=note,
            language=language,
            discounts=discount_lines(getattr(priced, "applied", ()) or ()),
            # Printed in the receipt's QR code; the cloud keeps only its hash (claim proof).
            receipt_token=receipt_token or secrets.token_urlsafe(RECEIPT_TOKEN_BYTES),
        )
    except ValueError as err:
        raise OrderError(str(err)) from err
