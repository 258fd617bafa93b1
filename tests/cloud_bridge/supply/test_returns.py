"""Per-order sale movements from the ingest, and returns back into the lots (or aside)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from cloud_bridge import orders
from cloud_bridge.errors import Conflict, InvalidRequest
from cloud_bridge.ingest.storage import store_events
from cloud_bridge.models import Stock
from cloud_bridge.supply import service
from cloud_bridge.supply.models import Lot, Movement

from ..bridge_helpers import order_event
from ..test_api import client

__all__ = ["client"]

TODAY = date(2026, 12, 5)


async def receive(db, lot, days, qty, product="p-milk", doc="GR-1"):
    async with db.session() as s:
        await service.receive_into_lot(s, store="s1", product_id=product, lot_no=lot,
                                       expiry_date=TODAY + timedelta(days=days), qty=qty,
                                       kind="receipt", doc_type="receipt", doc_id=doc,
                                       actor="t")


async def lots(db, location="shelf", product="p-milk") -> dict[str, int]:
    async with db.session() as s:
        rows = (await s.scalars(select(Lot).where(Lot.store == "s1", Lot.location == location,
                                                  Lot.product_id == product))).all()
        return {r.lot_no: r.qty for r in rows}


async def moves(db, **where) -> list[tuple]:
    async with db.session() as s:
        q = select(Movement).order_by(Movement.id)
        for k, v in where.items():
            q = q.where(getattr(Movement, k) == v)
        return [(m.doc_id, m.location, m.lot_no, m.qty) for m in (await s.scalars(q)).all()]


async def on_hand(db, product="p-milk") -> int:
    async with db.session() as s:
        row = await s.get(Stock, ("s1", product))
        return row.on_hand if row else 0


async def sell(db, sales, seq0=0):
    """One ingest batch: ``sales`` = [(order_no, qty)], one line of p-milk each."""
    events = [("s1", "k1", order_event("s1", "k1", seq0 + i, no, lines=[("p-milk", q, 450)])
               .encode()) for i, (no, q) in enumerate(sales)]
    await store_events(db, events, worker="t", tz="Asia/Shanghai")
    return events


async def test_each_order_of_a_batch_takes_its_own_units_first_expiring_first(db):
    await receive(db, "M-late", 9, 5)
    await receive(db, "M-soon", 1, 3, doc="GR-2")
    events = await sell(db, [("S1-1", 2), ("S1-2", 2), ("S1-3", 5)])
    # One batch: each order's movements name that order and take the lots in FEFO order.
    assert await moves(db, kind="sale") == [
        ("S1-1", "shelf", "M-soon", -2), ("S1-2", "shelf", "M-soon", -1),
        ("S1-2", "shelf", "M-late", -1), ("S1-3", "shelf", "M-late", -4),
        ("S1-3", "shelf", None, -1)]
    async with db.session() as s:
        short = await s.scalar(select(func.sum(Movement.shortfall)))
    assert short == 1 and await on_hand(db) == -1
    assert await lots(db) == {"M-late": 0, "M-soon": 0}
    # The kiosk delivers the same batch again (no ack reached it): nothing moves twice.
    await store_events(db, events, worker="t2", tz="Asia/Shanghai")
    assert len(await moves(db, kind="sale")) == 5 and await on_hand(db) == -1


async def _return(db, order_no, qty, *, restock=True, location=None):
    async with db.session() as s:
        o = await orders.get_order(s, order_no, lock=True)
        rec = await orders.record_return(s, o, kind="return", reason="坏了", restock=restock,
                                         lines=[(1, qty)], actor="clerk", location=location)
        return str(rec.id)


async def test_a_restocked_return_goes_back_into_the_lots_the_order_took(db):
    await receive(db, "M-soon", 2, 3)
    await receive(db, "M-late", 9, 10, doc="GR-2")
    await sell(db, [("S1-1", 5), ("S1-2", 1)])  # S1-1: 3 of M-soon, 2 of M-late
    assert await lots(db) == {"M-soon": 0, "M-late": 7}
    first = await _return(db, "S1-1", 4)
    # The earliest-expiring lot the order took gets its 3 back first, then M-late 1.
    assert await moves(db, doc_type="return") == [
        (first, "shelf", "M-soon", 3), (first, "shelf", "M-late", 1)]
    assert await lots(db) == {"M-soon": 3, "M-late": 8} and await on_hand(db) == 11
    second = await _return(db, "S1-1", 1)  # what is left of the order's units: M-late
    assert await moves(db, doc_type="return", doc_id=second) == [
        (second, "shelf", "M-late", 1)]
    assert await lots(db) == {"M-soon": 3, "M-late": 9} and await on_hand(db) == 12
    with pytest.raises(Conflict, match="cannot be returned"):
        await _return(db, "S1-1", 1)  # the whole order is back already
    assert await lots(db) == {"M-soon": 3, "M-late": 9}


async def test_a_return_kept_aside_is_out_of_sellable_stock_but_in_its_lot(db):
    await receive(db, "M-1", 5, 4)
    await sell(db, [("S1-1", 3)])
    rid = await _return(db, "S1-1", 2, restock=False, location="quarantine")
    assert await moves(db, doc_type="return") == [(rid, "quarantine", "M-1", 2)]
    assert await lots(db, "quarantine") == {"M-1": 2}
    assert await lots(db) == {"M-1": 1} and await on_hand(db) == 1  # not for sale
    dmg = await _return(db, "S1-1", 1, restock=False, location="damaged")
    assert await moves(db, doc_type="return", doc_id=dmg) == [(dmg, "damaged", "M-1", 1)]
    # Nothing kept (no location): the units are not recorded anywhere, as before.
    await sell(db, [("S1-2", 1)], seq0=5)
    before = await moves(db)
    await _return(db, "S1-2", 1, restock=False)
    assert await moves(db) == before and await on_hand(db) == 0


async def test_a_return_refuses_a_location_that_contradicts_restock(db):
    await receive(db, "M-1", 5, 4)
    await sell(db, [("S1-1", 2)])
    before = await moves(db)
    for restock, location in ((True, "damaged"), (False, "shelf")):
        with pytest.raises(InvalidRequest):
            await _return(db, "S1-1", 1, restock=restock, location=location)
    assert await moves(db) == before and await lots(db) == {"M-1": 2}


async def test_units_sold_beyond_every_lot_come_back_without_a_lot(db):
    await receive(db, "M-1", 5, 1)
    await sell(db, [("S1-1", 3)])  # 1 from M-1, 2 short
    rid = await _return(db, "S1-1", 3)
    assert await moves(db, doc_type="return") == [
        (rid, "shelf", "M-1", 1), (rid, "shelf", None, 2)]
    assert await on_hand(db) == 1 and await lots(db) == {"M-1": 1}


async def test_the_return_route_takes_a_location_and_refuses_a_wrong_one(client, db):
    from cloud_bridge import auth

    from ..test_api import add_user, login

    await receive(db, "M-1", 5, 4)
    await sell(db, [("S1-1", 3)])
    await add_user(db, "clerk1", auth.STORE_STAFF, "s1")
    h = await login(client, "clerk1")
    url = "/api/v1/admin/orders/S1-1/returns"
    body = {"kind": "return", "reason": "包装破损", "lines": [{"line_no": 1, "qty": 1}]}
    before = await moves(db)
    for wrong in ({"restock": True, "location": "damaged"}, {"location": "cellar"},
                  {"restock": False, "location": "shelf"}):
        r = await client.post(url, headers=h, json={**body, **wrong})
        assert r.status == 400, wrong
    assert await moves(db) == before
    r = await client.post(url, headers=h, json={**body, "restock": False,
                                                "location": "quarantine"})
    assert r.status == 201
    rid = str((await r.json())["id"])
    assert await moves(db, doc_type="return") == [(rid, "quarantine", "M-1", 1)]
    assert await on_hand(db) == 1
    # The checked goods turn out spoilt: written off from quarantine, not from the shelf.
    url = "/api/v1/admin/supply/stores/s1/write-offs"
    body = {"product_id": "p-milk", "lot_no": "M-1", "qty": 1, "reason": "变质"}
    r = await client.post(url, headers=h, json={**body, "location": "cellar"})
    assert r.status == 400
    r = await client.post(url, headers=h, json={**body, "location": "quarantine"})
    assert r.status == 201, await r.text()
    assert await lots(db, "quarantine") == {"M-1": 0} and await on_hand(db) == 1


async def test_goods_kept_aside_are_written_off_from_their_location_only(db):
    await receive(db, "M-1", 5, 4)
    await sell(db, [("S1-1", 3)])
    await _return(db, "S1-1", 2, restock=False, location="damaged")
    async with db.session() as s:
        with pytest.raises(Conflict):  # the damaged area holds 2, not 3
            await service.write_off(s, store="s1", product_id="p-milk", lot_no="M-1", qty=3,
                                    reason="报损", actor="clerk", location="damaged")
    async with db.session() as s:
        await service.write_off(s, store="s1", product_id="p-milk", lot_no="M-1", qty=2,
                                reason="报损", actor="clerk", location="damaged")
    assert await lots(db, "damaged") == {"M-1": 0}
    assert await lots(db) == {"M-1": 1} and await on_hand(db) == 1  # the shelf untouched
    assert await moves(db, kind="write_off") == [("报损", "damaged", "M-1", -2)]
