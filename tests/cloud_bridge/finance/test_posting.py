"""Automatic posting: sales, refunds, stored value and restocked returns, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from cloud_bridge import orders
from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.models import JournalEntry
from cloud_bridge.finance.posting import allocate
from cloud_bridge.finance.reports import trial_balance
from cloud_bridge.finance.service import post_goods_receipt

from .helpers import ingest_sales, refund, sale_data, top_up

AT = datetime(2026, 11, 3, 4, 0, tzinfo=UTC)


def test_allocate_splits_exactly_by_largest_remainder():
    assert allocate(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert allocate(-7, {"a": 3, "b": 1}) == {"a": -5, "b": -2}
    assert sum(allocate(99_999, {"x": 17, "y": 5, "z": 3}).values()) == 99_999
    assert allocate(5, {"a": 0, "b": 0}) == {"a": 5, "b": 0}


async def test_sales_post_revenue_net_of_vat_tenders_and_cost_once(db):
    async with db.session() as s:
        await post_goods_receipt(s, store="s1", source_id="GR-1", supplier_id="sup",
                                 occurred_at=AT, lines=[("milk", 10, 300)], input_vat_fen=390)
    await top_up(db, "m1", 5000, "counter-1")
    await ingest_sales(db, "s1", [
        # 2 x 4.50 milk (9 %) + 1 x 11.30 snack (13 %), paid by WeChat
        sale_data("S1-1", [("milk", 2, 450, 900), ("snack", 1, 1130, 1300)],
                  [("wechat", 2030)], AT),
        # Alipay and stored value together
        sale_data("S1-2", [("milk", 1, 450, 900)], [("alipay", 250), ("stored_value", 200)],
                  AT, member_id="m1"),
        # cash, without a VAT breakdown on the receipt: computed from the line's rate
        sale_data("S1-3", [("snack", 1, 113, 1300)], [("cash", 113)], AT, vat=False),
    ])
    first = await post_pending(db)
    assert first.posted == {"sale": 3, "topup": 1}
    again = await post_pending(db)
    assert again.posted == {}
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
        hq = await trial_balance(s, store="_hq")
        kinds = dict((await s.execute(select(JournalEntry.source_type, func.count())
                                      .group_by(JournalEntry.source_type))).all())
    assert kinds == {"goods_receipt": 1, "sale": 3, "sv_use": 1, "topup": 1}
    assert tb[A.clearing("wechat")] == 2030 and tb[A.clearing("alipay")] == 250
    assert tb[A.CASH] == 113
    assert tb.get(A.clearing("stored_value"), 0) == 0  # used up by the member's balance
    assert tb[A.SV_PRINCIPAL] == 200 and hq[A.SV_PRINCIPAL] == -5000 and hq[A.CASH] == 5000
    # VAT: 900 at 9 % -> 74 + 450 at 9 % -> 37; 1130 at 13 % -> 130; 113 at 13 % -> 13
    assert tb[A.OUTPUT_VAT] == -(74 + 130 + 37 + 13)
    # No price book: every product is "general" revenue, net of VAT.
    assert tb[A.revenue("general")] == -(2030 + 450 + 113 - 254)
    # Cost of goods at moving average: 3 milk x 300; snacks have no cost yet.
    assert tb[A.COGS] == 900 and tb[A.INVENTORY] == 3000 - 900
    assert sum(tb.values()) == 0 and sum(hq.values()) == 0


async def test_refunds_post_once_after_their_sale_and_restock_returns_cost(db):
    async with db.session() as s:
        await post_goods_receipt(s, store="s1", source_id="GR-1", supplier_id="sup",
                                 occurred_at=AT, lines=[("milk", 10, 300)], input_vat_fen=0)
    await ingest_sales(db, "s1", [sale_data("S1-1", [("milk", 4, 1130, 1300)],
                                            [("wechat", 3000), ("alipay", 1520)], AT)])
    no = await refund(db, "S1-1", 1130)
    await refund(db, "S1-1", 500, succeeded=False)  # a failed refund posts nothing
    async with db.session() as s:
        o = await orders.get_order(s, "S1-1")
        await orders.record_return(s, o, kind="return", reason="damaged", restock=True,
                                   lines=[(1, 1)], actor="admin:t")
    result = await post_pending(db)
    assert result.posted == {"sale": 1, "refund": 1, "return_restock": 1}
    assert (await post_pending(db)).posted == {}
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
        entry = await s.scalar(select(JournalEntry).where(JournalEntry.source_id == no))
    assert entry.source_type == "refund" and entry.amount == 1130
    # 1130 back: 130 of it VAT; money out of both tenders in proportion (3000:1520).
    assert tb[A.OUTPUT_VAT] == -(520 - 130)
    assert tb[A.clearing("wechat")] == 3000 - 750 and tb[A.clearing("alipay")] == 1520 - 380
    # 4 sold at 300, 1 back on the shelf at 300.
    assert tb[A.COGS] == 1200 - 300 and tb[A.INVENTORY] == 3000 - 1200 + 300
    assert sum(tb.values()) == 0
