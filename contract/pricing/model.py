"""Inputs and results of the pricing engine: cart lines, member, context, priced cart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..pricebook import (
    Coupon,
)
from ..wire.events import OrderLineData, VatLine

MEMBER_PRICE_ID = "member_price"
POINTS_ID = "points"


class PricingError(ValueError):
    """A cart that cannot be priced (unknown or inactive product, bad quantity or weight)."""


@dataclass(frozen=True, slots=True)
class CartLine:
    """One cart line: ``qty`` units, or one weighed item of ``weight_g`` grams, or one
    weighed pack whose scale label printed its price (``label_amount`` fen)."""

    product_id: str
    qty: int = 1
    weight_g: int | None = None
    label_amount: int | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """The member on the cart: level names match ``PointsRules.level_multiplier_bp``."""

    member_id: str
    level: str = "regular"
    points_balance: int = 0


@dataclass(frozen=True, slots=True)
class PricingContext:
    """Everything besides the cart and the book. ``now`` must be timezone-aware.

    Without ``now``, promotions and coupons that have a validity window do not apply.
    """

    member: Member | None = None
    coupons: tuple[Coupon, ...] = ()
    redeem_points: int = 0
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """One discount as the shopper sees it: id, kind, fen off (whole order), labels."""

    id: str
    kind: str
    amount: int
    label_zh: str
    label_en: str | None = None


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A priced cart line; fields mirror :class:`wire.events.OrderLineData`."""

    line_no: int
    product_id: str
    barcode: str | None
    name_zh: str
    name_en: str | None
    qty: int
    weight_g: int | None
    unit_price: int
    list_amount: int
    discount: int
    amount: int
    vat_rate_bp: int
    category: str | None
    promotions: list[str] = field(default_factory=list)
    age_restricted: bool = False
    discounts: dict[str, int] = field(default_factory=dict)
    """Fen off this line per discount id (the ids of ``PricedCart.applied``); sums to ``discount``."""

    def to_wire(self) -> OrderLineData:
        """The line as it goes into ``order.completed``."""
        return OrderLineData(
            line_no=self.line_no,
            product_id=self.product_id,
            barcode=self.barcode,
            name_zh=self.name_zh,
            name_en=self.name_en,
            qty=self.qty,
            weight_g=self.weight_g,
            unit_price=self.unit_price,
            list_amount=self.list_amount,
            discount=self.discount,
            amount=self.amount,
            vat_rate_bp=self.vat_rate_bp,
            category=self.category,
            promotions=list(self.promotions),
        )


@dataclass(frozen=True, slots=True)
class PricedCart:
    """The priced cart. ``total == subtotal - discount_total == sum(line.amount)``."""

    lines: list[PricedLine]
    subtotal: int
    discount_total: int
    total: int
    vat: list[VatLine]
    points_earned: int
    points_redeemed: int
    applied: list[AppliedDiscount]
    currency: str
    catalog_version: str
    member_id: str | None = None
    coupons: list[str] = field(default_factory=list)
    coupons_unused: list[str] = field(default_factory=list)

    @property
    def age_restricted(self) -> bool:
        """True when some line needs an age check before payment."""
        return any(line.age_restricted for line in self.lines)
