"""Tables of SLA policies and calendars, breaches, CSAT (more concerns are added below)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class SlaPolicy(Base):
    """Targets in business minutes for one store (``*`` = every store) and priority."""

    __tablename__ = "svc_sla_policies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    first_response_min: Mapped[int] = mapped_column(Integer)
    next_response_min: Mapped[int] = mapped_column(Integer)
    resolution_min: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("store", "priority", name="uq_svc_sla_policies_key"),)


class BusinessHours(Base):
    """When a store's service desk works on a weekday (0 = Monday), local time."""

    __tablename__ = "svc_business_hours"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True)
    opens: Mapped[str] = mapped_column(String(5))  # "09:00"
    closes: Mapped[str] = mapped_column(String(5))  # "18:00"
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class CalendarDay(Base):
    """A holiday (closed) or a make-up working day (调休, open like ``as_weekday``)."""

    __tablename__ = "svc_calendar_days"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)  # "*" = every store
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    kind: Mapped[str] = mapped_column(String(8))  # holiday | workday
    name: Mapped[str] = mapped_column(String(64))
    as_weekday: Mapped[int | None] = mapped_column(Integer)


class SlaBreach(Base):
    """A clock that ran out; raised once per clock and due time."""

    __tablename__ = "svc_sla_breaches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("svc_conversations.id", ondelete="CASCADE"), index=True)
    store: Mapped[str] = mapped_column(String(64))
    clock: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    breached_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("conversation_id", "clock", "due_at",
                                       name="uq_svc_sla_breaches_key"),)


class Csat(Base):
    """The shopper's satisfaction (1-5 and a comment) after a ticket was resolved."""

    __tablename__ = "svc_csat"
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("svc_conversations.id", ondelete="CASCADE"), primary_key=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
