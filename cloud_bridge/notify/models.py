"""Tables of notifications: what each shopper agreed to receive, and the outbox.

WeChat lets a mini-program send a subscribe message only after the shopper accepted that
template in ``wx.requestSubscribeMessage``, one message per acceptance: ``notify_grants``
counts them. ``notify_messages`` is the outbox: a message is stored (with a key that makes
a second enqueue of the same reminder a no-op) in the transaction that decides it, and a
sender delivers it, so a reminder is sent at most once and never lost by a crash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class NotifyGrant(Base):
    __tablename__ = "notify_grants"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    openid: Mapped[str] = mapped_column(String(64))
    template_key: Mapped[str] = mapped_column(String(32))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("openid", "template_key", name="uq_notify_grants"),)


class NotifyMessage(Base):
    __tablename__ = "notify_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    template_key: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    page: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|sent|skipped|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    next_try_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
