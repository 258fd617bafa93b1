"""Orphan payments: money taken for an order that was completed with another tender.

How one happens: a kiosk's payment stays *unknown* past its patience, the shopper
shows another code, the second one pays and the sale is committed with it; later the
first attempt settles as paid too. Its order exists, but not with this payment: the
shopper paid twice. The kiosk may be gone by then, so the cloud is what puts it right.

:class:`OrphanSweep` (run periodically by :mod:`.runtime`, ``[payments]
orphan_interval_s``) finds every captured payment whose ``order_no`` names a stored
kiosk order whose tenders do NOT list that payment's ``out_trade_no`` and that has been
paid for longer than ``orphan_grace_s``, and refunds what is left of it in full through
:class:`RefundService` with the refund number :func:`orphan_refund_no` (derived from
the out_trade_no, so two workers or two sweeps refund once). Each one is logged at
WARNING once and shown in the admin refunds list (a ``RefundRequest`` on the order with
reason :data:`ORPHAN_REASON`, recorded when its outcome is final). The order's own
totals are untouched: the order was paid by its listed tender, which is not refunded.

Payments without a stored order (the kiosk is offline, the order event is still in its
outbox) are never touched: the order may still come, listing them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TypedDict

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.models import Order, OrderHistory, RefundRequest, now

from .models import PAID, Payment
from .refund_numbers import orphan_refund_no
from .refunds import RefundError, RefundRow, RefundService

log = logging.getLogger(__name__)

#: The reason on the refund record staff see in the admin API.
ORPHAN_REASON = "orphan payment"
#: Who asked for the refund (refund record, order history).
ACTOR = "payments:orphan-sweep"
# Only payments or orders touched within this window are looked at, so the sweep does
# not scan the whole payment history every run; two weeks outlasts any kiosk outage
# that still delivers its orders (reconciliation lists anything older).
LOOKBACK_S = 14 * 24 * 3600.0
FINAL_REFUND = ("success", "failed")


def tendered_trade_nos(order: Order) -> set[str]:
    """The out_trade_nos an order lists as its tenders."""
    tenders: object = (order.details or {}).get("tenders") or []
    if not isinstance(tenders, list):
        return set()
    return {t["out_trade_no"] for t in tenders if isinstance(t, dict) and t.get("out_trade_no")}


class OrphanPayment(TypedDict):
    """A paid payment its stored order does not list."""

    out_trade_no: str
    order_no: str | None
    method: str
    amount: int
    refunded: int
    currency: str


class OrphanOrder(TypedDict):
    """The order an orphan payment was made for, and the tenders it does list."""

    id: int
    order_no: str
    tenders: list[str]


class OrphanSweep:
    """Finds orphan payments and refunds them in full, once.

    Args:
        db: the bridge database.
        refunds: the refund service (its provider clients do the refunds).
        grace_s: a payment must have been paid this long before it counts as orphan.
    """

    def __init__(self, db: Database, refunds: RefundService, grace_s: float = 300.0) -> None:
        self.db = db
        self.refunds = refunds
        self.grace_s = grace_s

    async def candidates(self) -> list[tuple[OrphanPayment, OrphanOrder]]:
        """``(payment, order)`` pairs of paid payments their stored order does not list."""
        at = now()
        cutoff = at - timedelta(seconds=self.grace_s)
        since = at - timedelta(seconds=LOOKBACK_S)
        paid_at = Payment.settled_at
        async with self.db.session() as s:
            rows = (await s.execute(
                select(Payment, Order)
                .join(Order, Order.order_no == Payment.order_no)
                .where(Payment.status == PAID, Order.source == "kiosk",
                       Order.store == Payment.store,
                       or_(paid_at <= cutoff, (paid_at.is_(None)) & (Payment.updated_at <= cutoff)),
                       or_(Payment.updated_at >= since, Order.updated_at >= since))
                .order_by(Payment.id))).all()
            found = [(p, o) for p, o in rows
                     if tendered_trade_nos(o) and p.out_trade_no not in tendered_trade_nos(o)]
            recorded: set[str] = set()
            if found:
                recorded = set(await s.scalars(select(RefundRequest.out_refund_no).where(
                    RefundRequest.out_refund_no.in_(
                        [orphan_refund_no(p.out_trade_no) for p, _ in found]))))
            return [
                ({"out_trade_no": p.out_trade_no, "order_no": p.order_no, "method": p.method,
                  "amount": p.amount, "refunded": p.refunded, "currency": p.currency},
                 {"id": o.id, "order_no": o.order_no, "tenders": sorted(tendered_trade_nos(o))})
                for p, o in found if orphan_refund_no(p.out_trade_no) not in recorded
            ]

    async def run(self) -> int:
        """One sweep; returns how many orphan refunds reached a final outcome."""
        done = 0
        for pay, order in await self.candidates():
            try:
                done += await self._refund(pay, order)
            except RefundError as err:
                log.error("orphan payment %s of order %s not refunded: %s",
                          pay["out_trade_no"], order["order_no"], err)
        return done

    async def _refund(self, pay: OrphanPayment, order: OrphanOrder) -> int:
        no = pay["out_trade_no"]
        refund_no = orphan_refund_no(no)
        existing = await self.refunds.get(refund_no)
        if existing is None:
            amount = pay["amount"] - pay["refunded"]
            if amount <= 0:
                return 0  # refunded already by other means: nothing is held
            log.warning(
                "orphan payment %s (%d fen %s, %s): order %s was paid with %s; "
                "refunding it in full as %s", no, amount, pay["currency"], pay["method"],
                order["order_no"], ", ".join(order["tenders"]), refund_no)
        else:
            amount = existing["amount"]
        res = existing if existing and existing["status"] in FINAL_REFUND else (
            await self.refunds.refund(no, refund_no, amount, ORPHAN_REASON, requested_by=ACTOR))
        if res["status"] not in FINAL_REFUND:
            return 0  # pending / unknown: queried again by the next sweep
        await self._record(pay, order, refund_no, amount, res)
        return 1

    async def _record(self, pay: OrphanPayment, order: OrphanOrder, refund_no: str,
                      amount: int, res: RefundRow) -> None:
        """The final outcome as a refund record on the order (admin refunds list), once."""
        ok = res["status"] == "success"
        if not ok:
            log.error("orphan payment %s: refund %s refused by %s; staff must refund it",
                      pay["out_trade_no"], refund_no, pay["method"])

        async def work(s: AsyncSession) -> None:
            if await s.scalar(select(RefundRequest.id).where(
                    RefundRequest.out_refund_no == refund_no)) is not None:
                return
            at = now()
            s.add(RefundRequest(
                order_id=order["id"], out_refund_no=refund_no, amount=amount,
                currency=pay["currency"], reason=ORPHAN_REASON,
                status="succeeded" if ok else "failed", requested_by=ACTOR, created_at=at,
                updated_at=at, error=None if ok else "refused by provider"))
            s.add(OrderHistory(
                order_id=order["id"], at=at, actor=ACTOR,
                action="orphan_refunded" if ok else "orphan_refund_failed",
                from_status=None, to_status=None,
                detail={"out_trade_no": pay["out_trade_no"], "out_refund_no": refund_no,
                        "amount": amount}))

        try:
            await self.db.transact(work)
        except IntegrityError:
            pass  # another worker recorded it first
