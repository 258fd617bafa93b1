"""Tables of flash sales (秒杀) and group buying (拼团) (migration branch ``campaigns``).

Both sell one product through mini-program orders (``orders.source = 'mp'``) at a deal
price. Stock, per-user limits and group seats move only through conditional updates
(``... WHERE sold + :qty <= stock``), so no amount of concurrent buyers oversells; what an
unpaid order held comes back when the mini-program close job cancels it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, BigId, UtcDateTime, now


class _Deal:
    """Columns every deal has: where, what, at which price, when."""

    store: Mapped[str | None] = mapped_column(String(64), index=True)  # NULL: chain-wide
    product_id: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64))
    list_price: Mapped[int] = mapped_column(BigInteger)  # fen, what it sells for otherwise
    price: Mapped[int] = mapped_column(BigInteger)  # fen, the deal price
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class FlashSale(_Deal, Base):
    """A flash sale: ``stock`` units at ``price``, at most ``per_user_limit`` per shopper."""

    __tablename__ = "mkt_flash_sales"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stock: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0)  # held by unpaid and paid orders
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)


class FlashBuyer(Base):
    """How many units of one flash sale one shopper holds (unpaid and paid orders)."""

    __tablename__ = "mkt_flash_buyers"
    sale_id: Mapped[int] = mapped_column(ForeignKey("mkt_flash_sales.id"), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    qty: Mapped[int] = mapped_column(Integer, default=0)


class FlashOrder(Base):
    """One order of a flash sale: ``held`` -> ``released`` when it was never paid."""

    __tablename__ = "mkt_flash_orders"
    order_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("mkt_flash_sales.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="held")  # held | released
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class GroupDeal(_Deal, Base):
    """Group buying: groups of ``group_size`` buy at ``price``; a group has ``group_ttl_s``."""

    __tablename__ = "mkt_group_deals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_size: Mapped[int] = mapped_column(Integer)
    group_ttl_s: Mapped[int] = mapped_column(Integer)


class BuyingGroup(Base):
    """One group of a deal: ``forming`` -> ``complete`` (full, all paid) or ``failed``."""

    __tablename__ = "mkt_groups"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("mkt_group_deals.id"), index=True)
    store: Mapped[str] = mapped_column(String(64))
    leader: Mapped[str] = mapped_column(String(64))  # openid
    size: Mapped[int] = mapped_column(Integer)
    seats: Mapped[int] = mapped_column(Integer, default=0)  # taken by joined members
    status: Mapped[str] = mapped_column(String(12), default="forming")
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_mkt_groups_open", "status", "expires_at"),)


class GroupMember(Base):
    """One shopper in one group with their order: ``joined`` -> ``released`` (unpaid
    order cancelled) or ``refunding`` (the group failed, the order was paid)."""

    __tablename__ = "mkt_group_members"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mkt_groups.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="joined")
    refund_request_id: Mapped[int | None] = mapped_column(BigInteger)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("group_id", "openid"),)
