"""Purchasing tables: purchase orders, goods receipts, supplier bills, returns, shipments."""

from __future__ import annotations

from datetime import date, datetime
from typing import NotRequired, TypedDict

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now
from common.jsontypes import JsonObject


class Inspection(TypedDict):
    """How a lot was inspected (GB/T 2828.1 single sampling) and what was decided."""

    aql: str
    level: str
    code_letter: str | None
    sample_size: int
    ac: int
    re: int
    defects: int
    decision: str


class ReceiptLine(TypedDict):
    """One lot of a goods receipt, as ``GoodsReceipt.lines`` keeps it."""

    product_id: str
    lot_no: str
    expiry_date: str | None
    qty: int
    accepted: int
    unit_cost_fen: int
    vat_rate_bp: NotRequired[int]  # receipts from before it was kept: 13 %
    inspection: Inspection


class BillLine(TypedDict):
    """One line of a supplier bill."""

    product_id: str
    qty: int
    unit_cost_fen: int


class ReturnLine(TypedDict):
    """Units of one received lot sent back to the supplier."""

    product_id: str
    lot_no: str
    qty: int
    unit_cost_fen: int


class PurchaseOrder(Base):
    """A purchase order moving through :data:`cloud_bridge.supply.purchasing.TRANSITIONS`."""

    __tablename__ = "supply_purchase_orders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    source: Mapped[str] = mapped_column(String(24))  # manual | replenishment
    proposal_date: Mapped[date | None] = mapped_column(Date)
    contract_id: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    expected_on: Mapped[date | None] = mapped_column(Date)
    history: Mapped[list[JsonObject]] = mapped_column(JSON)  # [{at, actor, from, to, note}]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class PurchaseOrderLine(Base):
    __tablename__ = "supply_po_lines"
    __table_args__ = (UniqueConstraint("po_id", "product_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("supply_purchase_orders.id"), index=True)
    product_id: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(BigInteger)
    unit_cost_fen: Mapped[int] = mapped_column(BigInteger)
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=1300)
    qty_received: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    qty_returned: Mapped[int] = mapped_column(BigInteger, default=0)


class GoodsReceipt(Base):
    """One delivery received against a PO: lots, expiry dates and inspection per line."""

    __tablename__ = "supply_receipts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("supply_purchase_orders.id"), index=True)
    store: Mapped[str] = mapped_column(String(64))
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    lines: Mapped[list[ReceiptLine]] = mapped_column(JSON)
    on_time: Mapped[bool | None] = mapped_column()
    in_full: Mapped[bool | None] = mapped_column()
    lead_time_days: Mapped[float | None] = mapped_column()
    received_by: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SupplierBill(Base):
    """A supplier's invoice for a PO; payable only once the three-way match holds."""

    __tablename__ = "supply_bills"
    __table_args__ = (UniqueConstraint("supplier_id", "bill_no"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("supply_purchase_orders.id"), index=True)
    supplier_id: Mapped[str] = mapped_column(String(64))
    bill_no: Mapped[str] = mapped_column(String(64))
    lines: Mapped[list[BillLine]] = mapped_column(JSON)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # excl. VAT
    vat_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # matched | mismatch | paid
    match: Mapped[JsonObject] = mapped_column(JSON)  # {ok, problems}
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SupplierReturn(Base):
    """Goods sent back to a supplier, linked to the receipt, credited on its account."""

    __tablename__ = "supply_supplier_returns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("supply_receipts.id"), index=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    store: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    lines: Mapped[list[ReturnLine]] = mapped_column(JSON)
    credit_fen: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SupplierAccountEntry(Base):
    """The supplier's account: bills owed (+), payments and return credits (-)."""

    __tablename__ = "supply_supplier_account"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # bill | payment | credit
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    doc: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Shipment(Base):
    """An inbound delivery on its way: carrier, tracking number, status, expected arrival."""

    __tablename__ = "supply_shipments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("supply_purchase_orders.id"), index=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_no: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # booked|in_transit|delivered|exception
    expected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ProposalRun(Base):
    """One day's replenishment run per store (the job is idempotent per period)."""

    __tablename__ = "supply_proposal_runs"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    po_ids: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
