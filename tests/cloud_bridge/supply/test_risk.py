"""Supplier scorecards from real receipts, risk warnings, shipments and expected arrivals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud_bridge.errors import Conflict
from cloud_bridge.supply import deliveries, risk, settings, suppliers
from cloud_bridge.supply.models import ReorderRule

from .helpers import TODAY, received, sent_po, supplier


async def test_scorecard_counts_on_time_in_full_defects_and_lead_times(db):
    async with db.session() as s:
        await supplier(s)
        a = await sent_po(s, lines=(("milk", 100),))
        await received(s, a, [("milk", "A", 6, 100, 0)], day=TODAY + timedelta(days=1))
        b = await sent_po(s, lines=(("milk", 100),))
        # Late (expected in 2 days) and short: 60 of 100; then 40 with a defect, refused.
        await received(s, b, [("milk", "B", 9, 60, 0)], day=TODAY + timedelta(days=4))
        gr = await received(s, b, [("milk", "C", 9, 40, 1)], day=TODAY + timedelta(days=5))
        assert gr.lines[0]["accepted"] == 0
        card = await risk.scorecard(s, "sup1")
    assert card["receipts"] == 3
    third = round(1 / 3, 4)
    assert (card["on_time_rate"], card["in_full_rate"], card["otif_rate"]) == (third,) * 3
    # 100 units: letter F, whose AQL 1.0 cell points up to E (n=13, Ac 0); 60: E, n=13;
    # 40: D, pointing down to E, n=13: one defect in 39 units sampled.
    assert card["units_sampled"] == 39 and card["defect_rate"] == round(1 / 39, 4)
    assert card["lead_time_mean_days"] is not None and card["lead_time_std_days"] is not None


async def test_risk_scan_raises_each_warning_and_resolves_what_cleared(db):
    async with db.session() as s:
        await supplier(s, "sup1")
        await supplier(s, "sup2", products=(("bread", 100, 1),))
        await suppliers.set_supplier_product(s, supplier_id="sup2", product_id="milk",
                                             cost_fen=310, pack_size=1)
        await suppliers.set_qualification(s, supplier_id="sup2", kind="business_licence",
                                          number="91310", expires_on=TODAY + timedelta(days=10))
        await suppliers.set_supplier_product(s, supplier_id="sup2", product_id="bread",
                                             cost_fen=120, pack_size=1)  # +20%
        await suppliers.add_contract(s, supplier_id="sup1", number="C-9", terms="x",
                                     starts_on=TODAY - timedelta(days=300),
                                     ends_on=TODAY + timedelta(days=20), renewal_notice_days=30,
                                     prices=[{"product_id": "milk", "price_fen": 290}])
        s.add(ReorderRule(store="s1", product_id="bread", supplier_id="sup2"))
        late = await sent_po(s, lines=(("milk", 10),))
        cfg = await settings.load(s)
        cfg.otif_min_receipts = 1
        short = []
        for _ in range(2):
            po = await sent_po(s, lines=(("milk", 10),))
            await received(s, po, [("milk", "X", 9, 5, 0)])  # never in full
            short.append(po)
        found = await risk.scan_risks(s, TODAY + timedelta(days=3), cfg)
        kinds = sorted((a.kind, a.subject) for a in found)
    # The two short orders still wait for the rest: late too.
    assert kinds == [("contract_renewal", "C-9"), ("late_delivery", f"po:{late}"),
                     ("late_delivery", f"po:{short[0]}"), ("late_delivery", f"po:{short[1]}"),
                     ("otif_low", "sup1"), ("price_rise", "sup2:bread"),
                     ("qualification_expiring", "sup2:business_licence"),
                     ("single_source", "bread")]
    async with db.session() as s:
        await suppliers.set_qualification(s, supplier_id="sup2", kind="business_licence",
                                          number="91310", expires_on=TODAY + timedelta(days=900))
        again = await risk.scan_risks(s, TODAY + timedelta(days=3), cfg)
        assert ("qualification_expiring", "sup2:business_licence") not in {
            (a.kind, a.subject) for a in again}


async def test_shipments_and_expected_arrivals(db):
    async with db.session() as s:
        await supplier(s)
        po = await sent_po(s, "s1")
        at = datetime(2026, 12, 7, 2, tzinfo=UTC)
        sh = await deliveries.add_shipment(s, po, carrier="顺丰", tracking_no="SF1",
                                           expected_at=at)
        await deliveries.update_shipment(s, sh.id, status="in_transit", expected_at=None)
        arrivals = await deliveries.expected_arrivals(s, "s1")
        assert [(a["po_id"], a["expected_on"], a["shipments"][0]["status"])
                for a in arrivals] == [(po, (TODAY + timedelta(days=2)).isoformat(),
                                        "in_transit")]
        await deliveries.update_shipment(s, sh.id, status="delivered", expected_at=None)
        with pytest.raises(Conflict):
            await deliveries.update_shipment(s, sh.id, status="in_transit", expected_at=None)
        assert await deliveries.expected_arrivals(s, "s2") == []
