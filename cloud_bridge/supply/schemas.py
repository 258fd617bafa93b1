"""Request models of the supply API (``/api/v1/admin/supply/...``): bodies and queries,
validated before a handler runs. Money is integer fen excluding VAT.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cloud_bridge.openapi import Ident, IsoDate, QueryModel, RequestModel, ShortText, Text

from .alerts import AlertKind, AlertState
from .aql import AqlColumn
from .purchasing import PoStatus

MAX_QTY = 10**9
MAX_FEN = 10**12
Qty = Field(ge=1, le=MAX_QTY)


# --------------------------------------------------------------------------- requests


class SupplyStoreQuery(QueryModel):
    store: Ident | None = None
    product_id: Ident | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SupplyAlertQuery(QueryModel):
    store: Ident | None = None
    state: AlertState | None = None
    kind: AlertKind | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SupplyPoQuery(QueryModel):
    store: Ident | None = None
    status: PoStatus | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class SupplyWriteOffBody(RequestModel):
    product_id: Ident
    lot_no: Ident
    qty: int = Qty
    reason: Text
    location: Literal["shelf", "quarantine", "damaged"] = Field(
        default="shelf", description="where the lot's units are: the shelf, or returned "
        "goods kept aside (quarantine, damaged)")


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
    aql: AqlColumn
    inspection_level: Literal["I", "II", "III"]
    timezone: Literal["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Macau", "UTC"]
