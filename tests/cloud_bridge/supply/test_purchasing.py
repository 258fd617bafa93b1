"""Purchase orders: the state machine and its refusals, approval limit, receiving with
inspection, the three-way match, payment and the ledger, returns to the supplier."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cloud_bridge.errors import Conflict, Forbidden, InvalidRequest
from cloud_bridge.models import Stock
from cloud_bridge.supply import purchasing as PO
from cloud_bridge.supply import receiving as R
from cloud_bridge.supply import settings, suppliers
from cloud_bridge.supply.models import Lot

from .helpers import BUYER, HQ, TODAY, received, sent_po, supplier


async def test_refused_moves_and_the_approval_limit(db):
    async with db.session() as s:
        await supplier(s, products=(("milk", 300, 6),))
        cfg = await settings.load(s)
        with pytest.raises(InvalidRequest):  # not whole packs
            await PO.create_po(s, store="s1", supplier_id="sup1", lines=[("milk", 7)],
                               actor="t", today=TODAY)
        with pytest.raises(InvalidRequest):  # not a product of this supplier
            await PO.create_po(s, store="s1", supplier_id="sup1", lines=[("tea", 6)],
                               actor="t", today=TODAY)
        big = await PO.create_po(s, store="s1", supplier_id="sup1", lines=[("milk", 60000)],
                                 actor="t", today=TODAY)
        assert big.status == "proposal"
        with pytest.raises(Conflict):  # proposal -> sent skips approval
            await PO.send(s, big.id, "t", TODAY)
        with pytest.raises(Forbidden):  # 18,000,000 fen > the 5,000,000 limit
            await PO.approve(s, big.id, BUYER, cfg, TODAY)
        await PO.approve(s, big.id, HQ, cfg, TODAY)
        with pytest.raises(Conflict):
            await PO.approve(s, big.id, HQ, cfg, TODAY)
        with pytest.raises(Conflict):  # nothing sent yet: nothing to receive
            await received(s, big.id, [("milk", "L1", 5, 6, 0)])
        small = await PO.create_po(s, store="s1", supplier_id="sup1", lines=[("milk", 6)],
                                   actor="t", today=TODAY)
        await PO.request_quote(s, small.id, "t")
        await PO.record_quote(s, small.id, {"milk": 280}, "t")
        await PO.approve(s, small.id, BUYER, cfg, TODAY)  # under the limit: a buyer may
        await PO.send(s, small.id, "t", TODAY)
        assert small.expected_on == TODAY + timedelta(days=2)
        await PO.cancel(s, big.id, "t", "too much")
        for move in (PO.send, ):
            with pytest.raises(Conflict):  # cancelled is final
                await move(s, big.id, "t", TODAY)
        assert [h["to"] for h in small.history] == ["proposal", "rfq", "rfq", "approved",
                                                    "sent"]


async def test_a_lapsed_licence_blocks_approval(db):
    async with db.session() as s:
        await supplier(s)
        await suppliers.set_qualification(s, supplier_id="sup1", kind="food_licence",
                                          number="JY1", expires_on=TODAY - timedelta(days=1))
        po = await PO.create_po(s, store="s1", supplier_id="sup1", lines=[("milk", 5)],
                                actor="t", today=TODAY)
        with pytest.raises(Conflict, match="lapsed"):
            await PO.approve(s, po.id, HQ, await settings.load(s), TODAY)


async def test_receiving_inspects_each_lot_and_stocks_only_accepted(db):
    async with db.session() as s:
        await supplier(s)
        po_id = await sent_po(s, lines=(("milk", 2000),))
        # 1000 units: code letter J, n=80, AQL 1.0 -> Ac 2 Re 3.
        gr = await received(s, po_id, [("milk", "A", 6, 1000, 2), ("milk", "B", 8, 1000, 3)])
        a, b = gr.lines
        assert (a["inspection"]["code_letter"], a["inspection"]["sample_size"],
                a["inspection"]["ac"], a["inspection"]["re"]) == ("J", 80, 2, 3)
        assert (a["accepted"], b["accepted"]) == (1000, 0)
        assert b["inspection"]["decision"] == "reject"
        po = await PO.get_po(s, po_id)
        assert po.status == "partially_received" and gr.in_full is False and gr.on_time
        with pytest.raises(Conflict):  # more than outstanding
            await received(s, po_id, [("milk", "C", 8, 1001, 0)])
        with pytest.raises(InvalidRequest):  # perishable without expiry
            await R.receive(s, po_id, [R.ReceivedLot("milk", "D", None, 5)], actor="t",
                            settings=await settings.load(s), today=TODAY)
        gr2 = await received(s, po_id, [("milk", "C", 8, 1000, 0)], day=TODAY + timedelta(5))
        assert gr2.on_time is False and gr2.in_full is True
        assert po.status == "received"
    async with db.session() as s:
        assert (await s.get(Stock, ("s1", "milk"))).on_hand == 2000
        lots = {x.lot_no: x.qty for x in (await s.scalars(select(Lot))).all()}
        assert lots == {"A": 1000, "C": 1000}


async def test_three_way_match_payment_posts_to_the_ledger_and_returns_credit(db):
    finance = pytest.importorskip("cloud_bridge.finance.service")
    from cloud_bridge.finance.models import JournalEntry

    async with db.session() as s:
        await supplier(s)
        cfg = await settings.load(s)
        po_id = await sent_po(s, lines=(("milk", 100),))
        gr = await received(s, po_id, [("milk", "L1", 6, 100, 0)])
        ret = await R.return_to_supplier(s, gr.id, lines=[("milk", "L1", 10)],
                                         reason="包装破损", actor="t")
        assert ret.credit_fen == 10 * 300 + 270  # 9% VAT
        with pytest.raises(Conflict):
            await R.return_to_supplier(s, gr.id, lines=[("milk", "L1", 91)], reason="x",
                                       actor="t")
        wrong = await R.record_bill(s, po_id, bill_no="B1", lines=[("milk", 90, 320)],
                                    vat_fen=2592, settings=cfg)
        assert wrong.status == "mismatch" and "ordered at 300" in wrong.match["problems"][0]
        with pytest.raises(Conflict):  # a mismatched bill may not be paid
            await R.pay_bill(s, wrong.id, "t")
        short = await R.record_bill(s, po_id, bill_no="B2", lines=[("milk", 95, 300)],
                                    vat_fen=2565, settings=cfg)
        assert short.status == "mismatch" and "milk: billed 95, accepted 90" in short.match["problems"]
        # Within the 2% price tolerance: 305 vs 300.
        bill = await R.record_bill(s, po_id, bill_no="B3", lines=[("milk", 90, 305)],
                                   vat_fen=2470, settings=cfg)
        assert bill.status == "matched"
        assert (await PO.get_po(s, po_id)).status == "billed"
        with pytest.raises(Conflict):  # one matched bill per order
            await R.record_bill(s, po_id, bill_no="B4", lines=[("milk", 90, 300)],
                                vat_fen=2430, settings=cfg)
        await R.pay_bill(s, bill.id, "t")
        with pytest.raises(Conflict):
            await R.pay_bill(s, bill.id, "t")
        assert (await PO.get_po(s, po_id)).status == "closed"
        # Owed: bill 90*305 + 2470 VAT, paid in full; the return's credit stays on account.
        assert await R.supplier_balance(s, "sup1") == -(3000 + 270)
    async with db.session() as s:
        sources = {e.source_type: e.source_id for e in (await s.scalars(
            select(JournalEntry))).all()}
    assert finance is not None
    assert sources == {"goods_receipt": f"GR-{gr.id}", "supplier_payment": f"PAY-{bill.id}"}


async def test_contract_prices_orders_and_fulfilment_is_shown(db):
    async with db.session() as s:
        await supplier(s)
        c = await suppliers.add_contract(
            s, supplier_id="sup1", number="C-1", terms="年框", starts_on=TODAY,
            ends_on=TODAY + timedelta(days=90), renewal_notice_days=30,
            prices=[{"product_id": "milk", "price_fen": 280, "committed_qty": 400}])
        po_id = await sent_po(s, lines=(("milk", 100),))
        assert (await PO.po_lines(s, po_id))[0].unit_cost_fen == 280
        await received(s, po_id, [("milk", "L1", 6, 100, 0)])
        out = await suppliers.contract_fulfilment(s, c.id)
    assert out["lines"] == [{"product_id": "milk", "price_fen": 280, "committed_qty": 400,
                             "received_qty": 100, "fulfilment": 0.25,
                             "average_price_fen": 280}]
