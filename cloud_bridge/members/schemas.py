"""Request and success bodies of the member routes (OpenAPI components, prefixed ``Mem``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..openapi import Ident, QueryModel, RequestModel, ShortText

ASCII_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
LevelCode = Field(pattern=r"^[a-z0-9_]{1,16}$")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemMember(Out):
    member_id: str
    level: str
    level_name_zh: str
    level_name_en: str
    growth: int
    next_level_growth: int | None
    discount_bp: int
    points_multiplier_bp: int
    points: int
    phone_bound: bool
    phone_masked: str | None
    birthday: str | None
    region: str | None
    gender: str | None
    home_store: str | None
    registered_at: datetime


class MemMemberList(Out):
    total: int
    items: list[MemMember]


class MemCode(Out):
    code: str = Field(description="S1 token of kind member: show it as a QR code")
    expires_at: int = Field(description="epoch seconds")
    level: str
    points: int
    stored_value: int = Field(description="fen")


class MemPointsLine(Out):
    id: int
    kind: str
    points: int
    source_type: str
    source_id: str
    created_at: datetime


class MemPoints(Out):
    balance: int
    items: list[MemPointsLine]


class MemLevel(Out):
    code: str
    name_zh: str
    name_en: str
    min_growth: int
    discount_bp: int
    points_multiplier_bp: int


class MemProgram(Out):
    registration_growth: int
    growth_per_yuan: int
    points_per_yuan: int
    points_expiry_days: int
    levels: list[MemLevel]


class MemSyncResult(Out):
    orders_counted: int
    refunds_counted: int
    points_expired: int


class MemImportResult(Out):
    created: int
    existing: int


class PhoneReply(Out):
    errcode: int
    errmsg: str
    phone_info: dict | None = None


# ---- requests


class RegisterBody(RequestModel):
    phone_code: ShortText | None = Field(
        default=None, description="code of getPhoneNumber; binds the phone (optional)")
    home_store: Ident | None = None
    invite_code: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{8}$",
        description="an inviter's code: accepted with the registration (member programs)")


class ProfileBody(RequestModel):
    birthday: str | None = Field(default=None, pattern=ASCII_DATE, description="YYYY-MM-DD")
    region: ShortText | None = None
    gender: Literal["female", "male", "other"] | None = None
    clear: list[Literal["birthday", "region", "gender"]] = Field(
        default_factory=list, max_length=3, description="opt out: fields to forget")


class LevelBody(RequestModel):
    code: str = LevelCode
    name_zh: ShortText
    name_en: ShortText
    min_growth: int = Field(ge=0, le=10**9)
    discount_bp: int = Field(default=0, ge=0, le=5000)
    points_multiplier_bp: int = Field(default=10_000, ge=0, le=100_000)


class ProgramBody(RequestModel):
    registration_growth: int = Field(ge=0, le=10**6)
    growth_per_yuan: int = Field(ge=0, le=1000)
    points_per_yuan: int = Field(ge=0, le=1000)
    points_expiry_days: int = Field(ge=1, le=3660)
    levels: list[LevelBody] = Field(min_length=1, max_length=20)


class MembersQuery(QueryModel):
    store: Ident | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class PointsQuery(QueryModel):
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)
