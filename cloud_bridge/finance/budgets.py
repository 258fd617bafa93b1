"""Budgets per store, account and month (预算), actual against budget and the variance,
with a warning on every cost line that passed its budget."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import InvalidRequest
from cloud_bridge.models import now

from . import accounts as A
from .accounts import Kind
from .models import Budget
from .reports import Period, Statement, balances


async def set_budget(session: AsyncSession, *, store: str, code: str, month: str,
                     amount: int, actor: str) -> Budget:
    """Set (or change) one budget line; revenue and expense accounts only."""
    try:
        kind = A.spec_for(code).kind
    except KeyError as err:
        raise InvalidRequest(f"code: no account {code}") from err
    if kind not in (Kind.REVENUE, Kind.EXPENSE):
        raise InvalidRequest("code: budgets are for revenue and expense accounts")
    row = await session.scalar(select(Budget).where(
        Budget.store == store, Budget.code == code, Budget.month == month))
    if row is None:
        row = Budget(store=store, code=code, month=month, amount=amount,
                     updated_by=actor[:128], updated_at=now())
        session.add(row)
    else:
        row.amount, row.updated_by, row.updated_at = amount, actor[:128], now()
    await session.flush()
    return row


async def budget_report(session: AsyncSession, *, store: str | None,
                        period: Period) -> Statement:
    """预算执行: per account, budget for the months the period touches, actual, variance
    (positive: better than budget), and a warning line per cost over its budget."""
    q = select(Budget).where(Budget.month >= period.start[:7], Budget.month <= period.end[:7])
    if store is not None:
        q = q.where(Budget.store == store)
    budget: dict[str, int] = defaultdict(int)
    for b in await session.scalars(q):
        budget[b.code] += b.amount
    bal = await balances(session, store=store, start=period.start, end=period.end)
    st = Statement("budget", "预算执行情况", "Actual against budget", store, period)
    warnings = []
    for code in sorted(set(budget) | {c for c in bal if A.spec_for(c).kind in
                                      (Kind.REVENUE, Kind.EXPENSE)}):
        spec = A.spec_for(code)
        revenue = spec.kind is Kind.REVENUE
        actual = -bal.get(code, 0) if revenue else bal.get(code, 0)
        planned = budget.get(code, 0)
        variance = actual - planned if revenue else planned - actual
        st.add(f"预算 {spec.name_zh}", f"Budget: {spec.name_en}", planned, code)
        st.add(f"实际 {spec.name_zh}", f"Actual: {spec.name_en}", actual, code)
        st.add(f"差异 {spec.name_zh}", f"Variance: {spec.name_en}", variance, code, total=True)
        if not revenue and code in budget and actual > planned:
            warnings.append((spec, actual - planned))
    for spec, over in warnings:
        st.add(f"警告: {spec.name_zh} 超出预算", f"Warning: {spec.name_en} over budget", over,
               spec.code, total=True)
    st.figures = {"budget": sum(budget.values()), "lines_over_budget": len(warnings)}
    return st
