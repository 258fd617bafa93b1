"""Referrals (会员推荐, MEM-6/MKT-9): rewards for the invitee's real actions only.

A member's invitation code goes on the share card; sharing it earns nothing. A new
member accepts one code (within ``BIND_WINDOW_DAYS`` of registering): that registration
is the first rewarded action; the invitee's first paid purchase afterwards is the second
(:func:`first_purchases`, a job). Each reward is one ``mem_referral_rewards`` row unique
per (referral, event, side), and its points one ledger line unique per source, so a
retried request or a second worker gives nothing twice. Refused: one's own code (or a
code of a member with the same phone), a second inviter, and cycles (A invites B, then
B's code for A).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import orders
from ..db import rows_changed
from ..errors import BridgeError, Conflict, InvalidRequest, NotFound
from ..models import Order
from ..models import now as utcnow
from . import points
from .models import MemberRecord
from .models_programs import Referral, ReferralCode, ReferralReward, ReferralRule

if TYPE_CHECKING:
    from .programs_schemas import RuleBody

# Only a member this new may accept an invitation: the registration is what is rewarded,
# and a member of long standing did not register because of it.
BIND_WINDOW_DAYS = 7
# Invitation codes: no 0/O, 1/I/L to misread when typed from a poster.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
EVENTS = ("register", "first_purchase")
SIDES = ("inviter", "invitee")
# Longest chain of inviters walked when looking for a cycle (chains are short in practice).
MAX_CHAIN = 100


async def code_of(s: AsyncSession, member_id: str) -> str:
    """The member's invitation code, made on first use."""
    row = await s.get(ReferralCode, member_id)
    if row is not None:
        return row.code
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            async with s.begin_nested():
                s.add(ReferralCode(member_id=member_id, code=code, created_at=utcnow()))
            return code
        except IntegrityError:
            row = await s.get(ReferralCode, member_id)
            if row is not None:  # made by a parallel request of the same member
                return row.code
    raise Conflict("could not make an invitation code; try again")


async def rules(s: AsyncSession) -> list[ReferralRule]:
    return list((await s.scalars(select(ReferralRule)
                                 .order_by(ReferralRule.event, ReferralRule.beneficiary))).all())


async def set_rules(s: AsyncSession, new: Sequence[RuleBody]) -> list[ReferralRule]:
    """Replace the reward rules; rewards given before stay as they were."""
    seen = {(r.event, r.beneficiary) for r in new}
    if len(seen) != len(new):
        raise InvalidRequest("one rule per (event, beneficiary)")
    for r in new:
        if r.coupon_template_id is not None:
            from ..marketing.service import get_template

            try:
                await get_template(s, r.coupon_template_id)
            except NotFound as err:
                raise InvalidRequest(str(err)) from None
    for old in await rules(s):
        await s.delete(old)
    await s.flush()
    for r in new:
        s.add(ReferralRule(**r.model_dump()))
    await s.flush()
    return await rules(s)


async def _inviter_chain(s: AsyncSession, member_id: str) -> set[str]:
    """Every member up the chain of inviters of ``member_id`` (itself included)."""
    seen = {member_id}
    current = member_id
    for _ in range(MAX_CHAIN):
        up = await s.scalar(select(Referral.inviter_id).where(Referral.invitee_id == current))
        if up is None or up in seen:
            break
        seen.add(up)
        current = up
    return seen


