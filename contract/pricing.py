"""The pricing engine: cart + price book + member + coupons -> priced lines and totals.

Pure and deterministic: no I/O, no clock (validity windows are checked against
``ctx.now``), integer fen only. The kiosk prices with it (offline too) and the
cloud re-prices with it authoritatively; the same inputs give the same fen.

Stacking rules
==============

Prices are tax-inclusive. Each stage works on what the previous one left.

1. **List price.** ``unit_price * qty``; weighed items ``unit_price`` per kg times
   ``weight_g / 1000``, rounded half-up to the fen.
2. **Unit offers, best one per line, never two.** A line's "simple" price is the
   lowest of: list price, member price (members only), each active percentage
   promotion (``off_bp`` off each unit, rounded half-up per unit; per line for
   weighed items) and each active fixed-price promotion (特价). Member price and
   promotions do not stack. Ties go to list, then member price, then promo id.
3. **Multi-unit offers (buy X get Y, bundles), all-or-nothing per offer.** A product
   belongs to at most one multi-unit offer. For each offer the engine prices the
   offer's lines both ways and keeps the cheaper for the shopper:
   *buy X get Y*: eligible units sorted by list price (dearest first), in every group
   of X+Y units the units after the first X are free (so a partial last group
   still gets its free units), paid units at **list** price (no member price on top);
   *bundle*: as many complete sets as the cart holds sell at the bundle price, the
   remaining units keep their simple price.
4. **满减 (full reduction)**, at most one per order (the one worth most): tiers are
   reached on the post-promotion amount of its eligible lines (category filters).
5. **Coupons**: at most one non-stackable coupon (the engine picks the one leaving the
   lowest total), then every stackable coupon in key order. Fixed value, or
   percentage with an optional cap; an optional threshold; optional category filters.
6. **Points** (members only): ``redeem_points`` at ``redeem_points_per_fen`` (1 = 100
   points per yuan), at most the balance and ``redeem_max_share_bp`` of what is left.
7. **Points earned** (members only): ``total * level multiplier / earn_fen_per_point``,
   rounded down.

Order-level discounts (4-6) are allocated to the lines they apply to in
proportion to what each line still costs, by largest remainder (ties: lower
``line_no``), so line amounts always add up to the total and never go negative.
VAT is then broken down per rate from the final line amounts:
``net = round_half_up(gross * 10000 / (10000 + rate_bp))``, ``tax = gross - net``.

Thresholds are literal
----------------------
"满50减5" means what the poster says: eligible goods worth ¥50.00 or more get the whole
¥5 off (the shopper pays ¥45.00), below ¥50.00 nothing. With tiers, the highest tier
reached applies in full; a percentage coupon's threshold works the same way (its cap
still applies). A discount never exceeds the goods it applies to, so no total is
negative. A bundle sells at the price the merchant configured.

This means a cart can cost more after an item is taken out (a ¥50.00 cart pays ¥45.00,
the same cart minus a ¥0.01 item pays ¥49.99). An earlier version "ramped" thresholds
in to avoid that, and so charged shoppers more than the advertised offer (¥49.99 for a
¥50.00 cart under 满50减5): that is wrong for real retail (明码标价, and every retailer
applies the literal rule), and was dropped.

The base of an order-level discount (4, 5) is what the order still costs when that
stage runs, minus the lines outside its category filter at what they cost after the
line stages (1-3).

Still true (property-tested): line amounts add up to the total, nothing is negative,
allocations are exact to the fen, the result is deterministic, and the kiosk and the
cloud compute the same fen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .pricebook import (
    BundlePromotion,
    BuyXGetYPromotion,
    Coupon,
    FixedPricePromotion,
    FullReduction,
    PercentagePromotion,
    PriceBook,
    Product,
    _now_ok,
)
from .wire.events import OrderLineData, VatLine

__all__ = [
    "AppliedDiscount",
    "CartLine",
    "Coupon",
    "Member",
    "PricedCart",
    "PricedLine",
    "PricingContext",
    "PricingError",
    "allocate",
    "price_cart",
    "round_half_up",
    "vat_breakdown",
]

#: A promotion of the price book (simple or multi-unit), as the engine reads it.
AnyPromotion = PercentagePromotion | FixedPricePromotion | BuyXGetYPromotion | BundlePromotion
#: Chooses the lines an order-level discount applies to (``None``: every line).
LinePredicate = Callable[["_Line"], bool] | None

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


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up, integers only (numerator >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights`` exactly, by largest remainder.

    Ties in the remainder go to the earlier weight (the lower ``line_no``). Each share is
    at most its weight whenever ``amount <= sum(weights)``.
    """
    total = sum(weights)
    if amount == 0:
        return [0] * len(weights)
    if total <= 0:
        raise PricingError("cannot allocate a discount over nothing")
    shares = []
    rems = []
    for i, w in enumerate(weights):
        q, r = divmod(amount * w, total)
        shares.append(q)
        rems.append((-r, i))
    left = amount - sum(shares)
    if left:
        for _, i in sorted(rems)[:left]:
            shares[i] += 1
    return shares


