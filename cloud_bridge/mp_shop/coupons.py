"""A shopper's coupon in a mini-program order: checked, priced, locked to the order.

The coupon's life follows the order's, in the same transaction as each order change:

* ``POST /api/v1/mp/orders`` with ``coupon_id``: the coupon is checked here (the
  caller's, unused, valid now, for this store), the order is priced with it by the
  shared pricing engine (``contract.pricing``, the same one the kiosk runs), and it is
  locked to the new order (:func:`cloud_bridge.marketing.service.lock`, a conditional
  update: of two orders racing for one coupon exactly one is created);
* paid (:func:`cloud_bridge.orders.mark_paid`): used;
* cancelled (by staff, or closed unpaid after the payment timeout) or refunded in full:
  released back to the wallet, or expired when its validity ended meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject
from contract.pricebook import Coupon as PricedCoupon
from contract.pricing import PricedCart

from ..errors import Conflict, NotFound
from ..marketing import service as marketing
from ..marketing.models import Coupon, CouponTemplate
from ..members import service as members


@dataclass(frozen=True, slots=True)
class CheckoutCoupon:
    """One of the caller's coupons, checked for an order in ``store``."""

    coupon_id: str
    member_id: str
    priced: PricedCoupon
    threshold: int


async def checkout_coupon(s: AsyncSession, *, app_id: str, openid: str, coupon_id: str,
                          store: str, at: datetime) -> CheckoutCoupon:
    """The caller's coupon, usable now in ``store``, as the pricing engine takes it.

    Raises:
        NotFound: the caller is no member, or the coupon is not theirs (another
            shopper's coupon is "not found": coupon ids do not leak).
        Conflict: used, locked to another order, expired, not valid yet, or for
            another store.
    """
    member = await members.member_of(s, app_id, openid)
    c = await s.get(Coupon, coupon_id)
    if c is None or c.owner != member.id:
        raise NotFound(f"coupon {coupon_id} not found")
    t = await s.get(CouponTemplate, c.template_id)
    if t is None:
        raise NotFound(f"coupon {coupon_id} not found")
    if c.status != marketing.UNUSED:
        raise Conflict(f"coupon {coupon_id} is {c.status}")
    if c.valid_until <= at:
        raise Conflict(f"coupon {coupon_id} has expired")
    if c.valid_from > at:
        raise Conflict(f"coupon {coupon_id} is valid from {c.valid_from.isoformat()}")
    if t.store is not None and t.store != store:
        raise Conflict(f"coupon {coupon_id} is for store {t.store} only")
    # The bridge has checked whose coupon it is, so the engine needs no member on the
    # cart for it (a member on the cart would also bring member prices and points).
    priced = marketing.pricing_coupon(t, c).model_copy(update={"member_only": False})
    return CheckoutCoupon(coupon_id=c.id, member_id=member.id, priced=priced,
                          threshold=t.threshold or 0)


def check_applied(coupon: CheckoutCoupon, priced: PricedCart) -> None:
    """Refuse an order the coupon gives nothing off (threshold not reached, or none of
    its categories in the cart): the shopper should not lock a coupon for nothing."""
    if coupon.coupon_id in priced.coupons:
        return
    if coupon.threshold:
        raise Conflict(f"coupon {coupon.coupon_id} needs an order of at least "
                       f"{coupon.threshold} fen of eligible goods")
    raise Conflict(f"coupon {coupon.coupon_id} does not apply to these goods")


def order_details(priced: PricedCart) -> JsonObject:
    """What the order keeps of its pricing: the coupons applied (the kiosk's ``coupons``
    key) and every discount as the shopper sees it (label and fen off)."""
    return {"coupons": list(priced.coupons),
            "discounts": [{"id": d.id, "kind": d.kind, "amount": d.amount,
                           "label_zh": d.label_zh, "label_en": d.label_en}
                          for d in priced.applied]}


async def lock_to_order(s: AsyncSession, coupon: CheckoutCoupon, order_no: str,
                        at: datetime) -> None:
    """Lock the coupon to the new order; Conflict when another order took it first."""
    await marketing.lock(s, coupon.coupon_id, coupon.member_id, order_no, at=at)
