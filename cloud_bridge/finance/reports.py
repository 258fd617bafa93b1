"""Financial statements from the ledger: income statement, balance sheet, direct cash flow.

Per store or for the chain (``store=None``: every store's ledger together), for any
period of business days. Amounts are integer fen; each statement is a
:class:`Statement` whose rows the exporters (:mod:`.export`) print as they are.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import accounts as A
from .accounts import Kind
from .models import JournalEntry, JournalLine, LedgerAccount

KINDS = ("income", "balance", "cashflow", "vat", "treasury", "budget")

# Direct cash flow: which activity each kind of source document belongs to.
ACTIVITY = {
    "sale": "operating", "refund": "operating", "topup": "operating",
    "sv_use": "operating", "provider_fee": "operating", "supplier_payment": "operating",
    "goods_receipt": "operating", "settlement": "operating", "expense": "operating",
    "reversal": "operating", "payout": "operating", "capital": "financing",
}
SOURCE_LABELS = {
    "sale": ("销售收款", "Cash received from sales"),
    "refund": ("退款支付", "Refunds paid"),
    "topup": ("储值充值收款", "Stored-value top-ups received"),
    "sv_use": ("储值消费", "Stored value used"),
    "provider_fee": ("支付手续费", "Payment provider fees"),
    "supplier_payment": ("支付供应商货款", "Paid to suppliers"),
    "settlement": ("渠道结算", "Provider settlements"),
    "reversal": ("冲销更正", "Corrections (reversals)"),
    "capital": ("投入资本", "Capital contributed"),
}


class PeriodError(ValueError):
    """A period string that is not a day, a month or ``FROM..TO``."""


@dataclass(frozen=True, slots=True)
class Period:
    start: str  # first business day, inclusive (YYYY-MM-DD)
    end: str  # last business day, inclusive

    @property
    def label(self) -> str:
        return self.start if self.start == self.end else f"{self.start}..{self.end}"

    def day_before(self) -> str:
        return (date.fromisoformat(self.start) - timedelta(days=1)).isoformat()


def parse_period(text: str) -> Period:
    """``2026-11`` (a month), ``2026-11-03`` (a day) or ``2026-11-01..2026-11-15``."""
    text = text.strip()
    if not text.isascii():
        raise PeriodError(f"period {text!r}: use ASCII digits")
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            y, m = map(int, text.split("-"))
            last = calendar.monthrange(y, m)[1]
            period = Period(date(y, m, 1).isoformat(), date(y, m, last).isoformat())
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            period = Period(date.fromisoformat(text).isoformat(), text)
        elif ".." in text:
            a, b = (date.fromisoformat(p) for p in text.split("..", 1))
            if a > b:
                raise PeriodError(f"period {text}: start after end")
            period = Period(a.isoformat(), b.isoformat())
        else:
            raise PeriodError(f"period {text}: use YYYY-MM, YYYY-MM-DD or FROM..TO")
    except PeriodError:
        raise
    except (ValueError, calendar.IllegalMonthError) as err:
        raise PeriodError(f"period {text}: {err}") from err
    if period.start < "1900-01-01":
        raise PeriodError(f"period {text}: business days from 1900 on")
    return period


@dataclass(slots=True)
class Row:
    label_zh: str
    label_en: str
    amount: int | None  # fen; None for a heading
    code: str | None = None
    total: bool = False


@dataclass(slots=True)
class Statement:
    kind: str
    title_zh: str
    title_en: str
    store: str | None
    period: Period
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return self.store or "chain"

    def add(self, zh: str, en: str, amount: int | None, code: str | None = None,
            total: bool = False) -> None:
        self.rows.append(Row(zh, en, amount, code, total))


async def balances(
    session: AsyncSession, *, store: str | None, start: str | None = None,
    end: str | None = None,
) -> dict[str, int]:
    """Debit-minus-credit per account code over business days ``start..end`` (inclusive)."""
    q = (select(LedgerAccount.code, func.sum(JournalLine.debit) - func.sum(JournalLine.credit))
         .join(JournalLine, JournalLine.account_id == LedgerAccount.id)
         .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
         .group_by(LedgerAccount.code))
    if store is not None:
        q = q.where(JournalEntry.store == store)
    if start is not None:
        q = q.where(JournalEntry.business_date >= start)
    if end is not None:
        q = q.where(JournalEntry.business_date <= end)
    return {code: int(amount) for code, amount in (await session.execute(q)).all()}


async def trial_balance(session: AsyncSession, *, store: str | None,
                        end: str | None = None) -> dict[str, int]:
    """Every account's balance up to ``end``; the values sum to zero in a sound ledger."""
    return await balances(session, store=store, end=end)


def _kind(code: str) -> Kind:
    return A.spec_for(code).kind


def _label(code: str) -> tuple[str, str]:
    spec = A.spec_for(code)
    return spec.name_zh, spec.name_en


async def income_statement(session: AsyncSession, *, store: str | None,
                           period: Period) -> Statement:
    """利润表: revenue by category, cost of goods, gross profit, expenses, net profit."""
    bal = await balances(session, store=store, start=period.start, end=period.end)
    st = Statement("income", "利润表", "Income statement", store, period)
    revenue = {c: -v for c, v in sorted(bal.items()) if _kind(c) is Kind.REVENUE}
    st.add("营业收入", "Revenue", None)
    for code, amount in revenue.items():
        st.add(*_label(code), amount, code)
    total_revenue = sum(revenue.values())
    st.add("营业收入合计", "Total revenue", total_revenue, total=True)
    cogs = bal.get(A.COGS, 0)
    st.add(*_label(A.COGS), cogs, A.COGS)
    gross = total_revenue - cogs
    st.add("毛利", "Gross profit", gross, total=True)
    expenses = {c: v for c, v in sorted(bal.items()) if _kind(c) is Kind.EXPENSE and c != A.COGS}
    st.add("期间费用", "Expenses", None)
    for code, amount in expenses.items():
        st.add(*_label(code), amount, code)
    net = gross - sum(expenses.values())
    st.add("净利润", "Net profit", net, total=True)
    st.figures = {"revenue": total_revenue, "cogs": cogs, "gross_profit": gross,
                  "expenses": sum(expenses.values()), "net_profit": net}
    return st


