"""Line stages (1-2): list price and the best unit offer of each line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ..pricebook import (
    BundlePromotion,
    BuyXGetYPromotion,
    FixedPricePromotion,
    FullReduction,
    PercentagePromotion,
    Product,
    _now_ok,
)
from .model import MEMBER_PRICE_ID, CartLine, Member, PricingError
from .money import round_half_up

#: A promotion of the price book (simple or multi-unit), as the engine reads it.
AnyPromotion = PercentagePromotion | FixedPricePromotion | BuyXGetYPromotion | BundlePromotion
#: Chooses the lines an order-level discount applies to (``None``: every line).
LinePredicate = Callable[["_Line"], bool] | None


class _Line:
    """Working state of one line while pricing (mutable, private)."""

    __slots__ = (
        "applied", "barcode", "cart", "item_amount", "line_no", "list_amount", "list_unit",
        "product", "residual", "simple_amount", "simple_tag", "simple_unit", "tags",
    )

    applied: dict[str, int]
    barcode: str | None
    cart: CartLine
    line_no: int
    list_amount: int  # what the line costs at list prices
    list_unit: int
    product: Product
    item_amount: int  # what the line costs after the line stages (1-3)
    residual: int  # what the line still costs after the stages so far
    simple_amount: int  # the line at its best single-unit offer
    simple_tag: str | None  # that offer's id (None: list price)
    simple_unit: int | None  # per unit (None: weighed)
    tags: list[str]

    def __init__(self, line_no: int, product: Product, cart: CartLine) -> None:
        self.line_no = line_no
        self.product = product
        self.cart = cart
        self.barcode = product.barcodes[0] if product.barcodes else None
        self.list_unit = product.unit_price
        self.tags: list[str] = []
        self.applied: dict[str, int] = {}


def _eligible(promo: AnyPromotion | FullReduction, member: Member | None,
              now: datetime | None) -> bool:
    if not _now_ok(promo.start, promo.end, now):
        return False
    levels = getattr(promo, "member_levels", ())
    if promo.member_only or levels:
        if member is None:
            return False
        if levels and member.level not in levels:
            return False
    return True


def _later_tie(best_tag: str | None, promo_id: str) -> bool:
    """On equal prices: list beats member price beats promotions; promotions by id."""
    return best_tag is not None and best_tag != MEMBER_PRICE_ID and promo_id < best_tag


def _price_simple(
    ln: _Line, offers: Sequence[PercentagePromotion | FixedPricePromotion],
    member: Member | None, ok: Callable[[AnyPromotion], bool],
    labels: dict[str, AnyPromotion],
) -> None:
    """Step 2: the best single unit offer for this line."""
    p = ln.product
    qty = ln.cart.qty
    best_tag: str | None = None
    if p.weighed and ln.cart.label_amount is not None:
        # A price-embedded scale label: the printed price is the list amount (the scale
        # weighed it at this book's price); per-kg prices cannot be re-applied without
        # the weight, so only percentage offers apply.
        ln.list_amount = best = ln.cart.label_amount
        for promo in offers:
            if not ok(promo) or isinstance(promo, FixedPricePromotion):
                continue
            amt = ln.list_amount - round_half_up(ln.list_amount * promo.off_bp, 10000)
            if amt < best or (amt == best and _later_tie(best_tag, promo.promo_id)):
                best, best_tag = amt, promo.promo_id
                labels[promo.promo_id] = promo
        ln.simple_amount = best
        ln.simple_unit = None
    elif p.weighed:
        w = ln.cart.weight_g or 0  # checked >= 1 when the cart is read
        ln.list_amount = round_half_up(p.unit_price * w, 1000)
        best = ln.list_amount
        if member is not None and p.member_price is not None:
            amt = round_half_up(p.member_price * w, 1000)
            if amt < best:
                best, best_tag = amt, MEMBER_PRICE_ID
        for promo in offers:
            if not ok(promo):
                continue
            if isinstance(promo, FixedPricePromotion):
                amt = round_half_up(promo.price * w, 1000)
            else:
                amt = ln.list_amount - round_half_up(ln.list_amount * promo.off_bp, 10000)
            if amt < best or (amt == best and _later_tie(best_tag, promo.promo_id)):
                best, best_tag = amt, promo.promo_id
                labels[promo.promo_id] = promo
        ln.simple_amount = best
        ln.simple_unit = None
    else:
        ln.list_amount = p.unit_price * qty
        best = p.unit_price
        if member is not None and p.member_price is not None and p.member_price < best:
            best, best_tag = p.member_price, MEMBER_PRICE_ID
        for promo in offers:
            if not ok(promo):
                continue
            if isinstance(promo, FixedPricePromotion):
                unit = promo.price
            else:
                unit = p.unit_price - round_half_up(p.unit_price * promo.off_bp, 10000)
            if unit < best or (unit == best and _later_tie(best_tag, promo.promo_id)):
                best, best_tag = unit, promo.promo_id
                labels[promo.promo_id] = promo
        ln.simple_unit = best
        ln.simple_amount = best * qty
    ln.simple_tag = best_tag


def _unit(ln: _Line) -> int:
    """The best unit price of a counted line (multi-unit offers never take weighed goods)."""
    if ln.simple_unit is None:
        raise PricingError(f"weighed product {ln.product.product_id!r} in a multi-unit offer")
    return ln.simple_unit


def _apply_simple(ln: _Line) -> None:
    ln.residual = ln.simple_amount
    if ln.simple_tag is not None and ln.simple_amount < ln.list_amount:
        ln.tags.append(ln.simple_tag)
        ln.applied[ln.simple_tag] = ln.list_amount - ln.simple_amount
