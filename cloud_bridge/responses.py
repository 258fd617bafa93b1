"""What the HTTP API answers: one pydantic model per success response.

Handlers still build plain dicts (no validation cost on every reply); these models
only describe them: :func:`cloud_bridge.openapi.build_document` turns each into a
schema under ``components/schemas``, and the schemathesis test validates real replies
against it (so a handler that drifts from its model fails a test). ``extra="forbid"``
makes the schema list every key (``additionalProperties: false``); a field without a
default is always sent, ``None`` included. Money is integer fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from common.jsontypes import JsonObject

from . import auth, invoices, orders

Role = auth.Role
OrderStatus = orders.OrderStatus
InvoiceStatus = invoices.InvoiceStatus
RefundStatus = Literal["requested", "processing", "succeeded", "failed"]
Fen = int


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- meta, sessions


class Health(ResponseModel):
    status: Literal["ok"]
    worker: str
    mqtt: bool | None = Field(description="MQTT ingest connected; null when MQTT is off")
    rpc_methods: list[str]


class AdminIdentity(ResponseModel):
    username: str
    role: Role
    store: str | None = Field(description="the store of store staff; null for head office")


class AdminSession(AdminIdentity):
    token: str = Field(description="send as Authorization: Bearer <token>")
    expires_at: datetime


class MpSession(ResponseModel):
    token: str = Field(description="send as Authorization: Bearer <token>")
    openid: str
    expires_at: datetime


class Code2SessionOk(ResponseModel):
    openid: str
    session_key: str


class Code2SessionError(ResponseModel):
    errcode: int
    errmsg: str


class Code2SessionReply(RootModel[Code2SessionOk | Code2SessionError]):
    """WeChat's jscode2session answer: the openid, or an error code (HTTP 200 both)."""


# --------------------------------------------------------------------------- orders


class OrderSummary(ResponseModel):
    order_no: str
    store: str
    kiosk: str | None
    source: Literal["kiosk", "mp"]
    fulfillment: Literal["instore", "pickup", "delivery"]
    status: OrderStatus
    currency: str
    total: Fen
    refunded_total: Fen
    business_date: str = Field(description="the store's local calendar day, YYYY-MM-DD")
    created_at: datetime
    updated_at: datetime


class OrderList(ResponseModel):
    total: int = Field(description="orders matching the filter, all pages")
    items: list[OrderSummary]


class OrderLine(ResponseModel):
    line_no: int
    product_id: str
    barcode: str | None
    name_zh: str
    name_en: str | None
    qty: int
    weight_g: int | None
    unit_price: Fen
    discount: Fen
    amount: Fen
    returned_qty: int


