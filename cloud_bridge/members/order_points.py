"""Points a shopper redeemed on a kiosk sale: taken from the balance once, given back on
refund.

The kiosk prices a redemption within the member's signed snapshot (the cloud re-checks
it: ``security.member_sales``); the balance moves only here, when the sale is ingested,
as one ledger row sourced by the order (``order_redeem``, the order number), so a resent
sale never takes twice. The balance is never negative: the take is the conditional
update of :mod:`.points`, and when the member spent the same points elsewhere meanwhile
(two offline kiosks at once) only what is left is taken and the shortfall is reported.
A refund gives back the redeemed points in proportion to the money refunded, once per
refunded total (``redeem_back``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import Conflict
from .models import MemberRecord, PointsEntry
from .points import _take, grant

log = logging.getLogger(__name__)

REDEEM_SOURCE = "order_redeem"
RETURN_SOURCE = "redeem_back"


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What an order's redemption took: points taken and the shortfall (0 when whole)."""

    taken: int
    short: int


async def redeem_for_order(s: AsyncSession, member_id: str, order_no: str, pts: int
                           ) -> Redeemed:
    """Take ``pts`` redeemed on ``order_no`` from the member's points, once per order."""
    if pts <= 0 or await s.get(MemberRecord, member_id) is None:
        return Redeemed(0, 0)
    try:
        async with s.begin_nested():
            done = await _take(s, member_id, pts, "redeem", REDEEM_SOURCE, order_no)
        return Redeemed(pts if done else 0, 0)
    except Conflict:
        pass  # the balance is smaller now: take what is there
    m = await s.get(MemberRecord, member_id)
    assert m is not None
    await s.refresh(m)
    have = max(0, min(m.points, pts))
    if have > 0:
        async with s.begin_nested():
            await _take(s, member_id, have, "redeem", REDEEM_SOURCE, order_no)
    log.error("order %s: member %s redeemed %d points but had %d left; %d not covered",
              order_no, member_id, pts, have, pts - have)
    return Redeemed(have, pts - have)


async def return_for_refund(s: AsyncSession, order_no: str, total: int, refunded_total: int
                            ) -> int:
    """Give back the points redeemed on ``order_no`` for the share refunded; how many now."""
    taken = await s.scalar(select(PointsEntry).where(PointsEntry.source_type == REDEEM_SOURCE,
                                                     PointsEntry.source_id == order_no))
    if taken is None or total <= 0:
        return 0
    share = min(refunded_total, total)
    target = -taken.points * share // total
    done = await s.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
        PointsEntry.source_type == RETURN_SOURCE,
        PointsEntry.source_id.like(f"{order_no}:%"))) or 0
    return await grant(s, taken.member_id, RETURN_SOURCE, f"{order_no}:{refunded_total}",
                       target - int(done))
