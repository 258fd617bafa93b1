"""Replenishment: the policy's arithmetic and the daily proposals grouped by supplier."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from cloud_bridge import inventory
from cloud_bridge.supply import replenish
from cloud_bridge.supply.models import Movement, ReorderRule
from cloud_bridge.supply.models_purchasing import PurchaseOrder, PurchaseOrderLine
from cloud_bridge.supply.policy import (
    Demand,
    RuleInputs,
    eoq,
    estimate_demand,
    expected_waste,
    fresh_lot_sales,
    propose,
    reorder_point,
    run_down,
    service_z,
)

from .helpers import TODAY, sent_po, supplier


def test_safety_stock_reorder_point_and_eoq_formulas():
    ss, rop = reorder_point(10.0, 4.0, 4, 1.65)
    assert ss == pytest.approx(1.65 * 4.0 * 2)  # z * sigma * sqrt(L)
    assert rop == pytest.approx(10.0 * 4 + ss)  # d * L + SS
    assert eoq(3650, 1000, 73) == pytest.approx(math.sqrt(2 * 3650 * 1000 / 73))
    assert eoq(3650, 0, 73) == 0.0
    assert service_z(1, 1, low=-1) == pytest.approx(0.0, abs=1e-9)
    assert service_z(1, 5) == 0.5  # the floor
    assert service_z(99, 1) == pytest.approx(2.326, abs=1e-3)


def test_weekday_forecast_finds_the_weekend_and_ignores_promotion_days():
    week = [10, 10, 10, 10, 10, 20, 20]
    d = estimate_demand(week * 8)
    assert d.sigma == pytest.approx(0.0, abs=1.5)  # shrunk factors leave a small residual
    assert d.weekday[5] > 1.3 > d.weekday[0]
    promo = [False] * 49 + [True] * 7
    lifted = week * 7 + [x * 3 for x in week]
    assert estimate_demand(lifted, promo=promo).mean == pytest.approx(d.mean)


def test_proposal_orders_below_the_reorder_point_in_multiples_and_caps_perishables():
    d = Demand(10.0, 3.0)
    base = RuleInputs(demand=d, lead_days=2, z=1.65, multiple=6)
    p = propose(base, position=5)
    assert p.qty > 0 and p.qty % 6 == 0 and p.rop == pytest.approx(30 + 1.65 * 3 * 3 ** 0.5)
    assert propose(base, position=100).qty == 0
    fresh = RuleInputs(demand=d, lead_days=2, z=1.65, multiple=1, shelf_life_days=3,
                       ordering_cost=10**6, holding_per_unit_day=0.01)
    assert propose(fresh, position=0).qty <= 30 + 20  # never more than sells before expiry
    capped = RuleInputs(demand=d, lead_days=2, max_qty=12)
    assert propose(capped, position=0).qty == 12


def test_lots_that_expire_unsold_are_not_stock_and_older_lots_sell_first():
    d = Demand(10.0, 0.0)
    # 30 units with 1 selling day left: 10 sell, 20 are thrown away.
    assert run_down(d, 0, [(1, 30)], 5)[0] == pytest.approx(20)
    fresh = dict(demand=d, lead_days=2, z=0.0, shelf_life_days=4)
    unknown = propose(RuleInputs(**fresh), position=35)
    assert unknown.qty == 0  # 35 units look like more than the 30 of the reorder point
    dying = propose(RuleInputs(**fresh, lots=[(1, 35)]), position=35)
    assert dying.qty > 0 and dying.rop == unknown.rop  # only 10 of them will sell
    # A new lot arriving in 2 days sells for 3 days (a day of margin) after the older
    # stock: with 25 older units lasting 2.5 days it sells only 25 of those 30 units.
    assert fresh_lot_sales(RuleInputs(**fresh, lots=[(4, 25)]), 0, 2) == pytest.approx(25)
    assert fresh_lot_sales(RuleInputs(**fresh, lots=[]), 0, 2) == pytest.approx(30)
    assert expected_waste(RuleInputs(**fresh, lots=[(400, 10**6)])) == 0  # beyond horizon


@given(st.floats(0, 500), st.floats(0, 200), st.integers(0, 30), st.integers(1, 48),
       st.floats(-50, 2000))
def test_proposals_are_whole_multiples_and_never_negative(mean, sigma, lead, multiple, pos):
    p = propose(RuleInputs(demand=Demand(mean, sigma), lead_days=lead, multiple=multiple,
                           ordering_cost=500, holding_per_unit_day=1), position=pos)
    assert p.qty >= 0 and p.qty % multiple == 0


async def _history(db, store, product, per_day, days=28):
    """Sales movements on past days (noon in Shanghai), through the core sale path."""
    async with db.session() as s:
        await inventory.set_on_hand(s, store, product, 0)
        for back in range(1, days + 1):
            at = datetime.combine(TODAY - timedelta(days=back), time(4), UTC)
            s.add(Movement(store=store, location="shelf", product_id=product, lot_no=None,
                           qty=-per_day, kind="sale", doc_type="order", doc_id=f"S{back}",
                           shortfall=0, at=at))


async def test_daily_proposals_group_by_supplier_count_what_is_on_order_and_run_once(db):
    async with db.session() as s:
        await supplier(s, "dairy", products=(("milk", 300, 6), ("yogurt", 200, 1)))
        await supplier(s, "bakery", products=(("bread", 150, 1),), lead=1, shelf_life=3)
        for product, sup in (("milk", "dairy"), ("yogurt", "dairy"), ("bread", "bakery")):
            s.add(ReorderRule(store="s1", product_id=product, supplier_id=sup, multiple=1))
        s.add(ReorderRule(store="s1", product_id="tea", multiple=1))  # nobody sells it
    for product, qty in (("milk", 12), ("yogurt", 5), ("bread", 20)):
        await _history(db, "s1", product, qty)
    async with db.session() as s:
        await sent_po(s, "s1", lines=(("yogurt", 100),), sid="dairy")  # plenty on its way
    async with db.session() as s:
        ids, created = await replenish.propose_orders(s, "s1", TODAY)
        assert created and len(ids) == 2
        pos = {po.supplier_id: po for po in (await s.scalars(select(PurchaseOrder).where(
            PurchaseOrder.id.in_(ids)))).all()}
        lines = {(ln.po_id, ln.product_id): ln.qty for ln in (await s.scalars(
            select(PurchaseOrderLine).where(PurchaseOrderLine.po_id.in_(ids)))).all()}
    assert set(pos) == {"dairy", "bakery"}
    assert all(po.status == "proposal" and po.source == "replenishment" for po in pos.values())
    milk = lines[(pos["dairy"].id, "milk")]
    assert milk % 6 == 0 and milk >= 12 * 3  # lead 2 + review 1 days of 12 a day
    assert (pos["dairy"].id, "yogurt") not in lines  # covered by the open order
    bread = lines[(pos["bakery"].id, "bread")]
    assert 20 * 2 <= bread <= 20 * 4  # lead 1 + review 1, capped by a 3-day shelf life
    async with db.session() as s:
        again, created = await replenish.propose_orders(s, "s1", TODAY)
    assert (again, created) == (ids, False)


async def test_daily_proposals_do_not_count_a_lot_that_expires_before_it_sells(db):
    from cloud_bridge.supply import service

    async with db.session() as s:
        await supplier(s, "bakery", products=(("bread", 150, 1),), lead=1, shelf_life=3)
        s.add(ReorderRule(store="s1", product_id="bread", supplier_id="bakery", multiple=1))
        s.add(ReorderRule(store="s2", product_id="bread", supplier_id="bakery", multiple=1))
    for store, expires_in in (("s1", 0), ("s2", 5)):
        await _history(db, store, "bread", 10)
        async with db.session() as s:  # 60 loaves: six days of sales, on paper
            await service.receive_into_lot(
                s, store=store, product_id="bread", lot_no="B1", qty=60,
                expiry_date=TODAY + timedelta(days=expires_in), kind="receipt",
                doc_type="receipt", doc_id="GR", actor="t")
    async with db.session() as s:
        today_only, _ = await replenish.propose_orders(s, "s1", TODAY)
        keeps, _ = await replenish.propose_orders(s, "s2", TODAY)
        line = (await s.scalars(select(PurchaseOrderLine).where(
            PurchaseOrderLine.po_id.in_(today_only)))).one()
    # s1's loaves expire tonight: 50 of them will be thrown away, so it orders bread.
    assert line.product_id == "bread" and line.qty >= 10 and keeps == []
