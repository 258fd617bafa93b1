"""Payment tables, on the bridge's declarative ``Base`` so Alembic and ``create_all`` see them.

Never a payment code or a card number here: a payment row holds the out_trade_no,
the amount, the provider's reference and, for cards, the last four digits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now

# Payment statuses. charging/unknown/settling are not final; the rest are.
CHARGING = "charging"
UNKNOWN = "unknown"
SETTLING = "settling"
PAID = "paid"
FAILED = "failed"
REVERSED = "reversed"
FINAL = frozenset({PAID, FAILED, REVERSED})
# A mini-program (JSAPI) payment waiting for the shopper in WeChat: not swept by the
# settlement of unknown outcomes; paid by its notification, failed when closed.
AWAITING = "awaiting"


class Payment(Base):
    """One payment attempt, keyed by the kiosk's out_trade_no (reused by every retry)."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    out_trade_no: Mapped[str] = mapped_column(String(64), unique=True)
    order_no: Mapped[str | None] = mapped_column(String(64), index=True)
    store: Mapped[str] = mapped_column(String(64))
    kiosk: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(64))
    provider_code: Mapped[str | None] = mapped_column(String(64))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    member_id: Mapped[str | None] = mapped_column(String(64))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    business_date: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    unknown_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_within_amount"),
    )


class PaymentRefund(Base):
    """One refund, keyed by out_refund_no (Alipay's out_request_no)."""

    __tablename__ = "payment_refunds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    out_trade_no: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))   # pending | success | failed | unknown
    reason: Mapped[str | None] = mapped_column(String(256))
    provider_code: Mapped[str | None] = mapped_column(String(64))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


class PaymentNotificationSeen(Base):
    """Replay keys (nonce, notify_id) of accepted notifications: a replay is refused."""

    __tablename__ = "payment_notifications_seen"
    replay_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class MemberBalance(Base):
    """A member's stored value (储值) in fen; the constraint keeps it from going negative."""

    __tablename__ = "member_balances"
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)


class StoredValueEntry(Base):
    """Every balance change, once: ``entry_key`` (pay:/reverse:/refund:/topup:...) is unique."""

    __tablename__ = "stored_value_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_key: Mapped[str] = mapped_column(String(128), unique=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)
    offline: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (Index("ix_sv_member_created", "member_id", "created_at"),)
