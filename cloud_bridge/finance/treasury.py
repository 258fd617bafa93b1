"""Treasury view (资金管理): idle cash per account over a period, and the interest it
would earn at a configured rate. It shows idle money; it gives no investment advice
and places no orders.

Each cash account's closing balance is taken for every business day of the period
(the ledger's movements by day on top of the opening balance); the projected interest
is simple interest on those daily balances, ACT/365, rounded half up to the fen.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import accounts as A
from .costing import round_half_up
from .models import JournalEntry, JournalLine, LedgerAccount
from .reports import Period, Statement, balances

# The rate idle cash is projected at when none is given: 1.35 % a year, about what a
# 7-day call deposit (七天通知存款) pays at the large banks; set per request.
DEFAULT_RATE_BP = 135


def _days(period: Period) -> list[str]:
    start, end = date.fromisoformat(period.start), date.fromisoformat(period.end)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


async def treasury(session: AsyncSession, *, store: str | None, period: Period,
                   rate_bp: int = DEFAULT_RATE_BP) -> Statement:
    """Average idle balance and projected interest per cash account (till, bank,
    each provider's balance)."""
    days = _days(period)
    if len(days) > 3660:
        raise ValueError("treasury view: ten years at most")
    opening = {c: v for c, v in (await balances(session, store=store,
                                                end=period.day_before())).items()
               if A.is_cash(c)}
    q = (select(LedgerAccount.code, JournalEntry.business_date,
                func.sum(JournalLine.debit) - func.sum(JournalLine.credit))
         .join(JournalLine, JournalLine.account_id == LedgerAccount.id)
         .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
         .where(JournalEntry.business_date >= period.start,
                JournalEntry.business_date <= period.end)
         .group_by(LedgerAccount.code, JournalEntry.business_date))
    if store is not None:
        q = q.where(JournalEntry.store == store)
    moves: dict[str, dict[str, int]] = defaultdict(dict)
    for code, day, amount in (await session.execute(q)).all():
        if A.is_cash(code):
            moves[code][day] = int(amount)
    st = Statement("treasury", "资金沉淀与预计利息", "Idle cash and projected interest", store,
                   period)
    st.add(f"年利率 {rate_bp / 100:g}% (按日余额, 实际天数/365; 非投资建议)",
           f"At {rate_bp / 100:g}% a year (daily balances, ACT/365; not investment advice)",
           None)
    total_avg = total_interest = 0
    for code in sorted(set(opening) | set(moves)):
        balance, balance_days = opening.get(code, 0), 0
        for day in days:
            balance += moves[code].get(day, 0)
            balance_days += max(balance, 0)  # an overdrawn day earns nothing
        avg = round_half_up(balance_days, len(days))
        interest = round_half_up(balance_days * rate_bp, 10000 * 365)
        spec = A.spec_for(code)
        st.add(f"日均余额 {spec.name_zh}", f"Average balance: {spec.name_en}", avg, code)
        st.add(f"预计利息 {spec.name_zh}", f"Projected interest: {spec.name_en}", interest, code)
        total_avg += avg
        total_interest += interest
    st.add("日均沉淀资金合计", "Total average idle cash", total_avg, total=True)
    st.add("预计利息合计", "Total projected interest", total_interest, total=True)
    st.figures = {"average_idle": total_avg, "projected_interest": total_interest,
                  "days": len(days), "rate_bp": rate_bp}
    return st
