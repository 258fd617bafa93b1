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


class BookableService(Base):
    """Something a store takes appointments for (pick-up slots, cake orders, consultations)."""

    __tablename__ = "svc_bookable_services"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # Booking closes this many minutes before a slot starts; cancelling, this many.
    book_before_min: Mapped[int] = mapped_column(Integer, default=0)
    cancel_before_min: Mapped[int] = mapped_column(Integer, default=60)
    max_active_per_member: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Slot(Base):
    """A time with a capacity; ``booked`` only grows through a guarded UPDATE."""

    __tablename__ = "svc_slots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("svc_bookable_services.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("service_id", "starts_at", name="uq_svc_slots_start"),)


class Booking(Base):
    """A shopper's place in a slot (one per shopper and slot)."""

    __tablename__ = "svc_bookings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("svc_slots.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(Integer, index=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # booked | cancelled
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("slot_id", "openid", name="uq_svc_bookings_once"),)
