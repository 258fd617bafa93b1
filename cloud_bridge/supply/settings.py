"""Supply settings head office sets in the console: approval limit, tolerances, thresholds.

Stored as one JSON row (``supply_settings``) so every bridge worker reads the same values;
missing keys take the defaults below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, UtcDateTime, now
from common.jsontypes import JsonObject

from .aql import AqlColumn


class SupplySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval_limit_fen: int = Field(
        default=5_000_000, ge=0, le=10**12,
        description="POs above this total (fen, excl. VAT) need head office to approve")
    near_expiry_days: int = Field(default=3, ge=0, le=365)
    qualification_warning_days: int = Field(default=30, ge=0, le=365)
    price_tolerance_bp: int = Field(default=200, ge=0, le=10000,
                                    description="three-way match: unit price bill vs PO")
    qty_tolerance: int = Field(default=0, ge=0, le=10**6,
                               description="three-way match: units billed vs accepted")
    amount_tolerance_fen: int = Field(default=100, ge=0, le=10**9)
    otif_threshold: float = Field(default=0.9, ge=0, le=1)
    otif_min_receipts: int = Field(default=3, ge=1, le=1000)
    price_rise_threshold_bp: int = Field(default=500, ge=0, le=100000)
    aql: AqlColumn = "1.0"
    inspection_level: Literal["I", "II", "III"] = "II"
    timezone: str = Field(default="Asia/Shanghai", min_length=1, max_length=64)


class SettingsRow(Base):
    __tablename__ = "supply_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[JsonObject] = mapped_column(JSON)  # SupplySettings as JSON
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


async def load(session: AsyncSession) -> SupplySettings:
    row = await session.get(SettingsRow, 1)
    return SupplySettings.model_validate(row.body if row else {})


async def save(session: AsyncSession, settings: SupplySettings, actor: str) -> SupplySettings:
    row = await session.get(SettingsRow, 1, with_for_update=True)
    body = settings.model_dump(mode="json")
    if row is None:
        session.add(SettingsRow(id=1, body=body, updated_by=actor, updated_at=now()))
    else:
        row.body, row.updated_by, row.updated_at = body, actor, now()
    return settings
