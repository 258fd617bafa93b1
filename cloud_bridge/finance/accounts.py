"""The chart of accounts (会计科目) every store's ledger is built from.

Codes follow the Chinese enterprise chart (1001 cash, 1002 bank, 6001 revenue, ...).
Sub-accounts are ``<code>.<suffix>``: one clearing account per payment provider
(``1012.wechat``) and one revenue account per product category (``6001.drinks``),
created on first use. The chain's ledger is every store's accounts taken together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Account classes; assets and expenses carry debit balances, the rest credit."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        return self in (Kind.ASSET, Kind.EXPENSE)


# Top-level codes the posting rules use.
CASH = "1001"
BANK = "1002"
CLEARING = "1012"
RECEIVABLES = "1122"
INVENTORY = "1405"
PAYABLES = "2202"
OUTPUT_VAT = "2221.01"
# Output VAT of sales an e-invoice was issued for (the VAT return's 开具发票 column);
# issuing moves a sale's tax here from 2221.01, a red-letter invoice moves it back.
OUTPUT_VAT_INVOICED = "2221.01.02"
INPUT_VAT = "2221.02"
SV_PRINCIPAL = "2241.01"
SV_BONUS = "2241.02"
POINTS = "2241.03"
CAPITAL = "4001"
RETAINED = "4104"
REVENUE = "6001"
COGS = "6401"
COUPONS = "6601.01"
POINTS_EXPENSE = "6601.03"
PROVIDER_FEES = "6603.01"
OTHER_INCOME = "6051"
# Expense accounts staff may book bills to (费用报销), with other income.
EXPENSE_CODES = ("6601.02", "6602.01", "6602.02", "6602.03", "6602.99")

# Payment methods that have a clearing account (money held by a provider until payout).
PROVIDERS = ("wechat", "alipay", "card", "paypal", "unionpay", "stored_value")


@dataclass(frozen=True, slots=True)
class AccountSpec:
    code: str
    kind: Kind
    name_zh: str
    name_en: str


CHART: tuple[AccountSpec, ...] = (
    AccountSpec(CASH, Kind.ASSET, "库存现金", "Cash on hand"),
    AccountSpec(BANK, Kind.ASSET, "银行存款", "Bank"),
    AccountSpec(CLEARING, Kind.ASSET, "其他货币资金-支付渠道", "Provider clearing"),
    *(AccountSpec(f"{CLEARING}.{p}", Kind.ASSET, f"其他货币资金-{zh}", f"Clearing: {p}")
      for p, zh in zip(PROVIDERS, ("微信支付", "支付宝", "银行卡", "PayPal", "银联", "储值"),
                       strict=True)),
    AccountSpec(RECEIVABLES, Kind.ASSET, "应收账款", "Receivables"),
    AccountSpec(INVENTORY, Kind.ASSET, "库存商品", "Inventory"),
    AccountSpec(PAYABLES, Kind.LIABILITY, "应付账款", "Payables"),
    AccountSpec(OUTPUT_VAT, Kind.LIABILITY, "应交税费-应交增值税(销项税额)", "Output VAT"),
    AccountSpec(OUTPUT_VAT_INVOICED, Kind.LIABILITY, "应交税费-应交增值税(销项税额)-已开票",
                "Output VAT: invoiced"),
    AccountSpec(INPUT_VAT, Kind.LIABILITY, "应交税费-应交增值税(进项税额)", "Input VAT"),
    AccountSpec(SV_PRINCIPAL, Kind.LIABILITY, "其他应付款-储值本金", "Stored value: principal"),
    AccountSpec(SV_BONUS, Kind.LIABILITY, "其他应付款-储值赠送", "Stored value: bonus"),
    AccountSpec(POINTS, Kind.LIABILITY, "其他应付款-会员积分", "Points liability"),
    AccountSpec(CAPITAL, Kind.EQUITY, "实收资本", "Paid-in capital"),
    AccountSpec(RETAINED, Kind.EQUITY, "利润分配-未分配利润", "Retained earnings"),
    AccountSpec(REVENUE, Kind.REVENUE, "主营业务收入", "Sales revenue"),
    AccountSpec(COGS, Kind.EXPENSE, "主营业务成本", "Cost of goods sold"),
    AccountSpec(COUPONS, Kind.EXPENSE, "销售费用-优惠券", "Coupons expense"),
    AccountSpec(POINTS_EXPENSE, Kind.EXPENSE, "销售费用-会员积分", "Member points expense"),
    AccountSpec(PROVIDER_FEES, Kind.EXPENSE, "财务费用-支付手续费", "Payment provider fees"),
    AccountSpec(OTHER_INCOME, Kind.REVENUE, "其他业务收入", "Other income"),
    AccountSpec("6601.02", Kind.EXPENSE, "销售费用-广告宣传", "Advertising"),
    AccountSpec("6602.01", Kind.EXPENSE, "管理费用-房租", "Rent"),
    AccountSpec("6602.02", Kind.EXPENSE, "管理费用-水电费", "Utilities"),
    AccountSpec("6602.03", Kind.EXPENSE, "管理费用-职工薪酬", "Wages"),
    AccountSpec("6602.99", Kind.EXPENSE, "管理费用-其他", "Other expenses"),
)
SPECS = {s.code: s for s in CHART}

# Accounts that count as cash for the direct cash-flow statement (cash and equivalents:
# till, bank and money held by providers for us).
CASH_CODES = (CASH, BANK, CLEARING)


def spec_for(code: str) -> AccountSpec:
    """The spec of ``code``; revenue sub-accounts per category are made up on demand."""
    if code in SPECS:
        return SPECS[code]
    parent, _, suffix = code.partition(".")
    if parent == REVENUE and suffix:
        return AccountSpec(code, Kind.REVENUE, f"主营业务收入-{suffix}", f"Revenue: {suffix}")
    raise KeyError(f"no account {code} in the chart")


def is_cash(code: str) -> bool:
    return any(code == c or code.startswith(c + ".") for c in CASH_CODES)


def clearing(method: str) -> str:
    """The clearing account of a tender's payment method (cash goes to the till)."""
    if method == "cash":
        return CASH
    if method not in PROVIDERS:
        raise KeyError(f"no clearing account for payment method {method}")
    return f"{CLEARING}.{method}"


def revenue(category: str | None) -> str:
    return f"{REVENUE}.{category or 'general'}"
