"""Request and response models of the supply API (``/api/v1/admin/supply/...``).

Response models only describe what handlers send (the schemathesis test checks real
replies against them); money is integer fen excluding VAT unless named otherwise.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud_bridge.openapi import Ident, IsoDate, QueryModel, RequestModel, ShortText, Text

from .alerts import KINDS, STATES
from .aql import AQL_COLUMNS
from .purchasing import STATUSES

MAX_QTY = 10**9
MAX_FEN = 10**12
Qty = Field(ge=1, le=MAX_QTY)
AlertKind = Literal[KINDS]  # type: ignore[valid-type]
AlertState = Literal[STATES]  # type: ignore[valid-type]
PoStatus = Literal[STATUSES]  # type: ignore[valid-type]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- requests


class SupplyStoreQuery(QueryModel):
    store: Ident | None = None
    product_id: Ident | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SupplyAlertQuery(QueryModel):
    store: Ident | None = None
    state: AlertState | None = None  # type: ignore[valid-type]
    kind: AlertKind | None = None  # type: ignore[valid-type]
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SupplyPoQuery(QueryModel):
    store: Ident | None = None
    status: PoStatus | None = None  # type: ignore[valid-type]
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SupplyWriteOffBody(RequestModel):
    product_id: Ident
    lot_no: Ident
    qty: int = Qty
    reason: Text


class SupplyCountLine(RequestModel):
    product_id: Ident
    lot_no: Ident
    expiry_date: IsoDate | None = None
    counted: int = Field(ge=0, le=MAX_QTY)


class SupplyCountBody(RequestModel):
    lines: list[SupplyCountLine] = Field(min_length=1, max_length=500)


class SupplyTransferLine(RequestModel):
    product_id: Ident
    qty: int = Qty
    lot_no: Ident | None = None


class SupplyTransferBody(RequestModel):
    from_store: Ident
    to_store: Ident
    lines: list[SupplyTransferLine] = Field(min_length=1, max_length=200)


class SupplyAlertStateBody(RequestModel):
    state: Literal["acknowledged", "resolved"]


class SupplyDayBody(RequestModel):
    date: IsoDate | None = Field(default=None, description="the store's day; default today")


class SupplySupplierBody(RequestModel):
    name: Text
    lead_time_days: int = Field(ge=0, le=365)
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    contact: Text | None = None
    active: bool = True


class SupplyQualificationBody(RequestModel):
    number: ShortText
    expires_on: IsoDate


class SupplySupplierProductBody(RequestModel):
    cost_fen: int = Field(ge=0, le=MAX_FEN)
    pack_size: int = Field(default=1, ge=1, le=100000)


class SupplyProductBody(RequestModel):
    name_zh: Text
    name_en: Text | None = None
    category: ShortText | None = None
    shelf_life_days: int | None = Field(default=None, ge=1, le=3650)
    near_expiry_days: int | None = Field(default=None, ge=0, le=365)
    vat_rate_bp: int = Field(default=1300, ge=0, le=10000)


class SupplyContractPrice(RequestModel):
    product_id: Ident
    price_fen: int = Field(ge=0, le=MAX_FEN)
    committed_qty: int = Field(default=0, ge=0, le=MAX_QTY)


class SupplyContractBody(RequestModel):
    supplier_id: Ident
    number: Ident
    terms: Text
    starts_on: IsoDate
    ends_on: IsoDate
    renewal_notice_days: int = Field(default=30, ge=0, le=365)
    prices: list[SupplyContractPrice] = Field(min_length=1, max_length=1000)


class SupplyRuleBody(RequestModel):
    supplier_id: Ident | None = None
    min_qty: int = Field(default=0, ge=0, le=MAX_QTY)
    max_qty: int = Field(default=0, ge=0, le=MAX_QTY, description="0: no cap")
    multiple: int = Field(default=1, ge=1, le=100000)
    lead_time_days: int | None = Field(default=None, ge=0, le=365)
    service_z: float = Field(default=1.65, ge=0, le=4)
    ordering_cost_fen: int | None = Field(default=None, ge=0, le=MAX_FEN)
    holding_rate_per_year: float = Field(default=0.25, ge=0, le=5)
    overstock_days: int = Field(default=60, ge=1, le=3650)


class SupplyPoLineIn(RequestModel):
    product_id: Ident
    qty: int = Qty


class SupplyPoBody(RequestModel):
    store: Ident
    supplier_id: Ident
    lines: list[SupplyPoLineIn] = Field(min_length=1, max_length=500)


class SupplyPoActionBody(RequestModel):
    action: Literal["rfq", "approve", "send", "cancel", "close_short"]
    reason: Text | None = None


class SupplyQuoteLine(RequestModel):
    product_id: Ident
    unit_cost_fen: int = Field(ge=1, le=MAX_FEN)


class SupplyQuoteBody(RequestModel):
    prices: list[SupplyQuoteLine] = Field(min_length=1, max_length=500)


class SupplyLotIn(RequestModel):
    product_id: Ident
    lot_no: Ident
    expiry_date: IsoDate | None = None
    qty: int = Qty
    defects: int = Field(default=0, ge=0, le=MAX_QTY,
                         description="nonconforming items found in the inspection sample")


class SupplyReceiptBody(RequestModel):
    lots: list[SupplyLotIn] = Field(min_length=1, max_length=500)


class SupplyBillLine(RequestModel):
    product_id: Ident
    qty: int = Qty
    unit_cost_fen: int = Field(ge=0, le=MAX_FEN)


class SupplyBillBody(RequestModel):
    bill_no: Ident
    lines: list[SupplyBillLine] = Field(min_length=1, max_length=500)
    vat_fen: int = Field(ge=0, le=MAX_FEN)


class SupplyReturnLine(RequestModel):
    product_id: Ident
    lot_no: Ident
    qty: int = Qty


class SupplyReturnBody(RequestModel):
    reason: Text
    lines: list[SupplyReturnLine] = Field(min_length=1, max_length=200)


class SupplyShipmentBody(RequestModel):
    carrier: ShortText
    tracking_no: Ident
    expected_at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)$",
                             description="ISO 8601 with offset")


class SupplyShipmentUpdateBody(RequestModel):
    status: Literal["booked", "in_transit", "delivered", "exception"]
    expected_at: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)$")


class SupplySettingsBody(RequestModel):
    approval_limit_fen: int = Field(ge=0, le=MAX_FEN)
    near_expiry_days: int = Field(ge=0, le=365)
    qualification_warning_days: int = Field(ge=0, le=365)
    price_tolerance_bp: int = Field(ge=0, le=10000)
    qty_tolerance: int = Field(ge=0, le=10**6)
    amount_tolerance_fen: int = Field(ge=0, le=10**9)
    otif_threshold: float = Field(ge=0, le=1)
    otif_min_receipts: int = Field(ge=1, le=1000)
    price_rise_threshold_bp: int = Field(ge=0, le=100000)
    aql: Literal[AQL_COLUMNS]  # type: ignore[valid-type]
    inspection_level: Literal["I", "II", "III"]
    timezone: Literal["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Macau", "UTC"]


# --------------------------------------------------------------------------- responses


class SupplyLotOut(Out):
    store: str
    location: str
    product_id: str
    lot_no: str
    expiry_date: str | None
    qty: int
    unit_cost_fen: int | None


class SupplyLotList(Out):
    items: list[SupplyLotOut]


class SupplyMovementOut(Out):
    id: int
    store: str
    location: str
    product_id: str
    lot_no: str | None
    qty: int
    kind: str
    doc_type: str
    doc_id: str
    shortfall: int
    actor: str | None
    at: str


class SupplyMovementList(Out):
    items: list[SupplyMovementOut]


class SupplyTakenOut(Out):
    lot_no: str | None
    expiry_date: str | None
    qty: int


class SupplyWriteOffOut(Out):
    store: str
    product_id: str
    taken: list[SupplyTakenOut]


class SupplyCountLineOut(Out):
    product_id: str
    lot_no: str
    expected: int
    counted: int
    variance: int


class SupplyCountOut(Out):
    id: int
    store: str
    status: str
    lines: list[SupplyCountLineOut]
    created_by: str
    created_at: str


class SupplyTransferLineOut(Out):
    product_id: str
    lot_no: str | None
    qty: int
    expiry_date: str | None
    unit_cost_fen: int | None


class SupplyTransferOut(Out):
    id: int
    from_store: str
    to_store: str
    status: Literal["in_transit", "received"]
    lines: list[SupplyTransferLineOut]
    created_by: str
    created_at: str
    received_at: str | None


class SupplyTransferList(Out):
    items: list[SupplyTransferOut]


class SupplyAlertOut(Out):
    id: int
    kind: AlertKind  # type: ignore[valid-type]
    store: str | None
    subject: str
    product_id: str | None
    supplier_id: str | None
    state: AlertState  # type: ignore[valid-type]
    detail: dict[str, Any]
    created_at: str
    updated_at: str
    updated_by: str | None


class SupplyAlertList(Out):
    items: list[SupplyAlertOut]


class SupplySettingsOut(Out):
    approval_limit_fen: int
    near_expiry_days: int
    qualification_warning_days: int
    price_tolerance_bp: int
    qty_tolerance: int
    amount_tolerance_fen: int
    otif_threshold: float
    otif_min_receipts: int
    price_rise_threshold_bp: int
    aql: str
    inspection_level: str
    timezone: str


class SupplyQualificationOut(Out):
    kind: str
    number: str
    expires_on: str


class SupplySupplierProductOut(Out):
    supplier_id: str
    product_id: str
    cost_fen: int
    pack_size: int
    previous_cost_fen: int | None


class SupplyScorecard(Out):
    supplier_id: str
    receipts: int
    on_time_rate: float | None
    in_full_rate: float | None
    otif_rate: float | None
    defect_rate: float | None
    units_sampled: int
    lead_time_mean_days: float | None
    lead_time_std_days: float | None


class SupplySupplierOut(Out):
    id: str
    name: str
    lead_time_days: int
    payment_terms_days: int
    contact: str | None
    active: bool


class SupplySupplierDetail(SupplySupplierOut):
    qualifications: list[SupplyQualificationOut]
    products: list[SupplySupplierProductOut]
    scorecard: SupplyScorecard
    balance_fen: int = Field(description="owed to the supplier, VAT included")


class SupplySupplierList(Out):
    items: list[SupplySupplierOut]


class SupplyProductOut(Out):
    product_id: str
    name_zh: str
    name_en: str | None
    category: str | None
    shelf_life_days: int | None
    near_expiry_days: int | None
    vat_rate_bp: int


class SupplyFulfilmentLine(Out):
    product_id: str
    price_fen: int
    committed_qty: int
    received_qty: int
    fulfilment: float | None
    average_price_fen: int | None


class SupplyContractOut(Out):
    contract_id: int
    number: str
    supplier_id: str
    starts_on: str
    ends_on: str
    lines: list[SupplyFulfilmentLine]


class SupplyRuleOut(Out):
    store: str
    product_id: str
    supplier_id: str | None
    min_qty: int
    max_qty: int
    multiple: int
    lead_time_days: int | None
    service_z: float
    ordering_cost_fen: int | None
    holding_rate_per_year: float
    overstock_days: int


class SupplyRuleList(Out):
    items: list[SupplyRuleOut]


class SupplyPoLineOut(Out):
    product_id: str
    qty: int
    unit_cost_fen: int
    vat_rate_bp: int
    qty_received: int
    qty_accepted: int
    qty_returned: int


class SupplyPoOut(Out):
    id: int
    store: str
    supplier_id: str
    status: PoStatus  # type: ignore[valid-type]
    source: str
    contract_id: int | None
    currency: str
    proposal_date: str | None
    expected_on: str | None
    total_fen: int
    created_by: str
    created_at: str
    lines: list[SupplyPoLineOut]
    history: list[dict[str, Any]]


class SupplyPoList(Out):
    items: list[SupplyPoOut]


class SupplyInspection(Out):
    aql: str
    level: str
    code_letter: str | None
    sample_size: int
    ac: int
    re: int
    defects: int
    decision: Literal["accept", "reject"]


class SupplyReceiptLineOut(Out):
    product_id: str
    lot_no: str
    expiry_date: str | None
    qty: int
    accepted: int
    unit_cost_fen: int
    vat_rate_bp: int
    inspection: SupplyInspection


class SupplyReceiptOut(Out):
    id: int
    po_id: int
    store: str
    supplier_id: str
    on_time: bool | None
    in_full: bool | None
    lead_time_days: float | None
    lines: list[SupplyReceiptLineOut]
    po_status: PoStatus  # type: ignore[valid-type]


class SupplyBillOut(Out):
    id: int
    po_id: int
    supplier_id: str
    bill_no: str
    amount_fen: int
    vat_fen: int
    status: Literal["matched", "mismatch", "paid"]
    problems: list[str]
    paid_at: str | None


class SupplyReturnLineOut(Out):
    product_id: str
    lot_no: str
    qty: int
    unit_cost_fen: int


class SupplyReturnOut(Out):
    id: int
    receipt_id: int
    supplier_id: str
    store: str
    reason: str
    credit_fen: int = Field(description="VAT included")
    lines: list[SupplyReturnLineOut]


class SupplyShipmentOut(Out):
    id: int
    po_id: int
    store: str
    carrier: str
    tracking_no: str
    status: Literal["booked", "in_transit", "delivered", "exception"]
    expected_at: str
    updated_at: str


class SupplyArrival(Out):
    po_id: int
    store: str
    supplier_id: str
    status: PoStatus  # type: ignore[valid-type]
    expected_on: str | None
    shipments: list[SupplyShipmentOut]


class SupplyArrivalList(Out):
    items: list[SupplyArrival]


class SupplyProposalOut(Out):
    store: str
    date: str
    created: bool = Field(description="false: the day's run had already happened")
    purchase_orders: list[SupplyPoOut]
