"""Request and success bodies of the member programs' routes (OpenAPI components, ``Mem``):
paid membership, referrals, surveys, the points exchange."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ..openapi import Ident, QueryModel, RequestModel, ShortText, Text
from .schemas import Out

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
Fen = Field(ge=1, le=10**8, description="fen")

# ---------------------------------------------------------------- paid membership


class MemPlan(Out):
    id: int
    code: str
    name_zh: str
    name_en: str
    level: str
    price: int = Field(description="fen")
    renewal_price: int = Field(description="fen")
    duration_days: int
    status: str
    created_at: datetime


class MemPlanList(Out):
    items: list[MemPlan]


class MemShopperPlan(MemPlan):
    my_price: int = Field(description="what the caller pays now (fen): renewal or first")
    renewal: bool


class MemShopperPlanList(Out):
    items: list[MemShopperPlan]


class MemPaidStatus(Out):
    active: bool
    plan_id: int | None
    level: str | None
    ends_at: datetime | None


class MemPurchase(Out):
    id: int
    plan_id: int
    order_no: str = Field(description="pay it with POST /api/v1/mp/orders/{order_no}/pay "
                                      "or .../pay/stored-value")
    store: str
    price: int
    renewal: bool
    status: str
    order_status: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime


class MemMyPaid(Out):
    membership: MemPaidStatus
    purchases: list[MemPurchase]


class MemPaidRow(Out):
    member_id: str
    home_store: str | None
    membership: MemPaidStatus


class MemPaidList(Out):
    total: int
    items: list[MemPaidRow]


class MemProgramsSync(Out):
    activated: int
    cancelled: int
    refunded: int
    ended: int
    first_purchases_rewarded: int
    renewal_reminders: int


class PlanBody(RequestModel):
    code: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    name_zh: ShortText
    name_en: ShortText
    level: str = Field(pattern=r"^[a-z0-9_]{1,16}$")
    price: int = Fen
    renewal_price: int = Fen
    duration_days: int = Field(ge=1, le=3660)


class PlanPatch(RequestModel):
    name_zh: ShortText | None = None
    name_en: ShortText | None = None
    level: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,16}$")
    price: int | None = Field(default=None, ge=1, le=10**8)
    renewal_price: int | None = Field(default=None, ge=1, le=10**8)
    duration_days: int | None = Field(default=None, ge=1, le=3660)
    status: Literal["active", "retired"] | None = None


class PurchaseBody(RequestModel):
    store: Ident = Field(description="the store the purchase is booked to")


class PaidQuery(QueryModel):
    store: Ident | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class AdjustBody(RequestModel):
    member_id: Ident
    points: int = Field(ge=-10**7, le=10**7, description="added (>0) or taken (<0)")
    reason: ShortText
    key: Ident = Field(description="idempotency key: the same key never counts twice")


class MemAdjusted(Out):
    member_id: str
    points: int
    applied: bool
    balance: int


# ---------------------------------------------------------------- referrals


class MemReferralReward(Out):
    event: str
    beneficiary: str
    member_id: str
    points: int
    coupon_id: str | None
    status: str
    note: str | None
    created_at: datetime


class MemMyReferral(Out):
    code: str = Field(description="my invitation code, for the share card")
    invited_by: str | None = Field(description="my inviter's member id")
    invitees: int
    rewards: list[MemReferralReward]


class MemReferralAccepted(Out):
    inviter_id: str
    rewards: list[MemReferralReward]


class MemReferralRule(Out):
    event: str
    beneficiary: str
    points: int
    coupon_template_id: int | None


class MemReferralRules(Out):
    items: list[MemReferralRule]


class MemReferralRow(Out):
    id: int
    inviter_id: str
    invitee_id: str
    invitee_home_store: str | None
    first_order_no: str | None
    created_at: datetime


class MemReferralList(Out):
    total: int
    items: list[MemReferralRow]


class AcceptBody(RequestModel):
    code: str = Field(pattern=r"^[A-Za-z0-9]{8}$")


class RuleBody(RequestModel):
    event: Literal["register", "first_purchase"]
    beneficiary: Literal["inviter", "invitee"]
    points: int = Field(default=0, ge=0, le=10**6)
    coupon_template_id: int | None = Field(default=None, ge=1, le=10**15)


class RulesBody(RequestModel):
    items: list[RuleBody] = Field(max_length=4)


# ---------------------------------------------------------------- surveys


class MemSurvey(Out):
    id: int
    store: str | None
    kind: str
    title_zh: str
    title_en: str
    question_zh: str
    question_en: str
    scale_min: int
    scale_max: int
    answer_days: int
    status: str
    created_at: datetime


class MemSurveyList(Out):
    total: int
    items: list[MemSurvey]


class MemSurveyToAnswer(Out):
    survey: MemSurvey
    order_no: str
    store: str
    paid_at: datetime


class MemSurveysToAnswer(Out):
    items: list[MemSurveyToAnswer]


class MemSurveyAnswer(Out):
    id: int
    survey_id: int
    order_no: str
    store: str
    month: str
    score: int
    comment: str | None
    created_at: datetime


class MemSurveyAnswers(Out):
    items: list[MemSurveyAnswer]


class MemSurveyResult(Out):
    store: str
    month: str
    responses: int
    mean: float | None
    promoters: int | None = None
    passives: int | None = None
    detractors: int | None = None
    nps: float | None = Field(default=None, description="% promoters - % detractors")
    satisfied: int | None = None
    csat: float | None = Field(default=None, description="% of answers 4 or 5")


class MemSurveyResults(Out):
    survey: MemSurvey
    items: list[MemSurveyResult]


class SurveyBody(RequestModel):
    store: Ident | None = Field(default=None, description="omit: chain-wide (head office)")
    kind: Literal["nps", "csat"]
    title_zh: ShortText
    title_en: ShortText
    question_zh: Text = Field(max_length=200)
    question_en: Text = Field(max_length=200)
    answer_days: int = Field(default=14, ge=1, le=365)


class AnswerBody(RequestModel):
    order_no: Ident
    score: int = Field(ge=0, le=10, description="NPS 0-10, CSAT 1-5")
    comment: Text | None = None


class SurveysQuery(QueryModel):
    store: Ident | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class ResultsQuery(QueryModel):
    store: Ident | None = None
    month: str | None = Field(default=None, pattern=MONTH, description="YYYY-MM")


# ---------------------------------------------------------------- points exchange


class MemExchangeItem(Out):
    id: int
    store: str | None
    kind: str
    coupon_template_id: int | None
    product_id: str | None
    name_zh: str
    name_en: str
    points: int
    stock: int
    left: int
    per_member_limit: int
    status: str
    created_at: datetime


class MemExchangeItemList(Out):
    total: int
    items: list[MemExchangeItem]


class MemExchange(Out):
    id: int
    item_id: int
    member_id: str
    request_id: str
    points: int
    store: str | None
    coupon_id: str | None
    status: str
    handed_over_at: datetime | None
    created_at: datetime


class MemExchangeList(Out):
    total: int
    items: list[MemExchange]


class ItemBody(RequestModel):
    store: Ident | None = Field(default=None, description="omit: chain-wide coupon item")
    kind: Literal["coupon", "product"]
    coupon_template_id: int | None = Field(default=None, ge=1, le=10**15)
    product_id: Ident | None = None
    name_zh: ShortText
    name_en: ShortText
    points: int = Field(ge=1, le=10**7)
    stock: int = Field(ge=1, le=10**7)
    per_member_limit: int = Field(default=1, ge=1, le=100)


class ItemStatusBody(RequestModel):
    status: Literal["active", "paused"]


class ExchangeBody(RequestModel):
    item_id: int = Field(ge=1, le=10**15)
    request_id: Ident = Field(description="idempotency key: a retry returns the first answer")


class ItemsQuery(QueryModel):
    store: Ident | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)


class ExchangesQuery(QueryModel):
    store: Ident | None = None
    status: Literal["issued", "awaiting_pickup", "picked_up"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=10**9)
