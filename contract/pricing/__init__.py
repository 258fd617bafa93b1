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

Campaigns
---------
A book's ``campaigns`` (:mod:`contract.campaigns`: 满减, holiday, new-product and
member-only campaigns) are compiled into the stages above: an offer on goods joins the
unit offers of stage 2 under the campaign's id, a campaign 满减 joins stage 4 (still at
most one 满减 per order, the one worth most). A campaign never makes a cart dearer: when
the book has campaigns the engine also prices the cart without them and keeps the
cheaper total (a campaign discount can take the goods below a literal threshold).

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

The engine is split by concern: :mod:`.model` (inputs and results), :mod:`.money`
(rounding, allocation, VAT), :mod:`.lines` (stages 1-2), :mod:`.multi_unit` (stage 3),
:mod:`.order_level` (stages 4-6) and :mod:`.engine` (:func:`price_cart`, the driver).
"""

from __future__ import annotations

from ..campaigns import Campaign
from ..pricebook import (
    BundlePromotion,
    BuyXGetYPromotion,
    Coupon,
    FixedPricePromotion,
    PercentagePromotion,
)
from .engine import price_cart
from .model import (
    MEMBER_PRICE_ID,
    POINTS_ID,
    AppliedDiscount,
    CartLine,
    Member,
    PricedCart,
    PricedLine,
    PricingContext,
    PricingError,
)
from .money import allocate, round_half_up, vat_breakdown

# The promotion classes are re-exported for callers that build offers in code (tests,
# the cloud's marketing module).
__all__ = [
    "MEMBER_PRICE_ID",
    "POINTS_ID",
    "AppliedDiscount",
    "BundlePromotion",
    "BuyXGetYPromotion",
    "Campaign",
    "CartLine",
    "Coupon",
    "FixedPricePromotion",
    "Member",
    "PercentagePromotion",
    "PricedCart",
    "PricedLine",
    "PricingContext",
    "PricingError",
    "allocate",
    "price_cart",
    "round_half_up",
    "vat_breakdown",
]
