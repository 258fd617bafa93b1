"""VAT by dated rate rows, per-line tax of tax-inclusive prices, the VAT return worksheet."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from cloud_bridge.finance.export import render
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.reports import parse_period
from cloud_bridge.finance.service import post_goods_receipt
from cloud_bridge.finance.statements import statement
from cloud_bridge.finance.vat import line_tax, rates_on

from .helpers import ingest_sales, refund, sale_data

NOV = datetime(2026, 11, 3, 4, 0, tzinfo=UTC)


def test_rates_follow_their_validity_dates():
    assert set(rates_on("2018-04-30")) >= {1700, 1100, 600}
    assert set(rates_on("2019-03-31")) >= {1600, 1000, 600} and 1300 not in rates_on(
        "2019-03-31")
    assert set(rates_on("2019-04-01")) == {1300, 900, 600, 0}
    assert set(rates_on("2026-11-03", "small_scale")) == {300, 100}
    assert set(rates_on("2028-01-01", "small_scale")) == {300}


def test_line_tax_rounds_half_up_to_the_fen():
    assert line_tax(1130, 1300) == (1000, 130)
    assert line_tax(5, 1300) == (4, 1)  # 5 / 1.13 = 4.42
    assert line_tax(109, 900) == (100, 9)
    assert line_tax(0, 1300) == (0, 0)


@given(st.integers(0, 10**9), st.sampled_from([1300, 900, 600, 300, 100, 0]))
def test_net_plus_tax_is_the_price_and_net_is_nearest(price, rate):
    net, tax = line_tax(price, rate)
    assert net + tax == price and tax >= 0
    # net is the fen nearest to price / (1 + rate), halves rounded up
    assert abs(2 * (net * (10000 + rate)) - 2 * price * 10000) <= 10000 + rate


async def test_vat_return_worksheet_ties_to_the_ledger(db):
    async with db.session() as s:
        await post_goods_receipt(s, store="s1", source_id="GR-1", supplier_id="sup",
                                 occurred_at=NOV, lines=[("milk", 100, 500)],
                                 input_vat_fen=6500)
    await ingest_sales(db, "s1", [
        sale_data("s1-k1-1", [("milk", 2, 1130, 1300), ("rice", 1, 2180, 900)],
                  [("wechat", 4440)], NOV),
        sale_data("s1-k1-2", [("milk", 1, 1160, 1600)], [("alipay", 1160)], NOV),  # old rate
    ])
    await post_pending(db)
    await refund(db, "s1-k1-1", 1110)  # a quarter back
    await post_pending(db)
    async with db.session() as s:
        st = await statement(s, "vat", store="s1",
                             period=parse_period("2026-11-01..2099-12-31"))
    f = st.figures
    # 13 %: 2260 -> 260 tax; 9 %: 2180 -> 180; 16 %: 1160 -> 160; refund of a quarter
    # of order 1 (440 tax): 110 back, split 65/45 over 13 % and 9 %.
    assert f["output_tax"] == 260 + 180 + 160 - 110 == f["ledger_output_tax"]
    assert f["input_tax"] == 6500 and f["payable"] == 0
    assert f["carried_forward"] == 6500 - 490 and f["rates_not_valid"] == 1
    rows = {r.label_en: r.amount for r in st.rows}
    assert rows["Output tax at 13%"] == 260 - 65 and rows["Output tax at 9%"] == 180 - 45
    assert rows["Sales excl. VAT at 16%"] == 1000
    assert "Rates not valid on their day: 16%" in rows
    assert "增值税申报表" in render(st, "csv").decode("utf-8-sig")
