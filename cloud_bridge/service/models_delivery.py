"""Tables of delivery tracking: one shipment per shipped delivery order, its events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class Shipment(Base):
    __tablename__ = "svc_shipments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    carrier: Mapped[str] = mapped_column(String(64))   # as staff entered it (e.g. SF)
    com: Mapped[str] = mapped_column(String(32))       # the tracker's code (shunfeng)
    tracking_no: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24), default="created", index=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delay_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    alerted_state: Mapped[str | None] = mapped_column(String(24))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("com", "tracking_no", name="uq_svc_shipments_number"),)


class ShipmentEvent(Base):
    __tablename__ = "svc_shipment_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shipment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("svc_shipments.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    context: Mapped[str] = mapped_column(String(300))
    area: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("shipment_id", "at", "context",
                                       name="uq_svc_shipment_events_once"),)
