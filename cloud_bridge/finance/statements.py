"""Any finance report by its kind: the three statements (:mod:`.reports`), the VAT return
(:mod:`.vat`), the budget report (:mod:`.budgets`) and the treasury view
(:mod:`.treasury`), which each build on :mod:`.reports`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .budgets import budget_report
from .reports import KINDS, Period, Statement, balance_sheet, cash_flow, income_statement
from .treasury import DEFAULT_RATE_BP, treasury
from .vat import vat_return


async def statement(session: AsyncSession, kind: str, *, store: str | None,
                    period: Period, rate_bp: int | None = None) -> Statement:
    """One of :data:`~.reports.KINDS` for ``store`` (``None``: the chain) and ``period``."""
    if kind == "income":
        return await income_statement(session, store=store, period=period)
    if kind == "balance":
        return await balance_sheet(session, store=store, period=period)
    if kind == "cashflow":
        return await cash_flow(session, store=store, period=period)
    if kind == "vat":
        return await vat_return(session, store=store, period=period)
    if kind == "budget":
        return await budget_report(session, store=store, period=period)
    if kind == "treasury":
        return await treasury(session, store=store, period=period,
                              rate_bp=DEFAULT_RATE_BP if rate_bp is None else rate_bp)
    raise ValueError(f"report kind must be one of {', '.join(KINDS)}")