async def balance_sheet(session: AsyncSession, *, store: str | None,
                        period: Period) -> Statement:
    """资产负债表 as at the end of ``period``: assets = liabilities + equity."""
    bal = await balances(session, store=store, end=period.end)
    st = Statement("balance", "资产负债表", "Balance sheet", store, period)
    groups: dict[Kind, dict[str, int]] = {k: {} for k in Kind}
    for code, amount in sorted(bal.items()):
        groups[_kind(code)][code] = amount
    assets = groups[Kind.ASSET]
    st.add("资产", "Assets", None)
    for code, amount in assets.items():
        st.add(*_label(code), amount, code)
    total_assets = sum(assets.values())
    st.add("资产合计", "Total assets", total_assets, total=True)
    st.add("负债", "Liabilities", None)
    liabilities = {c: -v for c, v in groups[Kind.LIABILITY].items()}
    for code, amount in liabilities.items():
        st.add(*_label(code), amount, code)
    total_liabilities = sum(liabilities.values())
    st.add("负债合计", "Total liabilities", total_liabilities, total=True)
    st.add("所有者权益", "Equity", None)
    equity = {c: -v for c, v in groups[Kind.EQUITY].items()}
    for code, amount in equity.items():
        st.add(*_label(code), amount, code)
    # Profit not yet closed into retained earnings belongs to the owners too.
    earnings = -sum(groups[Kind.REVENUE].values()) - sum(groups[Kind.EXPENSE].values())
    st.add("本期利润(未结转)", "Current earnings (not yet closed)", earnings)
    total_equity = sum(equity.values()) + earnings
    st.add("所有者权益合计", "Total equity", total_equity, total=True)
    st.add("负债和所有者权益合计", "Total liabilities and equity",
           total_liabilities + total_equity, total=True)
    st.figures = {"assets": total_assets, "liabilities": total_liabilities,
                  "equity": total_equity}
    return st


async def _cash_by_source(session: AsyncSession, store: str | None,
                          period: Period) -> dict[str, tuple[int, int]]:
    """Per source type: (cash in, cash out) over the period, per entry netted first."""
    cash_ids = select(LedgerAccount.id).where(
        (LedgerAccount.code == A.CASH) | (LedgerAccount.code == A.BANK)
        | LedgerAccount.code.like(A.CLEARING + "%"))
    per_entry = (select(JournalEntry.source_type.label("st"),
                        (func.sum(JournalLine.debit) - func.sum(JournalLine.credit)).label("net"))
                 .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
                 .where(JournalLine.account_id.in_(cash_ids),
                        JournalEntry.business_date >= period.start,
                        JournalEntry.business_date <= period.end)
                 .group_by(JournalEntry.id, JournalEntry.source_type))
    if store is not None:
        per_entry = per_entry.where(JournalEntry.store == store)
    sub = per_entry.subquery()
    rows = await session.execute(
        select(sub.c.st,
               func.sum(case((sub.c.net > 0, sub.c.net), else_=0)),
               func.sum(case((sub.c.net < 0, sub.c.net), else_=0)))
        .group_by(sub.c.st))
    return {st: (int(cin or 0), int(cout or 0)) for st, cin, cout in rows.all()}


def _cash_total(bal: dict[str, int]) -> int:
    return sum(v for c, v in bal.items() if A.is_cash(c))


async def cash_flow(session: AsyncSession, *, store: str | None, period: Period) -> Statement:
    """现金流量表 (direct method): cash in and out by kind of document over the period.

    Cash is the till, the bank and the providers' clearing accounts; moving money
    between them (a settlement to the bank) nets to zero and shows as such.
    """
    opening = _cash_total(await balances(session, store=store, end=period.day_before()))
    closing = _cash_total(await balances(session, store=store, end=period.end))
    flows = await _cash_by_source(session, store, period)
    st = Statement("cashflow", "现金流量表", "Cash-flow statement", store, period)
    st.add("期初现金", "Opening cash", opening, total=True)
    net = 0
    for activity, zh, en in (("operating", "经营活动", "Operating activities"),
                             ("financing", "筹资活动", "Financing activities")):
        st.add(zh, en, None)
        subtotal = 0
        for source, (cin, cout) in sorted(flows.items()):
            if ACTIVITY.get(source, "operating") != activity:
                continue
            lzh, len_ = SOURCE_LABELS.get(source, (source, source))
            if cin:
                st.add(f"{lzh}(流入)", f"{len_} (in)", cin, source)
            if cout:
                st.add(f"{lzh}(流出)", f"{len_} (out)", cout, source)
            subtotal += cin + cout
        st.add(f"{zh}现金净额", f"Net cash from {en.lower()}", subtotal, total=True)
        net += subtotal
    st.add("现金净增加额", "Net change in cash", net, total=True)
    st.add("期末现金", "Closing cash", closing, total=True)
    st.figures = {"opening": opening, "closing": closing, "net_change": net}
    return st
