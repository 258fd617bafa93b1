"""Request, query and response models of the finance routes (OpenAPI components)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from cloud_bridge.openapi import Ident, IsoDate, QueryModel, RequestModel, Text


def _real_day(text: str) -> str:
    """A calendar day in ASCII digits from year 1900 on (``\\d`` also matches other
    scripts' digits, and the pattern alone lets 2026-02-30 through)."""
    if not text.isascii():
        raise ValueError("use ASCII digits YYYY-MM-DD")
    day = date.fromisoformat(text)  # ValueError for 2026-02-30
    if day.year < 1900:
        raise ValueError("a business day from 1900 on")
    return text


Day = Annotated[IsoDate, AfterValidator(_real_day)]

PERIOD_PATTERN = (r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?"
                  r"(\.\.\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))?$")


class StoreQuery(QueryModel):
    store: Ident | None = Field(default=None, description="one store; omitted: the chain "
                                "(head office and chain-wide finance users only)")


class AccountsQuery(StoreQuery):
    date_to: Day | None = Field(default=None, description="balances up to this day")


class EntriesQuery(StoreQuery):
    date_from: Day | None = None
    date_to: Day | None = None
    source_type: Ident | None = Field(default=None, description="sale, refund, topup, ...")
    account: str | None = Field(default=None, pattern=r"^\d{4}(\.[A-Za-z0-9_-]{1,64})?$",
                                description="entries touching this account or its "
                                "sub-accounts, e.g. 1012 for fund movements (资金流水)")
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class ReportQuery(StoreQuery):
    period: str = Field(pattern=PERIOD_PATTERN,
                        description="YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
    rate_bp: int | None = Field(default=None, ge=0, le=5000,
                                description="treasury: yearly rate in basis points "
                                "(default 135)")


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
    date: Day


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


class BankAccountBody(RequestModel):
    store: Ident
    bank_name: Text
    holder_name: Text
    number: str = Field(pattern=r"^[0-9 -]{8,40}$", description="shown masked from now on")


class BankAccount(BaseModel):
    id: int
    store: str
    bank_name: str
    holder_name: str
    number: str = Field(description="masked: **** **** **** 1234")
    created_by: str
    created_at: str


class BankAccounts(BaseModel):
    items: list[BankAccount]


class PayoutBody(RequestModel):
    store: Ident
    provider: str = Field(pattern="^(wechat|alipay|card|paypal|unionpay)$")
    bank_account_id: int = Field(ge=1, le=10**15)
    amount: int = Field(ge=1, le=10**12, description="fen")
    note: Text | None = None


class DecisionBody(RequestModel):
    decision: str = Field(pattern="^(approve|reject)$")
    note: Text | None = None


class PayoutsQuery(StoreQuery):
    status: str | None = Field(default=None, pattern="^(requested|approved|rejected)$")
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class PayoutEvent(BaseModel):
    at: str
    actor: str
    action: str
    detail: str | None


class Payout(BaseModel):
    id: int
    store: str
    provider: str
    bank_account_id: int
    bank_account: str
    amount: int
    status: str
    note: str | None
    requested_by: str
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    events: list[PayoutEvent]


class Payouts(BaseModel):
    items: list[Payout]


class BudgetBody(RequestModel):
    store: Ident
    code: str = Field(pattern=r"^[46]\d{3}(\.[A-Za-z0-9_-]{1,64})?$",
                      description="a revenue (6001.*) or expense (64xx, 66xx) account")
    month: str = Field(pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")
    amount: int = Field(ge=0, le=10**13, description="fen")


class BudgetsQuery(StoreQuery):
    month: str | None = Field(default=None, pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")


class BudgetLine(BaseModel):
    store: str
    code: str
    month: str
    amount: int
    updated_by: str
    updated_at: str


class Budgets(BaseModel):
    items: list[BudgetLine]


class ExpenseBody(RequestModel):
    store: Ident
    kind: str = Field(pattern="^(expense|income)$")
    code: str = Field(pattern=r"^6\d{3}(\.\d{2})?$",
                      description="expense: 6601.02, 6602.01/02/03/99; income: 6051")
    amount: int = Field(ge=1, le=10**12, description="fen, VAT included")
    vat: int = Field(default=0, ge=0, le=10**12, description="fen (input VAT on a special "
                     "invoice, or output VAT on other income)")
    paid_via: str = Field(pattern="^(cash|bank)$")
    date: Day
    description: Text


class ExpensesQuery(StoreQuery):
    date_from: Day | None = None
    date_to: Day | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**9)


class Attachment(BaseModel):
    type: str
    size: int
    sha256: str


class ExpenseOut(BaseModel):
    id: int
    store: str
    kind: str
    code: str
    account: str
    amount: int
    vat: int
    paid_via: str
    business_date: str
    description: str
    created_by: str
    created_at: str
    attachment: Attachment | None


class Expenses(BaseModel):
    items: list[ExpenseOut]