class HistoryEntry(ResponseModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None


class StaffHistoryEntry(HistoryEntry):
    actor: str
    detail: JsonObject


class Invoice(ResponseModel):
    id: int
    kind: Literal["personal", "company"]
    title: str
    tax_id: str | None
    email: str
    amount: Fen
    status: InvoiceStatus
    created_at: datetime
    updated_at: datetime
    error: str | None


class InvoiceOfOrder(Invoice):
    order_no: str


class InvoiceListItem(InvoiceOfOrder):
    store: str


class InvoiceList(ResponseModel):
    items: list[InvoiceListItem]


class Refund(ResponseModel):
    id: int
    order_no: str
    out_refund_no: str
    amount: Fen
    currency: str
    reason: str
    status: RefundStatus
    requested_by: str
    created_at: datetime
    updated_at: datetime
    error: str | None


class RefundList(ResponseModel):
    items: list[Refund]


class Note(ResponseModel):
    at: datetime
    author: str
    text: str


class OrderNote(Note):
    order_no: str


class ReturnedLine(ResponseModel):
    line_no: int
    qty: int


class ReturnEntry(ResponseModel):
    id: int
    kind: Literal["return", "exchange"]
    reason: str
    restock: bool
    lines: list[ReturnedLine]
    created_by: str
    created_at: datetime


class ReturnRecorded(ResponseModel):
    id: int
    order_no: str
    kind: Literal["return", "exchange"]
    restock: bool
    lines: list[ReturnedLine]
    order_status: OrderStatus


class OrderDetail(OrderSummary):
    """An order as its shopper sees it (e-receipt): no staff notes, refunds or actors."""

    member_id: str | None
    subtotal: Fen
    discount_total: Fen
    paid_at: datetime | None
    completed_at: datetime | None
    carrier: str | None
    tracking_no: str | None
    shipping_address: JsonObject | None
    details: JsonObject = Field(
        description="kiosk sale details: tenders, vat, coupons, points, catalog_version, ...")
    lines: list[OrderLine]
    # Sequence (covariant): staff see the same entries with more fields each.
    history: Sequence[HistoryEntry]
    invoice: Invoice | None


class StaffOrderDetail(OrderDetail):
    """An order as staff see it: with who did what, notes, refunds and returns."""

    history: Sequence[StaffHistoryEntry]
    notes: list[Note]
    refunds: list[Refund]
    returns: list[ReturnEntry]


# --------------------------------------------------------------------------- stock, alerts


class StockRow(ResponseModel):
    store: str
    product_id: str
    on_hand: int = Field(description="negative means oversold (see alerts)")
    updated_at: datetime | None


class StockAdjusted(StockRow):
    alerts: int = Field(description="alerts the adjustment raised")


class StockList(ResponseModel):
    items: list[StockRow]


class AlertOut(ResponseModel):
    id: int
    kind: str = Field(description="oversell, duplicate_order_no, ...")
    store: str
    kiosk: str | None
    product_id: str | None
    order_no: str | None
    detail: JsonObject
    created_at: datetime
    resolved: bool


class AlertList(ResponseModel):
    items: list[AlertOut]


class DailyStats(ResponseModel):
    store: str
    date: str = Field(description="business day, YYYY-MM-DD")
    currency: str
    orders: int
    revenue: Fen
    average_order_value: Fen
    refunds: Fen
    refunded_orders: int
    net_revenue: Fen


class DailyStatsList(ResponseModel):
    items: list[DailyStats]


# --------------------------------------------------------------------------- fleet


class StaffCallOut(ResponseModel):
    """A kiosk's staff call (呼叫店员), open until staff answer it at the kiosk."""

    store: str
    kiosk: str
    call_id: str
    active: bool
    reason: str
    called_at: datetime
    answered_at: datetime | None
    answered_by: str | None


class StaffCallList(ResponseModel):
    items: list[StaffCallOut]


class KioskRow(ResponseModel):
    store: str
    kiosk: str
    state: Literal["unknown", "online", "offline"]
    state_since: datetime | None
    state_reason: str | None
    version: str | None
    boot_time: datetime | None
    last_seen: datetime | None
    last_seq: int | None
    queue_depth: int | None
    oldest_unsent_s: float | None = Field(description="age of the oldest unsent event, now")
    dead_letters: int | None
    printer: str | None
    paper: str | None
    camera: str | None
    offline_health: str | None
    catalog_version: str | None
    config_version: int | None
    desired_version: int | None
    telemetry_at: datetime | None
    staff_call: StaffCallOut | None = Field(default=None, description="an open 呼叫店员")


class FleetList(ResponseModel):
    items: list[KioskRow]


class CommandResultOut(ResponseModel):
    cmd_id: str
    ok: bool
    result: JsonObject | None
    error: str | None
    received_at: datetime


class KioskDetail(KioskRow):
    telemetry: JsonObject | None
    reported: JsonObject | None
    reported_at: datetime | None
    desired: JsonObject | None
    command_results: list[CommandResultOut]


class CommandSent(ResponseModel):
    cmd_id: str
    name: str
    store: str
    kiosk: str
    expires_at: datetime


class KioskShadow(ResponseModel):
    desired_version: int | None
    desired: JsonObject | None
    reported: JsonObject | None
    config_version: int | None


class ShadowPublished(ResponseModel):
    store: str
    kiosk: str
    version: int


# --------------------------------------------------------------------------- catalog


class CatalogVersion(ResponseModel):
    store: str
    version: str
    sha256: str
    size: int = Field(description="bytes of the canonical JSON")
    created_at: datetime
    created_by: str
    current: bool
    url: str = Field(description="where kiosks download it")


class CatalogPublished(CatalogVersion):
    announced: bool = Field(description="pointer published now (else at the next connect)")


# --------------------------------------------------------------------------- payments


class StoredValueEntryOut(ResponseModel):
    key: str
    delta: Fen
    balance_after: Fen
    shortfall: Fen
    offline: bool
    at: datetime


class MemberTopUp(ResponseModel):
    member_id: str
    balance: Fen
    currency: str


class MemberBalance(MemberTopUp):
    entries: list[StoredValueEntryOut] = Field(description="latest first")


OPENAPI_DOCUMENT_SCHEMA = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
                   "paths": {"type": "object"}, "components": {"type": "object"}},
}
