"""Request and success bodies of the marketing routes (OpenAPI components, prefixed ``Mkt``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..openapi import Ident, QueryModel, RequestModel, ShortText


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MktTemplate(Out):
    id: int
    store: str | None
    name_zh: str
    name_en: str | None
    kind: str
    value: int
    cap: int | None
    threshold: int
    categories: list[str]
    exclude_categories: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    total_limit: int
    per_user_limit: int
    min_level: str | None
    stackable: bool
    status: str
    issued: int
    used: int
    created_at: datetime


class MktTemplateList(Out):
    total: int
    items: list[MktTemplate]


class MktCoupon(Out):
    id: str
    template_id: int
    name_zh: str
    name_en: str | None
    kind: str
    value: int
    cap: int | None
    threshold: int
    stackable: bool
    status: str
    channel: str
    order_no: str | None
    valid_from: datetime
    valid_until: datetime
    claimed_at: datetime


class MktCouponList(Out):
    total: int
    items: list[MktCoupon]


class MktCouponCode(Out):
    coupon_id: str
    code: str = Field(description="signed coupon code (contract.coupon_codes) for the QR")
    expires_in: int = Field(description="seconds the code is good for")


class MktIssueResult(Out):
    issued: int
    refused: dict[str, str] = Field(description="member id -> why not")


class TemplateBody(RequestModel):
    store: Ident | None = Field(default=None, description="omit: chain-wide (head office)")
    name_zh: ShortText
    name_en: ShortText | None = None
    kind: Literal["fixed", "percentage"]
    value: int = Field(gt=0, le=10**8, description="fen off, or basis points off")
    cap: int | None = Field(default=None, gt=0, le=10**8)
    threshold: int = Field(default=0, ge=0, le=10**9)
    categories: list[Ident] = Field(default_factory=list, max_length=50)
    exclude_categories: list[Ident] = Field(default_factory=list, max_length=50)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    valid_days: int | None = Field(default=None, ge=1, le=3660)
    total_limit: int = Field(ge=1, le=10**7)
    per_user_limit: int = Field(default=1, ge=1, le=100)
    min_level: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,16}$")
    stackable: bool = False


class IssueBody(RequestModel):
    member_ids: list[Ident] = Field(min_length=1, max_length=1000)


class ClaimBody(RequestModel):
    template_id: int = Field(ge=1, le=10**15)


class TemplatesQuery(QueryModel):
    store: Ident | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class MyCouponsQuery(QueryModel):
    status: Literal["unused", "locked", "used", "expired"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)
