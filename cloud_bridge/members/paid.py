"""Paid membership (付费会员, MEM-2/MEM-7): plans, a purchase paid as a mini-program order,
the plan's rung while it lasts, expiry and renewal reminders.

A purchase is an ordinary mini-program order (fulfilment ``virtual``), so it is paid the
way every order is: WeChat JSAPI (``POST /api/v1/mp/orders/{order_no}/pay``) or stored
value (``.../pay/stored-value``); the payments side marks the order paid and nothing
else. :func:`settle_purchases` then activates each paid purchase exactly once (a
conditional ``pending -> active`` update), extending the membership from its current
end when the member renews early; a refunded purchase takes its period back. The rung
the plan gives is held on ``mem_members.level`` (the higher of it and the earned rung,
:func:`cloud_bridge.members.levels.level_code`), so every reader of the level (points
multiplier, member price, coupons' level limits, the member code) applies it as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict, Unpack
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import orders
from ..db import get_row, rows_changed
from ..errors import Conflict, InvalidRequest, NotFound
from ..models import Order
from ..models import now as utcnow
from ..notify import service as notify
from .levels import level_code, program
from .models import MemberRecord
from .models_programs import PaidMembership, PaidPlan, PaidPurchase

if TYPE_CHECKING:
    from .programs_schemas import PlanPatch

# A member whose paid membership ended less than this long ago still renews at the
# renewal price: a lapse over a holiday should not cost the full price again.
RENEWAL_GRACE_DAYS = 30
# Renewal reminders go out this long before the end: time to renew, not so early that
# the message is forgotten.
RENEWAL_LEAD_DAYS = 7
REMINDER_KEY = "member_renewal"
ACTOR = "system:paid-membership"
PENDING, ACTIVE, CANCELLED, REFUNDED, ENDED = "pending", "active", "cancelled", "refunded", "ended"
PLAN_FIELDS = ("name_zh", "name_en", "level", "price", "renewal_price", "duration_days",
               "status")


async def _check_level(s: AsyncSession, level: str) -> None:
    prog = await program(s)
    if level not in {lv.code for lv in prog.levels}:
        raise InvalidRequest(f"level {level!r} is not on the member ladder")


class PlanFields(TypedDict):
    """What a new plan is made of (the fields of ``PlanBody``)."""

    code: str
    name_zh: str
    name_en: str
    level: str
    price: int
    renewal_price: int
    duration_days: int


async def create_plan(s: AsyncSession, **fields: Unpack[PlanFields]) -> PaidPlan:
    """A new plan (head office); its level must be a rung of the ladder."""
    await _check_level(s, fields["level"])
    if await s.scalar(select(PaidPlan.id).where(PaidPlan.code == fields["code"])) is not None:
        raise Conflict(f"a plan with code {fields['code']!r} exists")
    plan = PaidPlan(status="active", **fields)
    s.add(plan)
    await s.flush()
    return plan


async def get_plan(s: AsyncSession, plan_id: int) -> PaidPlan:
    plan = await s.get(PaidPlan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    return plan


async def update_plan(s: AsyncSession, plan_id: int, patch: PlanPatch) -> PaidPlan:
    """Change a plan; purchases already made keep the price and period they had."""
    plan = await get_plan(s, plan_id)
    fields = patch.model_dump(exclude_none=True)
    if patch.level is not None:
        await _check_level(s, patch.level)
    for key in PLAN_FIELDS:
        if key in fields:
            setattr(plan, key, fields[key])
    return plan


async def list_plans(s: AsyncSession, active_only: bool) -> list[PaidPlan]:
    cond = [PaidPlan.status == "active"] if active_only else []
    return list((await s.scalars(select(PaidPlan).where(*cond).order_by(PaidPlan.id))).all())


async def membership(s: AsyncSession, member_id: str) -> PaidMembership | None:
    return await s.get(PaidMembership, member_id)


async def price_for(s: AsyncSession, member_id: str, plan: PaidPlan,
                    at: datetime | None = None) -> tuple[int, bool]:
    """(price, renewal): the renewal price while the member holds the plan, or lately did."""
    at = at or utcnow()
    held = await membership(s, member_id)
    if held is not None and held.plan_id == plan.id \
            and held.ends_at > at - timedelta(days=RENEWAL_GRACE_DAYS):
        return plan.renewal_price, True
    return plan.price, False


async def purchase(s: AsyncSession, member: MemberRecord, openid: str, plan_id: int, store: str,
                   tz: str) -> tuple[PaidPurchase, Order]:
    """Start buying a plan: an unpaid mini-program order and a pending purchase.

    An unpaid purchase of the same plan is returned again rather than doubled, so a
    shopper tapping "buy" twice pays one order.
    """
    plan = await get_plan(s, plan_id)
    if plan.status != "active":
        raise Conflict(f"plan {plan.code} is no longer sold")
    open_one = (await s.execute(
        select(PaidPurchase, Order).join(Order, Order.order_no == PaidPurchase.order_no)
        .where(PaidPurchase.member_id == member.id, PaidPurchase.plan_id == plan.id,
               PaidPurchase.status == PENDING, Order.status == orders.CREATED))).first()
    if open_one is not None:
        return open_one[0], open_one[1]
    price, renewal = await price_for(s, member.id, plan)
    order = await orders.create_mp_order(
        s, openid=openid, store=store, fulfillment=orders.VIRTUAL, shipping_address=None,
        note=None, tz=tz, lines=[{"product_id": f"paid-plan:{plan.code}",
                                  "name_zh": plan.name_zh, "name_en": plan.name_en,
                                  "qty": 1, "unit_price": price, "amount": price}])
    p = PaidPurchase(member_id=member.id, plan_id=plan.id, order_no=order.order_no, store=store,
                     price=price, renewal=renewal, status=PENDING, created_at=utcnow())
    s.add(p)
    await s.flush()
    return p, order


async def paid_levels(s: AsyncSession, member_ids: list[str] | None = None,
                      at: datetime | None = None) -> dict[str, str]:
    """member id -> the rung its paid membership gives now (active and not past its end)."""
    at = at or utcnow()
    q = select(PaidMembership.member_id, PaidMembership.level).where(
        PaidMembership.status == ACTIVE, PaidMembership.ends_at > at)
    if member_ids is not None:
        q = q.where(PaidMembership.member_id.in_(member_ids))
    return {m: lv for m, lv in (await s.execute(q)).tuples().all()}


async def relevel(s: AsyncSession, member_id: str) -> str:
    """Set the member's rung from growth and the paid membership in force."""
    m = await get_row(s, MemberRecord, member_id)
    await s.refresh(m)
    paid = (await paid_levels(s, [member_id])).get(member_id)
    m.level = level_code(await program(s), m.growth, paid)
    return m.level


