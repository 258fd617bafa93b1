"""Response models of the supply API: what handlers send, described for the OpenAPI
document (the schemathesis test checks real replies against them). Money is integer fen."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.jsontypes import JsonObject

from .alerts import AlertKind, AlertState
from .purchasing import PoStatus


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")



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
    kind: AlertKind
    store: str | None
    subject: str
    product_id: str | None
    supplier_id: str | None
    state: AlertState
    detail: JsonObject
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
    status: PoStatus
    source: str
    contract_id: int | None
    currency: str
    proposal_date: str | None
    expected_on: str | None
    total_fen: int
    created_by: str
    created_at: str
    lines: list[SupplyPoLineOut]
    history: list[JsonObject]


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
    po_status: PoStatus


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
    status: PoStatus
    expected_on: str | None
    shipments: list[SupplyShipmentOut]


class SupplyArrivalList(Out):
    items: list[SupplyArrival]


class SupplyProposalOut(Out):
    store: str
    date: str
    created: bool = Field(description="false: the day's run had already happened")
    purchase_orders: list[SupplyPoOut]
