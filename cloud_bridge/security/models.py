"""Security tables: login failure counters (lockout), audit lines, idempotency records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class LoginFailure(Base):
    """Wrong secrets in a row for one username (known or not, so names do not leak)."""

    __tablename__ = "sec_login_failures"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class AuditLine(Base):
    """Who did what security-relevant thing, from where (lockouts, disables, logouts)."""

    __tablename__ = "sec_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500), default="")


class IdempotencyRecord(Base):
    """The answer given to one ``Idempotency-Key`` of one caller: the same key gets it again."""

    __tablename__ = "sec_idempotency"
    actor: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class TopUpRecord(Base):
    """Who topped up a member's stored value, where, and who approved it (a second person
    above the threshold): the stored-value ledger entry says how much, this says who."""

    __tablename__ = "sec_topups"
    entry_key: Mapped[str] = mapped_column(String(128), primary_key=True)  # topup:<key>
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    store: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(128), index=True)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class MemberCodeUse(Base):
    """The first sale each member code (token id) was used for: a code shown at one kiosk
    and used again at another (a screenshot passed on) is refused for the member."""

    __tablename__ = "sec_member_code_uses"
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64))
    store: Mapped[str] = mapped_column(String(64))
    kiosk: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
