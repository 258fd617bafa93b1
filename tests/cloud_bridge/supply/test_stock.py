"""Stock by lot: FEFO sales through the core sale path, movements, transfers, counts, alerts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from cloud_bridge import inventory
from cloud_bridge.errors import Conflict
from cloud_bridge.models import Alert, Stock
from cloud_bridge.supply import service
from cloud_bridge.supply.models import Lot, Movement, ReorderRule, Supplier

TODAY = date(2026, 12, 5)


async def receive(db, store, product, lot, days, qty, doc="GR-1"):
    async with db.session() as s:
        await service.receive_into_lot(s, store=store, product_id=product, lot_no=lot,
                                       expiry_date=TODAY + timedelta(days=days), qty=qty,
                                       kind="receipt", doc_type="receipt", doc_id=doc,
                                       actor="t")


async def lot_qty(db, store, product, location="shelf") -> dict[str, int]:
    async with db.session() as s:
        rows = (await s.scalars(select(Lot).where(Lot.store == store, Lot.product_id == product,
                                                  Lot.location == location))).all()
        return {r.lot_no: r.qty for r in rows}


async def on_hand(db, store, product) -> int:
    async with db.session() as s:
        row = await s.get(Stock, (store, product))
        return row.on_hand if row else 0


async def test_sales_take_the_first_expiring_lot_and_every_move_is_a_row(db):
    await receive(db, "s1", "milk", "L-late", 9, 10)
    await receive(db, "s1", "milk", "L-early", 2, 4, doc="GR-2")
    await receive(db, "s1", "milk", "L-none", 30, 5, doc="GR-3")
    async with db.session() as s:
        await inventory.apply_deltas(s, {("s1", "milk"): -6}, source="sale",
                                     context={("s1", "milk"): {"order_no": "S1-9", "kiosk": "k1"}})
    assert await lot_qty(db, "s1", "milk") == {"L-early": 0, "L-late": 8, "L-none": 5}
    assert await on_hand(db, "s1", "milk") == 13
    async with db.session() as s:
        sales = (await s.scalars(select(Movement).where(Movement.kind == "sale")
                                 .order_by(Movement.id))).all()
        assert [(m.lot_no, m.qty, m.doc_type, m.doc_id) for m in sales] == [
            ("L-early", -4, "order", "S1-9"), ("L-late", -2, "order", "S1-9")]
        total = await s.scalar(select(func.sum(Movement.qty)).where(Movement.store == "s1"))
        assert total == 13  # the movements add up to what is on hand


async def test_a_sale_beyond_the_lots_keeps_the_oversell_alert(db):
    await receive(db, "s1", "bread", "B1", 1, 2)
    async with db.session() as s:
        alerts = await inventory.apply_deltas(s, {("s1", "bread"): -5}, source="sale",
                                              context={("s1", "bread"): {"order_no": "S1-1"}})
    assert len(alerts) == 1 and alerts[0].detail["shortfall"] == 3
    assert await on_hand(db, "s1", "bread") == -3
    async with db.session() as s:
        short = (await s.scalars(select(Movement).where(Movement.shortfall > 0))).all()
        assert [(m.lot_no, m.qty, m.shortfall) for m in short] == [(None, -3, 3)]
        assert (await s.scalar(select(func.count()).select_from(Alert))) == 1


async def test_transfer_goes_through_transit_and_arrives_once(db):
    await receive(db, "s1", "yog", "Y1", 5, 6)
    await receive(db, "s1", "yog", "Y2", 8, 6, doc="GR-2")
    async with db.session() as s:
        tr = await service.send_transfer(s, from_store="s1", to_store="s2",
                                         lines=[("yog", 8, None)], actor="t")
        tid = tr.id
    assert await on_hand(db, "s1", "yog") == 4
    assert await on_hand(db, "s2", "yog") == 0
    assert await lot_qty(db, "s1", "yog", f"transit-{tid}") == {"Y1": 6, "Y2": 2}
    async with db.session() as s:
        await service.receive_transfer(s, tid, "t2")
    assert await lot_qty(db, "s2", "yog") == {"Y1": 6, "Y2": 2}
    assert await on_hand(db, "s2", "yog") == 8
    assert await lot_qty(db, "s1", "yog", f"transit-{tid}") == {"Y1": 0, "Y2": 0}
    with pytest.raises(Conflict):
        async with db.session() as s:
            await service.receive_transfer(s, tid, "t2")
    with pytest.raises(Conflict):  # more than the lots hold: refused, nothing moved
        async with db.session() as s:
            await service.send_transfer(s, from_store="s1", to_store="s2",
                                        lines=[("yog", 5, None)], actor="t")
    assert await on_hand(db, "s1", "yog") == 4


async def test_stock_count_posts_variances_per_lot(db):
    await receive(db, "s1", "egg", "E1", 10, 12)
    async with db.session() as s:
        count = await service.post_count(s, store="s1", actor="t", lines=[
            ("egg", "E1", None, 10), ("egg", "E9", TODAY + timedelta(days=12), 3)])
        lines = count.lines
    assert [(ln["lot_no"], ln["expected"], ln["variance"]) for ln in lines] == [
        ("E1", 12, -2), ("E9", 0, 3)]
    assert await lot_qty(db, "s1", "egg") == {"E1": 10, "E9": 3}
    assert await on_hand(db, "s1", "egg") == 13
    async with db.session() as s:
        rows = (await s.scalars(select(Movement).where(Movement.kind == "count_variance"))).all()
        assert sorted(m.qty for m in rows) == [-2, 3]


async def test_write_off_refuses_more_than_the_lot(db):
    await receive(db, "s1", "fish", "F1", 1, 3)
    with pytest.raises(Conflict):
        async with db.session() as s:
            await service.write_off(s, store="s1", product_id="fish", lot_no="F1", qty=4,
                                    reason="spoiled", actor="t")
    async with db.session() as s:
        await service.write_off(s, store="s1", product_id="fish", lot_no="F1", qty=3,
                                reason="spoiled", actor="t")
    assert await on_hand(db, "s1", "fish") == 0


async def test_stock_alerts_open_update_and_resolve(db):
    async with db.session() as s:
        s.add(Supplier(id="sup1", name="Dairy", lead_time_days=2))
        s.add(ReorderRule(store="s1", product_id="milk", supplier_id="sup1", min_qty=5,
                          max_qty=40, multiple=1, overstock_days=10))
        s.add(ReorderRule(store="s1", product_id="tea", min_qty=2, max_qty=10, multiple=1))
    await receive(db, "s1", "milk", "M1", 2, 4)  # below min 5, expires within 3 days
    async with db.session() as s:
        await inventory.set_on_hand(s, "s1", "tea", 0)
        found = await service.scan_stock_alerts(s, "s1", TODAY)
        kinds = sorted((a.kind, a.subject) for a in found)
    assert kinds == [("below_reorder_point", "milk"), ("near_expiry", "milk:M1"),
                     ("stockout", "tea")]
    async with db.session() as s:
        again = await service.scan_stock_alerts(s, "s1", TODAY)
        assert sorted(a.id for a in again) == sorted(a.id for a in found)  # not duplicated
        milk = next(a for a in again if a.kind == "below_reorder_point")
        await service.set_alert_state(s, milk.id, "acknowledged", "boss")
    with pytest.raises(Conflict):
        async with db.session() as s:
            await service.set_alert_state(s, milk.id, "acknowledged", "boss")
    await receive(db, "s1", "milk", "M2", 20, 30, doc="GR-2")
    async with db.session() as s:
        now_found = await service.scan_stock_alerts(s, "s1", TODAY)
        assert ("below_reorder_point", "milk") not in {(a.kind, a.subject) for a in now_found}
        from cloud_bridge.supply.models import SupplyAlert
        assert (await s.get(SupplyAlert, milk.id)).state == "resolved"


async def test_a_receipt_after_an_oversell_pays_the_shortfall_back(db):
    async with db.session() as s:
        await inventory.apply_deltas(s, {("s1", "tea"): -4}, source="sale",
                                     context={("s1", "tea"): {"order_no": "S1-1"}})
    await receive(db, "s1", "tea", "T1", 30, 10)
    assert await lot_qty(db, "s1", "tea") == {"T1": 6}
    assert await on_hand(db, "s1", "tea") == 6
    async with db.session() as s:
        rows = (await s.scalars(select(Movement).where(Movement.product_id == "tea"))).all()
        per_lot: dict[str | None, int] = {}
        for m in rows:
            per_lot[m.lot_no] = per_lot.get(m.lot_no, 0) + m.qty
    assert per_lot == {None: 0, "T1": 6}


async def test_kiosk_sales_through_the_ingest_take_lots_first_expiring_first(db):
    from cloud_bridge.ingest.storage import store_events

    from ..bridge_helpers import order_event

    await receive(db, "s1", "p-milk", "M-late", 9, 5)
    await receive(db, "s1", "p-milk", "M-soon", 1, 3, doc="GR-2")
    events = [("s1", "k1", order_event("s1", "k1", i, f"S1-{i}",
                                       lines=[("p-milk", 2, 450)]).encode()) for i in range(3)]
    await store_events(db, events, worker="t", tz="Asia/Shanghai")
    assert await lot_qty(db, "s1", "p-milk") == {"M-late": 2, "M-soon": 0}
    assert await on_hand(db, "s1", "p-milk") == 2
    async with db.session() as s:
        sold = (await s.scalars(select(Movement).where(Movement.kind == "sale"))).all()
    # Each order's units, taken in the batch's order (test_returns.py has more).
    assert sorted((m.doc_id, m.lot_no, m.qty) for m in sold) == [
        ("S1-0", "M-soon", -2), ("S1-1", "M-late", -1), ("S1-1", "M-soon", -1),
        ("S1-2", "M-late", -2)]
    assert all(m.doc_type == "order" for m in sold)


async def test_overstock_by_days_of_cover(db):
    from datetime import UTC, datetime, time

    async with db.session() as s:
        s.add(ReorderRule(store="s1", product_id="soap", min_qty=0, overstock_days=10))
        for back in range(1, 29):
            s.add(Movement(store="s1", location="shelf", product_id="soap", lot_no=None,
                           qty=-2, kind="sale", doc_type="order", doc_id=f"o{back}",
                           shortfall=0,
                           at=datetime.combine(TODAY - timedelta(days=back), time(4), UTC)))
    await receive(db, "s1", "soap", "S1", 700, 50)
    async with db.session() as s:
        found = {a.kind: a for a in await service.scan_stock_alerts(s, "s1", TODAY)}
    assert set(found) == {"overstock"}  # 50 units at 2 a day: 25 days of cover > 10
    assert found["overstock"].detail["days_of_cover"] == 25.0
