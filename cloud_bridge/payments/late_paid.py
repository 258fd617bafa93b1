"""A signed "paid" notification for an attempt recorded failed or reversed.

The kiosk told the shopper nothing was charged (the attempt failed, or its unknown
outcome was reversed), yet the provider says it took the money: a reversal that lost
a race with the capture, or a provider bug. It is never accepted silently: the
payment is recorded paid (the money is held), an alert tells staff, an ERROR is
logged, and the money goes back at once through the orphan refund path (the refund
number derived from the out_trade_no, so a retried notification, a second worker
or the orphan sweep all refund it once).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import Alert

from .models import FAILED, PAID, REVERSED, Payment
from .providers.base import Notification
from .refund_numbers import orphan_refund_no
from .store import utcnow

if TYPE_CHECKING:
    from .refunds import RefundRow, RefundService

log = logging.getLogger(__name__)

LATE_PAID_FROM = frozenset({FAILED, REVERSED})
MARKER = "late-paid"
ALERT_KIND = "paid_after_failed"
REASON = "paid after the kiosk reported it failed"


async def record(s: AsyncSession, row: Payment, note: Notification, method: str) -> str:
    """In the notification's transaction: the payment paid, an alert raised; ``MARKER``."""

    now = utcnow()
    was = row.status
    await s.execute(
        update(Payment).where(Payment.id == row.id, Payment.status == was)
        .values(status=PAID, provider_ref=note.provider_ref,
                provider_code=f"PAID_AFTER_{was.upper()}"[:64], updated_at=now,
                settled_at=now, lease_until=None))
    s.add(Alert(kind=ALERT_KIND, store=row.store, kiosk=row.kiosk, order_no=row.order_no,
                detail={"out_trade_no": row.out_trade_no, "amount": row.amount,
                        "currency": row.currency, "method": method, "was": was,
                        "out_refund_no": orphan_refund_no(row.out_trade_no)},
                created_at=now))
    log.error("%s notification: payment %s (%d fen) was recorded %s but is paid; "
              "refunding it as %s", method, row.out_trade_no, row.amount, was,
              orphan_refund_no(row.out_trade_no))
    return MARKER


async def refund(refunds: RefundService, out_trade_no: str) -> RefundRow | None:
    """Refund the whole late payment (idempotent by the orphan refund number).

    Called through ``PaymentService.on_late_paid``, which the bridge's payments runtime
    sets (the payment service itself does not depend on refunds); a refusal
    (``RefundError``) goes back to that caller.
    """
    pay = await refunds.payments.store.get(out_trade_no)
    if pay is None:
        return None
    return await refunds.refund(out_trade_no, orphan_refund_no(out_trade_no),
                                pay["amount"], REASON, requested_by="system:late-paid")
