"""Request and success bodies of the game routes (OpenAPI components, prefixed ``Game``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..openapi import Ident, QueryModel, RequestModel, ShortText


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GamePrize(Out):
    id: int
    name_zh: str
    name_en: str
    kind: str
    points: int
    fallback: bool
    chance_bp: int = Field(description="chance of the roll landing here, basis points")
    weight: int | None = None
    stock: int | None = None
    issued: int | None = None
    coupon_template_id: int | None = None


class GameLuckyDraw(Out):
    id: int
    store: str | None
    name_zh: str
    name_en: str
    status: str
    starts_at: datetime
    ends_at: datetime
    daily_cap: int
    member_cap: int
    points_cost: int
    prizes: list[GamePrize]
    config_hash: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    went_live_at: datetime | None = None


class GameLuckyDrawList(Out):
    total: int
    items: list[GameLuckyDraw]


class GameDraw(Out):
    id: str
    game_id: int
    request_id: str
    day: str
    outcome: str = Field(description="won | fallback | out_of_stock | unavailable")
    prize_id: int | None
    prize_name_zh: str
    prize_name_en: str
    prize_kind: str
    points_won: int
    points_spent: int
    coupon_id: str | None
    created_at: datetime
    member_id: str | None = None
    day_seq: int | None = None
    roll: int | None = None
    total_weight: int | None = None
    drawn_prize_id: int | None = None
    config_hash: str | None = None


class GameDrawList(Out):
    total: int
    items: list[GameDraw]


class PrizeBody(RequestModel):
    name_zh: ShortText
    name_en: ShortText
    kind: Literal["coupon", "points", "nothing"]
    coupon_template_id: int | None = Field(default=None, ge=1, le=10**15)
    points: int = Field(default=0, ge=0, le=10**6)
    weight: int = Field(ge=0, le=10**6)
    stock: int | None = Field(default=None, ge=0, le=10**7,
                              description="omit only for the fallback prize")
    fallback: bool = False


class LuckyDrawBody(RequestModel):
    store: Ident | None = Field(default=None, description="omit: chain-wide (head office)")
    name_zh: ShortText
    name_en: ShortText
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    daily_cap: int = Field(ge=1, le=100)
    member_cap: int = Field(ge=1, le=10_000)
    points_cost: int = Field(default=0, ge=0, le=10**6)
    prizes: list[PrizeBody] = Field(min_length=1, max_length=20)


class ConfigBody(RequestModel):
    name_zh: ShortText
    name_en: ShortText
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    daily_cap: int = Field(ge=1, le=100)
    member_cap: int = Field(ge=1, le=10_000)
    points_cost: int = Field(default=0, ge=0, le=10**6)
    prizes: list[PrizeBody] = Field(min_length=1, max_length=20)


class DrawBody(RequestModel):
    request_id: Ident = Field(description="idempotency key: a retry returns the same draw")


class GamesQuery(QueryModel):
    store: Ident | None = None
    status: Literal["draft", "live", "ended"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class LiveGamesQuery(QueryModel):
    store: Ident | None = Field(default=None, description="this store's and the chain's")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class DrawsQuery(QueryModel):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10**9)
