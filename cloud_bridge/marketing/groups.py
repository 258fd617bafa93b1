"""Group buying (拼团, MKT-3): shoppers form groups of ``group_size`` at the deal price.

* A shopper opens a group (taking its first seat) or joins an open one; each member gets
  a mini-program order at the group price, paid like any other. A seat is taken with
  ``UPDATE groups SET seats = seats + 1 WHERE id = :id AND status = 'forming' AND seats <
  size AND expires_at > now`` (one row changed or none: a group never has more members
  than its size), and ``UNIQUE(group_id, openid)`` keeps a shopper to one seat.
* :func:`sweep` (run by the mini-program close job, every step conditional, so any
  number of workers may run it) moves groups along:
  a member whose order was cancelled unpaid gives the seat back; a group whose every
  seat is taken by a paid order is ``complete``; a group still forming at its expiry
  ``failed``, and every paid member of a failed group is refunded in full through the
  payments refund executor: the member row goes ``joined`` -> ``refunding`` in the same
  transaction that stores the order's refund request, so a member is refunded once
  however often the sweep runs (the request's out_refund_no is the provider's, so
  executing it twice refunds once too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Unpack

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import orders
from ..db import Database, rows_changed
from ..errors import Conflict, NotFound
from ..models import Order
from ..models import now as utcnow
from .deal_models import BuyingGroup, GroupDeal, GroupMember
from .flash import DealFields, check_deal, deal_order, deal_state, deal_store

if TYPE_CHECKING:
    from ..payments.runtime import RefundExecutor

log = logging.getLogger(__name__)

FORMING, COMPLETE, FAILED = "forming", "complete", "failed"
JOINED, RELEASED, REFUNDING = "joined", "released", "refunding"
ACTOR = "system:group-buying"
REFUND_REASON = "拼团未成团，自动退款 (group buying: the group did not fill in time)"


class GroupDealFields(DealFields):
    """What a new group deal is made of (``GroupDealBody``)."""

    group_size: int
    group_ttl_s: int


async def create_deal(s: AsyncSession, *, created_by: str,
                      **fields: Unpack[GroupDealFields]) -> GroupDeal:
    """A new group deal."""
    check_deal(fields)
    deal = GroupDeal(created_by=created_by[:128], created_at=utcnow(), **fields)
    s.add(deal)
    await s.flush()
    return deal


async def get_deal(s: AsyncSession, deal_id: int) -> GroupDeal:
    """The group deal; 404 when there is none."""
    deal = await s.get(GroupDeal, deal_id)
    if deal is None:
        raise NotFound(f"group deal {deal_id} not found")
    return deal


async def get_group(s: AsyncSession, group_id: int) -> BuyingGroup:
    """The group; 404 when there is none."""
    g = await s.get(BuyingGroup, group_id)
    if g is None:
        raise NotFound(f"group {group_id} not found")
    return g


@dataclass(frozen=True, slots=True)
class Seat:
    """A shopper's seat in a group, with their order."""

    group_id: int
    order_no: str


async def _seat(s: AsyncSession, deal: GroupDeal, g: BuyingGroup, openid: str,
                tz: str) -> Seat:
    order = await deal_order(s, deal, openid=openid, store=g.store, qty=1, tz=tz)
    try:
        async with s.begin_nested():
            s.add(GroupMember(group_id=g.id, openid=openid, order_no=order.order_no,
                              status=JOINED, joined_at=utcnow()))
    except IntegrityError:
        raise Conflict("you are in this group already") from None
    return Seat(g.id, order.order_no)


async def open_group(db: Database, deal_id: int, *, openid: str, store: str | None,
                     tz: str) -> Seat:
    """Open a new group of a live deal with the caller in its first seat."""
    async def work(s: AsyncSession) -> Seat:
        deal = await get_deal(s, deal_id)
        at = utcnow()
        state = deal_state(deal, at)
        if state != "live":
            raise Conflict(f"this group deal is {state}")
        g = BuyingGroup(deal_id=deal.id, store=deal_store(deal, store), leader=openid,
                        size=deal.group_size, seats=1, status=FORMING,
                        expires_at=at + timedelta(seconds=deal.group_ttl_s), created_at=at)
        s.add(g)
        await s.flush()
        return await _seat(s, deal, g, openid, tz)

    return await db.transact(work)


async def join_group(db: Database, group_id: int, *, openid: str, tz: str) -> Seat:
    """Take a seat in a forming group (Conflict when it is full, closed or expired)."""
    async def work(s: AsyncSession) -> Seat:
        g = await get_group(s, group_id)
        deal = await get_deal(s, g.deal_id)
        taken = await rows_changed(s, update(BuyingGroup).where(
            BuyingGroup.id == g.id, BuyingGroup.status == FORMING,
            BuyingGroup.seats < BuyingGroup.size, BuyingGroup.expires_at > utcnow())
            .values(seats=BuyingGroup.seats + 1))
        if taken != 1:
            await s.refresh(g)
            raise Conflict("this group is full" if g.status == FORMING and g.seats >= g.size
                           else f"this group is {g.status if g.status != FORMING else 'over'}")
        return await _seat(s, deal, g, openid, tz)

    return await db.transact(work)


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepResult:
    """What one sweep did."""

    released: int = 0
    completed: int = 0
    failed: int = 0
    refunds: int = 0


