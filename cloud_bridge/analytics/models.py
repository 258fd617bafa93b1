"""Analytics tables: behaviour events in, computed results out (the admin API reads these).

Result tables are rewritten by the nightly job (:mod:`.jobs`) for the periods it
computes; the live record (orders, lines, payments) is never written here.
Money is integer fen; dates are the store's business date (``YYYY-MM-DD``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now
from common.jsontypes import JsonObject

CHAIN = "*"  # the store column of a chain-wide row


class AnalyticsProduct(Base):
    """The product dimension analytics groups by (category, barcode, list price)."""

    __tablename__ = "analytics_products"
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    barcode: Mapped[str | None] = mapped_column(String(64), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    list_price: Mapped[int] = mapped_column(BigInteger)


class SalesDaily(Base):
    """Sales of one product in one store on one business day."""

    __tablename__ = "analytics_sales_daily"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(BigInteger)
    revenue: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_analytics_sales_daily_date", "business_date"),)


class SalesHourly(Base):
    """Orders and revenue of one store in one hour of one business day."""

    __tablename__ = "analytics_sales_hourly"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    member_orders: Mapped[int] = mapped_column(Integer)


class PaymentsDaily(Base):
    """Tenders of one method in one store on one business day."""

    __tablename__ = "analytics_payments_daily"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    payments: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)


class Cohort(Base):
    """Retention: members of a first-purchase week still buying ``week_offset`` weeks later."""

    __tablename__ = "analytics_cohorts"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)  # CHAIN or first store
    cohort_week: Mapped[str] = mapped_column(String(10), primary_key=True)  # its Monday
    week_offset: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_size: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer)


class MemberProfile(Base):
    """A member's behaviour profile: RFM, value, preferences, churn."""

    __tablename__ = "analytics_member_profiles"
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_date: Mapped[str] = mapped_column(String(10))
    last_date: Mapped[str] = mapped_column(String(10))
    orders: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[int] = mapped_column(BigInteger)
    recency_days: Mapped[int] = mapped_column(Integer)
    r_score: Mapped[int] = mapped_column(Integer)
    f_score: Mapped[int] = mapped_column(Integer)
    m_score: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str] = mapped_column(String(32), index=True)
    ltv: Mapped[int] = mapped_column(BigInteger)  # fen, expected next 365 days
    preferred_category: Mapped[str | None] = mapped_column(String(64))
    preferred_store: Mapped[str | None] = mapped_column(String(64), index=True)
    promo_share: Mapped[float] = mapped_column(Float)
    expected_gap_days: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float] = mapped_column(Float)
    churned: Mapped[bool] = mapped_column(Boolean, index=True)


class Forecast(Base):
    """Forecast demand (units) of one product in one store on one future day, with interval."""

    __tablename__ = "analytics_forecasts"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    point: Mapped[float] = mapped_column(Float)
    lo: Mapped[float] = mapped_column(Float)
    hi: Mapped[float] = mapped_column(Float)
    made_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class BasketRule(Base):
    """A market-basket rule ``antecedent -> consequent`` (product ids)."""

    __tablename__ = "analytics_basket_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    antecedent: Mapped[str] = mapped_column(String(64))
    consequent: Mapped[str] = mapped_column(String(64))
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    baskets: Mapped[int] = mapped_column(Integer)


class AnalyticsRun(Base):
    """One run of the nightly job (scheduled or on demand), with its progress."""

    __tablename__ = "analytics_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(10), index=True)  # business date it covers
    trigger: Mapped[str] = mapped_column(String(16))  # nightly | on_demand
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | done | failed
    step: Mapped[str] = mapped_column(String(32), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[JsonObject | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class BehaviourEvent(Base):
    """A shopper behaviour event (mini-program or kiosk); no phone numbers, members by id."""

    __tablename__ = "analytics_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    v: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(8))  # mp | kiosk
    store: Mapped[str | None] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    member_id: Mapped[str | None] = mapped_column(String(64))
    openid: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    channel: Mapped[str | None] = mapped_column(String(32))
    campaign: Mapped[str | None] = mapped_column(String(64))
    page: Mapped[str | None] = mapped_column(String(128))
    keyword: Mapped[str | None] = mapped_column(String(64))
    result_count: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[JsonObject | None] = mapped_column(JSON)


class KioskSession(Base):
    """One shopper session at a kiosk, from its ``session.summary`` (stored once by the
    summary's event id): counters and codes, no personal data beyond a member id."""

    __tablename__ = "analytics_kiosk_sessions"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    kiosk: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    business_date: Mapped[str] = mapped_column(String(10), index=True)  # China day of start
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # paid | abandoned | cancelled | parked
    items_scanned: Mapped[int] = mapped_column(Integer)
    items_removed: Mapped[int] = mapped_column(Integer)
    payment_attempts: Mapped[int] = mapped_column(Integer)
    method: Mapped[str | None] = mapped_column(String(16))  # the last method tried
    pay_seconds: Mapped[float | None] = mapped_column(Float)
    errors: Mapped[dict[str, int] | None] = mapped_column(JSON)  # code -> times seen
    error_count: Mapped[int] = mapped_column(Integer)
    help_calls: Mapped[int] = mapped_column(Integer)
    order_no: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[str | None] = mapped_column(String(64))


class CompetitorPrice(Base):
    """A competitor's shelf price for a barcode, as imported from their price list (CSV)."""

    __tablename__ = "analytics_competitor_prices"
    competitor: Mapped[str] = mapped_column(String(64), primary_key=True)
    barcode: Mapped[str] = mapped_column(String(64), primary_key=True)
    observed_on: Mapped[str] = mapped_column(String(10), primary_key=True)
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class WinBackAction(Base):
    """A win-back coupon the analytics asked marketing to issue to a churned member."""

    __tablename__ = "analytics_winback_actions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(10))
    segment: Mapped[str] = mapped_column(String(32))
    coupon_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # intended | issued | failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (Index("ux_analytics_winback_member_period", "member_id", "period",
                            unique=True),)
