"""Request, query and response models of the analytics routes (they become the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from cloud_bridge.openapi import Ident, IsoDate, QueryModel, RequestModel, ShortText

from .demographics import MIN_GROUP_SIZE, Dimension
from .events import Channel, MpEventType
from .mining import Segment

Page = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]+$")]
Cell = str | int | float | bool | None


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- queries


class MetricQuery(QueryModel):
    start: IsoDate | None = Field(default=None, description="first business day (default: "
                                  "7 days before end)")
    end: IsoDate | None = Field(default=None, description="last business day (default: "
                                "yesterday)")
    store: Ident | None = None
    category: ShortText | None = None
    channel: Channel | None = None
    by: Literal["store", "day", "channel", "kiosk", "method"] | None = Field(
        default=None, description="grouping for average_order_value, repurchase_rate, "
                                  "conversion_funnel, kiosk_sessions")


class MembersQuery(QueryModel):
    segment: Segment | None = None
    churned: bool | None = None
    store: Ident | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class StoreQuery(QueryModel):
    store: Ident | None = None


class DemographicsQuery(QueryModel):
    by: Dimension = Field(
        description="gender, age_band or region (only members who gave it)")
    store: Ident | None = Field(default=None, description="members whose preferred store it is")
    segment: Segment | None = None
    min_group: int = Field(default=MIN_GROUP_SIZE, ge=MIN_GROUP_SIZE, le=10_000,
                           description=f"smallest group shown (at least {MIN_GROUP_SIZE})")


class ListQuery(QueryModel):
    product_id: Ident | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class PeriodQuery(QueryModel):
    start: IsoDate | None = None
    end: IsoDate | None = None
    limit: int = Field(default=20, ge=1, le=200)


class ForecastQuery(QueryModel):
    store: Ident | None = Field(default=None, description="required for chain-wide callers")
    product_id: Ident | None = None
    days: int = Field(default=14, ge=1, le=14)
    limit: int = Field(default=200, ge=1, le=5000)


class RunsQuery(QueryModel):
    limit: int = Field(default=10, ge=1, le=100)


# --------------------------------------------------------------------------- bodies


class CampaignBody(RequestModel):
    start: IsoDate
    end: IsoDate
    products: list[Ident] = Field(default_factory=list, max_length=1000)
    stores: list[Ident] = Field(default_factory=list, max_length=100)
    control_stores: list[Ident] = Field(default_factory=list, max_length=100)
    cost: int = Field(default=0, ge=0, le=10**12, description="fen besides discounts")


class RunBody(RequestModel):
    as_of: IsoDate | None = Field(default=None, description="last business day to include "
                                  "(default: yesterday)")


class MpEvent(BaseModel):
    """One mini-program event; fields of a newer schema version are ignored."""

    model_config = ConfigDict(extra="ignore")
    event_id: Ident
    type: MpEventType
    at: AwareDatetime
    session_id: Ident | None = None
    store: Ident | None = None
    page: Page | None = None
    keyword: ShortText | None = None
    result_count: int | None = Field(default=None, ge=0, le=10**6)
    channel: Channel | None = None
    campaign: ShortText | None = None
    sharer: Ident | None = Field(default=None, description="openid of the member who shared")


class MpEventsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    v: int = Field(ge=1, le=99, description="event schema version (1)")
    events: list[MpEvent] = Field(min_length=1, max_length=100)


# --------------------------------------------------------------------------- responses


class MetricTable(ResponseModel):
    metric: str
    start: str
    end: str
    store: str | None
    columns: list[str]
    rows: list[dict[str, Cell]]


class Table(ResponseModel):
    columns: list[str]
    rows: list[dict[str, Cell]]


class DemographicsTable(ResponseModel):
    by: str
    store: str | None
    min_group: int
    withheld_groups: int = Field(description="groups smaller than min_group (not shown)")
    columns: list[str]
    rows: list[dict[str, Cell]]


class KeywordReport(ResponseModel):
    start: str
    end: str
    top: Table
    rising: Table
    zero_result: Table


class PriceIndex(ResponseModel):
    categories: Table
    above_market: Table


class Imported(ResponseModel):
    competitor: str
    rows: int


class EventsStored(ResponseModel):
    stored: int
    duplicates: int


class Run(ResponseModel):
    id: int
    period: str
    trigger: str
    status: Literal["running", "done", "failed"]
    step: str
    progress: float
    started_at: datetime
    finished_at: datetime | None
    requested_by: str | None
    detail: dict[str, dict[str, float]] | None
    error: str | None


class Runs(ResponseModel):
    runs: list[Run]
