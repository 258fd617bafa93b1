"""The interface the supply chain posts through: goods receipts and supplier payments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance import costing
from cloud_bridge.finance.models import ItemCost, JournalEntry
from cloud_bridge.finance.reports import trial_balance
from cloud_bridge.finance.service import (
    LedgerError,
    post_goods_receipt,
    post_supplier_payment,
)

AT = datetime(2026, 11, 2, 17, 30, tzinfo=UTC)  # 01:30 on the 3rd in Shanghai


async def test_goods_receipt_posts_once_and_feeds_moving_average_cost(db):
    async with db.session() as s:
        await post_goods_receipt(s, store="s1", source_id="GR-1", supplier_id="sup1",
                                 occurred_at=AT, lines=[("milk", 10, 300), ("bread", 4, 500)],
                                 input_vat_fen=650)
        # The same receipt again (a retry) in the same transaction: nothing more.
        await post_goods_receipt(s, store="s1", source_id="GR-1", supplier_id="sup1",
                                 occurred_at=AT, lines=[("milk", 10, 300)], input_vat_fen=650)
    async with db.session() as s:
        await post_goods_receipt(s, store="s1", source_id="GR-2", supplier_id="sup1",
                                 occurred_at=AT, lines=[("milk", 5, 330)], input_vat_fen=0)
        assert await costing.unit_cost(s, "s1", "milk") == 310  # (3000 + 1650) / 15
        # Selling 4 takes 4 x 310 out; the value left stays exact to the fen.
        assert await costing.issue(s, "s1", "milk", 4) == 1240
    async with db.session() as s:
        milk = await s.get(ItemCost, ("s1", "milk"))
        assert (milk.qty, milk.value) == (11, 4650 - 1240)
        tb = await trial_balance(s, store="s1")
        entry = await s.scalar(select(JournalEntry).where(JournalEntry.source_id == "GR-1"))
    assert entry.business_date == "2026-11-03"
    assert tb[A.INVENTORY] == 3000 + 2000 + 1650
    assert tb[A.INPUT_VAT] == 650
    assert tb[A.PAYABLES] == -(5000 + 650 + 1650)


async def test_supplier_payment_debits_payables_credits_bank_once(db):
    for _ in range(2):
        async with db.session() as s:
            await post_supplier_payment(s, store="s1", source_id="PAY-1", supplier_id="sup1",
                                        occurred_at=AT, amount_fen=5650)
    async with db.session() as s:
        tb = await trial_balance(s, store="s1")
        n = await s.scalar(select(func.count()).select_from(JournalEntry))
    assert n == 1 and tb == {A.PAYABLES: 5650, A.BANK: -5650}


async def test_bad_documents_are_refused(db):
    async with db.session() as s:
        with pytest.raises(LedgerError):
            await post_goods_receipt(s, store="s1", source_id="GR-9", supplier_id="x",
                                     occurred_at=AT, lines=[("milk", 0, 300)], input_vat_fen=0)
        with pytest.raises(LedgerError):
            await post_supplier_payment(s, store="s1", source_id="P-9", supplier_id="x",
                                        occurred_at=AT, amount_fen=0)
