"""Treasury view: idle cash per account over the period and its projected interest."""

from __future__ import annotations

from datetime import UTC, datetime

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.reports import parse_period
from cloud_bridge.finance.service import post_provider_settlement
from cloud_bridge.finance.statements import statement

from .helpers import ingest_sales, sale_data


async def test_idle_balances_and_projected_interest(db):
    oct31 = datetime(2026, 10, 31, 4, tzinfo=UTC)
    await ingest_sales(db, "s1", [sale_data("s1-k1-1", [("tv", 1, 36500, 1300)],
                                            [("wechat", 36500)], oct31)])
    await post_pending(db)
    async with db.session() as s:
        # Half of it settles to the bank on 16 November (China time).
        await post_provider_settlement(s, store="s1", provider="wechat", source_id="st-1",
                                       occurred_at=datetime(2026, 11, 16, 4, tzinfo=UTC),
                                       amount_fen=18250)
    async with db.session() as s:
        st = await statement(s, "treasury", store="s1", period=parse_period("2026-11"),
                             rate_bp=1000)
    rows = {(r.code, r.label_en.split(":")[0]): r.amount for r in st.rows if r.code}
    wechat, bank = A.clearing("wechat"), A.BANK
    # WeChat holds 36500 for 15 days and 18250 for 15; the bank 18250 for 15 days.
    assert rows[(wechat, "Average balance")] == (36500 * 15 + 18250 * 15) // 30
    assert rows[(bank, "Average balance")] == 18250 * 15 // 30
    # 10 % a year, ACT/365: 36500 x 15 days -> 150; 18250 x 15 -> 75 (twice).
    assert rows[(wechat, "Projected interest")] == 150 + 75
    assert rows[(bank, "Projected interest")] == 75
    assert st.figures["projected_interest"] == 300 and st.figures["days"] == 30
