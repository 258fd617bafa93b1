"""Two workers (two Database objects, as two bridge processes would have) receive into and
sell from the same lot at once: nothing is lost and nothing is counted twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from cloud_bridge import inventory
from cloud_bridge.db import Database
from cloud_bridge.models import Alert, Stock
from cloud_bridge.supply import service
from cloud_bridge.supply.models import Lot, Movement

from .helpers import TODAY

ROUNDS = 40


async def test_receiving_and_selling_one_lot_from_two_workers(db_url):
    a, b = Database(db_url), Database(db_url)
    try:
        async with a.session() as s:
            await service.receive_into_lot(s, store="s1", product_id="milk", lot_no="L1",
                                           expiry_date=TODAY + timedelta(days=5),
                                           qty=3 * ROUNDS,
                                           kind="receipt", doc_type="receipt", doc_id="GR-0",
                                           actor="t")

        async def receiver() -> None:
            for i in range(ROUNDS):
                async def work(s, i=i):
                    await service.receive_into_lot(
                        s, store="s1", product_id="milk", lot_no="L1",
                        expiry_date=TODAY + timedelta(days=5), qty=2, kind="receipt",
                        doc_type="receipt", doc_id=f"GR-{i + 1}", actor="worker-a")
                await a.transact(work, retries=20)

        async def seller() -> None:
            for i in range(ROUNDS):
                async def work(s, i=i):
                    await inventory.apply_deltas(
                        s, {("s1", "milk"): -3}, source="sale",
                        context={("s1", "milk"): {"order_no": f"S1-{i}", "kiosk": "k1"}})
                await b.transact(work, retries=20)

        await asyncio.gather(receiver(), seller())
        async with a.session() as s:
            lot = await s.scalar(select(Lot).where(Lot.lot_no == "L1"))
            on_hand = (await s.get(Stock, ("s1", "milk"))).on_hand
            moved = await s.scalar(select(func.sum(Movement.qty)))
            receipts = await s.scalar(select(func.count()).select_from(Movement).where(
                Movement.kind == "receipt"))
            sales = (await s.execute(select(func.count(), func.sum(Movement.qty)).where(
                Movement.kind == "sale"))).one()
            oversold = await s.scalar(select(func.count()).select_from(Alert))
        # 120 + 40 x 2 received, 40 x 3 sold: exactly 80 left, in the lot and in total.
        assert (lot.qty, on_hand, moved) == (2 * ROUNDS, 2 * ROUNDS, 2 * ROUNDS)
        assert receipts == ROUNDS + 1
        assert sales == (ROUNDS, -3 * ROUNDS)
        assert oversold == 0  # the lot always held what was sold
    finally:
        await a.close()
        await b.close()
