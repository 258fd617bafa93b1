"""Coupon rules as plain async functions: templates, claiming, locking, using, releasing.

Exactly-once under concurrency comes from the database, not from Python:

* claiming takes a slot with ``UPDATE templates SET issued = issued + 1 WHERE id = :id
  AND issued < total_limit`` (one row changed or none), and the coupon row's
  ``UNIQUE(template_id, owner, claim_seq)`` stops one shopper's parallel claims beyond
  the per-user limit; a refused claim raises, so its whole transaction rolls back;
* locking to an order is ``UPDATE coupons SET status = 'locked' ... WHERE id = :id AND
  status = 'unused'``: of two orders racing for one coupon exactly one changes the row.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NotRequired, TypedDict, Unpack

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import rows_changed
from ..errors import Conflict, Forbidden, InvalidRequest, NotFound
from ..models import now as utcnow
from .models import Coupon, CouponTemplate

if TYPE_CHECKING:
    from contract.pricebook import Coupon as PricedCoupon

UNUSED, LOCKED, USED, EXPIRED = "unused", "locked", "used", "expired"
STATUSES = (UNUSED, LOCKED, USED, EXPIRED)
CHANNELS = ("claim", "batch", "registration", "birthday", "code", "campaign")
# A template without an end and without relative days still ends: a year is the longest
# a coupon stays in a wallet (unbounded liabilities are a finance problem).
DEFAULT_VALID_DAYS = 365


class TemplateFields(TypedDict):
    """What a new coupon template is made of (the fields of ``TemplateBody``; the optional
    ones take the column defaults)."""

    store: NotRequired[str | None]
    name_zh: str
    name_en: NotRequired[str | None]
    kind: str
    value: int
    cap: NotRequired[int | None]
    threshold: NotRequired[int]
    categories: NotRequired[list[str]]
    exclude_categories: NotRequired[list[str]]
    valid_from: NotRequired[datetime | None]
    valid_until: NotRequired[datetime | None]
    valid_days: NotRequired[int | None]
    total_limit: int
    per_user_limit: int
    min_level: NotRequired[str | None]
    stackable: NotRequired[bool]


def check_template(t: TemplateFields) -> None:
    """Refuse a template that cannot work (400)."""
    if t["kind"] == "percentage" and not 0 < t["value"] <= 10_000:
        raise InvalidRequest("a percentage coupon's value is basis points, 1..10000")
    if t["kind"] == "fixed" and t.get("cap") is not None:
        raise InvalidRequest("cap applies to percentage coupons only")
    if t["kind"] == "fixed" and t.get("threshold") and t["value"] >= t["threshold"]:
        raise InvalidRequest("a fixed coupon must be worth less than its threshold")
    if t.get("valid_days") is not None and t.get("valid_until") is not None:
        raise InvalidRequest("validity is either absolute (valid_until) or relative "
                             "(valid_days), not both")
    vf, vu = t.get("valid_from"), t.get("valid_until")
    if vf is not None and vu is not None and vu <= vf:
        raise InvalidRequest("valid_until must be after valid_from")
    if t["per_user_limit"] > t["total_limit"]:
        raise InvalidRequest("per_user_limit above total_limit")


async def create_template(s: AsyncSession, *, created_by: str,
                          **fields: Unpack[TemplateFields]) -> CouponTemplate:
    """A new active template."""
    check_template(fields)
    t = CouponTemplate(created_by=created_by, issued=0, status="active", **fields)
    s.add(t)
    await s.flush()
    return t


async def used_count(s: AsyncSession, template_id: int) -> int:
    """How many coupons of the template are used (counted, see models)."""
    return await s.scalar(select(func.count()).select_from(Coupon).where(
        Coupon.template_id == template_id, Coupon.status == USED)) or 0


async def get_template(s: AsyncSession, template_id: int) -> CouponTemplate:
    """The template; 404 when there is none."""
    t = await s.get(CouponTemplate, template_id)
    if t is None:
        raise NotFound(f"coupon template {template_id} not found")
    return t


def _validity(t: CouponTemplate, at: datetime) -> tuple[datetime, datetime]:
    start = max(t.valid_from, at) if t.valid_from else at
    if t.valid_until is not None:
        return start, t.valid_until
    return start, start + timedelta(days=t.valid_days or DEFAULT_VALID_DAYS)


async def claim(s: AsyncSession, template_id: int, owner: str, *, level_rank: int = 0,
                min_level_rank: int | None = None, channel: str = "claim",
                at: datetime | None = None) -> Coupon:
    """Give ``owner`` one coupon of the template, exactly once per free slot.

    Args:
        level_rank / min_level_rank: the owner's rung on the ladder and the rung the
            template asks for (the caller maps level codes to ranks: members' service).

    Raises:
        NotFound: no such template. Forbidden: level too low. Conflict: paused, over,
        all claimed, or the owner has as many as allowed.
    """
    at = at or utcnow()
    t = await get_template(s, template_id)
    if t.status != "active":
        raise Conflict("this coupon is not being given out")
    if t.valid_until is not None and t.valid_until <= at:
        raise Conflict("this coupon has ended")
    if min_level_rank is not None and level_rank < min_level_rank:
        raise Forbidden(f"this coupon is for {t.min_level} members and above")
    held = await s.scalar(select(func.count()).select_from(Coupon).where(
        Coupon.template_id == template_id, Coupon.owner == owner)) or 0
    if held >= t.per_user_limit:
        raise Conflict("you already have as many of this coupon as allowed")
    changed = await rows_changed(s, update(CouponTemplate)
                                 .where(CouponTemplate.id == template_id,
                                        CouponTemplate.issued < CouponTemplate.total_limit)
                                 .values(issued=CouponTemplate.issued + 1))
    if changed != 1:
        raise Conflict("all coupons of this kind have been claimed")
    start, end = _validity(t, at)
    c = Coupon(id="c" + secrets.token_hex(10), template_id=template_id, owner=owner,
               claim_seq=held + 1, channel=channel, status=UNUSED, valid_from=start,
               valid_until=end, claimed_at=at)
    try:
        async with s.begin_nested():
            s.add(c)
    except IntegrityError:
        # The same shopper claimed in parallel and took this sequence number first.
        raise Conflict("you already have as many of this coupon as allowed") from None
    return c


async def lock(s: AsyncSession, coupon_id: str, owner: str, order_no: str,
               at: datetime | None = None) -> Coupon:
    """Lock the owner's coupon to ``order_no`` (idempotent for the same order).

    Raises:
        NotFound: not the owner's coupon. Conflict: used, expired or locked to another order.
    """
    at = at or utcnow()
    changed = await rows_changed(s, update(Coupon).where(
        Coupon.id == coupon_id, Coupon.owner == owner, Coupon.status == UNUSED,
        Coupon.valid_from <= at, Coupon.valid_until > at,
    ).values(status=LOCKED, order_no=order_no, locked_at=at))
    c = await s.get(Coupon, coupon_id)
    if c is None or c.owner != owner:
        raise NotFound(f"coupon {coupon_id} not found")
    await s.refresh(c)
    if changed == 1 or (c.status == LOCKED and c.order_no == order_no):
        return c
    raise Conflict(f"coupon {coupon_id} is {c.status}"
                   + (" for another order" if c.status == LOCKED else ""))


async def use(s: AsyncSession, coupon_id: str, order_no: str, at: datetime | None = None
              ) -> Coupon:
    """The order locked with the coupon was paid: the coupon is used (once)."""
    at = at or utcnow()
    changed = await rows_changed(s, update(Coupon).where(
        Coupon.id == coupon_id, Coupon.status == LOCKED, Coupon.order_no == order_no,
    ).values(status=USED, used_at=at))
    c = await s.get(Coupon, coupon_id)
    if c is None:
        raise NotFound(f"coupon {coupon_id} not found")
    await s.refresh(c)
    if changed == 1:
        return c
    if c.status == USED and c.order_no == order_no:
        return c  # the same payment confirmed twice
    raise Conflict(f"coupon {coupon_id} is not locked to order {order_no}")


async def release(s: AsyncSession, order_no: str, at: datetime | None = None) -> int:
    """The order was cancelled or refunded: its coupons go back to the wallet (or expire).

    Conditional updates, like :func:`lock`: a coupon is released only while it is still
    the order's, so a late or repeated release never takes it from the next order."""
    at = at or utcnow()
    mine = update(Coupon).where(Coupon.order_no == order_no,
                                Coupon.status.in_((LOCKED, USED)))
    cleared = {"order_no": None, "locked_at": None, "used_at": None}
    back = await rows_changed(s, mine.where(Coupon.valid_until > at)
                              .values(status=UNUSED, **cleared))
    gone = await rows_changed(s, mine.where(Coupon.valid_until <= at)
                              .values(status=EXPIRED, **cleared))
    return back + gone


async def expire(s: AsyncSession, at: datetime | None = None) -> int:
    """Mark unused coupons past their validity expired; how many."""
    return await rows_changed(s, update(Coupon).where(Coupon.status == UNUSED,
                                                      Coupon.valid_until <= (at or utcnow()))
                              .values(status=EXPIRED))


def pricing_coupon(t: CouponTemplate, c: Coupon) -> PricedCoupon:
    """The :class:`contract.pricebook.Coupon` the pricing engine applies for this coupon."""
    from contract.pricebook import Coupon as PricedCoupon

    # Validated: the stored kind is a string column the engine knows as a Literal.
    return PricedCoupon.model_validate({
        "coupon_id": f"tpl{t.id}", "code": c.id, "kind": t.kind, "value": t.value,
        "cap": t.cap, "threshold": t.threshold, "categories": tuple(t.categories),
        "exclude_categories": tuple(t.exclude_categories), "stackable": t.stackable,
        "member_only": True, "start": c.valid_from, "end": c.valid_until,
        "label_zh": t.name_zh, "label_en": t.name_en})
