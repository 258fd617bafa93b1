"""Tables of the members domain (migration branch ``members``, 0901).

Points are an append-only ledger (``mem_points_ledger``): every accrual, redemption,
expiry and reversal is a row, unique per source so a retried job or request never
counts twice. ``mem_points_batches`` holds what is left of each accrual for FIFO
expiry; ``mem_members.points`` is the running balance, changed only by conditional
updates so it can never go negative.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId, UtcDateTime, now


class MemberRecord(Base):
    """A member of the chain: keyed by WeChat unionid when known, else (appid, openid)."""

    __tablename__ = "mem_members"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    appid: Mapped[str] = mapped_column(String(64))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    # Opt-in profile: each field stays NULL until the shopper chooses to give it.
    birthday: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD
    region: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str | None] = mapped_column(String(8))
    home_store: Mapped[str | None] = mapped_column(String(64), index=True)
    growth: Mapped[int] = mapped_column(BigInteger, default=0)
    level: Mapped[str] = mapped_column(String(16), default="regular")
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("appid", "openid"),)


class MemberLevel(Base):
    """One rung of the level ladder: reached at ``min_growth``, with its benefits."""

    __tablename__ = "mem_levels"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(32))
    min_growth: Mapped[int] = mapped_column(BigInteger)
    discount_bp: Mapped[int] = mapped_column(Integer, default=0)  # 500 = 5 % off
    points_multiplier_bp: Mapped[int] = mapped_column(Integer, default=10_000)  # 10000 = x1


class MemberProgram(Base):
    """The growth and points rules of the chain (one row, id 1)."""

    __tablename__ = "mem_program"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_growth: Mapped[int] = mapped_column(Integer)
    growth_per_yuan: Mapped[int] = mapped_column(Integer)
    points_per_yuan: Mapped[int] = mapped_column(Integer)
    points_expiry_days: Mapped[int] = mapped_column(Integer)


class GrowthEntry(Base):
    """A change of growth value; one per source (an order paid, refunded, registration)."""

    __tablename__ = "mem_growth"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(80))
    delta: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("source_type", "source_id"),)


class PointsEntry(Base):
    """One line of the points ledger (never updated, never deleted)."""

    __tablename__ = "mem_points_ledger"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # accrue|redeem|expire|reverse|refund
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("source_type", "source_id"),)


class PointsBatch(Base):
    """What is left of one accrual, spent and expired first-in first-out."""

    __tablename__ = "mem_points_batches"
    entry_id: Mapped[int] = mapped_column(ForeignKey("mem_points_ledger.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


# The member programs' tables (paid membership, referrals, surveys, points exchange).
from . import models_programs  # noqa: E402,F401
