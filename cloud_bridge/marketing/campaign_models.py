"""Tables of campaigns (migration branch ``campaigns``, 0961).

A campaign row says what the campaign gives (``spec``: the fields of
:class:`contract.campaigns.Campaign` besides id, kind, labels and window) and where: a
store, or the whole chain (``store`` NULL, head office). It is shipped to the kiosks
inside each published price book while it runs or is scheduled.

Every order that got a campaign's discount is one ``mkt_campaign_orders`` row (kiosk
sales when they are ingested, mini-program orders when they are placed); the results
join them with the orders as they are now (paid, refunded, cancelled).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId, UtcDateTime, now


class CampaignRecord(Base):
    """One campaign: 满减, holiday, new-product or member-only."""

    __tablename__ = "mkt_campaigns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # NULL: chain-wide
    kind: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # exclusive
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # ended early by staff
    ended_by: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class CampaignOrder(Base):
    """One order that got a campaign's discount (``discount`` fen of it)."""

    __tablename__ = "mkt_campaign_orders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("mkt_campaigns.id"))
    order_no: Mapped[str] = mapped_column(String(64))
    store: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str | None] = mapped_column(String(64))
    discount: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("campaign_id", "order_no"),
                      Index("ix_mkt_campaign_orders_order", "order_no"))