async def _activate(s: AsyncSession, p: PaidPurchase, order: Order, at: datetime) -> bool:
    if await rows_changed(s, update(PaidPurchase).where(
            PaidPurchase.id == p.id, PaidPurchase.status == PENDING).values(status=ACTIVE)) != 1:
        return False  # another worker activated it
    plan = await get_plan(s, p.plan_id)
    paid_at = order.paid_at or at
    held = await s.get(PaidMembership, p.member_id, with_for_update=True)
    start = paid_at
    if held is not None and held.status == ACTIVE and held.ends_at > paid_at:
        start = held.ends_at  # renewed early: the new period follows the current one
    end = start + timedelta(days=plan.duration_days)
    await s.execute(update(PaidPurchase).where(PaidPurchase.id == p.id)
                    .values(starts_at=start, ends_at=end))
    if held is None:
        s.add(PaidMembership(member_id=p.member_id, plan_id=plan.id, level=plan.level,
                             ends_at=end, status=ACTIVE, updated_at=at))
    else:
        held.plan_id, held.level, held.ends_at, held.status = plan.id, plan.level, end, ACTIVE
        held.updated_at = at
    await s.flush()
    if order.status == orders.PAID:
        await orders.change_status(s, order, orders.COMPLETED, ACTOR)
    await relevel(s, p.member_id)
    return True


async def _take_back(s: AsyncSession, p: PaidPurchase, at: datetime) -> bool:
    """A refunded purchase: its period comes off the membership (and later periods move up)."""
    if await rows_changed(s, update(PaidPurchase).where(
            PaidPurchase.id == p.id, PaidPurchase.status == ACTIVE).values(status=REFUNDED)) != 1:
        return False
    assert p.starts_at is not None and p.ends_at is not None
    length = p.ends_at - p.starts_at
    later = (await s.scalars(select(PaidPurchase).where(
        PaidPurchase.member_id == p.member_id, PaidPurchase.status == ACTIVE,
        PaidPurchase.starts_at >= p.ends_at))).all()
    for q in later:
        assert q.starts_at is not None and q.ends_at is not None
        q.starts_at, q.ends_at = q.starts_at - length, q.ends_at - length
    held = await s.get(PaidMembership, p.member_id, with_for_update=True)
    if held is not None:
        held.ends_at, held.updated_at = held.ends_at - length, at
        if held.ends_at <= at:
            held.status = ENDED
    await s.flush()
    await relevel(s, p.member_id)
    return True