def vat_breakdown(amounts_by_rate: dict[int, int]) -> list[VatLine]:
    """Per-rate VAT for tax-inclusive gross amounts, sorted by rate."""
    out = []
    for rate in sorted(amounts_by_rate):
        gross = amounts_by_rate[rate]
        net = round_half_up(gross * 10000, 10000 + rate)
        out.append(VatLine(rate_bp=rate, gross=gross, net=net, tax=gross - net))
    return out


# ---------------------------------------------------------------------------
# internals


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


def _bxgy(promo: BuyXGetYPromotion, lines: list[_Line]) -> bool:
    """Step 3, buy X get Y. Returns True when the offer beats simple prices."""
    group = promo.buy + promo.get

    def paid_before(n: int) -> int:
        return (n // group) * promo.buy + min(n % group, promo.buy)

    pos = 0
    paid: dict[int, int] = {}
    # Equal prices: product id before line order, so which unit is free (and so what each
    # category costs, the base of a category offer) does not depend on scan order.
    for ln in sorted(lines, key=lambda x: (-x.list_unit, x.product.product_id, x.line_no)):
        q = ln.cart.qty
        paid[ln.line_no] = (paid_before(pos + q) - paid_before(pos)) * ln.list_unit
        pos += q
    offer = sum(paid.values())
    if offer >= sum(ln.simple_amount for ln in lines):
        return False
    for ln in lines:
        ln.residual = paid[ln.line_no]
        ln.tags.append(promo.promo_id)
        if ln.residual < ln.list_amount:
            ln.applied[promo.promo_id] = ln.list_amount - ln.residual
    return True


def _bundle(promo: BundlePromotion, lines: list[_Line]) -> bool:
    """Step 3, bundle. Returns True when the offer beats simple prices."""
    units: dict[str, int] = {}
    for ln in lines:
        units[ln.product.product_id] = units.get(ln.product.product_id, 0) + ln.cart.qty
    sets = min(units.get(item.product_id, 0) // item.qty for item in promo.items)
    if sets == 0:
        return False
    need = {item.product_id: item.qty * sets for item in promo.items}
    in_bundle: list[int] = []
    for ln in lines:  # lines arrive in line_no order
        take = min(need.get(ln.product.product_id, 0), ln.cart.qty)
        if take:
            need[ln.product.product_id] -= take
        in_bundle.append(take)
    bundle_list = sum(take * ln.list_unit for take, ln in zip(in_bundle, lines, strict=True))
    rest = sum((ln.cart.qty - t) * _unit(ln) for t, ln in zip(in_bundle, lines, strict=True))
    offer = sets * promo.price + rest
    if offer >= sum(ln.simple_amount for ln in lines):
        return False
    # Allocated in product order (ties go to the earlier product), not scan order: what
    # each category costs must not depend on the order of the lines.
    pids = sorted({ln.product.product_id for ln in lines})
    of_pid = {pid: [i for i, ln in enumerate(lines) if ln.product.product_id == pid]
              for pid in pids}
    per_pid = allocate(bundle_list - sets * promo.price,
                       [sum(in_bundle[i] * lines[i].list_unit for i in of_pid[pid])
                        for pid in pids])
    shares = [0] * len(lines)
    for pid, amount in zip(pids, per_pid, strict=True):
        idx = of_pid[pid]
        if not amount:
            continue
        for i, share in zip(idx, allocate(amount, [in_bundle[i] * lines[i].list_unit
                                                  for i in idx]), strict=True):
            shares[i] = share
    for take, share, ln in zip(in_bundle, shares, lines, strict=True):
        rest_units = ln.cart.qty - take
        ln.residual = take * ln.list_unit - share + rest_units * _unit(ln)
        if take:
            ln.tags.append(promo.promo_id)
            if share:
                ln.applied[promo.promo_id] = share
        if rest_units and ln.simple_tag is not None and _unit(ln) < ln.list_unit:
            ln.tags.append(ln.simple_tag)
            ln.applied[ln.simple_tag] = rest_units * (ln.list_unit - _unit(ln))
    return True


class _Threshold:
    """A literal threshold discount: the highest tier reached applies in full (docstring).

    ``tiers`` are ``(threshold, off)`` in ascending threshold order; with ``pct`` the
    discount is that percentage (basis points) of the base, capped at ``cap``.
    """

    __slots__ = ("cap", "offs", "pct", "thresholds")

    def __init__(self, tiers: list[tuple[int, int]], pct: int = 0, cap: int | None = None):
        self.thresholds = [t for t, _ in tiers]
        self.offs = [d for _, d in tiers]
        self.pct = pct
        self.cap = cap

    def discount(self, base: int) -> int:
        """The discount on eligible goods worth ``base`` fen (0 below the first tier)."""
        if base <= 0:
            return 0
        j = -1
        for i, t in enumerate(self.thresholds):
            if base >= t:
                j = i
            else:
                break
        if j < 0:
            return 0
        if self.pct:
            off = round_half_up(base * self.pct, 10000)
            if self.cap is not None:
                off = min(off, self.cap)
        else:
            off = self.offs[j]
        return min(off, base)


def _filter(categories: tuple[str, ...], exclude: tuple[str, ...]) -> LinePredicate:
    if not categories and not exclude:
        return None
    inc = frozenset(categories)
    exc = frozenset(exclude)
    return lambda ln: (not inc or ln.product.category in inc) and ln.product.category not in exc


def _outside(lines: list[_Line], pred: LinePredicate) -> int:
    """What the lines outside ``pred`` cost after the line stages (1-3); 0 without a filter.

    A filtered discount's base is what the order still costs minus this: fixed per line,
    so the base does not depend on how earlier order-level discounts were split between
    lines (the order of the lines changes nothing).
    """
    if pred is None:
        return 0
    return sum(ln.item_amount for ln in lines if not pred(ln))


def _coupon_threshold(c: Coupon) -> _Threshold:
    if c.kind == "fixed":
        return _Threshold([(c.threshold, c.value)])
    return _Threshold([(c.threshold, 0)], pct=c.value, cap=c.cap)


def _allocate_order_discount(lines: list[_Line], pred: LinePredicate, amount: int,
                             tag: str) -> None:
    targets = [ln for ln in lines if pred is None or pred(ln)]
    shares = allocate(amount, [ln.residual for ln in targets])
    for ln, share in zip(targets, shares, strict=True):
        if share:
            ln.residual -= share
            ln.tags.append(tag)
            ln.applied[tag] = ln.applied.get(tag, 0) + share


_KIND_ORDER = {
    "member_price": 0, "fixed_price": 1, "percentage": 2, "buy_x_get_y": 3, "bundle": 4,
    "full_reduction": 5, "coupon": 6, "points": 7,
}


class _Run:
    """Working state of one :func:`price_cart` call, handed from stage to stage (private)."""

    __slots__ = ("book", "ctx", "eligible_cache", "labels", "lines", "member", "now",
                 "order_applied", "total")

    def __init__(self, book: PriceBook, ctx: PricingContext) -> None:
        self.book = book
        self.ctx = ctx
        self.member = ctx.member
        self.now = ctx.now
        self.labels: dict[str, AnyPromotion] = {}
        self.lines: list[_Line] = []
        self.eligible_cache: dict[str, bool] = {}
        self.total = 0
        self.order_applied: list[AppliedDiscount] = []

    def ok(self, promo: AnyPromotion) -> bool:
        """Whether ``promo`` applies to this cart (window, member level), cached by id."""
        hit = self.eligible_cache.get(promo.promo_id)
        if hit is None:
            hit = self.eligible_cache[promo.promo_id] = _eligible(promo, self.member, self.now)
        return hit

    def take_order_discount(self, pred: LinePredicate, amount: int, tag: str,
                            applied: AppliedDiscount) -> None:
        """Allocate an order-level discount to its lines and take it off the total."""
        _allocate_order_discount(self.lines, pred, amount, tag)
        self.total -= amount
        self.order_applied.append(applied)


def _checked_product(book: PriceBook, i: int, cl: CartLine) -> Product:
    """The product of cart line ``i`` once the line is valid for it."""
    p = book.index.by_id.get(cl.product_id)
    if p is None:
        raise PricingError(f"line {i}: unknown product {cl.product_id!r}")
    if not p.active:
        raise PricingError(f"line {i}: product {cl.product_id!r} is not on sale")
    if cl.qty < 1:
        raise PricingError(f"line {i}: qty must be at least 1")
    if cl.label_amount is not None:
        if not p.weighed or cl.weight_g is not None or cl.qty != 1 or cl.label_amount < 1:
            raise PricingError(f"line {i}: a label price is for one weighed pack of "
                               f"{p.product_id!r}, without weight_g")
    elif p.weighed:
        if cl.weight_g is None or cl.weight_g < 1:
            raise PricingError(f"line {i}: weighed product {p.product_id!r} needs weight_g")
        if cl.qty != 1:
            raise PricingError(f"line {i}: a weighed line has qty 1")
    elif cl.weight_g is not None:
        raise PricingError(f"line {i}: {p.product_id!r} is not sold by weight")
    return p


def _simple_promotions(run: _Run, lines: list[CartLine] | tuple[CartLine, ...]) -> None:
    """Steps 1-2: list price and the best single unit offer of every line."""
    ix = run.book.index
    for i, cl in enumerate(lines, start=1):
        p = _checked_product(run.book, i, cl)
        ln = _Line(i, p, cl)
        _price_simple(ln, ix.unit_offers.get(p.product_id, ()), run.member, run.ok, run.labels)
        run.lines.append(ln)


def _multi_unit_promotions(run: _Run) -> None:
    """Step 3: multi-unit offers, each over its own products, else the simple prices."""
    ix = run.book.index
    pools: dict[str, list[_Line]] = {}
    offers: dict[str, BuyXGetYPromotion | BundlePromotion] = {}
    for ln in run.lines:
        promo = ix.multi.get(ln.product.product_id)
        if promo is not None and run.ok(promo):
            pools.setdefault(promo.promo_id, []).append(ln)
            offers[promo.promo_id] = promo
        else:
            _apply_simple(ln)
    for pid, pool in pools.items():
        promo = offers[pid]
        won = _bxgy(promo, pool) if isinstance(promo, BuyXGetYPromotion) else _bundle(promo, pool)
        if won:
            run.labels[pid] = promo
        else:
            for ln in pool:
                _apply_simple(ln)
    for ln in run.lines:
        ln.item_amount = ln.residual  # what the line costs after the line stages
    run.total = sum(ln.residual for ln in run.lines)


def _full_reduction(run: _Run) -> None:
    """Step 4: the full reduction worth most, if any."""
    best: tuple[int, str, FullReduction, LinePredicate] | None = None
    for fr in run.book.full_reductions:
        if not _eligible(fr, run.member, run.now):
            continue
        pred = _filter(fr.categories, fr.exclude_categories)
        rule = _Threshold([(t.threshold, t.off) for t in fr.tiers])
        d = rule.discount(run.total - _outside(run.lines, pred))
        if d > 0 and (best is None or (-d, fr.reduction_id) < (-best[0], best[1])):
            best = (d, fr.reduction_id, fr, pred)
    if best is not None:
        d, rid, fr, pred = best
        run.take_order_discount(
            pred, d, rid, AppliedDiscount(rid, "full_reduction", d, fr.label_zh, fr.label_en))


def _coupons(run: _Run) -> tuple[list[str], list[str]]:
    """Step 5: the best non-stackable coupon, then every stackable one in key order.

    Returns:
        The keys of the coupons applied and of those not used (expired, duplicate,
        members only without a member, not reaching their threshold, beaten).
    """
    usable: list[Coupon] = []
    unused: list[str] = []
    seen: set[str] = set()
    for c in run.ctx.coupons:
        if c.key in seen:
            unused.append(c.key)
            continue
        seen.add(c.key)
        if not _now_ok(c.start, c.end, run.now) or (c.member_only and run.member is None):
            unused.append(c.key)
            continue
        usable.append(c)
    stackable = sorted((c for c in usable if c.stackable), key=lambda c: c.key)
    single = sorted((c for c in usable if not c.stackable), key=lambda c: c.key)
    prepared = {
        c.key: (_filter(c.categories, c.exclude_categories), _coupon_threshold(c))
        for c in usable
    }

    outside = {k: _outside(run.lines, pred) for k, (pred, _) in prepared.items()}

    def chain_result(chain: list[Coupon]) -> tuple[int, list[tuple[Coupon, int]]]:
        t = run.total
        steps = []
        for c in chain:
            d = prepared[c.key][1].discount(t - outside[c.key])
            steps.append((c, d))
            t -= d
        return t, steps

    best_chain: tuple[int, list[tuple[Coupon, int]]] = chain_result(stackable)
    for c in single:
        cand = chain_result([c, *stackable])
        if cand[0] < best_chain[0]:
            best_chain = cand
    applied_coupons: list[str] = []
    for c, d in best_chain[1]:
        if d <= 0:
            continue
        run.take_order_discount(prepared[c.key][0], d, c.key,
                                AppliedDiscount(c.key, "coupon", d, c.label_zh, c.label_en))
        applied_coupons.append(c.key)
    unused.extend(c.key for c in usable if c.key not in applied_coupons)
    return applied_coupons, unused


def _redeem_points(run: _Run) -> int:
    """Step 6: points redemption (members only); returns the points redeemed."""
    rules = run.book.points
    member = run.member
    if member is None or run.ctx.redeem_points <= 0 or run.total <= 0:
        return 0
    want = min(run.ctx.redeem_points, max(member.points_balance, 0)) // rules.redeem_points_per_fen
    d = min(want, run.total * rules.redeem_max_share_bp // 10000)
    if d <= 0:
        return 0
    points_redeemed = d * rules.redeem_points_per_fen
    run.take_order_discount(
        None, d, POINTS_ID,
        AppliedDiscount(POINTS_ID, "points", d, f"积分抵扣（{points_redeemed}积分）",
                        f"{points_redeemed} points redeemed"))
    return points_redeemed


def _earned_points(run: _Run) -> int:
    """Step 7: points earned on the final total (members only), rounded down."""
    if run.member is None:
        return 0
    rules = run.book.points
    mult = rules.level_multiplier_bp.get(run.member.level, 10000)
    return run.total * mult // (10000 * rules.earn_fen_per_point)


def _priced_line(ln: _Line) -> PricedLine:
    """The final line, with what the allocations left of it."""
    p = ln.product
    return PricedLine(
        line_no=ln.line_no, product_id=p.product_id, barcode=ln.barcode,
        name_zh=p.name_zh, name_en=p.name_en, qty=ln.cart.qty,
        weight_g=ln.cart.weight_g, unit_price=p.unit_price,
        list_amount=ln.list_amount, discount=ln.list_amount - ln.residual,
        amount=ln.residual, vat_rate_bp=p.vat_rate_bp, category=p.category,
        promotions=list(dict.fromkeys(ln.tags)), age_restricted=p.age_restricted,
        discounts=ln.applied,
    )


def _vat_by_rate(run: _Run) -> list[VatLine]:
    """VAT per rate from the final line amounts."""
    by_rate: dict[int, int] = {}
    for ln in run.lines:
        rate = ln.product.vat_rate_bp
        by_rate[rate] = by_rate.get(rate, 0) + ln.residual
    return vat_breakdown(by_rate)


def _applied_discounts(run: _Run) -> list[AppliedDiscount]:
    """Line-level discounts summed per id (in kind order), then the order-level ones."""
    line_applied: dict[str, int] = {}
    for ln in run.lines:
        for tag, amt in ln.applied.items():
            if tag in run.labels or tag == MEMBER_PRICE_ID:
                line_applied[tag] = line_applied.get(tag, 0) + amt
    applied: list[AppliedDiscount] = []
    for tag, amt in line_applied.items():
        if tag == MEMBER_PRICE_ID:
            applied.append(AppliedDiscount(tag, "member_price", amt, "会员价", "Member price"))
        else:
            promo = run.labels[tag]
            applied.append(AppliedDiscount(tag, promo.kind, amt, promo.label_zh, promo.label_en))
    applied.sort(key=lambda a: (_KIND_ORDER[a.kind], a.id))
    applied.extend(run.order_applied)
    return applied


def price_cart(
    book: PriceBook, lines: list[CartLine] | tuple[CartLine, ...], ctx: PricingContext | None = None
) -> PricedCart:
    """Price ``lines`` on ``book``; see the module docstring for the stacking rules.

    Raises:
        PricingError: unknown or inactive product, qty < 1, a weighed line without a
            weight (or with qty != 1), a weight on a unit item, or a naive ``ctx.now``.
    """
    ctx = ctx or PricingContext()
    if ctx.now is not None and ctx.now.tzinfo is None:
        raise PricingError("ctx.now must be timezone-aware")
    run = _Run(book, ctx)
    _simple_promotions(run, lines)
    _multi_unit_promotions(run)
    _full_reduction(run)
    applied_coupons, unused = _coupons(run)
    points_redeemed = _redeem_points(run)
    points_earned = _earned_points(run)
    subtotal = sum(ln.list_amount for ln in run.lines)
    member = run.member
    return PricedCart(
        lines=[_priced_line(ln) for ln in run.lines],
        subtotal=subtotal,
        discount_total=subtotal - run.total,
        total=run.total,
        vat=_vat_by_rate(run),
        points_earned=points_earned,
        points_redeemed=points_redeemed,
        applied=_applied_discounts(run),
        currency=book.currency,
        catalog_version=book.version,
        member_id=member.member_id if member is not None else None,
        coupons=applied_coupons,
        coupons_unused=unused,
    )


# Re-exported for callers that build offers in code (tests, the cloud's marketing module).
__all__ += ["BundlePromotion", "BuyXGetYPromotion", "FixedPricePromotion", "PercentagePromotion"]
