"""Database tables of the cloud bridge (SQLAlchemy 2 declarative, SQLite and PostgreSQL).

Money columns are integer fen. Every timestamp is stored and returned in UTC.
Schema changes go through Alembic (``cloud_bridge/migrations``); the tests also
build the schema with ``metadata.create_all`` and a test checks both agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Autoincrementing 64-bit ids; SQLite only autoincrements an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both backends (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StoredEvent(Base):
    """Every kiosk event, stored once by its id (the dedupe key of exactly-once)."""

    __tablename__ = "events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store: Mapped[str] = mapped_column(String(64))
    kiosk: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    worker: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_events_kiosk_seq", "store", "kiosk", "seq"),)


class Kiosk(Base):
    """The fleet view of one kiosk: presence, telemetry and reported shadow."""

    __tablename__ = "kiosks"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    state_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state_reason: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64))
    boot_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    telemetry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queue_depth: Mapped[int | None] = mapped_column(Integer)
    oldest_unsent_s: Mapped[float | None] = mapped_column(Float)
    dead_letters: Mapped[int | None] = mapped_column(Integer)
    printer: Mapped[str | None] = mapped_column(String(32))
    paper: Mapped[str | None] = mapped_column(String(32))
    camera: Mapped[str | None] = mapped_column(String(32))
    offline_health: Mapped[str | None] = mapped_column(String(16))
    catalog_version: Mapped[str | None] = mapped_column(String(64))
    config_version: Mapped[int | None] = mapped_column(Integer)
    telemetry: Mapped[dict | None] = mapped_column(JSON)
    reported: Mapped[dict | None] = mapped_column(JSON)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    desired: Mapped[dict | None] = mapped_column(JSON)
    desired_version: Mapped[int | None] = mapped_column(Integer)


class CommandResultRow(Base):
    """Results kiosks sent back on ``cmd/res`` (the console shows them)."""

    __tablename__ = "command_results"
    cmd_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store: Mapped[str] = mapped_column(String(64))
    kiosk: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    kiosk: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # kiosk | mp
    fulfillment: Mapped[str] = mapped_column(String(16), default="instore")  # instore|pickup|delivery
    openid: Mapped[str | None] = mapped_column(String(64), index=True)
    member_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    subtotal: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_total: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_total: Mapped[int] = mapped_column(BigInteger, default=0)
    business_date: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    shipping_address: Mapped[dict | None] = mapped_column(JSON)
    event_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict | None] = mapped_column(JSON)  # tenders, vat, coupons, points

    __table_args__ = (Index("ix_orders_store_date", "store", "business_date"),)


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(64))
    barcode: Mapped[str | None] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    qty: Mapped[int] = mapped_column(Integer)
    weight_g: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger)
    returned_qty: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("order_id", "line_no"),)


class OrderHistory(Base):
    """Every change of an order: who, when, what."""

    __tablename__ = "order_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[dict | None] = mapped_column(JSON)


class OrderNote(Base):
    __tablename__ = "order_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)


class RefundRequest(Base):
    """A refund asked for by staff; the payments side executes it and records the result."""

    __tablename__ = "refund_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    error: Mapped[str | None] = mapped_column(Text)


class ReturnRecord(Base):
    """A return or exchange of order lines, with reason and whether stock was restored."""

    __tablename__ = "returns"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # return | exchange
    reason: Mapped[str] = mapped_column(String(200))
    restock: Mapped[bool] = mapped_column(Boolean)
    lines: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Stock(Base):
    __tablename__ = "stock"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Alert(Base):
    """Something staff must look at: oversells, duplicate order numbers, ..."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    kiosk: Mapped[str | None] = mapped_column(String(64))
    product_id: Mapped[str | None] = mapped_column(String(64))
    order_no: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class Invoice(Base):
    """A 发票 request on an order; issuing comes later."""

    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    openid: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # personal | company
    title: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    error: Mapped[str | None] = mapped_column(Text)


class AdminUser(Base):
    __tablename__ = "admin_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # head_office | store_staff
    store: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ApiSession(Base):
    """Bearer tokens (admin and mini-program); only the SHA-256 of a token is stored."""

    __tablename__ = "api_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # admin | mp
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    openid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class MpUser(Base):
    __tablename__ = "mp_users"
    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_login: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


ALL_TABLES = [t.name for t in Base.metadata.sorted_tables]