async def settle_purchases(s: AsyncSession, at: datetime | None = None,
                           member_id: str | None = None) -> dict[str, int]:
    """Activate paid purchases, cancel those whose order was cancelled, take back refunded
    ones, end memberships past their end. Safe to run in any number of workers."""
    at = at or utcnow()
    counts = {"activated": 0, "cancelled": 0, "refunded": 0, "ended": 0}
    mine = [PaidPurchase.member_id == member_id] if member_id else []
    rows = (await s.execute(
        select(PaidPurchase, Order).join(Order, Order.order_no == PaidPurchase.order_no)
        .where(*mine, PaidPurchase.status.in_((PENDING, ACTIVE)))
        .order_by(PaidPurchase.id))).all()
    for p, order in rows:
        if p.status == PENDING and order.status in orders.SOLD:
            counts["activated"] += await _activate(s, p, order, at)
        elif p.status == PENDING and order.status == orders.CANCELLED:
            counts["cancelled"] += await rows_changed(s, update(PaidPurchase).where(
                PaidPurchase.id == p.id, PaidPurchase.status == PENDING)
                .values(status=CANCELLED))
    for p, order in rows:
        if order.status == orders.REFUNDED:
            await s.refresh(p)
            if p.status == ACTIVE:
                counts["refunded"] += await _take_back(s, p, at)
    counts["ended"] = await expire_memberships(s, at, member_id)
    return counts


async def expire_memberships(s: AsyncSession, at: datetime | None = None,
                             member_id: str | None = None) -> int:
    """End the memberships past their end; their members fall back to the earned rung."""
    at = at or utcnow()
    mine = [PaidMembership.member_id == member_id] if member_id else []
    due = (await s.scalars(select(PaidMembership.member_id).where(
        *mine, PaidMembership.status == ACTIVE, PaidMembership.ends_at <= at))).all()
    ended = 0
    for mid in due:
        if await rows_changed(s, update(PaidMembership).where(
                PaidMembership.member_id == mid, PaidMembership.status == ACTIVE,
                PaidMembership.ends_at <= at).values(status=ENDED, updated_at=at)) == 1:
            await relevel(s, mid)
            ended += 1
    return ended


def _thing(text: str) -> str:
    """WeChat's ``thing`` fields take at most 20 characters."""
    return text if len(text) <= 20 else text[:19] + "…"


async def renewal_reminders(s: AsyncSession, tz: str, at: datetime | None = None) -> int:
    """One subscribe message per membership period ending within the lead time.

    Keyed by the member and the end date: a second sweep (or worker) adds nothing, and a
    renewal, which moves the end, earns the next period its own reminder.
    """
    at = at or utcnow()
    rows = (await s.execute(
        select(PaidMembership, MemberRecord, PaidPlan)
        .join(MemberRecord, MemberRecord.id == PaidMembership.member_id)
        .join(PaidPlan, PaidPlan.id == PaidMembership.plan_id)
        .where(PaidMembership.status == ACTIVE, PaidMembership.ends_at > at,
               PaidMembership.ends_at <= at + timedelta(days=RENEWAL_LEAD_DAYS)))).all()
    made = 0
    for held, member, plan in rows:
        local = held.ends_at.astimezone(ZoneInfo(tz))
        made += await notify.enqueue(
            s, dedupe_key=f"paid-renew:{member.id}:{local.date().isoformat()}",
            openid=member.openid, template_key=REMINDER_KEY,
            data={"thing1": _thing(plan.name_zh), "time2": local.strftime("%Y-%m-%d %H:%M"),
                  "amount3": f"{plan.renewal_price / 100:.2f}元"},
            page="pages/member/paid")
    return made


def plan_json(plan: PaidPlan) -> JsonObject:
    return {"id": plan.id, "code": plan.code, "name_zh": plan.name_zh, "name_en": plan.name_en,
            "level": plan.level, "price": plan.price, "renewal_price": plan.renewal_price,
            "duration_days": plan.duration_days, "status": plan.status,
            "created_at": plan.created_at.isoformat()}


def membership_json(held: PaidMembership | None, at: datetime | None = None) -> JsonObject:
    at = at or utcnow()
    if held is None:
        return {"active": False, "plan_id": None, "level": None, "ends_at": None}
    return {"active": held.status == ACTIVE and held.ends_at > at, "plan_id": held.plan_id,
            "level": held.level, "ends_at": held.ends_at.isoformat()}


def purchase_json(p: PaidPurchase, order: Order | None = None) -> JsonObject:
    return {"id": p.id, "plan_id": p.plan_id, "order_no": p.order_no, "store": p.store,
            "price": p.price, "renewal": p.renewal, "status": p.status,
            "order_status": order.status if order is not None else None,
            "starts_at": p.starts_at.isoformat() if p.starts_at else None,
            "ends_at": p.ends_at.isoformat() if p.ends_at else None,
            "created_at": p.created_at.isoformat()}
