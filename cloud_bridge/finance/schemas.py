"""Request, query and response models of the finance routes (OpenAPI components)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from cloud_bridge.openapi import Ident, IsoDate, QueryModel, RequestModel, Text

PERIOD_PATTERN = (r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?"
                  r"(\.\.\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))?$")


class StoreQuery(QueryModel):
    store: Ident | None = Field(default=None, description="one store; omitted: the chain "
                                "(head office and chain-wide finance users only)")


class AccountsQuery(StoreQuery):
    date_to: IsoDate | None = Field(default=None, description="balances up to this day")


class EntriesQuery(StoreQuery):
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    source_type: Ident | None = Field(default=None, description="sale, refund, topup, ...")
    account: str | None = Field(default=None, pattern=r"^\d{4}(\.[A-Za-z0-9_-]{1,64})?$",
                                description="entries touching this account or its "
                                "sub-accounts, e.g. 1012 for fund movements (资金流水)")
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class ReportQuery(StoreQuery):
    period: str = Field(pattern=PERIOD_PATTERN,
                        description="YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")


class ReverseBody(RequestModel):
    reason: Text


class AccountBalance(BaseModel):
    code: str
    kind: str
    name_zh: str
    name_en: str
    balance: int = Field(description="fen; debit positive, credit negative")


class Accounts(BaseModel):
    store: str | None
    items: list[AccountBalance]


class Line(BaseModel):
    line_no: int
    account: str
    debit: int
    credit: int
    memo: str | None


class Entry(BaseModel):
    id: int
    store: str
    source_type: str
    source_id: str
    business_date: str
    occurred_at: str
    amount: int
    memo: str | None
    reverses_id: int | None
    posted_by: str
    lines: list[Line]


class Entries(BaseModel):
    items: list[Entry]


class StatementRow(BaseModel):
    code: str | None
    label_zh: str
    label_en: str
    amount: int | None = Field(description="fen; null for a heading")
    total: bool


class Statement(BaseModel):
    kind: str
    title_zh: str
    title_en: str
    store: str | None
    period_start: str
    period_end: str
    rows: list[StatementRow]
    figures: dict[str, int]


class Posted(BaseModel):
    posted: dict[str, int]


class CloseBody(RequestModel):
    store: Ident
    date: IsoDate


class ClosesQuery(StoreQuery):
    status: str | None = Field(default=None, pattern="^(open|closed)$")
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class ResolveBody(RequestModel):
    resolution: str = Field(pattern="^(resolved|accepted)$",
                            description="resolved: the cause was fixed; accepted: explained")
    note: Text


class Mismatch(BaseModel):
    id: int
    method: str
    out_trade_no: str
    kind: str = Field(description="missing_at_provider | missing_in_orders | amount_differs "
                      "| fee_differs")
    orders_amount: int | None
    bill_amount: int | None
    detail: str | None
    status: str
    note: str | None
    resolved_by: str | None
    resolved_at: str | None


class Close(BaseModel):
    id: int
    store: str
    business_date: str
    status: str
    runs: int
    checked: int
    providers: list[str]
    reconciled_at: str | None
    closed_at: str | None
    closed_by: str | None
    open: int
    mismatches: list[Mismatch]


class Closes(BaseModel):
    items: list[Close]
