"""Property test: over thousands of generated shop days (sales, refunds, provider fees,
payouts to the bank) the ledger balances, the balance sheet balances, the cash-flow
statement's net change is the change in cash, and profit and cash are what the days say."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_bridge.db import Database
from cloud_bridge.finance.costing import round_half_up
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.reports import (
    Period,
    balance_sheet,
    cash_flow,
    income_statement,
    trial_balance,
)
from cloud_bridge.finance.service import post_provider_fee, post_provider_settlement
from cloud_bridge.models import Order, OrderLine, RefundRequest

# Examples of 40-110 days each: about 1,500 generated days on SQLite and 750 more on
# PostgreSQL (fewer there: the same rules, and the shared test machine is slower at it).
EXAMPLES = {"sqlite": 20, "postgresql": 10}
METHODS = ("wechat", "alipay", "card", "cash")
RATES = (1300, 900, 600, 0)
_serial = itertools.count()

sale_st = st.tuples(st.integers(1, 200_000), st.sampled_from(RATES), st.sampled_from(METHODS),
                    st.integers(0, 100))  # amount, VAT rate, tender, refund % (0: none)
day_st = st.tuples(st.lists(sale_st, max_size=3),
                   st.integers(0, 60),  # provider fee, fen
                   st.integers(0, 100))  # % of the day's WeChat takings paid out to the bank
days_st = st.tuples(st.sampled_from(("s1", "s2")), st.lists(day_st, min_size=40, max_size=110))


@dataclass
class Expected:
    cash_change: int = 0
    net_profit: int = 0


def _tax(amount: int, rate: int) -> int:
    return amount - round_half_up(amount * 10000, 10000 + rate)


async def _run(url: str, store: str, days: list) -> tuple[Expected, Period]:
    run = next(_serial)
    first = date(2026, 1, 1) + timedelta(days=400 * run)
    exp = Expected()
    async with Database(url) as db:
        async with db.session() as s:
            for d, (sales, fee, payout_pct) in enumerate(days):
                day = first + timedelta(days=d)
                at = datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)
                wechat = 0
                for i, (amount, rate, method, refund_pct) in enumerate(sales):
                    tax = _tax(amount, rate)
                    # Ids chosen here so that a whole example is inserted in one flush.
                    o = Order(id=10**6 + run * 2000 + d * 10 + i, order_no=f"P{run}-{d}-{i}",
                              store=store, source="kiosk",
                              status="completed", total=amount, subtotal=amount,
                              business_date=day.isoformat(), created_at=at, paid_at=at,
                              details={"tenders": [{"method": method, "amount": amount}],
                                       "vat": [{"rate_bp": rate, "gross": amount,
                                                "net": amount - tax, "tax": tax}]})
                    s.add(o)
                    s.add(OrderLine(order_id=o.id, line_no=1, product_id=f"p{rate}",
                                    name_zh="商品", qty=1, unit_price=amount, amount=amount))
                    exp.cash_change += amount
                    exp.net_profit += amount - tax
                    wechat += amount if method == "wechat" else 0
                    back = amount * refund_pct // 100
                    if back:
                        s.add(RefundRequest(order_id=o.id, out_refund_no=f"R{run}-{d}-{i}",
                                            amount=back, reason="prop", status="succeeded",
                                            requested_by="t", created_at=at, updated_at=at))
                        back_tax = round_half_up(back * tax, amount)
                        exp.cash_change -= back
                        exp.net_profit -= back - back_tax
                        wechat -= back if method == "wechat" else 0
                if fee:
                    await post_provider_fee(s, store=store, provider="wechat",
                                            source_id=f"F{run}-{d}", occurred_at=at, fee_fen=fee)
                    exp.cash_change -= fee
                    exp.net_profit -= fee
                payout = max(wechat - fee, 0) * payout_pct // 100
                if payout:  # clearing -> bank: cash stays cash
                    await post_provider_settlement(s, store=store, provider="wechat",
                                                   source_id=f"S{run}-{d}", occurred_at=at,
                                                   amount_fen=payout)
        await post_pending(db)
    last = first + timedelta(days=len(days) - 1)
    return exp, Period(first.isoformat(), last.isoformat())


async def _check(url: str, store: str, exp: Expected, period: Period) -> None:
    async with Database(url) as db, db.session() as s:
        for scope in (store, None):
            assert sum((await trial_balance(s, store=scope)).values()) == 0
            bs = await balance_sheet(s, store=scope, period=period)
            assert bs.figures["assets"] == bs.figures["liabilities"] + bs.figures["equity"]
            cf = await cash_flow(s, store=scope, period=period)
            assert cf.figures["net_change"] == cf.figures["closing"] - cf.figures["opening"]
        cf = await cash_flow(s, store=store, period=period)
        assert cf.figures["net_change"] == exp.cash_change
        income = await income_statement(s, store=store, period=period)
        assert income.figures["net_profit"] == exp.net_profit


def test_ledger_statements_hold_over_generated_days(db_url):
    @settings(max_examples=EXAMPLES["sqlite" if db_url.startswith("sqlite") else "postgresql"], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=days_st)
    def prop(case) -> None:
        store, days = case

        async def go() -> None:
            exp, period = await _run(db_url, store, days)
            await _check(db_url, store, exp, period)

        asyncio.run(go())

    prop()
