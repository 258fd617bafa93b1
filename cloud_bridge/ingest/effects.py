"""Ingest effects: what newly stored sales do inside the batch's transaction.

Only events stored for the first time get here (the storage step inserts by event
id first), so a resent sale never books its order, stock moves or stored value twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from .. import orders
from ..inventory import add_alerts
from ..marketing.campaigns import record_kiosk_sales as record_campaign_sales
from ..models import Alert
from ..payments.providers.stored_value import apply_order_tenders

if TYPE_CHECKING:
    from contract.wire.events import Event

    from ..security.member_sales import MemberSaleCheck

log = logging.getLogger(__name__)


async def apply_sales(
    session: AsyncSession, sales: list[orders.CompletedSale], *, tz: str, actor: str,
    member_check: MemberSaleCheck | None = None,
) -> int:
    """Book new sales: order rows and stock moves, then offline stored-value tenders.

    With ``member_check`` the member part of each sale is checked first; a sale whose
    member code or snapshot does not hold is booked without its member (no points, no
    stored-value debit of that member) and raises an alert.

    Returns:
        The number of alerts raised while recording the orders.
    """
    refused: list[Alert] = []
    if member_check is not None:
        sales, refused = await _screen_members(session, sales, member_check)
    alerts = await orders.record_kiosk_sales(session, sales, tz=tz, actor=actor)
    await apply_order_tenders(session, sales)  # offline stored value, same transaction
    await record_campaign_sales(session, sales)  # campaign results (marketing.campaigns)
    refused += await _coupons_and_points(session, sales, member_check)
    if refused:
        await add_alerts(session, refused)
    return len(alerts) + len(refused)


async def apply_voids(session: AsyncSession, voids: list[Event]) -> None:
    """Newly stored ``order.voided`` events: coupons locked to the cart go back."""
    from ..marketing.kiosk import release_voided

    await release_voided(session, voids)


async def _coupons_and_points(session: AsyncSession, sales: list[orders.CompletedSale],
                              check: MemberSaleCheck | None) -> list[Alert]:
    """Coupons used once (``marketing.kiosk``) and redeemed points taken once
    (``members.order_points``) for the sales as screened."""
    from contract.numbers import cloud_order_no

    from ..marketing.kiosk import CouponCodes, reconcile_sales
    from ..members.order_points import redeem_for_order

    codes = CouponCodes(list(check.verifier.keys.values())) if check is not None else None
    alerts = await reconcile_sales(session, sales, codes)
    for sale in sales:
        d, ev = sale.data, sale.event
        if d.member_id is None or d.points_redeemed <= 0:
            continue
        order_no = cloud_order_no(ev.store, ev.kiosk, d.order_no)
        done = await redeem_for_order(session, d.member_id, order_no, d.points_redeemed)
        if done.short:
            alerts.append(Alert(kind="points_short", store=ev.store, kiosk=ev.kiosk,
                                order_no=order_no,
                                detail={"member_id": d.member_id, "redeemed": d.points_redeemed,
                                        "taken": done.taken, "short": done.short}))
    return alerts


async def _screen_members(session: AsyncSession, sales: list[orders.CompletedSale],
                          check: MemberSaleCheck
                          ) -> tuple[list[orders.CompletedSale], list[Alert]]:
    from ..security.member_sales import ALERT_KIND, CodeUse, alert_detail, replays, token_id

    problems = [check.problem(sale.data) for sale in sales]
    uses = []
    for sale, problem in zip(sales, problems, strict=True):
        d = sale.data
        tid = token_id(d.member.code) if (problem is None and d.member is not None
                                          and d.member_id) else None
        if tid is not None and d.member_id is not None:
            uses.append(CodeUse(tid, d.member_id, sale.event.store, sale.event.kiosk,
                                d.order_no))
    replayed = await replays(session, uses)
    kept: list[orders.CompletedSale] = []
    alerts: list[Alert] = []
    for sale, found in zip(sales, problems, strict=True):
        d, ev = sale.data, sale.event
        problem = found or replayed.get(d.order_no)
        if problem is None:
            kept.append(sale)
            continue
        log.error("order %s from %s/%s: member %s refused (%s): %s; booked without the "
                  "member", d.order_no, ev.store, ev.kiosk, d.member_id, problem.reason,
                  problem.detail)
        alerts.append(Alert(kind=ALERT_KIND, store=ev.store, kiosk=ev.kiosk,
                            order_no=d.order_no, detail=alert_detail(d, problem)))
        kept.append(orders.CompletedSale(ev, d.model_copy(update={"member_id": None,
                                                                   "member": None})))
    return kept, alerts
