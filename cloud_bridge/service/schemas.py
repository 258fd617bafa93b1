"""Success bodies of the customer-service routes (OpenAPI components, prefixed ``Svc``).

As in :mod:`cloud_bridge.responses`: handlers build dicts, these models describe them,
and the schemathesis walk validates real replies against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from common.jsontypes import JsonObject

# Spelled out for the type checker; tests/cloud_bridge/service/test_schemas.py checks them
# against the enums and tables of :mod:`.tickets`, which stay the source.
TicketStatus = Literal["open", "pending", "snoozed", "resolved", "closed"]
TicketChannel = Literal["chat", "kiosk_help", "complaint_form", "wechat_complaint"]
TicketKind = Literal["conversation", "complaint", "suggestion"]
Priority = Literal["low", "normal", "high", "urgent"]
Tier = Literal["regular", "member", "vip"]
Category = Literal["product_quality", "price", "service_attitude", "checkout", "delivery",
                   "hygiene", "environment", "payment", "other"]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SvcTicket(Out):
    id: int
    store: str
    kind: TicketKind
    channel: TicketChannel
    status: TicketStatus
    priority: Priority
    tier: Tier
    category: Category | None
    subject: str
    member_id: str | None
    order_no: str | None
    assignee: str | None
    labels: list[str]
    last_seq: int
    created_at: datetime
    updated_at: datetime
    snoozed_until: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class SvcTicketList(Out):
    total: int
    items: list[SvcTicket]


class SvcNote(Out):
    id: int
    author: str
    text: str
    at: datetime


class SvcTicketEvent(Out):
    at: datetime
    actor: str
    action: str
    detail: JsonObject


class SvcAttachmentRef(Out):
    id: str
    content_type: str
    size: int


class SvcMessage(Out):
    type: Literal["message"]
    conversation_id: int
    seq: int
    sender_kind: Literal["customer", "staff", "system"]
    sender: str
    body: str
    client_msg_id: str | None
    created_at: datetime
    attachment: SvcAttachmentRef | None


class SvcMessageList(Out):
    items: list[SvcMessage]


class SvcTicketDetail(SvcTicket):
    notes: list[SvcNote]
    history: list[SvcTicketEvent]


class SvcPosted(Out):
    conversation_id: int
    seq: int
    client_msg_id: str | None
    new: bool


class SvcCannedReply(Out):
    id: int
    store: str | None
    shortcut: str
    title: str
    body: str


class SvcCannedReplyList(Out):
    items: list[SvcCannedReply]


class SvcAttachment(SvcAttachmentRef):
    sha256: str


class SvcConversation(Out):
    """A conversation as the shopper sees it (no assignee, labels or notes)."""

    id: int
    store: str
    kind: TicketKind
    channel: TicketChannel
    status: TicketStatus
    category: Category | None
    subject: str
    order_no: str | None
    last_seq: int
    created_at: datetime
    updated_at: datetime


class SvcConversationList(Out):
    total: int
    items: list[SvcConversation]


class SvcSlaPolicy(Out):
    priority: Priority
    first_response_min: int
    next_response_min: int
    resolution_min: int


class SvcHours(Out):
    weekday: int
    opens: str
    closes: str


class SvcCalendarDay(Out):
    day: str
    kind: Literal["holiday", "workday"]
    name: str
    as_weekday: int | None


class SvcSlaConfig(Out):
    store: str
    timezone: str | None
    policies: list[SvcSlaPolicy]
    hours: list[SvcHours]
    days: list[SvcCalendarDay]


class SvcClock(Out):
    clock: Literal["first_response", "next_response", "resolution"]
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    breached: bool
    business_minutes_used: int
    business_minutes_left: int


class SvcTicketSla(Out):
    ticket_id: int
    priority: Priority
    clocks: list[SvcClock]


class SvcSweep(Out):
    woken: int
    breaches: int


class SvcCsat(Out):
    conversation_id: int
    score: int
    comment: str | None
    at: datetime


class SvcCsatStats(Out):
    store: str
    responses: int
    average: float | None
    satisfied_pct: float | None
    distribution: dict[str, int]


class SvcCsatAgentStats(SvcCsatStats):
    agent: str


class SvcCsatReport(Out):
    month: str
    stores: list[SvcCsatStats]
    agents: list[SvcCsatAgentStats]


class SvcComplaintRow(Out):
    store: str
    kind: TicketKind
    category: str
    opened: int
    resolved: int
    avg_hours_to_resolve: float | None


class SvcComplaintsReport(Out):
    month: str
    rows: list[SvcComplaintRow]
    totals: dict[str, int]


class SvcSlot(Out):
    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    free: int


class SvcBookableService(Out):
    id: int
    store: str
    name: str
    description: str | None
    book_before_min: int
    cancel_before_min: int
    max_active_per_member: int
    slots: list[SvcSlot]


class SvcBookableServiceList(Out):
    items: list[SvcBookableService]


class SvcBooking(Out):
    id: int
    slot: SvcSlot
    service_id: int
    status: Literal["booked", "cancelled"]
    note: str | None
    created_at: datetime
    cancelled_at: datetime | None


class SvcBookingList(Out):
    items: list[SvcBooking]


class SvcRefundStatus(Out):
    amount: int
    status: Literal["requested", "processing", "succeeded", "failed"]
    status_zh: str
    status_en: str
    requested_at: datetime
    updated_at: datetime


class SvcOrderStatus(Out):
    order_no: str
    store: str
    status: str
    status_zh: str
    status_en: str
    total: int
    refunded_total: int
    currency: str
    carrier: str | None
    tracking_no: str | None
    refunds: list[SvcRefundStatus]
    invoice_status: str | None


class SvcWeekday(Out):
    weekday: int
    weekday_zh: str
    opens: str | None
    closes: str | None


class SvcOpeningDay(Out):
    day: str
    kind: Literal["holiday", "workday"]
    name: str


class SvcOpeningHours(Out):
    store: str
    week: list[SvcWeekday]
    days: list[SvcOpeningDay]



KbCategory = Literal["returns", "payment", "membership", "delivery", "store", "invoice",
                     "products", "other"]
KbStatus = Literal["draft", "published", "archived"]


class SvcKbArticle(Out):
    id: int
    store: str | None
    category: KbCategory
    title: str | None
    body_html: str | None
    updated_at: datetime
    status: KbStatus | None = None
    latest_version: int | None = None
    published_version: int | None = None
    created_by: str | None = None


class SvcKbVersion(Out):
    version: int
    title: str
    body_html: str
    editor: str
    created_at: datetime


class SvcKbArticleDetail(SvcKbArticle):
    versions: list[SvcKbVersion] = []


class SvcKbArticleList(Out):
    items: list[SvcKbArticle]


class SvcKbHit(Out):
    id: int
    category: KbCategory
    title: str
    snippet: str
    score: float | None


class SvcKbHits(Out):
    query: str | None
    items: list[SvcKbHit]


class SvcKbSynonyms(Out):
    groups: list[list[str]]


class SvcAfterSaleLine(Out):
    line_no: int
    qty: int
    amount: int


class SvcRefundRef(Out):
    id: int
    status: str
    amount: int


class SvcAfterSale(Out):
    id: int
    store: str
    order_no: str
    kind: Literal["return", "exchange"]
    reason: str
    description: str | None
    lines: list[SvcAfterSaleLine]
    photos: list[str]
    amount: int
    status: Literal["requested", "approved", "rejected", "cancelled"]
    status_zh: str
    decision_note: str | None
    return_id: int | None
    refund: SvcRefundRef | None
    created_at: datetime
    decided_at: datetime | None


class SvcAfterSaleList(Out):
    items: list[SvcAfterSale]


class SvcAfterSaleRules(Out):
    rules: dict[str, int]
    defect_days: int


class SvcCarrierAck(Out):
    result: bool
    returnCode: str  # Kuaidi100 spells it so
    message: str


class SvcSandboxAdvance(Out):
    pushed: bool
    callback_status: int | None


class SvcTrackEvent(Out):
    at: datetime
    context: str
    area: str | None


class SvcShipment(Out):
    order_no: str
    carrier: str
    tracking_no: str
    state: str
    state_zh: str
    state_en: str
    last_event_at: datetime | None
    delivered_at: datetime | None
    events: list[SvcTrackEvent]


class SvcShipmentList(Out):
    items: list[SvcShipment]


# ------------------------------------------------------------------ community

CommunityStatus = Literal["visible", "held", "hidden", "deleted"]


class SvcCommunityComment(Out):
    id: int
    post_id: int
    store: str | None
    author: str
    mine: bool
    text: str
    status: CommunityStatus
    hidden: bool
    created_at: datetime


class SvcCommunityPost(Out):
    id: int
    store: str | None
    author: str
    mine: bool
    text: str
    images: list[str]
    comments: int
    status: CommunityStatus
    hidden: bool
    created_at: datetime


class SvcCommunityPostList(Out):
    items: list[SvcCommunityPost]


class SvcCommunityPostDetail(SvcCommunityPost):
    comment_items: list[SvcCommunityComment]


class SvcCommunityReport(Out):
    kind: Literal["post", "comment"]
    id: int
    reported: bool


class _Moderation(Out):
    member_id: str
    held_reason: Literal["word", "reports", "staff"] | None
    report_count: int
    moderated_by: str | None
    moderated_at: datetime | None
    moderation_note: str | None


class SvcCommunityPostStaff(SvcCommunityPost, _Moderation):
    pass


class SvcCommunityCommentStaff(SvcCommunityComment, _Moderation):
    pass


class SvcCommunityQueue(Out):
    posts: list[SvcCommunityPostStaff]
    comments: list[SvcCommunityCommentStaff]


class SvcCommunityWord(Out):
    word: str
    action: Literal["block", "review"]


class SvcCommunityWords(Out):
    words: list[SvcCommunityWord]


class SvcWallet(Out):
    member_id: str
    level: str
    points: int
    stored_value: int
    currency: str
