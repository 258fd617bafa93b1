"""Supply-chain tables: lots, movements, transfers, counts, alerts, products, suppliers.

Purchasing tables (orders, receipts, bills, returns, shipments) live in
:mod:`cloud_bridge.supply.models_purchasing`, imported at the end so that the domain's
``models.py`` (what :mod:`cloud_bridge.domains` imports) puts every table on ``Base``.
Quantities are integer units (grams for goods sold by weight, as ``stock.on_hand``);
money is integer fen excluding VAT unless a column says otherwise.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NotRequired, TypedDict

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now
from common.jsontypes import JsonObject

SHELF = "shelf"  # a store's own stock; a transfer's goods sit in "transit-<id>"


class SupplyProduct(Base):
    """What the supply side knows of a product: shelf life, near-expiry warning days."""

    __tablename__ = "supply_products"
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    near_expiry_days: Mapped[int | None] = mapped_column(Integer)
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=1300)  # 13% = 1300 bp
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Lot(Base):
    """Units of one product from one lot at one location of a store."""

    __tablename__ = "supply_lots"
    __table_args__ = (UniqueConstraint("store", "location", "product_id", "lot_no"),
                      Index("ix_supply_lots_fefo", "store", "product_id", "expiry_date"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    lot_no: Mapped[str] = mapped_column(String(64))
    expiry_date: Mapped[date | None] = mapped_column(Date)
    qty: Mapped[int] = mapped_column(BigInteger, default=0)
    unit_cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Movement(Base):
    """One change of stock with the document that caused it (never updated, never deleted).

    ``lot_no`` is ``None`` for units without a known lot (returns restocked, stock set
    by hand, or a sale beyond every lot: then ``shortfall`` says how many were missing).
    """

    __tablename__ = "supply_movements"
    __table_args__ = (Index("ix_supply_movements_sp", "store", "product_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    lot_no: Mapped[str | None] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_id: Mapped[str] = mapped_column(String(128))
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)
    actor: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class TransferLine(TypedDict):
    """Units of one lot sent in a transfer."""

    product_id: str
    lot_no: str
    qty: int
    expiry_date: str | None
    unit_cost_fen: NotRequired[int | None]  # transfers from before it was kept have none


class Transfer(Base):
    """Goods sent from one store to another through a transit location."""

    __tablename__ = "supply_transfers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    from_store: Mapped[str] = mapped_column(String(64), index=True)
    to_store: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # in_transit | received
    lines: Mapped[list[TransferLine]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StockCount(Base):
    """A stock count (盘点): counted units per product and lot, variances posted once."""

    __tablename__ = "supply_stock_counts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # posted
    # [{product_id, lot_no, expected, counted, variance}]
    lines: Mapped[list[JsonObject]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SupplyAlert(Base):
    """A supply warning with a state staff move: open -> acknowledged -> resolved.

    ``subject`` identifies what it is about (``product:lot``, a supplier, a PO), so a
    condition still true on the next scan does not open a second alert.
    """

    __tablename__ = "supply_alerts"
    __table_args__ = (Index("ix_supply_alerts_open", "kind", "store", "subject", "state"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    store: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(160))
    product_id: Mapped[str | None] = mapped_column(String(64))
    supplier_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[JsonObject] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_by: Mapped[str | None] = mapped_column(String(128))


class ReorderRule(Base):
    """How one store replenishes one product."""

    __tablename__ = "supply_reorder_rules"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supplier_id: Mapped[str | None] = mapped_column(String(64))
    min_qty: Mapped[int] = mapped_column(BigInteger, default=0)
    max_qty: Mapped[int] = mapped_column(BigInteger, default=0)
    multiple: Mapped[int] = mapped_column(Integer, default=1)
    lead_time_days: Mapped[int | None] = mapped_column(Integer)  # None: the supplier's
    service_z: Mapped[float] = mapped_column(Float, default=1.65)  # ~95% cycle service
    ordering_cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    holding_rate_per_year: Mapped[float] = mapped_column(Float, default=0.25)
    overstock_days: Mapped[int] = mapped_column(Integer, default=60)


class Supplier(Base):
    __tablename__ = "supply_suppliers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lead_time_days: Mapped[int] = mapped_column(Integer)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    contact: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Qualification(Base):
    """A licence a supplier must hold (营业执照, 食品经营许可证, ...), with its expiry."""

    __tablename__ = "supply_qualifications"
    __table_args__ = (UniqueConstraint("supplier_id", "kind"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    expires_on: Mapped[date] = mapped_column(Date)


class SupplierProduct(Base):
    """A product a supplier delivers: cost price (fen, excl. VAT) and pack size."""

    __tablename__ = "supply_supplier_products"
    supplier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cost_fen: Mapped[int] = mapped_column(BigInteger)
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    previous_cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ContractPrice(TypedDict):
    """One product of a contract's price list."""

    product_id: str
    price_fen: int
    committed_qty: NotRequired[int]


class Contract(Base):
    """A supply contract: terms, validity, and agreed prices/volumes (``prices``)."""

    __tablename__ = "supply_contracts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    terms: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    renewal_notice_days: Mapped[int] = mapped_column(Integer, default=30)
    prices: Mapped[list[ContractPrice]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


from . import models_purchasing, settings  # noqa: E402,F401  (their tables on Base too)
