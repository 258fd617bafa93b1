"""Request and success bodies of the campaign, flash-sale and group-buying routes
(OpenAPI components, prefixed ``Mkt``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..openapi import Ident, QueryModel, RequestModel, ShortText

Level = Field(pattern=r"^[a-z0-9_]{1,16}$")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierBody(RequestModel):
    threshold: int = Field(gt=0, le=10**9, description="fen the eligible goods must reach")
    off: int = Field(gt=0, le=10**9, description="fen off at that threshold")


class CampaignBody(RequestModel):
    store: Ident | None = Field(default=None, description="omit: chain-wide (head office)")
    kind: Literal["full_reduction", "holiday", "new_product", "member_only"]
    name_zh: ShortText
    name_en: ShortText | None = None
    starts_at: AwareDatetime | None = Field(default=None, description="omit: now")
    ends_at: AwareDatetime | None = Field(default=None, description="exclusive; omit: open")
    member_levels: list[Ident] = Field(default_factory=list, max_length=20)
    products: list[Ident] = Field(default_factory=list, max_length=500)
    categories: list[Ident] = Field(default_factory=list, max_length=50)
    exclude_categories: list[Ident] = Field(default_factory=list, max_length=50)
    off_bp: int | None = Field(default=None, gt=0, le=10000, description="2000 = 20 % off")
    price: int | None = Field(default=None, ge=0, le=10**9, description="fen per unit")
    tiers: list[TierBody] = Field(default_factory=list, max_length=10)


class CampaignsQuery(QueryModel):
    store: Ident | None = None
    status: Literal["scheduled", "running", "ended"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class MktTier(Out):
    threshold: int
    off: int


class MktCampaign(Out):
    id: int
    campaign_id: str = Field(description="its id in price books and order discounts")
    store: str | None
    kind: str
    name_zh: str
    name_en: str | None
    status: str = Field(description="scheduled, running or ended")
    starts_at: datetime | None
    ends_at: datetime | None
    ended_at: datetime | None
    member_levels: list[str]
    products: list[str]
    categories: list[str]
    exclude_categories: list[str]
    off_bp: int | None
    price: int | None
    tiers: list[MktTier]
    created_by: str
    created_at: datetime
    republished: list[str] = Field(
        default_factory=list, description="stores whose price book was republished with it")


class MktCampaignList(Out):
    total: int
    items: list[MktCampaign]


class MktCampaignResults(Out):
    id: int
    campaign_id: str
    orders: int = Field(description="sold orders that got the campaign's discount")
    revenue: int = Field(description="fen those orders brought in, refunds taken off")
    discount_cost: int = Field(description="fen the campaign gave on them")
    members: int = Field(description="distinct members among them")
    new_members: int = Field(description="members who registered in its stores during it")
    eligible_orders: int = Field(description="sold orders in its stores during it")
    redemption_rate: float = Field(description="orders / eligible_orders")


# --------------------------------------------------------------------------- deals


class DealBody(RequestModel):
    store: Ident | None = Field(default=None, description="omit: chain-wide (head office)")
    product_id: Ident
    name_zh: ShortText
    name_en: ShortText | None = None
    list_price: int = Field(gt=0, le=10**9, description="fen, the usual price")
    price: int = Field(gt=0, le=10**9, description="fen, the deal price")
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class FlashSaleBody(DealBody):
    stock: int = Field(ge=1, le=10**6)
    per_user_limit: int = Field(default=1, ge=1, le=100)


class GroupDealBody(DealBody):
    group_size: int = Field(ge=2, le=50)
    group_ttl_s: int = Field(ge=60, le=7 * 86400, description="how long a group may form")


class DealsQuery(QueryModel):
    store: Ident | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class ShopDealsQuery(QueryModel):
    store: Ident = Field(description="the store the shopper picked")


class MktDeal(Out):
    id: int
    store: str | None
    product_id: str
    name_zh: str
    name_en: str | None
    list_price: int
    price: int
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    state: str = Field(description="scheduled, live or ended")


class MktFlashSale(MktDeal):
    stock: int
    sold: int = Field(description="units held by unpaid and paid orders")
    per_user_limit: int


class MktFlashSaleList(Out):
    total: int
    items: list[MktFlashSale]


class MktGroupDeal(MktDeal):
    group_size: int
    group_ttl_s: int
    groups: dict[str, int] = Field(default_factory=dict, description="groups by status")


class MktGroupDealList(Out):
    total: int
    items: list[MktGroupDeal]


class BuyBody(RequestModel):
    qty: int = Field(default=1, ge=1, le=100)
    store: Ident | None = Field(default=None, description="for a chain-wide sale")


class OpenGroupBody(RequestModel):
    store: Ident | None = Field(default=None, description="for a chain-wide deal")


class MktDealOrder(Out):
    order_no: str
    total: int
    group_id: int | None = None


class MktGroup(Out):
    id: int
    deal_id: int
    store: str
    name_zh: str
    price: int
    size: int
    seats: int
    status: str = Field(description="forming, complete or failed")
    expires_at: datetime
    mine: bool = Field(description="the caller is in this group")
