"""Payment provider clients behind one interface (:class:`base.PaymentProvider`)."""

from .base import (
    BillLine,
    ChargeRequest,
    Notification,
    NotificationRejected,
    Outcome,
    PaymentProvider,
    RefundOutcome,
    ReverseOutcome,
)

__all__ = [
    "BillLine", "ChargeRequest", "Notification", "NotificationRejected", "Outcome",
    "PaymentProvider", "RefundOutcome", "ReverseOutcome",
]
