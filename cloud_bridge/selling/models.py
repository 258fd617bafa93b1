"""Selling tables: staff badge revocations (pushed to kiosks with the price book),
refused receipt claims, and kiosks' staff calls (呼叫店员)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class StaffBadgeRevocation(Base):
    """One revocation: a single badge (``token_id``) or every badge of a staff member
    issued up to ``revoked_at`` (``token_id`` empty), so a replacement badge works."""

    __tablename__ = "sell_badge_revocations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(String(64), index=True)
    token_id: Mapped[str | None] = mapped_column(String(32))
    store: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))
    revoked_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ReceiptClaimRefusal(Base):
    """A refused mini-program receipt claim: the record the rate limits count (shared by
    every bridge worker) and what support reads when a shopper says a claim failed."""

    __tablename__ = "sell_claim_refusals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    order_no: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class StaffCallRow(Base):
    """A kiosk's latest staff call (呼叫店员), from its retained ``staff/call`` message: open
    (``active``) until staff answer it at the kiosk. One row per kiosk."""

    __tablename__ = "sell_staff_calls"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    reason: Mapped[str] = mapped_column(String(64))
    called_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)


class ParkedCartSettlement(Base):
    """A parked cart (挂单) closed once: paid at a staffed till (``how = till``: the
    method, amount and till reference staff entered) or taken over by another kiosk of
    the store (``how = kiosk``: that kiosk sells it as its own order). The primary key
    makes it once: a second settlement of the same park number is refused."""

    __tablename__ = "sell_parked_settlements"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    park_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(64))  # where it was parked
    how: Mapped[str] = mapped_column(String(8))
    by: Mapped[str] = mapped_column(String(128))  # console user, or the taking kiosk
    method: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
