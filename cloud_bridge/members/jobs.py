"""Growth and points from orders, as a job (like finance's posting job).

The ingest is not touched: this job reads paid orders of members (by ``member_id`` on
the order, else the mini-program openid) and counts each once: growth and points per
order (``UNIQUE(source_type, source_id)`` on both ledgers), minus growth and points
for what was refunded since. It is safe to run any number of times, concurrently too.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Order, OrderLine
from ..orders import SOLD
from . import points
from .models import GrowthEntry, MemberRecord
from .order_points import return_for_refund
from .service import add_growth, program


def eligible_fen(order: Order, lines: list[OrderLine]) -> int:
    """Money that earns points: paid lines, never reward lines (given away in full).

    Capped by the order total, so a part paid with points or coupons earns nothing.
    """
    paid = sum(ln.amount for ln in lines if ln.amount > 0 and ln.discount < ln.unit_price * ln.qty)
    return max(0, min(paid, order.total))


async def sync_orders(s: AsyncSession, limit: int = 1000) -> dict[str, int]:
    """Count growth and points of paid and refunded member orders not counted yet."""
    prog = await program(s)
    counted = select(GrowthEntry.source_id).where(GrowthEntry.source_type == "order")
    rows = (await s.execute(
        select(Order, MemberRecord)
        .join(MemberRecord, or_(Order.member_id == MemberRecord.id,
                                Order.openid == MemberRecord.openid))
        .where(Order.status.in_(SOLD), Order.paid_at.is_not(None),
               or_(Order.order_no.not_in(counted), Order.refunded_total > 0))
        .order_by(Order.id).limit(limit))).all()
    orders_counted = refunds_counted = 0
    for order, member in rows:
        if order.paid_at < member.registered_at:
            continue  # bought before joining: not this member's growth
        lines = list((await s.scalars(select(OrderLine)
                                      .where(OrderLine.order_id == order.id))).all())
        if await add_growth(s, member.id, "order", order.order_no,
                            order.total // 100 * prog.growth_per_yuan):
            orders_counted += 1
        await points.accrue(s, member.id, "order", order.order_no, eligible_fen(order, lines),
                            at=order.paid_at)
        if order.refunded_total > 0:
            refunds_counted += await _refund(s, member, order, prog.growth_per_yuan)
    return {"orders_counted": orders_counted, "refunds_counted": refunds_counted}


async def _refund(s: AsyncSession, member: MemberRecord, order: Order, per_yuan: int) -> int:
    """Take back growth (and points, once) for the refunded part, keyed by refunded total."""
    source = f"{order.order_no}:{order.refunded_total}"
    target = -(order.refunded_total // 100 * per_yuan)
    done = await s.scalar(select(func.coalesce(func.sum(GrowthEntry.delta), 0)).where(
        GrowthEntry.source_type == "refund", GrowthEntry.source_id.like(f"{order.order_no}:%")))
    changed = await add_growth(s, member.id, "refund", source, target - int(done or 0))
    # Points of a refunded order go back in full on the first refund of it.
    await points.reverse(s, "order", order.order_no, f"{order.order_no}:refund")
    # Points redeemed on it come back for the share refunded (members.order_points).
    await return_for_refund(s, order.order_no, order.total, order.refunded_total)
    return 1 if changed else 0