async def _release_cancelled(db: Database, out: SweepResult) -> None:
    async with db.read() as s:
        rows = (await s.execute(
            select(GroupMember.id, GroupMember.group_id)
            .join(Order, Order.order_no == GroupMember.order_no)
            .where(GroupMember.status == JOINED, Order.status == orders.CANCELLED))).all()
    for member_id, group_id in rows:
        async def work(s: AsyncSession, member_id: int = member_id,
                       group_id: int = group_id) -> int:
            if await rows_changed(s, update(GroupMember).where(
                    GroupMember.id == member_id, GroupMember.status == JOINED)
                    .values(status=RELEASED)) != 1:
                return 0
            await s.execute(update(BuyingGroup).where(
                BuyingGroup.id == group_id, BuyingGroup.status == FORMING)
                .values(seats=BuyingGroup.seats - 1))
            return 1

        out.released += await db.transact(work)


async def _complete_full(db: Database, out: SweepResult) -> None:
    async with db.read() as s:
        paid = (select(GroupMember.group_id, func.count().label("n"))
                .join(Order, Order.order_no == GroupMember.order_no)
                .where(GroupMember.status == JOINED, Order.status.in_(orders.SOLD))
                .group_by(GroupMember.group_id).subquery())
        full = (await s.scalars(select(BuyingGroup.id).join(paid, paid.c.group_id ==
                                                             BuyingGroup.id)
                                .where(BuyingGroup.status == FORMING,
                                       paid.c.n >= BuyingGroup.size))).all()
    for group_id in full:
        async def work(s: AsyncSession, group_id: int = group_id) -> int:
            return await rows_changed(s, update(BuyingGroup).where(
                BuyingGroup.id == group_id, BuyingGroup.status == FORMING)
                .values(status=COMPLETE, closed_at=utcnow()))

        out.completed += await db.transact(work)


async def _fail_expired(db: Database, out: SweepResult) -> None:
    async def work(s: AsyncSession) -> int:
        return await rows_changed(s, update(BuyingGroup).where(
            BuyingGroup.status == FORMING, BuyingGroup.expires_at <= utcnow())
            .values(status=FAILED, closed_at=utcnow()))

    out.failed += await db.transact(work)


async def _refund_failed(db: Database, executor: RefundExecutor | None,
                         out: SweepResult) -> None:
    """Paid members of failed groups: one refund request each, executed at once."""
    async with db.read() as s:
        rows = (await s.execute(
            select(GroupMember.id, GroupMember.order_no)
            .join(BuyingGroup, BuyingGroup.id == GroupMember.group_id)
            .join(Order, Order.order_no == GroupMember.order_no)
            .where(BuyingGroup.status == FAILED, GroupMember.status == JOINED,
                   Order.status.in_(orders.REFUNDABLE)))).all()
    requests: list[int] = []
    for member_id, order_no in rows:
        async def work(s: AsyncSession, member_id: int = member_id,
                       order_no: str = order_no) -> int | None:
            if await rows_changed(s, update(GroupMember).where(
                    GroupMember.id == member_id, GroupMember.status == JOINED)
                    .values(status=REFUNDING)) != 1:
                return None  # another worker took it
            order = await orders.get_order(s, order_no, lock=True)
            try:
                req = await orders.request_refund(s, order,
                                                  order.total - order.refunded_total,
                                                  REFUND_REASON, ACTOR)
            except Conflict as err:  # staff refunded it already: nothing left to give
                log.info("group order %s: no automatic refund (%s)", order_no, err)
                return None
            await s.execute(update(GroupMember).where(GroupMember.id == member_id)
                            .values(refund_request_id=req.id))
            return req.id

        rid = await db.transact(work)
        if rid is not None:
            requests.append(rid)
            out.refunds += 1
    if executor is None:
        return
    # A request left open (this worker stopped, the provider did not answer) is re-driven
    # by the payments refund loop (cloud_bridge.payments.runtime).
    for rid in requests:
        try:
            await executor.execute(rid)
        except Exception:  # one refund must not stop the others; the loop re-drives it
            log.exception("group buying refund request %s failed; retried later", rid)


async def sweep(db: Database, executor: RefundExecutor | None) -> SweepResult:
    """One pass over the groups (see the module docstring)."""
    out = SweepResult()
    await _release_cancelled(db, out)
    await _complete_full(db, out)
    await _fail_expired(db, out)
    await _refund_failed(db, executor, out)
    if out.failed or out.refunds or out.completed:
        log.info("group buying: %d complete, %d failed, %d refund(s) asked",
                 out.completed, out.failed, out.refunds)
    return out


