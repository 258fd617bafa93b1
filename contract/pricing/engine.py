"""The engine's driver: :func:`price_cart` runs the named stages over one working state."""

from __future__ import annotations

from ..pricebook import (
    BundlePromotion,
    BuyXGetYPromotion,
    Coupon,
    FullReduction,
    PriceBook,
    Product,
    _now_ok,
)
from ..wire.events import VatLine
from .lines import AnyPromotion, LinePredicate, _apply_simple, _eligible, _Line, _price_simple
from .model import (
    MEMBER_PRICE_ID,
    POINTS_ID,
    AppliedDiscount,
    CartLine,
    PricedCart,
    PricedLine,
    PricingContext,
    PricingError,
)
from .money import vat_breakdown
from .multi_unit import _bundle, _bxgy
from .order_level import _allocate_order_discount, _coupon_threshold, _filter, _outside, _Threshold

_KIND_ORDER = {
    "member_price": 0, "fixed_price": 1, "percentage": 2, "buy_x_get_y": 3, "bundle": 4,
    "full_reduction": 5, "coupon": 6, "points": 7,
}


class _Run:
    """Working state of one :func:`price_cart` call, handed from stage to stage (private)."""

    __slots__ = ("book", "campaigns", "ctx", "eligible_cache", "labels", "lines", "member",
                 "now", "order_applied", "total")

    def __init__(self, book: PriceBook, ctx: PricingContext, campaigns: bool = True) -> None:
        self.book = book
        self.campaigns = campaigns  # with the book's campaigns, or priced without them
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
    offers = ix.unit_offers if run.campaigns else ix.base_unit_offers
    for i, cl in enumerate(lines, start=1):
        p = _checked_product(run.book, i, cl)
        ln = _Line(i, p, cl)
        _price_simple(ln, offers.get(p.product_id, ()), run.member, run.ok, run.labels)
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
    """Step 4: the full reduction worth most, if any (the book's and its campaigns')."""
    best: tuple[int, str, FullReduction, LinePredicate] | None = None
    ix = run.book.index
    for fr in ix.reductions if run.campaigns else ix.base_reductions:
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
    priced = _price(_Run(book, ctx), lines)
    if book.campaigns:
        # A campaign must never make the cart dearer: its discount can take the goods
        # below a 满减 or coupon threshold. Priced without the campaigns too, the
        # shopper gets the cheaper (ties: with the campaigns, as advertised).
        without = _price(_Run(book, ctx, campaigns=False), lines)
        if without.total < priced.total:
            return without
    return priced


def _price(run: _Run, lines: list[CartLine] | tuple[CartLine, ...]) -> PricedCart:
    """One pass of the stages over ``lines`` (:func:`price_cart`)."""
    book = run.book
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

