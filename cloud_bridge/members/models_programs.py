"""Tables of the member programs (migration branch ``member_programs``, 0905): paid
membership, referrals, surveys and the points exchange.

Every "exactly once" here is a unique key the database enforces, never a check in
Python alone: one purchase per order, one inviter per invitee, one reward per (referral,
event, beneficiary), one answer per (member, survey, order), one exchange per (member,
request id) and per (item, member, sequence) for the per-member limit. Counters that
must not overshoot (exchange stock) move only through conditional updates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId, UtcDateTime, now

# ---------------------------------------------------------------- paid membership


class PaidPlan(Base):
    """A paid membership plan (付费会员): its price, how long it lasts, the rung it gives."""

    __tablename__ = "mem_paid_plans"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # a rung of the ladder, held while active
    price: Mapped[int] = mapped_column(BigInteger)  # fen, first purchase
    renewal_price: Mapped[int] = mapped_column(BigInteger)  # fen, while active or in grace
    duration_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | retired
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class PaidPurchase(Base):
    """One purchase of a plan, paid through a mini-program order (one purchase per order)."""

    __tablename__ = "mem_paid_purchases"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("mem_paid_plans.id"))
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    store: Mapped[str] = mapped_column(String(64))
    price: Mapped[int] = mapped_column(BigInteger)
    renewal: Mapped[bool] = mapped_column(default=False)
    # pending (order unpaid) -> active (paid; the period is set) | cancelled; active -> refunded
    status: Mapped[str] = mapped_column(String(12), index=True)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class PaidMembership(Base):
    """The member's paid membership now: the rung it gives until ``ends_at``."""

    __tablename__ = "mem_paid_memberships"
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("mem_paid_plans.id"))
    level: Mapped[str] = mapped_column(String(16))
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)  # active | ended
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


# ---------------------------------------------------------------- referrals


class ReferralCode(Base):
    """A member's invitation code (shown on the share card; sharing itself earns nothing)."""

    __tablename__ = "mem_referral_codes"
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Referral(Base):
    """Who invited whom: at most one inviter per invitee."""

    __tablename__ = "mem_referrals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invitee_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), unique=True)
    inviter_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    first_order_no: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ReferralRule(Base):
    """What one side earns for one real action of the invitee (points and/or a coupon)."""

    __tablename__ = "mem_referral_rules"
    event: Mapped[str] = mapped_column(String(16), primary_key=True)  # register | first_purchase
    beneficiary: Mapped[str] = mapped_column(String(8), primary_key=True)  # inviter | invitee
    points: Mapped[int] = mapped_column(Integer, default=0)
    coupon_template_id: Mapped[int | None] = mapped_column(BigInteger)


class ReferralReward(Base):
    """A reward given (or refused: ``unavailable``), once per (referral, event, side)."""

    __tablename__ = "mem_referral_rewards"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("mem_referrals.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    beneficiary: Mapped[str] = mapped_column(String(8))
    member_id: Mapped[str] = mapped_column(String(32), index=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    coupon_id: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12))  # granted | unavailable
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("referral_id", "event", "beneficiary"),)


# ---------------------------------------------------------------- surveys


class Survey(Base):
    """A satisfaction survey after a purchase: NPS (0-10) or CSAT (1-5)."""

    __tablename__ = "mem_surveys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # NULL: chain-wide
    kind: Mapped[str] = mapped_column(String(8))  # nps | csat
    title_zh: Mapped[str] = mapped_column(String(64))
    title_en: Mapped[str] = mapped_column(String(64))
    question_zh: Mapped[str] = mapped_column(String(200))
    question_en: Mapped[str] = mapped_column(String(200))
    answer_days: Mapped[int] = mapped_column(Integer)  # an order can be rated this long
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | closed
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SurveyAnswer(Base):
    """One member's answer for one order (the store and month kept for the results)."""

    __tablename__ = "mem_survey_answers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("mem_surveys.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    order_no: Mapped[str] = mapped_column(String(64))
    store: Mapped[str] = mapped_column(String(64), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM, store time
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("member_id", "survey_id", "order_no"),)


# ---------------------------------------------------------------- points exchange


class ExchangeItem(Base):
    """Something points buy (积分兑换): a coupon, or a product picked up in a store."""

    __tablename__ = "mem_exchange_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # NULL: chain-wide
    kind: Mapped[str] = mapped_column(String(8))  # coupon | product
    coupon_template_id: Mapped[int | None] = mapped_column(BigInteger)
    product_id: Mapped[str | None] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    per_member_limit: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | paused
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Exchange(Base):
    """One exchange: the points taken (one ledger line) and what they bought."""

    __tablename__ = "mem_exchanges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mem_exchange_items.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("mem_members.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)  # 1..per_member_limit
    points: Mapped[int] = mapped_column(Integer)
    store: Mapped[str | None] = mapped_column(String(64), index=True)
    coupon_id: Mapped[str | None] = mapped_column(String(24))
    # issued (a coupon) | awaiting_pickup -> picked_up (a product)
    status: Mapped[str] = mapped_column(String(16))
    handed_over_by: Mapped[str | None] = mapped_column(String(128))
    handed_over_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("member_id", "request_id"),
                      UniqueConstraint("item_id", "member_id", "seq"))