async def accept(s: AsyncSession, invitee: MemberRecord, code: str,
                 at: datetime | None = None) -> Referral:
    """The new member ``invitee`` accepts ``code``; the registration rewards are given.

    Raises:
        NotFound: no such code. Conflict: one's own code, not a new member any more,
        invited by someone else already, or the invitation would close a cycle.
    """
    at = at or utcnow()
    owner = await s.scalar(select(ReferralCode).where(ReferralCode.code == code.upper()))
    if owner is None:
        raise NotFound("no such invitation code")
    inviter = await s.get(MemberRecord, owner.member_id)
    if inviter is None:
        raise NotFound("no such invitation code")
    if inviter.id == invitee.id or (inviter.phone and inviter.phone == invitee.phone):
        raise Conflict("you cannot invite yourself")
    before = await s.scalar(select(Referral).where(Referral.invitee_id == invitee.id))
    if before is not None:
        if before.inviter_id == inviter.id:
            return before  # the same acceptance again
        raise Conflict("you were invited by another member already")
    if invitee.registered_at < at - timedelta(days=BIND_WINDOW_DAYS):
        raise Conflict(f"only members registered in the last {BIND_WINDOW_DAYS} days "
                       "can accept an invitation")
    if invitee.id in await _inviter_chain(s, inviter.id):
        raise Conflict("this invitation would go round in a circle")
    ref = Referral(invitee_id=invitee.id, inviter_id=inviter.id, created_at=at)
    try:
        async with s.begin_nested():
            s.add(ref)
    except IntegrityError:
        raise Conflict("you were invited already") from None
    await reward(s, ref, "register", at)
    return ref


async def reward(s: AsyncSession, ref: Referral, event: str, at: datetime) -> int:
    """Give the rewards of ``event`` to both sides as the rules say, once each."""
    given = 0
    for rule in await rules(s):
        if rule.event != event or (rule.points <= 0 and rule.coupon_template_id is None):
            continue
        member_id = ref.inviter_id if rule.beneficiary == "inviter" else ref.invitee_id
        row = ReferralReward(referral_id=ref.id, event=event, beneficiary=rule.beneficiary,
                             member_id=member_id, points=0, status="granted", created_at=at)
        try:
            async with s.begin_nested():
                s.add(row)
        except IntegrityError:
            continue  # given before (a retried request, another worker)
        source = f"{ref.id}:{event}:{rule.beneficiary}"
        row.points = await points.grant(s, member_id, "referral", source, rule.points, at=at)
        if rule.coupon_template_id is not None:
            row.coupon_id, row.note = await _coupon(s, member_id, rule.coupon_template_id, at)
            if row.coupon_id is None and row.points == 0:
                row.status = "unavailable"
        given += 1
    return given


async def _coupon(s: AsyncSession, member_id: str, template_id: int,
                  at: datetime) -> tuple[str | None, str | None]:
    """A coupon through marketing's claim path; (None, why) when it cannot be given."""
    from ..marketing import service as coupons
    from ..marketing.api import _ranks

    try:
        async with s.begin_nested():
            t = await coupons.get_template(s, template_id)
            rank, need = await _ranks(s, member_id, t.min_level)
            c = await coupons.claim(s, template_id, member_id, level_rank=rank,
                                    min_level_rank=need, channel="referral", at=at)
            return c.id, None
    except BridgeError as err:
        return None, str(err)[:200]


async def first_purchases(s: AsyncSession, at: datetime | None = None) -> int:
    """Reward each invitee's first paid order after accepting (once, by a conditional set)."""
    at = at or utcnow()
    rows = (await s.execute(
        select(Referral, MemberRecord).join(MemberRecord, MemberRecord.id == Referral.invitee_id)
        .where(Referral.first_order_no.is_(None)).order_by(Referral.id).limit(1000))).all()
    done = 0
    for ref, invitee in rows:
        first = await s.scalar(
            select(Order.order_no).where(
                or_(Order.member_id == invitee.id, Order.openid == invitee.openid),
                Order.status.in_(orders.SOLD), Order.total > 0,
                Order.paid_at.is_not(None), Order.paid_at >= ref.created_at)
            .order_by(Order.paid_at, Order.id).limit(1))
        if first is None:
            continue
        if await rows_changed(s, update(Referral).where(
                Referral.id == ref.id, Referral.first_order_no.is_(None))
                .values(first_order_no=first)) != 1:
            continue
        await reward(s, ref, "first_purchase", at)
        done += 1
    return done


def reward_json(r: ReferralReward) -> JsonObject:
    return {"event": r.event, "beneficiary": r.beneficiary, "member_id": r.member_id,
            "points": r.points, "coupon_id": r.coupon_id, "status": r.status, "note": r.note,
            "created_at": r.created_at.isoformat()}


def rule_json(r: ReferralRule) -> JsonObject:
    return {"event": r.event, "beneficiary": r.beneficiary, "points": r.points,
            "coupon_template_id": r.coupon_template_id}
