"""Tables of the marketing domain (migration branch ``marketing``, 0951).

A template says what a coupon is worth and who may have how many; every claimed coupon
is its own row (``unused`` -> ``locked`` to one order -> ``used``; released back to
``unused`` on cancel or refund; ``expired`` after its validity). Counters on the
template (``issued``) move only through conditional updates, so a 100-coupon template
never issues a 101st however many shoppers claim at once. How many were used is counted
from the coupons when asked, not kept on the template: a counter there would make every
redemption of a campaign wait for the one template row (bench/coupons.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId, UtcDateTime, now


class CouponTemplate(Base):
    """What a coupon gives, to whom, how many, for how long."""

    __tablename__ = "mkt_coupon_templates"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # NULL: chain-wide (head office); else the store whose staff made it and where it works.
    store: Mapped[str | None] = mapped_column(String(64), index=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))  # fixed | percentage
    value: Mapped[int] = mapped_column(BigInteger)  # fen off, or basis points off
    cap: Mapped[int | None] = mapped_column(BigInteger)  # percentage: at most this many fen
    threshold: Mapped[int] = mapped_column(BigInteger, default=0)
    categories: Mapped[list] = mapped_column(JSON, default=list)  # empty: every category
    exclude_categories: Mapped[list] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)  # relative: days from the claim
    total_limit: Mapped[int] = mapped_column(Integer)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    min_level: Mapped[str | None] = mapped_column(String(16))
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | paused
    issued: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Coupon(Base):
    """One claimed coupon of one member."""

    __tablename__ = "mkt_coupons"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("mkt_coupon_templates.id"), index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # member id
    # 1..per_user_limit: a second concurrent claim of the same user collides on the key.
    claim_seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # claim | batch | registration | ...
    status: Mapped[str] = mapped_column(String(12), index=True)
    order_no: Mapped[str | None] = mapped_column(String(64), index=True)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("template_id", "owner", "claim_seq"),)


class CouponSlot(Base):
    """One offline coupon redemption reserved for one kiosk (``contract.coupon_codes``).

    The slot's id is its token's ``jti``; the token itself is not stored (it is re-signed
    from these claims when the pool is shipped again: Ed25519 signatures are
    deterministic). ``reserved`` -> ``used`` (once, by the sale that spent it).
    """

    __tablename__ = "mkt_coupon_slots"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store: Mapped[str] = mapped_column(String(64))
    kiosk: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # reserved | used
    issued_at: Mapped[int] = mapped_column(BigInteger)  # the token's iat (epoch s)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # the token's exp (epoch s)
    order_no: Mapped[str | None] = mapped_column(String(64))
    coupon_id: Mapped[str | None] = mapped_column(String(24))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_mkt_coupon_slots_kiosk", "store", "kiosk", "status"),)
