"""Tables of after-sales: a shopper's return/exchange requests and the time limits.

A request names order lines and quantities; staff approve or reject it. Approval records
the return on the order (stock back on the shelf or set aside, by
:func:`cloud_bridge.orders.record_return`) and, for a return, a refund request that the
payments side executes through the provider that took the money.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class AfterSale(Base):
    __tablename__ = "svc_aftersales"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    order_no: Mapped[str] = mapped_column(String(64), index=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # return | exchange
    reason: Mapped[str] = mapped_column(String(24))
    description: Mapped[str | None] = mapped_column(String(500))
    # [{line_no, qty, amount}]
    lines: Mapped[list[dict[str, int]]] = mapped_column(JSON, default=list)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # attachment ids
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # fen to refund (returns)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    return_id: Mapped[int | None] = mapped_column(BigInteger)
    refund_request_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AfterSaleRule(Base):
    """How many days after the sale a category's goods may be returned (0: not at all)."""

    __tablename__ = "svc_aftersale_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(64))
    days: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("category", name="uq_svc_aftersale_rules_category"),)
